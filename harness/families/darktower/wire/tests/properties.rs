//! Property laws over arbitrary owned values (proptest drives the bytes, `arbitrary` builds the
//! values, as the fuzz targets do): parse ∘ emit = id for the stream header, both frames, the
//! signaling framing and the protobuf messages; chunked reading equals one-piece reading.

use arbitrary::{Arbitrary, Unstructured};
use handshake_darktower_wire::fuzzing::{self, read_media_stream};
use handshake_darktower_wire::proto::media::{MediaClientMessage, MediaServerMessage};
use handshake_darktower_wire::proto::signaling::{ClientMessage, ServerMessage};
use handshake_darktower_wire::{
    encode_frame, encode_message, split_frame, FrameRepr, FrameV2Repr, SignalingReader,
    StreamHeaderRepr, MAX_MESSAGE_LEN,
};
use proptest::prelude::*;
use prost::Message;

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..512)
}

/// Messages round-trip through a frame: the decoded value re-encodes to the same bytes (floats may
/// be NaN, so the value is compared only when it equals itself).
fn message_law<M: Message + Default + PartialEq + for<'a> Arbitrary<'a> + std::fmt::Debug>(
    data: &[u8],
) {
    let Ok(m) = M::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let Ok(frame) = encode_message(&m) else {
        // Empty (a wrapper with nothing set encodes to no bytes) or over 64 KiB.
        let len = m.encoded_len();
        assert!(len == 0 || len > MAX_MESSAGE_LEN as usize);
        return;
    };
    let (payload, rest) = split_frame(&frame).expect("own frame");
    assert!(rest.is_empty());
    let back = M::decode(payload).expect("own message decodes");
    assert_eq!(back.encode_to_vec(), payload);
    #[allow(clippy::eq_op)]
    if m == m {
        assert_eq!(back, m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn header_parse_emit(data in bytes()) {
        if let Ok(repr) = StreamHeaderRepr::arbitrary(&mut Unstructured::new(&data)) {
            prop_assert_eq!(StreamHeaderRepr::parse(&repr.to_bytes()), Ok(repr));
        }
        fuzzing::check_stream_header(&data);
    }

    #[test]
    fn frame_v1_parse_emit(data in bytes()) {
        if let Ok(repr) = FrameRepr::arbitrary(&mut Unstructured::new(&data)) {
            let bytes = repr.to_vec().expect("emit");
            prop_assert_eq!(FrameRepr::parse(&bytes), Ok(repr));
        }
        fuzzing::check_frame_v1(&data);
    }

    #[test]
    fn frame_v2_parse_emit(data in bytes()) {
        if let Ok(repr) = FrameV2Repr::arbitrary(&mut Unstructured::new(&data)) {
            let bytes = repr.to_vec().expect("emit");
            prop_assert_eq!(FrameV2Repr::parse(&bytes), Ok(repr));
        }
        fuzzing::check_frame_v2(&data);
    }

    #[test]
    fn signaling_framing_round_trip(messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..6), cut in any::<u8>()) {
        let mut stream = Vec::new();
        for m in &messages {
            stream.extend(encode_frame(m).expect("valid length"));
        }
        // One piece.
        let mut reader = SignalingReader::new();
        let mut input = &stream[..];
        let mut read = Vec::new();
        while let Some(m) = reader.next(&mut input) {
            read.push(m.expect("valid").to_vec());
        }
        prop_assert_eq!(&read, &messages);
        prop_assert_eq!(reader.finish(), Ok(()));
        // Chunked (the same law as the fuzz target).
        let mut data = vec![cut];
        data.extend(&stream);
        fuzzing::check_signaling(&data);
    }

    #[test]
    fn protobuf_messages_round_trip(data in bytes()) {
        message_law::<ClientMessage>(&data);
        message_law::<ServerMessage>(&data);
        message_law::<MediaClientMessage>(&data);
        message_law::<MediaServerMessage>(&data);
    }

    #[test]
    fn media_stream_chunked_equals_whole(data in bytes()) {
        fuzzing::check_media_stream_reader(&data);
    }

    #[test]
    fn valid_media_stream_chunked(header in bytes(), frames in proptest::collection::vec(bytes(), 0..5), cut in any::<u8>()) {
        // A valid stream built from arbitrary values: the header's id on every frame.
        let Ok(h) = StreamHeaderRepr::arbitrary(&mut Unstructured::new(&header)) else {
            return Ok(());
        };
        let mut stream = h.to_bytes().to_vec();
        let mut count = 0;
        for f in &frames {
            if let Ok(mut frame) = FrameRepr::arbitrary(&mut Unstructured::new(f)) {
                frame.stream_id = h.stream_id;
                stream.extend(frame.to_vec().expect("emit"));
                count += 1;
            }
        }
        let (items, end) = read_media_stream(&[&stream]);
        prop_assert_eq!(end, Ok(()));
        prop_assert_eq!(items.len(), 1 + count);
        let mut data = vec![cut];
        data.extend(&stream);
        fuzzing::check_media_stream_reader(&data);
    }
}
