//! The search: its state (what it has learnt so far), how it takes in one result, and the
//! schedule that draws inputs and hands them to the jobs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

use super::draw::{draw, rarity_weight, CaptureSizes, Weight, CHEAP_WEIGHT};
use super::minimise::{hex_bytes, minimise};
use super::{
    with_steps, Campaign, CampaignResult, Dropped, Executed, Executor, Finding, Judged, Observer,
    Progress, Verdict, MAX_ERRORS_IN_A_ROW,
};
use crate::corpus;
use crate::mutate::{step_name, Mutator};
use crate::novelty::Novelty;

/// Minimisations of one kind of finding (kept or not reproducible) before its repeats are ignored.
const MAX_TRIES_PER_KIND: usize = 6;

/// The most an input's `wait` steps may wait in all, ms, for it to be cheap with kept
/// responders (over real UDP, where waits cost their length).
const CHEAP_WAIT_MS: f64 = 1_000.0;

/// How long `input`'s `wait` steps wait in all, ms.
fn waited_ms(input: &Value) -> f64 {
    input["peer"]["steps"]
        .as_array()
        .map_or(0.0, |steps| crate::mutate::waited_ms(steps))
}

/// Runs a minimised finding must show again in.
const REPEATS: usize = 2;

/// One input's run, and its seconds.
type Exec = (Executed, f64);

/// `f`'s result and how long it took, s.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

/// What the run has learnt so far; results are taken in draw order.
struct State<'a> {
    executor: &'a dyn Executor,
    observer: &'a mut dyn Observer,
    started: Instant,
    corpus_dir: Option<&'a Path>,
    inputs: Vec<Value>,
    /// The transitions of each input's path, where it is known (an input the search kept):
    /// how rare they are weighs its draws.
    input_paths: Vec<Vec<u64>>,
    novelty: Novelty,
    findings: Vec<Finding>,
    shapes: BTreeSet<(String, Vec<String>)>,
    /// Minimisations tried per kind of finding.
    tries: BTreeMap<String, usize>,
    /// Real-time verdicts per kind that did not show again on a fresh process.
    unconfirmed: BTreeMap<String, usize>,
    execs: u64,
    refused: u64,
    over_budget: u64,
    /// Runs that could not be run, in all and since the last one that could; the first one's why.
    errors: u64,
    errors_in_a_row: u64,
    first_error: Option<String>,
    sizes: CaptureSizes,
    run_seconds: Vec<f64>,
    /// The corpus size after each result was taken in.
    corpus_len_after: Vec<usize>,
}

impl<'a> State<'a> {
    /// A search that has learnt nothing yet, starting from `inputs`.
    fn new(
        executor: &'a dyn Executor,
        observer: &'a mut dyn Observer,
        corpus_dir: Option<&'a Path>,
        inputs: Vec<Value>,
    ) -> Self {
        State {
            executor,
            observer,
            started: Instant::now(),
            corpus_dir,
            input_paths: vec![Vec::new(); inputs.len()],
            inputs,
            novelty: Novelty::default(),
            findings: Vec::new(),
            shapes: BTreeSet::new(),
            tries: BTreeMap::new(),
            unconfirmed: BTreeMap::new(),
            execs: 0,
            refused: 0,
            over_budget: 0,
            errors: 0,
            errors_in_a_row: 0,
            first_error: None,
            sizes: CaptureSizes::default(),
            run_seconds: Vec::new(),
            corpus_len_after: Vec::new(),
        }
    }

    /// Takes in one result: corpus, progress, and a finding if it shows one (minimised, checked
    /// and told). Whether it was a new finding.
    /// A `replayed` input is one of the corpus read at the start, run as it is: its path becomes
    /// known again, and it is in the corpus already.
    fn take(&mut self, candidate: &Value, (result, seconds): Exec, replayed: bool) -> bool {
        let found = self.judge(candidate, result, seconds, replayed);
        self.corpus_len_after.push(self.inputs.len());
        let progress = Progress {
            execs: self.execs,
            seconds: self.started.elapsed().as_secs_f64(),
            paths: self.novelty.len(),
            corpus: self.inputs.len(),
            findings: self.findings.len(),
        };
        self.observer.progress(&progress);
        found
    }

    fn judge(&mut self, candidate: &Value, result: Executed, seconds: f64, replayed: bool) -> bool {
        let Judged {
            cost,
            path,
            verdict,
            fresh,
            blamed,
        } = match result {
            Executed::Refused => {
                self.refused += 1;
                return false;
            }
            Executed::OverBudget => {
                self.over_budget += 1;
                return false;
            }
            Executed::CouldNotRun { why } => {
                self.errors += 1;
                self.errors_in_a_row += 1;
                self.first_error.get_or_insert(why);
                return false;
            }
            Executed::Judged(judged) => judged,
        };
        self.errors_in_a_row = 0;
        self.execs += 1;
        self.run_seconds.push(seconds);
        let cheap = self.sizes.cheap(cost);
        self.sizes.add(cost);
        // A new path stays in the corpus unless it is much dearer than the usual input (a count
        // mutated to thousands): mutations of it would all be slow.
        let kinds = path.kinds();
        if self.novelty.observe(&kinds) && cheap && !replayed {
            self.inputs.push(candidate.clone());
            self.input_paths.push(Novelty::transitions(&kinds));
            if let Some(dir) = self.corpus_dir {
                if let Err(e) = corpus::save(dir, candidate) {
                    self.observer.corpus_error(&e);
                }
            }
        }
        match (verdict, blamed) {
            // Traced to another input, whose fresh run showed it: that input is the finding's.
            (Some(verdict), Some(blamed)) => {
                let shown = Some(Some(verdict.clone()));
                let among = Some(blamed.replayed);
                self.finding(&blamed.input, verdict, shown, (replayed, among))
            }
            (Some(verdict), None) => self.finding(candidate, verdict, fresh, (replayed, None)),
            (None, _) => false,
        }
    }

    /// Takes in a verdict: confirmed, minimised, shown again, new: a finding (told); whether it
    /// was one.
    fn finding(
        &mut self,
        candidate: &Value,
        Verdict { kind, detail, .. }: Verdict,
        fresh: Option<Option<Verdict>>,
        (replayed, blamed_among): (bool, Option<usize>),
    ) -> bool {
        // Each kind is minimised a few times at most: most repeats are the same bug.
        if self.tries.get(&kind).copied().unwrap_or(0) >= MAX_TRIES_PER_KIND {
            return false;
        }
        let execs = self.execs;
        let dropped = Dropped {
            kind: &kind,
            detail: &detail,
            at_exec: execs,
        };
        // A real-time verdict counts only when the input's run on a fresh process showed it too
        // (the job confirmed it), before the (costly) minimisation.
        if fresh.is_some_and(|f| f.is_none_or(|v| v.kind != kind)) {
            let so_far = self.unconfirmed.entry(kind.clone()).or_default();
            *so_far += 1;
            let so_far = *so_far;
            self.observer.unconfirmed(&dropped, so_far);
            return false;
        }
        let tries = self.tries.entry(kind.clone()).or_default();
        *tries += 1;
        if *tries >= MAX_TRIES_PER_KIND {
            self.executor.kind_done(&kind);
        }
        let first_at_seconds = self.started.elapsed().as_secs_f64();
        let steps = candidate["peer"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let minimal = minimise(self.executor, candidate, &steps, &kind);
        // A finding must show again, twice, from its minimised input.
        let again = (0..REPEATS)
            .filter(|_| {
                self.executor
                    .verdict_of(&with_steps(candidate, minimal.clone()), true)
                    .is_some_and(|v| v.kind == kind)
            })
            .count();
        if again < REPEATS {
            self.observer.not_reproducible(&dropped, again, REPEATS);
            return false;
        }
        // The same bug: the same kind and the same minimised shape (step names in order).
        let shape: Vec<String> = minimal
            .iter()
            .filter_map(|s| step_name(s).map(str::to_owned))
            .collect();
        if !self.shapes.insert((kind.clone(), shape)) {
            return false;
        }
        let finding = Finding {
            kind,
            detail,
            input: candidate.clone(),
            steps_before: steps.len(),
            steps_after: minimal.len(),
            bytes_before: hex_bytes(&steps),
            bytes_after: hex_bytes(&minimal),
            steps: minimal,
            first_at_exec: execs,
            first_at_seconds,
            replayed,
            blamed_among,
        };
        self.observer.finding(self.findings.len() + 1, &finding);
        self.findings.push(finding);
        true
    }

    /// What the campaign found and learnt.
    fn result(self, resumed: u64) -> CampaignResult {
        CampaignResult {
            started: self.started,
            findings: self.findings,
            execs: self.execs,
            refused: self.refused,
            over_budget: self.over_budget,
            errors: self.errors,
            errors_in_a_row: self.errors_in_a_row,
            first_error: self.first_error,
            resumed,
            corpus: self.inputs,
            paths: self.novelty.len(),
            coverage: self.novelty.coverage(),
            unconfirmed: self.unconfirmed,
            run_seconds: self.run_seconds,
        }
    }
}

/// Runs `campaign` (see [`Campaign::run`]).
pub(super) fn run(
    campaign: Campaign,
    executor: &dyn Executor,
    mutator: &dyn Mutator,
    observer: &mut dyn Observer,
) -> CampaignResult {
    let Campaign {
        config,
        inputs,
        first_resumed,
    } = campaign;
    let initial_inputs = inputs.len();
    let resumed = (inputs.len() - first_resumed) as u64;
    let mut state = State::new(executor, observer, config.corpus.as_deref(), inputs);
    let schedule = Schedule {
        executor,
        mutator,
        jobs: config.jobs,
        seed: config.seed,
        execs: config.execs,
        deadline: config.time.map(|t| state.started + t),
        stop_at_first: config.stop_at_first,
        resumed,
        first_resumed,
        initial_inputs,
        keep_iut: config.keep_iut,
        rarity: config.rarity,
        responder: &config.responder_role,
    };
    search(&mut state, &schedule);
    state.result(resumed)
}

/// How the search draws its inputs and when it stops.
struct Schedule<'a> {
    executor: &'a dyn Executor,
    mutator: &'a dyn Mutator,
    jobs: usize,
    seed: u64,
    execs: Option<u64>,
    deadline: Option<Instant>,
    stop_at_first: bool,
    /// The inputs read from the corpus, run unmutated first (from `first_resumed` on).
    resumed: u64,
    first_resumed: usize,
    initial_inputs: usize,
    /// Results taken as they come (see [`super::CampaignConfig::keep_iut`]).
    keep_iut: bool,
    /// Rare paths drawn more often (see [`super::CampaignConfig::rarity`]).
    rarity: bool,
    /// The family's name of the responder role.
    responder: &'a str,
}

/// The search: draws inputs, runs them (`jobs` at once) and takes their results in.
///
/// `jobs` runs at once in a sliding window of 4 × jobs draws: input k is drawn from the corpus as
/// it stood after result k − window was taken in (results are taken in draw order), so the same
/// seed draws the same inputs whatever the timing, and a slow run holds no one back. `jobs`
/// workers that live as long as the run (a thread per input cost more than a run); one job runs on
/// this thread (handing each input to a worker cost a fifth of the time).
fn search(state: &mut State<'_>, schedule: &Schedule<'_>) {
    let inline = schedule.jobs == 1;
    let (work_tx, work_rx) = std::sync::mpsc::channel::<(u64, Value)>();
    let work_rx = Mutex::new(work_rx);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(u64, Value, Exec)>();
        for _ in 0..if inline { 0 } else { schedule.jobs } {
            let (tx, executor, work_rx) = (tx.clone(), schedule.executor, &work_rx);
            let resumed = schedule.resumed;
            scope.spawn(move || worker(executor, work_rx, tx, resumed));
        }
        drop(tx);
        schedule.draw_and_take(state, inline, &work_tx, &rx);
        // The workers end when the work channel closes; the inline job's responders end now.
        drop(work_tx);
        schedule.executor.forget_kept();
    });
}

/// A job: runs the inputs it is handed until the work channel closes.
fn worker(
    executor: &dyn Executor,
    work_rx: &Mutex<Receiver<(u64, Value)>>,
    tx: Sender<(u64, Value, Exec)>,
    resumed: u64,
) {
    loop {
        let next = work_rx.lock().map(|rx| rx.recv());
        let Ok(Ok((k, mut candidate))) = next else {
            break;
        };
        let result = timed(|| executor.search(&mut candidate, k < resumed));
        if tx.send((k, candidate, result)).is_err() {
            break;
        }
    }
    // The responders this job kept end here, before the scope does: ended by the thread-local
    // cache's destructor they could outlive the harness, since a scope's implicit join does not
    // wait for thread-local destructors (rust-lang/rust#116179).
    executor.forget_kept();
}

impl Schedule<'_> {
    /// Draws inputs (running them here when `inline`, else handing them to the workers) and takes
    /// their results in, until the search stops and every input drawn has been taken in.
    fn draw_and_take(
        &self,
        state: &mut State<'_>,
        inline: bool,
        work_tx: &Sender<(u64, Value)>,
        rx: &Receiver<(u64, Value, Exec)>,
    ) {
        let (executor, jobs, resumed) = (self.executor, self.jobs, self.resumed);
        let mut waiting: BTreeMap<u64, (Value, Exec, bool)> = BTreeMap::new();
        let (mut drawn, mut taken, mut stop) = (0u64, 0u64, false);
        let mut in_flight = 0usize;
        // Draws may run ahead of the results taken in by this much, so that a slow run does not
        // hold the other jobs back. (Wider windows, or taking results as they come over real UDP,
        // ran more inputs per second but changed the seed's draws: Proton's planted hang, found at
        // exec 74 with this window, was then not found in 700–980 execs.)
        let window = 4 * jobs as u64;
        // `--keep-iut`: results taken as they come, each draw sees the corpus as it stands.
        let in_order = !self.keep_iut;
        // With kept responders, an input for the other role starts a process of its own, and an
        // input that waits seconds (a mutated delay) costs seconds.
        let responder = self.responder;
        let kept = |v: &Value| v["iut"]["role"] == responder && waited_ms(v) <= CHEAP_WAIT_MS;
        loop {
            stop = stop
                || self
                    .execs
                    .is_some_and(|n| drawn >= n + state.refused + state.over_budget + state.errors)
                || self.deadline.is_some_and(|d| Instant::now() >= d)
                || state.errors_in_a_row >= MAX_ERRORS_IN_A_ROW
                || state.observer.interrupted();
            while !stop && in_flight < jobs && (!in_order || drawn < taken + window) {
                let visible = match drawn.checked_sub(window) {
                    _ if !in_order => state.inputs.len(),
                    Some(k) => state.corpus_len_after[k as usize],
                    None => self.initial_inputs,
                };
                // Kept responders: cheap inputs and rare paths are drawn more often. (In order,
                // the weights would depend on when results came in: the draws must not.)
                let weight = |i: usize, v: &Value| {
                    let rarity = state.input_paths.get(i).filter(|p| !p.is_empty());
                    let cheapness = if kept(v) { CHEAP_WEIGHT } else { 1 };
                    let runs = rarity.and_then(|p| state.novelty.fewest_runs(p));
                    cheapness * if self.rarity { rarity_weight(runs) } else { 1 }
                };
                let weight = self.keep_iut.then_some(&weight as Weight<'_>);
                let mut candidate = match drawn.checked_sub(resumed) {
                    None => state.inputs[self.first_resumed + drawn as usize].clone(),
                    Some(k) => draw(&state.inputs[..visible], self.mutator, self.seed, k, weight),
                };
                if inline {
                    let result = timed(|| executor.search(&mut candidate, drawn < resumed));
                    waiting.insert(drawn, (candidate, result, drawn < resumed));
                    drawn += 1;
                    break;
                }
                if work_tx.send((drawn, candidate)).is_err() {
                    break;
                }
                drawn += 1;
                in_flight += 1;
            }
            if taken == drawn {
                break;
            }
            if !waiting.contains_key(&taken) {
                let Ok((k, candidate, result)) = rx.recv() else {
                    break;
                };
                in_flight -= 1;
                waiting.insert(
                    if in_order { k } else { taken },
                    (candidate, result, k < resumed),
                );
            }
            while let Some((candidate, result, replayed)) = waiting.remove(&taken) {
                if state.take(&candidate, result, replayed) && self.stop_at_first {
                    stop = true;
                }
                taken += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::campaign::{
        Blamed, Campaign, CampaignConfig, Executed, Executor, Judged, NoObserver, Verdict,
    };
    use crate::mutate::GenericOnly;
    use crate::novelty::Kinds;

    /// A kept process serving every input crashes in every run; only the input holding the
    /// culprit step crashes a fresh one. `blame`: the executor traced the crash to that input.
    struct SharedCrash {
        blame: bool,
    }

    fn culprit() -> Value {
        json!({"iut": {"role": "responder"}, "peer": {"steps": [{"send": {"hex": "dead"}}, {"wait": {"ms": 1}}]}})
    }

    fn crash() -> Verdict {
        Verdict {
            kind: "crash".into(),
            detail: "the IUT ended".into(),
            rules: Vec::new(),
        }
    }

    impl Executor for SharedCrash {
        fn search(&self, _input: &mut Value, _replay: bool) -> Executed {
            Executed::Judged(Judged {
                cost: 1,
                path: Kinds::default(),
                verdict: Some(crash()),
                fresh: Some(None),
                blamed: self.blame.then(|| {
                    Box::new(Blamed {
                        input: culprit(),
                        replayed: 3,
                    })
                }),
            })
        }

        fn verdict_of(&self, input: &Value, _patient: bool) -> Option<Verdict> {
            let steps = input["peer"]["steps"].as_array()?;
            steps.iter().any(|s| s["send"]["hex"] == "dead").then(crash)
        }
    }

    #[test]
    fn a_crash_traced_to_another_input_is_that_input_s_finding() {
        let skeleton =
            json!({"iut": {"role": "responder"}, "peer": {"steps": [{"wait": {"ms": 1}}]}});
        let run = |blame: bool| {
            let config = CampaignConfig {
                execs: Some(3),
                ..CampaignConfig::default()
            };
            let campaign = Campaign::new(config, vec![skeleton.clone()], Vec::new());
            let campaign = campaign.unwrap_or_else(|e| panic!("{e}"));
            campaign.run(&SharedCrash { blame }, &GenericOnly, &mut NoObserver)
        };
        let traced = run(true);
        assert_eq!(traced.findings.len(), 1, "{:?}", traced.findings);
        let finding = &traced.findings[0];
        assert_eq!(finding.input, culprit());
        assert_eq!(finding.blamed_among, Some(3));
        assert!(finding.steps.iter().any(|s| s["send"]["hex"] == "dead"));
        // Not traced: the crash its own fresh run did not show is dropped.
        let untraced = run(false);
        assert!(untraced.findings.is_empty(), "{:?}", untraced.findings);
        assert_eq!(untraced.unconfirmed.get("crash"), Some(&3));
    }

    #[test]
    fn an_input_waits_the_sum_of_its_waits() {
        let input = serde_json::json!({"peer": {"steps": [
            {"wait": {"ms": 5000}}, {"send": {}}, {"expect": {"within_ms": 80}}, {"wait": {"ms": 25}}
        ]}});
        assert_eq!(super::waited_ms(&input), 5025.0);
        assert_eq!(super::waited_ms(&serde_json::json!({})), 0.0);
    }
}
