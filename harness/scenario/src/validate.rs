//! What the schema cannot say about a scenario: names that must exist (kinds, decoded fields,
//! rule ids, metrics, drop reasons, profiles, modes), variables used before they are captured,
//! and the limits every count and size has (see [`crate::model`]'s `MAX_*`). Each problem
//! carries the path of the token it is about, so the loader can point at file:line:column.

use std::collections::BTreeSet;

use handshake_mediastream_endpoint::{DropReason, Profile};
use handshake_mediastream_wire::{decoded_fields, Kind, CONNECTION_ID_LEN};
use handshake_net::FaultAction;
use serde_json::Value;

use crate::json::Seg;
use crate::model::{
    ControlSpec, DatagramSpec, FaultSpec, Scenario, SendStep, Step, MAX_DATAGRAMS_PER_SEND,
    MAX_PAYLOAD, MAX_STEPS, MAX_TIMES, MAX_WINDOW_MS, NEGOTIATED_MODES,
};
use crate::outcome::METRIC_NAMES;

/// One thing wrong with a scenario, at a place in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where (the token it is about).
    pub path: Vec<Seg>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Kind names `expect` and `expect_none` take.
pub fn kind_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    names.extend(["malformed", "any"]);
    names
}

/// Every problem of `s` (empty when it is usable).
pub fn problems(s: &Scenario) -> Vec<Problem> {
    let mut v = Validator {
        problems: Vec::new(),
        bound: BTreeSet::new(),
    };
    v.scenario(s);
    v.problems
}

struct Validator {
    problems: Vec<Problem>,
    /// Variables set so far, in step order.
    bound: BTreeSet<String>,
}

fn path(parts: &[Seg]) -> Vec<Seg> {
    parts.to_vec()
}

fn key(k: &str) -> Seg {
    Seg::key(k)
}

impl Validator {
    fn problem(&mut self, at: Vec<Seg>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: at,
            message: message.into(),
        });
    }

    fn at_most(&mut self, at: Vec<Seg>, what: &str, value: u64, max: u64) {
        if value > max {
            self.problem(at, format!("{what} is {value}, at most {max} is allowed"));
        }
    }

    /// Every id of a basis must be a fact or decision (or the scenario's own profile decision).
    fn citation(&mut self, at: Vec<Seg>, basis: &str, profile: Option<&str>) {
        for id in crate::citations::ids(basis) {
            // A profile scenario may cite profile decisions; a fact scenario only facts.
            if crate::citations::is_fact(id)
                || (profile.is_some() && crate::citations::is_profile_decision(id))
            {
                continue;
            }
            let hint = if crate::citations::is_profile_decision(id) {
                " (a profile decision: cite it in `profile` or an `expect.profile` block, where a miss is a deviation)"
            } else {
                ""
            };
            self.problem(
                at.clone(),
                format!("`{id}` is not a fact or decision id (D1…D15, wire, frames.*, legacy.*, …; see `harness coverage`){hint}"),
            );
        }
    }

    fn scenario(&mut self, s: &Scenario) {
        let profile = s.profile.as_deref();
        if let Some(p) = profile {
            if !crate::citations::is_profile_decision(p) {
                let known: Vec<&str> = crate::citations::PROFILE_DECISIONS
                    .iter()
                    .map(|(id, _)| *id)
                    .collect();
                self.problem(
                    path(&[key("profile")]),
                    format!(
                        "unknown profile decision `{p}`: expected one of {}",
                        known.join(", ")
                    ),
                );
            }
        }
        for (i, d) in s.decisions.iter().enumerate() {
            let d = d.clone();
            self.citation(path(&[key("decisions"), Seg::Index(i)]), &d, profile);
        }
        if let Some(b) = &s.expect.basis {
            self.citation(path(&[key("expect"), key("basis")]), b, profile);
        }
        if let Some(p) = &s.expect.profile {
            if !crate::citations::is_profile_decision(&p.decision) {
                self.problem(
                    path(&[key("expect"), key("profile"), key("decision")]),
                    format!("unknown profile decision `{}`", p.decision),
                );
            }
        }
        if let Some(p) = &s.peer.reference {
            if let Err(e) = Profile::parse(p) {
                self.problem(path(&[key("peer"), key("reference")]), e.to_string());
            }
        }
        if s.peer.reference.is_none() && s.peer.steps.is_empty() {
            self.problem(
                path(&[key("peer")]),
                "give a reference profile, steps, or both",
            );
        }
        if let Err(e) = s.stream.validate() {
            self.problem(path(&[key("stream")]), e.to_string());
        }
        self.at_most(
            path(&[key("settle_ms")]),
            "settle_ms",
            s.settle_ms,
            MAX_WINDOW_MS,
        );
        for (i, rule) in s.rules.iter().enumerate() {
            self.rule(path(&[key("rules"), Seg::Index(i)]), rule, false);
        }
        for (i, f) in s.faults.iter().enumerate() {
            self.fault(path(&[key("faults"), Seg::Index(i)]), f);
        }
        self.at_most(
            path(&[key("peer"), key("steps")]),
            "the number of steps",
            s.peer.steps.len() as u64,
            MAX_STEPS as u64,
        );
        for (i, step) in s.peer.steps.iter().enumerate() {
            let at = |more: &[Seg]| {
                let mut p = vec![key("peer"), key("steps"), Seg::Index(i)];
                p.extend_from_slice(more);
                p
            };
            match step {
                Step::Send(send) => self.send(&at(&[key("send")]), send, s),
                Step::Expect(e) => {
                    if let Some(b) = &e.basis {
                        self.citation(at(&[key("expect"), key("basis")]), b, profile);
                    }
                    self.at_most(
                        at(&[key("expect"), key("within_ms")]),
                        "within_ms",
                        e.within_ms,
                        MAX_WINDOW_MS,
                    );
                    self.kind(at(&[key("expect"), key("kind")]), &e.kind);
                    self.fields(
                        &at(&[key("expect"), key("where")]),
                        &e.kind,
                        e.fields.iter(),
                    );
                    for (var, field) in &e.capture {
                        if !self.known_field(&e.kind, field) {
                            let known = self.fields_text(&e.kind);
                            self.problem(
                                at(&[key("expect"), key("capture"), key(var)]),
                                format!("`{field}` is not a field of a decoded {}: expected one of {known}", e.kind),
                            );
                        }
                        self.bound.insert(var.clone());
                    }
                }
                Step::ExpectNone(e) => {
                    if let Some(b) = &e.basis {
                        self.citation(at(&[key("expect_none"), key("basis")]), b, profile);
                    }
                    self.at_most(
                        at(&[key("expect_none"), key("for_ms")]),
                        "for_ms",
                        e.for_ms,
                        MAX_WINDOW_MS,
                    );
                    self.kind(at(&[key("expect_none"), key("kind")]), &e.kind);
                    self.fields(
                        &at(&[key("expect_none"), key("where")]),
                        &e.kind,
                        e.fields.iter(),
                    );
                }
                Step::Wait(w) => {
                    self.at_most(at(&[key("wait"), key("ms")]), "ms", w.ms, MAX_WINDOW_MS)
                }
                Step::Fault(f) => self.fault(at(&[key("fault")]), f),
            }
        }
        let expect = &s.expect;
        if let Some(mode) = &expect.negotiated_mode {
            if !NEGOTIATED_MODES.contains(&mode.as_str()) {
                self.problem(
                    path(&[key("expect"), key("negotiated_mode")]),
                    format!(
                        "unknown negotiated mode `{mode}`: expected one of {}",
                        NEGOTIATED_MODES.join(", ")
                    ),
                );
            }
        }
        for name in expect.metrics.keys() {
            if !METRIC_NAMES.contains(&name.as_str()) {
                self.problem(
                    path(&[key("expect"), key("metrics"), Seg::KeyName(name.clone())]),
                    format!(
                        "unknown metric `{name}`: expected one of {}",
                        METRIC_NAMES.join(", ")
                    ),
                );
            }
        }
        for name in expect.validation_errors.keys() {
            if !DropReason::ALL.iter().any(|r| r.name() == name) {
                let known: Vec<&str> = DropReason::ALL.iter().map(|r| r.name()).collect();
                self.problem(
                    path(&[
                        key("expect"),
                        key("validation_errors"),
                        Seg::KeyName(name.clone()),
                    ]),
                    format!(
                        "unknown drop reason `{name}`: expected one of {}",
                        known.join(", ")
                    ),
                );
            }
        }
        for (i, rule) in expect.rules_hold.iter().enumerate() {
            self.rule(
                path(&[key("expect"), key("rules_hold"), Seg::Index(i)]),
                rule,
                true,
            );
        }
        for (i, rule) in expect.rules_fire.iter().enumerate() {
            self.rule(
                path(&[key("expect"), key("rules_fire"), Seg::Index(i)]),
                rule,
                false,
            );
        }
    }

    fn rule(&mut self, at: Vec<Seg>, rule: &str, all_allowed: bool) {
        if (all_allowed && rule == "all")
            || handshake_mediastream_judge::rules::by_id(rule).is_some()
        {
            return;
        }
        let known: Vec<&str> = handshake_mediastream_judge::rules::ALL
            .iter()
            .map(|r| r.id)
            .collect();
        self.problem(
            at,
            format!(
                "unknown checker rule `{rule}`: expected {}one of {}",
                if all_allowed { "`all` or " } else { "" },
                known.join(", ")
            ),
        );
    }

    fn kind(&mut self, at: Vec<Seg>, kind: &str) {
        let names = kind_names();
        if !names.contains(&kind) {
            self.problem(
                at,
                format!(
                    "unknown kind `{kind}`: expected one of {}",
                    names.join(", ")
                ),
            );
        }
    }

    fn known_field(&self, kind: &str, field: &str) -> bool {
        self.kind_fields(kind).contains(&field)
    }

    /// The decoded fields of `kind` (of every kind for `any`; nothing for an unknown kind, which
    /// is reported once already).
    fn kind_fields(&self, kind: &str) -> Vec<&'static str> {
        let mut fields: Vec<&str> = match kind {
            "any" => Kind::ALL
                .iter()
                .flat_map(|k| decoded_fields(Some(*k)).iter().copied())
                .chain(decoded_fields(None).iter().copied())
                .collect(),
            "malformed" => decoded_fields(None).to_vec(),
            name => Kind::ALL
                .iter()
                .find(|k| k.name() == name)
                .map(|k| decoded_fields(Some(*k)).to_vec())
                .unwrap_or_default(),
        };
        fields.sort_unstable();
        fields.dedup();
        fields
    }

    fn fields_text(&self, kind: &str) -> String {
        self.kind_fields(kind).join(", ")
    }

    fn fields<'a>(
        &mut self,
        at: &[Seg],
        kind: &str,
        fields: impl Iterator<Item = (&'a String, &'a Value)>,
    ) {
        let known_kind = kind_names().contains(&kind);
        for (field, want) in fields {
            if known_kind && !self.known_field(kind, field) {
                let mut p = at.to_vec();
                p.push(Seg::KeyName(field.clone()));
                let known = self.fields_text(kind);
                self.problem(
                    p,
                    format!(
                        "`{field}` is not a field of a decoded {kind}: expected one of {known}"
                    ),
                );
            }
            if let Some(var) = want.as_str().and_then(|s| s.strip_prefix('$')) {
                // Compared when set, captured when not.
                self.bound.insert(var.to_owned());
            }
        }
    }

    fn variable(&mut self, at: Vec<Seg>, text: &str) {
        if let Some(var) = text.strip_prefix('$') {
            if var != "fresh" && !self.bound.contains(var) {
                self.problem(
                    at,
                    format!("variable `${var}` is used before any expect captures it"),
                );
            }
        } else if let Err(e) = handshake_mediastream_wire::ConnectionId::from_escaped(text) {
            self.problem(
                at,
                format!("`{text}` is not a connection id: {e} (at most {CONNECTION_ID_LEN} bytes, escaped)"),
            );
        }
    }

    fn hex(&mut self, at: Vec<Seg>, hex: &str) -> usize {
        match crate::script::hex_bytes(hex) {
            Ok(bytes) => {
                self.at_most(at, "the datagram", bytes.len() as u64, MAX_PAYLOAD as u64);
                bytes.len()
            }
            Err(e) => {
                self.problem(at, e);
                0
            }
        }
    }

    fn control(&mut self, at: &[Seg], c: &ControlSpec, default_assigned: bool) {
        let mut p = at.to_vec();
        match &c.id {
            Some(id) => {
                p.push(key("id"));
                self.variable(p, id);
            }
            None if default_assigned => self.variable(p, "$assigned_id"),
            None => {}
        }
        if let Some(hex) = &c.options_hex {
            let mut p = at.to_vec();
            p.push(key("options_hex"));
            self.hex(p, hex);
        }
    }

    fn send(&mut self, at: &[Seg], send: &SendStep, s: &Scenario) {
        let sub = |more: &[Seg]| {
            let mut p = at.to_vec();
            p.extend_from_slice(more);
            p
        };
        self.at_most(
            sub(&[key("times")]),
            "times",
            u64::from(send.times),
            MAX_TIMES,
        );
        if send.times == 0 {
            self.problem(
                sub(&[key("times")]),
                "times is 0: a send step sends at least once",
            );
        }
        if let Some(len) = send.truncate_to {
            self.at_most(
                sub(&[key("truncate_to")]),
                "truncate_to",
                len as u64,
                MAX_PAYLOAD as u64,
            );
        }
        let d = sub(&[key("datagram")]);
        let datagrams: u64 = match &send.datagram {
            DatagramSpec::Start {} => 1,
            DatagramSpec::Syn(c) => {
                self.control(&[d.clone(), vec![key("syn")]].concat(), c, false);
                1
            }
            DatagramSpec::SynAck(c) => {
                self.control(&[d.clone(), vec![key("syn_ack")]].concat(), c, true);
                1
            }
            DatagramSpec::Ack(c) => {
                self.control(&[d.clone(), vec![key("ack")]].concat(), c, true);
                1
            }
            DatagramSpec::ConnectionId { id } => {
                self.variable(
                    [d.clone(), vec![key("connection_id"), key("id")]].concat(),
                    id,
                );
                1
            }
            DatagramSpec::Data {
                payload_len,
                payload_hex,
                ..
            } => {
                if let Some(len) = payload_len {
                    self.at_most(
                        [d.clone(), vec![key("data"), key("payload_len")]].concat(),
                        "payload_len",
                        *len as u64,
                        MAX_PAYLOAD as u64,
                    );
                }
                if let Some(hex) = payload_hex {
                    self.hex(
                        [d.clone(), vec![key("data"), key("payload_hex")]].concat(),
                        hex,
                    );
                }
                1
            }
            DatagramSpec::DataFrag { payload_len, .. } => {
                self.at_most(
                    [d.clone(), vec![key("data_frag"), key("payload_len")]].concat(),
                    "payload_len",
                    *payload_len as u64,
                    MAX_PAYLOAD as u64,
                );
                1
            }
            DatagramSpec::Frames { from, to } => {
                let at = [d.clone(), vec![key("frames")]].concat();
                if to < from {
                    self.problem(
                        at.clone(),
                        format!("frames from {from} to {to}: `to` is before `from`"),
                    );
                }
                let per_frame = s.stream.plan().map_or(1, |p| p.iter().count() as u64);
                to.saturating_sub(*from)
                    .saturating_add(1)
                    .saturating_mul(per_frame)
            }
            DatagramSpec::Raw { hex } => {
                self.hex([d.clone(), vec![key("raw"), key("hex")]].concat(), hex);
                1
            }
        };
        self.at_most(
            at.to_vec(),
            "the datagrams this step sends (times x datagrams)",
            datagrams.saturating_mul(u64::from(send.times)),
            MAX_DATAGRAMS_PER_SEND,
        );
    }

    fn fault(&mut self, at: Vec<Seg>, f: &FaultSpec) {
        let sub = |k: &str| {
            let mut p = at.clone();
            p.push(key(k));
            p
        };
        if let Some(kind) = &f.kind {
            let names = kind_names();
            if kind == "any" || !names.contains(&kind.as_str()) {
                let names: Vec<&str> = names.into_iter().filter(|n| *n != "any").collect();
                self.problem(
                    sub("kind"),
                    format!(
                        "unknown kind `{kind}`: expected one of {} (or no kind: every datagram)",
                        names.join(", ")
                    ),
                );
            }
        }
        if let Some(p) = f.probability {
            if !(0.0..=1.0).contains(&p) {
                self.problem(
                    sub("probability"),
                    format!("probability {p} is not between 0 and 1"),
                );
            }
        }
        if let Err(e) = validate_action(&f.action) {
            self.problem(sub("action"), e);
        }
    }
}

/// Bounds on a fault action's numbers.
fn validate_action(action: &FaultAction) -> Result<(), String> {
    let limit = |what: &str, v: u64, max: u64| {
        if v > max {
            Err(format!("{what} is {v}, at most {max} is allowed"))
        } else {
            Ok(())
        }
    };
    match action {
        FaultAction::Drop => Ok(()),
        FaultAction::Duplicate { copies, spacing_ms } => {
            limit(
                "copies",
                u64::from(*copies),
                u64::from(handshake_net::MAX_COPIES),
            )?;
            limit("spacing_ms", *spacing_ms, MAX_WINDOW_MS)
        }
        FaultAction::Delay { ms } => limit("ms", *ms, MAX_WINDOW_MS),
        FaultAction::Reorder { hold } => limit("hold", u64::from(*hold), MAX_TIMES),
        FaultAction::Truncate { len } => limit("len", *len as u64, MAX_PAYLOAD as u64),
        FaultAction::Corrupt { offset, .. } => limit("offset", *offset as u64, MAX_PAYLOAD as u64),
        FaultAction::CorruptRandom { bytes } => {
            limit("bytes", u64::from(*bytes), MAX_PAYLOAD as u64)
        }
    }
}
