//! A scenario's outcome: what was observed, judged against the scenario's expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use handshake_check::{Basis, Violation};
use serde::Serialize;

use crate::family::Family;
use crate::format::Scenario;

/// The verdict on one scenario run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// An expectation failed.
    Fail,
    /// The IUT lacks a required feature; not run.
    Unsupported,
    /// The scenario could not be run (bad scenario, IUT would not start …).
    Error,
}

impl Verdict {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unsupported => "unsupported",
            Verdict::Error => "error",
        }
    }
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptLine {
    /// Time since the start, ms.
    pub at_ms: f64,
    /// What happened.
    pub text: String,
}

/// A transcript from the events of the endpoints the harness ran and the script's markers, in
/// time order: each event as `IUT: …` or `harness: …` (families whose events say it all).
pub fn event_transcript<E: std::fmt::Display>(
    events: &[handshake_net::SimEvent<E>],
    iut: std::net::SocketAddr,
    markers: &[(handshake_core::Instant, String)],
) -> Vec<TranscriptLine> {
    let mut lines: Vec<(handshake_core::Instant, String)> = events
        .iter()
        .map(|e| {
            let who = if e.endpoint == iut { "IUT" } else { "harness" };
            (e.at, format!("{who}: {}", e.event))
        })
        .collect();
    lines.extend(markers.iter().cloned());
    lines.sort_by_key(|(t, _)| *t);
    lines
        .into_iter()
        .map(|(t, text)| TranscriptLine {
            at_ms: t.as_nanos() as f64 / 1e6,
            text,
        })
        .collect()
}

impl std::fmt::Display for TranscriptLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:>10.3} ms  {}", self.at_ms, self.text)
    }
}

/// Percentiles of a latency the harness measured on itself, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub samples: usize,
    /// Median.
    pub median_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// The percentiles of `samples` (all zero when there are none).
    pub fn of(samples: &[std::time::Duration]) -> Latency {
        let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| -> f64 {
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(i).copied().unwrap_or(0.0)
        };
        Latency {
            samples: sorted.len(),
            median_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// How a real-time run was timed: the tolerance its timing verdicts used and the harness's own
/// lateness, measured during the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    /// The configured tolerance (`--tolerance-ms`).
    pub tolerance_ms: f64,
    /// What `expect` windows were widened by at the end: the tolerance plus the largest harness
    /// lateness seen (its timers', and its QUIC stack's idle notice past the idle timeout).
    pub slack_ms: f64,
    /// Whether every datagram from the IUT was timed by the kernel (`SO_TIMESTAMPNS`).
    pub kernel_receive_stamps: bool,
    /// How long datagrams waited in the socket before the harness read them.
    pub harness_read_delay: Latency,
    /// How late the harness's timers fired (its sends through the link and the reference peer's).
    pub harness_timer_lateness: Latency,
}

/// What a family observed of a run (beyond rules and steps): serialized into the outcome's JSON
/// (flattened among its fields) and rendered as lines of its text form.
pub trait Observations: erased_serde::Serialize + fmt::Debug + Send + Sync + 'static {
    /// Lines of the outcome's text rendering (each ending with a newline).
    fn render(&self, out: &mut String);
    /// The same as labelled facts, for the HTML report.
    fn facts(&self) -> Vec<(String, String)>;
}

erased_serde::serialize_trait_object!(Observations);

/// No observations (a run that never happened: unsupported, error before the start).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Nothing {}

impl Observations for Nothing {
    fn render(&self, _: &mut String) {}
    fn facts(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// What a run observed (the engine fills it; [`judge`] compares it with the expectations).
#[derive(Debug)]
pub struct Observed<O> {
    /// The family's observations.
    pub family: O,
    /// The checker's violations on the capture.
    pub violations: Vec<Violation>,
    /// The IUT's address in the capture.
    pub iut_addr: SocketAddr,
    /// Failed steps.
    pub step_failures: Vec<String>,
    /// Missed steps that rest on profile decisions only.
    pub step_deviations: Vec<String>,
    /// Missed steps that rest on contracts only (the scenario could not run).
    pub unmet_contracts: Vec<String>,
    /// Missed steps that rest on a MAY (not judged).
    pub step_notes: Vec<String>,
    /// The step whose deviation ended the script early, if one did: what the script's end would
    /// have shown is then not judged.
    pub cut_short: Option<usize>,
}

/// The outcome of one scenario against one IUT.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioOutcome {
    /// Scenario id.
    pub scenario: String,
    /// Scenario title.
    pub title: String,
    /// The IUT (e.g. `ref:3way`).
    pub iut: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it failed, was unsupported, or errored (empty on pass): cause first. The first
    /// [`causes`](Self::causes) name the rules that broke; the rest is what followed from them
    /// (failed steps, missed expectations), or, when no rule broke, every reason.
    pub reasons: Vec<String>,
    /// How many of the leading `reasons` name a rule that broke (0: none did, and the reasons are
    /// not split).
    #[serde(skip_serializing_if = "is_zero")]
    pub causes: usize,
    /// The first violation of each rule that fired, in rule id order: where and when it first
    /// broke, for the HTML report.
    #[serde(skip)]
    pub first_violations: Vec<Violation>,
    /// Checks of this project's own profile decisions (beyond the facts) that did not hold: a
    /// `deviation`, not a failure, unless `--strict-profile`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deviations: Vec<String>,
    /// What the IUT did otherwise where the sources say MAY: never judged, reported.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the family observed (its JSON fields are the outcome's).
    #[serde(flatten)]
    pub observed: Arc<dyn Observations>,
    /// Checker rule ids that fired, with counts.
    pub rules_fired: BTreeMap<String, usize>,
    /// Rules of `rules_fired` whose every kept violation was on a datagram the harness sent: what
    /// the scenario made the harness send, not the IUT's doing (`harness fuzz` ignores them).
    #[serde(skip)]
    pub rules_on_harness_datagrams: BTreeSet<String>,
    /// Expectations not judged because this IUT cannot show them (e.g. an external IUT's drop counters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_observable: Vec<String>,
    /// Real-time runs: the tolerance used and the harness's measured lateness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// The scenario's family.
    #[serde(skip)]
    pub protocol: &'static str,
    /// The system said nothing listens at the IUT's address (further runs against it are pointless).
    #[serde(skip)]
    pub iut_unreachable: bool,
    /// The run was cut short by Ctrl-C (what it observed so far is kept).
    #[serde(skip)]
    pub interrupted: bool,
    /// The decoded exchange with virtual (or real) times.
    pub transcript: Vec<TranscriptLine>,
    /// The capture as the IUT saw it (pcapng); empty after a run that kept only its judgement
    /// ([`Keep::Judgement`](crate::engine::Keep)).
    #[serde(skip)]
    pub capture: Vec<u8>,
    /// The capture's size, bytes (without one, roughly what it would take): what the run cost.
    #[serde(skip)]
    pub traffic_bytes: usize,
    /// Every unit the IUT sent while the steps ran, decoded, with its time in ms (as the
    /// transcript's): only after a run asked for them ([`Keep::Units`](crate::engine::Keep)).
    #[serde(skip)]
    pub iut_units: Vec<(f64, serde_json::Value)>,
}

/// A run's outcome with its family's observations also typed, for family code that reads them
/// back (an interop cell): `outcome.observed` holds the same value, erased.
#[derive(Debug, Clone)]
pub struct TypedOutcome<F: Family> {
    /// The outcome, as reports and the runner see it.
    pub outcome: ScenarioOutcome,
    /// Its observations, typed.
    pub observed: Arc<F::Observations>,
}

impl<F: Family> TypedOutcome<F> {
    /// `outcome` with `observed` as its observations, in both forms.
    pub fn new(mut outcome: ScenarioOutcome, observed: Arc<F::Observations>) -> TypedOutcome<F> {
        outcome.observed = observed.clone();
        TypedOutcome { outcome, observed }
    }

    /// An outcome of a run that observed nothing (not run, an error): the family's default
    /// observations, as [`ScenarioOutcome::not_run`] gives.
    pub fn unobserved(outcome: ScenarioOutcome) -> TypedOutcome<F> {
        TypedOutcome::new(outcome, Arc::new(F::Observations::default()))
    }
}

/// The step (1-based) a reason is about: `step 7: …`.
pub fn failed_step(reason: &str) -> Option<usize> {
    let rest = reason.strip_prefix("step ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The check a reason is about: `rule ID`, `step N`, or the reason itself
/// ([`ScenarioOutcome::broken_checks`]).
pub fn check_key(reason: &str) -> String {
    if let Some(rest) = reason.strip_prefix("rule ") {
        let rule = rest.split_whitespace().next().unwrap_or_default();
        return format!("rule {rule}");
    }
    match failed_step(reason) {
        Some(n) => format!("step {n}"),
        None => reason.to_owned(),
    }
}

impl ScenarioOutcome {
    /// The reason saying an external IUT ended during the run other than with exit code 0 (it
    /// crashed), if one does.
    pub fn iut_crash(&self) -> Option<&str> {
        self.reasons
            .iter()
            .find(|r| r.contains("the IUT ended (") && !r.contains("(exit code 0)"))
            .map(String::as_str)
    }

    /// Whether a step after the first `steps` failed: what a liveness probe appended after them
    /// shows (an IUT that no longer answers).
    pub fn failed_after(&self, steps: usize) -> bool {
        self.reasons
            .iter()
            .filter_map(|r| failed_step(r))
            .any(|n| n > steps)
    }

    /// The checks a run broke, one key each: `rule ID` for a rule, `step N` for a step, else the
    /// reason itself; its deviations too when `strict`. Two runs of one scenario are told apart
    /// by these (a program's mutant breaks what the unmutated program does not), not by their
    /// verdicts: a program's own deviation everywhere would hide every mutant's.
    pub fn broken_checks(&self, strict: bool) -> BTreeSet<String> {
        let failing: &[String] = match self.verdict {
            Verdict::Fail if self.causes > 0 => {
                &self.reasons[..self.causes.min(self.reasons.len())]
            }
            Verdict::Fail => &self.reasons,
            _ => &[],
        };
        let deviations: &[String] = if strict { &self.deviations } else { &[] };
        failing
            .iter()
            .chain(deviations)
            .map(|reason| check_key(reason))
            .collect()
    }

    /// An outcome with nothing observed (the run did not happen, or not far).
    pub fn empty(
        protocol: &'static str,
        id: &str,
        title: &str,
        iut: &str,
        verdict: Verdict,
        reason: String,
        observed: Arc<dyn Observations>,
    ) -> ScenarioOutcome {
        ScenarioOutcome {
            scenario: id.to_owned(),
            title: title.to_owned(),
            iut: iut.to_owned(),
            verdict,
            reasons: vec![reason],
            causes: 0,
            first_violations: Vec::new(),
            deviations: Vec::new(),
            notes: Vec::new(),
            observed,
            protocol,
            rules_fired: BTreeMap::new(),
            rules_on_harness_datagrams: BTreeSet::new(),
            not_observable: Vec::new(),
            timing: None,
            iut_unreachable: false,
            interrupted: false,
            transcript: Vec::new(),
            capture: Vec::new(),
            traffic_bytes: 0,
            iut_units: Vec::new(),
        }
    }

    /// Not run: the IUT lacks a feature.
    pub fn unsupported<F: Family>(
        scenario: &Scenario<F>,
        iut: &str,
        why: String,
    ) -> ScenarioOutcome {
        ScenarioOutcome::of(scenario, iut, Verdict::Unsupported, why)
    }

    /// Could not run.
    pub fn error<F: Family>(scenario: &Scenario<F>, iut: &str, why: String) -> ScenarioOutcome {
        ScenarioOutcome::of(scenario, iut, Verdict::Error, why)
    }

    /// Did not run to a judgement: `unsupported` for a combination that cannot run, `error` for
    /// every other kind.
    pub fn of_error<F: Family>(
        scenario: &Scenario<F>,
        iut: &str,
        error: crate::FamilyError,
    ) -> ScenarioOutcome {
        match error {
            crate::FamilyError::Unsupported { reason } => {
                ScenarioOutcome::unsupported(scenario, iut, reason)
            }
            other => ScenarioOutcome::error(scenario, iut, other.to_string()),
        }
    }

    fn of<F: Family>(
        scenario: &Scenario<F>,
        iut: &str,
        verdict: Verdict,
        why: String,
    ) -> ScenarioOutcome {
        ScenarioOutcome::not_run::<F>(&scenario.id, &scenario.title, iut, verdict, why)
    }

    /// A run of the family's scenario `id` that did not happen, and why.
    pub fn not_run<F: Family>(
        id: &str,
        title: &str,
        iut: &str,
        verdict: Verdict,
        why: String,
    ) -> ScenarioOutcome {
        ScenarioOutcome::empty(
            F::NAME,
            id,
            title,
            iut,
            verdict,
            why,
            Arc::new(F::Observations::default()),
        )
    }

    /// The reasons split in two: the rules that broke (the causes), and what followed from them.
    /// When no rule broke, every reason is a cause and nothing follows.
    pub fn causes_and_consequences(&self) -> (&[String], &[String]) {
        if self.causes == 0 {
            (&self.reasons, &[])
        } else {
            self.reasons.split_at(self.causes.min(self.reasons.len()))
        }
    }

    /// Puts `reason` before every other, as the first cause (what the others follow from).
    pub fn insert_cause(&mut self, reason: String) {
        self.reasons.insert(0, reason);
        self.causes += 1;
    }

    /// Replaces every reason by `reason`.
    pub fn set_reason(&mut self, reason: String) {
        self.reasons = vec![reason];
        self.causes = 0;
    }

    /// The reasons as lines, cause first: each cause, then `then:` and the consequences indented
    /// under it (`indent` before every line).
    pub fn reason_lines(&self, indent: &str) -> Vec<String> {
        let (causes, consequences) = self.causes_and_consequences();
        let mut lines: Vec<String> = causes.iter().map(|c| format!("{indent}{c}")).collect();
        if !consequences.is_empty() {
            lines.push(format!("{indent}then:"));
            lines.extend(consequences.iter().map(|c| format!("{indent}  {c}")));
        }
        lines
    }

    /// A stable text rendering for snapshots and reports.
    pub fn render(&self) -> String {
        let mut s = format!(
            "scenario: {}\ntitle: {}\niut: {}\nverdict: {}\n",
            self.scenario,
            self.title,
            self.iut,
            self.verdict.name()
        );
        let (causes, consequences) = self.causes_and_consequences();
        for r in causes {
            s.push_str(&format!("  because: {r}\n"));
        }
        if !consequences.is_empty() {
            s.push_str("  then:\n");
            for r in consequences {
                s.push_str(&format!("    {r}\n"));
            }
        }
        for d in &self.deviations {
            s.push_str(&format!(
                "  deviation (a profile decision, not a fact): {d}\n"
            ));
        }
        self.observed.render(&mut s);
        if !self.rules_fired.is_empty() {
            let fired: Vec<String> = self
                .rules_fired
                .iter()
                .map(|(k, v)| format!("{k} x{v}"))
                .collect();
            s.push_str(&format!("rules fired: {}\n", fired.join(", ")));
        }
        if !self.not_observable.is_empty() {
            s.push_str(&format!(
                "not observable for this IUT (not judged): {}\n",
                self.not_observable.join(", ")
            ));
        }
        if let Some(t) = &self.timing {
            s.push_str(&format!(
                "timing: tolerance {:.0} ms, windows widened by {:.1} ms; harness read delay median {:.3} / p99 {:.3} / max {:.3} ms, timer lateness median {:.3} / p99 {:.3} / max {:.3} ms; kernel receive stamps: {}\n",
                t.tolerance_ms,
                t.slack_ms,
                t.harness_read_delay.median_ms,
                t.harness_read_delay.p99_ms,
                t.harness_read_delay.max_ms,
                t.harness_timer_lateness.median_ms,
                t.harness_timer_lateness.p99_ms,
                t.harness_timer_lateness.max_ms,
                if t.kernel_receive_stamps { "yes" } else { "no" }
            ));
        }
        if !self.transcript.is_empty() {
            s.push_str("transcript:\n");
            for line in &self.transcript {
                s.push_str(&format!("{line}\n"));
            }
        }
        s
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A rule that broke, as the first line of a failure: the rule, the packet it first broke at and
/// what was seen there, how often, and the fact or decision it rests on (from `catalogue`).
fn broken_rule(
    rule: &str,
    count: usize,
    first: Option<&Violation>,
    catalogue: &[handshake_check::Rule],
) -> String {
    let mut line = format!("rule {rule} broke");
    match (first, count) {
        (Some(v), 1) => line.push_str(&format!(" at packet #{}: {}", v.packet, v.detail)),
        (Some(v), n) => line.push_str(&format!(
            " {}, first at packet #{}: {}",
            handshake_core::words::times(n as u64),
            v.packet,
            v.detail
        )),
        (None, n) => line.push_str(&format!(" {}", handshake_core::words::times(n as u64))),
    }
    if let Some(r) = handshake_check::rules::find(catalogue, rule) {
        match r.basis {
            Basis::Fact => line.push_str(&format!(" (rests on {})", r.source)),
            Basis::Profile => {
                line.push_str(&format!(" (rests on {}: a profile decision)", r.source))
            }
        }
    }
    line
}

/// What the rules said of a run: the held rules that broke (facts: causes of a failure; profile
/// decisions: deviations) and the rules expected to fire that did not.
struct RuleFindings {
    broken_facts: Vec<String>,
    broken_decisions: Vec<String>,
    did_not_fire: Vec<String>,
}

/// Compares the rules that fired with those the scenario expects to hold and to fire. Rules hold
/// of the IUT's side (`by_iut`: what fired on datagrams the IUT sent, or on no single datagram):
/// the harness's deliberately malformed datagrams are the scripted peer's, not the IUT's. A rule
/// expected to fire may fire on either side (`fired`).
fn judge_rules<F: Family>(
    scenario: &Scenario<F>,
    fired: &BTreeMap<String, usize>,
    by_iut: &BTreeMap<String, usize>,
    first_violations: &[Violation],
) -> RuleFindings {
    let expect = &scenario.expect;
    let catalogue = F::VOCABULARY.rules;
    // Files may name a rule within its family (`3way.order`); reports name it whole.
    let fire: Vec<String> = expect
        .rules_fire
        .iter()
        .map(|r| crate::family::rule_id::<F>(r))
        .collect();
    let hold: Vec<String> = if expect.rules_hold.iter().any(|r| r == "all") {
        catalogue
            .iter()
            .map(|r| r.id.to_owned())
            .filter(|id| !fire.contains(id))
            .collect()
    } else {
        expect
            .rules_hold
            .iter()
            .map(|r| crate::family::rule_id::<F>(r))
            .collect()
    };
    let mut findings = RuleFindings {
        broken_facts: Vec::new(),
        broken_decisions: Vec::new(),
        did_not_fire: Vec::new(),
    };
    for rule in &hold {
        let rule = rule.as_str();
        if let Some(n) = by_iut.get(rule) {
            let first = first_violations.iter().find(|v| v.rule == rule);
            let text = broken_rule(rule, *n, first, catalogue);
            match handshake_check::rules::find(catalogue, rule).map(|r| r.basis) {
                Some(Basis::Profile) => findings.broken_decisions.push(text),
                _ => findings.broken_facts.push(text),
            }
        }
    }
    for rule in &fire {
        if !fired.contains_key(rule) {
            findings
                .did_not_fire
                .push(format!("rule {rule} did not fire"));
        }
    }
    findings
}

/// Judges the observations against the scenario's expectations. Expectations that rest on this
/// project's own profile decisions (a `profile` scenario, an `expect.profile` block, a rule whose
/// basis is a profile decision) yield deviations, not failures.
///
/// The reasons come cause first: the rules that broke (each with its first packet and what it
/// rests on), then what followed (failed steps, missed expectations, rules that did not fire).
pub fn judge<F: Family>(
    scenario: &Scenario<F>,
    iut: &str,
    observed: Observed<F::Observations>,
    transcript: Vec<TranscriptLine>,
    capture: Vec<u8>,
) -> ScenarioOutcome {
    judge_typed(scenario, iut, observed, transcript, capture).outcome
}

/// As [`judge`], keeping the family's observations typed as well.
pub fn judge_typed<F: Family>(
    scenario: &Scenario<F>,
    iut: &str,
    observed: Observed<F::Observations>,
    transcript: Vec<TranscriptLine>,
    capture: Vec<u8>,
) -> TypedOutcome<F> {
    let expect = &scenario.expect;
    // Expectations this IUT cannot show (an external IUT's internal counters) are not judged: they are
    // listed, so a report says what was not checked.
    let mut unobservable: Vec<String> = Vec::new();
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_violations: BTreeMap<&str, &Violation> = BTreeMap::new();
    let mut by_iut: BTreeMap<String, usize> = BTreeMap::new();
    let mut first_by_iut: BTreeMap<&str, &Violation> = BTreeMap::new();
    for v in &observed.violations {
        *fired.entry(v.rule.to_owned()).or_default() += 1;
        first_violations.entry(v.rule).or_insert(v);
        if v.src.is_none_or(|s| s == observed.iut_addr) {
            *by_iut.entry(v.rule.to_owned()).or_default() += 1;
            first_by_iut.entry(v.rule).or_insert(v);
        }
    }
    let rules_on_harness_datagrams = fired
        .keys()
        .filter(|r| !by_iut.contains_key(r.as_str()))
        .cloned()
        .collect();
    // The first of each rule's violations, the IUT's first where it has one (what a failure cites).
    for (rule, v) in first_by_iut {
        first_violations.insert(rule, v);
    }
    let first_violations: Vec<Violation> = first_violations.into_values().cloned().collect();
    let findings = judge_rules(scenario, &fired, &by_iut, &first_violations);
    let mut causes = findings.broken_facts.len();
    let mut reasons = findings.broken_facts;
    reasons.extend(observed.step_failures.iter().cloned());
    let mut missed = Vec::new();
    F::check_expect(
        &expect.fields,
        &observed.family,
        &mut missed,
        &mut unobservable,
    );
    missed.extend(findings.did_not_fire);
    match observed.cut_short {
        // A script a deviation cut short never reached its end: its end is not judged (the rules
        // still are, on every datagram the IUT sent).
        Some(step) => unobservable.extend(
            missed
                .into_iter()
                .map(|r| format!("{r} (not judged: step {step}'s deviation ended the script)")),
        ),
        None => reasons.extend(missed),
    }
    let mut deviations = findings.broken_decisions;
    deviations.extend(observed.step_deviations.iter().cloned());
    // A scenario that tests one of this project's own decisions beyond the facts only deviates.
    if let Some(choice) = &scenario.profile {
        causes = 0;
        deviations.extend(
            reasons
                .drain(..)
                .map(|r| format!("profile decision `{choice}`: {r}")),
        );
    }
    if let Some(p) = &expect.profile {
        let mut missed = Vec::new();
        F::check_expect(
            &p.expect.fields,
            &observed.family,
            &mut missed,
            &mut unobservable,
        );
        deviations.extend(
            missed
                .into_iter()
                .map(|r| format!("profile decision `{}`: {r}", p.decision)),
        );
    }
    // A contract the IUT does not speak means the scenario could not run, unless a fact broke
    // before it.
    let verdict = if !reasons.is_empty() {
        Verdict::Fail
    } else if !observed.unmet_contracts.is_empty() {
        reasons = observed.unmet_contracts.clone();
        causes = 0;
        Verdict::Unsupported
    } else {
        Verdict::Pass
    };
    let family = Arc::new(observed.family);
    let outcome = ScenarioOutcome {
        scenario: scenario.id.clone(),
        title: scenario.title.clone(),
        iut: iut.to_owned(),
        verdict,
        reasons,
        causes,
        first_violations,
        deviations,
        notes: observed.step_notes,
        observed: family.clone(),
        rules_fired: fired,
        rules_on_harness_datagrams,
        not_observable: unobservable,
        timing: None,
        protocol: F::NAME,
        iut_unreachable: false,
        interrupted: false,
        transcript,
        traffic_bytes: capture.len(),
        capture,
        iut_units: Vec::new(),
    };
    TypedOutcome {
        outcome,
        observed: family,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_their_step() {
        assert_eq!(failed_step("step 12: expected a message"), Some(12));
        assert_eq!(failed_step("the IUT ended (exit code 1)"), None);
    }

    fn failing(reasons: &[&str], causes: usize, deviations: &[&str]) -> ScenarioOutcome {
        let mut o = ScenarioOutcome::empty(
            "test",
            "id",
            "title",
            "iut",
            Verdict::Fail,
            String::new(),
            Arc::new(Nothing {}),
        );
        o.reasons = reasons.iter().map(|r| r.to_string()).collect();
        o.causes = causes;
        o.deviations = deviations.iter().map(|r| r.to_string()).collect();
        o
    }

    #[test]
    fn broken_checks_name_rules_and_steps_not_what_was_seen() {
        let mutant = failing(
            &[
                "rule dt.dt8 broke at packet #3: reused",
                "step 4: expected accept, saw reject",
            ],
            1,
            &["rule dt.dh8 broke at packet #2: told twice (rests on DH8: a profile decision)"],
        );
        let lenient: Vec<String> = mutant.broken_checks(false).into_iter().collect();
        assert_eq!(
            lenient,
            ["rule dt.dt8"],
            "the step is what followed from the rule"
        );
        let strict: Vec<String> = mutant.broken_checks(true).into_iter().collect();
        assert_eq!(strict, ["rule dt.dh8", "rule dt.dt8"]);
        // A program failing the same step, whatever it saw there, broke the same check.
        let program = failing(&["step 4: expected accept, saw nothing"], 0, &[]);
        let other = failing(&["step 4: expected accept, saw close"], 0, &[]);
        assert_eq!(program.broken_checks(true), other.broken_checks(true));
        let mut passing = program;
        passing.verdict = Verdict::Pass;
        assert!(passing.broken_checks(false).is_empty());
    }
}
