//! Two hosts on a lossless virtual wire: handshake, a stream exchange, refusal, idle timeout,
//! and byte-identical datagrams for the same seed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_quic::pair::{Pair, PairConfig};
use handshake_quic::quinn_proto::{Dir, StreamEvent};
use handshake_quic::{
    Admission, Close, ConnId, HostConfig, KeyLog, QuicEvent, QuicHost, Seed, Transport,
};

const CLIENT: &str = "192.0.2.1:50000";
const SERVER: &str = "192.0.2.2:4444";
const LATENCY: Duration = Duration::from_millis(10);

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn host(seed: u64, server: bool, transport: Transport) -> QuicHost {
    QuicHost::new(&HostConfig {
        seed: Seed::derive(seed, if server { "server" } else { "client" }),
        alpn: vec![b"proton".to_vec()],
        transport,
        server,
        key_log: Arc::new(KeyLog::default()),
    })
    .expect("host")
}

/// Both hosts on a lossless link of `LATENCY`, the client first; the server echoes stream data.
type World = Pair<QuicHost, QuicHost>;

fn world(seed: u64, transport: Transport) -> World {
    let config = PairConfig::new(addr(CLIENT), addr(SERVER), LATENCY);
    let mut w = Pair::new(
        config,
        host(seed, false, transport.clone()),
        host(seed, true, transport),
    );
    // The client only takes the streams the server opens (it opens none).
    w.on_client_event(|h, _, e| {
        if let QuicEvent::Stream {
            conn,
            event: StreamEvent::Opened { dir: Dir::Bi },
        } = e
        {
            if let Some(c) = h.connection(*conn) {
                while c.streams().accept(Dir::Bi).is_some() {}
            }
        }
    });
    w.on_server_event(|h, _, e| match e {
        QuicEvent::Stream {
            conn,
            event: StreamEvent::Readable { id },
        } => echo(h, *conn, *id),
        QuicEvent::Stream {
            conn,
            event: StreamEvent::Opened { dir: Dir::Bi },
        } => {
            let accepted = h
                .connection(*conn)
                .and_then(|c| c.streams().accept(Dir::Bi));
            if let Some(id) = accepted {
                echo(h, *conn, id);
            }
        }
        _ => {}
    });
    w
}

fn client_log(w: &World) -> Vec<String> {
    w.client_events.iter().map(|(_, e)| describe(e)).collect()
}

fn server_log(w: &World) -> Vec<String> {
    w.server_events.iter().map(|(_, e)| describe(e)).collect()
}

/// Every datagram sent, in order.
fn wire(w: &World) -> Vec<Vec<u8>> {
    w.sent().map(|(t, _)| t.payload.clone()).collect()
}

/// When the client last sent or received a datagram.
fn client_active(w: &World) -> Instant {
    let client = addr(CLIENT);
    w.trace
        .iter()
        .filter(|t| t.from == client || t.to == client)
        .map(|t| t.at)
        .max()
        .unwrap_or(Instant::ZERO)
}

fn echo(h: &mut QuicHost, conn: ConnId, id: handshake_quic::quinn_proto::StreamId) {
    let Some(c) = h.connection(conn) else { return };
    let mut data = Vec::new();
    if let Ok(mut chunks) = c.recv_stream(id).read(true) {
        while let Ok(Some(chunk)) = chunks.next(usize::MAX) {
            data.extend_from_slice(&chunk.bytes);
        }
        let _ = chunks.finalize();
    }
    if !data.is_empty() {
        let _ = c.send_stream(id).write(&data);
    }
}

fn describe(e: &QuicEvent) -> String {
    match e {
        QuicEvent::Stream { conn, event } => format!("{conn} {event:?}"),
        QuicEvent::Ended {
            conn,
            close,
            by_peer,
        } => format!("{conn} ended {close} by_peer={by_peer}"),
        other => format!("{other:?}"),
    }
}

fn exchange(seed: u64) -> (Vec<Vec<u8>>, String, World) {
    let mut w = world(seed, Transport::default());
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    w.run_until(Instant::from_millis(100));
    let c = w.client.connection(conn).expect("connection");
    let id = c.streams().open(Dir::Bi).expect("stream");
    c.send_stream(id)
        .write(b"\x01\x07\x00\x00\x00")
        .expect("write");
    w.run_until(Instant::from_millis(200));
    let mut got = Vec::new();
    let c = w.client.connection(conn).expect("connection");
    if let Ok(mut chunks) = c.recv_stream(id).read(true) {
        while let Ok(Some(chunk)) = chunks.next(usize::MAX) {
            got.extend_from_slice(&chunk.bytes);
        }
        let _ = chunks.finalize();
    }
    assert_eq!(got, b"\x01\x07\x00\x00\x00", "the server echoes");
    w.client.close(w.now(), conn, 0, "done");
    w.run_until(Instant::from_millis(1_000));
    let keys = w.client.key_log();
    (wire(&w), keys, w)
}

#[test]
fn handshake_stream_and_close() {
    let (wire, keys, w) = exchange(1);
    assert!(
        client_log(&w).iter().any(|e| e.contains("Connected")),
        "{:?}",
        client_log(&w)
    );
    assert!(
        server_log(&w)
            .iter()
            .any(|e| e.contains("ended application code 0") && e.contains("by_peer=true")),
        "{:?}",
        server_log(&w)
    );
    assert!(wire.len() >= 6, "{} datagrams", wire.len());
    assert_eq!(keys.lines().count(), 5, "{keys}");
}

#[test]
fn same_seed_gives_identical_datagrams_other_seed_does_not() {
    let (a, ka, _) = exchange(7);
    let (b, kb, _) = exchange(7);
    let (c, _, _) = exchange(8);
    assert_eq!(a, b);
    assert_eq!(ka, kb);
    assert_ne!(a, c);
}

#[test]
fn second_connection_is_refused_with_connection_refused() {
    let mut w = world(3, Transport::default());
    w.server.set_admission(Admission::AcceptOne);
    let first = w
        .client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    w.run_until(Instant::from_millis(100));
    let second = w.client.connect(w.now(), addr(SERVER)).expect("connect");
    w.run_until(Instant::from_millis(300));
    assert!(
        server_log(&w).iter().any(|e| e.starts_with("Refused")),
        "{:?}",
        server_log(&w)
    );
    assert!(
        client_log(&w)
            .iter()
            .any(|e| e == &format!("{second} ended transport code 0x2 \"\" by_peer=true")),
        "{:?}",
        client_log(&w)
    );
    assert!(w.client.live().contains(&first));
}

#[test]
fn idle_timeout_in_virtual_time() {
    let transport = Transport {
        idle_timeout: Some(Duration::from_secs(5)),
        ..Transport::default()
    };
    let mut w = world(4, transport);
    w.client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    w.run_until(Instant::from_millis(60_000));
    assert!(
        client_log(&w)
            .iter()
            .any(|e| e.contains(&Close::TimedOut.to_string())),
        "{:?}",
        client_log(&w)
    );
    assert!(w.client.is_idle() && w.server.is_idle());
}

/// quinn keeps an idle connection for at least three probe timeouts (RFC 9000 §10.1): over a slow
/// path (400 ms each way, as a loaded machine's handshake measured) the client notices the silence
/// seconds past the 5 s idle timeout, and `idle_notice_lateness` says by how much at most — so a
/// real-time window widened by it still holds the notice. On a quick path it is zero.
#[test]
fn a_slow_path_makes_the_idle_notice_late_by_at_most_the_lateness_reported() {
    let idle = Duration::from_secs(5);
    let transport = Transport {
        idle_timeout: Some(idle),
        ..Transport::default()
    };
    let mut quick = world(5, transport.clone());
    quick
        .client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    quick.run_until(Instant::from_millis(1_000));
    assert_eq!(quick.client.idle_notice_lateness(), Duration::ZERO);

    let mut slow = world(5, transport);
    slow.set_latency(Duration::from_millis(400));
    slow.client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    slow.run_until(Instant::from_millis(4_000));
    let lateness = slow.client.idle_notice_lateness();
    assert!(lateness > Duration::ZERO);
    let mut noticed = None;
    let mut t = 4_000;
    while noticed.is_none() && t < 60_000 {
        t += 10;
        slow.run_until(Instant::from_millis(t));
        if client_log(&slow)
            .iter()
            .any(|e| e.contains(&Close::TimedOut.to_string()))
        {
            noticed = Some(slow.now());
        }
    }
    let noticed = noticed.expect("the client notices the idle timeout");
    let silent_for = noticed.saturating_duration_since(client_active(&slow));
    assert!(
        silent_for > idle,
        "noticed after {silent_for:?}: no floor to cover"
    );
    assert!(
        silent_for <= idle + lateness + Duration::from_millis(10),
        "noticed after {silent_for:?}, idle {idle:?} + reported lateness {lateness:?}"
    );
}

/// A peer that opens connection after connection with valid Initials (fresh connection ids each)
/// and never completes one: the server answers [`MAX_HANDSHAKES`] of them and drops the rest
/// unanswered, keeping no state for them and counting them.
#[test]
fn new_connections_past_the_handshake_limit_are_dropped_and_counted() {
    use handshake_quic::host::MAX_HANDSHAKES;
    const EXTRA: usize = 5;
    let mut client = host(5, false, Transport::default());
    let mut server = host(5, true, Transport::default());
    for _ in 0..MAX_HANDSHAKES + EXTRA {
        client
            .connect(Instant::ZERO, addr(SERVER))
            .expect("connect");
    }
    client.drive(Instant::ZERO);
    while let Some((_, datagram)) = client.poll_transmit() {
        server.handle_datagram(Instant::ZERO, addr(CLIENT), &datagram);
    }
    let mut accepted = 0;
    while let Some(e) = server.poll_event() {
        accepted += usize::from(matches!(e, QuicEvent::Accepted { .. }));
    }
    assert_eq!(accepted, MAX_HANDSHAKES);
    assert_eq!(server.live().len(), MAX_HANDSHAKES);
    assert_eq!(server.turned_away(), EXTRA as u64);
}
