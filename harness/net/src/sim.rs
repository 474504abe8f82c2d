//! A deterministic driver for any number of sans-I/O endpoints over a [`VirtualLink`], in virtual
//! time (after quinn-proto's test `Pair`).
//!
//! See the [crate docs](crate) for the step order and the determinism contract.

use core::fmt;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant};

use crate::fault::DatagramId;
use crate::link::{LinkEvent, VirtualLink};

/// The default for [`RunLimits::max_steps`].
pub const DEFAULT_MAX_STEPS: u64 = 100_000;

/// At most this many transmits (and, separately, events) are taken from one endpoint per drain, so
/// an endpoint whose `poll_transmit` never returns `None` cannot hang the driver; the rest are
/// taken at the next drain.
pub const MAX_POLLS_PER_DRAIN: usize = 65_536;

/// Whether `link`'s trace holds `limit` events ([`Simulation::limit_link_events`]; a free
/// function: the drain and the deliveries look while they hold the endpoints).
fn link_full(link: &VirtualLink, limit: usize) -> bool {
    link.trace().len() >= limit
}

/// An event an endpoint reported, with when and who.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent<Ev> {
    /// The virtual time at which it was collected (the time of the work that produced it).
    pub at: Instant,
    /// The endpoint's address.
    pub endpoint: SocketAddr,
    /// The event.
    pub event: Ev,
}

/// When [`Simulation::run`] may stop successfully.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Until {
    /// Every endpoint [`is_finished`](Endpoint::is_finished) (true at once with no endpoints).
    #[default]
    AllFinished,
    /// The endpoints at these addresses are finished (an address with no endpoint never is).
    Finished(Vec<SocketAddr>),
    /// Never: run until idle or a limit.
    Idle,
}

/// Bounds for [`Simulation::run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// The success condition.
    pub until: Until,
    /// No work due after this virtual time is done; the clock then stops at it.
    pub max_time: Option<Instant>,
    /// At most this many steps in this call (a livelock guard).
    pub max_steps: u64,
}

impl Default for RunLimits {
    fn default() -> RunLimits {
        RunLimits {
            until: Until::AllFinished,
            max_time: None,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

impl RunLimits {
    /// Until these endpoints are finished, with the default step limit.
    pub fn until_finished(addresses: impl IntoIterator<Item = SocketAddr>) -> RunLimits {
        RunLimits {
            until: Until::Finished(addresses.into_iter().collect()),
            ..RunLimits::default()
        }
    }

    /// Until idle or a limit, with the default step limit.
    pub fn until_idle() -> RunLimits {
        RunLimits {
            until: Until::Idle,
            ..RunLimits::default()
        }
    }

    /// Also stops before any work due after `at`.
    pub fn max_time(mut self, at: Instant) -> RunLimits {
        self.max_time = Some(at);
        self
    }

    /// Also stops after `steps` steps.
    pub fn max_steps(mut self, steps: u64) -> RunLimits {
        self.max_steps = steps;
        self
    }
}

/// Why [`Simulation::run`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// The [`Until`] condition holds.
    Finished,
    /// Nothing in flight and no endpoint timer set: nothing more can happen.
    Idle,
    /// The next work is due after [`RunLimits::max_time`]; the clock is at the limit.
    TimeLimit,
    /// [`RunLimits::max_steps`] steps were taken.
    StepLimit,
    /// [`MAX_STEPS_AT_ONE_INSTANT`] steps in a row without the clock moving: an endpoint's timer
    /// stays due after it was handled (or two endpoints ping-pong in zero time), and no amount
    /// of steps would end the run.
    Livelock,
}

/// Steps in a row at one instant after which a run is a livelock ([`RunOutcome::Livelock`]):
/// far more than any burst of real work at one instant needs.
pub const MAX_STEPS_AT_ONE_INSTANT: u64 = 100_000;

/// Errors from building a simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimError {
    /// An endpoint is already at this address.
    DuplicateAddress(SocketAddr),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::DuplicateAddress(addr) => write!(f, "two endpoints at {addr}"),
        }
    }
}

impl std::error::Error for SimError {}

/// Endpoints at addresses, a [`VirtualLink`] between them, and a virtual clock from
/// [`Instant::ZERO`].
pub struct Simulation<E: Endpoint> {
    endpoints: Vec<(SocketAddr, E)>,
    index: BTreeMap<SocketAddr, usize>,
    link: VirtualLink,
    now: Instant,
    steps: u64,
    /// Steps in a row taken without the clock moving.
    steps_at_now: u64,
    events: Vec<SimEvent<E::Event>>,
    /// The link's trace stops growing here ([`limit_link_events`](Self::limit_link_events)).
    link_event_limit: usize,
}

impl<E: Endpoint> fmt::Debug for Simulation<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("endpoints", &self.index.keys().collect::<Vec<_>>())
            .field("link", &self.link)
            .field("now", &self.now)
            .field("steps", &self.steps)
            .field("events", &self.events.len())
            .finish()
    }
}

impl<E: Endpoint> Simulation<E> {
    /// No endpoints yet, the clock at zero.
    pub fn new(link: VirtualLink) -> Simulation<E> {
        Simulation {
            endpoints: Vec::new(),
            index: BTreeMap::new(),
            link,
            now: Instant::ZERO,
            steps: 0,
            steps_at_now: 0,
            events: Vec::new(),
            link_event_limit: usize::MAX,
        }
    }

    /// Puts `endpoint` at `addr`, after the endpoints already there in insertion order. Its
    /// transmits, events and timer are taken at the next step.
    pub fn add_endpoint(&mut self, addr: SocketAddr, endpoint: E) -> Result<(), SimError> {
        if self.index.contains_key(&addr) {
            return Err(SimError::DuplicateAddress(addr));
        }
        self.index.insert(addr, self.endpoints.len());
        self.endpoints.push((addr, endpoint));
        Ok(())
    }

    /// Builder form of [`add_endpoint`](Self::add_endpoint).
    pub fn with_endpoint(mut self, addr: SocketAddr, endpoint: E) -> Result<Self, SimError> {
        self.add_endpoint(addr, endpoint)?;
        Ok(self)
    }

    /// Stops the run once the link's trace holds `max` events: transmits are no longer taken
    /// into the link (they wait in their endpoint), due datagrams no longer delivered, and
    /// [`run`](Self::run) returns [`RunOutcome::StepLimit`]. For a run on a budget: one step can
    /// carry a burst of tens of thousands of datagrams (an endpoint asked for gigabits of media),
    /// which a look at the budget between steps only sees once they were all carried.
    pub fn limit_link_events(&mut self, max: usize) {
        self.link_event_limit = max;
    }

    /// Whether the link's trace reached the [limit](Self::limit_link_events).
    pub fn at_link_limit(&self) -> bool {
        link_full(&self.link, self.link_event_limit)
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Steps taken since the start (by [`step`](Self::step) and [`run`](Self::run)).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The endpoint at `addr`.
    pub fn endpoint(&self, addr: SocketAddr) -> Option<&E> {
        let &i = self.index.get(&addr)?;
        self.endpoints.get(i).map(|(_, e)| e)
    }

    /// The endpoint at `addr`, mutably (e.g. to give it an application command; what it then
    /// wants to send is taken at the next step).
    pub fn endpoint_mut(&mut self, addr: SocketAddr) -> Option<&mut E> {
        let &i = self.index.get(&addr)?;
        self.endpoints.get_mut(i).map(|(_, e)| e)
    }

    /// All endpoints with their addresses, in insertion order.
    pub fn endpoints(&self) -> impl Iterator<Item = (SocketAddr, &E)> + '_ {
        self.endpoints.iter().map(|(a, e)| (*a, e))
    }

    /// The link.
    pub fn link(&self) -> &VirtualLink {
        &self.link
    }

    /// The link, mutably (e.g. to add or remove fault rules between steps).
    pub fn link_mut(&mut self) -> &mut VirtualLink {
        &mut self.link
    }

    /// The link's trace.
    pub fn trace(&self) -> &[LinkEvent] {
        self.link.trace()
    }

    /// The endpoints' events so far, in the order collected.
    pub fn events(&self) -> &[SimEvent<E::Event>] {
        &self.events
    }

    /// Takes the events collected so far.
    pub fn take_events(&mut self) -> Vec<SimEvent<E::Event>> {
        core::mem::take(&mut self.events)
    }

    /// Whether the last [`MAX_STEPS_AT_ONE_INSTANT`] steps left the clock where it was.
    pub fn livelocked(&self) -> bool {
        self.steps_at_now >= MAX_STEPS_AT_ONE_INSTANT
    }

    /// Consumes the simulation, returning the link and the endpoints (insertion order).
    pub fn into_parts(self) -> (VirtualLink, Vec<(SocketAddr, E)>) {
        (self.link, self.endpoints)
    }

    /// Puts a datagram made up by the harness on the link at the current time, as if `from` had
    /// sent it to `to` (latency and fault rules apply; the trace marks it injected). What the
    /// endpoints already produced is taken first, so the injection comes after it.
    pub fn inject(&mut self, from: SocketAddr, to: SocketAddr, payload: Vec<u8>) -> DatagramId {
        self.drain_endpoints();
        self.link.send(self.now, from, to, payload, true)
    }

    /// Takes every endpoint's transmits into the link, then every endpoint's events, each in
    /// endpoint insertion order, at the current time. [`step`](Self::step) and
    /// [`run`](Self::run) begin with this; call it to see the outputs of the last step at once.
    pub fn drain_endpoints(&mut self) {
        let now = self.now;
        for (addr, endpoint) in &mut self.endpoints {
            for _ in 0..MAX_POLLS_PER_DRAIN {
                if link_full(&self.link, self.link_event_limit) {
                    break;
                }
                let Some(transmit) = endpoint.poll_transmit() else {
                    break;
                };
                self.link
                    .send(now, *addr, transmit.destination, transmit.payload, false);
            }
        }
        for (addr, endpoint) in &mut self.endpoints {
            for _ in 0..MAX_POLLS_PER_DRAIN {
                let Some(event) = endpoint.poll_event() else {
                    break;
                };
                self.events.push(SimEvent {
                    at: now,
                    endpoint: *addr,
                    event,
                });
            }
        }
    }

    /// When the next work is due: the earliest of the next delivery and the endpoints' timers
    /// (a timer in the past counts as now). `None` when idle.
    pub fn next_work_time(&self) -> Option<Instant> {
        let timers = self.endpoints.iter().filter_map(|(_, e)| e.poll_timeout());
        let next = self.link.next_time().into_iter().chain(timers).min()?;
        Some(next.max(self.now))
    }

    /// One unit of work: [`drain_endpoints`](Self::drain_endpoints), then jump the clock to
    /// [`next_work_time`](Self::next_work_time) and do what is due then (deliveries, then
    /// timeouts). Returns `false`, doing nothing more, when idle.
    pub fn step(&mut self) -> bool {
        self.drain_endpoints();
        let Some(next) = self.next_work_time() else {
            return false;
        };
        self.advance(next);
        true
    }

    fn advance(&mut self, to: Instant) {
        if to > self.now {
            self.steps_at_now = 0;
        } else {
            self.steps_at_now = self.steps_at_now.saturating_add(1);
        }
        self.now = self.now.max(to);
        self.steps = self.steps.saturating_add(1);
        let now = self.now;
        let index = &self.index;
        while !link_full(&self.link, self.link_event_limit) {
            let Some(delivery) = self.link.pop_due(now, |to| index.contains_key(&to)) else {
                break;
            };
            let endpoint = index
                .get(&delivery.to)
                .and_then(|&i| self.endpoints.get_mut(i));
            if let Some((_, endpoint)) = endpoint {
                endpoint.handle_datagram(now, delivery.from, &delivery.payload);
            }
        }
        for (_, endpoint) in &mut self.endpoints {
            if endpoint.poll_timeout().is_some_and(|t| t <= now) {
                endpoint.handle_timeout(now);
            }
        }
    }

    fn done(&self, until: &Until) -> bool {
        match until {
            Until::AllFinished => self.endpoints.iter().all(|(_, e)| e.is_finished()),
            Until::Finished(addrs) => addrs
                .iter()
                .all(|a| self.endpoint(*a).is_some_and(Endpoint::is_finished)),
            Until::Idle => false,
        }
    }

    /// Steps until a stop condition, checked in this order before each step, after the
    /// endpoints' outputs have been drained: the [`Until`] condition; idle; the next work past
    /// `max_time` (the clock is then set to `max_time`, if later); `max_steps` steps taken in this
    /// call. Datagrams still in flight stay in the link.
    pub fn run(&mut self, limits: &RunLimits) -> RunOutcome {
        let mut taken: u64 = 0;
        loop {
            self.drain_endpoints();
            if self.done(&limits.until) {
                return RunOutcome::Finished;
            }
            let Some(next) = self.next_work_time() else {
                return RunOutcome::Idle;
            };
            if let Some(limit) = limits.max_time.filter(|&limit| next > limit) {
                self.now = self.now.max(limit);
                return RunOutcome::TimeLimit;
            }
            if taken >= limits.max_steps || self.at_link_limit() {
                return RunOutcome::StepLimit;
            }
            if self.livelocked() {
                return RunOutcome::Livelock;
            }
            self.advance(next);
            taken += 1;
        }
    }

    /// Does all work due up to `at` (at most `max_steps` steps), then sets the clock to `at` if
    /// it is earlier. Returns [`RunOutcome::Idle`] or [`RunOutcome::TimeLimit`] (clock at `at`
    /// either way), or [`RunOutcome::StepLimit`] (clock where it stopped).
    pub fn run_until(&mut self, at: Instant, max_steps: u64) -> RunOutcome {
        let limits = RunLimits::until_idle().max_time(at).max_steps(max_steps);
        let outcome = self.run(&limits);
        if outcome == RunOutcome::Idle {
            self.now = self.now.max(at);
        }
        outcome
    }
}
