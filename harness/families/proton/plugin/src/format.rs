//! Proton's part of the scenario format: the `session` both sides run (timers and the reference
//! client's plan), the IUT's options, the connection and stream steps, and the outcome keys.

use std::collections::BTreeMap;
use std::time::Duration;

use handshake_proton_endpoint::{ClientPlan, Profile};
use handshake_scenario::format::Bound;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The features a scenario may require of the IUT (`iut.requires`).
pub const FEATURES: &[(&str, &str)] = &[
    ("wrapping_commits", "StateCommit answers wrap (as coded)."),
    (
        "three_streams",
        "At most 3 bidirectional streams: a 4th is blocked by flow control (as coded; P4 lets a \
         project server allow 4).",
    ),
    (
        "checked_commits",
        "P1: an overflowing StateCommit closes with code 5.",
    ),
    (
        "action_pull",
        "Actions pulled: one counter per client u32 (as coded).",
    ),
    (
        "action_push",
        "P2: actions pushed every action_interval_ms (the `action_push` option).",
    ),
    (
        "discriminator_timeout",
        "P3: no discriminator within disc_ms closes with code 1.",
    ),
    (
        "reset_discriminator",
        "P4: 0xFF on a 4th stream resets (the `reset_discriminator` option).",
    ),
];

/// Timers and the client's plan; a missing timer takes the IUT profile's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// QUIC idle timeout, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<u64>,
    /// QUIC keep-alive, ms (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_ms: Option<u64>,
    /// Each next stream within, ms (code 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_ms: Option<u64>,
    /// Each read or write within, ms (code 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_ms: Option<u64>,
    /// The server's startup delay, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_ms: Option<u64>,
    /// P3: the discriminator within, ms (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disc_ms: Option<u64>,
    /// Push mode: one action every, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_interval_ms: Option<u64>,
    /// A client's events (ids 1, 2, …); default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u32>,
    /// A client's StateCommits (requests 1, 2, …); default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits: Option<u32>,
    /// A client's actions; default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<u32>,
}

impl Session {
    /// `profile` with this session's timers.
    pub fn apply(&self, mut profile: Profile) -> Profile {
        let ms = Duration::from_millis;
        let t = &mut profile.timers;
        if let Some(v) = self.idle_ms {
            t.idle = ms(v);
        }
        if let Some(v) = self.keepalive_ms {
            t.keep_alive = (v > 0).then(|| ms(v));
        }
        if let Some(v) = self.accept_ms {
            t.accept = ms(v);
        }
        if let Some(v) = self.op_ms {
            t.op = ms(v);
        }
        if let Some(v) = self.startup_ms {
            t.startup = ms(v);
        }
        if let Some(v) = self.disc_ms {
            t.discriminator = (v > 0).then(|| ms(v));
        }
        if let Some(v) = self.action_interval_ms {
            t.action_interval = ms(v);
        }
        profile
    }

    /// The client's plan.
    pub fn plan(&self) -> ClientPlan {
        ClientPlan {
            events: self.events.unwrap_or(3),
            commits: self.commits.unwrap_or(3),
            actions: self.actions.unwrap_or(3),
            connect_after: Duration::ZERO,
        }
    }
}

handshake_scenario::family_fields! {
    /// Proton's keys at the top level of a scenario.
    pub struct Setup {
        /// Timers and the client's plan (defaults: the IUT profile's).
        session: Session = Session::default(),
    }
}

handshake_scenario::family_fields! {
    /// Proton's keys in `iut`.
    pub struct IutFields {
        /// P2: the server pushes actions (a reference IUT runs `project+action_push`; an external
        /// one gets its manifest's `action_push` flag).
        action_push: bool = false,
        /// P4: the server accepts the 0xFF reset on a 4th stream.
        reset_discriminator: bool = false,
    }
}

handshake_scenario::family_fields! {
    /// Proton's keys in `expect`. Connection 0 is the first the harness made or accepted.
    pub struct ExpectFields {
        /// How connection 0 ended: `application`, `transport`, `idle`, or `none` (still open).
        close_space: Option<String> = None,
        /// Its close code (application or transport).
        close_code: Option<u64> = None,
        /// Who closed it: `iut` or `harness`.
        closed_by: Option<String> = None,
        /// When it ended, ms after the run's start.
        closed_at_ms: Option<Bound> = None,
        /// Some connection was refused (transport CONNECTION_REFUSED).
        refused: Option<bool> = None,
        /// Units the IUT produced, by kind: `{"u32": 9}` or `{"u32": {"min": 1}}`.
        units: BTreeMap<String, Bound> = BTreeMap::new(),
        /// A client IUT got every answer right and closed normally (external: exit 0).
        client_ok: Option<bool> = None,
    }
}

/// Proton's steps (on connections numbered 0, 1, … in the order `connect` made them, and QUIC
/// stream ids).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProtonStep {
    /// Open a connection to the IUT (a server).
    Connect(ConnectStep),
    /// Open bidirectional streams (ids 0, 4, 8, … on a client).
    OpenBi(OpenStep),
    /// Open a unidirectional stream.
    OpenUni(OpenStep),
    /// Write on a stream.
    Write(WriteStep),
    /// End a stream (FIN).
    Fin(StreamRef),
    /// Reset a stream (RESET_STREAM).
    Reset(CodeStep),
    /// Ask the IUT to stop sending (STOP_SENDING).
    StopSending(CodeStep),
    /// Close a connection with an application code.
    Close(CloseStep),
}

impl handshake_scenario::Action for ProtonStep {
    const NAMES: &'static [&'static str] = &[
        "connect",
        "open_bi",
        "open_uni",
        "write",
        "fin",
        "reset",
        "stop_sending",
        "close",
    ];
    fn label(&self) -> String {
        match self {
            ProtonStep::Connect(c) => match &c.alpn {
                Some(a) => format!("connect alpn={}", a.join(",")),
                None => "connect".into(),
            },
            ProtonStep::OpenBi(o) => format!("open_bi x{}{}", o.count, writes_label(&o.write)),
            ProtonStep::OpenUni(o) => format!("open_uni x{}{}", o.count, writes_label(&o.write)),
            ProtonStep::Write(w) => {
                let what = match (&w.hex, &w.u32) {
                    (Some(h), _) => format!("{} bytes", h.len() / 2),
                    (None, Some(v)) => format!(
                        "u32 {}",
                        v.iter()
                            .map(|x| x.to_string().trim_matches('"').to_owned())
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    (None, None) => "nothing".into(),
                };
                let first = if w.first { " (first)" } else { "" };
                format!("write {what} on {}/{}{first}", w.at.conn, w.at.stream)
            }
            ProtonStep::Fin(s) => format!("fin {}/{}", s.conn, s.stream),
            ProtonStep::Reset(c) => format!("reset {}/{} code {}", c.at.conn, c.at.stream, c.code),
            ProtonStep::StopSending(c) => {
                format!("stop_sending {}/{} code {}", c.at.conn, c.at.stream, c.code)
            }
            ProtonStep::Close(c) => format!("close {} code {}", c.conn, c.code),
        }
    }
}

/// `connect`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// ALPN protocols to offer instead of `proton`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<Vec<String>>,
}

/// `open_bi`, `open_uni`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenStep {
    /// The connection.
    #[serde(default)]
    pub conn: u32,
    /// How many streams.
    #[serde(default = "one")]
    pub count: u32,
    /// Bytes (hex) written on the streams opened, one entry per stream in the order opened, right
    /// after opening: `["01", "02", "03"]` gives the three control streams their discriminators.
    /// Fewer entries than streams leave the rest unwritten.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<String>,
}

fn one() -> u32 {
    1
}

fn writes_label(write: &[String]) -> String {
    if write.is_empty() {
        String::new()
    } else {
        format!(" writing {}", write.join(","))
    }
}

/// A stream of a connection.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamRef {
    /// The connection.
    #[serde(default)]
    pub conn: u32,
    /// The QUIC stream id.
    pub stream: u64,
}

/// `write`: bytes (hex) or u32 values (numbers or `$variables`), optionally split into chunks
/// that leave in separate packets.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteStep {
    /// Where.
    #[serde(flatten)]
    pub at: StreamRef,
    /// Bytes as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    /// u32 values, little-endian: numbers, `"$variable"`, `"$fresh"` (1, 2, 3, … in a run,
    /// wrapping after 255), or an answer to what the IUT sent on this stream:
    /// `{"iut_sent": "last", "plus": K}` (its last u32 plus K, wrapping) or
    /// `{"iut_sent": "count", "plus": K}` (how many it sent plus K); an answer is left out while
    /// the IUT sent nothing there (or the count plus K is below 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u32: Option<Vec<serde_json::Value>>,
    /// Chunk sizes in bytes (the rest goes as one more chunk).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<usize>,
    /// FIN after the bytes.
    #[serde(default)]
    pub fin: bool,
    /// Only as the stream's first bytes: the step does nothing when an earlier step wrote on the
    /// stream, ended or reset it (a discriminator is said once, whatever came before).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first: bool,
}

/// `reset`, `stop_sending`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeStep {
    /// Where.
    #[serde(flatten)]
    pub at: StreamRef,
    /// The application error code.
    #[serde(default)]
    pub code: u64,
}

/// `close`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseStep {
    /// The connection.
    #[serde(default)]
    pub conn: u32,
    /// The application close code.
    #[serde(default)]
    pub code: u64,
    /// The reason phrase.
    #[serde(default)]
    pub reason: String,
}
