//! External implementations under test, in real time.
//!
//! An IUT is described once by a [`Manifest`] (JSON; schema in
//! `vectors/schema/iut-manifest.schema.json`): how to start it as responder and as initiator, the
//! flags of the options a scenario may require, the profiles and options it supports, and the exit
//! code by which it says "unsupported". For every scenario the harness starts the program on loopback
//! with fresh ports, plays the peer itself over real UDP through the scenario's fault link, records
//! the capture, and kills the program's whole process group afterwards (`realtime`). `--iut-cmd`
//! is the shorthand for a manifest with one template ([`Manifest::from_command`]), `--iut-addr` a
//! responder that is already running.
//!
//! What is observed: the negotiated mode and the violations (the checker, on the capture as the IUT
//! saw it); for an initiator IUT, "stream complete" = exit code 0 within the deadline; for a
//! responder IUT with a reference initiator peer, that peer's metrics and completion. The IUT's
//! stdout and stderr (64 KiB each) and its exit status are lines of the transcript; a failed verdict
//! also names the exit status and the last line of stderr among its reasons.

mod kept;
pub use kept::Pinned;
pub mod manifest;
pub mod pair;
pub mod probe;
mod realtime;
pub use realtime::{FLOODED, PEAK_MEMORY};

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use manifest::{Manifest, DEFAULT_UNSUPPORTED_EXIT_CODE};

use crate::family::Family;
use crate::format::{Role, Scenario, Step};
use crate::outcome::{ScenarioOutcome, TypedOutcome, Verdict};
use crate::LaunchError;
use handshake_check::Tolerance;
use manifest::{Launch, Values};

/// An external IUT: a program to start per scenario, or a responder already running.
#[derive(Debug, Clone)]
pub struct ExternalIut {
    name: String,
    kind: Kind,
    tolerance: Tolerance,
    harness: Option<PathBuf>,
    mutant: Option<String>,
    plant: Option<String>,
    keep: bool,
    /// Kept processes serve runs of any thread, several at once where the family allows.
    share_kept: bool,
    /// What one run takes in from the IUT at most (a flood beyond it stops the run).
    max_received_bytes: u64,
}

#[derive(Debug, Clone)]
enum Kind {
    Spawn {
        manifest: Box<Manifest>,
        dir: PathBuf,
    },
    /// A responder running there, behaving like the named reference profile (default: the family's).
    Running(SocketAddr, Option<String>),
}

impl ExternalIut {
    /// From a manifest (already validated; relative paths in it are taken from the manifest's
    /// directory).
    pub fn from_manifest_file(manifest: Manifest, path: &Path) -> ExternalIut {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        ExternalIut::from_manifest(manifest, dir)
    }

    /// From a manifest (relative paths in it are taken from `dir`).
    pub fn from_manifest(manifest: Manifest, dir: PathBuf) -> ExternalIut {
        ExternalIut {
            name: manifest.name.clone(),
            kind: Kind::Spawn {
                manifest: Box::new(manifest),
                dir,
            },
            tolerance: Tolerance::DEFAULT,
            harness: None,
            mutant: None,
            plant: None,
            keep: false,
            share_kept: false,
            max_received_bytes: handshake_net::budget::RUN_BUDGET,
        }
    }

    /// The same program run as one of its manifest's `mutants`; named `NAME!MUTANT`.
    pub fn with_mutant(&self, mutant: &str) -> Result<ExternalIut, crate::Error> {
        let known = self.manifest().map(|m| &m.mutants);
        if !known.is_some_and(|k| k.contains_key(mutant)) {
            let names: Vec<&str> = known
                .map(|k| k.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(crate::Error::Iut(format!(
                "{} has no mutant `{mutant}`{}",
                self.name,
                if names.is_empty() {
                    " (its manifest lists none)".to_owned()
                } else {
                    format!(": it has {}", names.join(", "))
                }
            )));
        }
        let mut iut = self.clone();
        iut.name = format!("{}!{mutant}", self.name);
        iut.mutant = Some(mutant.to_owned());
        Ok(iut)
    }

    /// `MANIFEST!NAME`: one of the manifest's mutants, or one of its planted bugs.
    pub fn with_variant(&self, name: &str) -> Result<ExternalIut, crate::Error> {
        match self.manifest() {
            Some(m) if m.planted.contains_key(name) => {
                let mut iut = self.clone();
                iut.name = format!("{}!{name}", self.name);
                iut.plant = Some(name.to_owned());
                Ok(iut)
            }
            _ => self.with_mutant(name),
        }
    }

    /// `--iut-cmd`: the same one-line template for both roles (`family_placeholders`: those of
    /// every family it may serve).
    pub fn from_command(
        line: &str,
        family_placeholders: &[&str],
    ) -> Result<ExternalIut, crate::Error> {
        let manifest = Manifest::from_command(line, family_placeholders)?;
        Ok(ExternalIut::from_manifest(manifest, PathBuf::from(".")))
    }

    /// `--iut-addr HOST:PORT[@PROFILE]`: a responder already running there, with the reference
    /// profile it behaves like (default: the family's, e.g. `3way`; `@3way+allow_legacy_start`),
    /// which decides the features it has and how its traffic is judged.
    pub fn running(text: &str) -> Result<ExternalIut, crate::Error> {
        let iut = |message: String| crate::Error::Iut(message);
        let (addr, profile) = match text.rsplit_once('@') {
            Some((a, p)) => (a, Some(p.to_owned())),
            None => (text, None),
        };
        let resolved = addr
            .to_socket_addrs()
            .map_err(|e| iut(format!("--iut-addr {text}: {e}")))?
            .next()
            .ok_or_else(|| iut(format!("--iut-addr {text}: no address")))?;
        // On this host the kernel can say at once whether anything listens there.
        if resolved.ip().is_loopback() && realtime::port_bound(resolved.port()) == Some(false) {
            return Err(iut(format!(
                "--iut-addr {text}: nothing is listening on UDP port {} of this host: start the responder first (with the scenarios' parameters)",
                resolved.port()
            )));
        }
        Ok(ExternalIut {
            name: format!("addr:{text}"),
            kind: Kind::Running(resolved, profile),
            tolerance: Tolerance::DEFAULT,
            harness: None,
            mutant: None,
            plant: None,
            keep: false,
            share_kept: false,
            max_received_bytes: handshake_net::budget::RUN_BUDGET,
        })
    }

    /// The reference profile named by `--iut-addr …@PROFILE`, if any.
    pub fn running_profile(&self) -> Option<&str> {
        match &self.kind {
            Kind::Running(_, p) => p.as_deref(),
            Kind::Spawn { .. } => None,
        }
    }

    /// The same program as a probe asks it: started with `profile` and `options` on (`None`
    /// when the family cannot say so to it).
    pub fn for_probe(&self, profile: &str, options: &[&str]) -> Option<ExternalIut> {
        let mut iut = self.clone();
        match &mut iut.kind {
            Kind::Spawn { manifest, .. } => {
                manifest.profiles = Some(vec![profile.to_owned()]);
                manifest.options = Some(options.iter().map(|o| (*o).to_owned()).collect());
            }
            Kind::Running(_, p) => {
                let mut name = vec![profile];
                name.extend(options);
                *p = Some(name.join("+"));
            }
        }
        Some(iut)
    }

    /// Whether it has a command for `role` (a running program is a responder).
    pub fn has_role(&self, role: Role) -> bool {
        match &self.kind {
            Kind::Spawn { manifest, .. } => manifest.template(role).is_some(),
            Kind::Running(..) => role == Role::Responder,
        }
    }

    /// Takes what a probe inferred: the manifest's profiles and options, or a running
    /// responder's profile (the first inferred, with its options).
    pub fn take_inferred(&mut self, inferred: &crate::Inferred, family: &str) {
        match &mut self.kind {
            Kind::Spawn { manifest, .. } => {
                manifest.profiles = Some(inferred.profiles.clone());
                manifest.options = Some(inferred.options.clone());
                manifest.protocol.get_or_insert_with(|| family.to_owned());
            }
            Kind::Running(_, p) => {
                if let Some(first) = inferred.profiles.first() {
                    let mut name = vec![first.clone()];
                    name.extend(inferred.options.iter().cloned());
                    *p = Some(name.join("+"));
                }
            }
        }
    }

    /// Whether it says nothing of what it speaks, so a run probes it first: `--iut-cmd`,
    /// `--iut-addr` without `@PROFILE`, and manifests without `profiles`.
    pub fn says_nothing(&self) -> bool {
        match &self.kind {
            Kind::Spawn { manifest, .. } => manifest.profiles.is_none(),
            Kind::Running(_, p) => p.is_none(),
        }
    }

    /// The name in reports: the manifest's `name`, `cmd:…` or `addr:…`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manifest, for a program started per scenario.
    pub fn manifest(&self) -> Option<&Manifest> {
        match &self.kind {
            Kind::Spawn { manifest, .. } => Some(manifest),
            Kind::Running(..) => None,
        }
    }

    /// Widens every window by `tolerance` (default [`Tolerance::DEFAULT`]).
    pub fn set_tolerance(&mut self, tolerance: Tolerance) {
        self.tolerance = tolerance;
    }

    /// Keeps a responder process running after a run, for the next run with the same command line
    /// on the same thread (see the `kept` module): for a fuzzer's many short inputs. A process that
    /// ended is started afresh; [`ExternalIut::forget_kept`] ends the kept ones.
    pub fn keep_running(&mut self, keep: bool) {
        self.keep = keep;
    }

    /// With [`keep_running`](Self::keep_running): a kept responder serves the runs of every
    /// thread, as many at once as the family says one process serves sessions
    /// ([`Family::sessions_per_process`]), instead of one thread's runs one at a time. For a
    /// fuzzer; not for `harness learn`, which blames the word a thread's process served last.
    pub fn share_kept(&mut self, share: bool) {
        self.share_kept = share;
    }

    /// Keeps at most `bytes` of what the IUT sends in one run, at what the harness really keeps
    /// for each datagram (default [`RUN_BUDGET`](handshake_net::budget::RUN_BUDGET)): more is a
    /// flood, which stops the run.
    pub fn limit_received(&mut self, bytes: u64) {
        self.max_received_bytes = bytes;
    }

    /// Ends the responder processes this thread keeps, and lets go of the shared ones its runs
    /// used (see [`ExternalIut::keep_running`]).
    pub fn forget_kept() {
        kept::forget();
    }

    /// The process id of the kept responder the calling thread's last run used (until
    /// [`forget_kept`](Self::forget_kept)): which inputs one process served.
    pub fn last_kept_process() -> Option<u32> {
        kept::last_used()
    }

    /// Until the guard drops, the calling thread's runs use only kept process `pid` (waiting
    /// for room on it, starting none; an error once it has gone): to ask that process, and no
    /// other, whether it still serves.
    pub fn pin_kept(pid: u32) -> Pinned {
        kept::pin(pid)
    }

    /// Ends every kept responder process (before the harness exits).
    pub fn forget_all_kept() {
        kept::forget_all();
    }

    /// What to run `scenario` with, or why this IUT cannot (the `unsupported` reason).
    pub fn launch_for<F: Family>(&self, scenario: &Scenario<F>) -> Result<Launch, LaunchError> {
        let role = scenario.iut.role;
        match &self.kind {
            Kind::Spawn { manifest, .. } => {
                if let Some(p) = manifest.protocol.as_deref().filter(|p| *p != F::NAME) {
                    return Err(LaunchError::unsupported(format!(
                        "the IUT implements {p}, not {}",
                        F::NAME
                    )));
                }
                if manifest.template(role).is_none() {
                    return Err(LaunchError::unsupported(format!(
                        "the IUT has no {} command",
                        role_name::<F>(role)
                    )));
                }
                let mut launch = F::launch(manifest, scenario)?;
                // A mutant whose description names its part (`server, breaks …`, `handler: …`)
                // runs only where that part runs: another part may not know its flag at all.
                if let Some((mutant, part)) = self
                    .mutant
                    .as_deref()
                    .and_then(|m| Some((m, manifest.mutant_part(m)?)))
                {
                    let here = launch
                        .values
                        .iter()
                        .find(|(name, _)| *name == "role")
                        .map_or(role_name::<F>(role), |(_, v)| v.as_str())
                        .to_owned();
                    if !manifest::part_runs(&part, &here, role) {
                        return Err(LaunchError::unsupported(format!(
                            "the mutant {mutant} is the {part}'s: this scenario runs the {here}"
                        )));
                    }
                }
                launch.mutant.clone_from(&self.mutant);
                launch.plant.clone_from(&self.plant);
                Ok(launch)
            }
            Kind::Running(addr, profile) => {
                if role == Role::Initiator {
                    return Err(LaunchError::unsupported(format!(
                        "the IUT is a {} already running at {addr}: it cannot be an {}",
                        role_name::<F>(Role::Responder),
                        role_name::<F>(Role::Initiator)
                    )));
                }
                if F::required_features(scenario)
                    .iter()
                    .any(|f| f == "restart")
                {
                    return Err(LaunchError::unsupported(format!("the IUT lacks the feature `restart` (a {} already running at {addr} cannot be restarted)", role_name::<F>(Role::Responder))));
                }
                let profile = match profile {
                    // Checked against every family when the IUT was named: a profile of another
                    // family is one this family's scenarios cannot run with.
                    Some(p) => F::parse_profile(p)
                        .map_err(|e| LaunchError::unsupported(format!("--iut-addr: {e}")))?,
                    None => F::default_running_profile(),
                };
                F::launch_running(&profile, scenario)
            }
        }
    }

    /// The command line and the text for its stdin that start the program in `role` for `launch`,
    /// given its address (`{listen}`) or the harness's (`{target}`), with `{harness}` standing for
    /// `harness`.
    fn argv<F: Family>(
        &self,
        role: Role,
        addr: SocketAddr,
        launch: &Launch,
        seed: u64,
        harness: &Path,
    ) -> Result<(Vec<String>, Option<String>), String> {
        let Kind::Spawn { manifest, dir } = &self.kind else {
            return Err("no command".into());
        };
        let values = Values::new(
            role,
            role_name::<F>(role),
            addr,
            launch,
            F::VOCABULARY.placeholders,
        )
        .with_run(seed, harness, dir);
        Ok((
            manifest.command(role, role_name::<F>(role), launch, &values)?,
            manifest.stdin_text(&values)?,
        ))
    }

    /// The longest a run of `scenario` can take before the harness gives up on it (every wait in it
    /// is bounded; this is the backstop).
    pub fn budget<F: Family>(&self, scenario: &Scenario<F>) -> Duration {
        let tol = self.tolerance.ms();
        let steps: u64 = scenario
            .peer
            .steps
            .iter()
            .map(|s| {
                tol + match s {
                    Step::Expect(e) => e.within_ms,
                    Step::ExpectNone(e) => e.for_ms,
                    Step::Wait(w) => w.ms,
                    Step::Action(_) | Step::Fault(_) => 0,
                }
            })
            .sum();
        let (startup, grace) = match &self.kind {
            Kind::Spawn { manifest, .. } => (
                manifest.startup_timeout_ms.max(match manifest.ready {
                    manifest::Ready::DelayMs(d) => d + 100,
                    _ => 0,
                }),
                manifest.kill_grace_ms,
            ),
            Kind::Running(..) => (0, 0),
        };
        Duration::from_millis(startup + steps + scenario.settle_ms + tol + grace + 10_000)
    }

    /// Runs `scenario` in real time on a runtime of its own (so runs can go in parallel threads).
    pub fn run<F: Family>(&self, scenario: &Scenario<F>, seed: u64) -> ScenarioOutcome {
        self.run_keeping_units(scenario, seed, false)
    }

    /// As [`run`](Self::run), its observations kept typed for the family's code (an interop cell).
    pub fn run_observed<F: Family>(&self, scenario: &Scenario<F>, seed: u64) -> TypedOutcome<F> {
        self.run_typed(scenario, seed, false)
    }

    /// As [`run`](Self::run); with `keep_units`, the outcome lists every unit the IUT sent
    /// ([`ScenarioOutcome::iut_units`]).
    pub fn run_keeping_units<F: Family>(
        &self,
        scenario: &Scenario<F>,
        seed: u64,
        keep_units: bool,
    ) -> ScenarioOutcome {
        self.run_typed(scenario, seed, keep_units).outcome
    }

    fn run_typed<F: Family>(
        &self,
        scenario: &Scenario<F>,
        seed: u64,
        keep_units: bool,
    ) -> TypedOutcome<F> {
        let launch = match self.launch_for(scenario) {
            Ok(l) => l,
            Err(why) => {
                let outcome = ScenarioOutcome::of_error(scenario, &self.name, why.into());
                return TypedOutcome::unobserved(outcome);
            }
        };
        let harness = match &self.harness {
            Some(p) => Ok(p.clone()),
            None => running_executable(),
        };
        let budget = self.budget(scenario);
        let role = scenario.iut.role;
        // A responder on a fixed address serves one scenario at a time: the others wait here,
        // before their clock starts.
        let fixed = match &self.kind {
            Kind::Spawn { manifest, .. } if role == Role::Responder => manifest.listen,
            _ => None,
        };
        let lock = fixed.map(fixed_address_lock);
        let _serving = lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let run = async {
            let argv_for = |addr: SocketAddr| {
                self.argv::<F>(role, addr, &launch, seed, harness.clone()?.as_path())
            };
            let target = match &self.kind {
                Kind::Spawn { manifest, dir } => realtime::Target::Spawn {
                    manifest,
                    argv: &argv_for,
                    cwd: manifest.cwd.as_ref().map(|c| dir.join(c)),
                    keep: (self.keep && role == Role::Responder && fixed.is_none()).then(|| {
                        if self.share_kept {
                            kept::Sharing::Sessions(F::sessions_per_process(scenario).max(1))
                        } else {
                            kept::Sharing::PerThread
                        }
                    }),
                },
                Kind::Running(addr, _) => realtime::Target::Running(*addr),
            };
            let run = realtime::run(realtime::Run {
                scenario,
                name: &self.name,
                launch: launch.clone(),
                seed,
                tolerance: self.tolerance,
                max_received_bytes: self.max_received_bytes,
                target,
                keep_units,
            });
            tokio::time::timeout(budget, run).await
        };
        // A thread that keeps processes keeps its runtime too; otherwise each run has its own.
        let outcome = if self.keep {
            kept::block_on(run)
        } else {
            kept::runtime().map(|rt| rt.block_on(run))
        };
        match outcome {
            Err(why) => TypedOutcome::unobserved(ScenarioOutcome::error(scenario, &self.name, why)),
            Ok(Ok(o)) => o,
            Ok(Err(_)) => {
                // The run (and with it the IUT's process group) was dropped: the group got SIGKILL.
                let mut o = ScenarioOutcome::error(
                    scenario,
                    &self.name,
                    format!(
                        "the run did not end within its budget of {} ms",
                        budget.as_millis()
                    ),
                );
                o.verdict = Verdict::Fail;
                TypedOutcome::unobserved(o)
            }
        }
    }
}

/// The family's name of `role`.
pub fn role_name<F: Family>(role: Role) -> &'static str {
    match role {
        Role::Initiator => F::VOCABULARY.role_names.0,
        Role::Responder => F::VOCABULARY.role_names.1,
    }
}

/// Roughly how long a real-time run of `scenario` takes, ms: the waits it must sit out, plus what a
/// reference peer (or an initiator IUT) plays to its end.
pub fn expected_ms<F: Family>(scenario: &Scenario<F>) -> u64 {
    let waits: u64 = scenario
        .peer
        .steps
        .iter()
        .map(|s| match s {
            Step::ExpectNone(e) => e.for_ms,
            Step::Wait(w) => w.ms,
            Step::Expect(e) => e.within_ms / 4,
            Step::Action(_) | Step::Fault(_) => 0,
        })
        .sum();
    let played = if scenario.peer.reference.is_some() || scenario.iut.role == Role::Initiator {
        F::expected_ms(scenario)
    } else {
        0
    };
    waits.max(played)
}

/// The running executable, for `{harness}`. On Linux a binary rebuilt while it runs reads as
/// `… (deleted)`: the new file at the same path is the one to start.
fn running_executable() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("{{harness}}: cannot find the running executable: {e}"))?;
    let text = exe.to_string_lossy();
    match text.strip_suffix(" (deleted)") {
        Some(path) if Path::new(path).is_file() => Ok(PathBuf::from(path)),
        _ => Ok(exe),
    }
}

/// The lock that serialises the scenarios of responders on one fixed address (process-wide).
fn fixed_address_lock(addr: SocketAddr) -> std::sync::Arc<std::sync::Mutex<()>> {
    static LOCKS: std::sync::OnceLock<
        std::sync::Mutex<
            std::collections::BTreeMap<SocketAddr, std::sync::Arc<std::sync::Mutex<()>>>,
        >,
    > = std::sync::OnceLock::new();
    let locks = LOCKS.get_or_init(Default::default);
    let mut map = locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(addr).or_default().clone()
}
