//! Two hosts on a lossless virtual wire: handshake, a stream exchange, refusal, idle timeout,
//! and byte-identical datagrams for the same seed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
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

/// Runs both hosts until `until` (virtual), delivering every datagram after `LATENCY`; the
/// server echoes stream data; returns (every datagram, client events, server events).
struct World {
    client: QuicHost,
    server: QuicHost,
    now: Instant,
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
    /// One-way delay of every datagram.
    latency: Duration,
    /// When the client last sent or received a datagram.
    client_active: Instant,
    wire: Vec<Vec<u8>>,
    client_events: Vec<String>,
    server_events: Vec<String>,
}

impl World {
    fn new(seed: u64, transport: Transport) -> World {
        World {
            client: host(seed, false, transport.clone()),
            server: host(seed, true, transport),
            now: Instant::ZERO,
            in_flight: Vec::new(),
            latency: LATENCY,
            client_active: Instant::ZERO,
            wire: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    fn settle(&mut self) {
        for to_server in [false, true] {
            let h = if to_server {
                &mut self.client
            } else {
                &mut self.server
            };
            loop {
                let mut any = false;
                while let Some(e) = h.poll_event() {
                    any = true;
                    let log = if to_server {
                        &mut self.client_events
                    } else {
                        &mut self.server_events
                    };
                    log.push(describe(&e));
                    if let QuicEvent::Stream {
                        conn,
                        event: StreamEvent::Readable { id },
                    } = e
                    {
                        if !to_server {
                            echo(h, conn, id);
                        }
                    }
                    if let QuicEvent::Stream {
                        conn,
                        event: StreamEvent::Opened { dir: Dir::Bi },
                    } = e
                    {
                        if let Some(c) = h.connection(conn) {
                            while let Some(id) = c.streams().accept(Dir::Bi) {
                                if !to_server {
                                    echo(h, conn, id);
                                    break;
                                }
                            }
                        }
                    }
                }
                h.drive(self.now);
                if !any {
                    break;
                }
            }
            while let Some((_, bytes)) = h.poll_transmit() {
                self.wire.push(bytes.clone());
                if to_server {
                    self.client_active = self.now;
                }
                self.in_flight
                    .push((self.now + self.latency, to_server, bytes));
            }
        }
    }

    fn run_until(&mut self, until: Instant) {
        loop {
            self.settle();
            let next_arrival = self.in_flight.iter().map(|f| f.0).min();
            let next_timer = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = [next_arrival, next_timer].into_iter().flatten().min() else {
                return;
            };
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            let (due, later): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|f| f.0 <= next);
            self.in_flight = later;
            for (_, to_server, bytes) in due {
                if to_server {
                    self.server.handle_datagram(next, addr(CLIENT), &bytes);
                } else {
                    self.client_active = next;
                    self.client.handle_datagram(next, addr(SERVER), &bytes);
                }
            }
            self.client.handle_timeout(next);
            self.server.handle_timeout(next);
        }
    }
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
    let mut w = World::new(seed, Transport::default());
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
    w.client.close(w.now, conn, 0, "done");
    w.run_until(Instant::from_millis(1_000));
    let keys = w.client.key_log();
    (w.wire.clone(), keys, w)
}

#[test]
fn handshake_stream_and_close() {
    let (wire, keys, w) = exchange(1);
    assert!(
        w.client_events.iter().any(|e| e.contains("Connected")),
        "{:?}",
        w.client_events
    );
    assert!(
        w.server_events
            .iter()
            .any(|e| e.contains("ended application code 0") && e.contains("by_peer=true")),
        "{:?}",
        w.server_events
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
    let mut w = World::new(3, Transport::default());
    w.server.set_admission(Admission::AcceptOne);
    let first = w
        .client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    w.run_until(Instant::from_millis(100));
    let second = w.client.connect(w.now, addr(SERVER)).expect("connect");
    w.run_until(Instant::from_millis(300));
    assert!(
        w.server_events.iter().any(|e| e.starts_with("Refused")),
        "{:?}",
        w.server_events
    );
    assert!(
        w.client_events
            .iter()
            .any(|e| e == &format!("{second} ended transport code 0x2 \"\" by_peer=true")),
        "{:?}",
        w.client_events
    );
    assert!(w.client.live().contains(&first));
}

#[test]
fn idle_timeout_in_virtual_time() {
    let transport = Transport {
        idle_timeout: Some(Duration::from_secs(5)),
        ..Transport::default()
    };
    let mut w = World::new(4, transport);
    w.client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    w.run_until(Instant::from_millis(60_000));
    assert!(
        w.client_events
            .iter()
            .any(|e| e.contains(&Close::TimedOut.to_string())),
        "{:?}",
        w.client_events
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
    let mut quick = World::new(5, transport.clone());
    quick
        .client
        .connect(Instant::ZERO, addr(SERVER))
        .expect("connect");
    quick.run_until(Instant::from_millis(1_000));
    assert_eq!(quick.client.idle_notice_lateness(), Duration::ZERO);

    let mut slow = World::new(5, transport);
    slow.latency = Duration::from_millis(400);
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
        if slow
            .client_events
            .iter()
            .any(|e| e.contains(&Close::TimedOut.to_string()))
        {
            noticed = Some(slow.now);
        }
    }
    let noticed = noticed.expect("the client notices the idle timeout");
    let silent_for = noticed.saturating_duration_since(slow.client_active);
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
