//! The reference Media Handler: authentication (DT7, DH11), media streams (DT1–DT5, DH12),
//! forwarding (DH13), v2 datagrams (DT11).

use std::collections::{BTreeMap, VecDeque};

use handshake_core::Instant;
use handshake_darktower_wire::proto::media::{
    media_client_message, media_server_message, ConnectResponse, MediaServerMessage,
};
use handshake_darktower_wire::proto::signaling::{ErrorCode, ErrorMessage};
use handshake_darktower_wire::{
    decode_media_client_message, encode_message, jwt_text, media_auth_prefix, media_auth_token,
    FrameV2Repr, MediaEvent, MediaStreamReader, ResetCode, SignalingReader, MAGIC,
};
use handshake_quic::session::{SessionEvent, Sessions};

use crate::driven::{App, Driven};
use crate::token::{Secret, UsedTokens};
use crate::{is_client_bidi, is_client_uni, Clock, DarkTowerEvent, Mutant};

/// The per-stream flow-control window of the flow document (1 MiB): a frame whose payload is
/// larger could never arrive (DH12 → 0x03).
pub const STREAM_WINDOW: u32 = 1 << 20;
/// The per-connection window (10 MiB).
pub const CONNECTION_WINDOW: u32 = 10 << 20;

/// How the handler is set up.
#[derive(Clone, Debug)]
pub struct HandlerConfig {
    /// The token secret (shared with the controller).
    pub secret: Secret,
    /// Unix time.
    pub clock: Clock,
    /// A scripted twist (scenarios with a client IUT): every ConnectRequest is refused.
    pub refuse_auth: bool,
    /// A scripted twist: every media stream is stopped with this code once its header arrived.
    pub stop_media: Option<u32>,
    /// The harness facing a client IUT step by step (a learning query): each ConnectRequest
    /// waits for a step to answer it (`HandlerCore::answer_auth`).
    pub hold: bool,
    /// A deliberately wrong variant.
    pub mutant: Option<Mutant>,
}

impl HandlerConfig {
    fn is(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }
}

#[derive(Debug, Clone)]
struct Auth {
    meeting: String,
}

#[derive(Debug, Default)]
struct MediaSession {
    auth_stream: Option<u64>,
    reader: SignalingReader,
    /// Set once ConnectResponse was sent.
    auth: Option<Auth>,
    /// The authentication stream was answered (either way).
    answered: bool,
    /// Client uni streams that may carry the token (DT7.wire: the flow document's "unidirectional
    /// stream"), their bytes so far.
    uni_auth: BTreeMap<u64, Vec<u8>>,
}

/// Where a client's media authentication arrived (DT7.wire, disputed): the first bidi stream
/// (the harness's and the later handler's), a client uni stream or a datagram (the flow
/// document's). The answer goes back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Bidi(u64),
    Uni(u64),
    Datagram,
}

#[derive(Debug)]
struct Source {
    reader: MediaStreamReader,
    /// Bytes consumed by the reader and not yet forwarded (forwarding is byte for byte).
    pending: Vec<u8>,
    /// Forwarded copies: (receiving session, its stream).
    forwards: Vec<(u32, u64)>,
    /// The stream header's bytes, for receivers that join while the stream runs.
    header: Vec<u8>,
    ended: bool,
    /// Bytes of the stream seen so far.
    offset: u64,
}

/// The handler's state, apart from its transport.
#[derive(Debug)]
pub struct HandlerCore {
    pub(crate) config: HandlerConfig,
    sessions: BTreeMap<u32, MediaSession>,
    sources: BTreeMap<(u32, u64), Source>,
    used: UsedTokens,
    events: VecDeque<DarkTowerEvent>,
    /// v2 datagrams forwarded and dropped; v1 frames forwarded; unknown FourCCs seen.
    counters: Counters,
    /// First authentication messages held for a step's answer (`hold`): session, stream, the
    /// message (or why it could not be read).
    held: VecDeque<(u32, Carrier, Result<String, String>)>,
}

/// What the handler counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// v1 frames read from sources.
    pub frames: u64,
    /// v2 datagrams forwarded (each counted once, however many receivers).
    pub datagrams_forwarded: u64,
    /// v2 datagrams dropped (DT11).
    pub datagrams_dropped: u64,
    /// Stream headers with a FourCC outside the table (accepted, DH12).
    pub unknown_fourcc: u64,
}

/// The reference Media Handler.
pub type Handler = Driven<HandlerCore>;

impl Handler {
    /// A handler serving on `transport` (a server host with the flow-control windows of
    /// [`STREAM_WINDOW`] and [`CONNECTION_WINDOW`]).
    pub fn new(transport: Box<dyn Sessions>, config: HandlerConfig) -> Handler {
        Driven::with(transport, HandlerCore::new(config))
    }

    /// What it counted.
    pub fn counters(&self) -> Counters {
        self.app().counters
    }
}

impl App for HandlerCore {
    fn on(&mut self, now: Instant, t: &mut dyn Sessions, event: SessionEvent) {
        HandlerCore::on(self, now, t, event);
    }
    fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        self.events.pop_front()
    }
    fn set_clock(&mut self, clock: Clock) {
        self.config.clock = clock;
    }
}

impl HandlerCore {
    pub(crate) fn new(config: HandlerConfig) -> HandlerCore {
        HandlerCore {
            config,
            sessions: BTreeMap::new(),
            sources: BTreeMap::new(),
            used: UsedTokens::default(),
            events: VecDeque::new(),
            counters: Counters::default(),
            held: VecDeque::new(),
        }
    }

    pub(crate) fn on(&mut self, now: Instant, t: &mut dyn Sessions, event: SessionEvent) {
        match event {
            SessionEvent::Opened { session, path } => {
                self.sessions.insert(session, MediaSession::default());
                self.events
                    .push_back(DarkTowerEvent::SessionOpened { session, path });
            }
            SessionEvent::Data {
                session,
                stream,
                bytes,
                fin,
            } => {
                if is_client_uni(stream) {
                    self.on_media(now, t, session, stream, &bytes, fin);
                } else if is_client_bidi(stream) {
                    self.on_auth(now, t, session, stream, &bytes);
                }
            }
            SessionEvent::Reset {
                session,
                stream,
                code,
                wire,
            } => {
                self.events.push_back(DarkTowerEvent::StreamCode {
                    participant: session,
                    how: "reset",
                    stream,
                    code,
                    wire,
                });
                self.end_source(t, session, stream);
            }
            SessionEvent::Stopped {
                session,
                stream,
                code,
                ..
            } => {
                // DH3: a STOP_SENDING is answered with RESET_STREAM of its code.
                t.reset(session, stream, code.unwrap_or(0));
                for source in self.sources.values_mut() {
                    source.forwards.retain(|f| *f != (session, stream));
                }
            }
            SessionEvent::Datagram { session, payload } => {
                self.on_datagram(now, t, session, &payload)
            }
            SessionEvent::Closed { session, close, .. } => {
                let mine: Vec<(u32, u64)> = self
                    .sources
                    .keys()
                    .filter(|(s, _)| *s == session)
                    .copied()
                    .collect();
                for (s, stream) in mine {
                    self.end_source(t, s, stream);
                }
                for source in self.sources.values_mut() {
                    source.forwards.retain(|(s, _)| *s != session);
                }
                self.sources.retain(|(s, _), _| *s != session);
                self.sessions.remove(&session);
                self.events.push_back(DarkTowerEvent::SessionClosed {
                    session,
                    close: close.to_string(),
                });
            }
        }
    }

    fn on_auth(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        bytes: &[u8],
    ) {
        let Some(media) = self.sessions.get_mut(&session) else {
            return;
        };
        match media.auth_stream {
            None => media.auth_stream = Some(stream),
            Some(s) if s == stream => {}
            _ => return,
        }
        if media.answered {
            return;
        }
        let mut input = bytes;
        let first = match media.reader.next(&mut input) {
            None => return,
            Some(Ok(message)) => Ok(message.to_vec()),
            Some(Err(e)) => Err(e.to_string()),
        };
        media.answered = true;
        let token = first.and_then(|bytes| token_of(&bytes));
        self.receive_token(now, t, session, Carrier::Bidi(stream), token);
    }

    /// A media authentication's token arrived: held for a step (`hold`), or answered.
    fn receive_token(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        carrier: Carrier,
        token: Result<String, String>,
    ) {
        if self.config.hold {
            let unix = self.config.clock.unix_s(now);
            let valid = token
                .as_deref()
                .is_ok_and(|tok| self.config.secret.verify_media(tok, unix).is_ok());
            self.held.push_back((session, carrier, token));
            self.events.push_back(DarkTowerEvent::Requested {
                what: "auth",
                valid,
            });
            return;
        }
        let refused = self
            .config
            .refuse_auth
            .then_some(ErrorCode::Unauthorized as i32);
        self.answer_token(now, t, session, carrier, token, refused);
    }

    /// Answers the oldest held authentication: as the handler would (`None`), or refused with an
    /// ErrorCode. None held (or its session gone): nothing.
    pub(crate) fn answer_auth(&mut self, now: Instant, t: &mut dyn Sessions, error: Option<i32>) {
        let Some((session, carrier, token)) = self.held.pop_front() else {
            return;
        };
        if self.sessions.contains_key(&session) {
            self.answer_token(now, t, session, carrier, token, error);
        }
    }

    /// Answers a media authentication's token (DT7, DT8) on its carrier: a ConnectResponse to
    /// a valid unused one, else an ErrorMessage and FIN (bidi), STOP_SENDING 0x02 (uni) or the
    /// session closed with 0x02 (datagram); `refused`: refused with that code whatever it said.
    fn answer_token(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        carrier: Carrier,
        token: Result<String, String>,
        refused: Option<i32>,
    ) {
        let unix = self.config.clock.unix_s(now);
        let verdict = token.and_then(|token| {
            if refused.is_some() {
                return Err("refused by the scenario".to_owned());
            }
            let claims = self
                .config
                .secret
                .verify_media(&token, unix)
                .map_err(|e| e.to_string())?;
            if !self.config.is(Mutant::MediaTokenReusable) {
                self.used.take(&claims, unix).map_err(|e| e.to_string())?;
            }
            Ok(claims)
        });
        let answer = match verdict {
            Ok(claims) => {
                self.events.push_back(DarkTowerEvent::Authenticated {
                    participant: claims.participant_id.clone(),
                });
                let answer = media_server_message::Message::ConnectResponse(ConnectResponse {
                    participant_id: claims.participant_id.clone(),
                });
                if let Some(media) = self.sessions.get_mut(&session) {
                    media.auth = Some(Auth {
                        meeting: claims.meeting_id,
                    });
                }
                answer
            }
            Err(text) => {
                let code = refused.unwrap_or(ErrorCode::Unauthorized as i32);
                self.events
                    .push_back(DarkTowerEvent::Error { code, sent: true });
                media_server_message::Message::Error(ErrorMessage {
                    code,
                    message: text,
                    details: Default::default(),
                })
            }
        };
        let failed = matches!(answer, media_server_message::Message::Error(_));
        let Ok(frame) = encode_message(&MediaServerMessage {
            message: Some(answer),
        }) else {
            return;
        };
        match carrier {
            Carrier::Bidi(stream) => {
                t.write(session, stream, &frame);
                if failed {
                    t.finish(session, stream);
                }
            }
            // The flow document's "Auth Success" has no form: the ConnectResponse, framed, goes
            // back the way the token came (a datagram, or a stream the handler opens).
            Carrier::Uni(stream) if failed => {
                self.stop(t, session, stream, ResetCode::AuthenticationFailed)
            }
            Carrier::Uni(_) => {
                if let Some(s) = t.open(session, false) {
                    t.write(session, s, &frame);
                    t.finish(session, s);
                }
            }
            Carrier::Datagram if failed => t.close(
                now,
                session,
                ResetCode::AuthenticationFailed.code(),
                "authentication failed",
            ),
            Carrier::Datagram => {
                t.send_datagram(session, &frame);
            }
        }
    }

    /// The receivers of `session`'s media: the other authenticated participants of its meeting.
    fn receivers(&self, session: u32) -> Vec<u32> {
        let Some(meeting) = self
            .sessions
            .get(&session)
            .and_then(|m| m.auth.as_ref())
            .map(|a| a.meeting.clone())
        else {
            return Vec::new();
        };
        self.sessions
            .iter()
            .filter(|(s, m)| {
                **s != session && m.auth.as_ref().is_some_and(|a| a.meeting == meeting)
            })
            .map(|(s, _)| *s)
            .collect()
    }

    /// A client uni stream before authentication: the flow document's token carrier (a raw JWT,
    /// or one behind a 4-byte length) is read as a ConnectRequest (`None`: taken, or waiting for
    /// more); else the stream's bytes so far, to be handled as media before authentication.
    fn uni_auth(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        bytes: &[u8],
        fin: bool,
    ) -> Option<Vec<u8>> {
        let Some(media) = self.sessions.get_mut(&session) else {
            return Some(bytes.to_vec());
        };
        if media.answered {
            return Some(bytes.to_vec());
        }
        let buf = media.uni_auth.entry(stream).or_default();
        buf.extend_from_slice(bytes);
        if buf.is_empty() && !fin {
            return None;
        }
        let looks = !buf.starts_with(&MAGIC[..buf.len().min(4)]) && media_auth_prefix(buf);
        if !looks {
            return media.uni_auth.remove(&stream);
        }
        let token = media_auth_token(buf);
        let complete = fin
            || token.as_deref().is_some_and(|tok| {
                buf.first() == Some(&0)
                    || self
                        .config
                        .secret
                        .verify_media(tok, self.config.clock.unix_s(now))
                        .is_ok()
            });
        if !complete {
            return None;
        }
        media.uni_auth.remove(&stream);
        media.answered = true;
        let first = token.ok_or_else(|| "no token".to_owned());
        self.receive_token(now, t, session, Carrier::Uni(stream), first);
        None
    }

    fn on_media(
        &mut self,
        now: Instant,
        t: &mut dyn Sessions,
        session: u32,
        stream: u64,
        bytes: &[u8],
        fin: bool,
    ) {
        let authenticated = self
            .sessions
            .get(&session)
            .is_some_and(|m| m.auth.is_some())
            || self.config.is(Mutant::MediaBeforeAuthAccepted);
        let gathered;
        let mut bytes = bytes;
        if !self.sources.contains_key(&(session, stream)) && !authenticated {
            match self.uni_auth(now, t, session, stream, bytes, fin) {
                None => return,
                Some(all) => {
                    gathered = all;
                    bytes = &gathered;
                }
            }
        }
        if !self.sources.contains_key(&(session, stream)) {
            if !authenticated {
                // DT7: media before a successful ConnectResponse.
                let code = if self.config.is(Mutant::AuthFailureCode1) {
                    ResetCode::InvalidStreamFormat
                } else {
                    ResetCode::AuthenticationFailed
                };
                self.stop(t, session, stream, code);
                return;
            }
            self.sources.insert(
                (session, stream),
                Source {
                    reader: MediaStreamReader::new(),
                    pending: Vec::new(),
                    forwards: Vec::new(),
                    header: Vec::new(),
                    ended: false,
                    offset: 0,
                },
            );
        }
        let receivers = self.receivers(session);
        let Some(source) = self.sources.get_mut(&(session, stream)) else {
            return;
        };
        if source.ended {
            return;
        }
        let patched;
        let mut input = bytes;
        if self.config.is(Mutant::BadMagicAccepted) && source.offset < 4 {
            // The mutant reads any magic as `DART`.
            let mut copy = bytes.to_vec();
            let start = usize::try_from(source.offset).unwrap_or(4);
            for (i, b) in copy
                .iter_mut()
                .enumerate()
                .take(4usize.saturating_sub(start))
            {
                *b = handshake_darktower_wire::MAGIC[start + i];
            }
            patched = copy;
            input = &patched;
        }
        source.offset += bytes.len() as u64;
        let mut failure = None;
        loop {
            let before = input;
            let next = source.reader.next(&mut input);
            let used = before.len() - input.len();
            match next {
                None => {
                    source.pending.extend_from_slice(&before[..used]);
                    break;
                }
                Some(Err(handshake_darktower_wire::Error::StreamIdMismatch { .. }))
                    if self.config.is(Mutant::StreamIdMismatchAccepted) =>
                {
                    // The mutant drops the stream silently instead of resetting it.
                    source.ended = true;
                    return;
                }
                Some(Err(e)) => {
                    failure = Some(e.reset_code());
                    break;
                }
                Some(Ok(event)) => {
                    source.pending.extend_from_slice(&before[..used]);
                    match event {
                        MediaEvent::Header(header) => {
                            if !header.codec.is_known() {
                                self.counters.unknown_fourcc += 1;
                            }
                            source.header = source.pending.clone();
                            if let Some(code) = self.config.stop_media {
                                t.stop(session, stream, code);
                                source.ended = true;
                                self.events
                                    .push_back(DarkTowerEvent::StreamEnded { stream, code });
                                return;
                            }
                            for r in &receivers {
                                if let Some(s) = t.open(*r, false) {
                                    source.forwards.push((*r, s));
                                }
                            }
                        }
                        MediaEvent::FrameStart(frame) => {
                            self.events.push_back(DarkTowerEvent::Frame {
                                participant: session,
                                stream: Some(stream),
                                sequence: frame.sequence,
                                source: frame.stream_id.to_string(),
                            });
                            if frame.payload_len > STREAM_WINDOW {
                                failure = Some(ResetCode::QuotaExceeded);
                                break;
                            }
                            self.counters.frames += 1;
                            if self.config.is(Mutant::ForwardAltered) {
                                if let Some(b) = source.pending.get_mut(33) {
                                    *b ^= 1;
                                }
                            }
                            // Receivers that authenticated since the header join at this frame
                            // boundary: the header first, then frames from here on (DH13).
                            for r in &receivers {
                                if source.forwards.iter().any(|(s, _)| s == r) {
                                    continue;
                                }
                                if let Some(s) = t.open(*r, false) {
                                    t.write(*r, s, &source.header);
                                    source.forwards.push((*r, s));
                                }
                            }
                        }
                        MediaEvent::Payload(_) | MediaEvent::FrameEnd => {}
                    }
                    for (r, s) in &source.forwards {
                        t.write(*r, *s, &source.pending);
                    }
                    source.pending.clear();
                }
            }
        }
        if let Some(code) = failure {
            self.stop(t, session, stream, code);
            self.end_source(t, session, stream);
            return;
        }
        if fin {
            match source.reader.finish() {
                Ok(()) => {
                    source.ended = true;
                    for (r, s) in std::mem::take(&mut source.forwards) {
                        t.finish(r, s);
                    }
                }
                Err(e) => {
                    // After a FIN every byte has arrived: STOP_SENDING would come too late to mean
                    // anything (RFC 9000 §3.5), so the stream is only dropped and recorded.
                    self.events.push_back(DarkTowerEvent::StreamEnded {
                        stream,
                        code: e.reset_code().code(),
                    });
                    self.end_source(t, session, stream);
                }
            }
        }
    }

    /// A source ended abnormally (reset, stopped, invalid, its session gone): its forwards are
    /// reset with 0x00 (DH13).
    fn end_source(&mut self, t: &mut dyn Sessions, session: u32, stream: u64) {
        if let Some(source) = self.sources.get_mut(&(session, stream)) {
            source.ended = true;
            for (r, s) in std::mem::take(&mut source.forwards) {
                t.reset(r, s, ResetCode::Graceful.code());
            }
        }
    }

    fn stop(&mut self, t: &mut dyn Sessions, session: u32, stream: u64, code: ResetCode) {
        t.stop(session, stream, code.code());
        self.events.push_back(DarkTowerEvent::StreamEnded {
            stream,
            code: code.code(),
        });
    }

    fn on_datagram(&mut self, now: Instant, t: &mut dyn Sessions, session: u32, payload: &[u8]) {
        // The flow document's carrier (DT7.wire): the token in a datagram, which a client may
        // repeat (datagrams are unreliable); repeats after the answer are ignored.
        if let Some(media) = self.sessions.get_mut(&session) {
            if let Some(token) = media_auth_token(payload) {
                if !media.answered {
                    media.answered = true;
                    self.receive_token(now, t, session, Carrier::Datagram, Ok(token));
                }
                return;
            }
        }
        let authenticated = self
            .sessions
            .get(&session)
            .is_some_and(|m| m.auth.is_some());
        let verdict = if authenticated {
            match FrameV2Repr::parse(payload) {
                Err(handshake_darktower_wire::Error::BadVersion(_))
                    if self.config.is(Mutant::BadDatagramForwarded) =>
                {
                    Ok(())
                }
                other => other.map(|_| ()).map_err(|e| e.to_string()),
            }
        } else {
            Err("before authentication".to_owned())
        };
        match verdict {
            Ok(()) => {
                if let Ok(f) = FrameV2Repr::parse(payload) {
                    self.events.push_back(DarkTowerEvent::Frame {
                        participant: session,
                        stream: None,
                        sequence: f.sequence,
                        source: f.user_id.to_string(),
                    });
                }
                self.counters.datagrams_forwarded += 1;
                for r in self.receivers(session) {
                    t.send_datagram(r, payload);
                }
            }
            Err(reason) => {
                self.counters.datagrams_dropped += 1;
                self.events
                    .push_back(DarkTowerEvent::DatagramDropped { reason });
            }
        }
    }
}

/// The token of a first message on the bidi authentication stream: a ConnectRequest's, or the
/// flow document's JWT as it is behind the length prefix (DT7.wire).
fn token_of(bytes: &[u8]) -> Result<String, String> {
    match decode_media_client_message(bytes).map(|m| m.message) {
        Ok(Some(media_client_message::Message::ConnectRequest(r))) => Ok(r.join_token),
        Ok(None) => Err("no ConnectRequest".to_owned()),
        Err(e) => jwt_text(bytes)
            .map(str::to_owned)
            .ok_or_else(|| e.to_string()),
    }
}
