//! Network fuzzing (`harness fuzz`): Proton's liveness probe, and its value hook over the stream
//! layouts (proton.md: a discriminator byte, then u32 little-endian values), whose tables and
//! field mutations are the wire crate's (`formats`), shared with the fuzz kit.

use handshake_netfuzz::arbitrary::{self, Unstructured};
use handshake_netfuzz::layout::{hex_of, hex_value, leaf_mut};
use handshake_proton_wire::formats as stream_layer;
use serde_json::{json, Value};

/// A server is alive when, its earlier connections closed, a fresh connection with its three
/// streams gets the first event of a session answered (an echo of event id 1 on stream 0, or
/// any other u32 there). The probe's connection is closed too, so that a server kept running
/// for the next input (`--keep-iut`) is free to take that input's connection: left open, it was
/// refused until the server's idle timeout, and each kept server served two inputs, not
/// hundreds. A client IUT opens its own connection: no probe.
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
    probe.push(json!({ "wait": { "ms": DRAIN_MS } }));
    probe.extend([
        json!({ "connect": {} }),
        json!({ "open_bi": { "conn": conns, "count": 3, "write": ["01", "02", "03"] } }),
        json!({ "write": { "conn": conns, "stream": 0, "u32": [1] } }),
        json!({ "expect": { "kind": "u32", "where": { "conn": conns, "stream": 0 }, "within_ms": 2000 } }),
        json!({ "close": { "conn": conns, "code": 0 } }),
        json!({ "wait": { "ms": DRAIN_MS } }),
    ]);
    Some(probe)
}

/// How long a closed connection takes to leave a server that serves one at a time (H10): its
/// close must go out and the server be done with it (draining: three PTOs) before the next
/// connection: with 50 ms a fifth of kept inputs were refused as a second connection. 100 ms
/// measured no faster against the Python server (45.9 against 46.8 inputs/s, medians of three
/// 30-s campaigns; none refused): its 32 jobs keep both cores busy with two handshakes an input,
/// which the waits overlap.
const DRAIN_MS: u64 = 200;

/// One kept input in this many is probed: against the Python server, CPU-bound with two
/// handshakes an input (the input's and the probe's), the probe was half of each input's cost.
const KEPT_PROBE_EVERY: u64 = 4;

/// Layout-aware mutations, the stream layer's own (`handshake_proton_wire::formats`, shared
/// with the fuzz kit): a one-byte write is a discriminator; a u32 stays a u32.
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
            if !stream_layer::mutate_written_bytes(&mut bytes, u)? {
                return Ok(false);
            }
            *leaf = hex_value(&bytes);
            Ok(true)
        }
        Some("u32") if leaf.is_number() => {
            *leaf = Value::from(stream_layer::boundary_u32(u)?);
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

/// The first `open_bi` of a connection followed by plain writes on the streams it opened (client
/// bidirectional streams 0, 4, 8, …; those its own `write` list left), as one `open_bi` with
/// `write`: the three control streams and their discriminators in one step instead of four. The
/// writes may come in any order as long as together they continue the list (a minimised hang
/// wrote stream 8's discriminator before stream 4's); the fold is a shorter spelling the caller
/// keeps only if the finding still shows in it. Writes right after a `connect` that open its
/// streams themselves (a connection with no `open_bi`) fold the same way.
pub fn fold(steps: &[Value]) -> Option<Vec<Value>> {
    fold_opens(&with_implicit_opens(steps))
}

/// The conn a step names (0 when it names none).
fn conn_of(body: &Value) -> u64 {
    body.get("conn").and_then(Value::as_u64).unwrap_or(0)
}

/// `steps` with an `open_bi` said after a connection's `connect` where the plain writes right
/// after it are on its first bidirectional streams (0, 4, 8, … in any order: a write opens its
/// stream and those below it, RFC 9000 §2.1), when no `open_bi` of that connection comes
/// anywhere (a minimised hang's connection wrote its three discriminators so).
fn with_implicit_opens(steps: &[Value]) -> Vec<Value> {
    let mut out = Vec::with_capacity(steps.len() + 1);
    let mut conn = 0u64;
    for (i, step) in steps.iter().enumerate() {
        out.push(step.clone());
        if step.get("connect").is_none() {
            continue;
        }
        let this = conn;
        conn += 1;
        let opens_elsewhere = steps
            .iter()
            .filter_map(|s| s.get("open_bi"))
            .any(|o| conn_of(o) == this);
        if opens_elsewhere {
            continue;
        }
        let mut indices: Vec<u64> = steps[i + 1..]
            .iter()
            .map_while(|s| {
                let w = s.get("write")?.as_object()?;
                let plain = w
                    .keys()
                    .all(|k| matches!(k.as_str(), "conn" | "stream" | "hex"));
                let stream = w.get("stream")?.as_u64()?;
                (plain && conn_of(&s["write"]) == this && stream % 4 == 0).then_some(stream / 4)
            })
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let count = indices.len() as u64;
        if count > 1 && indices.iter().copied().eq(0..count) {
            let mut open = json!({ "count": count });
            if this > 0 {
                open["conn"] = json!(this);
            }
            out.push(json!({ "open_bi": open }));
        }
    }
    out
}

fn fold_opens(steps: &[Value]) -> Option<Vec<Value>> {
    // The stream and bytes of a write with nothing but them, on `conn`.
    let plain_write = |step: &Value, conn: &Value| -> Option<(u64, Value)> {
        let w = step.get("write")?.as_object()?;
        let same_conn = w.get("conn").unwrap_or(&json!(0)) == conn;
        let only = w
            .keys()
            .all(|k| matches!(k.as_str(), "conn" | "stream" | "hex"));
        (same_conn && only)
            .then(|| Some((w.get("stream")?.as_u64()?, w.get("hex")?.clone())))
            .flatten()
    };
    let mut out: Vec<Value> = Vec::with_capacity(steps.len());
    let mut opened: Vec<Value> = Vec::new();
    let mut folded = false;
    let mut i = 0;
    while let Some(step) = steps.get(i) {
        i += 1;
        let Some(open) = step.get("open_bi").and_then(Value::as_object) else {
            out.push(step.clone());
            continue;
        };
        let conn = open.get("conn").cloned().unwrap_or(json!(0));
        let count = open.get("count").and_then(Value::as_u64).unwrap_or(1);
        let first = !opened.contains(&conn);
        opened.push(conn.clone());
        let mut writes: Vec<Value> = match open.get("write") {
            None => Vec::new(),
            Some(Value::Array(w)) => w.clone(),
            Some(_) => {
                out.push(step.clone());
                continue;
            }
        };
        let written = writes.len() as u64;
        // The writes that follow, each on a stream of this open not yet written.
        let mut next: std::collections::BTreeMap<u64, Value> = Default::default();
        while let Some((stream, hex)) = steps
            .get(i + next.len())
            .filter(|_| first)
            .and_then(|s| plain_write(s, &conn))
        {
            let index = stream / 4;
            if stream % 4 != 0 || index < written || index >= count || next.contains_key(&index) {
                break;
            }
            next.insert(index, hex);
        }
        // Only writes that continue the list fold: indices written, written + 1, ….
        let continues = next
            .keys()
            .copied()
            .eq(written..written + next.len() as u64);
        if next.is_empty() || !continues {
            out.push(step.clone());
            continue;
        }
        i += next.len();
        writes.extend(next.into_values());
        let mut open = open.clone();
        open.insert("write".into(), Value::Array(writes));
        out.push(json!({ "open_bi": open }));
        folded = true;
    }
    folded.then_some(out)
}

/// What `harness fuzz` knows of the family's layouts.
pub const HOOKS: handshake_scenario::FuzzHooks = handshake_scenario::FuzzHooks {
    liveness_probe,
    value: fuzz_value,
    text: fuzz_text,
    edges: handshake_scenario::FuzzHooks::NONE.edges,
    kept_jobs_per_core: handshake_scenario::FuzzHooks::NONE.kept_jobs_per_core,
    kept_probe_every: KEPT_PROBE_EVERY,
    fold,
    kit_inputs: crate::kit::inputs,
};

#[cfg(test)]
mod fold_tests {
    use super::*;

    #[test]
    fn the_control_streams_fold_into_their_open() {
        let steps = vec![
            json!({"connect": {}}),
            json!({"open_bi": {"count": 3}}),
            json!({"write": {"stream": 0, "hex": "01"}}),
            json!({"write": {"stream": 4, "hex": "02"}}),
            json!({"write": {"stream": 8, "hex": "03"}}),
            json!({"write": {"stream": 0, "u32": [7]}}),
        ];
        assert_eq!(
            fold(&steps),
            Some(vec![
                json!({"connect": {}}),
                json!({"open_bi": {"count": 3, "write": ["01", "02", "03"]}}),
                json!({"write": {"stream": 0, "u32": [7]}}),
            ])
        );
    }

    #[test]
    fn writes_that_open_the_streams_themselves_fold_into_an_open() {
        let steps = vec![
            json!({"connect": {}}),
            json!({"write": {"stream": 0, "hex": "01"}}),
            json!({"write": {"stream": 4, "hex": "02"}}),
            json!({"write": {"stream": 8, "hex": "03"}}),
            json!({"write": {"stream": 4, "u32": [2147483647u32, 4294967295u32]}}),
        ];
        assert_eq!(
            fold(&steps),
            Some(vec![
                json!({"connect": {}}),
                json!({"open_bi": {"count": 3, "write": ["01", "02", "03"]}}),
                json!({"write": {"stream": 4, "u32": [2147483647u32, 4294967295u32]}}),
            ])
        );
        // A connection opened elsewhere, or writes that skip a stream, stay as they are.
        let mut opened = steps.clone();
        opened.push(json!({"open_bi": {"count": 1}}));
        assert_eq!(fold(&opened), None);
        let gap = vec![
            json!({"connect": {}}),
            json!({"write": {"stream": 0, "hex": "01"}}),
            json!({"write": {"stream": 8, "hex": "03"}}),
        ];
        assert_eq!(fold(&gap), None);
    }

    #[test]
    fn writes_out_of_order_that_continue_the_list_fold_too() {
        let steps = vec![
            json!({"open_bi": {"count": 3, "write": ["01"]}}),
            json!({"write": {"stream": 8, "hex": "03"}}),
            json!({"write": {"stream": 4, "hex": "02"}}),
            json!({"write": {"stream": 4, "u32": [7]}}),
        ];
        assert_eq!(
            fold(&steps),
            Some(vec![
                json!({"open_bi": {"count": 3, "write": ["01", "02", "03"]}}),
                json!({"write": {"stream": 4, "u32": [7]}}),
            ])
        );
    }

    #[test]
    fn writes_elsewhere_or_after_a_second_open_stay() {
        let other_stream = vec![
            json!({"open_bi": {"count": 3}}),
            json!({"write": {"stream": 4, "hex": "02"}}),
        ];
        assert_eq!(fold(&other_stream), None);
        let with_fin = vec![
            json!({"open_bi": {"count": 1}}),
            json!({"write": {"stream": 0, "hex": "01", "fin": true}}),
        ];
        assert_eq!(fold(&with_fin), None);
        let second_open = vec![
            json!({"open_bi": {"count": 1}}),
            json!({"open_bi": {"count": 1}}),
            json!({"write": {"stream": 0, "hex": "01"}}),
        ];
        assert_eq!(fold(&second_open), None);
    }
}
