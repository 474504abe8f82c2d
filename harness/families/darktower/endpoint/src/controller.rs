//! The reference Meeting Controller: signaling (DT6, DH6–DH10).

use std::collections::{BTreeMap, VecDeque};

use handshake_core::Instant;
use handshake_darktower_wire::proto::signaling::{
    client_message, server_message, ClientMessage, ErrorCode, ErrorMessage, JoinRequest,
    JoinResponse, LeaveReason, MediaServerInfo, MediaStream, Participant, ParticipantJoined,
    ParticipantLeft, PublishStream, ServerMessage, StreamPublished,
};
use handshake_darktower_wire::{
    decode_first_client_message, decode_later_client_message, encode_message,
    signaling::MAX_PARTICIPANT_NAME_LEN, Envelope, SignalingReader,
};
use handshake_quic::session::{SessionEvent, Sessions};
use handshake_quic::Close;

use crate::driven::{App, Driven};
use crate::token::{MediaClaims, Secret, MEDIA_TOKEN_LIFETIME_S};
use crate::{is_client_bidi, Clock, DarkTowerEvent, Mutant};

/// How the controller is set up (DH6, DH8).
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Meetings served.
    pub meetings: Vec<String>,
    /// Meetings that ended (NOT_FOUND).
    pub ended: Vec<String>,
    /// Participants per meeting.
    pub capacity: u32,
    /// The Media Handler's URL, sent in JoinResponse.
    pub handler_url: String,
    /// The token secret.
    pub secret: Secret,
    /// Unix time.
    pub clock: Clock,
    /// A scripted twist (scenarios with a client IUT): every JoinRequest is refused with this
    /// ErrorCode.
    pub refuse_join: Option<i32>,
    /// The harness facing a client IUT step by step (a learning query): each JoinRequest waits
    /// for a step to answer it (`ControllerCore::answer_join`).
    pub hold: bool,
    /// A deliberately wrong variant.
    pub mutant: Option<Mutant>,
}

impl ControllerConfig {
    fn is(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }
}

#[derive(Debug)]
struct Member {
    name: String,
    meeting: String,
    join_token: String,
    joined_at: u64,
    /// Its current session, while present.
    session: Option<u32>,
    streams: Vec<MediaStream>,
    subscriptions: Vec<String>,
}

#[derive(Debug, Default)]
struct Signaling {
    stream: Option<u64>,
    reader: SignalingReader,
    participant: Option<String>,
    /// A fatal error was answered: nothing more is read.
    done: bool,
    /// The client's JoinRequest came bare (`signaling.wrapper`, the flow document's form): the
    /// answer to it (JoinResponse or ErrorMessage) goes bare too; later events are wrapped.
    bare_answer: bool,
}

/// The controller's state, apart from its transport.
#[derive(Debug)]
pub struct ControllerCore {
    pub(crate) config: ControllerConfig,
    sessions: BTreeMap<u32, Signaling>,
    members: BTreeMap<String, Member>,
    next_participant: u32,
    next_jti: u64,
    events: VecDeque<DarkTowerEvent>,
    /// JoinRequests held for a step's answer (`hold`): session, stream, request.
    held: VecDeque<(u32, u64, JoinRequest)>,
}

/// The reference Meeting Controller.
pub type Controller = Driven<ControllerCore>;

impl Controller {
    /// A controller serving on `transport` (a server host).
    pub fn new(transport: Box<dyn Sessions>, config: ControllerConfig) -> Controller {
        Driven::with(transport, ControllerCore::new(config))
    }

    /// The participants present (id, name).
    pub fn present(&self) -> Vec<(String, String)> {
        self.app()
            .members
            .iter()
            .filter(|(_, m)| m.session.is_some())
            .map(|(id, m)| (id.clone(), m.name.clone()))
            .collect()
    }
}

impl App for ControllerCore {
    fn on(&mut self, now: Instant, t: &mut dyn Sessions, event: SessionEvent) {
        ControllerCore::on(self, now, t, event);
    }
    fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        self.events.pop_front()
    }
    fn set_clock(&mut self, clock: Clock) {
        self.config.clock = clock;
    }
}

impl ControllerCore {
    pub(crate) fn new(config: ControllerConfig) -> ControllerCore {
        ControllerCore {
            config,
            sessions: BTreeMap::new(),
            members: BTreeMap::new(),
            next_participant: 1,
            next_jti: 1,
            events: VecDeque::new(),
            held: VecDeque::new(),
        }
    }

    pub(crate) fn on(&mut self, now: Instant, t: &mut dyn Sessions, event: SessionEvent) {
        match event {
            SessionEvent::Opened { session, path } => {
                self.sessions.insert(session, Signaling::default());
                self.events
                    .push_back(DarkTowerEvent::SessionOpened { session, path });
            }
            SessionEvent::Data {
                session,
                stream,
                bytes,
                fin,
            } => self.on_data(now, t, session, stream, &bytes, fin),
            SessionEvent::Reset {
                session, stream, ..
            } => {
                if self.signaling_stream(session) == Some(stream) {
                    self.leave_session(t, session, LeaveReason::Voluntary);
                }
            }
            SessionEvent::Stopped {
                session,
                stream,
                code,
                ..
            } => t.reset(session, stream, code.unwrap_or(0)),
            SessionEvent::Datagram { .. } => {}
            SessionEvent::Closed { session, close, .. } => {
                let reason =
                    if close == Close::TimedOut && !self.config.is(Mutant::IdleLeftVoluntary) {
                        LeaveReason::ConnectionLost
                    } else {
                        LeaveReason::Voluntary
                    };
                self.leave_session(t, session, reason);
                self.sessions.remove(&session);
                self.events.push_back(DarkTowerEvent::SessionClosed {
                    session,
                    close: close.to_string(),
                });
            }
        }
    }

    fn signaling_stream(&self, session: u32) -> Option<u64> {
        self.sessions.get(&session).and_then(|s| s.stream)
    }

    fn on_data(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        bytes: &[u8],
        fin: bool,
    ) {
        let Some(sig) = self.sessions.get_mut(&session) else {
            return;
        };
        match sig.stream {
            None if is_client_bidi(stream) => sig.stream = Some(stream),
            Some(s) if s == stream => {}
            // Anything but the signaling stream carries nothing for the controller.
            _ => return,
        }
        if sig.done {
            return;
        }
        let mut input = bytes;
        let mut messages = Vec::new();
        let mut framing_error = None;
        while let Some(next) = sig.reader.next(&mut input) {
            match next {
                Ok(message) => messages.push(message.to_vec()),
                Err(handshake_darktower_wire::FramingError::EmptyMessage)
                    if self.config.is(Mutant::EmptyMessageIgnored) =>
                {
                    sig.reader = SignalingReader::new();
                }
                Err(e) => {
                    framing_error = Some(e);
                    break;
                }
            }
        }
        for message in messages {
            if self.sessions.get(&session).is_some_and(|s| s.done) {
                return;
            }
            self.on_message(now, t, session, stream, &message);
        }
        if let Some(e) = framing_error {
            self.fatal(t, session, stream, ErrorCode::StreamError, &e.to_string());
            return;
        }
        if fin && !self.sessions.get(&session).is_some_and(|s| s.done) {
            // The client ended signaling: it leaves (DH9).
            self.leave_session(t, session, LeaveReason::Voluntary);
            if let Some(sig) = self.sessions.get_mut(&session) {
                sig.done = true;
            }
            t.finish(session, stream);
        }
    }

    fn on_message(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        bytes: &[u8],
    ) {
        let joined = self
            .sessions
            .get(&session)
            .and_then(|s| s.participant.clone());
        // `signaling.wrapper` (disputed): the first message may be a bare JoinRequest, later ones
        // either form.
        let decoded = if joined.is_none() {
            decode_first_client_message(bytes)
        } else {
            decode_later_client_message(bytes)
        };
        let decoded = decoded.map(|(m, envelope)| {
            if let (Some(sig), Some(client_message::Message::JoinRequest(_)), None) =
                (self.sessions.get_mut(&session), &m.message, &joined)
            {
                sig.bare_answer = envelope == Envelope::Bare;
            }
            m
        });
        let message = match decoded {
            Ok(ClientMessage {
                message: Some(m), ..
            }) => m,
            Ok(_) => {
                return self.fatal(
                    t,
                    session,
                    stream,
                    ErrorCode::InvalidRequest,
                    "empty message",
                )
            }
            Err(e) => {
                return self.fatal(
                    t,
                    session,
                    stream,
                    ErrorCode::InvalidRequest,
                    &e.to_string(),
                )
            }
        };
        match (message, joined) {
            (client_message::Message::JoinRequest(request), None) if self.config.hold => {
                let valid = self
                    .config
                    .secret
                    .verify_join(&request.join_token, self.config.clock.unix_s(now))
                    .is_ok_and(|c| c.meeting_id == request.meeting_id);
                self.held.push_back((session, stream, request));
                self.events.push_back(DarkTowerEvent::Requested {
                    what: "join",
                    valid,
                });
            }
            (client_message::Message::JoinRequest(request), None) => {
                self.join(now, t, session, stream, request)
            }
            (client_message::Message::JoinRequest(_), Some(_)) => {
                self.error(t, session, stream, ErrorCode::Conflict, "already joined")
            }
            (_, None) if self.config.is(Mutant::JoinNotFirst) => {}
            (_, None) => self.fatal(
                t,
                session,
                stream,
                ErrorCode::InvalidRequest,
                "the first message must be JoinRequest",
            ),
            (client_message::Message::PublishStream(p), Some(pid)) => {
                self.publish(t, session, stream, &pid, p)
            }
            (client_message::Message::SubscribeStream(s), Some(pid)) => {
                let known = self.members.iter().any(|(id, m)| {
                    *id != pid
                        && m.session.is_some()
                        && m.streams.iter().any(|x| x.stream_id == s.stream_id)
                });
                if known {
                    if let Some(m) = self.members.get_mut(&pid) {
                        m.subscriptions.push(s.stream_id);
                    }
                } else {
                    self.error(t, session, stream, ErrorCode::NotFound, "no such stream");
                }
            }
            (client_message::Message::UnsubscribeStream(u), Some(pid)) => {
                let had = self.members.get_mut(&pid).is_some_and(|m| {
                    let before = m.subscriptions.len();
                    m.subscriptions.retain(|s| *s != u.stream_id);
                    m.subscriptions.len() != before
                });
                if !had {
                    self.error(t, session, stream, ErrorCode::NotFound, "not subscribed");
                }
            }
            (client_message::Message::StreamQualityUpdate(_), Some(_)) => {}
        }
    }

    fn join(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        request: JoinRequest,
    ) {
        let unix = self.config.clock.unix_s(now);
        if let Some(code) = self.config.refuse_join {
            let code = ErrorCode::try_from(code).unwrap_or(ErrorCode::Unknown);
            return self.fatal(t, session, stream, code, "refused by the scenario");
        }
        if request.participant_name.len() > MAX_PARTICIPANT_NAME_LEN
            && !self.config.is(Mutant::LongNameAccepted)
        {
            return self.fatal(
                t,
                session,
                stream,
                ErrorCode::InvalidRequest,
                "participant name over 256 bytes",
            );
        }
        let token_time = if self.config.is(Mutant::ExpiredJoinAccepted) {
            0
        } else {
            unix
        };
        let claims = match self
            .config
            .secret
            .verify_join(&request.join_token, token_time)
        {
            Ok(c) => c,
            Err(e) => {
                return self.fatal(t, session, stream, ErrorCode::Unauthorized, &e.to_string())
            }
        };
        if claims.meeting_id != request.meeting_id {
            return self.fatal(
                t,
                session,
                stream,
                ErrorCode::Unauthorized,
                "the token is for another meeting",
            );
        }
        let meeting = request.meeting_id.clone();
        if self.config.ended.contains(&meeting) || !self.config.meetings.contains(&meeting) {
            return self.fatal(t, session, stream, ErrorCode::NotFound, "no such meeting");
        }
        let resumed = self
            .members
            .iter()
            .find(|(_, m)| {
                m.meeting == meeting
                    && m.join_token == request.join_token
                    && m.name == request.participant_name
            })
            .map(|(id, m)| (id.clone(), m.session));
        let present = self
            .members
            .values()
            .filter(|m| m.meeting == meeting && m.session.is_some())
            .count();
        let is_resume = resumed.is_some();
        let counts_again = !matches!(resumed, Some((_, Some(_))));
        if counts_again
            && present >= usize::try_from(self.config.capacity).unwrap_or(usize::MAX)
            && !self.config.is(Mutant::NoCapacityCheck)
        {
            return self.fatal(
                t,
                session,
                stream,
                ErrorCode::CapacityExceeded,
                "meeting full",
            );
        }
        let (pid, announce) = match resumed {
            Some((pid, Some(old))) => {
                // DH9: the old session is replaced; the others see nothing.
                if let Some(sig) = self.sessions.get_mut(&old) {
                    sig.participant = None;
                    sig.done = true;
                }
                t.close(now, old, 0, "replaced");
                (pid, false)
            }
            Some((pid, None)) => (pid, true),
            None => {
                let pid = format!("p{}", self.next_participant);
                self.next_participant += 1;
                self.members.insert(
                    pid.clone(),
                    Member {
                        name: request.participant_name.clone(),
                        meeting: meeting.clone(),
                        join_token: request.join_token.clone(),
                        joined_at: unix,
                        session: None,
                        streams: Vec::new(),
                        subscriptions: Vec::new(),
                    },
                );
                (pid, true)
            }
        };
        if let Some(m) = self.members.get_mut(&pid) {
            m.session = Some(session);
            m.streams.clear();
            m.subscriptions.clear();
        }
        if let Some(sig) = self.sessions.get_mut(&session) {
            sig.participant = Some(pid.clone());
        }
        let existing: Vec<Participant> = self
            .members
            .iter()
            .filter(|(id, m)| **id != pid && m.meeting == meeting && m.session.is_some())
            .map(|(id, m)| participant(id, m))
            .collect();
        let jti = format!("media-{}", self.next_jti);
        self.next_jti += 1;
        let media_token = self.config.secret.sign(&MediaClaims {
            meeting_id: meeting.clone(),
            participant_id: pid.clone(),
            exp: unix + MEDIA_TOKEN_LIFETIME_S,
            jti,
        });
        let response = server_message::Message::JoinResponse(JoinResponse {
            participant_id: pid.clone(),
            existing_participants: existing,
            media_server: Some(MediaServerInfo {
                media_handler_url: self.config.handler_url.clone(),
                connection_token: media_token,
            }),
            encryption_keys: None,
        });
        self.send_answer(t, session, stream, response);
        self.events.push_back(DarkTowerEvent::Joined {
            participant: pid.clone(),
            resumed: is_resume,
        });
        if announce && !self.config.is(Mutant::NoParticipantJoined) {
            let joined = self
                .members
                .get(&pid)
                .map(|m| participant(&pid, m))
                .unwrap_or_default();
            self.broadcast(
                t,
                &meeting,
                &pid,
                server_message::Message::ParticipantJoined(ParticipantJoined {
                    participant: Some(joined),
                }),
            );
        }
    }

    fn publish(
        &mut self,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        pid: &str,
        p: PublishStream,
    ) {
        let Some(member) = self.members.get_mut(pid) else {
            return;
        };
        if member.streams.iter().any(|s| s.stream_id == p.stream_id) {
            return self.error(
                t,
                session,
                stream,
                ErrorCode::Conflict,
                "stream id published before",
            );
        }
        let published = MediaStream {
            stream_id: p.stream_id,
            stream_type: p.stream_type,
            metadata: p.metadata,
        };
        member.streams.push(published.clone());
        let meeting = member.meeting.clone();
        self.events.push_back(DarkTowerEvent::Published {
            participant: pid.to_owned(),
            stream_id: published.stream_id.clone(),
        });
        let except = pid;
        self.broadcast(
            t,
            &meeting,
            except,
            server_message::Message::StreamPublished(StreamPublished {
                participant_id: pid.to_owned(),
                stream: Some(published),
            }),
        );
    }

    /// Sends to every participant of `meeting` present, except `except`.
    fn broadcast(
        &mut self,
        t: &mut dyn Sessions,
        meeting: &str,
        except: &str,
        message: server_message::Message,
    ) {
        for (id, m) in &self.members {
            if id == except || m.meeting != meeting {
                continue;
            }
            let Some(session) = m.session else { continue };
            if let Some(stream) = self.sessions.get(&session).and_then(|s| s.stream) {
                send(t, session, stream, message.clone());
            }
        }
    }

    /// The participant of `session` leaves (DH9).
    fn leave_session(&mut self, t: &mut dyn Sessions, session: u32, reason: LeaveReason) {
        let Some(pid) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.participant.take())
        else {
            return;
        };
        let Some(m) = self.members.get_mut(&pid) else {
            return;
        };
        if m.session != Some(session) {
            return;
        }
        m.session = None;
        m.streams.clear();
        m.subscriptions.clear();
        let meeting = m.meeting.clone();
        self.broadcast(
            t,
            &meeting,
            &pid,
            server_message::Message::ParticipantLeft(ParticipantLeft {
                participant_id: pid.clone(),
                reason: reason as i32,
            }),
        );
        self.events.push_back(DarkTowerEvent::Left {
            participant: pid,
            reason: reason as i32,
        });
    }

    fn error(
        &mut self,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        code: ErrorCode,
        text: &str,
    ) {
        self.send_answer(
            t,
            session,
            stream,
            server_message::Message::Error(ErrorMessage {
                code: code as i32,
                message: text.to_owned(),
                details: Default::default(),
            }),
        );
        self.events.push_back(DarkTowerEvent::Error {
            code: code as i32,
            sent: true,
        });
    }

    /// Sends a message; the answer to a bare JoinRequest bare (`signaling.wrapper`).
    fn send_answer(
        &mut self,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        message: server_message::Message,
    ) {
        let bare = self
            .sessions
            .get_mut(&session)
            .is_some_and(|s| std::mem::take(&mut s.bare_answer));
        let frame = match (bare, &message) {
            (true, server_message::Message::JoinResponse(r)) => encode_message(r),
            (true, server_message::Message::Error(e)) => encode_message(e),
            _ => encode_message(&ServerMessage {
                message: Some(message),
            }),
        };
        if let Ok(bytes) = frame {
            t.write(session, stream, &bytes);
        }
    }

    /// Answers the oldest held JoinRequest: as the controller would (`None`), or refused with an
    /// ErrorCode (DH7: then FIN). None held (or its session gone): nothing.
    pub(crate) fn answer_join(&mut self, now: Instant, t: &mut dyn Sessions, error: Option<i32>) {
        let Some((session, stream, request)) = self.held.pop_front() else {
            return;
        };
        if self.sessions.get(&session).is_none_or(|s| s.done) {
            return;
        }
        match error {
            Some(code) => {
                let code = ErrorCode::try_from(code).unwrap_or(ErrorCode::Unknown);
                self.fatal(t, session, stream, code, "refused by the scenario");
            }
            None => self.join(now, t, session, stream, request),
        }
    }

    /// Tells every open signaling stream that another participant (`p99`, no streams) joined.
    pub(crate) fn announce_other(&mut self, now: Instant, t: &mut dyn Sessions) {
        let joined_at = self.config.clock.unix_s(now);
        for (session, stream) in self.open_signaling() {
            let other = Participant {
                participant_id: "p99".to_owned(),
                name: "another".to_owned(),
                streams: Vec::new(),
                joined_at,
            };
            send(
                t,
                session,
                stream,
                server_message::Message::ParticipantJoined(ParticipantJoined {
                    participant: Some(other),
                }),
            );
        }
    }

    /// Ends the controller's side of every open signaling stream (FIN); what the clients send
    /// is still read.
    pub(crate) fn finish_signaling(&mut self, t: &mut dyn Sessions) {
        for (session, stream) in self.open_signaling() {
            t.finish(session, stream);
        }
    }

    /// Closes every signaling session with `code`.
    pub(crate) fn close_sessions(&mut self, now: Instant, t: &mut dyn Sessions, code: u32) {
        let sessions: Vec<u32> = self.sessions.keys().copied().collect();
        for session in sessions {
            t.close(now, session, code, "closed by the scenario");
        }
    }

    fn open_signaling(&self) -> Vec<(u32, u64)> {
        self.sessions
            .iter()
            .filter(|(_, s)| !s.done)
            .filter_map(|(session, s)| Some((*session, s.stream?)))
            .collect()
    }

    /// DH7: one ErrorMessage, then FIN; nothing more is read.
    fn fatal(
        &mut self,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        code: ErrorCode,
        text: &str,
    ) {
        self.error(t, session, stream, code, text);
        t.finish(session, stream);
        if let Some(sig) = self.sessions.get_mut(&session) {
            sig.done = true;
        }
    }
}

fn participant(id: &str, m: &Member) -> Participant {
    Participant {
        participant_id: id.to_owned(),
        name: m.name.clone(),
        streams: m.streams.clone(),
        joined_at: m.joined_at,
    }
}

fn send(t: &mut dyn Sessions, session: u32, stream: u64, message: server_message::Message) {
    let frame = encode_message(&ServerMessage {
        message: Some(message),
    });
    // A ServerMessage of the controller's own making is far below the 64 KiB limit.
    if let Ok(bytes) = frame {
        t.write(session, stream, &bytes);
    }
}
