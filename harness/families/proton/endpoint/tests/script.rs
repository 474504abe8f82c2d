//! The scripted peer takes any stream a scenario names: a side a stream does not have is an
//! error, never a panic (quinn-proto asserts on it).

use std::net::SocketAddr;
use std::sync::Arc;

use handshake_core::Instant;
use handshake_proton_endpoint::{host, Profile, ScriptPeer, Server, ALPN};
use handshake_quic::KeyLog;

const CLIENT: &str = "192.0.2.1:50000";
const SERVER: &str = "192.0.2.2:4444";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Runs both until `until_ms` (lossless, 5 ms latency).
fn run(server: &mut Server, client: &mut ScriptPeer, from_ms: u64, until_ms: u64) {
    let latency = std::time::Duration::from_millis(5);
    let mut flight: Vec<(Instant, bool, Vec<u8>)> = Vec::new();
    let mut now = Instant::from_millis(from_ms);
    let until = Instant::from_millis(until_ms);
    loop {
        while let Some((_, bytes)) = server.poll_transmit() {
            flight.push((now + latency, false, bytes));
        }
        while let Some((_, bytes)) = client.poll_transmit() {
            flight.push((now + latency, true, bytes));
        }
        let next = flight
            .iter()
            .map(|f| f.0)
            .chain(server.poll_timeout())
            .chain(client.poll_timeout())
            .min();
        let Some(next) = next.filter(|n| *n <= until) else {
            return;
        };
        now = next.max(now);
        let (due, later): (Vec<_>, Vec<_>) = flight.drain(..).partition(|f| f.0 <= now);
        flight = later;
        for (_, to_server, bytes) in due {
            if to_server {
                server.handle_datagram(now, addr(CLIENT), &bytes);
            } else {
                client.handle_datagram(now, addr(SERVER), &bytes);
            }
        }
        if server.poll_timeout().is_some_and(|t| t <= now) {
            server.handle_timeout(now);
        }
        if client.poll_timeout().is_some_and(|t| t <= now) {
            client.handle_timeout(now);
        }
    }
}

/// A client connected to a `project` server without startup delay, 50 ms in.
fn connected() -> (Server, ScriptPeer, u32) {
    let mut p = Profile::parse("project").expect("profile");
    p.timers.startup = std::time::Duration::ZERO;
    let keys = Arc::new(KeyLog::default());
    let sh = host(
        1,
        "server",
        true,
        &p.timers,
        3,
        vec![ALPN.to_vec()],
        keys.clone(),
    )
    .expect("host");
    let ch = host(1, "client", false, &p.timers, 16, vec![ALPN.to_vec()], keys).expect("host");
    let mut server = Server::new(sh, p, Instant::ZERO);
    let mut client = ScriptPeer::new(ch, addr(SERVER), false, Instant::ZERO);
    let conn = client.connect(Instant::ZERO, None).expect("connect");
    run(&mut server, &mut client, 0, 50);
    (server, client, conn)
}

#[test]
fn a_side_a_unidirectional_stream_does_not_have_is_an_error() {
    let (mut server, mut client, conn) = connected();
    let now = Instant::from_millis(50);
    // Stream 2 is the client's own unidirectional stream (send only), 3 the server's (receive
    // only); neither is open, so each is done at once.
    assert!(client.stop_sending(now, conn, 2, 0).is_err());
    for stream in [3, 7] {
        assert!(client.write(now, conn, stream, &[1]).is_err());
        assert!(client.fin(now, conn, stream).is_err());
        assert!(client.reset(now, conn, stream, 0).is_err());
    }
    // The same on a closed connection that quinn still keeps while it drains (a uni stream
    // the client asked for and never got, the server allowing none).
    let uni = client.open(now, conn, false).expect("open");
    client.close(now, conn, 0, "done");
    assert!(client.stop_sending(now, conn, uni, 0).is_err());
    run(&mut server, &mut client, 50, 5_000);
}

/// quinn keeps state for the server's streams before the server opens them: a FIN on stream 5
/// went out, and the ACK of it underflowed quinn's stream count (a panic with overflow checks).
#[test]
fn a_stream_the_other_side_never_opened_is_not_acted_on() {
    let (mut server, mut client, conn) = connected();
    let now = Instant::from_millis(50);
    let fin = client.fin(now, conn, 5);
    let write = client.write(now, conn, 1, &[1]);
    let stop = client.stop_sending(now, conn, 1, 0);
    run(&mut server, &mut client, 50, 5_000);
    assert!(fin.is_err() && write.is_err() && stop.is_err());
}
