//! Two external programs against each other, with the harness as the link in the middle: the
//! responder listens where the harness says, the initiator sends to a socket of the harness, and
//! every datagram between them crosses a [`RealTimeLink`] relay, with the scenario's faults and
//! into its trace. Neither program needs to know.
//!
//! Each side is then judged as if it were the IUT of a run of its own: its capture (the trace as
//! it saw it, with both programs' TLS secrets when they write a key log), the family's rules for
//! its role, its observations (an initiator's exit status), its transcript.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_net::process::{Exit, Output, Process, Stream, OUTPUT_LIMIT};
use handshake_net::realtime::RealTimeLink;
use handshake_net::udp::Clock;
use handshake_net::{LinkConfig, LinkEvent, VirtualLink};

use super::manifest::{Launch, Manifest};
use super::realtime::{
    at_ms, bounded_transcript, fault_rule_rt, free_port, ms, quote, wait_ready, write_capture,
    Ending, COLLECT,
};
use super::{role_name, running_executable, ExternalIut, Kind};
use crate::family::{Family, IutExit, JudgeCtx, ObserveCtx};
use crate::format::{Role, Scenario};
use crate::outcome::{judge_typed, Observed, ScenarioOutcome, TypedOutcome};

/// How long the responder may go on after the initiator has exited (what it still had to do with
/// the initiator's last datagrams: end a session, close a connection).
const RESPONDER_TAIL: Duration = Duration::from_millis(300);

/// One side of a pair, judged.
#[derive(Debug)]
pub struct Side<F: Family> {
    /// Its run as if it were the IUT: verdict, reasons, observations, capture (as it saw the
    /// traffic), transcript.
    pub outcome: ScenarioOutcome,
    /// Its observations, typed (the family's defaults when it was not judged).
    pub observed: Arc<F::Observations>,
    /// The judge's report on its capture (`None`: the pair did not get as far as judging).
    pub report: Option<F::Report>,
}

impl<F: Family> Side<F> {
    /// A side that was not judged, and why.
    fn unjudged(outcome: ScenarioOutcome) -> Side<F> {
        let TypedOutcome { outcome, observed } = TypedOutcome::<F>::unobserved(outcome);
        Side {
            outcome,
            observed,
            report: None,
        }
    }
}

/// What a pair run left: each side judged, or why the pair could not run.
#[derive(Debug)]
pub enum PairOutcome<F: Family> {
    /// Both sides ran; each is judged.
    Ran {
        /// The initiator program's side.
        initiator: Box<Side<F>>,
        /// The responder program's side.
        responder: Box<Side<F>>,
        /// What the pair's judging could not see (no TLS secrets from the programs).
        notes: Vec<String>,
    },
    /// The pair could not run (a program that cannot run the scenario, would not start, was not
    /// ready, or never spoke): why, and which side it was about.
    NotRun {
        /// `Some(role)`: the side the reason is about.
        side: Option<Role>,
        /// Why.
        why: String,
        /// The captures taken so far (initiator's view), if any.
        capture: Vec<u8>,
    },
}

/// A program started for the pair.
struct Started {
    process: Process,
    words: Vec<String>,
    started_at: Instant,
    /// ` (controller)`: the part of a responder it is, for the transcript.
    part: String,
}

/// What one program left when the pair ended.
struct Ended {
    /// How it ended, if it ended on its own before the harness ended it (an initiator: its
    /// verdict; a responder: a crash).
    exit_in_time: Option<Exit>,
    exit: Option<Exit>,
    output: Output,
    words: Vec<String>,
    pid: u32,
    started_at: Instant,
    part: String,
}

/// Runs `initiator` (a program in the initiator role of `si`) against `responder` (in the
/// responder role of `sr`) through the harness, `si`'s faults on the link (they are relative to
/// the initiator). `seed` seeds the link and both programs' `{seed}`.
pub fn run_programs<F: Family>(
    initiator: &ExternalIut,
    responder: &ExternalIut,
    si: &Scenario<F>,
    sr: &Scenario<F>,
    seed: u64,
) -> PairOutcome<F> {
    let not_run = |side: Option<Role>, why: String| PairOutcome::NotRun {
        side,
        why,
        capture: Vec::new(),
    };
    let mut li = match initiator.launch_for(si) {
        Ok(li) => li,
        Err(why) => return not_run(Some(Role::Initiator), why.to_string()),
    };
    // Each program its own key log: two writers of one file could tear each other's lines.
    if let Some(path) = F::key_log_file(&li).map(|p| p.display().to_string()) {
        for (_, value) in &mut li.values {
            if *value == path {
                value.push_str(".initiator");
            }
        }
    }
    // The responder's parts (one program, or several), each with its scenario and launch.
    let mut parts: Vec<(Option<&'static str>, Scenario<F>)> = F::responder_parts(sr)
        .into_iter()
        .map(|(name, s)| (Some(name), s))
        .collect();
    if parts.is_empty() {
        parts.push((None, sr.clone()));
    }
    let mut launches = Vec::new();
    for (name, s) in &parts {
        match responder.launch_for(s) {
            Ok(l) => launches.push(l),
            Err(why) => {
                let part = name.map(|n| format!(" ({n})")).unwrap_or_default();
                return not_run(Some(Role::Responder), format!("the responder{part}: {why}"));
            }
        }
    }
    let budget = initiator.budget(si).max(responder.budget(sr));
    let pair = Pair {
        initiator,
        responder,
        si,
        sr,
        seed,
    };
    let run = async { tokio::time::timeout(budget, pair.run(li, &parts, launches)).await };
    match super::kept::runtime().map(|rt| rt.block_on(run)) {
        Err(why) => not_run(None, why),
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => not_run(
            None,
            format!(
                "the pair did not end within its budget of {} ms",
                budget.as_millis()
            ),
        ),
    }
}

struct Pair<'a, F: Family> {
    initiator: &'a ExternalIut,
    responder: &'a ExternalIut,
    si: &'a Scenario<F>,
    sr: &'a Scenario<F>,
    seed: u64,
}

impl<F: Family> Pair<'_, F> {
    async fn run(
        &self,
        li: Launch,
        parts: &[(Option<&'static str>, Scenario<F>)],
        mut launches: Vec<Launch>,
    ) -> PairOutcome<F> {
        let not_run = |side: Option<Role>, why: String| PairOutcome::NotRun {
            side,
            why,
            capture: Vec::new(),
        };
        let clock = Clock::start();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let link = VirtualLink::new(LinkConfig::with_seed(self.seed)).with_classifier(F::classify);
        let mut link = match RealTimeLink::<F::Node>::new(clock, link, ip, 0, None).await {
            Ok(l) => l,
            Err(e) => return not_run(None, format!("cannot open a UDP socket on {ip}: {e}")),
        };
        let key_logs: Vec<PathBuf> = std::iter::once(&li)
            .chain(&launches)
            .filter_map(F::key_log_file)
            .collect();
        for k in &key_logs {
            // A key log left by an earlier run would mix its secrets in.
            let _ = std::fs::remove_file(k);
        }

        // Where each part of the responder listens, and the harness's socket standing for it;
        // each part is told where the initiator reaches the others, then started and waited for.
        let addrs = match self.part_addresses(parts.len(), ip) {
            Ok(a) => a,
            Err(why) => return not_run(Some(Role::Responder), why),
        };
        let fronts = match link.relay_to(&addrs).await {
            Ok(f) => f,
            Err(e) => return not_run(None, format!("cannot open the relay's sockets: {e}")),
        };
        let named: Vec<(&'static str, SocketAddr)> = parts
            .iter()
            .zip(&fronts)
            .filter_map(|((name, _), front)| Some(((*name)?, *front)))
            .collect();
        let mut started = Vec::new();
        for (((name, s), launch), addr) in parts.iter().zip(&mut launches).zip(&addrs) {
            if let Some(name) = name {
                F::connect_parts(name, launch, &named);
            }
            match self.start_responder(s, *name, launch, *addr, clock).await {
                Ok(r) => started.push(r),
                Err(why) => {
                    for r in &mut started {
                        end(r, self.responder, clock).await;
                    }
                    return not_run(Some(Role::Responder), why);
                }
            }
        }
        for (k, addr) in addrs.iter().enumerate() {
            for (i, f) in self.si.faults.iter().enumerate() {
                let id = (k * 1000 + i + 1) as u32;
                if let Err(e) = link.link_mut().add_rule(fault_rule_rt(id, f, *addr)) {
                    return not_run(None, format!("faults: {e:?}"));
                }
            }
        }

        // The initiator, towards the harness: it must speak within its startup timeout.
        let mut i = match self.spawn(self.initiator, Role::Initiator, &li, link.primary(), clock) {
            Ok(i) => i,
            Err(why) => return not_run(Some(Role::Initiator), why),
        };
        link.watch_exit(i.process.exit_watch());
        let begun = clock.now();
        let startup = ms(manifest_of(self.initiator).map_or(5_000, |m| m.startup_timeout_ms));
        link.run_until(begun + startup, &|n: &RealTimeLink<F::Node>| {
            n.relayed_initiator().is_some() || n.exited().is_some()
        })
        .await;
        if link.relayed_initiator().is_none() {
            let why = match link.exited() {
                Some(e) => format!("it ended ({}) before it sent anything", e.describe()),
                None => format!(
                    "it sent nothing within {} ms of its start (do both programs wait for the other?)",
                    startup.as_millis()
                ),
            };
            let ie = end(&mut i, self.initiator, clock).await;
            for r in &mut started {
                end(r, self.responder, clock).await;
            }
            let mut why = format!("the {}: {why}", role_name::<F>(Role::Initiator));
            if let Some(t) = stderr_tail(&ie.output) {
                why.push_str(&format!("; its stderr: {t}"));
            }
            return not_run(Some(Role::Initiator), why);
        }

        // The exchange, until the initiator exits (its verdict), then the responder's tail.
        let deadline = begun + ms(F::expected_ms(self.si) + self.si.settle_ms);
        link.run_until(deadline, &|n: &RealTimeLink<F::Node>| n.exited().is_some())
            .await;
        if link.exited().is_some() {
            link.deliver_after_exit(COLLECT, clock.now() + RESPONDER_TAIL)
                .await;
            let until = clock.now() + RESPONDER_TAIL;
            link.run_until(until, &|_: &RealTimeLink<F::Node>| false)
                .await;
        } else {
            link.drain_sockets(COLLECT).await;
        }
        let ie = end(&mut i, self.initiator, clock).await;
        let mut re = Vec::new();
        for r in &mut started {
            re.push(end(r, self.responder, clock).await);
        }
        let secrets = read_key_logs(&key_logs);
        let mut notes = Vec::new();
        if !key_logs.is_empty() && secrets.is_empty() {
            notes.push(format!(
                "neither program wrote TLS secrets to its key log ({}): only what is visible without decryption (handshake packets, sizes, timing) could be judged",
                key_logs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let lr = launches.first().cloned().unwrap_or_else(|| li.clone());
        self.judge_sides(&mut link, (&li, &lr), (&ie, &re), &addrs, &secrets, notes)
    }

    /// Where the responder's parts listen: free ports of this host (or a one-part responder's
    /// fixed address).
    fn part_addresses(&self, parts: usize, ip: IpAddr) -> Result<Vec<SocketAddr>, String> {
        let fixed = manifest_of(self.responder).and_then(|m| m.listen);
        (0..parts)
            .map(|_| match (fixed, parts) {
                (Some(fixed), 1) => Ok(fixed),
                _ => free_port(ip)
                    .map(|port| SocketAddr::new(ip, port))
                    .map_err(|e| format!("cannot find a free port: {e}")),
            })
            .collect()
    }

    /// Starts a part of the responder (`part`: its name, when it has several) at `addr`, and
    /// waits until it is ready.
    async fn start_responder(
        &self,
        s: &Scenario<F>,
        part: Option<&str>,
        launch: &Launch,
        addr: SocketAddr,
        clock: Clock,
    ) -> Result<Started, String> {
        let manifest = manifest_of(self.responder).ok_or("a running responder cannot be paired")?;
        let mut started = self.spawn(self.responder, Role::Responder, launch, addr, clock)?;
        started.part = part.map(|p| format!(" ({p})")).unwrap_or_default();
        let mut markers = Vec::new();
        let side = match part {
            Some(p) => format!("{} ({p})", role_name::<F>(Role::Responder)),
            None => role_name::<F>(Role::Responder).to_owned(),
        };
        match wait_ready(
            manifest,
            &manifest.ready,
            F::startup_delay(s, launch),
            &started.process,
            addr,
            clock,
            &mut markers,
        )
        .await
        {
            Ok(()) => Ok(started),
            Err(Ending::NotReady(why) | Ending::Error(why)) => {
                let mut why = format!("the {side}: {}", why.replacen("the IUT", "it", 1));
                if let Some(t) = stderr_tail(&started.process.output()) {
                    why.push_str(&format!("; its stderr: {t}"));
                }
                why.push_str(&format!("; its command: {}", quote(&started.words)));
                Err(why)
            }
            Err(Ending::Ran) => Err(format!(
                "the {side} exited with {} (unsupported)",
                manifest.unsupported_exit_code
            )),
        }
    }

    fn spawn(
        &self,
        program: &ExternalIut,
        role: Role,
        launch: &Launch,
        addr: SocketAddr,
        clock: Clock,
    ) -> Result<Started, String> {
        let side = role_name::<F>(role);
        let Kind::Spawn { manifest, dir } = &program.kind else {
            return Err(format!(
                "the {side} is a program already running: it cannot be paired"
            ));
        };
        let harness = match &program.harness {
            Some(p) => p.clone(),
            None => running_executable()?,
        };
        let (words, stdin) = program
            .argv::<F>(role, addr, launch, self.seed, &harness)
            .map_err(|e| format!("the {side}'s command: {e}"))?;
        let cwd = manifest.cwd.as_ref().map(|c| dir.join(c));
        let process = Process::spawn(&words, cwd.as_ref(), &manifest.env, stdin, clock)
            .map_err(|e| format!("the {side}: {e}"))?;
        Ok(Started {
            process,
            words,
            started_at: clock.now(),
            part: String::new(),
        })
    }

    /// Each side's capture, judged for its role, with its observations and transcript.
    fn judge_sides(
        &self,
        link: &mut RealTimeLink<F::Node>,
        (li, lr): (&Launch, &Launch),
        (ie, re): (&Ended, &[Ended]),
        parts: &[SocketAddr],
        secrets: &str,
        notes: Vec<String>,
    ) -> PairOutcome<F> {
        let initiator_addr = link.relayed_initiator().unwrap_or(link.primary());
        let responder_addr = parts.first().copied().unwrap_or(link.primary());
        link.link_mut().end_run_at_last_event();
        let mut initiator_own = link.relayed_initiators();
        if initiator_own.is_empty() {
            initiator_own.push(initiator_addr);
        }
        let initiator_ended = std::slice::from_ref(ie);
        let view = |role, own, other, ended, other_ended| View {
            role,
            scenario: if role == Role::Initiator {
                self.si
            } else {
                self.sr
            },
            own,
            other,
            launch: if role == Role::Initiator { li } else { lr },
            other_launch: if role == Role::Initiator { lr } else { li },
            ended,
            other_ended,
            program: if role == Role::Initiator {
                self.initiator
            } else {
                self.responder
            },
        };
        let initiator = view(
            Role::Initiator,
            &initiator_own[..],
            responder_addr,
            initiator_ended,
            re,
        )
        .judge(link, secrets);
        let responder =
            view(Role::Responder, parts, initiator_addr, re, initiator_ended).judge(link, secrets);
        PairOutcome::Ran {
            initiator: Box::new(initiator),
            responder: Box::new(responder),
            notes,
        }
    }
}

/// One side's view of the pair.
struct View<'a, F: Family> {
    role: Role,
    scenario: &'a Scenario<F>,
    /// Its addresses (a responder of several parts has several; the first is the viewpoint).
    own: &'a [SocketAddr],
    other: SocketAddr,
    launch: &'a Launch,
    other_launch: &'a Launch,
    ended: &'a [Ended],
    other_ended: &'a [Ended],
    program: &'a ExternalIut,
}

impl<F: Family> View<'_, F> {
    fn judge(&self, link: &RealTimeLink<F::Node>, secrets: &str) -> Side<F> {
        let name = self.program.name();
        let trace = link.link().trace();
        let viewpoint = self.own.first().copied().unwrap_or(self.other);
        // How it ended on its own, if it did: an initiator's verdict, a part of a responder that
        // gave up.
        let exit_in_time = self.ended.iter().find_map(|e| e.exit_in_time);
        // An initiator that exited saw nothing after that.
        let cut = match self.role {
            Role::Initiator => exit_in_time.map(|e| e.at),
            Role::Responder => None,
        };
        let kept: Vec<LinkEvent>;
        let trace = match cut {
            Some(cut) => {
                kept = trace.iter().filter(|e| e.at() <= cut).cloned().collect();
                &kept[..]
            }
            None => trace,
        };
        let own = self.own;
        let also = move |a: SocketAddr| own.contains(&a);
        let options = handshake_capture::TraceOptions {
            viewpoint_also: Some(&also),
            not_delivered_delay_ns: link.link().config().latency_ms.saturating_mul(1_000_000),
            ..handshake_capture::TraceOptions::default()
        };
        let capture = match write_capture(trace, viewpoint, secrets, &options) {
            Ok(c) => c,
            Err(e) => {
                return Side::unjudged(ScenarioOutcome::error(
                    self.scenario,
                    name,
                    format!("capture: {e}"),
                ))
            }
        };
        let ctx = JudgeCtx {
            scenario: self.scenario,
            role: self.role,
            iut: viewpoint,
            peer: self.other,
            iut_profile: F::launched_profile(self.launch),
            peer_profile: F::launched_profile(self.other_launch),
            tolerance: Some(self.program.tolerance),
        };
        let report = match F::judge(&capture, &ctx) {
            Ok(r) => r,
            Err(e) => {
                let mut outcome = ScenarioOutcome::of_error(
                    self.scenario,
                    name,
                    e.map_reason(|why| format!("checker: {why}")),
                );
                outcome.capture = capture;
                return Side::unjudged(outcome);
            }
        };
        let markers = self.markers();
        let lines = bounded_transcript(F::transcript(&capture, &[], viewpoint, &markers));
        let manifest = manifest_of(self.program);
        let exit = exit_in_time.map(|e| IutExit {
            code: e.code,
            succeeded: manifest.map_or(e.code.map(|c| c == 0), |m| m.succeeded(e.code)),
            in_time: true,
        });
        let family = F::observe(
            &ObserveCtx {
                scenario: self.scenario,
                role: self.role,
                iut_addr: viewpoint,
                peer_addr: self.other,
                iut: None,
                peer: None,
                events: &[],
                iut_exit: exit,
                real_time: true,
            },
            &report,
        );
        let mut step_failures = Vec::new();
        if link.flooded() {
            step_failures.push(super::realtime::flood_reason(link));
        }
        if let (Role::Responder, Some(e)) = (self.role, exit_in_time.filter(|e| e.code != Some(0)))
        {
            step_failures.push(format!(
                "the {} ended ({}) at {:.3} ms, before the {} was done",
                role_name::<F>(Role::Responder),
                e.describe(),
                at_ms(e.at),
                role_name::<F>(Role::Initiator)
            ));
        }
        let observed = Observed {
            family,
            violations: F::violations(&report),
            iut_addr: viewpoint,
            step_failures,
            step_deviations: Vec::new(),
            unmet_contracts: Vec::new(),
            step_notes: Vec::new(),
            cut_short: None,
        };
        let TypedOutcome {
            mut outcome,
            observed,
        } = judge_typed(self.scenario, name, observed, lines, capture);
        if let (crate::Verdict::Fail, Some(e)) = (outcome.verdict, exit_in_time) {
            outcome.reasons.push(format!(
                "{}: {} at {:.3} ms",
                role_name::<F>(self.role),
                e.describe(),
                at_ms(e.at)
            ));
            let tail = self.ended.iter().find_map(|e| stderr_tail(&e.output));
            if let (Some(t), false) = (tail, e.code == Some(0)) {
                outcome.reasons.push(format!("its stderr (last line): {t}"));
            }
        }
        Side {
            outcome,
            observed,
            report: Some(report),
        }
    }

    /// Both programs' starts, output and ends, this side's as the IUT's and the other's as the
    /// peer's.
    fn markers(&self) -> Vec<(Instant, String)> {
        let mut markers = Vec::new();
        let sides = [("IUT", self.ended), ("peer", self.other_ended)];
        for (who, ended) in sides
            .iter()
            .flat_map(|(who, e)| e.iter().map(move |e| (*who, e)))
        {
            let part = &ended.part;
            markers.push((
                ended.started_at,
                format!(
                    "{who} started{part} (pid {}): {}",
                    ended.pid,
                    quote(&ended.words)
                ),
            ));
            if let Some(e) = ended.exit {
                markers.push((e.at, format!("{who} ended{part}: {}", e.describe())));
            }
            for (at, stream, line) in &ended.output.lines {
                markers.push((*at, format!("{who} {}{part}: {line}", stream.name())));
            }
            for (k, s) in [Stream::Stdout, Stream::Stderr].iter().enumerate() {
                if ended.output.dropped.get(k).is_some_and(|d| *d > 0) {
                    markers.push((
                        ended.exit.map_or(ended.started_at, |e| e.at),
                        format!(
                            "{who} {}{part}: more bytes not kept (limit {} KiB)",
                            s.name(),
                            OUTPUT_LIMIT / 1024
                        ),
                    ));
                }
            }
        }
        markers.sort_by_key(|(at, _)| *at);
        markers
    }
}

fn manifest_of(program: &ExternalIut) -> Option<&Manifest> {
    program.manifest()
}

/// Ends a program's whole process group (after its manifest's grace) and reads what it left.
async fn end(s: &mut Started, program: &ExternalIut, clock: Clock) -> Ended {
    let exit_in_time = s.process.exited();
    let grace = ms(manifest_of(program).map_or(500, |m| m.kill_grace_ms));
    s.process.shut_down(grace, clock).await;
    Ended {
        exit_in_time,
        exit: s.process.exited(),
        output: s.process.output(),
        words: std::mem::take(&mut s.words),
        pid: s.process.pid,
        started_at: s.started_at,
        part: s.part.clone(),
    }
}

fn stderr_tail(output: &Output) -> Option<String> {
    output
        .text(Stream::Stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::to_owned)
}

/// Both programs' key logs, merged (each line once), removed afterwards.
fn read_key_logs(paths: &[PathBuf]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut read = std::collections::BTreeSet::new();
    for p in paths {
        if !read.insert(p.clone()) {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(p) {
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                if !lines.iter().any(|x| x == l) {
                    lines.push(l.to_owned());
                }
            }
        }
        let _ = std::fs::remove_file(p);
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}
