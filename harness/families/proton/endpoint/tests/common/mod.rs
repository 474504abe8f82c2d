//! A scripted client and a reference server on a lossless virtual link (5 ms latency).
// Shared by several test crates, each using a part.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_proton_endpoint::{host, Profile, ProtonEvent, ScriptPeer, Server, ALPN};
use handshake_quic::{ConnId, KeyLog};

pub const CLIENT: &str = "192.0.2.1:50000";
pub const SERVER: &str = "192.0.2.2:4444";
/// More simulation steps than this in one `run` is a livelock.
const STEP_LIMIT: usize = 100_000;

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Both sides, the datagrams in flight, and what the server reported.
pub struct Pair {
    pub server: Server,
    pub client: ScriptPeer,
    pub now: Instant,
    flight: Vec<(Instant, bool, Vec<u8>)>,
    pub server_events: Vec<(Instant, ProtonEvent)>,
    pub client_events: Vec<(Instant, ProtonEvent)>,
}

impl Pair {
    /// A server of `profile` (startup delay 0) and a client connected to it, 50 ms in.
    pub fn connected(profile: &str) -> (Pair, ConnId) {
        Pair::connected_with(profile, |_| {})
    }

    /// [`Pair::connected`], the client tracking what the server acknowledges (or not).
    pub fn connected_tracking(profile: &str, track: bool) -> (Pair, ConnId) {
        Pair::connect(profile, |_| {}, track)
    }

    /// [`Pair::connected`], the server's profile changed by `tune` first.
    pub fn connected_with(profile: &str, tune: impl FnOnce(&mut Profile)) -> (Pair, ConnId) {
        Pair::connect(profile, tune, false)
    }

    fn connect(profile: &str, tune: impl FnOnce(&mut Profile), track: bool) -> (Pair, ConnId) {
        let mut p = Profile::parse(profile).expect("profile");
        p.timers.startup = Duration::ZERO;
        tune(&mut p);
        let keys = Arc::new(KeyLog::default());
        let sh = host(
            1,
            "server",
            true,
            &p.timers,
            p.max_bidi(),
            vec![ALPN.to_vec()],
            keys.clone(),
        )
        .expect("host");
        let ch = host(1, "client", false, &p.timers, 16, vec![ALPN.to_vec()], keys).expect("host");
        let mut pair = Pair {
            server: Server::new(sh, p, Instant::ZERO),
            client: ScriptPeer::new(ch, addr(SERVER), false, Instant::ZERO),
            now: Instant::ZERO,
            flight: Vec::new(),
            server_events: Vec::new(),
            client_events: Vec::new(),
        };
        if track {
            pair.client.track_acks();
        }
        let conn = pair.client.connect(Instant::ZERO, None).expect("connect");
        pair.run_until(50);
        (pair, conn)
    }

    /// Runs both until `until_ms`; panics on a livelock.
    pub fn run_until(&mut self, until_ms: u64) {
        let latency = Duration::from_millis(5);
        let until = Instant::from_millis(until_ms);
        let mut steps = 0;
        loop {
            while let Some((_, bytes)) = self.server.poll_transmit() {
                self.flight.push((self.now + latency, false, bytes));
            }
            while let Some((_, bytes)) = self.client.poll_transmit() {
                self.flight.push((self.now + latency, true, bytes));
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push((self.now, e));
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push((self.now, e));
            }
            let next = self
                .flight
                .iter()
                .map(|f| f.0)
                .chain(self.server.poll_timeout())
                .chain(self.client.poll_timeout())
                .min();
            let Some(next) = next.filter(|n| *n <= until) else {
                self.now = self.now.max(until);
                return;
            };
            steps += 1;
            assert!(steps < STEP_LIMIT, "livelock at {}", self.now);
            self.now = next.max(self.now);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) = self.flight.drain(..).partition(|f| f.0 <= now);
            self.flight = later;
            for (_, to_server, bytes) in due {
                if to_server {
                    self.server.handle_datagram(now, addr(CLIENT), &bytes);
                } else {
                    self.client.handle_datagram(now, addr(SERVER), &bytes);
                }
            }
            if self.server.poll_timeout().is_some_and(|t| t <= now) {
                self.server.handle_timeout(now);
            }
            if self.client.poll_timeout().is_some_and(|t| t <= now) {
                self.client.handle_timeout(now);
            }
        }
    }
}
