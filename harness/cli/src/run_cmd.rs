//! `harness run`: replays JSON scenarios against implementations under test and writes the reports a CI
//! gate reads. Exit codes: 0 all passed; 1 failures (fail, xpass, error); 2 usage or input error;
//! 3 no scenario selected (or none could run: all unsupported).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use handshake_report::{ReportDir, ResultKey};
use handshake_scenario::interrupt;
use handshake_scenario::results::{Expectations, RunReport, Status};
use handshake_scenario::runner::{parse_partition, scenario_files, Plan};
use handshake_scenario::{Iut, LoadedScenario};

use handshake_scenario::Families;

use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};

/// Exit code: nothing was selected or nothing could run.
pub const EXIT_NOTHING: i32 = 3;

/// `harness run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories (recursively).
    #[arg(default_value = "vectors/scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Implementation under test: `ref:PROFILE` (in-process, virtual time) or an IUT manifest
    /// `FILE.json` (an external program, real time). Repeatable.
    #[arg(long, required_unless_present_any = ["iut_cmd", "iut_addr"])]
    pub iut: Vec<String>,
    /// External IUT from one command line (the same template for both roles; `{listen}` or `{target}`
    /// and the stream placeholders are substituted, option flags cannot be given). Repeatable.
    #[arg(long, value_name = "CMD")]
    pub iut_cmd: Vec<String>,
    /// A responder that is already running, optionally with the reference profile it behaves like
    /// (`127.0.0.1:4444@3way+allow_legacy_start`; default 3way): scenarios that need a restart, an
    /// initiator, a session limit or a feature the profile lacks are unsupported. Start it with the
    /// scenarios' stream parameters. Repeatable.
    #[arg(long, value_name = "HOST:PORT[@PROFILE]")]
    pub iut_addr: Vec<String>,
    /// Real-time runs (external IUTs): timing tolerance. An `expect` window is widened by it (plus
    /// the harness's own measured lateness), an `expect_none` window shortened by it; the checker's
    /// timing rules allow it too.
    #[arg(long, default_value_t = handshake_check::Tolerance::DEFAULT.ms(), value_name = "MS")]
    pub tolerance_ms: u64,
    /// Real-time runs: what one run keeps of what the IUT sends at most, each datagram counted at
    /// what the harness really keeps for it (its capture, trace and checker); an IUT that sends
    /// more floods the harness, and its run fails there.
    #[arg(long, default_value_t = handshake_net::budget::RUN_BUDGET >> 20, value_name = "MB")]
    pub max_received_mb: u64,
    /// Count deviations from this project's own profile decisions (checks beyond the facts) as
    /// failures instead of showing them as `deviation`.
    #[arg(long)]
    pub strict_profile: bool,
    /// Expectations files (known failures per IUT, matched by their `iut` field). Repeatable.
    #[arg(long)]
    pub expectations: Vec<PathBuf>,
    /// Write pcapng and transcript per scenario, junit.xml, results.json, summary.md and index.html here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Seed for every scenario (default: each scenario's own, else 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run each scenario N times (seeds seed, seed+1, …) to measure stability.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Run shard K of N (by scenario order), e.g. `--partition 2/4` on the second of four CI machines.
    #[arg(long)]
    pub partition: Option<String>,
    /// Parallel workers [default: the number of cores; 16 when an IUT runs in real time, whose
    /// scenarios mostly wait, each on its own ports].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Only scenarios with this tag (repeatable: any of them).
    #[arg(long)]
    pub tag: Vec<String>,
    /// Leave out scenarios with this tag (repeatable), e.g. `slow`: minutes of real time against
    /// an external IUT.
    #[arg(long, value_name = "TAG")]
    pub skip_tag: Vec<String>,
    /// Only scenarios whose id contains this text.
    #[arg(long)]
    pub filter: Option<String>,
}

/// Runs `harness run`.
pub fn run(families: Families, args: RunArgs, out: &mut dyn Write) -> i32 {
    match prepare(families, &args) {
        Ok(plan) => execute(families, &args, plan, out),
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

/// Workers for real-time IUTs: their scenarios mostly wait on timers.
pub const REAL_TIME_JOBS: usize = 16;

fn prepare(families: Families, args: &RunArgs) -> Result<Plan, String> {
    let iut_texts = args
        .iut
        .iter()
        .cloned()
        .chain(args.iut_cmd.iter().map(|c| format!("cmd:{c}")))
        .chain(args.iut_addr.iter().map(|a| format!("addr:{a}")));
    let mut iuts = iut_texts
        .map(|s| families.parse_iut(&s))
        .collect::<Result<Vec<_>, _>>()?;
    for iut in &mut iuts {
        iut.set_tolerance(handshake_check::Tolerance::from_ms(args.tolerance_ms));
        iut.limit_received(args.max_received_mb.saturating_mul(1 << 20));
    }
    let paths = crate::library::resolve_all(&args.scenarios)?;
    let mut scenarios = families
        .load_all(&scenario_files(&paths)?)
        .map_err(|e| e.0)?;
    for warning in unknown_tags(&args.tag, &args.skip_tag, &scenarios) {
        eprintln!("warning: {warning}");
    }
    scenarios.retain(|s| args.tag.is_empty() || s.tags().iter().any(|t| args.tag.contains(t)));
    scenarios.retain(|s| !s.tags().iter().any(|t| args.skip_tag.contains(t)));
    scenarios.retain(|s| {
        args.filter
            .as_ref()
            .is_none_or(|f| s.id().contains(f.as_str()))
    });
    scenarios.sort_by(|a, b| a.id().cmp(b.id()));
    probe_silent_iuts(families, &mut iuts, &scenarios, args.seed.unwrap_or(1));
    let mut expectations = BTreeMap::new();
    for path in &args.expectations {
        let e: Expectations =
            handshake_scenario::json::load_file(path).map_err(|e| e.to_string())?;
        for id in e.known_failures.keys() {
            if !scenarios.iter().any(|s| s.id() == id)
                && args.tag.is_empty()
                && args.skip_tag.is_empty()
                && args.filter.is_none()
            {
                return Err(format!(
                    "{}: known failure `{id}` names no scenario",
                    path.display()
                ));
            }
        }
        let iut = families
            .parse_iut(&e.iut)
            .map(|i| i.name().to_owned())
            .unwrap_or_else(|_| e.iut.clone());
        expectations.insert(iut, e);
    }
    let jobs = match args.jobs {
        Some(n) => usize::from(n),
        None if iuts.iter().any(Iut::is_real_time) => REAL_TIME_JOBS,
        None => std::thread::available_parallelism().map_or(2, usize::from),
    };
    Ok(Plan {
        scenarios,
        iuts,
        seed: args.seed,
        repeat: args.repeat,
        partition: args.partition.as_deref().map(parse_partition).transpose()?,
        jobs,
        expectations,
        strict_profile: args.strict_profile,
        shortest_first: false,
    })
}

/// The `--tag` and `--skip-tag` values no scenario of `scenarios` has, each said with the tag
/// closest to it, if one is.
fn unknown_tags(
    tags: &[String],
    skip_tags: &[String],
    scenarios: &[LoadedScenario],
) -> Vec<String> {
    let known: std::collections::BTreeSet<&str> = scenarios
        .iter()
        .flat_map(|s| s.tags().iter().map(String::as_str))
        .collect();
    tags.iter()
        .map(|t| ("--tag", t))
        .chain(skip_tags.iter().map(|t| ("--skip-tag", t)))
        .filter(|(_, t)| !known.contains(t.as_str()))
        .map(|(option, t)| {
            format!(
                "{option} {t}: no scenario has this tag{}",
                handshake_core::words::did_you_mean(t, known.iter().copied())
            )
        })
        .collect()
}

/// Finds out what each external program that says nothing of its profiles speaks (`--iut-cmd`,
/// `--iut-addr` without `@PROFILE`, a manifest without `profiles`), for every family of the
/// selected scenarios that can ask (`harness probe`), and takes the answer as its manifest.
fn probe_silent_iuts(
    families: Families,
    iuts: &mut [Iut],
    scenarios: &[LoadedScenario],
    seed: u64,
) {
    let mut names: Vec<&'static str> = scenarios.iter().map(|s| s.family()).collect();
    names.sort_unstable();
    names.dedup();
    for iut in iuts.iter_mut() {
        let Iut::External(external) = iut else {
            continue;
        };
        for name in &names {
            let Some(family) = families.get(name) else {
                continue;
            };
            let (_, probed) =
                handshake_scenario::external::probe::probed(family, external, seed, &mut |text| {
                    eprint!("{text}")
                });
            **external = probed;
        }
    }
}

/// Where the library keeps the known failures of its reference profiles.
const EXPECTATIONS_DIR: &str = "vectors/expectations";

/// For each IUT with failures and no `--expectations` given: the expectations file of the
/// library that names it, and how many of the failures it lists.
fn expectations_hints(given: &[PathBuf], report: &RunReport) -> Vec<String> {
    if !given.is_empty() {
        return Vec::new();
    }
    let failed = handshake_report::hints::failures_by_iut(report);
    match crate::library::resolve(Path::new(EXPECTATIONS_DIR)) {
        Ok(dir) => handshake_report::hints::known_failure_hints(&dir, &failed),
        Err(_) => Vec::new(),
    }
}

fn execute(families: Families, args: &RunArgs, plan: Plan, out: &mut dyn Write) -> i32 {
    let selected = plan.selected().len();
    if selected == 0 {
        eprintln!("error: no scenario selected (check the paths, --tag, --skip-tag, --filter and --partition)");
        return EXIT_NOTHING;
    }
    let total = selected * plan.iuts.len() * plan.repeat as usize;
    // Ctrl-C stops the runs in progress; what finished is reported (exit 130).
    interrupt::install(interrupt::OnSignal::Stop);
    let sink = match report_sink(args, &plan) {
        Ok(sink) => sink,
        Err(code) => return code,
    };
    let write_errors = std::sync::Mutex::new(Vec::new());
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let report = plan.run(|index, entry| {
        if let Some(sink) = &sink {
            if let Err(e) = sink.write_result(index, entry) {
                if let Ok(mut errors) = write_errors.lock() {
                    errors.push(e.to_string());
                }
            }
        }
        let line = format!(
            "{:<11} {} [{}]",
            entry.status.name(),
            entry.outcome.scenario,
            entry.outcome.iut
        );
        match &bar {
            Some(bar) => {
                if entry.status.fails_run() {
                    bar.println(&line);
                }
                bar.set_message(entry.outcome.scenario.clone());
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    });
    interrupt::runs_stopped();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print_results(&report, out);
    // On stderr: the closing line stays the last of stdout.
    for hint in expectations_hints(&args.expectations, &report) {
        eprintln!("{hint}");
    }
    if let Some(dir) = &args.report {
        let errors = write_errors.into_inner().unwrap_or_default();
        if let Err(code) = write_report_files(families, dir, &report, errors, out) {
            return code;
        }
    }
    if let Some(code) = interrupt::interrupted() {
        eprintln!(
            "interrupted: {} of {} results are complete; the report says which were cut short",
            report
                .results
                .iter()
                .filter(|r| r.status != Status::Interrupted)
                .count(),
            report.results.len()
        );
        return code;
    }
    if report.failed() {
        EXIT_FAILED
    } else if !report.ran_any() {
        eprintln!("error: every selected scenario was unsupported by the IUT: nothing was tested");
        EXIT_NOTHING
    } else {
        EXIT_OK
    }
}

/// With `--report`: the report directory, made ready for every result the plan runs (`Err`: the
/// exit code, the error said).
fn report_sink(args: &RunArgs, plan: &Plan) -> Result<Option<ReportDir>, i32> {
    let Some(dir) = &args.report else {
        return Ok(None);
    };
    let work = plan.work();
    let keys: Vec<ResultKey<'_>> = work
        .iter()
        .map(|w| ResultKey {
            iut: w.iut.name(),
            scenario: w.scenario.id(),
            repetition: w.repetition,
        })
        .collect();
    match ReportDir::create(dir, &keys) {
        Ok(d) => Ok(Some(d)),
        Err(e) => {
            eprintln!("error: --report: {e}");
            Err(EXIT_INPUT)
        }
    }
}

/// Failures, then deviations (shown, not failing unless --strict-profile), with why; then the
/// counts, and the closing line CI tools read.
fn print_results(report: &RunReport, out: &mut dyn Write) {
    let shown = report
        .results
        .iter()
        .filter(|r| r.status.fails_run())
        .chain(
            report
                .results
                .iter()
                .filter(|r| r.status == Status::Deviation),
        );
    for r in shown {
        let _ = writeln!(
            out,
            "{} {} [{}]",
            r.status.name().to_uppercase(),
            r.outcome.scenario,
            r.outcome.iut
        );
        // Cause first: the rules that broke, then what followed from them.
        for line in r.outcome.reason_lines("    ") {
            let _ = writeln!(out, "{line}");
        }
        for deviation in &r.outcome.deviations {
            let _ = writeln!(
                out,
                "    deviation (a profile decision, not a fact): {deviation}"
            );
        }
        if let Some(why) = &r.expected_failure {
            let _ = writeln!(out, "    (expected to fail: {why})");
        }
    }
    let counts = report.counts();
    let summary: Vec<String> = Status::ALL
        .iter()
        .map(|s| format!("{} {}", counts.get(s).copied().unwrap_or(0), s.name()))
        .collect();
    let _ = writeln!(
        out,
        "{}: {}",
        handshake_core::words::count(report.results.len() as u64, "result"),
        summary.join(", ")
    );
    let count = |s: Status| counts.get(&s).copied().unwrap_or(0);
    let failed = count(Status::Fail) + count(Status::Xpass) + count(Status::Error);
    // The closing line CI tools read; an expected failure is not a pass.
    let expected = match count(Status::Xfail) {
        0 => String::new(),
        n => format!(", {n} failed as expected"),
    };
    let _ = writeln!(
        out,
        "{} passed{expected}, {failed} failed",
        count(Status::Pass)
    );
}

/// Writes the run's reports into `dir`, beside the results already written there (`errors`: what
/// failed of those); `Err`: the exit code, every error said.
fn write_report_files(
    families: Families,
    dir: &std::path::Path,
    report: &RunReport,
    mut errors: Vec<String>,
    out: &mut dyn Write,
) -> Result<(), i32> {
    if let Err(e) = handshake_report::write_reports(dir, report)
        .and_then(|_| handshake_report::html::write_run_index(dir, report, &families))
    {
        errors.push(e.to_string());
    }
    if errors.is_empty() {
        let _ = writeln!(out, "reports written to {}", dir.display());
        Ok(())
    } else {
        for e in &errors {
            eprintln!("error: writing reports to {}: {e}", dir.display());
        }
        Err(EXIT_INPUT)
    }
}
