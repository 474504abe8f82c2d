//! A controller and a handler on one port (one transport): the harness's peer when the IUT is a
//! client (the JoinResponse points the client back at the same address). Sessions are told apart
//! by WebTransport `:path` or, over bare QUIC, by ALPN (DH1): `/media` (the media ALPN) is the
//! handler's. Paths and ALPNs are a contract a client need not share with the harness (a client
//! may speak `darktower` for both sessions, or use a path of its own), so any other session is
//! told by what its client does first: a media authentication on its first bidirectional stream
//! (DT7, [`is_media_auth`]), a media stream or a datagram make it the handler's, anything else
//! the controller's. Its events wait until then.

use std::collections::{BTreeMap, VecDeque};

use handshake_core::Instant;
use handshake_darktower_wire::is_media_auth;
use handshake_darktower_wire::signaling::{check_len, PREFIX_LEN};
use handshake_quic::session::{SessionEvent, Sessions};

use crate::controller::ControllerCore;
use crate::driven::{App, Driven};
use crate::handler::HandlerCore;
use crate::{
    is_client_bidi, is_client_uni, Clock, ControllerConfig, DarkTowerEvent, HandlerConfig,
    PATH_MEDIA,
};

/// Which server a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Controller,
    Handler,
    /// Not told yet: its events so far, and the bytes of its first client bidi stream.
    Undecided {
        events: Vec<SessionEvent>,
        first: Option<(u64, Vec<u8>)>,
    },
}

/// Whether a WebTransport path names the handler (`/media`, a query or trailing slash aside).
fn is_media_path(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.trim_end_matches('/') == PATH_MEDIA
}

/// What the first bytes of a session's first client bidi stream say: `Some(true)` media
/// authentication, `Some(false)` signaling, `None` not enough bytes yet.
fn sniff(bytes: &[u8], fin: bool) -> Option<bool> {
    let Some(prefix) = bytes.first_chunk::<PREFIX_LEN>() else {
        return fin.then_some(false);
    };
    let Ok(len) = check_len(u32::from_be_bytes(*prefix)) else {
        return Some(false);
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    match bytes.get(PREFIX_LEN..PREFIX_LEN.saturating_add(len)) {
        Some(message) => Some(is_media_auth(message)),
        None => fin.then_some(false),
    }
}

/// Both servers' state, apart from their transport.
#[derive(Debug)]
pub struct MeetingCore {
    controller: ControllerCore,
    handler: HandlerCore,
    parts: BTreeMap<u32, Part>,
    /// Sessions the client closed, as events.
    closed: VecDeque<DarkTowerEvent>,
}

/// What a step does as the harness's meeting server facing a client IUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAct {
    /// Answers the oldest held JoinRequest: accepted (`None`) or refused with an ErrorCode.
    AnswerJoin(Option<i32>),
    /// Answers the oldest held ConnectRequest: accepted (`None`) or refused with an ErrorCode.
    AnswerAuth(Option<i32>),
    /// A ParticipantJoined about another participant, on every open signaling stream.
    AnnounceOther,
    /// FIN of the controller's side of every open signaling stream.
    FinishSignaling,
    /// Every signaling session closed with this code.
    CloseSignaling(u32),
}

/// The reference controller and handler behind one transport.
pub type MeetingServer = Driven<MeetingCore>;

impl MeetingServer {
    /// Both servers on `transport` (the controller's handler URL should be this server's own
    /// address with the path `/media`).
    pub fn new(
        transport: Box<dyn Sessions>,
        controller: ControllerConfig,
        handler: HandlerConfig,
    ) -> MeetingServer {
        Driven::with(
            transport,
            MeetingCore {
                controller: ControllerCore::new(controller),
                handler: HandlerCore::new(handler),
                parts: BTreeMap::new(),
                closed: VecDeque::new(),
            },
        )
    }

    /// Does what a step says (an answer with no request held does nothing).
    pub fn act_on_client(&mut self, now: Instant, act: ServerAct) {
        self.act(now, |core, t| match act {
            ServerAct::AnswerJoin(error) => core.controller.answer_join(now, t, error),
            ServerAct::AnswerAuth(error) => core.handler.answer_auth(now, t, error),
            ServerAct::AnnounceOther => core.controller.announce_other(now, t),
            ServerAct::FinishSignaling => core.controller.finish_signaling(t),
            ServerAct::CloseSignaling(code) => core.controller.close_sessions(now, t, code),
        })
    }
}

impl App for MeetingCore {
    fn on(&mut self, now: Instant, t: &mut dyn Sessions, e: SessionEvent) {
        let session = match &e {
            SessionEvent::Opened { session, path } => {
                let part = if is_media_path(path) {
                    Part::Handler
                } else {
                    Part::Undecided {
                        events: Vec::new(),
                        first: None,
                    }
                };
                self.parts.insert(*session, part);
                *session
            }
            SessionEvent::Data { session, .. }
            | SessionEvent::Reset { session, .. }
            | SessionEvent::Stopped { session, .. }
            | SessionEvent::Datagram { session, .. }
            | SessionEvent::Closed { session, .. } => *session,
        };
        // A session's end: how, and whether the client ended it.
        let ended = match &e {
            SessionEvent::Closed { close, by_peer, .. } => Some((close.to_string(), *by_peer)),
            _ => None,
        };
        // An undecided session: what this event says of it.
        if let Some(Part::Undecided { events, first }) = self.parts.get_mut(&session) {
            let decided = match &e {
                SessionEvent::Data {
                    stream, bytes, fin, ..
                } if is_client_bidi(*stream) => {
                    let buf = first.get_or_insert_with(|| (*stream, Vec::new()));
                    if buf.0 == *stream {
                        buf.1.extend_from_slice(bytes);
                        sniff(&buf.1, *fin)
                    } else {
                        None
                    }
                }
                SessionEvent::Data { stream, .. } if is_client_uni(*stream) => Some(true),
                SessionEvent::Datagram { .. } => Some(true),
                SessionEvent::Closed { .. } => Some(false),
                _ => None,
            };
            events.push(e);
            let Some(media) = decided else {
                return;
            };
            let events = std::mem::take(events);
            let part = if media {
                Part::Handler
            } else {
                Part::Controller
            };
            self.parts.insert(session, part.clone());
            for e in events {
                match part {
                    Part::Handler => self.handler.on(now, t, e),
                    _ => self.controller.on(now, t, e),
                }
            }
        } else {
            match self.parts.get(&session) {
                Some(Part::Handler) => self.handler.on(now, t, e),
                Some(Part::Controller) => self.controller.on(now, t, e),
                // Nothing of a session that never opened concerns either server.
                Some(Part::Undecided { .. }) | None => {}
            }
        }
        if let Some((close, by_peer)) = ended {
            let part = self.parts.remove(&session);
            // Step by step, the client's own closes are what it did (units).
            if let (Some(part), true, true) = (part, by_peer, self.controller.config.hold) {
                let from = match part {
                    Part::Handler => "handler",
                    _ => "controller",
                };
                self.closed.push_back(DarkTowerEvent::ParticipantClosed {
                    participant: 0,
                    from,
                    close,
                    by_iut: true,
                });
            }
        }
    }

    /// The controller's events first. Step by step (`hold`) it faces one client, participant 0:
    /// what the handler numbers by session (a frame, a stream's reset) is that client's.
    fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        let event = self
            .controller
            .poll_event()
            .or_else(|| self.handler.poll_event())
            .or_else(|| self.closed.pop_front())?;
        if !self.controller.config.hold {
            return Some(event);
        }
        Some(match event {
            DarkTowerEvent::Frame {
                stream,
                sequence,
                source,
                ..
            } => DarkTowerEvent::Frame {
                participant: 0,
                stream,
                sequence,
                source,
            },
            DarkTowerEvent::StreamCode {
                how,
                stream,
                code,
                wire,
                ..
            } => DarkTowerEvent::StreamCode {
                participant: 0,
                how,
                stream,
                code,
                wire,
            },
            other => other,
        })
    }

    fn set_clock(&mut self, clock: Clock) {
        self.controller.set_clock(clock);
        self.handler.set_clock(clock);
    }
}
