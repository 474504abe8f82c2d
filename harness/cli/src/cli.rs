//! The `harness` command line. Exit codes: 0 success; 1 the input was read and something failed
//! (a malformed datagram, a failing vector); 2 usage or input error.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use handshake_mediastream_wire::Mode;

use crate::decode::{self, Source};
use crate::vectors;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the run completed and found failures.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad usage or unusable input.
pub const EXIT_INPUT: i32 = 2;

/// Packet-level conformance and fuzz test harness for real-time media protocols.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode media-stream datagrams from hex, a raw datagram file, or a pcap/pcapng capture.
    ///
    /// Prints one line per datagram (kind and key fields, or why it is malformed); --json prints one
    /// JSON object per line. Exit 0 when every datagram parsed, 1 when some were malformed, 2 when the
    /// input could not be read.
    Decode(DecodeArgs),
    /// Check byte test vector files against the wire layer (default: vectors/mediastream).
    ///
    /// Exit 0 when every vector holds, 1 when one fails, 2 when a file is unreadable or malformed.
    Vectors(VectorsArgs),
    /// Replay JSON scenarios against implementations under test; write CI reports.
    ///
    /// Exit 0 when every scenario passed (or failed as its IUT's expectations file says), 1 on
    /// failures (including an expected failure that passed), 2 on usage or input errors, 3 when no
    /// scenario was selected or none could run.
    Run(crate::run_cmd::RunArgs),
    /// Run the interop matrix: every initiator × responder through the fault link, compared with the
    /// expected matrix.
    ///
    /// Peers are reference profiles (`ref:3way+fallback`) or external programs (`cmd:'… {target}'`,
    /// `cmd:'… {listen}'`). Prints the matrix (path and frames per cell, ✗ where it differs); --report
    /// DIR writes matrix.json, matrix.md, index.html and one pcapng per cell. Exit 0 when every cell
    /// is as expected, 1 when one differs, 2 on usage or input errors.
    Interop(crate::interop_cmd::InteropArgs),
    /// Run the scenario library against deliberately wrong implementations (mutants).
    ///
    /// By default the reference endpoints' mutants (in-process); with --iut MANIFEST the mutants the
    /// manifest lists (an external program, over real UDP). Prints which scenarios (and checker
    /// rules) caught each mutant and the mutation score. Exit 0 when every mutant is caught, 1 when
    /// one is not, 2 on input errors.
    Mutants(crate::mutants_cmd::MutantsArgs),
    /// Requirement traceability: each decision and rule id with its scenarios and the mutants it kills.
    ///
    /// Runs the library against the reference endpoints' mutants to know what each scenario kills.
    /// --report DIR writes coverage.json and coverage.md. Exit 0 when every id has a scenario, 1
    /// when there are gaps, 2 on input errors.
    Coverage(crate::mutants_cmd::CoverageArgs),
    /// Judge a pcap/pcapng capture against the protocol rules.
    ///
    /// Prints per session the handshake observed, the negotiated mode, frame statistics and every
    /// violation (packet number, time, rule id, detail, statement). Exit 0 when clean, 1 on
    /// violations, 2 when the input is unusable (not a capture, damaged, no datagrams).
    Check(crate::check_cmd::CheckArgs),
    /// Capture live UDP traffic from a network interface into a pcapng (or pcap) file.
    ///
    /// Needs root or CAP_NET_RAW. Ctrl-C stops cleanly and the file is always finished. Exit 0 when the
    /// capture ran, 1 when it failed after starting (the file keeps what was captured), 2 on usage,
    /// permission or interface errors.
    Capture(crate::capture_cmd::CaptureArgs),
    /// Run a reference endpoint over real UDP (a ctsTraffic-like tool).
    #[command(subcommand)]
    Peer(crate::peer::PeerCommand),
    /// Print a JSON Schema.
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        which: SchemaKind,
    },
}

/// `harness decode` arguments.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Files: pcap or pcapng captures (recognised by their magic number), else one raw datagram each.
    pub files: Vec<PathBuf>,
    /// A datagram as hex (whitespace, ':' and '-' between bytes are ignored); repeatable.
    #[arg(long, value_name = "HEX")]
    pub hex: Vec<String>,
    /// Classification order: `legacy` tests for an exact 5-byte START first; `3way` never does.
    #[arg(long, value_enum, default_value_t = ModeArg::Legacy)]
    pub mode: ModeArg,
    /// For captures: only UDP datagrams to or from this port.
    #[arg(long)]
    pub port: Option<u16>,
    /// One JSON object per datagram.
    #[arg(long)]
    pub json: bool,
}

/// `harness vectors` arguments.
#[derive(Debug, clap::Args)]
pub struct VectorsArgs {
    /// Vector files or directories of them.
    #[arg(default_value = "vectors/mediastream")]
    pub paths: Vec<PathBuf>,
    /// Print every vector with what the code decoded, not only failures.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Classification modes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Legacy-accepting: exact `START` first.
    Legacy,
    /// 3-way-only.
    #[value(name = "3way")]
    ThreeWay,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Mode {
        match mode {
            ModeArg::Legacy => Mode::LegacyAccepting,
            ModeArg::ThreeWay => Mode::ThreeWayOnly,
        }
    }
}

/// Schemas `harness schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// Byte test vector files (vectors/schema/vector-file.schema.json).
    Vectors,
    /// Scenario files (vectors/schema/scenario.schema.json).
    Scenario,
    /// IUT expectations files (vectors/schema/expectations.schema.json).
    Expectations,
    /// External IUT manifests (vectors/schema/iut-manifest.schema.json).
    IutManifest,
}

/// Parses the process arguments and runs; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run(cli, &mut out)
}

/// Runs a parsed command line, writing results to `out` and diagnostics to stderr.
pub fn run(cli: Cli, out: &mut dyn Write) -> i32 {
    match cli.command {
        Command::Decode(args) => run_decode(args, out),
        Command::Vectors(args) => run_vectors(args, out),
        Command::Peer(command) => crate::peer::run(command),
        Command::Check(args) => crate::check_cmd::run(args, out),
        Command::Run(args) => crate::run_cmd::run(args, out),
        Command::Mutants(args) => crate::mutants_cmd::run(args, out),
        Command::Interop(args) => crate::interop_cmd::run(args, out),
        Command::Coverage(args) => crate::mutants_cmd::coverage(args, out),
        Command::Capture(args) => crate::capture_cmd::run(args),
        Command::Schema { which } => match which {
            SchemaKind::Vectors => write_or_fail(out, &vectors::schema_json()),
            SchemaKind::Scenario => {
                write_or_fail(out, &crate::families::FAMILIES.scenario_schema())
            }
            SchemaKind::IutManifest => {
                write_or_fail(out, &handshake_scenario::external::manifest::schema_json())
            }
            SchemaKind::Expectations => {
                let schema = schemars::schema_for!(handshake_scenario::results::Expectations);
                write_or_fail(
                    out,
                    &format!(
                        "{}\n",
                        serde_json::to_string_pretty(&schema).unwrap_or_default()
                    ),
                )
            }
        },
    }
}

fn write_or_fail(out: &mut dyn Write, text: &str) -> i32 {
    match out.write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: writing output: {e}");
            EXIT_INPUT
        }
    }
}

fn run_decode(args: DecodeArgs, out: &mut dyn Write) -> i32 {
    let sources: Vec<Source> = args
        .hex
        .into_iter()
        .map(Source::Hex)
        .chain(args.files.into_iter().map(Source::File))
        .collect();
    if sources.is_empty() {
        eprintln!(
            "error: nothing to decode: give --hex HEX or a file (see `harness decode --help`)"
        );
        return EXIT_INPUT;
    }
    let options = decode::Options {
        mode: args.mode.into(),
        json: args.json,
        port: args.port,
    };
    match decode::run(&sources, &options, out) {
        Ok(summary) => {
            if summary.skipped > 0 {
                eprintln!(
                    "note: {} capture packets were not UDP datagrams of interest and were skipped",
                    summary.skipped
                );
            }
            if summary.malformed > 0 {
                eprintln!(
                    "{} of {} datagrams are malformed",
                    summary.malformed, summary.datagrams
                );
                EXIT_FAILED
            } else {
                EXIT_OK
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

fn run_vectors(args: VectorsArgs, out: &mut dyn Write) -> i32 {
    let files = match vectors::collect_files(&args.paths) {
        Ok(files) if files.is_empty() => {
            eprintln!("error: no vector files under {:?}", args.paths);
            return EXIT_INPUT;
        }
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let (mut total, mut failed) = (0usize, 0usize);
    for path in files {
        let report = match vectors::check_file(&path) {
            Ok(report) => report,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
        };
        let failures = report.failures().count();
        total += report.results.len();
        failed += failures;
        let verdict = if failures == 0 { "ok  " } else { "FAIL" };
        let _ = writeln!(
            out,
            "{verdict} {} — {} ({} checks)",
            report.path.display(),
            report.title,
            report.results.len()
        );
        for r in &report.results {
            match &r.failure {
                Some(why) => {
                    let _ = writeln!(out, "     FAIL {} [{}]: {why}", r.name, r.section);
                }
                None if args.verbose => {
                    let _ = writeln!(out, "     {:<40} [{}] {}", r.name, r.section, r.shown);
                }
                None => {}
            }
        }
    }
    let _ = writeln!(out, "{} passed, {} failed", total - failed, failed);
    if failed == 0 {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
