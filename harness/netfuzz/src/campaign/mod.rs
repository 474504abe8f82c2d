//! The fuzzing campaign: the search loop that draws inputs, runs them (`jobs` at once) through an
//! [`Executor`], keeps the inputs that reach a new state path in the corpus, and minimises,
//! confirms and deduplicates what they show is wrong with the implementation.
//!
//! The campaign knows scenarios only as JSON (inputs are whole scenarios, their steps at
//! `peer.steps`); *how* an input runs and *what* counts as a finding is the executor's (in the
//! harness: the scenario engine, a family's liveness probe and its reference as the baseline).
//! What the campaign decides:
//!
//! - **draws**: input `k` is drawn with the seed from the corpus as it stood a fixed window of
//!   results earlier (results are taken in draw order), spliced and mutated ([`crate::mutate`]):
//!   the same seed draws the same inputs whatever the timing. With [`CampaignConfig::keep_iut`],
//!   results are taken as they come, inputs for the kept role are drawn more often, and so are
//!   inputs whose path takes a transition few runs took (AFLNet's selection by rarity).
//! - **the corpus**: an input whose state path is new ([`crate::novelty`]) stays, unless its
//!   run was much dearer than the usual one; it is written to the corpus folder, if any.
//! - **findings**: a verdict not confirmed by the executor's fresh run is dropped, unless the
//!   executor traced it to another input a kept process served lately ([`Judged::blamed`]: that
//!   input is the finding's); each kind is minimised a few times at most ([`crate::minimize`]:
//!   over steps, the family's fold, then over the bytes of each hex payload), must show again
//!   twice from its minimised input, and is one finding per kind and minimised shape (its step
//!   names in order).
//!
//! What happens along the way (progress, dropped verdicts, each new finding) is told to an
//! [`Observer`]; the [`CampaignResult`] holds the counts, the corpus and the findings.
//!
//! ```no_run
//! # use handshake_netfuzz::campaign::*;
//! # fn demo(executor: &dyn Executor, skeletons: Vec<serde_json::Value>) -> Result<(), CampaignError> {
//! let config = CampaignConfig { execs: Some(300), seed: 3, ..CampaignConfig::default() };
//! let campaign = Campaign::new(config, skeletons, Vec::new())?;
//! let result = campaign.run(executor, &handshake_netfuzz::mutate::GenericOnly, &mut NoObserver);
//! println!("{} execs, {} findings", result.execs, result.findings.len());
//! # Ok(()) }
//! ```

mod draw;
mod minimise;
mod search;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::corpus::CorpusError;
use crate::mutate::Mutator;
use crate::novelty::Kinds;

/// Inputs in a row that could not be run (the IUT no longer starts, …) after which the search
/// stops: it would judge nothing more.
pub const MAX_ERRORS_IN_A_ROW: u64 = 20;

/// What an input did to the implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `crash`, `hang`, `memory`, `flood` or `rule:ID[+ID…]`: a finding's kind.
    pub kind: String,
    /// The run's reasons, for the report.
    pub detail: String,
    /// The rules broken (for a rule finding).
    pub rules: Vec<String>,
}

/// One input's run in the search, as the executor judged it.
#[derive(Debug)]
pub enum Executed {
    /// The input is not a valid scenario of the family (a mutation made it invalid): not run, not
    /// counted.
    Refused,
    /// The run outgrew its budget: stopped, not judged, not counted.
    OverBudget,
    /// The input could not be run at all (the implementation would not start, …).
    CouldNotRun {
        /// Why.
        why: String,
    },
    /// The input ran and was judged.
    Judged(Judged),
}

/// An input that ran and was judged.
#[derive(Debug)]
pub struct Judged {
    /// What the run cost, in a deterministic measure (the harness: its capture's bytes): a new
    /// path much dearer than the usual input does not join the corpus.
    pub cost: usize,
    /// The state path: the kinds of response the input provoked, in order.
    pub path: Kinds,
    /// What the run shows is wrong with the implementation.
    pub verdict: Option<Verdict>,
    /// For a verdict that needs confirming (real time), the verdict of the same input run again
    /// on a fresh process; `None`: nothing to confirm.
    pub fresh: Option<Option<Verdict>>,
    /// Where the input's own fresh run did not show its verdict, another input the same kept
    /// process served lately that a fresh run traced it to: a process serving several inputs at
    /// once crashes or hangs in whichever runs are on it, not only in the one that did it.
    pub blamed: Option<Box<Blamed>>,
}

/// An input a verdict was traced to by replaying, on fresh processes, the inputs the kept process
/// that showed it served lately.
#[derive(Debug, Clone)]
pub struct Blamed {
    /// The input whose fresh run showed the verdict.
    pub input: Value,
    /// How many of the process's recent inputs were replayed to find it (it included).
    pub replayed: usize,
}

/// How one input is run and judged. Shared by the campaign's jobs (hence `Sync`).
pub trait Executor: Sync {
    /// Runs `input` in the search (`replay`: an input of the corpus read at the start, run as it
    /// is, on fresh processes). `input` may be changed during the run but must be as it was after.
    fn search(&self, input: &mut Value, replay: bool) -> Executed;

    /// The verdict of `input` run afresh; `patient`: as a finding is confirmed (longer windows
    /// for what must answer), else as it is minimised.
    fn verdict_of(&self, input: &Value, patient: bool) -> Option<Verdict>;

    /// The family's shorter spelling of a finding's minimised steps, if it has one.
    fn fold(&self, _steps: &[Value]) -> Option<Vec<Value>> {
        None
    }

    /// Verdicts of `kind` are no longer wanted (enough tries): the executor may stop confirming
    /// them, or return none for them in the search.
    fn kind_done(&self, _kind: &str) {}

    /// Ends what the executor keeps for the calling thread (processes kept between inputs); called
    /// by each job before it ends, and at the end of the search.
    fn forget_kept(&self) {}
}

/// Where the search stands, after each result taken in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Inputs run and judged.
    pub execs: u64,
    /// Seconds since the campaign started.
    pub seconds: f64,
    /// State transitions seen.
    pub paths: usize,
    /// Inputs in the corpus.
    pub corpus: usize,
    /// Findings so far.
    pub findings: usize,
}

/// A verdict the campaign dropped.
#[derive(Debug, Clone, Copy)]
pub struct Dropped<'a> {
    /// Its kind.
    pub kind: &'a str,
    /// Its detail.
    pub detail: &'a str,
    /// The execution that showed it.
    pub at_exec: u64,
}

/// What the campaign tells as it goes. Every method does nothing by default.
pub trait Observer {
    /// A result was taken in.
    fn progress(&mut self, _progress: &Progress) {}

    /// A verdict the executor's fresh run did not show again; `so_far`: how many of its kind so
    /// far, this one included.
    fn unconfirmed(&mut self, _dropped: &Dropped<'_>, _so_far: usize) {}

    /// A verdict whose minimised input showed it only `shown` times of `runs`.
    fn not_reproducible(&mut self, _dropped: &Dropped<'_>, _shown: usize, _runs: usize) {}

    /// Finding `number` (from 1), minimised, confirmed and new.
    fn finding(&mut self, _number: usize, _finding: &Finding) {}

    /// A new corpus input could not be written.
    fn corpus_error(&mut self, _error: &CorpusError) {}

    /// Whether the search is to stop now (Ctrl-C, …).
    fn interrupted(&mut self) -> bool {
        false
    }
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// One finding (one bug: one kind and one minimised shape).
#[derive(Debug, Clone)]
pub struct Finding {
    /// The verdict's kind.
    pub kind: String,
    /// The verdict's detail, from the run that first showed it.
    pub detail: String,
    /// The input as the search drew it, before minimisation.
    pub input: Value,
    /// The minimised steps (put them into `input` with [`with_steps`]).
    pub steps: Vec<Value>,
    /// Steps before and after minimisation.
    pub steps_before: usize,
    pub steps_after: usize,
    /// Hex payload bytes before and after the byte-level minimisation.
    pub bytes_before: usize,
    pub bytes_after: usize,
    /// The execution that first showed it, and the seconds into the campaign.
    pub first_at_exec: u64,
    pub first_at_seconds: f64,
    /// First shown by an input of the corpus read at the start, run as it was (a regression
    /// input), not by a mutation.
    pub replayed: bool,
    /// Traced to its input by replaying this many of the inputs a kept process served lately
    /// (the verdict showed in another input's run on it); `None`: its own run showed it.
    pub blamed_among: Option<usize>,
}

/// How the campaign runs (a plain struct: build it with `..Default::default()`).
#[derive(Debug, Clone)]
pub struct CampaignConfig {
    /// Seed of the draws and mutations (same seed, same inputs, unless `keep_iut`).
    pub seed: u64,
    /// Stop after this many executions (refused, over-budget and failed runs not counted).
    pub execs: Option<u64>,
    /// Stop after this long.
    pub time: Option<Duration>,
    /// Inputs run at once (1: on the calling thread; 0 runs nothing).
    pub jobs: usize,
    /// Stop at the first finding (after minimising it).
    pub stop_at_first: bool,
    /// Where new corpus inputs are written, one file each ([`crate::corpus::save`]).
    pub corpus: Option<PathBuf>,
    /// Throughput over repeatability: results are taken as they come (each draw sees the corpus
    /// as it stands), inputs whose `iut.role` is [`responder_role`](Self::responder_role) are
    /// drawn more often (with processes kept between inputs, they start none), and so are inputs
    /// whose path takes a transition few runs took.
    pub keep_iut: bool,
    /// With `keep_iut`, whether inputs whose path takes a transition few runs took are drawn
    /// more often (off only to measure what it is worth).
    pub rarity: bool,
    /// The family's name of the responder role (see [`keep_iut`](Self::keep_iut)).
    pub responder_role: String,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            seed: 1,
            execs: None,
            time: None,
            jobs: 1,
            stop_at_first: false,
            corpus: None,
            keep_iut: false,
            rarity: true,
            responder_role: String::new(),
        }
    }
}

/// Why a campaign cannot start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CampaignError {
    /// Nothing to draw inputs from.
    #[error("no skeleton to start from")]
    NoSkeletons,
}

/// What a campaign found and learnt.
#[derive(Debug)]
pub struct CampaignResult {
    /// When the campaign started.
    pub started: Instant,
    /// The findings, in the order they were found.
    pub findings: Vec<Finding>,
    /// Inputs run and judged.
    pub execs: u64,
    /// Inputs the executor refused ([`Executed::Refused`]).
    pub refused: u64,
    /// Inputs over the run budget ([`Executed::OverBudget`]).
    pub over_budget: u64,
    /// Inputs that could not be run, in all and in a row at the end; why the first could not.
    pub errors: u64,
    pub errors_in_a_row: u64,
    pub first_error: Option<String>,
    /// Inputs of the corpus read at the start, run unmutated before the search.
    pub resumed: u64,
    /// The corpus at the end: the skeletons, the corpus read, the new inputs.
    pub corpus: Vec<Value>,
    /// State transitions seen.
    pub paths: usize,
    /// The states and transitions reached, and the rarest.
    pub coverage: crate::novelty::Coverage,
    /// Verdicts the executor's fresh run did not show again, by kind.
    pub unconfirmed: BTreeMap<String, usize>,
    /// How long each input's run took, s (without the minimisation runs).
    pub run_seconds: Vec<f64>,
}

/// A campaign, ready to run.
#[derive(Debug, Clone)]
pub struct Campaign {
    config: CampaignConfig,
    /// The skeletons, then the corpus read (from `first_resumed` on).
    inputs: Vec<Value>,
    first_resumed: usize,
}

impl Campaign {
    /// A campaign drawing from `skeletons`, after running the inputs of a corpus read at the
    /// start (`resumed`) unmutated, so that the paths they reach are known again (AFL's dry run
    /// of its queue).
    pub fn new(
        config: CampaignConfig,
        skeletons: Vec<Value>,
        mut resumed: Vec<Value>,
    ) -> Result<Campaign, CampaignError> {
        if skeletons.is_empty() {
            return Err(CampaignError::NoSkeletons);
        }
        let mut inputs = skeletons;
        let first_resumed = inputs.len();
        inputs.append(&mut resumed);
        Ok(Campaign {
            config,
            inputs,
            first_resumed,
        })
    }

    /// Runs the campaign until its budget is spent, `stop_at_first` or the observer says stop.
    pub fn run(
        self,
        executor: &dyn Executor,
        mutator: &dyn Mutator,
        observer: &mut dyn Observer,
    ) -> CampaignResult {
        search::run(self, executor, mutator, observer)
    }
}

/// A scenario with `steps` in place of its own (its own are not copied: they are most of it).
pub fn with_steps(base: &Value, steps: Vec<Value>) -> Value {
    let Value::Object(fields) = base else {
        return base.clone();
    };
    let mut out = serde_json::Map::new();
    let mut peer = serde_json::Map::new();
    for (k, v) in fields {
        match v {
            Value::Object(fields) if k == "peer" => {
                for (pk, pv) in fields.iter().filter(|(pk, _)| *pk != "steps") {
                    peer.insert(pk.clone(), pv.clone());
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    peer.insert("steps".into(), Value::Array(steps));
    out.insert("peer".into(), Value::Object(peer));
    Value::Object(out)
}
