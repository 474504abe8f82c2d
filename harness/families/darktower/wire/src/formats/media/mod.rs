//! The binary media formats: the v1 stream header, one v1 frame, one v2 datagram. Decoding and
//! re-encoding are the crate's representations; a mutation parses, changes one field (through the
//! representation where the value stays valid, through the view where it is one the
//! representation cannot hold: a bad magic, version or type) and re-encodes.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::Token;
use serde_json::{json, Map, Value};

use super::{hex, layout, object};

mod frame_v1;
mod frame_v2;
mod header;

use crate::frame::{Flags, FrameRepr, FrameType, FRAME_VERSION};
use crate::header::{StreamId, StreamType};
pub use frame_v1::{decode_frame_v1, frame_v1_dictionary, frame_v1_seeds, mutate_frame_v1};
pub use frame_v2::{decode_frame_v2, frame_v2_dictionary, frame_v2_seeds, mutate_frame_v2};
pub use header::{decode_header, header_dictionary, header_seeds, mutate_header};

const STREAM_TYPES: [StreamType; 2] = [StreamType::Audio, StreamType::Video];
const FRAME_TYPES: [FrameType; 3] = [FrameType::Audio, FrameType::VideoKey, FrameType::VideoDelta];
/// Magics beside `DART`: reversed, lower case, one letter off, zero.
const WRONG_MAGICS: [[u8; 4]; 4] = [*b"TRAD", *b"dart", *b"DARU", [0; 4]];
/// Flag sets: none, each meaningful bit, both, a reserved bit, all.
const FLAG_SETS: [u16; 6] = [0x0000, 0x0001, 0x0002, 0x0003, 0x8000, 0xffff];
const VERSION_EDGES: [u64; 4] = [0, 1, 2, 0xff];
const STREAM_TYPE_EDGES: [u64; 4] = [0, 1, 2, 0xff];
const FRAME_TYPE_EDGES: [u64; 4] = [0, 1, 2, 0xff];
/// The stream id of darktower.md's example bytes.
const EXAMPLE_ID: StreamId = StreamId([
    0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00,
]);
/// darktower.md's example frame's timestamp.
const EXAMPLE_TS: u64 = 1_700_000_000_000_000;

fn stream_id(u: &mut Unstructured<'_>) -> arbitrary::Result<StreamId> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => StreamId([0; 16]),
        1 => StreamId([0xff; 16]),
        2 => EXAMPLE_ID,
        _ => StreamId(u.arbitrary()?),
    })
}

fn trailing(fields: &mut Map<String, Value>, bytes: &[u8], used: usize) {
    fields.insert(
        "trailing_bytes".into(),
        json!(bytes.len().saturating_sub(used)),
    );
}

fn frame_fields(
    frame_type: FrameType,
    flags: u16,
    timestamp_us: u64,
    sequence: u64,
    payload: &[u8],
    reserved: [u8; 6],
) -> Map<String, Value> {
    let meaning = Flags::from_bits(flags);
    object(json!({
        "version": FRAME_VERSION,
        "frame_type": frame_type.byte(),
        "timestamp_us": timestamp_us,
        "sequence": sequence,
        "payload_length": payload.len(),
        "flags": flags,
        "end_of_frame": meaning.end_of_frame,
        "discardable": meaning.discardable,
        "reserved_flag_bits": flags & !(Flags::END_OF_FRAME | Flags::DISCARDABLE),
        "reserved_hex": hex(&reserved),
        "payload_hex": hex(payload),
    }))
}

/// A new payload: empty, one byte, twice as long, or an MTU's worth.
fn new_payload(old: &[u8], u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let len = *u.choose(&[0usize, 1, old.len() * 2, 1200])?;
    let fill: u8 = u.arbitrary()?;
    Ok(vec![fill; len])
}

/// A payload length field to a boundary: 0, one short (the rest then reads as the next frame),
/// one over, the u32's largest.
fn payload_len_edge(len: usize, u: &mut Unstructured<'_>) -> arbitrary::Result<u32> {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    Ok(*u.choose(&[0, len.saturating_sub(1), len.saturating_add(1), u32::MAX])?)
}

fn example_frame(
    stream_id: StreamId,
    frame_type: FrameType,
    sequence: u64,
    payload: &[u8],
) -> Vec<u8> {
    frame_v1(
        stream_id,
        frame_type,
        sequence,
        Flags::from_bits(Flags::END_OF_FRAME),
        payload,
    )
}

fn frame_v1(
    stream_id: StreamId,
    frame_type: FrameType,
    sequence: u64,
    flags: Flags,
    payload: &[u8],
) -> Vec<u8> {
    FrameRepr {
        frame_type,
        stream_id,
        timestamp_us: EXAMPLE_TS + sequence,
        sequence,
        flags,
        payload,
    }
    .to_vec()
    .unwrap_or_default()
}

/// Tokens shared by the two frame versions: version, frame types, flag sets, payload lengths.
fn frame_dictionary() -> Vec<Token> {
    let mut t = vec![Token::new("version", [FRAME_VERSION])];
    t.extend(
        FRAME_TYPES
            .iter()
            .map(|ft| Token::new("frame_type", [ft.byte()])),
    );
    t.push(Token::new("frame_type_unknown", [3u8]));
    t.extend(
        FLAG_SETS
            .iter()
            .map(|f| Token::new("flags", f.to_be_bytes())),
    );
    for len in [0u32, 1, 2, 1200, 0xffff, 0x1_0000, u32::MAX] {
        t.push(Token::new("payload_length", len.to_be_bytes()));
    }
    t.push(Token::new("reserved", [0u8; 6]));
    t
}
