//! `harness fuzz`: network fuzzing of an implementation under test (first slice). Inputs are the
//! family's library scenarios with their oracle taken out (skeletons, `handshake_netfuzz`), mutated
//! step by step and value by value; each runs through the normal engine (in-process references and
//! their mutants in virtual time, external processes over real UDP), so every input and every
//! finding is a scenario. A finding is an input after which the IUT breaks a rule the judge
//! enforces, or its run could not settle (a hang in virtual time), or its process ended on its own.
//! Findings are minimised (ddmin over steps) and written as scenarios `harness run` replays, with
//! their captures; inputs that reach a new path of response kinds stay in the corpus.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use handshake_netfuzz::mutate::{mutate, skeleton, GenericOnly};
use handshake_netfuzz::novelty::Novelty;
use handshake_netfuzz::{corpus, minimize, seeded_bytes};
use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};
use handshake_scenario::outcome::Verdict;
use handshake_scenario::{Iut, ScenarioOutcome};
use serde::Serialize;
use serde_json::Value;

use crate::families::FAMILIES;

/// `harness fuzz` arguments.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// The implementation: `ref:PROFILE` (a reference or `ref:PROFILE!MUTANT`, virtual time) or an
    /// IUT manifest (real UDP).
    #[arg(long)]
    pub iut: String,
    /// The family (default: the IUT's).
    #[arg(long)]
    pub family: Option<String>,
    /// Skeleton scenarios (files or folders; default `vectors/scenarios/FAMILY`).
    #[arg(long = "scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Stop after this many executions.
    #[arg(long)]
    pub execs: Option<u64>,
    /// Stop after this many seconds (default 60 when --execs is not given).
    #[arg(long)]
    pub time: Option<u64>,
    /// Seed of the mutations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Corpus folder: read at the start, new inputs written to it.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Where findings (scenarios and captures) and fuzz.json go.
    #[arg(long, default_value = "reports/fuzz")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
struct Finding {
    kind: String,
    scenario: String,
    capture: String,
    steps_before: usize,
    steps_after: usize,
    first_at_exec: u64,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    iut: String,
    family: String,
    seed: u64,
    execs: u64,
    seconds: f64,
    execs_per_second: f64,
    corpus: usize,
    paths: usize,
    findings: Vec<Finding>,
    broken_corpus_files: Vec<String>,
}

/// What an outcome says is wrong with the IUT (`None`: nothing): the finding's kind. `baseline`
/// gives the rules the family's reference breaks on the same input: those the input itself causes
/// (a judge that also looks at what the scripted peer sent), never the IUT's finding.
fn finding_of(
    o: &ScenarioOutcome,
    baseline: impl FnOnce() -> Vec<String>,
) -> Option<(String, String)> {
    if !o.rules_fired.is_empty() {
        let reference = baseline();
        let ids: Vec<&String> = o
            .rules_fired
            .keys()
            .filter(|r| !reference.contains(r))
            .collect();
        if !ids.is_empty() {
            return Some((
                format!(
                    "rule:{}",
                    ids.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("+")
                ),
                o.reasons.join("; "),
            ));
        }
    }
    let text = o.reasons.join("; ");
    if text.contains("did not settle") {
        return Some(("hang".into(), text));
    }
    if o.transcript
        .iter()
        .any(|l| l.text.starts_with("IUT ended") && !l.text.contains("SIGTERM"))
        && o.verdict == Verdict::Fail
    {
        return Some(("exit".into(), text));
    }
    None
}

/// The path of response kinds of a run: the harness endpoint's events, numbers taken out.
fn path_of(o: &ScenarioOutcome) -> Vec<String> {
    o.transcript
        .iter()
        .filter_map(|l| l.text.strip_prefix("harness: "))
        .map(|t| t.chars().filter(|c| !c.is_ascii_digit()).collect())
        .collect()
}

struct Runner<'a> {
    family: &'static dyn handshake_scenario::DynFamily,
    iut: &'a Iut,
    /// The reference the IUT is compared with (`None`: the IUT is the reference).
    baseline: Option<Iut>,
    seed: u64,
}

impl Runner<'_> {
    fn run_on(&self, iut: &Iut, scenario: &Value) -> Option<ScenarioOutcome> {
        let text = scenario.to_string();
        let loaded = self.family.load(Path::new("fuzz-input.json"), &text).ok()?;
        Some(loaded.run(iut, self.seed))
    }

    fn run(&self, scenario: &Value) -> Option<ScenarioOutcome> {
        self.run_on(self.iut, scenario)
    }

    /// The rules the baseline reference breaks on `scenario`.
    fn baseline_rules(&self, scenario: &Value) -> Vec<String> {
        self.baseline
            .as_ref()
            .and_then(|b| self.run_on(b, scenario))
            .map(|o| o.rules_fired.into_keys().collect())
            .unwrap_or_default()
    }

    /// The finding `scenario` gives, if any.
    fn finding(&self, scenario: &Value) -> Option<(String, String)> {
        let o = self.run(scenario)?;
        finding_of(&o, || self.baseline_rules(scenario))
    }
}

/// The reference a finding must not also show: a reference mutant's base, or for an external IUT
/// the family's reference (the base of its first mutant). A reference is its own baseline: against
/// it only hangs and exits count (a rule it breaks on an input could be the input's doing).
fn baseline_of(iut: &Iut, family: &'static dyn handshake_scenario::DynFamily) -> Option<Iut> {
    match iut {
        Iut::Reference {
            family: f, profile, ..
        } => {
            let base = profile.split_once('!').map_or(profile.as_str(), |(b, _)| b);
            Some(Iut::Reference {
                name: format!("ref:{base}"),
                family: f,
                profile: base.to_owned(),
            })
        }
        Iut::External(_) => family.mutants().first().map(|m| Iut::Reference {
            name: format!("ref:{}", m.base),
            family: family.name(),
            profile: m.base.to_owned(),
        }),
    }
}

/// A scenario with `steps` in place of its own.
fn with_steps(base: &Value, steps: &[Value]) -> Value {
    let mut s = base.clone();
    s["peer"]["steps"] = Value::Array(steps.to_vec());
    s
}

fn load_skeletons(paths: &[PathBuf], family: &str) -> Result<Vec<Value>, String> {
    let files = handshake_scenario::runner::scenario_files(paths).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let protocol = v["protocol"].as_str().unwrap_or("mediastream");
        let slow = v["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "slow"));
        let steps = v["peer"]["steps"].as_array().cloned().unwrap_or_default();
        if protocol != family || slow || steps.is_empty() || v["peer"].get("reference").is_some() {
            continue;
        }
        v["peer"]["steps"] = Value::Array(skeleton(&steps, 300));
        v["expect"] = serde_json::json!({"rules_hold": ["all"]});
        v["settle_ms"] = Value::from(2000);
        if let Some(o) = v.as_object_mut() {
            o.remove("$schema");
        }
        out.push(v);
    }
    Ok(out)
}

/// Runs `harness fuzz`.
pub fn run(args: FuzzArgs, out: &mut dyn Write) -> i32 {
    let iut = match FAMILIES.parse_iut(&args.iut) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: --iut {}: {e}", args.iut);
            return EXIT_INPUT;
        }
    };
    let family_name = match (&args.family, &iut) {
        (Some(f), _) => f.clone(),
        (None, Iut::Reference { family, .. }) => (*family).to_owned(),
        (None, Iut::External(_)) => {
            eprintln!("error: --family is needed with an external IUT");
            return EXIT_INPUT;
        }
    };
    let family = match FAMILIES.require(&family_name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let paths = if args.scenarios.is_empty() {
        vec![PathBuf::from(format!("vectors/scenarios/{family_name}"))]
    } else {
        args.scenarios.clone()
    };
    let skeletons = match load_skeletons(&paths, &family_name) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            eprintln!("error: no scenario with scripted steps to start from in {paths:?}");
            return EXIT_INPUT;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let (mut pool, broken) = match &args.corpus {
        Some(dir) => match corpus::load(dir) {
            Ok((inputs, broken)) => (inputs, broken),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
        },
        None => (Vec::new(), Vec::new()),
    };
    for b in &broken {
        eprintln!("warning: corpus file {b} is not JSON; skipped");
    }
    // Corpus entries are whole scenarios; the skeletons come first.
    let mut inputs: Vec<Value> = skeletons.clone();
    inputs.append(&mut pool);
    let runner = Runner {
        family,
        iut: &iut,
        baseline: baseline_of(&iut, family),
        seed: args.seed,
    };
    let limit = args
        .time
        .or(if args.execs.is_none() { Some(60) } else { None });
    let deadline = limit.map(|s| Instant::now() + Duration::from_secs(s));
    let started = Instant::now();
    let mut novelty = Novelty::default();
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    let mut shapes: std::collections::BTreeSet<Vec<String>> = std::collections::BTreeSet::new();
    let mut seen_kinds: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut execs: u64 = 0;
    let findings_dir = args.out.join("findings");
    loop {
        if args.execs.is_some_and(|n| execs >= n) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let data = seeded_bytes(args.seed.wrapping_mul(0x9e37_79b9).wrapping_add(execs), 512);
        let mut u = Unstructured::new(&data);
        let Ok(pick) = u.choose_index(inputs.len()) else {
            break;
        };
        let base = inputs[pick].clone();
        let mut steps = base["peer"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let stack = u.int_in_range(1u8..=4).unwrap_or(1);
        for _ in 0..stack {
            let _ = mutate(&mut steps, &GenericOnly, &mut u);
        }
        let candidate = with_steps(&base, &steps);
        execs += 1;
        let Some(outcome) = runner.run(&candidate) else {
            continue;
        };
        if novelty.observe(&path_of(&outcome)) {
            inputs.push(candidate.clone());
            if let Some(dir) = &args.corpus {
                let _ = corpus::save(dir, &candidate);
            }
        }
        let Some((kind, detail)) = finding_of(&outcome, || runner.baseline_rules(&candidate))
        else {
            continue;
        };
        if findings.contains_key(&kind) || seen_kinds.contains(&kind) {
            continue;
        }
        // Minimise over steps: the same kind of finding must remain.
        let minimal = minimize::ddmin(&steps, |s| {
            runner
                .finding(&with_steps(&base, s))
                .is_some_and(|(k, _)| k == kind)
        });
        // The same bug: a finding whose minimised input has the same shape (its step names in
        // order) is reported once, whatever rules the run broke beside it.
        let shape: Vec<String> = minimal
            .iter()
            .filter_map(|s| handshake_netfuzz::mutate::step_name(s).map(str::to_owned))
            .collect();
        if !shapes.insert(shape) {
            seen_kinds.insert(kind.clone());
            continue;
        }
        let mut scenario = with_steps(&base, &minimal);
        let n = findings.len() + 1;
        let stem = format!("finding-{n}-{}", kind.replace([':', '+', '.'], "_"));
        scenario["id"] = Value::from(format!("fuzz.{family_name}.{stem}"));
        scenario["title"] = Value::from(format!("harness fuzz finding {n}: {kind}"));
        scenario["tags"] = serde_json::json!(["fuzz"]);
        let final_outcome = runner.run(&scenario);
        let _ = std::fs::create_dir_all(&findings_dir);
        let scenario_path = findings_dir.join(format!("{stem}.json"));
        let capture_path = findings_dir.join(format!("{stem}.pcapng"));
        let _ = std::fs::write(
            &scenario_path,
            serde_json::to_string_pretty(&scenario).unwrap_or_default() + "\n",
        );
        if let Some(o) = &final_outcome {
            let _ = std::fs::write(&capture_path, &o.capture);
        }
        let _ = writeln!(
            out,
            "finding {n}: {kind} after {execs} execs, minimised from {} to {} steps: {}",
            steps.len(),
            minimal.len(),
            scenario_path.display()
        );
        findings.insert(
            kind.clone(),
            Finding {
                kind,
                scenario: scenario_path.display().to_string(),
                capture: capture_path.display().to_string(),
                steps_before: steps.len(),
                steps_after: minimal.len(),
                first_at_exec: execs,
                detail,
            },
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    let summary = Summary {
        iut: iut.name().to_owned(),
        family: family_name,
        seed: args.seed,
        execs,
        seconds,
        execs_per_second: if seconds > 0.0 {
            execs as f64 / seconds
        } else {
            0.0
        },
        corpus: inputs.len(),
        paths: novelty.len(),
        findings: findings.into_values().collect(),
        broken_corpus_files: broken,
    };
    let _ = std::fs::create_dir_all(&args.out);
    let _ = std::fs::write(
        args.out.join("fuzz.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n",
    );
    let _ = writeln!(
        out,
        "{} execs in {:.1} s ({:.0}/s), {} paths, corpus {}, {} findings; report {}",
        summary.execs,
        summary.seconds,
        summary.execs_per_second,
        summary.paths,
        summary.corpus,
        summary.findings.len(),
        args.out.join("fuzz.json").display()
    );
    if summary.findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
