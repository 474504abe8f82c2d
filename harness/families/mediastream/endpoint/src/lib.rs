//! The media-stream endpoints: an [`Initiator`] (ctsTraffic's client, the media receiver) and a
//! [`Responder`] (the server, the media sender), each in every profile of
//! `shared/protocols/mediastream.md`: `legacy` and `udp_push` as coded, and `3way` with the options of
//! D8, D9 and D10. Decisions are cited by id (D1…D14) where the code implements them.
//!
//! Layer 2 (endpoint) of the media-stream family: sans-I/O state machines implementing
//! [`handshake_core::Endpoint`]; all time comes from the caller.
#![forbid(unsafe_code)]

/// An enum of unit variants with a stable snake_case name used for Display, JSON and metric keys.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable name.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}

mod config;
mod event;
mod initiator;
mod mutant;
mod playout;
mod receiver;
mod responder;
mod sender;

pub use config::{
    Backoff, ConfigError, Direction, Profile, ProfileError, ProfileKind, StreamConfig, Verify,
    MAX_BUFFER_DEPTH_SECS, MAX_DATAGRAM_BYTE_SIZE, MAX_FRAME_RATE, MAX_FRAME_SIZE,
    MAX_STREAM_LENGTH_SECS,
};
pub use event::{DropReason, Event, Metrics, NegotiatedMode, Phase, Reason};
pub use initiator::Initiator;
pub use mutant::Mutant;
pub use responder::{Responder, MAX_SESSIONS};
pub use sender::QPF;

use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant, Transmit};

/// Either endpoint, so one driver can hold initiators and responders together.
#[derive(Debug)]
pub enum RoleEndpoint {
    /// An initiator.
    Initiator(Initiator),
    /// A responder.
    Responder(Responder),
}

impl RoleEndpoint {
    /// The initiator, if this is one.
    pub fn as_initiator(&self) -> Option<&Initiator> {
        match self {
            RoleEndpoint::Initiator(i) => Some(i),
            RoleEndpoint::Responder(_) => None,
        }
    }

    /// The responder, if this is one.
    pub fn as_responder(&self) -> Option<&Responder> {
        match self {
            RoleEndpoint::Responder(r) => Some(r),
            RoleEndpoint::Initiator(_) => None,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $e:ident => $call:expr) => {
        match $self {
            RoleEndpoint::Initiator($e) => $call,
            RoleEndpoint::Responder($e) => $call,
        }
    };
}

impl Endpoint for RoleEndpoint {
    type Event = Event;

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        delegate!(self, e => e.handle_datagram(now, source, payload))
    }
    fn handle_timeout(&mut self, now: Instant) {
        delegate!(self, e => e.handle_timeout(now))
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        delegate!(self, e => e.poll_transmit())
    }
    fn poll_event(&mut self) -> Option<Event> {
        delegate!(self, e => e.poll_event())
    }
    fn poll_timeout(&self) -> Option<Instant> {
        delegate!(self, e => e.poll_timeout())
    }
    fn is_finished(&self) -> bool {
        delegate!(self, e => e.is_finished())
    }
}
