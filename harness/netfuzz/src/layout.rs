//! Scenario-JSON helpers for a family's mutator: a step body's leaves and the hex payloads in
//! them. The byte-layout mutations themselves are the wire layer's ([`handshake_formats::bytes`],
//! re-exported here), shared with the fuzz kit's mutator library.

pub use handshake_formats::bytes::{
    edge_value, interesting_int, mutate_header_field, mutate_length_prefix, mutate_protobuf,
    mutate_tlvs, put_uint, INTERESTING,
};
use serde_json::Value;

/// The leaf of `v` at `path` (object keys; array indices as numbers).
pub fn leaf_mut<'v>(v: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut here = v;
    for key in path {
        here = match here {
            Value::Object(o) => o.get_mut(key)?,
            Value::Array(a) => a.get_mut(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(here)
}

/// The bytes `s` spells in hex, whitespace between digits allowed (the library spells fields
/// apart, `"0200 0100000000000000 …"`, as the scenario format accepts); `None`: not hex.
pub fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let digits = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| (b as char).to_digit(16).map(|d| d as u8))
        .collect::<Option<Vec<u8>>>()?;
    (digits.len() % 2 == 0).then(|| digits.chunks_exact(2).map(|p| p[0] << 4 | p[1]).collect())
}

/// Whether `s` is non-empty hex (see [`hex_of`]).
pub fn is_hex(s: &str) -> bool {
    hex_bytes(s).is_some_and(|b| !b.is_empty())
}

/// The bytes of a hex string value, whitespace between digits ignored (`None`: not hex).
pub fn hex_of(v: &Value) -> Option<Vec<u8>> {
    hex_bytes(v.as_str()?)
}

/// Bytes as a hex string value.
pub fn hex_value(bytes: &[u8]) -> Value {
    Value::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_spelled_apart_is_hex() {
        assert!(is_hex("0200 0100\n ff"));
        assert_eq!(
            hex_of(&Value::from("0200 01  ff")),
            Some(vec![2, 0, 1, 0xff])
        );
        assert!(!is_hex("020"));
        assert!(!is_hex("02 0"));
        assert!(!is_hex("   "));
        assert!(!is_hex("0g"));
        assert_eq!(hex_of(&Value::from("")), Some(vec![]));
    }
}
