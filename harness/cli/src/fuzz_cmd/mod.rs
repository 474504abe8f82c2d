//! `harness fuzz`: network fuzzing of an implementation under test, of any family.
//!
//! Inputs are the family's library scenarios with their oracle taken out (skeletons,
//! [`handshake_netfuzz::mutate::skeleton`]), mutated step by step (drop, duplicate, swap, delay),
//! field by field (the family's step shapes from its schema: a field the library never set can be
//! set) and value by value (the family's layouts through the seam — TLVs, length prefixes,
//! protobuf fields, header fields — then numbers, hex havoc, booleans). Each runs through the
//! normal engine, so every input and every finding is a scenario: in-process references and their
//! mutants in virtual time, external processes over real UDP (QUIC families: the harness is the
//! QUIC peer, the mutations are of the plaintext it writes). Verdicts ([`exec`]): crash, hang (the
//! family's liveness probe after the input gets no answer), or a rule the family's reference does
//! not break on the same input. Findings are minimised (ddmin over steps, then over the bytes of
//! each hex payload), deduplicated by kind and minimised shape, and written as replayable scenarios
//! with their captures; inputs that reach a new path of response kinds stay in the corpus.

mod exec;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use handshake_netfuzz::arbitrary::Unstructured;
use handshake_netfuzz::layout::{hex_of, hex_value, leaf_mut};
use handshake_netfuzz::mutate::{mutate, skeleton, step_name};
use handshake_netfuzz::novelty::Novelty;
use handshake_netfuzz::{corpus, minimize, seeded_bytes};
use handshake_scenario::exit::{
    FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, NOTHING as EXIT_NOTHING, OK as EXIT_OK,
};
use handshake_scenario::{interrupt, DynFamily, Iut, ScenarioOutcome};
use serde_json::Value;

use crate::families::FAMILIES;
use exec::{baseline_of, FamilyMutator, Runner, Searched, Verdict};
use report::{Finding, Summary};

/// `harness fuzz` arguments.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// The implementation: `ref:PROFILE` (a reference or `ref:PROFILE!MUTANT`, virtual time) or an
    /// IUT manifest, `MANIFEST!MUTANT` or `MANIFEST!PLANTED` (real UDP, one process per input).
    #[arg(long)]
    pub iut: String,
    /// The family (default: the IUT's).
    #[arg(long)]
    pub family: Option<String>,
    /// Skeleton scenarios (files or folders; default `vectors/scenarios/FAMILY`).
    #[arg(long = "scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Only skeletons whose IUT plays this role (the family's name for it, e.g. `server`).
    #[arg(long)]
    pub role: Option<String>,
    /// Stop after this many executions.
    #[arg(long)]
    pub execs: Option<u64>,
    /// Stop after this many seconds (default 60 when --execs is not given).
    #[arg(long)]
    pub time: Option<u64>,
    /// Seed of the mutations (same seed, same inputs).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Inputs run at once (default: 1 in virtual time; twice the cores, at least 4, for an
    /// external IUT, whose runs mostly wait).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Corpus folder: read at the start (broken files are skipped with a warning) and its inputs
    /// run unmutated first, so the paths they reach are known again; new inputs written to it,
    /// so a second run resumes where the first stopped.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Where findings (scenarios and captures) and the report (fuzz.json, fuzz.md, fuzz.html) go.
    #[arg(long, default_value = "reports/fuzz")]
    pub out: PathBuf,
    /// An external IUT whose processes reach this much resident memory (MB) in a run is a finding.
    #[arg(long, default_value_t = 1024)]
    pub max_memory_mb: u64,
    /// Stop at the first finding (after minimising it).
    #[arg(long)]
    pub stop_at_first: bool,
    /// Throughput over repeatability, for an external IUT: a responder started with the same
    /// command line serves input after input (per job) until an input leaves it dead or not
    /// answering the probe, and results are taken as they come (a slow input holds no one back),
    /// so the same seed no longer draws the same inputs. Findings are still confirmed and
    /// minimised on fresh processes.
    #[arg(long)]
    pub keep_iut: bool,
}

/// A scenario with `steps` in place of its own (its own are not copied: they are most of it).
fn with_steps(base: &Value, steps: Vec<Value>) -> Value {
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

/// The longest wait an `expect` of a library scenario becomes in a skeleton: long enough for an
/// answer on loopback, short enough for many inputs a second.
const MAX_WAIT_MS: u64 = 150;

/// What one input's run over real UDP keeps of what the IUT sends at most (at what the harness
/// really keeps per datagram): several times what the largest library scenario needs; the
/// process's budget bounds many jobs at once.
const FUZZ_MAX_RECEIVED_BYTES: u64 = 8 << 20;

/// How long a fuzz input's run waits after its steps (the probe already waited for an answer).
const SETTLE_MS: u64 = 100;

fn load_skeletons(
    paths: &[PathBuf],
    family: &str,
    role: Option<&str>,
    real_time: bool,
) -> Result<Vec<Value>, String> {
    let files = handshake_scenario::runner::scenario_files(paths).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let protocol = v["protocol"].as_str().unwrap_or(FAMILIES.default_name());
        let slow = v["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "slow"));
        let steps = v["peer"]["steps"].as_array().cloned().unwrap_or_default();
        let wrong_role = role.is_some_and(|r| v["iut"]["role"] != r);
        if protocol != family
            || slow
            || wrong_role
            || steps.is_empty()
            || v["peer"].get("reference").is_some()
        {
            continue;
        }
        v["peer"]["steps"] = Value::Array(skeleton(&steps, MAX_WAIT_MS));
        v["expect"] = serde_json::json!({"rules_hold": ["all"]});
        v["settle_ms"] = Value::from(SETTLE_MS);
        // Random loss in real time is not reproducible (it would also take the probe's packets):
        // over real UDP only the faults that pick their datagrams stay.
        if real_time {
            // (`get_mut`: indexing would add `"faults": null` to a scenario without faults.)
            if let Some(faults) = v.get_mut("faults").and_then(Value::as_array_mut) {
                faults.retain(|f| f.get("probability").is_none());
            }
        }
        if let Some(o) = v.as_object_mut() {
            o.remove("$schema");
            // A scenario about one of the project's decisions turns every reason of its outcome
            // into a deviation, the probe's and the IUT's ending too: with the oracle gone, an
            // input from it must fail as any other does, or its crashes and hangs go unseen. (Its
            // citations of decisions go with it: they are allowed only in such a scenario.)
            if o.remove("profile").is_some() {
                o.remove("decisions");
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// The skeletons the family loads; each it refuses is named in a warning (every input drawn from
/// it would be refused too).
fn usable_skeletons(family: &dyn DynFamily, skeletons: Vec<Value>) -> Vec<Value> {
    skeletons
        .into_iter()
        .filter(|s| match family.load_value(s) {
            Ok(_) => true,
            Err(e) => {
                eprintln!(
                    "warning: the skeleton of {} is refused ({e}); skipped",
                    s["id"].as_str().unwrap_or("a scenario")
                );
                false
            }
        })
        .collect()
}

/// `f`'s result and how long it took, s.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

/// Whether a step is one of the generic ones (`expect`, `wait` …), not the family's.
fn is_generic(step: &Value) -> bool {
    matches!(
        step_name(step),
        Some("expect" | "expect_none" | "wait" | "fault") | None
    )
}

/// The paths (JSON keys) of every hex string in `v`.
fn hex_paths(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                path.push(k.clone());
                hex_paths(c, path, out);
                path.pop();
            }
        }
        Value::String(s) if s.len() >= 4 && handshake_netfuzz::layout::is_hex(s) => {
            out.push(path.clone());
        }
        _ => {}
    }
}

fn hex_bytes(steps: &[Value]) -> usize {
    /// The bytes of the hex strings `hex_paths` finds in `v`.
    fn of(v: &Value) -> usize {
        match v {
            Value::Object(o) => o.values().map(of).sum(),
            Value::String(s) if s.len() >= 4 && handshake_netfuzz::layout::is_hex(s) => s.len() / 2,
            _ => 0,
        }
    }
    steps.iter().map(of).sum()
}

/// Minimisations of one kind of finding (kept or not reproducible) before its repeats are ignored.
const MAX_TRIES_PER_KIND: usize = 6;

/// Real-time verdicts of one kind that did not show again on a fresh process, shown before the
/// rest are only counted: under load a kept responder misses a probe now and then. (They no
/// longer stop a kind from being confirmed: the jobs confirm in parallel, and after forty such
/// drops — a minute of 16 jobs against the Python Dark Tower controller — a real hang was never
/// looked at again.)
const UNCONFIRMED_SHOWN_PER_KIND: usize = 10;

/// The capture sizes of the runs so far: a run's cost grows with its datagrams, and its capture
/// with them (a deterministic measure, unlike time: the corpus stays the same for the same seed).
/// Their median is kept by two heaps, the lower half and the upper half (a sorted list's insert
/// moved half of it for every input: a tenth of a run's time after 50,000 inputs).
#[derive(Debug, Default)]
struct CaptureSizes {
    lower: std::collections::BinaryHeap<usize>,
    upper: std::collections::BinaryHeap<std::cmp::Reverse<usize>>,
}

impl CaptureSizes {
    /// Whether a capture of `size` bytes is at most four times the median so far.
    fn cheap(&self, size: usize) -> bool {
        if self.lower.len() + self.upper.len() < 16 {
            return size <= 4 << 20;
        }
        size <= self.median().saturating_mul(4)
    }

    /// The upper median (of an even count, the larger middle size).
    fn median(&self) -> usize {
        match (self.lower.len() > self.upper.len(), self.upper.peek()) {
            (false, Some(std::cmp::Reverse(m))) => *m,
            _ => self.lower.peek().copied().unwrap_or(0),
        }
    }

    fn add(&mut self, size: usize) {
        match self.lower.peek() {
            Some(top) if size <= *top => self.lower.push(size),
            _ => self.upper.push(std::cmp::Reverse(size)),
        }
        // Balanced: the upper half holds as many as the lower, or one more.
        if self.lower.len() > self.upper.len() {
            if let Some(top) = self.lower.pop() {
                self.upper.push(std::cmp::Reverse(top));
            }
        } else if self.upper.len() > self.lower.len() + 1 {
            if let Some(std::cmp::Reverse(bottom)) = self.upper.pop() {
                self.lower.push(bottom);
            }
        }
    }
}

/// One input's run (`None`: refused), and its seconds.
type Exec = (Option<Searched>, f64);

/// How many times more often a cheap input is drawn than a dear one (see [`draw`]).
const CHEAP_WEIGHT: u64 = 4;

/// Input `k` of the run: an input of `pool` drawn with the seed, spliced and mutated. With
/// `cheap`, the inputs it accepts are drawn [`CHEAP_WEIGHT`] times as often as the others (AFL
/// gives fast inputs more energy): with kept responders, an input for an initiator IUT starts a
/// process (≈ 200 ms of Python start-up) where one for a kept responder takes none, and half of the
/// media stream's skeletons are for initiators.
fn draw(
    pool: &[Value],
    mutator: &FamilyMutator,
    seed: u64,
    k: u64,
    cheap: Option<&dyn Fn(&Value) -> bool>,
) -> Value {
    let data = seeded_bytes(seed.wrapping_mul(0x9e37_79b9).wrapping_add(k), 1024);
    let mut u = Unstructured::new(&data);
    let chosen = match cheap {
        None => u.choose_index(pool.len()).ok(),
        Some(cheap) => {
            let weight = |v: &Value| if cheap(v) { CHEAP_WEIGHT } else { 1 };
            let total: u64 = pool.iter().map(weight).sum();
            let drawn = u.int_in_range(0..=total.saturating_sub(1)).ok();
            drawn.and_then(|mut r| {
                // The input whose share of `0..total` holds `r`.
                pool.iter().position(|v| match r.checked_sub(weight(v)) {
                    Some(rest) => {
                        r = rest;
                        false
                    }
                    None => true,
                })
            })
        }
    };
    let Some(base) = chosen.and_then(|i| pool.get(i)) else {
        return Value::Null;
    };
    let mut steps = base["peer"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Splice: a family step of another input of the same IUT (a handler skeleton without media
    // gets a media step …), then one to four mutations.
    if u.ratio(1u8, 6u8).unwrap_or(false) {
        let other = &pool[u.choose_index(pool.len()).unwrap_or(0)];
        if other["iut"] == base["iut"] {
            let donor = other["peer"]["steps"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let family_steps: Vec<&Value> = donor.iter().filter(|s| !is_generic(s)).collect();
            if let (Ok(i), Ok(at)) = (
                u.choose_index(family_steps.len().max(1)),
                u.int_in_range(0..=steps.len()),
            ) {
                if let Some(step) = family_steps.get(i) {
                    steps.insert(at, (*step).clone());
                }
            }
        }
    }
    let stack = u.int_in_range(1u8..=4).unwrap_or(1);
    for _ in 0..stack {
        let _ = mutate(&mut steps, mutator, &mut u);
    }
    with_steps(base, steps)
}

/// What the run has learnt so far; results are taken in draw order.
struct State<'a> {
    runner: &'a Runner<'a>,
    bar: Option<&'a indicatif::ProgressBar>,
    out: &'a mut dyn Write,
    started: Instant,
    family: &'a str,
    findings_dir: PathBuf,
    corpus_dir: Option<&'a Path>,
    inputs: Vec<Value>,
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

impl State<'_> {
    fn say(&mut self, line: &str) {
        match self.bar {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(self.out, "{line}");
            }
        }
    }

    /// Takes in one result: corpus, progress, and a finding if it shows one (minimised, checked
    /// and written). Whether it was a new finding.
    /// A `replayed` input is one of the corpus read at the start, run as it is: its path becomes
    /// known again, and it is in the corpus already.
    fn take(&mut self, candidate: &Value, (result, seconds): Exec, replayed: bool) -> bool {
        let found = self.judge(candidate, result, seconds, replayed);
        self.corpus_len_after.push(self.inputs.len());
        if let Some(bar) = self.bar {
            bar.set_message(format!(
                "{} execs ({:.0}/s), {} paths, corpus {}, {} findings",
                self.execs,
                self.execs as f64 / self.started.elapsed().as_secs_f64().max(1e-3),
                self.novelty.len(),
                self.inputs.len(),
                self.findings.len()
            ));
        }
        found
    }

    fn judge(
        &mut self,
        candidate: &Value,
        result: Option<Searched>,
        seconds: f64,
        replayed: bool,
    ) -> bool {
        let Some(Searched {
            outcome,
            verdict,
            fresh,
        }) = result
        else {
            self.refused += 1;
            return false;
        };
        if exec::over_budget(&outcome) {
            self.over_budget += 1;
            return false;
        }
        if exec::could_not_run(&outcome) {
            self.errors += 1;
            self.errors_in_a_row += 1;
            self.first_error
                .get_or_insert_with(|| outcome.reasons.join("; "));
            return false;
        }
        self.errors_in_a_row = 0;
        self.execs += 1;
        self.run_seconds.push(seconds);
        let size = outcome.traffic_bytes;
        let cheap = self.sizes.cheap(size);
        self.sizes.add(size);
        // A new path stays in the corpus unless it is much dearer than the usual input (a count
        // mutated to thousands): mutations of it would all be slow.
        if self.novelty.observe(&path_of(&outcome).kinds()) && cheap && !replayed {
            self.inputs.push(candidate.clone());
            if let Some(dir) = self.corpus_dir {
                if let Err(e) = corpus::save(dir, candidate) {
                    eprintln!("warning: corpus: {e}");
                }
            }
        }
        let runner = self.runner;
        let Some(Verdict { kind, detail, .. }) = verdict else {
            return false;
        };
        // Each kind is minimised a few times at most: most repeats are the same bug.
        if self.tries.get(&kind).copied().unwrap_or(0) >= MAX_TRIES_PER_KIND {
            return false;
        }
        let execs = self.execs;
        // A real-time verdict counts only when the input's run on a fresh process showed it too
        // (the job confirmed it), before the (costly) minimisation.
        if fresh.is_some_and(|f| f.is_none_or(|v| v.kind != kind)) {
            let dropped = self.unconfirmed.entry(kind.clone()).or_default();
            *dropped += 1;
            if *dropped <= UNCONFIRMED_SHOWN_PER_KIND {
                let more = if *dropped == UNCONFIRMED_SHOWN_PER_KIND {
                    " (further ones of this kind are not shown)"
                } else {
                    ""
                };
                self.say(&format!(
                    "not reproducible, dropped: {kind} at exec {execs}: {detail}{more}"
                ));
            }
            return false;
        }
        let tries = self.tries.entry(kind.clone()).or_default();
        *tries += 1;
        if *tries >= MAX_TRIES_PER_KIND {
            runner.kind_done(&kind);
        }
        let first_at_seconds = self.started.elapsed().as_secs_f64();
        let steps = candidate["peer"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let minimal = minimise(runner, candidate, &steps, &kind);
        // A finding must show again, twice, from its minimised input.
        let again = (0..REPEATS)
            .filter(|_| {
                runner
                    .verdict_of(&with_steps(candidate, minimal.clone()), true)
                    .is_some_and(|v| v.kind == kind)
            })
            .count();
        if again < REPEATS {
            self.say(&format!(
                "not reproducible once minimised ({again}/{REPEATS}), dropped: {kind} at exec {execs}: {detail}"
            ));
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
        let n = self.findings.len() + 1;
        let (scenario, capture, input) = write_finding(
            runner,
            &self.findings_dir,
            self.family,
            n,
            candidate,
            &minimal,
            &kind,
        );
        self.say(&format!(
            "finding {n}: {kind} after {execs} execs ({first_at_seconds:.1} s), minimised from {} to {} steps: {scenario}",
            steps.len(),
            minimal.len(),
        ));
        self.findings.push(Finding {
            kind,
            scenario,
            capture,
            input,
            steps_before: steps.len(),
            steps_after: minimal.len(),
            bytes_before: hex_bytes(&steps),
            bytes_after: hex_bytes(&minimal),
            first_at_exec: execs,
            first_at_seconds,
            replayed,
            steps: minimal,
            detail,
        });
        true
    }
}

/// Runs a minimised finding must show again in.
const REPEATS: usize = 2;

/// Test runs allowed to minimise one finding: over steps, then over bytes.
const STEP_BUDGET: usize = 80;
const BYTE_BUDGET: usize = 40;

/// Minimises `steps` of `base` while `kind` stays the verdict: ddmin over steps (folded by the
/// family when that still shows it), then over the bytes of each hex payload left.
fn minimise(runner: &Runner<'_>, base: &Value, steps: &[Value], kind: &str) -> Vec<Value> {
    let same = |s: &[Value]| {
        runner
            .verdict_of(&with_steps(base, s.to_vec()), false)
            .is_some_and(|v| v.kind == kind)
    };
    let mut minimal = minimize::ddmin_within(steps, STEP_BUDGET, same);
    // The family's shorter spelling, if the finding still shows in it (then minimised again).
    if let Some(folded) = runner.family.fuzz_fold(&minimal).filter(|f| same(f)) {
        minimal = minimize::ddmin_within(&folded, STEP_BUDGET / 4, same);
    }
    let mut budget = BYTE_BUDGET;
    for i in 0..minimal.len() {
        let mut paths = Vec::new();
        hex_paths(&minimal[i], &mut Vec::new(), &mut paths);
        for path in paths {
            if budget == 0 {
                return minimal;
            }
            let Some(bytes) = leaf_mut(&mut minimal[i], &path).and_then(|l| hex_of(l)) else {
                continue;
            };
            let mut used = 0;
            let smaller = minimize::ddmin_within(&bytes, budget, |b: &[u8]| {
                used += 1;
                let mut trial = minimal.clone();
                if let Some(leaf) = leaf_mut(&mut trial[i], &path) {
                    *leaf = hex_value(b);
                }
                same(&trial)
            });
            budget = budget.saturating_sub(used);
            if smaller.len() < bytes.len() {
                if let Some(leaf) = leaf_mut(&mut minimal[i], &path) {
                    *leaf = hex_value(&smaller);
                }
            }
        }
    }
    minimal
}

fn input_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_INPUT
}

/// Runs `harness fuzz`.
pub fn run(args: FuzzArgs, out: &mut dyn Write) -> i32 {
    let Start {
        iut,
        family_name,
        family,
        inputs,
        resumed,
        first_resumed,
        broken,
    } = match start(&args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let initial_inputs = inputs.len();
    let external = matches!(iut, Iut::External(_));
    let jobs = args.jobs.unwrap_or(if external {
        std::thread::available_parallelism().map_or(4, |n| (2 * n.get()).max(4))
    } else {
        1
    });
    let mut iut = iut;
    if let Iut::External(e) = &mut iut {
        e.limit_received(FUZZ_MAX_RECEIVED_BYTES);
    }
    let mut search_iut = iut.clone();
    if let Iut::External(e) = &mut search_iut {
        e.keep_running(args.keep_iut);
    }
    let runner = Runner {
        family,
        iut: &iut,
        search_iut,
        baseline: baseline_of(&iut, family),
        seed: args.seed,
        max_memory_kb: args.max_memory_mb.saturating_mul(1024),
        done_kinds: Default::default(),
    };
    if let Err(code) = run_first_skeleton(&runner, &args.iut, &inputs[0]) {
        return code;
    }
    let mutator = FamilyMutator::new(family);
    let probe = inputs.iter().any(|s| family.liveness_probe(s).is_some());
    interrupt::install(interrupt::OnSignal::Stop);
    let limit = args
        .time
        .or(if args.execs.is_none() { Some(60) } else { None });
    let started = Instant::now();
    let deadline = limit.map(|s| started + Duration::from_secs(s));
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let mut state = State::new(
        &runner,
        bar.as_ref(),
        out,
        started,
        &family_name,
        &args,
        inputs,
    );
    search(
        &mut state,
        &Schedule {
            runner: &runner,
            mutator: &mutator,
            jobs,
            seed: args.seed,
            execs: args.execs,
            deadline,
            stop_at_first: args.stop_at_first,
            resumed,
            first_resumed,
            initial_inputs,
            keep_iut: external && args.keep_iut,
            responder: family.role_names().1,
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    interrupt::runs_stopped();
    let (summary, errors_in_a_row) = summarize(state, &args, jobs, resumed, probe, broken);
    finish(&summary, &args.out, errors_in_a_row, out)
}

/// What a fuzz run starts from.
struct Start {
    iut: Iut,
    family_name: String,
    family: &'static dyn DynFamily,
    /// The skeletons, then the corpus read (from `first_resumed` on).
    inputs: Vec<Value>,
    /// How many inputs were read from the corpus.
    resumed: u64,
    first_resumed: usize,
    /// The corpus files that are not JSON scenarios.
    broken: Vec<String>,
}

/// The IUT, its family and the inputs the run starts from: the family's skeletons, then the
/// corpus; `Err` is the exit code (the error is said).
fn start(args: &FuzzArgs) -> Result<Start, i32> {
    let iut = match FAMILIES.parse_iut(&args.iut) {
        Ok(i) => i,
        Err(e) => return Err(input_error(format!("--iut {}: {e}", args.iut))),
    };
    let family_name = match (&args.family, &iut) {
        (Some(f), _) => f.clone(),
        (None, Iut::Reference { family, .. }) => (*family).to_owned(),
        (None, Iut::External(_)) => {
            return Err(input_error("--family is needed with an external IUT"));
        }
    };
    let family = match FAMILIES.require(&family_name) {
        Ok(f) => f,
        Err(e) => return Err(input_error(e)),
    };
    let paths = if args.scenarios.is_empty() {
        vec![PathBuf::from(format!("vectors/scenarios/{family_name}"))]
    } else {
        args.scenarios.clone()
    };
    let skeletons = match load_skeletons(
        &paths,
        &family_name,
        args.role.as_deref(),
        matches!(iut, Iut::External(_)),
    ) {
        Ok(s) => usable_skeletons(family, s),
        Err(e) => return Err(input_error(e)),
    };
    if skeletons.is_empty() {
        return Err(input_error(format!(
            "no {family_name} scenario with scripted steps to start from in {paths:?}"
        )));
    }
    let (mut pool, broken) = match &args.corpus {
        Some(dir) => match corpus::load(dir) {
            Ok(loaded) => loaded,
            Err(e) => return Err(input_error(e)),
        },
        None => (Vec::new(), Vec::new()),
    };
    for b in &broken {
        eprintln!("warning: corpus file {b} is not a JSON scenario; skipped");
    }
    // Corpus entries are whole scenarios of the family; the skeletons come first.
    pool.retain(|v| {
        v["protocol"].as_str().unwrap_or(FAMILIES.default_name()) == family_name
            && args.role.as_deref().is_none_or(|r| v["iut"]["role"] == r)
    });
    let mut inputs: Vec<Value> = skeletons;
    // The corpus read is run first, unmutated (AFL's dry run of its queue): the novelty of a
    // resumed search starts from the paths it reaches, not from nothing (when it started from
    // nothing, the first inputs of every resume joined the corpus again for paths it already had).
    let resumed = pool.len() as u64;
    let first_resumed = inputs.len();
    inputs.append(&mut pool);
    Ok(Start {
        iut,
        family_name,
        family,
        inputs,
        resumed,
        first_resumed,
        broken,
    })
}

/// An IUT that cannot run even an unmutated skeleton (its command does not start, …) would make
/// every input an error: said now (`Err`: the exit code), not after a search that judged nothing.
fn run_first_skeleton(runner: &Runner<'_>, iut: &str, skeleton: &Value) -> Result<(), i32> {
    if let Some((o, _)) = runner.exec(skeleton, false) {
        if exec::could_not_run(&o) {
            return Err(input_error(format!(
                "--iut {}: cannot run the skeleton of {}: {}",
                iut,
                skeleton["id"].as_str().unwrap_or("the first scenario"),
                o.reasons.join("; ")
            )));
        }
    }
    Ok(())
}

impl<'a> State<'a> {
    /// A search that has learnt nothing yet, starting from `inputs`.
    fn new(
        runner: &'a Runner<'a>,
        bar: Option<&'a indicatif::ProgressBar>,
        out: &'a mut dyn Write,
        started: Instant,
        family: &'a str,
        args: &'a FuzzArgs,
        inputs: Vec<Value>,
    ) -> Self {
        State {
            runner,
            bar,
            out,
            started,
            family,
            findings_dir: args.out.join("findings"),
            corpus_dir: args.corpus.as_deref(),
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
}

/// How the search draws its inputs and when it stops.
struct Schedule<'a> {
    runner: &'a Runner<'a>,
    mutator: &'a FamilyMutator,
    jobs: usize,
    seed: u64,
    execs: Option<u64>,
    deadline: Option<Instant>,
    stop_at_first: bool,
    /// The inputs read from the corpus, run unmutated first (from `first_resumed` on).
    resumed: u64,
    first_resumed: usize,
    initial_inputs: usize,
    /// `--keep-iut` with an external IUT: results taken as they come.
    keep_iut: bool,
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
    let work_rx = std::sync::Mutex::new(work_rx);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(u64, Value, Exec)>();
        for _ in 0..if inline { 0 } else { schedule.jobs } {
            let (tx, runner, work_rx) = (tx.clone(), schedule.runner, &work_rx);
            let resumed = schedule.resumed;
            scope.spawn(move || worker(runner, work_rx, tx, resumed));
        }
        drop(tx);
        schedule.draw_and_take(state, inline, &work_tx, &rx);
        // The workers end when the work channel closes; the inline job's responders end now.
        drop(work_tx);
        schedule.runner.forget_kept();
    });
}

/// A job: runs the inputs it is handed until the work channel closes.
fn worker(
    runner: &Runner<'_>,
    work_rx: &std::sync::Mutex<std::sync::mpsc::Receiver<(u64, Value)>>,
    tx: std::sync::mpsc::Sender<(u64, Value, Exec)>,
    resumed: u64,
) {
    loop {
        let next = work_rx.lock().map(|rx| rx.recv());
        let Ok(Ok((k, mut candidate))) = next else {
            break;
        };
        let result = timed(|| runner.search(&mut candidate, k < resumed));
        if tx.send((k, candidate, result)).is_err() {
            break;
        }
    }
    // The responders this job kept end here, before the scope does: ended by the thread-local
    // cache's destructor they could outlive the harness, since a scope's implicit join does not
    // wait for thread-local destructors (rust-lang/rust#116179).
    runner.forget_kept();
}

impl Schedule<'_> {
    /// Draws inputs (running them here when `inline`, else handing them to the workers) and takes
    /// their results in, until the search stops and every input drawn has been taken in.
    fn draw_and_take(
        &self,
        state: &mut State<'_>,
        inline: bool,
        work_tx: &std::sync::mpsc::Sender<(u64, Value)>,
        rx: &std::sync::mpsc::Receiver<(u64, Value, Exec)>,
    ) {
        let (runner, jobs, resumed) = (self.runner, self.jobs, self.resumed);
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
        // With kept responders, an input for the other role starts a process of its own.
        let responder = self.responder;
        let kept = |v: &Value| v["iut"]["role"] == responder;
        let cheap = self.keep_iut.then_some(&kept as &dyn Fn(&Value) -> bool);
        loop {
            stop = stop
                || self
                    .execs
                    .is_some_and(|n| drawn >= n + state.refused + state.over_budget + state.errors)
                || self.deadline.is_some_and(|d| Instant::now() >= d)
                || state.errors_in_a_row >= MAX_ERRORS_IN_A_ROW
                || interrupt::interrupted().is_some();
            while !stop && in_flight < jobs && (!in_order || drawn < taken + window) {
                let visible = match drawn.checked_sub(window) {
                    _ if !in_order => state.inputs.len(),
                    Some(k) => state.corpus_len_after[k as usize],
                    None => self.initial_inputs,
                };
                let mut candidate = match drawn.checked_sub(resumed) {
                    None => state.inputs[self.first_resumed + drawn as usize].clone(),
                    Some(k) => draw(&state.inputs[..visible], self.mutator, self.seed, k, cheap),
                };
                if inline {
                    let result = timed(|| runner.search(&mut candidate, drawn < resumed));
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

/// The run's summary, from what the search learnt; and how many inputs in a row at its end could
/// not be run.
fn summarize(
    state: State<'_>,
    args: &FuzzArgs,
    jobs: usize,
    resumed: u64,
    probe: bool,
    broken: Vec<String>,
) -> (Summary, u64) {
    let State {
        family,
        started,
        inputs,
        novelty,
        findings,
        execs,
        refused,
        over_budget,
        errors,
        errors_in_a_row,
        first_error,
        mut run_seconds,
        unconfirmed,
        ..
    } = state;
    let seconds = started.elapsed().as_secs_f64();
    let summary = Summary {
        iut: args.iut.clone(),
        family: family.to_owned(),
        seed: args.seed,
        jobs,
        execs,
        refused,
        over_budget,
        errors,
        first_error,
        seconds,
        execs_per_second: if seconds > 0.0 {
            execs as f64 / seconds
        } else {
            0.0
        },
        run_seconds: report::Spread::of(&mut run_seconds),
        corpus: inputs.len(),
        resumed,
        paths: novelty.len(),
        probe,
        interrupted: interrupt::interrupted().is_some(),
        findings,
        unconfirmed,
        broken_corpus_files: broken,
    };
    (summary, errors_in_a_row)
}

/// Writes the report in `dir`, says the summary's line, and returns the exit code.
fn finish(summary: &Summary, dir: &Path, errors_in_a_row: u64, out: &mut dyn Write) -> i32 {
    if let Err(e) = summary.write(dir) {
        eprintln!("error: cannot write the report in {}: {e}", dir.display());
    }
    let _ = writeln!(out, "{}", summary.line(dir));
    if let Some(code) = interrupt::interrupted() {
        return code;
    }
    let why = summary.first_error.as_deref().unwrap_or_default();
    let errors = summary.errors;
    if !summary.findings.is_empty() {
        EXIT_FAILED
    } else if errors_in_a_row >= MAX_ERRORS_IN_A_ROW {
        input_error(format!(
            "stopped: the last {errors_in_a_row} inputs could not be run (the first: {why})"
        ))
    } else if summary.execs == 0 {
        eprintln!(
            "error: no input was run and judged{}",
            if errors > 0 {
                format!(" ({errors} could not be run; the first: {why})")
            } else {
                String::new()
            }
        );
        EXIT_NOTHING
    } else {
        EXIT_OK
    }
}

/// Inputs in a row that could not be run (the IUT no longer starts, …) after which the search
/// stops: it would judge nothing more.
const MAX_ERRORS_IN_A_ROW: u64 = 20;

/// Writes a finding's scenario (the minimised input with the probe, as `harness run` replays it)
/// and the capture of running it: their paths.
fn write_finding(
    runner: &Runner<'_>,
    dir: &Path,
    family: &str,
    n: usize,
    base: &Value,
    minimal: &[Value],
    kind: &str,
) -> (String, String, String) {
    let (mut scenario, _) = runner.probed_with(&with_steps(base, minimal.to_vec()), true);
    let stem = format!("finding-{n}-{}", kind.replace([':', '+', '.'], "_"));
    scenario["id"] = Value::from(format!("fuzz.{family}.{stem}"));
    scenario["title"] = Value::from(format!("harness fuzz finding {n}: {kind}"));
    scenario["tags"] = serde_json::json!(["fuzz"]);
    // The oracle: the rules the finding broke (not every rule: the reference may break some on
    // this input too), the probe's answer, and the IUT still running at the end.
    scenario["expect"] = match kind.strip_prefix("rule:") {
        Some(rules) => serde_json::json!({ "rules_hold": rules.split('+').collect::<Vec<_>>() }),
        None => serde_json::json!({ "rules_hold": [] }),
    };
    let _ = std::fs::create_dir_all(dir);
    let scenario_path = dir.join(format!("{stem}.json"));
    let capture_path = dir.join(format!("{stem}.pcapng"));
    // The input as the search drew it, before minimisation: its context, and a corpus entry (a
    // fleet keeps its crashers in the corpus, so a bug that comes back is found by the replay).
    let input_path = dir.join(format!("{stem}.input.json"));
    for (path, value) in [(&scenario_path, &scenario), (&input_path, base)] {
        let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
        }
    }
    let capture = runner
        .family
        .load(Path::new("finding.json"), &scenario.to_string())
        .ok()
        .map(|l| l.run(runner.iut, runner.seed).capture);
    if let Some(bytes) = capture {
        if let Err(e) = std::fs::write(&capture_path, bytes) {
            eprintln!("error: cannot write {}: {e}", capture_path.display());
        }
    }
    (
        scenario_path.display().to_string(),
        capture_path.display().to_string(),
        input_path.display().to_string(),
    )
}

/// The path of response kinds of a run: what the IUT sent (the media stream's datagrams, `IUT ->`),
/// what the harness's endpoint got (QUIC families' events, `harness:`) and an in-process IUT's
/// state changes (`IUT event:`), with numbers, quoted ids and step notes taken out.
fn path_of(o: &ScenarioOutcome) -> Kinds {
    path_of_lines(o.transcript.iter().map(|l| l.text.as_str()))
}

/// Kinds written one after the other into one string (a string per kind was a thirtieth of a
/// search).
#[derive(Default)]
struct Kinds {
    text: String,
    ends: Vec<usize>,
}

impl Kinds {
    fn kinds(&self) -> Vec<&str> {
        let mut from = 0;
        self.ends
            .iter()
            .map(|&end| {
                let kind = self.text.get(from..end).unwrap_or_default();
                from = end;
                kind
            })
            .collect()
    }
}

fn path_of_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Kinds {
    let mut path = Kinds::default();
    for (prefix, rest) in lines.filter_map(|text| {
        ["harness: ", "IUT -> ", "IUT event: "]
            .iter()
            .find_map(|p| text.strip_prefix(p).map(|rest| (p, rest)))
    }) {
        // Up to the harness's note (` [dropped]`); a byte search (`str::find` sets up a
        // two-way search per line, a thirtieth of a search's time).
        let note = rest
            .as_bytes()
            .windows(2)
            .position(|w| w == b" [")
            .unwrap_or(rest.len());
        let rest = &rest[..note];
        let kind = &mut path.text;
        kind.push_str(prefix);
        // Kept: the runs of text outside quotes between digits (quotes and digits are ASCII:
        // the offsets next to them are char boundaries).
        let mut quoted = false;
        let mut kept_from = 0;
        for (i, b) in rest.bytes().enumerate() {
            if b == b'"' {
                if !quoted {
                    kind.push_str(&rest[kept_from..i]);
                }
                quoted = !quoted;
                kept_from = i + 1;
            } else if !quoted && b.is_ascii_digit() {
                kind.push_str(&rest[kept_from..i]);
                kept_from = i + 1;
            }
        }
        if !quoted {
            kind.push_str(&rest[kept_from..]);
        }
        path.ends.push(path.text.len());
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heaps' median is the sorted list's middle (the upper one of an even count) after
    /// every size, so the corpus a seed makes stays what it was.
    #[test]
    fn the_capture_size_median_is_the_sorted_middle() {
        let mut sizes = CaptureSizes::default();
        let mut sorted: Vec<usize> = Vec::new();
        let data = seeded_bytes(11, 4096);
        for pair in data.chunks_exact(2) {
            let size = usize::from(pair[0]) * 7 + usize::from(pair[1] % 3);
            sizes.add(size);
            let at = sorted.partition_point(|s| *s < size);
            sorted.insert(at, size);
            assert_eq!(sizes.median(), sorted[sorted.len() / 2]);
        }
        assert!(!sizes.cheap(sorted[sorted.len() / 2] * 4 + 1));
    }

    /// With `cheap`, the inputs it accepts are drawn about [`CHEAP_WEIGHT`] times as often as the
    /// others; without, every input as often; either way the same seed draws the same inputs.
    #[test]
    fn cheap_inputs_are_drawn_more_often() {
        let family = FAMILIES.require("mediastream").expect("registered");
        let mutator = FamilyMutator::new(family);
        let input = |role: &str| serde_json::json!({"iut": {"role": role}, "peer": {"steps": [{"wait": {"ms": 1}}]}});
        let pool = vec![input("initiator"), input("responder")];
        let responder = |v: &Value| v["iut"]["role"] == "responder";
        let count = |cheap: Option<&dyn Fn(&Value) -> bool>| {
            (0..4_000)
                .filter(|k| responder(&draw(&pool, &mutator, 3, *k, cheap)))
                .count()
        };
        let uniform = count(None);
        let weighted = count(Some(&responder));
        assert!((1_800..=2_200).contains(&uniform), "{uniform}");
        // 4 : 1 is 3,200 of 4,000.
        assert!((3_000..=3_400).contains(&weighted), "{weighted}");
        assert_eq!(weighted, count(Some(&responder)));
    }

    /// Every scripted library scenario of every family makes a skeleton its family loads, in
    /// virtual time and over real UDP: a refused skeleton is a part of the library never fuzzed.
    #[test]
    fn every_library_skeleton_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for name in FAMILIES.names() {
            let family = FAMILIES.require(name).expect("registered");
            for real_time in [false, true] {
                let dir = root.join("vectors/scenarios").join(name);
                let skeletons = load_skeletons(&[dir], name, None, real_time).expect("library");
                assert!(skeletons.len() >= 20, "{name}: {}", skeletons.len());
                // The refused ones are named in warnings on stderr.
                let usable = usable_skeletons(family, skeletons.clone());
                assert_eq!(usable.len(), skeletons.len(), "{name}: skeletons refused");
            }
        }
    }

    /// An input asking the media-stream reference for 2^47 bit/s: each frame is a burst of
    /// thousands of datagrams in one simulation step (60 MB in 0.2 s unbudgeted). It is over the
    /// budget (the link's trace stops at it: `Simulation::limit_link_events`).
    #[test]
    fn a_burst_of_media_is_over_the_budget() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let family = FAMILIES.require("mediastream").expect("registered");
        let mut s: Value = serde_json::from_str(
            &std::fs::read_to_string(
                root.join("vectors/scenarios/mediastream/responder_syn_options.json"),
            )
            .expect("library scenario"),
        )
        .expect("JSON");
        s["peer"]["steps"] = serde_json::json!([
            { "send": { "datagram": { "syn": { "options_hex": "02 0800 0000008000000000" } } } },
            { "expect": { "kind": "syn_ack", "within_ms": 10, "optional": true, "capture": { "assigned_id": "connection_id" } } },
            { "send": { "datagram": { "ack": {} } } },
            { "wait": { "ms": 200 } }
        ]);
        let iut = Iut::Reference {
            name: "ref:3way".into(),
            family: "mediastream",
            profile: "3way".into(),
        };
        let loaded = family.load_value(&s).expect("loads");
        let o = loaded.search_run(&iut, 1, exec::RUN_BUDGET_STEPS);
        assert!(exec::over_budget(&o), "{:?}", o.reasons);
    }

    /// A skeleton of a scenario about one of the project's decisions fails as any other input
    /// does: a step that gets no answer is a reason, not a deviation (the probe's failure, a hang,
    /// was unseen in such inputs).
    #[test]
    fn a_skeleton_about_a_decision_fails_like_any_other() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let family = FAMILIES.require("mediastream").expect("registered");
        let file = root.join("vectors/scenarios/mediastream/responder_syn_while_streaming.json");
        let original: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("library")).expect("JSON");
        assert!(
            original["profile"].is_string(),
            "a scenario about a decision"
        );
        let mut s = load_skeletons(&[file], "mediastream", None, false)
            .expect("library")
            .remove(0);
        let steps = s["peer"]["steps"].as_array_mut().expect("steps");
        steps.push(serde_json::json!({ "expect": { "kind": "syn_ack", "to_port": 50999, "within_ms": 5 } }));
        let iut = Iut::Reference {
            name: "ref:3way".into(),
            family: "mediastream",
            profile: "3way".into(),
        };
        let o = family
            .load_value(&s)
            .expect("loads")
            .search_run(&iut, 1, exec::RUN_BUDGET_STEPS);
        assert!(
            o.reasons.iter().any(|r| r.starts_with("step ")),
            "{:?} / {:?}",
            o.reasons,
            o.deviations
        );
    }

    /// Every library skeleton, its probe appended, runs within the fuzz budget against the
    /// family's first reference: a budget too small would leave a skeleton, and every input made
    /// from it, never judged.
    #[test]
    fn every_library_skeleton_runs_within_the_fuzz_budget() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for name in FAMILIES.names() {
            let family = FAMILIES.require(name).expect("registered");
            let base = family.mutants().first().map(|m| m.base).expect("mutants");
            let iut = Iut::Reference {
                name: format!("ref:{base}"),
                family: family.name(),
                profile: base.to_owned(),
            };
            let dir = root.join("vectors/scenarios").join(name);
            for s in load_skeletons(&[dir], name, None, false).expect("library") {
                let mut steps = s["peer"]["steps"].as_array().cloned().unwrap_or_default();
                steps.extend(family.liveness_probe(&s).unwrap_or_default());
                let loaded = family.load_value(&with_steps(&s, steps)).expect("loads");
                let o = loaded.search_run(&iut, 1, exec::RUN_BUDGET_STEPS);
                assert!(!exec::over_budget(&o), "{}: {:?}", s["id"], o.reasons);
            }
        }
    }

    #[test]
    fn a_path_keeps_the_kinds_of_the_lines_without_numbers_quotes_or_notes() {
        let lines = [
            "IUT -> SYN-ACK version=1 id=\"ab 12\" options=[max_datagram=1400]  [dropped]",
            "IUT <- SYN version=1",
            "step 3: send syn",
            "IUT event: Streaming { frames: 50 }",
            "harness: stream 4 opened, 12 bytes, \"ünï\" é9",
            "IUT -> DATA seq 1..50 (50 datagrams, until 12.500 ms)",
        ];
        assert_eq!(
            path_of_lines(lines.iter().copied()).kinds(),
            [
                "IUT -> SYN-ACK version= id= options=[max_datagram=] ",
                "IUT event: Streaming { frames:  }",
                "harness: stream  opened,  bytes,  é",
                "IUT -> DATA seq .. ( datagrams, until . ms)",
            ]
        );
    }
}
