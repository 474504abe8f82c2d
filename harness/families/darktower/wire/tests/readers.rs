//! The incremental readers (media stream, signaling) and the protobuf decoders: error tables and
//! the DT3 / DT5 / DT6 limits.

use handshake_darktower_wire::proto::media::{
    media_client_message, media_server_message, ConnectRequest, ConnectResponse,
    MediaClientMessage, MediaServerMessage,
};
use handshake_darktower_wire::proto::signaling::{
    client_message, server_message, ClientMessage, ErrorCode, ErrorMessage, JoinRequest,
    ParticipantLeft, ServerMessage,
};
use handshake_darktower_wire::{
    decode_client_frame, decode_client_message, decode_media_client_message,
    decode_media_server_message, decode_server_frame, encode_frame, encode_message, split_frame,
    DecodeError, Error, Flags, FourCc, FrameRepr, FrameType, FramingError, MediaEvent,
    MediaStreamReader, ResetCode, SignalingReader, StreamHeaderRepr, StreamId, StreamType,
    MAX_MESSAGE_LEN,
};
use rstest::rstest;

const ID: StreamId = StreamId([0x55; 16]);

fn header() -> Vec<u8> {
    StreamHeaderRepr {
        stream_type: StreamType::Audio,
        stream_id: ID,
        codec: FourCc::OPUS,
    }
    .to_bytes()
    .to_vec()
}

fn frame(id: StreamId, seq: u64, payload: &[u8]) -> Vec<u8> {
    FrameRepr {
        frame_type: FrameType::Audio,
        stream_id: id,
        timestamp_us: 1000 + seq,
        sequence: seq,
        flags: Flags {
            end_of_frame: true,
            discardable: false,
        },
        payload,
    }
    .to_vec()
    .expect("emit")
}

/// Reads `stream` whole; the error it stops at (or the FIN verdict).
fn media_verdict(stream: &[u8]) -> Result<u64, Error> {
    let mut reader = MediaStreamReader::new();
    let mut input = stream;
    while let Some(event) = reader.next(&mut input) {
        event?;
    }
    reader.finish().map(|()| reader.frames())
}

#[test]
fn media_stream_reads_header_then_frames() {
    let mut stream = header();
    stream.extend(frame(ID, 0, b"abc"));
    stream.extend(frame(ID, 1, b""));
    let mut reader = MediaStreamReader::new();
    let mut input = &stream[..];
    let mut events = Vec::new();
    while let Some(e) = reader.next(&mut input) {
        events.push(e.expect("valid"));
    }
    assert!(matches!(events[0], MediaEvent::Header(h) if h.stream_id == ID));
    assert!(
        matches!(events[1], MediaEvent::FrameStart(f) if f.sequence == 0 && f.payload_len == 3)
    );
    assert_eq!(events[2], MediaEvent::Payload(b"abc"));
    assert_eq!(events[3], MediaEvent::FrameEnd);
    assert!(matches!(events[4], MediaEvent::FrameStart(f) if f.payload_len == 0));
    assert_eq!(events[5], MediaEvent::FrameEnd);
    assert_eq!(events.len(), 6);
    assert_eq!(reader.finish(), Ok(()));
    assert_eq!(reader.frames(), 2);
    assert_eq!(reader.reset_code(), None);
}

fn with(mut bytes: Vec<u8>, at: usize, value: &[u8]) -> Vec<u8> {
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[rstest]
#[case::nothing(vec![], Error::FinInHeader { got: 0 })]
#[case::fin_in_header(header()[..20].to_vec(), Error::FinInHeader { got: 20 })]
#[case::bad_magic(with(header(), 0, b"XART"), Error::BadMagic(*b"XART"))]
#[case::bad_version(with(header(), 4, &[9]), Error::BadVersion(9))]
#[case::screen(with(header(), 5, &[2]), Error::UnknownStreamType(2))]
#[case::id_mismatch(cat(&[header(), frame(StreamId([1; 16]), 0, b"x")]), Error::StreamIdMismatch { expected: ID, found: StreamId([1; 16]) })]
#[case::frame_version(cat(&[header(), with(frame(ID, 0, b"x"), 0, &[2])]), Error::BadVersion(2))]
#[case::frame_type(cat(&[header(), with(frame(ID, 0, b"x"), 1, &[7])]), Error::UnknownFrameType(7))]
#[case::fin_in_frame_header(cat(&[header(), frame(ID, 0, b"x")[..10].to_vec()]), Error::FinInFrame { needed: 46, got: 10 })]
#[case::fin_in_payload(cat(&[header(), frame(ID, 0, b"xyz")[..47].to_vec()]), Error::FinInFrame { needed: 49, got: 47 })]
fn media_stream_errors(#[case] stream: Vec<u8>, #[case] expected: Error) {
    assert_eq!(media_verdict(&stream), Err(expected));
    assert_eq!(expected.reset_code(), ResetCode::InvalidStreamFormat);
    // Byte by byte gives the same verdict.
    let mut reader = MediaStreamReader::new();
    let mut failed = None;
    for b in &stream {
        let mut input = std::slice::from_ref(b);
        while let Some(e) = reader.next(&mut input) {
            if let Err(e) = e {
                failed = Some(e);
            }
        }
    }
    assert_eq!(failed.map_or_else(|| reader.finish(), Err), Err(expected));
}

#[test]
fn media_stream_reader_stops_after_an_error() {
    let stream = cat(&[with(header(), 0, b"XART"), frame(ID, 0, b"x")]);
    let mut reader = MediaStreamReader::new();
    let mut input = &stream[..];
    assert!(matches!(
        reader.next(&mut input),
        Some(Err(Error::BadMagic(_)))
    ));
    assert_eq!(reader.next(&mut input), None);
    assert_eq!(reader.reset_code(), Some(ResetCode::InvalidStreamFormat));
}

#[rstest]
#[case::zero(0, Err(FramingError::EmptyMessage))]
#[case::one(1, Ok(()))]
#[case::limit(65_536, Ok(()))]
#[case::over(65_537, Err(FramingError::TooLong(65_537)))]
#[case::max(u32::MAX, Err(FramingError::TooLong(u32::MAX)))]
fn signaling_length_limits(#[case] len: u32, #[case] expected: Result<(), FramingError>) {
    let mut stream = len.to_be_bytes().to_vec();
    if expected.is_ok() {
        stream.extend(std::iter::repeat_n(7u8, len as usize));
    }
    let mut reader = SignalingReader::new();
    let mut input = &stream[..];
    let got = reader.next(&mut input).map(|r| r.map(<[u8]>::len));
    match expected {
        Ok(()) => assert_eq!(got, Some(Ok(len as usize))),
        Err(e) => {
            assert_eq!(got, Some(Err(e)));
            assert_eq!(e.error_code(), ErrorCode::StreamError);
            assert_eq!(reader.next(&mut input), None);
        }
    }
    assert_eq!(
        split_frame(&stream).map(|(m, _)| m.len()),
        expected.map(|()| len as usize)
    );
    assert_eq!(MAX_MESSAGE_LEN, 65_536);
}

#[rstest]
#[case::prefix(vec![0, 0], Err(FramingError::FinInPrefix(2)))]
#[case::message(vec![0, 0, 0, 5, 1, 2], Err(FramingError::FinInMessage { len: 5, got: 2 }))]
#[case::boundary(vec![0, 0, 0, 1, 9], Ok(()))]
#[case::empty(vec![], Ok(()))]
fn signaling_fin(#[case] stream: Vec<u8>, #[case] expected: Result<(), FramingError>) {
    let mut reader = SignalingReader::new();
    let mut input = &stream[..];
    while let Some(m) = reader.next(&mut input) {
        m.expect("no framing error");
    }
    assert_eq!(reader.finish(), expected);
}

#[test]
fn signaling_chunks_byte_by_byte() {
    let mut stream = encode_frame(b"hello").expect("frame");
    stream.extend(encode_frame(&[1; 300]).expect("frame"));
    let mut reader = SignalingReader::new();
    let mut read = Vec::new();
    for b in &stream {
        let mut input = std::slice::from_ref(b);
        while let Some(m) = reader.next(&mut input) {
            read.push(m.expect("valid").to_vec());
        }
    }
    assert_eq!(read, vec![b"hello".to_vec(), vec![1; 300]]);
    assert_eq!(reader.messages(), 2);
}

#[test]
fn encode_limits() {
    assert_eq!(encode_frame(&[]), Err(FramingError::EmptyMessage));
    assert_eq!(
        encode_frame(&vec![0; 65_537]),
        Err(FramingError::TooLong(65_537))
    );
    assert_eq!(encode_frame(&vec![0; 65_536]).map(|f| f.len()), Ok(65_540));
    assert_eq!(
        encode_message(&ClientMessage { message: None }),
        Err(FramingError::EmptyMessage)
    );
}

#[test]
fn protobuf_wrappers_round_trip() {
    let join = ClientMessage {
        message: Some(client_message::Message::JoinRequest(JoinRequest {
            meeting_id: "m1".into(),
            join_token: "t".into(),
            participant_name: "Ann".into(),
            capabilities: None,
        })),
    };
    let frame = encode_message(&join).expect("frame");
    // Field numbers as darktower.md: ClientMessage.join_request = 1, JoinRequest 1/2/3.
    assert_eq!(
        frame,
        [
            &[0, 0, 0, 14, 0x0a, 12, 0x0a, 2][..],
            b"m1",
            &[0x12, 1],
            b"t",
            &[0x1a, 3],
            b"Ann"
        ]
        .concat()
    );
    assert_eq!(decode_client_frame(&frame), Ok(join));

    let error = ServerMessage {
        message: Some(server_message::Message::Error(ErrorMessage {
            code: ErrorCode::Unauthorized as i32,
            message: "bad".into(),
            details: [("k".to_owned(), "v".to_owned())].into_iter().collect(),
        })),
    };
    let frame = encode_message(&error).expect("frame");
    assert_eq!(frame[4], 0x32, "ServerMessage.error = 6");
    assert_eq!(decode_server_frame(&frame), Ok(error));

    let left = ServerMessage {
        message: Some(server_message::Message::ParticipantLeft(ParticipantLeft {
            participant_id: "p".into(),
            reason: 2,
        })),
    };
    assert_eq!(
        decode_server_frame(&encode_message(&left).expect("frame")),
        Ok(left)
    );

    let connect = MediaClientMessage {
        message: Some(media_client_message::Message::ConnectRequest(
            ConnectRequest {
                join_token: "t".into(),
            },
        )),
    };
    let bytes = encode_message(&connect).expect("frame");
    assert_eq!(bytes, [0, 0, 0, 5, 0x0a, 3, 0x0a, 1, b't']);
    assert_eq!(decode_media_client_message(&bytes[4..]), Ok(connect));
    let response = MediaServerMessage {
        message: Some(media_server_message::Message::ConnectResponse(
            ConnectResponse {
                participant_id: "p".into(),
            },
        )),
    };
    let bytes = encode_message(&response).expect("frame");
    assert_eq!(decode_media_server_message(&bytes[4..]), Ok(response));
}

#[rstest]
#[case::empty_wrapper(vec![0, 0, 0, 2, 0x30, 0x00], "no_message")]
#[case::not_protobuf(vec![0, 0, 0, 3, 0xff, 0xff, 0xff], "protobuf")]
#[case::trailing(vec![0, 0, 0, 2, 0x30, 0x00, 9], "trailing_bytes")]
#[case::short(vec![0, 0, 0, 9, 1], "truncated")]
#[case::zero(vec![0, 0, 0, 0], "empty_message")]
#[case::too_long(vec![0, 1, 0, 1], "too_long")]
fn decode_errors(#[case] frame: Vec<u8>, #[case] name: &str) {
    let got = decode_client_frame(&frame).expect_err("must fail");
    assert_eq!(got.name(), name, "{got}");
    let _ = decode_server_frame(&frame);
}

#[test]
fn wrapper_without_message_is_typed() {
    assert_eq!(decode_client_message(&[]), Err(DecodeError::NoMessage));
}
