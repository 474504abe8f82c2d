//! The Initiator: asks for a stream and receives it (ctsTraffic's client, `-target:`).
//!
//! * `legacy`: START at connect, re-sent every trunc(1000/FrameRate)+500 ms until the first DATA;
//!   any malformed datagram fails the stream; byte-sum frame accounting.
//! * `udp_push`: START, then a SYN (zero desired id) on every re-send tick; the legacy receive side, so a
//!   SYN-ACK fails the stream.
//! * `3way`: SYN with D2's backoff (D1), ACK echoing the assigned id (D5), media only once the session is
//!   known (D8), invalid datagrams dropped and counted (D11), duplicates discarded (D13); with
//!   `fallback_to_legacy`, legacy START after the SYNs go unanswered (D10).
//!
//! With [`Direction::Push`] the initiator is the media sender instead: legacy as the
//! `bidirectional_media_stream` branch codes it (START, at most once more, frames after the
//! CONNECTION_ID), 3-way by D15 (the pull handshake, frames right after the first ACK).

use std::collections::VecDeque;
use std::net::SocketAddr;

use handshake_mediastream_wire::{
    ConnectionId, ControlKind, ControlRepr, Datagram, FragmentPlan, Kind, Mode, Options,
    OwnedOptions, TlvOption,
};

use handshake_core::{Endpoint, Instant, Transmit};

use super::config::{ConfigError, Direction, Profile, ProfileKind, StreamConfig};
use super::event::{DropReason, Event, Metrics, NegotiatedMode, Phase, Reason};
use super::playout::Render;
use super::receiver::{unexpected, Media, MediaReceiver};
use super::sender::{MediaSender, Qpc};
use super::Mutant;

/// How the initiator is looking for its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Discovery {
    /// `connect` not called yet.
    NotStarted,
    /// Legacy START (or udp_push SYN) re-sent at a fixed interval until the first DATA.
    Resending { next: Instant },
    /// Push (legacy): START sent `sent` times (at most twice), waiting for the CONNECTION_ID; the
    /// next START, or the give-up, at `next`.
    PushStart { sent: u32, next: Instant },
    /// 3-way SYN attempts (D2): `sent` SYNs so far, the next re-send or give-up at `next`.
    Syn { sent: u32, next: Instant },
    /// Nothing more to send.
    Done,
}

/// The media-stream initiator, sans-I/O.
#[derive(Debug)]
pub struct Initiator {
    profile: Profile,
    config: StreamConfig,
    target: SocketAddr,
    phase: Phase,
    discovery: Discovery,
    /// Legacy receive semantics: any malformed datagram fails the stream.
    strict: bool,
    /// Fell back to legacy START (D10).
    fell_back: bool,
    connected_at: Option<Instant>,
    /// 3way: when the stream fails if no media has come since the session became known.
    media_timeout: Option<Instant>,
    /// Pull: the receive side.
    receiver: MediaReceiver,
    /// Push: the send side, once the session is known.
    sender: Option<MediaSender>,
    plan: FragmentPlan,
    qpc: Qpc,
    metrics: Metrics,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Initiator {
    /// An initiator for `target` that has not sent anything yet; call [`connect`](Self::connect).
    pub fn new(
        profile: Profile,
        config: StreamConfig,
        target: SocketAddr,
    ) -> Result<Initiator, ConfigError> {
        config.validate()?;
        if config.direction == Direction::Push && profile.kind == ProfileKind::UdpPush {
            return Err(ConfigError::PushNotCoded);
        }
        let frame_size = config.frame_size()?;
        let three_way = profile.kind == ProfileKind::ThreeWay;
        Ok(Initiator {
            profile,
            config,
            target,
            phase: Phase::Idle,
            discovery: Discovery::NotStarted,
            strict: !three_way,
            fell_back: false,
            connected_at: None,
            media_timeout: None,
            receiver: MediaReceiver::new(
                config,
                frame_size,
                three_way && !profile.is(Mutant::DuplicateCountedAsGood),
                !three_way,
            ),
            sender: None,
            plan: config.plan()?,
            qpc: Qpc::default(),
            metrics: Metrics {
                frames_expected: config.frames(),
                ..Metrics::default()
            },
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Starts discovery: START (legacy, udp_push) or SYN (3way, D1).
    pub fn connect(&mut self, now: Instant) {
        if self.discovery != Discovery::NotStarted {
            return;
        }
        self.connected_at = Some(now);
        match self.profile.kind {
            ProfileKind::Legacy if self.pushing() => self.push_start(now),
            ProfileKind::Legacy | ProfileKind::UdpPush => {
                self.send(&Datagram::Start);
                self.metrics.handshake_attempts += 1;
                self.discovery = Discovery::Resending {
                    next: now + self.start_resend_interval(),
                };
                self.receiver.start(now);
                let reason = if self.profile.kind == ProfileKind::UdpPush {
                    Reason::StartThenSyn
                } else {
                    Reason::StartSent
                };
                self.transition(Phase::Discovering, reason);
            }
            ProfileKind::ThreeWay => {
                if self.profile.is(Mutant::StartBeforeSyn) {
                    self.send(&Datagram::Start);
                }
                self.send_syn();
                self.discovery = Discovery::Syn {
                    sent: 1,
                    next: now + self.profile.syn_backoff.interval_after(1),
                };
                self.transition(Phase::Handshaking, Reason::SynSent);
            }
        }
    }

    /// The legacy re-send interval (the mutant's without its +500 ms).
    fn start_resend_interval(&self) -> core::time::Duration {
        let interval = self.config.start_resend_interval();
        if self.profile.is(Mutant::StartResendNo500) {
            interval.saturating_sub(core::time::Duration::from_millis(500))
        } else {
            interval
        }
    }

    fn pushing(&self) -> bool {
        self.config.direction == Direction::Push
    }

    /// Push, legacy discovery (the `bidirectional_media_stream` branch as coded): START now, at most
    /// once more one re-send interval later; the stream fails one interval after that without a
    /// CONNECTION_ID (project decision: the branch's give-up is not known).
    fn push_start(&mut self, now: Instant) {
        self.send(&Datagram::Start);
        self.metrics.handshake_attempts += 1;
        self.discovery = Discovery::PushStart {
            sent: 1,
            next: now + self.start_resend_interval(),
        };
        self.transition(Phase::Discovering, Reason::StartSent);
    }

    /// Push: the session is known; frame 1 goes now (legacy: after the CONNECTION_ID; D15: right
    /// after the first ACK).
    fn start_sending(&mut self, now: Instant, reason: Reason) {
        if self.sender.is_some() {
            return;
        }
        self.discovery = Discovery::Done;
        self.sender = Some(MediaSender::new(now));
        self.transition(Phase::Streaming, reason);
        self.send_due_frames(now);
    }

    fn send_due_frames(&mut self, now: Instant) {
        let Some(sender) = &mut self.sender else {
            return;
        };
        let (target, transmits) = (self.target, &mut self.transmits);
        let sent = sender.send_due(
            now,
            &self.config,
            &self.plan,
            &self.profile,
            &mut self.qpc,
            |payload| {
                transmits.push_back(Transmit {
                    destination: target,
                    payload,
                })
            },
        );
        let finished = sender.finished(&self.config, &self.profile);
        if sent > 0 && self.metrics.time_to_first_media.is_none() {
            self.metrics.time_to_first_media = self.connected_at.map(|t| now - t);
        }
        self.metrics.frames_sent += sent;
        if finished {
            self.end(now, Phase::Finished, Reason::StreamComplete, None);
        }
    }

    /// Push: what the sender takes from the responder. Legacy: the first CONNECTION_ID starts the
    /// stream; D15: the SYN-ACKs of the 3-way handshake (ACKed by D5). Anything else is dropped and
    /// counted; a sender never fails on what it receives.
    fn receive_pushing(
        &mut self,
        now: Instant,
        datagram: Result<Datagram<'_>, handshake_mediastream_wire::Error>,
    ) {
        let datagram = match datagram {
            Ok(d) => d,
            Err(e) => return self.drop_datagram(e.kind(), DropReason::from_wire(&e)),
        };
        let kind = Some(datagram.kind());
        match datagram {
            Datagram::ConnectionId(id) if matches!(self.discovery, Discovery::PushStart { .. }) => {
                self.metrics.connection_id = Some(id);
                self.metrics.negotiated_mode = if self.fell_back {
                    NegotiatedMode::LegacyFallback
                } else {
                    NegotiatedMode::Legacy
                };
                self.start_sending(now, Reason::ConnectionIdAdopted);
            }
            Datagram::ConnectionId(id) if self.metrics.connection_id == Some(id) => {}
            Datagram::ConnectionId(_) => {
                self.drop_datagram(kind, DropReason::MismatchedConnectionId)
            }
            Datagram::Control(c) if c.kind == ControlKind::SynAck && !self.fell_back => {
                self.on_syn_ack(now, &c)
            }
            _ => self.drop_datagram(kind, DropReason::UnexpectedKind),
        }
    }

    /// D5: the answer to a SYN-ACK, in either direction. Accept=0 ends the attempt without an ACK;
    /// the first Accept=1 is ACKed and the session is known (pull: media is awaited; push, D15: the
    /// frames go right after the ACK); every repeat with the same id gets another ACK; another id
    /// is dropped and counted (D11).
    fn on_syn_ack(&mut self, now: Instant, c: &ControlRepr<'_>) {
        let kind = Some(Kind::SynAck);
        match (c.accept(), self.metrics.connection_id) {
            (false, None) if self.phase == Phase::Handshaking => {
                if self.profile.is(Mutant::AckOnReject) {
                    self.send(&Datagram::Control(ControlRepr::ack(c.connection_id)));
                }
                let reason = c
                    .connection_id
                    .as_text()
                    .unwrap_or("(no reason given)")
                    .to_owned();
                self.end(
                    now,
                    Phase::Rejected,
                    Reason::SynAckRejected,
                    Some(format!("rejected: {reason}")),
                );
            }
            (true, None) if self.phase == Phase::Handshaking => {
                self.adopt_options(c.options);
                let echoed = if self.profile.is(Mutant::AckNotEchoingId) {
                    ConnectionId::ZERO
                } else {
                    c.connection_id
                };
                let ack = Datagram::Control(ControlRepr::ack(echoed));
                if !self.pushing() {
                    self.send(&ack);
                    return self.session_known(now, c.connection_id, Reason::SynAckAccepted);
                }
                self.metrics.connection_id = Some(c.connection_id);
                self.metrics.negotiated_mode = NegotiatedMode::ThreeWay;
                if self.profile.is(Mutant::PushMediaBeforeAck) {
                    self.start_sending(now, Reason::SynAckAccepted);
                    self.send(&ack);
                } else {
                    self.send(&ack);
                    self.start_sending(now, Reason::SynAckAccepted);
                }
            }
            (true, Some(id)) if id == c.connection_id => {
                self.send(&Datagram::Control(ControlRepr::ack(id)));
            }
            (true, Some(_)) => self.drop_datagram(kind, DropReason::MismatchedConnectionId),
            _ => self.drop_datagram(kind, DropReason::UnexpectedKind),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The stream's metrics so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The responder this initiator talks to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    fn send(&mut self, datagram: &Datagram<'_>) {
        self.transmits.push_back(Transmit {
            destination: self.target,
            payload: datagram.to_vec(),
        });
    }

    fn send_syn(&mut self) {
        let syn = ControlRepr::syn(self.profile.desired_id);
        if self.profile.request_options {
            let requested = self.requested_options();
            self.send(&Datagram::Control(syn.with_options(requested.as_options())));
        } else {
            self.send(&Datagram::Control(syn));
        }
        self.metrics.handshake_attempts += 1;
    }

    /// D14: the stream's own parameters as requested options (types 1, 2, 3 and 5).
    fn requested_options(&self) -> OwnedOptions {
        let c = &self.config;
        OwnedOptions::from_options(&[
            TlvOption::FrameRate(c.frame_rate),
            TlvOption::BitsPerSecond(c.bits_per_second),
            TlvOption::BufferDepthMs(c.buffer_depth_secs.saturating_mul(1000)),
            TlvOption::MaxDatagramBytes(c.datagram_byte_size),
        ])
        .unwrap_or_default()
    }

    /// D14: runs with the parameters the SYN-ACK accepted (among those requested; a value that
    /// would not give a valid stream is ignored). Before any media, so the receive side is rebuilt.
    fn adopt_options(&mut self, accepted: Options<'_>) {
        if !self.profile.request_options || accepted.is_empty() {
            return;
        }
        let mut config = self.config;
        for option in accepted.iter() {
            match option {
                TlvOption::FrameRate(v) => config.frame_rate = v,
                TlvOption::BitsPerSecond(v) => config.bits_per_second = v,
                TlvOption::BufferDepthMs(v) if v % 1000 == 0 => config.buffer_depth_secs = v / 1000,
                TlvOption::MaxDatagramBytes(v) => config.datagram_byte_size = v,
                _ => {}
            }
        }
        let (Ok(()), Ok(frame_size), Ok(plan)) =
            (config.validate(), config.frame_size(), config.plan())
        else {
            return;
        };
        if config == self.config {
            return;
        }
        let three_way = self.profile.kind == ProfileKind::ThreeWay;
        self.config = config;
        self.plan = plan;
        self.metrics.frames_expected = config.frames();
        self.receiver = MediaReceiver::new(
            config,
            frame_size,
            three_way && !self.profile.is(Mutant::DuplicateCountedAsGood),
            !three_way,
        );
    }

    fn transition(&mut self, to: Phase, reason: Reason) {
        let from = self.phase;
        self.phase = to;
        self.events.push_back(Event::Transition {
            peer: self.target,
            from,
            to,
            reason,
        });
    }

    fn drop_datagram(&mut self, kind: Option<Kind>, reason: DropReason) {
        self.metrics.count_drop(reason);
        self.events.push_back(Event::Dropped {
            peer: self.target,
            kind,
            reason,
        });
    }

    fn is_over(&self) -> bool {
        matches!(
            self.phase,
            Phase::Finished | Phase::Failed | Phase::Rejected
        )
    }

    fn end(&mut self, now: Instant, to: Phase, reason: Reason, failure: Option<String>) {
        self.discovery = Discovery::Done;
        if !self.pushing() {
            self.metrics.frames_dropped += self.receiver.unrendered();
        }
        if let Some(why) = failure {
            self.metrics.failure = Some(why);
            if to == Phase::Rejected {
                self.metrics.negotiated_mode = NegotiatedMode::Rejected;
            } else {
                self.metrics.negotiated_mode = NegotiatedMode::Failed;
            }
        }
        self.metrics.time_to_end = self.connected_at.map(|t| now - t);
        self.transition(to, reason);
        self.events.push_back(Event::Ended {
            peer: self.target,
            metrics: Box::new(self.metrics.clone()),
        });
    }

    /// Legacy receive side: the whole stream fails.
    fn fail_malformed(&mut self, now: Instant, what: String) {
        self.end(now, Phase::Failed, Reason::MalformedDatagram, Some(what));
    }

    fn media_started(&mut self, now: Instant, mode: NegotiatedMode) {
        if self.metrics.time_to_first_media.is_none() {
            self.metrics.time_to_first_media = self.connected_at.map(|t| now - t);
        }
        if matches!(self.discovery, Discovery::Resending { .. }) {
            self.discovery = Discovery::Done;
        }
        if self.phase == Phase::Discovering {
            self.metrics.negotiated_mode = mode;
            self.transition(Phase::Streaming, Reason::FirstData);
        }
    }

    /// The session became known over 3-way (D5, D8): stop SYNs and wait for media.
    ///
    /// Project decision (the 3-way spec is silent): the render clock of a 3-way stream starts with its
    /// first media datagram, not at the handshake, because a lost ACK delays the responder's media by
    /// D7's re-send schedule. Media must begin within that whole schedule plus the initial buffer.
    fn session_known(&mut self, now: Instant, id: ConnectionId, reason: Reason) {
        self.metrics.connection_id = Some(id);
        self.metrics.negotiated_mode = NegotiatedMode::ThreeWay;
        self.discovery = Discovery::Done;
        let backoff = self.profile.syn_ack_backoff;
        let schedule: core::time::Duration =
            (1..=backoff.sends).map(|n| backoff.interval_after(n)).sum();
        let buffer = self
            .config
            .frame_offset(self.config.initial_buffer_frames());
        self.media_timeout = Some(now + schedule + buffer);
        self.transition(Phase::Streaming, reason);
    }

    fn receive_strict(
        &mut self,
        now: Instant,
        datagram: Result<Datagram<'_>, handshake_mediastream_wire::Error>,
    ) {
        let datagram = match datagram {
            Ok(d) => d,
            Err(e) => return self.fail_malformed(now, format!("malformed datagram: {e}")),
        };
        match datagram {
            Datagram::ConnectionId(id) => {
                // As coded: the id is stored, whenever it comes, and never checked.
                self.metrics.connection_id = Some(id);
            }
            Datagram::Data(_) => match self.receiver.take(now, &datagram) {
                Media::BadPayload(why) => self.fail_malformed(now, why),
                Media::Unexpected => {}
                Media::Verified(taken) => {
                    self.media_started(now, NegotiatedMode::Legacy);
                    if taken.is_err() {
                        self.metrics.frames_error += 1;
                    }
                }
            },
            other => self.fail_malformed(now, unexpected(other.kind())),
        }
    }

    fn receive_three_way(
        &mut self,
        now: Instant,
        datagram: Result<Datagram<'_>, handshake_mediastream_wire::Error>,
    ) {
        let datagram = match datagram {
            Ok(d) => d,
            Err(e) if self.profile.is(Mutant::AbortOnMalformed) => {
                return self.fail_malformed(now, format!("malformed datagram: {e}"))
            }
            Err(e) => return self.drop_datagram(e.kind(), DropReason::from_wire(&e)),
        };
        let kind = Some(datagram.kind());
        match datagram {
            Datagram::Control(c) if c.kind == ControlKind::SynAck && !self.fell_back => {
                self.on_syn_ack(now, &c)
            }
            Datagram::ConnectionId(id) => match self.metrics.connection_id {
                Some(known) if known == id => {}
                Some(_) if !self.fell_back => {
                    self.drop_datagram(kind, DropReason::MismatchedConnectionId)
                }
                // After fallback the session is legacy: the id is taken as given.
                _ if self.fell_back => self.metrics.connection_id = Some(id),
                // D8: an optimistic responder's CONNECTION_ID tells the id when the SYN-ACK was lost.
                None if self.phase == Phase::Handshaking
                    && (self.profile.desired_id.is_zero() || self.profile.desired_id == id) =>
                {
                    self.session_known(now, id, Reason::ConnectionIdAdopted)
                }
                _ => self.drop_datagram(kind, DropReason::MismatchedConnectionId),
            },
            Datagram::Data(_) | Datagram::Fragment(_) => {
                if self.metrics.connection_id.is_none()
                    && !self.fell_back
                    && !self.profile.is(Mutant::MediaBeforeSessionAccepted)
                {
                    return self.drop_datagram(kind, DropReason::MediaBeforeSession);
                }
                let taken = match self.receiver.take(now, &datagram) {
                    Media::BadPayload(_) => {
                        return self.drop_datagram(kind, DropReason::PayloadMismatch)
                    }
                    Media::Unexpected => return,
                    Media::Verified(taken) => taken,
                };
                let mode = if self.fell_back {
                    NegotiatedMode::LegacyFallback
                } else {
                    NegotiatedMode::ThreeWay
                };
                self.media_started(now, mode);
                match taken {
                    Ok(()) => {}
                    Err(DropReason::DuplicateDatagram) => {
                        self.metrics.duplicate_datagrams += 1;
                        self.drop_datagram(kind, DropReason::DuplicateDatagram);
                    }
                    Err(reason) => {
                        self.metrics.frames_error += 1;
                        self.drop_datagram(kind, reason);
                    }
                }
            }
            _ => self.drop_datagram(kind, DropReason::UnexpectedKind),
        }
    }

    fn fall_back(&mut self, now: Instant) {
        self.fell_back = true;
        if self.pushing() {
            // D10 with D15: the legacy push sender from here on.
            self.push_start(now);
            return;
        }
        self.strict = false;
        self.receiver.set_strict(false);
        self.send(&Datagram::Start);
        self.metrics.handshake_attempts += 1;
        self.discovery = Discovery::Resending {
            next: now + self.start_resend_interval(),
        };
        self.receiver.start(now);
        self.transition(Phase::Discovering, Reason::FellBackToLegacy);
    }
}

impl Endpoint for Initiator {
    type Event = Event;

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        if source != self.target {
            // A connected UDP socket would not even deliver it; counted, never fatal.
            self.metrics.count_drop(DropReason::UnknownTuple);
            self.events.push_back(Event::Dropped {
                peer: source,
                kind: Datagram::parse(payload, Mode::ThreeWayOnly)
                    .ok()
                    .map(|d| d.kind()),
                reason: DropReason::UnknownTuple,
            });
            return;
        }
        if self.is_over() || self.phase == Phase::Idle {
            let kind = Datagram::parse(payload, Mode::ThreeWayOnly)
                .ok()
                .map(|d| d.kind());
            return self.drop_datagram(kind, DropReason::AfterEnd);
        }
        // Initiators never take START, so they classify 3-way-only.
        let datagram = Datagram::parse(payload, Mode::ThreeWayOnly);
        if self.pushing() {
            self.receive_pushing(now, datagram);
        } else if self.strict {
            self.receive_strict(now, datagram);
        } else {
            self.receive_three_way(now, datagram);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.is_over() {
            return;
        }
        match self.discovery {
            Discovery::PushStart { sent, next } if next <= now => {
                if sent < 2 {
                    self.send(&Datagram::Start);
                    self.metrics.handshake_attempts += 1;
                    self.discovery = Discovery::PushStart {
                        sent: sent + 1,
                        next: next + self.start_resend_interval(),
                    };
                } else {
                    return self.end(
                        now,
                        Phase::Failed,
                        Reason::HandshakeTimedOut,
                        Some(format!("no CONNECTION_ID after {sent} STARTs")),
                    );
                }
            }
            Discovery::Resending { next } if next <= now => {
                if self.profile.kind == ProfileKind::UdpPush {
                    // As coded: every re-send tick sends a 67-byte SYN with a zero desired id.
                    self.send(&Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)));
                    self.metrics.handshake_attempts += 1;
                } else {
                    self.send(&Datagram::Start);
                    self.metrics.handshake_attempts += 1;
                }
                self.discovery = Discovery::Resending {
                    next: next + self.start_resend_interval(),
                };
            }
            Discovery::Syn { sent, next } if next <= now => {
                let sends =
                    self.profile.syn_backoff.sends + u32::from(self.profile.is(Mutant::FifthSyn));
                if sent < sends {
                    self.send_syn();
                    let wait = if self.profile.is(Mutant::NoSynBackoff) {
                        core::time::Duration::from_millis(self.profile.syn_backoff.initial_ms)
                    } else {
                        self.profile.syn_backoff.interval_after(sent + 1)
                    };
                    self.discovery = Discovery::Syn {
                        sent: sent + 1,
                        next: next + wait,
                    };
                } else if self.profile.fallback_to_legacy {
                    self.fall_back(now);
                } else {
                    return self.end(
                        now,
                        Phase::Failed,
                        Reason::HandshakeTimedOut,
                        Some(format!(
                            "no SYN-ACK after {}",
                            handshake_core::words::count(sent, "SYN")
                        )),
                    );
                }
            }
            _ => {}
        }
        if self.pushing() {
            return self.send_due_frames(now);
        }
        if self.media_timeout.is_some_and(|t| t <= now) && !self.receiver.is_started() {
            return self.end(
                now,
                Phase::Failed,
                Reason::NothingBeforeFirstRender,
                Some("no media arrived after the handshake".to_owned()),
            );
        }
        match self.receiver.render_due(now, &mut self.metrics) {
            Render::Continue => {}
            Render::Finished => self.end(now, Phase::Finished, Reason::StreamComplete, None),
            Render::NothingArrived => self.end(
                now,
                Phase::Failed,
                Reason::NothingBeforeFirstRender,
                Some("nothing arrived before the first render deadline".to_owned()),
            ),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.is_over() {
            return None;
        }
        let discovery = match self.discovery {
            Discovery::Resending { next }
            | Discovery::Syn { next, .. }
            | Discovery::PushStart { next, .. } => Some(next),
            Discovery::NotStarted | Discovery::Done => None,
        };
        if self.pushing() {
            let frame = self
                .sender
                .and_then(|s| s.next_due(&self.config, &self.profile));
            return [discovery, frame].into_iter().flatten().min();
        }
        let media_timeout = self.media_timeout.filter(|_| !self.receiver.is_started());
        [discovery, self.receiver.deadline(), media_timeout]
            .into_iter()
            .flatten()
            .min()
    }

    fn is_finished(&self) -> bool {
        self.is_over()
    }
}
