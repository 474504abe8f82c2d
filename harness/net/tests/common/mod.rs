//! What the real-time link tests share.

use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant, Transmit};

/// Keeps what it is given.
#[derive(Default)]
pub struct Recorder {
    /// Every datagram handed to it.
    pub got: Vec<Vec<u8>>,
}

impl Endpoint for Recorder {
    type Event = ();
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, payload: &[u8]) {
        self.got.push(payload.to_vec());
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn is_finished(&self) -> bool {
        false
    }
}
