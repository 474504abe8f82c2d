//! `harness interop`: runs every initiator × responder cell — reference profiles in virtual time,
//! external programs (`cmd:`) in real time against a reference peer — through the fault link with
//! a fault profile, records the path, frames delivered, time to first media and the checker's verdict
//! on each cell's capture, and compares every cell with the expected matrix for that fault profile.
//! Exit codes: 0 every cell as expected; 1 a cell differs (or could not run); 2 usage or input error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use handshake_mediastream::format::{ExpectFields, IutFields, PeerFields, Setup};
use handshake_mediastream::observe::MediaObservations;
use handshake_mediastream::MediaScenario as Scenario;
use handshake_mediastream_endpoint::{Profile, ProfileKind, StreamConfig};
use handshake_mediastream_judge::Violation;
use handshake_mediastream_wire::{Datagram, Mode};
use handshake_net::LinkConfig;
use handshake_report::slug;
use handshake_scenario::external::{ExternalIut, DEFAULT_TOLERANCE_MS};
use handshake_scenario::format::{
    Direction, FaultSpec, IutRequirement, OutcomeExpectation, PeerSpec, Role,
};
use handshake_scenario::outcome::Verdict;
use serde::Serialize;

use crate::cli::{EXIT_FAILED, EXIT_INPUT, EXIT_OK};
use crate::matrix::{self, ExpectedCell, FaultProfile, MatrixFile, Observation, ObservedCell};
use handshake_report::html::{
    self, IndexInputs, LadderOptions, Link, MatrixCell, MatrixView, Section,
};

/// Version of `matrix.json`.
pub const MATRIX_JSON_VERSION: u32 = 1;

/// `harness interop` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct InteropArgs {
    /// Initiators (the matrix's rows), comma-separated or repeated: `ref:PROFILE` (legacy, udp_push,
    /// 3way, 3way+fallback, …) or `cmd:COMMAND` naming `{target}`; `cmd@PROFILE:COMMAND` compares
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
    /// Write matrix.json, matrix.md, index.html and cells/<initiator>__<responder>.pcapng here.
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
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_MS, value_name = "MS")]
    pub tolerance_ms: u64,
}

/// One side of a cell.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Name in the matrix (`ref:3way`, `cmd-1`).
    pub name: String,
    /// File-name part (`3way`, `cmd-1`).
    pub slug: String,
    /// What it is.
    pub kind: PeerKind,
}

/// A reference profile or an external program.
#[derive(Debug, Clone)]
pub enum PeerKind {
    /// In-process, virtual time.
    Reference(Profile),
    /// An external program, real time; optionally the profile whose expected cells it must show.
    Command {
        /// The command template.
        line: String,
        /// `cmd@PROFILE:`.
        like: Option<Profile>,
    },
}

impl Peer {
    /// The profile its cells are expected to behave like: its own (a mutant, `3way!NAME`, must
    /// behave like its base profile: a cell that differs has caught it), or `cmd@PROFILE`.
    pub fn expected_as(&self) -> Option<Profile> {
        match &self.kind {
            PeerKind::Reference(p) => Some(Profile { mutant: None, ..*p }),
            PeerKind::Command { like, .. } => *like,
        }
    }

    fn is_command(&self) -> bool {
        matches!(self.kind, PeerKind::Command { .. })
    }
}

fn starts_peer(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("ref:") || t.starts_with("cmd:") || t.starts_with("cmd@")
}

/// Splits `--initiators`/`--responders` values into peer specs: commas separate peers, but a comma
/// inside a `cmd:` command line stays when what follows is not a new peer (`ref:`, `cmd:`, a profile).
pub fn split_peers(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let mut in_cmd = false;
        let mut first = true;
        for part in value.split(',') {
            let new_peer =
                first || !in_cmd || starts_peer(part) || Profile::parse(part.trim()).is_ok();
            match out.last_mut() {
                Some(last) if !new_peer => {
                    last.push(',');
                    last.push_str(part);
                }
                _ => {
                    let t = part.trim();
                    in_cmd = t.starts_with("cmd:") || t.starts_with("cmd@");
                    out.push(if in_cmd {
                        part.trim_start().to_owned()
                    } else {
                        t.to_owned()
                    });
                }
            }
            first = false;
        }
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

/// Parses one peer spec for `role`; `commands` numbers the `cmd:` peers (`cmd-1`, `cmd-2` …).
pub fn parse_peer(text: &str, role: Role, commands: &mut usize) -> Result<Peer, String> {
    let side = match role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    };
    if let Some(rest) = text.strip_prefix("cmd") {
        let (like, line) = if let Some(line) = rest.strip_prefix(':') {
            (None, line)
        } else if let Some(rest) = rest.strip_prefix('@') {
            let (profile, line) = rest
                .split_once(':')
                .ok_or_else(|| format!("{side} `{text}`: expected cmd@PROFILE:COMMAND"))?;
            (
                Some(Profile::parse(profile).map_err(|e| format!("{side} `{text}`: {e}"))?),
                line,
            )
        } else {
            return Err(format!(
                "{side} `{text}`: expected ref:PROFILE, cmd:COMMAND or cmd@PROFILE:COMMAND"
            ));
        };
        let line = line.trim();
        if line.is_empty() {
            return Err(format!("{side} `{text}`: the command is empty"));
        }
        // The template must serve this side: `{target}` for an initiator, `{listen}` for a
        // responder (`{address}` serves both).
        let manifest = handshake_scenario::external::Manifest::from_command(
            line,
            handshake_mediastream::launch::PLACEHOLDERS,
        )
        .map_err(|e| format!("{side} `{text}`: {e}"))?;
        let serves = match role {
            Role::Initiator => manifest.initiator.is_some(),
            Role::Responder => manifest.responder.is_some(),
        };
        if !serves {
            let want = match role {
                Role::Initiator => "{target}",
                Role::Responder => "{listen}",
            };
            return Err(format!(
                "{side} `{text}`: the command serves the other side; an {side} command names {want}"
            ));
        }
        *commands += 1;
        let name = format!("cmd-{commands}");
        return Ok(Peer {
            slug: name.clone(),
            name,
            kind: PeerKind::Command {
                line: line.to_owned(),
                like,
            },
        });
    }
    let profile_text = text.strip_prefix("ref:").unwrap_or(text).trim();
    let profile = Profile::parse(profile_text).map_err(|e| {
        format!("{side} `{text}`: {e} (a peer is ref:PROFILE, cmd:COMMAND or cmd@PROFILE:COMMAND)")
    })?;
    Ok(Peer {
        name: format!("ref:{profile_text}"),
        slug: slug(profile_text),
        kind: PeerKind::Reference(profile),
    })
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Rows.
    pub initiators: Vec<Peer>,
    /// Columns.
    pub responders: Vec<Peer>,
    /// The expected matrix (and the stream every cell runs).
    pub expected: MatrixFile,
    /// Where it came from.
    pub expected_path: PathBuf,
    /// The fault profile.
    pub faults: FaultProfile,
    /// Seed.
    pub seed: u64,
    /// Workers.
    pub jobs: usize,
    /// Real-time tolerance.
    pub tolerance: Duration,
}

/// Reads the arguments and the files they name.
pub fn prepare(args: &InteropArgs) -> Result<Plan, String> {
    let matrix_dir = args
        .matrix
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let faults_path = matrix::fault_profile_path(&matrix_dir, &args.faults);
    let faults = if args.faults == "none" && !faults_path.exists() {
        FaultProfile {
            name: "none".into(),
            description: None,
            faults: Vec::new(),
        }
    } else {
        if !faults_path.exists() {
            let known = known_fault_profiles(&matrix_dir.join("faults"));
            return Err(format!(
                "fault profile `{}`: {} does not exist (known: {})",
                args.faults,
                faults_path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        matrix::load_faults(&faults_path).map_err(|e| e.to_string())?
    };
    let expected_path = match &args.expected {
        Some(p) => p.clone(),
        None => matrix::expected_matrix_path(&args.matrix, &faults.name),
    };
    if !expected_path.exists() {
        return Err(format!(
            "no expected matrix for fault profile `{}`: {} does not exist (write it, or give --expected FILE)",
            faults.name,
            expected_path.display()
        ));
    }
    let expected = matrix::load(&expected_path).map_err(|e| e.to_string())?;
    let mut commands = 0usize;
    let mut side = |values: &[String], defaults: &[String], role: Role| {
        let specs = if values.is_empty() {
            defaults.iter().map(|d| format!("ref:{d}")).collect()
        } else {
            split_peers(values)
        };
        let peers = specs
            .iter()
            .map(|s| parse_peer(s, role, &mut commands))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<&str> = peers.iter().map(|p| p.slug.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("peer `{}` is listed twice", w[0]));
        }
        if peers.is_empty() {
            return Err("no peers given".to_owned());
        }
        Ok(peers)
    };
    let initiators = side(&args.initiators, &expected.initiators, Role::Initiator)?;
    let responders = side(&args.responders, &expected.responders, Role::Responder)?;
    for i in initiators.iter().filter(|p| p.is_command()) {
        if let Some(r) = responders.iter().find(|p| p.is_command()) {
            return Err(format!(
                "cell {} × {}: both sides are external programs; a cell needs a reference side (cmd × cmd is not supported)",
                i.name, r.name
            ));
        }
    }
    Ok(Plan {
        initiators,
        responders,
        expected,
        expected_path,
        faults,
        seed: args.seed,
        jobs: args.jobs.max(1),
        tolerance: Duration::from_millis(args.tolerance_ms),
    })
}

fn known_fault_profiles(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension().is_some_and(|x| x == "json"))
                        .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                        .flatten()
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One cell as run and compared.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Row index.
    pub initiator: usize,
    /// Column index.
    pub responder: usize,
    /// What it showed.
    pub observation: Observation,
    /// The checker's negotiated mode on the capture.
    pub checker_mode: Option<String>,
    /// The checker's violations.
    pub violations: Vec<Violation>,
    /// The capture (pcapng).
    pub capture: Vec<u8>,
    /// Whose view the capture is (`initiator`, `responder`).
    pub viewpoint: &'static str,
    /// The expectation, when the expected matrix has one for these profiles.
    pub expected: Option<ExpectedCell>,
    /// How it differs from the expectation, or why it could not run.
    pub mismatch: Option<String>,
    /// Other things to know (an external program's exit, stderr).
    pub notes: Vec<String>,
    /// Whether it ran in real time.
    pub real_time: bool,
}

impl Cell {
    /// `as_expected`, `differs` or `no_expectation`.
    pub fn status(&self) -> &'static str {
        match (&self.mismatch, &self.expected) {
            (Some(_), _) => "differs",
            (None, Some(_)) => "as_expected",
            (None, None) => "no_expectation",
        }
    }
}

/// A run's cells, in row then column order.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The plan it ran.
    pub plan: Plan,
    /// The cells.
    pub cells: Vec<Cell>,
}

impl Outcome {
    /// Cells that differ from their expectation.
    pub fn differing(&self) -> impl Iterator<Item = &Cell> {
        self.cells.iter().filter(|c| c.mismatch.is_some())
    }

    /// Whether every cell matched (cells without an expectation do not fail the run).
    pub fn passed(&self) -> bool {
        self.differing().next().is_none()
    }

    /// The cell file name (`cells/<initiator>__<responder>.pcapng`).
    pub fn capture_file(&self, cell: &Cell) -> Option<String> {
        let (i, r) = (
            self.plan.initiators.get(cell.initiator)?,
            self.plan.responders.get(cell.responder)?,
        );
        (!cell.capture.is_empty()).then(|| format!("cells/{}__{}.pcapng", i.slug, r.slug))
    }
}

/// Runs every cell of the plan (in parallel workers) and compares each with its expectation.
pub fn execute(plan: Plan) -> Outcome {
    let work: Vec<(usize, usize)> = (0..plan.initiators.len())
        .flat_map(|i| (0..plan.responders.len()).map(move |r| (i, r)))
        .collect();
    let slots: Vec<Mutex<Option<Cell>>> = work.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.min(work.len()).max(1) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, r)) = work.get(k) else {
                    break;
                };
                let cell = run_cell(&plan, i, r);
                if let Some(Ok(mut slot)) = slots.get(k).map(|s| s.lock()) {
                    *slot = Some(cell);
                }
            });
        }
    });
    let cells = slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect();
    Outcome { plan, cells }
}

fn failed_cell(plan: &Plan, i: usize, r: usize, why: String) -> Cell {
    Cell {
        initiator: i,
        responder: r,
        observation: Observation {
            negotiated_mode: "failed".into(),
            frames_successful: 0,
            frames_expected: plan.expected.stream.frames(),
            time_to_first_media_ms: None,
            failure: Some(why.clone()),
            rules_fired: Vec::new(),
        },
        checker_mode: None,
        violations: Vec::new(),
        capture: Vec::new(),
        viewpoint: "initiator",
        expected: None,
        mismatch: Some(format!("could not run: {why}")),
        notes: Vec::new(),
        real_time: false,
    }
}

/// Runs one cell.
pub fn run_cell(plan: &Plan, i: usize, r: usize) -> Cell {
    let (Some(ip), Some(rp)) = (plan.initiators.get(i), plan.responders.get(r)) else {
        return failed_cell(plan, i, r, "no such cell".into());
    };
    let stream = plan.expected.stream;
    let expected = match (ip.expected_as(), rp.expected_as()) {
        (Some(a), Some(b)) => plan.expected.expected(&a, &b).cloned(),
        _ => None,
    };
    let mut cell = match (&ip.kind, &rp.kind) {
        (PeerKind::Reference(a), PeerKind::Reference(b)) => {
            match matrix::run_reference_cell(
                *a,
                *b,
                stream,
                &LinkConfig::with_seed(plan.seed),
                &plan.faults.faults,
            ) {
                Ok(o) => from_observed(i, r, o, "initiator", false),
                Err(e) => failed_cell(plan, i, r, e),
            }
        }
        (PeerKind::Command { line, like }, PeerKind::Reference(b)) => {
            run_external_cell(plan, i, r, line, Role::Initiator, *b, *like)
        }
        (PeerKind::Reference(a), PeerKind::Command { line, like }) => {
            run_external_cell(plan, i, r, line, Role::Responder, *a, *like)
        }
        (PeerKind::Command { .. }, PeerKind::Command { .. }) => failed_cell(
            plan,
            i,
            r,
            "cmd × cmd is not supported: a cell needs a reference side".into(),
        ),
    };
    if cell.mismatch.is_none() {
        cell.mismatch = expected.as_ref().and_then(|e| {
            // An external initiator's failure is its exit status: only whether it failed compares.
            let text = !(cell.real_time && ip.is_command());
            matrix::compare_observed(e, &cell.observation, text)
        });
    }
    cell.expected = expected;
    cell
}

fn from_observed(
    i: usize,
    r: usize,
    o: ObservedCell,
    viewpoint: &'static str,
    real_time: bool,
) -> Cell {
    Cell {
        initiator: i,
        responder: r,
        observation: o.observation,
        checker_mode: o.checker_mode,
        violations: o.violations,
        capture: o.capture,
        viewpoint,
        expected: None,
        mismatch: None,
        notes: Vec::new(),
        real_time,
    }
}

/// Faults are relative to the initiator; in a scenario they are relative to the IUT.
fn as_scenario_faults(faults: &[FaultSpec], iut: Role) -> Vec<FaultSpec> {
    faults
        .iter()
        .cloned()
        .map(|mut f| {
            if iut == Role::Responder {
                f.direction = match f.direction {
                    Direction::ToIut => Direction::FromIut,
                    Direction::FromIut => Direction::ToIut,
                    Direction::Both => Direction::Both,
                };
            }
            f
        })
        .collect()
}

/// The scenario a cell with an external side is: the program is the IUT in `role`, the reference
/// profile plays the other side, no steps; only the stream's completion is expected (for an
/// initiator program, so that its exit status is observed).
pub fn cell_scenario(
    plan: &Plan,
    initiator: &Peer,
    responder: &Peer,
    role: Role,
    reference: Profile,
) -> Scenario {
    let stream = plan.expected.stream;
    Scenario {
        schema: None,
        id: format!("interop.{}__{}", initiator.slug, responder.slug),
        title: format!("interop cell {} × {}", initiator.name, responder.name),
        protocol: Some("mediastream".into()),
        decisions: Vec::new(),
        rules: Vec::new(),
        profile: None,
        tags: vec!["interop".into()],
        iut: IutRequirement {
            role,
            requires: Vec::new(),
            fields: IutFields::default(),
        },
        setup: Setup { stream },
        peer: PeerSpec {
            fields: PeerFields::default(),
            reference: Some(reference.to_string()),
            steps: Vec::new(),
        },
        faults: as_scenario_faults(&plan.faults.faults, role),
        expect: OutcomeExpectation {
            fields: ExpectFields {
                stream_complete: (role == Role::Initiator).then_some(true),
                ..ExpectFields::default()
            },
            ..OutcomeExpectation::default()
        },
        seed: Some(plan.seed),
        // Long enough for the whole D2 schedule, a fallback, and the stream with its buffer.
        settle_ms: (u64::from(stream.stream_length_secs) + u64::from(stream.buffer_depth_secs))
            * 1000
            + 8000,
    }
}

fn run_external_cell(
    plan: &Plan,
    i: usize,
    r: usize,
    line: &str,
    role: Role,
    reference: Profile,
    like: Option<Profile>,
) -> Cell {
    let (Some(ip), Some(rp)) = (plan.initiators.get(i), plan.responders.get(r)) else {
        return failed_cell(plan, i, r, "no such cell".into());
    };
    let mut iut = match ExternalIut::from_command(line, handshake_mediastream::launch::PLACEHOLDERS)
    {
        Ok(x) => x,
        Err(e) => return failed_cell(plan, i, r, e),
    };
    iut.set_tolerance(plan.tolerance);
    let scenario = cell_scenario(plan, ip, rp, role, reference);
    let outcome = iut.run(&scenario, plan.seed);
    let stream = plan.expected.stream;
    let viewpoint = match role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    };
    if matches!(outcome.verdict, Verdict::Error | Verdict::Unsupported) {
        let mut c = failed_cell(plan, i, r, outcome.reasons.join("; "));
        c.capture = outcome.capture;
        c.viewpoint = viewpoint;
        c.real_time = true;
        c.notes = outcome
            .transcript
            .iter()
            .filter(|l| l.text.starts_with("IUT "))
            .map(|l| l.to_string())
            .take(20)
            .collect();
        return c;
    }
    let responder_profile = match role {
        Role::Initiator => reference,
        Role::Responder => like.unwrap_or(Profile::new(ProfileKind::ThreeWay)),
    };
    let check = match matrix::check_cell(&outcome.capture, responder_profile, stream) {
        Ok(c) => c,
        Err(e) => return failed_cell(plan, i, r, e),
    };
    let observation = match role {
        // The reference initiator's own metrics.
        Role::Responder => match outcome
            .observed
            .as_any()
            .downcast_ref::<MediaObservations>()
            .and_then(|o| o.metrics.as_ref())
        {
            Some(m) => Observation {
                negotiated_mode: m.negotiated_mode.name().to_owned(),
                frames_successful: m.frames_successful,
                frames_expected: m.frames_expected,
                time_to_first_media_ms: m.time_to_first_media.map(|d| d.as_secs_f64() * 1000.0),
                failure: m.failure.clone(),
                rules_fired: matrix::fired(&check.violations),
            },
            None => {
                return failed_cell(
                    plan,
                    i,
                    r,
                    format!(
                        "the reference initiator reported nothing: {}",
                        outcome.reasons.join("; ")
                    ),
                )
            }
        },
        // The program's receive side cannot be seen: completion is its exit status, frames and
        // time to first media are read from the capture taken at it.
        Role::Initiator => {
            let complete = outcome.verdict == Verdict::Pass;
            let mode = match (complete, check.mode.as_deref()) {
                (_, Some("rejected")) => "rejected".to_owned(),
                (true, Some(m)) => m.to_owned(),
                _ => "failed".to_owned(),
            };
            Observation {
                negotiated_mode: mode,
                frames_successful: check.frames_complete,
                frames_expected: stream.frames(),
                time_to_first_media_ms: first_media_ms(&outcome.capture),
                failure: (!complete).then(|| {
                    let mut why = outcome.reasons.join("; ");
                    if why.is_empty() {
                        why = "the stream did not complete".into();
                    }
                    why
                }),
                rules_fired: matrix::fired(&check.violations),
            }
        }
    };
    let mut cell = from_observed(
        i,
        r,
        ObservedCell {
            observation,
            capture: outcome.capture,
            violations: check.violations,
            checker_mode: check.mode,
        },
        viewpoint,
        true,
    );
    cell.notes = outcome
        .transcript
        .iter()
        .filter(|l| l.text.starts_with("IUT ended") || l.text.starts_with("IUT stderr"))
        .map(|l| l.to_string())
        .take(20)
        .collect();
    cell
}

/// Time from the capture's first datagram to the first media datagram, ms.
fn first_media_ms(capture: &[u8]) -> Option<f64> {
    let reader = handshake_capture::open(capture).ok()?;
    let mut first = None;
    for udp in reader.flatten() {
        let t0 = *first.get_or_insert(udp.timestamp_ns);
        let media = matches!(
            Datagram::parse(&udp.payload, Mode::LegacyAccepting),
            Ok(Datagram::Data(_) | Datagram::Fragment(_))
        );
        let delivered =
            !handshake_mediastream_judge::Mark::from_comment(udp.comment.as_deref()).undelivered;
        if media && delivered {
            return Some(udp.timestamp_ns.saturating_sub(t0) as f64 / 1e6);
        }
    }
    None
}

// --- output -------------------------------------------------------------------------------------

fn cell_text(c: &Cell) -> String {
    let mark = match c.status() {
        "differs" => " ✗",
        "no_expectation" => " ?",
        _ => "",
    };
    format!(
        "{} {}{mark}",
        c.observation.negotiated_mode, c.observation.frames_successful
    )
}

fn pad(text: &str, width: usize) -> String {
    let n = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(n)))
}

/// The terminal matrix: rows initiators, columns responders, each cell path and frames delivered,
/// `✗` when it differs from the expected matrix (`?`: no expectation); then what differs, and a
/// closing line.
pub fn terminal(outcome: &Outcome) -> String {
    let plan = &outcome.plan;
    let corner = "initiator \\ responder";
    let mut widths: Vec<usize> = plan
        .responders
        .iter()
        .map(|p| p.name.chars().count())
        .collect();
    for c in &outcome.cells {
        if let Some(w) = widths.get_mut(c.responder) {
            *w = (*w).max(cell_text(c).chars().count());
        }
    }
    let first = plan
        .initiators
        .iter()
        .map(|p| p.name.chars().count())
        .chain([corner.chars().count()])
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "interop matrix: {} initiators × {} responders, faults `{}`, seed {} (expected: {})",
        plan.initiators.len(),
        plan.responders.len(),
        plan.faults.name,
        plan.seed,
        plan.expected_path.display()
    );
    let mut header = pad(corner, first);
    for (p, w) in plan.responders.iter().zip(&widths) {
        header.push_str("  ");
        header.push_str(&pad(&p.name, *w));
    }
    let _ = writeln!(s, "{}", header.trim_end());
    for (i, p) in plan.initiators.iter().enumerate() {
        let mut line = pad(&p.name, first);
        for (r, w) in widths.iter().enumerate() {
            let text = outcome
                .cells
                .iter()
                .find(|c| c.initiator == i && c.responder == r)
                .map(cell_text)
                .unwrap_or_default();
            line.push_str("  ");
            line.push_str(&pad(&text, *w));
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    for p in plan.initiators.iter().chain(&plan.responders) {
        if let PeerKind::Command { line, like } = &p.kind {
            let _ = writeln!(
                s,
                "{} = {line}{}",
                p.name,
                like.map(|l| format!(" (expected to behave like {l})"))
                    .unwrap_or_else(|| " (no expectation: give cmd@PROFILE:… to compare)".into())
            );
        }
    }
    for c in outcome.differing() {
        let _ = writeln!(
            s,
            "✗ {} × {}: {}",
            name(&plan.initiators, c.initiator),
            name(&plan.responders, c.responder),
            c.mismatch.as_deref().unwrap_or_default()
        );
    }
    let differ = outcome.differing().count();
    let unexpected = outcome
        .cells
        .iter()
        .filter(|c| c.status() == "no_expectation")
        .count();
    let mut close = format!(
        "{} cells: {} as expected, {differ} differ",
        outcome.cells.len(),
        outcome.cells.len() - differ - unexpected
    );
    if unexpected > 0 {
        close.push_str(&format!(", {unexpected} without expectation"));
    }
    let _ = writeln!(s, "{close}");
    s
}

fn name(peers: &[Peer], k: usize) -> &str {
    peers.get(k).map_or("?", |p| p.name.as_str())
}

#[derive(Serialize)]
struct JsonPeer<'a> {
    name: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_as: Option<String>,
}

#[derive(Serialize)]
struct JsonViolation<'a> {
    packet: u64,
    time_ns: u64,
    rule: &'a str,
    detail: &'a str,
}

#[derive(Serialize)]
struct JsonCell<'a> {
    initiator: &'a str,
    responder: &'a str,
    status: &'static str,
    negotiated_mode: &'a str,
    frames_successful: u64,
    frames_expected: u64,
    time_to_first_media_ms: Option<f64>,
    failure: Option<&'a str>,
    checker: JsonChecker<'a>,
    expected: Option<&'a ExpectedCell>,
    mismatch: Option<&'a str>,
    real_time: bool,
    capture: Option<String>,
    capture_viewpoint: &'static str,
    notes: &'a [String],
}

#[derive(Serialize)]
struct JsonChecker<'a> {
    negotiated_mode: Option<&'a str>,
    rules_fired: &'a [String],
    violations: Vec<JsonViolation<'a>>,
}

#[derive(Serialize)]
struct JsonSummary {
    cells: usize,
    as_expected: usize,
    differ: usize,
    no_expectation: usize,
    paths: BTreeMap<String, usize>,
    passed: bool,
}

#[derive(Serialize)]
struct JsonFaults<'a> {
    name: &'a str,
    description: Option<&'a str>,
    faults: &'a [FaultSpec],
}

#[derive(Serialize)]
struct JsonMatrix<'a> {
    version: u32,
    protocol: &'a str,
    expected_matrix: String,
    faults: JsonFaults<'a>,
    seed: u64,
    stream: StreamConfig,
    initiators: Vec<JsonPeer<'a>>,
    responders: Vec<JsonPeer<'a>>,
    cells: Vec<JsonCell<'a>>,
    summary: JsonSummary,
}

fn json_peer(p: &Peer) -> JsonPeer<'_> {
    match &p.kind {
        PeerKind::Reference(profile) => JsonPeer {
            name: &p.name,
            kind: "reference",
            profile: Some(profile.to_string()),
            command: None,
            expected_as: None,
        },
        PeerKind::Command { line, like } => JsonPeer {
            name: &p.name,
            kind: "command",
            profile: None,
            command: Some(line),
            expected_as: like.map(|l| l.to_string()),
        },
    }
}

fn summary(outcome: &Outcome) -> JsonSummary {
    let mut paths = BTreeMap::new();
    for c in &outcome.cells {
        *paths
            .entry(c.observation.negotiated_mode.clone())
            .or_default() += 1;
    }
    let count = |s: &str| outcome.cells.iter().filter(|c| c.status() == s).count();
    JsonSummary {
        cells: outcome.cells.len(),
        as_expected: count("as_expected"),
        differ: count("differs"),
        no_expectation: count("no_expectation"),
        paths,
        passed: outcome.passed(),
    }
}

/// `matrix.json`: the run's peers, fault profile, stream, and per cell what it showed, the checker's
/// verdict, the expectation and how it differs. Version [`MATRIX_JSON_VERSION`].
pub fn matrix_json(outcome: &Outcome) -> String {
    let plan = &outcome.plan;
    let doc = JsonMatrix {
        version: MATRIX_JSON_VERSION,
        protocol: &plan.expected.protocol,
        expected_matrix: plan.expected_path.display().to_string(),
        faults: JsonFaults {
            name: &plan.faults.name,
            description: plan.faults.description.as_deref(),
            faults: &plan.faults.faults,
        },
        seed: plan.seed,
        stream: plan.expected.stream,
        initiators: plan.initiators.iter().map(json_peer).collect(),
        responders: plan.responders.iter().map(json_peer).collect(),
        cells: outcome
            .cells
            .iter()
            .map(|c| JsonCell {
                initiator: name(&plan.initiators, c.initiator),
                responder: name(&plan.responders, c.responder),
                status: c.status(),
                negotiated_mode: &c.observation.negotiated_mode,
                frames_successful: c.observation.frames_successful,
                frames_expected: c.observation.frames_expected,
                time_to_first_media_ms: c.observation.time_to_first_media_ms,
                failure: c.observation.failure.as_deref(),
                checker: JsonChecker {
                    negotiated_mode: c.checker_mode.as_deref(),
                    rules_fired: &c.observation.rules_fired,
                    violations: c
                        .violations
                        .iter()
                        .map(|v| JsonViolation {
                            packet: v.packet,
                            time_ns: v.time_ns,
                            rule: v.rule,
                            detail: &v.detail,
                        })
                        .collect(),
                },
                expected: c.expected.as_ref(),
                mismatch: c.mismatch.as_deref(),
                real_time: c.real_time,
                capture: outcome.capture_file(c),
                capture_viewpoint: c.viewpoint,
                notes: &c.notes,
            })
            .collect(),
        summary: summary(outcome),
    };
    let mut text =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// `matrix.md`: a verdict line, the matrix (each cell path · frames, linked to its pcapng, ❌ when it
/// differs), what differs, and a legend.
pub fn matrix_markdown(outcome: &Outcome) -> String {
    let plan = &outcome.plan;
    let s = summary(outcome);
    let mut md = String::new();
    let verdict = if s.passed {
        "✅ every cell as expected".to_owned()
    } else {
        format!("❌ {} of {} cells differ", s.differ, s.cells)
    };
    let _ = writeln!(md, "# handshake-harness interop matrix: {verdict}\n");
    let _ = writeln!(
        md,
        "Fault profile `{}`{}; seed {}; expected matrix `{}`; stream {} bit/s, {} frames/s, {} s, {} s buffer.\n",
        md_cell(&plan.faults.name),
        plan.faults
            .description
            .as_ref()
            .map(|d| format!(" ({})", md_cell(d)))
            .unwrap_or_default(),
        plan.seed,
        md_cell(&plan.expected_path.display().to_string()),
        plan.expected.stream.bits_per_second,
        plan.expected.stream.frame_rate,
        plan.expected.stream.stream_length_secs,
        plan.expected.stream.buffer_depth_secs
    );
    let _ = writeln!(
        md,
        "| initiator \\\\ responder | {} |\n|---|{}",
        plan.responders
            .iter()
            .map(|p| format!("`{}`", md_cell(&p.name)))
            .collect::<Vec<_>>()
            .join(" | "),
        ":---:|".repeat(plan.responders.len())
    );
    for (i, p) in plan.initiators.iter().enumerate() {
        let cells: Vec<String> = (0..plan.responders.len())
            .map(|r| {
                let Some(c) = outcome
                    .cells
                    .iter()
                    .find(|c| c.initiator == i && c.responder == r)
                else {
                    return String::new();
                };
                let text = format!(
                    "{} · {}",
                    c.observation.negotiated_mode, c.observation.frames_successful
                );
                let text = match outcome.capture_file(c) {
                    Some(f) => format!("[{}]({f})", md_cell(&text)),
                    None => md_cell(&text),
                };
                match c.status() {
                    "differs" => format!("❌ {text}"),
                    "no_expectation" => format!("{text} (no expectation)"),
                    _ => text,
                }
            })
            .collect();
        let _ = writeln!(md, "| `{}` | {} |", md_cell(&p.name), cells.join(" | "));
    }
    md.push('\n');
    let differing: Vec<&Cell> = outcome.differing().collect();
    if !differing.is_empty() {
        md.push_str("## Differing cells\n\n| Initiator | Responder | Expected | Difference |\n|---|---|---|---|\n");
        for c in differing {
            let expected = c
                .expected
                .as_ref()
                .map(|e| format!("{} · {}", e.negotiated_mode, e.frames_successful))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| `{}` | `{}` | {} | {} |",
                md_cell(name(&plan.initiators, c.initiator)),
                md_cell(name(&plan.responders, c.responder)),
                md_cell(&expected),
                md_cell(c.mismatch.as_deref().unwrap_or_default())
            );
        }
        md.push('\n');
    }
    for p in plan.initiators.iter().chain(&plan.responders) {
        if let PeerKind::Command { line, like } = &p.kind {
            let _ = writeln!(
                md,
                "- `{}` = `{}`{}",
                p.name,
                md_cell(line).replace('`', "'"),
                like.map(|l| format!(" (expected to behave like `{l}`)"))
                    .unwrap_or_default()
            );
        }
    }
    md.push_str("\nEach cell: the path taken · frames the initiator delivered, linked to the cell's capture (pcapng). Paths: `3way`, `legacy`, `legacy-fallback`, `rejected`, `failed`. See `matrix.json` for times to first media and the checker's verdicts, `index.html` for ladder diagrams.\n");
    md
}

fn ms_since_epoch(ns: u64) -> f64 {
    let epoch = handshake_capture::trace::DEFAULT_EPOCH_NS;
    if ns >= epoch {
        (ns - epoch) as f64 / 1e6
    } else {
        ns as f64 / 1e6
    }
}

/// The inputs of the HTML page for an interop run.
pub fn html_index(outcome: &Outcome) -> IndexInputs {
    let plan = &outcome.plan;
    let s = summary(outcome);
    let verdict = if s.passed {
        format!("every cell as expected ({} cells)", s.cells)
    } else {
        format!(
            "{} of {} cells differ from the expected matrix",
            s.differ, s.cells
        )
    };
    let mut facts = vec![
        (
            "fault profile".to_owned(),
            match &plan.faults.description {
                Some(d) => format!("{} — {d}", plan.faults.name),
                None => plan.faults.name.clone(),
            },
        ),
        ("seed".to_owned(), plan.seed.to_string()),
        (
            "expected matrix".to_owned(),
            plan.expected_path.display().to_string(),
        ),
        (
            "stream".to_owned(),
            format!(
                "{} bit/s, {} frames/s, {} s, {} s buffer, {}-byte datagrams ({} frames)",
                plan.expected.stream.bits_per_second,
                plan.expected.stream.frame_rate,
                plan.expected.stream.stream_length_secs,
                plan.expected.stream.buffer_depth_secs,
                plan.expected.stream.datagram_byte_size,
                plan.expected.stream.frames()
            ),
        ),
    ];
    if s.no_expectation > 0 {
        facts.push((
            "without expectation".to_owned(),
            format!("{} cells (cmd: peers without @PROFILE)", s.no_expectation),
        ));
    }
    // Counts per initiator.
    let mut rows = Vec::new();
    let mut totals = [0usize; 3];
    for (i, p) in plan.initiators.iter().enumerate() {
        let mut n = [0usize; 3];
        for c in outcome.cells.iter().filter(|c| c.initiator == i) {
            let k = match c.status() {
                "as_expected" => 0,
                "differs" => 1,
                _ => 2,
            };
            n[k] += 1;
            totals[k] += 1;
        }
        rows.push((
            p.name.clone(),
            n.iter()
                .map(ToString::to_string)
                .chain([n.iter().sum::<usize>().to_string()])
                .collect(),
        ));
    }
    let counts = html::CountsTable {
        caption: "cells per initiator".into(),
        corner: "initiator".into(),
        columns: ["as expected", "differ", "no expectation", "total"]
            .map(String::from)
            .to_vec(),
        rows,
        total: Some((
            "total".into(),
            totals
                .iter()
                .map(ToString::to_string)
                .chain([totals.iter().sum::<usize>().to_string()])
                .collect(),
        )),
    };
    let paths = html::CountsTable {
        caption: "paths taken".into(),
        corner: "path".into(),
        columns: vec!["cells".into()],
        rows: s
            .paths
            .iter()
            .map(|(p, n)| (p.clone(), vec![n.to_string()]))
            .collect(),
        total: None,
    };
    let anchor = |c: &Cell| format!("c{}-{}", c.initiator + 1, c.responder + 1);
    let matrix = MatrixView {
        caption: format!(
            "rows: initiators, columns: responders; faults `{}`, seed {}",
            plan.faults.name, plan.seed
        ),
        initiators: plan.initiators.iter().map(|p| p.name.clone()).collect(),
        responders: plan.responders.iter().map(|p| p.name.clone()).collect(),
        cells: outcome
            .cells
            .iter()
            .map(|c| MatrixCell {
                initiator: name(&plan.initiators, c.initiator).to_owned(),
                responder: name(&plan.responders, c.responder).to_owned(),
                path: c.observation.negotiated_mode.clone(),
                frames: c.observation.frames_successful,
                frames_expected: c.observation.frames_expected,
                time_to_first_media_ms: c.observation.time_to_first_media_ms,
                expected: c
                    .expected
                    .as_ref()
                    .map(|e| format!("{} · {}", e.negotiated_mode, e.frames_successful)),
                differs: c.mismatch.is_some(),
                mismatch: c.mismatch.clone(),
                checker: checker_short(c),
                capture: outcome.capture_file(c),
                anchor: Some(anchor(c)),
            })
            .collect(),
        notes: plan
            .initiators
            .iter()
            .chain(&plan.responders)
            .filter_map(|p| match &p.kind {
                PeerKind::Command { line, like } => Some(format!(
                    "{} = {line}{}",
                    p.name,
                    like.map(|l| format!(" (expected to behave like {l})"))
                        .unwrap_or_default()
                )),
                PeerKind::Reference(_) => None,
            })
            .collect(),
    };
    let sections = outcome
        .cells
        .iter()
        .map(|c| {
            let (i, r) = (
                name(&plan.initiators, c.initiator),
                name(&plan.responders, c.responder),
            );
            let o = &c.observation;
            let mut facts = vec![
                ("path".to_owned(), o.negotiated_mode.clone()),
                (
                    "frames delivered".to_owned(),
                    format!("{} of {}", o.frames_successful, o.frames_expected),
                ),
                (
                    "time to first media".to_owned(),
                    o.time_to_first_media_ms
                        .map_or("—".into(), |t| format!("{t:.3} ms")),
                ),
                (
                    "checker".to_owned(),
                    format!(
                        "{} (wire mode {})",
                        checker_short(c),
                        c.checker_mode.as_deref().unwrap_or("—")
                    ),
                ),
            ];
            if let Some(f) = &o.failure {
                facts.push(("failure".to_owned(), f.clone()));
            }
            match &c.expected {
                Some(e) => {
                    facts.push((
                        "expected".to_owned(),
                        format!(
                            "{} · {} frames{}",
                            e.negotiated_mode,
                            e.frames_successful,
                            e.failure_contains
                                .as_ref()
                                .map(|f| format!(" · failure containing “{f}”"))
                                .unwrap_or_default()
                        ),
                    ));
                }
                None => facts.push(("expected".to_owned(), "no expectation".to_owned())),
            }
            facts.push((
                "capture".to_owned(),
                format!(
                    "as the {} saw it{}",
                    c.viewpoint,
                    if c.real_time {
                        ", real time"
                    } else {
                        ", virtual time"
                    }
                ),
            ));
            let mut reasons = Vec::new();
            if let Some(m) = &c.mismatch {
                reasons.push(format!("differs: {m}"));
            }
            reasons.extend(c.notes.iter().cloned());
            let mut marks: BTreeMap<u64, Vec<String>> = BTreeMap::new();
            for v in &c.violations {
                let rules = marks.entry(v.packet).or_default();
                if !rules.iter().any(|x| x == v.rule) {
                    rules.push(v.rule.to_owned());
                }
            }
            Section {
                anchor: anchor(c),
                heading: format!("{i} × {r}"),
                context: match c.status() {
                    "differs" => "differs from the expected matrix".into(),
                    "no_expectation" => "no expectation".into(),
                    _ => "as expected".into(),
                },
                subtitle: c
                    .expected
                    .as_ref()
                    .map(|e| e.why.clone())
                    .unwrap_or_default(),
                badge: o.negotiated_mode.clone(),
                badge_class: html::path_class(&o.negotiated_mode).to_owned(),
                open: c.mismatch.is_some(),
                facts,
                reasons,
                capture: c.capture.clone(),
                ladder: LadderOptions {
                    role_names: Some((format!("initiator {i}"), format!("responder {r}"))),
                    violations: marks,
                    describe: Some(handshake_mediastream::ladder::describe),
                    ..LadderOptions::default()
                },
                violations: c
                    .violations
                    .iter()
                    .map(|v| html::ViolationRow {
                        packet: Some(v.packet),
                        at_ms: Some(ms_since_epoch(v.time_ns)),
                        rule: v.rule.to_owned(),
                        count: None,
                        detail: v.detail.clone(),
                        statement: v.statement.to_owned(),
                    })
                    .collect(),
                links: outcome
                    .capture_file(c)
                    .map(|f| vec![Link::new("pcapng", f)])
                    .unwrap_or_default(),
            }
        })
        .collect();
    IndexInputs {
        title: "handshake-harness interop matrix".into(),
        passed: s.passed,
        verdict,
        facts,
        counts: vec![counts, paths],
        matrix: Some(matrix),
        grid: None,
        sections_heading: "Cells".into(),
        sections,
        files: vec![
            Link::new("matrix.json", "matrix.json"),
            Link::new("matrix.md", "matrix.md"),
        ],
    }
}

fn checker_short(c: &Cell) -> String {
    match c.violations.len() {
        0 if c.capture.is_empty() => "no capture".into(),
        0 => "clean".into(),
        1 => format!("1 violation ({})", c.observation.rules_fired.join(", ")),
        n => format!("{n} violations ({})", c.observation.rules_fired.join(", ")),
    }
}

/// Writes `matrix.json`, `matrix.md`, `index.html` and `cells/<initiator>__<responder>.pcapng`
/// into `dir` (replacing an earlier report there; a directory of anything else is refused); returns
/// every path written.
pub fn write_report(dir: &Path, outcome: &Outcome) -> std::io::Result<Vec<PathBuf>> {
    let io = |p: &Path, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
    };
    // A directory an earlier report left is replaced, never mixed into.
    handshake_report::prepare_report_dir(dir)?;
    let cells = dir.join("cells");
    std::fs::create_dir_all(&cells).map_err(|e| io(&cells, e))?;
    let mut written = Vec::new();
    for c in &outcome.cells {
        if let Some(f) = outcome.capture_file(c) {
            let path = f.split('/').fold(dir.to_path_buf(), |p, part| p.join(part));
            std::fs::write(&path, &c.capture).map_err(|e| io(&path, e))?;
            written.push(path);
        }
    }
    for (file, text) in [
        ("matrix.json", matrix_json(outcome)),
        ("matrix.md", matrix_markdown(outcome)),
        (html::INDEX_FILE, html::render(&html_index(outcome))),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

/// Runs `harness interop`.
pub fn run(args: InteropArgs, out: &mut dyn Write) -> i32 {
    let plan = match prepare(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let real_time = plan
        .initiators
        .iter()
        .chain(&plan.responders)
        .any(Peer::is_command);
    if real_time {
        // External programs run in process groups of their own, out of the terminal's reach.
        handshake_scenario::interrupt::install(handshake_scenario::interrupt::OnSignal::Exit);
    }
    let outcome = execute(plan);
    let text = if args.json {
        matrix_json(&outcome)
    } else {
        terminal(&outcome)
    };
    let _ = out.write_all(text.as_bytes());
    if let Some(dir) = &args.report {
        match write_report(dir, &outcome) {
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
