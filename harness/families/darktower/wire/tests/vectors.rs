//! The wire crate against the independent generator's byte vectors (`vectors/darktower/*.json`,
//! written by `vectors/tools/generate_darktower.py` from darktower.md alone).
//!
//! Every case of every file is checked and counted; the counts must be the files' counts. A case
//! where the crate and the vectors disagree is collected, not asserted one at a time, so a run
//! lists every disagreement. Known disagreements live in [`KNOWN_DISAGREEMENTS`] (each with the
//! reason); any other disagreement fails, and so does a known one that no longer occurs.

use std::collections::BTreeMap;

use handshake_darktower_wire::proto::media::{
    media_client_message, media_server_message, ConnectRequest, ConnectResponse,
    MediaClientMessage, MediaServerMessage,
};
use handshake_darktower_wire::proto::signaling::{
    client_message, server_message, ClientMessage, EncryptionKeys, ErrorCode, ErrorMessage,
    JoinRequest, JoinResponse, LeaveReason, MediaServerInfo, MediaStream, Participant,
    ParticipantCapabilities, ParticipantJoined, ParticipantLeft, PublishStream, ServerMessage,
    SimulcastLayer, StreamMetadata, StreamPublished, StreamQualityUpdate,
    StreamType as PbStreamType, SubscribeStream, SubscriptionOptions, UnsubscribeStream,
    VideoMetadata,
};
use handshake_darktower_wire::{
    decode_client_frame, decode_server_frame, encode_message, from_http3, to_http3, Error, FourCc,
    Frame, FrameRepr, FrameV2, FrameV2Repr, FramingError, MediaEvent, MediaStreamReader, ResetCode,
    SignalingReader, StreamHeader, StreamHeaderRepr, StreamId, StreamType, FRAME_HEADER_LEN,
    FRAME_V2_HEADER_LEN, HEADER_LEN,
};
use prost::Message;
use rstest::rstest;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Known disagreements and the error-name mapping
// ---------------------------------------------------------------------------------------------

/// `(file, case id, check, reason)`: cases where the crate and the vectors disagree in substance
/// and darktower.md does not decide who is right, so neither side was changed. `check` is how the
/// disagreement's text starts, so a new, different disagreement on the same case still fails.
const KNOWN_DISAGREEMENTS: &[(&str, &str, &str, &str)] = &[
    (
        "frames_v1",
        "truncated_header_0",
        "reader (chunks of",
        "FIN right after the stream header: FrameRepr::parse says truncated_header (as the vectors) \
         but MediaStreamReader ends cleanly (a stream of zero frames); darktower.md (DT5, Decisions) \
         does not say whether a media stream may carry no frame",
    ),
];

/// Where an error was seen: the crate's names are shared by several formats, the vectors' kinds
/// are per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// stream_headers.json (stream header, DT2/DT5).
    Header,
    /// frames_v1.json (v1 frame on a media stream, DT3/DT5).
    FrameV1,
    /// frames_v2.json (v2 datagram, DT11).
    FrameV2,
    /// signaling.json framing (DT6).
    Signaling,
}

/// The one mapping from the crate's error names (`Error::name`, `FramingError::name`), qualified
/// by which part of the structure was short (`header` / `payload`) where the crate uses one name
/// for both, to the vectors' `kind` strings. Differences here are naming only.
const KIND_MAP: &[(Ctx, &str, &str)] = &[
    (Ctx::Header, "truncated", "truncated"),
    (Ctx::Header, "fin_in_header", "truncated"),
    (Ctx::Header, "bad_magic", "bad_magic"),
    (Ctx::Header, "bad_version", "unsupported_version"),
    (Ctx::Header, "unknown_stream_type", "unknown_stream_type"),
    (Ctx::FrameV1, "truncated/header", "truncated_header"),
    (Ctx::FrameV1, "fin_in_frame/header", "truncated_header"),
    (Ctx::FrameV1, "truncated/payload", "truncated_payload"),
    (Ctx::FrameV1, "fin_in_frame/payload", "truncated_payload"),
    (Ctx::FrameV1, "bad_version", "unsupported_version"),
    (Ctx::FrameV1, "unknown_frame_type", "unknown_frame_type"),
    (Ctx::FrameV1, "stream_id_mismatch", "stream_id_mismatch"),
    (Ctx::FrameV2, "truncated/header", "truncated_header"),
    (Ctx::FrameV2, "truncated/payload", "truncated_payload"),
    (Ctx::FrameV2, "bad_version", "unsupported_version"),
    (Ctx::FrameV2, "unknown_frame_type", "unknown_frame_type"),
    (Ctx::Signaling, "empty_message", "zero_length"),
    (Ctx::Signaling, "too_long", "too_long"),
    (Ctx::Signaling, "fin_in_prefix", "fin_inside_message"),
    (Ctx::Signaling, "fin_in_message", "fin_inside_message"),
];

/// prost reports protobuf decode errors as text only; the substring of its description that
/// identifies each of the vectors' `decode_error` kinds. Several kinds may share one prost text
/// (prost says "invalid varint" both for a cut-off and for an over-long varint, and names the
/// group wire type `StartGroup` in its wire-type error).
const PROTOBUF_ERROR_MAP: &[(&str, &str)] = &[
    ("truncated_varint", "invalid varint"),
    ("varint_too_long", "invalid varint"),
    ("truncated_length_delimited", "buffer underflow"),
    ("wrong_wire_type", "invalid wire type"),
    ("unsupported_wire_type", "invalid wire type: StartGroup"),
    ("unsupported_wire_type", "invalid wire type: EndGroup"),
    ("invalid_utf8", "data is not UTF-8 encoded"),
    ("field_number_zero", "invalid tag value: 0"),
];

fn vector_kind(ctx: Ctx, crate_name: &str) -> Option<&'static str> {
    KIND_MAP
        .iter()
        .find(|(c, n, _)| *c == ctx && *n == crate_name)
        .map(|(_, _, k)| *k)
}

/// The crate's name for a media error, qualified as [`KIND_MAP`] expects.
fn qualified_name(e: &Error, header_len: usize) -> String {
    match e {
        Error::Truncated { needed, .. } | Error::FinInFrame { needed, .. } => {
            let part = if *needed <= header_len {
                "header"
            } else {
                "payload"
            };
            format!("{}/{part}", e.name())
        }
        _ => e.name().to_owned(),
    }
}

fn protobuf_error_matches(kind: &str, err: &prost::DecodeError) -> bool {
    let text = err.to_string();
    PROTOBUF_ERROR_MAP
        .iter()
        .any(|(k, needle)| *k == kind && text.contains(needle))
}

// ---------------------------------------------------------------------------------------------
// Loading and bookkeeping
// ---------------------------------------------------------------------------------------------

fn load(file: &str) -> Vec<Value> {
    let path = format!(
        "{}/../../../../vectors/darktower/{file}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(doc["protocol"], "darktower", "{path}");
    assert_eq!(doc["file"], file, "{path}");
    doc["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no cases"))
        .clone()
}

/// Disagreements found in one file, with the number of cases checked.
struct Report {
    file: &'static str,
    checked: usize,
    problems: Vec<(String, String)>,
}

impl Report {
    fn new(file: &'static str) -> Report {
        Report {
            file,
            checked: 0,
            problems: Vec::new(),
        }
    }

    /// Records `got` ≠ `want` for case `id` under `what`.
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, id: &str, what: &str, got: T, want: T) {
        if got != want {
            self.problems.push((
                id.to_owned(),
                format!("{what}: crate {got:?}, vectors {want:?}"),
            ));
        }
    }

    fn fail(&mut self, id: &str, what: String) {
        self.problems.push((id.to_owned(), what));
    }

    /// Asserts the count, then that the disagreements are exactly the known ones of this file.
    fn finish(self, cases: &[Value], expected_count: usize) {
        self.finish_split(cases, expected_count, None);
    }

    /// [`Report::finish`], plus the README's split into accepted (`expect.ok`) and rejected
    /// (`expect.error`) cases.
    fn finish_split(self, cases: &[Value], expected_count: usize, split: Option<(usize, usize)>) {
        if let Some(split) = split {
            let ok = cases
                .iter()
                .filter(|c| c["expect"].get("ok").is_some())
                .count();
            let err = cases
                .iter()
                .filter(|c| c["expect"].get("error").is_some())
                .count();
            assert_eq!((ok, err), split, "{}: accepted/rejected cases", self.file);
        }
        assert_eq!(
            self.checked,
            cases.len(),
            "{}: checked {} of {} cases",
            self.file,
            self.checked,
            cases.len()
        );
        assert_eq!(
            cases.len(),
            expected_count,
            "{}: the file has {} cases, README says {expected_count}",
            self.file,
            cases.len()
        );
        let known: Vec<(&str, &str)> = KNOWN_DISAGREEMENTS
            .iter()
            .filter(|(f, _, _, _)| *f == self.file)
            .map(|(_, id, check, _)| (*id, *check))
            .collect();
        let is_known = |id: &str, p: &str| known.iter().any(|(k, c)| *k == id && p.starts_with(c));
        let unknown: Vec<String> = self
            .problems
            .iter()
            .filter(|(id, p)| !is_known(id, p))
            .map(|(id, p)| format!("  {}/{id}: {p}", self.file))
            .collect();
        let stale: Vec<&str> = known
            .iter()
            .filter(|(id, c)| {
                !self
                    .problems
                    .iter()
                    .any(|(p, text)| p == id && text.starts_with(c))
            })
            .map(|(id, _)| *id)
            .collect();
        assert!(
            unknown.is_empty() && stale.is_empty(),
            "{}: {} disagreement(s) not in KNOWN_DISAGREEMENTS:\n{}\nknown but no longer disagreeing: {stale:?}",
            self.file,
            unknown.len(),
            unknown.join("\n")
        );
    }
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn s<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no string {key}", case["id"]))
}

fn id(case: &Value) -> String {
    s(case, "id").to_owned()
}

// ---------------------------------------------------------------------------------------------
// stream_headers.json
// ---------------------------------------------------------------------------------------------

/// The codec as the vectors show it: text, or null when a byte is not printable ASCII.
fn codec_text(codec: FourCc) -> Value {
    let shown = codec.to_string();
    if shown.contains("\\x") {
        Value::Null
    } else {
        Value::from(shown)
    }
}

fn header_ok_json(bytes: &[u8], h: &StreamHeaderRepr) -> Value {
    let view = StreamHeader::new_unchecked(bytes);
    json!({
        "magic": String::from_utf8_lossy(&view.magic()),
        "version": view.version(),
        "stream_type": h.stream_type.byte(),
        "stream_type_name": h.stream_type.name(),
        "stream_id": h.stream_id.to_string(),
        "codec_hex": hex(&h.codec.bytes()),
        "codec": codec_text(h.codec),
        "codec_known": h.codec.is_known(),
        "reserved_hex": hex(&view.reserved()),
        "header_length": h.buffer_len(),
    })
}

/// The error as the vectors show it, from the crate's error and the bytes it came from.
fn media_error_json(ctx: Ctx, e: &Error) -> Value {
    let header_len = match ctx {
        Ctx::Header => HEADER_LEN,
        Ctx::FrameV1 => FRAME_HEADER_LEN,
        _ => FRAME_V2_HEADER_LEN,
    };
    let name = if ctx == Ctx::Header {
        e.name().to_owned()
    } else {
        qualified_name(e, header_len)
    };
    let kind = vector_kind(ctx, &name).map_or_else(|| format!("<unmapped {name}>"), str::to_owned);
    let mut out = Map::new();
    out.insert("kind".into(), kind.into());
    if ctx == Ctx::FrameV2 {
        out.insert("action".into(), "drop".into());
    } else {
        out.insert("action".into(), "reset".into());
        out.insert("reset_code".into(), e.reset_code().code().into());
        out.insert("reset_name".into(), e.reset_code().name().into());
    }
    match *e {
        Error::Truncated { needed, got } | Error::FinInFrame { needed, got } => {
            if needed <= header_len {
                out.insert("needed".into(), needed.into());
                out.insert("received".into(), got.into());
            } else {
                out.insert("payload_length".into(), (needed - header_len).into());
                out.insert("available".into(), (got - header_len).into());
            }
        }
        Error::FinInHeader { got } => {
            out.insert("needed".into(), HEADER_LEN.into());
            out.insert("received".into(), got.into());
        }
        Error::BadMagic(m) => {
            out.insert("magic_hex".into(), hex(&m).into());
        }
        Error::BadVersion(v) => {
            out.insert("version".into(), v.into());
        }
        Error::UnknownStreamType(t) => {
            out.insert("stream_type".into(), t.into());
        }
        Error::UnknownFrameType(t) => {
            out.insert("frame_type".into(), t.into());
        }
        Error::StreamIdMismatch { expected, found } => {
            out.insert("header_stream_id".into(), expected.to_string().into());
            out.insert("stream_id".into(), found.to_string().into());
        }
    }
    Value::Object(out)
}

/// Feeds `bytes` and then FIN to a fresh reader; returns the header event or the first error.
fn read_header_streaming(bytes: &[u8], chunk: usize) -> Result<StreamHeaderRepr, Error> {
    let mut reader = MediaStreamReader::new();
    for piece in bytes.chunks(chunk.max(1)) {
        let mut input = piece;
        // The first event the reader gives is the header (or its error).
        if let Some(event) = reader.next(&mut input) {
            return match event? {
                MediaEvent::Header(h) => Ok(h),
                other => panic!("event before the header: {other:?}"),
            };
        }
    }
    reader.finish()?;
    panic!("no header and no error")
}

#[test]
fn stream_headers() {
    let cases = load("stream_headers");
    let mut report = Report::new("stream_headers");
    for case in &cases {
        let id = id(case);
        let bytes = unhex(s(case, "hex"));
        let parsed = StreamHeaderRepr::parse(&bytes);
        // The incremental reader must say the same, whole and byte by byte (FIN after the bytes).
        for chunk in [bytes.len(), 1] {
            let streamed = read_header_streaming(&bytes, chunk);
            let same = match (&parsed, &streamed) {
                (Ok(a), Ok(b)) => a == b,
                (Err(a), Err(b)) => {
                    media_error_json(Ctx::Header, a) == media_error_json(Ctx::Header, b)
                }
                _ => false,
            };
            if !same {
                report.fail(
                    &id,
                    format!("reader (chunks of {chunk}) {streamed:?} ≠ parse {parsed:?}"),
                );
            }
        }
        let want = &case["expect"];
        match &parsed {
            Ok(h) => {
                report.check(
                    &id,
                    "ok",
                    json!({"ok": header_ok_json(&bytes, h)}),
                    want.clone(),
                );
                // Re-emitting gives the canonical bytes: the first 32, reserved zeroed.
                let mut canonical = bytes[..HEADER_LEN].to_vec();
                canonical[26..32].fill(0);
                report.check(&id, "re-emit", hex(&h.to_bytes()), hex(&canonical));
                report.check(
                    &id,
                    "stream_type round trip",
                    StreamType::from_byte(h.stream_type.byte()).ok(),
                    Some(h.stream_type),
                );
            }
            Err(e) => report.check(
                &id,
                "error",
                json!({"error": media_error_json(Ctx::Header, e)}),
                want.clone(),
            ),
        }
        report.checked += 1;
    }
    report.finish_split(&cases, 69, Some((23, 46)));
}

// ---------------------------------------------------------------------------------------------
// frames_v1.json
// ---------------------------------------------------------------------------------------------

fn flags_json(out: &mut Map<String, Value>, raw: u16) {
    out.insert("flags".into(), raw.into());
    out.insert("end_of_frame".into(), (raw & 1 != 0).into());
    out.insert("discardable".into(), (raw & 2 != 0).into());
    out.insert("reserved_flag_bits".into(), (raw & !3).into());
}

fn frame_v1_ok_json(bytes: &[u8], f: &FrameRepr<'_>) -> Value {
    let view = Frame::new_unchecked(bytes);
    let mut out = Map::new();
    out.insert("version".into(), view.version().into());
    out.insert("frame_type".into(), f.frame_type.byte().into());
    out.insert("frame_type_name".into(), f.frame_type.name().into());
    out.insert("stream_id".into(), f.stream_id.to_string().into());
    out.insert("timestamp_us".into(), f.timestamp_us.into());
    out.insert("sequence".into(), f.sequence.into());
    out.insert("payload_length".into(), f.payload.len().into());
    flags_json(&mut out, view.flags());
    // The typed flags must say what the raw bits say.
    assert_eq!(f.flags.bits(), view.flags() & 3);
    out.insert("reserved_hex".into(), hex(&view.reserved()).into());
    out.insert("payload_hex".into(), hex(f.payload).into());
    out.insert("frame_length".into(), f.buffer_len().into());
    Value::Object(out)
}

/// The first frame after a stream header for `header_id`, read by [`MediaStreamReader`] from
/// `bytes` in chunks of `chunk` followed by FIN: its header and payload, or the first error.
fn read_frame_streaming(
    header_id: StreamId,
    bytes: &[u8],
    chunk: usize,
) -> Result<Option<(handshake_darktower_wire::FrameHeaderRepr, Vec<u8>)>, Error> {
    let header = StreamHeaderRepr {
        stream_type: StreamType::Video,
        stream_id: header_id,
        codec: FourCc::VP09,
    };
    let mut reader = MediaStreamReader::new();
    let mut input = &header.to_bytes()[..];
    assert!(matches!(
        reader.next(&mut input),
        Some(Ok(MediaEvent::Header(_)))
    ));
    let mut start = None;
    let mut payload = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        let mut input = piece;
        while let Some(event) = reader.next(&mut input) {
            match event? {
                MediaEvent::FrameStart(h) => start = Some(h),
                MediaEvent::Payload(p) => payload.extend_from_slice(p),
                MediaEvent::FrameEnd => {
                    return Ok(Some((start.expect("FrameStart before FrameEnd"), payload)))
                }
                MediaEvent::Header(_) => panic!("a second header"),
            }
        }
    }
    // FIN: a frame of 0-byte payload ends on the next call; otherwise finish reports the cut.
    if let Some(Ok(MediaEvent::FrameEnd)) = reader.next(&mut &[][..]) {
        return Ok(Some((start.expect("FrameStart before FrameEnd"), payload)));
    }
    // `Ok(None)`: FIN where a frame would start, which the reader takes as a clean end.
    reader.finish().map(|()| None)
}

#[test]
fn frames_v1() {
    let cases = load("frames_v1");
    let mut report = Report::new("frames_v1");
    for case in &cases {
        let id = id(case);
        let bytes = unhex(s(case, "hex"));
        let header_id = case["header_stream_id"]
            .as_str()
            .map(|t| StreamId::parse_hyphenated(t).unwrap_or_else(|| panic!("{id}: bad UUID {t}")));
        // The parse path: FrameRepr::parse, then DT3 against the header's id where there is one.
        let parsed = FrameRepr::parse(&bytes).and_then(|f| match header_id {
            Some(h) if h != f.stream_id => Err(Error::StreamIdMismatch {
                expected: h,
                found: f.stream_id,
            }),
            _ => Ok(f),
        });
        // The stream path: a header (with the case's id, or the frame's own), then the bytes, FIN.
        let own_id = StreamId(
            bytes
                .get(2..18)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .unwrap_or([0; 16]),
        );
        let want = &case["expect"];
        let parsed_json = match &parsed {
            Ok(f) => json!({"ok": frame_v1_ok_json(&bytes, f)}),
            Err(e) => json!({"error": media_error_json(Ctx::FrameV1, e)}),
        };
        for chunk in [bytes.len(), 1] {
            let streamed = read_frame_streaming(header_id.unwrap_or(own_id), &bytes, chunk);
            let agrees = match (&parsed, &streamed) {
                (Ok(f), Ok(Some((h, payload)))) => {
                    f.header().ok() == Some(*h) && f.payload == payload
                }
                (Err(a), Err(b)) => {
                    media_error_json(Ctx::FrameV1, a) == media_error_json(Ctx::FrameV1, b)
                }
                _ => false,
            };
            if !agrees {
                report.fail(
                    &id,
                    format!("reader (chunks of {chunk}) {streamed:?} ≠ parse {parsed:?}"),
                );
            }
        }
        report.check(&id, "decode", parsed_json, want.clone());
        if let Ok(f) = &parsed {
            // Re-emitting gives the canonical bytes: reserved bytes and flag bits zeroed.
            let mut canonical = bytes[..f.buffer_len()].to_vec();
            canonical[38] = 0;
            canonical[39] &= 3;
            canonical[40..46].fill(0);
            report.check(
                &id,
                "re-emit",
                f.to_vec().map(|v| hex(&v)).ok(),
                Some(hex(&canonical)),
            );
            // parse_prefix hands back exactly the bytes after the frame.
            let rest = FrameRepr::parse_prefix(&bytes).map(|(_, rest)| rest.len());
            report.check(&id, "rest", rest, Ok(bytes.len() - f.buffer_len()));
        }
        report.checked += 1;
    }
    report.finish_split(&cases, 41, Some((24, 17)));
}

// ---------------------------------------------------------------------------------------------
// frames_v2.json
// ---------------------------------------------------------------------------------------------

fn frame_v2_ok_json(bytes: &[u8], f: &FrameV2Repr<'_>) -> Value {
    let view = FrameV2::new_unchecked(bytes);
    let mut out = Map::new();
    out.insert("version".into(), view.version().into());
    out.insert("frame_type".into(), f.frame_type.byte().into());
    out.insert("frame_type_name".into(), f.frame_type.name().into());
    out.insert("user_id".into(), f.user_id.into());
    out.insert("stream_id".into(), f.stream_id.into());
    out.insert("timestamp_us".into(), f.timestamp_us.into());
    out.insert("sequence".into(), f.sequence.into());
    out.insert("payload_length".into(), f.payload.len().into());
    flags_json(&mut out, view.flags());
    assert_eq!(f.flags.bits(), view.flags() & 3);
    out.insert("reserved_hex".into(), hex(&view.reserved()).into());
    out.insert("payload_hex".into(), hex(f.payload).into());
    out.insert("frame_length".into(), f.buffer_len().into());
    out.insert(
        "trailing_bytes".into(),
        (bytes.len() - f.buffer_len()).into(),
    );
    Value::Object(out)
}

#[test]
fn frames_v2() {
    let cases = load("frames_v2");
    let mut report = Report::new("frames_v2");
    for case in &cases {
        let id = id(case);
        let bytes = unhex(s(case, "hex"));
        let parsed = FrameV2Repr::parse(&bytes);
        let got = match &parsed {
            Ok(f) => json!({"ok": frame_v2_ok_json(&bytes, f)}),
            Err(e) => json!({"error": media_error_json(Ctx::FrameV2, e)}),
        };
        report.check(&id, "decode", got, case["expect"].clone());
        if let Ok(f) = &parsed {
            let mut canonical = bytes[..f.buffer_len()].to_vec();
            canonical[34] = 0;
            canonical[35] &= 3;
            canonical[36..42].fill(0);
            report.check(
                &id,
                "re-emit",
                f.to_vec().map(|v| hex(&v)).ok(),
                Some(hex(&canonical)),
            );
        }
        report.checked += 1;
    }
    report.finish_split(&cases, 30, Some((20, 10)));
}

// ---------------------------------------------------------------------------------------------
// Protobuf messages as the vectors show them
// ---------------------------------------------------------------------------------------------

/// An object builder that leaves proto3 defaults out, as the vectors do.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn str(mut self, k: &str, v: &str) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), v.into());
        }
        self
    }
    fn bytes(mut self, k: &str, v: &[u8]) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), hex(v).into());
        }
        self
    }
    fn u64(mut self, k: &str, v: u64) -> Self {
        if v != 0 {
            self.0.insert(k.into(), v.into());
        }
        self
    }
    fn bool(mut self, k: &str, v: bool) -> Self {
        if v {
            self.0.insert(k.into(), v.into());
        }
        self
    }
    fn f32(mut self, k: &str, v: f32) -> Self {
        if v != 0.0 || v.is_sign_negative() {
            self.0.insert(k.into(), f64::from(v).into());
        }
        self
    }
    fn en(mut self, k: &str, v: i32, name: Option<&str>) -> Self {
        if v != 0 {
            let shown = name.map_or_else(|| Value::from(v), Value::from);
            self.0.insert(k.into(), shown);
        }
        self
    }
    fn strs(mut self, k: &str, v: &[String]) -> Self {
        if !v.is_empty() {
            self.0
                .insert(k.into(), v.iter().map(String::as_str).collect());
        }
        self
    }
    fn list(mut self, k: &str, v: Vec<Value>) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), Value::Array(v));
        }
        self
    }
    fn sub(mut self, k: &str, v: Option<Value>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v);
        }
        self
    }
    fn map(mut self, k: &str, v: &BTreeMap<String, String>) -> Self {
        if !v.is_empty() {
            let m: Map<String, Value> = v
                .iter()
                .map(|(a, b)| (a.clone(), b.as_str().into()))
                .collect();
            self.0.insert(k.into(), Value::Object(m));
        }
        self
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn j_caps(m: &ParticipantCapabilities) -> Value {
    Obj::default()
        .strs("video_codecs", &m.video_codecs)
        .strs("audio_codecs", &m.audio_codecs)
        .bool("supports_simulcast", m.supports_simulcast)
        .u64("max_video_streams", m.max_video_streams.into())
        .done()
}
fn j_join_request(m: &JoinRequest) -> Value {
    Obj::default()
        .str("meeting_id", &m.meeting_id)
        .str("join_token", &m.join_token)
        .str("participant_name", &m.participant_name)
        .sub("capabilities", m.capabilities.as_ref().map(j_caps))
        .done()
}
fn j_keys(m: &EncryptionKeys) -> Value {
    Obj::default()
        .bytes("public_key", &m.public_key)
        .str("key_id", &m.key_id)
        .done()
}
fn j_server_info(m: &MediaServerInfo) -> Value {
    Obj::default()
        .str("media_handler_url", &m.media_handler_url)
        .str("connection_token", &m.connection_token)
        .done()
}
fn j_layer(m: &SimulcastLayer) -> Value {
    Obj::default()
        .str("layer_id", &m.layer_id)
        .u64("width", m.width.into())
        .u64("height", m.height.into())
        .u64("max_bitrate", m.max_bitrate.into())
        .done()
}
fn j_video(m: &VideoMetadata) -> Value {
    Obj::default()
        .u64("width", m.width.into())
        .u64("height", m.height.into())
        .u64("framerate", m.framerate.into())
        .list(
            "simulcast_layers",
            m.simulcast_layers.iter().map(j_layer).collect(),
        )
        .done()
}
fn j_metadata(m: &StreamMetadata) -> Value {
    Obj::default()
        .str("codec", &m.codec)
        .u64("max_bitrate", m.max_bitrate.into())
        .sub("video", m.video.as_ref().map(j_video))
        .done()
}
fn stream_type_name(v: i32) -> Option<&'static str> {
    PbStreamType::try_from(v).ok().map(|t| t.as_str_name())
}
fn j_media_stream(m: &MediaStream) -> Value {
    Obj::default()
        .str("stream_id", &m.stream_id)
        .en(
            "stream_type",
            m.stream_type,
            stream_type_name(m.stream_type),
        )
        .sub("metadata", m.metadata.as_ref().map(j_metadata))
        .done()
}
fn j_participant(m: &Participant) -> Value {
    Obj::default()
        .str("participant_id", &m.participant_id)
        .str("name", &m.name)
        .list("streams", m.streams.iter().map(j_media_stream).collect())
        .u64("joined_at", m.joined_at)
        .done()
}
fn j_join_response(m: &JoinResponse) -> Value {
    Obj::default()
        .str("participant_id", &m.participant_id)
        .list(
            "existing_participants",
            m.existing_participants.iter().map(j_participant).collect(),
        )
        .sub("media_server", m.media_server.as_ref().map(j_server_info))
        .sub("encryption_keys", m.encryption_keys.as_ref().map(j_keys))
        .done()
}
fn j_participant_joined(m: &ParticipantJoined) -> Value {
    Obj::default()
        .sub("participant", m.participant.as_ref().map(j_participant))
        .done()
}
fn j_participant_left(m: &ParticipantLeft) -> Value {
    let name = LeaveReason::try_from(m.reason)
        .ok()
        .map(|r| r.as_str_name());
    Obj::default()
        .str("participant_id", &m.participant_id)
        .en("reason", m.reason, name)
        .done()
}
fn j_publish(m: &PublishStream) -> Value {
    Obj::default()
        .str("stream_id", &m.stream_id)
        .en(
            "stream_type",
            m.stream_type,
            stream_type_name(m.stream_type),
        )
        .sub("metadata", m.metadata.as_ref().map(j_metadata))
        .done()
}
fn j_published(m: &StreamPublished) -> Value {
    Obj::default()
        .str("participant_id", &m.participant_id)
        .sub("stream", m.stream.as_ref().map(j_media_stream))
        .done()
}
fn j_options(m: &SubscriptionOptions) -> Value {
    Obj::default()
        .str("preferred_layer", &m.preferred_layer)
        .u64("max_bitrate", m.max_bitrate.into())
        .done()
}
fn j_subscribe(m: &SubscribeStream) -> Value {
    Obj::default()
        .str("stream_id", &m.stream_id)
        .sub("options", m.options.as_ref().map(j_options))
        .done()
}
fn j_unsubscribe(m: &UnsubscribeStream) -> Value {
    Obj::default().str("stream_id", &m.stream_id).done()
}
fn j_quality(m: &StreamQualityUpdate) -> Value {
    Obj::default()
        .str("stream_id", &m.stream_id)
        .u64("available_bitrate", m.available_bitrate.into())
        .f32("packet_loss", m.packet_loss)
        .u64("rtt_ms", m.rtt_ms.into())
        .done()
}
fn j_error(m: &ErrorMessage) -> Value {
    let name = ErrorCode::try_from(m.code).ok().map(|c| c.as_str_name());
    Obj::default()
        .en("code", m.code, name)
        .str("message", &m.message)
        .map("details", &m.details)
        .done()
}
fn one(k: &str, v: Value) -> Value {
    json!({ k: v })
}
fn j_client(m: &ClientMessage) -> Value {
    use client_message::Message as M;
    match &m.message {
        None => json!({}),
        Some(M::JoinRequest(x)) => one("join_request", j_join_request(x)),
        Some(M::PublishStream(x)) => one("publish_stream", j_publish(x)),
        Some(M::SubscribeStream(x)) => one("subscribe_stream", j_subscribe(x)),
        Some(M::UnsubscribeStream(x)) => one("unsubscribe_stream", j_unsubscribe(x)),
        Some(M::StreamQualityUpdate(x)) => one("stream_quality_update", j_quality(x)),
    }
}
fn j_server(m: &ServerMessage) -> Value {
    use server_message::Message as M;
    match &m.message {
        None => json!({}),
        Some(M::JoinResponse(x)) => one("join_response", j_join_response(x)),
        Some(M::ParticipantJoined(x)) => one("participant_joined", j_participant_joined(x)),
        Some(M::ParticipantLeft(x)) => one("participant_left", j_participant_left(x)),
        Some(M::StreamPublished(x)) => one("stream_published", j_published(x)),
        Some(M::StreamQualityUpdate(x)) => one("stream_quality_update", j_quality(x)),
        Some(M::Error(x)) => one("error", j_error(x)),
    }
}
fn j_connect_request(m: &ConnectRequest) -> Value {
    Obj::default().str("join_token", &m.join_token).done()
}
fn j_connect_response(m: &ConnectResponse) -> Value {
    Obj::default()
        .str("participant_id", &m.participant_id)
        .done()
}
fn j_media_client(m: &MediaClientMessage) -> Value {
    match &m.message {
        None => json!({}),
        Some(media_client_message::Message::ConnectRequest(x)) => {
            one("connect_request", j_connect_request(x))
        }
    }
}
fn j_media_server(m: &MediaServerMessage) -> Value {
    match &m.message {
        None => json!({}),
        Some(media_server_message::Message::ConnectResponse(x)) => {
            one("connect_response", j_connect_response(x))
        }
        Some(media_server_message::Message::Error(x)) => one("error", j_error(x)),
    }
}

/// A decoded message of one of the four wrapper types: its JSON, its canonical encoding, and its
/// framed encoding by [`encode_message`].
struct Decoded {
    json: Value,
    encoded: Vec<u8>,
    framed: Result<Vec<u8>, FramingError>,
}

fn decode_as(message_type: &str, bytes: &[u8]) -> Result<Decoded, prost::DecodeError> {
    fn pack<M: Message>(m: &M, json: Value) -> Decoded {
        Decoded {
            json,
            encoded: m.encode_to_vec(),
            framed: encode_message(m),
        }
    }
    Ok(match message_type {
        "ClientMessage" => {
            let m = ClientMessage::decode(bytes)?;
            pack(&m, j_client(&m))
        }
        "ServerMessage" => {
            let m = ServerMessage::decode(bytes)?;
            pack(&m, j_server(&m))
        }
        "MediaClientMessage" => {
            let m = MediaClientMessage::decode(bytes)?;
            pack(&m, j_media_client(&m))
        }
        "MediaServerMessage" => {
            let m = MediaServerMessage::decode(bytes)?;
            pack(&m, j_media_server(&m))
        }
        other => panic!("unknown message_type {other}"),
    })
}

/// Checks one encoding, decode-only or decode-error case (signaling.json and media_auth.json).
fn check_message_case(report: &mut Report, case: &Value) {
    let id = id(case);
    let message_type = s(case, "message_type");
    let bytes = unhex(s(case, "protobuf_hex"));
    let decoded = decode_as(message_type, &bytes);
    if let Some(kind) = case["decode_error"].as_str() {
        match decoded {
            Ok(d) => report.fail(&id, format!("decodes to {} (vectors: {kind})", d.json)),
            Err(e) => {
                if !protobuf_error_matches(kind, &e) {
                    report.fail(&id, format!("prost error {e:?} does not map to {kind}"));
                }
            }
        }
        return;
    }
    let d = match decoded {
        Ok(d) => d,
        Err(e) => return report.fail(&id, format!("decode failed: {e}")),
    };
    report.check(&id, "message", d.json.clone(), case["message"].clone());
    let canonical = if case["decode_only"] == true {
        s(case, "canonical_hex")
    } else {
        s(case, "protobuf_hex")
    };
    report.check(&id, "re-encode", hex(&d.encoded), canonical.to_owned());
    if case["decode_only"] != true {
        report.check(
            &id,
            "framed",
            d.framed.as_ref().map(|f| hex(f)).ok(),
            Some(s(case, "framed_hex").to_owned()),
        );
        report.check(
            &id,
            "length",
            Some(d.encoded.len() as u64),
            case["length"].as_u64(),
        );
        // The frame decoders of the crate take the framed bytes whole.
        let framed = unhex(s(case, "framed_hex"));
        let via_frame = match message_type {
            "ClientMessage" => decode_client_frame(&framed).map(|m| j_client(&m)).ok(),
            "ServerMessage" => decode_server_frame(&framed).map(|m| j_server(&m)).ok(),
            _ => Some(d.json.clone()),
        };
        report.check(
            &id,
            "decode_*_frame",
            via_frame,
            Some(case["message"].clone()),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// signaling.json
// ---------------------------------------------------------------------------------------------

/// Reads the chunks with a [`SignalingReader`], decoding each message as `message_type`; the
/// result in the vectors' `{messages, end}` shape.
fn read_signaling(
    message_type: &str,
    chunks: &[Vec<u8>],
    fin: bool,
    want_detail: Option<&str>,
) -> Value {
    let mut reader = SignalingReader::new();
    let mut messages = Vec::new();
    for chunk in chunks {
        let mut input = &chunk[..];
        while let Some(next) = reader.next(&mut input) {
            match next {
                Ok(body) => match decode_as(message_type, body) {
                    Ok(d) => messages.push(json!({"length": body.len(), "message": d.json})),
                    Err(e) => {
                        // prost's text maps to several kinds: the vectors' one when it is among them.
                        let detail = match want_detail {
                            Some(k) if protobuf_error_matches(k, &e) => k.to_owned(),
                            _ => format!("<prost: {e}>"),
                        };
                        let end = json!({"error": {"kind": "invalid_protobuf", "detail": detail, "length": body.len()}});
                        return json!({"messages": messages, "end": end});
                    }
                },
                Err(e) => {
                    let kind = vector_kind(Ctx::Signaling, e.name()).unwrap_or("<unmapped>");
                    let length = match e {
                        FramingError::EmptyMessage => 0,
                        FramingError::TooLong(n) => n,
                        other => panic!("reader error {other:?}"),
                    };
                    let end = json!({"error": {"kind": kind, "length": length, "close": e.error_code().as_str_name()}});
                    return json!({"messages": messages, "end": end});
                }
            }
        }
    }
    let end = match reader.finish() {
        Ok(()) if fin => json!("fin"),
        Ok(()) => json!("open"),
        Err(e) => {
            let n = match e {
                FramingError::FinInPrefix(n) => u64::from(n),
                FramingError::FinInMessage { got, .. } => 4 + u64::from(got),
                other => panic!("finish error {other:?}"),
            };
            if fin {
                assert_eq!(
                    vector_kind(Ctx::Signaling, e.name()),
                    Some("fin_inside_message")
                );
                json!({"fin_inside_message": n})
            } else {
                json!({"pending": n})
            }
        }
    };
    json!({"messages": messages, "end": end})
}

/// The case kinds of signaling.json, counted separately (README: 35 encodings, 12 decode-only,
/// 7 decode errors, 17 framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SignalingKind {
    Encoding,
    DecodeOnly,
    DecodeError,
    Framing,
}

fn signaling_kind(case: &Value) -> SignalingKind {
    if case.get("chunks").is_some() {
        SignalingKind::Framing
    } else if case.get("decode_error").is_some() {
        SignalingKind::DecodeError
    } else if case["decode_only"] == true {
        SignalingKind::DecodeOnly
    } else {
        SignalingKind::Encoding
    }
}

#[test]
fn signaling() {
    let cases = load("signaling");
    let mut report = Report::new("signaling");
    let mut per_kind: BTreeMap<SignalingKind, usize> = BTreeMap::new();
    for case in &cases {
        let kind = signaling_kind(case);
        *per_kind.entry(kind).or_default() += 1;
        if kind == SignalingKind::Framing {
            let id = id(case);
            let message_type = s(case, "message_type");
            let chunks: Vec<Vec<u8>> = case["chunks"]
                .as_array()
                .expect("chunks")
                .iter()
                .map(|c| unhex(c.as_str().expect("hex chunk")))
                .collect();
            let fin = case["fin"].as_bool().expect("fin");
            let want_detail = case["expect"]["end"]["error"]["detail"].as_str();
            let got = read_signaling(message_type, &chunks, fin, want_detail);
            report.check(&id, "framing", got.clone(), case["expect"].clone());
            // Chunking never changes what is read: all in one piece, and byte by byte.
            let whole: Vec<u8> = chunks.concat();
            let one_piece =
                read_signaling(message_type, std::slice::from_ref(&whole), fin, want_detail);
            report.check(&id, "one piece", one_piece, got.clone());
            let bytes: Vec<Vec<u8>> = whole.iter().map(|b| vec![*b]).collect();
            report.check(
                &id,
                "byte by byte",
                read_signaling(message_type, &bytes, fin, want_detail),
                got,
            );
        } else {
            check_message_case(&mut report, case);
        }
        report.checked += 1;
    }
    let counts: Vec<usize> = per_kind.values().copied().collect();
    assert_eq!(counts, [35, 12, 7, 17], "signaling case kinds {per_kind:?}");
    report.finish(&cases, 71);
}

// ---------------------------------------------------------------------------------------------
// media_auth.json
// ---------------------------------------------------------------------------------------------

#[test]
fn media_auth() {
    let cases = load("media_auth");
    let mut report = Report::new("media_auth");
    for case in &cases {
        check_message_case(&mut report, case);
        report.checked += 1;
    }
    report.finish(&cases, 8);
}

// ---------------------------------------------------------------------------------------------
// reset_codes.json
// ---------------------------------------------------------------------------------------------

#[test]
fn reset_codes() {
    let cases = load("reset_codes");
    let mut report = Report::new("reset_codes");
    let (mut codes, mut maps, mut inverses) = (0, 0, 0);
    for case in &cases {
        let id = id(case);
        if let Some(h) = case.get("webtransport_code") {
            inverses += 1;
            let http3 = case["http3"].as_u64().expect("http3");
            report.check(
                &id,
                "http3_hex",
                format!("{http3:#x}"),
                s(case, "http3_hex").to_owned(),
            );
            let got = from_http3(http3);
            report.check(&id, "inverse", got.map(u64::from), h.as_u64());
            report.check(
                &id,
                "is_webtransport",
                got.is_some(),
                case["is_webtransport"].as_bool().expect("is_webtransport"),
            );
            if let Some(code) = got {
                report.check(&id, "round trip", to_http3(code), http3);
            }
        } else {
            let code = u32::try_from(case["code"].as_u64().expect("code")).expect("u32 code");
            let http3 = case["http3"].as_u64().expect("http3");
            report.check(&id, "to_http3", to_http3(code), http3);
            report.check(
                &id,
                "http3_hex",
                format!("{http3:#x}"),
                s(case, "http3_hex").to_owned(),
            );
            report.check(&id, "from_http3", from_http3(http3), Some(code));
            if let Some(name) = case.get("name") {
                codes += 1;
                let c = ResetCode::from_code(code);
                report.check(&id, "name", c.map(ResetCode::name), name.as_str());
                report.check(
                    &id,
                    "from_name",
                    name.as_str().and_then(ResetCode::from_name),
                    c,
                );
                report.check(
                    &id,
                    "raw",
                    c.map(|c| u64::from(c.code())),
                    case["raw"].as_u64(),
                );
                report.check(&id, "http3()", c.map(ResetCode::http3), Some(http3));
            } else {
                maps += 1;
            }
        }
        report.checked += 1;
    }
    assert_eq!((codes, maps, inverses), (5, 6, 15), "reset_codes kinds");
    report.finish(&cases, 26);
}

// ---------------------------------------------------------------------------------------------
// The mapping tables themselves
// ---------------------------------------------------------------------------------------------

/// Every vector kind a file uses is reachable from some crate name in [`KIND_MAP`].
#[rstest]
#[case::header(Ctx::Header, &["truncated", "bad_magic", "unsupported_version", "unknown_stream_type"])]
#[case::frame_v1(Ctx::FrameV1, &["truncated_header", "truncated_payload", "unsupported_version", "unknown_frame_type", "stream_id_mismatch"])]
#[case::frame_v2(Ctx::FrameV2, &["truncated_header", "truncated_payload", "unsupported_version", "unknown_frame_type"])]
#[case::signaling(Ctx::Signaling, &["zero_length", "too_long", "fin_inside_message"])]
fn kind_map_covers(#[case] ctx: Ctx, #[case] kinds: &[&str]) {
    for kind in kinds {
        assert!(
            KIND_MAP.iter().any(|(c, _, k)| *c == ctx && k == kind),
            "{ctx:?}: no crate error maps to {kind}"
        );
    }
}

/// Every reset code of the crate is in reset_codes.json, and the known disagreements name real
/// cases.
#[rstest]
#[case(ResetCode::Graceful)]
#[case(ResetCode::InvalidStreamFormat)]
#[case(ResetCode::AuthenticationFailed)]
#[case(ResetCode::QuotaExceeded)]
#[case(ResetCode::InternalError)]
fn reset_code_in_vectors(#[case] code: ResetCode) {
    let cases = load("reset_codes");
    assert!(
        cases
            .iter()
            .any(|c| c["name"] == code.name() && c["code"] == code.code()),
        "{code} missing from reset_codes.json"
    );
}

#[test]
fn known_disagreements_name_real_cases() {
    for (file, case_id, _, reason) in KNOWN_DISAGREEMENTS {
        assert!(!reason.is_empty(), "{file}/{case_id}: no reason");
        assert!(
            load(file).iter().any(|c| c["id"] == *case_id),
            "{file}/{case_id}: no such case"
        );
    }
}
