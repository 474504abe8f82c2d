//! A virtual link: carries datagrams between addresses in virtual time, applies fault rules, and
//! records everything it does.
//!
//! The link knows no endpoints. A driver calls [`VirtualLink::send`] for every datagram entering
//! the link, asks [`VirtualLink::next_time`] when something is due, and calls
//! [`VirtualLink::pop_due`] to take the due datagrams one by one, in order.
//!
//! # What happens to a datagram
//!
//! On [`send`](VirtualLink::send), at time `now`:
//!
//! 1. It gets the next [`DatagramId`] and is classified once (by the link's [`Classifier`]).
//! 2. If an MTU is set and the payload is longer, it is dropped ([`DropReason::Mtu`]); the rules
//!    never see it.
//! 3. Every rule's predicate is evaluated; the actions of the matching rules are applied in rule
//!    order (see [`crate::fault`]). Its delivery time starts at `now + latency` and grows with
//!    each `Delay`.
//! 4. The trace gets [`LinkEvent::Sent`] (the payload as sent, and everything the rules did),
//!    then one [`LinkEvent::Duplicated`] per copy, then [`LinkEvent::Dropped`] if dropped.
//!
//! In-flight datagrams wait in a queue ordered by (delivery time, insertion sequence number), so
//! ties are delivered in the order they were queued (an original before its copies). When a
//! datagram leaves the queue it is recorded as [`LinkEvent::Delivered`] with the bytes as
//! delivered, or as [`LinkEvent::Undeliverable`] when the driver says nobody is at the
//! destination.
//!
//! # Captures
//!
//! The trace serves both sides of a capture: [`LinkEvent::Sent`] is what each endpoint sent
//! (original bytes, send time), [`LinkEvent::Delivered`] is what each endpoint received (bytes
//! after truncation and corruption, delivery time). [`LinkEvent::comment`] renders the harness's
//! part in one line, e.g. `dropped by harness: rule 2`.

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use handshake_core::Instant;
use serde::{Deserialize, Serialize};

use crate::fault::{
    AppliedFault, ArmedRule, Classifier, DatagramId, FaultAction, FaultEffect, FaultRule,
    Unclassified, MAX_COPIES,
};

/// Settings of a [`VirtualLink`]. Plain data (serde: `snake_case`, unknown fields rejected,
/// missing fields take the defaults).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// Seeds every rule's random streams (see [`crate::fault`]).
    pub seed: u64,
    /// One-way latency of every datagram, in milliseconds (default 1). No jitter.
    pub latency_ms: u64,
    /// Payloads longer than this many bytes are dropped (default: no limit).
    pub mtu: Option<usize>,
    /// How long after its normal delivery time a datagram held by
    /// [`FaultAction::Reorder`] is delivered if not enough datagrams overtook it (default 1000).
    pub reorder_timeout_ms: u64,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            seed: 0,
            latency_ms: 1,
            mtu: None,
            reorder_timeout_ms: 1000,
        }
    }
}

impl LinkConfig {
    /// The defaults with this seed.
    pub fn with_seed(seed: u64) -> LinkConfig {
        LinkConfig {
            seed,
            ..LinkConfig::default()
        }
    }
}

/// Why the link did not carry a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A [`FaultAction::Drop`] rule.
    Rule {
        /// The rule's id.
        rule: u32,
    },
    /// Longer than the link's MTU.
    Mtu {
        /// The MTU.
        mtu: usize,
        /// The payload length.
        len: usize,
    },
}

impl fmt::Display for DropReason {
    /// `rule 2` or `1600 bytes over MTU 1500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Rule { rule } => write!(f, "rule {rule}"),
            DropReason::Mtu { mtu, len } => write!(f, "{len} bytes over MTU {mtu}"),
        }
    }
}

/// One entry of a link's trace. Serializes externally tagged, `snake_case`; `at` as nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkEvent {
    /// A datagram entered the link (from an endpoint, or injected by the harness).
    Sent {
        /// Its id.
        id: DatagramId,
        /// When.
        at: Instant,
        /// Source.
        from: SocketAddr,
        /// Destination.
        to: SocketAddr,
        /// What the classifier called it.
        kind: &'static str,
        /// `true` when injected by the harness rather than sent by an endpoint.
        injected: bool,
        /// The bytes as sent.
        payload: Vec<u8>,
        /// What the rules did to it, in order (decided now; a reorder release is recorded at
        /// delivery).
        applied: Vec<AppliedFault>,
        /// Set when the link does not carry it (also recorded as [`LinkEvent::Dropped`]).
        dropped: Option<DropReason>,
    },
    /// A rule made a copy of a datagram; the copy has its own id and is delivered (or not) like
    /// any other.
    Duplicated {
        /// The copy's id.
        id: DatagramId,
        /// When the copy was made (the original's send time).
        at: Instant,
        /// The datagram copied.
        copy_of: DatagramId,
        /// The duplicating rule.
        rule: u32,
        /// When the copy is due.
        deliver_at: Instant,
    },
    /// The link did not carry a datagram (recorded at send time).
    Dropped {
        /// Its id.
        id: DatagramId,
        /// When.
        at: Instant,
        /// Source.
        from: SocketAddr,
        /// Destination.
        to: SocketAddr,
        /// Why.
        reason: DropReason,
    },
    /// A datagram reached its destination.
    Delivered {
        /// Its id.
        id: DatagramId,
        /// When.
        at: Instant,
        /// Source.
        from: SocketAddr,
        /// Destination.
        to: SocketAddr,
        /// The bytes as delivered (after truncation and corruption).
        payload: Vec<u8>,
        /// What the rules did to this datagram (for a copy: the faults it inherited, then
        /// [`FaultEffect::CopyOf`]).
        applied: Vec<AppliedFault>,
    },
    /// A datagram was due but nothing is at its destination.
    Undeliverable {
        /// Its id.
        id: DatagramId,
        /// When.
        at: Instant,
        /// Source.
        from: SocketAddr,
        /// Destination.
        to: SocketAddr,
        /// The bytes that would have been delivered.
        payload: Vec<u8>,
        /// What the rules did to it.
        applied: Vec<AppliedFault>,
    },
    /// A datagram still in flight (or held back) when the run ended: never delivered.
    InFlightAtEnd {
        /// Its id.
        id: DatagramId,
        /// When the run ended.
        at: Instant,
        /// Source.
        from: SocketAddr,
        /// Destination.
        to: SocketAddr,
        /// The bytes that would have been delivered.
        payload: Vec<u8>,
        /// What the rules did to it.
        applied: Vec<AppliedFault>,
    },
}

impl LinkEvent {
    /// The datagram the event is about.
    pub fn id(&self) -> DatagramId {
        match self {
            LinkEvent::Sent { id, .. }
            | LinkEvent::Duplicated { id, .. }
            | LinkEvent::Dropped { id, .. }
            | LinkEvent::Delivered { id, .. }
            | LinkEvent::Undeliverable { id, .. }
            | LinkEvent::InFlightAtEnd { id, .. } => *id,
        }
    }

    /// When it happened.
    pub fn at(&self) -> Instant {
        match self {
            LinkEvent::Sent { at, .. }
            | LinkEvent::Duplicated { at, .. }
            | LinkEvent::Dropped { at, .. }
            | LinkEvent::Delivered { at, .. }
            | LinkEvent::Undeliverable { at, .. }
            | LinkEvent::InFlightAtEnd { at, .. } => *at,
        }
    }

    /// A one-line note on the harness's part in this event, for a capture comment; `None` when
    /// the harness did nothing to the datagram. Examples: `dropped by harness: rule 2`,
    /// `harness: rule 1 delayed 5 ms; rule 3 truncated 40 -> 8 bytes`, `injected by harness`,
    /// `undeliverable: nothing at 10.0.0.9:5000`.
    pub fn comment(&self) -> Option<String> {
        match self {
            LinkEvent::Sent {
                injected,
                applied,
                dropped,
                ..
            } => {
                let mut parts = Vec::new();
                if *injected {
                    parts.push("injected by harness".to_owned());
                }
                if let Some(reason) = dropped {
                    parts.push(format!("dropped by harness: {reason}"));
                }
                let others: Vec<&AppliedFault> = applied
                    .iter()
                    .filter(|a| a.effect != FaultEffect::Dropped)
                    .collect();
                if !others.is_empty() {
                    parts.push(format!("harness: {}", join(others)));
                }
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            LinkEvent::Duplicated { copy_of, rule, .. } => Some(format!(
                "duplicated by harness: rule {rule}, copy of {copy_of}"
            )),
            LinkEvent::Dropped { reason, .. } => Some(format!("dropped by harness: {reason}")),
            LinkEvent::Delivered { applied, .. } => {
                (!applied.is_empty()).then(|| format!("harness: {}", join(applied.iter())))
            }
            LinkEvent::InFlightAtEnd { applied, .. } => {
                let mut text = "in flight when the run ended".to_owned();
                if !applied.is_empty() {
                    text.push_str("; harness: ");
                    text.push_str(&join(applied.iter()));
                }
                Some(text)
            }
            LinkEvent::Undeliverable { to, applied, .. } => {
                let mut text = format!("undeliverable: nothing at {to}");
                if !applied.is_empty() {
                    text.push_str("; harness: ");
                    text.push_str(&join(applied.iter()));
                }
                Some(text)
            }
        }
    }
}

fn join<'a>(applied: impl IntoIterator<Item = &'a AppliedFault>) -> String {
    applied
        .into_iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A datagram taken off the link for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: DatagramId,
    /// When it is delivered.
    pub at: Instant,
    /// Source.
    pub from: SocketAddr,
    /// Destination.
    pub to: SocketAddr,
    /// The bytes as delivered.
    pub payload: Vec<u8>,
}

/// Errors from configuring a link.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// A rule with this id is already installed.
    DuplicateRuleId(u32),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::DuplicateRuleId(id) => write!(f, "fault rule id {id} is used twice"),
        }
    }
}

impl std::error::Error for LinkError {}

/// A reorder hold on a queued datagram.
#[derive(Clone, Debug)]
struct Hold {
    rule: u32,
    remaining: u32,
    /// The datagram's normal delivery time: it is never released earlier.
    not_before: Instant,
}

/// A datagram in the link.
#[derive(Clone, Debug)]
struct InFlight {
    id: DatagramId,
    from: SocketAddr,
    to: SocketAddr,
    payload: Vec<u8>,
    applied: Vec<AppliedFault>,
    hold: Option<Hold>,
}

/// Carries datagrams between addresses with a fixed latency, applies fault rules, records a
/// trace. Deterministic: the same configuration, rules, classifier and calls give the same
/// trace, byte for byte.
pub struct VirtualLink {
    config: LinkConfig,
    rules: Vec<ArmedRule>,
    classifier: Box<dyn Classifier + Send>,
    /// In flight, by (delivery time — or reorder deadline when held —, sequence number). Boxed:
    /// taking the head shifts the entries of its node, some 150 bytes each unboxed.
    queue: BTreeMap<(Instant, u64), Box<InFlight>>,
    /// Keys in `queue` of the held datagrams.
    held: BTreeMap<u64, Instant>,
    /// Released by overtaking, due at the given time, before anything in `queue`.
    released: VecDeque<(Instant, Box<InFlight>)>,
    next_id: u64,
    next_seq: u64,
    trace: Vec<LinkEvent>,
}

impl fmt::Debug for VirtualLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualLink")
            .field("config", &self.config)
            .field("rules", &self.rules.len())
            .field("in_flight", &self.in_flight())
            .field("trace_len", &self.trace.len())
            .finish_non_exhaustive()
    }
}

impl Default for VirtualLink {
    fn default() -> VirtualLink {
        VirtualLink::new(LinkConfig::default())
    }
}

impl VirtualLink {
    /// A link with no rules and the [`Unclassified`] classifier.
    pub fn new(config: LinkConfig) -> VirtualLink {
        VirtualLink {
            config,
            rules: Vec::new(),
            classifier: Box::new(Unclassified),
            queue: BTreeMap::new(),
            held: BTreeMap::new(),
            released: VecDeque::new(),
            next_id: 0,
            next_seq: 0,
            // Room for a short run's events: growing the trace copied each (some 170 bytes)
            // again and again, a thirtieth of a fuzz input's run.
            trace: Vec::with_capacity(TRACE_START_CAPACITY),
        }
    }

    /// Uses `classifier` to name datagrams for [`Predicate::kind`](crate::Predicate::kind).
    pub fn with_classifier(mut self, classifier: impl Classifier + Send + 'static) -> VirtualLink {
        self.set_classifier(classifier);
        self
    }

    /// Replaces the classifier (for datagrams sent from now on).
    pub fn set_classifier(&mut self, classifier: impl Classifier + Send + 'static) {
        self.classifier = Box::new(classifier);
    }

    /// Adds `rules` in order (see [`add_rule`](Self::add_rule)).
    pub fn with_rules(
        mut self,
        rules: impl IntoIterator<Item = FaultRule>,
    ) -> Result<VirtualLink, LinkError> {
        for rule in rules {
            self.add_rule(rule)?;
        }
        Ok(self)
    }

    /// Appends a rule (it comes after the installed ones in rule order). Its counter starts at
    /// zero and its random streams at their beginning, whenever it is added.
    pub fn add_rule(&mut self, rule: FaultRule) -> Result<(), LinkError> {
        if self.rules.iter().any(|r| r.rule.id == rule.id) {
            return Err(LinkError::DuplicateRuleId(rule.id));
        }
        self.rules.push(ArmedRule::new(rule, self.config.seed));
        Ok(())
    }

    /// Removes the rule with this id, if installed. Datagrams already in flight keep what it did.
    pub fn remove_rule(&mut self, id: u32) -> Option<FaultRule> {
        let index = self.rules.iter().position(|r| r.rule.id == id)?;
        Some(self.rules.remove(index).rule)
    }

    /// The installed rules, in rule order.
    pub fn rules(&self) -> impl Iterator<Item = &FaultRule> + '_ {
        self.rules.iter().map(|r| &r.rule)
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Everything recorded so far, in the order it happened.
    pub fn trace(&self) -> &[LinkEvent] {
        &self.trace
    }

    /// How many datagrams are in flight (held ones included).
    pub fn in_flight(&self) -> usize {
        self.queue.len() + self.released.len()
    }

    /// When the next datagram is due, if any.
    pub fn next_time(&self) -> Option<Instant> {
        let released = self.released.front().map(|(at, _)| *at);
        let queued = self.queue.keys().next().map(|(at, _)| *at);
        match (released, queued) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn alloc_id(&mut self) -> DatagramId {
        let id = DatagramId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    fn alloc_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        seq
    }

    fn enqueue(&mut self, due: Instant, seq: u64, datagram: Box<InFlight>) {
        let key = match &datagram.hold {
            Some(hold) => {
                let deadline = hold.not_before + ms(self.config.reorder_timeout_ms);
                self.held.insert(seq, deadline);
                (deadline, seq)
            }
            None => (due, seq),
        };
        self.queue.insert(key, datagram);
    }

    /// A datagram enters the link at `now`, from `from` to `to` (see the [module docs](self)).
    /// `injected` marks datagrams the harness made up rather than an endpoint sent.
    pub fn send(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        payload: Vec<u8>,
        injected: bool,
    ) -> DatagramId {
        let id = self.alloc_id();
        let seq = self.alloc_seq();
        let kind = self.classifier.kind(&payload);
        let len = payload.len();

        if let Some(mtu) = self.config.mtu.filter(|&mtu| len > mtu) {
            let reason = DropReason::Mtu { mtu, len };
            self.trace.push(LinkEvent::Sent {
                id,
                at: now,
                from,
                to,
                kind,
                injected,
                payload,
                applied: Vec::new(),
                dropped: Some(reason),
            });
            self.trace.push(LinkEvent::Dropped {
                id,
                at: now,
                from,
                to,
                reason,
            });
            return id;
        }

        // Every predicate sees every datagram, whatever the others decide.
        let matching: Vec<usize> = (0..self.rules.len())
            .filter(|&i| {
                self.rules
                    .get_mut(i)
                    .is_some_and(|rule| rule.evaluate(from, to, kind))
            })
            .collect();

        let original = payload.clone();
        let mut current = InFlight {
            id,
            from,
            to,
            payload,
            applied: Vec::new(),
            hold: None,
        };
        let mut due = now + ms(self.config.latency_ms);
        let (copies, dropped) = self.apply_rules(matching, &mut current, &mut due);

        self.trace.push(LinkEvent::Sent {
            id,
            at: now,
            from,
            to,
            kind,
            injected,
            payload: original,
            applied: current.applied.clone(),
            dropped,
        });
        for (deliver_at, _, copy) in &copies {
            let rule = copy.applied.last().map_or(0, |a| a.rule);
            self.trace.push(LinkEvent::Duplicated {
                id: copy.id,
                at: now,
                copy_of: id,
                rule,
                deliver_at: *deliver_at,
            });
        }
        match dropped {
            Some(reason) => self.trace.push(LinkEvent::Dropped {
                id,
                at: now,
                from,
                to,
                reason,
            }),
            None => self.enqueue(due, seq, Box::new(current)),
        }
        for (at, copy_seq, copy) in copies {
            self.enqueue(at, copy_seq, Box::new(copy));
        }
        id
    }

    /// Applies the `matching` rules, in rule order, to the datagram in flight (`due`: when it is
    /// to be delivered); returns the copies they made (when due, their sequence numbers) and why
    /// it was dropped, if it was.
    fn apply_rules(
        &mut self,
        matching: Vec<usize>,
        current: &mut InFlight,
        due: &mut Instant,
    ) -> (Vec<(Instant, u64, InFlight)>, Option<DropReason>) {
        let mut copies: Vec<(Instant, u64, InFlight)> = Vec::new();
        let mut dropped = None;

        for index in matching {
            let Some(rule) = self.rules.get_mut(index) else {
                continue;
            };
            let rule_id = rule.rule.id;
            let effect = match rule.rule.action.clone() {
                FaultAction::Drop => {
                    dropped = Some(DropReason::Rule { rule: rule_id });
                    current.applied.push(AppliedFault {
                        rule: rule_id,
                        effect: FaultEffect::Dropped,
                    });
                    break;
                }
                FaultAction::Duplicate {
                    copies: n,
                    spacing_ms,
                } => self.duplicate(current, rule_id, n, spacing_ms, *due, &mut copies),
                FaultAction::Delay { ms: extra } => {
                    *due += ms(extra);
                    // A hold taken earlier waits for the delayed time too.
                    if let Some(hold) = &mut current.hold {
                        hold.not_before = *due;
                    }
                    FaultEffect::Delayed { ms: extra }
                }
                FaultAction::Reorder { hold } => {
                    current.hold = (hold > 0).then_some(Hold {
                        rule: rule_id,
                        remaining: hold,
                        not_before: *due,
                    });
                    FaultEffect::Held { hold }
                }
                FaultAction::Truncate { len } => {
                    let from_len = current.payload.len();
                    current.payload.truncate(len);
                    FaultEffect::Truncated {
                        from_len,
                        to_len: current.payload.len(),
                    }
                }
                FaultAction::Corrupt { offset, xor } => match current.payload.get_mut(offset) {
                    Some(byte) => {
                        *byte ^= xor;
                        FaultEffect::Corrupted { offset, xor }
                    }
                    None => FaultEffect::CorruptOutOfRange {
                        offset,
                        len: current.payload.len(),
                    },
                },
                FaultAction::CorruptRandom { bytes } => FaultEffect::CorruptedRandom {
                    changes: rule.corrupt_random(&mut current.payload, bytes),
                },
            };
            current.applied.push(AppliedFault {
                rule: rule_id,
                effect,
            });
        }
        (copies, dropped)
    }

    /// Rule `rule_id` copies the datagram in flight `n` times (at most [`MAX_COPIES`]), the k-th
    /// copy due `k × spacing_ms` after `due`; the copies are added to `copies`.
    fn duplicate(
        &mut self,
        current: &InFlight,
        rule_id: u32,
        n: u32,
        spacing_ms: u64,
        due: Instant,
        copies: &mut Vec<(Instant, u64, InFlight)>,
    ) -> FaultEffect {
        let mut ids = Vec::new();
        for k in 1..=n.min(MAX_COPIES) {
            let copy_id = DatagramId(self.next_id);
            self.next_id = self.next_id.saturating_add(1);
            let copy_seq = self.next_seq;
            self.next_seq = self.next_seq.saturating_add(1);
            let mut applied = current.applied.clone();
            applied.push(AppliedFault {
                rule: rule_id,
                effect: FaultEffect::CopyOf {
                    original: current.id,
                },
            });
            let copy = InFlight {
                id: copy_id,
                from: current.from,
                to: current.to,
                payload: current.payload.clone(),
                applied,
                hold: current.hold.clone(),
            };
            let at = due + ms(spacing_ms.saturating_mul(u64::from(k)));
            copies.push((at, copy_seq, copy));
            ids.push(copy_id);
        }
        FaultEffect::Duplicated {
            copies: ids,
            spacing_ms,
        }
    }

    /// Takes the next datagram due at or before `now`, if any, and records its fate.
    ///
    /// Datagrams whose destination `reachable` rejects are recorded as
    /// [`LinkEvent::Undeliverable`] and skipped; the first reachable one is recorded as
    /// [`LinkEvent::Delivered`] and returned, stamped with `now`. Call until `None` to deliver
    /// everything due.
    pub fn pop_due(
        &mut self,
        now: Instant,
        mut reachable: impl FnMut(SocketAddr) -> bool,
    ) -> Option<Delivery> {
        loop {
            let mut datagram = self.take_next(now)?;
            self.overtake(now, &datagram);
            let InFlight { id, from, to, .. } = *datagram;
            let applied = core::mem::take(&mut datagram.applied);
            if reachable(to) {
                self.trace.push(LinkEvent::Delivered {
                    id,
                    at: now,
                    from,
                    to,
                    payload: datagram.payload.clone(),
                    applied,
                });
                return Some(Delivery {
                    id,
                    at: now,
                    from,
                    to,
                    payload: datagram.payload,
                });
            }
            self.trace.push(LinkEvent::Undeliverable {
                id,
                at: now,
                from,
                to,
                payload: datagram.payload,
                applied,
            });
        }
    }

    /// [`end_run`](Self::end_run) at the last moment the trace has seen: what the link still
    /// holds never arrived, and is recorded so, with no traffic lost.
    pub fn end_run_at_last_event(&mut self) -> usize {
        let last = self
            .trace
            .iter()
            .map(LinkEvent::at)
            .max()
            .unwrap_or_default();
        self.end_run(last)
    }

    /// Ends the run at `now`: every datagram still in flight or held back is recorded as
    /// [`LinkEvent::InFlightAtEnd`] (in delivery order) and forgotten, so a capture written from the
    /// trace loses nothing. Returns how many there were.
    pub fn end_run(&mut self, now: Instant) -> usize {
        let mut left: Vec<Box<InFlight>> = self.released.drain(..).map(|(_, d)| d).collect();
        left.extend(std::mem::take(&mut self.queue).into_values());
        self.held.clear();
        let n = left.len();
        for d in left {
            self.trace.push(LinkEvent::InFlightAtEnd {
                id: d.id,
                at: now,
                from: d.from,
                to: d.to,
                payload: d.payload,
                applied: d.applied,
            });
        }
        n
    }

    /// Forgets the trace's events after `cut` (what happened after the run's end, which its
    /// capture leaves out), in place: a flooded run's trace is not copied.
    pub fn cut_trace_after(&mut self, cut: Instant) {
        self.trace.retain(|e| e.at() <= cut);
    }

    /// The next due datagram: released ones first, then the queue head.
    fn take_next(&mut self, now: Instant) -> Option<Box<InFlight>> {
        if self.released.front().is_some_and(|(at, _)| *at <= now) {
            return self.released.pop_front().map(|(_, d)| d);
        }
        let (&(at, seq), _) = self.queue.first_key_value()?;
        if at > now {
            return None;
        }
        let mut datagram = self.queue.remove(&(at, seq))?;
        if let Some(hold) = datagram.hold.take() {
            self.held.remove(&seq);
            datagram.applied.push(AppliedFault {
                rule: hold.rule,
                effect: FaultEffect::Released { by_timeout: true },
            });
        }
        Some(datagram)
    }

    /// `delivered` leaves the link: held datagrams on its path that it was sent after count it.
    fn overtake(&mut self, now: Instant, delivered: &InFlight) {
        let mut freed = Vec::new();
        for (&seq, &deadline) in &self.held {
            let Some(datagram) = self.queue.get_mut(&(deadline, seq)) else {
                continue;
            };
            if datagram.from != delivered.from
                || datagram.to != delivered.to
                || datagram.id >= delivered.id
            {
                continue;
            }
            if let Some(hold) = &mut datagram.hold {
                hold.remaining = hold.remaining.saturating_sub(1);
                if hold.remaining == 0 {
                    freed.push((deadline, seq));
                }
            }
        }
        for (deadline, seq) in freed {
            self.held.remove(&seq);
            let Some(mut datagram) = self.queue.remove(&(deadline, seq)) else {
                continue;
            };
            let Some(hold) = datagram.hold.take() else {
                continue;
            };
            datagram.applied.push(AppliedFault {
                rule: hold.rule,
                effect: FaultEffect::Released { by_timeout: false },
            });
            if hold.not_before <= now {
                self.released.push_back((now, datagram));
            } else {
                let seq = self.alloc_seq();
                self.queue.insert((hold.not_before, seq), datagram);
            }
        }
    }
}

/// Trace events a link has room for from the start (a fuzz input's run has a few hundred).
const TRACE_START_CAPACITY: usize = 256;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}
