//! The real-time driver of the step interpreter ([`crate::script`]): the harness plays the peer (a
//! reference endpoint and/or the script) on UDP sockets of its own, and every datagram in both
//! directions goes through a [`VirtualLink`] driven by the real clock, so the scenario's faults
//! apply and the link's trace becomes the capture, exactly as in virtual time.
//!
//! ```text
//!   IUT process  <--UDP-->  harness socket --recv--> link.send(from IUT) --> due --> reference peer / script
//!                <--UDP---  harness socket <--send-- due <-- link.send(to IUT) <-- reference peer / script
//! ```
//!
//! Time: every datagram from the IUT is timed by the kernel's receive stamp (`SO_TIMESTAMPNS`), not
//! by when the harness got round to reading it. The harness measures its own lateness — how long
//! datagrams waited before it read them, and how late its timers fired (and with them the reference
//! peer's and the link's sends) — and widens every `expect` window by the tolerance plus the largest
//! lateness seen so far, so the harness's own delays never count against the IUT. The outcome
//! reports both ([`crate::outcome::Timing`]).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use handshake_core::{Endpoint, Instant};
use handshake_mediastream_endpoint::{Initiator, Peer, Phase, Profile, ProfileKind, Responder};
use handshake_mediastream_judge::{check_capture, CheckOptions};
use handshake_mediastream_wire::kind_name;
use handshake_net::udp::{
    enable_receive_timestamps, is_transient, recv_timestamped, Clock, MAX_DATAGRAM,
};
use handshake_net::{DatagramId, FaultRule, LinkConfig, LinkEvent, VirtualLink};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::manifest::{Launch, Manifest, Ready};
use super::process::{Exit, Process, Stream, OUTPUT_LIMIT};
use crate::engine::{fault_rule, transcript, INITIATOR, RESPONDER};
use crate::model::{FaultSpec, Role, Scenario};
use crate::outcome::{judge, Latency, Observed, ScenarioOutcome, Timing, Verdict};
use crate::script::{run_steps, Driver, Script};

/// How long the harness still reads its sockets after the scenario's end (without delivering
/// anything more), to take in what the IUT had already sent.
const COLLECT: Duration = Duration::from_millis(5);

/// What to run against.
pub(super) enum Target<'a> {
    /// Start the manifest's program.
    Spawn {
        /// The manifest.
        manifest: &'a Manifest,
        /// Its argv for this run, given the IUT's address (`{listen}`) or the harness's (`{target}`).
        argv: &'a dyn Fn(SocketAddr) -> Result<Vec<String>, String>,
        /// Working directory.
        cwd: Option<std::path::PathBuf>,
    },
    /// A responder already running there.
    Running(SocketAddr),
}

/// One run's parameters.
pub(super) struct Run<'a> {
    pub scenario: &'a Scenario,
    pub name: &'a str,
    pub launch: Launch,
    pub seed: u64,
    pub tolerance: Duration,
    pub target: Target<'a>,
}

fn ms(d: u64) -> Duration {
    Duration::from_millis(d)
}

fn at_ms(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e6
}

/// A datagram read from one of the harness's sockets.
#[derive(Debug)]
enum Received {
    Datagram {
        local: SocketAddr,
        from: SocketAddr,
        at: Instant,
        read_delay: Option<Duration>,
        payload: Vec<u8>,
    },
    /// The system reported the IUT's port unreachable (ICMP) on a connected socket.
    Refused,
}

/// The harness's side of the network: its sockets, the fault link, and the reference peer.
struct Net {
    clock: Clock,
    link: VirtualLink,
    bind_ip: IpAddr,
    /// The peer's own socket (the reference peer's, and the script's default).
    primary: SocketAddr,
    sockets: BTreeMap<SocketAddr, Arc<UdpSocket>>,
    /// Scenario port numbers (`from_port`, `to_port`) → the harness socket standing for them.
    ports: BTreeMap<u16, SocketAddr>,
    /// The virtual peer's port: `from_port`/`to_port` equal to it mean the peer's own socket.
    peer_port: u16,
    /// Sockets are connected to this address (a running IUT: ICMP errors are then reported).
    connect_to: Option<SocketAddr>,
    tx: mpsc::UnboundedSender<Received>,
    rx: mpsc::UnboundedReceiver<Received>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The IUT's address: known for a responder, learnt from the first datagram of an initiator.
    iut: Option<SocketAddr>,
    role: Role,
    reference: Option<Peer>,
    /// The reference peer's first session that ended: its metrics.
    peer_ended: Option<handshake_mediastream_endpoint::Metrics>,
    exit: Option<watch::Receiver<Option<Exit>>>,
    /// The system said nothing listens at the IUT's address.
    refused: bool,
    /// The run was interrupted (Ctrl-C): stop where it is.
    interrupted: bool,
    send_errors: u64,
    tolerance: Duration,
    /// Whether every receive so far carried a kernel stamp.
    stamped: bool,
    read_delays: Vec<Duration>,
    timer_lateness: Vec<Duration>,
    /// The largest of the two so far.
    worst_lateness: Duration,
}

impl Drop for Net {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

enum Wake {
    Received(Option<Received>),
    Timer,
    Exit(bool),
}

impl Net {
    async fn new(
        clock: Clock,
        link: VirtualLink,
        bind_ip: IpAddr,
        role: Role,
        connect_to: Option<SocketAddr>,
        tolerance: Duration,
    ) -> std::io::Result<Net> {
        let (tx, rx) = mpsc::unbounded_channel();
        let peer_port = match role {
            Role::Responder => INITIATOR.port(),
            Role::Initiator => RESPONDER.port(),
        };
        let mut net = Net {
            clock,
            link,
            bind_ip,
            primary: SocketAddr::new(bind_ip, 0),
            sockets: BTreeMap::new(),
            ports: BTreeMap::new(),
            peer_port,
            connect_to,
            tx,
            rx,
            tasks: Vec::new(),
            iut: None,
            role,
            reference: None,
            peer_ended: None,
            exit: None,
            refused: false,
            interrupted: false,
            send_errors: 0,
            tolerance,
            stamped: true,
            read_delays: Vec::new(),
            timer_lateness: Vec::new(),
            worst_lateness: Duration::ZERO,
        };
        net.primary = net.add_socket().await?;
        Ok(net)
    }

    async fn add_socket(&mut self) -> std::io::Result<SocketAddr> {
        let socket = UdpSocket::bind(SocketAddr::new(self.bind_ip, 0)).await?;
        if let Some(iut) = self.connect_to {
            socket.connect(iut).await?;
        }
        self.stamped &= enable_receive_timestamps(&socket);
        let socket = Arc::new(socket);
        let local = socket.local_addr()?;
        let (tx, clock, s) = (self.tx.clone(), self.clock, Arc::clone(&socket));
        self.tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                let message = match recv_timestamped(&s, &mut buf, clock).await {
                    Ok(a) => Received::Datagram {
                        local,
                        from: a.from,
                        at: a.at,
                        read_delay: a.read_delay,
                        payload: buf.get(..a.len).unwrap_or_default().to_vec(),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        Received::Refused
                    }
                    Err(e) if is_transient(&e) => continue,
                    Err(_) => break,
                };
                if tx.send(message).is_err() {
                    break;
                }
            }
        }));
        self.sockets.insert(local, socket);
        Ok(local)
    }

    /// The harness socket for a scenario port (`None` or the virtual peer's own port: the primary).
    async fn port(&mut self, port: Option<u16>) -> Result<SocketAddr, String> {
        match port {
            None => Ok(self.primary),
            Some(p) if p == self.peer_port => Ok(self.primary),
            Some(p) => match self.ports.get(&p) {
                Some(a) => Ok(*a),
                None => {
                    let a = self
                        .add_socket()
                        .await
                        .map_err(|e| format!("cannot open a socket for port {p}: {e}"))?;
                    self.ports.insert(p, a);
                    Ok(a)
                }
            },
        }
    }

    fn note_lateness(&mut self, late: Duration, read: bool) {
        if read {
            self.read_delays.push(late);
        } else {
            self.timer_lateness.push(late);
        }
        self.worst_lateness = self.worst_lateness.max(late);
    }

    fn accept(&mut self, r: Received) {
        match r {
            Received::Refused => self.refused = true,
            Received::Datagram {
                local,
                from,
                at,
                read_delay,
                payload,
            } => {
                match read_delay {
                    Some(d) => self.note_lateness(d, true),
                    None => self.stamped = false,
                }
                if self.iut.is_none() && self.role == Role::Initiator {
                    self.iut = Some(from);
                }
                // With kernel stamps a datagram may be older than what the harness did since it
                // arrived; the capture orders packets by time.
                self.link.send(at, from, local, payload, false);
            }
        }
    }

    fn exited(&self) -> Option<Exit> {
        self.exit.as_ref().and_then(|e| *e.borrow())
    }

    /// The IUT is a responder and its process has exited: nothing more will come.
    fn responder_gone(&self) -> Option<Exit> {
        self.exited().filter(|_| self.role == Role::Responder)
    }

    fn reference_finished(&self) -> bool {
        self.reference.as_ref().is_some_and(|p| p.is_finished())
    }

    /// Does everything due now: takes in what the sockets received, runs the reference peer's
    /// timer, delivers what the link has due (to the IUT over UDP, to the reference peer, or to the
    /// script's sink), until nothing is left.
    async fn pump(&mut self) {
        while let Ok(r) = self.rx.try_recv() {
            self.accept(r);
        }
        let now = self.clock.now();
        if let Some(due) = self
            .reference
            .as_ref()
            .and_then(Endpoint::poll_timeout)
            .filter(|t| *t <= now)
        {
            self.note_lateness(now.saturating_duration_since(due), false);
            if let Some(peer) = &mut self.reference {
                peer.handle_timeout(now);
            }
        }
        if let Some(due) = self.link.next_time().filter(|t| *t <= now) {
            self.note_lateness(now.saturating_duration_since(due), false);
        }
        loop {
            let mut progress = false;
            if let Some(peer) = &mut self.reference {
                while let Some(t) = peer.poll_transmit() {
                    self.link
                        .send(now, self.primary, t.destination, t.payload, false);
                    progress = true;
                }
                while let Some(event) = peer.poll_event() {
                    if let handshake_mediastream_endpoint::Event::Ended { metrics, .. } = event {
                        self.peer_ended.get_or_insert(*metrics);
                    }
                }
            }
            loop {
                let (sockets, iut) = (&self.sockets, self.iut);
                let Some(d) = self
                    .link
                    .pop_due(now, |to| sockets.contains_key(&to) || Some(to) == iut)
                else {
                    break;
                };
                progress = true;
                if self.sockets.contains_key(&d.to) {
                    if d.to == self.primary {
                        if let Some(peer) = &mut self.reference {
                            peer.handle_datagram(now, d.from, &d.payload);
                        }
                    }
                    // Other harness sockets are the script's: what they get is read from the trace.
                } else if let Some(socket) = self.sockets.get(&d.from) {
                    let sent = match self.connect_to {
                        Some(_) => socket.send(&d.payload).await,
                        None => socket.send_to(&d.payload, d.to).await,
                    };
                    match sent {
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                            self.refused = true
                        }
                        Err(_) => self.send_errors += 1,
                    }
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// Reads the sockets for `time` into the link without delivering anything.
    async fn drain_sockets(&mut self, time: Duration) {
        let until = tokio::time::Instant::now() + time;
        while let Ok(Some(r)) = tokio::time::timeout_at(until, self.rx.recv()).await {
            self.accept(r);
        }
    }

    /// Runs until `deadline`, or until `stop` holds (checked after every wake-up).
    async fn run_until(&mut self, deadline: Instant, stop: &dyn Fn(&Net) -> bool) {
        loop {
            self.pump().await;
            if stop(self) || self.refused || self.interrupted {
                return;
            }
            let now = self.clock.now();
            if now >= deadline {
                return;
            }
            let wake = [
                self.link.next_time(),
                self.reference.as_ref().and_then(Endpoint::poll_timeout),
                Some(deadline),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(deadline)
            .max(now);
            let sleep = tokio::time::sleep_until(self.clock.to_tokio(wake));
            let exit_open = self.exit.as_ref().is_some_and(|e| e.borrow().is_none());
            let exit = &mut self.exit;
            let interrupted = &mut self.interrupted;
            let event = tokio::select! {
                () = crate::interrupt::signalled() => {
                    *interrupted = true;
                    Wake::Timer
                }
                r = self.rx.recv() => Wake::Received(r),
                () = sleep => Wake::Timer,
                changed = async {
                    match exit {
                        Some(e) => e.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                }, if exit_open => Wake::Exit(changed),
            };
            match event {
                Wake::Received(Some(r)) => self.accept(r),
                Wake::Received(None) | Wake::Timer => {}
                Wake::Exit(false) => self.exit = None,
                Wake::Exit(true) => {}
            }
        }
    }

    fn timing(&self) -> Timing {
        Timing {
            tolerance_ms: self.tolerance.as_secs_f64() * 1e3,
            slack_ms: (self.tolerance + self.worst_lateness).as_secs_f64() * 1e3,
            kernel_receive_stamps: self.stamped,
            harness_read_delay: Latency::of(&self.read_delays),
            harness_timer_lateness: Latency::of(&self.timer_lateness),
        }
    }
}

impl Driver for Net {
    fn now(&self) -> Instant {
        self.clock.now()
    }
    fn trace(&self) -> &[LinkEvent] {
        self.link.trace()
    }
    fn iut(&self) -> Option<SocketAddr> {
        self.iut
    }
    fn slack(&self) -> Duration {
        self.tolerance + self.worst_lateness
    }
    fn iut_gone(&self) -> Option<String> {
        if self.interrupted {
            return Some("the run was interrupted".into());
        }
        if self.refused {
            return Some(unreachable_reason(self.iut));
        }
        self.responder_gone()
            .map(|e| format!("the IUT ended ({}) at {:.3} ms", e.describe(), at_ms(e.at)))
    }
    fn fault_rule(&self, id: u32, spec: &FaultSpec) -> FaultRule {
        fault_rule_rt(id, spec, self.primary)
    }
    fn add_rule(&mut self, rule: FaultRule) -> Result<(), String> {
        self.link.add_rule(rule).map_err(|e| format!("{e:?}"))
    }
    async fn peer_address(&mut self, port: Option<u16>) -> Result<SocketAddr, String> {
        self.port(port).await
    }
    async fn inject(&mut self, from: SocketAddr, payload: Vec<u8>) -> Result<DatagramId, String> {
        let Some(iut) = self.iut else {
            return Err("the IUT's address is not known: it has sent nothing".into());
        };
        let id = self.link.send(self.clock.now(), from, iut, payload, true);
        self.pump().await;
        Ok(id)
    }
    async fn collect(&mut self) {
        self.pump().await;
    }
    async fn advance(&mut self, deadline: Instant, wake_on_iut: bool) -> bool {
        if self.clock.now() >= deadline || self.refused || self.interrupted {
            return false;
        }
        let len = self.link.trace().len();
        self.run_until(deadline, &|net: &Net| {
            wake_on_iut && (net.link.trace().len() > len || net.responder_gone().is_some())
        })
        .await;
        true
    }
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
fn fault_rule_rt(id: u32, spec: &FaultSpec, peer: SocketAddr) -> FaultRule {
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

/// A UDP port on `ip` that was free a moment ago.
fn free_port(ip: IpAddr) -> std::io::Result<u16> {
    Ok(std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?
        .local_addr()?
        .port())
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

fn quote(argv: &[String]) -> String {
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
enum Ending {
    /// The steps and the settle phase ran: judge.
    Ran,
    /// The IUT never became ready: fail with this reason.
    NotReady(String),
    /// Could not run (would not start, bad template …).
    Error(String),
}

/// Runs one scenario in real time; never waits without a deadline.
pub(super) async fn run(r: Run<'_>) -> ScenarioOutcome {
    let scenario = r.scenario;
    let role = scenario.iut.role;
    let config = scenario.stream;
    let clock = Clock::start();
    let mut markers: Vec<(Instant, String)> = Vec::new();
    let mut script = Script::default();

    let (bind_ip, connect_to) = match &r.target {
        Target::Running(a) if !a.ip().is_loopback() => (source_ip_towards(*a), Some(*a)),
        Target::Running(a) => (a.ip(), Some(*a)),
        Target::Spawn { .. } => (IpAddr::V4(Ipv4Addr::LOCALHOST), None),
    };
    let link = VirtualLink::new(LinkConfig::with_seed(r.seed)).with_classifier(kind_name);
    let mut net = match Net::new(clock, link, bind_ip, role, connect_to, r.tolerance).await {
        Ok(n) => n,
        Err(e) => {
            return ScenarioOutcome::error(
                scenario,
                r.name,
                format!("cannot open a UDP socket on {bind_ip}: {e}"),
            )
        }
    };
    for (i, f) in scenario.faults.iter().enumerate() {
        if let Err(e) = net
            .link
            .add_rule(fault_rule_rt(i as u32 + 1, f, net.primary))
        {
            return ScenarioOutcome::error(scenario, r.name, format!("faults: {e:?}"));
        }
    }
    let peer_profile = match scenario
        .peer
        .reference
        .as_deref()
        .map(Profile::parse)
        .transpose()
    {
        Ok(p) => p,
        Err(e) => return ScenarioOutcome::error(scenario, r.name, format!("peer: {e}")),
    };
    // A reference responder waits for the initiator IUT's first datagram, so it exists first.
    if let (Role::Initiator, Some(profile)) = (role, peer_profile) {
        match Responder::new(profile, scenario.peer_stream(), r.seed ^ 0x5eed) {
            Ok(p) => net.reference = Some(Peer::Responder(p)),
            Err(e) => return ScenarioOutcome::error(scenario, r.name, format!("peer: {e}")),
        }
    }

    let mut process: Option<Process> = None;
    let mut unsupported_code = None;
    let mut grace = ms(500);
    let ending = async {
        // Start the IUT (or take the running one) and wait until it is ready; the script clock
        // starts then (responder) or at the initiator's first datagram.
        let origin = match &r.target {
            Target::Running(a) => {
                net.iut = Some(*a);
                clock.now()
            }
            Target::Spawn {
                manifest,
                argv,
                cwd,
            } => {
                unsupported_code = Some(manifest.unsupported_exit_code);
                grace = ms(manifest.kill_grace_ms);
                let addr = match role {
                    Role::Responder => match free_port(bind_ip) {
                        Ok(port) => SocketAddr::new(bind_ip, port),
                        Err(e) => return Ending::Error(format!("cannot find a free port: {e}")),
                    },
                    Role::Initiator => net.primary,
                };
                let words = match argv(addr) {
                    Ok(w) => w,
                    Err(e) => return Ending::Error(format!("IUT command: {e}")),
                };
                let p = match Process::spawn(&words, cwd.as_ref(), &manifest.env, clock) {
                    Ok(p) => p,
                    Err(e) => return Ending::Error(e),
                };
                markers.push((
                    clock.now(),
                    format!("IUT started (pid {}): {}", p.pid, quote(&words)),
                ));
                net.exit = Some(p.exit_watch());
                let p = process.insert(p);
                match role {
                    Role::Responder => {
                        net.iut = Some(addr);
                        match wait_ready(manifest, p, addr, clock, &mut markers).await {
                            Ok(()) => clock.now(),
                            Err(ending) => return ending,
                        }
                    }
                    Role::Initiator => {
                        let started = clock.now();
                        let wait = ms(manifest.startup_timeout_ms);
                        net.run_until(started + wait, &|n: &Net| {
                            n.iut.is_some() || n.exited().is_some()
                        })
                        .await;
                        let first = net.link.trace().iter().find_map(|e| match e {
                            LinkEvent::Sent {
                                at,
                                from,
                                injected: false,
                                ..
                            } if Some(*from) == net.iut => Some(*at),
                            _ => None,
                        });
                        match (first, net.exited()) {
                            (Some(at), _) => {
                                markers.push((
                                    at,
                                    format!(
                                        "script clock starts: the IUT's first datagram, {:.3} ms after its start",
                                        at_ms(at) - at_ms(started)
                                    ),
                                ));
                                at
                            }
                            (None, Some(exit)) if exit.code == Some(manifest.unsupported_exit_code) => {
                                return Ending::Ran
                            }
                            (None, Some(exit)) => {
                                return Ending::NotReady(format!(
                                    "the IUT ended ({}) before it sent anything",
                                    exit.describe()
                                ))
                            }
                            (None, None) => {
                                return Ending::NotReady(format!(
                                    "the IUT sent nothing within startup_timeout_ms = {} ms of its start",
                                    wait.as_millis()
                                ))
                            }
                        }
                    }
                }
            }
        };

        // A reference initiator starts once the responder IUT is ready.
        if let (Role::Responder, Some(profile)) = (role, peer_profile) {
            let Some(iut) = net.iut else {
                return Ending::Error("no IUT address".into());
            };
            match Initiator::new(profile, scenario.peer_stream(), iut) {
                Ok(mut i) => {
                    i.connect(clock.now());
                    net.reference = Some(Peer::Initiator(i));
                }
                Err(e) => return Ending::Error(format!("peer: {e}")),
            }
        }

        run_steps(&mut net, &mut script, scenario, origin).await;
        if net.refused {
            return Ending::Error(unreachable_reason(net.iut));
        }
        if net.interrupted {
            return Ending::Ran;
        }

        // Let the stream run to its end: a reference initiator finishes; an initiator IUT exits.
        let end = clock.now() + ms(scenario.settle_ms) + r.tolerance;
        match role {
            Role::Responder if net.reference.is_some() => {
                net.run_until(end, &|n: &Net| {
                    n.reference_finished() || n.responder_gone().is_some()
                })
                .await;
            }
            Role::Responder => {}
            Role::Initiator if net.exit.is_some() => {
                net.run_until(end, &|n: &Net| n.exited().is_some()).await;
                // Push: the reference responder receives; its session ends once the stream is in.
                if config.direction == handshake_mediastream_endpoint::Direction::Push
                    && net.reference.is_some()
                {
                    let buffer = config.frame_offset(config.initial_buffer_frames());
                    let until = clock.now() + buffer + ms(100);
                    net.run_until(until, &|n: &Net| n.peer_ended.is_some()).await;
                }
            }
            Role::Initiator => {}
        }
        // As in virtual time, the run ends here: what the IUT already sent is taken in, nothing more
        // is delivered.
        net.drain_sockets(COLLECT).await;
        if net.refused {
            return Ending::Error(unreachable_reason(net.iut));
        }
        Ending::Ran
    }
    .await;

    // The initiator's verdict is its exit status within the deadline, read before the harness ends it.
    let exit_in_time = process.as_ref().and_then(Process::exited);
    if let Some(p) = &mut process {
        p.shut_down(grace, clock).await;
    }
    let (exit, output, signals) = match &process {
        Some(p) => (p.exited(), Some(p.output()), p.signals_sent.clone()),
        None => (None, None, Vec::new()),
    };
    drop(process);

    // The process's part of the transcript.
    if let Some(e) = exit {
        markers.push((e.at, format!("IUT ended: {}", e.describe())));
    }
    for (at, s) in &signals {
        markers.push((*at, format!("harness sent {s} to the IUT's process group")));
    }
    if let Some(o) = &output {
        for (at, stream, line) in &o.lines {
            markers.push((*at, format!("IUT {}: {line}", stream.name())));
        }
        for (i, s) in [Stream::Stdout, Stream::Stderr].iter().enumerate() {
            if o.dropped[i] > 0 {
                markers.push((
                    clock.now(),
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
    let unsupported =
        exit.filter(|e| e.code.is_some() && e.code == unsupported_code && signals.is_empty());
    let stderr_tail = output.as_ref().and_then(|o| {
        o.text(Stream::Stderr)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::to_owned)
    });

    if let Some(e) = unsupported {
        let mut o = ScenarioOutcome::unsupported(
            scenario,
            r.name,
            format!(
                "the IUT exited with {} (unsupported){}",
                e.code.unwrap_or_default(),
                stderr_tail
                    .as_ref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
        );
        o.transcript = transcript(&[], &[], net.primary, &markers);
        return o;
    }

    let not_ready = match ending {
        Ending::Error(why) => {
            let mut o = ScenarioOutcome::error(scenario, r.name, why);
            o.iut_unreachable = net.refused;
            if let Some(t) = &stderr_tail {
                o.reasons.push(format!("IUT stderr: {t}"));
            }
            o.transcript = transcript(&[], &[], net.primary, &markers);
            return o;
        }
        Ending::NotReady(why) => Some(why),
        Ending::Ran => None,
    };

    // The capture as the IUT saw it, checked as in virtual time.
    let viewpoint = net.iut.unwrap_or(SocketAddr::new(bind_ip, 0));
    // An initiator IUT that exited saw nothing after that: its capture ends there (as a virtual run
    // ends when the initiator finishes).
    let cut = match role {
        Role::Initiator => exit_in_time.map(|e| e.at),
        Role::Responder => None,
    };
    // What the link still holds never arrived: record it (at the last moment seen), so no traffic is lost.
    let end = net
        .link
        .trace()
        .iter()
        .map(LinkEvent::at)
        .max()
        .unwrap_or_default();
    net.link.end_run(end);
    let trace: Vec<LinkEvent> = net
        .link
        .trace()
        .iter()
        .filter(|e| cut.is_none_or(|c| e.at() <= c))
        .cloned()
        .collect();
    let annotations = script.annotations.clone();
    let annotate = move |id: handshake_net::DatagramId| annotations.get(&id).cloned();
    let options = handshake_capture::TraceOptions {
        annotate: Some(&annotate),
        not_delivered_delay_ns: net.link.config().latency_ms.saturating_mul(1_000_000),
        ..handshake_capture::TraceOptions::default()
    };
    let capture = match write_capture(&trace, viewpoint, &options) {
        Ok(c) => c,
        Err(e) => return ScenarioOutcome::error(scenario, r.name, format!("capture: {e}")),
    };
    let responder_profile = match role {
        Role::Responder => r.launch.checker_profile(),
        Role::Initiator => peer_profile.unwrap_or(Profile::new(ProfileKind::ThreeWay)),
    };
    let defaults = CheckOptions::default();
    let check = CheckOptions {
        responder: Some(match role {
            Role::Responder => viewpoint,
            Role::Initiator => net.primary,
        }),
        tolerance: defaults.tolerance.max(r.tolerance),
        ..CheckOptions::for_stream(responder_profile, &config)
    };
    let verdict = match check_capture(&capture, None, check) {
        Ok(v) => v,
        Err(e) => return ScenarioOutcome::error(scenario, r.name, format!("checker: {e}")),
    };
    markers.extend(std::mem::take(&mut script.markers));
    let lines = transcript(&capture, &[], viewpoint, &markers);

    // The receiver's metrics are known when the reference peer receives: a reference initiator in
    // pull, a reference responder in push. An initiator IUT's completion is its exit code 0 within
    // the deadline.
    let pushing = config.direction == handshake_mediastream_endpoint::Direction::Push;
    let (media_metrics, initiator_complete) = match role {
        Role::Responder => match net.reference.as_ref().and_then(Peer::as_initiator) {
            Some(i) => (
                (!pushing).then(|| i.metrics().clone()),
                Some(i.phase() == Phase::Finished && i.metrics().failure.is_none()),
            ),
            None => (None, None),
        },
        Role::Initiator => (
            pushing.then(|| net.peer_ended.clone()).flatten(),
            Some(exit_in_time.is_some_and(|e| e.code == Some(0))),
        ),
    };
    let mut step_failures = std::mem::take(&mut script.failures);
    if let Some(why) = &not_ready {
        step_failures.insert(0, why.clone());
    }
    if let (Role::Responder, Some(e)) = (role, exit_in_time.filter(|e| e.code != Some(0))) {
        step_failures.push(format!(
            "the IUT ended ({}) at {:.3} ms, before the scenario did",
            e.describe(),
            at_ms(e.at)
        ));
    }
    let observed = Observed {
        media_metrics,
        initiator_complete,
        iut_drops: None,
        step_failures,
        ..Observed::from_check(&verdict.report)
    };
    let mut outcome = judge(scenario, r.name, observed, lines, capture);
    outcome.timing = Some(net.timing());
    outcome.interrupted = net.interrupted;
    // A running responder that failed a scenario without sending a single datagram is not there
    // (or not reachable): say so once, and the other scenarios against it are not tried.
    let heard = net.link.trace().iter().any(
        |e| matches!(e, LinkEvent::Sent { from, injected: false, .. } if Some(*from) == net.iut),
    );
    if let (Target::Running(addr), Verdict::Fail, false) = (&r.target, outcome.verdict, heard) {
        outcome.iut_unreachable = true;
        outcome.reasons.insert(
            0,
            format!("{addr} never answered: is the responder running there, reachable, and started with the scenarios' stream parameters?"),
        );
    }
    if let Some(why) = not_ready {
        // Only the startup failure matters: the rest follows from it.
        outcome.verdict = Verdict::Fail;
        outcome.reasons = vec![why];
    }
    // A process that ended on its own may say why.
    if let (Verdict::Fail, Some(e), true) = (outcome.verdict, exit, signals.is_empty()) {
        outcome
            .reasons
            .push(format!("IUT: {} at {:.3} ms", e.describe(), at_ms(e.at)));
        if let (Some(t), false) = (&stderr_tail, e.code == Some(0)) {
            outcome.reasons.push(format!("IUT stderr (last line): {t}"));
        }
    }
    outcome
}

/// Waits until a responder IUT is ready (the manifest's `ready`), at most its startup timeout.
async fn wait_ready(
    manifest: &Manifest,
    p: &Process,
    addr: SocketAddr,
    clock: Clock,
    markers: &mut Vec<(Instant, String)>,
) -> Result<(), Ending> {
    let started = clock.now();
    let (wait, what) = match &manifest.ready {
        Ready::ListenPort => (
            ms(manifest.startup_timeout_ms),
            format!("listening on {addr}"),
        ),
        Ready::Output(text) => (ms(manifest.startup_timeout_ms), format!("printed {text:?}")),
        Ready::DelayMs(d) => (
            ms(manifest.startup_timeout_ms.max(d + 100)),
            format!("{d} ms after the start"),
        ),
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
        let ready = match &manifest.ready {
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

fn write_capture(
    trace: &[LinkEvent],
    viewpoint: SocketAddr,
    options: &handshake_capture::TraceOptions<'_>,
) -> Result<Vec<u8>, String> {
    let mut writer =
        handshake_capture::CaptureWriter::new(Vec::new()).map_err(|e| e.to_string())?;
    handshake_capture::write_trace(trace, viewpoint, options, &mut writer)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}
