//! The media stream's endpoints as the generic drivers run them: a reference initiator or responder
//! ([`RoleEndpoint`]), or a silent sink standing at the peer's address for a scripted peer (what it receives
//! is read from the link trace).

use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant, Transmit};
use handshake_mediastream_endpoint::{
    Event, Initiator, Profile, Responder, RoleEndpoint, StreamConfig,
};
use handshake_scenario::Role;

/// A node of a run.
#[derive(Debug)]
pub enum Node {
    /// A reference endpoint (the IUT, or the reference peer).
    Media(Box<RoleEndpoint>),
    /// Stands for a scripted peer.
    Sink,
}

impl Node {
    /// A reference endpoint in `role` with `profile`, talking to `remote`; an initiator connects at
    /// `now`.
    pub fn reference(
        profile: Profile,
        role: Role,
        config: StreamConfig,
        remote: SocketAddr,
        seed: u64,
        now: Instant,
    ) -> Result<Node, String> {
        config.validate().map_err(|e| format!("stream: {e}"))?;
        Ok(Node::Media(Box::new(match role {
            Role::Initiator => {
                let mut i = Initiator::new(profile, config, remote).map_err(|e| e.to_string())?;
                i.connect(now);
                RoleEndpoint::Initiator(i)
            }
            Role::Responder => RoleEndpoint::Responder(
                Responder::new(profile, config, seed).map_err(|e| e.to_string())?,
            ),
        })))
    }

    /// The reference endpoint, if this is one.
    pub fn endpoint(&self) -> Option<&RoleEndpoint> {
        match self {
            Node::Media(p) => Some(p),
            Node::Sink => None,
        }
    }
}

impl Endpoint for Node {
    type Event = Event;
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        if let Node::Media(p) = self {
            p.handle_datagram(now, source, payload);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        if let Node::Media(p) = self {
            p.handle_timeout(now);
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Node::Media(p) => p.poll_transmit(),
            Node::Sink => None,
        }
    }
    fn poll_event(&mut self) -> Option<Event> {
        match self {
            Node::Media(p) => p.poll_event(),
            Node::Sink => None,
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Node::Media(p) => p.poll_timeout(),
            Node::Sink => None,
        }
    }
    /// A responder is done when it has no live session (for the settle phase of a push run,
    /// where the responder receives: it ends its session once the stream is in).
    fn is_finished(&self) -> bool {
        match self {
            Node::Media(p) => match p.as_responder() {
                Some(r) => r.session_count() == 0,
                None => p.is_finished(),
            },
            Node::Sink => true,
        }
    }
}
