//! The real-time counterpart of the engine's `run_virtual`: the harness plays the peer (a reference
//! endpoint and/or the script) on UDP sockets of its own, and every datagram in both directions goes
//! through a [`VirtualLink`] driven by the real clock, so the scenario's faults apply and the link's
//! trace becomes the capture, exactly as in virtual time.
//!
//! ```text
//!   IUT process  <--UDP-->  harness socket --recv--> link.send(from IUT) --> due --> reference peer / script
//!                <--UDP---  harness socket <--send-- due <-- link.send(to IUT) <-- reference peer / script
//! ```
//!
//! Steps have the engine's semantics (ordered expects, variables, annotations) with windows widened
//! by the tolerance: an `expect` matches what the IUT sent up to `within_ms + tolerance` after the
//! step started; an `expect_none` waits `for_ms` but counts only what the IUT sent in the first
//! `for_ms − min(tolerance, for_ms / 2)` (a late timer of the harness must not blame the IUT). Every
//! wait ends at a deadline.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use handshake_check::{check_capture, CheckOptions};
use handshake_endpoint::mediastream::{Initiator, Peer, Phase, Profile, ProfileKind, Responder};
use handshake_endpoint::{Endpoint, Instant};
use handshake_run::udp::{Clock, MAX_DATAGRAM};
use handshake_run::{FaultRule, LinkConfig, LinkEvent, VirtualLink};
use handshake_wire::mediastream::kind_name;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::manifest::{Launch, Manifest, Ready};
use super::process::{Exit, Process, Stream, OUTPUT_LIMIT};
use crate::engine::{
    decoded, fault_label, fault_rule, step_label, transcript, Script, INITIATOR, RESPONDER,
};
use crate::model::{ExpectNoneStep, ExpectStep, FaultSpec, Role, Scenario, Step};
use crate::outcome::{judge, Observed, ScenarioOutcome, Verdict};

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
struct Received {
    local: SocketAddr,
    from: SocketAddr,
    at: Instant,
    payload: Vec<u8>,
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
    tx: mpsc::UnboundedSender<Received>,
    rx: mpsc::UnboundedReceiver<Received>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The IUT's address: known for a responder, learnt from the first datagram of an initiator.
    iut: Option<SocketAddr>,
    role: Role,
    reference: Option<Peer>,
    exit: Option<watch::Receiver<Option<Exit>>>,
    send_errors: u64,
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
            tx,
            rx,
            tasks: Vec::new(),
            iut: None,
            role,
            reference: None,
            exit: None,
            send_errors: 0,
        };
        net.primary = net.add_socket().await?;
        Ok(net)
    }

    async fn add_socket(&mut self) -> std::io::Result<SocketAddr> {
        let socket = Arc::new(UdpSocket::bind(SocketAddr::new(self.bind_ip, 0)).await?);
        let local = socket.local_addr()?;
        let (tx, clock, s) = (self.tx.clone(), self.clock, Arc::clone(&socket));
        self.tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                match s.recv_from(&mut buf).await {
                    Ok((len, from)) => {
                        let payload = buf.get(..len).unwrap_or_default().to_vec();
                        if tx
                            .send(Received {
                                local,
                                from,
                                at: clock.now(),
                                payload,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    // ICMP errors (port unreachable) surface here on some systems: not a datagram.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionRefused
                                | std::io::ErrorKind::ConnectionReset
                                | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(_) => break,
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

    fn accept(&mut self, r: Received) {
        if self.iut.is_none() && self.role == Role::Initiator {
            self.iut = Some(r.from);
        }
        self.link.send(r.at, r.from, r.local, r.payload, false);
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
        if let Some(peer) = &mut self.reference {
            if peer.poll_timeout().is_some_and(|t| t <= now) {
                peer.handle_timeout(now);
            }
        }
        loop {
            let mut progress = false;
            if let Some(peer) = &mut self.reference {
                while let Some(t) = peer.poll_transmit() {
                    self.link
                        .send(now, self.primary, t.destination, t.payload, false);
                    progress = true;
                }
                while peer.poll_event().is_some() {}
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
                    if socket.send_to(&d.payload, d.to).await.is_err() {
                        self.send_errors += 1;
                    }
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// Reads the sockets for `time` into the link without delivering anything.
    async fn collect(&mut self, time: Duration) {
        let until = tokio::time::Instant::now() + time;
        while let Ok(Some(r)) = tokio::time::timeout_at(until, self.rx.recv()).await {
            self.accept(r);
        }
    }

    /// Runs until `deadline`, or until `stop` holds (checked after every wake-up).
    async fn run_until(&mut self, deadline: Instant, stop: &dyn Fn(&Net) -> bool) {
        loop {
            self.pump().await;
            if stop(self) {
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
            let event = tokio::select! {
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
fn port_bound(port: u16) -> Option<bool> {
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
    let tol = r.tolerance;
    let clock = Clock::start();
    let mut markers: Vec<(Instant, String)> = Vec::new();
    let mut script = Script::default();

    let bind_ip = match &r.target {
        Target::Running(a) if !a.ip().is_loopback() => source_ip_towards(*a),
        Target::Running(a) => a.ip(),
        Target::Spawn { .. } => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let link = VirtualLink::new(LinkConfig::with_seed(r.seed)).with_classifier(kind_name);
    let mut net = match Net::new(clock, link, bind_ip, role).await {
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

    let mut process: Option<Process> = None;
    let mut unsupported_code = None;
    let mut grace = ms(500);
    let ending = async {
        // Start the IUT (or take the running one) and wait until it is ready.
        match &r.target {
            Target::Running(a) => net.iut = Some(*a),
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
                if role == Role::Responder {
                    net.iut = Some(addr);
                    let started = clock.now();
                    let (wait, what) = match &manifest.ready {
                        Ready::ListenPort => (
                            ms(manifest.startup_timeout_ms),
                            format!("listening on {addr}"),
                        ),
                        Ready::Output(text) => {
                            (ms(manifest.startup_timeout_ms), format!("printed {text:?}"))
                        }
                        Ready::DelayMs(d) => (
                            ms(manifest.startup_timeout_ms.max(d + 100)),
                            format!("{d} ms after the start"),
                        ),
                    };
                    loop {
                        if let Some(exit) = p.exited() {
                            if exit.code == Some(manifest.unsupported_exit_code) {
                                // Judged as unsupported below, from the exit code.
                                return Ending::Ran;
                            }
                            return Ending::Error(format!(
                                "the IUT ended ({}) before it was ready ({what})",
                                exit.describe()
                            ));
                        }
                        let elapsed = clock.now().saturating_duration_since(started);
                        let ready = match &manifest.ready {
                            Ready::ListenPort => {
                                port_bound(addr.port()).unwrap_or(elapsed >= ms(200))
                            }
                            Ready::Output(text) => p.printed(text),
                            Ready::DelayMs(d) => elapsed >= ms(*d),
                        };
                        if ready {
                            markers.push((clock.now(), format!("IUT ready: {what}")));
                            break;
                        }
                        if elapsed >= wait {
                            return Ending::NotReady(format!(
                                "the IUT was not ready ({what}) within {} ms",
                                wait.as_millis()
                            ));
                        }
                        let _ = tokio::time::timeout(ms(5), p.line_read.notified()).await;
                    }
                }
            }
        }

        // The reference peer.
        let peer_profile = match scenario
            .peer
            .reference
            .as_deref()
            .map(Profile::parse)
            .transpose()
        {
            Ok(p) => p,
            Err(e) => return Ending::Error(format!("peer: {e}")),
        };
        if let Some(profile) = peer_profile {
            let peer = match role {
                Role::Responder => {
                    let Some(iut) = net.iut else {
                        return Ending::Error("no IUT address".into());
                    };
                    match Initiator::new(profile, config, iut) {
                        Ok(mut i) => {
                            i.connect(clock.now());
                            Peer::Initiator(i)
                        }
                        Err(e) => return Ending::Error(format!("peer: {e}")),
                    }
                }
                Role::Initiator => match Responder::new(profile, config, r.seed ^ 0x5eed) {
                    Ok(p) => Peer::Responder(p),
                    Err(e) => return Ending::Error(format!("peer: {e}")),
                },
            };
            net.reference = Some(peer);
        }

        run_steps(&mut net, &mut script, scenario, tol).await;

        // Let the stream run to its end: a reference initiator finishes; an initiator IUT exits.
        let end = clock.now() + ms(scenario.settle_ms) + tol;
        match role {
            Role::Responder if net.reference.is_some() => {
                net.run_until(end, &|n: &Net| {
                    n.reference_finished() || n.responder_gone().is_some()
                })
                .await;
            }
            Role::Responder => {}
            Role::Initiator if net.exit.is_some() => {
                net.run_until(end, &|n: &Net| n.exited().is_some()).await
            }
            Role::Initiator => {}
        }
        // As in virtual time, the run ends here: what the IUT already sent is taken in, nothing more
        // is delivered.
        net.collect(COLLECT).await;
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
        .last()
        .map(LinkEvent::at)
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
    let annotate = move |id: handshake_run::DatagramId| annotations.get(&id).cloned();
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
        Role::Initiator => scenario
            .peer
            .reference
            .as_deref()
            .and_then(|p| Profile::parse(p).ok())
            .unwrap_or(Profile::new(ProfileKind::ThreeWay)),
    };
    let defaults = CheckOptions::default();
    let check = CheckOptions {
        profile: responder_profile,
        responder: Some(match role {
            Role::Responder => viewpoint,
            Role::Initiator => net.primary,
        }),
        frame_size: config.frame_size().ok(),
        frames: Some(config.frames()),
        max_datagram: u64::from(config.datagram_byte_size),
        verify_payload: config.verify == handshake_endpoint::mediastream::Verify::Data,
        tolerance: defaults.tolerance.max(tol),
    };
    let verdict = match check_capture(&capture, None, check) {
        Ok(v) => v,
        Err(e) => return ScenarioOutcome::error(scenario, r.name, format!("checker: {e}")),
    };
    markers.extend(std::mem::take(&mut script.markers));
    let lines = transcript(&capture, &[], viewpoint, &markers);

    let (initiator_metrics, initiator_complete) = match role {
        Role::Responder => match net.reference.as_ref().and_then(Peer::as_initiator) {
            Some(i) => (
                Some(i.metrics().clone()),
                Some(i.phase() == Phase::Finished && i.metrics().failure.is_none()),
            ),
            None => (None, None),
        },
        // Its own receive side cannot be seen: no metrics; "complete" is exit code 0 within the deadline.
        Role::Initiator => (None, Some(exit_in_time.is_some_and(|e| e.code == Some(0)))),
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
        initiator_metrics,
        initiator_complete,
        iut_drops: None,
        step_failures,
        ..Observed::from_check(&verdict.report)
    };
    let mut outcome = judge(scenario, r.name, observed, lines, capture);
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

/// The steps, with the engine's semantics in real time.
async fn run_steps(net: &mut Net, script: &mut Script, scenario: &Scenario, tol: Duration) {
    let config = scenario.stream;
    let mut next_rule = scenario.faults.len() as u32 + 1;
    let mut seen = 0usize;
    for (n, step) in scenario.peer.steps.iter().enumerate() {
        let n = n + 1;
        if let Some(e) = net.responder_gone() {
            script.failures.push(format!(
                "step {n}: the IUT had ended ({}) at {:.3} ms",
                e.describe(),
                at_ms(e.at)
            ));
            break;
        }
        net.pump().await;
        let start = net.clock.now();
        let result = match step {
            Step::Send(send) => match script.build(&send.datagram, &config, start) {
                Err(e) => Err(e),
                Ok(datagrams) => {
                    script
                        .markers
                        .push((start, format!("step {n}: send {}", step_label(step))));
                    match (net.iut, net.port(send.from_port).await) {
                        (None, _) => {
                            Err("the IUT's address is not known yet: it has sent nothing"
                                .to_owned())
                        }
                        (_, Err(e)) => Err(e),
                        (Some(iut), Ok(from)) => {
                            for _ in 0..send.times.max(1) {
                                for mut bytes in datagrams.clone() {
                                    if let Some(len) = send.truncate_to {
                                        bytes.truncate(len);
                                    }
                                    let id = net.link.send(start, from, iut, bytes, true);
                                    script.annotations.insert(id, format!("step {n}"));
                                }
                            }
                            net.pump().await;
                            Ok(())
                        }
                    }
                }
            },
            Step::Wait(w) => {
                script
                    .markers
                    .push((start, format!("step {n}: wait {} ms", w.ms)));
                net.run_until(start + ms(w.ms), &|_| false).await;
                Ok(())
            }
            Step::Fault(spec) => {
                script
                    .markers
                    .push((start, format!("step {n}: fault {}", fault_label(spec))));
                let rule = fault_rule_rt(next_rule, spec, net.primary);
                next_rule += 1;
                net.link.add_rule(rule).map_err(|e| format!("{e:?}"))
            }
            Step::Expect(e) => {
                script.markers.push((
                    start,
                    format!("step {n}: expect {} within {} ms", e.kind, e.within_ms),
                ));
                match net.port(e.to_port).await {
                    Ok(to) => expect(net, script, &mut seen, to, e, n, tol).await,
                    Err(why) => Err(why),
                }
            }
            Step::ExpectNone(e) => {
                script.markers.push((
                    start,
                    format!("step {n}: expect no {} for {} ms", e.kind, e.for_ms),
                ));
                let to = match e.to_port {
                    Some(p) => net.port(Some(p)).await.map(Some),
                    None => Ok(None),
                };
                match to {
                    Ok(to) => expect_none(net, script, to, e, n, tol).await,
                    Err(why) => Err(why),
                }
            }
        };
        if let Err(why) = result {
            script.failures.push(if why.starts_with("step ") {
                why
            } else {
                format!("step {n}: {why}")
            });
            break;
        }
    }
}

/// Waits for a matching datagram from the IUT, searching on from the one the previous `expect`
/// matched, up to `within_ms` + tolerance.
async fn expect(
    net: &mut Net,
    script: &mut Script,
    seen: &mut usize,
    to: SocketAddr,
    e: &ExpectStep,
    n: usize,
    tol: Duration,
) -> Result<(), String> {
    let deadline = net.clock.now() + ms(e.within_ms) + tol;
    let mut scan = *seen;
    loop {
        if let Some(iut) = net.iut {
            for (i, at, payload) in crate::engine::iut_sent(net.link.trace(), iut, Some(to), scan) {
                scan = i + 1;
                let d = decoded(&payload);
                if at <= deadline && script.matches(&e.kind, &e.fields, &d, &e.capture) {
                    *seen = i + 1;
                    if let Some(event) = net.link.trace().get(i) {
                        script
                            .annotations
                            .entry(event.id())
                            .or_insert_with(|| format!("step {n}"));
                    }
                    return Ok(());
                }
            }
        }
        if net.clock.now() >= deadline {
            let fields = serde_json::to_string(&e.fields).unwrap_or_default();
            return Err(format!(
                "step {n}: no {} {} from the IUT within {} ms (+{} ms tolerance)",
                e.kind,
                fields,
                e.within_ms,
                tol.as_millis()
            ));
        }
        if let Some(x) = net.responder_gone() {
            return Err(format!(
                "step {n}: the IUT ended ({}) at {:.3} ms while the step waited for {}",
                x.describe(),
                at_ms(x.at),
                e.kind
            ));
        }
        let len = net.link.trace().len();
        net.run_until(deadline, &|net: &Net| {
            net.link.trace().len() > len || net.responder_gone().is_some()
        })
        .await;
    }
}

/// The IUT must send no matching datagram for `for_ms` (only what it sent in the first
/// `for_ms − min(tolerance, for_ms / 2)` counts).
async fn expect_none(
    net: &mut Net,
    script: &mut Script,
    to: Option<SocketAddr>,
    e: &ExpectNoneStep,
    n: usize,
    tol: Duration,
) -> Result<(), String> {
    let start = net.clock.now();
    let end = start + ms(e.for_ms);
    let counted_until = end.saturating_sub(tol.min(ms(e.for_ms) / 2));
    let mut scan = net.link.trace().len();
    loop {
        if let Some(iut) = net.iut {
            for (i, at, payload) in crate::engine::iut_sent(net.link.trace(), iut, to, scan) {
                scan = i + 1;
                let d = decoded(&payload);
                if at >= start
                    && at <= counted_until
                    && script.matches(&e.kind, &e.fields, &d, &BTreeMap::new())
                {
                    return Err(format!("step {n}: the IUT sent {d} at {:.3} ms", at_ms(at)));
                }
            }
        }
        if net.clock.now() >= end {
            return Ok(());
        }
        let len = net.link.trace().len();
        net.run_until(end, &|net: &Net| net.link.trace().len() > len)
            .await;
    }
}
