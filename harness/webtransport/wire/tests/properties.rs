//! Round-trip laws (parse ∘ emit = id) and "no panic on any input" for every codec.
#![allow(clippy::unwrap_used)]

use handshake_webtransport_wire::{
    capsule::Capsule, error_code, frame::Settings, BidiPrefix, Datagram, Field, FieldLine,
    FieldSection, Frame, OwnedFrame, StreamReader, UniStreamType, VarInt,
};
use proptest::prelude::*;

fn varint() -> impl Strategy<Value = VarInt> {
    prop_oneof![
        0u64..64,
        64u64..16_384,
        16_384u64..(1 << 30),
        (1u64 << 30)..=VarInt::MAX.get(),
    ]
    .prop_map(|v| VarInt::new(v).unwrap())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80)
}

fn owned_frame() -> impl Strategy<Value = OwnedFrame> {
    prop_oneof![
        bytes().prop_map(OwnedFrame::Data),
        bytes().prop_map(OwnedFrame::Headers),
        proptest::collection::vec((varint(), varint()), 0..8)
            .prop_map(|p| OwnedFrame::Settings(Settings(p))),
        varint().prop_map(OwnedFrame::Goaway),
        (varint(), bytes())
            .prop_filter("not a parsed type", |(t, _)| ![0, 1, 4, 7]
                .contains(&t.get()))
            .prop_map(|(frame_type, payload)| OwnedFrame::Other {
                frame_type,
                payload
            }),
    ]
}

fn uni() -> impl Strategy<Value = UniStreamType> {
    prop_oneof![
        Just(UniStreamType::Control),
        varint().prop_map(UniStreamType::Push),
        Just(UniStreamType::QpackEncoder),
        Just(UniStreamType::QpackDecoder),
        varint().prop_map(UniStreamType::WebTransport),
        varint()
            .prop_filter("unknown", |t| ![0, 1, 2, 3, 0x54].contains(&t.get()))
            .prop_map(UniStreamType::Unknown),
    ]
}

fn field_line() -> impl Strategy<Value = FieldLine> {
    prop_oneof![
        (0u64..99).prop_map(|index| FieldLine::Indexed { index }),
        (any::<bool>(), 0u64..99, bytes()).prop_map(|(never_index, index, value)| {
            FieldLine::LiteralNameRef {
                never_index,
                index,
                value,
            }
        }),
        (any::<bool>(), bytes(), bytes()).prop_map(|(never_index, name, value)| {
            FieldLine::LiteralName {
                never_index,
                name,
                value,
            }
        }),
    ]
}

proptest! {
    #[test]
    fn varint_round_trip(v in varint(), len in prop_oneof![Just(1usize), Just(2), Just(4), Just(8)]) {
        let mut out = Vec::new();
        v.encode(&mut out);
        prop_assert_eq!(out.len(), v.encoded_len());
        prop_assert_eq!(VarInt::decode(&out), Ok((v, out.len())));
        let mut forced = Vec::new();
        if v.encode_with_len(len, &mut forced).is_ok() {
            prop_assert_eq!(VarInt::decode(&forced), Ok((v, len)));
        }
    }

    #[test]
    fn frame_round_trip(f in owned_frame(), tail in bytes()) {
        let mut bytes = f.to_vec();
        let len = bytes.len();
        bytes.extend(&tail);
        let (parsed, used) = Frame::parse(&bytes, u64::MAX).unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(parsed.to_owned_frame(), f);
    }

    #[test]
    fn frames_in_any_chunks(fs in proptest::collection::vec(owned_frame(), 0..6), cuts in proptest::collection::vec(1usize..20, 0..40)) {
        let mut bytes = Vec::new();
        for f in &fs { bytes.extend(f.to_vec()); }
        let mut r = StreamReader::with_limit(u64::MAX);
        let mut got = Vec::new();
        let mut rest = &bytes[..];
        for c in cuts {
            let (a, b) = rest.split_at(c.min(rest.len()));
            r.push(a);
            rest = b;
            while let Some(f) = r.next_frame().unwrap() { got.push(f); }
        }
        r.push(rest);
        r.finish();
        while let Some(f) = r.next_frame().unwrap() { got.push(f); }
        prop_assert_eq!(got, fs);
        prop_assert!(r.is_done());
    }

    #[test]
    fn uni_round_trip(t in uni()) {
        let bytes = t.to_vec();
        prop_assert_eq!(UniStreamType::parse(&bytes), Ok((t, bytes.len())));
    }

    #[test]
    fn bidi_round_trip(s in varint()) {
        let mut bytes = Vec::new();
        BidiPrefix::WebTransport(s).emit(&mut bytes);
        prop_assert_eq!(BidiPrefix::parse(&bytes), Ok((BidiPrefix::WebTransport(s), bytes.len())));
    }

    #[test]
    fn datagram_round_trip(q in varint(), payload in bytes()) {
        let d = Datagram { quarter_stream_id: q, payload: &payload };
        let bytes = d.to_vec();
        prop_assert_eq!(Datagram::parse(&bytes), Ok(d));
    }

    #[test]
    fn capsule_round_trip(t in varint(), value in bytes()) {
        let c = Capsule { capsule_type: t, value: &value };
        let mut out = Vec::new();
        c.emit(&mut out);
        prop_assert_eq!(Capsule::parse(&out), Ok((c, out.len())));
    }

    #[test]
    fn error_code_round_trip(code in any::<u32>()) {
        let h = error_code::to_http3(code);
        prop_assert!(!error_code::is_reserved_point(h));
        prop_assert_eq!(error_code::from_http3(h), Some(code));
        prop_assert_eq!(error_code::from_http3_lenient(h), Some(code));
    }

    #[test]
    fn error_code_inverse(h in error_code::WT_FIRST..=error_code::WT_LAST) {
        match error_code::from_http3(h) {
            Some(code) => prop_assert_eq!(error_code::to_http3(code), h),
            None => prop_assert!(error_code::is_reserved_point(h)),
        }
    }

    #[test]
    fn field_section_round_trip(lines in proptest::collection::vec(field_line(), 0..8)) {
        let section = FieldSection { lines };
        prop_assert_eq!(FieldSection::parse(&section.to_vec()), Ok(section));
    }

    #[test]
    fn field_section_huffman_round_trip(lines in proptest::collection::vec(field_line(), 0..8)) {
        let section = FieldSection { lines };
        let mut bytes = Vec::new();
        section.emit_huffman(&mut bytes);
        prop_assert_eq!(FieldSection::parse(&bytes), Ok(section));
    }

    #[test]
    fn huffman_round_trip(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let coded = handshake_webtransport_wire::huffman::encode(&input);
        prop_assert_eq!(coded.len(), handshake_webtransport_wire::huffman::encoded_len(&input));
        prop_assert_eq!(handshake_webtransport_wire::huffman::decode(&coded), Ok(input));
    }

    #[test]
    fn field_encoding_round_trip(fields in proptest::collection::vec((bytes(), bytes()), 0..6)) {
        let fields: Vec<Field> = fields.into_iter().map(|(n, v)| Field::new(n, v)).collect();
        let section = FieldSection::encode(&fields);
        let parsed = FieldSection::parse(&section.to_vec()).unwrap();
        prop_assert_eq!(parsed.fields().unwrap(), fields);
    }

    #[test]
    fn no_panic_on_any_input(input in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = VarInt::decode(&input);
        let _ = Frame::parse(&input, 1 << 20);
        let _ = UniStreamType::parse(&input);
        let _ = BidiPrefix::parse(&input);
        let _ = Datagram::parse(&input).map(|d| d.stream_id());
        let _ = Capsule::parse(&input).map(|(c, _)| c.close_session());
        let _ = FieldSection::parse(&input).map(|s| s.fields());
        let _ = handshake_webtransport_wire::huffman::decode(&input);
        let mut r = StreamReader::new();
        r.push(&input);
        let _ = r.bidi_prefix();
        while let Ok(Some(_)) = r.next_known_frame() {}
    }
}
