//! The fuzz kit's two media-stream formats (issue 77), for people fuzzing their own parsers in
//! process: `mediastream.datagram` (one UDP payload) and `mediastream.tlv` (a control frame's D14
//! option bytes). Both decode with this crate's parsers, never a second one.
//!
//! The layout knowledge here — the flag values, the parsers' length boundaries, the header
//! fields' offsets, D14's option types and their values' edges — is also what the network
//! fuzzer's media-stream hook mutates scenario bytes with ([`mutate_raw_datagram`],
//! [`mutate_options`]), so both fuzzers change the same fields the same way.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::bytes::{
    edge_value, interesting_int, mutate_header_field, mutate_tlvs, put_uint,
};
use handshake_formats::{InputUnit, Seed, Token, Verdict, WireFormat};
use serde_json::{Map, Value};

use crate::error::TlvError;
use crate::options::TLV_HEADER_LEN;
use crate::{
    field, flag, pattern_slice, ConnectionId, ConnectionIdPacket, ControlPacket, ControlRepr,
    DataRepr, Datagram, FragmentRepr, Kind, Mode, Options, OwnedOptions, TlvOption, TlvType,
    MAX_BUFFER_DEPTH_SECS, MAX_DATAGRAM_BYTE_SIZE, MAX_FRAME_RATE, START, VERSION,
};

/// The media stream's formats: `mediastream.datagram`, `mediastream.tlv`.
pub const FORMATS: &[WireFormat] = &[DATAGRAM, TLV];

/// The mode `mediastream.datagram` decodes in. Legacy-accepting, because it accepts every kind
/// (START included); a 3-way-only reader differs only in refusing the exact 5-byte `START`
/// (as the unknown flag 0x5453), which the verdict's `mode` field makes plain.
pub const DATAGRAM_MODE: Mode = Mode::LegacyAccepting;

/// `mediastream.datagram`: one UDP payload.
pub const DATAGRAM: WireFormat = WireFormat {
    id: "mediastream.datagram",
    about: "one ctsTraffic media-stream UDP payload (START, CONNECTION_ID, DATA, DATA+FRAG, \
            SYN, SYN-ACK, ACK with D14 TLV options), decoded in the legacy-accepting mode \
            (an exact 5-byte START is accepted); facts: mediastream.md Wire facts, D14",
    unit: InputUnit::Datagram,
    decode: decode_datagram,
    mutate: mutate_datagram,
    dictionary: datagram_dictionary,
    seeds: datagram_seeds,
};

/// `mediastream.tlv`: the option bytes of a control frame, from byte 67 to its end.
pub const TLV: WireFormat = WireFormat {
    id: "mediastream.tlv",
    about: "the TLV options of a SYN, SYN-ACK or ACK (the bytes after offset 67): type u8, \
            length u16 LE, value; known types 1..=5 have fixed widths but the codec hint, \
            unknown types are kept; facts: mediastream.md D14",
    unit: InputUnit::Message,
    decode: decode_options,
    mutate: mutate_option_list,
    dictionary: options_dictionary,
    seeds: options_seeds,
};

/// D14's option types, known and not (0, 6, 0x7f and 0xff are unknown and must be skipped).
pub const OPTION_TYPES: [u64; 9] = [0, 1, 2, 3, 4, 5, 6, 0x7f, 0xff];

/// D14's option values at their edges, by option type: the reference's limits (a frame rate of
/// 1 to 100,000 frames/s, a buffer of up to an hour, a datagram from a bare header up to UDP's
/// 65,507 bytes), the defaults and the values beside them.
pub fn option_edges(option_type: u64) -> &'static [u64] {
    const FRAME_RATE: [u64; 4] = [1, 25, 30, MAX_FRAME_RATE as u64];
    const BITS_PER_SECOND: [u64; 4] = [1, 8, 1_000_000, u32::MAX as u64];
    const BUFFER_DEPTH_MS: [u64; 3] = [1, 1000, MAX_BUFFER_DEPTH_SECS as u64 * 1000];
    const DATAGRAM_BYTES: [u64; 5] = [26, 27, 42, 1400, MAX_DATAGRAM_BYTE_SIZE as u64];
    match option_type {
        1 => &FRAME_RATE,
        2 => &BITS_PER_SECOND,
        3 => &BUFFER_DEPTH_MS,
        5 => &DATAGRAM_BYTES,
        _ => &[],
    }
}

/// The flag values of the wire facts, a START read as a flag, and the largest.
pub const FLAGS: [u64; 8] = [
    flag::DATA as u64,
    flag::DATA_FRAG as u64,
    flag::SYN as u64,
    flag::SYN_ACK as u64,
    flag::ACK as u64,
    flag::CONNECTION_ID as u64,
    flag::START_AS_FLAG as u64,
    0xffff,
];

/// Lengths at the parsers' boundaries: below a flag, a flag, a START, either side of a header,
/// of a CONNECTION_ID, of a DATA+FRAG header and of a control body.
pub const LENGTHS: [usize; 13] = [
    field::FLAG.end - 1,
    field::FLAG.end,
    START.len(),
    field::HEADER_LEN - 1,
    field::HEADER_LEN,
    field::HEADER_LEN + 1,
    field::CONNECTION_ID_DATAGRAM_LEN - 1,
    field::CONNECTION_ID_DATAGRAM_LEN,
    field::FRAGMENT_HEADER_LEN - 1,
    field::FRAGMENT_HEADER_LEN,
    field::CONTROL_LEN - 1,
    field::CONTROL_LEN,
    field::CONTROL_LEN + 1,
];

/// A field's (offset, width in bytes).
const fn span(f: field::Field) -> (usize, usize) {
    (f.start, f.end - f.start)
}

/// The fixed header fields a raw datagram of any kind is mutated at: seq, QPC, QPF; a control
/// frame's version, flags and reserved; DATA+FRAG's total length (its fragment offset shares
/// bytes 26.. with the control body).
pub const HEADER_FIELDS: [(usize, usize); 7] = [
    span(field::SEQ),
    span(field::QPC),
    span(field::QPF),
    (field::VERSION, 1),
    (field::CONTROL_FLAGS, 1),
    span(field::RESERVED),
    span(field::TOTAL_LENGTH),
];

/// One change to a D14 option list (type u8, length u16 LE): a type, a length, a value at its
/// type's edges, a TLV duplicated, dropped, appended or cut short.
pub fn mutate_options(options: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    mutate_tlvs(options, 1, 2, false, &OPTION_TYPES, &option_edges, u)
}

/// One change to the bytes of a datagram, parsed or not, by layout alone: the flag, the length
/// (to a parser boundary), a control frame's options, or a header field; `false` when the bytes
/// reach none of these (the network fuzzer's mutation of a scenario's raw datagram).
pub fn mutate_raw_datagram(
    bytes: &mut Vec<u8>,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    match u.int_in_range(0u8..=3)? {
        0 if bytes.len() >= field::FLAG.end => set_flag(bytes, u)?,
        1 => set_length(bytes, u)?,
        2 if bytes.len() > field::CONTROL_LEN => mutate_control_options(bytes, u)?,
        _ => return mutate_header_field(bytes, &HEADER_FIELDS, false, u),
    }
    Ok(true)
}

fn set_flag(bytes: &mut [u8], u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    put_uint(bytes, 0, 2, false, *u.choose(&FLAGS)?);
    Ok(())
}

fn set_length(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let len = *u.choose(&LENGTHS)?;
    bytes.resize(len, 0);
    Ok(())
}

fn mutate_control_options(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut options = bytes.split_off(field::CONTROL_LEN.min(bytes.len()));
    mutate_options(&mut options, u)?;
    bytes.extend_from_slice(&options);
    Ok(())
}

/// The fixed fields of a kind, (offset, width), as the field-level mutator changes them.
fn kind_fields(kind: Kind) -> &'static [(usize, usize)] {
    const DATA: [(usize, usize); 3] = [span(field::SEQ), span(field::QPC), span(field::QPF)];
    const DATA_FRAG: [(usize, usize); 5] = [
        span(field::SEQ),
        span(field::QPC),
        span(field::QPF),
        span(field::FRAGMENT_OFFSET),
        span(field::TOTAL_LENGTH),
    ];
    const CONTROL: [(usize, usize); 6] = [
        span(field::SEQ),
        span(field::QPC),
        span(field::QPF),
        (field::VERSION, 1),
        (field::CONTROL_FLAGS, 1),
        span(field::RESERVED),
    ];
    match kind {
        Kind::Start | Kind::ConnectionId => &[],
        Kind::Data => &DATA,
        Kind::DataFrag => &DATA_FRAG,
        Kind::Syn | Kind::SynAck | Kind::Ack => &CONTROL,
    }
}

/// The field-level mutator of `mediastream.datagram`: parses the datagram, then changes one of
/// its fields — the flag, the length (to a parser boundary), a header field (seq, QPC, QPF,
/// fragment offset, total length, control version/flags/reserved) to a boundary value, the
/// connection id, or a control frame's options ([`mutate_option_list`]); `false` when the bytes
/// do not parse. The fields a parser reads past (values, ids, options) are changed more often
/// than the flag and the length, which mostly make the datagram another kind or none.
pub fn mutate_datagram(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let kind = match Datagram::parse(bytes, DATAGRAM_MODE) {
        Ok(datagram) => datagram.kind(),
        Err(_) => return Ok(false),
    };
    let has_id = kind.is_control() || kind == Kind::ConnectionId;
    match u.int_in_range(0u8..=9)? {
        0 => set_flag(bytes, u)?,
        1 => set_length(bytes, u)?,
        2 | 3 if kind.is_control() => {
            let mut options = bytes.split_off(field::CONTROL_LEN);
            mutate_option_list(&mut options, u)?;
            bytes.extend_from_slice(&options);
        }
        4 | 5 if has_id => set_connection_id(bytes, kind, u)?,
        _ => match kind_fields(kind) {
            [] if has_id => set_connection_id(bytes, kind, u)?,
            // START has no fields: its flag or its length changes.
            [] if u.arbitrary()? => set_flag(bytes, u)?,
            [] => set_length(bytes, u)?,
            fields => {
                mutate_header_field(bytes, fields, false, u)?;
            }
        },
    }
    Ok(true)
}

/// Writes another connection id through the kind's view (CONNECTION_ID or a control frame).
fn set_connection_id(
    bytes: &mut [u8],
    kind: Kind,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<()> {
    let id = connection_id_like(u)?;
    if kind.is_control() {
        ControlPacket::new_unchecked(bytes).set_connection_id(&id);
    } else {
        ConnectionIdPacket::new_unchecked(bytes).set_connection_id(&id);
    }
    Ok(())
}

/// A connection id a receiver must take as opaque: all zero ("assign one"), ctsTraffic's own
/// UUID form, a reject reason, 37 bytes with no NUL, or bytes no text holds.
fn connection_id_like(u: &mut Unstructured<'_>) -> arbitrary::Result<ConnectionId> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => ConnectionId::ZERO,
        1 => ConnectionId::from_uuid_bytes(u.arbitrary()?),
        2 => ConnectionId::from_text_truncated(u.choose(&[
            "unsupported version",
            "session limit",
            "a reason longer than the thirty-seven bytes of an id",
        ])?),
        3 => ConnectionId([b'a'; crate::CONNECTION_ID_LEN]),
        _ => ConnectionId(u.arbitrary()?),
    })
}

/// The object a value serializes to (empty if it is not one: it always is for this crate's
/// types).
fn object_of(value: Result<Value, serde_json::Error>) -> Map<String, Value> {
    match value {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// One option as this crate serializes it (`type`, `name`, `value`: a number, the codec hint
/// as escaped text, an unknown type's value as hex), plus its value's `length`.
fn option_json(option: &TlvOption<'_>) -> Value {
    let mut map = object_of(serde_json::to_value(option));
    let length = option.encoded_len() - TLV_HEADER_LEN;
    map.insert("length".into(), Value::from(length));
    Value::Object(map)
}

fn options_json(options: Options<'_>) -> Value {
    Value::Array(options.iter().map(|o| option_json(&o)).collect())
}

/// The reference verdict on one datagram: its kind (`start`, `syn_ack` …) and fields as this
/// crate serializes them (the vectors' shape; options with their lengths), or the parse error
/// (its JSON members in `fields`, its message in `error`); `mode` says how `START` was read.
pub fn decode_datagram(bytes: &[u8]) -> Verdict {
    let mode = Value::from(DATAGRAM_MODE.name());
    match Datagram::parse(bytes, DATAGRAM_MODE) {
        Ok(datagram) => {
            let mut fields = object_of(serde_json::to_value(datagram));
            fields.remove("kind");
            if let Datagram::Control(control) = datagram {
                fields.insert("options".into(), options_json(control.options));
            }
            fields.insert("mode".into(), mode);
            Verdict::accepted(datagram.kind().name(), fields)
        }
        Err(error) => {
            let mut fields = object_of(serde_json::to_value(error));
            fields.remove("kind");
            fields.insert("mode".into(), mode);
            Verdict::refused(error.kind().map(Kind::name), fields, error)
        }
    }
}

/// The reference verdict on an option list: kind `options`, `fields.options` the options in
/// order, or the TLV error (its members in `fields`, its message in `error`).
pub fn decode_options(bytes: &[u8]) -> Verdict {
    match Options::parse(bytes) {
        Ok(options) => {
            let mut fields = Map::new();
            fields.insert("options".into(), options_json(options));
            Verdict::accepted("options", fields)
        }
        Err(error) => {
            let mut fields = Map::new();
            match error {
                TlvError::Overrun {
                    offset,
                    needed,
                    available,
                } => {
                    fields.insert("error".into(), "tlv_overrun".into());
                    fields.insert("offset".into(), offset.into());
                    fields.insert("needed".into(), needed.into());
                    fields.insert("available".into(), available.into());
                }
                TlvError::BadLength {
                    tlv_type,
                    expected,
                    actual,
                } => {
                    fields.insert("error".into(), "tlv_bad_length".into());
                    fields.insert("type".into(), tlv_type.into());
                    fields.insert("expected".into(), expected.into());
                    fields.insert("actual".into(), actual.into());
                }
            }
            Verdict::refused(Some("options"), fields, error)
        }
    }
}

/// The field-level mutator of `mediastream.tlv` (and of a datagram's options): half the time one
/// option's value becomes another of its type (an edge of a number, another codec hint, an
/// unknown type's bytes), re-encoded by the crate, so the list stays valid; otherwise one
/// layout change ([`mutate_options`]). `false` when the bytes are no valid list.
pub fn mutate_option_list(
    bytes: &mut Vec<u8>,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    let Ok(options) = Options::parse(bytes) else {
        return Ok(false);
    };
    let count = options.iter().count();
    if count == 0 || u.arbitrary()? {
        mutate_options(bytes, u)?;
        return Ok(true);
    }
    let pick = u.choose_index(count)?;
    let mut start = 0;
    let mut replacement = Vec::new();
    let mut old_len = 0;
    for (i, option) in options.iter().enumerate() {
        if i == pick {
            old_len = option.encoded_len();
            replacement = encoded(&[other_value(&option, u)?]);
            break;
        }
        start += option.encoded_len();
    }
    if replacement.is_empty() {
        // Only an unknown type's value too long to encode (it cannot be: it was parsed).
        return Ok(false);
    }
    bytes.splice(start..start + old_len, replacement);
    Ok(true)
}

/// Another value for `option`, of its type: a number at its type's edges or a boundary of its
/// width, another codec hint (empty, long, not ASCII), other bytes of an unknown type.
fn other_value<'v>(
    option: &TlvOption<'_>,
    u: &mut Unstructured<'v>,
) -> arbitrary::Result<TlvOption<'v>> {
    let number = |u: &mut Unstructured<'_>| -> arbitrary::Result<u64> {
        let edges = option_edges(u64::from(option.code()));
        if !edges.is_empty() && u.ratio(3u8, 4u8)? {
            edge_value(u, edges)
        } else {
            interesting_int(u, None)
        }
    };
    Ok(match *option {
        TlvOption::FrameRate(_) => TlvOption::FrameRate(number(u)? as u32),
        TlvOption::BitsPerSecond(_) => TlvOption::BitsPerSecond(number(u)?),
        TlvOption::BufferDepthMs(_) => TlvOption::BufferDepthMs(number(u)? as u32),
        TlvOption::MaxDatagramBytes(_) => TlvOption::MaxDatagramBytes(number(u)? as u32),
        TlvOption::CodecHint(_) => TlvOption::CodecHint(match u.int_in_range(0u8..=3)? {
            0 => u.choose(&CODEC_HINTS)?.as_bytes(),
            1 => b"",
            2 => b"video/H264; profile-level-id=42e01f",
            _ => {
                let len = u.int_in_range(1usize..=8)?;
                u.bytes(len)?
            }
        }),
        TlvOption::Unknown { tlv_type, .. } => {
            let len = u.int_in_range(0usize..=16)?;
            TlvOption::Unknown {
                tlv_type,
                value: u.bytes(len)?,
            }
        }
    })
}

/// The codec hints the library's vectors and scenarios send (the facts name none).
const CODEC_HINTS: [&str; 3] = ["H264", "h264", "VP9"];

/// The option types with fixed widths and the value width of each.
const FIXED_WIDTH_TYPES: [(TlvType, usize); 4] = [
    (TlvType::FrameRate, 4),
    (TlvType::BitsPerSecond, 8),
    (TlvType::BufferDepthMs, 4),
    (TlvType::MaxDatagramBytes, 4),
];

fn tlv_header(code: u8, len: u16) -> Vec<u8> {
    let mut header = vec![code];
    header.extend_from_slice(&len.to_le_bytes());
    header
}

/// Option headers (type + the length each type takes, and unknown types), the values' edges in
/// their widths, and the codec hints.
fn options_dictionary() -> Vec<Token> {
    let mut tokens = Vec::new();
    for (tlv_type, width) in FIXED_WIDTH_TYPES {
        let code = tlv_type.code();
        tokens.push(Token::new("option_header", tlv_header(code, width as u16)));
        for &edge in option_edges(u64::from(code)) {
            let bytes = edge.to_le_bytes();
            tokens.push(Token::new("option_value_edge", &bytes[..width]));
        }
    }
    for hint in CODEC_HINTS {
        tokens.push(Token::new(
            "option_header",
            tlv_header(TlvType::CodecHint.code(), hint.len() as u16),
        ));
        tokens.push(Token::new("codec_hint", hint.as_bytes()));
    }
    tokens.push(Token::new("option_header_unknown", tlv_header(0x7f, 0)));
    tokens.push(Token::new("option_header_unknown", tlv_header(0, 0)));
    tokens.push(Token::new(
        "option_header_longest",
        tlv_header(0xff, u16::MAX),
    ));
    tokens.push(Token::new("option_value_edge", u32::MAX.to_le_bytes()));
    tokens
}

/// START, every flag as its two bytes, the control body's version/flags bytes, boundary
/// integers of the header fields, a UUID-form id, and the options' tokens.
fn datagram_dictionary() -> Vec<Token> {
    let mut tokens = vec![Token::new("start", *START)];
    let flags = [
        ("flag_data", flag::DATA),
        ("flag_data_frag", flag::DATA_FRAG),
        ("flag_syn", flag::SYN),
        ("flag_syn_ack", flag::SYN_ACK),
        ("flag_ack", flag::ACK),
        ("flag_connection_id", flag::CONNECTION_ID),
        ("flag_start_as_flag", flag::START_AS_FLAG),
        ("flag_unknown", 0xffff),
    ];
    for (name, value) in flags {
        tokens.push(Token::new(name, value.to_le_bytes()));
    }
    for version in [VERSION, 0, 2, 0xff] {
        tokens.push(Token::new("version", [version]));
    }
    // Version 1, Flags (Accept or not), Reserved 0: the start of a control body.
    tokens.push(Token::new("control_body", [VERSION, 1, 0, 0]));
    tokens.push(Token::new("control_body", [VERSION, 0, 0, 0]));
    for v in [0u64, 1, u64::from(u32::MAX), u64::MAX, 10_000_000] {
        tokens.push(Token::new("u64_edge", v.to_le_bytes()));
    }
    tokens.push(Token::new(
        "uuid_id",
        *ConnectionId::from_uuid_bytes([0; 16]).as_bytes(),
    ));
    tokens.extend(options_dictionary());
    tokens
}

/// The typical options the network fuzzer starts from too: frame rate 30, 1 Mbit/s, buffer
/// 100 ms, codec `H264`, 1400-byte datagrams; and an unknown type.
fn typical_options() -> [(&'static str, TlvOption<'static>); 6] {
    [
        ("frame-rate", TlvOption::FrameRate(30)),
        ("bits-per-second", TlvOption::BitsPerSecond(1_000_000)),
        ("buffer-depth-ms", TlvOption::BufferDepthMs(100)),
        ("codec-hint", TlvOption::CodecHint(b"H264")),
        ("max-datagram-bytes", TlvOption::MaxDatagramBytes(1400)),
        (
            "unknown-type",
            TlvOption::Unknown {
                tlv_type: 0x7f,
                value: &[1, 2],
            },
        ),
    ]
}

/// The five known options together, as an initiator asking for a whole stream sends them.
fn all_known_options() -> Vec<u8> {
    let all: Vec<TlvOption<'static>> = typical_options()
        .iter()
        .map(|(_, o)| *o)
        .filter(|o| TlvType::from_code(o.code()).is_some())
        .collect();
    encoded(&all)
}

fn encoded(options: &[TlvOption<'_>]) -> Vec<u8> {
    // The typical options are valid and short: encoding cannot fail.
    OwnedOptions::from_options(options)
        .map(|o| o.as_options().as_bytes().to_vec())
        .unwrap_or_default()
}

/// The invalid option lists: cut headers, values past the end, known types of the wrong width.
fn invalid_options() -> Vec<Seed> {
    let mut seeds = vec![
        Seed::new("invalid-truncated-header", [1]),
        Seed::new("invalid-truncated-length", [1, 4]),
        Seed::new("invalid-overrun", [4, 5, 0, b'H', b'2']),
        Seed::new("invalid-overrun-longest", tlv_header(0x7f, u16::MAX)),
    ];
    let mut second_cut = encoded(&[TlvOption::FrameRate(30)]);
    second_cut.extend_from_slice(&[5, 4]);
    seeds.push(Seed::new("invalid-second-truncated", second_cut));
    for (tlv_type, width) in FIXED_WIDTH_TYPES {
        let short = width - 1;
        let mut bytes = tlv_header(tlv_type.code(), short as u16);
        bytes.resize(TLV_HEADER_LEN + short, 0);
        seeds.push(Seed::new(
            format!("invalid-bad-length-{}", tlv_type.name().replace('_', "-")),
            bytes,
        ));
    }
    seeds
}

/// Seeds of `mediastream.tlv`: no options, each alone, all five; the invalid lists.
fn options_seeds() -> Vec<Seed> {
    let mut seeds = vec![Seed::new("no-options", [])];
    for (name, option) in typical_options() {
        seeds.push(Seed::new(name, encoded(&[option])));
    }
    seeds.push(Seed::new("all-options", all_known_options()));
    seeds.extend(invalid_options());
    seeds
}

/// A control frame of `repr` with `options` (valid: the seeds' own).
fn control(repr: ControlRepr<'static>, options: &[u8]) -> Vec<u8> {
    let options = Options::parse(options).unwrap_or_default();
    Datagram::Control(repr.with_options(options)).to_vec()
}

/// Seeds of `mediastream.datagram`: every kind, control frames with no options, each option
/// alone and all five; the invalid edge cases (each kind one byte short, unknown flags, a START
/// that is not exact, bad versions, bad TLVs).
fn datagram_seeds() -> Vec<Seed> {
    let id = ConnectionId::from_uuid_bytes([
        0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9, 0x64,
        0xff,
    ]);
    let data = Datagram::Data(DataRepr {
        seq: 1,
        qpc: 5_000,
        qpf: 10_000_000,
        payload: pattern_slice(0, 100),
    })
    .to_vec();
    let data_frag = Datagram::Fragment(FragmentRepr {
        seq: 2,
        qpc: 6_000,
        qpf: 10_000_000,
        fragment_offset: 1374,
        total_length: 1401,
        payload: pattern_slice(0, 1),
    })
    .to_vec();
    let connection_id = Datagram::ConnectionId(id).to_vec();
    let syn = control(ControlRepr::syn(ConnectionId::ZERO), &[]);
    let syn_ack = control(ControlRepr::syn_ack_accept(id), &[]);
    let ack = control(ControlRepr::ack(id), &[]);
    let all = all_known_options();

    let mut seeds = vec![
        Seed::new("start", *START),
        Seed::new("connection-id", connection_id.clone()),
        Seed::new("connection-id-trailing-bytes", {
            let mut b = connection_id.clone();
            b.extend_from_slice(b"trailing");
            b
        }),
        Seed::new("data", data.clone()),
        Seed::new("data-no-payload", data[..field::HEADER_LEN].to_vec()),
        Seed::new("data-frag", data_frag.clone()),
        Seed::new("syn", syn.clone()),
        Seed::new("syn-desired-id", control(ControlRepr::syn(id), &[])),
        Seed::new("syn-ack", syn_ack.clone()),
        Seed::new(
            "syn-ack-reject",
            control(ControlRepr::syn_ack_reject("session limit"), &[]),
        ),
        Seed::new("ack", ack.clone()),
    ];
    for (name, option) in typical_options() {
        seeds.push(Seed::new(
            format!("syn-{name}"),
            control(ControlRepr::syn(ConnectionId::ZERO), &encoded(&[option])),
        ));
    }
    seeds.push(Seed::new(
        "syn-all-options",
        control(ControlRepr::syn(ConnectionId::ZERO), &all),
    ));
    seeds.push(Seed::new(
        "syn-ack-all-options",
        control(ControlRepr::syn_ack_accept(id), &all),
    ));
    seeds.push(Seed::new(
        "ack-all-options",
        control(ControlRepr::ack(id), &all),
    ));

    // Invalid: too short for a flag, each kind one byte short of its minimum.
    seeds.push(Seed::new("invalid-empty", []));
    seeds.push(Seed::new("invalid-one-byte", [0]));
    for (name, bytes) in [
        ("connection-id", &connection_id),
        ("data", &data),
        ("data-frag", &data_frag),
        ("syn", &syn),
        ("syn-ack", &syn_ack),
        ("ack", &ack),
    ] {
        let min = crate::classify(bytes, DATAGRAM_MODE).map_or(0, Kind::min_len);
        seeds.push(Seed::new(
            format!("invalid-short-{name}"),
            bytes[..min.saturating_sub(1)].to_vec(),
        ));
    }
    // Invalid: a START that is not exact, unknown flags.
    seeds.push(Seed::new("invalid-start-nul", *b"START\0"));
    seeds.push(Seed::new("invalid-start-short", *b"STAR"));
    seeds.push(Seed::new("invalid-start-lowercase", *b"start"));
    for (name, value) in [("0200", 0x0200u16), ("ffff", 0xffff), ("0002", 0x0002)] {
        let mut b = syn.clone();
        b[..2].copy_from_slice(&value.to_le_bytes());
        seeds.push(Seed::new(format!("invalid-unknown-flag-{name}"), b));
    }
    // Invalid: control frames of another version, or with bad options.
    for version in [0u8, 2] {
        let mut b = syn.clone();
        ControlPacket::new_unchecked(&mut b[..]).set_version(version);
        seeds.push(Seed::new(format!("invalid-version-{version}"), b));
    }
    for option_seed in invalid_options() {
        let mut b = syn.clone();
        b.extend_from_slice(&option_seed.bytes);
        let name = option_seed.name.replacen("invalid-", "invalid-tlv-", 1);
        seeds.push(Seed::new(name, b));
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;
    use handshake_formats::bytes::seeded_bytes;

    /// The raw-datagram mutation reaches each of its four branches: the flag, a boundary length,
    /// the options and a header field.
    #[test]
    fn the_raw_mutation_changes_flags_lengths_options_and_fields() {
        let base = control(ControlRepr::syn(ConnectionId::ZERO), &all_known_options());
        let (mut flag_changed, mut resized, mut options, mut header) = (false, false, false, false);
        for seed in 0..200 {
            let data = seeded_bytes(seed, 256);
            let mut u = Unstructured::new(&data);
            let mut b = base.clone();
            assert!(mutate_raw_datagram(&mut b, &mut u).expect("enough entropy"));
            let same_len = b.len() == base.len();
            flag_changed |= same_len && b[..2] != base[..2];
            resized |= LENGTHS.contains(&b.len());
            options |= b.len() > 67 && b[..67] == base[..67] && b != base;
            header |= same_len && b[..2] == base[..2] && b[2..30] != base[2..30];
        }
        assert!(flag_changed && resized && options && header);
    }

    /// Bytes that do not parse are left to the caller.
    #[test]
    fn the_field_mutators_refuse_what_does_not_parse() {
        let data = seeded_bytes(1, 64);
        let mut u = Unstructured::new(&data);
        let mut b = b"START\0".to_vec();
        assert!(!mutate_datagram(&mut b, &mut u).expect("enough entropy"));
        assert_eq!(b, b"START\0");
        let mut b = vec![1, 4];
        assert!(!mutate_option_list(&mut b, &mut u).expect("enough entropy"));
        assert_eq!(b, [1, 4]);
    }

    /// The tables say what the layout says.
    #[test]
    fn the_tables_are_the_wire_layout() {
        assert_eq!(
            HEADER_FIELDS,
            [(2, 8), (10, 8), (18, 8), (26, 1), (27, 1), (28, 2), (34, 8)]
        );
        assert_eq!(LENGTHS, [1, 2, 5, 25, 26, 27, 38, 39, 41, 42, 66, 67, 68]);
        assert_eq!(
            FLAGS,
            [0x0000, 0x0001, 0x0100, 0x0101, 0x0102, 0x1000, 0x5453, 0xffff]
        );
        assert_eq!(option_edges(1), [1, 25, 30, 100_000]);
        assert_eq!(option_edges(3), [1, 1000, 3_600_000]);
        assert_eq!(option_edges(5), [26, 27, 42, 1400, 65_507]);
        assert!(option_edges(4).is_empty());
    }

    /// A connection id change goes through the view: the id bytes change, nothing else.
    #[test]
    fn the_connection_id_changes_alone() {
        let base = control(
            ControlRepr::ack(ConnectionId::from_uuid_bytes([3; 16])),
            &[],
        );
        let reached = (0..200).any(|seed| {
            let data = seeded_bytes(seed, 256);
            let mut u = Unstructured::new(&data);
            let mut b = base.clone();
            mutate_datagram(&mut b, &mut u).expect("enough entropy")
                && b.len() == base.len()
                && b[..30] == base[..30]
                && b[30..67] != base[30..67]
        });
        assert!(reached);
    }
}
