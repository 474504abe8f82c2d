//! The `harness` command line: the generic commands (run, interop, mutants, coverage, check,
//! capture, schema) and, mounted from the registry ([`crate::families`]), each family's own
//! (`decode`, `vectors`, `peer …`) and its options of `check`. Exit codes: [`handshake_scenario::exit`].

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use handshake_check::{CheckRequest, Tolerance};

use handshake_plugin::Registry;

/// Exit code: success.
pub const EXIT_OK: i32 = handshake_scenario::exit::OK;
/// Exit code: the run completed and found failures.
pub const EXIT_FAILED: i32 = handshake_scenario::exit::FAILED;
/// Exit code: bad usage or unusable input.
pub const EXIT_INPUT: i32 = handshake_scenario::exit::INPUT;

/// Packet-level conformance and fuzz test harness for real-time media protocols.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Take the scenario libraries, expectations, interop matrices and schemas from DIR (as
    /// `harness scenarios export DIR` writes them) instead of the built-in ones (a checkout's
    /// `vectors/` is used where the working directory has it).
    #[arg(long, global = true, value_name = "DIR")]
    pub library: Option<PathBuf>,
}

/// The generic subcommands (the families add theirs).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay JSON scenarios against implementations under test; write CI reports.
    ///
    /// Exit 0 when every scenario passed (or failed as its IUT's expectations file says), 1 on
    /// failures (including an expected failure that passed), 2 on usage or input errors, 3 when no
    /// scenario was selected or none could run.
    Run(crate::run_cmd::RunArgs),
    /// Run an interop matrix: every initiator × responder through the fault link, compared with the
    /// expected matrix.
    ///
    /// Peers are reference profiles (`ref:3way+fallback`) or external programs (`cmd:'… {target}'`,
    /// `cmd:'… {listen}'`). Prints the matrix (path and what each cell delivered, ✗ where it
    /// differs); --report DIR writes matrix.json, matrix.md, index.html and one pcapng per cell.
    /// Exit 0 when every cell is as expected, 1 when one differs, 2 on usage or input errors.
    Interop(crate::interop_cmd::InteropArgs),
    /// Run the scenario library against deliberately wrong implementations (mutants).
    ///
    /// By default the reference endpoints' mutants (in-process); with --iut MANIFEST the mutants the
    /// manifest lists (an external program, over real UDP). Prints which scenarios (and checker
    /// rules) caught each mutant and the mutation score. A mutant is caught by a scenario that passes
    /// on its base and fails on it; deviations from this project's profile decisions count as
    /// failures here (the base keeps them, the mutant breaks one), and a scenario on which the base
    /// only deviates catches a mutant that breaks a fact there. Over real UDP every catch is
    /// confirmed by running the scenario again alone. Exit 0 when every mutant is caught, 1 when
    /// one is not, 2 on input errors.
    Mutants(crate::mutants_cmd::MutantsArgs),
    /// Fuzz an implementation over the network: mutated library scenarios (structure-aware, per
    /// family), a liveness probe after each, findings (crash, hang, memory, broken rule) minimised
    /// into scenarios `harness run` replays. Exit 1 on a finding, 0 on none, 2 on bad input.
    Fuzz(crate::fuzz_cmd::FuzzArgs),
    /// Learn an implementation's state machine over its family's abstract alphabet (L#) and diff
    /// it against a reference's: each shortest difference is replayed as a scenario and judged.
    ///
    /// Writes OUT/model.dot, OUT/reference.dot, OUT/learn.json and, for each difference on which
    /// the implementation breaks a fact the reference keeps, a scenario in OUT/differences/.
    /// Exit 0 with no violation, 1 with one, 2 on bad input.
    Learn(crate::learn_cmd::LearnArgs),
    /// Requirement traceability: each decision and rule id with its scenarios and the mutants it kills.
    ///
    /// Runs the library against the reference endpoints' mutants to know what each scenario kills.
    /// --report DIR writes coverage.json and coverage.md. Exit 0 when every id has a scenario, 1
    /// when there are gaps, 2 on input errors.
    Coverage(crate::mutants_cmd::CoverageArgs),
    /// Print every family's decision table: each fact, contract and profile decision an
    /// expectation may rest on, with its class (what a miss means) and why it has it.
    ///
    /// A fact's miss fails; a contract is adapted to and never judged; a profile decision's miss is
    /// a deviation, failing only under --strict-profile. Exit 0, 2 for an unknown family.
    Decisions(crate::decisions_cmd::DecisionsArgs),
    /// Ask an external program a few short questions and print what it speaks (profiles and
    /// options), as `harness run` finds out implicitly for `--iut-cmd`, `--iut-addr` and manifests
    /// without `profiles`.
    ///
    /// Exit 0 when something was inferred, 1 when the program answered no question, 2 on usage
    /// errors.
    Probe(crate::probe_cmd::ProbeArgs),
    /// The scenario libraries built in (or --library's): list them, show one, export them to edit.
    #[command(subcommand)]
    Scenarios(crate::scenarios_cmd::ScenariosCommand),
    /// Judge a pcap/pcapng capture against a family's protocol rules.
    ///
    /// Prints per session what the family's judge saw and every violation (packet number, time,
    /// rule id, detail, statement). Exit 0 when clean, 1 on violations, 2 when the input is unusable
    /// (not a capture, damaged, no datagrams).
    Check(CheckArgs),
    /// Capture live UDP traffic from a network interface into a pcapng (or pcap) file.
    ///
    /// Needs root or CAP_NET_RAW. Ctrl-C stops cleanly and the file is always finished. Exit 0 when the
    /// capture ran, 1 when it failed after starting (the file keeps what was captured), 2 on usage,
    /// permission or interface errors.
    Capture(crate::capture_cmd::CaptureArgs),
    /// Write a fuzz kit for people fuzzing their own parsers: per wire format a seed corpus, a
    /// libFuzzer/AFL++ dictionary, and a README with the command lines.
    ///
    /// Exit 0 when written, 2 on a bad family or format or an unwritable folder.
    FuzzKit(crate::formats_cmd::FuzzKitArgs),
    /// Print a JSON Schema: `scenario`, `expectations`, `iut-manifest`, `decode` (a reference
    /// decoder's verdict), or a family's (the media stream's `vectors`).
    Schema {
        /// Which schema.
        which: String,
    },
    /// Print a shell completion script for `harness` (every subcommand and option).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of `harness`; with --dir, write one page per subcommand there.
    Man {
        /// Write `harness.1`, `harness-run.1` … into this folder instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Examples at the end of each command's `--help`: (command, text). Every line is a command a
/// user can copy from the repository's root (the `help_examples_run` test runs the offline ones).
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "run",
        "\
Examples:
  # The whole library against the in-process references (virtual time, a second or two):
  harness run --iut ref:3way
  # A reference profile with its known as-coded failures explained:
  harness run --iut ref:udp_push --expectations vectors/expectations/ref-udp_push.json
  # Your responder over real UDP ({listen_port}: the port it must serve), with CI reports:
  harness run vectors/scenarios/mediastream --tag 3way \\
      --iut-cmd './my-responder --port {listen_port}' --report reports/run",
    ),
    (
        "interop",
        "\
Examples:
  # Legacy versus 3-way media-stream peers, every pair, with the expected matrix:
  harness interop
  # The same through a lossy link, with pcaps and an HTML page per cell:
  harness interop --faults lossy-handshake --report reports/interop
  # Proton's matrix:
  harness interop --matrix vectors/interop/proton/proton-matrix.json",
    ),
    (
        "mutants",
        "\
Examples:
  # Does the library catch every reference mutant (mutation score)?
  harness mutants
  # One family's scenarios against one mutant:
  harness mutants vectors/scenarios/darktower --mutant no-capacity-check
  # The mutants an external implementation's manifest lists:
  harness mutants vectors/scenarios/mediastream --iut vectors/iut/python-mediastream.json",
    ),
    (
        "fuzz",
        "\
Examples:
  # A reference mutant in virtual time: finds, minimises and writes a replayable scenario:
  harness fuzz --iut 'ref:darktower/v1!no-capacity-check' --execs 300 --seed 3
  harness run reports/fuzz/findings/finding-1-*.json --iut ref:darktower/v1
  # Your server over real UDP for ten minutes, keeping the corpus for the next run:
  harness fuzz --iut my-server.json --family darktower --role server --time 600 --corpus corpus/",
    ),
    (
        "coverage",
        "\
Examples:
  # Which scenarios cite each decision and rule, and the mutants each kills:
  harness coverage --report reports/coverage",
    ),
    (
        "probe",
        "\
Examples:
  # What does this responder speak (3way, legacy, which options)?
  harness probe --iut-cmd 'python3 my_responder.py --port {listen_port}'
  harness probe --iut-addr 127.0.0.1:4444 --json",
    ),
    (
        "learn",
        "\
Examples:
  # The 3-way reference's model, and a mutant's diffed against it:
  harness learn --iut ref:3way --out reports/learn/3way
  harness learn --iut 'ref:3way!new-id-per-syn' --diff ref:3way --out reports/learn/mutant
  # Your responder's model against the reference's:
  harness learn --iut my-responder.json --diff ref:3way --out reports/learn/mine
  # Its push direction, and your 3-way initiator's model:
  harness learn --iut my-responder.json --part push --diff ref:3way --out reports/learn/push
  harness learn --iut my-initiator.json --role initiator --diff ref:3way --out reports/learn/init
  # Proton's server, and Dark Tower's handler (a part of its server):
  harness learn --iut ref:as_coded --out reports/learn/proton
  harness learn --iut ref:v1 --part handler --out reports/learn/handler",
    ),
    (
        "scenarios",
        "\
Examples:
  # The scenario libraries built into the binary:
  harness scenarios list --family proton
  harness scenarios show ms.responder.happy_3way
  # A copy to edit, then the defaults of every command:
  harness scenarios export my-library
  harness run --library my-library --iut ref:3way",
    ),
    (
        "decisions",
        "\
Examples:
  # What each expectation may rest on, and what a miss means:
  harness decisions
  harness decisions --family darktower --class profile",
    ),
    (
        "check",
        "\
Examples:
  # A golden capture of the media stream (exit 0: clean):
  harness check pcaps/mediastream/clean_3way_scripted.pcapng
  # A capture of your own, legacy profile, only the responder's port, as JSON:
  harness check traffic.pcapng --profile legacy --port 4444 --json
  # Dark Tower over QUIC, decrypted with a key log:
  harness check dt.pcapng --protocol darktower --keylog keys.log --token-secret SECRET",
    ),
    (
        "capture",
        "\
Examples:
  # Loopback traffic to or from port 4444 for ten seconds (root or CAP_NET_RAW):
  harness capture -i lo --port 4444 --duration 10 -w live.pcapng
  # then judge it:
  harness check live.pcapng --port 4444",
    ),
    (
        "schema",
        "\
Examples:
  harness schema scenario > scenario.schema.json
  harness schema iut-manifest",
    ),
    (
        "completions",
        "\
Examples:
  harness completions bash > ~/.local/share/bash-completion/completions/harness
  harness completions zsh > ~/.zfunc/_harness
  harness completions fish > ~/.config/fish/completions/harness.fish",
    ),
    (
        "man",
        "\
Examples:
  harness man | man -l -
  harness man --dir target/man   # harness.1, harness-run.1, …",
    ),
    (
        "decode",
        "\
Examples:
  harness decode --hex '5354415254'   # a legacy START
  harness decode pcaps/mediastream/clean_3way_scripted.pcapng --json
  harness decode --format mediastream.tlv --hex '0104001e000000'
  echo 0100 | harness decode --format mediastream.datagram --stream",
    ),
    (
        "fuzz-kit",
        "\
Examples:
  harness fuzz-kit --out target/fuzz-kit
  harness fuzz-kit --family mediastream --out target/fuzz-kit",
    ),
    (
        "proton",
        "\
Examples:
  # An interactive Proton client against the in-process reference server, then against yours:
  harness proton repl --target ref:project
  harness proton repl --target 127.0.0.1:5000",
    ),
    (
        "vectors",
        "\
Examples:
  # Every byte test vector against the wire layer:
  harness vectors
  harness vectors vectors/mediastream -v",
    ),
    (
        "peer",
        "\
Examples:
  # A ctsTraffic-like responder on loopback, and an initiator against it:
  harness peer responder --listen 127.0.0.1:4444 --profile 3way &
  harness peer initiator --target 127.0.0.1:4444 --profile 3way",
    ),
];

/// `harness check` arguments every family shares.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A pcap or pcapng capture (tcpdump, Wireshark, or the harness's own).
    pub file: PathBuf,
    /// The protocol family of the traffic (default: the first the harness lists, the media
    /// stream).
    #[arg(long)]
    pub protocol: Option<String>,
    /// The profile the traffic must follow (the family's; the media stream's: legacy, udp_push,
    /// `3way[+allow_legacy_start][+optimistic_start]`, default 3way).
    #[arg(long)]
    pub profile: Option<String>,
    /// Only UDP datagrams to or from this port (the responder's).
    #[arg(long)]
    pub port: Option<u16>,
    /// The responder's address, when roles cannot be inferred from the traffic.
    #[arg(long)]
    pub responder: Option<SocketAddr>,
    /// Allowed timing deviation, ms (SYN re-sends: plus 10 % of the interval early, half of it late).
    #[arg(long, default_value_t = Tolerance::DEFAULT.ms())]
    pub tolerance_ms: u64,
    /// The verdict as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Fail (exit 1) also on rules that rest on this project's own profile decisions beyond the
    /// facts (by default they are reported as deviations and do not fail).
    #[arg(long)]
    pub strict_profile: bool,
    /// QUIC families: an NSS key log (SSLKEYLOGFILE format) to decrypt with, besides the
    /// capture's own Decryption Secrets Block.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// 1: read and judge on one thread; 2: a second thread reads the file ahead while the first
    /// judges (the media stream's check, which reads any size in bounded memory; the verdict is
    /// the same byte for byte).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=2))]
    pub threads: u16,
}

/// The whole command line: the generic commands with every family's mounted.
pub fn command(registry: &Registry) -> clap::Command {
    let mut cmd = Cli::command();
    let mut peer = clap::Command::new("peer")
        .about("Run a family's reference endpoint over real UDP as a tool (e.g. a ctsTraffic-like responder or initiator)")
        .subcommand_required(true)
        .arg_required_else_help(true);
    for f in registry.plugins {
        cmd = cmd.subcommands(f.commands());
        // A family's options join `check`; its help stays the command's own.
        cmd = cmd.mut_subcommand("check", |c| {
            let (about, long) = (c.get_about().cloned(), c.get_long_about().cloned());
            let mut c = f.check_args(c);
            if let Some(a) = about {
                c = c.about(a);
            }
            if let Some(l) = long {
                c = c.long_about(l);
            }
            c
        });
        peer = peer.subcommands(f.peer_commands());
    }
    cmd = cmd.subcommand(peer);
    // `decode` reads every family's formats (`--format`), besides what a family's own does.
    let existing = cmd.find_subcommand("decode").cloned();
    cmd = match existing {
        Some(_) => cmd.mut_subcommand("decode", |c| crate::formats_cmd::decode_command(Some(c))),
        None => cmd.subcommand(crate::formats_cmd::decode_command(None)),
    };
    // A command's examples, where the registry has the command (`decode` is the media stream's).
    for (name, examples) in EXAMPLES {
        if cmd.find_subcommand(name).is_some() {
            cmd = cmd.mut_subcommand(name, |c| c.after_help(*examples));
        }
    }
    cmd
}

/// Parses the process arguments and runs; returns the exit code.
pub fn main(registry: &Registry) -> i32 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_args(registry, std::env::args_os(), &mut out)
}

/// Parses `argv` (the program name first) and runs, writing results to `out` and diagnostics to
/// stderr; returns the exit code.
pub fn run_args<I, T>(registry: &Registry, argv: I, out: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = match command(registry).try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
        }
    };
    let library = matches.get_one::<PathBuf>("library").or_else(|| {
        matches
            .subcommand()
            .and_then(|(_, m)| m.get_one::<PathBuf>("library"))
    });
    if let Some(dir) = library {
        crate::library::set_library(dir.clone());
    }
    match matches.subcommand() {
        Some(("peer", m)) => {
            for f in registry.plugins {
                if let Some(code) = f.run_peer(m) {
                    return code;
                }
            }
            EXIT_INPUT
        }
        Some(("check", m)) => run_check(registry, m, out),
        Some(("decode", m))
            if crate::formats_cmd::wants_format(m)
                || !registry
                    .plugins
                    .iter()
                    .any(|f| f.commands().iter().any(|c| c.get_name() == "decode")) =>
        {
            crate::formats_cmd::run_decode(registry.families, m, out)
        }
        Some((name, m)) => {
            for f in registry.plugins {
                if let Some(code) = f.run(name, m, out) {
                    return code;
                }
            }
            match Cli::from_arg_matches(&matches) {
                Ok(cli) => run(registry, cli, out),
                Err(e) => {
                    let _ = e.print();
                    EXIT_INPUT
                }
            }
        }
        None => EXIT_INPUT,
    }
}

fn run_check(registry: &Registry, matches: &ArgMatches, out: &mut dyn Write) -> i32 {
    let args = match CheckArgs::from_arg_matches(matches) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return EXIT_INPUT;
        }
    };
    let protocol = args
        .protocol
        .as_deref()
        .unwrap_or(registry.families.default_name());
    let Some(family) = registry.plugin(protocol) else {
        eprintln!(
            "error: --protocol {protocol}: expected one of {}",
            registry.families.names().join(", ")
        );
        return EXIT_INPUT;
    };
    if let Err(e) = std::fs::File::open(&args.file) {
        eprintln!("error: {}: {e}", args.file.display());
        return EXIT_INPUT;
    }
    let request = CheckRequest {
        file: args.file,
        threads: usize::from(args.threads),
        port: args.port,
        responder: args.responder,
        profile: args.profile,
        tolerance: Tolerance::from_ms(args.tolerance_ms),
        json: args.json,
        strict_profile: args.strict_profile,
        keylog: args.keylog,
    };
    handshake_check::finish(&request, family.check(&request, matches), out)
}

/// Runs a parsed generic command line, writing results to `out` and diagnostics to stderr.
pub fn run(registry: &Registry, cli: Cli, out: &mut dyn Write) -> i32 {
    let families = registry.families;
    match cli.command {
        // Parsed without the families' options: run as if given only the generic ones.
        Command::Check(args) => run_args(registry, check_argv(args), out),
        Command::Run(args) => crate::run_cmd::run(families, args, out),
        Command::Mutants(args) => crate::mutants_cmd::run(families, args, out),
        Command::Fuzz(args) => crate::fuzz_cmd::run(families, args, out),
        Command::Learn(args) => crate::learn_cmd::run(families, args, out),
        Command::Interop(args) => crate::interop_cmd::run(registry, args, out),
        Command::Coverage(args) => crate::mutants_cmd::coverage(families, args, out),
        Command::Decisions(args) => crate::decisions_cmd::run(families, args, out),
        Command::Probe(args) => crate::probe_cmd::run(families, args, out),
        Command::Capture(args) => crate::capture_cmd::run(args),
        Command::FuzzKit(args) => crate::formats_cmd::run_fuzz_kit(families, args, out),
        Command::Schema { which } => schema(registry, &which, out),
        Command::Completions { shell } => {
            // Into memory first: the generator panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(registry), "harness", &mut script);
            write_or_fail(out, &String::from_utf8_lossy(&script))
        }
        Command::Man { dir } => man(registry, dir, out),
        Command::Scenarios(command) => crate::scenarios_cmd::run(families, command, out),
    }
}

/// `harness man [--dir DIR]`.
fn man(registry: &Registry, dir: Option<PathBuf>, out: &mut dyn Write) -> i32 {
    let cmd = command(registry);
    let written = match &dir {
        Some(d) => std::fs::create_dir_all(d).and_then(|()| clap_mangen::generate_to(cmd, d)),
        None => clap_mangen::Man::new(cmd).render(out),
    };
    match written {
        Ok(()) => {
            if let Some(d) = dir {
                let _ = writeln!(out, "man pages written to {}", d.display());
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: writing the man page: {e}");
            EXIT_INPUT
        }
    }
}

/// The command line that asks for `args` (the generic options of `harness check`).
fn check_argv(args: CheckArgs) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec!["harness".into(), "check".into(), args.file.into()];
    if let Some(p) = args.protocol {
        argv.extend(["--protocol".into(), p.into()]);
    }
    if let Some(p) = args.profile {
        argv.extend(["--profile".into(), p.into()]);
    }
    if let Some(p) = args.port {
        argv.extend(["--port".into(), p.to_string().into()]);
    }
    if let Some(r) = args.responder {
        argv.extend(["--responder".into(), r.to_string().into()]);
    }
    argv.extend([
        "--tolerance-ms".into(),
        args.tolerance_ms.to_string().into(),
    ]);
    if args.json {
        argv.push("--json".into());
    }
    if args.strict_profile {
        argv.push("--strict-profile".into());
    }
    argv.extend(["--threads".into(), args.threads.to_string().into()]);
    argv
}

/// `harness schema NAME`.
fn schema(registry: &Registry, which: &str, out: &mut dyn Write) -> i32 {
    let text = match which {
        "scenario" => registry.families.scenario_schema(),
        "iut-manifest" => handshake_scenario::external::manifest::schema_json(),
        "decode" => {
            let schema = schemars::schema_for!(handshake_formats::Verdict);
            format!(
                "{}\n",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            )
        }
        "expectations" => {
            let schema = schemars::schema_for!(handshake_scenario::results::Expectations);
            format!(
                "{}\n",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            )
        }
        name => match registry
            .plugins
            .iter()
            .flat_map(|f| f.schemas())
            .find(|(n, _)| *n == name)
        {
            Some((_, text)) => text,
            None => {
                let mut known = vec!["scenario", "expectations", "iut-manifest", "decode"];
                let family: Vec<&'static str> = registry
                    .plugins
                    .iter()
                    .flat_map(|f| f.schemas())
                    .map(|(n, _)| n)
                    .collect();
                known.extend(family);
                eprintln!(
                    "error: no schema `{name}`: expected one of {}",
                    known.join(", ")
                );
                return EXIT_INPUT;
            }
        },
    };
    write_or_fail(out, &text)
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
