//! Layer 4 (judge) of the Proton family: reads a Proton capture — the harness's own or a real
//! one — decrypts its QUIC with the capture's Decryption Secrets Block (and an extra NSS key
//! log), rebuilds per connection and per stream what each side sent, models the exchange and
//! checks every [`rules`] rule.
//!
//! Facts: `shared/protocols/proton.md` (wire facts, P1–P5); the harness's decisions H1–H12 in
//! `notes/proton-spec.md`. The judge is independent of the reference endpoints: it knows the
//! protocol only through `handshake-proton-wire`.
//!
//! **What is judged, and what is not.** The judge asserts only what the capture shows:
//!
//! - The server's answers are checked by content (echo, r + 2, counter 0, 1, 2 …) whenever they
//!   come; a server may keep answering what it read before a violation, but never the offending
//!   message or anything after it on that stream.
//! - A client's violation (bad discriminator, out-of-order event id, FIN, RESET_STREAM …)
//!   calls for one close code; the server's close may come later than the offending byte (H2
//!   serialises the stream setup), and any violation the capture shows before the close
//!   explains its code. A server that never closes is only blamed when the capture shows the
//!   connection going on (the client's own close, or more packets from the server) past the
//!   moment the server surely had the offending byte, plus the tolerance.
//! - Closes for reasons the capture cannot time (codes 2, 3, 4, and 1 under P3) are judged only
//!   with the profile's timers ([`ProfileView`]; `None`: not judged), within the tolerance, and
//!   only where the bounds are certain: the lower bound of when a timer started is when its
//!   trigger was captured, the upper bound needs the server to be listening (H1: a server
//!   that answered stream data, or `startup_ms` after its first packet).
//! - An idle timeout ends a connection silently (RFC 9000 §10.1): a connection silent for its
//!   idle timeout (the smaller of both sides' max_idle_timeout transport parameters), less the
//!   tolerance, may have ended there. It is then no live connection a new one must be refused
//!   for, and it owes no close the client's later packets (they may reach nothing) would show
//!   missing; the server's own later packets still show it live.
//! - A connection with 1-RTT packets that do not decrypt is not judged (`proton.decrypt`; only a
//!   note when there are no secrets at all).
#![forbid(unsafe_code)]

pub mod rules;

mod model;
mod rebuild;
mod text;

use std::net::SocketAddr;

use handshake_proton_wire::Arithmetic;
use serde::Serialize;

pub use handshake_check::{Violation, MAX_VIOLATIONS_PER_RULE};
/// Sides, resets, stop-sendings and closes as `handshake_quic::rebuild` sees them.
pub use handshake_quic::rebuild::{CloseView, ResetView, Side, StopSendingView};

/// Version of the JSON report format.
pub const REPORT_VERSION: u32 = 1;

/// What the judge must know of the profile the traffic follows. Timers in milliseconds; `None`:
/// unknown, and the rules that need it are skipped. `Default`: `project`, pull, no reset option,
/// every timer unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    /// `as_coded` (wrapping StateCommit, no discriminator timeout) rather than `project`.
    pub base_as_coded: bool,
    /// P2: the server pushes its actions (else pull).
    pub action_push: bool,
    /// P4: a 4th stream with discriminator 0xFF resets.
    pub reset_discriminator: bool,
    /// Each next stream must be opened within this (H2; code 3).
    pub accept_ms: Option<u64>,
    /// Each read within this (H6; code 4).
    pub op_ms: Option<u64>,
    /// P3: a stream's discriminator within this (code 1; never in `as_coded`).
    pub disc_ms: Option<u64>,
    /// H1: the server's wait before it serves its first connection.
    pub startup_ms: Option<u64>,
}

impl ProfileView {
    /// `as_coded` with its default timers.
    pub fn as_coded() -> ProfileView {
        ProfileView {
            base_as_coded: true,
            action_push: false,
            reset_discriminator: false,
            accept_ms: Some(5_000),
            op_ms: Some(300_000),
            disc_ms: None,
            startup_ms: Some(10_000),
        }
    }

    /// `project` (pull, no reset option) with its default timers.
    pub fn project() -> ProfileView {
        ProfileView {
            base_as_coded: false,
            disc_ms: Some(1_000),
            ..ProfileView::as_coded()
        }
    }

    /// StateCommit arithmetic: wrapping as coded, checked under P1.
    pub fn arithmetic(&self) -> Arithmetic {
        if self.base_as_coded {
            Arithmetic::Wrapping
        } else {
            Arithmetic::Checked
        }
    }
}

/// How to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The server's address; `None`: each connection's server is the receiver of its first
    /// Initial. When given, connections to other servers are listed but not judged.
    pub server: Option<SocketAddr>,
    /// The profile the traffic follows.
    pub profile: ProfileView,
    /// An NSS key log (`--keylog FILE`) added to the capture's Decryption Secrets Blocks.
    pub key_log: Option<String>,
    /// Only UDP datagrams to or from this port (`None`: all).
    pub port: Option<u16>,
    /// Allowed timing deviation, ms.
    pub tolerance: handshake_check::Tolerance,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server: None,
            profile: ProfileView::default(),
            key_log: None,
            port: None,
            tolerance: handshake_quic_family::QUIC_FLOOR,
        }
    }
}

/// One stream as both sides sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamView {
    /// QUIC stream id (0, 4, 8 for Proton's three streams).
    pub id: u64,
    /// What the client sent, reassembled (the contiguous prefix).
    pub client_bytes: Vec<u8>,
    /// What the server sent, reassembled.
    pub server_bytes: Vec<u8>,
    /// The client ended its side with a FIN (and every byte before it was seen).
    pub client_fin: bool,
    /// The server ended its side with a FIN.
    pub server_fin: bool,
    /// RESET_STREAMs, either side.
    pub resets: Vec<ResetView>,
    /// STOP_SENDINGs, either side.
    pub stop_sendings: Vec<StopSendingView>,
}

/// One QUIC connection of the capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionView {
    /// 0-based, in order of the first Initial.
    pub index: usize,
    /// The client's address (sender of the first Initial).
    pub client: Option<SocketAddr>,
    /// The server's address.
    pub server: Option<SocketAddr>,
    /// The ALPN protocol the server selected (when the handshake decrypted).
    pub alpn: Option<String>,
    /// First packet number of the connection.
    pub first_packet: u64,
    /// Every stream, by id.
    pub streams: Vec<StreamView>,
    /// The first CONNECTION_CLOSE (either side).
    pub close: Option<CloseView>,
    /// The server refused it (transport CONNECTION_CLOSE with CONNECTION_REFUSED).
    pub refused: bool,
    /// Its exchange was judged (decrypted, to the server of the options).
    pub judged: bool,
}

/// The verdict on a capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Format version.
    pub version: u32,
    /// UDP datagrams read.
    pub datagrams: u64,
    /// The connections, in order of their first Initial.
    pub connections: Vec<ConnectionView>,
    /// Broken rules, in packet order (at most [`MAX_VIOLATIONS_PER_RULE`] per rule).
    pub violations: Vec<Violation>,
    /// QUIC packets of known connections that could not be decrypted (harness-changed ones not
    /// counted).
    pub undecrypted: u64,
    /// Where the capture file is damaged: the verdict covers the datagrams before it.
    pub damage: Option<String>,
    /// What could not be judged, and why; anything else worth knowing.
    pub notes: Vec<String>,
}

/// Judges a pcap or pcapng capture of Proton traffic. `Err` only when the bytes are not a
/// readable capture; everything else (no secrets, no QUIC, damage after some packets) is a
/// note. Never panics.
pub fn judge(capture: &[u8], options: &Options) -> Result<Report, String> {
    let cap = rebuild::rebuild(capture, options.key_log.as_deref(), options.port)?;
    Ok(model::judge(cap, options))
}
