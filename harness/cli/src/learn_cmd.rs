//! `harness learn`: the arguments of model learning (`handshake-learn-scenario`), which infers an
//! implementation's state machine over its family's abstract alphabet and diffs it against a
//! reference's, judging each shortest difference as a scenario.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use handshake_learn_scenario::LearnOptions;

use crate::cli::EXIT_INPUT;
use handshake_scenario::Families;

/// `harness learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The implementation to learn: `ref:PROFILE`, a manifest, `cmd:COMMAND`.
    #[arg(long)]
    pub iut: String,
    /// Its family (default: the IUT's).
    #[arg(long)]
    pub family: Option<String>,
    /// The IUT's role (the family's name for it; default: the responder's).
    #[arg(long)]
    pub role: Option<String>,
    /// The part of the role to learn, where the family splits it (the media stream's responder:
    /// `handshake`, `push`, `options`, `limit`; Proton's server: `options`, `push`, `timers`, `idle`, `startup`; Dark
    /// Tower's server: `controller`, `handler`, `handler-v2`; its client: `v2`); default: the
    /// role's first.
    #[arg(long)]
    pub part: Option<String>,
    /// The reference to diff the model with (`ref:3way`); none: the model only.
    #[arg(long)]
    pub diff: Option<String>,
    /// Where the models, the differences and the summary go.
    #[arg(long, default_value = "reports/learn")]
    pub out: PathBuf,
    /// At most this many seconds of learning per model (the model so far is reported).
    #[arg(long, default_value_t = 600)]
    pub time: u64,
    /// At most this many queries per model (learning and equivalence checks together; the model so
    /// far is reported when they run out).
    #[arg(long, default_value_t = 100_000)]
    pub queries: u64,
    /// At most this many states per model.
    #[arg(long, default_value_t = 64)]
    pub states: usize,
    /// The window of an action (how long the IUT's answer may take), ms: default 5 in virtual
    /// time; over real UDP the family's (the media stream 25, Proton and Dark Tower 80). The
    /// family's `wait` input is what lets timers fire.
    #[arg(long)]
    pub window_ms: Option<u64>,
    /// Only these of the family's inputs (comma-separated; default: all). Without `wait`, which
    /// lets timers fire, the model is the untimed protocol; with it the model counts time in
    /// waits.
    #[arg(long, value_delimiter = ',')]
    pub inputs: Vec<String>,
    /// Leave out the inputs that only wait (the family's `wait`, which lets timers fire): the
    /// untimed protocol, learned over real UDP in a fraction of the time.
    #[arg(long)]
    pub untimed: bool,
    /// Random walks of the equivalence check (default: 300 in virtual time, 60 over real UDP).
    #[arg(long)]
    pub walks: Option<usize>,
    /// Seed of the walks and the runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Count a difference where the IUT only deviates from this project's reading (a profile
    /// decision) as a violation. Always on for a reference mutant (`ref:3way!NAME`), which is held
    /// to the whole reading.
    #[arg(long)]
    pub strict_profile: bool,
    /// Queries at once, each on a session of its own (default: 32 over real UDP, where a query
    /// mostly waits; 1 in virtual time).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Over real UDP, ask every query this many times (2: the same answer twice, else the
    /// majority of three, all listed). With 1, an answer is asked again only when it contradicts
    /// an earlier one.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// A model kept from an earlier run (its `model.json`): exit 1 when the IUT's state machine
    /// is no longer that one, with the first word on which they differ (a regression gate).
    #[arg(long, value_name = "MODEL_JSON")]
    pub check: Option<PathBuf>,
    /// Inputs and seed words added to the family's alphabet, from a JSON file:
    /// `{"inputs": {"NAME": [STEP, ...]}, "seeds": ["NAME NAME ..."]}`. A step's `"WINDOW_MS"` is
    /// the window; an input named as one of the family's replaces it.
    #[arg(long, value_name = "FILE")]
    pub alphabet: Option<PathBuf>,
    /// Stop at the first violation: each difference from `--diff` the IUT has answered is judged
    /// while learning goes on, and the first violation ends it (the model so far is written, exit
    /// 1). Without one, the whole model is learned and every transition replayed, as without it.
    /// For a mutant sweep or a gate that wants the verdict, not the model.
    #[arg(long, requires = "diff")]
    pub fail_fast: bool,
}

impl From<LearnArgs> for LearnOptions {
    fn from(args: LearnArgs) -> LearnOptions {
        LearnOptions {
            iut: args.iut,
            family: args.family,
            role: args.role,
            part: args.part,
            diff: args.diff,
            out: args.out,
            time: args.time,
            queries: args.queries,
            states: args.states,
            window_ms: args.window_ms,
            inputs: args.inputs,
            untimed: args.untimed,
            walks: args.walks,
            seed: args.seed,
            strict_profile: args.strict_profile,
            jobs: args.jobs,
            repeat: args.repeat,
            check: args.check,
            alphabet: args.alphabet,
            fail_fast: args.fail_fast,
        }
    }
}

/// Runs `harness learn`.
pub fn run(families: Families, args: LearnArgs, out: &mut dyn Write) -> i32 {
    match handshake_learn_scenario::learn(&families, &args.into(), out) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}
