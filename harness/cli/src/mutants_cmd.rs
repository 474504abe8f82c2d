//! `harness mutants` and `harness coverage`: the arguments, the printing and the report files of
//! the mutants runner (`handshake-mutants`), which runs the scenario library against every
//! deliberately wrong variant and says which scenarios caught each; an uncaught mutant fails the
//! command. Coverage: each fact/decision id and rule id with the scenarios that exercise it and
//! the mutants it kills; ids without a scenario are gaps.

use std::io::Write;
use std::path::PathBuf;

use handshake_mutants::{caught_as_text, families_of, markdown, MutantsError, Subject};
use handshake_scenario::{Iut, LoadedScenario};

use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};
use handshake_scenario::Families;

/// `harness mutants` arguments.
#[derive(Debug, clap::Args)]
pub struct MutantsArgs {
    /// Scenario files or directories.
    #[arg(default_value = "vectors/scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Whose mutants: an IUT manifest that lists `mutants` (an external program, real time);
    /// default: the reference endpoints' mutants (`ref:3way!NAME`, in-process).
    #[arg(long, value_name = "MANIFEST")]
    pub iut: Option<String>,
    /// Only these mutants; repeatable.
    #[arg(long)]
    pub mutant: Vec<String>,
    /// Parallel workers [default: the number of cores; 16 for an external IUT].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// External IUTs: timing tolerance, ms (as `harness run --tolerance-ms`).
    #[arg(long, default_value_t = handshake_check::Tolerance::DEFAULT.ms(), value_name = "MS")]
    pub tolerance_ms: u64,
    /// Also write mutants.json and mutants.md here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Stop running a mutant's scenarios once one caught it (a quicker gate; the report then names
    /// the first catching scenario, not all).
    #[arg(long)]
    pub stop_at_first: bool,
    /// Leave out scenarios with this tag (repeatable), e.g. `slow` against an external IUT.
    #[arg(long, value_name = "TAG")]
    pub skip_tag: Vec<String>,
}

/// `harness coverage` arguments.
#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    /// Scenario files or directories.
    #[arg(default_value = "vectors/scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Parallel workers for the mutant runs [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Also write coverage.json and coverage.md here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}
fn load(
    families: Families,
    paths: &[PathBuf],
    skip_tags: &[String],
) -> Result<Vec<LoadedScenario>, MutantsError> {
    let paths = crate::library::resolve_all(paths).map_err(MutantsError::Scenarios)?;
    handshake_mutants::load(&families, &paths, skip_tags)
}

fn default_jobs(subject: &Subject, jobs: Option<u16>) -> usize {
    match (jobs, subject) {
        (Some(n), _) => usize::from(n),
        (None, Subject::External(_)) => crate::run_cmd::REAL_TIME_JOBS,
        (None, Subject::Reference(_)) => {
            std::thread::available_parallelism().map_or(2, usize::from)
        }
    }
}
/// Runs `harness mutants`.
pub fn run(families: Families, args: MutantsArgs, out: &mut dyn Write) -> i32 {
    let scenarios = match load(families, &args.scenarios, &args.skip_tag) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let subject = match &args.iut {
        None => Ok(Subject::Reference(families_of(&families, &scenarios))),
        Some(text) => match families.parse_iut(text) {
            Ok(Iut::External(mut e)) => {
                e.set_tolerance(handshake_check::Tolerance::from_ms(args.tolerance_ms));
                Ok(Subject::External(e))
            }
            Ok(Iut::Reference { .. }) => Err(format!(
                "--iut {text}: the reference endpoints' mutants are the default: leave --iut out (or give `--mutant NAME`)"
            )),
            Err(e) => Err(e.to_string()),
        },
    };
    let subject = match subject {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    if matches!(subject, Subject::External(_)) {
        handshake_scenario::interrupt::install(handshake_scenario::interrupt::OnSignal::Exit);
    }
    let jobs = default_jobs(&subject, args.jobs);
    let report = match handshake_mutants::mutants(
        &families,
        &scenarios,
        &subject,
        &args.mutant,
        jobs,
        args.stop_at_first,
    ) {
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
                "caught as {} by {n}: {}",
                caught_as_text(m),
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
    let caught = report.mutants.iter().filter(|m| m.caught()).count();
    let _ = writeln!(
        out,
        "mutation score: {caught}/{} ({:.0} %)",
        report.mutants.len(),
        report.score * 100.0
    );
    if let Some(dir) = &args.report {
        let files = [
            (
                "mutants.json",
                serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
            ),
            ("mutants.md", markdown(&report)),
        ];
        if let Err(e) = write_report_files(dir, &files) {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
        let _ = writeln!(out, "reports written to {}", dir.display());
    }
    if !report.bases_passing_nothing.is_empty() {
        eprintln!(
            "error: the unmutated {} passed none of the scenarios (each failed or could not run): no mutant could be caught; `harness run` with it shows why",
            report.bases_passing_nothing.join(", ")
        );
        EXIT_INPUT
    } else if caught == report.mutants.len() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Writes a small report into a fresh report directory.
fn write_report_files(dir: &std::path::Path, files: &[(&str, String)]) -> std::io::Result<()> {
    handshake_report::prepare_report_dir(dir)?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    }
    Ok(())
}
/// Runs `harness coverage`: ids with the scenarios that exercise them and the mutants they kill.
pub fn coverage(families: Families, args: CoverageArgs, out: &mut dyn Write) -> i32 {
    let scenarios = match load(families, &args.scenarios, &[]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let subject = Subject::Reference(families_of(&families, &scenarios));
    let report = match handshake_mutants::mutants(
        &families,
        &scenarios,
        &subject,
        &[],
        default_jobs(&subject, args.jobs),
        false,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let covered = handshake_mutants::coverage(&families, &scenarios, &report);
    let (entries, gaps) = (&covered.entries, &covered.gaps);
    for e in entries {
        let _ = writeln!(
            out,
            "{:<32} {:>3} scenarios  {:>2} mutants  {}",
            e.id,
            e.scenarios.len(),
            e.kills.len(),
            e.kills.join(", ")
        );
    }
    if gaps.is_empty() {
        let _ = writeln!(
            out,
            "no gaps: every fact, decision and rule id has a scenario"
        );
    } else {
        let _ = writeln!(out, "gaps (no scenario): {}", gaps.join(", "));
    }
    if let Some(dir) = &args.report {
        let (md, doc) = (covered.markdown(), covered.json());
        let files = [
            (
                "coverage.json",
                serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n",
            ),
            ("coverage.md", md),
        ];
        if let Err(e) = write_report_files(dir, &files) {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
        let _ = writeln!(out, "reports written to {}", dir.display());
    }
    if gaps.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
