//! `darktower.frame_v2`: one v2 media datagram (DT11).

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::bytes::{edge_value, interesting_int};
use handshake_formats::{Seed, Token, Verdict};
use serde_json::{json, Map};

use super::{
    frame_dictionary, frame_fields, layout, new_payload, payload_len_edge, trailing, EXAMPLE_TS,
    FLAG_SETS, FRAME_TYPES, FRAME_TYPE_EDGES, VERSION_EDGES,
};
use crate::frame::{Flags, FrameType};
use crate::frame_v2::{FrameV2, FrameV2Repr, FRAME_V2_HEADER_LEN};

/// `darktower.frame_v2`: one datagram (DT11: bytes after the payload are counted and ignored),
/// kind its frame type.
pub fn decode_frame_v2(bytes: &[u8]) -> Verdict {
    match FrameV2Repr::parse(bytes) {
        Ok(frame) => {
            let view = FrameV2::new_unchecked(bytes);
            let mut f = frame_fields(
                frame.frame_type,
                view.flags(),
                frame.timestamp_us,
                frame.sequence,
                frame.payload,
                view.reserved(),
            );
            f.insert("user_id".into(), json!(frame.user_id));
            f.insert("stream_id".into(), json!(frame.stream_id));
            f.insert("frame_length".into(), json!(frame.buffer_len()));
            trailing(&mut f, bytes, frame.buffer_len());
            Verdict::accepted(frame.frame_type.name(), f)
        }
        Err(e) => Verdict::refused(None, Map::new(), e),
    }
}

/// Changes one field of a v2 datagram that parses: version, frame type, user id, stream id,
/// timestamp, sequence, payload length, flags, reserved bytes, the payload, or one of the network
/// fuzzer's datagram fields.
pub fn mutate_frame_v2(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let Ok(parsed) = FrameV2Repr::parse(bytes) else {
        return Ok(false);
    };
    let payload = parsed.payload.to_vec();
    let mut repr = FrameV2Repr {
        payload: &payload,
        ..parsed
    };
    let used = repr.buffer_len();
    let rest = bytes.get(used..).unwrap_or(&[]).to_vec();
    let mut view = FrameV2::new_unchecked(&mut bytes[..]);
    match u.int_in_range(0u8..=14)? {
        0 => return layout::mutate_frame_v2_fields(bytes, u),
        1 => view.set_version(edge_value(u, &VERSION_EDGES)? as u8),
        2 => view.set_frame_type(edge_value(u, &FRAME_TYPE_EDGES)? as u8),
        3 => view.set_payload_len(payload_len_edge(payload.len(), u)?),
        4 => view.set_flags(*u.choose(&FLAG_SETS)?),
        5 => view.set_reserved(u.arbitrary()?),
        op => {
            let replaced: Vec<u8>;
            match op {
                6 | 7 => repr.frame_type = *u.choose(&FRAME_TYPES)?,
                8 => repr.user_id = interesting_int(u, Some(repr.user_id))?,
                9 => repr.stream_id = interesting_int(u, Some(repr.stream_id.into()))? as u32,
                10 => repr.timestamp_us = interesting_int(u, Some(repr.timestamp_us))?,
                11 => repr.sequence = interesting_int(u, Some(repr.sequence))?,
                12 => {
                    replaced = new_payload(&payload, u)?;
                    repr.payload = &replaced;
                }
                _ => {
                    // Cut inside the datagram, or bytes after the payload (accepted, DT11).
                    if u.arbitrary()? {
                        let keep = u.int_in_range(0..=used - 1)?;
                        bytes.truncate(keep);
                    } else {
                        let extra: [u8; 4] = u.arbitrary()?;
                        bytes.extend(extra);
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

fn frame_v2(
    frame_type: FrameType,
    user_id: u64,
    stream_id: u32,
    flags: u16,
    payload: &[u8],
) -> Vec<u8> {
    FrameV2Repr {
        frame_type,
        user_id,
        stream_id,
        timestamp_us: EXAMPLE_TS,
        sequence: 7,
        flags: Flags::from_bits(flags),
        payload,
    }
    .to_vec()
    .unwrap_or_default()
}

/// The frame tokens and the edge user and stream ids.
pub fn frame_v2_dictionary() -> Vec<Token> {
    let mut t = frame_dictionary();
    t.push(Token::new("user_id", 42u64.to_be_bytes()));
    t.push(Token::new("stream_id", 7u32.to_be_bytes()));
    t.push(Token::new("stream_id_max", u32::MAX.to_be_bytes()));
    t
}

/// Each frame type and flag set, edge ids, payloads 0 to 1,200 bytes, bytes after the payload
/// (accepted, DT11); the datagrams DT11 drops.
pub fn frame_v2_seeds() -> Vec<Seed> {
    let mut s = vec![Seed::new(
        "example-video-key-hi",
        frame_v2(FrameType::VideoKey, 42, 7, 1, b"hi"),
    )];
    for ft in FRAME_TYPES {
        s.push(Seed::new(
            ft.name().replace('_', "-"),
            frame_v2(ft, 42, 7, 1, b"hi"),
        ));
    }
    for bits in [0u16, 2, 3, 0xffff] {
        s.push(Seed::new(
            format!("flags-{bits}"),
            frame_v2(FrameType::VideoDelta, 42, 7, bits, b"x"),
        ));
    }
    s.push(Seed::new(
        "ids-zero",
        frame_v2(FrameType::Audio, 0, 0, 1, b"x"),
    ));
    s.push(Seed::new(
        "ids-max",
        frame_v2(FrameType::Audio, u64::MAX, u32::MAX, 1, b"x"),
    ));
    for len in [0usize, 1, 1200] {
        s.push(Seed::new(
            format!("payload-{len}"),
            frame_v2(FrameType::VideoKey, 1, 1, 1, &vec![0xcd; len]),
        ));
    }
    let mut extra = frame_v2(FrameType::VideoKey, 42, 7, 1, b"hi");
    extra.extend([0xde, 0xad]);
    s.push(Seed::new("trailing-bytes", extra));

    let valid = frame_v2(FrameType::VideoKey, 42, 7, 1, b"hi");
    s.push(Seed::new("invalid-empty", []));
    s.push(Seed::new(
        "invalid-short-header-41",
        valid[..FRAME_V2_HEADER_LEN - 1].to_vec(),
    ));
    s.push(Seed::new(
        "invalid-payload-cut-short",
        valid[..valid.len() - 1].to_vec(),
    ));
    for version in [0u8, 2, 0xff] {
        let mut b = valid.clone();
        FrameV2::new_unchecked(&mut b[..]).set_version(version);
        s.push(Seed::new(format!("invalid-version-{version}"), b));
    }
    for ft in [3u8, 0xff] {
        let mut b = valid.clone();
        FrameV2::new_unchecked(&mut b[..]).set_frame_type(ft);
        s.push(Seed::new(format!("invalid-frame-type-{ft}"), b));
    }
    let mut huge = valid;
    FrameV2::new_unchecked(&mut huge[..]).set_payload_len(u32::MAX);
    s.push(Seed::new("invalid-payload-length-max", huge));
    s
}
