//! The harness's scripted participants, for scenarios whose IUT is a controller or a handler: any
//! number of participants, each with a signaling session (path `/signaling` by default) and a
//! media session (`/media`) to the IUT, writing whatever bytes a scenario says — valid or not —
//! and reporting everything the IUT sends back as [`DarkTowerEvent`]s. Paths (WebTransport) and
//! ALPNs (bare QUIC, the transport's offers) are a contract: [`ScriptClient::with_paths`] takes
//! the IUT's.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use handshake_core::Instant;
use handshake_darktower_wire::proto::media::media_server_message;
use handshake_darktower_wire::proto::signaling::server_message;
use handshake_darktower_wire::{
    decode_media_server_message, decode_server_message, FrameV2Repr, MediaEvent, MediaStreamReader,
    SignalingReader,
};
use handshake_quic::session::{SessionEvent, Sessions};
use handshake_quic::ConnId;

use crate::{pump, DarkTowerEvent, PATH_MEDIA, PATH_SIGNALING};

/// Which of a participant's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Which {
    /// The signaling session (controller).
    Signaling,
    /// The media session (handler).
    Media,
}

impl Which {
    fn server(self) -> &'static str {
        match self {
            Which::Signaling => "controller",
            Which::Media => "handler",
        }
    }
}

/// One session of a participant.
#[derive(Debug, Default)]
struct Leg {
    session: Option<ConnId>,
    open: bool,
    /// Its first bidirectional stream (signaling, or authentication).
    control: Option<u64>,
    reader: SignalingReader,
    /// Writes waiting for the session to open: (target, bytes, fin).
    queued: Vec<(Target, Vec<u8>, bool)>,
    /// The uni streams opened by scenario steps, in order.
    uni: Vec<u64>,
    /// Streams the IUT opened to us (forwards) and their readers.
    forwards: BTreeMap<u64, MediaStreamReader>,
}

/// Where a scripted write goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The session's first bidirectional stream (opened on first use).
    Control,
    /// A new unidirectional stream.
    NewUni,
    /// The n-th unidirectional stream opened by the scenario (0-based).
    Uni(usize),
    /// A datagram.
    Datagram,
}

/// The scripted participants.
#[derive(Debug)]
pub struct ScriptClient {
    /// Unix time for the tokens the script mints.
    pub clock: crate::Clock,
    transport: Box<dyn Sessions>,
    target: SocketAddr,
    legs: BTreeMap<(u32, Which), Leg>,
    owner: BTreeMap<ConnId, (u32, Which)>,
    events: VecDeque<DarkTowerEvent>,
    /// Sessions still live (the script is finished once all closed).
    started: bool,
    /// The paths its signaling and media sessions ask for.
    paths: [String; 2],
    /// The participant id each participant's last JoinResponse gave (the controller's choice).
    joined: BTreeMap<u32, String>,
}

impl ScriptClient {
    /// Participants that will connect to the IUT at `target`.
    pub fn new(transport: Box<dyn Sessions>, target: SocketAddr) -> ScriptClient {
        ScriptClient {
            clock: crate::Clock::VIRTUAL,
            transport,
            target,
            legs: BTreeMap::new(),
            owner: BTreeMap::new(),
            events: VecDeque::new(),
            started: false,
            paths: [PATH_SIGNALING.to_owned(), PATH_MEDIA.to_owned()],
            joined: BTreeMap::new(),
        }
    }

    /// The participant id participant `p`'s last JoinResponse gave, if it joined.
    pub fn joined_id(&self, p: u32) -> Option<&str> {
        self.joined.get(&p).map(String::as_str)
    }

    /// The paths its signaling and media sessions ask for (WebTransport `:path`; over bare QUIC
    /// a path selects the ALPNs offered, so keep [`PATH_SIGNALING`] and [`PATH_MEDIA`] there).
    pub fn with_paths(mut self, signaling: &str, media: &str) -> ScriptClient {
        self.paths = [signaling.to_owned(), media.to_owned()];
        self
    }

    fn path(&self, which: Which) -> String {
        match which {
            Which::Signaling => self.paths[0].clone(),
            Which::Media => self.paths[1].clone(),
        }
    }

    /// Writes `bytes` (then FIN if `fin`) for participant `p` on its `which` session, connecting
    /// first if needed; returns the stream used, if already known.
    pub fn write(
        &mut self,
        now: Instant,
        p: u32,
        which: Which,
        target: Target,
        bytes: &[u8],
        fin: bool,
    ) -> Result<(), String> {
        self.started = true;
        let path = self.path(which);
        let leg = self.legs.entry((p, which)).or_default();
        if leg.session.is_none() {
            let session = self
                .transport
                .connect(now, self.target, &path)
                .map_err(|e| e.to_string())?;
            leg.session = Some(session);
            self.owner.insert(session, (p, which));
        }
        leg.queued.push((target, bytes.to_vec(), fin));
        self.flush(p, which)?;
        self.step(now);
        Ok(())
    }

    /// Ends participant `p`'s `which` session with an application code.
    pub fn close(&mut self, now: Instant, p: u32, which: Which, code: u32) -> Result<(), String> {
        let session = self.session(p, which)?;
        self.transport.close(now, session, code, "scripted close");
        self.step(now);
        Ok(())
    }

    /// Ends every session still open (code 0); whether there was any.
    pub fn close_all(&mut self, now: Instant) -> bool {
        let live = self.transport.host_mut().live();
        let open: Vec<ConnId> = self
            .owner
            .keys()
            .copied()
            .filter(|s| live.contains(s))
            .collect();
        for session in &open {
            self.transport.close(now, *session, 0, "scripted close");
        }
        self.step(now);
        !open.is_empty()
    }

    /// Resets the n-th scripted uni stream of `p`'s media session.
    pub fn reset(&mut self, now: Instant, p: u32, index: usize, code: u32) -> Result<(), String> {
        let session = self.session(p, Which::Media)?;
        let stream = self
            .legs
            .get(&(p, Which::Media))
            .and_then(|l| l.uni.get(index).copied())
            .ok_or_else(|| format!("participant {p} has no media stream {index}"))?;
        self.transport.reset(session, stream, code);
        self.step(now);
        Ok(())
    }

    /// Participant `p` disappears: its sessions neither send nor receive from now on.
    pub fn vanish(&mut self, p: u32) -> Result<(), String> {
        let sessions: Vec<ConnId> = self
            .legs
            .iter()
            .filter(|((q, _), _)| *q == p)
            .filter_map(|(_, l)| l.session)
            .collect();
        if sessions.is_empty() {
            return Err(format!("participant {p} has no session"));
        }
        for s in sessions {
            self.transport.host_mut().mute(s);
        }
        Ok(())
    }

    fn session(&self, p: u32, which: Which) -> Result<ConnId, String> {
        self.legs
            .get(&(p, which))
            .and_then(|l| l.session)
            .ok_or_else(|| format!("participant {p} has no {} session", which.server()))
    }

    /// Writes what waits, if the session is open.
    fn flush(&mut self, p: u32, which: Which) -> Result<(), String> {
        let Some(leg) = self.legs.get_mut(&(p, which)) else {
            return Ok(());
        };
        let (Some(session), true) = (leg.session, leg.open) else {
            return Ok(());
        };
        for (target, bytes, fin) in std::mem::take(&mut leg.queued) {
            let stream = match target {
                Target::Datagram => {
                    self.transport.send_datagram(session, &bytes);
                    continue;
                }
                Target::Control => match leg.control {
                    Some(s) => s,
                    None => {
                        let s = self
                            .transport
                            .open(session, true)
                            .ok_or("no bidirectional stream credit")?;
                        leg.control = Some(s);
                        s
                    }
                },
                Target::NewUni => {
                    let s = self
                        .transport
                        .open(session, false)
                        .ok_or("no unidirectional stream credit")?;
                    leg.uni.push(s);
                    s
                }
                Target::Uni(i) => *leg
                    .uni
                    .get(i)
                    .ok_or_else(|| format!("participant {p} has no media stream {i}"))?,
            };
            if !bytes.is_empty() {
                self.transport.write(session, stream, &bytes);
            }
            if fin {
                self.transport.finish(session, stream);
            }
        }
        Ok(())
    }

    /// Takes one UDP datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.transport.handle_datagram(now, source, payload);
        self.step(now);
    }

    /// Fires what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.transport.handle_timeout(now);
        self.step(now);
    }

    fn step(&mut self, now: Instant) {
        let mut opened = Vec::new();
        let (legs, owner, events) = (&mut self.legs, &self.owner, &mut self.events);
        let before = events.len();
        pump(&mut *self.transport, now, |_, e| {
            if let SessionEvent::Opened { session, .. } = &e {
                if let Some(key) = owner.get(session) {
                    opened.push(*key);
                }
            }
            on_event(legs, owner, events, e);
        });
        for e in self.events.iter().skip(before) {
            if let DarkTowerEvent::Message {
                participant,
                from: "controller",
                kind: "join_response",
                about: Some(id),
                ..
            } = e
            {
                self.joined.insert(*participant, id.clone());
            }
        }
        if !opened.is_empty() {
            for (p, which) in opened {
                if let Some(leg) = self.legs.get_mut(&(p, which)) {
                    leg.open = true;
                }
                // A queued write that cannot go (no credit) is lost with a note.
                if let Err(reason) = self.flush(p, which) {
                    self.events
                        .push_back(DarkTowerEvent::Finished { ok: false, reason });
                }
            }
            self.step(now);
        }
    }

    /// The next UDP datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transport.poll_transmit()
    }

    /// When to call [`ScriptClient::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.transport.poll_timeout()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        self.events.pop_front()
    }

    /// TLS secrets.
    pub fn key_log(&self) -> String {
        self.transport.key_log()
    }

    /// New connections its host dropped unanswered.
    pub fn turned_away(&self) -> u64 {
        self.transport.turned_away()
    }

    /// See [`handshake_quic::QuicHost::idle_notice_lateness`].
    pub fn idle_notice_lateness(&self) -> std::time::Duration {
        self.transport.idle_notice_lateness()
    }

    /// The scripted uni streams of participant `p` (QUIC ids), in order.
    pub fn media_streams(&self, p: u32) -> Vec<u64> {
        self.legs
            .get(&(p, Which::Media))
            .map(|l| l.uni.clone())
            .unwrap_or_default()
    }
}

fn on_event(
    legs: &mut BTreeMap<(u32, Which), Leg>,
    owner: &BTreeMap<ConnId, (u32, Which)>,
    events: &mut VecDeque<DarkTowerEvent>,
    event: SessionEvent,
) {
    let session = match &event {
        SessionEvent::Opened { session, .. }
        | SessionEvent::Data { session, .. }
        | SessionEvent::Reset { session, .. }
        | SessionEvent::Stopped { session, .. }
        | SessionEvent::Datagram { session, .. }
        | SessionEvent::Closed { session, .. } => *session,
    };
    let Some(&(p, which)) = owner.get(&session) else {
        return;
    };
    let Some(leg) = legs.get_mut(&(p, which)) else {
        return;
    };
    match event {
        SessionEvent::Opened { .. } => {}
        SessionEvent::Data {
            stream, bytes, fin, ..
        } => {
            if Some(stream) == leg.control {
                let mut input = bytes.as_slice();
                while let Some(next) = leg.reader.next(&mut input) {
                    let event = match next {
                        Ok(m) => message_event(p, which, m),
                        Err(_) => DarkTowerEvent::Message {
                            participant: p,
                            from: which.server(),
                            kind: if which == Which::Media {
                                "connect_response"
                            } else {
                                "undecodable"
                            },
                            code: None,
                            about: None,
                            reason: None,
                        },
                    };
                    events.push_back(event);
                }
                if fin {
                    events.push_back(DarkTowerEvent::Fin {
                        participant: p,
                        from: which.server(),
                    });
                }
            } else {
                let reader = leg.forwards.entry(stream).or_default();
                let mut input = bytes.as_slice();
                let mut source = reader.header().map(|h| h.stream_id.to_string());
                while let Some(Ok(e)) = reader.next(&mut input) {
                    match e {
                        MediaEvent::Header(h) => source = Some(h.stream_id.to_string()),
                        MediaEvent::FrameStart(f) => events.push_back(DarkTowerEvent::Frame {
                            participant: p,
                            stream: Some(stream),
                            sequence: f.sequence,
                            source: source.clone().unwrap_or_default(),
                        }),
                        MediaEvent::Payload(_) | MediaEvent::FrameEnd => {}
                    }
                }
            }
        }
        SessionEvent::Reset {
            stream, code, wire, ..
        } => events.push_back(DarkTowerEvent::StreamCode {
            participant: p,
            how: "reset",
            stream,
            code,
            wire,
        }),
        SessionEvent::Stopped {
            stream, code, wire, ..
        } => events.push_back(DarkTowerEvent::StreamCode {
            participant: p,
            how: "stopped",
            stream,
            code,
            wire,
        }),
        SessionEvent::Datagram { payload, .. } => match FrameV2Repr::parse(&payload) {
            Ok(f) => events.push_back(DarkTowerEvent::Frame {
                participant: p,
                stream: None,
                sequence: f.sequence,
                source: f.user_id.to_string(),
            }),
            // The IUT forwarded (or sent) what is no v2 frame.
            Err(e) => events.push_back(DarkTowerEvent::DatagramDropped {
                reason: e.to_string(),
            }),
        },
        SessionEvent::Closed { close, by_peer, .. } => {
            leg.open = false;
            events.push_back(DarkTowerEvent::ParticipantClosed {
                participant: p,
                from: which.server(),
                close: close.to_string(),
                by_iut: by_peer,
            });
        }
    }
}

fn message_event(p: u32, which: Which, bytes: &[u8]) -> DarkTowerEvent {
    let mut event = DarkTowerEvent::Message {
        participant: p,
        from: which.server(),
        kind: "undecodable",
        code: None,
        about: None,
        reason: None,
    };
    let DarkTowerEvent::Message {
        kind,
        code,
        about,
        reason,
        ..
    } = &mut event
    else {
        return event;
    };
    match which {
        Which::Signaling => {
            if let Ok(m) = decode_server_message(bytes) {
                match m.message {
                    Some(server_message::Message::JoinResponse(r)) => {
                        *kind = "join_response";
                        *about = Some(r.participant_id);
                    }
                    Some(server_message::Message::ParticipantJoined(j)) => {
                        *kind = "participant_joined";
                        *about = j.participant.map(|x| x.participant_id);
                    }
                    Some(server_message::Message::ParticipantLeft(l)) => {
                        *kind = "participant_left";
                        *about = Some(l.participant_id);
                        *reason = Some(l.reason);
                    }
                    Some(server_message::Message::StreamPublished(s)) => {
                        *kind = "stream_published";
                        *about = Some(s.participant_id);
                    }
                    Some(server_message::Message::StreamQualityUpdate(_)) => {
                        *kind = "stream_quality_update";
                    }
                    Some(server_message::Message::Error(e)) => {
                        *kind = "error";
                        *code = Some(e.code);
                    }
                    None => *kind = "empty",
                }
            }
        }
        Which::Media => {
            // DT7.wire (disputed): what success looks like is a contract; any answer on the
            // authentication stream that is not a refusal (an ErrorMessage, a reset, a stop, a
            // close) counts as it, with no participant id.
            *kind = "connect_response";
            if let Ok(m) = decode_media_server_message(bytes) {
                match m.message {
                    Some(media_server_message::Message::ConnectResponse(r)) => {
                        *kind = "connect_response";
                        *about = Some(r.participant_id);
                    }
                    Some(media_server_message::Message::Error(e)) => {
                        *kind = "error";
                        *code = Some(e.code);
                    }
                    None => *kind = "empty",
                }
            }
        }
    }
    event
}
