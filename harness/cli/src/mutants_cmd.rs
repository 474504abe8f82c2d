//! `harness mutants`: runs the scenario library against every deliberately wrong variant of the
//! reference endpoints and reports which scenarios (and checker rules) caught each; an uncaught mutant
//! fails the command. `harness coverage`: each fact/decision id and rule id with the scenarios that
//! exercise it and the mutants it kills; ids without a scenario are gaps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;

use handshake_endpoint::mediastream::Mutant;
use handshake_scenario::model::Scenario;
use handshake_scenario::outcome::Verdict;
use handshake_scenario::runner::{scenario_files, Iut, Plan};
use serde::Serialize;

use crate::cli::{EXIT_FAILED, EXIT_INPUT, EXIT_OK};

/// `harness mutants` / `harness coverage` arguments.
#[derive(Debug, clap::Args)]
pub struct MutantsArgs {
    /// Scenario files or directories.
    #[arg(default_value = "vectors/scenarios/mediastream")]
    pub scenarios: Vec<PathBuf>,
    /// Only these mutants (names as in `ref:3way!NAME`); repeatable.
    #[arg(long)]
    pub mutant: Vec<String>,
    /// Parallel workers.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Also write mutants.json and mutants.md here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// How one mutant fared.
#[derive(Debug, Clone, Serialize)]
pub struct MutantResult {
    /// Mutant name.
    pub mutant: String,
    /// What it breaks.
    pub description: String,
    /// The IUT run (`ref:3way!media-before-ack`).
    pub iut: String,
    /// Scenarios that pass on the base profile and fail on the mutant.
    pub caught_by: Vec<String>,
    /// Checker rules that fired on the mutant but not on the base, over those scenarios.
    pub rules: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct MutantsReport {
    /// Per mutant.
    pub mutants: Vec<MutantResult>,
    /// Caught / total.
    pub score: f64,
    /// Scenario ids run.
    pub scenarios: usize,
}

fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, String> {
    let mut scenarios = handshake_scenario::load_all(&scenario_files(paths)?).map_err(|e| e.0)?;
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(scenarios)
}

fn run_library(
    scenarios: &[Scenario],
    iut: &str,
    jobs: usize,
) -> Result<BTreeMap<String, (Verdict, BTreeSet<String>)>, String> {
    let plan = Plan {
        scenarios: scenarios.to_vec(),
        iuts: vec![Iut::parse(iut)?],
        seed: None,
        repeat: 1,
        partition: None,
        jobs,
        expectations: BTreeMap::new(),
        strict_profile: false,
    };
    Ok(plan
        .run(|_, _| {})
        .results
        .into_iter()
        .map(|r| {
            (
                r.outcome.scenario.clone(),
                (
                    r.outcome.verdict,
                    r.outcome.rules_fired.keys().cloned().collect(),
                ),
            )
        })
        .collect())
}

/// Runs every (selected) mutant against the library.
pub fn mutants(
    scenarios: &[Scenario],
    only: &[String],
    jobs: usize,
) -> Result<MutantsReport, String> {
    let selected: Vec<Mutant> = Mutant::ALL
        .iter()
        .copied()
        .filter(|m| only.is_empty() || only.iter().any(|o| o == m.name()))
        .collect();
    if selected.is_empty() {
        return Err(format!("no such mutant: {}", only.join(", ")));
    }
    let mut bases: BTreeMap<&str, BTreeMap<String, (Verdict, BTreeSet<String>)>> = BTreeMap::new();
    for m in &selected {
        if !bases.contains_key(m.base()) {
            bases.insert(
                m.base(),
                run_library(scenarios, &format!("ref:{}", m.base()), jobs)?,
            );
        }
    }
    let mut results = Vec::new();
    for m in selected {
        let iut = format!("ref:{}!{}", m.base(), m.name());
        let base = bases.get(m.base()).cloned().unwrap_or_default();
        let mutated = run_library(scenarios, &iut, jobs)?;
        let mut caught_by = Vec::new();
        let mut rules = BTreeSet::new();
        for (id, (verdict, fired)) in &mutated {
            let Some((base_verdict, base_fired)) = base.get(id) else {
                continue;
            };
            if *base_verdict == Verdict::Pass && matches!(verdict, Verdict::Fail | Verdict::Error) {
                caught_by.push(id.clone());
                rules.extend(fired.difference(base_fired).cloned());
            }
        }
        results.push(MutantResult {
            mutant: m.name().to_owned(),
            description: describe(m),
            iut,
            caught_by,
            rules: rules.into_iter().collect(),
        });
    }
    let caught = results.iter().filter(|r| !r.caught_by.is_empty()).count();
    Ok(MutantsReport {
        score: caught as f64 / results.len().max(1) as f64,
        mutants: results,
        scenarios: scenarios.len(),
    })
}

/// The doc line of a mutant (what it breaks).
fn describe(m: Mutant) -> String {
    match m {
        Mutant::MediaBeforeAck => "responder streams before the ACK without being optimistic (D6)",
        Mutant::NewIdPerSyn => "a repeated SYN gets a new id (D3)",
        Mutant::SynAckToStart => "a legacy START is answered with a SYN-ACK (D9)",
        Mutant::StartWithoutAllow => "START served without AllowLegacyStart (D9)",
        Mutant::ConnectionIdNotFirst => "CONNECTION_ID after the first frame",
        Mutant::ConnectionIdTwice => "CONNECTION_ID sent twice",
        Mutant::SeqFromZero => "sequence numbers from 0",
        Mutant::WrongFragmentationTail => "no 27-byte tail rule",
        Mutant::OversizeDatagrams => "datagrams above the maximum size",
        Mutant::ExtraFrame => "one frame after the last",
        Mutant::PatternOffByOne => "payload pattern from offset 1",
        Mutant::NoSynAckRetransmit => "no SYN-ACK re-sends (D7)",
        Mutant::AcceptMismatchedAck => "establishes on an ACK with another id (D6)",
        Mutant::AcceptBadVersion => "accepts a SYN of another version (D4)",
        Mutant::NoSynBackoff => "SYN every 500 ms, no doubling (D2)",
        Mutant::FifthSyn => "a fifth SYN (D2)",
        Mutant::AckNotEchoingId => "ACK does not echo the assigned id (D5)",
        Mutant::AckOnReject => "ACK answers a rejecting SYN-ACK (D5)",
        Mutant::DuplicateCountedAsGood => "duplicate DATA counted into the frame (D13)",
        Mutant::MediaBeforeSessionAccepted => "media taken before the session is known (D8)",
        Mutant::AbortOnMalformed => "a malformed datagram aborts a 3-way stream (D11)",
    }
    .to_owned()
}

fn markdown(report: &MutantsReport) -> String {
    let caught = report
        .mutants
        .iter()
        .filter(|m| !m.caught_by.is_empty())
        .count();
    let mut md = format!(
        "# Mutants\n\nMutation score: {caught}/{} ({:.0} %) over {} scenarios.\n\n| mutant | breaks | caught by | rules that fired |\n|---|---|---|---|\n",
        report.mutants.len(),
        report.score * 100.0,
        report.scenarios
    );
    for m in &report.mutants {
        let by = if m.caught_by.is_empty() {
            "**not caught**".to_owned()
        } else {
            m.caught_by
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rules = m
            .rules
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ");
        md.push_str(&format!(
            "| `{}` | {} | {by} | {rules} |\n",
            m.iut, m.description
        ));
    }
    md
}

/// Runs `harness mutants`.
pub fn run(args: MutantsArgs, out: &mut dyn Write) -> i32 {
    let report =
        match load(&args.scenarios).and_then(|s| mutants(&s, &args.mutant, args.jobs.max(1))) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
        };
    for m in &report.mutants {
        let by = match m.caught_by.len() {
            0 => "NOT CAUGHT".to_owned(),
            n => format!(
                "caught by {n}: {}",
                m.caught_by
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            out,
            "{:<45} {by}{}",
            m.iut,
            if m.rules.is_empty() {
                String::new()
            } else {
                format!(" [rules: {}]", m.rules.join(", "))
            }
        );
    }
    let caught = report
        .mutants
        .iter()
        .filter(|m| !m.caught_by.is_empty())
        .count();
    let _ = writeln!(
        out,
        "mutation score: {caught}/{} ({:.0} %)",
        report.mutants.len(),
        report.score * 100.0
    );
    if let Some(dir) = &args.report {
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| {
                std::fs::write(
                    dir.join("mutants.json"),
                    serde_json::to_string_pretty(&report).unwrap_or_default(),
                )
            })
            .and_then(|()| std::fs::write(dir.join("mutants.md"), markdown(&report)));
        if let Err(e) = written {
            eprintln!("error: writing {}: {e}", dir.display());
            return EXIT_INPUT;
        }
    }
    if caught == report.mutants.len() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Runs `harness coverage`: ids with the scenarios that exercise them and the mutants they kill.
pub fn coverage(args: MutantsArgs, out: &mut dyn Write) -> i32 {
    let scenarios = match load(&args.scenarios) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let report = match mutants(&scenarios, &args.mutant, args.jobs.max(1)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let mut ids: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for d in (1..=14).map(|n| format!("D{n}")) {
        ids.entry(d).or_default();
    }
    for r in handshake_check::rules::ALL {
        ids.entry(r.id.to_owned()).or_default();
    }
    for s in &scenarios {
        for id in s.decisions.iter().chain(&s.rules) {
            ids.entry(id.clone()).or_default().0.insert(s.id.clone());
        }
    }
    for m in &report.mutants {
        for scenario in &m.caught_by {
            for (_, (scenarios_of, kills)) in ids.iter_mut() {
                if scenarios_of.contains(scenario) {
                    kills.insert(m.mutant.clone());
                }
            }
        }
    }
    let mut gaps = Vec::new();
    for (id, (scenarios_of, kills)) in &ids {
        if scenarios_of.is_empty() {
            gaps.push(id.clone());
        }
        let _ = writeln!(
            out,
            "{id:<32} {:>3} scenarios  {:>2} mutants  {}",
            scenarios_of.len(),
            kills.len(),
            kills.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if gaps.is_empty() {
        let _ = writeln!(out, "no gaps: every decision and rule id has a scenario");
        EXIT_OK
    } else {
        let _ = writeln!(out, "gaps (no scenario): {}", gaps.join(", "));
        EXIT_FAILED
    }
}
