//! The media stream's commands, which the `harness` binary mounts through its registry:
//! `harness decode` and `harness vectors` (top level), `harness peer responder|initiator` (the
//! reference endpoints as real tools), and the media stream's options of `harness check`.
//!
//! The binary reaches them through the family's [`handshake_plugin::Plugin`] implementation.

pub mod check;
pub mod decode;
pub mod input;
pub mod peer;
pub mod vectors;

use std::io::Write;
use std::path::PathBuf;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, ValueEnum};
use handshake_check::{CheckError, CheckRequest, Checked};
use handshake_mediastream_wire::Mode;
use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};

use self::decode::Source;

/// Decode media-stream datagrams from hex, a raw datagram file, or a pcap/pcapng capture.
///
/// Prints one line per datagram (kind and key fields, or why it is malformed); --json prints one
/// JSON object per line. Exit 0 when every datagram parsed, 1 when some were malformed, 2 when the
/// input could not be read.
#[derive(Debug, clap::Parser)]
#[command(name = "decode")]
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

/// Check byte test vector files against the wire layer (default: vectors/mediastream).
///
/// Exit 0 when every vector holds, 1 when one fails, 2 when a file is unreadable or malformed.
#[derive(Debug, clap::Parser)]
#[command(name = "vectors")]
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

impl handshake_plugin::Plugin for crate::MediaStream {
    fn interop() -> Option<&'static dyn handshake_interop::DynInterop> {
        Some(&crate::interop::INTEROP)
    }
    /// `harness decode` and `harness vectors`.
    fn commands() -> Vec<clap::Command> {
        vec![DecodeArgs::command(), VectorsArgs::command()]
    }
    fn run(name: &str, matches: &ArgMatches, out: &mut dyn Write) -> Option<i32> {
        let parsed = |r: Result<i32, clap::Error>| match r {
            Ok(code) => code,
            Err(e) => {
                let _ = e.print();
                EXIT_INPUT
            }
        };
        match name {
            "decode" => Some(parsed(
                DecodeArgs::from_arg_matches(matches).map(|a| run_decode(a, out)),
            )),
            "vectors" => Some(parsed(
                VectorsArgs::from_arg_matches(matches).map(|a| run_vectors(a, out)),
            )),
            _ => None,
        }
    }
    fn peer_commands() -> Vec<clap::Command> {
        handshake_plugin::subcommands::<peer::PeerCommand>()
    }
    fn run_peer(peer_matches: &ArgMatches) -> Option<i32> {
        handshake_plugin::run_subcommand::<peer::PeerCommand>(peer_matches, peer::run)
    }
    fn check_args(command: clap::Command) -> clap::Command {
        check::MediaCheckArgs::augment_args(command)
    }
    fn check(request: &CheckRequest, matches: &ArgMatches) -> Result<Checked, CheckError> {
        check::check(request, matches)
    }
    /// `vectors` (byte test vector files).
    fn schemas() -> Vec<(&'static str, String)> {
        vec![("vectors", vectors::schema_json())]
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
