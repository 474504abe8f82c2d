//! A [`VirtualLink`] driven by the real clock between a process under test and the harness's own
//! UDP sockets, so the same fault rules apply as in virtual time and the link's trace becomes the
//! capture.
//!
//! ```text
//!   IUT process  <--UDP-->  harness socket --recv--> link.send(from IUT) --> due --> peer endpoint / script
//!                <--UDP---  harness socket <--send-- due <-- link.send(to IUT) <-- peer endpoint / script
//! ```
//!
//! The harness's side is one optional sans-I/O endpoint at its primary socket (a reference peer or
//! a family's scripted endpoint) plus datagrams the caller injects, from the primary socket or from
//! further sockets standing for other ports of the peer's host.
//!
//! Time: every datagram from the IUT is timed by the kernel's receive stamp (`SO_TIMESTAMPNS`), not
//! by when the harness got round to reading it. The link measures the harness's own lateness — how
//! long datagrams waited before it read them, and how late its timers fired (and with them the
//! endpoint's and the link's sends) — so a caller can widen its windows by it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use handshake_core::{Endpoint, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::budget::{datagram_cost, Exhausted, RunBudget, RUN_BUDGET};
use crate::process::Exit;
use crate::udp::{enable_receive_timestamps, is_transient, recv_timestamped, Clock, MAX_DATAGRAM};
use crate::{DatagramId, SimEvent, VirtualLink};

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
    /// The run's [`RunBudget`] (or the process's) was used up: what arrives is counted, not kept.
    Flooded(Exhausted),
}

enum Wake {
    Received(Option<Received>),
    Timer,
    Exit(bool),
}

/// What a real-time link could not do for the script.
#[derive(Debug, thiserror::Error)]
pub enum RealTimeError {
    /// A socket standing for a scenario port could not be opened.
    #[error("cannot open a socket for port {port}: {source}")]
    Socket {
        /// The scenario port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// A datagram cannot be sent to the IUT before it has sent one (its address is learnt).
    #[error("the IUT's address is not known: it has sent nothing")]
    IutAddressUnknown,
}

/// The harness's side of a real-time run (see the module docs).
pub struct RealTimeLink<E: Endpoint> {
    clock: Clock,
    link: VirtualLink,
    bind_ip: IpAddr,
    /// The harness's own socket (the endpoint's, and the script's default).
    primary: SocketAddr,
    sockets: BTreeMap<SocketAddr, Arc<UdpSocket>>,
    /// Scenario port numbers → the harness socket standing for them.
    ports: BTreeMap<u16, SocketAddr>,
    /// The port number the primary socket stands for.
    primary_port: u16,
    /// Sockets are connected to this address (a running IUT: ICMP errors are then reported).
    connect_to: Option<SocketAddr>,
    tx: mpsc::UnboundedSender<Received>,
    rx: mpsc::UnboundedReceiver<Received>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The IUT's address: given, or learnt from its first datagram.
    iut: Option<SocketAddr>,
    /// The IUT listens: its process ending means nothing more will come.
    iut_listens: bool,
    endpoint: Option<E>,
    events: Vec<SimEvent<E::Event>>,
    exit: Option<watch::Receiver<Option<Exit>>>,
    /// The system said nothing listens at the IUT's address.
    refused: bool,
    /// The run was interrupted (Ctrl-C): stop where it is.
    interrupted: bool,
    /// What the run keeps of what the IUT sends ([`RUN_BUDGET`] unless set), shared by the
    /// sockets' readers.
    budget: Arc<RunBudget>,
    /// The budget ran out (which one): the IUT flooded the harness, and the run stops.
    flooded: Option<Exhausted>,
    send_errors: u64,
    /// Whether every receive so far carried a kernel stamp.
    stamped: bool,
    read_delays: Vec<Duration>,
    timer_lateness: Vec<Duration>,
    /// The largest of the two so far.
    worst_lateness: Duration,
    /// Two programs talking through the harness (see [`RealTimeLink::relay_to`]).
    relay: Option<Relay>,
}

/// Programs talking through the link: an initiator, and a responder of one or more parts (each
/// its own program at its own address). The initiator reaches part `k` at harness socket
/// `routes[k].socket` (the first is the primary socket); the harness passes what it sends there on
/// to the part from the same socket, and the part's answers back to where the initiator sent from
/// (an initiator may talk to each part from a socket of its own).
#[derive(Debug, Clone, Default)]
struct Relay {
    routes: Vec<Route>,
}

#[derive(Debug, Clone, Copy)]
struct Route {
    socket: SocketAddr,
    part: SocketAddr,
    /// The initiator's address towards this part: the source of its latest datagram here.
    initiator: Option<SocketAddr>,
}

impl<E: Endpoint> Drop for RealTimeLink<E> {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl<E: Endpoint> RealTimeLink<E> {
    /// Opens the primary socket on `bind_ip` (standing for scenario port `primary_port`). With
    /// `connect_to`, every socket is connected to that address (so ICMP errors are reported).
    pub async fn new(
        clock: Clock,
        link: VirtualLink,
        bind_ip: IpAddr,
        primary_port: u16,
        connect_to: Option<SocketAddr>,
    ) -> std::io::Result<RealTimeLink<E>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut net = RealTimeLink {
            clock,
            link,
            bind_ip,
            primary: SocketAddr::new(bind_ip, 0),
            sockets: BTreeMap::new(),
            ports: BTreeMap::new(),
            primary_port,
            connect_to,
            tx,
            rx,
            tasks: Vec::new(),
            iut: None,
            iut_listens: false,
            endpoint: None,
            events: Vec::new(),
            exit: None,
            refused: false,
            interrupted: false,
            budget: RunBudget::new(RUN_BUDGET),
            flooded: None,
            send_errors: 0,
            stamped: true,
            read_delays: Vec::new(),
            timer_lateness: Vec::new(),
            worst_lateness: Duration::ZERO,
            relay: None,
        };
        net.primary = net.add_socket().await?;
        Ok(net)
    }

    async fn add_socket(&mut self) -> std::io::Result<SocketAddr> {
        let socket = bind_rotating(self.bind_ip).await?;
        if let Some(iut) = self.connect_to {
            socket.connect(iut).await?;
        }
        self.stamped &= enable_receive_timestamps(&socket);
        let socket = Arc::new(socket);
        let local = socket.local_addr()?;
        let (tx, clock, s) = (self.tx.clone(), self.clock, Arc::clone(&socket));
        let budget = Arc::clone(&self.budget);
        self.tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            // One socket's datagrams arrive in order: an arrival time computed from the kernel's
            // wall-clock stamp (which can step) never goes before the one read before it.
            let mut last_at = Instant::ZERO;
            let mut flooded = false;
            loop {
                let message = match recv_timestamped(&s, &mut buf, clock).await {
                    // Past the budget a datagram is counted and dropped: reading it costs less
                    // than leaving the kernel to queue and drop it.
                    Ok(_) if flooded => {
                        budget.turn_away();
                        continue;
                    }
                    Ok(a) => match budget.take(datagram_cost(a.len)) {
                        Ok(()) => Received::Datagram {
                            local,
                            from: a.from,
                            at: {
                                last_at = last_at.max(a.at);
                                last_at
                            },
                            read_delay: a.read_delay,
                            payload: buf.get(..a.len).unwrap_or_default().to_vec(),
                        },
                        Err(which) => {
                            flooded = true;
                            budget.turn_away();
                            Received::Flooded(which)
                        }
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

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The link (its trace, rules, configuration).
    pub fn link(&self) -> &VirtualLink {
        &self.link
    }

    /// The link, mutably (to add fault rules, to end the run).
    pub fn link_mut(&mut self) -> &mut VirtualLink {
        &mut self.link
    }

    /// The harness's own socket address.
    pub fn primary(&self) -> SocketAddr {
        self.primary
    }

    /// The harness socket standing for a scenario port (`None`, or the primary port: the primary
    /// socket), opened on first use.
    pub async fn port(&mut self, port: Option<u16>) -> Result<SocketAddr, RealTimeError> {
        match port {
            None => Ok(self.primary),
            Some(p) if p == self.primary_port => Ok(self.primary),
            Some(p) => match self.ports.get(&p) {
                Some(a) => Ok(*a),
                None => {
                    let a = self
                        .add_socket()
                        .await
                        .map_err(|source| RealTimeError::Socket { port: p, source })?;
                    self.ports.insert(p, a);
                    Ok(a)
                }
            },
        }
    }

    /// The scenario port a harness socket stands for.
    pub fn scenario_port(&self, addr: SocketAddr) -> Option<u16> {
        if addr == self.primary {
            return Some(self.primary_port);
        }
        self.ports
            .iter()
            .find_map(|(p, a)| (*a == addr).then_some(*p))
    }

    /// The port number the primary socket stands for.
    pub fn primary_port(&self) -> u16 {
        self.primary_port
    }

    /// The harness's own sockets' addresses.
    pub fn harness_addresses(&self) -> Vec<SocketAddr> {
        self.sockets.keys().copied().collect()
    }

    /// The IUT's address: the source of its first datagram.
    pub fn iut(&self) -> Option<SocketAddr> {
        self.iut
    }

    /// Sets the IUT's address (`listens`: it is a responder whose process ending ends the run).
    pub fn set_iut(&mut self, addr: SocketAddr, listens: bool) {
        self.iut = Some(addr);
        self.iut_listens = listens;
    }

    /// Makes the link a relay between programs: an initiator, and a responder whose parts listen
    /// at `parts` (one program, or several: a meeting's controller and handler). The initiator
    /// reaches part `k` at the harness socket returned at `k` (the first is the primary socket),
    /// and each part hears it from that socket. Every datagram crosses the link, its faults and
    /// its trace as `initiator ↔ part`; the first part is the IUT of the link.
    pub async fn relay_to(&mut self, parts: &[SocketAddr]) -> std::io::Result<Vec<SocketAddr>> {
        let mut relay = Relay::default();
        for (k, part) in parts.iter().enumerate() {
            let socket = if k == 0 {
                self.primary
            } else {
                self.add_socket().await?
            };
            relay.routes.push(Route {
                socket,
                part: *part,
                initiator: None,
            });
        }
        self.iut = parts.first().copied();
        let fronts = relay.routes.iter().map(|r| r.socket).collect();
        self.relay = Some(relay);
        Ok(fronts)
    }

    /// A relay's initiator: the address it sent its latest datagram to the first part from.
    pub fn relayed_initiator(&self) -> Option<SocketAddr> {
        self.relayed_initiators().first().copied()
    }

    /// Every address a relay's initiator has sent from (one per part it talked to), the first
    /// part's first.
    pub fn relayed_initiators(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = Vec::new();
        for a in self
            .relay
            .iter()
            .flat_map(|r| &r.routes)
            .filter_map(|r| r.initiator)
        {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// Puts `endpoint` at the primary socket (it gets what arrives there and sends from there).
    pub fn set_endpoint(&mut self, endpoint: E) {
        self.endpoint = Some(endpoint);
    }

    /// The endpoint at the primary socket.
    pub fn endpoint(&self) -> Option<&E> {
        self.endpoint.as_ref()
    }

    /// The endpoint at the primary socket, mutably (to give it a command).
    pub fn endpoint_mut(&mut self) -> Option<&mut E> {
        self.endpoint.as_mut()
    }

    /// The endpoint's events so far.
    pub fn events(&self) -> &[SimEvent<E::Event>] {
        &self.events
    }

    /// Watches the IUT's process: its ending is noticed at once.
    pub fn watch_exit(&mut self, exit: watch::Receiver<Option<Exit>>) {
        self.exit = Some(exit);
    }

    /// How the IUT's process ended, once it has.
    pub fn exited(&self) -> Option<Exit> {
        self.exit.as_ref().and_then(|e| *e.borrow())
    }

    /// Whether the IUT's process is watched.
    pub fn has_process(&self) -> bool {
        self.exit.is_some()
    }

    /// The IUT listens and its process has exited: nothing more will come.
    pub fn listener_gone(&self) -> Option<Exit> {
        self.exited().filter(|_| self.iut_listens)
    }

    /// The system said nothing listens at the IUT's address.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// The run was interrupted.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// The IUT sent more than the run keeps: the rest was counted, not kept, and the run stops.
    pub fn flooded(&self) -> bool {
        self.flooded.is_some()
    }

    /// Which budget the flood used up: the run's own, or the process's (shared with the runs
    /// beside it).
    pub fn flood(&self) -> Option<Exhausted> {
        self.flooded
    }

    /// Datagrams that arrived after the budget ran out (counted, not kept).
    pub fn turned_away(&self) -> u64 {
        self.budget.turned_away()
    }

    /// Whether the run cannot go on: the IUT is unreachable, flooded the harness, or the run was
    /// interrupted.
    pub fn stopped(&self) -> bool {
        self.refused || self.interrupted || self.flooded.is_some()
    }

    /// Keeps at most `bytes` of what the IUT sends (each datagram at its
    /// [`datagram_cost`]); to be set before anything arrives.
    pub fn limit_received(&mut self, bytes: u64) {
        self.budget.set_limit(bytes);
    }

    /// What the run keeps of what the IUT sends at most.
    pub fn receive_limit(&self) -> u64 {
        self.budget.limit()
    }

    /// Whether every datagram from the IUT carried a kernel receive stamp.
    pub fn kernel_stamps(&self) -> bool {
        self.stamped
    }

    /// How long datagrams waited before the harness read them.
    pub fn read_delays(&self) -> &[Duration] {
        &self.read_delays
    }

    /// How late the harness's timers fired.
    pub fn timer_lateness(&self) -> &[Duration] {
        &self.timer_lateness
    }

    /// The largest lateness of either kind so far.
    pub fn worst_lateness(&self) -> Duration {
        self.worst_lateness
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
            Received::Flooded(which) => {
                self.flooded.get_or_insert(which);
            }
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
                if let Some(relay) = &mut self.relay {
                    // Between the programs: from a part to the initiator (to the part's socket,
                    // which keeps it, before the initiator has spoken), and the other way.
                    if let Some(route) = relay.routes.iter_mut().find(|r| r.socket == local) {
                        let to = if from == route.part {
                            route.initiator.unwrap_or(local)
                        } else {
                            route.initiator = Some(from);
                            route.part
                        };
                        self.link.send(at, from, to, payload, false);
                        return;
                    }
                }
                if self.iut.is_none() {
                    self.iut = Some(from);
                }
                // With kernel stamps a datagram may be older than what the harness did since it
                // arrived; the capture orders packets by time.
                self.link.send(at, from, local, payload, false);
            }
        }
    }

    /// Puts a datagram made up by the harness on the link from `from` to the IUT, now, and does
    /// what is due.
    pub async fn inject(
        &mut self,
        from: SocketAddr,
        payload: Vec<u8>,
    ) -> Result<DatagramId, RealTimeError> {
        let Some(iut) = self.iut else {
            return Err(RealTimeError::IutAddressUnknown);
        };
        let id = self.link.send(self.clock.now(), from, iut, payload, true);
        self.pump().await;
        Ok(id)
    }

    /// Does everything due now: takes in what the sockets received, runs the endpoint's timer,
    /// delivers what the link has due (to the IUT over UDP, to the endpoint, or to the script's
    /// sockets, whose datagrams are only read from the trace), until nothing is left.
    pub async fn pump(&mut self) {
        while let Ok(r) = self.rx.try_recv() {
            self.accept(r);
        }
        let now = self.clock.now();
        if let Some(due) = self
            .endpoint
            .as_ref()
            .and_then(Endpoint::poll_timeout)
            .filter(|t| *t <= now)
        {
            self.note_lateness(now.saturating_duration_since(due), false);
            if let Some(e) = &mut self.endpoint {
                e.handle_timeout(now);
            }
        }
        if let Some(due) = self.link.next_time().filter(|t| *t <= now) {
            self.note_lateness(now.saturating_duration_since(due), false);
        }
        loop {
            let mut progress = false;
            if let Some(endpoint) = &mut self.endpoint {
                while let Some(t) = endpoint.poll_transmit() {
                    self.link
                        .send(now, self.primary, t.destination, t.payload, false);
                    progress = true;
                }
                while let Some(event) = endpoint.poll_event() {
                    self.events.push(SimEvent {
                        at: now,
                        endpoint: self.primary,
                        event,
                    });
                }
            }
            loop {
                // To the IUT: any of its host's ports (an implementation may open each of its
                // connections from a socket of its own).
                let (sockets, iut, relay) = (&self.sockets, self.iut, self.relay.as_ref());
                let Some(d) = self.link.pop_due(now, |to| {
                    sockets.contains_key(&to)
                        || iut.is_some_and(|i| i.ip() == to.ip())
                        || relay.is_some_and(|r| r.routes.iter().any(|x| x.initiator == Some(to)))
                }) else {
                    break;
                };
                progress = true;
                // A relay's datagram goes on from the socket of the part it is from or for.
                let relayed = relay.and_then(|r| {
                    r.routes
                        .iter()
                        .find(|x| x.part == d.to || x.part == d.from)
                        .map(|x| x.socket)
                });
                if let Some(socket) = relayed.and_then(|via| self.sockets.get(&via)) {
                    if socket.send_to(&d.payload, d.to).await.is_err() {
                        self.send_errors += 1;
                    }
                } else if self.sockets.contains_key(&d.to) {
                    if d.to == self.primary {
                        if let Some(e) = &mut self.endpoint {
                            e.handle_datagram(now, d.from, &d.payload);
                        }
                    }
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
    pub async fn drain_sockets(&mut self, time: Duration) {
        let until = tokio::time::Instant::now() + time;
        while let Ok(Some(r)) = tokio::time::timeout_at(until, self.rx.recv()).await {
            self.accept(r);
        }
    }

    /// After the IUT's process has exited: every datagram it sent before reaches the endpoint,
    /// not only the trace. Its last datagrams (a client's CONNECTION_CLOSE, sent just before it
    /// exits) may still be in the harness's sockets when the exit is noticed, or held by the link
    /// (a fault's delay): the sockets are read until they have been quiet for `quiet`, and what
    /// the link holds is delivered as it falls due, until nothing is left or `deadline`. What the
    /// endpoint sends back goes nowhere that answers.
    pub async fn deliver_after_exit(&mut self, quiet: Duration, deadline: Instant) {
        loop {
            while let Ok(Some(r)) = tokio::time::timeout(quiet, self.rx.recv()).await {
                self.accept(r);
            }
            self.pump().await;
            let now = self.clock.now();
            let Some(next) = self.link.next_time().filter(|t| *t <= deadline) else {
                return;
            };
            if self.stopped() {
                return;
            }
            if next > now {
                tokio::time::sleep_until(self.clock.to_tokio(next)).await;
            }
        }
    }

    /// Runs until `deadline`, until `stop` holds (checked after every wake-up), until the system
    /// says the IUT is unreachable, or until the run is interrupted.
    pub async fn run_until(&mut self, deadline: Instant, stop: &dyn Fn(&Self) -> bool) {
        loop {
            self.pump().await;
            if stop(self) || self.stopped() {
                return;
            }
            let now = self.clock.now();
            if now >= deadline {
                return;
            }
            let wake = [
                self.link.next_time(),
                self.endpoint.as_ref().and_then(Endpoint::poll_timeout),
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
}

/// Binds a UDP socket on `ip` at the next port of a rotation through Linux's ephemeral range
/// (32768–60999), shared by every run of this process: a port one run had is handed out again
/// only when the rotation comes round, tens of thousands of binds later. The kernel's own choice
/// (port 0) may hand out a port closed a moment ago, and an implementation kept running, still
/// streaming or re-sending to the session that had it, then talks into the next run: a learning
/// replay over real UDP saw another session's frame 3 as its first datagram, and failed. A port
/// in use is skipped; after 64 the kernel chooses.
async fn bind_rotating(ip: IpAddr) -> std::io::Result<UdpSocket> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 32_768;
    const COUNT: u32 = 28_232;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Runs of other harness processes (tests in parallel) start elsewhere in the range.
    let start = std::process::id().wrapping_mul(7_919) % COUNT;
    for _ in 0..64 {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed) % COUNT) % COUNT;
        let Ok(port) = u16::try_from(FIRST + offset) else {
            continue;
        };
        if let Ok(socket) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
            return Ok(socket);
        }
    }
    UdpSocket::bind(SocketAddr::new(ip, 0)).await
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    #[tokio::test]
    async fn a_port_closed_a_moment_ago_is_not_handed_out_again() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let first = super::bind_rotating(ip)
            .await
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .unwrap_or_default();
        assert!(first >= 32_768, "{first}");
        // The first socket is closed; the next hundred binds take other ports.
        for _ in 0..100 {
            let port = super::bind_rotating(ip)
                .await
                .and_then(|s| s.local_addr())
                .map(|a| a.port())
                .unwrap_or_default();
            assert_ne!(port, first);
        }
    }
}
