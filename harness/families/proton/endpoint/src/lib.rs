//! Proton's reference endpoints as sans-I/O state machines on [`handshake_quic::QuicHost`]:
//! the [`Server`] and [`Client`] of both profiles (`as_coded`, `project`), and the [`ScriptPeer`]
//! the scenario steps drive. Every instant comes from the caller; decisions H1–H12 of the
//! harness (README, "Proton decisions") fill in where the facts are silent.
#![forbid(unsafe_code)]

mod acks;
pub mod client;
pub mod event;
pub mod mutants;
pub mod node;
pub mod profile;
pub mod script;
pub mod server;
pub use handshake_quic::streams;

use std::sync::Arc;

pub use client::{Client, ClientPlan};
pub use event::ProtonEvent;
pub use mutants::Mutant;
pub use node::ProtonNode;
pub use profile::{Base, Profile, Timers};
pub use script::ScriptPeer;
pub use server::Server;

use handshake_quic::{HostConfig, KeyLog, QuicError, QuicHost, Seed, Transport};

/// Proton's ALPN.
pub const ALPN: &[u8] = b"proton";

/// A QUIC host with `timers`' transport settings: the server lets the client open `max_bidi`
/// bidirectional streams and no unidirectional ones.
pub fn host(
    seed: u64,
    who: &str,
    server: bool,
    timers: &Timers,
    max_bidi: u32,
    alpn: Vec<Vec<u8>>,
    key_log: Arc<KeyLog>,
) -> Result<QuicHost, QuicError> {
    QuicHost::new(&HostConfig {
        seed: Seed::derive(seed, who),
        alpn,
        transport: Transport {
            idle_timeout: Some(timers.idle),
            keep_alive: timers.keep_alive,
            max_bidi,
            max_uni: 0,
            windows: None,
        },
        server,
        key_log,
    })
}
