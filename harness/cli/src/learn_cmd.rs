//! `harness learn`: infers an implementation's state machine over its family's abstract alphabet
//! (L#, `handshake-learn`) and diffs it against a reference's.
//!
//! A membership query is a scenario: the alphabet's preamble (its setup's `peer.steps`, a QUIC
//! family's connection), then the inputs' steps one after the other, against the IUT (in
//! virtual time for a reference, over real UDP for a program). Its answer is, per input, the
//! abstraction of what the IUT sent in that input's window, read from the run's capture. Over
//! real UDP each query is asked twice and a third time when the two differ; an answer that still
//! differs is reported as non-determinism, not averaged away.
//!
//! The diff replays every shortest sequence on which the IUT's model and the reference's differ as
//! a scenario judged by the family's rules: a **violation** when the IUT breaks a fact there and
//! the reference does not (the scenario is written to `OUT/differences/`); an **allowed
//! difference** when it only deviates from one of this project's readings; else no rule breaks
//! on it (the facts allow both, or the fact is one the family judges by steps, not by a rule).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use handshake_learn::{Mealy, QueryError, Sul};
use handshake_scenario::engine::{Keep, STEP_LIMIT};
use handshake_scenario::{Alphabet, DynFamily, Iut, Learning, Role, Verdict};
use serde_json::{json, Value};

use crate::cli::{EXIT_FAILED, EXIT_INPUT, EXIT_OK};
use crate::families::FAMILIES;

/// `harness learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The implementation to learn: `ref:PROFILE`, a manifest, `cmd:COMMAND`.
    #[arg(long)]
    pub iut: String,
    /// Its family (default: the IUT's).
    #[arg(long)]
    pub family: Option<String>,
    /// The IUT's role (the family's name for it; default: the responder's).
    #[arg(long)]
    pub role: Option<String>,
    /// The part of the role to learn, where the family splits it (Dark Tower's server:
    /// `controller` or `handler`); default: the role's first.
    #[arg(long)]
    pub part: Option<String>,
    /// The reference to diff the model with (`ref:3way`); none: the model only.
    #[arg(long)]
    pub diff: Option<String>,
    /// Where the models, the differences and the summary go.
    #[arg(long, default_value = "reports/learn")]
    pub out: PathBuf,
    /// At most this many seconds of learning per model (the model so far is reported).
    #[arg(long, default_value_t = 600)]
    pub time: u64,
    /// At most this many queries per model (learning and equivalence checks together; the model so
    /// far is reported when they run out).
    #[arg(long, default_value_t = 20_000)]
    pub queries: u64,
    /// At most this many states per model.
    #[arg(long, default_value_t = 64)]
    pub states: usize,
    /// The window of an action (how long the IUT's answer may take), ms: default 5 in virtual
    /// time, 50 over real UDP. The family's `wait` input is what lets timers fire.
    #[arg(long)]
    pub window_ms: Option<u64>,
    /// Only these of the family's inputs (comma-separated). Default: all but `wait`, which lets
    /// timers fire: a model with it counts time in waits and grows with the timers' schedule (bound
    /// it with --states).
    #[arg(long, value_delimiter = ',')]
    pub inputs: Vec<String>,
    /// Random walks of the equivalence check (default: 300 in virtual time, 60 over real UDP).
    #[arg(long)]
    pub walks: Option<usize>,
    /// Seed of the walks and the runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
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
    inputs: BTreeMap<String, Vec<Value>>,
}

/// The IUT as a system under learning: each query a scenario run.
struct ScenarioSul<'a> {
    subject: &'a Subject,
    iut: &'a Iut,
    seed: u64,
    deadline: Instant,
    /// Queries whose answers differed between asks (over real UDP).
    unstable: Vec<(Vec<String>, Vec<Vec<String>>)>,
    /// Runs so far (for the progress line).
    runs: u64,
}

impl<'a> ScenarioSul<'a> {
    /// `iut` in `role` over `inputs`, its time running from now.
    fn new(args: &LearnArgs, subject: &'a Subject, iut: &'a Iut) -> ScenarioSul<'a> {
        ScenarioSul {
            subject,
            iut,
            seed: args.seed,
            deadline: Instant::now() + Duration::from_secs(args.time),
            unstable: Vec::new(),
            runs: 0,
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
            for (k, v) in peer.iter().filter(|(k, _)| *k != "steps") {
                s["peer"][k] = v.clone();
            }
        }
        s["iut"]["role"] = json!(self.subject.role);
        Ok(s)
    }

    /// One run of `word`: its outputs, one letter per input.
    fn ask(&self, word: &[String]) -> Result<Vec<String>, QueryError> {
        let json = self.scenario(word)?;
        let loaded = self
            .subject
            .family
            .load_value(&json)
            .map_err(|e| QueryError::new(e.0))?;
        let outcome = loaded.run_keeping(self.iut, self.seed, STEP_LIMIT, Keep::Units);
        if matches!(outcome.verdict, Verdict::Error | Verdict::Unsupported) {
            return Err(QueryError::new(outcome.reasons.join("; ")));
        }
        let starts = step_starts(&outcome.transcript);
        let mut first = 1 + self.subject.preamble.len();
        // A preamble that did not complete (no connection, a participant not let in) leaves the
        // inputs nothing to act on: their answers would be the preamble's failure, not the IUT's.
        if !word.is_empty() && !starts.contains_key(&first) {
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
        Ok(self.outputs(&outcome.iut_units, &windows))
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
                if l.is_empty() {
                    "-".to_owned()
                } else {
                    l.join("+")
                }
            })
            .collect()
    }
}

/// How long an input's steps wait, ms (its `wait` steps; an `optional` expect may end early, so
/// it does not count).
fn waited_ms(steps: &[Value]) -> f64 {
    steps.iter().filter_map(|s| s["wait"]["ms"].as_f64()).sum()
}

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

impl Sul<String, String> for ScenarioSul<'_> {
    fn query(&mut self, word: &[String]) -> Result<Vec<String>, QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError::new("the time for learning is up".to_owned()));
        }
        self.runs += 1;
        if self.runs % 200 == 0 {
            eprintln!(
                "learning {}: {} queries, the last {} inputs long",
                self.iut.name(),
                self.runs,
                word.len()
            );
        }
        let first = self.ask(word)?;
        if !self.iut.is_real_time() {
            return Ok(first);
        }
        // Over real UDP: the same answer twice, or the majority of three.
        let second = self.ask(word)?;
        if first == second {
            return Ok(first);
        }
        let third = self.ask(word)?;
        self.unstable.push((
            word.to_vec(),
            vec![first.clone(), second.clone(), third.clone()],
        ));
        Ok(if third == second { second } else { first })
    }
}

/// A learned model and how it was learned.
struct Model {
    name: String,
    mealy: Mealy<String, String>,
    summary: Value,
}

/// Learns `iut`'s model over the subject's inputs.
fn learn_model(args: &LearnArgs, subject: &Subject, iut: &Iut) -> Result<Model, String> {
    let started = Instant::now();
    let mut sul = ScenarioSul::new(args, subject, iut);
    let alphabet: Vec<String> = subject.inputs.keys().cloned().collect();
    // Random walks first (cheap), then a bounded Wp-method suite.
    let mut oracle = handshake_learn::ChainOracle::new()
        .then(
            handshake_learn::RandomWalkOracle::new(args.seed)
                .with_walks(
                    args.walks
                        .unwrap_or(if iut.is_real_time() { 60 } else { 300 }),
                )
                .with_mean_length(6),
        )
        .then(handshake_learn::WpOracle::new(1));
    let learned = handshake_learn::learn(
        &mut sul,
        &alphabet,
        &mut oracle,
        handshake_learn::Limits {
            max_queries: args.queries,
            max_states: args.states,
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
        "non_deterministic": sul.unstable.iter().map(|(w, answers)| json!({"word": w, "answers": answers})).collect::<Vec<_>>(),
    });
    Ok(Model {
        name: iut.name().to_owned(),
        mealy: learned.hypothesis,
        summary,
    })
}

/// What a distinguishing word shows: the scenario that plays it (with every rule held), judged
/// on the IUT and on the reference.
fn judge_difference(
    family: &'static dyn DynFamily,
    sul_json: Value,
    iut: &Iut,
    reference: &Iut,
    seed: u64,
) -> Result<(Value, bool, Vec<String>), String> {
    let mut scenario = sul_json;
    scenario["expect"] = json!({ "rules_hold": ["all"] });
    scenario["id"] = json!("learn.difference");
    let loaded = family.load_value(&scenario).map_err(|e| e.0)?;
    let on_iut = loaded.run(iut, seed);
    let on_reference = loaded.run(reference, seed);
    let violation = on_iut.verdict == Verdict::Fail && on_reference.verdict == Verdict::Pass;
    // What the run says of it: the facts broken, else the readings it does not share.
    let said = if violation {
        on_iut.reasons
    } else {
        on_iut.deviations
    };
    Ok((scenario, violation, said))
}

/// Runs `harness learn`.
pub fn run(args: LearnArgs, out: &mut dyn Write) -> i32 {
    match learn(&args, out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

fn learn(args: &LearnArgs, out: &mut dyn Write) -> Result<i32, String> {
    let mut iut = FAMILIES
        .parse_iut(&args.iut)
        .map_err(|e| format!("--iut: {e}"))?;
    // A responder program serves query after query, each from a fresh tuple of the harness (a
    // fresh session): it is started once, not per query.
    if let Iut::External(e) = &mut iut {
        e.keep_running(true);
    }
    let family_name = match (&args.family, &iut) {
        (Some(f), _) => f.clone(),
        (None, Iut::Reference { family, .. }) => (*family).to_owned(),
        (None, Iut::External(e)) => e
            .manifest()
            .and_then(|m| m.protocol.clone())
            .ok_or("the IUT names no protocol: give --family")?,
    };
    let family = FAMILIES.require(&family_name).map_err(|e| e.to_string())?;
    let subject = subject(args, family, iut.is_real_time())?;
    let model = learn_model(args, &subject, &iut)?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    write(
        &args.out.join("model.dot"),
        &model.mealy.to_dot(String::clone, String::clone),
    )?;
    writeln!(
        out,
        "{}: {} states over {} inputs ({} queries); model written to {}",
        model.name,
        model.mealy.state_count(),
        subject.inputs.len(),
        model.summary["membership_queries"],
        args.out.join("model.dot").display()
    )
    .map_err(|e| e.to_string())?;
    let mut summary = json!({ "model": model.summary });
    let mut code = EXIT_OK;
    if let Some(reference) = &args.diff {
        let reference = FAMILIES
            .parse_iut(reference)
            .map_err(|e| format!("--diff: {e}"))?;
        let ref_model = learn_model(args, &subject, &reference)?;
        write(
            &args.out.join("reference.dot"),
            &ref_model.mealy.to_dot(String::clone, String::clone),
        )?;
        let (differences, violations) = diff(
            args,
            &subject,
            (&iut, &model),
            (&reference, &ref_model),
            out,
        )?;
        summary["reference"] = ref_model.summary;
        summary["differences"] = Value::Array(differences);
        if violations > 0 {
            code = EXIT_FAILED;
        }
    }
    let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    write(&args.out.join("learn.json"), &(text + "\n"))?;
    Ok(code)
}

/// Every shortest difference between the two models, replayed and judged; the violations are
/// written as scenarios to `OUT/differences/`. Returns the differences and how many are
/// violations.
fn diff(
    args: &LearnArgs,
    subject: &Subject,
    (iut, model): (&Iut, &Model),
    (reference, ref_model): (&Iut, &Model),
    out: &mut dyn Write,
) -> Result<(Vec<Value>, usize), String> {
    let words = handshake_learn::differences(&model.mealy, &ref_model.mealy, 20);
    let sul = ScenarioSul::new(args, subject, iut);
    let dir = args.out.join("differences");
    let mut listed = Vec::new();
    let mut violations = 0;
    for (k, word) in words.iter().enumerate() {
        let scenario = sul.scenario(word).map_err(|e| e.to_string())?;
        let (scenario, violation, reasons) =
            judge_difference(subject.family, scenario, iut, reference, args.seed)?;
        let what = if violation {
            violations += 1;
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join(format!("difference-{}.json", k + 1));
            let text = serde_json::to_string_pretty(&scenario).map_err(|e| e.to_string())?;
            write(&path, &(text + "\n"))?;
            format!("violation (scenario {})", path.display())
        } else if reasons.is_empty() {
            "no rule broken (an allowed difference, or a fact no rule judges: see the scenario)"
                .to_owned()
        } else {
            format!(
                "allowed difference (it deviates from this project's reading: {})",
                reasons.join("; ")
            )
        };
        writeln!(
            out,
            "{}: after {}: the IUT {} / the reference {}: {what}",
            k + 1,
            word.join(" "),
            model.mealy.run(word).join(" "),
            ref_model.mealy.run(word).join(" "),
        )
        .map_err(|e| e.to_string())?;
        listed.push(json!({
            "word": word,
            "iut": model.mealy.run(word),
            "reference": ref_model.mealy.run(word),
            "violation": violation,
            "reasons": reasons,
        }));
    }
    writeln!(
        out,
        "{} from {}: {}",
        handshake_core::words::count(words.len() as u64, "difference"),
        ref_model.name,
        handshake_core::words::count(violations as u64, "violation")
    )
    .map_err(|e| e.to_string())?;
    Ok((listed, violations))
}

/// The role, alphabet and inputs `args` choose of `family`'s; in real time an action's window is
/// longer.
fn subject(
    args: &LearnArgs,
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
            (Some(part), false) => format!("--part {part}: expected one of {}", parts.join(", ")),
            (None, _) => format!(
                "{} has no learning alphabet for the {role_name} yet",
                family.name()
            ),
        });
    };
    let table = alphabet.inputs;
    let window = args
        .window_ms
        .unwrap_or(if real_time { 50 } else { 5 })
        .to_string();
    if let Some(unknown) = args
        .inputs
        .iter()
        .find(|i| !table.iter().any(|(name, _)| name == i))
    {
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "--inputs: no input `{unknown}` (the {role_name}'s are {})",
            names.join(", ")
        ));
    }
    let preamble = serde_json::from_str::<Value>(&format!("{{{}}}", alphabet.setup))
        .map_err(|e| format!("the family's learning setup: {e}"))?["peer"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let inputs: BTreeMap<String, Vec<Value>> = table
        .iter()
        .filter(|(name, _)| match args.inputs.is_empty() {
            true => *name != "wait",
            false => args.inputs.iter().any(|i| i == name),
        })
        .map(|(name, steps)| {
            serde_json::from_str::<Vec<Value>>(&steps.replace("WINDOW_MS", &window))
                .map(|s| ((*name).to_owned(), s))
                .map_err(|e| format!("input {name}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Subject {
        family,
        role: role_name,
        learning,
        alphabet,
        preamble,
        inputs,
    })
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
