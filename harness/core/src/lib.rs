//! What every layer shares: [`Instant`] (time as the caller gives it) and the sans-I/O [`Endpoint`]
//! interface that every family's state machines (layer 2) implement. Protocol logic only: no sockets,
//! no clocks, no threads, no ambient randomness. Every input carries the current [`Instant`];
//! randomness comes from a seed.
//!
//! The interface follows quinn-proto. A driver (virtual link, real UDP socket, …) calls, in this order:
//!
//! 1. [`Endpoint::handle_datagram`] for each datagram received, with its source and the time;
//! 2. [`Endpoint::poll_transmit`] until `None`, sending each [`Transmit`] to its destination;
//! 3. [`Endpoint::poll_event`] until `None` (state transitions and dropped datagrams, with reasons);
//! 4. [`Endpoint::poll_timeout`] for the next deadline, and [`Endpoint::handle_timeout`] once it passes
//!    (then back to 2).
#![forbid(unsafe_code)]

pub mod dyn_face;
pub mod time;
pub mod varint;
pub mod words;

use std::net::SocketAddr;

pub use time::{Instant, EPOCH_NS};
pub use varint::{VarInt, VarIntError};

/// A datagram an endpoint wants sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// A sans-I/O protocol endpoint.
pub trait Endpoint {
    /// What the endpoint reports: transitions, drops, metrics.
    type Event;

    /// Feeds one received datagram.
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]);

    /// Tells the endpoint that `now` has reached (or passed) its [`poll_timeout`](Self::poll_timeout).
    fn handle_timeout(&mut self, now: Instant);

    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`handle_timeout`](Self::handle_timeout) must next be called; `None` when nothing is timed.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Whether the endpoint has nothing more to do (a finished stream; a responder never finishes
    /// by itself).
    fn is_finished(&self) -> bool;

    /// Closes every session it still has open, as a peer that goes away does (a QUIC endpoint
    /// sends CONNECTION_CLOSE); whether there was any. The real-time driver calls it at the end
    /// of a run whose IUT is kept for the next one. Nothing by default.
    fn close_all(&mut self, _now: Instant) -> bool {
        false
    }

    /// How much later than the protocol's own timer values this endpoint may notice what its peer
    /// did (or stopped doing), by the rules of the transport beneath it — a QUIC idle timer runs
    /// for at least three probe timeouts. A real-time driver widens its windows by it. Zero for
    /// endpoints whose timers are the protocol's.
    fn transport_lateness(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}
