//! One table row per decision (D1…D14) and per legacy / udp_push behaviour of the facts file, each
//! driving a single endpoint by hand in explicit time: feed datagrams, fire timers, read transmits.

use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant};
use handshake_mediastream_endpoint::{
    DropReason, Event, Initiator, NegotiatedMode, Phase, Profile, Reason, Responder, StreamConfig,
    MAX_SESSIONS,
};
use handshake_mediastream_wire::{
    pattern_slice, ConnectionId, ControlKind, ControlRepr, DataRepr, Datagram, Kind, Mode,
    TlvOption,
};
use rstest::rstest;

const INITIATOR: &str = "10.0.0.1:50000";
const RESPONDER: &str = "10.0.0.2:4444";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// A small stream: 10 frames of 125 bytes (1 datagram each), 100 ms initial buffer.
fn small() -> StreamConfig {
    StreamConfig {
        bits_per_second: 100_000,
        frame_rate: 100,
        stream_length_secs: 1,
        buffer_depth_secs: 1,
        datagram_byte_size: 1400,
        ..StreamConfig::default()
    }
}

/// Runs an endpoint's timers up to `until`, returning (time, destination, datagram bytes) sent.
fn run_until<E: Endpoint>(e: &mut E, until: Instant) -> Vec<(Instant, SocketAddr, Vec<u8>)> {
    let mut sent = Vec::new();
    let mut now = Instant::ZERO;
    drain(e, now, &mut sent);
    while let Some(t) = e.poll_timeout() {
        if t > until {
            break;
        }
        now = t;
        e.handle_timeout(now);
        drain(e, now, &mut sent);
    }
    sent
}

fn drain<E: Endpoint>(e: &mut E, now: Instant, sent: &mut Vec<(Instant, SocketAddr, Vec<u8>)>) {
    while let Some(t) = e.poll_transmit() {
        sent.push((now, t.destination, t.payload));
    }
}

fn kinds(sent: &[(Instant, SocketAddr, Vec<u8>)]) -> Vec<Kind> {
    sent.iter()
        .map(|(_, _, b)| {
            Datagram::parse(b, Mode::LegacyAccepting)
                .map(|d| d.kind())
                .expect("valid")
        })
        .collect()
}

fn events<E: Endpoint<Event = Event>>(e: &mut E) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

fn control(repr: ControlRepr<'static>) -> Vec<u8> {
    Datagram::Control(repr).to_vec()
}

fn data(seq: u64, qpc: u64, len: usize) -> Vec<u8> {
    Datagram::Data(DataRepr {
        seq,
        qpc,
        qpf: 10_000_000,
        payload: pattern_slice(0, len - 26),
    })
    .to_vec()
}

fn initiator(profile: &str) -> Initiator {
    let mut i = Initiator::new(
        Profile::parse(profile).expect("profile"),
        small(),
        addr(RESPONDER),
    )
    .expect("config");
    i.connect(Instant::ZERO);
    i
}

fn responder(profile: &str) -> Responder {
    Responder::new(Profile::parse(profile).expect("profile"), small(), 7).expect("config")
}

fn id(n: u8) -> ConnectionId {
    ConnectionId::from_uuid_bytes([n; 16])
}

fn transmits<E: Endpoint>(e: &mut E) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| e.poll_transmit())
        .map(|t| t.payload)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Initiator discovery: legacy, udp_push, 3way (D1, D2, D10)
// ---------------------------------------------------------------------------------------------

/// Legacy: START at 0, then every trunc(1000/FR)+500 ms (510 ms at 100 fps) until the first DATA;
/// D1/D2: 3way SYNs at 0, 500, 1500, 3500 and nothing after; udp_push: START then SYNs every 510 ms.
#[rstest]
#[case::legacy("legacy", 900, vec![(0, Kind::Start), (510, Kind::Start)])]
#[case::udp_push("udp_push", 990, vec![(0, Kind::Start), (510, Kind::Syn)])]
#[case::d1_d2_three_way("3way", 10_000, vec![(0, Kind::Syn), (500, Kind::Syn), (1500, Kind::Syn), (3500, Kind::Syn)])]
#[case::d10_fallback("3way+fallback", 6100, vec![(0, Kind::Syn), (500, Kind::Syn), (1500, Kind::Syn), (3500, Kind::Syn), (5500, Kind::Start), (6010, Kind::Start)])]
fn discovery_schedules(
    #[case] profile: &str,
    #[case] until: u64,
    #[case] expected: Vec<(u64, Kind)>,
) {
    let mut i = initiator(profile);
    // Legacy receivers fail at the first render deadline (1 s) when nothing came: stop before it.
    let sent = run_until(&mut i, ms(until));
    let got: Vec<(u64, Kind)> = sent
        .iter()
        .zip(kinds(&sent))
        .map(|((t, _, _), k)| (t.as_nanos() / 1_000_000, k))
        .collect();
    assert_eq!(got, expected);
}

/// D1: the SYN is 67 bytes with a zero DesiredConnectionId; udp_push's SYN is the same bytes.
#[rstest]
#[case("3way", 0)]
#[case("udp_push", 1)]
fn d1_syn_bytes(#[case] profile: &str, #[case] index: usize) {
    let mut i = initiator(profile);
    let sent = run_until(&mut i, ms(600));
    assert_eq!(sent[index].2, control(ControlRepr::syn(ConnectionId::ZERO)));
    assert_eq!(sent[index].2.len(), 67);
}

/// D2: after the 4th SYN the attempt fails at 5500 ms with every frame dropped.
#[test]
fn d2_handshake_fails_after_four_syns() {
    let mut i = initiator("3way");
    run_until(&mut i, ms(10_000));
    assert_eq!(i.phase(), Phase::Failed);
    let m = i.metrics();
    assert_eq!(
        (m.negotiated_mode, m.handshake_attempts, m.frames_dropped),
        (NegotiatedMode::Failed, 4, 100)
    );
    assert_eq!(m.time_to_end, Some(std::time::Duration::from_millis(5500)));
    assert!(events(&mut i).iter().any(|e| matches!(
        e,
        Event::Transition {
            reason: Reason::HandshakeTimedOut,
            ..
        }
    )));
}

/// Legacy: CONNECTION_ID does not stop the START re-sends; the first DATA does.
#[test]
fn legacy_connection_id_does_not_stop_resends_but_data_does() {
    let mut i = initiator("legacy");
    i.handle_datagram(
        ms(10),
        addr(RESPONDER),
        &Datagram::ConnectionId(id(1)).to_vec(),
    );
    assert_eq!(
        kinds(&run_until(&mut i, ms(600))),
        vec![Kind::Start, Kind::Start]
    );
    i.handle_datagram(ms(600), addr(RESPONDER), &data(1, 1, 125));
    let later: Vec<_> = run_until(&mut i, ms(1100))
        .into_iter()
        .filter(|(t, _, _)| *t > ms(600))
        .collect();
    assert!(later.is_empty(), "no START after the first DATA: {later:?}");
    assert_eq!(i.metrics().connection_id, Some(id(1)));
}

// ---------------------------------------------------------------------------------------------
// Initiator receive side: legacy strictness vs D11; D5; D8; D12; D13
// ---------------------------------------------------------------------------------------------

/// Legacy and udp_push: ANY malformed datagram fails the whole stream; 3way drops and counts it (D11).
#[rstest]
#[case::empty(vec![])]
#[case::one_byte(vec![0])]
#[case::short_header(vec![0; 20])]
#[case::short_connection_id({ let mut v = Datagram::ConnectionId(ConnectionId::ZERO).to_vec(); v.truncate(30); v })]
#[case::unknown_flag(vec![0x02, 0x00, 0, 0])]
#[case::frag_flag({ let mut v = vec![1u8, 0]; v.extend([0u8; 45]); v })]
#[case::syn_ack(control(ControlRepr::syn_ack_accept(ConnectionId::ZERO)))]
#[case::bad_payload({ let mut v = data(1, 1, 125); v[40] ^= 1; v })]
fn legacy_fails_on_malformed_three_way_counts(#[case] bytes: Vec<u8>) {
    for profile in ["legacy", "udp_push"] {
        let mut i = initiator(profile);
        i.handle_datagram(ms(5), addr(RESPONDER), &bytes);
        assert_eq!(i.phase(), Phase::Failed, "{profile}");
        assert_eq!(i.metrics().negotiated_mode, NegotiatedMode::Failed);
        assert!(i.metrics().failure.is_some());
    }
    let mut i = initiator("3way");
    i.handle_datagram(
        ms(5),
        addr(RESPONDER),
        &control(ControlRepr::syn_ack_accept(id(3))),
    );
    i.handle_datagram(ms(6), addr(RESPONDER), &bytes);
    assert_eq!(
        i.phase(),
        Phase::Streaming,
        "D11: never aborts a 3way stream"
    );
    assert_eq!(
        i.metrics().validation_errors.values().sum::<u64>(),
        1,
        "{:?}",
        i.metrics().validation_errors
    );
}

/// D5: SYN-ACK(Accept=1) → ACK echoing the id; every repeated SYN-ACK → another ACK.
/// Accept=0 → stop, no ACK, the reason reported.
#[test]
fn d5_ack_echoes_and_reject_stops() {
    let mut i = initiator("3way");
    transmits(&mut i);
    i.handle_datagram(
        ms(5),
        addr(RESPONDER),
        &control(ControlRepr::syn_ack_accept(id(9))),
    );
    i.handle_datagram(
        ms(6),
        addr(RESPONDER),
        &control(ControlRepr::syn_ack_accept(id(9))),
    );
    assert_eq!(transmits(&mut i), vec![control(ControlRepr::ack(id(9))); 2]);
    assert_eq!(i.metrics().negotiated_mode, NegotiatedMode::ThreeWay);

    let mut r = initiator("3way");
    transmits(&mut r);
    r.handle_datagram(
        ms(5),
        addr(RESPONDER),
        &control(ControlRepr::syn_ack_reject("session limit reached")),
    );
    assert!(transmits(&mut r).is_empty(), "no ACK to a reject");
    assert_eq!(r.phase(), Phase::Rejected);
    assert_eq!(r.metrics().negotiated_mode, NegotiatedMode::Rejected);
    assert_eq!(
        r.metrics().failure.as_deref(),
        Some("rejected: session limit reached")
    );
    assert_eq!(r.poll_timeout(), None, "no more SYNs");
}

/// D8: media before the session is known is dropped; a CONNECTION_ID tells the id when the SYN-ACK
/// was lost (optimistic responder); a different id later is a mismatch.
#[test]
fn d8_media_needs_a_known_session() {
    let mut i = initiator("3way");
    i.handle_datagram(ms(5), addr(RESPONDER), &data(1, 1, 125));
    assert_eq!(i.metrics().drops(DropReason::MediaBeforeSession), 1);
    i.handle_datagram(
        ms(6),
        addr(RESPONDER),
        &Datagram::ConnectionId(id(4)).to_vec(),
    );
    assert_eq!(i.phase(), Phase::Streaming);
    i.handle_datagram(ms(7), addr(RESPONDER), &data(1, 2, 125));
    assert_eq!(
        i.metrics().time_to_first_media,
        Some(std::time::Duration::from_millis(7))
    );
    i.handle_datagram(
        ms(8),
        addr(RESPONDER),
        &Datagram::ConnectionId(id(5)).to_vec(),
    );
    assert_eq!(i.metrics().drops(DropReason::MismatchedConnectionId), 1);
    // From another tuple: unknown, whatever it is.
    i.handle_datagram(ms(9), addr("10.0.0.3:4444"), &data(2, 3, 125));
    assert_eq!(i.metrics().drops(DropReason::UnknownTuple), 1);
}

/// D13 vs legacy byte-sum: a duplicated datagram spoils a legacy frame (> F: duplicate) but is
/// discarded by 3way; a duplicated datagram hiding a lost one of the same size passes legacy as
/// "successful" (the known bug) and 3way counts the frame dropped.
#[rstest]
#[case::duplicate_spoils_legacy("legacy", false, (0, 0, 1))]
#[case::duplicate_discarded_3way("3way", false, (1, 0, 0))]
#[case::duplicate_hides_loss_legacy("legacy", true, (1, 0, 0))]
#[case::duplicate_hides_loss_3way("3way", true, (0, 1, 0))]
fn d13_duplicates_and_the_byte_sum(
    #[case] profile: &str,
    #[case] lose_one: bool,
    #[case] expected: (u64, u64, u64),
) {
    // 2800-byte frames = two 1400-byte datagrams.
    let config = StreamConfig {
        bits_per_second: 2800 * 8 * 10,
        frame_rate: 10,
        stream_length_secs: 1,
        buffer_depth_secs: 1,
        ..StreamConfig::default()
    };
    let mut i = Initiator::new(
        Profile::parse(profile).expect("profile"),
        config,
        addr(RESPONDER),
    )
    .expect("config");
    i.connect(Instant::ZERO);
    if profile == "3way" {
        i.handle_datagram(
            ms(1),
            addr(RESPONDER),
            &control(ControlRepr::syn_ack_accept(id(1))),
        );
    }
    let first = data(1, 100, 1400);
    let second = data(1, 101, 1400);
    i.handle_datagram(ms(2), addr(RESPONDER), &first);
    i.handle_datagram(ms(3), addr(RESPONDER), &first);
    if !lose_one {
        i.handle_datagram(ms(4), addr(RESPONDER), &second);
    }
    // Frame 1 renders after the 1 s initial buffer (10 frames) from the stream's base.
    i.handle_timeout(ms(1050));
    let m = i.metrics();
    assert_eq!(
        (m.frames_successful, m.frames_dropped, m.frames_duplicate),
        expected
    );
}

/// Legacy frame accounting: stale, future and beyond-last sequence numbers are `errorFrames`, and the
/// stream fails when nothing arrived by the first render.
#[test]
fn legacy_error_frames_and_nothing_before_first_render() {
    let mut i = initiator("legacy");
    i.handle_datagram(ms(5), addr(RESPONDER), &data(1, 1, 125));
    i.handle_datagram(ms(5), addr(RESPONDER), &data(0, 2, 125));
    i.handle_datagram(ms(5), addr(RESPONDER), &data(101, 3, 125));
    i.handle_timeout(ms(1000)); // frame 1 rendered
    i.handle_datagram(ms(1001), addr(RESPONDER), &data(1, 4, 125));
    assert_eq!(i.metrics().frames_error, 3);
    assert_eq!(i.metrics().frames_successful, 1);

    let mut silent = initiator("legacy");
    run_until(&mut silent, ms(5000));
    assert_eq!(silent.phase(), Phase::Failed);
    assert_eq!(silent.metrics().frames_dropped, 100);
}

// ---------------------------------------------------------------------------------------------
// Responder: legacy as coded, D3, D4, D6, D7, D8, D9
// ---------------------------------------------------------------------------------------------

/// Legacy: CONNECTION_ID first and once, then frames 1..N; a START from a live tuple is a counted
/// duplicate; non-START datagrams are discarded; a new START after the end is a fresh session.
#[rstest]
#[case("legacy")]
#[case("udp_push")]
#[case("3way+allow_legacy_start")]
fn legacy_responder_as_coded(#[case] profile: &str) {
    let mut r = responder(profile);
    r.handle_datagram(ms(0), addr(INITIATOR), b"START");
    r.handle_datagram(ms(1), addr(INITIATOR), b"START");
    r.handle_datagram(
        ms(2),
        addr(INITIATOR),
        &control(ControlRepr::syn(ConnectionId::ZERO)),
    );
    let sent = run_until(&mut r, ms(5000));
    let k = kinds(&sent);
    assert_eq!(k[0], Kind::ConnectionId);
    assert_eq!(k.iter().filter(|&&k| k == Kind::ConnectionId).count(), 1);
    assert!(
        k[1..].iter().all(|&k| k == Kind::Data),
        "D9: never a control frame: {k:?}"
    );
    let seqs: Vec<u64> = sent[1..]
        .iter()
        .map(|(_, _, b)| {
            Datagram::parse(b, Mode::ThreeWayOnly)
                .ok()
                .and_then(|d| d.seq())
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    // Frame k at k·10 ms.
    assert_eq!(sent[1].0, ms(0));
    assert_eq!(sent[100].0, ms(990));
    let evs = events(&mut r);
    assert!(evs.iter().any(|e| matches!(
        e,
        Event::Dropped {
            reason: DropReason::DuplicateStart,
            ..
        }
    )));
    assert!(evs.iter().any(|e| matches!(
        e,
        Event::Dropped {
            kind: Some(Kind::Syn),
            reason: DropReason::UnexpectedKind,
            ..
        }
    )));
    assert_eq!(r.session_count(), 0, "ended after the last frame");
    let first_id = Datagram::parse(&sent[0].2, Mode::ThreeWayOnly)
        .ok()
        .and_then(|d| d.connection_id());
    r.handle_datagram(ms(6000), addr(INITIATOR), b"START");
    let again = transmits(&mut r);
    let second_id = Datagram::parse(&again[0], Mode::ThreeWayOnly)
        .ok()
        .and_then(|d| d.connection_id());
    assert_ne!(first_id, second_id, "a fresh session gets a new id");
    assert_eq!(
        Datagram::parse(&again[1], Mode::ThreeWayOnly)
            .ok()
            .and_then(|d| d.seq()),
        Some(1)
    );
}

/// D3: a fresh lowercase UUID id; a repeated SYN while pending gets the same SYN-ACK.
#[test]
fn d3_syn_ack_is_idempotent() {
    let mut r = responder("3way");
    r.handle_datagram(
        ms(0),
        addr(INITIATOR),
        &control(ControlRepr::syn(ConnectionId::ZERO)),
    );
    r.handle_datagram(
        ms(100),
        addr(INITIATOR),
        &control(ControlRepr::syn(ConnectionId::ZERO)),
    );
    let sent = transmits(&mut r);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1]);
    let Ok(Datagram::Control(c)) = Datagram::parse(&sent[0], Mode::ThreeWayOnly) else {
        panic!("SYN-ACK")
    };
    assert_eq!(c.kind, ControlKind::SynAck);
    assert!(c.accept() && c.connection_id.is_uuid_form(), "{c:?}");
}

/// D4: version ≠ 1 or the session limit → SYN-ACK(Accept=0) with an ASCII reason, and no state.
#[rstest]
#[case::version({ let mut v = control(ControlRepr::syn(ConnectionId::ZERO)); v[26] = 2; v }, None, "unsupported version 2")]
#[case::limit(
    control(ControlRepr::syn(ConnectionId::ZERO)),
    Some(0),
    "session limit reached"
)]
fn d4_rejects_keep_no_state(
    #[case] syn: Vec<u8>,
    #[case] limit: Option<usize>,
    #[case] reason: &str,
) {
    let mut profile = Profile::parse("3way").expect("profile");
    profile.session_limit = limit;
    let mut r = Responder::new(profile, small(), 1).expect("config");
    r.handle_datagram(ms(0), addr(INITIATOR), &syn);
    let sent = transmits(&mut r);
    assert_eq!(sent, vec![control(ControlRepr::syn_ack_reject(reason))]);
    assert_eq!(r.session_count(), 0);
    assert_eq!(r.poll_timeout(), None);
}

/// Without a profile limit the responder still serves at most `MAX_SESSIONS` at once: SYNs from
/// more tuples get D4's rejection and leave no state (a peer opening sessions from thousands of
/// ports cannot make the harness keep them all).
#[test]
fn sessions_past_the_harness_s_cap_are_rejected_without_state() {
    let mut r = responder("3way");
    let syn = control(ControlRepr::syn(ConnectionId::ZERO));
    for port in 0..MAX_SESSIONS + 3 {
        let from = SocketAddr::new(addr(INITIATOR).ip(), 40_000 + port as u16);
        r.handle_datagram(ms(0), from, &syn);
    }
    assert_eq!(r.session_count(), MAX_SESSIONS);
    let rejects = transmits(&mut r)
        .into_iter()
        .filter(|t| *t == control(ControlRepr::syn_ack_reject("session limit reached")))
        .count();
    assert_eq!(rejects, 3);
}

/// D6: no media before an ACK with the assigned id; a mismatched ACK is counted and does not establish;
/// the right ACK → CONNECTION_ID then media.
#[test]
fn d6_media_only_after_matching_ack() {
    let mut r = responder("3way");
    r.handle_datagram(
        ms(0),
        addr(INITIATOR),
        &control(ControlRepr::syn(ConnectionId::ZERO)),
    );
    let syn_ack = transmits(&mut r).remove(0);
    let assigned = Datagram::parse(&syn_ack, Mode::ThreeWayOnly)
        .ok()
        .and_then(|d| d.connection_id())
        .expect("id");
    r.handle_datagram(
        ms(10),
        addr(INITIATOR),
        &control(ControlRepr::ack(id(0xee))),
    );
    assert!(transmits(&mut r).is_empty());
    assert_eq!(
        r.session_metrics(addr(INITIATOR))
            .map(|m| m.drops(DropReason::MismatchedConnectionId)),
        Some(1)
    );
    r.handle_datagram(
        ms(20),
        addr(INITIATOR),
        &control(ControlRepr::ack(assigned)),
    );
    let sent = transmits(&mut r);
    assert_eq!(sent[0], Datagram::ConnectionId(assigned).to_vec());
    assert_eq!(
        kinds(
            &sent
                .iter()
                .map(|b| (ms(0), addr(INITIATOR), b.clone()))
                .collect::<Vec<_>>()
        )[1],
        Kind::Data
    );
}

/// D7: SYN-ACK re-sent at 500, 1500, 3500 ms, the pending session dropped at 5500 ms; a later ACK is an
/// error.
#[test]
fn d7_syn_ack_retransmission_then_abandon() {
    let mut r = responder("3way");
    r.handle_datagram(
        ms(0),
        addr(INITIATOR),
        &control(ControlRepr::syn(ConnectionId::ZERO)),
    );
    let sent = run_until(&mut r, ms(10_000));
    let times: Vec<u64> = sent
        .iter()
        .map(|(t, _, _)| t.as_nanos() / 1_000_000)
        .collect();
    assert_eq!(times, vec![0, 500, 1500, 3500]);
    assert_eq!(r.session_count(), 0);
    let assigned = Datagram::parse(&sent[0].2, Mode::ThreeWayOnly)
        .ok()
        .and_then(|d| d.connection_id())
        .expect("id");
    r.handle_datagram(
        ms(6000),
        addr(INITIATOR),
        &control(ControlRepr::ack(assigned)),
    );
    assert_eq!(r.stray_metrics().drops(DropReason::UnknownSession), 1);
    assert!(transmits(&mut r).is_empty());
}

/// D8: optimistic → SYN-ACK, CONNECTION_ID, media at once; the stream survives a missing ACK.
#[test]
fn d8_optimistic_start() {
    let mut r = responder("3way+optimistic");
    r.handle_datagram(
        ms(0),
        addr(INITIATOR),
        &control(ControlRepr::syn(ConnectionId::ZERO)),
    );
    let sent = run_until(&mut r, ms(10_000));
    let k = kinds(&sent);
    assert_eq!(&k[..3], &[Kind::SynAck, Kind::ConnectionId, Kind::Data]);
    assert_eq!(
        k.iter().filter(|&&k| k == Kind::Data).count(),
        100,
        "every frame despite no ACK"
    );
    // D7 re-sends go on while the session lives (0 and 500 ms; the 1 s stream ends at 990 ms).
    assert_eq!(k.iter().filter(|&&k| k == Kind::SynAck).count(), 2);
}

/// D9: without AllowLegacyStart a START is dropped and counted, with no reply.
#[test]
fn d9_start_without_the_option() {
    let mut r = responder("3way");
    r.handle_datagram(ms(0), addr(INITIATOR), b"START");
    assert!(transmits(&mut r).is_empty());
    assert_eq!(r.stray_metrics().drops(DropReason::UnexpectedStart), 1);
}

/// D11 at the responder: invalid datagrams are dropped per kind.
#[rstest]
#[case::too_short(vec![0x00], DropReason::TooShort)]
#[case::unknown_flag(vec![0x02, 0x00, 1, 2], DropReason::UnknownFlag)]
#[case::bad_options({ let mut v = control(ControlRepr::ack(ConnectionId::ZERO)); v.extend([1, 9, 0]); v }, DropReason::BadOptions)]
#[case::syn_ack_to_responder(
    control(ControlRepr::syn_ack_accept(ConnectionId::ZERO)),
    DropReason::UnexpectedKind
)]
#[case::data_to_responder(data(1, 1, 100), DropReason::UnexpectedKind)]
fn d11_responder_drops_and_counts(#[case] bytes: Vec<u8>, #[case] reason: DropReason) {
    let mut r = responder("3way");
    r.handle_datagram(ms(0), addr(INITIATOR), &bytes);
    assert_eq!(r.stray_metrics().drops(reason), 1);
    assert!(transmits(&mut r).is_empty());
}

/// D14: options in a SYN do not disturb the handshake (unknown types are skipped).
#[test]
fn d14_syn_with_options_is_served() {
    let opts = handshake_mediastream_wire::OwnedDatagram::Control {
        kind: ControlKind::Syn,
        flags: 0,
        connection_id: ConnectionId::ZERO,
        options: handshake_mediastream_wire::OwnedOptions::from_options(&[
            TlvOption::FrameRate(100),
            TlvOption::Unknown {
                tlv_type: 77,
                value: b"x",
            },
        ])
        .expect("valid"),
    };
    let mut r = responder("3way");
    r.handle_datagram(ms(0), addr(INITIATOR), &opts.to_vec());
    assert_eq!(r.session_count(), 1);
}

/// D12/D13: the dedup identity within a session and sequence number is (QPC, length): an exact copy is
/// a duplicate, another datagram of the same frame is not.
#[test]
fn d12_d13_dedup_key() {
    let mut i = initiator("3way");
    i.handle_datagram(
        ms(1),
        addr(RESPONDER),
        &control(ControlRepr::syn_ack_accept(id(1))),
    );
    i.handle_datagram(ms(2), addr(RESPONDER), &data(1, 5, 125));
    i.handle_datagram(ms(3), addr(RESPONDER), &data(1, 5, 125));
    i.handle_datagram(ms(3), addr(RESPONDER), &data(1, 6, 125));
    i.handle_datagram(ms(3), addr(RESPONDER), &data(1, 5, 100));
    assert_eq!(i.metrics().duplicate_datagrams, 1);
    assert_eq!(i.metrics().drops(DropReason::DuplicateDatagram), 1);
}

/// Byte-exactness of the legacy responder against the facts: F = 2801, M = 1400 → datagrams of
/// 1400, 1374, 27 per frame, all sharing the frame's seq, payload = pattern prefix, QPF constant and QPC
/// rising per datagram; CONNECTION_ID is 39 bytes, sent once, first.
#[test]
fn legacy_responder_bytes_for_f2801_m1400() {
    let config = StreamConfig {
        bits_per_second: 2801 * 8 * 10,
        frame_rate: 10,
        stream_length_secs: 1,
        buffer_depth_secs: 1,
        datagram_byte_size: 1400,
        ..StreamConfig::default()
    };
    let mut r =
        Responder::new(Profile::parse("legacy").expect("profile"), config, 3).expect("config");
    r.handle_datagram(ms(0), addr(INITIATOR), b"START");
    let sent = run_until(&mut r, ms(2000));
    assert_eq!(sent.len(), 1 + 10 * 3);
    let first = &sent[0].2;
    assert_eq!(first.len(), 39);
    assert_eq!(&first[..2], &[0x00, 0x10]);
    assert!(ConnectionId::from_slice(&first[2..]).is_some_and(|id| id.is_uuid_form()));
    let mut last_qpc = 0;
    for (i, (at, to, bytes)) in sent[1..].iter().enumerate() {
        let (frame, part) = (i / 3, i % 3);
        assert_eq!(*to, addr(INITIATOR));
        assert_eq!(bytes.len(), [1400, 1374, 27][part], "datagram {i}");
        assert_eq!(
            *at,
            ms(frame as u64 * 100),
            "frame {frame} paced at k·1000/FrameRate ms"
        );
        let Ok(Datagram::Data(d)) = Datagram::parse(bytes, Mode::ThreeWayOnly) else {
            panic!("DATA")
        };
        assert_eq!(d.seq, frame as u64 + 1);
        assert_eq!(d.payload, pattern_slice(0, bytes.len() - 26));
        assert_eq!(d.qpf, 10_000_000);
        assert!(d.qpc > last_qpc, "QPC sampled per datagram");
        last_qpc = d.qpc;
    }
}

/// Project decision: a 3way stream's render clock starts at its first media datagram (aligned by its
/// sequence number), so media delayed by a lost ACK (D7 re-sends) is still rendered; with no media at
/// all within D7's whole schedule plus the buffer (5.5 s + 1 s), the stream fails.
#[test]
fn three_way_render_clock_starts_with_media() {
    let mut i = initiator("3way");
    i.handle_datagram(
        ms(1),
        addr(RESPONDER),
        &control(ControlRepr::syn_ack_accept(id(1))),
    );
    // The ACK was lost; the responder's media starts 1.5 s later, frame 1 lost too.
    i.handle_datagram(ms(1510), addr(RESPONDER), &data(2, 1, 125));
    run_until(&mut i, ms(1500 + 1000 + 10));
    assert_eq!(
        (i.metrics().frames_successful, i.metrics().frames_dropped),
        (1, 1),
        "frame 1 dropped, frame 2 rendered"
    );

    let mut silent = initiator("3way");
    silent.handle_datagram(
        ms(1),
        addr(RESPONDER),
        &control(ControlRepr::syn_ack_accept(id(1))),
    );
    run_until(&mut silent, ms(20_000));
    assert_eq!(silent.phase(), Phase::Failed);
    assert_eq!(
        silent.metrics().failure.as_deref(),
        Some("no media arrived after the handshake")
    );
    assert_eq!(
        silent.metrics().time_to_end,
        Some(std::time::Duration::from_millis(1 + 5500 + 1000))
    );
}
