//! A scenario's outcome: what was observed, judged against the scenario's expectations.

use std::collections::BTreeMap;

use handshake_check::{rules, Violation};
use handshake_endpoint::mediastream::Metrics;
use serde::Serialize;

use crate::model::Scenario;

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

/// What a run observed (the engine fills it; [`judge`] compares it with the expectations).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The checker's negotiated mode of the first session.
    pub negotiated_mode: Option<String>,
    /// The initiator side's metrics, when known (in-process IUT or reference peer).
    pub initiator_metrics: Option<Metrics>,
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
    pub fn from_check(report: &handshake_check::Report) -> Observed {
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
    /// The negotiated mode seen on the wire.
    pub negotiated_mode: Option<String>,
    /// The initiator side's metrics, when known.
    pub metrics: Option<Metrics>,
    /// The IUT's dropped datagrams by reason, when known.
    pub iut_drops: BTreeMap<String, u64>,
    /// Checker rule ids that fired, with counts.
    pub rules_fired: BTreeMap<String, usize>,
    /// Expectations not judged because this IUT cannot show them (e.g. an external IUT's drop counters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_observable: Vec<String>,
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
            negotiated_mode: None,
            metrics: None,
            iut_drops: BTreeMap::new(),
            rules_fired: BTreeMap::new(),
            not_observable: Vec::new(),
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
        if !self.transcript.is_empty() {
            s.push_str("transcript:\n");
            for line in &self.transcript {
                s.push_str(&format!("{line}\n"));
            }
        }
        s
    }
}

const METRIC_NAMES: [&str; 5] = [
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

/// Judges the observations against the scenario's expectations.
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
        if !METRIC_NAMES.contains(&name.as_str()) {
            reasons.push(format!(
                "unknown metric `{name}` (known: {})",
                METRIC_NAMES.join(", ")
            ));
            continue;
        }
        match observed
            .initiator_metrics
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
    let hold: Vec<&str> = if expect.rules_hold.iter().any(|r| r == "all") {
        rules::ALL
            .iter()
            .map(|r| r.id)
            .filter(|id| !expect.rules_fire.iter().any(|f| f == id))
            .collect()
    } else {
        expect.rules_hold.iter().map(String::as_str).collect()
    };
    for rule in hold {
        if let Some(n) = fired.get(rule) {
            let first = observed
                .violations
                .iter()
                .find(|v| v.rule == rule)
                .map(|v| format!(" (first at packet #{}: {})", v.packet, v.detail))
                .unwrap_or_default();
            reasons.push(format!("rule {rule} fired {n} times{first}"));
        }
    }
    for rule in &expect.rules_fire {
        if !fired.contains_key(rule) {
            reasons.push(format!("rule {rule} did not fire"));
        }
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
        negotiated_mode: observed.negotiated_mode,
        metrics: observed.initiator_metrics,
        iut_drops: observed.iut_drops.unwrap_or_default(),
        rules_fired: fired,
        not_observable: unobservable,
        transcript,
        capture,
    }
}
