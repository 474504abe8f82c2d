//! Any Dark Tower endpoint as one [`handshake_core::Endpoint`], for the drivers.

use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant, Transmit};

use crate::{Client, Controller, DarkTowerEvent, Handler, MeetingServer, ScriptClient};

/// A reference controller, handler or client (one per simulated address: the size difference
/// between variants does not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DarkTowerNode {
    /// The Meeting Controller.
    Controller(Controller),
    /// The Media Handler.
    Handler(Handler),
    /// A client.
    Client(Client),
    /// A controller and a handler on one port (the peer of a client IUT).
    Server(MeetingServer),
    /// The scripted participants (the peer of a controller or handler IUT).
    Script(ScriptClient),
}

impl DarkTowerNode {
    /// The TLS secrets of its connections (NSS key-log format).
    pub fn key_log(&self) -> String {
        match self {
            DarkTowerNode::Controller(c) => c.key_log(),
            DarkTowerNode::Handler(h) => h.key_log(),
            DarkTowerNode::Client(c) => c.key_log(),
            DarkTowerNode::Server(s) => s.key_log(),
            DarkTowerNode::Script(s) => s.key_log(),
        }
    }

    /// New connections its hosts dropped unanswered (a flood of Initials with fresh CIDs).
    pub fn turned_away(&self) -> u64 {
        match self {
            DarkTowerNode::Controller(c) => c.turned_away(),
            DarkTowerNode::Handler(h) => h.turned_away(),
            DarkTowerNode::Client(c) => c.turned_away(),
            DarkTowerNode::Server(s) => s.turned_away(),
            DarkTowerNode::Script(s) => s.turned_away(),
        }
    }

    /// Switches its Unix time (real-time runs: [`crate::Clock::wall`]).
    pub fn set_clock(&mut self, clock: crate::Clock) {
        match self {
            DarkTowerNode::Controller(c) => c.set_clock(clock),
            DarkTowerNode::Handler(h) => h.set_clock(clock),
            DarkTowerNode::Client(c) => c.set_clock(clock),
            DarkTowerNode::Server(s) => s.set_clock(clock),
            DarkTowerNode::Script(s) => s.clock = clock,
        }
    }

    /// A server's transport (controller, handler, meeting server).
    pub fn server_transport(&mut self) -> Option<&mut dyn handshake_quic::session::Sessions> {
        match self {
            DarkTowerNode::Controller(c) => Some(c.transport_mut()),
            DarkTowerNode::Handler(h) => Some(h.transport_mut()),
            DarkTowerNode::Server(s) => Some(s.transport_mut()),
            DarkTowerNode::Client(_) | DarkTowerNode::Script(_) => None,
        }
    }

    /// The scripted participants, if it is them.
    pub fn script(&mut self) -> Option<&mut ScriptClient> {
        match self {
            DarkTowerNode::Script(s) => Some(s),
            _ => None,
        }
    }

    /// The meeting server, if it is one.
    pub fn server(&mut self) -> Option<&mut MeetingServer> {
        match self {
            DarkTowerNode::Server(s) => Some(s),
            _ => None,
        }
    }

    /// The client, if it is one.
    pub fn client(&self) -> Option<&Client> {
        match self {
            DarkTowerNode::Client(c) => Some(c),
            _ => None,
        }
    }
}

impl Endpoint for DarkTowerNode {
    type Event = DarkTowerEvent;

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        match self {
            DarkTowerNode::Controller(c) => c.handle_datagram(now, source, payload),
            DarkTowerNode::Handler(h) => h.handle_datagram(now, source, payload),
            DarkTowerNode::Client(c) => c.handle_datagram(now, source, payload),
            DarkTowerNode::Server(s) => s.handle_datagram(now, source, payload),
            DarkTowerNode::Script(s) => s.handle_datagram(now, source, payload),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            DarkTowerNode::Controller(c) => c.handle_timeout(now),
            DarkTowerNode::Handler(h) => h.handle_timeout(now),
            DarkTowerNode::Client(c) => c.handle_timeout(now),
            DarkTowerNode::Server(s) => s.handle_timeout(now),
            DarkTowerNode::Script(s) => s.handle_timeout(now),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let (destination, payload) = match self {
            DarkTowerNode::Controller(c) => c.poll_transmit(),
            DarkTowerNode::Handler(h) => h.poll_transmit(),
            DarkTowerNode::Client(c) => c.poll_transmit(),
            DarkTowerNode::Server(s) => s.poll_transmit(),
            DarkTowerNode::Script(s) => s.poll_transmit(),
        }?;
        Some(Transmit {
            destination,
            payload,
        })
    }

    fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        match self {
            DarkTowerNode::Controller(c) => c.poll_event(),
            DarkTowerNode::Handler(h) => h.poll_event(),
            DarkTowerNode::Client(c) => c.poll_event(),
            DarkTowerNode::Server(s) => s.poll_event(),
            DarkTowerNode::Script(s) => s.poll_event(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            DarkTowerNode::Controller(c) => c.poll_timeout(),
            DarkTowerNode::Handler(h) => h.poll_timeout(),
            DarkTowerNode::Client(c) => c.poll_timeout(),
            DarkTowerNode::Server(s) => s.poll_timeout(),
            DarkTowerNode::Script(s) => s.poll_timeout(),
        }
    }

    fn close_all(&mut self, now: Instant) -> bool {
        match self {
            DarkTowerNode::Script(s) => s.close_all(now),
            _ => false,
        }
    }

    fn transport_lateness(&self) -> std::time::Duration {
        match self {
            DarkTowerNode::Controller(c) => c.idle_notice_lateness(),
            DarkTowerNode::Handler(h) => h.idle_notice_lateness(),
            DarkTowerNode::Client(c) => c.idle_notice_lateness(),
            DarkTowerNode::Server(s) => s.idle_notice_lateness(),
            DarkTowerNode::Script(s) => s.idle_notice_lateness(),
        }
    }

    fn is_finished(&self) -> bool {
        match self {
            // Servers serve forever.
            DarkTowerNode::Controller(_) | DarkTowerNode::Handler(_) | DarkTowerNode::Server(_) => {
                false
            }
            // The scripted participants end when the scenario's steps end.
            DarkTowerNode::Script(_) => false,
            DarkTowerNode::Client(c) => c.is_finished(),
        }
    }
}
