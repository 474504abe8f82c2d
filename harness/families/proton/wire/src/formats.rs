//! Proton's format for the fuzz kit (issue 77): `proton.stream`, the bytes a client sends on one
//! of its streams, read with [`StreamReader`] as a server reads them.
//!
//! The stream-layer tables and the per-field mutations live here, not in the network fuzzer, so
//! that its value hook (the plug-in's `netfuzz`) and the in-process fuzzers' mutator change the
//! same fields to the same values: [`DISCRIMINATOR_BYTES`], [`BOUNDARY_U32S`],
//! [`mutate_written_bytes`], [`boundary_u32`].
//!
//! A verdict's `ok` is the stream layer's: the reader took every byte and the FIN is at a message
//! boundary after a known discriminator. What the server answers beyond that (an event id out of
//! order closes with code 5) is reported in the fields, not as a refusal: the reader accepts it.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::bytes::interesting_int;
use handshake_formats::{InputUnit, Seed, Token, Verdict, WireFormat};
use serde_json::{json, Map, Value};

use crate::{encode_u32, Discriminator, EventOrder, Message, StreamError, StreamReader};

/// Every format of the family.
pub const FORMATS: &[WireFormat] = &[STREAM];

/// `proton.stream`: one client stream from its first byte to its FIN.
pub const STREAM: WireFormat = WireFormat {
    id: "proton.stream",
    about: "One Proton client stream from its first byte to its FIN: a discriminator byte \
            (1 event, 2 state_commit, 3 action, 0xff reset under P4), then u32 little-endian \
            messages; ok when the FIN falls at a u32 boundary (proton.md, wire facts and P5).",
    unit: InputUnit::Stream,
    decode: decode_stream,
    mutate: mutate_stream,
    dictionary,
    seeds,
};

/// Discriminator bytes a mutation writes: the three data streams, P4's reset (0xff), and the
/// unknown values beside them (0, 4, 0x7f, 0xfe), which a server must refuse with code 1.
pub const DISCRIMINATOR_BYTES: [u8; 8] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x7f, 0xfe, 0xff];

/// u32 values at the boundaries of event ids (0 is refused as the first, the largest leaves no
/// next), StateCommit requests (0xffff_fffe is the first whose answer overflows) and the REPL's
/// typical values (commit 41 is answered 43).
pub const BOUNDARY_U32S: [u32; 10] = [
    0,
    1,
    2,
    3,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    41,
    43,
];

/// One of [`DISCRIMINATOR_BYTES`].
pub fn any_discriminator_byte(u: &mut Unstructured<'_>) -> arbitrary::Result<u8> {
    Ok(*u.choose(&DISCRIMINATOR_BYTES)?)
}

/// One of [`BOUNDARY_U32S`].
pub fn boundary_u32(u: &mut Unstructured<'_>) -> arbitrary::Result<u32> {
    Ok(*u.choose(&BOUNDARY_U32S)?)
}

/// One change to bytes a client writes on a stream, as the network fuzzer sees a write (no
/// knowledge of where in the stream it falls): a lone byte is a discriminator and becomes another
/// (known or not); four bytes or more get a boundary u32 at a 4-byte boundary, one time in two.
/// `false` when neither applies (the caller mutates the bytes otherwise).
pub fn mutate_written_bytes(bytes: &mut [u8], u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    if bytes.len() == 1 {
        bytes[0] = any_discriminator_byte(u)?;
    } else if bytes.len() >= 4 && u.ratio(1u8, 2u8)? {
        let at = 4 * u.choose_index(bytes.len() / 4)?;
        let value = boundary_u32(u)?;
        bytes[at..at + 4].copy_from_slice(&encode_u32(value));
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// The reference decoder: the crate's reader over the whole input, then its end as a FIN.
fn decode_stream(bytes: &[u8]) -> Verdict {
    let mut reader = StreamReader::new();
    let mut input = bytes;
    let mut fields = Map::new();
    let mut messages = Vec::new();
    while let Some(message) = reader.next(&mut input) {
        match message {
            Ok(Message::Discriminator(d)) => {
                fields.insert("discriminator".into(), Value::from(d.byte()));
            }
            Ok(Message::Value(v)) => messages.push(v),
            Err(StreamError::UnknownDiscriminator(byte)) => {
                fields.insert("discriminator".into(), Value::from(byte));
            }
            // The reader reports no other error while reading; `finish` says the rest.
            Err(_) => {}
        }
    }
    let kind = reader.discriminator().map(Discriminator::name);
    if kind.is_some() {
        if reader.discriminator() == Some(Discriminator::Event) {
            fields.insert("event_order_violation".into(), event_order(&messages));
        }
        fields.insert("messages".into(), Value::from(messages));
        fields.insert("pending_bytes".into(), Value::from(reader.pending()));
    }
    if !input.is_empty() {
        // Left unread after an error: the reader reads nothing more.
        fields.insert("unread_bytes".into(), Value::from(input.len()));
    }
    // What a server answers a FIN here with: 5 after setup even at a boundary (P5, as coded).
    fields.insert(
        "fin_close_code".into(),
        Value::from(reader.fin_close_code().code()),
    );
    match reader.finish() {
        Ok(()) => Verdict::accepted(kind.unwrap_or_default(), fields),
        Err(e) => Verdict::refused(kind, fields, e),
    }
}

/// The first event id out of order (`null`: none), with the close code it draws: the reader does
/// not refuse it, the server does.
fn event_order(ids: &[u32]) -> Value {
    let mut order = EventOrder::default();
    ids.iter()
        .enumerate()
        .find_map(|(index, &id)| order.accept(id).err().map(|e| (index, e)))
        .map_or(Value::Null, |(index, e)| {
            json!({
                "index": index,
                "id": e.id,
                "previous": e.previous,
                "error": e.to_string(),
                "close_code": crate::CloseCode::StreamError.code(),
            })
        })
}

/// A stream as the field mutator sees it: its first byte (known or not), its whole u32s and the
/// 0–3 bytes of a u32 its FIN cut.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StreamParts {
    discriminator: u8,
    messages: Vec<u32>,
    trailing: Vec<u8>,
}

impl StreamParts {
    /// `None` for an empty input: nothing to change a field of. An unknown first byte still
    /// parses (the mutator may turn it into a known one): the values after it are read as a
    /// server's reader reads values.
    fn parse(bytes: &[u8]) -> Option<StreamParts> {
        let (&discriminator, mut rest) = bytes.split_first()?;
        let mut reader = StreamReader::values_only();
        let mut messages = Vec::with_capacity(rest.len() / 4);
        while let Some(Ok(message)) = reader.next(&mut rest) {
            if let Message::Value(v) = message {
                messages.push(v);
            }
        }
        let trailing = bytes[bytes.len() - usize::from(reader.pending())..].to_vec();
        Some(StreamParts {
            discriminator,
            messages,
            trailing,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 4 * self.messages.len() + self.trailing.len());
        out.push(self.discriminator);
        for &m in &self.messages {
            out.extend_from_slice(&encode_u32(m));
        }
        out.extend_from_slice(&self.trailing);
        out
    }
}

/// A boundary u32 for a message that holds `current`: from the family's table, or a boundary of
/// any integer field (nudged, a bit flipped), cut to 32 bits.
fn message_value(u: &mut Unstructured<'_>, current: u32) -> arbitrary::Result<u32> {
    if u.arbitrary()? {
        boundary_u32(u)
    } else {
        Ok(interesting_int(u, Some(u64::from(current)))? as u32)
    }
}

/// A value for message `index` that tests an order (event ids strictly increasing, the first
/// ≥ 1): equal to the one before, one less, one more, or 0.
fn ordering_value(
    u: &mut Unstructured<'_>,
    messages: &[u32],
    index: usize,
) -> arbitrary::Result<u32> {
    let previous = index.checked_sub(1).and_then(|i| messages.get(i)).copied();
    Ok(match (previous, u.int_in_range(0u8..=3)?) {
        (Some(p), 0) => p,
        (Some(p), 1) => p.wrapping_sub(1),
        (Some(p), 2) => p.wrapping_add(1),
        (None, 0 | 1) => 1,
        _ => 0,
    })
}

/// The field mutator: one change to the discriminator, a message, the order or number of
/// messages, or where the FIN falls; re-encoded. Value changes, which keep the stream readable,
/// are drawn most often; a FIN inside a u32 and an unknown discriminator are refused by the
/// reader.
fn mutate_stream(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let Some(mut parts) = StreamParts::parse(bytes) else {
        return Ok(false);
    };
    let count = parts.messages.len();
    let mut op = u.int_in_range(0u8..=14)?;
    // The changes of one message need one: append instead.
    if count == 0 && matches!(op, 2..=7 | 9..=11) {
        op = 12;
    }
    match op {
        0 | 1 => {
            let others: Vec<u8> = DISCRIMINATOR_BYTES
                .into_iter()
                .filter(|&b| b != parts.discriminator)
                .collect();
            parts.discriminator = *u.choose(&others)?;
        }
        2..=5 => {
            let i = u.choose_index(count)?;
            parts.messages[i] = message_value(u, parts.messages[i])?;
        }
        6 | 7 => {
            let i = u.choose_index(count)?;
            parts.messages[i] = ordering_value(u, &parts.messages, i)?;
        }
        8 => {
            let at = u.int_in_range(0..=count)?;
            let value = boundary_u32(u)?;
            parts.messages.insert(at, value);
        }
        9 => {
            let i = u.choose_index(count)?;
            parts.messages.insert(i, parts.messages[i]);
        }
        10 => {
            let i = u.choose_index(count)?;
            parts.messages.remove(i);
        }
        11 => {
            let i = u.choose_index(count)?;
            let j = u.choose_index(count)?;
            parts.messages.swap(i, j);
        }
        12 => {
            // The next event id, or a boundary.
            let value = match parts.messages.last() {
                Some(last) if u.arbitrary()? => last.wrapping_add(1),
                _ => boundary_u32(u)?,
            };
            parts.messages.push(value);
        }
        13 => cut_inside_u32(&mut parts, u)?,
        _ => {
            if parts.trailing.is_empty() {
                cut_inside_u32(&mut parts, u)?;
            } else {
                // The FIN back at a boundary.
                parts.trailing.clear();
            }
        }
    }
    *bytes = parts.encode();
    Ok(true)
}

/// The FIN inside a u32: the stream ends after 1–3 bytes of one of its messages (the ones after
/// it dropped), or of a boundary value appended when it has none.
fn cut_inside_u32(parts: &mut StreamParts, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let keep = u.int_in_range(1usize..=3)?;
    let cut = if parts.messages.is_empty() {
        boundary_u32(u)?
    } else {
        let i = u.choose_index(parts.messages.len())?;
        let cut = parts.messages[i];
        parts.messages.truncate(i);
        cut
    };
    parts.trailing = encode_u32(cut)[..keep].to_vec();
    Ok(())
}

/// The discriminators by name, the unknown ones beside them, and the boundary u32s as sent.
fn dictionary() -> Vec<Token> {
    let mut tokens: Vec<Token> = [
        Discriminator::Event,
        Discriminator::StateCommit,
        Discriminator::Action,
        Discriminator::Reset,
    ]
    .into_iter()
    .map(|d| Token::new(d.name(), [d.byte()]))
    .collect();
    tokens.extend(
        DISCRIMINATOR_BYTES
            .into_iter()
            .filter(|&b| Discriminator::from_byte(b).is_err())
            .map(|b| Token::new("unknown_discriminator", [b])),
    );
    tokens.extend(
        BOUNDARY_U32S
            .into_iter()
            .map(|v| Token::new("u32", encode_u32(v))),
    );
    tokens.extend(
        handshake_formats::bytes::INTERESTING
            .into_iter()
            .filter_map(|v| u32::try_from(v).ok())
            .map(|v| Token::new("u32", encode_u32(v))),
    );
    tokens.push(Token::new("event_first_id", stream(1, &[1])));
    tokens
}

/// A stream: `discriminator`, then `messages`.
fn stream(discriminator: u8, messages: &[u32]) -> Vec<u8> {
    StreamParts {
        discriminator,
        messages: messages.to_vec(),
        trailing: Vec::new(),
    }
    .encode()
}

/// Every stream kind with the message sequences the facts describe, and the edge cases the
/// reader refuses (`invalid-…`).
fn seeds() -> Vec<Seed> {
    let (event, commit, action, reset) = (
        Discriminator::Event.byte(),
        Discriminator::StateCommit.byte(),
        Discriminator::Action.byte(),
        Discriminator::Reset.byte(),
    );
    let mut cut = stream(event, &[1, 2]);
    cut.extend_from_slice(&encode_u32(3)[..2]);
    vec![
        Seed::new("event-empty", stream(event, &[])),
        Seed::new("event-first-id", stream(event, &[1])),
        Seed::new("event-increasing-ids", stream(event, &[1, 2, 3, 4])),
        Seed::new(
            "event-ids-with-gaps",
            stream(event, &[1, 5, 100, 0x7fff_ffff]),
        ),
        Seed::new("event-last-possible-id", stream(event, &[1, 0xffff_ffff])),
        // The reader takes these; the server closes with 5 (see the `event_order_violation` field).
        Seed::new("event-first-id-zero", stream(event, &[0])),
        Seed::new("event-repeated-id", stream(event, &[1, 2, 2])),
        Seed::new("event-decreasing-id", stream(event, &[5, 3])),
        Seed::new("state-commit-empty", stream(commit, &[])),
        Seed::new("state-commit-request", stream(commit, &[42])),
        Seed::new("state-commit-requests", stream(commit, &[41, 999, 9999])),
        Seed::new(
            "state-commit-overflowing-request",
            stream(commit, &[0xffff_fffe]),
        ),
        Seed::new(
            "state-commit-largest-request",
            stream(commit, &[0xffff_ffff]),
        ),
        Seed::new("action-empty", stream(action, &[])),
        Seed::new("action-pulls", stream(action, &[42, 42, 42])),
        Seed::new("reset", stream(reset, &[])),
        Seed::new("invalid-empty", Vec::new()),
        Seed::new("invalid-unknown-discriminator-0", stream(0, &[])),
        Seed::new("invalid-unknown-discriminator-4", stream(4, &[1])),
        Seed::new("invalid-unknown-discriminator-fe", stream(0xfe, &[])),
        Seed::new("invalid-fin-inside-first-u32", vec![commit, 42]),
        Seed::new("invalid-fin-inside-u32", cut),
        Seed::new("invalid-fin-after-three-bytes", vec![action, 42, 0, 0]),
    ]
}
