//! A finding's minimisation: ddmin over its steps, the family's fold, then ddmin over the bytes
//! of each hex payload left.

use serde_json::Value;

use super::{with_steps, Executor};
use crate::layout::{hex_of, hex_value, is_hex, leaf_mut};
use crate::minimize;

/// The paths (JSON keys) of every hex string in `v`.
fn hex_paths(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                path.push(k.clone());
                hex_paths(c, path, out);
                path.pop();
            }
        }
        Value::String(s) if s.len() >= 4 && is_hex(s) => {
            out.push(path.clone());
        }
        _ => {}
    }
}

/// The bytes of the hex payloads of `steps`.
pub(super) fn hex_bytes(steps: &[Value]) -> usize {
    /// The bytes of the hex strings `hex_paths` finds in `v`.
    fn of(v: &Value) -> usize {
        match v {
            Value::Object(o) => o.values().map(of).sum(),
            Value::String(s) if s.len() >= 4 && is_hex(s) => s.len() / 2,
            _ => 0,
        }
    }
    steps.iter().map(of).sum()
}

/// Test runs allowed to minimise one finding: over steps, then over bytes.
const STEP_BUDGET: usize = 80;
const BYTE_BUDGET: usize = 40;

/// Minimises `steps` of `base` while `kind` stays the verdict: ddmin over steps (folded by the
/// family when that still shows it), then over the bytes of each hex payload left.
pub(super) fn minimise(
    executor: &dyn Executor,
    base: &Value,
    steps: &[Value],
    kind: &str,
) -> Vec<Value> {
    let same = |s: &[Value]| {
        executor
            .verdict_of(&with_steps(base, s.to_vec()), false)
            .is_some_and(|v| v.kind == kind)
    };
    let mut minimal = minimize::ddmin_within(steps, STEP_BUDGET, same);
    // The family's shorter spelling, if the finding still shows in it (then minimised again).
    if let Some(folded) = executor.fold(&minimal).filter(|f| same(f)) {
        minimal = minimize::ddmin_within(&folded, STEP_BUDGET / 4, same);
    }
    let mut budget = BYTE_BUDGET;
    for i in 0..minimal.len() {
        let mut paths = Vec::new();
        hex_paths(&minimal[i], &mut Vec::new(), &mut paths);
        for path in paths {
            if budget == 0 {
                return minimal;
            }
            let Some(bytes) = leaf_mut(&mut minimal[i], &path).and_then(|l| hex_of(l)) else {
                continue;
            };
            let mut used = 0;
            let smaller = minimize::ddmin_within(&bytes, budget, |b: &[u8]| {
                used += 1;
                let mut trial = minimal.clone();
                if let Some(leaf) = leaf_mut(&mut trial[i], &path) {
                    *leaf = hex_value(b);
                }
                same(&trial)
            });
            budget = budget.saturating_sub(used);
            if smaller.len() < bytes.len() {
                if let Some(leaf) = leaf_mut(&mut minimal[i], &path) {
                    *leaf = hex_value(&smaller);
                }
            }
        }
    }
    minimal
}
