//! Toy endpoints and helpers: exercise the driver without any real protocol.

use core::time::Duration;
use std::collections::VecDeque;
use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant, Transmit};

use crate::{Delivery, LinkEvent, VirtualLink};

pub(crate) fn addr(host: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, host], 5000))
}

pub(crate) const A: u8 = 1;
pub(crate) const B: u8 = 2;
pub(crate) const C: u8 = 3;

pub(crate) fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// Names toy payloads by their first four bytes.
pub(crate) fn classify(payload: &[u8]) -> &'static str {
    match payload.get(..4) {
        Some(b"ping") => "ping",
        Some(b"pong") => "pong",
        _ => "other",
    }
}

pub(crate) fn ping(seq: u32) -> Vec<u8> {
    [b"ping".as_slice(), &seq.to_be_bytes()].concat()
}

pub(crate) fn pong(seq: u32) -> Vec<u8> {
    [b"pong".as_slice(), &seq.to_be_bytes()].concat()
}

fn seq_of(payload: &[u8]) -> Option<u32> {
    let bytes: [u8; 4] = payload.get(4..8)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Everything the toys report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ToyEvent {
    Sent { seq: u32, attempt: u32 },
    Acked { seq: u32 },
    GaveUp { seq: u32 },
    Echoed { seq: u32 },
    Received { from: SocketAddr, payload: Vec<u8> },
    Timer { label: u32 },
}

/// Stop-and-wait: sends pings 1..=count, each until its pong arrives or `max_tries` tries.
/// Starts at its first timer (`start`).
#[derive(Debug)]
pub(crate) struct Pinger {
    peer: SocketAddr,
    count: u32,
    rto: Duration,
    max_tries: u32,
    /// Seq awaited (0 = not started); > count when done.
    current: u32,
    tries: u32,
    deadline: Option<Instant>,
    gave_up: bool,
    out: VecDeque<Transmit>,
    events: VecDeque<ToyEvent>,
}

impl Pinger {
    pub(crate) fn new(peer: SocketAddr, count: u32, rto_ms: u64, max_tries: u32) -> Pinger {
        Pinger {
            peer,
            count,
            rto: Duration::from_millis(rto_ms),
            max_tries,
            current: 0,
            tries: 0,
            deadline: Some(Instant::ZERO),
            gave_up: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn send_current(&mut self, now: Instant) {
        self.tries += 1;
        self.out.push_back(Transmit {
            destination: self.peer,
            payload: ping(self.current),
        });
        self.events.push_back(ToyEvent::Sent {
            seq: self.current,
            attempt: self.tries,
        });
        self.deadline = Some(now + self.rto);
    }
}

impl Endpoint for Pinger {
    type Event = ToyEvent;

    fn handle_datagram(&mut self, now: Instant, _source: SocketAddr, payload: &[u8]) {
        if self.is_finished() || self.current == 0 || payload != pong(self.current) {
            return;
        }
        self.events.push_back(ToyEvent::Acked { seq: self.current });
        self.current += 1;
        self.tries = 0;
        if self.current > self.count {
            self.deadline = None;
        } else {
            self.send_current(now);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| d > now) {
            return;
        }
        if self.current == 0 {
            self.current = 1;
            if self.count == 0 {
                self.deadline = None;
                return;
            }
            self.send_current(now);
        } else if self.tries < self.max_tries {
            self.send_current(now);
        } else {
            self.gave_up = true;
            self.deadline = None;
            self.events
                .push_back(ToyEvent::GaveUp { seq: self.current });
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<ToyEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn is_finished(&self) -> bool {
        self.gave_up || self.current > self.count
    }
}

/// Answers every ping with the matching pong; never finishes.
#[derive(Debug, Default)]
pub(crate) struct Echoer {
    out: VecDeque<Transmit>,
    events: VecDeque<ToyEvent>,
}

impl Endpoint for Echoer {
    type Event = ToyEvent;

    fn handle_datagram(&mut self, _now: Instant, source: SocketAddr, payload: &[u8]) {
        if classify(payload) != "ping" {
            return;
        }
        if let Some(seq) = seq_of(payload) {
            self.out.push_back(Transmit {
                destination: source,
                payload: pong(seq),
            });
            self.events.push_back(ToyEvent::Echoed { seq });
        }
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<ToyEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn is_finished(&self) -> bool {
        false
    }
}

/// Sends its script (`(time, destination, payload)`, in time order) when due, sets labelled
/// timers, and reports every datagram received. Finished once the script and timers are done.
#[derive(Debug, Default)]
pub(crate) struct Script {
    sends: VecDeque<(Instant, SocketAddr, Vec<u8>)>,
    timers: VecDeque<(Instant, u32)>,
    /// Bounce every datagram received back to its source (a livelock when two do it).
    bounce: bool,
    out: VecDeque<Transmit>,
    events: VecDeque<ToyEvent>,
}

impl Script {
    pub(crate) fn sends(sends: impl IntoIterator<Item = (Instant, SocketAddr, Vec<u8>)>) -> Script {
        Script {
            sends: sends.into_iter().collect(),
            ..Script::default()
        }
    }

    pub(crate) fn sink() -> Script {
        Script::default()
    }

    pub(crate) fn timers(mut self, timers: impl IntoIterator<Item = (Instant, u32)>) -> Script {
        self.timers = timers.into_iter().collect();
        self
    }

    pub(crate) fn bouncing(mut self) -> Script {
        self.bounce = true;
        self
    }
}

impl Endpoint for Script {
    type Event = ToyEvent;

    fn handle_datagram(&mut self, _now: Instant, source: SocketAddr, payload: &[u8]) {
        self.events.push_back(ToyEvent::Received {
            from: source,
            payload: payload.to_vec(),
        });
        if self.bounce {
            self.out.push_back(Transmit {
                destination: source,
                payload: payload.to_vec(),
            });
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, dest, payload)) = self.sends.front().cloned() {
            if at > now {
                break;
            }
            self.sends.pop_front();
            self.out.push_back(Transmit {
                destination: dest,
                payload,
            });
        }
        while let Some(&(at, label)) = self.timers.front() {
            if at > now {
                break;
            }
            self.timers.pop_front();
            self.events.push_back(ToyEvent::Timer { label });
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<ToyEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let send = self.sends.front().map(|s| s.0);
        let timer = self.timers.front().map(|t| t.0);
        send.into_iter().chain(timer).min()
    }

    fn is_finished(&self) -> bool {
        self.sends.is_empty() && self.timers.is_empty()
    }
}

/// One type for a simulation holding several kinds of toy.
#[derive(Debug)]
pub(crate) enum Toy {
    Pinger(Pinger),
    Echoer(Echoer),
    Script(Script),
}

impl Endpoint for Toy {
    type Event = ToyEvent;

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        match self {
            Toy::Pinger(e) => e.handle_datagram(now, source, payload),
            Toy::Echoer(e) => e.handle_datagram(now, source, payload),
            Toy::Script(e) => e.handle_datagram(now, source, payload),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Toy::Pinger(e) => e.handle_timeout(now),
            Toy::Echoer(e) => e.handle_timeout(now),
            Toy::Script(e) => e.handle_timeout(now),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Toy::Pinger(e) => e.poll_transmit(),
            Toy::Echoer(e) => e.poll_transmit(),
            Toy::Script(e) => e.poll_transmit(),
        }
    }

    fn poll_event(&mut self) -> Option<ToyEvent> {
        match self {
            Toy::Pinger(e) => e.poll_event(),
            Toy::Echoer(e) => e.poll_event(),
            Toy::Script(e) => e.poll_event(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Toy::Pinger(e) => e.poll_timeout(),
            Toy::Echoer(e) => e.poll_timeout(),
            Toy::Script(e) => e.poll_timeout(),
        }
    }

    fn is_finished(&self) -> bool {
        match self {
            Toy::Pinger(e) => e.is_finished(),
            Toy::Echoer(e) => e.is_finished(),
            Toy::Script(e) => e.is_finished(),
        }
    }
}

/// Delivers everything in the link, in order, to reachable destinations (all, by default).
pub(crate) fn drain(link: &mut VirtualLink) -> Vec<Delivery> {
    drain_reachable(link, |_| true)
}

pub(crate) fn drain_reachable(
    link: &mut VirtualLink,
    reachable: impl Fn(SocketAddr) -> bool,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    while let Some(at) = link.next_time() {
        while let Some(d) = link.pop_due(at, &reachable) {
            out.push(d);
        }
    }
    out
}

/// `(delivery ms, payload)` of each delivery.
pub(crate) fn timeline(deliveries: &[Delivery]) -> Vec<(u64, Vec<u8>)> {
    deliveries
        .iter()
        .map(|d| (d.at.as_nanos() / 1_000_000, d.payload.clone()))
        .collect()
}

/// The ids of datagrams dropped, in trace order.
pub(crate) fn dropped_ids(trace: &[LinkEvent]) -> Vec<u64> {
    trace
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Dropped { id, .. } => Some(id.0),
            _ => None,
        })
        .collect()
}
