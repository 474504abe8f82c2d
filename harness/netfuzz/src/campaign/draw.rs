//! Drawing inputs: an input of the corpus, spliced and mutated, with the seed; and the capture
//! sizes that tell a cheap input from a dear one.

use arbitrary::Unstructured;
use serde_json::Value;

use super::with_steps;
use crate::mutate::{mutate, step_name, Mutator};
use crate::seeded_bytes;

/// The capture sizes of the runs so far: a run's cost grows with its datagrams, and its capture
/// with them (a deterministic measure, unlike time: the corpus stays the same for the same seed).
/// Their median is kept by two heaps, the lower half and the upper half (a sorted list's insert
/// moved half of it for every input: a tenth of a run's time after 50,000 inputs).
#[derive(Debug, Default)]
pub(super) struct CaptureSizes {
    lower: std::collections::BinaryHeap<usize>,
    upper: std::collections::BinaryHeap<std::cmp::Reverse<usize>>,
}

impl CaptureSizes {
    /// Whether a capture of `size` bytes is at most four times the median so far.
    pub(super) fn cheap(&self, size: usize) -> bool {
        if self.lower.len() + self.upper.len() < 16 {
            return size <= 4 << 20;
        }
        size <= self.median().saturating_mul(4)
    }

    /// The upper median (of an even count, the larger middle size).
    fn median(&self) -> usize {
        match (self.lower.len() > self.upper.len(), self.upper.peek()) {
            (false, Some(std::cmp::Reverse(m))) => *m,
            _ => self.lower.peek().copied().unwrap_or(0),
        }
    }

    pub(super) fn add(&mut self, size: usize) {
        match self.lower.peek() {
            Some(top) if size <= *top => self.lower.push(size),
            _ => self.upper.push(std::cmp::Reverse(size)),
        }
        // Balanced: the upper half holds as many as the lower, or one more.
        if self.lower.len() > self.upper.len() {
            if let Some(top) = self.lower.pop() {
                self.upper.push(std::cmp::Reverse(top));
            }
        } else if self.upper.len() > self.lower.len() + 1 {
            if let Some(std::cmp::Reverse(bottom)) = self.upper.pop() {
                self.lower.push(bottom);
            }
        }
    }
}

/// Whether a step is one of the generic ones (`expect`, `wait` …), not the family's.
fn is_generic(step: &Value) -> bool {
    matches!(
        step_name(step),
        Some("expect" | "expect_none" | "wait" | "fault") | None
    )
}

/// How many times more often a cheap input is drawn than a dear one (see [`draw`]).
pub(super) const CHEAP_WEIGHT: u64 = 4;

/// How many times more often an input whose path takes a transition no other run took is drawn
/// than one whose every transition [`RARITY`] runs or more took (AFLNet's state selection by
/// rarity): in between, `RARITY / runs`.
pub(super) const RARITY: u64 = 8;

/// An input's weight for its path's rarest transition, taken by `runs` runs (`None`: not known).
pub(super) fn rarity_weight(runs: Option<u64>) -> u64 {
    runs.map_or(1, |r| (RARITY / r.max(1)).clamp(1, RARITY))
}

/// An input's weight in the draw, by its place in the pool.
pub(super) type Weight<'a> = &'a dyn Fn(usize, &Value) -> u64;

/// Input `k` of the run: an input of `pool` drawn with the seed, spliced and mutated. With
/// `weight` (of an input and its place in the pool), an input is drawn in proportion to it (AFL
/// gives fast inputs more energy, AFLNet inputs that reach rare states); without, uniformly.
pub(super) fn draw(
    pool: &[Value],
    mutator: &dyn Mutator,
    seed: u64,
    k: u64,
    weight: Option<Weight<'_>>,
) -> Value {
    let data = seeded_bytes(seed.wrapping_mul(0x9e37_79b9).wrapping_add(k), 1024);
    let mut u = Unstructured::new(&data);
    let chosen = match weight {
        None => u.choose_index(pool.len()).ok(),
        Some(weight) => {
            let weights: Vec<u64> = pool.iter().enumerate().map(|(i, v)| weight(i, v)).collect();
            let total: u64 = weights.iter().sum();
            let drawn = u.int_in_range(0..=total.saturating_sub(1)).ok();
            drawn.and_then(|mut r| {
                // The input whose share of `0..total` holds `r`.
                weights.iter().position(|w| match r.checked_sub(*w) {
                    Some(rest) => {
                        r = rest;
                        false
                    }
                    None => true,
                })
            })
        }
    };
    let Some(base) = chosen.and_then(|i| pool.get(i)) else {
        return Value::Null;
    };
    let mut steps = base["peer"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Splice: a family step of another input of the same IUT (a handler skeleton without media
    // gets a media step …), then one to four mutations.
    if u.ratio(1u8, 6u8).unwrap_or(false) {
        let other = &pool[u.choose_index(pool.len()).unwrap_or(0)];
        if other["iut"] == base["iut"] {
            let donor = other["peer"]["steps"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let family_steps: Vec<&Value> = donor.iter().filter(|s| !is_generic(s)).collect();
            if let (Ok(i), Ok(at)) = (
                u.choose_index(family_steps.len().max(1)),
                u.int_in_range(0..=steps.len()),
            ) {
                if let Some(step) = family_steps.get(i) {
                    steps.insert(at, (*step).clone());
                }
            }
        }
    }
    let stack = u.int_in_range(1u8..=4).unwrap_or(1);
    for _ in 0..stack {
        let _ = mutate(&mut steps, mutator, &mut u);
    }
    with_steps(base, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutate::GenericOnly;

    /// The heaps' median is the sorted list's middle (the upper one of an even count) after
    /// every size, so the corpus a seed makes stays what it was.
    #[test]
    fn the_capture_size_median_is_the_sorted_middle() {
        let mut sizes = CaptureSizes::default();
        let mut sorted: Vec<usize> = Vec::new();
        let data = seeded_bytes(11, 4096);
        for pair in data.chunks_exact(2) {
            let size = usize::from(pair[0]) * 7 + usize::from(pair[1] % 3);
            sizes.add(size);
            let at = sorted.partition_point(|s| *s < size);
            sorted.insert(at, size);
            assert_eq!(sizes.median(), sorted[sorted.len() / 2]);
        }
        assert!(!sizes.cheap(sorted[sorted.len() / 2] * 4 + 1));
    }

    /// With `cheap`, the inputs it accepts are drawn about [`CHEAP_WEIGHT`] times as often as the
    /// others; without, every input as often; either way the same seed draws the same inputs.
    /// (Which input is drawn does not depend on the mutator: it mutates the steps after.)
    #[test]
    fn cheap_inputs_are_drawn_more_often() {
        let mutator = GenericOnly;
        let input = |role: &str| serde_json::json!({"iut": {"role": role}, "peer": {"steps": [{"wait": {"ms": 1}}]}});
        let pool = vec![input("initiator"), input("responder")];
        let responder = |v: &Value| v["iut"]["role"] == "responder";
        let count = |weight: Option<Weight<'_>>| {
            (0..4_000)
                .filter(|k| responder(&draw(&pool, &mutator, 3, *k, weight)))
                .count()
        };
        let uniform = count(None);
        let cheap = |_: usize, v: &Value| if responder(v) { CHEAP_WEIGHT } else { 1 };
        let weighted = count(Some(&cheap));
        assert!((1_800..=2_200).contains(&uniform), "{uniform}");
        // 4 : 1 is 3,200 of 4,000.
        assert!((3_000..=3_400).contains(&weighted), "{weighted}");
        assert_eq!(weighted, count(Some(&cheap)));
    }

    #[test]
    fn a_rarer_path_weighs_more() {
        assert_eq!(rarity_weight(None), 1);
        assert_eq!(rarity_weight(Some(0)), RARITY);
        assert_eq!(rarity_weight(Some(1)), RARITY);
        assert_eq!(rarity_weight(Some(2)), RARITY / 2);
        assert_eq!(rarity_weight(Some(RARITY)), 1);
        assert_eq!(rarity_weight(Some(10 * RARITY)), 1);
    }
}
