//! Field-level changes to a length-prefixed protobuf message that keep it a well-formed message
//! where the change allows: a value inside the carried message (at any depth) set to an edge of
//! its kind, or one protobuf field changed with every enclosing length following it; beside them
//! the network fuzzer's own move, which leaves the prefix as it was.

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::bytes::{interesting_int, mutate_protobuf, read_varint, write_varint};

use super::layout;
use crate::signaling::{MAX_PARTICIPANT_NAME_LEN, PREFIX_LEN};

/// How deep nested messages are followed (the deepest path in the protos is five).
const MAX_DEPTH: u8 = 6;

/// One field as read: where it starts, its key, where its value starts and ends (for a
/// length-delimited field, after its length).
struct Field {
    start: usize,
    key: u64,
    value: usize,
    end: usize,
}

/// The top-level fields of `bytes`, `None` unless they cover the bytes exactly.
fn fields_of(bytes: &[u8]) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (key, body) = read_varint(bytes, at)?;
        if key >> 3 == 0 {
            return None;
        }
        let (value, end) = match key & 7 {
            0 => (body, read_varint(bytes, body)?.1),
            1 => (body, body.checked_add(8)?),
            2 => {
                let (len, value) = read_varint(bytes, body)?;
                (value, value.checked_add(usize::try_from(len).ok()?)?)
            }
            5 => (body, body.checked_add(4)?),
            _ => return None,
        };
        if end > bytes.len() {
            return None;
        }
        out.push(Field {
            start: at,
            key,
            value,
            end,
        });
        at = end;
    }
    Some(out)
}

/// A string field's bytes as the fuzzer recognises them: printable ASCII (a nested message starts
/// with a key byte below 0x20).
fn is_text(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// Strings a field takes: empty, one byte, multi-byte UTF-8, a JWT's shape, DT6's name limit and
/// one over it.
fn text_value(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 => Vec::new(),
        1 => b"a".to_vec(),
        2 => "Zoë ✓".as_bytes().to_vec(),
        3 => b"eyJhbGciOiJIUzI1NiJ9.e30.c2ln".to_vec(),
        4 => vec![b'n'; MAX_PARTICIPANT_NAME_LEN],
        _ => vec![b'n'; MAX_PARTICIPANT_NAME_LEN + 1],
    })
}

/// Sets one value of a message, at any depth, to an edge of its kind: a varint to a boundary, a
/// fixed32/64 (a float) to other bits, a string to another string, an empty member or string to
/// one holding field 1; every enclosing length is re-encoded. `false` when the bytes hold no such value.
pub fn mutate_value(
    bytes: &mut Vec<u8>,
    u: &mut Unstructured<'_>,
    depth: u8,
) -> arbitrary::Result<bool> {
    let Some(fields) = fields_of(bytes) else {
        return Ok(false);
    };
    let nested = |f: &Field| {
        let payload = &bytes[f.value..f.end];
        f.key & 7 == 2 && !payload.is_empty() && !is_text(payload) && fields_of(payload).is_some()
    };
    let candidates: Vec<&Field> = fields
        .iter()
        .filter(|f| match f.key & 7 {
            2 => {
                f.value == f.end
                    || is_text(&bytes[f.value..f.end])
                    || (depth < MAX_DEPTH && nested(f))
            }
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Ok(false);
    }
    let f = candidates[u.choose_index(candidates.len())?];
    let mut value = bytes[f.value..f.end].to_vec();
    let mut out = Vec::new();
    write_varint(f.key, &mut out);
    match f.key & 7 {
        0 => {
            let current = read_varint(&value, 0).map_or(0, |(v, _)| v);
            write_varint(interesting_int(u, Some(current))?, &mut out);
        }
        1 | 5 => {
            for b in &mut value {
                *b = u.arbitrary()?;
            }
            out.extend(value);
        }
        _ => {
            if value.is_empty() {
                // An empty member or string: field 1 of it, a string in nearly every message here.
                let text = text_value(u)?;
                value = vec![1 << 3 | 2];
                write_varint(text.len() as u64, &mut value);
                value.extend(text);
            } else if is_text(&value) {
                value = text_value(u)?;
            } else if !mutate_value(&mut value, u, depth + 1)? {
                return Ok(false);
            }
            write_varint(value.len() as u64, &mut out);
            out.extend(value);
        }
    }
    bytes.splice(f.start..f.end, out);
    Ok(true)
}

/// One protobuf change inside a wrapper's oneof member (the message it carries), its length
/// re-encoded; `false` when the body is not one length-delimited field or its member is empty.
fn mutate_member(body: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let Some(fields) = fields_of(body) else {
        return Ok(false);
    };
    let [member] = fields.as_slice() else {
        return Ok(false);
    };
    if member.key & 7 != 2 {
        return Ok(false);
    }
    let mut payload = body[member.value..member.end].to_vec();
    if !mutate_protobuf(&mut payload, u)? {
        return Ok(false);
    }
    let mut out = Vec::with_capacity(payload.len() + 12);
    write_varint(member.key, &mut out);
    write_varint(payload.len() as u64, &mut out);
    out.extend(payload);
    *body = out;
    Ok(true)
}

/// One change to one framed message (prefix + protobuf): the network fuzzer's move (a protobuf
/// field with the prefix left as it was, or the prefix to a boundary), a value of the carried
/// message, or a protobuf field of the carried message or of the wrapper; after the last two the
/// prefix follows the new length.
pub fn mutate_framed(frame: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    // Most moves keep the message well-formed (a value at its edge): the kit's byte havoc and
    // dictionary rounds break the framing often enough.
    let op = u.int_in_range(0u8..=31)?;
    match op {
        0 => return layout::mutate_framed_message(frame, u),
        1 => return layout::mutate_message_length(frame, u),
        _ => {}
    }
    let mut body = frame.split_off(PREFIX_LEN.min(frame.len()));
    let changed = match op {
        2..=28 => mutate_value(&mut body, u, 0)?,
        29 | 30 => mutate_member(&mut body, u)?,
        _ => false,
    } || mutate_protobuf(&mut body, u)?;
    frame.clear();
    frame.extend(u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    frame.extend(body);
    Ok(changed)
}
