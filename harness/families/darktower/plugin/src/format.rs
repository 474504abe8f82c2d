//! Dark Tower's part of the scenario format: the `meeting` both sides run, which server an IUT
//! `serves`, the scripted twists of the harness's meeting server (`peer`), the steps of the
//! scripted participants, and the outcome keys.

use std::collections::BTreeMap;

use handshake_scenario::format::Bound;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The features a scenario may require of the IUT (`iut.requires`).
pub const FEATURES: &[(&str, &str)] = &[
    (
        "v1",
        "v1 media: 32-byte stream header and 46-byte frames on unidirectional streams.",
    ),
    ("v2", "v2 media: 42-byte frames in datagrams (DT11)."),
];

/// The meeting: what the controller serves, liveness, and a client IUT's plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meeting {
    /// The meeting the controller serves (DH6).
    #[serde(default = "default_meeting")]
    pub id: String,
    /// Participants it admits (DH6).
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Meetings that ended (NOT_FOUND).
    #[serde(default = "default_ended")]
    pub ended: Vec<String>,
    /// QUIC idle timeout of the servers, ms (DT10: 30000).
    #[serde(default = "default_idle")]
    pub idle_ms: u64,
    /// Keep-alive of clients, ms (DT10: 15000).
    #[serde(default = "default_keepalive")]
    pub keepalive_ms: u64,
    /// A client IUT's participant name.
    #[serde(default = "default_name")]
    pub name: String,
    /// A client IUT's join token: `valid`, `expired`, `forged`, `wrong_meeting`, `garbage`.
    #[serde(default = "default_token")]
    pub join_token: String,
    /// What a client IUT publishes: `video`, `audio`.
    #[serde(default = "default_publish")]
    pub publish: Vec<String>,
    /// Frames per source.
    #[serde(default = "default_frames")]
    pub frames: u32,
    /// Frames per second.
    #[serde(default = "default_fps")]
    pub fps: u32,
    /// Payload bytes per frame.
    #[serde(default = "default_payload")]
    pub payload_bytes: u32,
    /// How long a client stays after its last frame, ms.
    #[serde(default = "default_linger")]
    pub linger_ms: u64,
}

fn default_meeting() -> String {
    "standup".into()
}
fn default_capacity() -> u32 {
    10
}
fn default_ended() -> Vec<String> {
    vec!["retro".into()]
}
fn default_idle() -> u64 {
    30_000
}
fn default_keepalive() -> u64 {
    15_000
}
fn default_name() -> String {
    "iut".into()
}
fn default_token() -> String {
    "valid".into()
}
fn default_publish() -> Vec<String> {
    vec!["video".into()]
}
fn default_frames() -> u32 {
    5
}
fn default_fps() -> u32 {
    30
}
fn default_payload() -> u32 {
    100
}
fn default_linger() -> u64 {
    500
}

impl Default for Meeting {
    fn default() -> Self {
        Meeting {
            id: default_meeting(),
            capacity: default_capacity(),
            ended: default_ended(),
            idle_ms: default_idle(),
            keepalive_ms: default_keepalive(),
            name: default_name(),
            join_token: default_token(),
            publish: default_publish(),
            frames: default_frames(),
            fps: default_fps(),
            payload_bytes: default_payload(),
            linger_ms: default_linger(),
        }
    }
}

handshake_scenario::family_fields! {
    /// Dark Tower's keys at the top level of a scenario.
    pub struct Setup {
        /// The meeting (defaults: meeting `standup`, capacity 10, idle 30 s, keep-alive 15 s).
        meeting: Meeting = Meeting::default(),
        /// `webtransport` or `quic` (default: the IUT profile's).
        transport: Option<String> = None,
        /// `mapped` or `raw` reset codes (default: the IUT profile's).
        reset_codes: Option<String> = None,
    }
}

handshake_scenario::family_fields! {
    /// Dark Tower's keys in `iut`.
    pub struct IutFields {
        /// A server IUT: `controller` or `handler`.
        serves: Option<String> = None,
    }
}

handshake_scenario::family_fields! {
    /// Dark Tower's keys in `peer` (the harness's meeting server facing a client IUT).
    pub struct PeerFields {
        /// Every JoinRequest is refused with this ErrorCode (2 UNAUTHORIZED, 7 CAPACITY_EXCEEDED …).
        refuse_join: Option<i32> = None,
        /// Every ConnectRequest is refused (UNAUTHORIZED).
        refuse_auth: bool = false,
        /// Every media stream is stopped with this code once its header arrived.
        stop_media: Option<u32> = None,
        /// Step by step: each JoinRequest and ConnectRequest waits for an `answer` step (what
        /// `harness learn --role client` drives a client with).
        hold: bool = false,
    }
}

handshake_scenario::family_fields! {
    /// Dark Tower's keys in `expect`.
    pub struct ExpectFields {
        /// A client IUT completed (in-process: the reference client's verdict; external: exit 0).
        client_ok: Option<bool> = None,
        /// Units the IUT produced, by kind: `{"frame": 5}` or `{"frame": {"min": 1}}`.
        units: BTreeMap<String, Bound> = BTreeMap::new(),
    }
}

/// Dark Tower's steps: scripted participants 0, 1, 2 … (each with a signaling and a media
/// session to the IUT, made on first use).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DarkTowerStep {
    /// Send a JoinRequest on the participant's signaling stream.
    Join(JoinStep),
    /// Send another ClientMessage on the signaling stream.
    Signal(SignalStep),
    /// Send a ConnectRequest on the participant's media session (DT7).
    Authenticate(AuthStep),
    /// Open a media stream (v1): a stream header and frames, valid unless changed.
    Media(MediaStep),
    /// Send a v2 frame in a datagram.
    Datagram(DatagramStep),
    /// Write raw bytes.
    Write(WriteStep),
    /// FIN a stream.
    Fin(OnStep),
    /// Reset one of the participant's media streams.
    Reset(ResetStep),
    /// Close a session (or both) with an application code.
    Close(CloseStep),
    /// The participant disappears: nothing more is sent or taken (its sessions idle out).
    Vanish(Participant),
    /// A client IUT step by step (`peer.hold`): answer its oldest held JoinRequest or
    /// ConnectRequest (none held: nothing happens).
    Answer(AnswerStep),
    /// A client IUT: tell it that another participant joined (ParticipantJoined on its
    /// signaling stream).
    Announce(AnnounceStep),
}

impl handshake_scenario::Action for DarkTowerStep {
    const NAMES: &'static [&'static str] = &[
        "join",
        "signal",
        "authenticate",
        "media",
        "datagram",
        "write",
        "fin",
        "reset",
        "close",
        "vanish",
        "answer",
        "announce",
    ];
    fn label(&self) -> String {
        match self {
            DarkTowerStep::Join(j) => format!("#{} join token={}", j.participant, j.token),
            DarkTowerStep::Signal(s) => format!("#{} signal {}", s.participant, s.what()),
            DarkTowerStep::Authenticate(a) => {
                format!("#{} authenticate token={}", a.participant, a.token)
            }
            DarkTowerStep::Media(m) => format!("#{} media {} frames", m.participant, m.frames),
            DarkTowerStep::Datagram(d) => format!("#{} datagram seq {}", d.participant, d.sequence),
            DarkTowerStep::Write(w) => {
                format!(
                    "#{} write {} bytes on {}",
                    w.participant,
                    w.hex.len() / 2,
                    w.on
                )
            }
            DarkTowerStep::Fin(f) => format!("#{} fin {}", f.participant, f.on),
            DarkTowerStep::Reset(r) => {
                format!("#{} reset media {} code {}", r.participant, r.index, r.code)
            }
            DarkTowerStep::Close(c) => format!("#{} close {} code {}", c.participant, c.on, c.code),
            DarkTowerStep::Vanish(p) => format!("#{} vanish", p.participant),
            DarkTowerStep::Answer(a) => match a.error {
                Some(code) => format!("answer {} with error {code}", a.to),
                None => format!("answer {}", a.to),
            },
            DarkTowerStep::Announce(_) => "announce another participant".to_owned(),
        }
    }
}

/// A scripted participant.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    /// Its number (0, 1, …).
    #[serde(default)]
    pub participant: u32,
}

/// `join`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// Its name (default `participant-N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A name of this many bytes instead (DT6: at most 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_len: Option<usize>,
    /// The meeting id (default the meeting's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<String>,
    /// `valid`, `expired`, `forged`, `wrong_meeting`, `garbage`, or `same_as:N` (participant
    /// N's join token, for reconnection).
    #[serde(default = "valid")]
    pub token: String,
}

fn valid() -> String {
    "valid".into()
}

/// `signal`: one of its keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// PublishStream{stream_id, stream_type (0 audio, 1 video camera, 2 screen)}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<Publish>,
    /// SubscribeStream{stream_id}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<String>,
    /// UnsubscribeStream{stream_id}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
}

impl SignalStep {
    fn what(&self) -> String {
        if let Some(p) = &self.publish {
            format!("publish {}", p.stream_id)
        } else if let Some(s) = &self.subscribe {
            format!("subscribe {s}")
        } else if let Some(s) = &self.unsubscribe {
            format!("unsubscribe {s}")
        } else {
            "nothing".into()
        }
    }
}

/// A stream to publish.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// Its id.
    pub stream_id: String,
    /// 0 audio, 1 video camera, 2 video screen.
    #[serde(default = "video_camera")]
    pub stream_type: i32,
}

fn video_camera() -> i32 {
    1
}

/// `authenticate`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// `valid`, `expired`, `forged`, `join` (a join token), `garbage`, or `reuse:N` (the media
    /// token participant N authenticated with).
    #[serde(default = "valid")]
    pub token: String,
    /// The participant id the token names (default `pN+1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
}

/// `media`: a stream header and frames; every field valid unless set.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// `video` (default) or `audio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The stream header's magic, 4 ASCII bytes (default `DART`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magic: Option<String>,
    /// The header's version byte (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    /// The header's stream type byte (default: 1 video, 0 audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_type: Option<u8>,
    /// The codec FourCC (default VP09 / Opus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Frames after the header.
    #[serde(default)]
    pub frames: u32,
    /// The first frame's sequence number.
    #[serde(default)]
    pub first_sequence: u64,
    /// Sequence numbers instead of first_sequence, first_sequence + 1, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequences: Option<Vec<u64>>,
    /// Payload bytes per frame.
    #[serde(default = "payload")]
    pub payload_bytes: u32,
    /// The frames carry another stream id than the header's (DT3).
    #[serde(default)]
    pub wrong_stream_id: bool,
    /// The last frame announces this many more payload bytes than it carries.
    #[serde(default)]
    pub payload_len_excess: u32,
    /// The frames' version byte (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_version: Option<u8>,
    /// The frames' type byte (default 1 key then 2 delta for video, 0 for audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_type: Option<u8>,
    /// The frames' flags, all 16 bits (default 0x0001, end of frame; 0x0002 is discardable, the
    /// other bits are reserved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u16>,
    /// Only the first this-many bytes go out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<usize>,
    /// FIN after the bytes.
    #[serde(default)]
    pub fin: bool,
}

fn payload() -> u32 {
    20
}

/// `datagram`: a v2 frame; every field valid unless set.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatagramStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// Its sequence number.
    #[serde(default)]
    pub sequence: u64,
    /// Version byte (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    /// Frame type byte (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_type: Option<u8>,
    /// Its flags, all 16 bits (default 0x0001, end of frame).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u16>,
    /// Payload bytes.
    #[serde(default = "payload")]
    pub payload_bytes: u32,
    /// Only the first this-many bytes go out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<usize>,
}

/// `write`: raw bytes.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// `signaling`, `auth`, `new_media` (a new uni stream), `media` (the `index`-th one), or
    /// `datagram` (media session).
    pub on: String,
    /// The media stream (with `on: media`).
    #[serde(default)]
    pub index: usize,
    /// The bytes.
    pub hex: String,
    /// FIN after them.
    #[serde(default)]
    pub fin: bool,
}

/// `fin`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// `signaling`, `auth` or `media` (the `index`-th).
    pub on: String,
    /// The media stream.
    #[serde(default)]
    pub index: usize,
}

/// `reset`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// The media stream (0: the first it opened).
    #[serde(default)]
    pub index: usize,
    /// The application code (mapped per the run's reset codes).
    #[serde(default)]
    pub code: u32,
}

/// `close`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseStep {
    /// The participant.
    #[serde(default)]
    pub participant: u32,
    /// `signaling`, `media` or `both`; `open`: whichever of them is open (none is no error).
    #[serde(default = "both")]
    pub on: String,
    /// The application code.
    #[serde(default)]
    pub code: u32,
}

/// `answer`: what the harness's meeting server says to a held request of a client IUT.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerStep {
    /// `join` (the controller's JoinResponse) or `auth` (the handler's ConnectResponse).
    pub to: String,
    /// Refuse it with this ErrorCode instead (2 UNAUTHORIZED, 7 CAPACITY_EXCEEDED …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<i32>,
}

/// `announce`: a ParticipantJoined about another participant (`p99`, no streams).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnounceStep {}

fn both() -> String {
    "both".into()
}
