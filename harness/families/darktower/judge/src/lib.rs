//! Layer 4 (judge) of the Dark Tower family: reads a capture (pcapng with its Decryption Secrets
//! Block, or pcap plus an NSS key log), decrypts its QUIC (`handshake_quic::rebuild`), rebuilds
//! per connection, stream and datagram what each side sent, reads the WebTransport / HTTP/3 layer
//! (or bare QUIC), then Dark Tower's signaling and media, and checks every [`rules`] rule.
//!
//! Facts: `shared/protocols/darktower.md` (DT1–DT11); the harness's decisions DH1–DH16 in
//! the README's "Dark Tower: the harness's decisions DH1–DH16". The judge knows the protocol only through
//! `handshake-darktower-wire` and `handshake-webtransport-wire`, never through the reference
//! endpoints.
//!
//! **Sessions.** Every QUIC connection is one session (DH1). Its role is the server's: the
//! Meeting Controller or the Media Handler. [`Options::controller`] / [`Options::handler`] decide
//! by address; else what the client did first: a media authentication (DT7) on its first
//! bidirectional stream, or media (`DART` streams, datagrams), makes a handler session, a
//! signaling message a controller one; else the names, which are a contract (DH1) and so decide
//! only when the bytes do not: a WebTransport `:path` with `media` in it, a bare-QUIC ALPN with
//! `media` in it (`darktower-media`), or a bare-QUIC session to an address some JoinResponse named
//! as `media_handler_url` (peers with one ALPN for both) is a handler session.
//!
//! **Contracts are not judged.** Which ALPNs and paths, and whether reset codes are mapped into
//! WebTransport's HTTP/3 space (DT9), is for the two sides to agree on: `darktower.alpn` asks only
//! that the server select an ALPN the client offered (RFC 7301), codes are read in either form.
//!
//! **What is judged, and what is not.** The judge asserts only what the capture shows:
//!
//! - An answer that is missing (a STOP_SENDING, an ErrorMessage, a FIN, a ParticipantJoined…) is
//!   blamed only when the capture shows the connection it should have come on going on — a
//!   packet of either side, the peer's own close included — more than [`Options::tolerance`]
//!   after the moment it was due.
//! - "Before" and "after" across the two directions (a client's media stream against the
//!   handler's ConnectResponse) hold for any capture point: a client packet that passed after
//!   the server's reached the server after it was sent; one that reached the server in a
//!   datagram before the ConnectRequest's, or passed more than the server round trip (from the
//!   handshake) before the ConnectResponse, reached it before. In between either is accepted.
//!   The client's own order (nothing before the ConnectResponse) is the capture order.
//! - Leaving: a participant leaves at the first of its signaling stream's FIN or reset, its
//!   CONNECT stream's end or CLOSE capsule, a CONNECTION_CLOSE, or a silence of the idle
//!   timeout from the client (then CONNECTION_LOST is due; within the tolerance either reason).
//! - Tokens are judged only with [`Options::token_secret`], against the capture's own time (pcap
//!   time is Unix time). Without it, which meeting a media session belongs to is read from its
//!   token unverified.
//! - Not judged: subscriptions (DH13 forwards to everyone), whether every frame reached every
//!   other participant (only that what was forwarded is right), which meetings are served or
//!   ended (command-line settings the capture does not show; the capacity is judged only with
//!   [`Options::capacity`]), keep-alive timing beyond the idle rule.
//! - A connection with 1-RTT packets that do not decrypt is not judged (`darktower.decrypt`; only
//!   a note when there are no secrets at all).
#![forbid(unsafe_code)]

pub mod rules;

mod app;
mod log;
mod media;
mod signaling;
#[cfg(test)]
mod synthetic;
mod text;
mod token;

use std::net::SocketAddr;

use serde::Serialize;

pub use handshake_check::{Violation, MAX_VIOLATIONS_PER_RULE};
pub use handshake_quic::rebuild::{CloseView, Side};
pub use handshake_quic::session::ResetCodes;

/// Version of the JSON report format.
pub const REPORT_VERSION: u32 = 1;

/// The transport a run uses (DH1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// WebTransport over HTTP/3 (ALPN `h3`).
    WebTransport,
    /// Bare QUIC (ALPN `darktower`, `darktower-media`).
    Quic,
}

/// Which implementations are judged (the others' rules are not checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Judged {
    /// The Meeting Controller (`darktower.controller.*`).
    pub controller: bool,
    /// The Media Handler (`darktower.handler.*`).
    pub handler: bool,
    /// The clients (`darktower.client.*`).
    pub client: bool,
}

impl Judged {
    /// Everyone.
    pub const ALL: Judged = Judged {
        controller: true,
        handler: true,
        client: true,
    };
    /// No one (only the capture and transport rules of no role: `darktower.decrypt`).
    pub const NONE: Judged = Judged {
        controller: false,
        handler: false,
        client: false,
    };

    /// `all`, or a comma-separated list of `controller`, `handler`, `client`.
    pub fn parse(text: &str) -> Option<Judged> {
        if text.trim() == "all" {
            return Some(Judged::ALL);
        }
        let mut out = Judged::NONE;
        for word in text.split(',').map(str::trim) {
            match word {
                "controller" => out.controller = true,
                "handler" => out.handler = true,
                "client" => out.client = true,
                _ => return None,
            }
        }
        Some(out)
    }

    /// Whether the server of a session of this role is judged.
    pub fn server(&self, role: Role) -> bool {
        match role {
            Role::Controller => self.controller,
            Role::Handler => self.handler,
            Role::Unknown => false,
        }
    }
}

/// What a session's server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The Meeting Controller: the session carries signaling.
    Controller,
    /// The Media Handler: the session carries media.
    Handler,
    /// Neither could be told (not judged beyond the transport).
    Unknown,
}

/// How to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The run's transport; `None`: each connection's, from its ALPN.
    pub transport: Option<Transport>,
    /// DT9: how the run told the IUT to send reset codes over WebTransport. A contract: codes are
    /// read in either form and neither is blamed (kept for reports and callers).
    pub reset_codes: ResetCodes,
    /// An NSS key log added to the capture's Decryption Secrets Blocks.
    pub key_log: Option<String>,
    /// The HS256 secret (DH4): with it the token rules are judged.
    pub token_secret: Option<String>,
    /// Real time only: the real Unix time (s) when judging, after the capture ended. With it and
    /// without `token_secret`, a JoinResponse's media token's lifetime is judged from its claims:
    /// the capture's end is taken as this time, so the lifetime is never overstated.
    pub judged_at_unix_s: Option<u64>,
    /// The idle timeout of DT10 / DH3, ms.
    pub idle_timeout_ms: u64,
    /// Allowed timing deviation (see the crate docs).
    pub tolerance: handshake_check::Tolerance,
    /// Whose rules are checked.
    pub judge: Judged,
    /// The controller's meeting capacity (DH6 `--capacity`): with it `darktower.controller.capacity`
    /// is judged.
    pub capacity: Option<u32>,
    /// The controller's address: sessions to it are controller sessions.
    pub controller: Option<SocketAddr>,
    /// The handler's address: sessions to it are handler sessions.
    pub handler: Option<SocketAddr>,
    /// Only UDP datagrams to or from this port (`None`: all).
    pub port: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            transport: None,
            reset_codes: ResetCodes::Mapped,
            key_log: None,
            token_secret: None,
            judged_at_unix_s: None,
            idle_timeout_ms: 30_000,
            tolerance: handshake_check::Tolerance::from_ms(1_000),
            judge: Judged::ALL,
            capacity: None,
            controller: None,
            handler: None,
            port: None,
        }
    }
}

/// A RESET_STREAM or STOP_SENDING on an application stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeView {
    /// QUIC stream id.
    pub stream: u64,
    /// Who sent it.
    pub by: Side,
    /// The code on the wire.
    pub wire_code: u64,
    /// The Dark Tower code it stands for (DT9 unmapped), when it is one.
    pub code: Option<u32>,
    /// Packet number where it was first seen.
    pub packet: u64,
}

/// One media stream (a client's, or one the handler opened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MediaStreamView {
    /// QUIC stream id.
    pub stream: u64,
    /// Who opened it.
    pub by: Side,
    /// The header's stream id and codec, once read.
    pub header: Option<String>,
    /// Whole frames read.
    pub frames: u64,
    /// Application bytes.
    pub bytes: u64,
    /// Ended by FIN.
    pub fin: bool,
    /// Why reading it stopped, if it is malformed.
    pub error: Option<String>,
    /// Sequence gaps (DT10).
    pub gaps: u64,
}

/// One session (QUIC connection) of the capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// 0-based, in order of the first Initial.
    pub connection: usize,
    /// The client's address.
    pub client: Option<SocketAddr>,
    /// The server's address.
    pub server: Option<SocketAddr>,
    /// The ALPN the server selected.
    pub alpn: Option<String>,
    /// Its transport.
    pub transport: Option<Transport>,
    /// WebTransport: the CONNECT's `:path`.
    pub path: Option<String>,
    /// The server's role.
    pub role: Role,
    /// The participant (JoinResponse or ConnectResponse).
    pub participant: Option<String>,
    /// The meeting (JoinRequest, or the media token's claim).
    pub meeting: Option<String>,
    /// The client's signaling / authentication messages, by kind (`join_request`, …).
    pub client_messages: Vec<String>,
    /// The server's, by kind (`join_response`, `error(UNAUTHORIZED)`, …).
    pub server_messages: Vec<String>,
    /// Media streams, both directions.
    pub media_streams: Vec<MediaStreamView>,
    /// Datagrams the client sent.
    pub client_datagrams: u64,
    /// Datagrams the server sent.
    pub server_datagrams: u64,
    /// RESET_STREAMs on application streams.
    pub resets: Vec<CodeView>,
    /// STOP_SENDINGs on application streams.
    pub stop_sendings: Vec<CodeView>,
    /// The first CONNECTION_CLOSE.
    pub close: Option<CloseView>,
    /// Judged (decrypted, role known).
    pub judged: bool,
}

/// The verdict on a capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Format version.
    pub version: u32,
    /// UDP datagrams read.
    pub datagrams: u64,
    /// The sessions, in order of their first Initial.
    pub sessions: Vec<SessionView>,
    /// Broken rules, in packet order (at most [`MAX_VIOLATIONS_PER_RULE`] per rule).
    pub violations: Vec<Violation>,
    /// Violations in all (also those past the per-rule limit).
    pub violation_count: u64,
    /// QUIC packets of known connections that could not be decrypted.
    pub undecrypted: u64,
    /// Where the capture file is damaged: the verdict covers the datagrams before it.
    pub damage: Option<String>,
    /// What could not be judged, and why; counts (sequence gaps, dropped datagrams); anything
    /// else worth knowing.
    pub notes: Vec<String>,
}

impl Report {
    /// The ids of the rules broken, sorted, each once.
    pub fn broken(&self) -> Vec<&'static str> {
        let mut ids: Vec<_> = self.violations.iter().map(|v| v.rule).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Judges a pcap or pcapng capture of Dark Tower traffic. `Err` only when the bytes are not a
/// readable capture; everything else (no secrets, no QUIC, damage after some packets) is a
/// note. Never panics.
pub fn judge(capture: &[u8], options: &Options) -> Result<Report, String> {
    let cap = app::read(capture, options)?;
    Ok(app::judge(cap, options))
}
