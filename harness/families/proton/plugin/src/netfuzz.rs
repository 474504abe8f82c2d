//! Network fuzzing (`harness fuzz`): Proton's liveness probe and what its mutator knows of the
//! stream layouts (proton.md: a discriminator byte, then u32 little-endian values).

use handshake_netfuzz::arbitrary::{self, Unstructured};
use handshake_netfuzz::layout::{self, hex_of, hex_value, leaf_mut};
use serde_json::{json, Value};

/// A server is alive when, its earlier connections closed, a fresh connection with its three
/// streams gets the first event of a session answered (an echo of event id 1 on stream 0, or
/// any other u32 there). A client IUT opens its own connection: no probe.
pub fn liveness_probe(scenario: &Value) -> Option<Vec<Value>> {
    if scenario["iut"]["role"] != "server" {
        return None;
    }
    let steps = scenario["peer"]["steps"].as_array()?;
    let conns = steps.iter().filter(|s| s.get("connect").is_some()).count() as u32;
    // Only one connection is served at a time (H10): close the input's first.
    let mut probe: Vec<Value> = (0..conns)
        .map(|c| json!({ "close": { "conn": c, "code": 0 } }))
        .collect();
    probe.push(json!({ "wait": { "ms": 200 } }));
    probe.extend([
        json!({ "connect": {} }),
        json!({ "open_bi": { "conn": conns, "count": 3 } }),
        json!({ "write": { "conn": conns, "stream": 0, "hex": "01" } }),
        json!({ "write": { "conn": conns, "stream": 4, "hex": "02" } }),
        json!({ "write": { "conn": conns, "stream": 8, "hex": "03" } }),
        json!({ "write": { "conn": conns, "stream": 0, "u32": [1] } }),
        json!({ "expect": { "kind": "u32", "where": { "conn": conns, "stream": 0 }, "within_ms": 2000 } }),
    ]);
    Some(probe)
}

/// Discriminator bytes: the three roles, the values beside them, P4's extras.
const DISCRIMINATORS: [u8; 8] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x7f, 0xfe, 0xff];

/// u32 values at the boundaries of event ids, commit counters and action acks.
const U32S: [u64; 10] = [
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

/// Layout-aware mutations: a one-byte write is a discriminator; a u32 stays a u32.
pub fn fuzz_value(
    step: &str,
    path: &[String],
    body: &mut Value,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    if step != "write" {
        return Ok(false);
    }
    let Some(leaf) = leaf_mut(body, path) else {
        return Ok(false);
    };
    match path.first().map(String::as_str) {
        Some("hex") => {
            let Some(mut bytes) = hex_of(leaf) else {
                return Ok(false);
            };
            if bytes.len() == 1 {
                bytes[0] = *u.choose(&DISCRIMINATORS)?;
            } else if bytes.len() >= 4 && u.ratio(1u8, 2u8)? {
                // A u32 little-endian value inside the bytes, at a 4-byte boundary.
                let at = 4 * u.choose_index(bytes.len() / 4)?;
                layout::put_uint(&mut bytes, at, 4, false, *u.choose(&U32S)?);
            } else {
                return Ok(false);
            }
            *leaf = hex_value(&bytes);
            Ok(true)
        }
        Some("u32") if leaf.is_number() => {
            *leaf = Value::from(*u.choose(&U32S)?);
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Close reasons: empty and long.
pub fn fuzz_text(step: &str, path: &[String]) -> Vec<String> {
    match (step, path.last().map(String::as_str)) {
        ("close", Some("reason")) => vec![String::new(), "x".repeat(1200)],
        _ => Vec::new(),
    }
}
