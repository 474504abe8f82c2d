//! A run of scenarios against IUTs, with expected failures applied: what every report is made of
//! (the writers are the `handshake-report` crate).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::{ScenarioOutcome, Verdict};

/// Version of `results.json`.
pub const RESULTS_VERSION: u32 = 1;

/// A scenario's status after expectations are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed.
    Pass,
    /// Failed (unexpectedly).
    Fail,
    /// Failed, and the IUT's expectations file says it would (with a reason).
    Xfail,
    /// Passed although the expectations file says it fails: fails the run (update the file).
    Xpass,
    /// Passed every check of the facts, but not a check of one of this project's own profile
    /// decisions beyond them: shown, never failing the gate (unless `--strict-profile`).
    Deviation,
    /// Not run: the IUT lacks a required feature.
    Unsupported,
    /// Could not be run.
    Error,
    /// Cut short (or never started) because the run was interrupted; what it observed is kept.
    Interrupted,
}

impl Status {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Xfail => "xfail",
            Status::Xpass => "xpass",
            Status::Deviation => "deviation",
            Status::Unsupported => "unsupported",
            Status::Error => "error",
            Status::Interrupted => "interrupted",
        }
    }

    /// Whether this status fails the run.
    pub fn fails_run(self) -> bool {
        matches!(self, Status::Fail | Status::Xpass | Status::Error)
    }

    /// Combines a verdict with the expectation. A pass with profile deviations is a
    /// [`Status::Deviation`], or a failure when `strict_profile`.
    pub fn of(
        verdict: Verdict,
        deviations: bool,
        expected_failure: Option<&str>,
        strict_profile: bool,
    ) -> Status {
        let verdict = match (verdict, deviations, strict_profile) {
            (Verdict::Pass, true, true) => Verdict::Fail,
            (v, _, _) => v,
        };
        match (verdict, expected_failure.is_some()) {
            (Verdict::Pass, false) if deviations => Status::Deviation,
            (Verdict::Pass, false) => Status::Pass,
            (Verdict::Pass, true) => Status::Xpass,
            (Verdict::Fail, true) => Status::Xfail,
            (Verdict::Fail, false) => Status::Fail,
            (Verdict::Unsupported, _) => Status::Unsupported,
            (Verdict::Error, _) => Status::Error,
        }
    }
}

/// An IUT's expectations file: scenarios it is known to fail, with why.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Path of the schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The IUT these apply to (informative).
    pub iut: String,
    /// Scenario id → why it is expected to fail.
    pub known_failures: BTreeMap<String, String>,
}

/// One scenario run (one IUT, one repetition).
#[derive(Debug, Clone, Serialize)]
pub struct ResultEntry {
    /// The outcome.
    #[serde(flatten)]
    pub outcome: ScenarioOutcome,
    /// Its status after the expectations.
    pub status: Status,
    /// The expected-failure reason, if the expectations file has one.
    pub expected_failure: Option<String>,
    /// Repetition number (from 1; see `--repeat`).
    pub repetition: u32,
    /// Seed used.
    pub seed: u64,
    /// Time the scenario covered (virtual for in-process IUTs), ms.
    pub duration_ms: f64,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Format version.
    pub version: u32,
    /// The base seed.
    pub seed: u64,
    /// `K/N` when sharded.
    pub partition: Option<String>,
    /// Every result, in scenario then IUT then repetition order.
    pub results: Vec<ResultEntry>,
}

impl RunReport {
    /// Counts per status.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.results {
            *counts.entry(r.status).or_default() += 1;
        }
        counts
    }

    /// Whether any result fails the run.
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| r.status.fails_run())
    }

    /// Whether anything actually ran (a run of only unsupported scenarios must not pass).
    pub fn ran_any(&self) -> bool {
        self.results
            .iter()
            .any(|r| !matches!(r.status, Status::Unsupported | Status::Interrupted))
    }

    /// Whether the run was interrupted.
    pub fn interrupted(&self) -> bool {
        self.results.iter().any(|r| r.status == Status::Interrupted)
    }
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 8] = [
        Status::Pass,
        Status::Fail,
        Status::Xfail,
        Status::Xpass,
        Status::Deviation,
        Status::Unsupported,
        Status::Error,
        Status::Interrupted,
    ];

    /// The mark `summary.md` uses for this status.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Pass => "\u{2705}",
            Status::Fail => "\u{274c}",
            Status::Xfail => "\u{2796}",
            Status::Xpass => "\u{26a0}\u{fe0f}",
            Status::Deviation => "\u{1f536}",
            Status::Unsupported => "\u{23ed}\u{fe0f}",
            Status::Error => "\u{1f4a5}",
            Status::Interrupted => "\u{23f9}\u{fe0f}",
        }
    }
}

/// Counts per status and the run's verdict (the `"summary"` object of `results.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Failed unexpectedly.
    pub fail: usize,
    /// Failed as expected.
    pub xfail: usize,
    /// Passed although expected to fail.
    pub xpass: usize,
    /// Passed the facts, deviated from a profile decision.
    pub deviation: usize,
    /// Not run: a feature is missing.
    pub unsupported: usize,
    /// Could not be run.
    pub error: usize,
    /// Cut short by an interrupt.
    pub interrupted: usize,
    /// Every result.
    pub total: usize,
    /// Whether the run passes: nothing failed it and something actually ran.
    pub passed: bool,
}

impl Summary {
    /// The count for one status.
    pub fn count(&self, status: Status) -> usize {
        match status {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Xfail => self.xfail,
            Status::Xpass => self.xpass,
            Status::Deviation => self.deviation,
            Status::Unsupported => self.unsupported,
            Status::Error => self.error,
            Status::Interrupted => self.interrupted,
        }
    }

    /// Counts one result of `status`.
    pub fn add(&mut self, status: Status) {
        let slot = match status {
            Status::Pass => &mut self.pass,
            Status::Fail => &mut self.fail,
            Status::Xfail => &mut self.xfail,
            Status::Xpass => &mut self.xpass,
            Status::Deviation => &mut self.deviation,
            Status::Unsupported => &mut self.unsupported,
            Status::Error => &mut self.error,
            Status::Interrupted => &mut self.interrupted,
        };
        *slot += 1;
        self.total += 1;
    }

    fn of<'a>(results: impl IntoIterator<Item = &'a ResultEntry>) -> Summary {
        let mut summary = Summary::default();
        for r in results {
            summary.add(r.status);
        }
        summary
    }
}

impl RunReport {
    /// Counts per status (every status present, zeros included) and whether the run passes.
    pub fn summary(&self) -> Summary {
        Summary {
            passed: !self.failed() && self.ran_any() && !self.interrupted(),
            ..Summary::of(&self.results)
        }
    }
}
