//! Mutations of a scenario's steps (the JSON of `peer.steps`), driven by `arbitrary`.
//!
//! A *skeleton* is a library scenario's steps with its oracle taken out: every `expect` becomes
//! an *optional* one with a short window (it still waits for its answer and captures the ids later
//! steps send, but nothing failing to come is a failure) and every `expect_none` a short `wait`
//! (the scenario's timing stays, its judgement goes — the fuzzer's oracle is a crash, a hang, a
//! memory bound or a broken judge rule). Mutations then change the family steps only:
//! step-level (drop, duplicate, swap with the next, a delay before) or value-level (one leaf of a
//! step: numbers to boundaries or a flipped bit, hex payloads through byte havoc, booleans flipped,
//! and whatever the family's [`Mutator`] knows of its layouts).

use arbitrary::Unstructured;
use serde_json::Value;

use crate::layout::{self, hex_of, hex_value, leaf_mut};
use crate::schema::{FieldKind, Steps};

/// The steps that are no family step.
const GENERIC: [&str; 4] = ["expect", "expect_none", "wait", "fault"];

/// What a family adds to mutation: its step shapes (from its schema: fields the skeleton left out
/// can be set) and its layouts (TLV types and lengths, flags, protobuf fields, DART header fields
/// …). The default knows only JSON.
pub trait Mutator {
    /// Mutates the leaf at `path` (object keys) of `body`, the body of a step named `step`;
    /// `false`: not handled, the generic mutation applies.
    fn mutate_value(
        &self,
        _step: &str,
        _path: &[String],
        _body: &mut Value,
        _u: &mut Unstructured<'_>,
    ) -> arbitrary::Result<bool> {
        Ok(false)
    }

    /// The values a string field at `path` of step `step` may take (tokens, FourCCs, stream names
    /// …); empty: unknown, never set.
    fn text_values(&self, _step: &str, _path: &[String]) -> Vec<String> {
        Vec::new()
    }

    /// The family's dictionary for the integer field at `path` of step `step`: its edge values
    /// (bounds, enum values, flag bits), drawn instead of generic boundaries half the time.
    fn edges(&self, _step: &str, _path: &[String]) -> &'static [u64] {
        &[]
    }

    /// The shapes of the family's steps, when known.
    fn shapes(&self) -> Option<&Steps> {
        None
    }

    /// The delays a mutation puts before a step, ms, each as often as it is listed.
    fn delays_ms(&self) -> &'static [u64] {
        &DELAYS_MS
    }
}

/// The delays a mutation puts before a step (timers at their bounds: a SYN-ACK's re-send at 1 s,
/// an idle timer at 5 s), each as likely.
pub const DELAYS_MS: [u64; 6] = [1, 10, 100, 500, 1500, 5000];

/// [`DELAYS_MS`] over real UDP, where a delay costs its length: the long ones drawn less often,
/// 500, 1,500 and 5,000 ms about as much of a campaign's time each. Drawn as likely, delays of a
/// second or more were a ninth of a media-stream campaign's inputs and two thirds of its time.
pub const REAL_TIME_DELAYS_MS: [u64; 38] = [
    1, 1, 1, 1, 1, 1, 1, 1, 10, 10, 10, 10, 10, 10, 10, 10, 100, 100, 100, 100, 100, 100, 100, 100,
    500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 1500, 1500, 1500, 5000,
];

/// Only the generic mutations.
#[derive(Debug, Default, Clone, Copy)]
pub struct GenericOnly;

impl Mutator for GenericOnly {}

/// How long `steps`' `wait` steps wait in all, ms (an optional `expect` may end early, so it does
/// not count).
pub fn waited_ms(steps: &[Value]) -> f64 {
    steps.iter().filter_map(|s| s["wait"]["ms"].as_f64()).sum()
}

/// The name of a step (`{"join": {…}}` → `join`).
pub fn step_name(step: &Value) -> Option<&str> {
    step.as_object()
        .and_then(|o| o.keys().next())
        .map(String::as_str)
}

fn is_family_step(step: &Value) -> bool {
    step_name(step).is_some_and(|n| !GENERIC.contains(&n))
}

/// The skeleton of a scenario's steps: each `expect` becomes an optional `expect` (its kind,
/// fields, captures and port kept, its basis dropped) whose window is at most `max_wait_ms`, each
/// `expect_none` a `wait` of its window up to the same bound; the rest stays. (A `wait` in place
/// of an `expect` would lose its captures: every later step sending a captured id, a media-stream
/// ACK of `$assigned_id`, would be refused.)
pub fn skeleton(steps: &[Value], max_wait_ms: u64) -> Vec<Value> {
    steps
        .iter()
        .map(|s| match step_name(s) {
            Some("expect") => {
                let mut e = s["expect"].clone();
                let window = e["within_ms"].as_u64().unwrap_or(max_wait_ms);
                if let Some(o) = e.as_object_mut() {
                    o.remove("basis");
                    o.insert("within_ms".into(), Value::from(window.min(max_wait_ms)));
                    o.insert("optional".into(), Value::Bool(true));
                }
                serde_json::json!({ "expect": e })
            }
            Some("expect_none") => {
                let window = s["expect_none"]["for_ms"].as_u64().unwrap_or(max_wait_ms);
                serde_json::json!({ "wait": { "ms": window.min(max_wait_ms) } })
            }
            _ => s.clone(),
        })
        .collect()
}

/// Applies one mutation to `steps`; whether anything changed.
pub fn mutate(
    steps: &mut Vec<Value>,
    mutator: &dyn Mutator,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    let family: Vec<usize> = (0..steps.len())
        .filter(|i| is_family_step(&steps[*i]))
        .collect();
    if family.is_empty() {
        return Ok(false);
    }
    let at = family[u.choose_index(family.len())?];
    Ok(match u.int_in_range(0u8..=12)? {
        0 => {
            steps.remove(at);
            true
        }
        1 => {
            let copy = steps[at].clone();
            steps.insert(at + 1, copy);
            true
        }
        2 if at + 1 < steps.len() => {
            steps.swap(at, at + 1);
            true
        }
        3 => {
            let ms = *u.choose(mutator.delays_ms())?;
            steps.insert(at, serde_json::json!({ "wait": { "ms": ms } }));
            true
        }
        4..=8 => {
            let name = step_name(&steps[at]).unwrap_or_default().to_owned();
            let body = &mut steps[at][&name];
            match mutator.shapes() {
                Some(shapes) => shapes
                    .set_field(
                        &name,
                        body,
                        &|step: &str, path: &[String]| mutator.text_values(step, path),
                        &|step: &str, path: &[String]| mutator.edges(step, path),
                        u,
                    )?
                    .is_some(),
                None => mutate_leaf(&name, body, mutator, u)?,
            }
        }
        _ => {
            let name = step_name(&steps[at]).unwrap_or_default().to_owned();
            let body = &mut steps[at][&name];
            mutate_leaf(&name, body, mutator, u)?
        }
    })
}

/// Mutates one leaf of `value` (an object or array tree).
fn mutate_leaf(
    step: &str,
    value: &mut Value,
    mutator: &dyn Mutator,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    let mut leaves = Vec::new();
    collect_leaves(value, &mut Vec::new(), &mut leaves);
    if leaves.is_empty() {
        return Ok(false);
    }
    let path = leaves.swap_remove(u.choose_index(leaves.len())?);
    if mutator.mutate_value(step, &path, value, u)? {
        return Ok(true);
    }
    let range = match mutator.shapes().and_then(|s| s.kind_at(step, &path)) {
        Some(FieldKind::Integer { min, max }) => Some((*min, *max)),
        _ => None,
    };
    let Some(leaf) = leaf_mut(value, &path) else {
        return Ok(false);
    };
    let edges = mutator.edges(step, &path);
    let changed = if leaf.is_number() && !edges.is_empty() && u.ratio(1u8, 2u8)? {
        *leaf = Value::from(layout::edge_value(u, edges)?);
        true
    } else {
        generic_leaf(leaf, u)?
    };
    // A number out of the field's range would only make an input the family refuses.
    if let (Some((min, max)), Some(n)) = (range, leaf.as_u64()) {
        *leaf = Value::from(n.clamp(min, max));
    }
    Ok(changed)
}

fn collect_leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                path.push(k.clone());
                collect_leaves(child, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push(i.to_string());
                collect_leaves(child, path, out);
                path.pop();
            }
        }
        Value::Null => {}
        _ => out.push(path.clone()),
    }
}

fn generic_leaf(leaf: &mut Value, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    match leaf {
        Value::Bool(b) => {
            *b = !*b;
            Ok(true)
        }
        Value::Number(n) => {
            let new = layout::interesting_int(u, n.as_u64())?;
            *leaf = Value::from(new);
            Ok(true)
        }
        Value::String(s) if layout::is_hex(s) => {
            let mut bytes = hex_of(leaf).unwrap_or_default();
            handshake_formats::bytes::havoc(&mut bytes, u)?;
            *leaf = hex_value(&bytes);
            Ok(true)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps() -> Vec<Value> {
        vec![
            json!({"join": {"participant": 0, "token": "valid"}}),
            json!({"expect": {"kind": "message", "within_ms": 1000, "where": {"id": "$id"}, "capture": {"x": "token"}, "basis": "DT7"}}),
            json!({"write": {"participant": 0, "on": "signaling", "hex": "0000000a", "fin": false}}),
            json!({"expect_none": {"kind": "fin", "for_ms": 300}}),
        ]
    }

    #[test]
    fn the_skeleton_keeps_the_timing_and_captures_and_drops_the_oracle() {
        let s = skeleton(&steps(), 200);
        assert_eq!(
            s[1],
            json!({"expect": {"kind": "message", "within_ms": 200, "where": {"id": "$id"}, "capture": {"x": "token"}, "optional": true}})
        );
        assert_eq!(s[3], json!({"wait": {"ms": 200}}));
        assert_eq!(s[0], steps()[0]);
    }

    #[test]
    fn mutations_are_deterministic_and_touch_only_family_steps() {
        let run = |seed: u64| {
            let data = crate::seeded_bytes(seed, 4096);
            let mut u = Unstructured::new(&data);
            let mut s = skeleton(&steps(), 200);
            let mut changed = 0;
            for _ in 0..50 {
                if mutate(&mut s, &GenericOnly, &mut u).unwrap_or(false) {
                    changed += 1;
                }
            }
            (s, changed)
        };
        let (a, changed) = run(7);
        assert_eq!(a, run(7).0);
        assert_ne!(a, run(8).0);
        assert!(changed > 10, "{changed}");
        // The expect and the wait the skeleton made are still there, unchanged.
        assert!(a.iter().any(|s| step_name(s) == Some("expect")));
        assert!(a.iter().any(|s| step_name(s) == Some("wait")));
    }

    #[test]
    fn havoc_changes_hex_payloads_and_numbers_hit_boundaries() {
        let data = crate::seeded_bytes(3, 1024);
        let mut u = Unstructured::new(&data);
        let mut seen_boundary = false;
        for _ in 0..40 {
            let mut v = json!(5);
            generic_leaf(&mut v, &mut u).expect("enough bytes");
            seen_boundary |= layout::INTERESTING.contains(&v.as_u64().unwrap_or(5));
            let mut h = json!("00010203");
            generic_leaf(&mut h, &mut u).expect("enough bytes");
            assert!(layout::is_hex(h.as_str().unwrap_or("")) || h == json!(""));
        }
        assert!(seen_boundary);
    }

    /// Over real UDP the long delays are rarer: each of 500, 1,500 and 5,000 ms takes about as
    /// much of a campaign's time (within a factor of two), and every delay is still drawn.
    #[test]
    fn real_time_delays_share_the_time() {
        let time = |ms: u64| {
            REAL_TIME_DELAYS_MS
                .iter()
                .filter(|d| **d == ms)
                .sum::<u64>()
        };
        let shares = [time(500), time(1500), time(5000)];
        let (min, max) = (
            shares.iter().min().copied().unwrap_or(0),
            shares.iter().max().copied().unwrap_or(0),
        );
        assert!(max <= 2 * min, "{shares:?}");
        assert!(DELAYS_MS.iter().all(|d| REAL_TIME_DELAYS_MS.contains(d)));
    }
}
