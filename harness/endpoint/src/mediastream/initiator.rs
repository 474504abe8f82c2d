//! The Initiator: asks for a stream and receives it (ctsTraffic's client, `-target:`).
//!
//! * `legacy`: START at connect, re-sent every trunc(1000/FrameRate)+500 ms until the first DATA;
//!   any malformed datagram fails the stream; byte-sum frame accounting.
//! * `udp_push`: START, then a SYN (zero desired id) on every re-send tick; the legacy receive side, so a
//!   SYN-ACK fails the stream.
//! * `3way`: SYN with D2's backoff (D1), ACK echoing the assigned id (D5), media only once the session is
//!   known (D8), invalid datagrams dropped and counted (D11), duplicates discarded (D13); with
//!   `fallback_to_legacy`, legacy START after the SYNs go unanswered (D10).

use std::collections::VecDeque;
use std::net::SocketAddr;

use handshake_wire::mediastream::{
    verify_pattern, ConnectionId, ControlKind, ControlRepr, Datagram, Kind, Mode,
};

use crate::{Endpoint, Instant, Transmit};

use super::config::{ConfigError, Profile, ProfileKind, StreamConfig, Verify};
use super::event::{DropReason, Event, Metrics, NegotiatedMode, Phase, Reason};
use super::playout::{DatagramIdentity, Playout, Render};
use super::Mutant;

/// How the initiator is looking for its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Discovery {
    /// `connect` not called yet.
    NotStarted,
    /// Legacy START (or udp_push SYN) re-sent at a fixed interval until the first DATA.
    Resending { next: Instant },
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
    playout: Playout,
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
            playout: Playout::new(
                config,
                frame_size,
                three_way && !profile.is(Mutant::DuplicateCountedAsGood),
            ),
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
            ProfileKind::Legacy | ProfileKind::UdpPush => {
                self.send(&Datagram::Start);
                self.metrics.handshake_attempts += 1;
                self.discovery = Discovery::Resending {
                    next: now + self.config.start_resend_interval(),
                };
                self.playout.start(now);
                let reason = if self.profile.kind == ProfileKind::UdpPush {
                    Reason::StartThenSyn
                } else {
                    Reason::StartSent
                };
                self.transition(Phase::Discovering, reason);
            }
            ProfileKind::ThreeWay => {
                self.send_syn();
                self.discovery = Discovery::Syn {
                    sent: 1,
                    next: now + self.profile.syn_backoff.interval_after(1),
                };
                self.transition(Phase::Handshaking, Reason::SynSent);
            }
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
        self.send(&Datagram::Control(ControlRepr::syn(
            self.profile.desired_id,
        )));
        self.metrics.handshake_attempts += 1;
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
        self.metrics.frames_dropped += self.playout.unrendered();
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
        datagram: Result<Datagram<'_>, handshake_wire::mediastream::Error>,
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
            Datagram::Data(d) => {
                if self.config.verify == Verify::Data {
                    if let Err(m) = verify_pattern(d.payload) {
                        return self.fail_malformed(now, format!("DATA seq {}: {m}", d.seq));
                    }
                }
                self.media_started(now, NegotiatedMode::Legacy);
                let len = datagram.buffer_len() as u64;
                let identity = DatagramIdentity::Data { qpc: d.qpc, len };
                if self.playout.receive(d.seq, identity, len).is_err() {
                    self.metrics.frames_error += 1;
                }
            }
            other => self.fail_malformed(
                now,
                format!(
                    "unexpected {} datagram (flag unknown to this receiver)",
                    other.kind()
                ),
            ),
        }
    }

    fn receive_three_way(
        &mut self,
        now: Instant,
        datagram: Result<Datagram<'_>, handshake_wire::mediastream::Error>,
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
                        let echoed = if self.profile.is(Mutant::AckNotEchoingId) {
                            ConnectionId::ZERO
                        } else {
                            c.connection_id
                        };
                        self.send(&Datagram::Control(ControlRepr::ack(echoed)));
                        self.session_known(now, c.connection_id, Reason::SynAckAccepted);
                    }
                    // D5: every repeated SYN-ACK gets another ACK.
                    (true, Some(id)) if id == c.connection_id => {
                        self.send(&Datagram::Control(ControlRepr::ack(id)));
                    }
                    (true, Some(_)) => self.drop_datagram(kind, DropReason::MismatchedConnectionId),
                    _ => self.drop_datagram(kind, DropReason::UnexpectedKind),
                }
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
                let payload = datagram.payload().unwrap_or_default();
                if self.config.verify == Verify::Data && verify_pattern(payload).is_err() {
                    return self.drop_datagram(kind, DropReason::PayloadMismatch);
                }
                let len = datagram.buffer_len() as u64;
                let (seq, identity) = match datagram {
                    Datagram::Fragment(f) => (
                        f.seq,
                        DatagramIdentity::Fragment {
                            offset: f.fragment_offset,
                            len,
                        },
                    ),
                    Datagram::Data(d) => (d.seq, DatagramIdentity::Data { qpc: d.qpc, len }),
                    _ => return,
                };
                let mode = if self.fell_back {
                    NegotiatedMode::LegacyFallback
                } else {
                    NegotiatedMode::ThreeWay
                };
                self.media_started(now, mode);
                if !self.playout.is_started() {
                    self.playout.start_from_media(now, seq);
                }
                match self.playout.receive(seq, identity, len) {
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
        self.strict = false;
        self.send(&Datagram::Start);
        self.metrics.handshake_attempts += 1;
        self.discovery = Discovery::Resending {
            next: now + self.config.start_resend_interval(),
        };
        self.playout.start(now);
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
        if self.strict {
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
                    next: next + self.config.start_resend_interval(),
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
                        Some(format!("no SYN-ACK after {sent} SYNs")),
                    );
                }
            }
            _ => {}
        }
        if self.media_timeout.is_some_and(|t| t <= now) && !self.playout.is_started() {
            return self.end(
                now,
                Phase::Failed,
                Reason::NothingBeforeFirstRender,
                Some("no media arrived after the handshake".to_owned()),
            );
        }
        match self.playout.render_due(now, &mut self.metrics) {
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
            Discovery::Resending { next } | Discovery::Syn { next, .. } => Some(next),
            Discovery::NotStarted | Discovery::Done => None,
        };
        let media_timeout = self.media_timeout.filter(|_| !self.playout.is_started());
        [discovery, self.playout.deadline(), media_timeout]
            .into_iter()
            .flatten()
            .min()
    }

    fn is_finished(&self) -> bool {
        self.is_over()
    }
}
