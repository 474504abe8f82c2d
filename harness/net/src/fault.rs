//! Fault injection rules as plain data, and what applying them did.
//!
//! A [`FaultRule`] pairs a [`Predicate`] (which datagrams) with a [`FaultAction`] (what to do to
//! them). Rules are serde data (`snake_case`, unknown fields rejected, enums externally tagged) so
//! a scenario file can carry them:
//!
//! ```json
//! { "id": 2, "when": { "to": "10.0.0.2:5000", "kind": "data", "nth": { "range": { "from": 3 } },
//!                      "probability": 0.25 },
//!   "action": { "duplicate": { "copies": 2, "spacing_ms": 5 } } }
//! ```
//!
//! # How a rule is evaluated
//!
//! Every rule's predicate is evaluated on every datagram entering the link, as it was sent
//! (before any rule changed it), whatever earlier rules decided — a datagram dropped by rule 1
//! still advances rule 2's `nth` counter and random stream. So a rule's decisions depend only
//! on the traffic and on its own seed, never on the other rules.
//!
//! 1. `from`, `to` and `kind` are compared; if any given one differs, the rule does not match
//!    and nothing else happens.
//! 2. The rule's match counter is incremented (1-based) and compared with `nth`.
//! 3. Only if `nth` holds (or is absent) is `probability` drawn from the rule's decision RNG.
//!
//! The actions of the matching rules are then applied in rule order (the order the rules were
//! added to the link, not their ids); [`FaultAction::Drop`] ends the processing of the datagram.
//!
//! # Randomness
//!
//! Each rule owns two ChaCha8 generators keyed by the link seed: one for `probability` draws
//! (stream `2 · id`), one for [`FaultAction::CorruptRandom`] (stream `2 · id + 1`). The key is the
//! link seed (8 bytes, little endian) followed by a fixed 24-byte tag. Adding, removing or
//! reordering other rules never changes a rule's draws.

use core::fmt;
use std::net::SocketAddr;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// The most copies one [`FaultAction::Duplicate`] makes of one datagram; larger counts are
/// clamped (and the clamped number is what the trace records).
pub const MAX_COPIES: u32 = 1024;

/// Names the kind of a datagram ("syn_ack", "data", "malformed", …) for [`Predicate::kind`].
///
/// The names are the protocol's business; this crate only compares them. Implemented for every
/// `Fn(&[u8]) -> &'static str`, so a plain function works.
pub trait Classifier {
    /// The kind of a datagram with this UDP payload. Must not panic on any input.
    fn kind(&self, payload: &[u8]) -> &'static str;
}

impl<F> Classifier for F
where
    F: Fn(&[u8]) -> &'static str,
{
    fn kind(&self, payload: &[u8]) -> &'static str {
        self(payload)
    }
}

/// The classifier a link uses when none is given: every datagram is of kind
/// [`Unclassified::KIND`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Unclassified;

impl Unclassified {
    /// The kind it gives every datagram.
    pub const KIND: &'static str = "datagram";
}

impl Classifier for Unclassified {
    fn kind(&self, _payload: &[u8]) -> &'static str {
        Self::KIND
    }
}

/// One fault injection rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Names the rule in the trace; also selects its random streams. Unique per link.
    pub id: u32,
    /// Which datagrams; absent = every datagram.
    #[serde(default)]
    pub when: Predicate,
    /// What to do to them.
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule applying `action` to the datagrams `when` selects.
    pub fn new(id: u32, when: Predicate, action: FaultAction) -> FaultRule {
        FaultRule { id, when, action }
    }
}

/// Which datagrams a rule applies to. Every given condition must hold; the empty predicate
/// matches everything. See the [module docs](self) for the evaluation order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Predicate {
    /// Sent from this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<SocketAddr>,
    /// Sent to this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<SocketAddr>,
    /// The link's [`Classifier`] names the (unmodified) payload so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Position among the datagrams matching `from`/`to`/`kind`, counted per rule from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nth: Option<Nth>,
    /// Chance of applying, drawn from the rule's RNG once the other conditions hold. `≥ 1`
    /// always applies; `≤ 0` and NaN never do (a draw is still made, so the stream advances
    /// the same way).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl Predicate {
    /// Matches every datagram.
    pub fn any() -> Predicate {
        Predicate::default()
    }

    /// Also requires this source.
    pub fn from(mut self, from: SocketAddr) -> Predicate {
        self.from = Some(from);
        self
    }

    /// Also requires this destination.
    pub fn to(mut self, to: SocketAddr) -> Predicate {
        self.to = Some(to);
        self
    }

    /// Also requires this kind.
    pub fn kind(mut self, kind: impl Into<String>) -> Predicate {
        self.kind = Some(kind.into());
        self
    }

    /// Also requires this position.
    pub fn nth(mut self, nth: Nth) -> Predicate {
        self.nth = Some(nth);
        self
    }

    /// Also requires a random draw below `p`.
    pub fn probability(mut self, p: f64) -> Predicate {
        self.probability = Some(p);
        self
    }
}

/// Selects positions (1-based) in the sequence of datagrams a rule's non-random conditions match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Nth {
    /// Only the n-th (0 never matches).
    Exactly(u64),
    /// From `from` to `to`, both inclusive; no `to` = forever.
    Range {
        /// First position.
        from: u64,
        /// Last position, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<u64>,
    },
    /// Every n-th: n, 2n, 3n, … (0 never matches).
    Every(u64),
}

impl Nth {
    /// Whether position `n` (1-based; 0 is never selected) is selected.
    pub fn contains(&self, n: u64) -> bool {
        n != 0
            && match *self {
                Nth::Exactly(k) => n == k,
                Nth::Range { from, to } => n >= from && to.is_none_or(|to| n <= to),
                Nth::Every(k) => k != 0 && n % k == 0,
            }
    }
}

/// What a rule does to a matching datagram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// The datagram is not delivered; later rules' actions are not applied to it.
    Drop,
    /// `copies` extra copies (at most [`MAX_COPIES`]) are delivered `spacing_ms`, 2 ·
    /// `spacing_ms`, … after the point the datagram has reached in the rule chain. A copy is a
    /// snapshot: it carries the changes and delays of the earlier rules, and later rules (a later
    /// `Drop` included) affect only the original. Copies are never evaluated by rules.
    Duplicate {
        /// How many extra copies.
        copies: u32,
        /// Gap between successive copies (and between the original and the first copy).
        spacing_ms: u64,
    },
    /// Delivered `ms` later than it would be.
    Delay {
        /// Extra one-way delay.
        ms: u64,
    },
    /// Held back until `hold` datagrams sent after it on the same from→to path have been
    /// delivered, then delivered right after the one that released it (but never before it would
    /// have been delivered anyway). If that does not happen within the link's
    /// [`reorder_timeout_ms`](crate::LinkConfig::reorder_timeout_ms) (default 1 s) of its normal
    /// delivery time, it is delivered then. `hold: 0` changes nothing.
    Reorder {
        /// How many later datagrams overtake it.
        hold: u32,
    },
    /// Only the first `len` bytes are delivered (no change when it is not longer).
    Truncate {
        /// Bytes kept.
        len: usize,
    },
    /// The byte at `offset` is XORed with `xor`; an offset beyond the payload changes nothing
    /// (and is recorded as such).
    Corrupt {
        /// Which byte (0-based).
        offset: usize,
        /// Bits to flip.
        xor: u8,
    },
    /// `bytes` distinct random positions (all of them, if the payload is shorter) are XORed with
    /// random nonzero values, from the rule's corruption RNG.
    CorruptRandom {
        /// How many bytes to change.
        bytes: u32,
    },
}

/// Opaque identity of a datagram in a link's trace (a copy gets its own). Ids are allocated in
/// the order datagrams enter the link, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DatagramId(pub u64);

impl fmt::Display for DatagramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Something per datagram id. A link gives ids in the order it records them, so entries mostly
/// come in ascending order and a sorted list serves (a map was a tenth of a fuzz run's trace
/// work); an id out of order still goes in its place.
#[derive(Clone, Debug)]
pub struct IdTable<T>(Vec<(DatagramId, T)>);

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        IdTable(Vec::new())
    }
}

impl<T> IdTable<T> {
    /// Sets `id`'s value.
    pub fn insert(&mut self, id: DatagramId, value: T) {
        match self.place(id) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (id, value)),
        }
    }

    /// Sets `id`'s value unless it has one.
    pub fn insert_if_absent(&mut self, id: DatagramId, value: T) {
        if let Err(at) = self.place(id) {
            self.0.insert(at, (id, value));
        }
    }

    /// `id`'s value.
    pub fn get(&self, id: DatagramId) -> Option<&T> {
        let at = self.place(id).ok()?;
        Some(&self.0[at].1)
    }

    /// Where `id` is (`Ok`) or goes (`Err`); the end at once for the next id in order.
    fn place(&self, id: DatagramId) -> Result<usize, usize> {
        match self.0.last() {
            Some((last, _)) if *last >= id => self.0.binary_search_by_key(&id, |(i, _)| *i),
            _ => Err(self.0.len()),
        }
    }
}

/// What one rule did to one datagram.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedFault {
    /// The rule's id.
    pub rule: u32,
    /// What happened.
    pub effect: FaultEffect,
}

impl fmt::Display for AppliedFault {
    /// E.g. `rule 3 delayed 20 ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} {}", self.rule, self.effect)
    }
}

/// The effect of a rule on a datagram, as recorded in the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultEffect {
    /// [`FaultAction::Drop`].
    Dropped,
    /// [`FaultAction::Duplicate`]: the copies made (their ids).
    Duplicated {
        /// The copies, in delivery order.
        copies: Vec<DatagramId>,
        /// Gap between copies.
        spacing_ms: u64,
    },
    /// On a copy: which datagram it copies (the rule is the duplicating one).
    CopyOf {
        /// The original.
        original: DatagramId,
    },
    /// [`FaultAction::Delay`].
    Delayed {
        /// Extra delay.
        ms: u64,
    },
    /// [`FaultAction::Reorder`] took hold of the datagram.
    Held {
        /// How many later datagrams must overtake it.
        hold: u32,
    },
    /// A held datagram was let go (recorded at delivery).
    Released {
        /// `true`: the reorder timeout passed first; `false`: enough later datagrams overtook it.
        by_timeout: bool,
    },
    /// [`FaultAction::Truncate`].
    Truncated {
        /// Length before.
        from_len: usize,
        /// Length after (equal when nothing was cut).
        to_len: usize,
    },
    /// [`FaultAction::Corrupt`] within the payload.
    Corrupted {
        /// Byte changed.
        offset: usize,
        /// Bits flipped.
        xor: u8,
    },
    /// [`FaultAction::Corrupt`] beyond the payload: nothing changed.
    CorruptOutOfRange {
        /// The rule's offset.
        offset: usize,
        /// The payload length at that point.
        len: usize,
    },
    /// [`FaultAction::CorruptRandom`]: (offset, xor) pairs, in the order applied.
    CorruptedRandom {
        /// Changes made.
        changes: Vec<(usize, u8)>,
    },
}

impl fmt::Display for FaultEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultEffect::Dropped => f.write_str("dropped"),
            FaultEffect::Duplicated { copies, spacing_ms } => {
                write!(f, "duplicated into")?;
                for (i, id) in copies.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    write!(f, "{id}")?;
                }
                if copies.is_empty() {
                    f.write_str(" nothing")?;
                }
                write!(f, " ({spacing_ms} ms apart)")
            }
            FaultEffect::CopyOf { original } => write!(f, "copy of {original}"),
            FaultEffect::Delayed { ms } => write!(f, "delayed {ms} ms"),
            FaultEffect::Held { hold } => write!(f, "held for {hold} later datagram(s)"),
            FaultEffect::Released { by_timeout: true } => f.write_str("released by timeout"),
            FaultEffect::Released { by_timeout: false } => f.write_str("released after overtaking"),
            FaultEffect::Truncated { from_len, to_len } => {
                write!(f, "truncated {from_len} -> {to_len} bytes")
            }
            FaultEffect::Corrupted { offset, xor } => {
                write!(f, "corrupted byte {offset} (xor {xor:#04x})")
            }
            FaultEffect::CorruptOutOfRange { offset, len } => {
                write!(f, "corrupt offset {offset} beyond {len} bytes: unchanged")
            }
            FaultEffect::CorruptedRandom { changes } => {
                write!(f, "corrupted {} random byte(s)", changes.len())?;
                for (i, (offset, xor)) in changes.iter().enumerate() {
                    f.write_str(if i == 0 { ": " } else { ", " })?;
                    write!(f, "{offset} (xor {xor:#04x})")?;
                }
                Ok(())
            }
        }
    }
}

/// Fixed part of the per-rule RNG key (24 bytes).
// The crate's old name: changing the tag would change every seeded fault decision (and the goldens).
const RNG_TAG: &[u8; 24] = b"handshake-run/fault-rule";

/// The generator for one rule and purpose (0 = decisions, 1 = corruption).
fn rule_rng(link_seed: u64, rule_id: u32, purpose: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (dst, src) in key
        .iter_mut()
        .zip(link_seed.to_le_bytes().iter().chain(RNG_TAG))
    {
        *dst = *src;
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream((u64::from(rule_id) << 1) | purpose);
    rng
}

/// A uniform draw in [0, 1) with 53 bits of precision.
fn unit_f64(rng: &mut ChaCha8Rng) -> f64 {
    // 2^-53: exact.
    const SCALE: f64 = 1.0 / 9_007_199_254_740_992.0;
    (rng.next_u64() >> 11) as f64 * SCALE
}

/// A draw in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for the sizes used here).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u128;
    ((u128::from(rng.next_u64()) * n) >> 64) as usize
}

/// A rule with its run-time state: match counter and random streams.
#[derive(Clone, Debug)]
pub(crate) struct ArmedRule {
    pub(crate) rule: FaultRule,
    matched: u64,
    decide: ChaCha8Rng,
    mutate: ChaCha8Rng,
}

impl ArmedRule {
    pub(crate) fn new(rule: FaultRule, link_seed: u64) -> ArmedRule {
        let decide = rule_rng(link_seed, rule.id, 0);
        let mutate = rule_rng(link_seed, rule.id, 1);
        ArmedRule {
            rule,
            matched: 0,
            decide,
            mutate,
        }
    }

    /// Evaluates the predicate on one datagram entering the link (updating counter and RNG).
    pub(crate) fn evaluate(&mut self, from: SocketAddr, to: SocketAddr, kind: &str) -> bool {
        let when = &self.rule.when;
        if when.from.is_some_and(|a| a != from)
            || when.to.is_some_and(|a| a != to)
            || when.kind.as_deref().is_some_and(|k| k != kind)
        {
            return false;
        }
        self.matched = self.matched.saturating_add(1);
        if when.nth.is_some_and(|nth| !nth.contains(self.matched)) {
            return false;
        }
        match when.probability {
            Some(p) => unit_f64(&mut self.decide) < p,
            None => true,
        }
    }

    /// XORs random nonzero values into `min(bytes, len)` distinct random positions.
    pub(crate) fn corrupt_random(&mut self, payload: &mut [u8], bytes: u32) -> Vec<(usize, u8)> {
        let len = payload.len();
        let count = usize::try_from(bytes).unwrap_or(usize::MAX).min(len);
        // Partial Fisher–Yates over the positions: distinct, uniformly chosen.
        let mut positions: Vec<usize> = (0..len).collect();
        let mut changes = Vec::with_capacity(count);
        for i in 0..count {
            let j = i + below(&mut self.mutate, len - i);
            positions.swap(i, j);
            let offset = positions[i];
            let xor = 1 + (self.mutate.next_u32() % 255) as u8;
            if let Some(byte) = payload.get_mut(offset) {
                *byte ^= xor;
            }
            changes.push((offset, xor));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn an_id_table_keeps_ids_in_order_whatever_order_they_come_in() {
        let mut t = IdTable::default();
        for (id, v) in [(0, 'a'), (2, 'c'), (1, 'b'), (5, 'f'), (2, 'C')] {
            t.insert(DatagramId(id), v);
        }
        t.insert_if_absent(DatagramId(3), 'd');
        t.insert_if_absent(DatagramId(3), 'x');
        let got: Vec<Option<char>> = (0..7).map(|i| t.get(DatagramId(i)).copied()).collect();
        assert_eq!(
            got,
            [
                Some('a'),
                Some('b'),
                Some('C'),
                Some('d'),
                None,
                Some('f'),
                None
            ]
        );
    }

    #[rstest]
    #[case::exactly_hit(Nth::Exactly(3), 3, true)]
    #[case::exactly_before(Nth::Exactly(3), 2, false)]
    #[case::exactly_after(Nth::Exactly(3), 4, false)]
    #[case::exactly_zero(Nth::Exactly(0), 0, false)]
    #[case::range_start(Nth::Range { from: 2, to: Some(4) }, 2, true)]
    #[case::range_end(Nth::Range { from: 2, to: Some(4) }, 4, true)]
    #[case::range_below(Nth::Range { from: 2, to: Some(4) }, 1, false)]
    #[case::range_above(Nth::Range { from: 2, to: Some(4) }, 5, false)]
    #[case::range_open(Nth::Range { from: 2, to: None }, 1_000_000, true)]
    #[case::range_empty(Nth::Range { from: 5, to: Some(4) }, 5, false)]
    #[case::every_hit(Nth::Every(3), 6, true)]
    #[case::every_miss(Nth::Every(3), 7, false)]
    #[case::every_zero(Nth::Every(0), 0, false)]
    #[case::every_zero_pos(Nth::Every(3), 0, false)]
    fn nth_contains(#[case] nth: Nth, #[case] n: u64, #[case] expected: bool) {
        assert_eq!(nth.contains(n), expected);
    }

    #[rstest]
    #[case::minimal(
        r#"{"id":1,"action":"drop"}"#,
        FaultRule::new(1, Predicate::any(), FaultAction::Drop)
    )]
    #[case::full(
        r#"{"id":2,"when":{"from":"10.0.0.1:1","to":"10.0.0.2:2","kind":"data","nth":{"range":{"from":3}},"probability":0.5},"action":{"duplicate":{"copies":2,"spacing_ms":5}}}"#,
        FaultRule::new(
            2,
            Predicate::any()
                .from("10.0.0.1:1".parse().expect("address"))
                .to("10.0.0.2:2".parse().expect("address"))
                .kind("data")
                .nth(Nth::Range { from: 3, to: None })
                .probability(0.5),
            FaultAction::Duplicate { copies: 2, spacing_ms: 5 },
        )
    )]
    #[case::every(r#"{"id":3,"when":{"nth":{"every":2}},"action":{"delay":{"ms":7}}}"#,
        FaultRule::new(3, Predicate::any().nth(Nth::Every(2)), FaultAction::Delay { ms: 7 }))]
    #[case::exactly(r#"{"id":4,"when":{"nth":{"exactly":1}},"action":{"reorder":{"hold":2}}}"#,
        FaultRule::new(4, Predicate::any().nth(Nth::Exactly(1)), FaultAction::Reorder { hold: 2 }))]
    #[case::truncate(r#"{"id":5,"action":{"truncate":{"len":3}}}"#,
        FaultRule::new(5, Predicate::any(), FaultAction::Truncate { len: 3 }))]
    #[case::corrupt(r#"{"id":6,"action":{"corrupt":{"offset":1,"xor":255}}}"#,
        FaultRule::new(6, Predicate::any(), FaultAction::Corrupt { offset: 1, xor: 255 }))]
    #[case::corrupt_random(r#"{"id":7,"action":{"corrupt_random":{"bytes":4}}}"#,
        FaultRule::new(7, Predicate::any(), FaultAction::CorruptRandom { bytes: 4 }))]
    fn rule_json_round_trip(#[case] json: &str, #[case] expected: FaultRule) {
        let parsed: FaultRule = serde_json::from_str(json).expect("json");
        assert_eq!(parsed, expected);
        let again: FaultRule =
            serde_json::from_str(&serde_json::to_string(&parsed).expect("json")).expect("json");
        assert_eq!(again, expected);
    }

    #[rstest]
    #[case::rule_field(r#"{"id":1,"action":"drop","extra":1}"#)]
    #[case::predicate_field(r#"{"id":1,"when":{"form":"10.0.0.1:1"},"action":"drop"}"#)]
    #[case::range_field(
        r#"{"id":1,"when":{"nth":{"range":{"from":1,"until":2}}},"action":"drop"}"#
    )]
    #[case::action_field(r#"{"id":1,"action":{"delay":{"ms":1,"jitter":2}}}"#)]
    #[case::unknown_action(r#"{"id":1,"action":"explode"}"#)]
    #[case::missing_action(r#"{"id":1}"#)]
    #[case::camel_case(r#"{"id":1,"action":{"corruptRandom":{"bytes":1}}}"#)]
    fn rule_json_rejects(#[case] json: &str) {
        assert!(
            serde_json::from_str::<FaultRule>(json).is_err(),
            "{json} was accepted"
        );
    }

    #[test]
    fn fn_items_and_closures_classify() {
        fn by_first_byte(p: &[u8]) -> &'static str {
            if p.first() == Some(&1) {
                "one"
            } else {
                "other"
            }
        }
        let as_pointer: fn(&[u8]) -> &'static str = by_first_byte;
        assert_eq!(Classifier::kind(&as_pointer, &[1]), "one");
        assert_eq!(Classifier::kind(&by_first_byte, &[2]), "other");
        assert_eq!(Unclassified.kind(&[1]), Unclassified::KIND);
    }

    #[test]
    fn rule_streams_differ_by_seed_id_and_purpose() {
        let first = |seed, id, purpose| rule_rng(seed, id, purpose).next_u64();
        let base = first(1, 1, 0);
        assert_ne!(base, first(2, 1, 0));
        assert_ne!(base, first(1, 2, 0));
        assert_ne!(base, first(1, 1, 1));
        assert_eq!(base, first(1, 1, 0));
    }

    #[test]
    fn corrupt_random_changes_distinct_positions() {
        let mut rule = ArmedRule::new(FaultRule::new(1, Predicate::any(), FaultAction::Drop), 9);
        let mut payload = vec![0u8; 8];
        let changes = rule.corrupt_random(&mut payload, 100);
        let mut offsets: Vec<usize> = changes.iter().map(|c| c.0).collect();
        offsets.sort_unstable();
        assert_eq!(offsets, (0..8).collect::<Vec<_>>());
        assert!(payload.iter().all(|&b| b != 0));
        assert!(rule.corrupt_random(&mut [], 3).is_empty());
    }

    #[test]
    fn effects_render_for_capture_comments() {
        let cases = [
            (FaultEffect::Dropped, "rule 1 dropped"),
            (FaultEffect::Delayed { ms: 20 }, "rule 1 delayed 20 ms"),
            (
                FaultEffect::Duplicated {
                    copies: vec![DatagramId(4), DatagramId(5)],
                    spacing_ms: 3,
                },
                "rule 1 duplicated into #4, #5 (3 ms apart)",
            ),
            (
                FaultEffect::Truncated {
                    from_len: 9,
                    to_len: 2,
                },
                "rule 1 truncated 9 -> 2 bytes",
            ),
            (
                FaultEffect::Corrupted { offset: 2, xor: 1 },
                "rule 1 corrupted byte 2 (xor 0x01)",
            ),
            (
                FaultEffect::CorruptedRandom {
                    changes: vec![(1, 0x10), (0, 0xff)],
                },
                "rule 1 corrupted 2 random byte(s): 1 (xor 0x10), 0 (xor 0xff)",
            ),
        ];
        for (effect, text) in cases {
            assert_eq!(AppliedFault { rule: 1, effect }.to_string(), text);
        }
    }
}
