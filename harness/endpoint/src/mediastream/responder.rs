//! The Responder: serves streams to many initiators at once (ctsTraffic's server, `-listen:`).
//!
//! * `legacy` and `udp_push` (as coded): a START from a new tuple starts a session — CONNECTION_ID once,
//!   first, then frames 1..N paced at base + k·1000/FrameRate ms; a START from a live tuple is a counted
//!   duplicate; every non-START datagram is discarded.
//! * `3way`: SYN → fresh id and SYN-ACK (D3), repeated SYN → the same SYN-ACK, version or session limit
//!   → rejecting SYN-ACK and no state (D4), media only after an ACK echoing the id (D6), SYN-ACK re-sent
//!   while no ACK comes and the session dropped after the last one (D7); options: optimistic start (D8),
//!   legacy START served as the legacy responder would, never with a control frame (D9).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use handshake_wire::mediastream::{
    pattern_slice, ConnectionId, ControlKind, ControlRepr, DataRepr, Datagram, Error as WireError,
    FragmentPlan, Kind, Mode,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::{Endpoint, Instant, Transmit};

use super::config::{ConfigError, Profile, ProfileKind, StreamConfig};
use super::event::{DropReason, Event, Metrics, NegotiatedMode, Phase, Reason};
use super::Mutant;

/// QPF the responder reports: a 10 MHz counter, as Windows' QueryPerformanceFrequency usually is.
pub const QPF: u64 = 10_000_000;

#[derive(Debug)]
struct Session {
    phase: Phase,
    started_at: Instant,
    /// SYN-ACKs sent so far and when the next is due (or the pending session is given up, D7).
    syn_acks_sent: u32,
    syn_ack_timer: Option<Instant>,
    /// When frame 1 is (was) due, once streaming.
    stream_base: Option<Instant>,
    /// Frames sent.
    next_frame: u64,
    metrics: Metrics,
}

impl Session {
    fn id(&self) -> ConnectionId {
        self.metrics.connection_id.unwrap_or(ConnectionId::ZERO)
    }

    fn next_frame_at(&self, config: &StreamConfig) -> Option<Instant> {
        self.stream_base
            .map(|base| base + config.frame_offset(self.next_frame))
    }

    fn deadline(&self, config: &StreamConfig) -> Option<Instant> {
        [self.syn_ack_timer, self.next_frame_at(config)]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The media-stream responder, sans-I/O. Sessions are keyed by the initiator's address (the responder
/// has one local address, so that is the tuple).
#[derive(Debug)]
pub struct Responder {
    profile: Profile,
    config: StreamConfig,
    plan: FragmentPlan,
    rng: ChaCha8Rng,
    sessions: BTreeMap<SocketAddr, Session>,
    /// Drops from tuples with no session.
    stray: Metrics,
    last_qpc: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Responder {
    /// A responder; `seed` drives the connection ids it assigns (no ambient randomness).
    pub fn new(
        profile: Profile,
        config: StreamConfig,
        seed: u64,
    ) -> Result<Responder, ConfigError> {
        config.validate()?;
        Ok(Responder {
            profile,
            config,
            plan: config.plan()?,
            rng: ChaCha8Rng::seed_from_u64(seed),
            sessions: BTreeMap::new(),
            stray: Metrics::default(),
            last_qpc: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Live sessions (pending or streaming).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Every live session's metrics, by peer.
    pub fn sessions(&self) -> impl Iterator<Item = (SocketAddr, &Metrics)> {
        self.sessions.iter().map(|(peer, s)| (*peer, &s.metrics))
    }

    /// A live session's metrics.
    pub fn session_metrics(&self, peer: SocketAddr) -> Option<&Metrics> {
        self.sessions.get(&peer).map(|s| &s.metrics)
    }

    /// Drops counted for tuples that had no session.
    pub fn stray_metrics(&self) -> &Metrics {
        &self.stray
    }

    fn fresh_id(&mut self) -> ConnectionId {
        let mut uuid = [0u8; 16];
        self.rng.fill_bytes(&mut uuid);
        // RFC 4122 version 4, variant 1, as ctsTraffic's UuidCreate gives.
        uuid[6] = (uuid[6] & 0x0f) | 0x40;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        ConnectionId::from_uuid_bytes(uuid)
    }

    fn send(&mut self, to: SocketAddr, datagram: &Datagram<'_>) {
        self.transmits.push_back(Transmit {
            destination: to,
            payload: datagram.to_vec(),
        });
    }

    fn drop_datagram(&mut self, peer: SocketAddr, kind: Option<Kind>, reason: DropReason) {
        match self.sessions.get_mut(&peer) {
            Some(s) => s.metrics.count_drop(reason),
            None => self.stray.count_drop(reason),
        }
        self.events.push_back(Event::Dropped { peer, kind, reason });
    }

    fn transition(&mut self, peer: SocketAddr, from: Phase, to: Phase, reason: Reason) {
        if let Some(s) = self.sessions.get_mut(&peer) {
            s.phase = to;
        }
        self.events.push_back(Event::Transition {
            peer,
            from,
            to,
            reason,
        });
    }

    fn at_limit(&self) -> bool {
        self.profile
            .session_limit
            .is_some_and(|limit| self.sessions.len() >= limit)
    }

    fn new_session(&mut self, now: Instant, mode: NegotiatedMode) -> Session {
        let id = self.fresh_id();
        Session {
            phase: Phase::Idle,
            started_at: now,
            syn_acks_sent: 0,
            syn_ack_timer: None,
            stream_base: None,
            next_frame: 0,
            metrics: Metrics {
                negotiated_mode: mode,
                connection_id: Some(id),
                frames_expected: self.config.frames(),
                ..Metrics::default()
            },
        }
    }

    /// CONNECTION_ID first, then frames from `now` (legacy, D6 after ACK, D8 optimistic).
    fn start_stream(&mut self, now: Instant, peer: SocketAddr) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        session.stream_base = Some(now);
        let id = session.id();
        if self.profile.is(Mutant::ConnectionIdNotFirst) {
            self.send_due_frames(now, peer);
            self.send(peer, &Datagram::ConnectionId(id));
            return;
        }
        self.send(peer, &Datagram::ConnectionId(id));
        if self.profile.is(Mutant::ConnectionIdTwice) {
            self.send(peer, &Datagram::ConnectionId(id));
        }
        self.send_due_frames(now, peer);
    }

    /// A legacy START: the legacy responder as coded (also D9).
    fn serve_start(&mut self, now: Instant, peer: SocketAddr) {
        if let Some(session) = self.sessions.get(&peer) {
            // A live tuple: a duplicate, even if the session is a 3-way one (D9: no control frame).
            let _ = session;
            return self.drop_datagram(peer, Some(Kind::Start), DropReason::DuplicateStart);
        }
        if self.at_limit() {
            return self.drop_datagram(peer, Some(Kind::Start), DropReason::SessionLimit);
        }
        let mut session = self.new_session(now, NegotiatedMode::Legacy);
        session.metrics.handshake_attempts = 0;
        let id = session.id();
        self.sessions.insert(peer, session);
        if self.profile.is(Mutant::SynAckToStart) {
            self.send(peer, &Datagram::Control(ControlRepr::syn_ack_accept(id)));
        }
        self.transition(peer, Phase::Idle, Phase::Streaming, Reason::LegacyStart);
        self.start_stream(now, peer);
    }

    fn reject(&mut self, peer: SocketAddr, reason: &str) {
        self.send(
            peer,
            &Datagram::Control(ControlRepr::syn_ack_reject(reason)),
        );
        self.events.push_back(Event::Transition {
            peer,
            from: Phase::Idle,
            to: Phase::Rejected,
            reason: Reason::SynRejected,
        });
    }

    fn send_syn_ack(&mut self, now: Instant, peer: SocketAddr) {
        let backoff = self.profile.syn_ack_backoff;
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        session.syn_acks_sent += 1;
        session.metrics.handshake_attempts += 1;
        session.syn_ack_timer = Some(now + backoff.interval_after(session.syn_acks_sent));
        let id = session.id();
        self.send(peer, &Datagram::Control(ControlRepr::syn_ack_accept(id)));
    }

    fn on_syn(&mut self, now: Instant, peer: SocketAddr) {
        match self.sessions.get(&peer) {
            // D9: never a control frame to a peer that opened with START.
            Some(s) if s.metrics.negotiated_mode == NegotiatedMode::Legacy => {
                self.drop_datagram(peer, Some(Kind::Syn), DropReason::UnexpectedKind)
            }
            // D3: a repeated SYN gets the same SYN-ACK (it does not reset the D7 schedule).
            Some(s) => {
                let id = if self.profile.is(Mutant::NewIdPerSyn) {
                    self.fresh_id()
                } else {
                    s.id()
                };
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.metrics.handshake_attempts += 1;
                }
                self.send(peer, &Datagram::Control(ControlRepr::syn_ack_accept(id)));
            }
            None if self.at_limit() => {
                self.stray.count_drop(DropReason::SessionLimit);
                self.reject(peer, "session limit reached");
            }
            None => {
                let session = self.new_session(now, NegotiatedMode::ThreeWay);
                self.sessions.insert(peer, session);
                self.send_syn_ack(now, peer);
                self.transition(peer, Phase::Idle, Phase::AwaitingAck, Reason::SynAccepted);
                if self.profile.optimistic_start || self.profile.is(Mutant::MediaBeforeAck) {
                    self.transition(
                        peer,
                        Phase::AwaitingAck,
                        Phase::Streaming,
                        Reason::OptimisticStart,
                    );
                    self.start_stream(now, peer);
                }
            }
        }
    }

    fn on_ack(&mut self, now: Instant, peer: SocketAddr, confirmed: ConnectionId) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return self.drop_datagram(peer, Some(Kind::Ack), DropReason::UnknownSession);
        };
        if session.metrics.negotiated_mode == NegotiatedMode::Legacy {
            return self.drop_datagram(peer, Some(Kind::Ack), DropReason::UnexpectedKind);
        }
        if confirmed != session.id() && !self.profile.is(Mutant::AcceptMismatchedAck) {
            // D6: a mismatched id is counted and does not establish.
            return self.drop_datagram(peer, Some(Kind::Ack), DropReason::MismatchedConnectionId);
        }
        let waiting = session.syn_ack_timer.take().is_some();
        if waiting && session.phase == Phase::AwaitingAck {
            self.transition(
                peer,
                Phase::AwaitingAck,
                Phase::Streaming,
                Reason::AckConfirmed,
            );
            self.start_stream(now, peer);
        }
        // A repeated ACK (D5 answers every SYN-ACK) is expected and ignored.
    }

    fn send_due_frames(&mut self, now: Instant, peer: SocketAddr) {
        let frames = self.config.frames() + u64::from(self.profile.is(Mutant::ExtraFrame));
        let qpc_now = now.as_nanos() / (1_000_000_000 / QPF);
        loop {
            let Some(session) = self.sessions.get_mut(&peer) else {
                return;
            };
            match session.next_frame_at(&self.config) {
                Some(due) if due <= now && session.next_frame < frames => {}
                _ => break,
            }
            session.next_frame += 1;
            session.metrics.frames_sent += 1;
            if session.metrics.time_to_first_media.is_none() {
                session.metrics.time_to_first_media = Some(now - session.started_at);
            }
            let seq = session.next_frame - u64::from(self.profile.is(Mutant::SeqFromZero));
            for len in self.datagram_sizes() {
                // QPC is sampled per datagram; consecutive samples always differ (D13 dedup relies on it).
                self.last_qpc = qpc_now.max(self.last_qpc + 1);
                let payload_len = usize::try_from(len).unwrap_or(0).saturating_sub(26);
                let offset = usize::from(self.profile.is(Mutant::PatternOffByOne));
                let data = Datagram::Data(DataRepr {
                    seq,
                    qpc: self.last_qpc,
                    qpf: QPF,
                    payload: pattern_slice(offset, payload_len),
                });
                self.send(peer, &data);
            }
        }
        let finished = self
            .sessions
            .get(&peer)
            .is_some_and(|s| s.next_frame >= frames);
        if finished {
            self.end_session(now, peer, Phase::Finished, Reason::StreamComplete);
        }
    }

    /// The datagram sizes of one frame: the planner's, or a mutant's wrong cut.
    fn datagram_sizes(&self) -> Vec<u64> {
        let (frame, max) = (self.plan.frame_size(), self.plan.max_datagram());
        match self.profile.mutant {
            Some(Mutant::WrongFragmentationTail) => {
                let mut sizes = vec![max; (frame / max) as usize];
                if frame % max > 0 {
                    sizes.push(frame % max);
                }
                sizes
            }
            Some(Mutant::OversizeDatagrams) => {
                match handshake_wire::mediastream::FragmentPlan::new(frame, max + 100) {
                    Ok(plan) => plan.iter().map(|d| d.len).collect(),
                    Err(_) => self.plan.iter().map(|d| d.len).collect(),
                }
            }
            _ => self.plan.iter().map(|d| d.len).collect(),
        }
    }

    fn end_session(&mut self, now: Instant, peer: SocketAddr, to: Phase, reason: Reason) {
        let Some(mut session) = self.sessions.remove(&peer) else {
            return;
        };
        session.metrics.time_to_end = Some(now - session.started_at);
        if to == Phase::Abandoned {
            session.metrics.negotiated_mode = NegotiatedMode::Failed;
            session.metrics.failure =
                Some(format!("no ACK after {} SYN-ACKs", session.syn_acks_sent));
        }
        self.events.push_back(Event::Transition {
            peer,
            from: session.phase,
            to,
            reason,
        });
        self.events.push_back(Event::Ended {
            peer,
            metrics: Box::new(session.metrics),
        });
    }

    fn on_parse_error(&mut self, now: Instant, peer: SocketAddr, error: WireError) {
        // D4: a SYN of another version gets a rejecting SYN-ACK (3way only; legacy ignores it).
        if let WireError::BadVersion {
            kind: Kind::Syn,
            version,
        } = error
        {
            if self.profile.is(Mutant::AcceptBadVersion) {
                return self.on_syn(now, peer);
            }
            if self.profile.kind == ProfileKind::ThreeWay {
                self.stray.count_drop(DropReason::BadVersion);
                return self.reject(peer, &format!("unsupported version {version}"));
            }
        }
        self.drop_datagram(peer, error.kind(), DropReason::from_wire(&error));
    }
}

impl Endpoint for Responder {
    type Event = Event;

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        // Legacy-accepting classification: a START is recognised so that it can be served (legacy, D9)
        // or counted as unexpected (D9 without the option) rather than reported as flag 0x5453.
        let datagram = match Datagram::parse(payload, Mode::LegacyAccepting) {
            Ok(d) => d,
            Err(e) => return self.on_parse_error(now, source, e),
        };
        let three_way = self.profile.kind == ProfileKind::ThreeWay;
        match datagram {
            Datagram::Start
                if !three_way
                    || self.profile.allow_legacy_start
                    || self.profile.is(Mutant::StartWithoutAllow) =>
            {
                self.serve_start(now, source)
            }
            Datagram::Start => {
                self.drop_datagram(source, Some(Kind::Start), DropReason::UnexpectedStart)
            }
            Datagram::Control(c) if three_way && c.kind == ControlKind::Syn => {
                self.on_syn(now, source)
            }
            Datagram::Control(c) if three_way && c.kind == ControlKind::Ack => {
                self.on_ack(now, source, c.connection_id)
            }
            // As coded, the legacy responder discards everything but START; 3way drops what it does
            // not expect (D11).
            other => self.drop_datagram(source, Some(other.kind()), DropReason::UnexpectedKind),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.deadline(&self.config).is_some_and(|d| d <= now))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            let Some(session) = self.sessions.get(&peer) else {
                continue;
            };
            if session.syn_ack_timer.is_some_and(|t| t <= now) {
                let sends = if self.profile.is(Mutant::NoSynAckRetransmit) {
                    1
                } else {
                    self.profile.syn_ack_backoff.sends
                };
                if session.syn_acks_sent < sends {
                    self.send_syn_ack(now, peer);
                } else if session.phase == Phase::AwaitingAck {
                    // D7: give the pending session up; later ACKs are UnknownSession.
                    self.end_session(now, peer, Phase::Abandoned, Reason::AckTimedOut);
                    continue;
                } else if let Some(s) = self.sessions.get_mut(&peer) {
                    // Optimistic: the stream goes on without the ACK.
                    s.syn_ack_timer = None;
                }
            }
            self.send_due_frames(now, peer);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| s.deadline(&self.config))
            .min()
    }

    /// A responder serves until it is dropped.
    fn is_finished(&self) -> bool {
        false
    }
}
