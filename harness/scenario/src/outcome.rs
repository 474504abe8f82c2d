//! A scenario's outcome: what was observed, judged against the scenario's expectations.

use std::collections::BTreeMap;

use handshake_mediastream_endpoint::Metrics;
use handshake_mediastream_judge::{rules, Violation};
use serde::Serialize;

use crate::model::{OutcomeExpectation, Scenario};

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
    /// lateness seen.
    pub slack_ms: f64,
    /// Whether every datagram from the IUT was timed by the kernel (`SO_TIMESTAMPNS`).
    pub kernel_receive_stamps: bool,
    /// How long datagrams waited in the socket before the harness read them.
    pub harness_read_delay: Latency,
    /// How late the harness's timers fired (its sends through the link and the reference peer's).
    pub harness_timer_lateness: Latency,
}

/// What a run observed (the engine fills it; [`judge`] compares it with the expectations).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The checker's negotiated mode of the first session.
    pub negotiated_mode: Option<String>,
    /// The media receiver's frame metrics (the initiator's in pull, the responder session's in
    /// push), when known (an in-process IUT, or a reference peer that receives).
    pub media_metrics: Option<Metrics>,
    /// Whether the initiator's stream completed without failure, when known.
    pub initiator_complete: Option<bool>,
    /// The IUT's dropped-datagram counters by reason; `None` when they cannot be observed (an
    /// external IUT).
    pub iut_drops: Option<BTreeMap<String, u64>>,
    /// The checker's violations on the capture.
    pub violations: Vec<Violation>,
    /// Failed steps.
    pub step_failures: Vec<String>,
}

impl Observed {
    /// What the checker saw on a capture (mode and violations); the caller adds the rest.
    pub fn from_check(report: &handshake_mediastream_judge::Report) -> Observed {
        Observed {
            negotiated_mode: report
                .sessions
                .first()
                .map(|s| s.negotiated_mode.to_owned()),
            violations: report.violations().cloned().collect(),
            ..Observed::default()
        }
    }
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
    /// Why it failed, was unsupported, or errored (empty on pass).
    pub reasons: Vec<String>,
    /// Checks of this project's own profile decisions (beyond the facts) that did not hold: a
    /// `deviation`, not a failure, unless `--strict-profile`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deviations: Vec<String>,
    /// The negotiated mode seen on the wire.
    pub negotiated_mode: Option<String>,
    /// The media receiver's frame metrics, when known.
    pub metrics: Option<Metrics>,
    /// The IUT's dropped datagrams by reason, when known.
    pub iut_drops: BTreeMap<String, u64>,
    /// Checker rule ids that fired, with counts.
    pub rules_fired: BTreeMap<String, usize>,
    /// Expectations not judged because this IUT cannot show them (e.g. an external IUT's drop counters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_observable: Vec<String>,
    /// Real-time runs: the tolerance used and the harness's measured lateness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// The system said nothing listens at the IUT's address (further runs against it are pointless).
    #[serde(skip)]
    pub iut_unreachable: bool,
    /// The run was cut short by Ctrl-C (what it observed so far is kept).
    #[serde(skip)]
    pub interrupted: bool,
    /// The decoded exchange with virtual (or real) times.
    pub transcript: Vec<TranscriptLine>,
    /// The capture as the IUT saw it (pcapng).
    #[serde(skip)]
    pub capture: Vec<u8>,
}

impl ScenarioOutcome {
    fn empty(scenario: &Scenario, iut: &str, verdict: Verdict, reason: String) -> ScenarioOutcome {
        ScenarioOutcome {
            scenario: scenario.id.clone(),
            title: scenario.title.clone(),
            iut: iut.to_owned(),
            verdict,
            reasons: vec![reason],
            deviations: Vec::new(),
            negotiated_mode: None,
            metrics: None,
            iut_drops: BTreeMap::new(),
            rules_fired: BTreeMap::new(),
            not_observable: Vec::new(),
            timing: None,
            iut_unreachable: false,
            interrupted: false,
            transcript: Vec::new(),
            capture: Vec::new(),
        }
    }

    /// Not run: the IUT lacks a feature.
    pub fn unsupported(scenario: &Scenario, iut: &str, why: String) -> ScenarioOutcome {
        ScenarioOutcome::empty(scenario, iut, Verdict::Unsupported, why)
    }

    /// Could not run.
    pub fn error(scenario: &Scenario, iut: &str, why: String) -> ScenarioOutcome {
        ScenarioOutcome::empty(scenario, iut, Verdict::Error, why)
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
        for r in &self.reasons {
            s.push_str(&format!("  because: {r}\n"));
        }
        for d in &self.deviations {
            s.push_str(&format!(
                "  deviation (a profile decision, not a fact): {d}\n"
            ));
        }
        if let Some(mode) = &self.negotiated_mode {
            s.push_str(&format!("negotiated mode: {mode}\n"));
        }
        if let Some(m) = &self.metrics {
            s.push_str(&format!(
                "initiator frames: {} ok, {} dropped, {} duplicate, {} error of {}; {} duplicate datagrams{}\n",
                m.frames_successful,
                m.frames_dropped,
                m.frames_duplicate,
                m.frames_error,
                m.frames_expected,
                m.duplicate_datagrams,
                m.failure.as_ref().map(|f| format!("; failed: {f}")).unwrap_or_default()
            ));
        }
        if !self.iut_drops.is_empty() {
            let drops: Vec<String> = self
                .iut_drops
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!("iut dropped: {}\n", drops.join(", ")));
        }
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

/// The metrics `expect.metrics` may bound.
pub const METRIC_NAMES: [&str; 5] = [
    "frames_successful",
    "frames_dropped",
    "frames_duplicate",
    "frames_error",
    "duplicate_datagrams",
];

fn metric(m: &Metrics, name: &str) -> Option<u64> {
    Some(match name {
        "frames_successful" => m.frames_successful,
        "frames_dropped" => m.frames_dropped,
        "frames_duplicate" => m.frames_duplicate,
        "frames_error" => m.frames_error,
        "duplicate_datagrams" => m.duplicate_datagrams,
        _ => return None,
    })
}

/// Checks the observable outcome expectations (mode, metrics, drops, completion); what fails goes to
/// `reasons`, what this IUT cannot show to `unobservable`.
fn check_outcome(
    expect: &OutcomeExpectation,
    observed: &Observed,
    reasons: &mut Vec<String>,
    unobservable: &mut Vec<String>,
) {
    if let Some(want) = &expect.negotiated_mode {
        match &observed.negotiated_mode {
            Some(got) if got == want => {}
            got => reasons.push(format!(
                "negotiated mode {}, expected {want}",
                got.as_deref().unwrap_or("(no session)")
            )),
        }
    }
    for (name, bound) in &expect.metrics {
        match observed
            .media_metrics
            .as_ref()
            .and_then(|m| metric(m, name))
        {
            Some(v) if bound.contains(v) => {}
            Some(v) => reasons.push(format!("{name} = {v}, expected {bound}")),
            None => unobservable.push(name.clone()),
        }
    }
    match &observed.iut_drops {
        Some(drops) => {
            for (reason, bound) in &expect.validation_errors {
                let v = drops.get(reason).copied().unwrap_or(0);
                if !bound.contains(v) {
                    reasons.push(format!(
                        "IUT dropped {v} datagrams as {reason}, expected {bound}"
                    ));
                }
            }
        }
        None => unobservable.extend(
            expect
                .validation_errors
                .keys()
                .map(|k| format!("validation_errors.{k}")),
        ),
    }
    if let Some(want) = expect.stream_complete {
        match observed.initiator_complete {
            Some(got) if got == want => {}
            Some(got) => reasons.push(format!("stream complete = {got}, expected {want}")),
            None => unobservable.push("stream_complete".into()),
        }
    }
}

/// Judges the observations against the scenario's expectations. Expectations that rest on this
/// project's own profile decisions (a `profile` scenario, an `expect.profile` block, a rule whose
/// basis is a profile decision) yield deviations, not failures.
pub fn judge(
    scenario: &Scenario,
    iut: &str,
    observed: Observed,
    transcript: Vec<TranscriptLine>,
    capture: Vec<u8>,
) -> ScenarioOutcome {
    let expect = &scenario.expect;
    let mut reasons = observed.step_failures.clone();
    // Expectations this IUT cannot show (an external IUT's internal counters) are not judged: they are
    // listed, so a report says what was not checked.
    let mut unobservable: Vec<String> = Vec::new();
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for v in &observed.violations {
        *fired.entry(v.rule.to_owned()).or_default() += 1;
    }
    check_outcome(expect, &observed, &mut reasons, &mut unobservable);
    let hold: Vec<&str> = if expect.rules_hold.iter().any(|r| r == "all") {
        rules::ALL
            .iter()
            .map(|r| r.id)
            .filter(|id| !expect.rules_fire.iter().any(|f| f == id))
            .collect()
    } else {
        expect.rules_hold.iter().map(String::as_str).collect()
    };
    let mut deviations = Vec::new();
    for rule in hold {
        if let Some(n) = fired.get(rule) {
            let first = observed
                .violations
                .iter()
                .find(|v| v.rule == rule)
                .map(|v| format!(" (first at packet #{}: {})", v.packet, v.detail))
                .unwrap_or_default();
            let text = format!("rule {rule} fired {n} times{first}");
            match rules::by_id(rule).map(|r| r.basis) {
                Some(rules::Basis::Profile) => deviations.push(text),
                _ => reasons.push(text),
            }
        }
    }
    for rule in &expect.rules_fire {
        if !fired.contains_key(rule) {
            reasons.push(format!("rule {rule} did not fire"));
        }
    }
    // A scenario that tests one of this project's own decisions beyond the facts only deviates.
    if let Some(choice) = &scenario.profile {
        deviations.extend(
            reasons
                .drain(..)
                .map(|r| format!("profile decision `{choice}`: {r}")),
        );
    }
    if let Some(p) = &expect.profile {
        let mut missed = Vec::new();
        check_outcome(&p.expect, &observed, &mut missed, &mut unobservable);
        deviations.extend(
            missed
                .into_iter()
                .map(|r| format!("profile decision `{}`: {r}", p.decision)),
        );
    }
    let verdict = if reasons.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    ScenarioOutcome {
        scenario: scenario.id.clone(),
        title: scenario.title.clone(),
        iut: iut.to_owned(),
        verdict,
        reasons,
        deviations,
        negotiated_mode: observed.negotiated_mode,
        metrics: observed.media_metrics,
        iut_drops: observed.iut_drops.unwrap_or_default(),
        rules_fired: fired,
        not_observable: unobservable,
        timing: None,
        iut_unreachable: false,
        interrupted: false,
        transcript,
        capture,
    }
}
