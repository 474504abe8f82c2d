//! [`QuicHost`]: one quinn-proto endpoint and its connections, on the harness's clock.
//!
//! Sans-I/O like quinn-proto itself: the caller passes every datagram and every instant. A host
//! is driven in three moves: input ([`QuicHost::handle_datagram`], [`QuicHost::handle_timeout`],
//! or the application acting on a [`Connection`]), then [`QuicHost::poll_event`] until empty (the
//! application reacts, possibly acting again), then [`QuicHost::drive`], which hands quinn's
//! endpoint events around and queues every datagram to send — so an answer leaves in the same
//! packet as the ACK of its request, as it would with an async quinn task.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use handshake_core::Instant;
use quinn_proto::{
    ClientConfig, Connection, ConnectionError, ConnectionHandle, DatagramEvent, Endpoint,
    StreamEvent, VarInt,
};

use crate::tls::{self, KeyLog, Seed, Transport};
use crate::QuicError;

/// A connection of a host, numbered 0, 1, 2 … in the order it was made or accepted.
pub type ConnId = u32;

/// What a server host does with a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Accept it.
    Accept,
    /// Accept it only while no other connection is live; refuse it otherwise.
    AcceptOne,
    /// Refuse it: a transport CONNECTION_CLOSE with CONNECTION_REFUSED (0x2).
    Refuse,
}

/// New connections a server host has in their handshakes at once. An Initial that would open one
/// more is dropped unanswered (no connection state, no crypto) and counted: a peer sending valid
/// Initials with fresh connection ids cannot make the harness keep state per datagram. A scenario
/// opens a few at a time; a peer whose connection is dropped so retries it after its probe timeout.
pub const MAX_HANDSHAKES: usize = 16;

/// Connections a server host answers over its life (accepted or refused); past it new ones are
/// dropped unanswered and counted. Library scenarios open at most a dozen.
pub const MAX_CONNECTIONS: usize = 256;

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Close {
    /// An application CONNECTION_CLOSE (frame 0x1d).
    Application {
        /// Its error code.
        code: u64,
        /// Its reason phrase (lossy UTF-8).
        reason: String,
    },
    /// A transport CONNECTION_CLOSE (frame 0x1c).
    Transport {
        /// Its error code (0x2 CONNECTION_REFUSED …).
        code: u64,
        /// Its reason phrase.
        reason: String,
    },
    /// The idle timeout expired.
    TimedOut,
    /// A stateless reset.
    Reset,
    /// Anything else quinn reports (version mismatch, local error).
    Other(String),
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Close::Application { code, reason } => write!(f, "application code {code} {reason:?}"),
            Close::Transport { code, reason } => write!(f, "transport code {code:#x} {reason:?}"),
            Close::TimedOut => f.write_str("idle timeout"),
            Close::Reset => f.write_str("stateless reset"),
            Close::Other(text) => f.write_str(text),
        }
    }
}

impl Close {
    fn of(error: &ConnectionError) -> Close {
        match error {
            ConnectionError::ApplicationClosed(c) => Close::Application {
                code: c.error_code.into_inner(),
                reason: String::from_utf8_lossy(&c.reason).into_owned(),
            },
            ConnectionError::ConnectionClosed(c) => Close::Transport {
                code: u64::from(c.error_code),
                reason: String::from_utf8_lossy(&c.reason).into_owned(),
            },
            ConnectionError::TimedOut => Close::TimedOut,
            ConnectionError::Reset => Close::Reset,
            other => Close::Other(other.to_string()),
        }
    }
}

/// What happened on a host, in order.
#[derive(Debug)]
pub enum QuicEvent {
    /// A server accepted a new connection (its handshake goes on).
    Accepted {
        /// The connection.
        conn: ConnId,
        /// The client's address.
        remote: SocketAddr,
    },
    /// A server refused a new connection (CONNECTION_REFUSED).
    Refused {
        /// The client's address.
        remote: SocketAddr,
    },
    /// The handshake completed.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The negotiated ALPN protocol.
        alpn: Option<Vec<u8>>,
    },
    /// A stream event (opened, readable, writable, finished, stopped, available).
    Stream {
        /// The connection.
        conn: ConnId,
        /// quinn's stream event.
        event: StreamEvent,
    },
    /// A QUIC DATAGRAM frame arrived (RFC 9221).
    Datagram {
        /// The connection.
        conn: ConnId,
        /// Its payload.
        payload: Bytes,
    },
    /// The connection ended.
    Ended {
        /// The connection.
        conn: ConnId,
        /// How.
        close: Close,
        /// The peer ended it (else this host closed it).
        by_peer: bool,
    },
}

struct Slot {
    handle: ConnectionHandle,
    conn: Connection,
    ended: bool,
    /// Vanished: nothing it sends leaves, nothing for it is taken, none of its timers fire (a
    /// peer that disappeared without a word, for idle-timeout scenarios).
    muted: bool,
    /// quinn's RTT estimate, followed for its probe timeout.
    rtt: RttMirror,
    /// The idle timeout in force (`Some(None)`: none), once the peer's parameters are read.
    idle: Option<Option<Duration>>,
}

/// quinn-proto's RTT estimator (RFC 9002 §5.3) followed from outside: the smoothed RTT is public,
/// the variance a probe timeout needs is not. Each change of the smoothed RTT is one sample, read
/// back from the average (`smoothed' = (7·smoothed + sample) / 8`; the first sample replaces the
/// initial RTT and sets the variance to half of itself). A sample that leaves the average where
/// it was goes unseen: the variance then stays above quinn's, so the lateness is never short.
#[derive(Clone, Copy, Debug)]
struct RttMirror {
    smoothed: Duration,
    var: Duration,
    sampled: bool,
}

/// RFC 9000's default max_ack_delay (quinn's, aioquic's): what a probe timeout adds for the
/// peer's delayed ACKs.
const DEFAULT_MAX_ACK_DELAY: Duration = Duration::from_millis(25);

impl RttMirror {
    fn new(initial: Duration) -> RttMirror {
        RttMirror {
            smoothed: initial,
            var: initial / 2,
            sampled: false,
        }
    }

    /// Takes quinn's smoothed RTT after input.
    fn follow(&mut self, smoothed: Duration) {
        if smoothed == self.smoothed {
            return;
        }
        if self.sampled {
            let sample = (8 * smoothed).saturating_sub(7 * self.smoothed);
            self.var = (3 * self.var + self.smoothed.abs_diff(sample)) / 4;
        } else {
            self.var = smoothed / 2;
            self.sampled = true;
        }
        self.smoothed = smoothed;
    }

    /// The probe timeout of the application space (RFC 9002 §6.2.1).
    fn pto(&self) -> Duration {
        self.smoothed + (4 * self.var).max(Duration::from_millis(1)) + DEFAULT_MAX_ACK_DELAY
    }
}

/// Everything a host is made of.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Its seed (see [`Seed::derive`]).
    pub seed: Seed,
    /// ALPN protocols it offers (client) or accepts (server).
    pub alpn: Vec<Vec<u8>>,
    /// Its transport parameters.
    pub transport: Transport,
    /// A server (accepts connections) or a client only.
    pub server: bool,
    /// Where its TLS secrets go.
    pub key_log: Arc<KeyLog>,
}

/// One QUIC endpoint and its connections (see the module docs).
pub struct QuicHost {
    endpoint: Endpoint,
    client: Option<ClientConfig>,
    /// Client configurations for other ALPN lists, made once each: their own seeds, so their
    /// connections' first DCIDs and TLS randoms differ from every other connection's.
    alpn_clients: BTreeMap<Vec<Vec<u8>>, ClientConfig>,
    slots: BTreeMap<ConnId, Slot>,
    next_id: ConnId,
    admission: Admission,
    /// New connections answered so far (accepted or refused).
    answered: usize,
    /// New connections dropped unanswered: past [`MAX_HANDSHAKES`] or [`MAX_CONNECTIONS`].
    turned_away: u64,
    /// The std instant the harness's zero maps to (quinn-proto takes only std instants; only
    /// differences matter, so the base leaks into nothing it emits).
    base: std::time::Instant,
    events: VecDeque<QuicEvent>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    key_log: Arc<KeyLog>,
    config: HostConfig,
    timeout: Option<Instant>,
    buf: Vec<u8>,
    /// See [`QuicHost::idle_notice_lateness`].
    idle_lateness: Duration,
}

impl std::fmt::Debug for QuicHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicHost")
            .field("connections", &self.slots.keys().collect::<Vec<_>>())
            .field("admission", &self.admission)
            .finish_non_exhaustive()
    }
}

impl QuicHost {
    /// A host; a server starts with [`Admission::Accept`].
    pub fn new(config: &HostConfig) -> Result<QuicHost, QuicError> {
        let server = if config.server {
            Some(Arc::new(tls::server_config(
                &config.seed,
                config.key_log.clone(),
                &config.alpn,
                &config.transport,
            )?))
        } else {
            None
        };
        let client = tls::client_config(
            &config.seed,
            config.key_log.clone(),
            &config.alpn,
            &config.transport,
        )?;
        Ok(QuicHost {
            // allow_mtud = false: no "don't fragment" promise, so quinn never probes the MTU.
            endpoint: Endpoint::new(tls::endpoint_config(&config.seed), server, false, None),
            client: Some(client),
            alpn_clients: BTreeMap::new(),
            slots: BTreeMap::new(),
            next_id: 0,
            admission: if config.server {
                Admission::Accept
            } else {
                Admission::Refuse
            },
            answered: 0,
            turned_away: 0,
            base: std::time::Instant::now(),
            events: VecDeque::new(),
            out: VecDeque::new(),
            key_log: config.key_log.clone(),
            config: config.clone(),
            timeout: None,
            buf: Vec::new(),
            idle_lateness: Duration::ZERO,
        })
    }

    fn at(&self, now: Instant) -> std::time::Instant {
        self.base + now.since_start()
    }

    fn harness_instant(&self, t: std::time::Instant) -> Instant {
        Instant::ZERO + t.saturating_duration_since(self.base)
    }

    /// From now on the server presents `identity` (e.g. a certificate an external client pins)
    /// instead of its seeded one; existing connections keep theirs.
    pub fn set_server_identity(&mut self, identity: tls::Identity) -> Result<(), QuicError> {
        let config = tls::server_config_with(
            &self.config.seed,
            self.key_log.clone(),
            &self.config.alpn,
            &self.config.transport,
            identity,
        )?;
        self.endpoint.set_server_config(Some(Arc::new(config)));
        Ok(())
    }

    /// What the server does with the next new connections.
    pub fn set_admission(&mut self, admission: Admission) {
        self.admission = admission;
    }

    /// Opens a connection to `remote` (server name `localhost`).
    pub fn connect(&mut self, now: Instant, remote: SocketAddr) -> Result<ConnId, QuicError> {
        let config = self
            .client
            .clone()
            .ok_or_else(|| QuicError::Config("no client configuration".into()))?;
        let (handle, conn) = self
            .endpoint
            .connect(self.at(now), config, remote, "localhost")
            .map_err(|e| QuicError::Connect(e.to_string()))?;
        let id = self.insert(handle, conn);
        self.collect(now);
        Ok(id)
    }

    /// Opens a connection offering other ALPN protocols than the host's.
    pub fn connect_alpn(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        alpn: &[Vec<u8>],
    ) -> Result<ConnId, QuicError> {
        let config = match self.alpn_clients.get(alpn) {
            Some(c) => c.clone(),
            None => {
                let label: Vec<String> = alpn
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                let seed = Seed(self.config.seed.sub(&format!("alpn {}", label.join(","))));
                let c =
                    tls::client_config(&seed, self.key_log.clone(), alpn, &self.config.transport)?;
                self.alpn_clients.insert(alpn.to_vec(), c.clone());
                c
            }
        };
        let (handle, conn) = self
            .endpoint
            .connect(self.at(now), config, remote, "localhost")
            .map_err(|e| QuicError::Connect(e.to_string()))?;
        let id = self.insert(handle, conn);
        self.collect(now);
        Ok(id)
    }

    fn insert(&mut self, handle: ConnectionHandle, conn: Connection) -> ConnId {
        let id = self.next_id;
        self.next_id += 1;
        self.slots.insert(
            id,
            Slot {
                handle,
                rtt: RttMirror::new(conn.rtt()),
                idle: None,
                conn,
                ended: false,
                muted: false,
            },
        );
        id
    }

    /// The connection `id`, while quinn keeps it (until it has drained).
    pub fn connection(&mut self, id: ConnId) -> Option<&mut Connection> {
        self.slots.get_mut(&id).map(|s| &mut s.conn)
    }

    /// The connections that have not ended.
    pub fn live(&self) -> Vec<ConnId> {
        self.slots
            .iter()
            .filter(|(_, s)| !s.ended)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Closes connection `id` with an application code; reported as [`QuicEvent::Ended`] with
    /// `by_peer: false` (quinn reports nothing to the closing side).
    pub fn close(&mut self, now: Instant, id: ConnId, code: u64, reason: &str) {
        let at = self.at(now);
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if slot.ended {
            return;
        }
        slot.ended = true;
        slot.conn.close(
            at,
            VarInt::from_u64(code).unwrap_or(VarInt::MAX),
            Bytes::copy_from_slice(reason.as_bytes()),
        );
        self.events.push_back(QuicEvent::Ended {
            conn: id,
            close: Close::Application {
                code,
                reason: reason.to_owned(),
            },
            by_peer: false,
        });
    }

    /// Makes connection `id` vanish: from now on it neither sends nor receives anything and its
    /// timers never fire, as if its host had lost power; the peer sees only silence.
    pub fn mute(&mut self, id: ConnId) {
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.muted = true;
        }
    }

    /// Takes one received datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        let at = self.at(now);
        let mut buf = Vec::new();
        match self
            .endpoint
            .handle(at, source, None, None, BytesMut::from(payload), &mut buf)
        {
            Some(DatagramEvent::NewConnection(incoming)) => {
                let handshaking = self
                    .slots
                    .values()
                    .filter(|s| !s.ended && s.conn.is_handshaking())
                    .count();
                if handshaking >= MAX_HANDSHAKES || self.answered >= MAX_CONNECTIONS {
                    self.endpoint.ignore(incoming);
                    self.turned_away += 1;
                    return;
                }
                self.answered += 1;
                let live = self.slots.values().any(|s| !s.ended);
                let admit = match self.admission {
                    Admission::Accept => true,
                    Admission::AcceptOne => !live,
                    Admission::Refuse => false,
                };
                if admit {
                    match self.endpoint.accept(incoming, at, &mut buf, None) {
                        Ok((handle, conn)) => {
                            let id = self.insert(handle, conn);
                            self.events.push_back(QuicEvent::Accepted {
                                conn: id,
                                remote: source,
                            });
                        }
                        Err(e) => {
                            if let Some(t) = e.response {
                                self.out.push_back((t.destination, buf[..t.size].to_vec()));
                            }
                        }
                    }
                } else {
                    let t = self.endpoint.refuse(incoming, &mut buf);
                    self.out.push_back((t.destination, buf[..t.size].to_vec()));
                    self.events.push_back(QuicEvent::Refused { remote: source });
                }
            }
            Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                if let Some(slot) = self
                    .slots
                    .values_mut()
                    .find(|s| s.handle == handle && !s.muted)
                {
                    slot.conn.handle_event(event);
                }
            }
            Some(DatagramEvent::Response(t)) => {
                self.out.push_back((t.destination, buf[..t.size].to_vec()));
            }
            None => {}
        }
        self.collect(now);
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let at = self.at(now);
        for slot in self.slots.values_mut().filter(|s| !s.muted) {
            if slot.conn.poll_timeout().is_some_and(|t| t <= at) {
                slot.conn.handle_timeout(at);
            }
        }
        self.collect(now);
    }

    /// Moves quinn's application events into the host's queue.
    fn collect(&mut self, _now: Instant) {
        let own_idle = self.config.transport.idle_timeout;
        for (id, slot) in &mut self.slots {
            slot.rtt.follow(slot.conn.rtt());
            if slot.idle.is_none() {
                // The idle timeout in force is the smaller of the two sides' (RFC 9000 §10.1),
                // known once the peer's transport parameters are.
                slot.idle = peer_idle_timeout(&slot.conn).map(|peer| match (own_idle, peer) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                });
            }
            // Before its first RTT sample quinn assumes 333 ms, which matters only to a
            // connection idle in its handshake: not counted, or it would stick.
            if let (Some(Some(idle)), true) = (slot.idle, slot.rtt.sampled) {
                let late = (3 * slot.rtt.pto()).saturating_sub(idle);
                self.idle_lateness = self.idle_lateness.max(late);
            }
            while let Some(event) = slot.conn.poll() {
                match event {
                    quinn_proto::Event::Connected => {
                        let alpn = slot
                            .conn
                            .crypto_session()
                            .handshake_data()
                            .and_then(|d| {
                                d.downcast::<quinn_proto::crypto::rustls::HandshakeData>()
                                    .ok()
                            })
                            .and_then(|d| d.protocol);
                        self.events
                            .push_back(QuicEvent::Connected { conn: *id, alpn });
                    }
                    quinn_proto::Event::ConnectionLost { reason } if !slot.ended => {
                        slot.ended = true;
                        self.events.push_back(QuicEvent::Ended {
                            conn: *id,
                            close: Close::of(&reason),
                            by_peer: true,
                        });
                    }
                    quinn_proto::Event::Stream(event) => {
                        self.events
                            .push_back(QuicEvent::Stream { conn: *id, event });
                    }
                    quinn_proto::Event::DatagramReceived => {
                        while let Some(payload) = slot.conn.datagrams().recv() {
                            self.events
                                .push_back(QuicEvent::Datagram { conn: *id, payload });
                        }
                    }
                    // Handshake data, datagram send credit: nothing reacts to them here.
                    _ => {}
                }
            }
        }
    }

    /// Whether events wait to be polled.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<QuicEvent> {
        self.events.pop_front()
    }

    /// After input and the application's reaction: exchanges quinn's endpoint events, queues every
    /// datagram to send, drops drained connections, and computes the next timer.
    pub fn drive(&mut self, now: Instant) {
        let at = self.at(now);
        let mut drained = Vec::new();
        for (id, slot) in self.slots.iter_mut().filter(|(_, s)| !s.muted) {
            loop {
                let mut progressed = false;
                while let Some(event) = slot.conn.poll_endpoint_events() {
                    progressed = true;
                    if event.is_drained() {
                        drained.push(*id);
                    }
                    if let Some(back) = self.endpoint.handle_event(slot.handle, event) {
                        slot.conn.handle_event(back);
                    }
                }
                self.buf.clear();
                // max_datagrams = 1: one UDP datagram per transmit.
                while let Some(t) = slot.conn.poll_transmit(at, 1, &mut self.buf) {
                    progressed = true;
                    let size = t.size.min(self.buf.len());
                    self.out
                        .push_back((t.destination, self.buf[..size].to_vec()));
                    self.buf.clear();
                }
                if !progressed {
                    break;
                }
            }
        }
        self.collect(now);
        for id in drained {
            self.slots.remove(&id);
        }
        let mut next: Option<std::time::Instant> = None;
        for slot in self.slots.values_mut().filter(|s| !s.muted) {
            if let Some(t) = slot.conn.poll_timeout() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        self.timeout = next.map(|t| self.harness_instant(t));
    }

    /// The next datagram to send: (destination, bytes).
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    /// When [`QuicHost::handle_timeout`] is next due (as of the last [`QuicHost::drive`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }

    /// How much later than its idle timeout this host can notice that a peer went silent, at most
    /// so far: quinn keeps an idle connection for at least three probe timeouts (RFC 9000 §10.1),
    /// and a probe timeout grows with the measured RTT — a handshake measured at 870 ms on a
    /// loaded machine puts the notice ~3 s past a 5 s idle timeout. Real-time windows widen by it
    /// (the harness's lateness, not the peer's); it stays after the connection has gone, since
    /// the notice it delays is the connection's end. Zero without an idle timeout and on a quick
    /// path.
    pub fn idle_notice_lateness(&self) -> Duration {
        self.idle_lateness
    }

    /// Whether no connection is left (none made, or all drained).
    pub fn is_idle(&self) -> bool {
        self.slots.is_empty()
    }

    /// The TLS secrets so far, NSS key-log format.
    pub fn key_log(&self) -> String {
        self.key_log.text()
    }

    /// New connections dropped unanswered (see [`MAX_HANDSHAKES`], [`MAX_CONNECTIONS`]).
    pub fn turned_away(&self) -> u64 {
        self.turned_away
    }
}

/// The max_idle_timeout the peer announced (`Some(None)`: none), once its parameters are read.
fn peer_idle_timeout(conn: &Connection) -> Option<Option<Duration>> {
    let params = conn.crypto_session().transport_parameters().ok()??;
    let mut bytes = Vec::new();
    params.write(&mut bytes);
    Some(match crate::decrypt::max_idle_timeout(&bytes) {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 9002 §5.3's estimator, as quinn-proto runs it (ACK delays left out: they change the
    /// sample, not the arithmetic).
    struct Rfc9002 {
        smoothed: Option<Duration>,
        var: Duration,
    }

    impl Rfc9002 {
        fn sample(&mut self, rtt: Duration) {
            match self.smoothed {
                Some(s) => {
                    self.var = (3 * self.var + s.abs_diff(rtt)) / 4;
                    self.smoothed = Some((7 * s + rtt) / 8);
                }
                None => {
                    self.smoothed = Some(rtt);
                    self.var = rtt / 2;
                }
            }
        }
    }

    proptest! {
        /// Fed only the smoothed RTT after each sample, the mirror has the estimator's variance
        /// (to within the nanoseconds the integer average drops), so its probe timeout is quinn's;
        /// a sample that leaves the average where it was goes unseen, and then the mirror's
        /// variance is the larger: the lateness it gives is never short.
        #[test]
        fn the_mirror_recovers_the_variance_from_the_smoothed_rtt(
            samples in proptest::collection::vec(
                prop_oneof![1u64..5_000_000, Just(100_000u64)], 1..40),
        ) {
            let initial = Duration::from_millis(333);
            let mut rfc = Rfc9002 { smoothed: None, var: initial / 2 };
            let mut mirror = RttMirror::new(initial);
            let mut every_sample_seen = true;
            for us in samples {
                let before = rfc.smoothed;
                rfc.sample(Duration::from_micros(us));
                every_sample_seen &= rfc.smoothed != before && rfc.smoothed != Some(initial);
                mirror.follow(rfc.smoothed.unwrap_or(initial));
            }
            let (a, b) = (mirror.var.as_nanos(), rfc.var.as_nanos());
            prop_assert!(a + 16 >= b, "mirror {a} ns below the estimator's {b} ns");
            if every_sample_seen {
                prop_assert!(a.abs_diff(b) <= 16, "mirror {a} ns, estimator {b} ns");
            }
        }
    }
}
