//! The example bytes of `shared/protocols/darktower.md` decode to the stated fields and re-encode
//! to themselves; one table per error kind.

use handshake_darktower_wire::{
    EmitError, Error, Flags, FourCc, Frame, FrameRepr, FrameType, FrameV2Repr, StreamHeader,
    StreamHeaderRepr, StreamId, StreamType, FRAME_HEADER_LEN, FRAME_V2_HEADER_LEN, HEADER_LEN,
};
use rstest::rstest;

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("ascii");
            u8::from_str_radix(s, 16).expect("hex digit")
        })
        .collect()
}

const HEADER_HEX: &str = "44415254 01 01 550e8400e29b41d4a716446655440000 56503039 000000000000";
const FRAME_HEX: &str = "01 01 550e8400e29b41d4a716446655440000 00060a24181e4000 0000000000000007 00000002 0001 000000000000 6869";

fn uuid() -> StreamId {
    StreamId::parse_hyphenated("550e8400-e29b-41d4-a716-446655440000").expect("uuid")
}

#[test]
fn example_stream_header() {
    let bytes = hex(HEADER_HEX);
    assert_eq!(bytes.len(), HEADER_LEN);
    let view = StreamHeader::new_checked(&bytes[..]).expect("checked");
    assert_eq!(&view.magic(), b"DART");
    assert_eq!(view.version(), 1);
    assert_eq!(view.stream_type(), 1);
    assert_eq!(view.reserved(), [0; 6]);
    let repr = StreamHeaderRepr::parse(&bytes).expect("parse");
    assert_eq!(
        repr,
        StreamHeaderRepr {
            stream_type: StreamType::Video,
            stream_id: uuid(),
            codec: FourCc::VP09,
        }
    );
    assert!(repr.codec.is_known());
    assert_eq!(
        repr.stream_id.to_string(),
        "550e8400-e29b-41d4-a716-446655440000"
    );
    assert_eq!(repr.to_bytes().to_vec(), bytes);
}

#[test]
fn example_frame_v1() {
    let bytes = hex(FRAME_HEX);
    assert_eq!(bytes.len(), FRAME_HEADER_LEN + 2);
    let view = Frame::new_checked(&bytes[..]).expect("checked");
    assert_eq!(view.version(), 1);
    assert_eq!(view.payload_len(), 2);
    assert_eq!(view.flags(), 0x0001);
    let repr = FrameRepr::parse(&bytes).expect("parse");
    assert_eq!(
        repr,
        FrameRepr {
            frame_type: FrameType::VideoKey,
            stream_id: uuid(),
            timestamp_us: 1_700_000_000_000_000,
            sequence: 7,
            flags: Flags {
                end_of_frame: true,
                discardable: false
            },
            payload: b"hi",
        }
    );
    assert_eq!(repr.to_vec().expect("emit"), bytes);
}

#[test]
fn example_signaling_prefix() {
    let message = vec![0xAB; 300];
    let frame = handshake_darktower_wire::encode_frame(&message).expect("frame");
    assert_eq!(&frame[..4], &hex("0000012c")[..]);
    let (got, rest) = handshake_darktower_wire::split_frame(&frame).expect("split");
    assert_eq!(got, &message[..]);
    assert!(rest.is_empty());
}

#[test]
fn reserved_bytes_and_bits_ignored_on_receipt_and_emitted_zero() {
    let mut bytes = hex(HEADER_HEX);
    bytes[26..32].copy_from_slice(&[0xFF; 6]);
    let repr = StreamHeaderRepr::parse(&bytes).expect("reserved ignored");
    assert_eq!(repr.to_bytes().to_vec(), hex(HEADER_HEX));

    let mut frame = hex(FRAME_HEX);
    frame[38..40].copy_from_slice(&[0xFF, 0xFC]); // reserved bits only, bits 0 and 1 clear
    frame[40..46].copy_from_slice(&[0xEE; 6]);
    let repr = FrameRepr::parse(&frame).expect("reserved ignored");
    assert_eq!(repr.flags, Flags::default());
    let emitted = repr.to_vec().expect("emit");
    assert_eq!(&emitted[38..46], &[0u8; 8][..]);
}

#[test]
fn unknown_fourcc_is_accepted_but_flagged() {
    let mut bytes = hex(HEADER_HEX);
    bytes[22..26].copy_from_slice(b"XYZ\x01");
    let repr = StreamHeaderRepr::parse(&bytes).expect("accepted");
    assert!(!repr.codec.is_known());
    assert_eq!(repr.codec.to_string(), "XYZ\\x01");
    for known in FourCc::KNOWN {
        assert!(known.is_known());
    }
}

fn header_with(at: usize, value: &[u8]) -> Vec<u8> {
    let mut bytes = hex(HEADER_HEX);
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

#[rstest]
#[case::empty(vec![], Error::Truncated { needed: 32, got: 0 })]
#[case::short(hex(HEADER_HEX)[..31].to_vec(), Error::Truncated { needed: 32, got: 31 })]
#[case::bad_magic(header_with(0, b"DARK"), Error::BadMagic(*b"DARK"))]
#[case::version_0(header_with(4, &[0]), Error::BadVersion(0))]
#[case::version_2(header_with(4, &[2]), Error::BadVersion(2))]
#[case::screen_type(header_with(5, &[2]), Error::UnknownStreamType(2))]
#[case::type_ff(header_with(5, &[0xFF]), Error::UnknownStreamType(0xFF))]
fn stream_header_errors(#[case] bytes: Vec<u8>, #[case] expected: Error) {
    assert_eq!(StreamHeaderRepr::parse(&bytes), Err(expected));
    assert_eq!(expected.reset_code().code(), 1);
}

fn frame_with(at: usize, value: &[u8]) -> Vec<u8> {
    let mut bytes = hex(FRAME_HEX);
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

#[rstest]
#[case::empty(vec![], Error::Truncated { needed: 46, got: 0 })]
#[case::short_header(hex(FRAME_HEX)[..45].to_vec(), Error::Truncated { needed: 46, got: 45 })]
#[case::short_payload(hex(FRAME_HEX)[..47].to_vec(), Error::Truncated { needed: 48, got: 47 })]
#[case::huge_len(frame_with(34, &[0xFF; 4]), Error::Truncated { needed: 46 + 0xFFFF_FFFF, got: 48 })]
#[case::version_0(frame_with(0, &[0]), Error::BadVersion(0))]
#[case::version_2(frame_with(0, &[2]), Error::BadVersion(2))]
#[case::frame_type_3(frame_with(1, &[3]), Error::UnknownFrameType(3))]
fn frame_v1_errors(#[case] bytes: Vec<u8>, #[case] expected: Error) {
    assert_eq!(FrameRepr::parse(&bytes), Err(expected));
}

fn v2_example() -> Vec<u8> {
    FrameV2Repr {
        frame_type: FrameType::VideoDelta,
        user_id: 0x0102_0304_0506_0708,
        stream_id: 9,
        timestamp_us: 1_700_000_000_000_000,
        sequence: 3,
        flags: Flags {
            end_of_frame: false,
            discardable: true,
        },
        payload: b"abc",
    }
    .to_vec()
    .expect("emit")
}

#[test]
fn frame_v2_layout() {
    let bytes = v2_example();
    assert_eq!(bytes.len(), FRAME_V2_HEADER_LEN + 3);
    assert_eq!(
        bytes,
        hex("01 02 0102030405060708 00000009 00060a24181e4000 0000000000000003 00000003 0002 000000000000 616263")
    );
    let repr = FrameV2Repr::parse(&bytes).expect("parse");
    assert_eq!(repr.payload, b"abc");
    // Trailing bytes after the payload are ignored.
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(FrameV2Repr::parse(&longer), Ok(repr));
}

fn v2_with(at: usize, value: &[u8]) -> Vec<u8> {
    let mut bytes = v2_example();
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

#[rstest]
#[case::empty(vec![], Error::Truncated { needed: 42, got: 0 })]
#[case::short_header(v2_example()[..41].to_vec(), Error::Truncated { needed: 42, got: 41 })]
#[case::short_payload(v2_example()[..44].to_vec(), Error::Truncated { needed: 45, got: 44 })]
#[case::version_0(v2_with(0, &[0]), Error::BadVersion(0))]
#[case::version_2(v2_with(0, &[2]), Error::BadVersion(2))]
#[case::frame_type_3(v2_with(1, &[3]), Error::UnknownFrameType(3))]
#[case::frame_type_ff(v2_with(1, &[0xFF]), Error::UnknownFrameType(0xFF))]
fn frame_v2_errors(#[case] bytes: Vec<u8>, #[case] expected: Error) {
    assert_eq!(FrameV2Repr::parse(&bytes), Err(expected));
}

#[test]
fn emit_errors() {
    let repr = StreamHeaderRepr::parse(&hex(HEADER_HEX)).expect("parse");
    assert_eq!(
        repr.emit(&mut [0; 31]),
        Err(EmitError::BufferTooSmall {
            needed: 32,
            got: 31
        })
    );
    let frame_bytes = hex(FRAME_HEX);
    let frame = FrameRepr::parse(&frame_bytes).expect("parse");
    assert_eq!(
        frame.emit(&mut [0; 47]),
        Err(EmitError::BufferTooSmall {
            needed: 48,
            got: 47
        })
    );
}

#[test]
fn emit_overwrites_junk() {
    let frame_bytes = hex(FRAME_HEX);
    let frame = FrameRepr::parse(&frame_bytes).expect("parse");
    let mut buf = vec![0xA5; frame.buffer_len()];
    frame.emit(&mut buf).expect("emit");
    assert_eq!(buf, frame_bytes);
    let header = StreamHeaderRepr::parse(&hex(HEADER_HEX)).expect("parse");
    let mut buf = [0xA5; 32];
    header.emit(&mut buf).expect("emit");
    assert_eq!(buf.to_vec(), hex(HEADER_HEX));
}
