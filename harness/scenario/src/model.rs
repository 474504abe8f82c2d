//! The scenario format (JSON; the schema is generated from these types and committed as
//! `vectors/schema/scenario.schema.json`). Unknown fields are errors everywhere; steps and datagrams
//! are externally tagged (`{"send": {"syn": {}}}`) so a parse error points at the exact token.

use std::collections::BTreeMap;

use handshake_mediastream_endpoint::StreamConfig;
use handshake_net::{FaultAction, Nth};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most steps in one scenario.
pub const MAX_STEPS: usize = 10_000;
/// Most repetitions of one `send` (`times`), and most datagrams a reorder may hold back.
pub const MAX_TIMES: u64 = 10_000;
/// Most datagrams one `send` step may stand for (`times` × the datagrams of its spec).
pub const MAX_DATAGRAMS_PER_SEND: u64 = 100_000;
/// The largest datagram (a UDP payload over IPv4), for sizes, offsets and truncations.
pub const MAX_PAYLOAD: usize = 65_507;
/// The longest window, wait, delay or settle time, ms (an hour).
pub const MAX_WINDOW_MS: u64 = 3_600_000;
/// The negotiated modes the checker reports.
pub const NEGOTIATED_MODES: [&str; 5] = ["3way", "legacy", "legacy-fallback", "rejected", "failed"];

/// One scenario.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Path of the schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Stable id, e.g. `ms.responder.lost_syn_ack` (also the snapshot name).
    pub id: String,
    /// One line.
    pub title: String,
    /// The protocol (only `mediastream` today).
    pub protocol: Protocol,
    /// Facts and decisions it tests (`D6`, `legacy.receive`, …).
    #[serde(default)]
    pub decisions: Vec<String>,
    /// Checker rule ids it exercises.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Set when the scenario checks one of this project's own profile decisions beyond the facts
    /// (an id of the README's list, e.g. `syn_ack_while_streaming`): a failure is then reported as
    /// a `deviation`, never failing the gate unless `--strict-profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Free tags for selection (`--tag`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Which side the implementation under test plays, and what it must support.
    pub iut: IutRequirement,
    /// The stream both sides run (defaults: a small stream, see [`default_stream`]).
    #[serde(default = "default_stream")]
    pub stream: StreamConfig,
    /// The other side: a reference profile, scripted steps, or both.
    pub peer: PeerSpec,
    /// Link faults from the start.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// What must be true at the end.
    #[serde(default)]
    pub expect: OutcomeExpectation,
    /// Seed for the link's random faults and the reference peer's ids (overridden by `--seed`).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Longest the scenario may run, in (virtual or real) milliseconds after the last step.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
}

impl Scenario {
    /// The features the IUT must have: `iut.requires`, plus `push` when the stream is pushed.
    pub fn required_features(&self) -> Vec<Feature> {
        let mut f = self.iut.requires.clone();
        if self.stream.direction == handshake_mediastream_endpoint::Direction::Push
            && !f.contains(&Feature::Push)
        {
            f.push(Feature::Push);
        }
        f
    }

    /// The reference peer's stream: `peer.stream`, else the scenario's.
    pub fn peer_stream(&self) -> StreamConfig {
        self.peer.stream.unwrap_or(self.stream)
    }
}

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

fn default_settle_ms() -> u64 {
    10_000
}

/// The protocol family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The ctsTraffic UDP media stream.
    Mediastream,
}

/// The IUT's side and what it must support.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IutRequirement {
    /// `initiator` or `responder`.
    pub role: Role,
    /// Features the IUT must have, or the scenario is skipped as unsupported.
    #[serde(default)]
    pub requires: Vec<Feature>,
    /// A responder IUT's session limit (D4), where the scenario needs one; external IUTs get it through
    /// their manifest's `session_limit` flag.
    #[serde(default)]
    pub session_limit: Option<usize>,
}

/// A side of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Asks for the stream (ctsTraffic `-target`).
    Initiator,
    /// Serves it (ctsTraffic `-listen`).
    Responder,
}

/// A capability a scenario may require of the IUT.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// The 3-way handshake (profile `3way`).
    ThreeWay,
    /// Legacy START discovery (initiator: opens with START; responder: serves START).
    LegacyStart,
    /// D9: a 3-way responder that also serves START.
    AllowLegacyStart,
    /// D8: optimistic start.
    OptimisticStart,
    /// D10: fallback to legacy.
    FallbackToLegacy,
    /// D14 (initiator): requests its stream parameters as SYN options.
    RequestOptions,
    /// The push direction (the initiator sends the media); implied by `stream.direction: push`.
    Push,
    /// The fork's `udp_push` build as coded (its initiator: START, then a SYN on every re-send tick).
    UdpPush,
    /// The IUT can be restarted (not an already-running `--iut-addr`).
    Restart,
}

/// The peer.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerSpec {
    /// A reference profile (`3way`, `legacy`, `3way+optimistic_start` …) that plays the other side.
    /// Without it the peer is only the script.
    #[serde(default)]
    pub reference: Option<String>,
    /// The reference peer's own stream parameters, when they differ from the IUT's (`stream`): e.g.
    /// a responder configured otherwise than what the initiator requests (D14). Default: `stream`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamConfig>,
    /// Scripted steps, run in order; with a reference peer they add to what it does (inject datagrams,
    /// expect the IUT's, add faults).
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// One scripted step.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Send a datagram to the IUT (through the fault link).
    Send(SendStep),
    /// Wait until the IUT sends a matching datagram, within a window.
    Expect(ExpectStep),
    /// The IUT must send no matching datagram for a while.
    ExpectNone(ExpectNoneStep),
    /// Let time pass.
    Wait(WaitStep),
    /// Add a link fault from now on.
    Fault(FaultSpec),
}

/// `send`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The datagram.
    pub datagram: DatagramSpec,
    /// Send only the first this-many bytes.
    #[serde(default)]
    pub truncate_to: Option<usize>,
    /// Send it this many times (back to back).
    #[serde(default = "one")]
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

/// `expect`: a datagram from the IUT whose decoded fields match.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// Kind name (`syn`, `syn_ack`, `ack`, `connection_id`, `data`, `data_frag`, `start`), or `any`.
    pub kind: String,
    /// Decoded fields that must match (the objects of vectors/README.md): a value, `"*"`, or
    /// `"$variable"` (compared when set, captured when not).
    #[serde(default, rename = "where")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Window from the start of the step.
    #[serde(default = "default_window_ms")]
    pub within_ms: u64,
    /// Variables to capture from the matched datagram: variable name → field.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Only datagrams to this port of the peer's host (default: the peer's own port).
    #[serde(default)]
    pub to_port: Option<u16>,
    /// The fact or decision this expectation rests on (`D5`, `legacy.receive`, …; see
    /// `harness coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

fn default_window_ms() -> u64 {
    1000
}

/// `expect_none`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectNoneStep {
    /// Kind name or `any`.
    pub kind: String,
    /// Fields that must match for a datagram to count.
    #[serde(default, rename = "where")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// How long.
    pub for_ms: u64,
    /// Only datagrams to this port of the peer's host (default: any).
    #[serde(default)]
    pub to_port: Option<u16>,
    /// The fact or decision this expectation rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// `wait`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    /// Milliseconds.
    pub ms: u64,
}

/// A link fault: which datagrams (direction, kind, position, probability) and what happens to them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `to_iut`, `from_iut` or `both` (default).
    #[serde(default)]
    pub direction: Direction,
    /// Kind name (as `expect` uses; `malformed` for what does not parse).
    #[serde(default)]
    pub kind: Option<String>,
    /// Which of the matching datagrams (1-based).
    #[serde(default)]
    pub nth: Option<Nth>,
    /// Chance per matching datagram (seeded).
    #[serde(default)]
    pub probability: Option<f64>,
    /// What happens.
    pub action: FaultAction,
}

/// Which way a fault applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Datagrams to the IUT.
    ToIut,
    /// Datagrams from the IUT.
    FromIut,
    /// Both.
    #[default]
    Both,
}

/// What must hold at the end.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeExpectation {
    /// The negotiated mode the checker sees on the wire: `3way`, `legacy`, `legacy-fallback`,
    /// `rejected`, `failed`.
    #[serde(default)]
    pub negotiated_mode: Option<String>,
    /// Bounds on the initiator side's frame metrics (`frames_successful`, `frames_dropped`,
    /// `frames_duplicate`, `frames_error`, `duplicate_datagrams`): a number or `{"min":…, "max":…}`.
    #[serde(default)]
    pub metrics: BTreeMap<String, Bound>,
    /// Bounds on the IUT's dropped-datagram counters by reason (`mismatched_connection_id` …);
    /// in-process IUTs only.
    #[serde(default)]
    pub validation_errors: BTreeMap<String, Bound>,
    /// Whether the initiator's stream completes without failure (an external initiator: exit 0).
    #[serde(default)]
    pub stream_complete: Option<bool>,
    /// Checker rules that must hold on the capture (`all` for every rule).
    #[serde(default)]
    pub rules_hold: Vec<String>,
    /// Checker rules that must fire.
    #[serde(default)]
    pub rules_fire: Vec<String>,
    /// The facts or decisions these expectations rest on (`D6, D11`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Expectations that rest on one of this project's own profile decisions beyond the facts:
    /// judged, but a miss is a `deviation` (never failing the gate unless `--strict-profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Box<ProfileOutcome>>,
}

/// Outcome expectations that rest on a profile decision.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileOutcome {
    /// The decision's id (the README's list of profile decisions).
    pub decision: String,
    /// What it expects (`rules_hold`/`rules_fire` and nested `profile` are not used here).
    pub expect: OutcomeExpectation,
}

/// An exact number or a range.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Bound {
    /// Exactly.
    Exactly(u64),
    /// Inclusive range; a missing end is open.
    Range {
        /// Lowest allowed.
        #[serde(default)]
        min: Option<u64>,
        /// Highest allowed.
        #[serde(default)]
        max: Option<u64>,
    },
}

impl Bound {
    /// Whether `value` is within.
    pub fn contains(&self, value: u64) -> bool {
        match *self {
            Bound::Exactly(v) => value == v,
            Bound::Range { min, max } => {
                min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
            }
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Bound::Exactly(v) => write!(f, "{v}"),
            Bound::Range { min, max } => write!(
                f,
                "{}..={}",
                min.map_or(String::new(), |m| m.to_string()),
                max.map_or(String::new(), |m| m.to_string())
            ),
        }
    }
}

/// The JSON Schema of scenario files.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
