//! What the schema cannot say about a scenario: names that must exist (kinds, decoded fields, rule
//! ids, citations, profiles), variables used before they are captured, and the limits every count
//! and size has (see [`crate::format`]'s `MAX_*`). The generic parts are checked here; the family
//! checks its own through [`Family::validate`] and [`Family::validate_action`], with the same
//! [`Validator`]. Each problem carries the path of the token it is about, so the loader can point at
//! file:line:column.

use std::collections::BTreeSet;

use handshake_net::FaultAction;
use serde_json::Value;

use crate::family::{Citations, Family};
use crate::format::{
    quoted, FaultSpec, Scenario, Step, MAX_PAYLOAD, MAX_STEPS, MAX_TIMES, MAX_WINDOW_MS,
};
use crate::json::Seg;

/// One thing wrong with a scenario, at a place in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where (the token it is about).
    pub path: Vec<Seg>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Every problem of `s` (empty when it is usable).
pub fn problems<F: Family>(s: &Scenario<F>) -> Vec<Problem> {
    let mut v = Validator {
        problems: Vec::new(),
        bound: BTreeSet::new(),
        citations: &F::VOCABULARY.citations,
    };
    v.scenario(s);
    v.problems
}

/// Collects the problems of one scenario (see the module docs).
#[derive(Debug)]
pub struct Validator<'a> {
    problems: Vec<Problem>,
    /// Variables set so far, in step order.
    bound: BTreeSet<String>,
    citations: &'a Citations,
}

/// `parts` as a path.
pub fn path(parts: &[Seg]) -> Vec<Seg> {
    parts.to_vec()
}

/// A key of a path.
pub fn key(k: impl Into<std::borrow::Cow<'static, str>>) -> Seg {
    Seg::key(k)
}

/// `at` followed by `more`.
pub fn sub(at: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut p = Vec::with_capacity(at.len() + more.len());
    p.extend_from_slice(at);
    p.extend_from_slice(more);
    p
}

impl Validator<'_> {
    /// Records a problem at `at`.
    pub fn problem(&mut self, at: Vec<Seg>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: at,
            message: message.into(),
        });
    }

    /// A problem when `value` is above `max`.
    pub fn at_most(&mut self, at: Vec<Seg>, what: &str, value: u64, max: u64) {
        if value > max {
            self.problem(at, format!("{what} is {value}, at most {max} is allowed"));
        }
    }

    /// Marks `$var` set from here on.
    pub fn bind(&mut self, var: &str) {
        self.bound.insert(var.to_owned());
    }

    /// A problem when `text` names a variable (`$name`) not captured yet (`$fresh` always is).
    /// Returns whether `text` is a variable.
    pub fn variable(&mut self, at: Vec<Seg>, text: &str) -> bool {
        match text.strip_prefix('$') {
            // `$name|DEFAULT` needs no capture.
            Some(var) if var.contains('|') => true,
            Some(var) => {
                if var != "fresh" && !self.bound.contains(var) {
                    self.problem(
                        at,
                        format!("variable `${var}` is used before any expect captures it"),
                    );
                }
                true
            }
            None => false,
        }
    }

    /// Bytes given as hex at `at`: a problem when it is not hex or longer than a datagram. Returns
    /// the number of bytes.
    pub fn hex(&mut self, at: Vec<Seg>, hex: &str) -> usize {
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

    /// Every id a scenario cites must be in its family's decision table (`harness decisions`).
    pub fn citation(&mut self, at: Vec<Seg>, basis: &str) {
        for id in crate::citations::ids(basis) {
            if self.citations.find(id).is_some() {
                continue;
            }
            let examples: Vec<&str> = self
                .citations
                .decisions
                .iter()
                .take(4)
                .map(|d| d.id)
                .collect();
            self.problem(
                at.clone(),
                format!(
                    "`{id}` is not a fact or decision id ({}, …; see `harness decisions`)",
                    examples.join(", ")
                ),
            );
        }
    }

    /// A basis names the ids one expectation rests on, and they must be of one class (contracts
    /// beside a fact only configure it): a fact beside a profile decision would hide a fact
    /// violation behind a deviation, or fail a program for a profile reading.
    pub fn basis(&mut self, at: Vec<Seg>, basis: &str) {
        self.citation(at.clone(), basis);
        let mut judged: Vec<(crate::Class, &str)> = crate::citations::ids(basis)
            .filter_map(|id| self.citations.class(id).map(|c| (c, id)))
            .filter(|(c, _)| *c != crate::Class::Contract)
            .collect();
        judged.sort();
        judged.dedup_by_key(|(c, _)| *c);
        if judged.len() > 1 {
            let named: Vec<String> = judged
                .iter()
                .map(|(c, id)| format!("`{id}` ({})", c.name()))
                .collect();
            self.problem(
                at,
                format!(
                    "the basis `{basis}` mixes classes ({}): split the expectation, the facts' \
                     set in one step and the profile's form (`prefer`) in its own",
                    named.join(", ")
                ),
            );
        }
    }

    fn profile_decision(&mut self, at: Vec<Seg>, id: &str, list: bool) {
        if self.citations.is_profile_decision(id) {
            return;
        }
        let known: Vec<&str> = self
            .citations
            .of(crate::Class::Profile)
            .map(|d| d.id)
            .collect();
        let hint = handshake_core::words::did_you_mean(id, known.iter().copied());
        self.problem(
            at,
            if list {
                format!(
                    "unknown profile decision `{id}`{hint}: expected one of {}",
                    known.join(", ")
                )
            } else {
                format!("unknown profile decision `{id}`{hint}")
            },
        );
    }

    fn scenario<F: Family>(&mut self, s: &Scenario<F>) {
        if let Some(p) = s.protocol.as_deref().filter(|p| *p != F::NAME) {
            self.problem(
                path(&[key("protocol")]),
                format!("protocol `{p}` is not {}", F::NAME),
            );
        }
        if let Some(p) = &s.profile {
            self.profile_decision(path(&[key("profile")]), &p.clone(), true);
        }
        for (i, d) in s.decisions.iter().enumerate() {
            self.citation(path(&[key("decisions"), Seg::Index(i)]), d);
        }
        if let Some(b) = &s.expect.basis {
            self.basis(path(&[key("expect"), key("basis")]), b);
        }
        if let Some(p) = &s.expect.profile {
            self.profile_decision(
                path(&[key("expect"), key("profile"), key("decision")]),
                &p.decision,
                false,
            );
        }
        for (i, f) in s.iut.requires.iter().enumerate() {
            if f != "restart" && !F::VOCABULARY.features.iter().any(|(name, _)| name == f) {
                let mut names: Vec<&str> = F::VOCABULARY.features.iter().map(|(n, _)| *n).collect();
                names.push("restart");
                self.problem(
                    path(&[key("iut"), key("requires"), Seg::Index(i)]),
                    format!(
                        "unknown feature `{f}`{}, expected one of {}",
                        handshake_core::words::did_you_mean(f, names.iter().copied()),
                        quoted(&names)
                    ),
                );
            }
        }
        if let Some(p) = &s.peer.reference {
            if let Err(e) = F::parse_profile(p) {
                self.problem(path(&[key("peer"), key("reference")]), e.to_string());
            }
        }
        if s.peer.reference.is_none() && s.peer.steps.is_empty() {
            self.problem(
                path(&[key("peer")]),
                "give a reference profile, steps, or both",
            );
        }
        F::validate(s, self);
        self.at_most(
            path(&[key("settle_ms")]),
            "settle_ms",
            s.settle_ms,
            MAX_WINDOW_MS,
        );
        for (i, rule) in s.rules.iter().enumerate() {
            self.rule::<F>(path(&[key("rules"), Seg::Index(i)]), rule, false);
        }
        for (i, f) in s.faults.iter().enumerate() {
            self.fault::<F>(path(&[key("faults"), Seg::Index(i)]), f);
        }
        self.at_most(
            path(&[key("peer"), key("steps")]),
            "the number of steps",
            s.peer.steps.len() as u64,
            MAX_STEPS as u64,
        );
        for (i, step) in s.peer.steps.iter().enumerate() {
            self.step(s, i, step);
        }
        for (i, rule) in s.expect.rules_hold.iter().enumerate() {
            self.rule::<F>(
                path(&[key("expect"), key("rules_hold"), Seg::Index(i)]),
                rule,
                true,
            );
        }
        for (i, rule) in s.expect.rules_fire.iter().enumerate() {
            self.rule::<F>(
                path(&[key("expect"), key("rules_fire"), Seg::Index(i)]),
                rule,
                false,
            );
        }
    }

    /// One of the peer's steps (the `i`th).
    fn step<F: Family>(&mut self, s: &Scenario<F>, i: usize, step: &Step<F::Action>) {
        let at = |more: &[Seg]| sub(&[key("peer"), key("steps"), Seg::Index(i)], more);
        match step {
            Step::Action(a) => {
                let name = step.name();
                F::validate_action(s, a, &at(&[key(name)]), self);
            }
            Step::Expect(e) => {
                if let Some(b) = &e.basis {
                    self.basis(at(&[key("expect"), key("basis")]), b);
                }
                self.at_most(
                    at(&[key("expect"), key("within_ms")]),
                    "within_ms",
                    e.within_ms,
                    MAX_WINDOW_MS,
                );
                self.kind::<F>(at(&[key("expect"), key("kind")]), &e.kind);
                self.fields::<F>(
                    &at(&[key("expect"), key("where")]),
                    &e.kind,
                    e.fields.iter(),
                );
                for (var, field) in &e.capture {
                    if !known_field::<F>(&e.kind, field) {
                        let known = kind_fields::<F>(&e.kind).join(", ");
                        self.problem(
                            at(&[key("expect"), key("capture"), key(var.clone())]),
                            format!(
                                "`{field}` is not a field of a decoded {}: expected one of {known}",
                                e.kind
                            ),
                        );
                    }
                    self.bind(var);
                }
                for (j, o) in e.any_of.iter().enumerate() {
                    let at = |more: &[Seg]| {
                        at(&[key("expect"), key("any_of"), Seg::Index(j), more[0].clone()])
                    };
                    self.kind::<F>(at(&[key("kind")]), &o.kind);
                    self.fields::<F>(&at(&[key("where")]), &o.kind, o.fields.iter());
                }
                if let Some(p) = &e.prefer {
                    let at = |k: &'static str| at(&[key("expect"), key("prefer"), key(k)]);
                    self.kind::<F>(at("kind"), &p.kind);
                    self.fields::<F>(&at("where"), &p.kind, p.fields.iter());
                    self.basis(at("basis"), &p.basis);
                    if self.citations.verdict_class(&p.basis) == crate::Class::Fact {
                        self.problem(
                            at("basis"),
                            format!(
                                "`prefer` is the profile's form among what the facts allow: its \
                                 basis `{}` is a fact (put a fact in the step's `basis` and \
                                 `any_of`)",
                                p.basis
                            ),
                        );
                    }
                }
            }
            Step::ExpectNone(e) => {
                if let Some(b) = &e.basis {
                    self.basis(at(&[key("expect_none"), key("basis")]), b);
                }
                self.at_most(
                    at(&[key("expect_none"), key("for_ms")]),
                    "for_ms",
                    e.for_ms,
                    MAX_WINDOW_MS,
                );
                self.kind::<F>(at(&[key("expect_none"), key("kind")]), &e.kind);
                self.fields::<F>(
                    &at(&[key("expect_none"), key("where")]),
                    &e.kind,
                    e.fields.iter(),
                );
            }
            Step::Wait(w) => self.at_most(at(&[key("wait"), key("ms")]), "ms", w.ms, MAX_WINDOW_MS),
            Step::Fault(f) => self.fault::<F>(at(&[key("fault")]), f),
        }
    }

    fn rule<F: Family>(&mut self, at: Vec<Seg>, rule: &str, all_allowed: bool) {
        if (all_allowed && rule == "all")
            || handshake_check::rules::find_in(F::VOCABULARY.rules, F::NAME, rule).is_some()
        {
            return;
        }
        let known: Vec<&str> = F::VOCABULARY.rules.iter().map(|r| r.id).collect();
        self.problem(
            at,
            format!(
                "unknown checker rule `{rule}`: expected {}one of {}",
                if all_allowed { "`all` or " } else { "" },
                known.join(", ")
            ),
        );
    }

    fn kind<F: Family>(&mut self, at: Vec<Seg>, kind: &str) {
        let names = kind_names::<F>();
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

    fn fields<'v, F: Family>(
        &mut self,
        at: &[Seg],
        kind: &str,
        fields: impl Iterator<Item = (&'v String, &'v Value)>,
    ) {
        let known_kind = kind_names::<F>().contains(&kind);
        for (field, want) in fields {
            if known_kind && !known_field::<F>(kind, field) {
                let known = kind_fields::<F>(kind).join(", ");
                self.problem(
                    sub(at, &[Seg::KeyName(field.clone().into())]),
                    format!(
                        "`{field}` is not a field of a decoded {kind}: expected one of {known}"
                    ),
                );
            }
            if let Some(var) = want.as_str().and_then(|s| s.strip_prefix('$')) {
                // Compared when set, captured when not.
                self.bind(var);
            }
        }
    }

    fn fault<F: Family>(&mut self, at: Vec<Seg>, f: &FaultSpec) {
        let field = |k: &'static str| sub(&at, &[key(k)]);
        if let Some(kind) = &f.kind {
            let names = F::link_classes();
            if !names.contains(&kind.as_str()) {
                self.problem(
                    field("kind"),
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
                    field("probability"),
                    format!("probability {p} is not between 0 and 1"),
                );
            }
        }
        if let Err(e) = validate_action(&f.action) {
            self.problem(field("action"), e);
        }
    }
}

/// The kinds `expect` and `expect_none` take: the family's, and `any`.
pub fn kind_names<F: Family>() -> Vec<&'static str> {
    let mut names = F::unit_kinds();
    names.push("any");
    names
}

/// The decoded fields of `kind` (of every kind for `any`; nothing for an unknown kind).
pub fn kind_fields<F: Family>(kind: &str) -> Vec<&'static str> {
    let mut fields: Vec<&str> = match kind {
        "any" => F::unit_kinds()
            .into_iter()
            .flat_map(F::unit_fields)
            .collect(),
        name => F::unit_fields(name),
    };
    fields.sort_unstable();
    fields.dedup();
    fields
}

fn known_field<F: Family>(kind: &str, field: &str) -> bool {
    // As `kind_fields(kind).contains(field)`, without sorting every field of every kind for
    // each `where` of an `any` expectation (every fuzz input is validated).
    match kind {
        "any" => F::unit_kinds()
            .into_iter()
            .any(|k| F::unit_fields(k).contains(&field)),
        name => F::unit_fields(name).contains(&field),
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
