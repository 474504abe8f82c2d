//! The reference Proton client (H11): connect, open the three streams, run the planned events,
//! commits and actions one at a time checking every answer, then close with code 0.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use handshake_core::Instant;
use handshake_proton_wire::{
    commit_answer, encode_u32, CloseCode, Discriminator, Message, StreamReader,
};
use handshake_quic::quinn_proto::Dir;
use handshake_quic::{ConnId, QuicEvent, QuicHost};

use crate::event::ProtonEvent;
use crate::mutants::Mutant;
use crate::profile::Profile;
use crate::streams::{self, Outbox};

/// What the client does once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPlan {
    /// Events with ids 1, 2, ….
    pub events: u32,
    /// StateCommits with requests 1, 2, ….
    pub commits: u32,
    /// Actions (pull: write 42, read the counter; push: read the counter).
    pub actions: u32,
    /// How long it waits before connecting (the as-coded client sleeps the server's startup
    /// delay, H11).
    pub connect_after: std::time::Duration,
}

impl Default for ClientPlan {
    fn default() -> Self {
        ClientPlan {
            events: 3,
            commits: 3,
            actions: 3,
            connect_after: std::time::Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Event(u32),
    Commit(u32),
    Action(u32),
}

/// The reference client.
#[derive(Debug)]
pub struct Client {
    host: QuicHost,
    profile: Profile,
    server: SocketAddr,
    connect_at: Option<Instant>,
    conn: Option<ConnId>,
    /// Stream id per discriminator, once opened.
    streams: BTreeMap<Discriminator, u64>,
    readers: BTreeMap<u64, StreamReader>,
    received: BTreeMap<u64, VecDeque<u32>>,
    ops: VecDeque<Op>,
    in_flight: Option<(Op, Instant)>,
    outbox: Outbox,
    events: VecDeque<ProtonEvent>,
    verdict: Option<(bool, String)>,
    timeout: Option<Instant>,
}

impl Client {
    /// A client on `host` that connects to `server` at `now` and runs `plan`.
    pub fn new(
        host: QuicHost,
        profile: Profile,
        plan: ClientPlan,
        server: SocketAddr,
        now: Instant,
    ) -> Client {
        let first = u32::from(!profile.is(Mutant::ClientEventIdsFromZero));
        let mut ops: VecDeque<Op> = (0..plan.events).map(|i| Op::Event(first + i)).collect();
        ops.extend((1..=plan.commits).map(Op::Commit));
        ops.extend((0..plan.actions).map(Op::Action));
        let mut c = Client {
            host,
            profile,
            server,
            connect_at: Some(now + plan.connect_after),
            conn: None,
            streams: BTreeMap::new(),
            readers: BTreeMap::new(),
            received: BTreeMap::new(),
            ops,
            in_flight: None,
            outbox: Outbox::default(),
            events: VecDeque::new(),
            verdict: None,
            timeout: None,
        };
        c.step(now);
        c
    }

    /// Its QUIC host.
    pub fn host(&self) -> &QuicHost {
        &self.host
    }

    /// Its verdict, once it has one: (ok, why not).
    pub fn verdict(&self) -> Option<&(bool, String)> {
        self.verdict.as_ref()
    }

    /// Takes one datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.host.handle_datagram(now, source, payload);
        self.step(now);
    }

    /// Fires what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.host.handle_timeout(now);
        self.step(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.host.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ProtonEvent> {
        self.events.pop_front()
    }

    /// When to call [`Client::handle_timeout`].
    /// See [`handshake_quic::QuicHost::idle_notice_lateness`].
    pub fn idle_notice_lateness(&self) -> std::time::Duration {
        self.host.idle_notice_lateness()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }

    /// Done and its connection drained.
    pub fn is_finished(&self) -> bool {
        self.verdict.is_some() && self.host.is_idle()
    }

    fn step(&mut self, now: Instant) {
        if let Some(at) = self.connect_at.filter(|t| *t <= now) {
            let _ = at;
            self.connect_at = None;
            match self.host.connect(now, self.server) {
                Ok(c) => self.conn = Some(c),
                Err(e) => self.finish(now, false, e.to_string(), None),
            }
        }
        loop {
            while let Some(event) = self.host.poll_event() {
                self.on_quic(now, event);
            }
            self.advance(now);
            self.host.drive(now);
            if !self.host.has_events() {
                break;
            }
        }
        // Once the verdict is in, a past op deadline is no timer: it would be due forever.
        let op_deadline = self
            .in_flight
            .filter(|_| self.verdict.is_none())
            .map(|(_, since)| since + self.profile.timers.op);
        self.timeout = [self.host.poll_timeout(), op_deadline, self.connect_at]
            .into_iter()
            .flatten()
            .min();
    }

    fn finish(&mut self, now: Instant, ok: bool, reason: String, close: Option<CloseCode>) {
        if self.verdict.is_some() {
            return;
        }
        if let (Some(conn), Some(code)) = (self.conn, close) {
            let code = if ok && self.profile.is(Mutant::ClientClosesWithFive) {
                CloseCode::StreamError
            } else {
                code
            };
            self.host.close(
                now,
                conn,
                code.code(),
                if ok { "done" } else { "client error" },
            );
        }
        self.events.push_back(ProtonEvent::ClientDone {
            ok,
            reason: reason.clone(),
        });
        self.verdict = Some((ok, reason));
    }

    fn on_quic(&mut self, now: Instant, event: QuicEvent) {
        match event {
            QuicEvent::Connected { conn, alpn } => {
                self.events.push_back(ProtonEvent::Connected {
                    conn,
                    alpn: alpn.map(|a| String::from_utf8_lossy(&a).into_owned()),
                });
                self.open_streams(now, conn);
            }
            QuicEvent::Ended {
                conn,
                close,
                by_peer,
            } => {
                self.events.push_back(ProtonEvent::Ended {
                    conn,
                    close: close.clone(),
                    by_peer,
                });
                if by_peer {
                    self.finish(
                        now,
                        false,
                        format!("the server ended the connection: {close}"),
                        None,
                    );
                }
            }
            QuicEvent::Stream { conn, event } => {
                if let handshake_quic::quinn_proto::StreamEvent::Writable { .. } = event {
                    if let Some(c) = self.host.connection(conn) {
                        self.outbox.flush(c);
                    }
                }
            }
            // Proton has no datagrams.
            QuicEvent::Accepted { .. } | QuicEvent::Refused { .. } | QuicEvent::Datagram { .. } => {
            }
        }
    }

    fn open_streams(&mut self, now: Instant, conn: ConnId) {
        let order = if self.profile.is(Mutant::ClientDiscriminatorsOutOfOrder) {
            [
                Discriminator::Event,
                Discriminator::Action,
                Discriminator::StateCommit,
            ]
        } else {
            Discriminator::DATA
        };
        let Some(c) = self.host.connection(conn) else {
            return;
        };
        for d in order {
            let Some(id) = c.streams().open(Dir::Bi) else {
                self.finish(
                    now,
                    false,
                    "the server allows fewer than 3 streams".into(),
                    Some(CloseCode::StreamError),
                );
                return;
            };
            self.outbox.write(c, id, &[d.byte()]);
            self.streams.insert(d, u64::from(id));
            self.readers
                .insert(u64::from(id), StreamReader::values_only());
        }
    }

    fn advance(&mut self, now: Instant) {
        let Some(conn) = self.conn else { return };
        if self.verdict.is_some() || self.streams.len() < 3 {
            return;
        }
        let Some(c) = self.host.connection(conn) else {
            return;
        };
        for (id, reader) in &mut self.readers {
            let r = streams::read(c, streams::stream_id(*id));
            let mut input = r.data.as_slice();
            while let Some(Ok(Message::Value(v))) = reader.next(&mut input) {
                self.received.entry(*id).or_default().push_back(v);
                self.events.push_back(ProtonEvent::Value {
                    conn,
                    stream: *id,
                    value: v,
                });
            }
        }
        loop {
            if let Some((op, since)) = self.in_flight {
                let (stream, expected) = self.expectation(op);
                let Some(got) = self.received.get_mut(&stream).and_then(VecDeque::pop_front) else {
                    if now >= since + self.profile.timers.op {
                        self.finish(
                            now,
                            false,
                            format!("no answer to {op:?}"),
                            Some(CloseCode::StreamOperationTimeout),
                        );
                    }
                    return;
                };
                if Some(got) != expected {
                    self.finish(
                        now,
                        false,
                        format!("{op:?} answered {got}, expected {expected:?}"),
                        Some(CloseCode::StreamError),
                    );
                    return;
                }
                self.in_flight = None;
            }
            let Some(op) = self.ops.pop_front() else {
                self.finish(now, true, String::new(), Some(CloseCode::Normal));
                return;
            };
            let (stream, _) = self.expectation(op);
            let request = match op {
                Op::Event(id) => Some(id),
                Op::Commit(r) => Some(r),
                Op::Action(_) if self.profile.action_push => None,
                Op::Action(_) => Some(42),
            };
            if let (Some(v), Some(c)) = (request, self.host.connection(conn)) {
                self.outbox
                    .write(c, streams::stream_id(stream), &encode_u32(v));
            }
            self.in_flight = Some((op, now));
        }
    }

    /// The stream an operation uses and the answer it must get.
    fn expectation(&self, op: Op) -> (u64, Option<u32>) {
        let on = |d: Discriminator| self.streams.get(&d).copied().unwrap_or(0);
        match op {
            Op::Event(id) => (on(Discriminator::Event), Some(id)),
            Op::Commit(r) => (
                on(Discriminator::StateCommit),
                commit_answer(r, self.profile.arithmetic()),
            ),
            Op::Action(k) => (on(Discriminator::Action), Some(k)),
        }
    }
}
