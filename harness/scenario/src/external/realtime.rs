//! The real-time driver of the step interpreter ([`crate::script`]): the harness plays the peer (a
//! reference endpoint of the family, its scripted endpoint, and/or the script's datagrams) on UDP
//! sockets of its own, and every datagram in both directions goes through a [`RealTimeLink`]: the
//! scenario's faults apply and the link's trace becomes the capture, exactly as in virtual time.
//!
//! Time: every datagram from the IUT is timed by the kernel's receive stamp (`SO_TIMESTAMPNS`), not
//! by when the harness got round to reading it. The harness measures its own lateness — how long
//! datagrams waited before it read them, and how late its timers fired (and with them the peer
//! endpoint's and the link's sends) — and widens every `expect` window by the tolerance plus the
//! largest lateness seen so far, so the harness's own delays never count against the IUT. The
//! outcome reports both ([`crate::outcome::Timing`]).

use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use handshake_check::Tolerance;
use handshake_core::{Endpoint, Instant};
use handshake_net::budget::Exhausted;
use handshake_net::process::{Exit, Output, Process, Stream, OUTPUT_LIMIT};
use handshake_net::realtime::RealTimeLink;
use handshake_net::udp::Clock;
use handshake_net::{DatagramId, FaultRule, LinkConfig, LinkEvent, SimEvent, VirtualLink};
use nix::sys::signal::Signal;

use super::kept::{self, Kept};
use super::manifest::{Launch, Manifest, Ready};
use crate::engine::{address, fault_rule};
use crate::family::{Event, Family, IutExit, JudgeCtx, ObserveCtx};
use crate::format::{FaultSpec, Role, Scenario};
use crate::outcome::{
    judge_typed, Latency, Observed, ScenarioOutcome, Timing, TranscriptLine, TypedOutcome, Verdict,
};
use crate::script::{run_steps, Driver, Script};

/// How long the harness still reads its sockets after the scenario's end (without delivering
/// anything more), to take in what the IUT had already sent.
pub(super) const COLLECT: Duration = Duration::from_millis(5);

/// How long a kept IUT is given to take in the harness's closing of what a run left open before
/// the next run (a QUIC server drains a closed connection for three PTOs: with 50 ms, a fifth of
/// Proton's next connections were refused as a second one).
const RELEASE: Duration = Duration::from_millis(200);

/// Where a responder listens, its command line, its stdin text and its working directory: what a
/// kept process is matched by.
type StartedAs = (
    SocketAddr,
    Vec<String>,
    Option<String>,
    Option<std::path::PathBuf>,
);

/// What to run against.
pub(super) enum Target<'a> {
    /// Start the manifest's program.
    Spawn {
        /// The manifest.
        manifest: &'a Manifest,
        /// Its argv for this run, given the IUT's address (`{listen}`) or the harness's (`{target}`).
        /// The command line and the text for its stdin, for the IUT's address.
        argv: &'a dyn Fn(SocketAddr) -> Result<(Vec<String>, Option<String>), String>,
        /// Working directory.
        cwd: Option<std::path::PathBuf>,
        /// Take a responder kept running by an earlier run with the same command line, and keep
        /// this one running afterwards, shared so (see the `kept` module).
        keep: Option<kept::Sharing>,
    },
    /// A responder already running there.
    Running(SocketAddr),
}

/// One run's parameters.
pub(super) struct Run<'a, F: Family> {
    pub scenario: &'a Scenario<F>,
    pub name: &'a str,
    pub launch: Launch,
    pub seed: u64,
    pub tolerance: Tolerance,
    /// What the run takes in from the IUT at most.
    pub max_received_bytes: u64,
    pub target: Target<'a>,
    /// List every unit the IUT sent in the outcome ([`ScenarioOutcome::iut_units`]).
    pub keep_units: bool,
}

/// How the transcript says the IUT's peak memory (its process group's, before the harness ended
/// it): this prefix, then kB.
pub const PEAK_MEMORY: &str = "IUT peak memory: ";

/// How the reason of a run stopped by a flood from the IUT begins.
pub const FLOODED: &str = "the IUT flooded the harness";

pub(super) fn flood_reason<E: Endpoint>(link: &RealTimeLink<E>) -> String {
    let size = |bytes: u64| {
        if bytes % (1 << 20) == 0 {
            format!("{} MiB", bytes >> 20)
        } else {
            format!("{} KiB", bytes >> 10)
        }
    };
    let budget = match link.flood() {
        Some(Exhausted::Process) => format!(
            "more than the {} all runs of this harness keep at once (the runs beside it used the rest)",
            size(handshake_net::budget::PROCESS_BUDGET)
        ),
        _ => format!(
            "more than the {} one run keeps",
            size(link.receive_limit())
        ),
    };
    format!(
        "{FLOODED}: it sent {budget}; the run stopped there ({} datagrams after that were counted, not kept)",
        link.turned_away()
    )
}

/// The most transcript lines a run's outcome keeps: a flood's first ones and its last ones (the
/// capture keeps every datagram).
pub const MAX_TRANSCRIPT_LINES: usize = 2000;

/// `lines` with at most [`MAX_TRANSCRIPT_LINES`]: the middle is left out, and a line says how many.
pub(super) fn bounded_transcript(mut lines: Vec<TranscriptLine>) -> Vec<TranscriptLine> {
    let (head, tail) = (MAX_TRANSCRIPT_LINES * 3 / 4, MAX_TRANSCRIPT_LINES / 4 - 1);
    if lines.len() <= MAX_TRANSCRIPT_LINES {
        return lines;
    }
    let left_out = lines.len() - head - tail;
    let at_ms = lines.get(head).map_or(0.0, |l| l.at_ms);
    let mut kept = lines.split_off(lines.len() - tail);
    lines.truncate(head);
    lines.push(TranscriptLine {
        at_ms,
        text: format!("… {left_out} lines left out (every datagram is in the capture)"),
    });
    lines.append(&mut kept);
    lines.shrink_to_fit();
    lines
}

pub(super) fn ms(d: u64) -> Duration {
    Duration::from_millis(d)
}

pub(super) fn at_ms(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e6
}

/// The harness's side of the network for family `F`, as the interpreter's driver.
struct Net<F: Family> {
    link: RealTimeLink<F::Node>,
    tolerance: Tolerance,
    family: PhantomData<F>,
}

impl<F: Family> Net<F> {
    fn timing(&self) -> Timing {
        Timing {
            tolerance_ms: self.tolerance.duration().as_secs_f64() * 1e3,
            slack_ms: self.slack().as_secs_f64() * 1e3,
            kernel_receive_stamps: self.link.kernel_stamps(),
            harness_read_delay: Latency::of(self.link.read_delays()),
            harness_timer_lateness: Latency::of(self.link.timer_lateness()),
        }
    }
}

impl<F: Family> Driver<F> for Net<F> {
    fn now(&self) -> Instant {
        self.link.clock().now()
    }
    fn trace(&self) -> &[LinkEvent] {
        self.link.link().trace()
    }
    fn events(&self) -> &[SimEvent<Event<F>>] {
        self.link.events()
    }
    fn peer_addr(&self) -> SocketAddr {
        self.link.primary()
    }
    fn peer_port(&self) -> u16 {
        self.link.primary_port()
    }
    fn scenario_port(&self, addr: SocketAddr) -> Option<u16> {
        self.link.scenario_port(addr)
    }
    fn peer_node(&mut self) -> Option<&mut F::Node> {
        self.link.endpoint_mut()
    }
    fn iut(&self) -> Option<SocketAddr> {
        self.link.iut()
    }
    /// The tolerance, the harness's own worst timer lateness so far, and how late its transport
    /// can notice what the IUT did ([`Endpoint::transport_lateness`]: a QUIC idle timer's floor).
    fn slack(&self) -> Duration {
        let transport = self
            .link
            .endpoint()
            .map_or(Duration::ZERO, Endpoint::transport_lateness);
        self.tolerance.duration() + self.link.worst_lateness() + transport
    }
    fn iut_gone(&self) -> Option<String> {
        if self.link.interrupted() {
            return Some("the run was interrupted".into());
        }
        if self.link.refused() {
            return Some(unreachable_reason(self.link.iut()));
        }
        if self.link.flooded() {
            // The run's first reason says how much.
            return Some(FLOODED.into());
        }
        self.link
            .listener_gone()
            .map(|e| format!("the IUT ended ({}) at {:.3} ms", e.describe(), at_ms(e.at)))
    }
    fn fault_rule(&self, id: u32, spec: &FaultSpec) -> FaultRule {
        fault_rule_rt(id, spec, self.link.primary())
    }
    fn add_rule(&mut self, rule: FaultRule) -> Result<(), String> {
        self.link
            .link_mut()
            .add_rule(rule)
            .map_err(|e| format!("{e:?}"))
    }
    async fn peer_address(&mut self, port: Option<u16>) -> Result<SocketAddr, String> {
        self.link.port(port).await.map_err(|e| e.to_string())
    }
    async fn inject(&mut self, from: SocketAddr, payload: Vec<u8>) -> Result<DatagramId, String> {
        self.link
            .inject(from, payload)
            .await
            .map_err(|e| e.to_string())
    }
    async fn collect(&mut self) {
        self.link.pump().await;
    }
    async fn advance(&mut self, deadline: Instant, wake_on_iut: bool) -> bool {
        if self.link.clock().now() >= deadline || self.link.stopped() {
            return false;
        }
        let len = self.link.link().trace().len();
        self.link
            .run_until(deadline, &|net: &RealTimeLink<F::Node>| {
                wake_on_iut && (net.link().trace().len() > len || net.listener_gone().is_some())
            })
            .await;
        true
    }
}

/// What makes each real-time run's endpoint draw values of its own (QUIC connection ids, tokens):
/// a server that serves run after run (kept running, or already running) routes a packet whose
/// connection id an earlier run used to that run's connection. Seeded alike, two runs' clients
/// drew the same ids, and a kept Dark Tower server dropped the second's handshake ("Packet
/// contains no CRYPTO frame"): 30 % of kept inputs failed the probe. Virtual time keeps the seed
/// alone (its runs are repeatable; real time's are not anyway).
fn run_nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    // splitmix64 of the time, the process and the count: distinct per run and per harness. (std's
    // `RandomState` in its place made learn's crash-and-hang test take 302 s instead of 62-77 s;
    // why is not understood, so this stays.)
    let mut z =
        started ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unreachable_reason(iut: Option<SocketAddr>) -> String {
    format!(
        "nothing is listening at {}: the system answered with ICMP port unreachable",
        iut.map_or("the IUT's address".to_owned(), |a| a.to_string())
    )
}

/// A scenario fault as a link rule. The engine's rule is built for a stand-in IUT address and the
/// stand-in is then removed: every datagram on this link is between the IUT and a harness socket,
/// so "to the IUT" is "from the peer's socket" and "from the IUT" is "to the peer's socket" — the
/// same datagrams as in virtual time — and the rule holds before an initiator's address is known.
pub(super) fn fault_rule_rt(id: u32, spec: &FaultSpec, peer: SocketAddr) -> FaultRule {
    const STAND_IN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254)), 9);
    let mut rule = fault_rule(id, spec, STAND_IN, peer);
    rule.when.from = rule.when.from.filter(|a| *a != STAND_IN);
    rule.when.to = rule.when.to.filter(|a| *a != STAND_IN);
    rule
}

/// The local address the system would send from to reach `remote` (so the capture names it), or
/// the unspecified address when that cannot be told.
fn source_ip_towards(remote: SocketAddr) -> IpAddr {
    let unspecified = match remote {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    std::net::UdpSocket::bind(SocketAddr::new(unspecified, 0))
        .and_then(|s| {
            s.connect(remote)?;
            s.local_addr()
        })
        .map_or(unspecified, |a| a.ip())
}

/// A UDP port on `ip` that was free a moment ago, for an IUT to listen on. Taken below Linux's
/// ephemeral range (32768–60999 by default), so no socket of another run — which binds port 0 —
/// can be given it between this check and the IUT's bind (that race failed a CI run: `Address
/// already in use`). Each harness process walks the range from its own place, spread by its pid
/// (harnesses started together have consecutive pids: walking from `pid % COUNT`, three learners
/// started at once handed their IUTs the same ports). Falls back to a kernel-chosen port when the
/// whole range is busy. A port lost anyway (another harness's IUT bound it first) is retried:
/// [`lost_port_race`].
pub(super) fn free_port(ip: IpAddr) -> std::io::Result<u16> {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const COUNT: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = walk_start(std::process::id(), COUNT);
    for _ in 0..COUNT {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed) % COUNT) % COUNT;
        if std::net::UdpSocket::bind(SocketAddr::new(ip, FIRST + offset)).is_ok() {
            return Ok(FIRST + offset);
        }
    }
    Ok(std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?
        .local_addr()?
        .port())
}

/// Where a harness process with `pid` starts its walk over `count` ports: Knuth's multiplicative
/// hash, so that consecutive pids land far apart.
fn walk_start(pid: u32, count: u16) -> u16 {
    ((pid.wrapping_mul(2_654_435_761) >> 16) % u32::from(count)) as u16
}

/// Whether an IUT that ended before it was ready lost its port to another program (another
/// harness's IUT bound it between [`free_port`]'s check and its own bind): then it is started
/// again on another port. Told by the port still bound, or, since the other program may have
/// let it go again by then, by the IUT saying so (the text of `EADDRINUSE` in C, Python, Rust,
/// Go and Node).
fn lost_port_race(p: &Process, addr: SocketAddr) -> bool {
    p.exited().is_some()
        && (port_bound(addr.port()) == Some(true)
            || [
                "Address already in use",
                "address already in use",
                "EADDRINUSE",
            ]
            .iter()
            .any(|text| p.printed(text)))
}

/// Whether a UDP socket is bound to `port` (Linux `/proc/net/udp*`); `None` where that cannot be
/// told.
pub(crate) fn port_bound(port: u16) -> Option<bool> {
    let mut readable = false;
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let local = line.split_whitespace().nth(1).unwrap_or_default();
            if local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port)
            {
                return Some(true);
            }
        }
    }
    readable.then_some(false)
}

pub(super) fn quote(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%{}".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How the run ended before judging.
pub(super) enum Ending {
    /// The steps and the settle phase ran: judge.
    Ran,
    /// The IUT never became ready: fail with this reason.
    NotReady(String),
    /// Could not run (would not start, bad template …).
    Error(String),
}

/// Runs one scenario in real time; never waits without a deadline.
pub(super) async fn run<F: Family>(r: Run<'_, F>) -> TypedOutcome<F> {
    let mut run = match RealTimeRun::open(&r).await {
        Ok(run) => run,
        Err(why) => {
            return TypedOutcome::unobserved(ScenarioOutcome::error(r.scenario, r.name, why))
        }
    };
    let ending = run.drive().await;
    let iut = run.end_iut(&ending).await;
    run.transcribe_iut(&iut);
    run.outcome(ending, &iut)
}

/// The command line of a [`Target::Spawn`], given the IUT's address.
type Argv<'a> = dyn Fn(SocketAddr) -> Result<(Vec<String>, Option<String>), String> + 'a;

/// One real-time run in progress: what its phases share.
struct RealTimeRun<'r, F: Family> {
    r: &'r Run<'r, F>,
    clock: Clock,
    /// The address the harness's sockets are bound to.
    bind_ip: IpAddr,
    /// The harness's peer socket.
    primary: SocketAddr,
    net: Net<F>,
    peer_profile: Option<F::Profile>,
    markers: Vec<(Instant, String)>,
    script: Script,
    process: Option<Process>,
    /// With `keep`: how this process was started and may be shared, to keep it afterwards.
    started_as: Option<StartedAs>,
    sharing: kept::Sharing,
    /// Leave to start a process to keep, held until it is ready.
    starting: Option<kept::Starting>,
    unsupported_code: Option<i32>,
    grace: Duration,
    /// When the harness closed what the run left open, for a kept process ([`Self::release`]).
    released_at: Option<Instant>,
}

/// What the IUT's process left once the harness ended it (or kept it running).
struct IutEnd {
    /// Its exit within the run, read before the harness ended it: an initiator's verdict.
    exit_in_time: Option<Exit>,
    /// Its exit, after the harness ended it.
    exit: Option<Exit>,
    output: Option<Output>,
    signals: Vec<(Instant, Signal)>,
    peak_memory: Option<u64>,
    /// Its last non-blank line on stderr.
    stderr_tail: Option<String>,
}

impl<'r, F: Family> RealTimeRun<'r, F> {
    /// Opens the harness's sockets with the scenario's faults, and starts a peer that listens.
    async fn open(r: &'r Run<'r, F>) -> Result<Self, String> {
        let clock = Clock::start();
        let (bind_ip, connect_to) = match &r.target {
            Target::Running(a) if !a.ip().is_loopback() => (source_ip_towards(*a), Some(*a)),
            Target::Running(a) => (a.ip(), Some(*a)),
            Target::Spawn { .. } => (IpAddr::V4(Ipv4Addr::LOCALHOST), None),
        };
        let link = VirtualLink::new(LinkConfig::with_seed(r.seed)).with_classifier(F::classify);
        let peer_port = address(r.scenario.iut.role.other()).port();
        let link = RealTimeLink::new(clock, link, bind_ip, peer_port, connect_to)
            .await
            .map_err(|e| format!("cannot open a UDP socket on {bind_ip}: {e}"))?;
        let mut net = Net::<F> {
            link,
            tolerance: r.tolerance,
            family: PhantomData,
        };
        net.link.limit_received(r.max_received_bytes);
        let primary = net.link.primary();
        for (i, f) in r.scenario.faults.iter().enumerate() {
            net.link
                .link_mut()
                .add_rule(fault_rule_rt(i as u32 + 1, f, primary))
                .map_err(|e| format!("faults: {e:?}"))?;
        }
        let mut run = RealTimeRun {
            r,
            clock,
            bind_ip,
            primary,
            net,
            peer_profile: peer_profile(r)?,
            markers: Vec::new(),
            script: Script::default(),
            process: None,
            sharing: kept::Sharing::PerThread,
            starting: None,
            started_as: None,
            unsupported_code: None,
            grace: ms(500),
            released_at: None,
        };
        run.script.keep_units = r.keep_units;
        // A peer that listens (a reference responder, or the family's scripted endpoint) waits for
        // the initiator IUT's first datagram, so it exists first; its address stands in for the
        // IUT's until then.
        if run.role() == Role::Initiator {
            run.start_peer(primary)?;
        }
        Ok(run)
    }

    fn role(&self) -> Role {
        self.r.scenario.iut.role
    }

    /// Starts the harness's endpoint towards `remote`: the reference peer, or else the family's
    /// scripted endpoint (if it has one).
    fn start_peer(&mut self, remote: SocketAddr) -> Result<(), String> {
        let (r, clock) = (self.r, self.clock);
        let seed = r.seed ^ 0x5eed ^ run_nonce();
        let node = match &self.peer_profile {
            Some(p) => F::node(
                p,
                self.role().other(),
                r.scenario,
                false,
                remote,
                seed,
                clock.now(),
            )
            .map(Some),
            None => F::script_node(
                r.scenario,
                F::launched_profile(&r.launch).as_ref(),
                remote,
                seed,
                clock.now(),
            ),
        };
        if let Some(mut n) = node.map_err(|e| format!("peer: {e}"))? {
            F::use_wall_clock(&mut n, clock.now());
            self.net.link.set_endpoint(n);
        }
        Ok(())
    }

    /// Starts the IUT, runs the steps, lets the run settle and takes in what the IUT sent last.
    async fn drive(&mut self) -> Ending {
        let origin = match self.start_iut().await {
            Ok(origin) => origin,
            Err(ending) => return ending,
        };
        // A peer that opens (a reference initiator, or the family's scripted endpoint) starts once
        // the responder IUT is ready.
        if self.role() == Role::Responder {
            let Some(iut) = self.net.link.iut() else {
                return Ending::Error("no IUT address".into());
            };
            if let Err(e) = self.start_peer(iut) {
                return Ending::Error(e);
            }
        }

        run_steps(&mut self.net, &mut self.script, self.r.scenario, origin).await;
        if self.net.link.refused() {
            return Ending::Error(unreachable_reason(self.net.link.iut()));
        }
        if self.net.link.interrupted() {
            return Ending::Ran;
        }

        let end = self.clock.now() + ms(self.r.scenario.settle_ms) + self.r.tolerance.duration();
        self.settle(end).await;
        self.take_in_last_datagrams(end).await;
        if self.net.link.refused() {
            return Ending::Error(unreachable_reason(self.net.link.iut()));
        }
        Ending::Ran
    }

    /// Starts the IUT (or takes the running one) and waits until it is ready; returns when the
    /// script clock starts: then (responder) or at the initiator's first datagram.
    async fn start_iut(&mut self) -> Result<Instant, Ending> {
        let r = self.r;
        match &r.target {
            Target::Running(a) => {
                self.net.link.set_iut(*a, true);
                Ok(self.clock.now())
            }
            Target::Spawn {
                manifest,
                argv,
                cwd,
                keep,
            } => {
                self.unsupported_code = Some(manifest.unsupported_exit_code);
                self.grace = ms(manifest.kill_grace_ms);
                let reused = match keep {
                    Some(_) => self.take_or_start(manifest, *argv, cwd).await?,
                    None => None,
                };
                match reused {
                    Some(k) => Ok(self.reuse_kept(k)),
                    None => {
                        if keep.is_none() && self.role() == Role::Responder {
                            self.starting = Some(Self::start_slot().await);
                        }
                        self.spawn_iut(manifest, *argv, cwd.as_ref(), *keep).await
                    }
                }
            }
        }
    }

    /// A kept responder with room for this run; else `None` once this run may start one (few
    /// start at once: until then it waits for one to share, at most the start-up timeout). Pinned
    /// to one kept process ([`kept::pin`]), it waits for room on that one and starts none: an
    /// error once that process has gone.
    async fn take_or_start(
        &mut self,
        manifest: &Manifest,
        argv: &Argv<'_>,
        cwd: &Option<std::path::PathBuf>,
    ) -> Result<Option<Kept>, Ending> {
        let give_up = self.clock.now() + ms(manifest.startup_timeout_ms);
        loop {
            if let Some(k) = take_kept(argv, cwd) {
                return Ok(Some(k));
            }
            match kept::pinned() {
                Some(pid) if !kept::in_pool(pid) || self.clock.now() >= give_up => {
                    return Err(Ending::Error(format!(
                        "the kept IUT process {pid} is gone or busy"
                    )));
                }
                Some(_) => {}
                None => {
                    if let Some(leave) = kept::may_start() {
                        self.starting = Some(leave);
                        return Ok(None);
                    }
                    if self.clock.now() >= give_up {
                        return Ok(None);
                    }
                }
            }
            tokio::time::sleep(ms(10)).await;
        }
    }

    /// Leave to start a fresh responder, once few are starting (its start-up timeout runs from
    /// its start, not from the wait): a learner's 32 queries each starting a Python QUIC server
    /// at once on 2 cores missed their 8-s start-up timeouts three times running. Held until it
    /// is ready.
    async fn start_slot() -> kept::Starting {
        loop {
            if let Some(leave) = kept::may_start() {
                return leave;
            }
            tokio::time::sleep(ms(10)).await;
        }
    }

    /// Takes over a responder an earlier run kept running: the script clock starts now.
    fn reuse_kept(&mut self, mut k: Kept) -> Instant {
        let clock = self.clock;
        k.process.begin_run(clock);
        let shared = match k.sharing {
            kept::Sharing::Sessions(n) if n > 1 => format!(", shared by up to {n} runs at once"),
            _ => String::new(),
        };
        self.markers.push((
            clock.now(),
            format!(
                "IUT kept running (pid {}, its run {}{shared}): {}",
                k.process.pid,
                k.runs,
                quote(&k.words)
            ),
        ));
        self.net.link.watch_exit(k.process.exit_watch());
        self.net.link.set_iut(k.addr, true);
        self.sharing = k.sharing;
        self.started_as = Some((k.addr, k.words, k.stdin, k.cwd));
        self.process = Some(k.process);
        clock.now()
    }

    /// Starts the manifest's program and waits until it is ready (a responder) or has sent its
    /// first datagram (an initiator).
    async fn spawn_iut(
        &mut self,
        manifest: &Manifest,
        argv: &Argv<'_>,
        cwd: Option<&std::path::PathBuf>,
        keep: Option<kept::Sharing>,
    ) -> Result<Instant, Ending> {
        let (clock, role) = (self.clock, self.role());
        for attempt in 0.. {
            let addr = match (role, manifest.listen) {
                (Role::Responder, Some(fixed)) => fixed,
                (Role::Responder, None) => match free_port(self.bind_ip) {
                    Ok(port) => SocketAddr::new(self.bind_ip, port),
                    Err(e) => return Err(Ending::Error(format!("cannot find a free port: {e}"))),
                },
                (Role::Initiator, _) => self.primary,
            };
            match self.spawn_iut_on(addr, manifest, argv, cwd, keep).await {
                Err(ending)
                    if manifest.listen.is_none()
                        && attempt < 2
                        && self
                            .process
                            .as_ref()
                            .is_some_and(|p| lost_port_race(p, addr)) =>
                {
                    self.markers.push((
                        clock.now(),
                        format!(
                            "IUT could not listen on {addr}, taken meanwhile by another program: started again on another port ({})",
                            match ending {
                                Ending::NotReady(why) | Ending::Error(why) => why,
                                Ending::Ran => String::new(),
                            }
                        ),
                    ));
                    self.process = None;
                    self.started_as = None;
                }
                done => return done,
            }
        }
        Err(Ending::Error("the IUT could not be started".to_owned()))
    }

    /// [`spawn_iut`](Self::spawn_iut) with the IUT listening on `addr` (a responder).
    async fn spawn_iut_on(
        &mut self,
        addr: SocketAddr,
        manifest: &Manifest,
        argv: &Argv<'_>,
        cwd: Option<&std::path::PathBuf>,
        keep: Option<kept::Sharing>,
    ) -> Result<Instant, Ending> {
        let (clock, role) = (self.clock, self.role());
        let (words, stdin) = argv(addr).map_err(|e| Ending::Error(format!("IUT command: {e}")))?;
        let stdin_text = stdin.clone();
        let spawn =
            || Process::spawn(&words, cwd, &manifest.env, stdin, clock).map_err(|e| e.to_string());
        let p = match keep {
            Some(_) => kept::spawn_keepable(spawn).and_then(|p| p),
            None => spawn(),
        }
        .map_err(Ending::Error)?;
        self.markers.push((
            clock.now(),
            format!("IUT started (pid {}): {}", p.pid, quote(&words)),
        ));
        self.net.link.watch_exit(p.exit_watch());
        if let Some(sharing) = keep {
            self.started_as = Some((addr, words.clone(), stdin_text.clone(), cwd.cloned()));
            self.sharing = sharing;
        }
        let p = self.process.insert(p);
        match role {
            Role::Responder => {
                self.net.link.set_iut(addr, true);
                let ready = if F::steps_before_ready(self.r.scenario) {
                    &Ready::ListenPort
                } else {
                    &manifest.ready
                };
                let delay = F::startup_delay(self.r.scenario, &self.r.launch);
                wait_ready(manifest, ready, delay, p, addr, clock, &mut self.markers).await?;
                self.starting = None;
                if let (Some(sharing), Some((addr, words, stdin, cwd))) = (keep, &self.started_as) {
                    kept::add(Kept {
                        process: p.view(),
                        addr: *addr,
                        words: words.clone(),
                        stdin: stdin.clone(),
                        cwd: cwd.clone(),
                        runs: 1,
                        sharing,
                    });
                }
                Ok(clock.now())
            }
            Role::Initiator => self.first_datagram(manifest).await,
        }
    }

    /// Waits (at most the startup timeout) for an initiator IUT's first datagram: the script clock
    /// starts then.
    async fn first_datagram(&mut self, manifest: &Manifest) -> Result<Instant, Ending> {
        let started = self.clock.now();
        let wait = ms(manifest.startup_timeout_ms);
        self.net
            .link
            .run_until(started + wait, &|n: &RealTimeLink<F::Node>| {
                n.iut().is_some() || n.exited().is_some()
            })
            .await;
        let iut = self.net.link.iut();
        let first = self.net.link.link().trace().iter().find_map(|e| match e {
            LinkEvent::Sent {
                at,
                from,
                injected: false,
                ..
            } if Some(*from) == iut => Some(*at),
            _ => None,
        });
        match (first, self.net.link.exited()) {
            (Some(at), _) => {
                self.markers.push((
                    at,
                    format!(
                        "script clock starts: the IUT's first datagram, {:.3} ms after its start",
                        at_ms(at) - at_ms(started)
                    ),
                ));
                Ok(at)
            }
            (None, Some(exit)) if exit.code == Some(manifest.unsupported_exit_code) => {
                Err(Ending::Ran)
            }
            (None, Some(exit)) => Err(Ending::NotReady(format!(
                "the IUT ended ({}) before it sent anything",
                exit.describe()
            ))),
            (None, None) => Err(Ending::NotReady(format!(
                "the IUT sent nothing within startup_timeout_ms = {} ms of its start",
                wait.as_millis()
            ))),
        }
    }

    /// Lets the run come to its end (at most until `end`): the sides the family names finish (an
    /// external IUT: its process exits).
    async fn settle(&mut self, end: Instant) {
        let settle = F::settle(self.r.scenario, true);
        let link = &mut self.net.link;
        if settle.peer && link.endpoint().is_some() {
            link.run_until(end, &|n: &RealTimeLink<F::Node>| {
                n.endpoint().is_some_and(|e| e.is_finished()) || n.listener_gone().is_some()
            })
            .await;
        }
        if settle.iut && link.has_process() {
            link.run_until(end, &|n: &RealTimeLink<F::Node>| n.exited().is_some())
                .await;
            // What it sent before it exited reaches the endpoint before the tail is waited for.
            if link.exited().is_some() {
                link.deliver_after_exit(COLLECT, end).await;
            }
            if let (Some(tail), true) = (settle.peer_tail, link.endpoint().is_some()) {
                let until = self.clock.now() + tail;
                link.run_until(until, &|n: &RealTimeLink<F::Node>| {
                    n.events().iter().any(|e| F::is_ending(&e.event))
                })
                .await;
            }
        }
    }

    /// As in virtual time, the run ends here: what the IUT already sent is taken in, nothing more
    /// is delivered to it. An IUT that has exited sent all it will, and all of it reaches the
    /// harness's endpoint too (a client that closes and exits at once: its CONNECTION_CLOSE may
    /// still be in the harness's socket when its exit is noticed).
    async fn take_in_last_datagrams(&mut self, end: Instant) {
        if self.net.link.exited().is_some() {
            self.net.link.deliver_after_exit(COLLECT, end).await;
        } else {
            self.net.link.drain_sockets(COLLECT).await;
        }
    }

    /// Before a kept process serves the next run: the harness's endpoint closes what the run
    /// left open (a run that ended at a failed step never reached the steps that close it: a
    /// third of Proton's fuzz inputs, whose server then refused the next input's connection as a
    /// second one, so that its process was started again) and lets the IUT take the close in (a
    /// QUIC server is done with the connection three PTOs later). The run ended before: the
    /// capture is cut there.
    async fn release(&mut self) {
        let now = self.clock.now();
        let closed = self
            .net
            .link
            .endpoint_mut()
            .is_some_and(|e| e.close_all(now));
        if closed {
            self.released_at = Some(now);
            self.net
                .link
                .run_until(now + RELEASE, &|_: &RealTimeLink<F::Node>| false)
                .await;
        }
    }

    /// Keeps a responder that is still serving for the next run, or else ends the IUT's process;
    /// either way reads what it left.
    async fn end_iut(&mut self, ending: &Ending) -> IutEnd {
        // The initiator's verdict is its exit status within the deadline, read before the harness
        // ends it.
        let exit_in_time = self.process.as_ref().and_then(Process::exited);
        let peak_memory = self.process.as_ref().and_then(Process::peak_memory_kb);
        // A responder that is still serving after a run that ran is kept for the next one.
        let keep = matches!(ending, Ending::Ran)
            && !self.net.link.interrupted()
            && !self.net.link.flooded()
            && exit_in_time.is_none();
        let mut kept_output = None;
        if keep && self.started_as.is_some() {
            self.release().await;
        }
        if let (true, Some(_)) = (keep, self.started_as.take()) {
            if let Some(p) = self.process.take() {
                kept_output = Some(p.output());
                kept::put(p.pid);
            }
        } else if self.process.as_ref().is_some_and(|p| kept::retire(p.pid)) {
            // Other runs are on this process now: it ends when the last of them does.
            kept_output = self.process.take().map(|p| p.output());
        }
        if let Some(p) = &mut self.process {
            p.shut_down(self.grace, self.clock).await;
        }
        let (exit, output, signals) = match &self.process {
            Some(p) => (p.exited(), Some(p.output()), p.signals_sent.clone()),
            None => (None, kept_output, Vec::new()),
        };
        drop(self.process.take());
        let stderr_tail = output.as_ref().and_then(|o| {
            o.text(Stream::Stderr)
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
        });
        IutEnd {
            exit_in_time,
            exit,
            output,
            signals,
            peak_memory,
            stderr_tail,
        }
    }

    /// The process's part of the transcript.
    fn transcribe_iut(&mut self, iut: &IutEnd) {
        let markers = &mut self.markers;
        if let Some(n) = self
            .net
            .link
            .endpoint()
            .map(|e| F::turned_away(e))
            .filter(|n| *n > 0)
        {
            markers.push((
                self.clock.now(),
                format!("harness: {n} new connections dropped unanswered (past its limit of connections in their handshakes at once, or over the run)"),
            ));
        }
        if let Some(kb) = iut.peak_memory {
            markers.push((self.clock.now(), format!("{PEAK_MEMORY}{kb} kB")));
        }
        if let Some(e) = iut.exit {
            markers.push((e.at, format!("IUT ended: {}", e.describe())));
        }
        for (at, s) in &iut.signals {
            markers.push((*at, format!("harness sent {s} to the IUT's process group")));
        }
        if let Some(o) = &iut.output {
            for (at, stream, line) in &o.lines {
                markers.push((*at, format!("IUT {}: {line}", stream.name())));
            }
            for (i, s) in [Stream::Stdout, Stream::Stderr].iter().enumerate() {
                if o.dropped[i] > 0 {
                    markers.push((
                        self.clock.now(),
                        format!(
                            "IUT {}: {} more bytes not kept (limit {} KiB)",
                            s.name(),
                            o.dropped[i],
                            OUTPUT_LIMIT / 1024
                        ),
                    ));
                }
            }
        }
    }

    /// The run's outcome: unsupported (the IUT said so by its exit code), an error, or what the
    /// capture and the steps show.
    fn outcome(&mut self, ending: Ending, iut: &IutEnd) -> TypedOutcome<F> {
        let unsupported = iut.exit.filter(|e| {
            e.code.is_some() && e.code == self.unsupported_code && iut.signals.is_empty()
        });
        if let Some(e) = unsupported {
            return TypedOutcome::unobserved(self.unsupported_outcome(e, iut));
        }
        match ending {
            Ending::Error(why) => TypedOutcome::unobserved(self.error_outcome(why, iut)),
            Ending::NotReady(why) => self.judge_capture(Some(why), iut),
            Ending::Ran => self.judge_capture(None, iut),
        }
    }

    fn unsupported_outcome(&self, e: Exit, iut: &IutEnd) -> ScenarioOutcome {
        let mut o = ScenarioOutcome::unsupported(
            self.r.scenario,
            self.r.name,
            format!(
                "the IUT exited with {} (unsupported){}",
                e.code.unwrap_or_default(),
                iut.stderr_tail
                    .as_ref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
        );
        o.transcript = F::transcript(&[], &[], self.primary, &self.markers);
        o
    }

    fn error_outcome(&self, why: String, iut: &IutEnd) -> ScenarioOutcome {
        let mut o = ScenarioOutcome::error(self.r.scenario, self.r.name, why);
        o.iut_unreachable = self.net.link.refused();
        if let Some(t) = &iut.stderr_tail {
            o.reasons.push(format!("IUT stderr: {t}"));
        }
        o.transcript = F::transcript(&[], &[], self.primary, &self.markers);
        o
    }

    /// The capture as the IUT saw it, judged as in virtual time, with what the steps found.
    fn judge_capture(&mut self, not_ready: Option<String>, iut: &IutEnd) -> TypedOutcome<F> {
        let r = self.r;
        let (scenario, role) = (r.scenario, self.role());
        let viewpoint = self
            .net
            .link
            .iut()
            .unwrap_or(SocketAddr::new(self.bind_ip, 0));
        // An initiator IUT that exited saw nothing after that: its capture ends there (as a virtual
        // run ends when the initiator finishes).
        let cut = match role {
            Role::Initiator => iut.exit_in_time.map(|e| e.at),
            Role::Responder => self.released_at,
        };
        let capture = match self.capture(viewpoint, cut) {
            Ok(c) => c,
            Err(e) => {
                let why = format!("capture: {e}");
                return TypedOutcome::unobserved(ScenarioOutcome::error(scenario, r.name, why));
            }
        };
        let report = match F::judge(
            &capture,
            &JudgeCtx {
                scenario,
                role,
                iut: viewpoint,
                peer: self.primary,
                iut_profile: F::launched_profile(&r.launch),
                peer_profile: self.peer_profile.clone(),
                tolerance: Some(r.tolerance),
            },
        ) {
            Ok(v) => v,
            Err(e) => {
                let e = e.map_reason(|why| format!("checker: {why}"));
                return TypedOutcome::unobserved(ScenarioOutcome::of_error(scenario, r.name, e));
            }
        };
        self.markers
            .extend(std::mem::take(&mut self.script.markers));
        let lines = bounded_transcript(F::transcript(
            &capture,
            self.net.link.events(),
            viewpoint,
            &self.markers,
        ));
        let observed = self.observed(&report, viewpoint, not_ready.as_ref(), iut.exit_in_time);
        let mut judged = judge_typed(scenario, r.name, observed, lines, capture);
        let outcome = &mut judged.outcome;
        outcome.timing = Some(self.net.timing());
        outcome.interrupted = self.net.link.interrupted();
        outcome.iut_units = crate::engine::units_at_ms(std::mem::take(&mut self.script.iut_units));
        self.explain_failure(outcome, not_ready, iut);
        judged
    }

    /// Ends the link's trace (cut after `cut`) and writes it as the capture seen from `viewpoint`.
    fn capture(&mut self, viewpoint: SocketAddr, cut: Option<Instant>) -> Result<Vec<u8>, String> {
        // What the link still holds never arrived: record it (at the last moment seen), so no
        // traffic is lost.
        self.net.link.link_mut().end_run_at_last_event();
        if let Some(cut) = cut {
            self.net.link.link_mut().cut_trace_after(cut);
        }
        let secrets = self
            .net
            .link
            .endpoint_mut()
            .map(|n| F::secrets(n))
            .unwrap_or_default();
        let trace = self.net.link.link().trace();
        let annotations = &self.script.annotations;
        let annotate = |id: handshake_net::DatagramId| annotations.get(id);
        // Every port of the IUT's host that is not the harness's is the IUT (a client may open a
        // socket per connection).
        let harness_sockets = self.net.link.harness_addresses();
        let also = move |a: SocketAddr| a.ip() == viewpoint.ip() && !harness_sockets.contains(&a);
        let options = handshake_capture::TraceOptions {
            annotate: Some(&annotate),
            viewpoint_also: Some(&also),
            not_delivered_delay_ns: self
                .net
                .link
                .link()
                .config()
                .latency_ms
                .saturating_mul(1_000_000),
            ..handshake_capture::TraceOptions::default()
        };
        write_capture(trace, viewpoint, &secrets, &options)
    }

    /// What the run showed: the family's observations, the checker's violations and the steps'
    /// failures (a startup failure and a flood first).
    fn observed(
        &mut self,
        report: &F::Report,
        viewpoint: SocketAddr,
        not_ready: Option<&String>,
        exit_in_time: Option<Exit>,
    ) -> Observed<F::Observations> {
        let r = self.r;
        let role = self.role();
        let family = F::observe(
            &ObserveCtx {
                scenario: r.scenario,
                role,
                iut_addr: viewpoint,
                peer_addr: self.primary,
                iut: None,
                peer: self.net.link.endpoint(),
                events: self.net.link.events(),
                iut_exit: exit_in_time.map(|e| IutExit {
                    code: e.code,
                    succeeded: match &r.target {
                        Target::Spawn { manifest, .. } => manifest.succeeded(e.code),
                        _ => e.code.map(|c| c == 0),
                    },
                    in_time: true,
                }),
                real_time: true,
            },
            report,
        );
        let mut step_failures = std::mem::take(&mut self.script.failures);
        if let Some(why) = not_ready {
            step_failures.insert(0, why.clone());
        }
        if self.net.link.flooded() {
            step_failures.insert(0, flood_reason(&self.net.link));
        }
        if let (Role::Responder, Some(e)) = (role, exit_in_time.filter(|e| e.code != Some(0))) {
            step_failures.push(format!(
                "the IUT ended ({}) at {:.3} ms, before the scenario did",
                e.describe(),
                at_ms(e.at)
            ));
        }
        Observed {
            family,
            violations: F::violations(report),
            iut_addr: viewpoint,
            step_failures,
            step_deviations: std::mem::take(&mut self.script.deviations),
            unmet_contracts: std::mem::take(&mut self.script.unmet_contracts),
            step_notes: std::mem::take(&mut self.script.notes),
            cut_short: self.script.cut_short,
        }
    }

    /// Says why a run failed where the judging alone cannot: a running responder that never
    /// answered, an IUT that was not ready, a process that ended on its own.
    fn explain_failure(
        &self,
        outcome: &mut ScenarioOutcome,
        not_ready: Option<String>,
        iut: &IutEnd,
    ) {
        // A running responder that failed a scenario without sending a single datagram is not there
        // (or not reachable): say so once, and the other scenarios against it are not tried.
        let iut_addr = self.net.link.iut();
        let heard =
            self.net.link.link().trace().iter().any(
                |e| matches!(e, LinkEvent::Sent { from, injected: false, .. } if Some(*from) == iut_addr),
            );
        if let (Target::Running(addr), Verdict::Fail, false) =
            (&self.r.target, outcome.verdict, heard)
        {
            outcome.iut_unreachable = true;
            outcome.insert_cause(
                format!("{addr} never answered: is the responder running there, reachable, and started with the scenarios' parameters?"),
            );
        }
        if let Some(why) = not_ready {
            // Only the startup failure matters: the rest follows from it.
            outcome.verdict = Verdict::Fail;
            outcome.set_reason(why);
        }
        // A process that ended on its own may say why.
        if let (Verdict::Fail, Some(e), true) = (outcome.verdict, iut.exit, iut.signals.is_empty())
        {
            outcome
                .reasons
                .push(format!("IUT: {} at {:.3} ms", e.describe(), at_ms(e.at)));
            if let (Some(t), false) = (&iut.stderr_tail, e.code == Some(0)) {
                outcome.reasons.push(format!("IUT stderr (last line): {t}"));
            }
        }
    }
}

/// The reference peer's profile, when the scenario names one (adapted to the profile the IUT was
/// launched as, when known).
fn peer_profile<F: Family>(r: &Run<'_, F>) -> Result<Option<F::Profile>, String> {
    let named = r
        .scenario
        .peer
        .reference
        .as_deref()
        .map(F::parse_profile)
        .transpose()
        .map_err(|e| format!("peer: {e}"))?;
    Ok(match F::launched_profile(&r.launch) {
        Some(iut) => named.map(|p| F::peer_profile(&p, &iut)),
        None => named,
    })
}

/// A responder an earlier run kept running with the same command line, stdin text and working
/// directory.
fn take_kept(argv: &Argv<'_>, cwd: &Option<std::path::PathBuf>) -> Option<Kept> {
    kept::take(|k| {
        let same =
            |(words, stdin): (Vec<String>, Option<String>)| words == k.words && stdin == k.stdin;
        k.cwd == *cwd && argv(k.addr).is_ok_and(same)
    })
}

/// Waits until a responder IUT is `ready` (the manifest's, unless the scenario starts before it),
/// at most its startup timeout.
pub(super) async fn wait_ready(
    manifest: &Manifest,
    ready: &Ready,
    startup_delay: Duration,
    p: &Process,
    addr: SocketAddr,
    clock: Clock,
    markers: &mut Vec<(Instant, String)>,
) -> Result<(), Ending> {
    let started = clock.now();
    let startup = ms(manifest.startup_timeout_ms) + startup_delay;
    let (wait, what) = match ready {
        Ready::ListenPort => (startup, format!("listening on {addr}")),
        Ready::Output(text) => (startup, format!("printed {text:?}")),
        Ready::DelayMs(d) => (startup.max(ms(d + 100)), format!("{d} ms after the start")),
    };
    loop {
        if let Some(exit) = p.exited() {
            if exit.code == Some(manifest.unsupported_exit_code) {
                // Judged as unsupported by the caller, from the exit code.
                return Err(Ending::Ran);
            }
            return Err(Ending::Error(format!(
                "the IUT ended ({}) before it was ready ({what})",
                exit.describe()
            )));
        }
        let elapsed = clock.now().saturating_duration_since(started);
        let ready = match ready {
            Ready::ListenPort => port_bound(addr.port()).unwrap_or(elapsed >= ms(200)),
            Ready::Output(text) => p.printed(text),
            Ready::DelayMs(d) => elapsed >= ms(*d),
        };
        if ready {
            markers.push((clock.now(), format!("IUT ready: {what}")));
            return Ok(());
        }
        if elapsed >= wait {
            return Err(Ending::NotReady(format!(
                "the IUT was not ready ({what}) within {} ms",
                wait.as_millis()
            )));
        }
        let _ = tokio::time::timeout(ms(5), p.line_read.notified()).await;
    }
}

pub(super) fn write_capture(
    trace: &[LinkEvent],
    viewpoint: SocketAddr,
    secrets: &str,
    options: &handshake_capture::TraceOptions<'_>,
) -> Result<Vec<u8>, String> {
    let mut writer =
        handshake_capture::CaptureWriter::new(Vec::new()).map_err(|e| e.to_string())?;
    // Before the first packet: tshark 4.0 decrypts only then.
    writer.write_secrets(secrets).map_err(|e| e.to_string())?;
    handshake_capture::write_trace(trace, viewpoint, options, &mut writer)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Harnesses started together (consecutive pids) walk the port range from places at least
    /// 300 ports apart, so their IUTs' ports do not race each other.
    #[test]
    fn consecutive_pids_walk_ports_from_far_apart() {
        const COUNT: u16 = 12_000;
        for first in [1_u32, 4_000, 77_777, 4_194_000] {
            let starts: Vec<u16> = (first..first + 8).map(|p| walk_start(p, COUNT)).collect();
            for (i, a) in starts.iter().enumerate() {
                for b in &starts[i + 1..] {
                    let d = a.abs_diff(*b);
                    assert!(d.min(COUNT - d) >= 300, "{starts:?}");
                }
            }
        }
    }

    fn lines(n: usize) -> Vec<TranscriptLine> {
        (0..n)
            .map(|i| TranscriptLine {
                at_ms: i as f64,
                text: format!("line {i}"),
            })
            .collect()
    }

    #[test]
    fn a_flood_s_transcript_keeps_its_head_and_tail_and_says_what_it_left_out() {
        assert_eq!(bounded_transcript(lines(10)), lines(10));
        let kept = bounded_transcript(lines(10_000));
        assert_eq!(kept.len(), MAX_TRANSCRIPT_LINES);
        let (head, tail) = (MAX_TRANSCRIPT_LINES * 3 / 4, MAX_TRANSCRIPT_LINES / 4 - 1);
        assert_eq!(kept[head - 1].text, format!("line {}", head - 1));
        assert_eq!(
            kept[head].text,
            format!(
                "… {} lines left out (every datagram is in the capture)",
                10_000 - head - tail
            )
        );
        assert_eq!(kept[head].at_ms, head as f64);
        assert_eq!(kept.last().map(|l| l.text.as_str()), Some("line 9999"));
    }
}
