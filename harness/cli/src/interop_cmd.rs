//! `harness interop`: runs an interop matrix (see `handshake_interop`) of the family its expected
//! matrix names. Exit codes: 0 every cell as expected; 1 a cell differs (or could not run); 2 usage
//! or input error.

use std::io::Write;
use std::path::PathBuf;

use handshake_check::Tolerance;
use handshake_interop::Request;

use handshake_plugin::Registry;
use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};

/// `harness interop` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct InteropArgs {
    /// Initiators (the matrix's rows), comma-separated or repeated: `ref:PROFILE` (the matrix's family's
    /// profiles, e.g. legacy, 3way, 3way+fallback) or `cmd:COMMAND` naming `{target}`; `cmd@PROFILE:COMMAND` compares
    /// the program's cells with PROFILE's expected ones. Default: the expected matrix's rows.
    #[arg(long, value_name = "PEERS")]
    pub initiators: Vec<String>,
    /// Responders (the matrix's columns), likewise; a `cmd:` responder names `{listen}`. Default:
    /// the expected matrix's columns.
    #[arg(long, value_name = "PEERS")]
    pub responders: Vec<String>,
    /// Fault profile applied to every cell: a name in `<matrix dir>/faults/` (`none`,
    /// `lossy-handshake`) or a JSON file.
    #[arg(long, default_value = "none", value_name = "NAME|FILE")]
    pub faults: String,
    /// The expected matrix on a clean link (its stream is what every cell runs); with `--faults
    /// NAME` the expectation is `<stem>.NAME.json` beside it.
    #[arg(long, default_value = "vectors/interop/mediastream-matrix.json")]
    pub matrix: PathBuf,
    /// Compare with this expected matrix instead of the one `--matrix` and `--faults` choose.
    #[arg(long, value_name = "FILE")]
    pub expected: Option<PathBuf>,
    /// Write matrix.json, matrix.md, index.html and `cells/<initiator>__<responder>.pcapng` here.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Seed of the link's random faults and the responders' connection ids.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print matrix.json on stdout instead of the terminal matrix.
    #[arg(long)]
    pub json: bool,
    /// Parallel workers (cells with a `cmd:` peer run in real time, each on its own ports).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Real-time cells: widen every window by this many milliseconds.
    #[arg(long, default_value_t = Tolerance::DEFAULT.ms(), value_name = "MS")]
    pub tolerance_ms: u64,
    /// A cell that differs from an expectation resting on a profile decision (the matrix cell's
    /// `basis`) fails instead of being shown as a deviation.
    #[arg(long)]
    pub strict_profile: bool,
}

impl InteropArgs {
    fn request(&self) -> Request {
        Request {
            initiators: self.initiators.clone(),
            responders: self.responders.clone(),
            faults: self.faults.clone(),
            matrix: self.matrix.clone(),
            expected: self.expected.clone(),
            seed: self.seed,
            jobs: self.jobs,
            tolerance: Tolerance::from_ms(self.tolerance_ms),
            strict_profile: self.strict_profile,
        }
    }
}

/// Runs `harness interop`.
pub fn run(registry: &Registry, mut args: InteropArgs, out: &mut dyn Write) -> i32 {
    for path in std::iter::once(&mut args.matrix).chain(args.expected.as_mut()) {
        match crate::library::resolve(path) {
            Ok(p) => *path = p,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
        }
    }
    let matrix = args.expected.clone().unwrap_or_else(|| args.matrix.clone());
    let family = match handshake_interop::matrix::protocol_of(&matrix) {
        Ok(p) => match registry.interop().into_iter().find(|f| f.name() == p) {
            Some(f) => f,
            None => {
                eprintln!(
                    "error: {}: protocol `{p}` has no interop matrices (known: {})",
                    matrix.display(),
                    registry
                        .interop()
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return EXIT_INPUT;
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    if args
        .initiators
        .iter()
        .chain(&args.responders)
        .any(|p| p.contains("cmd:") || p.contains("cmd@"))
    {
        // External programs run in process groups of their own, out of the terminal's reach.
        handshake_scenario::interrupt::install(handshake_scenario::interrupt::OnSignal::Exit);
    }
    let outcome = match family.run(&args.request()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let text = if args.json {
        outcome.json()
    } else {
        outcome.terminal()
    };
    let _ = out.write_all(text.as_bytes());
    if let Some(dir) = &args.report {
        match outcome.write_report(dir) {
            Ok(_) => {
                if !args.json {
                    let _ = writeln!(out, "report written to {}", dir.display());
                }
            }
            Err(e) => {
                eprintln!("error: writing the report: {e}");
                return EXIT_INPUT;
            }
        }
    }
    if outcome.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
