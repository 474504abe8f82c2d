//! Any Proton endpoint as one [`handshake_core::Endpoint`], for the drivers.

use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant, Transmit};
use handshake_quic::pair::Peer;

use crate::{Client, ProtonEvent, ScriptPeer, Server};

/// A reference server, a reference client, or the scripted peer.
#[derive(Debug)]
pub enum ProtonNode {
    /// The reference server.
    Server(Server),
    /// The reference client.
    Client(Client),
    /// The scripted peer.
    Script(ScriptPeer),
}

impl ProtonNode {
    /// The TLS secrets of its connections (NSS key-log format).
    pub fn key_log(&self) -> String {
        match self {
            ProtonNode::Server(s) => s.host().key_log(),
            ProtonNode::Client(c) => c.host().key_log(),
            ProtonNode::Script(p) => p.host().key_log(),
        }
    }

    /// New connections its host dropped unanswered (a flood of Initials with fresh CIDs).
    pub fn turned_away(&self) -> u64 {
        match self {
            ProtonNode::Server(s) => s.host().turned_away(),
            ProtonNode::Client(c) => c.host().turned_away(),
            ProtonNode::Script(p) => p.host().turned_away(),
        }
    }

    /// The scripted peer, if it is one.
    pub fn script(&mut self) -> Option<&mut ScriptPeer> {
        match self {
            ProtonNode::Script(p) => Some(p),
            _ => None,
        }
    }
}

impl Endpoint for ProtonNode {
    type Event = ProtonEvent;

    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        match self {
            ProtonNode::Server(s) => s.handle_datagram(now, source, payload),
            ProtonNode::Client(c) => c.handle_datagram(now, source, payload),
            ProtonNode::Script(p) => p.handle_datagram(now, source, payload),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            ProtonNode::Server(s) => s.handle_timeout(now),
            ProtonNode::Client(c) => c.handle_timeout(now),
            ProtonNode::Script(p) => p.handle_timeout(now),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        let (destination, payload) = match self {
            ProtonNode::Server(s) => s.poll_transmit(),
            ProtonNode::Client(c) => c.poll_transmit(),
            ProtonNode::Script(p) => p.poll_transmit(),
        }?;
        Some(Transmit {
            destination,
            payload,
        })
    }

    fn poll_event(&mut self) -> Option<ProtonEvent> {
        match self {
            ProtonNode::Server(s) => s.poll_event(),
            ProtonNode::Client(c) => c.poll_event(),
            ProtonNode::Script(p) => p.poll_event(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            ProtonNode::Server(s) => s.poll_timeout(),
            ProtonNode::Client(c) => c.poll_timeout(),
            ProtonNode::Script(p) => p.poll_timeout(),
        }
    }

    fn close_all(&mut self, now: Instant) -> bool {
        match self {
            ProtonNode::Script(p) => p.close_all(now),
            ProtonNode::Server(_) | ProtonNode::Client(_) => false,
        }
    }

    fn transport_lateness(&self) -> std::time::Duration {
        match self {
            ProtonNode::Server(s) => s.idle_notice_lateness(),
            ProtonNode::Client(c) => c.idle_notice_lateness(),
            ProtonNode::Script(p) => p.idle_notice_lateness(),
        }
    }

    fn is_finished(&self) -> bool {
        match self {
            // A server serves forever.
            ProtonNode::Server(_) => false,
            ProtonNode::Client(c) => c.is_finished(),
            ProtonNode::Script(p) => p.is_finished(),
        }
    }
}

/// The reference server on a [`Pair`](handshake_quic::pair::Pair): it settles on input itself.
impl Peer for Server {
    type Event = ProtonEvent;
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        Server::handle_datagram(self, now, source, payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        Server::handle_timeout(self, now);
    }
    fn poll_event(&mut self) -> Option<ProtonEvent> {
        Server::poll_event(self)
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        Server::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Server::poll_timeout(self)
    }
}

/// The scripted peer on a [`Pair`](handshake_quic::pair::Pair): it settles on input itself.
impl Peer for ScriptPeer {
    type Event = ProtonEvent;
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        ScriptPeer::handle_datagram(self, now, source, payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        ScriptPeer::handle_timeout(self, now);
    }
    fn poll_event(&mut self) -> Option<ProtonEvent> {
        ScriptPeer::poll_event(self)
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        ScriptPeer::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ScriptPeer::poll_timeout(self)
    }
}
