//! The byte layouts the network fuzzer and the fuzz kit's field mutators share: where each fixed
//! field of a media stream's first bytes, a v1 frame and a v2 datagram lies, and the one-field
//! mutations over them and over a length-prefixed protobuf message. `harness fuzz` calls these on
//! a `write` step's bytes; the formats' mutators call them as one of their moves. Their draws
//! from `Unstructured` are part of the network fuzzer's reproducibility (same seed, same input):
//! change their order only knowingly.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::bytes;

/// v1 media stream bytes: header magic, version, stream type, codec, reserved; then the first
/// frame's version, type, timestamp, sequence, payload length, flags (offsets from 32).
pub const MEDIA_FIELDS: [(usize, usize); 11] = [
    (0, 4),
    (4, 1),
    (5, 1),
    (22, 4),
    (26, 2),
    (32, 1),
    (33, 1),
    (50, 8),
    (58, 8),
    (66, 4),
    (70, 2),
];

/// The same frame fields on a stream already open, where the bytes start with a frame.
pub const FRAME_FIELDS: [(usize, usize); 6] = [(0, 1), (1, 1), (18, 8), (26, 8), (34, 4), (38, 2)];

/// v2 datagram: version, frame type, user id, stream id, timestamp, sequence, payload length, flags.
pub const DATAGRAM_FIELDS: [(usize, usize); 8] = [
    (0, 1),
    (1, 1),
    (2, 8),
    (10, 4),
    (14, 8),
    (22, 8),
    (30, 4),
    (34, 2),
];

/// The largest signaling message length DT6 accepts, as the length-prefix mutation's limit.
const LENGTH_LIMITS: [u64; 1] = [65_536];

/// One change to a length-prefixed protobuf message (signaling, media authentication): half the
/// time, when there is a body, one protobuf field of the body (the prefix is left as it was, so a
/// body that changed length also tests the framing); otherwise the 4-byte big-endian prefix to a
/// boundary of the true length or of DT6's 65,536.
pub fn mutate_framed_message(
    frame: &mut Vec<u8>,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    if frame.len() > 4 && u.ratio(1u8, 2u8)? {
        let mut message = frame.split_off(4);
        let changed = bytes::mutate_protobuf(&mut message, u)?;
        frame.extend_from_slice(&message);
        Ok(changed)
    } else {
        mutate_message_length(frame, u)
    }
}

/// The 4-byte big-endian length prefix at the start of `frame` to a boundary value.
pub fn mutate_message_length(
    frame: &mut [u8],
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    bytes::mutate_length_prefix(frame, 0, 4, true, &LENGTH_LIMITS, u)
}

/// One fixed field of a new media stream's first bytes (the stream header, then the first frame's
/// header) to a boundary of its width.
pub fn mutate_media_stream_start(
    stream: &mut [u8],
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    bytes::mutate_header_field(stream, &MEDIA_FIELDS, true, u)
}

/// One fixed field of a v1 frame at the start of the bytes (a stream already open).
pub fn mutate_frame_v1_fields(
    frame: &mut [u8],
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    bytes::mutate_header_field(frame, &FRAME_FIELDS, true, u)
}

/// One fixed field of a v2 datagram.
pub fn mutate_frame_v2_fields(
    datagram: &mut [u8],
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    bytes::mutate_header_field(datagram, &DATAGRAM_FIELDS, true, u)
}
