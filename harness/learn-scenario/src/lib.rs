//! `harness learn`: infers an implementation's state machine over its family's abstract alphabet
//! (L#, `handshake-learn`) and diffs it against a reference's.
//!
//! A membership query is a scenario: the alphabet's preamble (its setup's `peer.steps`, a QUIC
//! family's connection), then the inputs' steps one after the other, against the IUT (in
//! virtual time for a reference, over real UDP for a program). Its answer is, per input, the
//! abstraction of what the IUT sent in that input's window, read from the run's capture. Over
//! real UDP an answer that contradicts an earlier one is asked again; one that still differs is
//! reported as non-determinism, not averaged away. A program that crashes or stops serving is a
//! finding, kept as a scenario, as `harness fuzz` keeps one.
//!
//! The diff replays every shortest sequence on which the IUT's model and the reference's differ as
//! a scenario judged by the family's rules: a **violation** when the IUT breaks a fact there and
//! the reference does not (the scenario is written to `OUT/differences/`); an **allowed
//! difference** when it only deviates from one of this project's readings; else no rule breaks
//! on it (the facts allow both, or the fact is one the family judges by steps, not by a rule).

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};

pub mod model_file;
pub mod present;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use handshake_learn::{Limit, Mealy, QueryError, Sul};
use handshake_netfuzz::mutate::waited_ms;
use handshake_scenario::engine::{Keep, STEP_LIMIT};
use handshake_scenario::external::ExternalIut;
use handshake_scenario::interrupt;
use handshake_scenario::outcome::{check_key, failed_step};
use handshake_scenario::{Alphabet, DynFamily, Iut, Learning, Role, Verdict};
use serde_json::{json, Value};

use handshake_scenario::exit::{FAILED as EXIT_FAILED, OK as EXIT_OK};
use handshake_scenario::Families;

/// What `harness learn` is asked: its options, as parsed from the command line.
#[derive(Debug, Clone)]
pub struct LearnOptions {
    /// The implementation to learn: `ref:PROFILE`, a manifest, `cmd:COMMAND`.
    pub iut: String,
    /// Its family (default: the IUT's).
    pub family: Option<String>,
    /// The IUT's role (the family's name for it; default: the responder's).
    pub role: Option<String>,
    /// The part of the role to learn, where the family splits it (the media stream's responder:
    /// `handshake`, `push`, `options`, `limit`; Proton's server: `options`, `push`, `timers`, `idle`, `startup`; Dark
    /// Tower's server: `controller`, `handler`, `handler-v2`; its client: `v2`); default: the
    /// role's first.
    pub part: Option<String>,
    /// The reference to diff the model with (`ref:3way`); none: the model only.
    pub diff: Option<String>,
    /// Where the models, the differences and the summary go.
    pub out: PathBuf,
    /// At most this many seconds of learning per model (the model so far is reported).
    pub time: u64,
    /// At most this many queries per model (learning and equivalence checks together; the model so
    /// far is reported when they run out).
    pub queries: u64,
    /// At most this many states per model.
    pub states: usize,
    /// The window of an action (how long the IUT's answer may take), ms: default 5 in virtual
    /// time; over real UDP the family's (the media stream 25, Proton and Dark Tower 80). The
    /// family's `wait` input is what lets timers fire.
    pub window_ms: Option<u64>,
    /// Only these of the family's inputs (comma-separated; default: all). Without `wait`, which
    /// lets timers fire, the model is the untimed protocol; with it the model counts time in
    /// waits.
    pub inputs: Vec<String>,
    /// Leave out the inputs that only wait (the family's `wait`, which lets timers fire): the
    /// untimed protocol, learned over real UDP in a fraction of the time.
    pub untimed: bool,
    /// Random walks of the equivalence check (default: 300 in virtual time, 60 over real UDP).
    pub walks: Option<usize>,
    /// Seed of the walks and the runs.
    pub seed: u64,
    /// Count a difference where the IUT only deviates from this project's reading (a profile
    /// decision) as a violation. Always on for a reference mutant (`ref:3way!NAME`), which is held
    /// to the whole reading.
    pub strict_profile: bool,
    /// Queries at once, each on a session of its own (default: 32 over real UDP, where a query
    /// mostly waits; 1 in virtual time).
    pub jobs: Option<usize>,
    /// Over real UDP, ask every query this many times (2: the same answer twice, else the
    /// majority of three, all listed). With 1, an answer is asked again only when it contradicts
    /// an earlier one.
    pub repeat: u32,
    /// A model kept from an earlier run (its `model.json`): exit 1 when the IUT's state machine
    /// is no longer that one, with the first word on which they differ (a regression gate).
    pub check: Option<PathBuf>,
    /// Inputs and seed words added to the family's alphabet, from a JSON file:
    /// `{"inputs": {"NAME": [STEP, ...]}, "seeds": ["NAME NAME ..."]}`. A step's `"WINDOW_MS"` is
    /// the window; an input named as one of the family's replaces it.
    pub alphabet: Option<PathBuf>,
    /// Stop at the first violation: each difference from `--diff` the IUT has answered is judged
    /// while learning goes on, and the first violation ends it (the model so far is written, exit
    /// 1). Without one, the whole model is learned and every transition replayed, as without it.
    /// For a mutant sweep or a gate that wants the verdict, not the model.
    pub fail_fast: bool,
}

/// An `--alphabet` file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlphabetFile {
    /// Inputs by name, each its scenario steps.
    #[serde(default)]
    inputs: BTreeMap<String, Vec<Value>>,
    /// Words the equivalence check tries first.
    #[serde(default)]
    seeds: Vec<String>,
}

impl AlphabetFile {
    fn read(path: &std::path::Path) -> Result<AlphabetFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        handshake_scenario::json::from_str(&text).map_err(|e| format!("{}:{e}", path.display()))
    }
}

/// What is learned: the family, the IUT's role, the alphabet and the inputs chosen of it (their
/// steps with the window set).
struct Subject {
    family: &'static dyn DynFamily,
    role: String,
    learning: Learning,
    alphabet: Alphabet,
    /// The setup's `peer.steps`: what every query does before its first input (a QUIC family's
    /// connection), outside every input's window.
    preamble: Vec<Value>,
    /// The setup's `peer.finally`: what every query does after its last input, outside every
    /// window (a QUIC family closes its connection, so a kept server that serves one at a time
    /// is free for the next query).
    postamble: Vec<Value>,
    inputs: BTreeMap<String, Vec<Value>>,
    /// An action's window, ms.
    window_ms: u64,
    /// Seed words of an `--alphabet` file.
    extra_seeds: Vec<String>,
    /// For a program's mutant (`FILE.json!NAME`), the program unmutated: a violation it shows too
    /// is the program's own reading, not the mutant's doing.
    unmutated: Option<Iut>,
}

/// The IUT as a system under learning: each query a scenario run.
struct ScenarioSul<'a> {
    asker: Asker<'a>,
    /// Where batches of queries run concurrently (none: one after another here).
    workers: Option<Workers>,
    deadline: Instant,
    /// Queries whose answers differed between asks (over real UDP).
    unstable: Vec<(Vec<String>, Vec<Vec<String>>)>,
    /// Runs so far (for the progress line).
    runs: u64,
}

/// What asks the IUT a query: a scenario run.
#[derive(Clone, Copy)]
struct Asker<'a> {
    subject: &'a Subject,
    iut: &'a Iut,
    seed: u64,
    /// How many times a query is asked over real UDP.
    repeat: u32,
    /// The crashes and hangs found so far.
    stops: &'a std::sync::Mutex<Vec<Stop>>,
}

/// A program that crashed or stopped serving while it was learned: a finding, as `harness fuzz`
/// reports one.
#[derive(Debug, Clone)]
struct Stop {
    /// `crash` or `hang`.
    kind: &'static str,
    /// The word that did it.
    word: Vec<String>,
    /// What showed it.
    reason: String,
    /// The scenario that shows it again: the word's, with the family's liveness probe after it
    /// for a hang.
    scenario: Value,
}

/// How a program stopped serving.
#[derive(Debug, Clone, Copy)]
enum Stopped {
    /// It ended.
    Crash,
    /// It runs, but answers no new session.
    Hang,
}

impl Stopped {
    fn name(self) -> &'static str {
        match self {
            Stopped::Crash => "crash",
            Stopped::Hang => "hang",
        }
    }
}

thread_local! {
    /// The word this thread's kept process served last: what a hang found by the next query may
    /// be blamed on.
    static LAST_WORD: std::cell::RefCell<Option<Vec<String>>> =
        const { std::cell::RefCell::new(None) };
}

impl<'a> ScenarioSul<'a> {
    /// `iut` over the subject's inputs, its time running from now, `workers` answering batches.
    fn new(args: &LearnOptions, asker: Asker<'a>, workers: Option<Workers>) -> ScenarioSul<'a> {
        ScenarioSul {
            asker,
            workers,
            deadline: Instant::now() + Duration::from_secs(args.time),
            unstable: Vec::new(),
            runs: 0,
        }
    }
}

impl<'a> Asker<'a> {
    /// Asks `iut` over `subject`'s inputs, as `args` say, keeping crashes and hangs in `stops`.
    fn new(
        args: &LearnOptions,
        subject: &'a Subject,
        iut: &'a Iut,
        stops: &'a std::sync::Mutex<Vec<Stop>>,
    ) -> Asker<'a> {
        Asker {
            subject,
            iut,
            seed: args.seed,
            repeat: args.repeat,
            stops,
        }
    }

    /// The scenario that plays `word`: each input's steps in turn.
    fn scenario(&self, word: &[String]) -> Result<Value, QueryError> {
        let mut steps = self.subject.preamble.clone();
        for input in word {
            let s = self
                .subject
                .inputs
                .get(input)
                .ok_or_else(|| QueryError::new(format!("no input `{input}`")))?;
            steps.extend(s.iter().cloned());
        }
        steps.extend(self.subject.postamble.iter().cloned());
        let setup: Value = serde_json::from_str(&format!("{{{}}}", self.subject.alphabet.setup))
            .map_err(|e| QueryError::new(format!("the family's learning setup: {e}")))?;
        let mut s = json!({
            "id": "learn.query",
            "title": format!("learning query: {}", word.join(" ")),
            "protocol": self.subject.family.name(),
            "iut": {},
            "peer": { "steps": steps },
            "expect": {},
            "settle_ms": 0,
        });
        if let (Some(s), Some(setup)) = (s.as_object_mut(), setup.as_object()) {
            // The setup's `peer` keys are kept, its steps come first (the preamble, above).
            s.extend(setup.clone().into_iter().filter(|(k, _)| k != "peer"));
        }
        if let Some(peer) = setup["peer"].as_object() {
            for (k, v) in peer
                .iter()
                .filter(|(k, _)| *k != "steps" && *k != "finally")
            {
                s["peer"][k] = v.clone();
            }
        }
        s["iut"]["role"] = json!(self.subject.role);
        Ok(s)
    }

    /// One run of `word`: its outputs, one letter per input. Over real UDP a program that ended
    /// (crashed) is a finding, and the window it ended in answers `crash`; one that no longer
    /// serves (a preamble that did not complete, or a silent answer and a liveness probe not
    /// answered) is a hang, blamed by replay on fresh processes, and the word is asked again on a
    /// fresh process.
    fn ask(&self, word: &[String]) -> Result<Vec<String>, QueryError> {
        self.ask_watching(word, self.iut.is_real_time())
    }

    /// The run of `json` on the IUT (a kept process, where it is kept). A program that was not
    /// ready in time (a machine busy starting others) is started again, twice at most.
    fn run(&self, json: &Value) -> Result<handshake_scenario::ScenarioOutcome, QueryError> {
        let loaded = self
            .subject
            .family
            .load_value(json)
            .map_err(|e| QueryError::new(e.0))?;
        let mut outcome = loaded.run_keeping(self.iut, self.seed, STEP_LIMIT, Keep::Units);
        for _ in 0..2 {
            if !outcome.reasons.iter().any(|r| r.contains(NOT_READY)) {
                break;
            }
            ExternalIut::forget_kept();
            outcome = loaded.run_keeping(self.iut, self.seed, STEP_LIMIT, Keep::Units);
        }
        if outcome.interrupted || interrupt::interrupted().is_some() {
            // Cut short: its answer is partial, and must not be learned from.
            return Err(QueryError::stopping(Limit::Interrupted, "interrupted"));
        }
        if matches!(outcome.verdict, Verdict::Error | Verdict::Unsupported) {
            return Err(QueryError::new(outcome.reasons.join("; ")));
        }
        Ok(outcome)
    }

    /// [`ask`](Self::ask); `watching`: crashes and hangs are looked for (not on a word asked
    /// again after one).
    fn ask_watching(&self, word: &[String], watching: bool) -> Result<Vec<String>, QueryError> {
        let json = self.scenario(word)?;
        let outcome = self.run(&json)?;
        let crash = if watching {
            outcome.iut_crash().map(str::to_owned)
        } else {
            None
        };
        if crash.is_some() {
            // The process is gone; the next query starts a fresh one. The word's answers stand
            // (what it sent before it ended, then nothing): the crash is a finding, not a letter,
            // since when a program's end is seen lags behind the input that ended it.
            ExternalIut::forget_kept();
            LAST_WORD.with(|w| w.borrow_mut().take());
            self.blame(word, Stopped::Crash)?;
        }
        let starts = step_starts(&outcome.transcript);
        let mut first = 1 + self.subject.preamble.len();
        // A preamble that did not complete (no connection, a participant not let in) leaves the
        // inputs nothing to act on: their answers would be the preamble's failure, not the IUT's.
        if !word.is_empty() && !starts.contains_key(&first) {
            if watching && crash.is_none() {
                return self.no_longer_served(word);
            }
            return Err(QueryError::new(format!(
                "the preamble did not complete: {}",
                outcome.reasons.join("; ")
            )));
        }
        let mut windows = Vec::new();
        for input in word {
            let steps = self
                .subject
                .inputs
                .get(input)
                .map_or(&[][..], Vec::as_slice);
            let start = starts.get(&first).copied().unwrap_or(f64::MAX);
            windows.push((start, start + waited_ms(steps)));
            first += steps.len();
        }
        let answers = self.outputs(&outcome.iut_units, &windows);
        if watching && crash.is_none() {
            // A family whose queries start by connecting finds a hang when the next query's
            // preamble fails (above); one whose queries do not (the media stream's) asks the
            // probe after a silent answer, which costs it a datagram and its answer.
            let silent = answers.iter().all(|a| a == "-");
            if silent && self.subject.preamble.is_empty() && !self.still_serves()? {
                return self.no_longer_served(word);
            }
            LAST_WORD.with(|w| *w.borrow_mut() = Some(word.to_vec()));
        }
        Ok(answers)
    }

    /// Finds the shortest prefix of `word` that crashes a fresh process, or leaves it not
    /// serving (its liveness probe after it not answered), and keeps it as a finding; whether
    /// one did. A word in which the last input of a kept finding of that kind comes is taken to
    /// show that finding again (not replayed).
    fn blame(&self, word: &[String], kind: Stopped) -> Result<bool, QueryError> {
        let known = self.stops.lock().is_ok_and(|stops| {
            stops
                .iter()
                .filter(|s| s.kind == kind.name())
                .any(|s| s.word.last().is_some_and(|last| word.contains(last)))
        });
        if known {
            return Ok(true);
        }
        for n in 1..=word.len() {
            let prefix = word.get(..n).unwrap_or(word);
            let (json, probe_at) = match self.probed(prefix)? {
                Some(probed) => probed,
                None => {
                    let json = self.scenario(prefix)?;
                    let steps = json["peer"]["steps"].as_array().map_or(0, Vec::len);
                    (json, steps)
                }
            };
            ExternalIut::forget_kept();
            let outcome = self.run(&json)?;
            ExternalIut::forget_kept();
            let reason = match kind {
                Stopped::Crash => outcome.iut_crash().map(str::to_owned),
                Stopped::Hang if outcome.iut_crash().is_none() => outcome
                    .reasons
                    .iter()
                    .find(|r| failed_step(r).is_some_and(|n| n > probe_at))
                    .map(|r| format!("after it the IUT no longer served a new session: {r}")),
                Stopped::Hang => None,
            };
            if let Some(reason) = reason {
                if let Ok(mut stops) = self.stops.lock() {
                    // Another worker may have found it meanwhile.
                    let same = |s: &Stop| s.kind == kind.name() && s.word.last() == prefix.last();
                    if stops.iter().any(same) {
                        return Ok(true);
                    }
                    stops.push(Stop {
                        kind: kind.name(),
                        word: prefix.to_vec(),
                        reason,
                        scenario: json,
                    });
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `word`'s scenario with the family's liveness probe after it, and where the probe starts
    /// (`None`: the family has no probe).
    fn probed(&self, word: &[String]) -> Result<Option<(Value, usize)>, QueryError> {
        let mut json = self.scenario(word)?;
        let Some(probe) = (self.subject.family.fuzz().liveness_probe)(&json) else {
            return Ok(None);
        };
        let Some(steps) = json
            .pointer_mut("/peer/steps")
            .and_then(Value::as_array_mut)
        else {
            return Ok(None);
        };
        let before = steps.len();
        steps.extend(probe);
        Ok(Some((json, before)))
    }

    /// Whether the kept process still answers the family's liveness probe (a fresh session).
    fn still_serves(&self) -> Result<bool, QueryError> {
        let Some((json, before)) = self.probed(&[])? else {
            return Ok(true);
        };
        let outcome = self.run(&json)?;
        Ok(outcome.iut_crash().is_none() && !outcome.failed_after(before))
    }

    /// The kept process no longer serves: the word it served last, or `word`, is blamed (the
    /// first that leaves a fresh process not answering the probe after it), and `word` is asked
    /// again on a fresh process.
    fn no_longer_served(&self, word: &[String]) -> Result<Vec<String>, QueryError> {
        ExternalIut::forget_kept();
        let before = LAST_WORD.with(|w| w.borrow_mut().take());
        for suspect in before.iter().map(Vec::as_slice).chain([word]) {
            if self.blame(suspect, Stopped::Hang)? {
                break;
            }
        }
        self.ask_watching(word, false)
    }

    /// What the IUT sent in each window, abstracted: the letters of its units, sorted and joined
    /// with `+`, `-` for none. A window lasts its input's waits from the input's start, whatever
    /// comes after it, so a word's answer begins with its prefixes'.
    fn outputs(&self, units: &[(f64, Value)], windows: &[(f64, f64)]) -> Vec<String> {
        let mut letters: Vec<Vec<String>> = vec![Vec::new(); windows.len()];
        for (at, unit) in units {
            let Some(k) = windows.iter().position(|(from, to)| from <= at && at < to) else {
                continue;
            };
            if let (Some(l), Some(slot)) =
                ((self.subject.learning.output)(unit), letters.get_mut(k))
            {
                if !slot.contains(&l) {
                    slot.push(l);
                }
            }
        }
        letters
            .into_iter()
            .map(|mut l| {
                l.sort();
                let l = (self.subject.learning.window)(l);
                if l.is_empty() {
                    "-".to_owned()
                } else {
                    l.join("+")
                }
            })
            .collect()
    }
}

/// At most this many shortest differences between two models are replayed and reported (and
/// asked of the IUT while it is learned).
const DIFFERENCES_SHOWN: usize = 20;

/// How many differences are looked through for those of a kind not judged yet (cheap: a walk of
/// the two models).
const DIFFERENCES_SEARCHED: usize = 10_000;

/// At most this many differences are judged while an IUT is learned (`--fail-fast`): each costs
/// replays, over real UDP seconds.
const DIFFERENCES_JUDGED: usize = 200;

/// What a run says of a program that did not get ready in time.
const NOT_READY: &str = "the IUT was not ready";

/// When each step started, ms, from the transcript's step markers (`step N: …`).
fn step_starts(transcript: &[handshake_scenario::outcome::TranscriptLine]) -> BTreeMap<usize, f64> {
    let mut starts = BTreeMap::new();
    for line in transcript {
        let Some(rest) = line.text.strip_prefix("step ") else {
            continue;
        };
        if let Some(n) = rest.split(':').next().and_then(|n| n.parse().ok()) {
            starts.entry(n).or_insert(line.at_ms);
        }
    }
    starts
}

/// A stable answer to a query, and the answers of every ask when they differed.
type Answer = (Vec<String>, Option<Vec<Vec<String>>>);

impl Asker<'_> {
    /// The answer to `word`: one run in virtual time; over real UDP the same answer twice, or the
    /// majority of three (all three kept: non-determinism is reported, not averaged away).
    fn answer(&self, word: &[String]) -> Result<Answer, QueryError> {
        let first = self.ask(word)?;
        if !self.iut.is_real_time() || self.repeat < 2 {
            return Ok((first, None));
        }
        let second = self.ask(word)?;
        if first == second {
            return Ok((first, None));
        }
        let third = self.ask(word)?;
        let stable = if third == second {
            second.clone()
        } else {
            first.clone()
        };
        Ok((stable, Some(vec![first, second, third])))
    }
}

impl ScenarioSul<'_> {
    /// Counts `n` runs, says how far learning has got, and stops it when its time is up.
    fn start(&mut self, n: usize, longest: usize) -> Result<(), QueryError> {
        if interrupt::interrupted().is_some() {
            return Err(QueryError::stopping(Limit::Interrupted, "interrupted"));
        }
        if Instant::now() > self.deadline {
            return Err(QueryError::stopping(
                Limit::Time,
                "the time for learning is up",
            ));
        }
        let before = self.runs / 200;
        self.runs += n as u64;
        if self.runs / 200 > before {
            eprintln!(
                "learning {}: {} queries so far (the last batch's longest: {longest} inputs)",
                self.asker.iut.name(),
                self.runs
            );
        }
        Ok(())
    }

    fn keep(&mut self, word: &[String], (answer, unstable): Answer) -> Vec<String> {
        if let Some(answers) = unstable {
            self.unstable.push((word.to_vec(), answers));
        }
        answer
    }
}

impl Sul<String, String> for ScenarioSul<'_> {
    fn query(&mut self, word: &[String]) -> Result<Vec<String>, QueryError> {
        self.start(1, word.len())?;
        let answer = self.asker.answer(word)?;
        Ok(self.keep(word, answer))
    }

    /// The words on `jobs` threads at once (each a distinct session: a fresh tuple or
    /// connection, or a process of its own where the IUT is started per query).
    fn query_batch(&mut self, words: &[Vec<String>]) -> Result<Vec<Vec<String>>, QueryError> {
        self.start(words.len(), words.iter().map(Vec::len).max().unwrap_or(0))?;
        let answers = match &self.workers {
            Some(workers) if words.len() > 1 => workers.answer_all(words),
            _ => words.iter().map(|w| self.asker.answer(w)).collect(),
        };
        let mut kept = Vec::with_capacity(words.len());
        for (word, answer) in words.iter().zip(answers) {
            kept.push(self.keep(word, answer?));
        }
        Ok(kept)
    }
}

/// Threads that answer queries concurrently, each keeping its own IUT process (a responder kept
/// running serves its thread's queries one after another).
struct Workers {
    jobs: std::sync::mpsc::Sender<Job>,
}

/// A query for a worker: its place in the batch, the word, where the answer goes.
type Job = (
    usize,
    Vec<String>,
    std::sync::mpsc::Sender<(usize, Result<Answer, QueryError>)>,
);

impl Workers {
    /// `n` threads in `scope` answering with `answer`; they end when the workers are dropped.
    fn start<'scope, 'env, F>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        n: usize,
        answer: F,
    ) -> Workers
    where
        F: Fn(&[String]) -> Result<Answer, QueryError> + Send + Sync + 'env,
    {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let answer = std::sync::Arc::new(answer);
        for _ in 0..n {
            let (queue, answer) = (queue.clone(), answer.clone());
            scope.spawn(move || loop {
                let job = match queue.lock() {
                    Ok(q) => q.recv(),
                    Err(_) => return,
                };
                let Ok((i, word, reply)) = job else {
                    return;
                };
                let _ = reply.send((i, answer(&word)));
            });
        }
        Workers { jobs }
    }

    /// The answers to `words`, in their order.
    fn answer_all(&self, words: &[Vec<String>]) -> Vec<Result<Answer, QueryError>> {
        let (reply, answers) = std::sync::mpsc::channel();
        for (i, word) in words.iter().enumerate() {
            if self.jobs.send((i, word.clone(), reply.clone())).is_err() {
                break;
            }
        }
        drop(reply);
        let mut ordered: Vec<Result<Answer, QueryError>> = (0..words.len())
            .map(|_| Err(QueryError::new("a worker ended".to_owned())))
            .collect();
        for (i, answer) in answers {
            if let Some(slot) = ordered.get_mut(i) {
                *slot = answer;
            }
        }
        ordered
    }
}

/// A learned model and how it was learned.
struct Model {
    name: String,
    mealy: Mealy<String, String>,
    summary: Value,
    /// The crashes and hangs found while learning.
    stops: Vec<Stop>,
}

/// Learns `iut`'s model over the subject's inputs.
fn learn_model(
    args: &LearnOptions,
    subject: &Subject,
    iut: &Iut,
    reference: Option<Against>,
) -> Result<Model, String> {
    let jobs = args
        .jobs
        .unwrap_or(if iut.is_real_time() { 32 } else { 1 })
        .max(1);
    let stops = std::sync::Mutex::new(Vec::new());
    let model = std::thread::scope(|scope| {
        let asker = Asker::new(args, subject, iut, &stops);
        let workers = (jobs > 1).then(|| Workers::start(scope, jobs, move |w| asker.answer(w)));
        // The workers end with the SUL, before the scope waits for them.
        let sul = ScenarioSul::new(args, asker, workers);
        learn_with(args, (subject, reference), iut, sul)
    });
    model.map(|mut m| {
        m.stops = stops.into_inner().unwrap_or_default();
        m
    })
}

/// Learns with the family's seed words, the differences from `reference` (when one is given),
/// random walks and a bounded Wp-method suite as the equivalence check.
fn learn_with(
    args: &LearnOptions,
    (subject, reference): (&Subject, Option<Against>),
    iut: &Iut,
    mut sul: ScenarioSul,
) -> Result<Model, String> {
    let started = Instant::now();
    let alphabet: Vec<String> = subject.inputs.keys().cloned().collect();
    // The family's seed words (those whose inputs are all chosen), random walks (cheap), then a
    // bounded Wp-method suite.
    let seeds: Vec<Vec<String>> = subject
        .alphabet
        .seeds
        .iter()
        .copied()
        .chain(subject.extra_seeds.iter().map(String::as_str))
        .map(|w| w.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|w| w.iter().all(|i| subject.inputs.contains_key(i)))
        .collect();
    let mut oracle =
        handshake_learn::ChainOracle::new().then(handshake_learn::SeededOracle::new(seeds));
    if let Some(against) = reference {
        oracle = oracle.then(handshake_learn::DifferenceOracle::new(
            against.mealy.clone(),
            DIFFERENCES_SHOWN,
        ));
        if args.fail_fast {
            oracle = oracle.then(ViolationWatch {
                args,
                subject,
                iut,
                against,
            });
        }
    }
    let mut oracle = oracle
        .then(walks(args, subject.window_ms, iut.is_real_time()))
        .then(
            handshake_learn::WpOracle::new(1).with_max_tests(if iut.is_real_time() {
                // Over real UDP a test costs its waits in real time.
                300
            } else {
                usize::MAX
            }),
        );
    let learned = handshake_learn::learn(
        &mut sul,
        &alphabet,
        &mut oracle,
        handshake_learn::Limits {
            max_queries: args.queries,
            max_states: args.states,
            // Over real UDP a late answer looks like none: a query contradicting an earlier
            // answer is asked again (counted as non-determinism).
            retries: if iut.is_real_time() { 3 } else { 0 },
            ..handshake_learn::Limits::default()
        },
    )
    .map_err(|e| format!("learning {}: {e}", iut.name()))?;
    let summary = json!({
        "iut": iut.name(),
        "states": learned.hypothesis.state_count(),
        "inputs": alphabet,
        "membership_queries": learned.stats.membership_queries,
        "symbols": learned.stats.membership_symbols + learned.stats.test_symbols,
        "test_queries": learned.stats.test_queries,
        "equivalence_queries": learned.stats.equivalence_queries,
        "seconds": started.elapsed().as_secs_f64(),
        "stopped_by": learned.stopped_by.map(|l| format!("{l:?}")),
        // Queries whose asks differed, and answers that contradicted an earlier one.
        "answered_two_ways": sul.unstable.len() as u64 + learned.stats.contradictions,
        "non_deterministic": sul
            .unstable
            .iter()
            .map(|(w, answers)| json!({"word": w, "answers": answers}))
            .chain(learned.nondeterministic.iter().map(|(w, kept, other)| {
                json!({"word": w, "answers": [kept, other], "kept": kept})
            }))
            .collect::<Vec<_>>(),
    });
    Ok(Model {
        name: iut.name().to_owned(),
        mealy: learned.hypothesis,
        summary,
        stops: Vec::new(),
    })
}

/// What an IUT's model is learned against: the reference's model, the reference (which a
/// difference's replay must pass to judge anything), and the differences judged so far.
#[derive(Clone, Copy)]
struct Against<'a> {
    mealy: &'a Mealy<String, String>,
    iut: &'a Iut,
    judged: &'a Judgements,
}

/// Differences from the reference judged while learning (`--fail-fast`), by word, with the IUT's
/// answer they were judged on: the diff reuses them.
type Judgements = std::sync::Mutex<BTreeMap<Vec<String>, (Vec<String>, Judged)>>;

/// `--fail-fast`: judges the differences from the reference once the IUT has answered them (it
/// follows the [`handshake_learn::DifferenceOracle`] in the chain, which found no counterexample
/// among them: the IUT answers each as the hypothesis does), each once; the first violation
/// stops learning ([`Limit::Found`]).
struct ViolationWatch<'a> {
    args: &'a LearnOptions,
    subject: &'a Subject,
    iut: &'a Iut,
    against: Against<'a>,
}

impl handshake_learn::EquivalenceOracle<String, String> for ViolationWatch<'_> {
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<String, String>,
        _: &mut dyn Sul<String, String>,
    ) -> Result<Option<Vec<String>>, QueryError> {
        let no_stops = std::sync::Mutex::new(Vec::new());
        let asker = Asker::new(self.args, self.subject, self.iut, &no_stops);
        let strict = strict(self.args, self.iut);
        let judge = |word: &Vec<String>| -> Result<Judged, String> {
            let (iut_out, ref_out) = (hypothesis.run(word), self.against.mealy.run(word));
            let replays = replays(self.subject, &asker, word, (&iut_out, &ref_out))?;
            judge_difference(
                self.subject,
                replays,
                (self.iut, self.against.iut),
                self.args.seed,
                strict,
            )
        };
        // Batch after batch of the differences not judged yet, a difference of a kind not judged
        // yet before the shortest: a program's many allowed differences (the stranger's Proton
        // server answers an event before the setup in every state before it) must not hide a
        // mutant's longer one behind them.
        let kind = |w: &[String]| {
            (
                w.last().cloned(),
                hypothesis.run(w).pop(),
                self.against.mealy.run(w).pop(),
            )
        };
        loop {
            let fresh = {
                let judged = lock(self.against.judged);
                if judged.len() >= DIFFERENCES_JUDGED {
                    return Ok(None);
                }
                let candidates = handshake_learn::differences_beyond(
                    hypothesis,
                    self.against.mealy,
                    DIFFERENCES_SEARCHED,
                    |w| judged.contains_key(w),
                );
                let mut kinds: BTreeSet<_> = judged.keys().map(|w| kind(w)).collect();
                let (mut batch, rest): (Vec<_>, Vec<_>) =
                    candidates.into_iter().partition(|w| kinds.insert(kind(w)));
                batch.truncate(DIFFERENCES_SHOWN);
                let room = DIFFERENCES_SHOWN - batch.len();
                batch.extend(rest.into_iter().take(room));
                batch
            };
            if fresh.is_empty() {
                return Ok(None);
            }
            let judged = in_parallel(&fresh, replay_jobs(self.args, self.iut), judge);
            let mut found = false;
            let mut kept = lock(self.against.judged);
            for (word, judged) in fresh.into_iter().zip(judged) {
                let judged = judged.map_err(QueryError::new)?;
                found |= matches!(judged, Judged::Violation(..));
                kept.insert(word.clone(), (hypothesis.run(&word), judged));
            }
            if found {
                return Err(QueryError::stopping(
                    Limit::Found,
                    "a violation was found (--fail-fast)",
                ));
            }
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether a deviation from this project's reading is a violation: with `--strict-profile`, and
/// always for a reference mutant, held to the whole reading (as in `harness mutants`).
fn strict(args: &LearnOptions, iut: &Iut) -> bool {
    args.strict_profile || iut.name().contains('!')
}

/// How many replays run at once: over real UDP as many as the learner's workers (each keeping its
/// own process), one in virtual time.
fn replay_jobs(args: &LearnOptions, iut: &Iut) -> usize {
    if iut.is_real_time() {
        args.jobs.unwrap_or(32).max(1)
    } else {
        1
    }
}

/// `f` of each of `items`, in their order, on at most `jobs` threads.
fn in_parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if jobs <= 1 || items.len() <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(jobs).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let runs: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The random walks of the equivalence check. Time passes with every input (its window): a walk
/// stays within 250 ms of windows (10 inputs of 25 ms or 3 of 80 ms over real UDP, 50 of 5 ms in
/// virtual time),
/// short of a family's first timer, so a model counts the IUT's states, not how long a walk took.
/// A reference diffed with a program is learned with the program's windows, and walks alike.
fn walks(
    args: &LearnOptions,
    window_ms: u64,
    real_time: bool,
) -> handshake_learn::RandomWalkOracle {
    let max_length = usize::try_from(250 / window_ms.max(1))
        .unwrap_or(usize::MAX)
        .clamp(4, 50);
    handshake_learn::RandomWalkOracle::new(args.seed)
        .with_walks(args.walks.unwrap_or(if real_time { 100 } else { 300 }))
        .with_mean_length(6.min(max_length / 2))
        .with_max_length(max_length)
}

/// What a difference's replay showed.
#[derive(Clone)]
enum Judged {
    /// The IUT broke a fact there and the reference did not: the scenario that shows it.
    Violation(Value, Vec<String>),
    /// The IUT only deviates from this project's reading there, or does not speak a contract the
    /// check rests on.
    Allowed(Vec<String>),
    /// Nothing judges it: no rule broke and the facts say nothing of that state.
    Unjudged,
}

/// The scenarios that replay a difference: the word up to its first differing input, with every
/// rule held, and a check of one letter the two answered differently there (an `expect` of a
/// letter only the reference sent, an `expect_none` of one only the IUT sent, right after the
/// input's action) resting on what the family says decides that letter after that word.
fn replays(
    subject: &Subject,
    sul: &Asker,
    word: &[String],
    (iut_out, ref_out): (&[String], &[String]),
) -> Result<Vec<Value>, String> {
    let Some(i) = (0..word.len()).find(|&i| iut_out.get(i) != ref_out.get(i)) else {
        return Ok(Vec::new());
    };
    let prefix = &word[..=i];
    let mut plain = sul.scenario(prefix).map_err(|e| e.to_string())?;
    plain["expect"] = json!({ "rules_hold": ["all"] });
    plain["id"] = json!("learn.difference");
    let letters = |o: Option<&String>| -> Vec<String> {
        o.map(|o| {
            o.split('+')
                .filter(|l| *l != "-")
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    };
    let (iut_letters, ref_letters) = (letters(iut_out.get(i)), letters(ref_out.get(i)));
    let names: Vec<&str> = prefix.iter().map(String::as_str).collect();
    // The check goes right after input i's actions (a Proton `event` is two writes: the
    // stream's discriminator and the value; at its start when it only waits), and watches the
    // input's window.
    let steps_i = subject.inputs.get(&word[i]).map_or(&[][..], Vec::as_slice);
    let acts = steps_i
        .iter()
        .take_while(|s| s.get("wait").is_none())
        .count();
    let at: usize = subject.preamble.len()
        + prefix[..i]
            .iter()
            .map(|w| subject.inputs.get(w).map_or(0, Vec::len))
            .sum::<usize>()
        + acts;
    let window = waited_ms(steps_i) as u64;
    let mut scenarios = Vec::new();
    let candidates = ref_letters
        .iter()
        .filter(|l| !iut_letters.contains(l))
        .map(|l| (l, true))
        .chain(
            iut_letters
                .iter()
                .filter(|l| !ref_letters.contains(l))
                .map(|l| (l, false)),
        );
    for (letter, expected) in candidates {
        let (Some(pattern), Some(basis)) = (
            (subject.learning.pattern)(letter),
            (subject.learning.basis)(subject.alphabet.part, &names, letter),
        ) else {
            continue;
        };
        let mut check = json!({ "kind": pattern["kind"], "basis": basis });
        if let Some(fields) = pattern.get("where") {
            check["where"] = fields.clone();
        }
        let step = if expected {
            check["within_ms"] = json!(window);
            // The letter in this window: not one sent before it that no `expect` took (a
            // legacy initiator's earlier START re-send).
            check["since_step"] = json!(true);
            json!({ "expect": check })
        } else {
            check["for_ms"] = json!(window);
            json!({ "expect_none": check })
        };
        let mut scenario = plain.clone();
        if let Some(steps) = scenario["peer"]["steps"].as_array_mut() {
            steps.insert(at.min(steps.len()), step);
        }
        scenario["title"] = json!(format!(
            "learned difference: after {}, {} {letter} ({basis})",
            prefix.join(" "),
            if expected { "expect" } else { "no" }
        ));
        scenarios.push(scenario);
    }
    scenarios.push(plain);
    Ok(scenarios)
}

/// Replays a difference ([`replays`]) on the IUT and on the reference: the first replay that
/// shows a violation, else what the others allow. `strict`: a deviation from this project's
/// reading is a violation (reference mutants are held to the whole reading).
fn judge_difference(
    subject: &Subject,
    replays: Vec<Value>,
    (iut, reference): (&Iut, &Iut),
    seed: u64,
    strict: bool,
) -> Result<Judged, String> {
    let mut allowed = Vec::new();
    for scenario in replays {
        let loaded = subject.family.load_value(&scenario).map_err(|e| e.0)?;
        let on_reference = loaded.run(reference, seed);
        if on_reference.verdict != Verdict::Pass || !on_reference.deviations.is_empty() {
            // The reference does not keep this check: it judges nothing.
            continue;
        }
        let mut on_iut = loaded.run(iut, seed);
        let failed = |o: &handshake_scenario::ScenarioOutcome| {
            o.verdict == Verdict::Fail || (strict && !o.deviations.is_empty())
        };
        if iut.is_real_time() && failed(&on_iut) {
            // Over real UDP a verdict is confirmed on a fresh process: a kept process's earlier
            // sessions (a stream still running to a port the OS handed out again) must not
            // fail a replay.
            ExternalIut::forget_kept();
            let again = loaded.run(iut, seed);
            ExternalIut::forget_kept();
            if !failed(&again) {
                continue;
            }
            on_iut = again;
        }
        // An initiator that ended its session (its stream over, it exits and reports) before a
        // step's check answers nothing more: no fact asks more of it. Rules it broke, and what
        // it sent where a check said nothing may come, still count.
        let initiator_ended = subject.alphabet.role == Role::Initiator
            && on_iut.reasons.iter().any(|r| r.starts_with("IUT: exit"))
            && on_iut
                .reasons
                .iter()
                .all(|r| !r.starts_with("rule ") && !r.contains(": the IUT sent "));
        if initiator_ended {
            continue;
        }
        // A program's mutant: a check the unmutated program breaks too is the program's reading;
        // the mutant is held only to the checks it alone breaks.
        if let Some(unmutated) = subject.unmutated.as_ref().filter(|_| failed(&on_iut)) {
            let programs = loaded.run(unmutated, seed).broken_checks(strict);
            let mutants = on_iut.broken_checks(strict);
            let reasons = on_iut.reasons.iter().chain(&on_iut.deviations);
            if mutants.is_subset(&programs) {
                allowed.extend(reasons.map(|r| format!("{r} (the unmutated program too)")));
                continue;
            }
            let own = reasons
                .filter(|r| {
                    let check = check_key(r);
                    mutants.contains(&check) && !programs.contains(&check)
                })
                .cloned()
                .collect();
            return Ok(Judged::Violation(scenario, own));
        }
        match on_iut.verdict {
            Verdict::Fail => return Ok(Judged::Violation(scenario, on_iut.reasons)),
            Verdict::Pass if !on_iut.deviations.is_empty() => {
                if strict {
                    return Ok(Judged::Violation(scenario, on_iut.deviations));
                }
                allowed.extend(on_iut.deviations);
            }
            Verdict::Unsupported => allowed.extend(on_iut.reasons),
            _ => {}
        }
    }
    Ok(if allowed.is_empty() {
        Judged::Unjudged
    } else {
        Judged::Allowed(allowed)
    })
}

/// Why learning could not run: its input (the IUT, the family, the alphabet, a kept model) is
/// unusable, or a report file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// The input is unusable, or writing a report failed: the message says which.
    #[error("{0}")]
    Input(String),
}

/// Learns the IUT's model (and the reference's, with `--diff`), judges their differences, says
/// what it found on `out` and writes the models, differences and summary under `options.out`.
/// Returns the exit code: 0 with no violation, 1 with one, 130 when interrupted.
pub fn learn(
    families: &Families,
    options: &LearnOptions,
    out: &mut dyn Write,
) -> Result<i32, LearnError> {
    learn_and_write(families, options, out).map_err(LearnError::Input)
}

fn learn_and_write(
    families: &Families,
    args: &LearnOptions,
    out: &mut dyn Write,
) -> Result<i32, String> {
    // Ctrl-C stops learning where it is: the model so far is written (exit 130).
    interrupt::install(interrupt::OnSignal::Stop);
    let (iut, subject) = prepare(families, args)?;
    // The reference first (in virtual time, in milliseconds): the IUT's model is then tested on
    // every shortest difference from it before that difference is reported.
    let reference = match &args.diff {
        Some(r) => Some(families.parse_iut(r).map_err(|e| format!("--diff: {e}"))?),
        None => None,
    };
    let ref_model = match &reference {
        Some(r) => Some(learn_model(args, &subject, r, None)?),
        None => None,
    };
    let judged = Judgements::default();
    let against = reference
        .as_ref()
        .zip(ref_model.as_ref())
        .map(|(r, m)| Against {
            mealy: &m.mealy,
            iut: r,
            judged: &judged,
        });
    if let Some(against) = against.filter(|_| !subject.preamble.is_empty()) {
        if let Some(code) = setup_broken(args, &subject, &iut, against.iut, out)? {
            return Ok(code);
        }
    }
    let model = learn_model(args, &subject, &iut, against);
    if interrupt::interrupted().is_some() {
        // Learning has stopped: the grace timer must not kill the harness while it writes.
        interrupt::runs_stopped();
    }
    let model = model?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let headline = headline(&model, &subject);
    let table = present::state_table(&model.mealy);
    writeln!(out, "{headline}\n\n{table}").map_err(|e| e.to_string())?;
    let mut summary = json!({ "model": model.summary });
    let mut code = EXIT_OK;
    let stops = write_stops(&args.out, &model.stops, out)?;
    if !model.stops.is_empty() {
        code = EXIT_FAILED;
    }
    summary["findings"] = Value::Array(stops.0);
    if let Some(kept) = &args.check {
        if !check(kept, &model, &subject, out)? {
            code = EXIT_FAILED;
        }
    }
    // The IUT's transitions that answer otherwise than the reference's model, by state and input.
    let mut differing: BTreeSet<(usize, String)> = BTreeSet::new();
    let mut findings = stops.1;
    let diff_with = reference
        .zip(ref_model)
        .filter(|_| interrupt::interrupted().is_none());
    if let Some((reference, ref_model)) = diff_with {
        write(
            &args.out.join("reference.dot"),
            &ref_model.mealy.to_dot(String::clone, String::clone),
        )?;
        let access = model.mealy.access_words();
        for (state, input, output, _) in model.mealy.transitions() {
            if let Some(Some(mut word)) = access.get(state).cloned() {
                word.push(input.clone());
                if ref_model.mealy.run(&word).last() != Some(output) {
                    differing.insert((state, input.clone()));
                }
            }
        }
        let mut said = Vec::new();
        let (differences, violations) = diff(
            args,
            &subject,
            (&iut, &model),
            (&reference, &ref_model),
            judged
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            &mut said,
        )?;
        out.write_all(&said).map_err(|e| e.to_string())?;
        findings.extend(String::from_utf8_lossy(&said).lines().map(str::to_owned));
        summary["reference"] = ref_model.summary;
        summary["differences"] = Value::Array(differences);
        // Violating differences and transitions on which a rule broke: what exit 1 means.
        summary["violations"] = json!(violations);
        if violations > 0 {
            code = EXIT_FAILED;
        }
    }
    let dot = model
        .mealy
        .to_dot_highlighting(String::clone, String::clone, |s, i| {
            differing.contains(&(s, i.clone()))
        });
    write(&args.out.join("model.dot"), &dot)?;
    let file = model_file::ModelFile::of(&model.mealy, summary["model"].clone());
    write_json(&args.out.join("model.json"), &file)?;
    write(&args.out.join("states.md"), &table)?;
    let page = present::Page {
        iut: &model.name,
        headline: &headline,
        dot: &dot,
        findings: &findings,
    };
    write(
        &args.out.join("index.html"),
        &present::html(&model.mealy, &page),
    )?;
    write_json(&args.out.join("learn.json"), &summary)?;
    writeln!(
        out,
        "model: {} (model.json, model.dot, states.md, index.html)",
        args.out.display()
    )
    .map_err(|e| e.to_string())?;
    if let Some(code) = interrupt::interrupted() {
        eprintln!("interrupted: the model so far is written");
        return Ok(code);
    }
    Ok(code)
}

/// The IUT (started once per worker unless the family's alphabet wants a fresh process) and what
/// is learned of it, with every input checked to make a scenario the family reads.
fn prepare(families: &Families, args: &LearnOptions) -> Result<(Iut, Subject), String> {
    let mut iut = families
        .parse_iut(&args.iut)
        .map_err(|e| format!("--iut: {e}"))?;
    // A responder program serves query after query, each from a fresh tuple or connection of
    // the harness (a fresh session): it is started once per worker, not per query, unless the
    // family's alphabet says a session does not start afresh on a kept process.
    let family_name = match (&args.family, &iut) {
        (Some(f), _) => f.clone(),
        (None, Iut::Reference { family, .. }) => (*family).to_owned(),
        (None, Iut::External(e)) => e
            .manifest()
            .and_then(|m| m.protocol.clone())
            .ok_or("the IUT names no protocol: give --family")?,
    };
    let family = families.require(&family_name).map_err(|e| e.to_string())?;
    let subject = subject(families, args, family, iut.is_real_time())?;
    // Every input makes a scenario the family reads (an `--alphabet` file's too), before any
    // query is asked.
    let no_stops = std::sync::Mutex::new(Vec::new());
    let asker = Asker::new(args, &subject, &iut, &no_stops);
    for name in subject.inputs.keys() {
        let json = asker
            .scenario(std::slice::from_ref(name))
            .map_err(|e| e.to_string())?;
        family
            .load_value(&json)
            .map_err(|e| format!("input `{name}` makes no valid scenario: {}", e.0))?;
    }
    if let Iut::External(e) = &mut iut {
        e.keep_running(!subject.alphabet.fresh_process);
    }
    Ok((iut, subject))
}

/// The first line said: the model's size and cost, and why learning stopped short, if it did.
fn headline(model: &Model, subject: &Subject) -> String {
    let headline = format!(
        "{}: {} states over {} inputs ({} queries, {:.1} s)",
        model.name,
        model.mealy.state_count(),
        subject.inputs.len(),
        model.summary["membership_queries"],
        model.summary["seconds"].as_f64().unwrap_or_default(),
    );
    let headline = match model.summary["stopped_by"].as_str() {
        Some("Interrupted") => format!("{headline}; interrupted: the model so far"),
        Some("Time") => format!("{headline}; its time (--time) was up: the model so far"),
        Some("States") => format!("{headline}; it needs more than --states: the model so far"),
        Some("Found") => {
            format!("{headline}; stopped at its first violation (--fail-fast): the model so far")
        }
        Some(_) => format!("{headline}; its query budget (--queries) ran out: the model so far"),
        None => headline,
    };
    let unstable = model.summary["answered_two_ways"].as_u64().unwrap_or(0);
    if unstable > 0 {
        format!(
            "{headline}; non-deterministic: {} answered two ways (learn.json lists them)",
            handshake_core::words::count(unstable, "query")
        )
    } else {
        headline
    }
}

/// Whether the learning setup (its preamble: a connection, a participant let in) breaks a fact
/// on the IUT that the reference keeps: then no query could say anything of the IUT, and that is
/// the finding. It is written to `OUT/differences/setup.json` and said, with `learn.json`; the
/// exit code is returned (1). `None`: the setup completes, or fails for what the facts allow
/// (and learning then says why it cannot go on).
fn setup_broken(
    args: &LearnOptions,
    subject: &Subject,
    iut: &Iut,
    reference: &Iut,
    out: &mut dyn Write,
) -> Result<Option<i32>, String> {
    let no_stops = std::sync::Mutex::new(Vec::new());
    let mut setup = Asker::new(args, subject, iut, &no_stops)
        .scenario(&[])
        .map_err(|e| e.to_string())?;
    setup["expect"] = json!({ "rules_hold": ["all"] });
    setup["id"] = json!("learn.setup");
    setup["title"] = json!("the learning setup (the queries' preamble)");
    let judged = judge_difference(
        subject,
        vec![setup],
        (iut, reference),
        args.seed,
        strict(args, iut),
    )?;
    let Judged::Violation(scenario, reasons) = judged else {
        return Ok(None);
    };
    let dir = args.out.join("differences");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("setup.json");
    write_json(&path, &scenario)?;
    let line = format!(
        "violation: the learning setup does not complete on {}, as it does on {}: {} (scenario {}); nothing after it can be learned",
        iut.name(),
        reference.name(),
        reasons.join("; "),
        path.display()
    );
    writeln!(out, "{line}").map_err(|e| e.to_string())?;
    let summary = json!({
        "model": null,
        "setup": { "violation": reasons, "scenario": path.display().to_string() },
        "violations": 1,
    });
    write_json(&args.out.join("learn.json"), &summary)?;
    Ok(Some(EXIT_FAILED))
}

/// Writes each crash and hang found while learning to `OUT/findings/KIND-N.json` and says it:
/// their entries in `learn.json`, and the lines said.
fn write_stops(
    dir: &std::path::Path,
    stops: &[Stop],
    out: &mut dyn Write,
) -> Result<(Vec<Value>, Vec<String>), String> {
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    for (k, stop) in stops.iter().enumerate() {
        let folder = dir.join("findings");
        std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        let path = folder.join(format!("{}-{}.json", stop.kind, k + 1));
        let mut scenario = stop.scenario.clone();
        scenario["id"] = json!(format!("learn.{}-{}", stop.kind, k + 1));
        scenario["title"] = json!(format!(
            "harness learn: a {} after {}",
            stop.kind,
            stop.word.join(" ")
        ));
        write_json(&path, &scenario)?;
        let line = format!(
            "{}: after {}: {} (scenario {})",
            stop.kind,
            stop.word.join(" "),
            stop.reason,
            path.display()
        );
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
        lines.push(line);
        entries.push(json!({
            "kind": stop.kind,
            "word": stop.word,
            "reason": stop.reason,
            "scenario": path.display().to_string(),
        }));
    }
    Ok((entries, lines))
}

/// `--check KEPT`: whether the IUT's learned model is the kept one (the same answers to every
/// word), saying where it first differs when not.
fn check(
    kept: &std::path::Path,
    model: &Model,
    subject: &Subject,
    out: &mut dyn Write,
) -> Result<bool, String> {
    let file = model_file::read(kept).map_err(|e| e.to_string())?;
    let inputs: Vec<&String> = subject.inputs.keys().collect();
    if file.inputs.iter().collect::<Vec<_>>() != inputs {
        return Err(format!(
            "--check {}: it was learned over the inputs {}, this run's are {}",
            kept.display(),
            file.inputs.join(","),
            inputs
                .iter()
                .map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    let kept_mealy = file
        .mealy()
        .map_err(|e| format!("{}: {e}", kept.display()))?;
    let same = match handshake_learn::distinguish(&kept_mealy, &model.mealy) {
        None => {
            writeln!(
                out,
                "the state machine is the one kept in {} ({} states)",
                kept.display(),
                kept_mealy.state_count()
            )
            .map_err(|e| e.to_string())?;
            true
        }
        Some(word) => {
            writeln!(
                out,
                "the state machine changed: after {}, the kept model ({}, {} states) answers {}, the IUT now {} ({} states)",
                word.join(" "),
                kept.display(),
                kept_mealy.state_count(),
                kept_mealy.run(&word).join(" "),
                model.mealy.run(&word).join(" "),
                model.mealy.state_count(),
            )
            .map_err(|e| e.to_string())?;
            false
        }
    };
    Ok(same)
}

/// The shortest differences between the two models (and every violation judged while
/// learning), replayed and judged; the violations are written as scenarios to
/// `OUT/differences/`. Returns the differences and how many are violations.
fn diff(
    args: &LearnOptions,
    subject: &Subject,
    (iut, model): (&Iut, &Model),
    (reference, ref_model): (&Iut, &Model),
    mut judged: BTreeMap<Vec<String>, (Vec<String>, Judged)>,
    out: &mut dyn Write,
) -> Result<(Vec<Value>, usize), String> {
    let mut words = handshake_learn::differences(&model.mealy, &ref_model.mealy, DIFFERENCES_SHOWN);
    // The violations judged while learning are listed too, however far past the shortest.
    words.extend(
        judged
            .iter()
            .filter(|(w, (answer, judged))| {
                matches!(judged, Judged::Violation(..))
                    && *answer == model.mealy.run(w)
                    && !words.contains(w)
            })
            .map(|(w, _)| w.clone())
            .collect::<Vec<_>>(),
    );
    // Only the scenarios of words are wanted of it: nothing is run through it.
    let no_stops = std::sync::Mutex::new(Vec::new());
    let sul = Asker::new(args, subject, iut, &no_stops);
    let dir = args.out.join("differences");
    let mut listed = Vec::new();
    let mut violations = 0;
    let strict = strict(args, iut);
    for (k, word) in words.iter().enumerate() {
        let (iut_out, ref_out) = (model.mealy.run(word), ref_model.mealy.run(word));
        // Judged while learning (`--fail-fast`), on the same answers.
        let judged = match judged.remove(word) {
            Some((answer, judged)) if answer == iut_out => judged,
            _ => {
                let replays = replays(subject, &sul, word, (&iut_out, &ref_out))?;
                judge_difference(subject, replays, (iut, reference), args.seed, strict)?
            }
        };
        let (violation, reasons) = match &judged {
            Judged::Violation(_, r) | Judged::Allowed(r) => {
                (matches!(judged, Judged::Violation(..)), r.clone())
            }
            Judged::Unjudged => (false, Vec::new()),
        };
        let what = match judged {
            Judged::Violation(scenario, _) => {
                violations += 1;
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("difference-{}.json", k + 1));
                write_json(&path, &scenario)?;
                format!("violation: {} (scenario {})", reasons.join("; "), path.display())
            }
            Judged::Allowed(r) => format!(
                "allowed difference (it deviates from this project's reading, or does not speak a contract: {})",
                r.join("; ")
            ),
            Judged::Unjudged => {
                "not judged (no rule broke, and the facts say nothing of that state)".to_owned()
            }
        };
        writeln!(
            out,
            "{}: after {}: the IUT {} / the reference {}: {what}",
            k + 1,
            word.join(" "),
            iut_out.join(" "),
            ref_out.join(" "),
        )
        .map_err(|e| e.to_string())?;
        listed.push(json!({
            "word": word,
            "iut": iut_out,
            "reference": ref_out,
            "violation": violation,
            "reasons": reasons,
        }));
    }
    // Failing fast, a violation is verdict enough.
    let failed_fast = args.fail_fast && violations > 0;
    let (on_transitions, cover) = if failed_fast {
        (0, Vec::new())
    } else {
        cover(args, subject, &sul, model, (iut, reference), strict, out)?
    };
    listed.extend(cover);
    let transitions = model.mealy.transitions().count();
    let on_transitions_said = if failed_fast {
        format!("the IUT's {transitions} learned transitions not replayed (--fail-fast)")
    } else {
        format!("rules broken on {on_transitions} of the IUT's {transitions} learned transitions")
    };
    writeln!(
        out,
        "{} from {}: {}; {on_transitions_said}",
        handshake_core::words::count(words.len() as u64, "difference"),
        ref_model.name,
        handshake_core::words::count(violations as u64, "violation"),
    )
    .map_err(|e| e.to_string())?;
    Ok((listed, violations + on_transitions))
}

/// Every transition of the IUT's model replayed with every rule held and run on to its end (the
/// alphabet's `settle_ms`): a rule the IUT breaks there and the reference does not is a violation
/// whether or not the models differ, in what the abstraction leaves out (media, timing within a
/// window). Returns the violations and what each showed.
fn cover(
    args: &LearnOptions,
    subject: &Subject,
    sul: &Asker,
    model: &Model,
    (iut, reference): (&Iut, &Iut),
    strict: bool,
    out: &mut dyn Write,
) -> Result<(usize, Vec<Value>), String> {
    let access = model.mealy.access_words();
    let words: Vec<Vec<String>> = model
        .mealy
        .transitions()
        .filter_map(|(state, input, _, _)| {
            let mut word = access.get(state).cloned().flatten()?;
            word.push(input.clone());
            Some(word)
        })
        .collect();
    let judge = |word: &Vec<String>| -> Result<Judged, String> {
        let mut scenario = sul.scenario(word).map_err(|e| e.to_string())?;
        scenario["expect"] = json!({ "rules_hold": ["all"] });
        scenario["id"] = json!("learn.transition");
        scenario["settle_ms"] = json!(subject.alphabet.settle_ms);
        judge_difference(subject, vec![scenario], (iut, reference), args.seed, strict)
    };
    // Over real UDP the replays run on as many threads as the learner's workers.
    let judged = in_parallel(&words, replay_jobs(args, iut), judge);
    let dir = args.out.join("differences");
    let mut violations = 0;
    let mut listed = Vec::new();
    for (word, judged) in words.iter().zip(judged) {
        match judged? {
            Judged::Violation(scenario, reasons) => {
                violations += 1;
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("transition-{violations}.json"));
                write_json(&path, &scenario)?;
                // The first few: a wrong stream breaks the same rule on every transition.
                if violations <= 3 {
                    writeln!(
                        out,
                        "transition after {}: violation: {} (scenario {})",
                        word.join(" "),
                        reasons.join("; "),
                        path.display()
                    )
                    .map_err(|e| e.to_string())?;
                }
                listed.push(json!({ "transition": word, "violation": true, "reasons": reasons }));
            }
            Judged::Allowed(reasons) => {
                listed.push(json!({ "transition": word, "violation": false, "reasons": reasons }));
            }
            Judged::Unjudged => {}
        }
    }
    Ok((violations, listed))
}

/// The role, alphabet and inputs `args` choose of `family`'s; in real time an action's window is
/// longer.
fn subject(
    families: &Families,
    args: &LearnOptions,
    family: &'static dyn DynFamily,
    real_time: bool,
) -> Result<Subject, String> {
    let (initiator, responder) = family.role_names();
    let role_name = args.role.clone().unwrap_or_else(|| responder.to_owned());
    let role = if role_name == responder || role_name == "responder" {
        Role::Responder
    } else if role_name == initiator || role_name == "initiator" {
        Role::Initiator
    } else {
        return Err(format!(
            "--role {role_name}: expected {initiator} or {responder}"
        ));
    };
    let learning = family.learning();
    let of_role: Vec<&Alphabet> = learning
        .alphabets
        .iter()
        .filter(|a| a.role == role)
        .collect();
    let alphabet = match &args.part {
        None => of_role.first().copied(),
        Some(part) => of_role
            .iter()
            .copied()
            .find(|a| a.part == Some(part.as_str())),
    };
    let Some(alphabet) = alphabet.copied() else {
        let parts: Vec<&str> = of_role.iter().filter_map(|a| a.part).collect();
        return Err(match (&args.part, parts.is_empty()) {
            (_, true) if of_role.is_empty() => format!(
                "{} has no learning alphabet for the {role_name} yet",
                family.name()
            ),
            (Some(part), true) => format!("--part {part}: the {role_name} has no parts"),
            (Some(part), false) if of_role.iter().any(|a| a.part.is_none()) => format!(
                "--part {part}: expected one of {}, or none (the whole {role_name})",
                parts.join(", ")
            ),
            (Some(part), false) => format!("--part {part}: expected one of {}", parts.join(", ")),
            (None, _) => format!(
                "{} has no learning alphabet for the {role_name} yet",
                family.name()
            ),
        });
    };
    let table = alphabet.inputs;
    let window_ms = args.window_ms.unwrap_or(if real_time {
        alphabet.real_time_window_ms
    } else {
        5
    });
    let window = window_ms.to_string();
    let added = match &args.alphabet {
        Some(path) => AlphabetFile::read(path)?,
        None => AlphabetFile::default(),
    };
    if let Some(unknown) = args.inputs.iter().find(|i| {
        !table.iter().any(|(name, _)| name == i) && !added.inputs.contains_key(i.as_str())
    }) {
        let names: Vec<&str> = table
            .iter()
            .map(|(n, _)| *n)
            .chain(added.inputs.keys().map(String::as_str))
            .collect();
        return Err(format!(
            "--inputs: no input `{unknown}` (the {role_name}'s are {})",
            names.join(", ")
        ));
    }
    let setup = serde_json::from_str::<Value>(&format!("{{{}}}", alphabet.setup))
        .map_err(|e| format!("the family's learning setup: {e}"))?;
    let steps_of = |key: &str| setup["peer"][key].as_array().cloned().unwrap_or_default();
    let (preamble, postamble) = (steps_of("steps"), steps_of("finally"));
    let chosen = |name: &str| args.inputs.is_empty() || args.inputs.iter().any(|i| i == name);
    let mut inputs: BTreeMap<String, Vec<Value>> = table
        .iter()
        .filter(|(name, _)| chosen(name))
        .map(|(name, steps)| {
            serde_json::from_str::<Vec<Value>>(&steps.replace("WINDOW_MS", &window))
                .map(|s| ((*name).to_owned(), s))
                .map_err(|e| format!("input {name}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    for (name, steps) in added.inputs.iter().filter(|(name, _)| chosen(name)) {
        let text = Value::Array(steps.clone())
            .to_string()
            .replace("\"WINDOW_MS\"", &window);
        let steps = serde_json::from_str::<Vec<Value>>(&text)
            .map_err(|e| format!("--alphabet: input {name}: {e}"))?;
        inputs.insert(name.clone(), steps);
    }
    if args.untimed {
        inputs.retain(|_, steps| !steps.iter().all(|s| s.get("wait").is_some()));
    }
    if inputs.is_empty() {
        return Err("no inputs are left to learn over (--inputs, --untimed)".to_owned());
    }
    // A program's mutant is told apart from the program by the unmutated program's runs.
    let unmutated = match args.iut.rsplit_once('!') {
        Some((program, _)) if program.ends_with(".json") => Some(
            families
                .parse_iut(program)
                .map_err(|e| format!("--iut: {program}: {e}"))?,
        ),
        _ => None,
    };
    Ok(Subject {
        family,
        role: role_name,
        learning,
        alphabet,
        preamble,
        postamble,
        inputs,
        window_ms,
        extra_seeds: added.seeds,
        unmutated,
    })
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `value` as pretty JSON, with a final newline.
fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    write(path, &(text + "\n"))
}
