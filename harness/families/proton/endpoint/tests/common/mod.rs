//! A scripted client and a reference server on a lossless virtual link (5 ms latency).
// Shared by several test crates, each using a part.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_proton_endpoint::{host, Profile, ScriptPeer, Server, ALPN};
use handshake_quic::pair::{Order, PairConfig};
use handshake_quic::{ConnId, KeyLog};

pub const CLIENT: &str = "192.0.2.1:50000";
pub const SERVER: &str = "192.0.2.2:4444";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// The reference server and the scripted client on a lossless link of 5 ms, the server first.
pub type Pair = handshake_quic::pair::Pair<ScriptPeer, Server>;

/// A server of `profile` (startup delay 0) and a client connected to it, 50 ms in.
pub fn connected(profile: &str) -> (Pair, ConnId) {
    connected_with(profile, |_| {})
}

/// [`connected`], the client tracking what the server acknowledges (or not).
pub fn connected_tracking(profile: &str, track: bool) -> (Pair, ConnId) {
    connect(profile, |_| {}, track)
}

/// [`connected`], the server's profile changed by `tune` first.
pub fn connected_with(profile: &str, tune: impl FnOnce(&mut Profile)) -> (Pair, ConnId) {
    connect(profile, tune, false)
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
    let config = PairConfig {
        order: Order::ServerFirst,
        ..PairConfig::new(addr(CLIENT), addr(SERVER), Duration::from_millis(5))
    };
    let mut pair = Pair::new(
        config,
        ScriptPeer::new(ch, addr(SERVER), false, Instant::ZERO),
        Server::new(sh, p, Instant::ZERO),
    );
    if track {
        pair.client.track_acks();
    }
    let conn = pair.client.connect(Instant::ZERO, None).expect("connect");
    pair.run_until(Instant::from_millis(50));
    (pair, conn)
}
