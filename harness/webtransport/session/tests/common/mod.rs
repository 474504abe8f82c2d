//! Shared test helpers: two `WtSessions` (or any `Sessions`) on handshake-quic's `Pair`.
#![allow(dead_code)]

pub mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use handshake_quic::pair::{Pair, PairConfig};
use handshake_quic::session::{SessionEvent, Sessions};

pub const CLIENT: &str = "192.0.2.1:50000";
pub const SERVER: &str = "192.0.2.2:4433";
pub const LATENCY: Duration = Duration::from_millis(10);

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Two session hosts on a lossless link of `LATENCY`, the client first.
pub type World<C, S> = Pair<C, S>;

/// `client` and `server` at virtual time zero, the server not echoing.
pub fn world<C: Sessions, S: Sessions>(client: C, server: S) -> World<C, S> {
    Pair::new(
        PairConfig::new(addr(CLIENT), addr(SERVER), LATENCY),
        client,
        server,
    )
}

/// Whether the server echoes every bidi stream the client opens (bytes and FIN).
pub fn server_echo<C: Sessions, S: Sessions + 'static>(w: &mut World<C, S>, on: bool) {
    if !on {
        w.remove_server_hook();
        return;
    }
    w.on_server_event(|server, _, e| {
        if let SessionEvent::Data {
            session,
            stream,
            bytes,
            fin,
        } = e
        {
            if stream & 3 == 0 {
                server.write(*session, *stream, bytes);
                if *fin {
                    server.finish(*session, *stream);
                }
            }
        }
    });
}

/// The client's events so far.
pub fn client_events<C: Sessions, S: Sessions>(w: &World<C, S>) -> Vec<SessionEvent> {
    w.client_events.iter().map(|(_, e)| e.clone()).collect()
}

/// The server's events so far.
pub fn server_events<C: Sessions, S: Sessions>(w: &World<C, S>) -> Vec<SessionEvent> {
    w.server_events.iter().map(|(_, e)| e.clone()).collect()
}

/// Every datagram, in the order sent (true: client → server).
pub fn wire<C: Sessions, S: Sessions>(w: &World<C, S>) -> Vec<(bool, Vec<u8>)> {
    let client = addr(CLIENT);
    w.sent()
        .map(|(t, _)| (t.from == client, t.payload.clone()))
        .collect()
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
