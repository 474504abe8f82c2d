//! `darktower.frame_v1`: one v1 media frame.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::bytes::{edge_value, interesting_int};
use handshake_formats::{Seed, Token, Verdict};
use serde_json::{json, Map};

use super::{
    example_frame, frame_dictionary, frame_fields, frame_v1, layout, new_payload, payload_len_edge,
    stream_id, trailing, EXAMPLE_ID, FLAG_SETS, FRAME_TYPES, FRAME_TYPE_EDGES, VERSION_EDGES,
};
use crate::frame::{Flags, Frame, FrameRepr, FrameType, FRAME_HEADER_LEN};
use crate::header::StreamId;

/// `darktower.frame_v1`: one frame at the start of the bytes (bytes after it are the next frame:
/// counted, not read), kind its frame type. Without its stream header, DT3 is not judged.
pub fn decode_frame_v1(bytes: &[u8]) -> Verdict {
    match FrameRepr::parse(bytes) {
        Ok(frame) => {
            let view = Frame::new_unchecked(bytes);
            let mut f = frame_fields(
                frame.frame_type,
                view.flags(),
                frame.timestamp_us,
                frame.sequence,
                frame.payload,
                view.reserved(),
            );
            f.insert("stream_id".into(), json!(frame.stream_id.to_string()));
            f.insert("frame_length".into(), json!(frame.buffer_len()));
            trailing(&mut f, bytes, frame.buffer_len());
            Verdict::accepted(frame.frame_type.name(), f)
        }
        Err(e) => Verdict::refused(None, Map::new(), e),
    }
}

/// Changes one field of a v1 frame that parses: version, frame type, stream id, timestamp,
/// sequence, payload length, flags, reserved bytes, the payload, or one of the network fuzzer's
/// frame fields.
pub fn mutate_frame_v1(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let Ok(parsed) = FrameRepr::parse(bytes) else {
        return Ok(false);
    };
    let payload = parsed.payload.to_vec();
    let mut repr = FrameRepr {
        payload: &payload,
        ..parsed
    };
    let used = repr.buffer_len();
    let rest = bytes.get(used..).unwrap_or(&[]).to_vec();
    let mut view = Frame::new_unchecked(&mut bytes[..]);
    match u.int_in_range(0u8..=13)? {
        0 => return layout::mutate_frame_v1_fields(bytes, u),
        1 => view.set_version(edge_value(u, &VERSION_EDGES)? as u8),
        2 => view.set_frame_type(edge_value(u, &FRAME_TYPE_EDGES)? as u8),
        3 => view.set_payload_len(payload_len_edge(payload.len(), u)?),
        4 => view.set_flags(*u.choose(&FLAG_SETS)?),
        5 => view.set_reserved(u.arbitrary()?),
        op => {
            let replaced: Vec<u8>;
            match op {
                6 | 7 => repr.frame_type = *u.choose(&FRAME_TYPES)?,
                8 => repr.stream_id = stream_id(u)?,
                9 => repr.timestamp_us = interesting_int(u, Some(repr.timestamp_us))?,
                10 => repr.sequence = interesting_int(u, Some(repr.sequence))?,
                11 => {
                    replaced = new_payload(&payload, u)?;
                    repr.payload = &replaced;
                }
                _ => {
                    // Cut inside the frame, or a second frame after it.
                    if u.arbitrary()? {
                        let keep = u.int_in_range(0..=used - 1)?;
                        bytes.truncate(keep);
                    } else {
                        bytes.extend(repr.to_vec().unwrap_or_default());
                    }
                    return Ok(true);
                }
            }
            let Ok(mut out) = repr.to_vec() else {
                return Ok(false);
            };
            out.extend(rest);
            *bytes = out;
        }
    }
    Ok(true)
}

/// Frame header bytes: version, frame types, flags, payload lengths, the example stream id.
pub fn frame_v1_dictionary() -> Vec<Token> {
    let mut t = frame_dictionary();
    t.push(Token::new("stream_id", EXAMPLE_ID.bytes()));
    t
}

/// Each frame type and flag set, payload lengths 0 to 4,096, edge timestamps and sequences,
/// reserved bytes set, two frames back to back; the invalid cases (a short header, a bad version
/// or type, a payload cut short, a little-endian length).
pub fn frame_v1_seeds() -> Vec<Seed> {
    let eof = Flags::from_bits(Flags::END_OF_FRAME);
    let mut s = vec![Seed::new(
        "example-video-key-hi",
        example_frame(EXAMPLE_ID, FrameType::VideoKey, 7, b"hi"),
    )];
    for ft in FRAME_TYPES {
        s.push(Seed::new(
            ft.name().replace('_', "-"),
            example_frame(EXAMPLE_ID, ft, 1, &[1, 2, 3, 4]),
        ));
    }
    for bits in [0u16, 2, 3] {
        s.push(Seed::new(
            format!("flags-{bits}"),
            frame_v1(
                EXAMPLE_ID,
                FrameType::VideoDelta,
                2,
                Flags::from_bits(bits),
                b"x",
            ),
        ));
    }
    let mut reserved_flags = example_frame(EXAMPLE_ID, FrameType::Audio, 3, b"x");
    Frame::new_unchecked(&mut reserved_flags[..]).set_flags(0xfffc);
    s.push(Seed::new("flags-reserved-bits", reserved_flags));
    let mut reserved = example_frame(EXAMPLE_ID, FrameType::Audio, 3, b"x");
    Frame::new_unchecked(&mut reserved[..]).set_reserved([0xff; 6]);
    s.push(Seed::new("reserved-set", reserved));
    for len in [0usize, 1, 1200, 4096] {
        s.push(Seed::new(
            format!("payload-{len}"),
            frame_v1(EXAMPLE_ID, FrameType::VideoDelta, 4, eof, &vec![0xab; len]),
        ));
    }
    let mut edges = FrameRepr {
        frame_type: FrameType::VideoKey,
        stream_id: StreamId([0xff; 16]),
        timestamp_us: u64::MAX,
        sequence: u64::MAX,
        flags: eof,
        payload: b"",
    };
    s.push(Seed::new(
        "timestamp-sequence-max",
        edges.to_vec().unwrap_or_default(),
    ));
    edges.timestamp_us = 0;
    edges.sequence = 0;
    s.push(Seed::new(
        "timestamp-sequence-zero",
        edges.to_vec().unwrap_or_default(),
    ));
    let mut two = example_frame(EXAMPLE_ID, FrameType::VideoKey, 0, b"ab");
    two.extend(example_frame(EXAMPLE_ID, FrameType::VideoDelta, 1, b"cd"));
    s.push(Seed::new("two-frames", two));

    let valid = example_frame(EXAMPLE_ID, FrameType::VideoKey, 7, b"hi");
    s.push(Seed::new("invalid-empty", []));
    s.push(Seed::new(
        "invalid-short-header-45",
        valid[..FRAME_HEADER_LEN - 1].to_vec(),
    ));
    s.push(Seed::new(
        "invalid-payload-cut-short",
        valid[..valid.len() - 1].to_vec(),
    ));
    for version in [0u8, 2, 0xff] {
        let mut b = valid.clone();
        Frame::new_unchecked(&mut b[..]).set_version(version);
        s.push(Seed::new(format!("invalid-version-{version}"), b));
    }
    for ft in [3u8, 0xff] {
        let mut b = valid.clone();
        Frame::new_unchecked(&mut b[..]).set_frame_type(ft);
        s.push(Seed::new(format!("invalid-frame-type-{ft}"), b));
    }
    let mut huge = valid.clone();
    Frame::new_unchecked(&mut huge[..]).set_payload_len(u32::MAX);
    s.push(Seed::new("invalid-payload-length-max", huge));
    let mut little = valid;
    Frame::new_unchecked(&mut little[..]).set_payload_len(u32::from_le_bytes(2u32.to_be_bytes()));
    s.push(Seed::new("invalid-payload-length-little-endian", little));
    s
}
