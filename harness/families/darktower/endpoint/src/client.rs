//! The reference client (DH15–DH16): join through the controller, authenticate with the handler,
//! publish media sources (v1 streams or v2 datagrams), subscribe to everything it learns of, count
//! what it receives, leave.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::Instant;
use handshake_darktower_wire::proto::media::{
    media_client_message, media_server_message, ConnectRequest, MediaClientMessage,
};
use handshake_darktower_wire::proto::signaling::{
    client_message, server_message, ClientMessage, JoinRequest, ParticipantCapabilities,
    PublishStream, StreamType as ProtoStreamType, SubscribeStream,
};
use handshake_darktower_wire::{
    decode_media_server_message, decode_server_message, encode_message, Flags, FourCc, FrameRepr,
    FrameType, FrameV2Repr, MediaEvent, MediaStreamReader, SignalingReader, StreamHeaderRepr,
    StreamId, StreamType,
};
use handshake_quic::session::{SessionEvent, Sessions};

use crate::driven::{App, Driven};
use crate::{earliest, url_address, url_path, Clock, DarkTowerEvent, Mutant};

/// v1 (streams, the default) or v2 (datagrams) media.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MediaVersion {
    /// 32-byte stream header + 46-byte frames on unidirectional streams.
    #[default]
    V1,
    /// 42-byte frames in datagrams.
    V2,
}

/// One media source the client publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// Audio or video.
    pub kind: StreamType,
    /// Its codec.
    pub codec: FourCc,
}

impl Source {
    /// Video, VP09.
    pub const VIDEO: Source = Source {
        kind: StreamType::Video,
        codec: FourCc::VP09,
    };
    /// Audio, Opus.
    pub const AUDIO: Source = Source {
        kind: StreamType::Audio,
        codec: FourCc::OPUS,
    };
}

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The controller's address and path.
    pub controller: SocketAddr,
    /// The controller's path (`/signaling`).
    pub controller_path: String,
    /// The meeting to join.
    pub meeting: String,
    /// The join token (used when `mint` is `None`).
    pub join_token: String,
    /// Mint the join token when joining instead.
    pub mint: Option<crate::token::JoinMint>,
    /// The participant name.
    pub name: String,
    /// What it publishes.
    pub sources: Vec<Source>,
    /// Frames per source.
    pub frames: u32,
    /// Time between frames.
    pub frame_interval: Duration,
    /// Payload bytes per frame.
    pub payload_bytes: usize,
    /// How long it stays after its last frame (to receive the others').
    pub linger: Duration,
    /// v1 or v2.
    pub version: MediaVersion,
    /// Unix time (frame timestamps).
    pub clock: Clock,
    /// A deliberately wrong variant.
    pub mutant: Option<Mutant>,
    /// Publishing starts no earlier than this (load mode: once every participant is in).
    pub media_not_before: Option<Instant>,
}

impl ClientConfig {
    fn is(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }
}

/// What the client measured (the seed's metrics, DH15).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientReport {
    /// Its participant id.
    pub participant_id: Option<String>,
    /// From the controller connect to the handler's ConnectResponse.
    pub setup: Option<Duration>,
    /// Frames it sent.
    pub frames_sent: u64,
    /// Frames it received (forwarded).
    pub frames_received: u64,
    /// Sum and maximum of delivery latency (receive time − frame timestamp), µs.
    pub latency_sum_us: u64,
    /// The maximum.
    pub latency_max_us: u64,
    /// Sequence gaps seen per received stream (DT10), summed.
    pub gaps: u64,
    /// Streams the handler opened to it.
    pub streams_received: u64,
    /// Streams it opened.
    pub streams_opened: u64,
    /// Resets and stops seen, by application code.
    pub resets: BTreeMap<u32, u64>,
    /// The outcome: `None` while running.
    pub result: Option<Result<(), String>>,
}

#[derive(Debug)]
struct Published {
    source: Source,
    id: StreamId,
    stream: Option<u64>,
    sequence: u64,
}

#[derive(Debug, Default)]
struct Received {
    reader: MediaStreamReader,
    next_sequence: Option<u64>,
}

/// The client's state, apart from its transport.
#[derive(Debug)]
pub struct ClientCore {
    config: ClientConfig,
    started: Instant,
    controller: Option<u32>,
    signaling: Option<u64>,
    signaling_reader: SignalingReader,
    handler: Option<u32>,
    auth: Option<u64>,
    auth_reader: SignalingReader,
    media_token: Option<String>,
    published: Vec<Published>,
    next_frame: Option<Instant>,
    leave_at: Option<Instant>,
    /// Publishing waits for this (`media_not_before`).
    media_at: Option<Instant>,
    /// Why the run fails at its end (a media stream the handler stopped).
    stopped: Option<String>,
    received: BTreeMap<u64, Received>,
    v2_next: BTreeMap<(u64, u32), u64>,
    report: ClientReport,
    events: VecDeque<DarkTowerEvent>,
}

/// The reference client.
pub type Client = Driven<ClientCore>;

/// A stable 16-byte stream id from a name and an index (DH16).
pub fn derive_stream_id(name: &str, index: usize) -> StreamId {
    let mut out = [0u8; 16];
    for (half, salt) in out
        .chunks_mut(8)
        .zip([0x9e37_79b9_7f4a_7c15_u64, 0xc2b2_ae3d_27d4_eb4f])
    {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
        for b in name.bytes().chain(index.to_be_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        half.copy_from_slice(&h.to_be_bytes());
    }
    StreamId(out)
}

fn hyphenated(id: StreamId) -> String {
    id.to_string()
}

impl Client {
    /// A client starting at `now` on `transport` (a client host).
    pub fn new(mut transport: Box<dyn Sessions>, config: ClientConfig, now: Instant) -> Client {
        let first_sequence = u64::from(config.is(Mutant::SequenceFromOne));
        let published = config
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| Published {
                source: *s,
                id: derive_stream_id(&config.name, i),
                stream: None,
                sequence: first_sequence,
            })
            .collect();
        let mut core = ClientCore {
            config,
            started: now,
            controller: None,
            signaling: None,
            signaling_reader: SignalingReader::new(),
            handler: None,
            auth: None,
            auth_reader: SignalingReader::new(),
            media_token: None,
            published,
            next_frame: None,
            leave_at: None,
            media_at: None,
            stopped: None,
            received: BTreeMap::new(),
            v2_next: BTreeMap::new(),
            report: ClientReport::default(),
            events: VecDeque::new(),
        };
        match transport.connect(now, core.config.controller, &core.config.controller_path) {
            Ok(session) => core.controller = Some(session),
            Err(e) => core.fail(
                &mut *transport,
                now,
                &format!("connect to the controller: {e}"),
            ),
        }
        let mut client = Driven::with(transport, core);
        client.step(now);
        client
    }

    /// What it measured so far.
    pub fn report(&self) -> &ClientReport {
        &self.app().report
    }

    /// Whether it finished (completed or failed).
    pub fn is_finished(&self) -> bool {
        self.app().report.result.is_some()
    }
}

impl App for ClientCore {
    fn on(&mut self, now: Instant, t: &mut dyn Sessions, event: SessionEvent) {
        ClientCore::on(self, now, t, event);
    }
    fn on_timer(&mut self, t: &mut dyn Sessions, now: Instant) {
        ClientCore::on_timer(self, t, now);
    }
    /// The next frame, the media start, the leave time (none once it finished).
    fn timer(&self) -> Option<Instant> {
        if self.report.result.is_some() {
            None
        } else {
            earliest(earliest(self.next_frame, self.leave_at), self.media_at)
        }
    }
    fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        self.events.pop_front()
    }
    fn set_clock(&mut self, clock: Clock) {
        self.config.clock = clock;
    }
}

impl ClientCore {
    fn on(&mut self, now: Instant, t: &mut dyn Sessions, event: SessionEvent) {
        match event {
            SessionEvent::Opened { session, path } => {
                self.events
                    .push_back(DarkTowerEvent::SessionOpened { session, path });
                if Some(session) == self.controller {
                    self.signaling = t.open(session, true);
                    let join = client_message::Message::JoinRequest(JoinRequest {
                        meeting_id: self.config.meeting.clone(),
                        join_token: match &self.config.mint {
                            Some(m) => m.token(self.config.clock.unix_s(now)),
                            None => self.config.join_token.clone(),
                        },
                        participant_name: self.config.name.clone(),
                        capabilities: Some(ParticipantCapabilities {
                            video_codecs: vec!["VP09".into()],
                            audio_codecs: vec!["Opus".into()],
                            supports_simulcast: false,
                            max_video_streams: 0,
                        }),
                    });
                    self.signal(t, join);
                } else if Some(session) == self.handler {
                    self.auth = t.open(session, true);
                    let request = MediaClientMessage {
                        message: Some(media_client_message::Message::ConnectRequest(
                            ConnectRequest {
                                join_token: self.media_token.clone().unwrap_or_default(),
                            },
                        )),
                    };
                    if let (Some(stream), Ok(frame)) = (self.auth, encode_message(&request)) {
                        t.write(session, stream, &frame);
                    }
                    if self.config.is(Mutant::MediaBeforeAuth) {
                        self.start_media(now, t);
                    }
                }
            }
            SessionEvent::Data {
                session,
                stream,
                bytes,
                fin,
            } => {
                if Some(session) == self.controller && Some(stream) == self.signaling {
                    self.on_signaling(now, t, &bytes, fin);
                } else if Some(session) == self.handler && Some(stream) == self.auth {
                    self.on_auth(now, t, &bytes);
                } else if Some(session) == self.handler {
                    self.on_forwarded(now, stream, &bytes);
                }
            }
            SessionEvent::Reset { code, wire, .. } => {
                *self
                    .report
                    .resets
                    .entry(code.unwrap_or(u32::try_from(wire).unwrap_or(u32::MAX)))
                    .or_default() += 1;
            }
            SessionEvent::Stopped {
                session,
                stream,
                code,
                wire,
            } => {
                let code = code.unwrap_or(u32::try_from(wire).unwrap_or(u32::MAX));
                *self.report.resets.entry(code).or_default() += 1;
                if !self.config.is(Mutant::StopSendingIgnored) {
                    t.reset(session, stream, code);
                }
                // The stream carries nothing more; the client goes on (other sources, receiving)
                // and fails at its end (DH15): its answer stays visible on the wire.
                for p in &mut self.published {
                    if p.stream == Some(stream) {
                        p.stream = None;
                    }
                }
                self.stopped.get_or_insert_with(|| {
                    format!("the handler stopped media stream {stream} with {code:#04x}")
                });
            }
            SessionEvent::Datagram { payload, .. } => {
                if let Ok(frame) = FrameV2Repr::parse(&payload) {
                    self.count_frame(now, frame.timestamp_us);
                    // Counted from the first frame seen (a late joiner starts mid-stream).
                    let next = self
                        .v2_next
                        .entry((frame.user_id, frame.stream_id))
                        .or_insert(frame.sequence);
                    if frame.sequence > *next {
                        self.report.gaps += frame.sequence - *next;
                    }
                    *next = frame.sequence.max(*next).saturating_add(1);
                }
            }
            SessionEvent::Closed {
                session,
                close,
                by_peer,
            } => {
                self.events.push_back(DarkTowerEvent::SessionClosed {
                    session,
                    close: close.to_string(),
                });
                if by_peer && self.report.result.is_none() {
                    self.fail(
                        t,
                        now,
                        &format!("session {session} closed by the peer: {close}"),
                    );
                }
            }
        }
    }

    fn signal(&mut self, t: &mut dyn Sessions, message: client_message::Message) {
        let (Some(session), Some(stream)) = (self.controller, self.signaling) else {
            return;
        };
        if let Ok(frame) = encode_message(&ClientMessage {
            message: Some(message),
        }) {
            t.write(session, stream, &frame);
        }
    }

    fn on_signaling(&mut self, now: Instant, t: &mut dyn Sessions, bytes: &[u8], fin: bool) {
        let mut input = bytes;
        let mut messages = Vec::new();
        while let Some(next) = self.signaling_reader.next(&mut input) {
            match next {
                Ok(m) => messages.push(decode_server_message(m).map_err(|e| e.to_string())),
                Err(e) => messages.push(Err(e.to_string())),
            }
        }
        for message in messages {
            let message = match message {
                Ok(m) => m.message,
                Err(e) => return self.fail(t, now, &format!("signaling: {e}")),
            };
            match message {
                Some(server_message::Message::JoinResponse(r)) => {
                    self.report.participant_id = Some(r.participant_id.clone());
                    self.events.push_back(DarkTowerEvent::Joined {
                        participant: r.participant_id.clone(),
                        resumed: false,
                    });
                    for p in &r.existing_participants {
                        for s in &p.streams {
                            self.subscribe(t, &s.stream_id);
                        }
                    }
                    let Some(media) = r.media_server else {
                        return self.fail(t, now, "JoinResponse without media_server");
                    };
                    self.media_token = Some(media.connection_token.clone());
                    let Some(address) = url_address(&media.media_handler_url) else {
                        return self.fail(
                            t,
                            now,
                            &format!("media handler URL {:?}", media.media_handler_url),
                        );
                    };
                    match t.connect(now, address, &url_path(&media.media_handler_url)) {
                        Ok(session) => self.handler = Some(session),
                        Err(e) => {
                            return self.fail(t, now, &format!("connect to the handler: {e}"))
                        }
                    }
                }
                Some(server_message::Message::StreamPublished(p)) => {
                    if let Some(s) = p.stream {
                        self.subscribe(t, &s.stream_id);
                    }
                }
                Some(server_message::Message::Error(e)) => {
                    self.events.push_back(DarkTowerEvent::Error {
                        code: e.code,
                        sent: false,
                    });
                    return self.fail(t, now, &format!("ErrorMessage {} {:?}", e.code, e.message));
                }
                Some(
                    server_message::Message::ParticipantJoined(_)
                    | server_message::Message::ParticipantLeft(_)
                    | server_message::Message::StreamQualityUpdate(_),
                )
                | None => {}
            }
        }
        if fin && self.report.result.is_none() {
            self.fail(t, now, "the controller ended signaling");
        }
    }

    fn subscribe(&mut self, t: &mut dyn Sessions, stream_id: &str) {
        self.signal(
            t,
            client_message::Message::SubscribeStream(SubscribeStream {
                stream_id: stream_id.to_owned(),
                options: None,
            }),
        );
    }

    fn on_auth(&mut self, now: Instant, t: &mut dyn Sessions, bytes: &[u8]) {
        let mut input = bytes;
        let first = match self.auth_reader.next(&mut input) {
            None => return,
            Some(Ok(m)) => decode_media_server_message(m).map_err(|e| e.to_string()),
            Some(Err(e)) => Err(e.to_string()),
        };
        match first.map(|m| m.message) {
            Ok(Some(media_server_message::Message::ConnectResponse(_))) => {
                self.report.setup = Some(now.saturating_duration_since(self.started));
                if !self.config.is(Mutant::MediaBeforeAuth) {
                    match self.config.media_not_before {
                        Some(at) if at > now => self.media_at = Some(at),
                        _ => self.start_media(now, t),
                    }
                }
            }
            Ok(Some(media_server_message::Message::Error(e))) => {
                self.events.push_back(DarkTowerEvent::Error {
                    code: e.code,
                    sent: false,
                });
                self.fail(
                    t,
                    now,
                    &format!("media ErrorMessage {} {:?}", e.code, e.message),
                );
            }
            Ok(None) => self.fail(t, now, "empty MediaServerMessage"),
            Err(e) => self.fail(t, now, &format!("media authentication: {e}")),
        }
    }

    fn start_media(&mut self, now: Instant, t: &mut dyn Sessions) {
        let handler = self.handler;
        let version = self.config.version;
        let mut announcements = Vec::new();
        for p in &mut self.published {
            announcements.push(client_message::Message::PublishStream(PublishStream {
                stream_id: hyphenated(p.id),
                stream_type: match p.source.kind {
                    StreamType::Audio => ProtoStreamType::Audio as i32,
                    StreamType::Video => ProtoStreamType::VideoCamera as i32,
                },
                metadata: None,
            }));
            if version == MediaVersion::V1 {
                if let Some(session) = handler {
                    p.stream = t.open(session, false);
                    if let Some(stream) = p.stream {
                        self.report.streams_opened += 1;
                        let header = StreamHeaderRepr {
                            stream_type: p.source.kind,
                            stream_id: p.id,
                            codec: p.source.codec,
                        };
                        t.write(session, stream, &header.to_bytes());
                    }
                }
            }
        }
        for a in announcements {
            self.signal(t, a);
        }
        if self.config.frames > 0 && !self.published.is_empty() {
            self.next_frame = Some(now);
            self.on_timer(t, now);
        } else {
            self.leave_at = Some(now + self.config.linger);
        }
    }

    fn on_timer(&mut self, t: &mut dyn Sessions, now: Instant) {
        if self.report.result.is_some() {
            return;
        }
        if self.media_at.is_some_and(|at| at <= now) {
            self.media_at = None;
            self.start_media(now, t);
        }
        if self.next_frame.is_some_and(|at| at <= now) {
            self.send_frames(t, now);
        }
        if self.leave_at.is_some_and(|at| at <= now) {
            self.leave_at = None;
            self.finish(t, now);
        }
    }

    fn send_frames(&mut self, t: &mut dyn Sessions, now: Instant) {
        let Some(session) = self.handler else { return };
        let payload = vec![0x5a; self.config.payload_bytes];
        let timestamp_us = self.config.clock.unix_us(now);
        for (index, p) in self.published.iter_mut().enumerate() {
            let frame_type = match (p.source.kind, p.sequence) {
                (StreamType::Audio, _) => FrameType::Audio,
                (StreamType::Video, 0) => FrameType::VideoKey,
                (StreamType::Video, _) => FrameType::VideoDelta,
            };
            let flags = Flags {
                end_of_frame: true,
                discardable: false,
            };
            let bytes = match self.config.version {
                MediaVersion::V1 => FrameRepr {
                    frame_type,
                    stream_id: p.id,
                    timestamp_us,
                    sequence: p.sequence,
                    flags,
                    payload: &payload,
                }
                .to_vec(),
                MediaVersion::V2 => FrameV2Repr {
                    frame_type,
                    user_id: user_id(&self.config.name),
                    stream_id: u32::try_from(index).unwrap_or(u32::MAX),
                    timestamp_us,
                    sequence: p.sequence,
                    flags,
                    payload: &payload,
                }
                .to_vec(),
            };
            let Ok(bytes) = bytes else { continue };
            match (self.config.version, p.stream) {
                (MediaVersion::V1, Some(stream)) => t.write(session, stream, &bytes),
                (MediaVersion::V2, _) => {
                    t.send_datagram(session, &bytes);
                }
                (MediaVersion::V1, None) => continue,
            }
            p.sequence += 1;
            self.report.frames_sent += 1;
        }
        // Done when every source sent its frames or can send no more (its stream was stopped).
        let frames = u64::from(self.config.frames);
        let v1 = self.config.version == MediaVersion::V1;
        let last = self
            .published
            .iter()
            .all(|p| p.sequence >= frames || (v1 && p.stream.is_none()));
        if last {
            self.next_frame = None;
            for p in &self.published {
                if let Some(stream) = p.stream {
                    t.finish(session, stream);
                }
            }
            self.leave_at = Some(now + self.config.linger);
        } else {
            self.next_frame = Some(now + self.config.frame_interval);
        }
    }

    fn on_forwarded(&mut self, now: Instant, stream: u64, bytes: &[u8]) {
        if !self.received.contains_key(&stream) {
            self.report.streams_received += 1;
        }
        let received = self.received.entry(stream).or_default();
        let mut input = bytes;
        let mut stamps = Vec::new();
        while let Some(Ok(event)) = received.reader.next(&mut input) {
            if let MediaEvent::FrameStart(frame) = event {
                stamps.push(frame.timestamp_us);
                if let Some(expected) = received.next_sequence {
                    if frame.sequence > expected {
                        self.report.gaps += frame.sequence - expected;
                    }
                }
                received.next_sequence = Some(frame.sequence.saturating_add(1));
            }
        }
        for stamp in stamps {
            self.count_frame(now, stamp);
        }
    }

    fn count_frame(&mut self, now: Instant, timestamp_us: u64) {
        let latency = self.config.clock.unix_us(now).saturating_sub(timestamp_us);
        self.report.frames_received += 1;
        self.report.latency_sum_us += latency;
        self.report.latency_max_us = self.report.latency_max_us.max(latency);
    }

    /// Done: both sessions closed with code 0.
    fn finish(&mut self, t: &mut dyn Sessions, now: Instant) {
        if let Some(reason) = self.stopped.take() {
            return self.fail(t, now, &reason);
        }
        self.report.result = Some(Ok(()));
        for session in [self.handler, self.controller].into_iter().flatten() {
            t.close(now, session, 0, "done");
        }
        self.events.push_back(DarkTowerEvent::Finished {
            ok: true,
            reason: "completed".into(),
        });
    }

    fn fail(&mut self, t: &mut dyn Sessions, now: Instant, reason: &str) {
        if self.report.result.is_some() {
            return;
        }
        self.report.result = Some(Err(reason.to_owned()));
        for session in [self.handler, self.controller].into_iter().flatten() {
            t.close(now, session, 0, "failed");
        }
        self.events.push_back(DarkTowerEvent::Finished {
            ok: false,
            reason: reason.to_owned(),
        });
    }
}

/// The v2 user id of a participant name (DH16).
pub fn user_id(name: &str) -> u64 {
    let id = derive_stream_id(name, usize::MAX);
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&id.0[..8]);
    u64::from_be_bytes(eight)
}
