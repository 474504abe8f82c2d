//! `darktower.header`: the v1 media stream header.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::bytes::edge_value;
use handshake_formats::{Seed, Token, Verdict};
use serde_json::{json, Map};

use super::{
    example_frame, hex, layout, object, stream_id, trailing, EXAMPLE_ID, STREAM_TYPES,
    STREAM_TYPE_EDGES, VERSION_EDGES, WRONG_MAGICS,
};
use crate::frame::FrameType;
use crate::header::{FourCc, StreamHeader, StreamHeaderRepr, StreamId, StreamType, MAGIC, VERSION};

/// `darktower.header`: a stream header (bytes after its 32 are the stream's frames: counted, not
/// read), kind its stream type.
pub fn decode_header(bytes: &[u8]) -> Verdict {
    match StreamHeaderRepr::parse(bytes) {
        Ok(h) => {
            let view = StreamHeader::new_unchecked(bytes);
            let mut f = object(json!({
                "magic_hex": hex(&view.magic()),
                "version": view.version(),
                "stream_type": h.stream_type.byte(),
                "stream_id": h.stream_id.to_string(),
                "codec": h.codec.to_string(),
                "codec_hex": hex(&h.codec.bytes()),
                "codec_known": h.codec.is_known(),
                "reserved_hex": hex(&view.reserved()),
            }));
            trailing(&mut f, bytes, h.buffer_len());
            Verdict::accepted(h.stream_type.name(), f)
        }
        Err(e) => Verdict::refused(None, Map::new(), e),
    }
}

/// Changes one field of a stream header that parses: magic, version, stream type, stream id,
/// codec, reserved bytes, or one of the network fuzzer's media fields.
pub fn mutate_header(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let Ok(mut repr) = StreamHeaderRepr::parse(bytes) else {
        return Ok(false);
    };
    let Some(head) = bytes.get_mut(..repr.buffer_len()) else {
        return Ok(false);
    };
    match u.int_in_range(0u8..=11)? {
        0 => return layout::mutate_media_stream_start(bytes, u),
        1 => StreamHeader::new_unchecked(head).set_magic(*u.choose(&WRONG_MAGICS)?),
        2 => {
            let v = edge_value(u, &VERSION_EDGES)? as u8;
            StreamHeader::new_unchecked(head).set_version(v);
        }
        3 => {
            let v = edge_value(u, &STREAM_TYPE_EDGES)? as u8;
            StreamHeader::new_unchecked(head).set_stream_type(v);
        }
        4 | 5 => {
            repr.stream_type = *u.choose(&STREAM_TYPES)?;
            emit_header(&repr, head);
        }
        6 | 7 => {
            repr.codec = if u.ratio(3u8, 4u8)? {
                *u.choose(&FourCc::KNOWN)?
            } else {
                FourCc(u.arbitrary()?)
            };
            emit_header(&repr, head);
        }
        8 | 9 => {
            repr.stream_id = stream_id(u)?;
            emit_header(&repr, head);
        }
        10 => StreamHeader::new_unchecked(head).set_reserved(u.arbitrary()?),
        _ => {
            // Cut short (DT5), or a frame after it.
            if u.arbitrary()? {
                let keep = u.int_in_range(0..=repr.buffer_len() - 1)?;
                bytes.truncate(keep);
            } else {
                bytes.extend(example_frame(repr.stream_id, FrameType::VideoKey, 0, b"hi"));
            }
        }
    }
    Ok(true)
}

fn emit_header(repr: &StreamHeaderRepr, head: &mut [u8]) {
    // `head` is the header's 32 bytes: emit cannot fail.
    let _ = repr.emit(head);
}

/// Magic, version, stream types, the FourCC table, whole valid header prefixes.
pub fn header_dictionary() -> Vec<Token> {
    let mut t = vec![
        Token::new("magic", MAGIC),
        Token::new("version", [VERSION]),
        Token::new("reserved", [0u8; 6]),
    ];
    for st in STREAM_TYPES {
        t.push(Token::new("stream_type", [st.byte()]));
        let mut prefix = MAGIC.to_vec();
        prefix.extend([VERSION, st.byte()]);
        t.push(Token::new("header_start", prefix));
    }
    t.push(Token::new("stream_type_screen", [2u8]));
    t.extend(FourCc::KNOWN.iter().map(|c| Token::new("codec", c.bytes())));
    t
}

fn header(stream_type: StreamType, stream_id: StreamId, codec: FourCc) -> Vec<u8> {
    StreamHeaderRepr {
        stream_type,
        stream_id,
        codec,
    }
    .to_bytes()
    .to_vec()
}

/// Every stream type with every known codec, unknown codecs, edge ids, reserved bytes set, a
/// frame after the header; the invalid cases of DT2 and DT5.
pub fn header_seeds() -> Vec<Seed> {
    let mut s = vec![Seed::new(
        "example-video-vp09",
        header(StreamType::Video, EXAMPLE_ID, FourCc::VP09),
    )];
    for st in STREAM_TYPES {
        for codec in FourCc::KNOWN {
            let name = format!("{}-{}", st.name(), codec.to_string().to_lowercase());
            s.push(Seed::new(name, header(st, EXAMPLE_ID, codec)));
        }
    }
    s.push(Seed::new(
        "unknown-codec",
        header(StreamType::Video, EXAMPLE_ID, FourCc(*b"XXXX")),
    ));
    s.push(Seed::new(
        "unprintable-codec",
        header(StreamType::Audio, EXAMPLE_ID, FourCc([0, 1, 0xfe, 0xff])),
    ));
    s.push(Seed::new(
        "nil-stream-id",
        header(StreamType::Video, StreamId([0; 16]), FourCc::AV01),
    ));
    s.push(Seed::new(
        "all-ones-stream-id",
        header(StreamType::Video, StreamId([0xff; 16]), FourCc::H264),
    ));
    let mut reserved = header(StreamType::Video, EXAMPLE_ID, FourCc::VP08);
    StreamHeader::new_unchecked(&mut reserved[..]).set_reserved([0xff; 6]);
    s.push(Seed::new("reserved-set", reserved));
    let mut with_frame = header(StreamType::Video, EXAMPLE_ID, FourCc::VP09);
    with_frame.extend(example_frame(EXAMPLE_ID, FrameType::VideoKey, 7, b"hi"));
    s.push(Seed::new("header-then-frame", with_frame));

    let valid = header(StreamType::Video, EXAMPLE_ID, FourCc::VP09);
    s.push(Seed::new("invalid-empty", []));
    s.push(Seed::new("invalid-short-31", valid[..31].to_vec()));
    s.push(Seed::new("invalid-short-4", valid[..4].to_vec()));
    for (name, magic) in ["reversed", "lower-case", "one-off", "zero"]
        .into_iter()
        .zip(WRONG_MAGICS)
    {
        let mut b = valid.clone();
        StreamHeader::new_unchecked(&mut b[..]).set_magic(magic);
        s.push(Seed::new(format!("invalid-magic-{name}"), b));
    }
    for version in [0u8, 2, 0x10, 0xff] {
        let mut b = valid.clone();
        StreamHeader::new_unchecked(&mut b[..]).set_version(version);
        s.push(Seed::new(format!("invalid-version-{version}"), b));
    }
    for stream_type in [2u8, 3, 0x80, 0xff] {
        let mut b = valid.clone();
        StreamHeader::new_unchecked(&mut b[..]).set_stream_type(stream_type);
        s.push(Seed::new(format!("invalid-stream-type-{stream_type}"), b));
    }
    s
}
