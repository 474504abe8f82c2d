//! The length-prefixed protobuf formats: a whole signaling stream (DT6) and one media
//! authentication message (DT7). Framing is the crate's [`SignalingReader`] /
//! [`split_frame`](crate::split_frame);
//! messages are the crate's decoders, in the envelopes the crate's own endpoints read.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::{Token, Verdict};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{object, protobuf};

mod media_auth;
mod seeds;

use crate::proto::signaling::client_message;
use crate::signaling::{
    decode_first_client_message, decode_later_client_message, decode_server_message,
    encode_message, DecodeError, Envelope, FramingError, SignalingReader, MAX_MESSAGE_LEN,
    MAX_PARTICIPANT_NAME_LEN,
};
pub use media_auth::{
    decode_media_auth, media_auth_dictionary, media_auth_seeds, mutate_media_auth,
};
pub use seeds::signaling_seeds;
use seeds::{join_minimal, join_wrapped};

/// A oneof case as `(name, fields)`: its serde form is `{"case_name": {fields}}`.
fn case_of<T: Serialize>(oneof: &T) -> (String, Value) {
    match serde_json::to_value(oneof) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .next()
            .unwrap_or_else(|| ("unknown".to_owned(), Value::Null)),
        // A unit or unserialisable case: its name alone.
        Ok(other) => (other.as_str().unwrap_or("unknown").to_owned(), json!({})),
        Err(e) => (
            "unknown".to_owned(),
            json!({ "unserialisable": e.to_string() }),
        ),
    }
}

fn message_json<T: Serialize>(oneof: &T, length: usize) -> Value {
    let (case, fields) = case_of(oneof);
    json!({ "case": case, "length": length, "fields": fields })
}

// ---- the signaling stream ----

/// The messages of a signaling stream as the crate's reader frames them (DT6); the stream must end
/// at a message boundary.
fn read_frames(stream: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
    let mut reader = SignalingReader::new();
    let mut input = stream;
    let mut messages = Vec::new();
    while let Some(next) = reader.next(&mut input) {
        messages.push(next?.to_vec());
    }
    reader.finish()?;
    Ok(messages)
}

/// The messages as the controller reads a client's stream: the first may be a bare JoinRequest
/// (`signaling.wrapper`, disputed), and must be a JoinRequest (DT6) with a name of at most 256
/// bytes; later ones in either envelope.
fn read_client(messages: &[Vec<u8>]) -> Result<(String, Vec<Value>), String> {
    let mut out = Vec::new();
    let mut first_case = String::new();
    for (i, m) in messages.iter().enumerate() {
        let decoded = if i == 0 {
            decode_first_client_message(m)
        } else {
            decode_later_client_message(m)
        };
        let (message, envelope) = decoded.map_err(|e| format!("message {i}: {e}"))?;
        let (case, fields) = case_of(&message.message);
        if i == 0 {
            match &message.message {
                Some(client_message::Message::JoinRequest(r)) => {
                    if r.participant_name.len() > MAX_PARTICIPANT_NAME_LEN {
                        return Err(format!(
                            "message 0: DT6: a participant name of {} bytes (at most {MAX_PARTICIPANT_NAME_LEN})",
                            r.participant_name.len()
                        ));
                    }
                }
                _ => {
                    return Err(format!(
                        "message 0: DT6: the first client message must be a JoinRequest, not {case}"
                    ))
                }
            }
            first_case.clone_from(&case);
        }
        let envelope = match envelope {
            Envelope::Wrapped => "wrapped",
            Envelope::Bare => "bare",
        };
        out.push(
            json!({ "case": case, "envelope": envelope, "length": m.len(), "fields": fields }),
        );
    }
    Ok((first_case, out))
}

/// The messages as the client reads the controller's stream: `ServerMessage`s.
fn read_server(messages: &[Vec<u8>]) -> Result<(String, Vec<Value>), String> {
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let message = decode_server_message(m).map_err(|e| format!("message {i}: {e}"))?;
        out.push(message_json(&message.message, m.len()));
    }
    let first = out
        .first()
        .and_then(|m| m["case"].as_str())
        .unwrap_or_default()
        .to_owned();
    Ok((first, out))
}

/// `darktower.signaling`: one direction of the signaling stream. Read first as client→server (the
/// controller's reading), then as server→client; `direction` says which reading accepted it (both
/// wrappers put their first case in field 1, so some streams read either way). Kind: the first
/// message's case (`empty` for a stream with none).
pub fn decode_signaling(bytes: &[u8]) -> Verdict {
    let messages = match read_frames(bytes) {
        Ok(m) => m,
        Err(e) => return Verdict::refused(None, Map::new(), DecodeError::Framing(e)),
    };
    if messages.is_empty() {
        return Verdict::accepted(
            "empty",
            object(json!({ "direction": "either", "messages": [] })),
        );
    }
    let client = read_client(&messages);
    let (direction, read) = match client {
        Ok(read) => ("client", read),
        Err(client_error) => match read_server(&messages) {
            Ok(read) => ("server", read),
            Err(server_error) => {
                return Verdict::refused(
                    None,
                    Map::new(),
                    format!("as client→server: {client_error}; as server→client: {server_error}"),
                )
            }
        },
    };
    let (kind, messages) = read;
    Verdict::accepted(
        kind,
        object(json!({ "direction": direction, "messages": messages })),
    )
}

fn framed(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    messages
        .iter()
        .map(|m| {
            let mut f = u32::try_from(m.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes()
                .to_vec();
            f.extend_from_slice(m);
            f
        })
        .collect()
}

/// Changes a signaling stream that frames: one message's protobuf field or length prefix, or the
/// stream's shape (a message repeated, dropped or moved, FIN inside a message).
pub fn mutate_signaling(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let Ok(messages) = read_frames(bytes) else {
        return Ok(false);
    };
    if messages.is_empty() {
        *bytes = encode_message(&join_wrapped(join_minimal())).unwrap_or_default();
        return Ok(true);
    }
    let mut frames = framed(&messages);
    let i = u.choose_index(frames.len())?;
    let changed = match u.int_in_range(0u8..=19)? {
        0..=16 => protobuf::mutate_framed(&mut frames[i], u)?,
        17 | 18 => {
            let copy = frames[i].clone();
            frames.insert(i + 1, copy);
            true
        }
        _ => match u.int_in_range(0u8..=3)? {
            0 if frames.len() > 1 => {
                frames.remove(i);
                true
            }
            1 if frames.len() > 1 => {
                let j = (i + 1 + u.choose_index(frames.len() - 1)?) % frames.len();
                frames.swap(i, j);
                true
            }
            2 => {
                // FIN inside message `i`.
                let cut = u.int_in_range(1..=frames[i].len().saturating_sub(1).max(1))?;
                frames[i].truncate(cut);
                frames.truncate(i + 1);
                true
            }
            _ => {
                // FIN after message `i`.
                let before = frames.len();
                frames.truncate(i + 1);
                frames.len() < before
            }
        },
    };
    *bytes = frames.concat();
    Ok(changed)
}

/// Protobuf keys (field number, wire type) of the wrappers and the messages they carry, length
/// prefixes at DT6's bounds, enum values, a JWT's start.
pub fn signaling_dictionary() -> Vec<Token> {
    let mut t = prefix_tokens();
    for field in 1u8..=6 {
        t.push(Token::new("key_message", [field << 3 | 2]));
        t.push(Token::new("key_varint", [field << 3]));
    }
    t.push(Token::new("key_float", [3 << 3 | 5]));
    t.push(Token::new("key_unknown", [15 << 3]));
    for value in 0u8..=8 {
        t.push(Token::new("enum_value", [value]));
    }
    t.push(Token::new("empty_join_request", [0x0a, 0x00]));
    t.push(Token::new(
        "jwt_start",
        *b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    ));
    t.push(Token::new("codec", *b"VP8"));
    t.push(Token::new("codec", *b"opus"));
    t
}

fn prefix_tokens() -> Vec<Token> {
    [
        0u32,
        1,
        2,
        0x7f,
        0x80,
        0xffff,
        MAX_MESSAGE_LEN,
        MAX_MESSAGE_LEN + 1,
        u32::MAX,
    ]
    .into_iter()
    .map(|len| Token::new("length_prefix", len.to_be_bytes()))
    .collect()
}
