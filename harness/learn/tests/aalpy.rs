//! This crate's L# against AALpy (the Python automata learning library), an independent learner
//! used as an oracle: on the same set of seeded random Mealy machines and a few structured ones
//! (a combination lock, a counter, a shift register), both must learn a model equivalent to the
//! machine with its minimal number of states, and this crate's L# must need no more membership
//! queries in total than AALpy's L* (with a perfect equivalence oracle on both sides, so that
//! the queries are the learning algorithm's cost alone). The query counts of every learner are
//! printed side by side (`cargo test -p handshake-learn --test aalpy -- --nocapture`).
//!
//! Measured with AALpy 2.0.0, membership queries over the 23 machines: this crate's L# 1,374;
//! AALpy's L* 2,071, KV 1,224, L# 1,060 (its default rules: each extension query carries a
//! separating sequence, separation by adaptive distinguishing sequences) and 1,385 with the
//! basic rules of the paper, which are this crate's (per machine mostly the same count).
//!
//! AALpy runs in the repository's venv (`target/pyenv`, made by `make pyenv` from
//! `tests/aalpy/requirements.txt` among others), through `tests/aalpy/learn_with_aalpy.py`. The
//! test is skipped, with a message, when the venv or AALpy is missing, so that a plain
//! `cargo test` works without Python; `make test` makes the venv first, so it runs there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use handshake_learn::{
    distinguish, learn, ChainOracle, EquivalenceOracle, LearnStats, Learned, Limits, Mealy,
    QueryError, RandomWalkOracle, Sul, WpOracle,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{json, Value};

/// A machine of the set: its name and the machine as written (not necessarily minimal).
struct Case {
    name: String,
    truth: Mealy<u8, u8>,
    /// Testing is not expected to find all of it (the lock's code is one word among 3^8 and
    /// deeper than the Wp-method's one extra state): the runs with testing oracles are reported
    /// there, not checked. The runs with the perfect oracle are checked on every machine.
    beyond_testing: bool,
}

/// The perfect equivalence oracle: a shortest word on which the hypothesis and the machine
/// differ, as AALpy's `PerfectKnowledgeEqOracle` (a breadth-first search too). It sends no test
/// to the system, so the learner's membership queries are all that is counted.
struct PerfectOracle(Mealy<u8, u8>);

impl EquivalenceOracle<u8, u8> for PerfectOracle {
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<u8, u8>,
        _: &mut dyn Sul<u8, u8>,
    ) -> Result<Option<Vec<u8>>, QueryError> {
        Ok(distinguish(hypothesis, &self.0))
    }
}

/// The venv's interpreter, `target/pyenv/bin/python3` under the workspace root.
fn venv_python() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // harness/learn -> the workspace root.
    let root = manifest.ancestors().nth(2).unwrap_or(manifest);
    root.join("target/pyenv/bin/python3")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aalpy/learn_with_aalpy.py")
}

/// 20 random machines: 2-12 states, 2-5 inputs, 2-4 outputs. Every third one is made
/// non-minimal on purpose (its last state a copy of another, reached instead of it by some
/// transitions); others may be non-minimal or have unreachable states by chance.
fn random_cases(count: usize, seed: u64) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut below = |bound: usize| (rng.next_u64() % bound as u64) as usize;
    (0..count)
        .map(|index| {
            let states = 2 + below(11);
            let inputs = 2 + below(4);
            let outputs = 2 + below(3);
            let mut table: Vec<Vec<(usize, u8)>> = (0..states)
                .map(|_| {
                    (0..inputs)
                        .map(|_| (below(states), below(outputs) as u8))
                        .collect()
                })
                .collect();
            if index % 3 == 0 && states >= 3 {
                let copy = states - 1;
                let original = below(copy);
                let row = table.get(original).cloned().expect("the original exists");
                if let Some(slot) = table.get_mut(copy) {
                    *slot = row;
                }
                for transition in table.iter_mut().flatten() {
                    if transition.0 == original && below(2) == 0 {
                        transition.0 = copy;
                    }
                }
            }
            let truth = Mealy::new((0..inputs as u8).collect(), table).expect("a valid table");
            Case {
                name: format!("random-{index}"),
                truth,
                beyond_testing: false,
            }
        })
        .collect()
}

/// Machines random walks rarely get to the bottom of.
fn structured_cases() -> Vec<Case> {
    // A combination lock: the code's next symbol advances, any other symbol resets; the whole
    // code answers 1 and starts over. Only the exact 8-symbol code reveals the states.
    let code = [0u8, 2, 1, 1, 0, 2, 2, 1];
    let lock = Mealy::from_fn(vec![0u8, 1, 2], code.len(), |state, input| {
        match code.get(state) {
            Some(expected) if expected == input && state + 1 == code.len() => (0, 1),
            Some(expected) if expected == input => (state + 1, 0),
            _ => (0, 0),
        }
    })
    .expect("a valid lock");
    // A counter modulo 7: 0 increments (1 when it wraps), 1 resets, 2 tells the parity.
    let counter = Mealy::from_fn(vec![0u8, 1, 2], 7, |state, input| match input {
        0 => ((state + 1) % 7, u8::from(state == 6)),
        1 => (0, 0),
        _ => (state, 2 + (state % 2) as u8),
    })
    .expect("a valid counter");
    // A 3-bit shift register: each output is the input of three steps before (0 at first).
    let shift = Mealy::from_fn(vec![0u8, 1], 8, |state, input| {
        (((state << 1) | usize::from(*input)) & 7, (state >> 2) as u8)
    })
    .expect("a valid shift register");
    vec![
        Case {
            name: "lock-8".into(),
            truth: lock,
            beyond_testing: true,
        },
        Case {
            name: "counter-7".into(),
            truth: counter,
            beyond_testing: false,
        },
        Case {
            name: "shift-3".into(),
            truth: shift,
            beyond_testing: false,
        },
    ]
}

/// What one learner cost on one machine, and whether it learned the machine.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    states: usize,
    membership_queries: u64,
    membership_symbols: u64,
    test_queries: u64,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.states += other.states;
        self.membership_queries += other.membership_queries;
        self.membership_symbols += other.membership_symbols;
        self.test_queries += other.test_queries;
    }
}

fn cost_of(learned: &Learned<u8, u8>) -> Cost {
    let LearnStats {
        membership_queries,
        membership_symbols,
        test_queries,
        ..
    } = learned.stats;
    Cost {
        states: learned.hypothesis.state_count(),
        membership_queries,
        membership_symbols,
        test_queries,
    }
}

/// Says what is wrong with `model` as a model of `minimal` (the minimised truth), if anything.
fn check_model(
    learner: &str,
    case: &str,
    model: &Mealy<u8, u8>,
    minimal: &Mealy<u8, u8>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(word) = distinguish(model, minimal) {
        problems.push(format!(
            "{case}: {learner} learned a different machine: on {word:?} it answers {:?}, the machine {:?}",
            model.run(&word),
            minimal.run(&word)
        ));
    }
    if model.state_count() != minimal.state_count() {
        problems.push(format!(
            "{case}: {learner} learned {} states, the minimal machine has {}",
            model.state_count(),
            minimal.state_count()
        ));
    }
    problems
}

fn learn_ours(
    truth: &Mealy<u8, u8>,
    oracle: &mut dyn EquivalenceOracle<u8, u8>,
) -> Learned<u8, u8> {
    let mut sul = truth.clone();
    let learned = learn(&mut sul, truth.inputs(), oracle, Limits::default()).expect("learns");
    assert!(learned.is_complete(), "{:?}", learned.stopped_by);
    learned
}

fn machines_json(cases: &[Case]) -> Value {
    let machines: Vec<Value> = cases
        .iter()
        .map(|case| {
            let width = case.truth.inputs().len();
            let table: Vec<Vec<[u64; 2]>> = case
                .truth
                .states()
                .map(|state| {
                    (0..width)
                        .map(|position| {
                            let (target, output) =
                                case.truth.step_at(state, position).expect("complete");
                            [target as u64, u64::from(*output)]
                        })
                        .collect()
                })
                .collect();
            json!({"name": case.name, "inputs": case.truth.inputs(), "table": table})
        })
        .collect();
    json!({ "machines": machines })
}

fn number(value: &Value, key: &str) -> u64 {
    value
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("AALpy's result has no number {key}: {value}"))
}

/// One AALpy run's model and cost, from the script's JSON.
fn aalpy_run(run: &Value, inputs: &[u8]) -> (Mealy<u8, u8>, Cost) {
    let rows = run
        .pointer("/model/table")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("AALpy's result has no model: {run}"));
    let table: Vec<Vec<(usize, u8)>> = rows
        .iter()
        .map(|row| {
            row.as_array()
                .expect("a row")
                .iter()
                .map(|cell| {
                    let pair = cell.as_array().expect("a [target, output] pair");
                    let field = |k: usize| pair.get(k).and_then(Value::as_u64).expect("a number");
                    (field(0) as usize, field(1) as u8)
                })
                .collect()
        })
        .collect();
    let model = Mealy::new(inputs.to_vec(), table).expect("AALpy's model is a valid machine");
    let cost = Cost {
        states: number(run, "states") as usize,
        membership_queries: number(run, "membership_queries"),
        membership_symbols: number(run, "membership_steps"),
        test_queries: number(run, "test_queries"),
    };
    (model, cost)
}

/// The learners compared, as this report names them, and the key of AALpy's run in the
/// script's results (`None` for this crate's). The first five use the perfect oracle.
const LEARNERS: [(&str, Option<&str>); 7] = [
    ("our L#", None),
    ("AALpy L*", Some("lstar")),
    ("AALpy KV", Some("kv")),
    ("AALpy L#", Some("lsharp")),
    ("AALpy L# basic", Some("lsharp_plain")),
    ("our L# tests", None),
    ("AALpy L* tests", Some("lstar_testing")),
];

/// How many of [`LEARNERS`] use the perfect oracle.
const PERFECT: usize = 5;

#[test]
fn our_lsharp_agrees_with_aalpy_and_needs_fewer_queries_than_its_lstar() {
    let started = Instant::now();
    let python = venv_python();
    if !python.exists() {
        eprintln!(
            "SKIPPED: no Python venv at {} (make pyenv creates it, with AALpy): the comparison with AALpy did not run",
            python.display()
        );
        return;
    }
    let mut cases = random_cases(20, 2025);
    cases.extend(structured_cases());

    // This crate's L#: with the perfect oracle (the comparison), then with testing only
    // (random walks, then the Wp-method for one extra state), as the harness learns.
    let mut ours = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let minimal = case.truth.minimized();
        let perfect = learn_ours(&case.truth, &mut PerfectOracle(minimal.clone()));
        let mut testing = ChainOracle::new()
            .then(RandomWalkOracle::new(index as u64).with_walks(500))
            .then(WpOracle::new(1));
        let tested = learn_ours(&case.truth, &mut testing);
        ours.push((perfect, tested));
    }
    let ours_seconds = started.elapsed().as_secs_f64();

    let directory = tempfile::tempdir().expect("a temporary directory");
    let machines = directory.path().join("machines.json");
    let results = directory.path().join("results.json");
    std::fs::write(&machines, machines_json(&cases).to_string()).expect("writes the machines");
    let aalpy_started = Instant::now();
    let output = Command::new(&python)
        .arg(script())
        .arg(&machines)
        .arg(&results)
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("the venv's Python starts");
    let aalpy_seconds = aalpy_started.elapsed().as_secs_f64();
    if output.status.code() == Some(3) {
        eprintln!(
            "SKIPPED: {} (make pyenv installs it): the comparison with AALpy did not run",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return;
    }
    assert!(
        output.status.success(),
        "the AALpy script failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&results).expect("the script wrote its results"),
    )
    .expect("the results are JSON");
    let version = report
        .get("aalpy_version")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let entries = report
        .get("results")
        .and_then(Value::as_array)
        .expect("a list of results");
    assert_eq!(entries.len(), cases.len(), "one result per machine");

    let mut problems = Vec::new();
    let mut totals = [Cost::default(); LEARNERS.len()];
    let mut header = format!("{:<11} {:>6}", "machine", "states");
    for (label, _) in LEARNERS {
        header.push_str(&format!(" {label:>17}"));
    }
    eprintln!("{header}");
    for ((case, entry), (perfect, tested)) in cases.iter().zip(entries).zip(&ours) {
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("?");
        assert_eq!(name, case.name, "results in the order of the machines");
        let minimal = case.truth.minimized();
        let mut line = format!(
            "{:<11} {:>2}/{:<3}",
            case.name,
            minimal.state_count(),
            case.truth.state_count()
        );
        for (position, (label, key)) in LEARNERS.iter().enumerate() {
            let (model, cost) = match key {
                None if position < PERFECT => (perfect.hypothesis.clone(), cost_of(perfect)),
                None => (tested.hypothesis.clone(), cost_of(tested)),
                Some(key) => {
                    let run = entry
                        .pointer(&format!("/runs/{key}"))
                        .unwrap_or_else(|| panic!("{name}: no {key} run"));
                    aalpy_run(run, case.truth.inputs())
                }
            };
            let found = check_model(label, &case.name, &model, &minimal);
            if cost.states != model.state_count() {
                problems.push(format!(
                    "{name}: {label} says {} states, its model has {}",
                    cost.states,
                    model.state_count()
                ));
            }
            let cell = if position < PERFECT {
                format!("{} ({})", cost.membership_queries, cost.membership_symbols)
            } else {
                format!("{}+{}t", cost.membership_queries, cost.test_queries)
            };
            if position >= PERFECT && case.beyond_testing {
                line.push_str(&format!(
                    " {:>17}",
                    if found.is_empty() {
                        cell
                    } else {
                        "missed".into()
                    }
                ));
            } else {
                problems.extend(found);
                line.push_str(&format!(" {cell:>17}"));
            }
            if let Some(total) = totals.get_mut(position) {
                total.add(cost);
            }
        }
        eprintln!("{line}");
    }
    eprintln!(
        "totals over {} machines, AALpy {version}; the first {PERFECT} learners with a perfect \
         oracle (membership queries, symbols in parentheses), the last two with random tests then \
         the Wp-method for one extra state (membership + test queries; 'missed': that machine was \
         not found by testing, as expected):",
        cases.len()
    );
    for ((label, _), cost) in LEARNERS.iter().zip(&totals) {
        eprintln!(
            "  {label:<15} {:>6} membership queries ({:>6} symbols), {:>6} test queries",
            cost.membership_queries, cost.membership_symbols, cost.test_queries
        );
    }
    eprintln!(
        "time: our learner {ours_seconds:.2} s, AALpy {aalpy_seconds:.2} s, all {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let [our_total, lstar_total, ..] = totals;
    assert!(
        our_total.membership_queries <= lstar_total.membership_queries,
        "our L# sent {} membership queries in all, AALpy's L* {}",
        our_total.membership_queries,
        lstar_total.membership_queries
    );
}
