//! [`Pair`]: a client and a server wired over a virtual link and stepped in virtual time (after
//! quinn-proto's test `Pair`), for every two-party test, the fuzz targets and the REPL.
//!
//! Each step: every side, in [`Order`], is settled (its events taken, each offered to the side's
//! hook, then [`Peer::drive`], until a round takes none) and its datagrams put on the link; then
//! the clock jumps to the earliest arrival or timer (never backwards), the datagrams due are
//! delivered in the order sent, and the sides whose timer is due fire it. Nothing reads a clock or
//! an RNG: the same sides and calls give the same bytes.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::Instant;

use crate::session::{SessionEvent, Sessions};
use crate::{QuicEvent, QuicHost};

/// A sans-I/O side the pair feeds and drains: a [`QuicHost`], any [`Sessions`], or an endpoint of
/// a family (which implements it for its own types).
pub trait Peer {
    /// What it reports.
    type Event;
    /// Takes one datagram.
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]);
    /// Fires the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// After its events were taken: hands the transport its work and queues what to send.
    /// Nothing for a side that drives itself on input.
    fn drive(&mut self, _now: Instant) {}
    /// Whether events wait that a [`Peer::drive`] just made (then the settling goes on).
    fn has_events(&self) -> bool {
        false
    }
    /// The next datagram to send: (destination, bytes).
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;
    /// When [`Peer::handle_timeout`] is next due.
    fn poll_timeout(&self) -> Option<Instant>;
}

impl Peer for QuicHost {
    type Event = QuicEvent;
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        QuicHost::handle_datagram(self, now, source, payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        QuicHost::handle_timeout(self, now);
    }
    fn poll_event(&mut self) -> Option<QuicEvent> {
        QuicHost::poll_event(self)
    }
    fn drive(&mut self, now: Instant) {
        QuicHost::drive(self, now);
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        QuicHost::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        QuicHost::poll_timeout(self)
    }
}

impl<S: Sessions> Peer for S {
    type Event = SessionEvent;
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        Sessions::handle_datagram(self, now, source, payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Sessions::handle_timeout(self, now);
    }
    fn poll_event(&mut self) -> Option<SessionEvent> {
        Sessions::poll_event(self)
    }
    fn drive(&mut self, now: Instant) {
        Sessions::drive(self, now);
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        Sessions::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Sessions::poll_timeout(self)
    }
}

/// Which side is settled, sends and fires its timer first at each instant (ties on the link are
/// broken by it, so it shapes the trace).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// The client first.
    #[default]
    ClientFirst,
    /// The server first.
    ServerFirst,
}

/// How a pair's link and clock behave.
#[derive(Clone, Debug)]
pub struct PairConfig {
    /// The client's address.
    pub client: SocketAddr,
    /// The server's address.
    pub server: SocketAddr,
    /// One-way delay of every datagram.
    pub latency: Duration,
    /// Which side goes first.
    pub order: Order,
    /// Datagrams to lose, by their position among all datagrams sent (0: the first either side
    /// sent); a lost one is traced but never delivered.
    pub lose: BTreeSet<usize>,
    /// Settle both sides after each delivered datagram, not once after all due at an instant: a
    /// side's answer to one datagram is then sent before it reads the next, as a capture taken at
    /// a real host shows it.
    pub settle_after_each_delivery: bool,
}

impl PairConfig {
    /// A lossless link of `latency` between `client` and `server`, the client first.
    pub fn new(client: SocketAddr, server: SocketAddr, latency: Duration) -> PairConfig {
        PairConfig {
            client,
            server,
            latency,
            order: Order::ClientFirst,
            lose: BTreeSet::new(),
            settle_after_each_delivery: false,
        }
    }
}

/// What happened to one datagram on the link, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    /// When.
    pub at: Instant,
    /// Sent (and whether the link loses it), or delivered.
    pub kind: TraceKind,
    /// Its source.
    pub from: SocketAddr,
    /// Its destination.
    pub to: SocketAddr,
    /// Its bytes.
    pub payload: Vec<u8>,
}

/// See [`Traced::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// Put on the link.
    Sent {
        /// The link loses it ([`PairConfig::lose`]).
        lost: bool,
    },
    /// Handed to its destination.
    Delivered,
}

/// Why [`Pair::run_until`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Nothing in flight, no timer: nothing more can happen (the clock is at the limit).
    Idle,
    /// The next work is due after the limit; the clock is at the limit.
    TimeLimit,
    /// The step limit was reached first; the clock is where it stopped.
    StepLimit,
}

/// A side's reaction to each of its events, before the event is recorded (an echo server writes
/// back): tests give one instead of wrapping the side in a type of their own.
pub type Hook<P> = Box<dyn FnMut(&mut P, Instant, &<P as Peer>::Event)>;

/// A client and a server on a virtual link in virtual time (see the module docs).
pub struct Pair<C: Peer, S: Peer> {
    /// The client side.
    pub client: C,
    /// The server side.
    pub server: S,
    config: PairConfig,
    now: Instant,
    /// In flight: (arrival, to the server, bytes), in the order sent.
    flight: Vec<(Instant, bool, Vec<u8>)>,
    sent: usize,
    steps: u64,
    /// Every datagram sent and delivered, in order.
    pub trace: Vec<Traced>,
    /// The client's events, with the instant each was taken.
    pub client_events: Vec<(Instant, C::Event)>,
    /// The server's events, with the instant each was taken.
    pub server_events: Vec<(Instant, S::Event)>,
    client_hook: Option<Hook<C>>,
    server_hook: Option<Hook<S>>,
}

impl<C: Peer, S: Peer> std::fmt::Debug for Pair<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("config", &self.config)
            .field("now", &self.now)
            .field("in_flight", &self.flight.len())
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// Takes a side's events until a round takes none (and none wait), each offered to its hook.
fn settle<P: Peer>(
    peer: &mut P,
    hook: &mut Option<Hook<P>>,
    log: &mut Vec<(Instant, P::Event)>,
    now: Instant,
) {
    loop {
        let mut any = false;
        while let Some(event) = peer.poll_event() {
            any = true;
            if let Some(react) = hook.as_mut() {
                react(peer, now, &event);
            }
            log.push((now, event));
        }
        peer.drive(now);
        if !any && !peer.has_events() {
            return;
        }
    }
}

impl<C: Peer, S: Peer> Pair<C, S> {
    /// Both sides at virtual time zero, nothing sent yet.
    pub fn new(config: PairConfig, client: C, server: S) -> Pair<C, S> {
        Pair {
            client,
            server,
            config,
            now: Instant::ZERO,
            flight: Vec::new(),
            sent: 0,
            steps: 0,
            trace: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_hook: None,
            server_hook: None,
        }
    }

    /// Calls `hook` on every client event before it is recorded.
    pub fn on_client_event(&mut self, hook: impl FnMut(&mut C, Instant, &C::Event) + 'static) {
        self.client_hook = Some(Box::new(hook));
    }

    /// Calls `hook` on every server event before it is recorded.
    pub fn on_server_event(&mut self, hook: impl FnMut(&mut S, Instant, &S::Event) + 'static) {
        self.server_hook = Some(Box::new(hook));
    }

    /// No hook on the server's events from now on.
    pub fn remove_server_hook(&mut self) {
        self.server_hook = None;
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The link and clock settings.
    pub fn config(&self) -> &PairConfig {
        &self.config
    }

    /// Changes which datagrams the link loses, from the next one sent on (a test that cuts the
    /// link for a while).
    pub fn set_lose(&mut self, lose: BTreeSet<usize>) {
        self.config.lose = lose;
    }

    /// Datagrams sent so far, lost or not (the position the next one gets in
    /// [`PairConfig::lose`]).
    pub fn sent_count(&self) -> usize {
        self.sent
    }

    /// Changes the one-way delay of datagrams sent from now on.
    pub fn set_latency(&mut self, latency: Duration) {
        self.config.latency = latency;
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    fn settle_client(&mut self) {
        settle(
            &mut self.client,
            &mut self.client_hook,
            &mut self.client_events,
            self.now,
        );
        while let Some((to, bytes)) = self.client.poll_transmit() {
            self.put_on_link(true, to, bytes);
        }
    }

    fn settle_server(&mut self) {
        settle(
            &mut self.server,
            &mut self.server_hook,
            &mut self.server_events,
            self.now,
        );
        while let Some((to, bytes)) = self.server.poll_transmit() {
            self.put_on_link(false, to, bytes);
        }
    }

    fn put_on_link(&mut self, to_server: bool, to: SocketAddr, payload: Vec<u8>) {
        let lost = self.config.lose.contains(&self.sent);
        self.sent += 1;
        let from = if to_server {
            self.config.client
        } else {
            self.config.server
        };
        if !lost {
            self.flight
                .push((self.now + self.config.latency, to_server, payload.clone()));
        }
        self.trace.push(Traced {
            at: self.now,
            kind: TraceKind::Sent { lost },
            from,
            to,
            payload,
        });
    }

    /// Settles both sides and puts what they send on the link, at the current time; every step
    /// begins with it (call it to see the outputs of an action at once).
    pub fn drain(&mut self) {
        match self.config.order {
            Order::ClientFirst => {
                self.settle_client();
                self.settle_server();
            }
            Order::ServerFirst => {
                self.settle_server();
                self.settle_client();
            }
        }
    }

    /// When the next work is due (an arrival or a timer; a timer in the past counts as now);
    /// `None` when idle.
    pub fn next_work_time(&self) -> Option<Instant> {
        let next = self
            .flight
            .iter()
            .map(|f| f.0)
            .chain(self.client.poll_timeout())
            .chain(self.server.poll_timeout())
            .min()?;
        Some(next.max(self.now))
    }

    /// One unit of work: [`Pair::drain`], then the work due at the next instant. `false` (having
    /// done nothing more) when idle.
    pub fn step(&mut self) -> bool {
        self.drain();
        let Some(next) = self.next_work_time() else {
            return false;
        };
        self.advance(next);
        true
    }

    fn advance(&mut self, to: Instant) {
        self.steps += 1;
        self.now = to.max(self.now);
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = self.flight.drain(..).partition(|f| f.0 <= now);
        self.flight = later;
        for (_, to_server, payload) in due {
            let (from, to) = if to_server {
                (self.config.client, self.config.server)
            } else {
                (self.config.server, self.config.client)
            };
            if to_server {
                self.server.handle_datagram(now, from, &payload);
            } else {
                self.client.handle_datagram(now, from, &payload);
            }
            self.trace.push(Traced {
                at: now,
                kind: TraceKind::Delivered,
                from,
                to,
                payload,
            });
            if self.config.settle_after_each_delivery {
                self.drain();
            }
        }
        let fire = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        match self.config.order {
            Order::ClientFirst => {
                if fire(self.client.poll_timeout()) {
                    self.client.handle_timeout(now);
                }
                if fire(self.server.poll_timeout()) {
                    self.server.handle_timeout(now);
                }
            }
            Order::ServerFirst => {
                if fire(self.server.poll_timeout()) {
                    self.server.handle_timeout(now);
                }
                if fire(self.client.poll_timeout()) {
                    self.client.handle_timeout(now);
                }
            }
        }
    }

    /// Does the work due up to `until` (at most `max_steps` steps); the clock then stands at
    /// `until` unless the step limit stopped it first.
    pub fn run_until_limited(&mut self, until: Instant, max_steps: u64) -> RunOutcome {
        self.run_limited(Some(until), max_steps)
    }

    /// Does all the work there is (at most `max_steps` steps): [`RunOutcome::Idle`] with the
    /// clock at the last work done (how long a run took to go quiet shows), or
    /// [`RunOutcome::StepLimit`].
    pub fn run_to_idle_limited(&mut self, max_steps: u64) -> RunOutcome {
        self.run_limited(None, max_steps)
    }

    fn run_limited(&mut self, until: Option<Instant>, max_steps: u64) -> RunOutcome {
        let mut taken = 0;
        loop {
            self.drain();
            let Some(next) = self.next_work_time() else {
                self.now = self.now.max(until.unwrap_or(self.now));
                return RunOutcome::Idle;
            };
            if let Some(until) = until.filter(|until| next > *until) {
                self.now = self.now.max(until);
                return RunOutcome::TimeLimit;
            }
            if taken >= max_steps {
                return RunOutcome::StepLimit;
            }
            self.advance(next);
            taken += 1;
        }
    }

    /// [`Pair::run_until_limited`] with [`DEFAULT_MAX_STEPS`]; panics past it (a livelock: in a
    /// test or a fuzz target, a failure to show).
    pub fn run_until(&mut self, until: Instant) {
        let outcome = self.run_until_limited(until, DEFAULT_MAX_STEPS);
        assert!(
            outcome != RunOutcome::StepLimit,
            "livelock: {DEFAULT_MAX_STEPS} steps without reaching {until} (at {})",
            self.now
        );
    }

    /// Runs for `d` more virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Every datagram as sent, with whether the link lost it: (time, from, to, bytes, lost).
    pub fn sent(&self) -> impl Iterator<Item = (&Traced, bool)> + '_ {
        self.trace.iter().filter_map(|t| match t.kind {
            TraceKind::Sent { lost } => Some((t, lost)),
            TraceKind::Delivered => None,
        })
    }
}

/// Steps [`Pair::run_until`] takes before it calls the run a livelock.
pub const DEFAULT_MAX_STEPS: u64 = 100_000;
