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
//!
//! The campaign itself (search loop, jobs, corpus, minimisation, deduplication) is
//! [`handshake_netfuzz::campaign`]; here are the command's arguments, the skeletons and the corpus
//! read, the scenario engine as the campaign's executor (`handshake_netfuzz_exec`), what is said
//! and written as it goes (`output`) and the report (`report`).

mod output;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use handshake_netfuzz::campaign::{Campaign, CampaignConfig, MAX_ERRORS_IN_A_ROW};
use handshake_netfuzz::corpus;
use handshake_scenario::exit::{
    FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, NOTHING as EXIT_NOTHING, OK as EXIT_OK,
};
use handshake_scenario::{interrupt, DynFamily, Iut};
use serde_json::Value;

use handshake_netfuzz_exec::skeletons::{
    load_skeletons, only_role, retain_campaign_inputs, usable_skeletons,
};
use handshake_netfuzz_exec::{baseline_of, exec, FamilyMutator, RunInfo, Runner, Summary};
use handshake_scenario::Families;
use output::Terminal;

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
    /// Inputs run at once (default: 1 in virtual time; for an external IUT, whose runs mostly
    /// wait, 16 per core with kept processes (the media stream 32: a responder serves 8 runs at
    /// once), twice the cores, at least 4, with --fresh-iut).
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
    /// The default for an external IUT: a responder (server) started for one input serves the
    /// next ones too, shared by the jobs, until an input leaves it dead or not answering the
    /// probe; results are taken as they come (a slow input holds no one back), so the same seed
    /// does not draw the same inputs. Findings are still confirmed and minimised on fresh
    /// processes.
    #[arg(long, conflicts_with = "fresh_iut")]
    pub keep_iut: bool,
    /// Repeatability over throughput, for an external IUT: a fresh process for every input, and
    /// results in draw order, so the same seed draws the same inputs (some 5 inputs/s against
    /// the Python programs, against 45-280 with kept processes).
    #[arg(long)]
    pub fresh_iut: bool,
    /// Rules resting on this project's profile decisions (not on the facts) make findings too;
    /// without it they do only against a reference mutant (held to the whole reading).
    #[arg(long)]
    pub strict_profile: bool,
    /// Levers of the search turned off, to measure what each is worth (an A/B in one sitting):
    /// `rarity` (rare paths drawn more often with kept processes), `blame` (a crash or hang a
    /// fresh process does not show traced by replaying what its kept process served lately),
    /// `sparse-probe` (the liveness probe after only some of a kept process's inputs, as the
    /// family says: Proton's one in 4).
    #[arg(long, value_delimiter = ',', hide = true)]
    pub without: Vec<Lever>,
    /// One input in N on a kept process followed by the liveness probe, instead of the family's
    /// share (the media stream's and Dark Tower's 1, Proton's 4): the sparse probe's A/B.
    #[arg(long, value_name = "N", hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub probe_every: Option<u64>,
}

/// A lever of the search that `--without` turns off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lever {
    /// Rarity-weighted draws.
    Rarity,
    /// Blame by replay.
    Blame,
    /// The liveness probe after only some of a kept process's inputs (the family's
    /// `kept_probe_every`); without it, after every input.
    SparseProbe,
}

/// What one input's run over real UDP keeps of what the IUT sends at most (at what the harness
/// really keeps per datagram): several times what the largest library scenario needs; the
/// process's budget bounds many jobs at once.
const FUZZ_MAX_RECEIVED_BYTES: u64 = 8 << 20;

/// The skeletons the family loads and the IUT can run; each left out is said in a warning.
fn usable(family: &dyn DynFamily, skeletons: Vec<Value>, iut: &Iut) -> Vec<Value> {
    let total = skeletons.len();
    let sorted = usable_skeletons(family, skeletons, iut);
    for (id, why) in &sorted.refused {
        eprintln!("warning: the skeleton of {id} is refused ({why}); skipped");
    }
    if !sorted.lacking.is_empty() {
        eprintln!(
            "{} of {total} skeletons left out: the IUT cannot run them ({})",
            total - sorted.usable.len(),
            sorted.lacking.join("; ")
        );
    }
    sorted.usable
}

fn input_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_INPUT
}

/// Runs `harness fuzz`.
pub fn run(families: Families, args: FuzzArgs, out: &mut dyn Write) -> i32 {
    let Start {
        iut,
        family_name,
        family,
        skeletons,
        resumed,
        broken,
    } = match start(families, &args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let external = matches!(iut, Iut::External(_));
    let keep = external && !args.fresh_iut;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // A kept process's run mostly waits on the network (0.1-0.5 s, a few ms of CPU): against the
    // Python programs on 2 cores 32 jobs ran Proton 3x and Dark Tower 2x the inputs 16 did (48
    // and 64 fewer); the family says how many per core.
    let jobs = args.jobs.unwrap_or(match (external, keep) {
        (false, _) => 1,
        (true, true) => family.fuzz().kept_jobs_per_core * cores,
        (true, false) => (2 * cores).max(4),
    });
    let mut iut = iut;
    if let Iut::External(e) = &mut iut {
        e.limit_received(FUZZ_MAX_RECEIVED_BYTES);
    }
    let mut search_iut = iut.clone();
    if let Iut::External(e) = &mut search_iut {
        e.keep_running(keep);
        e.share_kept(keep);
    }
    let runner = Runner {
        family,
        iut: &iut,
        search_iut,
        baseline: baseline_of(&iut, family),
        seed: args.seed,
        max_memory_kb: args.max_memory_mb.saturating_mul(1024),
        done_kinds: Default::default(),
        strict_profile: args.strict_profile || !external,
        recent: exec::Recent::default(),
        blame: !args.without.contains(&Lever::Blame),
        // A fresh process per input is probed after each: nothing later would show a hang.
        probe_every: match args.probe_every {
            _ if !keep || args.without.contains(&Lever::SparseProbe) => 1,
            Some(n) => n,
            None => family.fuzz().kept_probe_every.max(1),
        },
        kept_inputs: Default::default(),
    };
    if let Some(first) = skeletons.first() {
        if let Err(code) = run_first_skeleton(&runner, &args.iut, first) {
            return code;
        }
    }
    let mutator = FamilyMutator::new(family, external);
    let probe = skeletons
        .iter()
        .chain(&resumed)
        .any(|s| (family.fuzz().liveness_probe)(s).is_some());
    let time = args
        .time
        .or(if args.execs.is_none() { Some(60) } else { None });
    let config = CampaignConfig {
        seed: args.seed,
        execs: args.execs,
        time: time.map(Duration::from_secs),
        jobs,
        stop_at_first: args.stop_at_first,
        corpus: args.corpus.clone(),
        keep_iut: keep,
        rarity: !args.without.contains(&Lever::Rarity),
        responder_role: family.role_names().1.to_owned(),
    };
    let campaign = match Campaign::new(config, skeletons, resumed) {
        Ok(c) => c,
        Err(e) => return input_error(e),
    };
    interrupt::install(interrupt::OnSignal::Stop);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let findings_dir = args.out.join("findings");
    let mut terminal = Terminal::new(&runner, bar.as_ref(), out, &family_name, findings_dir);
    let result = campaign.run(&runner, &mutator, &mut terminal);
    // The responders the search kept (shared by its jobs) end with it.
    handshake_scenario::external::ExternalIut::forget_all_kept();
    let findings = terminal.into_findings();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    interrupt::runs_stopped();
    let errors_in_a_row = result.errors_in_a_row;
    let run = RunInfo {
        iut: args.iut.clone(),
        family: family_name,
        seed: args.seed,
        jobs,
        probe,
        interrupted: interrupt::interrupted().is_some(),
        broken_corpus_files: broken,
    };
    let summary = Summary::of(result, findings, run);
    finish(&summary, &args.out, errors_in_a_row, out)
}

/// What a fuzz run starts from.
struct Start {
    iut: Iut,
    family_name: String,
    family: &'static dyn DynFamily,
    /// The family's skeletons the inputs are drawn from.
    skeletons: Vec<Value>,
    /// The inputs read from the corpus, run unmutated first.
    resumed: Vec<Value>,
    /// The corpus files that are not JSON scenarios.
    broken: Vec<String>,
}

/// The IUT, its family and the inputs the run starts from: the family's skeletons, then the
/// corpus; `Err` is the exit code (the error is said).
fn start(families: Families, args: &FuzzArgs) -> Result<Start, i32> {
    let iut = match families.parse_iut(&args.iut) {
        Ok(i) => i,
        Err(e) => return Err(input_error(format!("--iut {}: {e}", args.iut))),
    };
    let family_name = match (&args.family, &iut) {
        (Some(f), _) => f.clone(),
        (None, Iut::Reference { family, .. }) => (*family).to_owned(),
        (None, Iut::External(e)) => match e.manifest().and_then(|m| m.protocol.clone()) {
            Some(p) => p,
            None => {
                return Err(input_error(
                    "the IUT's manifest names no `protocol`: give --family",
                ))
            }
        },
    };
    let family = match families.require(&family_name) {
        Ok(f) => f,
        Err(e) => return Err(input_error(e)),
    };
    let paths = if args.scenarios.is_empty() {
        vec![PathBuf::from(format!("vectors/scenarios/{family_name}"))]
    } else {
        args.scenarios.clone()
    };
    let paths = crate::library::resolve_all(&paths).map_err(input_error)?;
    let role = args.role.clone().or_else(|| only_role(family, &iut));
    let skeletons = match load_skeletons(
        families,
        &paths,
        &family_name,
        role.as_deref(),
        matches!(iut, Iut::External(_)),
    ) {
        Ok(s) => usable(family, s, &iut),
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
    retain_campaign_inputs(families, &mut pool, &family_name, role.as_deref());
    // The corpus read is run first, unmutated (AFL's dry run of its queue): the novelty of a
    // resumed search starts from the paths it reaches, not from nothing (when it started from
    // nothing, the first inputs of every resume joined the corpus again for paths it already had).
    Ok(Start {
        iut,
        family_name,
        family,
        skeletons,
        resumed: pool,
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
