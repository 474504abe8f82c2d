//! Shared test helpers: two `WtSessions` (or any `Sessions`) on a lossless virtual wire.
#![allow(dead_code)]

pub mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::Instant;
use handshake_quic::session::{SessionEvent, Sessions};

pub const CLIENT: &str = "192.0.2.1:50000";
pub const SERVER: &str = "192.0.2.2:4433";
pub const LATENCY: Duration = Duration::from_millis(10);

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Two session hosts in virtual time; every datagram takes `LATENCY`.
pub struct World<C: Sessions, S: Sessions> {
    pub client: C,
    pub server: S,
    pub now: Instant,
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
    /// Every datagram, in the order sent (true: client → server).
    pub wire: Vec<(bool, Vec<u8>)>,
    pub client_events: Vec<SessionEvent>,
    pub server_events: Vec<SessionEvent>,
    /// The server echoes every bidi stream the client opens (bytes and FIN).
    pub server_echo: bool,
}

impl<C: Sessions, S: Sessions> World<C, S> {
    pub fn new(client: C, server: S) -> World<C, S> {
        World {
            client,
            server,
            now: Instant::ZERO,
            in_flight: Vec::new(),
            wire: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            server_echo: false,
        }
    }

    fn settle(&mut self) {
        loop {
            let mut any = false;
            while let Some(e) = self.client.poll_event() {
                any = true;
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                any = true;
                if self.server_echo {
                    if let SessionEvent::Data {
                        session,
                        stream,
                        bytes,
                        fin,
                    } = &e
                    {
                        if stream & 3 == 0 {
                            self.server.write(*session, *stream, bytes);
                            if *fin {
                                self.server.finish(*session, *stream);
                            }
                        }
                    }
                }
                self.server_events.push(e);
            }
            self.client.drive(self.now);
            self.server.drive(self.now);
            if !any {
                break;
            }
        }
        while let Some((_, bytes)) = self.client.poll_transmit() {
            self.wire.push((true, bytes.clone()));
            self.in_flight.push((self.now + LATENCY, true, bytes));
        }
        while let Some((_, bytes)) = self.server.poll_transmit() {
            self.wire.push((false, bytes.clone()));
            self.in_flight.push((self.now + LATENCY, false, bytes));
        }
    }

    /// Runs until virtual time `until` (absolute).
    pub fn run_until(&mut self, until: Instant) {
        loop {
            self.settle();
            let next_arrival = self.in_flight.iter().map(|f| f.0).min();
            let next_timer = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = [next_arrival, next_timer].into_iter().flatten().min() else {
                self.now = until.max(self.now);
                return;
            };
            if next > until {
                self.now = until;
                return;
            }
            self.now = next.max(self.now);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|f| f.0 <= now);
            self.in_flight = later;
            for (_, to_server, bytes) in due {
                if to_server {
                    self.server.handle_datagram(now, addr(CLIENT), &bytes);
                } else {
                    self.client.handle_datagram(now, addr(SERVER), &bytes);
                }
            }
            self.client.handle_timeout(now);
            self.server.handle_timeout(now);
        }
    }

    /// Runs for `d` more.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }
}

/// Every `Data` event of `stream`, concatenated, and whether a FIN came.
pub fn stream_bytes(events: &[SessionEvent], stream: u64) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut fin = false;
    for e in events {
        if let SessionEvent::Data {
            stream: s,
            bytes,
            fin: f,
            ..
        } = e
        {
            if *s == stream {
                out.extend_from_slice(bytes);
                fin |= *f;
            }
        }
    }
    (out, fin)
}

/// The streams the events carry data for, in order of first appearance.
pub fn streams(events: &[SessionEvent]) -> Vec<u64> {
    let mut out = Vec::new();
    for e in events {
        if let SessionEvent::Data { stream, .. } = e {
            if !out.contains(stream) {
                out.push(*stream);
            }
        }
    }
    out
}

/// The datagram payloads of the events.
pub fn datagrams(events: &[SessionEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Datagram { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect()
}
