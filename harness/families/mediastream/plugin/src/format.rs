//! The media stream's part of the scenario format: the `stream` both sides run (top level, and
//! `peer.stream` for a reference peer configured otherwise), the IUT's `session_limit`, the `send`
//! step, and the outcome expectations `negotiated_mode`, `metrics`, `validation_errors` and
//! `stream_complete`. The generic envelope is `handshake_scenario::format`.

use std::collections::BTreeMap;

use handshake_mediastream_endpoint::StreamConfig;
use handshake_scenario::format::Bound;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most datagrams one `send` step may stand for (`times` × the datagrams of its spec).
pub const MAX_DATAGRAMS_PER_SEND: u64 = 100_000;
/// The negotiated modes the checker reports.
pub const NEGOTIATED_MODES: [&str; 5] = ["3way", "legacy", "legacy-fallback", "rejected", "failed"];
/// The metrics `expect.metrics` may bound.
pub const METRIC_NAMES: [&str; 5] = [
    "frames_successful",
    "frames_dropped",
    "frames_duplicate",
    "frames_error",
    "duplicate_datagrams",
];

/// The features a scenario may require of the IUT (`iut.requires`), with what each means.
pub const FEATURES: &[(&str, &str)] = &[
    ("three_way", "The 3-way handshake (profile `3way`)."),
    ("legacy_start", "Legacy START discovery (initiator: opens with START; responder: serves START)."),
    ("allow_legacy_start", "D9: a 3-way responder that also serves START."),
    ("optimistic_start", "D8: optimistic start."),
    ("fallback_to_legacy", "D10: fallback to legacy."),
    ("request_options", "D14 (initiator): requests its stream parameters as SYN options."),
    ("push", "The push direction (the initiator sends the media); implied by `stream.direction: push`."),
    ("udp_push", "The fork's `udp_push` build as coded (its initiator: START, then a SYN on every re-send tick)."),
];

/// The default stream: 200 kbit/s, 50 frames/s (500-byte frames), 1 s, 1 s buffer, 1400-byte datagrams.
pub fn default_stream() -> StreamConfig {
    StreamConfig {
        bits_per_second: 200_000,
        frame_rate: 50,
        stream_length_secs: 1,
        buffer_depth_secs: 1,
        datagram_byte_size: 1400,
        ..StreamConfig::default()
    }
}

handshake_scenario::family_fields! {
    /// The media stream's keys at the top level of a scenario.
    pub struct Setup {
        /// The stream both sides run (defaults: a small stream, see [`default_stream`]).
        stream: StreamConfig = default_stream(),
    }
}

handshake_scenario::family_fields! {
    /// The media stream's keys in `iut`.
    pub struct IutFields {
        /// A responder IUT's session limit (D4), where the scenario needs one; external IUTs get it
        /// through their manifest's `session_limit` flag.
        session_limit: Option<usize> = None,
    }
}

handshake_scenario::family_fields! {
    /// The media stream's keys in `peer`.
    pub struct PeerFields {
        /// The reference peer's own stream parameters, when they differ from the IUT's (`stream`):
        /// e.g. a responder configured otherwise than what the initiator requests (D14). Default:
        /// `stream`.
        #[serde(skip_serializing_if = "Option::is_none")]
        stream: Option<StreamConfig> = None,
    }
}

handshake_scenario::family_fields! {
    /// The media stream's keys in `expect`.
    pub struct ExpectFields {
        /// The negotiated mode the checker sees on the wire: `3way`, `legacy`, `legacy-fallback`,
        /// `rejected`, `failed`.
        negotiated_mode: Option<String> = None,
        /// Bounds on the media receiver's frame metrics (`frames_successful`, `frames_dropped`,
        /// `frames_duplicate`, `frames_error`, `duplicate_datagrams`): a number or
        /// `{"min":…, "max":…}`.
        metrics: BTreeMap<String, Bound> = BTreeMap::new(),
        /// Bounds on the IUT's dropped-datagram counters by reason (`mismatched_connection_id` …);
        /// in-process IUTs only.
        validation_errors: BTreeMap<String, Bound> = BTreeMap::new(),
        /// Whether the initiator's stream completes without failure (an external initiator: exit 0).
        stream_complete: Option<bool> = None,
    }
}

/// The media stream's steps.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MediaStep {
    /// Send a datagram to the IUT (through the fault link).
    Send(SendStep),
}

impl handshake_scenario::Action for MediaStep {
    const NAMES: &'static [&'static str] = &["send"];
    fn label(&self) -> String {
        match self {
            MediaStep::Send(s) => {
                let mut label = handshake_scenario::format::variant_name(&s.datagram);
                if let Some(len) = s.truncate_to {
                    label.push_str(&format!(" cut to {len} bytes"));
                }
                if s.times > 1 {
                    label.push_str(&format!(" x{}", s.times));
                }
                format!("send {label}")
            }
        }
    }
}

/// `send`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The datagram.
    pub datagram: DatagramSpec,
    /// Send only the first this-many bytes.
    #[serde(default)]
    #[schemars(range(max = handshake_scenario::format::MAX_PAYLOAD))]
    pub truncate_to: Option<usize>,
    /// Send it this many times (back to back).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = handshake_scenario::format::MAX_TIMES))]
    pub times: u32,
    /// Send from another UDP port of the peer's host (a second tuple, e.g. a second initiator).
    #[serde(default)]
    pub from_port: Option<u16>,
}

fn one() -> u32 {
    1
}

/// A datagram to send, by fields. Ids are escaped strings (see vectors/README.md) or `$variable`;
/// `$fresh` is a new random id.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DatagramSpec {
    /// Legacy `START`.
    Start {},
    /// SYN.
    Syn(ControlSpec),
    /// SYN-ACK.
    SynAck(ControlSpec),
    /// ACK.
    Ack(ControlSpec),
    /// CONNECTION_ID.
    ConnectionId {
        /// The id.
        id: String,
    },
    /// DATA of one frame's datagram.
    Data {
        /// Sequence number.
        seq: u64,
        /// QPC (default: taken from the time).
        #[serde(default)]
        qpc: Option<u64>,
        /// Payload bytes (default: a whole frame in one datagram); filled with the pattern.
        #[serde(default)]
        payload_len: Option<usize>,
        /// Explicit payload instead of the pattern.
        #[serde(default)]
        payload_hex: Option<String>,
    },
    /// DATA+FRAG.
    DataFrag {
        /// Sequence number.
        seq: u64,
        /// FragmentOffset.
        offset: u64,
        /// TotalLength.
        total_length: u64,
        /// Payload bytes, pattern-filled.
        payload_len: usize,
    },
    /// Frames `from..=to` as the reference responder sends them (fragmentation, pattern, QPC), back
    /// to back.
    Frames {
        /// First sequence number.
        from: u64,
        /// Last sequence number.
        to: u64,
    },
    /// Bytes as hex.
    Raw {
        /// The datagram.
        hex: String,
    },
}

/// Fields of a SYN, SYN-ACK or ACK.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlSpec {
    /// The connection id (default: all zero for SYN, `$assigned_id` otherwise).
    #[serde(default)]
    pub id: Option<String>,
    /// SYN-ACK Accept (default true).
    #[serde(default)]
    pub accept: Option<bool>,
    /// Version byte (default 1).
    #[serde(default)]
    pub version: Option<u8>,
    /// Flags byte (overrides `accept`).
    #[serde(default)]
    pub flags: Option<u8>,
    /// TLV options as hex, appended after the 67-byte body.
    #[serde(default)]
    pub options_hex: Option<String>,
}
