//! WtSessions client ↔ WtSessions server in virtual time: session, streams both ways, FIN,
//! datagrams, reset and stop codes in both `ResetCodes` modes, the close capsule, HTTP/3 error
//! checks, determinism.

mod common;

use std::time::Duration;

use common::{
    addr, client_events, datagrams, server_echo, server_events, stream_bytes, streams, wire, world,
    World, SERVER,
};
use handshake_core::Instant;
use handshake_quic::session::{ResetCodes, SessionEvent, Sessions};
use handshake_quic::{Close, Seed, Transport};
use handshake_webtransport::{WtConfig, WtSessions};
use handshake_webtransport_wire::error_code::{self, h3};
use handshake_webtransport_wire::frame::Settings;
use handshake_webtransport_wire::qpack::Field;
use handshake_webtransport_wire::Frame;

fn pair(seed: u64, client: WtConfig, server: WtConfig) -> World<WtSessions, WtSessions> {
    let c = WtSessions::build(
        Seed::derive(seed, "client"),
        Transport::default(),
        false,
        client,
    )
    .expect("client");
    let s = WtSessions::build(
        Seed::derive(seed, "server"),
        Transport::default(),
        true,
        server,
    )
    .expect("server");
    world(c, s)
}

fn opened(events: &[SessionEvent]) -> Option<String> {
    events.iter().find_map(|e| match e {
        SessionEvent::Opened { path, .. } => Some(path.clone()),
        _ => None,
    })
}

fn closed(events: &[SessionEvent]) -> Option<(Close, bool)> {
    events.iter().find_map(|e| match e {
        SessionEvent::Closed { close, by_peer, .. } => Some((close.clone(), *by_peer)),
        _ => None,
    })
}

/// Opens a session on `/media`; returns the world and the client's session (= connection) id.
fn open_session(seed: u64, codes: ResetCodes) -> (World<WtSessions, WtSessions>, u32) {
    let mut w = pair(
        seed,
        WtConfig::with_reset_codes(codes),
        WtConfig::with_reset_codes(codes),
    );
    server_echo(&mut w, true);
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER), "/media")
        .expect("connect");
    w.run_for(Duration::from_millis(100));
    assert_eq!(
        opened(&client_events(&w)).as_deref(),
        Some("/media"),
        "{:?}",
        client_events(&w)
    );
    assert_eq!(
        opened(&server_events(&w)).as_deref(),
        Some("/media"),
        "{:?}",
        server_events(&w)
    );
    assert_eq!(w.client.session_id(conn), Some(0));
    assert_eq!(w.server.session_id(0), Some(0));
    assert_eq!(
        w.client
            .peer_settings(conn)
            .map(Settings::webtransport_sessions),
        Some(1)
    );
    (w, conn)
}

/// The whole exchange; returns every datagram on the wire.
fn exchange(seed: u64) -> Vec<(bool, Vec<u8>)> {
    let (mut w, conn) = open_session(seed, ResetCodes::Mapped);

    // Client → server: a uni stream and a bidi stream (echoed), with FIN.
    let uni = w.client.open(conn, false).expect("uni");
    let bidi = w.client.open(conn, true).expect("bidi");
    assert_eq!(
        (uni, bidi),
        (6, 4),
        "client streams after the control stream 2 and CONNECT 0"
    );
    w.client.write(conn, uni, b"hello over uni");
    w.client.finish(conn, uni);
    w.client.write(conn, bidi, b"ping ");
    w.run_for(Duration::from_millis(50));
    w.client.write(conn, bidi, b"pong");
    w.client.finish(conn, bidi);
    // Server → client: uni and bidi.
    let s_uni = w.server.open(0, false).expect("server uni");
    let s_bidi = w.server.open(0, true).expect("server bidi");
    w.server.write(0, s_uni, b"from the server");
    w.server.finish(0, s_uni);
    w.server.write(0, s_bidi, b"server bidi");
    w.server.finish(0, s_bidi);
    // Datagrams both ways.
    assert!(w.client.send_datagram(conn, b"dgram up"));
    assert!(w.server.send_datagram(0, b"dgram down"));
    w.run_for(Duration::from_millis(100));

    assert_eq!(
        stream_bytes(&server_events(&w), uni),
        (b"hello over uni".to_vec(), true)
    );
    assert_eq!(
        stream_bytes(&server_events(&w), bidi),
        (b"ping pong".to_vec(), true)
    );
    assert_eq!(
        stream_bytes(&client_events(&w), bidi),
        (b"ping pong".to_vec(), true),
        "echo"
    );
    assert_eq!(
        stream_bytes(&client_events(&w), s_uni),
        (b"from the server".to_vec(), true)
    );
    assert_eq!(
        stream_bytes(&client_events(&w), s_bidi),
        (b"server bidi".to_vec(), true)
    );
    // No HTTP/3 stream (control 2/3, CONNECT 0) ever reaches the application.
    let sorted = |mut v: Vec<u64>| {
        v.sort_unstable();
        v
    };
    assert_eq!(sorted(streams(&server_events(&w))), vec![bidi, uni]);
    assert_eq!(
        sorted(streams(&client_events(&w))),
        sorted(vec![bidi, s_bidi, s_uni])
    );
    assert_eq!(datagrams(&server_events(&w)), vec![b"dgram up".to_vec()]);
    assert_eq!(datagrams(&client_events(&w)), vec![b"dgram down".to_vec()]);

    // Close: the capsule reaches the server, then the connection ends quietly.
    w.client.close(w.now(), conn, 42, "bye");
    w.run_for(Duration::from_millis(2_000));
    assert_eq!(
        closed(&client_events(&w)),
        Some((
            Close::Application {
                code: 42,
                reason: "bye".into()
            },
            false
        ))
    );
    assert_eq!(
        closed(&server_events(&w)),
        Some((
            Close::Application {
                code: 42,
                reason: "bye".into()
            },
            true
        )),
        "{:?}",
        server_events(&w)
    );
    let closes = server_events(&w)
        .iter()
        .chain(&client_events(&w))
        .filter(|e| matches!(e, SessionEvent::Closed { .. }))
        .count();
    assert_eq!(closes, 2, "one Closed per side");
    assert!(w.client.host_mut().live().is_empty());
    assert!(w.server.host_mut().live().is_empty());
    wire(&w)
}

#[test]
fn session_streams_datagrams_and_close() {
    exchange(1);
}

#[test]
fn same_seed_same_bytes() {
    let a = exchange(5);
    let b = exchange(5);
    assert_eq!(a.len(), b.len());
    assert!(a == b, "same seed, same inputs: identical datagrams");
    let c = exchange(6);
    assert!(a != c);
}

fn resets_and_stops(codes: ResetCodes) {
    let (mut w, conn) = open_session(3, codes);
    let wire = |c: u32| match codes {
        ResetCodes::Mapped => error_code::to_http3(c),
        ResetCodes::Raw => u64::from(c),
    };
    // Client resets a uni stream it sends on (after its prefix went out).
    let uni = w.client.open(conn, false).expect("uni");
    w.client.write(conn, uni, b"x");
    // Server resets a stream it sends on.
    let s_uni = w.server.open(0, false).expect("uni");
    w.server.write(0, s_uni, b"y");
    // Client asks the server to stop sending on a server bidi; server asks the client to stop.
    let s_bidi = w.server.open(0, true).expect("bidi");
    w.server.write(0, s_bidi, b"z");
    let bidi = w.client.open(conn, true).expect("bidi");
    w.client.write(conn, bidi, b"w");
    server_echo(&mut w, false);
    w.run_for(Duration::from_millis(50));
    w.client.reset(conn, uni, 7);
    w.server.reset(0, s_uni, 0x1e);
    w.client.stop(conn, s_bidi, 9);
    w.server.stop(0, bidi, 1_000_000);
    w.run_for(Duration::from_millis(100));

    let find = |events: &[SessionEvent], reset: bool, stream: u64| {
        events.iter().find_map(|e| match e {
            SessionEvent::Reset {
                stream: s,
                code,
                wire,
                ..
            } if reset && *s == stream => Some((*code, *wire)),
            SessionEvent::Stopped {
                stream: s,
                code,
                wire,
                ..
            } if !reset && *s == stream => Some((*code, *wire)),
            _ => None,
        })
    };
    assert_eq!(
        find(&server_events(&w), true, uni),
        Some((Some(7), wire(7))),
        "{:?}",
        server_events(&w)
    );
    assert_eq!(
        find(&client_events(&w), true, s_uni),
        Some((Some(0x1e), wire(0x1e)))
    );
    assert_eq!(
        find(&server_events(&w), false, s_bidi),
        Some((Some(9), wire(9)))
    );
    assert_eq!(
        find(&client_events(&w), false, bidi),
        Some((Some(1_000_000), wire(1_000_000)))
    );
}

#[test]
fn reset_and_stop_codes_mapped() {
    resets_and_stops(ResetCodes::Mapped);
}

#[test]
fn reset_and_stop_codes_raw() {
    resets_and_stops(ResetCodes::Raw);
}

#[test]
fn mapped_side_reads_a_raw_code_as_none() {
    let mut w = pair(
        4,
        WtConfig::with_reset_codes(ResetCodes::Raw),
        WtConfig::with_reset_codes(ResetCodes::Mapped),
    );
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(100));
    let uni = w.client.open(conn, false).expect("uni");
    w.client.write(conn, uni, b"x");
    w.run_for(Duration::from_millis(50));
    w.client.reset(conn, uni, 5);
    w.run_for(Duration::from_millis(50));
    assert!(server_events(&w).iter().any(|e| matches!(
        e,
        SessionEvent::Reset {
            code: None,
            wire: 5,
            ..
        }
    )));
}

#[test]
fn server_closes_and_client_sees_capsule() {
    let (mut w, _) = open_session(8, ResetCodes::Mapped);
    w.server.close(w.now(), 0, 0, "replaced");
    w.run_for(Duration::from_millis(2_000));
    assert_eq!(
        closed(&client_events(&w)),
        Some((
            Close::Application {
                code: 0,
                reason: "replaced".into()
            },
            true
        ))
    );
}

/// A server that never sends SETTINGS first: the client closes with H3_MISSING_SETTINGS.
#[test]
fn control_stream_without_settings_is_missing_settings() {
    let mut w = pair(
        9,
        WtConfig::default(),
        WtConfig {
            control_stream: false,
            ..WtConfig::default()
        },
    );
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(100));
    // The server's own control stream, written by hand: type 0x00, then a GOAWAY first.
    let host = w.server.host_mut();
    let c = host.connection(0).expect("connection");
    let id = c
        .streams()
        .open(handshake_quic::quinn_proto::Dir::Uni)
        .expect("uni");
    let mut bytes = vec![0x00];
    Frame::Goaway(0u32.into()).emit(&mut bytes);
    c.send_stream(id).write(&bytes).expect("write");
    w.run_for(Duration::from_millis(100));
    assert_eq!(
        closed(&client_events(&w)),
        Some((
            Close::Application {
                code: h3::MISSING_SETTINGS,
                reason: "first control frame is not SETTINGS".into()
            },
            false
        ))
    );
    let _ = conn;
}

#[test]
fn reserved_setting_is_settings_error() {
    let mut settings = Settings::webtransport(1);
    settings.push(0x02, 1).expect("push");
    let mut w = pair(
        10,
        WtConfig::default(),
        WtConfig {
            settings,
            ..WtConfig::default()
        },
    );
    w.client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(200));
    assert!(matches!(
        closed(&client_events(&w)),
        Some((
            Close::Application {
                code: h3::SETTINGS_ERROR,
                ..
            },
            false
        ))
    ));
    assert!(matches!(
        closed(&server_events(&w)),
        Some((
            Close::Application {
                code: h3::SETTINGS_ERROR,
                ..
            },
            true
        ))
    ));
}

#[test]
fn second_settings_is_frame_unexpected() {
    let extra = Frame::Settings(Settings::webtransport(1)).to_vec();
    let mut w = pair(
        11,
        WtConfig {
            control_extra: vec![extra],
            ..WtConfig::default()
        },
        WtConfig::default(),
    );
    w.client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(200));
    assert!(
        matches!(
            closed(&server_events(&w)),
            Some((
                Close::Application {
                    code: h3::FRAME_UNEXPECTED,
                    ..
                },
                false
            ))
        ),
        "{:?}",
        server_events(&w)
    );
}

#[test]
fn non_webtransport_connect_gets_501_and_no_session() {
    let mut w = pair(
        12,
        WtConfig {
            connect_headers: Some(vec![
                Field::new(":method", "CONNECT"),
                Field::new(":authority", "localhost"),
            ]),
            ..WtConfig::default()
        },
        WtConfig::default(),
    );
    w.client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(200));
    assert_eq!(opened(&server_events(&w)), None);
    assert_eq!(
        closed(&client_events(&w)),
        Some((Close::Other("CONNECT answered \"501\"".into()), true))
    );
}

#[test]
fn huffman_headers_and_fin_of_connect_stream_close_the_session() {
    let mut w = pair(
        13,
        WtConfig {
            huffman: true,
            ..WtConfig::default()
        },
        WtConfig {
            huffman: true,
            ..WtConfig::default()
        },
    );
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER), "/huffman/path")
        .expect("connect");
    w.run_for(Duration::from_millis(100));
    assert_eq!(opened(&server_events(&w)).as_deref(), Some("/huffman/path"));
    assert!(opened(&client_events(&w)).is_some());
    // FIN on the CONNECT stream with no capsule: a clean close with code 0.
    w.client.finish(conn, 0);
    w.run_for(Duration::from_millis(100));
    assert_eq!(
        closed(&server_events(&w)),
        Some((
            Close::Application {
                code: 0,
                reason: String::new()
            },
            true
        ))
    );
}

#[test]
fn client_waits_for_settings_that_enable_extended_connect() {
    let no_connect = Settings(
        Settings::webtransport(1)
            .0
            .into_iter()
            .filter(|(id, _)| id.get() != 0x08)
            .collect(),
    );
    let server = WtConfig {
        settings: no_connect,
        ..WtConfig::default()
    };
    let mut w = pair(14, WtConfig::default(), server.clone());
    w.client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(200));
    assert_eq!(opened(&server_events(&w)), None);
    assert!(
        matches!(closed(&client_events(&w)), Some((Close::Other(_), true))),
        "{:?}",
        client_events(&w)
    );
    // A client that does not wait (as aioquic's) opens the session all the same.
    let mut w = pair(
        14,
        WtConfig {
            wait_for_settings: false,
            ..WtConfig::default()
        },
        server,
    );
    w.client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(200));
    assert!(opened(&server_events(&w)).is_some());
    assert!(opened(&client_events(&w)).is_some());
}

#[test]
fn stream_for_another_session_is_refused() {
    use handshake_quic::quinn_proto::{Dir, WriteError};
    let (mut w, conn) = open_session(15, ResetCodes::Mapped);
    let c = w.client.host_mut().connection(conn).expect("connection");
    let id = c.streams().open(Dir::Uni).expect("uni");
    // 0x54 (two-byte varint), session id 4 (no such session), then bytes.
    c.send_stream(id)
        .write(&[0x40, 0x54, 0x04, b'x'])
        .expect("write");
    w.run_for(Duration::from_millis(100));
    assert!(!streams(&server_events(&w)).contains(&u64::from(id)));
    let c = w.client.host_mut().connection(conn).expect("connection");
    match c.send_stream(id).write(b"more") {
        Err(WriteError::Stopped(code)) => {
            assert_eq!(
                code.into_inner(),
                handshake_webtransport::WT_BUFFERED_STREAM_REJECTED
            )
        }
        other => panic!("expected STOP_SENDING, got {other:?}"),
    }
}

#[test]
fn datagram_for_another_session_is_dropped_malformed_one_is_datagram_error() {
    let (mut w, conn) = open_session(16, ResetCodes::Mapped);
    let c = w.client.host_mut().connection(conn).expect("connection");
    // Quarter id 1 = session 4: not ours. Then ours, to show delivery still works.
    c.datagrams()
        .send(vec![0x01, b'n', b'o'].into(), true)
        .expect("datagram");
    c.datagrams()
        .send(vec![0x00, b'o', b'k'].into(), true)
        .expect("datagram");
    w.run_for(Duration::from_millis(100));
    assert_eq!(datagrams(&server_events(&w)), vec![b"ok".to_vec()]);
    // A datagram with no complete varint.
    let c = w.client.host_mut().connection(conn).expect("connection");
    c.datagrams()
        .send(vec![0x40].into(), true)
        .expect("datagram");
    w.run_for(Duration::from_millis(100));
    assert!(
        matches!(
            closed(&server_events(&w)),
            Some((
                Close::Application {
                    code: h3::DATAGRAM_ERROR,
                    ..
                },
                false
            ))
        ),
        "{:?}",
        server_events(&w)
    );
    assert!(matches!(
        closed(&client_events(&w)),
        Some((
            Close::Application {
                code: h3::DATAGRAM_ERROR,
                ..
            },
            true
        ))
    ));
}

#[test]
fn dynamic_table_reference_is_qpack_decompression_failed() {
    use handshake_quic::quinn_proto::Dir;
    let (mut w, conn) = open_session(17, ResetCodes::Mapped);
    let c = w.client.host_mut().connection(conn).expect("connection");
    let id = c.streams().open(Dir::Bi).expect("bidi");
    // HEADERS whose field section claims Required Insert Count 1.
    c.send_stream(id)
        .write(&Frame::Headers(&[0x02, 0x00, 0xc0 | 17]).to_vec())
        .expect("write");
    w.run_for(Duration::from_millis(100));
    assert!(
        matches!(
            closed(&server_events(&w)),
            Some((
                Close::Application {
                    code: h3::QPACK_DECOMPRESSION_FAILED,
                    ..
                },
                false
            ))
        ),
        "{:?}",
        server_events(&w)
    );
}

#[test]
fn control_stream_fin_is_closed_critical_stream() {
    use handshake_quic::quinn_proto::Dir;
    let mut w = pair(
        18,
        WtConfig {
            control_stream: false,
            ..WtConfig::default()
        },
        WtConfig::default(),
    );
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER), "/")
        .expect("connect");
    w.run_for(Duration::from_millis(100));
    let c = w.client.host_mut().connection(conn).expect("connection");
    let id = c.streams().open(Dir::Uni).expect("uni");
    let mut bytes = vec![0x00];
    Frame::Settings(Settings::webtransport(1)).emit(&mut bytes);
    c.send_stream(id).write(&bytes).expect("write");
    c.send_stream(id).finish().expect("finish");
    w.run_for(Duration::from_millis(100));
    assert!(
        matches!(
            closed(&server_events(&w)),
            Some((
                Close::Application {
                    code: h3::CLOSED_CRITICAL_STREAM,
                    ..
                },
                false
            ))
        ),
        "{:?}",
        server_events(&w)
    );
}

#[test]
fn second_connect_on_a_connection_gets_429() {
    use handshake_quic::quinn_proto::Dir;
    use handshake_webtransport_wire::qpack::{webtransport_connect, FieldSection};
    let (mut w, conn) = open_session(19, ResetCodes::Mapped);
    let c = w.client.host_mut().connection(conn).expect("connection");
    let id = c.streams().open(Dir::Bi).expect("bidi");
    let section = FieldSection::encode(&webtransport_connect("localhost", "/again")).to_vec();
    c.send_stream(id)
        .write(&Frame::Headers(&section).to_vec())
        .expect("write");
    w.run_for(Duration::from_millis(100));
    // The answer arrives on the client's QUIC stream, which the client reads as its own
    // (not a WebTransport stream): read it from the host.
    let c = w.client.host_mut().connection(conn).expect("connection");
    let out = handshake_quic::streams::read(c, handshake_quic::streams::stream_id(u64::from(id)));
    let answer = handshake_webtransport_wire::Frame::parse(&out.data, 1 << 16)
        .expect("frame")
        .0;
    let Frame::Headers(section) = answer else {
        panic!("{answer:?}")
    };
    let fields = FieldSection::parse(section)
        .expect("qpack")
        .fields()
        .expect("fields");
    assert_eq!(fields, vec![Field::new(":status", "429")]);
    assert!(out.fin);
    assert_eq!(
        server_events(&w)
            .iter()
            .filter(|e| matches!(e, SessionEvent::Opened { .. }))
            .count(),
        1
    );
}

/// A WebTransport stream and a datagram that overtake the CONNECT's answer are held and reported
/// after `Opened`; a stream naming another session is refused once the session is known.
#[test]
fn early_streams_and_datagrams_are_held_until_the_session_opens() {
    use handshake_quic::quinn_proto::{Dir, WriteError};
    let mut w = pair(20, WtConfig::default(), WtConfig::default());
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER), "/early")
        .expect("connect");
    // The server's handshake completes at 30 ms; the client's CONNECT waits for the server's
    // SETTINGS (40 ms), the 200 reaches the client at 60 ms.
    w.run_until(Instant::from_millis(32));
    assert_eq!(opened(&server_events(&w)), None);
    let c = w.server.host_mut().connection(0).expect("connection");
    let early = c.streams().open(Dir::Uni).expect("uni");
    c.send_stream(early)
        .write(&[0x40, 0x54, 0x00, b'e', b'a', b'r', b'l', b'y'])
        .expect("write");
    c.send_stream(early).finish().expect("finish");
    let foreign = c.streams().open(Dir::Uni).expect("uni");
    c.send_stream(foreign)
        .write(&[0x40, 0x54, 0x04, b'x'])
        .expect("write");
    c.datagrams()
        .send(vec![0x00, b'd'].into(), true)
        .expect("datagram");
    w.run_until(Instant::from_millis(45));
    assert_eq!(opened(&client_events(&w)), None, "{:?}", client_events(&w));
    assert!(
        client_events(&w).is_empty(),
        "held: {:?}",
        client_events(&w)
    );
    w.run_for(Duration::from_millis(100));
    let early = u64::from(early);
    let position = |pred: &dyn Fn(&SessionEvent) -> bool| client_events(&w).iter().position(pred);
    let open_at = position(&|e| matches!(e, SessionEvent::Opened { .. })).expect("opened");
    let data_at = position(&|e| matches!(e, SessionEvent::Data { stream, .. } if *stream == early))
        .expect("data");
    let dgram_at = position(&|e| matches!(e, SessionEvent::Datagram { .. })).expect("datagram");
    assert!(
        open_at < data_at && open_at < dgram_at,
        "{:?}",
        client_events(&w)
    );
    assert_eq!(
        stream_bytes(&client_events(&w), early),
        (b"early".to_vec(), true)
    );
    assert_eq!(datagrams(&client_events(&w)), vec![b"d".to_vec()]);
    assert!(!streams(&client_events(&w)).contains(&u64::from(foreign)));
    let c = w.server.host_mut().connection(0).expect("connection");
    match c.send_stream(foreign).write(b"more") {
        Err(WriteError::Stopped(code)) => {
            assert_eq!(
                code.into_inner(),
                handshake_webtransport::WT_BUFFERED_STREAM_REJECTED
            )
        }
        other => panic!("expected STOP_SENDING, got {other:?}"),
    }
    let _ = conn;
}

/// More than the flow-control windows on a WebTransport stream: queued writes drain as credit
/// returns, the prefix never reaches the application, the bytes arrive exact and in order.
#[test]
fn large_stream_beyond_flow_control_windows() {
    let small = Transport {
        windows: Some(handshake_quic::Windows {
            stream: 64 * 1024,
            connection: 128 * 1024,
        }),
        ..Transport::default()
    };
    let c = WtSessions::build(
        Seed::derive(21, "client"),
        small.clone(),
        false,
        WtConfig::default(),
    )
    .expect("client");
    let s = WtSessions::build(Seed::derive(21, "server"), small, true, WtConfig::default())
        .expect("server");
    let mut w = world(c, s);
    let conn = w
        .client
        .connect(Instant::ZERO, addr(SERVER), "/bulk")
        .expect("connect");
    w.run_for(Duration::from_millis(100));
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let uni = w.client.open(conn, false).expect("uni");
    w.client.write(conn, uni, &payload);
    w.client.finish(conn, uni);
    w.run_for(Duration::from_secs(5));
    let (got, fin) = stream_bytes(&server_events(&w), uni);
    assert_eq!(got.len(), payload.len());
    assert!(got == payload && fin);
}
