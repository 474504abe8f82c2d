//! The Responder: serves streams to many initiators at once (ctsTraffic's server, `-listen:`).
//!
//! * `legacy` and `udp_push` (as coded): a START from a new tuple starts a session — CONNECTION_ID once,
//!   first, then frames 1..N paced at base + k·1000/FrameRate ms; a START from a live tuple is a counted
//!   duplicate; every non-START datagram is discarded.
//! * `3way`: SYN → fresh id and SYN-ACK (D3), repeated SYN → the same SYN-ACK, version or session limit
//!   → rejecting SYN-ACK and no state (D4), media only after an ACK echoing the id (D6), SYN-ACK re-sent
//!   while no ACK comes and the session dropped after the last one (D7); options: optimistic start (D8),
//!   legacy START served as the legacy responder would, never with a control frame (D9). A SYN's TLV
//!   options are requested parameters (D14): the session adopts those it can honour and its SYN-ACK
//!   carries exactly those (project reading, see the README).
//!
//! With [`Direction::Push`] the responder is the media receiver: a START is answered with
//! CONNECTION_ID and the session then takes the initiator's frames (legacy as the
//! `bidirectional_media_stream` branch codes it); a 3-way session is established by the ACK or by
//! the sender's first media, and sends no CONNECTION_ID (D15). A receiving session succeeds as soon
//! as the final frame is whole.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use handshake_mediastream_wire::{
    ConnectionId, ControlKind, ControlRepr, Datagram, Error as WireError, FragmentPlan, Kind, Mode,
    Options, OwnedOptions, TlvOption,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use handshake_core::{Endpoint, Instant, Transmit};

use super::config::{ConfigError, Direction, Profile, ProfileKind, StreamConfig};
use super::event::{DropReason, Event, Metrics, NegotiatedMode, Phase, Reason};
use super::playout::Render;
use super::receiver::{unexpected, Media, MediaReceiver};
use super::sender::{MediaSender, Qpc};
use super::Mutant;

#[derive(Debug)]
struct Session {
    phase: Phase,
    started_at: Instant,
    /// SYN-ACKs sent so far and when the next is due (or the pending session is given up, D7).
    syn_acks_sent: u32,
    syn_ack_timer: Option<Instant>,
    /// This session's stream: the responder's, with the D14 options it accepted.
    config: StreamConfig,
    plan: FragmentPlan,
    /// The options its SYN-ACKs carry (D14: the accepted ones).
    accepted: OwnedOptions,
    /// Pull: the frames it sends, once streaming.
    sender: Option<MediaSender>,
    /// Push: the frames it receives, once established.
    receiver: Option<MediaReceiver>,
    /// Push: the session fails when no media has come by then.
    media_timeout: Option<Instant>,
    metrics: Metrics,
}

impl Session {
    fn id(&self) -> ConnectionId {
        self.metrics.connection_id.unwrap_or(ConnectionId::ZERO)
    }

    fn deadline(&self, profile: &Profile) -> Option<Instant> {
        let frame = self.sender.and_then(|s| s.next_due(&self.config, profile));
        let render = self.receiver.as_ref().and_then(MediaReceiver::deadline);
        let media = self.media_timeout.filter(|_| {
            !self
                .receiver
                .as_ref()
                .is_some_and(MediaReceiver::is_started)
        });
        [self.syn_ack_timer, frame, render, media]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Sessions a responder serves at once when its profile sets no limit: past it a new tuple's SYN
/// is rejected as at a session limit (D4: one SYN-ACK, no state). A peer opening sessions from
/// thousands of ports cannot make the harness keep thousands, and stream to them all.
pub const MAX_SESSIONS: usize = 64;

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
    qpc: Qpc,
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
        if config.direction == Direction::Push && profile.kind == ProfileKind::UdpPush {
            return Err(ConfigError::PushNotCoded);
        }
        Ok(Responder {
            profile,
            config,
            plan: config.plan()?,
            rng: ChaCha8Rng::seed_from_u64(seed),
            sessions: BTreeMap::new(),
            stray: Metrics::default(),
            qpc: Qpc::default(),
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

    fn pushing(&self) -> bool {
        self.config.direction == Direction::Push
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
        self.sessions.len() >= self.profile.session_limit.unwrap_or(MAX_SESSIONS)
    }

    fn new_session(&mut self, now: Instant, mode: NegotiatedMode) -> Session {
        let id = self.fresh_id();
        Session {
            phase: Phase::Idle,
            started_at: now,
            syn_acks_sent: 0,
            syn_ack_timer: None,
            config: self.config,
            plan: self.plan,
            accepted: OwnedOptions::default(),
            sender: None,
            receiver: None,
            media_timeout: None,
            metrics: Metrics {
                negotiated_mode: mode,
                connection_id: Some(id),
                frames_expected: self.config.frames(),
                ..Metrics::default()
            },
        }
    }

    /// D14 as this project reads it: each requested option (its first occurrence) the responder can
    /// honour exactly is adopted for the session and echoed; the others (and unknown types) are
    /// left out, and the responder's own value stands. Frame rate and bits per second are honoured
    /// when the stream they give is valid, a max datagram size up to the responder's own, a buffer
    /// depth in whole seconds; a codec hint is opaque and always echoed.
    fn accept_options<'a>(&self, requested: Options<'a>) -> (StreamConfig, Vec<TlvOption<'a>>) {
        let mut config = self.config;
        let mut accepted: Vec<TlvOption<'a>> = Vec::new();
        let mut seen: Vec<u8> = Vec::new();
        for option in requested.iter() {
            if seen.contains(&option.code()) {
                continue;
            }
            seen.push(option.code());
            let mut candidate = config;
            let echo = match option {
                TlvOption::FrameRate(rate) => {
                    candidate.frame_rate = rate;
                    Some(TlvOption::FrameRate(rate))
                }
                TlvOption::BitsPerSecond(bps) => {
                    candidate.bits_per_second = bps;
                    Some(TlvOption::BitsPerSecond(bps))
                }
                TlvOption::BufferDepthMs(ms) if ms % 1000 == 0 => {
                    candidate.buffer_depth_secs = ms / 1000;
                    Some(TlvOption::BufferDepthMs(ms))
                }
                TlvOption::MaxDatagramBytes(max) if max <= self.config.datagram_byte_size => {
                    candidate.datagram_byte_size = max;
                    Some(TlvOption::MaxDatagramBytes(max))
                }
                TlvOption::CodecHint(_) => {
                    accepted.push(option);
                    None
                }
                _ => None,
            };
            if let Some(echo) = echo {
                if candidate.validate().is_ok() {
                    config = candidate;
                    accepted.push(echo);
                }
            }
        }
        if self.profile.is(Mutant::OptionsEchoedNotHonoured) {
            config = self.config;
        }
        (config, accepted)
    }

    /// Push: a receiving session starts taking media now (legacy after its CONNECTION_ID, 3-way
    /// once an ACK established it, D15). Nothing within D7's whole schedule plus the buffer fails it.
    fn start_receiving(&mut self, now: Instant, peer: SocketAddr, strict: bool) {
        let backoff = self.profile.syn_ack_backoff;
        let schedule: core::time::Duration =
            (1..=backoff.sends).map(|n| backoff.interval_after(n)).sum();
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let config = session.config;
        let frame_size = config.frame_size().unwrap_or(0);
        session.receiver = Some(MediaReceiver::new(config, frame_size, !strict, strict));
        session.media_timeout =
            Some(now + schedule + config.frame_offset(config.initial_buffer_frames()));
    }

    /// Pull: CONNECTION_ID first, then frames from `now` (legacy, D6 after ACK, D8 optimistic).
    /// Push: CONNECTION_ID (legacy) and then the initiator's frames.
    fn start_stream(&mut self, now: Instant, peer: SocketAddr) {
        let pushing = self.pushing();
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let id = session.id();
        let legacy = session.metrics.negotiated_mode == NegotiatedMode::Legacy;
        if pushing && !self.profile.is(Mutant::PushResponderStreams) {
            if legacy || self.profile.is(Mutant::PushConnectionId) {
                self.send(peer, &Datagram::ConnectionId(id));
            }
            return self.start_receiving(now, peer, legacy);
        }
        session.sender = Some(MediaSender::new(now));
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
            // Push, as the branch codes it: every START is answered with the CONNECTION_ID (the
            // sender may have lost it); never a control frame (D9).
            if self.pushing() && session.metrics.negotiated_mode == NegotiatedMode::Legacy {
                let id = session.id();
                return self.send(peer, &Datagram::ConnectionId(id));
            }
            // A live tuple: a duplicate, even if the session is a 3-way one (D9: no control frame).
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

    /// The session's SYN-ACK: its id, Accept=1, and the options it accepted (D14).
    fn syn_ack(&self, session: &Session, id: ConnectionId) -> Vec<u8> {
        Datagram::Control(
            ControlRepr::syn_ack_accept(id).with_options(session.accepted.as_options()),
        )
        .to_vec()
    }

    fn send_syn_ack(&mut self, now: Instant, peer: SocketAddr) {
        let backoff = self.profile.syn_ack_backoff;
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        session.syn_acks_sent += 1;
        session.metrics.handshake_attempts += 1;
        session.syn_ack_timer = Some(now + backoff.interval_after(session.syn_acks_sent));
        let Some(session) = self.sessions.get(&peer) else {
            return;
        };
        let payload = self.syn_ack(session, session.id());
        self.transmits.push_back(Transmit {
            destination: peer,
            payload,
        });
    }

    fn on_syn(&mut self, now: Instant, peer: SocketAddr, options: Options<'_>) {
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
                let Some(s) = self.sessions.get(&peer) else {
                    return;
                };
                let payload = self.syn_ack(s, id);
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.metrics.handshake_attempts += 1;
                }
                self.transmits.push_back(Transmit {
                    destination: peer,
                    payload,
                });
            }
            None if self.at_limit() => {
                self.stray.count_drop(DropReason::SessionLimit);
                self.reject(peer, "session limit reached");
            }
            None => {
                let mut session = self.new_session(now, NegotiatedMode::ThreeWay);
                let (config, accepted) = self.accept_options(options);
                if let Ok(plan) = config.plan() {
                    session.config = config;
                    session.plan = plan;
                    session.metrics.frames_expected = config.frames();
                }
                session.accepted = OwnedOptions::from_options(&accepted).unwrap_or_default();
                self.sessions.insert(peer, session);
                self.send_syn_ack(now, peer);
                self.transition(peer, Phase::Idle, Phase::AwaitingAck, Reason::SynAccepted);
                let optimistic = self.profile.optimistic_start && !self.pushing();
                if optimistic || self.profile.is(Mutant::MediaBeforeAck) {
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

    /// A legacy push receiver fails its session on anything malformed or unexpected from its
    /// sender, as the legacy receive side does; returns whether it did.
    fn legacy_receiver_fails(&mut self, now: Instant, peer: SocketAddr, why: &str) -> bool {
        let legacy_receiving = self.pushing()
            && self.sessions.get(&peer).is_some_and(|s| {
                s.metrics.negotiated_mode == NegotiatedMode::Legacy && s.receiver.is_some()
            });
        if legacy_receiving {
            let failure = Some(why.to_owned());
            self.end_session(now, peer, Phase::Failed, Reason::MalformedDatagram, failure);
        }
        legacy_receiving
    }

    /// Push: a media datagram from the initiator.
    fn on_media(&mut self, now: Instant, peer: SocketAddr, datagram: &Datagram<'_>) {
        let kind = Some(datagram.kind());
        let not_establishing = self.profile.is(Mutant::PushMediaNotEstablishing);
        let Some(session) = self.sessions.get_mut(&peer) else {
            return self.drop_datagram(peer, kind, DropReason::UnknownSession);
        };
        if session.receiver.is_none() {
            if not_establishing || session.phase != Phase::AwaitingAck {
                return self.drop_datagram(peer, kind, DropReason::MediaBeforeSession);
            }
            // D15: the sender streams only after an accepting SYN-ACK, so its first media
            // establishes the pending session as its ACK would have (a lost ACK costs no media).
            session.syn_ack_timer = None;
            self.transition(
                peer,
                Phase::AwaitingAck,
                Phase::Streaming,
                Reason::FirstData,
            );
            self.start_receiving(now, peer, false);
        }
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let Some(receiver) = session.receiver.as_mut() else {
            return;
        };
        let legacy = session.metrics.negotiated_mode == NegotiatedMode::Legacy;
        let first = !receiver.is_started();
        let media = receiver.take(now, datagram);
        let complete = receiver.last_frame_complete();
        if first && matches!(media, Media::Verified(_)) {
            session.metrics.time_to_first_media = Some(now - session.started_at);
        }
        match media {
            Media::BadPayload(why) => {
                if !self.legacy_receiver_fails(now, peer, &why) {
                    self.drop_datagram(peer, kind, DropReason::PayloadMismatch);
                }
                return;
            }
            Media::Unexpected => {
                if !self.legacy_receiver_fails(now, peer, &unexpected(datagram.kind())) {
                    self.drop_datagram(peer, kind, DropReason::UnexpectedKind);
                }
                return;
            }
            Media::Verified(Ok(())) => {}
            Media::Verified(Err(DropReason::DuplicateDatagram)) => {
                session.metrics.duplicate_datagrams += 1;
                self.drop_datagram(peer, kind, DropReason::DuplicateDatagram);
            }
            Media::Verified(Err(reason)) => {
                session.metrics.frames_error += 1;
                if !legacy {
                    self.drop_datagram(peer, kind, reason);
                }
            }
        }
        // As the branch codes it: success as soon as the final frame has arrived.
        if complete {
            if let Some(session) = self.sessions.get_mut(&peer) {
                if let Some(receiver) = session.receiver.as_mut() {
                    receiver.render_all(&mut session.metrics);
                }
            }
            self.end_session(now, peer, Phase::Finished, Reason::StreamComplete, None);
        }
    }

    fn send_due_frames(&mut self, now: Instant, peer: SocketAddr) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let Some(sender) = session.sender.as_mut() else {
            return;
        };
        let transmits = &mut self.transmits;
        let sent = sender.send_due(
            now,
            &session.config,
            &session.plan,
            &self.profile,
            &mut self.qpc,
            |payload| {
                transmits.push_back(Transmit {
                    destination: peer,
                    payload,
                })
            },
        );
        let finished = sender.finished(&session.config, &self.profile);
        if sent > 0 && session.metrics.time_to_first_media.is_none() {
            session.metrics.time_to_first_media = Some(now - session.started_at);
        }
        session.metrics.frames_sent += sent;
        if finished {
            self.end_session(now, peer, Phase::Finished, Reason::StreamComplete, None);
        }
    }

    fn end_session(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        to: Phase,
        reason: Reason,
        failure: Option<String>,
    ) {
        let Some(mut session) = self.sessions.remove(&peer) else {
            return;
        };
        session.metrics.time_to_end = Some(now - session.started_at);
        if let Some(receiver) = &session.receiver {
            session.metrics.frames_dropped += receiver.unrendered();
        }
        if to == Phase::Abandoned {
            session.metrics.negotiated_mode = NegotiatedMode::Failed;
            session.metrics.failure =
                Some(format!("no ACK after {} SYN-ACKs", session.syn_acks_sent));
        }
        if let Some(why) = failure {
            session.metrics.failure = Some(why);
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
                return self.on_syn(now, peer, Options::EMPTY);
            }
            if self.profile.kind == ProfileKind::ThreeWay {
                self.stray.count_drop(DropReason::BadVersion);
                return self.reject(peer, &format!("unsupported version {version}"));
            }
        }
        if self.legacy_receiver_fails(now, peer, &format!("malformed datagram: {error}")) {
            return;
        }
        self.drop_datagram(peer, error.kind(), DropReason::from_wire(&error));
    }

    /// Push: renders what is due and ends sessions whose stream finished or never came.
    fn receive_timeouts(&mut self, now: Instant, peer: SocketAddr) {
        let Some(session) = self.sessions.get_mut(&peer) else {
            return;
        };
        let Some(receiver) = session.receiver.as_mut() else {
            return;
        };
        if !receiver.is_started() {
            if session.media_timeout.is_some_and(|t| t <= now) {
                let why = "no media arrived after the session was set up".to_owned();
                self.end_session(
                    now,
                    peer,
                    Phase::Failed,
                    Reason::NothingBeforeFirstRender,
                    Some(why),
                );
            }
            return;
        }
        match receiver.render_due(now, &mut session.metrics) {
            Render::Continue => {}
            Render::Finished => {
                self.end_session(now, peer, Phase::Finished, Reason::StreamComplete, None)
            }
            Render::NothingArrived => {
                let why = "nothing arrived before the first render deadline".to_owned();
                self.end_session(
                    now,
                    peer,
                    Phase::Failed,
                    Reason::NothingBeforeFirstRender,
                    Some(why),
                )
            }
        }
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
                self.on_syn(now, source, c.options)
            }
            Datagram::Control(c) if three_way && c.kind == ControlKind::Ack => {
                self.on_ack(now, source, c.connection_id)
            }
            Datagram::Data(_) | Datagram::Fragment(_) if self.pushing() => {
                self.on_media(now, source, &datagram)
            }
            // As coded, the legacy responder discards everything but START (a legacy push receiver
            // fails on it, as the legacy receive side does); 3way drops what it does not expect (D11).
            other => {
                if self.legacy_receiver_fails(now, source, &unexpected(other.kind())) {
                    return;
                }
                self.drop_datagram(source, Some(other.kind()), DropReason::UnexpectedKind)
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.deadline(&self.profile).is_some_and(|d| d <= now))
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
                    self.end_session(now, peer, Phase::Abandoned, Reason::AckTimedOut, None);
                    continue;
                } else if let Some(s) = self.sessions.get_mut(&peer) {
                    // Optimistic: the stream goes on without the ACK.
                    s.syn_ack_timer = None;
                }
            }
            self.send_due_frames(now, peer);
            self.receive_timeouts(now, peer);
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
            .filter_map(|s| s.deadline(&self.profile))
            .min()
    }

    /// A responder serves until it is dropped.
    fn is_finished(&self) -> bool {
        false
    }
}
