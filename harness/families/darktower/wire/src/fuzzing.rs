//! The bodies of the Dark Tower fuzz targets, shared with the stable-toolchain corpus replay test
//! so CI runs the very checks the fuzzer runs. Each panics (the fuzzer's crash signal) when a law
//! is broken; none may panic otherwise.

use arbitrary::{Arbitrary, Unstructured};
use prost::Message;

use crate::frame::{FrameHeaderRepr, FrameRepr};
use crate::frame_v2::FrameV2Repr;
use crate::header::{StreamHeader, StreamHeaderRepr, HEADER_LEN};
use crate::proto::media::{MediaClientMessage, MediaServerMessage};
use crate::proto::signaling::{ClientMessage, ServerMessage};
use crate::reader::{MediaEvent, MediaStreamReader};
use crate::signaling::{self, FramingError, SignalingReader};
use crate::{Error, Frame, FrameV2};

/// `darktower_header`: arbitrary bytes never panic; a header that parses re-emits to its own 32
/// bytes with the reserved bytes zeroed, and parses back equal; an arbitrary repr survives
/// emit → parse.
pub fn check_stream_header(data: &[u8]) {
    let view = StreamHeader::new_unchecked(data);
    let _ = (
        view.magic(),
        view.version(),
        view.stream_type(),
        view.stream_id(),
    );
    let _ = (view.codec(), view.reserved(), view.check_len());
    if let Ok(repr) = StreamHeaderRepr::parse(data) {
        let bytes = repr.to_bytes();
        let mut expected = [0u8; HEADER_LEN];
        expected.copy_from_slice(&data[..HEADER_LEN]);
        expected[26..].fill(0);
        assert_eq!(
            bytes, expected,
            "emit(parse(b)) is not b with reserved zeroed"
        );
        assert_eq!(StreamHeaderRepr::parse(&bytes), Ok(repr));
        let _ = (
            repr.codec.is_known(),
            repr.codec.to_string(),
            repr.stream_id.to_string(),
        );
    }
    if let Ok(repr) = StreamHeaderRepr::arbitrary(&mut Unstructured::new(data)) {
        assert_eq!(
            StreamHeaderRepr::parse(&repr.to_bytes()),
            Ok(repr),
            "parse(emit(r)) != r"
        );
    }
}

/// `darktower_frame_v1`: arbitrary bytes never panic; a frame that parses re-emits to its own bytes
/// with reserved bytes and flag bits zeroed, and parses back equal; an arbitrary repr survives
/// emit → parse.
pub fn check_frame_v1(data: &[u8]) {
    let view = Frame::new_unchecked(data);
    let _ = (
        view.version(),
        view.frame_type(),
        view.stream_id(),
        view.timestamp_us(),
    );
    let _ = (
        view.sequence(),
        view.payload_len(),
        view.flags(),
        view.reserved(),
    );
    let _ = (view.payload(), view.check_len(), view.frame_len());
    if let Ok(repr) = FrameRepr::parse(data) {
        let Ok(bytes) = repr.to_vec() else {
            panic!("a parsed frame does not emit");
        };
        assert_eq!(bytes.len(), repr.buffer_len());
        let mut expected = data[..repr.buffer_len()].to_vec();
        let flags = u16::from_be_bytes([expected[38], expected[39]]) & 0x0003;
        expected[38..40].copy_from_slice(&flags.to_be_bytes());
        expected[40..46].fill(0);
        assert_eq!(bytes, expected, "emit(parse(b)) is not b canonicalised");
        assert_eq!(FrameRepr::parse(&bytes), Ok(repr));
        assert_eq!(
            FrameHeaderRepr::parse(data).map(|h| h.frame_len()),
            Ok(repr.buffer_len())
        );
    }
    if let Ok(repr) = FrameRepr::arbitrary(&mut Unstructured::new(data)) {
        let Ok(bytes) = repr.to_vec() else {
            return;
        };
        assert_eq!(FrameRepr::parse(&bytes), Ok(repr), "parse(emit(r)) != r");
    }
}

/// `darktower_frame_v2`: as `darktower_frame_v1` for the 42-byte datagram frame (DT11); bytes after
/// the payload are ignored.
pub fn check_frame_v2(data: &[u8]) {
    let view = FrameV2::new_unchecked(data);
    let _ = (
        view.version(),
        view.frame_type(),
        view.user_id(),
        view.stream_id(),
    );
    let _ = (
        view.timestamp_us(),
        view.sequence(),
        view.payload_len(),
        view.flags(),
    );
    let _ = (view.reserved(), view.payload(), view.check_len());
    if let Ok(repr) = FrameV2Repr::parse(data) {
        let Ok(bytes) = repr.to_vec() else {
            panic!("a parsed frame does not emit");
        };
        let mut expected = data[..repr.buffer_len()].to_vec();
        let flags = u16::from_be_bytes([expected[34], expected[35]]) & 0x0003;
        expected[34..36].copy_from_slice(&flags.to_be_bytes());
        expected[36..42].fill(0);
        assert_eq!(bytes, expected, "emit(parse(b)) is not b canonicalised");
        assert_eq!(FrameV2Repr::parse(&bytes), Ok(repr));
    }
    if let Ok(repr) = FrameV2Repr::arbitrary(&mut Unstructured::new(data)) {
        let Ok(bytes) = repr.to_vec() else {
            return;
        };
        assert_eq!(FrameV2Repr::parse(&bytes), Ok(repr), "parse(emit(r)) != r");
    }
}

/// Whatever decodes re-encodes to bytes that decode to a message with the same encoding (prost
/// drops unknown fields and canonicalises, so the law is a fixed point, not byte equality with the
/// input; floats may be NaN, so encodings are compared rather than values).
fn reencode_law<M: Message + Default + PartialEq>(message: &[u8]) {
    let Ok(decoded) = M::decode(message) else {
        return;
    };
    let once = decoded.encode_to_vec();
    let Ok(again) = M::decode(&once[..]) else {
        panic!("re-encoded message does not decode");
    };
    assert_eq!(
        again.encode_to_vec(),
        once,
        "re-encoding is not a fixed point"
    );
}

/// `darktower_signaling`: the input as a signaling stream. Splitting it frame by frame, reading it
/// with [`SignalingReader`] in one piece and in chunks (cut by the first byte) all agree; every
/// message is tried as each wrapper (signaling and media), never panics, and re-encodes to a fixed
/// point.
pub fn check_signaling(data: &[u8]) {
    let Some((&shape, stream)) = data.split_first() else {
        return;
    };
    // Frame by frame with split_frame.
    let mut split: Vec<Result<Vec<u8>, FramingError>> = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        match signaling::split_frame(rest) {
            Ok((message, tail)) => {
                split.push(Ok(message.to_vec()));
                rest = tail;
            }
            Err(e) => {
                if !matches!(e, FramingError::Truncated { .. }) {
                    split.push(Err(e));
                }
                break;
            }
        }
    }
    let whole = read_signaling(&[stream]);
    assert_eq!(whole.0, split, "reader and split_frame disagree");
    let chunks = chunk(stream, shape);
    assert_eq!(
        read_signaling(&chunks),
        whole,
        "chunking changed what was read"
    );

    for message in split.iter().flatten() {
        let _ = signaling::decode_client_message(message);
        let _ = signaling::decode_server_message(message);
        let _ = signaling::decode_media_client_message(message);
        let _ = signaling::decode_media_server_message(message);
        reencode_law::<ClientMessage>(message);
        reencode_law::<ServerMessage>(message);
        reencode_law::<MediaClientMessage>(message);
        reencode_law::<MediaServerMessage>(message);
    }
    let _ = signaling::decode_client_frame(stream);
    let _ = signaling::decode_server_frame(stream);
}

type SignalingRead = (Vec<Result<Vec<u8>, FramingError>>, Result<(), FramingError>);

fn read_signaling(chunks: &[&[u8]]) -> SignalingRead {
    let mut reader = SignalingReader::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        while let Some(m) = reader.next(&mut input) {
            out.push(m.map(<[u8]>::to_vec));
        }
    }
    (out, reader.finish())
}

/// Cuts `bytes` into chunks of 1 + a nibble of `shape`, alternating its low and high nibble.
fn chunk(bytes: &[u8], shape: u8) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut rest = bytes;
    let mut nibbles = [shape & 0x0F, shape >> 4].into_iter().cycle();
    while !rest.is_empty() {
        let len = (1 + usize::from(nibbles.next().unwrap_or(0))).min(rest.len());
        let (head, tail) = rest.split_at(len);
        chunks.push(head);
        rest = tail;
    }
    chunks
}

/// An event of a media stream with its payload gathered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadItem {
    /// The stream header.
    Header(StreamHeaderRepr),
    /// A frame (its payload so far: whole once `complete`).
    Frame {
        /// Its header.
        header: FrameHeaderRepr,
        /// Its payload bytes received.
        payload: Vec<u8>,
        /// Whether `FrameEnd` came.
        complete: bool,
    },
    /// The error the reader stopped at.
    Error(Error),
}

/// Reads a media stream from `chunks`: its items and how it ends at a FIN.
pub fn read_media_stream(chunks: &[&[u8]]) -> (Vec<ReadItem>, Result<(), Error>) {
    let mut reader = MediaStreamReader::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        while let Some(event) = reader.next(&mut input) {
            match event {
                Ok(MediaEvent::Header(h)) => out.push(ReadItem::Header(h)),
                Ok(MediaEvent::FrameStart(header)) => out.push(ReadItem::Frame {
                    header,
                    payload: Vec::new(),
                    complete: false,
                }),
                Ok(MediaEvent::Payload(piece)) => {
                    if let Some(ReadItem::Frame { payload, .. }) = out.last_mut() {
                        payload.extend_from_slice(piece);
                    } else {
                        panic!("payload outside a frame");
                    }
                }
                Ok(MediaEvent::FrameEnd) => {
                    if let Some(ReadItem::Frame { complete, .. }) = out.last_mut() {
                        *complete = true;
                    } else {
                        panic!("frame end outside a frame");
                    }
                }
                Err(e) => out.push(ReadItem::Error(e)),
            }
        }
    }
    (out, reader.finish())
}

/// `darktower_media_stream`: the input (after a first byte that cuts it into chunks) as a media
/// stream. Chunked reading equals one-piece reading; a stream the reader accepts whole is exactly
/// what parsing its header and then its frames one after another gives; no panic on any input.
pub fn check_media_stream_reader(data: &[u8]) {
    let Some((&shape, stream)) = data.split_first() else {
        return;
    };
    let whole = read_media_stream(&[stream]);
    let chunked = read_media_stream(&chunk(stream, shape));
    assert_eq!(chunked, whole, "chunking changed what was read");
    if whole.1.is_ok() {
        // The same stream by the one-shot parsers.
        let Ok(header) = StreamHeaderRepr::parse(stream) else {
            panic!("reader accepted a header the parser refuses");
        };
        let mut expected = vec![ReadItem::Header(header)];
        let mut rest = &stream[HEADER_LEN..];
        while !rest.is_empty() {
            let Ok((frame, tail)) = FrameRepr::parse_prefix(rest) else {
                panic!("reader accepted a frame the parser refuses");
            };
            assert_eq!(frame.stream_id, header.stream_id, "DT3 not enforced");
            let Ok(frame_header) = frame.header() else {
                panic!("parsed frame without a header");
            };
            expected.push(ReadItem::Frame {
                header: frame_header,
                payload: frame.payload.to_vec(),
                complete: true,
            });
            rest = tail;
        }
        assert_eq!(whole.0, expected, "reader and parsers disagree");
    }
}
