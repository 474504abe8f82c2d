//! The judge on captures made here: two QUIC hosts on a virtual wire, a minimal Proton server and
//! a scripted client written in this test (not the reference endpoints: the judge must stay
//! independent of them), written as pcapng with the client's key log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_capture::{CaptureFormat, CaptureWriter};
use handshake_core::Instant;
use handshake_proton_judge::{judge, rules, Options, ProfileView, Report, Side};
use handshake_quic::pair::{Pair, PairConfig, Peer};
use handshake_quic::quinn_proto::{Dir, StreamEvent, StreamId};
use handshake_quic::{Admission, ConnId, HostConfig, KeyLog, QuicEvent, QuicHost, Seed, Transport};

const CLIENT: &str = "192.0.2.1:50000";
const SERVER: &str = "192.0.2.2:5000";
const LATENCY: Duration = Duration::from_millis(5);
/// Capture times start here (ns since the epoch).
const EPOCH_NS: u64 = 1_700_000_000_000_000_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn host(seed: u64, server: bool) -> QuicHost {
    QuicHost::new(&HostConfig {
        seed: Seed::derive(seed, if server { "server" } else { "client" }),
        alpn: vec![b"proton".to_vec()],
        transport: Transport {
            max_bidi: 3,
            ..Transport::default()
        },
        server,
        key_log: Arc::new(KeyLog::default()),
    })
    .expect("host")
}

/// How the test server goes wrong.
#[derive(Clone, Copy, Debug, Default)]
struct Flaws {
    /// StateCommit answers r × 2 (the README's example) instead of r + 2.
    commit_times_two: bool,
    /// Echoes every event id, in order or not.
    no_order_check: bool,
    /// The close code after an event id out of order (right: 5, the profile's; any close ends
    /// the connection, the fact).
    order_code: Option<u64>,
    /// StateCommit answers r + 3: neither reading.
    commit_plus_three: bool,
    /// The close code after a FIN at a u32 boundary (right: 5, P5).
    fin_code: Option<u64>,
    /// The close code after a bad discriminator (right: 1).
    bad_disc_code: Option<u64>,
    /// Closes with this code as soon as the three streams are set up.
    close_after_setup: Option<u64>,
    /// The close code after a FIN or RESET_STREAM before a discriminator (right: 1, P5).
    setup_end_code: Option<u64>,
    /// Answers every RESET_STREAM at once with this code, set up or not (right: 5 after the
    /// setup, H7; 1 before it, P5).
    reset_code: Option<u64>,
}

struct ServedStream {
    id: StreamId,
    buf: Vec<u8>,
    disc: Option<u8>,
    fin: bool,
    /// Reset by the client (what it held is gone, as quinn discards it).
    reset: bool,
}

/// A minimal Proton server (facts, P5 + H2–H7), for one connection.
#[derive(Default)]
struct Proto {
    flaws: Flaws,
    conn: Option<ConnId>,
    streams: Vec<ServedStream>,
    used: Vec<u8>,
    last_event: Option<u32>,
    actions: u32,
    done: bool,
}

/// What arrived on `id`: the bytes, a FIN, a reset.
fn read_all(
    c: &mut handshake_quic::quinn_proto::Connection,
    id: StreamId,
) -> (Vec<u8>, bool, bool) {
    let mut data = Vec::new();
    let (mut fin, mut reset) = (false, false);
    if let Ok(mut chunks) = c.recv_stream(id).read(true) {
        loop {
            match chunks.next(usize::MAX) {
                Ok(Some(chunk)) => data.extend_from_slice(&chunk.bytes),
                Ok(None) => {
                    fin = true;
                    break;
                }
                Err(handshake_quic::quinn_proto::ReadError::Reset(_)) => {
                    reset = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let _ = chunks.finalize();
    }
    (data, fin, reset)
}

impl Proto {
    fn step(&mut self, host: &mut QuicHost, now: Instant) {
        if let Some(code) = self.serve(host) {
            if let Some(conn) = self.conn {
                host.close(now, conn, code, "test server");
            }
            self.done = true;
        }
    }

    /// `Some(code)`: close.
    fn serve(&mut self, host: &mut QuicHost) -> Option<u64> {
        if self.done {
            return None;
        }
        let c = host.connection(self.conn?)?;
        for s in &mut self.streams {
            if s.reset {
                continue;
            }
            let (data, fin, reset) = read_all(c, s.id);
            s.buf.extend_from_slice(&data);
            s.fin |= fin;
            if reset {
                if let Some(code) = self.flaws.reset_code {
                    return Some(code);
                }
                if s.disc.is_some() {
                    return Some(5);
                }
                s.reset = true;
                s.buf.clear();
            }
        }
        for s in self.streams.iter_mut().take(3) {
            if s.disc.is_some() {
                continue;
            }
            if s.reset {
                return Some(self.flaws.setup_end_code.unwrap_or(1));
            }
            let Some(&b) = s.buf.first() else {
                return s.fin.then_some(self.flaws.setup_end_code.unwrap_or(1));
            };
            s.buf.remove(0);
            if !(1..=3).contains(&b) || self.used.contains(&b) {
                return Some(self.flaws.bad_disc_code.unwrap_or(1));
            }
            self.used.push(b);
            s.disc = Some(b);
        }
        if self.used.len() < 3 {
            return None;
        }
        if let Some(code) = self.flaws.close_after_setup {
            return Some(code);
        }
        for s in self.streams.iter_mut().take(3) {
            let mut out = Vec::new();
            while s.buf.len() >= 4 {
                let v = u32::from_le_bytes([s.buf[0], s.buf[1], s.buf[2], s.buf[3]]);
                s.buf.drain(..4);
                let answer = match s.disc {
                    Some(1) => {
                        if !self.flaws.no_order_check && self.last_event.is_some_and(|l| v <= l)
                            || v == 0
                        {
                            return Some(self.flaws.order_code.unwrap_or(5));
                        }
                        self.last_event = Some(v);
                        v
                    }
                    Some(2) if self.flaws.commit_times_two => v.wrapping_mul(2),
                    Some(2) if self.flaws.commit_plus_three => v.wrapping_add(3),
                    Some(2) => v.checked_add(2)?,
                    _ => {
                        self.actions += 1;
                        self.actions - 1
                    }
                };
                out.extend_from_slice(&answer.to_le_bytes());
            }
            if !out.is_empty() {
                let _ = c.send_stream(s.id).write(&out);
            }
            if s.fin {
                return Some(if s.buf.is_empty() {
                    self.flaws.fin_code.unwrap_or(5)
                } else {
                    5
                });
            }
        }
        None
    }
}

/// The test server on a [`Pair`]: its host, with [`Proto`] reading what each event brings and
/// answering before the host sends.
struct ServerPeer {
    host: QuicHost,
    proto: Proto,
}

impl Peer for ServerPeer {
    type Event = QuicEvent;
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.host.handle_datagram(now, source, payload);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.host.handle_timeout(now);
    }
    fn poll_event(&mut self) -> Option<QuicEvent> {
        let event = self.host.poll_event()?;
        match &event {
            QuicEvent::Accepted { conn, .. } if self.proto.conn.is_none() => {
                self.proto.conn = Some(*conn)
            }
            QuicEvent::Stream {
                conn,
                event: StreamEvent::Opened { dir: Dir::Bi },
            } if Some(*conn) == self.proto.conn => {
                if let Some(c) = self.host.connection(*conn) {
                    while let Some(id) = c.streams().accept(Dir::Bi) {
                        self.proto.streams.push(ServedStream {
                            id,
                            buf: Vec::new(),
                            disc: None,
                            fin: false,
                            reset: false,
                        });
                    }
                }
            }
            QuicEvent::Ended { conn, .. } if Some(*conn) == self.proto.conn => {
                self.proto.done = true
            }
            _ => {}
        }
        Some(event)
    }
    /// The test server reads and answers, then the host sends.
    fn drive(&mut self, now: Instant) {
        self.proto.step(&mut self.host, now);
        self.host.drive(now);
    }
    fn has_events(&self) -> bool {
        self.host.has_events()
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.host.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.host.poll_timeout()
    }
}

/// Both hosts on a [`Pair`] (lossless unless a test loses datagrams); the capture is its trace.
struct World {
    pair: Pair<QuicHost, ServerPeer>,
}

impl World {
    fn new(seed: u64, flaws: Flaws) -> World {
        World::with_hosts(host(seed, false), host(seed, true), flaws)
    }

    /// The test server admits one connection unless the test says otherwise.
    fn with_hosts(client: QuicHost, mut server: QuicHost, flaws: Flaws) -> World {
        server.set_admission(Admission::AcceptOne);
        let server = ServerPeer {
            host: server,
            proto: Proto {
                flaws,
                ..Proto::default()
            },
        };
        let config = PairConfig::new(addr(CLIENT), addr(SERVER), LATENCY);
        World {
            pair: Pair::new(config, client, server),
        }
    }

    fn client(&mut self) -> &mut QuicHost {
        &mut self.pair.client
    }

    fn server(&mut self) -> &mut QuicHost {
        &mut self.pair.server.host
    }

    fn now(&self) -> Instant {
        self.pair.now()
    }

    fn settle(&mut self) {
        self.pair.drain();
    }

    fn run_until(&mut self, until_ms: u64) {
        self.pair.run_until(Instant::from_millis(until_ms));
    }

    /// How each of the client's connections ended: "conn close".
    fn client_ended(&self) -> Vec<String> {
        self.pair
            .client_events
            .iter()
            .filter_map(|(_, e)| match e {
                QuicEvent::Ended { conn, close, .. } => Some(format!("{conn} {close}")),
                _ => None,
            })
            .collect()
    }

    fn connect(&mut self) -> ConnId {
        let now = self.now();
        let conn = self.client().connect(now, addr(SERVER)).expect("connect");
        self.settle();
        conn
    }

    /// Opens the three streams and writes `discs` as their first bytes.
    fn open(&mut self, conn: ConnId, discs: [u8; 3]) -> Vec<StreamId> {
        let c = self.client().connection(conn).expect("connection");
        let ids: Vec<StreamId> = discs
            .iter()
            .map(|d| {
                let id = c.streams().open(Dir::Bi).expect("stream");
                c.send_stream(id).write(&[*d]).expect("write");
                id
            })
            .collect();
        self.settle();
        ids
    }

    /// Writes u32 values (nothing once the connection is gone: the server may have closed it).
    fn write(&mut self, conn: ConnId, id: StreamId, values: &[u32]) {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        if let Some(c) = self.client().connection(conn) {
            let _ = c.send_stream(id).write(&bytes);
        }
        self.settle();
    }

    fn fin(&mut self, conn: ConnId, id: StreamId) {
        if let Some(c) = self.client().connection(conn) {
            let _ = c.send_stream(id).finish();
        }
        self.settle();
    }

    fn reset(&mut self, conn: ConnId, id: StreamId) {
        if let Some(c) = self.client().connection(conn) {
            let _ = c
                .send_stream(id)
                .reset(handshake_quic::quinn_proto::VarInt::from_u32(7));
        }
        self.settle();
    }

    fn close(&mut self, conn: ConnId, code: u64) {
        let now = self.now();
        self.client().close(now, conn, code, "done");
        self.settle();
    }

    /// The capture: pcapng with the client's key log (or pcap without, or pcapng without).
    fn capture(&self, format: CaptureFormat, secrets: bool) -> Vec<u8> {
        let mut w = CaptureWriter::with_format(Vec::new(), format).expect("writer");
        if secrets {
            w.write_secrets(&self.pair.client.key_log())
                .expect("secrets");
        }
        for (d, lost) in self.pair.sent() {
            let comment =
                lost.then(|| format!("{}lost by the test", handshake_capture::NOT_DELIVERED));
            w.write_datagram(
                EPOCH_NS + d.at.as_nanos(),
                d.from,
                d.to,
                &d.payload,
                comment.as_deref(),
            )
            .expect("datagram");
        }
        w.finish().expect("finish")
    }

    fn pcapng(&self) -> Vec<u8> {
        self.capture(CaptureFormat::PcapNg, true)
    }
}

/// The whole exchange of H11: 3 events, 3 commits, 3 pulled actions, then `end`.
fn exchange(w: &mut World, discs: [u8; 3], events: &[u32]) -> (ConnId, Vec<StreamId>) {
    let conn = w.connect();
    w.run_until(100);
    let ids = w.open(conn, discs);
    w.run_until(150);
    if let [e, c, a] = ids[..] {
        w.write(conn, e, events);
        w.write(conn, c, &[1, 2, 3]);
        for _ in 0..3 {
            w.write(conn, a, &[42]);
            w.run_until(w.now().as_nanos() / 1_000_000 + 20);
        }
    }
    w.run_until(400);
    (conn, ids)
}

fn options() -> Options {
    Options {
        profile: ProfileView::project(),
        ..Options::default()
    }
}

fn fired(report: &Report) -> Vec<&'static str> {
    let mut ids: Vec<_> = report.violations.iter().map(|v| v.rule).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[test]
fn a_correct_exchange_breaks_no_rule() {
    let mut w = World::new(1, Flaws::default());
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.close(conn, 0);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert!(
        report.violations.is_empty(),
        "{:#?}\n{:?}",
        report.violations,
        report.notes
    );
    assert_eq!(report.undecrypted, 0);
    assert_eq!(report.connections.len(), 1);
    let c = &report.connections[0];
    assert!(c.judged && !c.refused);
    assert_eq!(c.alpn.as_deref(), Some("proton"));
    assert_eq!(c.client, Some(addr(CLIENT)));
    assert_eq!(c.server, Some(addr(SERVER)));
    let ids: Vec<u64> = c.streams.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![0, 4, 8]);
    let ev = &c.streams[0];
    assert_eq!(
        ev.client_bytes,
        [
            &[1u8][..],
            &1u32.to_le_bytes(),
            &2u32.to_le_bytes(),
            &3u32.to_le_bytes()
        ]
        .concat()
    );
    assert_eq!(
        ev.server_bytes,
        [1u32, 2, 3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>()
    );
    let commits: Vec<u8> = [3u32, 4, 5].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(c.streams[1].server_bytes, commits);
    let actions: Vec<u8> = [0u32, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(c.streams[2].server_bytes, actions);
    let close = c.close.as_ref().expect("close");
    assert_eq!(
        (close.by, close.application, close.code),
        (Side::Client, true, 0)
    );
}

/// Lost datagrams (marked `not delivered`) are sent again: the judge reassembles the streams
/// from what arrived, and finds nothing wrong.
#[test]
fn lost_and_resent_datagrams_break_no_rule() {
    let mut w = World::new(16, Flaws::default());
    w.pair.set_lose([7, 9, 10, 12, 15, 18, 21].into());
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.run_until(2_000);
    w.close(conn, 0);
    w.run_until(3_000);
    assert_eq!(w.pair.sent().filter(|(_, lost)| *lost).count(), 7);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    let c = &report.connections[0];
    let actions: Vec<u8> = [0u32, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(c.streams[2].server_bytes, actions);
    assert_eq!(c.streams[0].client_bytes.len(), 13);
}

#[test]
fn the_same_capture_as_classic_pcap_with_a_separate_key_log() {
    let mut w = World::new(2, Flaws::default());
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.close(conn, 0);
    w.run_until(1_000);
    let pcap = w.capture(CaptureFormat::Pcap, false);
    let opts = Options {
        key_log: Some(w.client().key_log()),
        server: Some(addr(SERVER)),
        ..options()
    };
    let report = judge(&pcap, &opts).expect("judged");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert!(report.connections[0].judged);
}

#[test]
fn commit_times_two_breaks_commit_answer() {
    let mut w = World::new(
        3,
        Flaws {
            commit_times_two: true,
            ..Flaws::default()
        },
    );
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.close(conn, 1);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::COMMIT_ANSWER.id],
        "{:#?}",
        report.violations
    );
    let v = &report.violations[0];
    assert!(v.packet > 0 && v.time_ns >= EPOCH_NS, "{v:?}");
    assert!(v.detail.contains("is 2, expected 3"), "{}", v.detail);
}

/// An answer outside both readings (r + 2 as coded, r × 2 in the transcripts) breaks the fact
/// `proton.commit.reading`, and the profile's reading too.
#[test]
fn commit_plus_three_breaks_the_commit_fact() {
    let mut w = World::new(
        3,
        Flaws {
            commit_plus_three: true,
            ..Flaws::default()
        },
    );
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.close(conn, 1);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::COMMIT_ANSWER.id, rules::COMMIT_READING.id],
        "{:#?}",
        report.violations
    );
    let v = report
        .violations
        .iter()
        .find(|v| v.rule == rules::COMMIT_READING.id)
        .expect("the fact");
    assert!(
        v.detail.contains("neither r + 2 (3) nor r × 2 (2)"),
        "{}",
        v.detail
    );
}

/// The connection ended after the violation (the fact): a close code other than 5 is only the
/// profile's `proton.event.order_code`.
#[test]
fn an_order_violation_closed_with_another_code_breaks_only_the_code_rule() {
    let mut w = World::new(
        5,
        Flaws {
            order_code: Some(1),
            ..Flaws::default()
        },
    );
    exchange(&mut w, [1, 2, 3], &[1, 2, 2]);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::CLIENT_EVENT_IDS.id, rules::EVENT_ORDER_CODE.id],
        "{:#?}",
        report.violations
    );
    assert_eq!(rules::EVENT_ORDER_CODE.basis, rules::Basis::Profile);
}

#[test]
fn an_echoed_repeated_event_id_breaks_event_order() {
    let mut w = World::new(
        4,
        Flaws {
            no_order_check: true,
            ..Flaws::default()
        },
    );
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 2]);
    w.close(conn, 1);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    let rules_fired = fired(&report);
    assert!(
        rules_fired.contains(&rules::EVENT_ORDER.id),
        "{:#?}",
        report.violations
    );
    // The client broke the order too.
    assert!(rules_fired.contains(&rules::CLIENT_EVENT_IDS.id));
    assert!(report
        .violations
        .iter()
        .any(|v| v.rule == rules::EVENT_ORDER.id
            && v.detail.contains("echoed 2")
            && v.detail.contains("breaks the order")));
}

#[test]
fn a_server_that_checks_the_order_and_closes_with_5_is_right() {
    let mut w = World::new(5, Flaws::default());
    exchange(&mut w, [1, 2, 3], &[1, 2, 2]);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::CLIENT_EVENT_IDS.id],
        "{:#?}",
        report.violations
    );
    let close = report.connections[0].close.as_ref().expect("close");
    assert_eq!((close.by, close.code), (Side::Server, 5));
}

/// P5 (corrected): the original closes with 5 after a FIN at a u32 boundary; the old reading
/// (0) is a stream error left unanswered.
#[test]
fn closing_with_0_after_a_clean_fin_breaks_close_stream_error() {
    let mut w = World::new(
        6,
        Flaws {
            fin_code: Some(0),
            ..Flaws::default()
        },
    );
    let (conn, ids) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.fin(conn, ids[0]);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::CLOSE_STREAM_ERROR.id],
        "{:#?}",
        report.violations
    );
    assert!(report.connections[0].streams[0].client_fin);
}

#[test]
fn closing_with_5_after_a_clean_fin_is_right() {
    let mut w = World::new(7, Flaws::default());
    let (conn, ids) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.fin(conn, ids[1]);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

/// P5 (corrected): a FIN or a RESET_STREAM before a stream's discriminator fails its setup:
/// close 1; the old reading (5) breaks `proton.close.setup_ended`.
#[test]
fn a_stream_that_ends_before_its_discriminator_closes_with_1() {
    for (reset, code, want) in [
        (false, None, vec![]),
        (true, None, vec![]),
        (false, Some(5), vec![rules::CLOSE_SETUP_ENDED.id]),
        (true, Some(5), vec![rules::CLOSE_SETUP_ENDED.id]),
    ] {
        let mut w = World::new(
            18,
            Flaws {
                setup_end_code: code,
                ..Flaws::default()
            },
        );
        let conn = w.connect();
        w.run_until(100);
        let c = w.client().connection(conn).expect("connection");
        let id = c.streams().open(Dir::Bi).expect("stream");
        if reset {
            // A RESET_STREAM with nothing before it.
            w.reset(conn, id);
        } else {
            w.fin(conn, id);
        }
        w.run_until(1_000);
        let report = judge(&w.pcapng(), &options()).expect("judged");
        let close = report.connections[0].close.as_ref().expect("close");
        assert_eq!(close.code, code.unwrap_or(1), "reset {reset}");
        let mut fired = fired(&report);
        fired.retain(|r| !r.starts_with("proton.client."));
        assert_eq!(fired, want, "reset {reset}: {:#?}", report.violations);
    }
}

/// A RESET_STREAM right behind a stream's discriminator may reach the server before it read the
/// discriminator (quinn then discards it: the setup fails, 1) or after (H7: 5): both are right.
/// Long after the setup only H7's 5 is (a 1 there is a deviation from H7, a profile rule).
#[test]
fn a_reset_after_the_discriminator_closes_with_5_or_if_it_raced_the_setup_1() {
    for (late, code, want) in [
        (false, 5, vec![]),
        (false, 1, vec![]),
        (true, 5, vec![]),
        (true, 1, vec![rules::CLOSE_STREAM_RESET.id]),
    ] {
        let mut w = World::new(
            19,
            Flaws {
                reset_code: Some(code),
                ..Flaws::default()
            },
        );
        let conn = w.connect();
        w.run_until(100);
        let ids = w.open(conn, [1, 2, 3]);
        if late {
            w.run_until(600);
        }
        // Sent with the discriminators (racing the setup), or long after.
        w.reset(conn, ids[1]);
        w.run_until(1_500);
        let opts = Options {
            profile: ProfileView {
                startup_ms: Some(0),
                ..ProfileView::as_coded()
            },
            ..Options::default()
        };
        let report = judge(&w.pcapng(), &opts).expect("judged");
        let close = report.connections[0].close.as_ref().expect("close");
        assert_eq!(close.code, code, "late {late}");
        assert_eq!(
            fired(&report),
            want,
            "late {late}, code {code}: {:#?}",
            report.violations
        );
    }
}

/// A client offering only another protocol: the server refuses the handshake (no ALPN in
/// common), and the capture's ClientHello says why.
#[test]
fn a_client_offering_another_alpn_breaks_client_alpn() {
    let mut w = World::new(22, Flaws::default());
    let now = w.now();
    w.client()
        .connect_alpn(now, addr(SERVER), &[b"proton-rs".to_vec()])
        .expect("connect");
    w.settle();
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::CLIENT_ALPN.id],
        "{:#?}",
        report.violations
    );
}

/// The discriminators each once, but not 1, 2, 3 on streams 0, 4, 8: only H11's order rule.
#[test]
fn discriminators_out_of_order_break_only_the_order_rule() {
    let mut w = World::new(21, Flaws::default());
    let (conn, _) = exchange(&mut w, [1, 3, 2], &[1]);
    w.close(conn, 0);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::CLIENT_DISCRIMINATOR_ORDER.id],
        "{:#?}",
        report.violations
    );
}

#[test]
fn a_bad_discriminator_closed_with_5_breaks_close_bad_discriminator() {
    let mut w = World::new(
        8,
        Flaws {
            bad_disc_code: Some(5),
            ..Flaws::default()
        },
    );
    exchange(&mut w, [7, 2, 3], &[1]);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![
            rules::CLIENT_DISCRIMINATORS.id,
            rules::CLOSE_BAD_DISCRIMINATOR.id
        ],
        "{:#?}",
        report.violations
    );
}

#[test]
fn a_bad_discriminator_closed_with_1_is_right() {
    let mut w = World::new(9, Flaws::default());
    exchange(&mut w, [1, 1, 3], &[1]);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::CLIENT_DISCRIMINATORS.id],
        "{:#?}",
        report.violations
    );
}

/// A close after setup that nothing provoked: 5 (a stream error that did not happen) and 0 (no
/// handler ended cleanly, and P4's reset was not asked for).
#[test]
fn an_unprovoked_close_breaks_close_unprovoked() {
    for (seed, code) in [(10, 5), (20, 0)] {
        let mut w = World::new(
            seed,
            Flaws {
                close_after_setup: Some(code),
                ..Flaws::default()
            },
        );
        exchange(&mut w, [1, 2, 3], &[1]);
        w.run_until(1_000);
        let report = judge(&w.pcapng(), &options()).expect("judged");
        assert_eq!(
            fired(&report),
            vec![rules::CLOSE_UNPROVOKED.id],
            "code {code}: {:#?}",
            report.violations
        );
    }
}

/// An op timeout (4) long before op_ms is a violation only when op_ms is known.
#[test]
fn an_early_op_timeout_is_judged_only_with_the_timer() {
    let mut w = World::new(
        11,
        Flaws {
            close_after_setup: Some(4),
            ..Flaws::default()
        },
    );
    exchange(&mut w, [1, 2, 3], &[1]);
    w.run_until(1_000);
    let cap = w.pcapng();
    let report = judge(&cap, &options()).expect("judged");
    // The connection ended: only its code (the profile's) is wrong.
    assert_eq!(
        fired(&report),
        vec![rules::TIMER_OP_CODE.id],
        "{:#?}",
        report.violations
    );
    let unknown = Options {
        profile: ProfileView {
            op_ms: None,
            ..ProfileView::project()
        },
        ..options()
    };
    let report = judge(&cap, &unknown).expect("judged");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

#[test]
fn a_client_that_closes_with_1_after_right_answers_breaks_client_close() {
    let mut w = World::new(12, Flaws::default());
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.close(conn, 1);
    w.run_until(1_000);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::CLIENT_CLOSE.id],
        "{:#?}",
        report.violations
    );
}

#[test]
fn a_second_connection_is_refused() {
    let mut w = World::new(13, Flaws::default());
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    let second = w.connect();
    w.run_until(600);
    w.close(conn, 0);
    w.run_until(1_500);
    assert!(
        w.client_ended()
            .iter()
            .any(|e| e.starts_with(&format!("{second} transport code 0x2"))),
        "{:?}",
        w.client_ended()
    );
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert_eq!(report.connections.len(), 2);
    assert!(report.connections[1].refused);

    // The same with a server that accepts it and keeps it open: H10, a fact.
    let mut w = World::new(13, Flaws::default());
    w.server().set_admission(Admission::Accept);
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.connect();
    w.run_until(600);
    w.close(conn, 0);
    w.run_until(1_500);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert!(
        fired(&report).contains(&rules::SECOND_CONNECTION_UNSERVED.id),
        "{:#?}",
        report.violations
    );
    assert_eq!(rules::SECOND_CONNECTION_UNSERVED.basis, rules::Basis::Fact);
}

/// A host with its own idle timeout.
fn host_with_idle(seed: u64, server: bool, idle: Duration) -> QuicHost {
    QuicHost::new(&HostConfig {
        seed: Seed::derive(seed, if server { "server" } else { "client" }),
        alpn: vec![b"proton".to_vec()],
        transport: Transport {
            idle_timeout: Some(idle),
            max_bidi: 3,
            ..Transport::default()
        },
        server,
        key_log: Arc::new(KeyLog::default()),
    })
    .expect("host")
}

/// An idle timeout ends a connection silently (RFC 9000 §10.1): the server forgets it after a
/// silence of the idle timeout (600 ms here, the smaller of the two sides'), so a connection
/// begun later is no second connection, even though the client, which has not timed out yet
/// (what it sent at 300 ms was lost: its own idle timer started again), closes the first one
/// afterwards (its close reaches nothing). The capture shows the idle timeout only in the
/// transport parameters and the silence.
#[test]
fn a_connection_silent_for_its_idle_timeout_is_over() {
    let mut w = World::with_hosts(
        host_with_idle(15, false, Duration::from_secs(3_600)),
        host_with_idle(15, true, Duration::from_millis(600)),
        Flaws::default(),
    );
    let first = w.connect();
    w.run_until(300);
    let lost_from = w.pair.sent_count();
    w.pair.set_lose((lost_from..lost_from + 1_000).collect());
    let c = w.client().connection(first).expect("connection");
    let id = c.streams().open(Dir::Bi).expect("stream");
    c.send_stream(id).write(&[1]).expect("write");
    w.run_until(700);
    let lost_to = w.pair.sent_count();
    w.pair.set_lose((lost_from..lost_to).collect());
    let second = w.connect();
    w.close(first, 0);
    w.run_until(1_500);
    assert!(
        !w.client_ended()
            .iter()
            .any(|e| e.starts_with(&format!("{second} transport code 0x2"))),
        "{:?}",
        w.client_ended()
    );
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert!(
        !fired(&report).contains(&rules::SECOND_CONNECTION_REFUSED.id),
        "{:#?}",
        report.violations
    );
    assert!(!report.connections[1].refused);

    // Within the idle timeout the first is still live: the second must be refused.
    let mut w = World::with_hosts(
        host_with_idle(15, false, Duration::from_secs(3_600)),
        host_with_idle(15, true, Duration::from_millis(600)),
        Flaws::default(),
    );
    w.server().set_admission(Admission::Accept);
    let first = w.connect();
    w.run_until(300);
    w.connect();
    w.close(first, 0);
    w.run_until(800);
    let report = judge(&w.pcapng(), &options()).expect("judged");
    assert!(
        fired(&report).contains(&rules::SECOND_CONNECTION_REFUSED.id),
        "{:#?}",
        report.violations
    );
}

/// RFC 9000 §3.2: a RESET_STREAM after a stream's FIN and all its data may go unseen (a server
/// that read to the FIN has nothing left to reset). Here stream 8 ends before its
/// discriminator (an early FIN the server reaches only after stream 4's setup, H2) and is then
/// reset: neither obliges a close while stream 4 says nothing.
#[test]
fn a_reset_after_a_whole_fin_obliges_no_close() {
    let mut w = World::new(16, Flaws::default());
    let conn = w.connect();
    w.run_until(100);
    let c = w.client().connection(conn).expect("connection");
    let ids: Vec<StreamId> = (0..3)
        .map(|_| c.streams().open(Dir::Bi).expect("stream"))
        .collect();
    c.send_stream(ids[0]).write(&[1]).expect("write");
    c.send_stream(ids[2]).finish().expect("fin");
    w.settle();
    // Reset before the FIN is acknowledged (later quinn has nothing to reset either).
    let c = w.client().connection(conn).expect("connection");
    c.send_stream(ids[2])
        .reset(handshake_quic::quinn_proto::VarInt::from_u32(1))
        .expect("reset");
    w.settle();
    w.run_until(500);
    w.close(conn, 0);
    w.run_until(1_000);
    // The test server has no startup delay: it surely listens from its first packet.
    let opts = Options {
        profile: ProfileView {
            startup_ms: Some(0),
            ..ProfileView::project()
        },
        ..Options::default()
    };
    let report = judge(&w.pcapng(), &opts).expect("judged");
    let c = &report.connections[0];
    let eight = c.streams.iter().find(|s| s.id == 8).expect("stream 8");
    assert_eq!(eight.resets.len(), 1, "{c:#?}");
    assert!(eight.client_fin, "{c:#?}");
    assert!(
        !fired(&report).contains(&rules::CLOSE_SETUP_ENDED.id),
        "{:#?}",
        report.violations
    );
}

/// A close is judged on what came before it in capture order: a u32 captured at the very
/// instant of an op-timeout close, but after it, did not reset the timer (one virtual instant,
/// or one tick of a coarse clock, holds both).
#[test]
fn a_close_is_judged_on_what_came_before_it_in_capture_order() {
    let mut w = World::new(17, Flaws::default());
    let conn = w.connect();
    w.run_until(100);
    let ids = w.open(conn, [1, 2, 3]);
    w.run_until(150);
    // The op timer (300 ms) runs from the setup (about 105 ms) on the StateCommit stream (4),
    // which gets nothing; the other two get a u32 at 300 ms.
    w.run_until(300);
    w.write(conn, ids[0], &[1]);
    w.write(conn, ids[2], &[42]);
    w.run_until(405);
    let sconn = w.pair.server.proto.conn.expect("served");
    let now = w.now();
    w.server().close(now, sconn, 4, "stream operation timeout");
    w.pair.server.proto.done = true;
    w.settle();
    w.write(conn, ids[1], &[7]);
    w.run_until(1_000);
    let opts = Options {
        profile: ProfileView {
            op_ms: Some(300),
            ..ProfileView::project()
        },
        ..Options::default()
    };
    let report = judge(&w.pcapng(), &opts).expect("judged");
    assert_eq!(
        report.connections[0].close.as_ref().map(|c| c.code),
        Some(4)
    );
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

#[test]
fn missing_secrets_are_a_note_not_a_violation() {
    let mut w = World::new(
        14,
        Flaws {
            commit_times_two: true,
            ..Flaws::default()
        },
    );
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.close(conn, 0);
    w.run_until(1_000);
    let report = judge(&w.capture(CaptureFormat::PcapNg, false), &options()).expect("judged");
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert!(report.undecrypted > 0);
    assert!(
        report.notes.iter().any(|n| n.contains("no TLS secrets")),
        "{:?}",
        report.notes
    );
    assert!(!report.connections[0].judged);

    // Wrong secrets: the capture cannot be judged, and says so.
    let mut w2 = World::new(14, Flaws::default());
    let (conn, _) = exchange(&mut w2, [1, 2, 3], &[1, 2, 3]);
    w2.close(conn, 0);
    w2.run_until(1_000);
    let opts = Options {
        key_log: Some(format!(
            "CLIENT_TRAFFIC_SECRET_0 {} {}\n",
            "ab".repeat(32),
            "cd".repeat(32)
        )),
        ..options()
    };
    let report = judge(&w2.capture(CaptureFormat::Pcap, false), &opts).expect("judged");
    assert_eq!(
        fired(&report),
        vec![rules::DECRYPT.id],
        "{:#?}",
        report.violations
    );
}

#[test]
fn garbage_is_an_error_never_a_panic() {
    for bytes in [
        &b""[..],
        b"garbage",
        &[0u8; 64],
        &[0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3],
    ] {
        let _ = judge(bytes, &options());
    }
    assert!(judge(b"this is not a capture", &options()).is_err());
    assert!(judge(b"", &options()).is_err());

    // Every prefix and a few corruptions of a real capture: never a panic.
    let mut w = World::new(15, Flaws::default());
    let (conn, _) = exchange(&mut w, [1, 2, 3], &[1, 2, 3]);
    w.close(conn, 0);
    w.run_until(1_000);
    let cap = w.pcapng();
    for cut in (0..cap.len()).step_by(97) {
        let _ = judge(&cap[..cut], &options());
    }
    for i in (0..cap.len()).step_by(131) {
        let mut bad = cap.clone();
        bad[i] ^= 0x5a;
        let _ = judge(&bad, &options());
    }
}
