//! QUIC under the harness's clock, for the QUIC families (Proton, Dark Tower).
//!
//! - [`QuicHost`]: one quinn-proto endpoint and its connections, sans-I/O: every instant is the
//!   caller's, so the same host runs in virtual time (a 300 s timeout in microseconds) and over
//!   real UDP.
//! - [`pair::Pair`]: a client and a server on a virtual link in virtual time, for every two-party
//!   test, the fuzz targets and the REPL.
//! - [`tls`]: everything random in QUIC and TLS pinned to the run's seed, an in-memory (and
//!   optionally file) key log, a fixed Ed25519 `localhost` identity, a client that does not verify
//!   the certificate.
//! - A native decryptor of captured QUIC from a key log (`decrypt`) and its frame parser (`frame`);
//!   [`rebuild`]: captured datagrams to connections, streams reassembled, resets, closes, datagrams.
//!
//! **What is deterministic.** With the same seed and the same inputs at the same instants, a host
//! emits byte-identical encrypted datagrams and the same key log: quinn's endpoint RNG
//! (`EndpointConfig::rng_seed`), connection ids, the client's first DCID, the stateless-reset
//! and token keys, the TLS randoms, the X25519 key shares and the server's Ed25519 key all come
//! from the seed; rustls' and quinn's wall clocks are pinned; no MTU probes, one datagram per
//! transmit. Against an external implementation only the harness's own side is (its peer's
//! choices are its own), and over real UDP the instants differ run to run: there units and
//! verdicts are deterministic, bytes are not.
#![forbid(unsafe_code)]

pub mod host;
mod memo;
pub mod pair;
pub mod session;
pub mod streams;
pub mod tls;

pub use host::{Admission, Close, ConnId, HostConfig, QuicEvent, QuicHost};
pub use quinn_proto;
pub use tls::{Identity, KeyLog, Seed, Transport, Windows};

/// What can go wrong setting QUIC up.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// A configuration quinn or rustls rejected.
    #[error("QUIC configuration: {0}")]
    Config(String),
    /// A connection could not be started.
    #[error("QUIC connect: {0}")]
    Connect(String),
}

pub mod decrypt;
pub mod frame;
pub mod rebuild;

pub use decrypt::{
    classify, describe_datagram, link_class, CipherSuite, ConnectionInfo, DecryptError, Decryptor,
    Direction, Packet, Space, LINK_CLASSES,
};
pub use frame::{parse_frames, Frame, FrameError};
