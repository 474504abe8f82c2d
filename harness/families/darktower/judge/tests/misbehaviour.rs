//! Misbehaviour, each breaking one rule: the reference endpoints' mutants (each changes one
//! behaviour of the controller, the handler or the client) and scripted participants writing
//! bytes by hand. Every scenario also runs without the mutant: then the judged side is clean.
//! Only the mutant's role is judged (a scripted participant breaks client rules on purpose).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use handshake_core::Instant;
use handshake_darktower_endpoint::{
    Clock, MediaClaims, MediaVersion, Mutant, Secret, Target, Which,
};
use handshake_darktower_judge::{Judged, Report, ResetCodes};
use handshake_darktower_wire::proto::media::{
    media_client_message::Message as Mc, ConnectRequest, MediaClientMessage,
};
use handshake_darktower_wire::proto::signaling::{
    client_message::Message as Cm, ClientMessage, JoinRequest, PublishStream,
};
use handshake_darktower_wire::{
    encode_message, Flags, FourCc, FrameRepr, FrameType, FrameV2Repr, StreamHeaderRepr, StreamId,
    StreamType,
};
use rstest::rstest;

const WT: Tr = Tr::Wt(ResetCodes::Mapped);

fn judged(role: &str) -> Judged {
    Judged::parse(role).expect("role")
}

fn long(name: &str, version: MediaVersion) -> handshake_darktower_endpoint::ClientConfig {
    handshake_darktower_endpoint::ClientConfig {
        linger: Duration::from_millis(3_000),
        ..client_config(name, version)
    }
}

fn check(r: &Report, expected: Option<&str>) {
    let broken = r.broken();
    match expected {
        Some(rule) => assert_eq!(broken, [rule], "expected only {rule}:\n{}", show(r)),
        None => assert!(broken.is_empty(), "expected no violation:\n{}", show(r)),
    }
}

/// A mutant of the reference endpoints in a meeting of reference endpoints.
#[derive(Clone, Copy, Debug)]
enum Scene {
    /// Alice and Bob, v1, 3 s linger.
    Two,
    /// The same, v2.
    TwoV2,
    /// Alice's join token expired a second ago.
    Expired,
    /// Alice opens her media streams before the ConnectResponse.
    EarlyMedia,
    /// The handler stops every media stream with 0x00 at its header.
    Stopped,
    /// Alice sends no keep-alive and lingers 40 s; Bob stays 45 s.
    Quiet,
    /// Capacity 1: Alice, then Bob.
    Full,
}

/// `role`: the side under test (its mutant, if any, is `mutant`).
fn scene(tr: Tr, scene: Scene, role: &str, mutant: Option<Mutant>) -> World {
    let client = |name: &str, version| {
        let mut c = long(name, version);
        if role == "client" && name == "alice" {
            c.mutant = mutant;
        }
        c
    };
    let mut setup = Setup::new(tr, vec![]);
    setup.clients = match scene {
        Scene::Two | Scene::Stopped | Scene::Full => {
            vec![
                client("alice", MediaVersion::V1),
                client("bob", MediaVersion::V1),
            ]
        }
        Scene::TwoV2 => vec![
            client("alice", MediaVersion::V2),
            client("bob", MediaVersion::V2),
        ],
        Scene::Expired => vec![handshake_darktower_endpoint::ClientConfig {
            join_token: join_token("standup", -120),
            ..client("alice", MediaVersion::V1)
        }],
        Scene::EarlyMedia => {
            let mut a = client("alice", MediaVersion::V1);
            a.mutant = Some(Mutant::MediaBeforeAuth);
            vec![a, client("bob", MediaVersion::V1)]
        }
        Scene::Quiet => {
            let mut a = client("alice", MediaVersion::V1);
            a.linger = Duration::from_secs(40);
            if role == "controller" {
                // The controller's view of a client that idles out.
                a.mutant = Some(Mutant::NoKeepAlive);
            }
            let mut b = client("bob", MediaVersion::V1);
            b.linger = Duration::from_secs(45);
            vec![a, b]
        }
    };
    if matches!(scene, Scene::Stopped) {
        setup.stop_media = Some(0);
    }
    if matches!(scene, Scene::Full) {
        setup.capacity = 1;
    }
    if role == "controller" {
        setup.controller_mutant = mutant;
    }
    if role == "handler" {
        setup.handler_mutant = mutant;
    }
    meeting(setup)
}

#[rstest]
#[case::expired_join_accepted(
    Mutant::ExpiredJoinAccepted,
    Scene::Expired,
    "darktower.controller.token"
)]
#[case::no_capacity_check(Mutant::NoCapacityCheck, Scene::Full, "darktower.controller.capacity")]
#[case::no_participant_joined(
    Mutant::NoParticipantJoined,
    Scene::Two,
    "darktower.controller.participant_joined"
)]
#[case::idle_left_voluntary(Mutant::IdleLeftVoluntary, Scene::Quiet, "darktower.controller.leave")]
#[case::forward_altered(Mutant::ForwardAltered, Scene::Two, "darktower.handler.forward")]
#[case::sequence_from_one(Mutant::SequenceFromOne, Scene::Two, "darktower.client.sequence")]
#[case::sequence_from_one_v2_is_no_rule(Mutant::SequenceFromOne, Scene::TwoV2, "")]
#[case::media_before_auth(
    Mutant::MediaBeforeAuth,
    Scene::Two,
    "darktower.client.media_after_auth"
)]
#[case::media_before_auth_v2(
    Mutant::MediaBeforeAuth,
    Scene::TwoV2,
    "darktower.client.media_after_auth"
)]
#[case::no_keep_alive(Mutant::NoKeepAlive, Scene::Quiet, "darktower.client.liveness")]
fn a_mutant_breaks_its_rule(
    #[case] mutant: Mutant,
    #[case] s: Scene,
    #[case] rule: &str,
    #[values(Tr::Quic, WT)] tr: Tr,
) {
    let role = mutant.role();
    check(&scene(tr, s, role, None).judge(judged(role)), None);
    let expected = (!rule.is_empty()).then_some(rule);
    check(
        &scene(tr, s, role, Some(mutant)).judge(judged(role)),
        expected,
    );
}

/// The handler stops every stream at its header with 0x00 (graceful: allowed); the reference
/// client gives up at once (closing its sessions within the round trip: no RESET_STREAM is
/// owed that the capture could show missing).
#[rstest]
fn a_graceful_stop_is_no_violation(#[values(Tr::Quic, WT)] tr: Tr) {
    let r = scene(tr, Scene::Stopped, "", None).judge(Judged::ALL);
    check(&r, None);
    assert!(r.sessions.iter().any(|s| s
        .stop_sendings
        .iter()
        .any(|c| c.code == Some(0) && c.by == handshake_darktower_judge::Side::Server)));
}

/// The scripted participant never answers a STOP_SENDING and goes on: DH3 is broken (next to
/// the bad header that called for the stop).
#[rstest]
fn an_unanswered_stop_is_seen(#[values(Tr::Quic, WT)] tr: Tr) {
    let mut w = scripted(tr, HANDLER, None);
    play(&mut w, handler_steps("bad-magic"));
    let r = w.judge(judged("client"));
    assert_eq!(
        r.broken(),
        [
            "darktower.client.media_header",
            "darktower.client.stop_answer"
        ],
        "{}",
        show(&r)
    );
}

// ---- Scripted participants: bytes written by hand. ----

fn now_s() -> u64 {
    Clock::VIRTUAL.unix_s(Instant::ZERO)
}

fn join(name: &str) -> Vec<u8> {
    encode_message(&ClientMessage {
        message: Some(Cm::JoinRequest(JoinRequest {
            meeting_id: "standup".into(),
            join_token: join_token("standup", 300),
            participant_name: name.into(),
            capabilities: None,
        })),
    })
    .unwrap()
}

fn publish(stream: &str) -> Vec<u8> {
    encode_message(&ClientMessage {
        message: Some(Cm::PublishStream(PublishStream {
            stream_id: stream.into(),
            stream_type: 1,
            metadata: None,
        })),
    })
    .unwrap()
}

fn connect(participant: &str, jti: &str) -> Vec<u8> {
    let token = Secret::new(SECRET).sign(&MediaClaims {
        meeting_id: "standup".into(),
        participant_id: participant.into(),
        exp: now_s() + 300,
        jti: jti.into(),
    });
    encode_message(&MediaClientMessage {
        message: Some(Mc::ConnectRequest(ConnectRequest { join_token: token })),
    })
    .unwrap()
}

const SID: [u8; 16] = [0x55; 16];

fn header() -> Vec<u8> {
    StreamHeaderRepr {
        stream_type: StreamType::Video,
        stream_id: StreamId(SID),
        codec: FourCc::VP09,
    }
    .to_bytes()
    .to_vec()
}

fn frame(stream: [u8; 16], sequence: u64) -> Vec<u8> {
    FrameRepr {
        frame_type: FrameType::VideoKey,
        stream_id: StreamId(stream),
        timestamp_us: Clock::VIRTUAL.unix_us(Instant::ZERO),
        sequence,
        flags: Flags {
            end_of_frame: true,
            discardable: false,
        },
        payload: b"hi",
    }
    .to_vec()
    .unwrap()
}

fn datagram(sequence: u64) -> Vec<u8> {
    FrameV2Repr {
        frame_type: FrameType::VideoKey,
        user_id: 1,
        stream_id: 1,
        timestamp_us: Clock::VIRTUAL.unix_us(Instant::ZERO),
        sequence,
        flags: Flags {
            end_of_frame: true,
            discardable: false,
        },
        payload: b"hi",
    }
    .to_vec()
    .unwrap()
}

/// One scripted step: participant, session, target, bytes, FIN, then wait (ms).
type Step = (u32, Which, Target, Vec<u8>, bool, u64);

fn play(w: &mut World, steps: Vec<Step>) {
    for (p, which, target, bytes, fin, wait) in steps {
        let now = w.sim.now();
        w.script()
            .write(now, p, which, target, &bytes, fin)
            .expect("write");
        w.settle(wait);
    }
}

use Target::{Control, Datagram, NewUni, Uni};
use Which::{Media, Signaling};

fn controller_steps(case: &str) -> Vec<Step> {
    match case {
        // A first message that is no JoinRequest, then a JoinRequest 2 s later.
        "join-not-first" => vec![
            (0, Signaling, Control, publish("s1"), false, 2_000),
            (0, Signaling, Control, join("alice"), false, 2_000),
        ],
        // A 257-byte name; the connection goes on (a ping-like write 2 s later).
        "long-name" => vec![
            (0, Signaling, Control, join(&"n".repeat(257)), false, 2_000),
            (0, Signaling, Control, publish("s1"), false, 2_000),
        ],
        // Joined, then an empty message, then more.
        "empty-message" => vec![
            (0, Signaling, Control, join("alice"), false, 500),
            (0, Signaling, Control, vec![0, 0, 0, 0], false, 2_000),
            (0, Signaling, Control, publish("s1"), false, 2_000),
        ],
        other => panic!("{other}"),
    }
}

#[rstest]
#[case::join_not_first(
    "join-not-first",
    Mutant::JoinNotFirst,
    "darktower.controller.first_message",
    Some("darktower.client.first_message")
)]
#[case::long_name_accepted(
    "long-name",
    Mutant::LongNameAccepted,
    "darktower.controller.name_length",
    None
)]
#[case::empty_message_ignored(
    "empty-message",
    Mutant::EmptyMessageIgnored,
    "darktower.controller.stream_error",
    Some("darktower.client.signaling_frame")
)]
fn a_scripted_participant_finds_the_controller_mutant(
    #[case] case: &str,
    #[case] mutant: Mutant,
    #[case] rule: &str,
    #[case] client_rule: Option<&str>,
    #[values(Tr::Quic, WT)] tr: Tr,
) {
    for (m, expected) in [(None, None), (Some(mutant), Some(rule))] {
        let mut w = scripted(tr, CONTROLLER, m);
        play(&mut w, controller_steps(case));
        check(&w.judge(judged("controller")), expected);
        // What the scripted participant itself broke.
        if m.is_none() {
            check(&w.judge(judged("client")), client_rule);
        }
    }
}

/// A datagram 2 s on: the capture shows the connection going on.
fn later() -> Step {
    (0, Media, Datagram, datagram(0), false, 500)
}

fn handler_steps(case: &str) -> Vec<Step> {
    let auth = |p: u32, who: &str, jti: &str| (p, Media, Control, connect(who, jti), false, 300);
    match case {
        "bad-magic" => {
            let mut bad = header();
            bad[0] = b'X';
            bad.extend(frame(SID, 0));
            vec![
                auth(0, "p1", "j1"),
                (0, Media, NewUni, bad, false, 2_000),
                later(),
            ]
        }
        // A media stream 500 ms before the ConnectRequest.
        "early-stream" => {
            let mut bytes = header();
            bytes.extend(frame(SID, 0));
            vec![
                (0, Media, NewUni, bytes, false, 500),
                (0, Media, Control, connect("p1", "j1"), false, 2_000),
                later(),
            ]
        }
        "stream-id-mismatch" => {
            let mut bytes = header();
            bytes.extend(frame(SID, 0));
            bytes.extend(frame([0x66; 16], 1));
            vec![
                auth(0, "p1", "j1"),
                (0, Media, NewUni, bytes, false, 2_000),
                later(),
            ]
        }
        "token-reused" => vec![auth(0, "p1", "j1"), auth(1, "p1", "j1")],
        "bad-datagram" => {
            let mut bad = datagram(1);
            bad[0] = 2;
            vec![
                auth(0, "p1", "j1"),
                auth(1, "p2", "j2"),
                (0, Media, Datagram, datagram(0), false, 100),
                (0, Media, Datagram, bad, false, 500),
            ]
        }
        other => panic!("{other}"),
    }
}

#[rstest]
#[case::bad_magic_accepted("bad-magic", Mutant::BadMagicAccepted, "darktower.handler.bad_media")]
#[case::stream_id_mismatch_accepted(
    "stream-id-mismatch",
    Mutant::StreamIdMismatchAccepted,
    "darktower.handler.bad_media"
)]
#[case::media_token_reusable("token-reused", Mutant::MediaTokenReusable, "darktower.handler.token")]
#[case::bad_datagram_forwarded(
    "bad-datagram",
    Mutant::BadDatagramForwarded,
    "darktower.handler.datagram_forward"
)]
#[case::media_before_auth_accepted(
    "early-stream",
    Mutant::MediaBeforeAuthAccepted,
    "darktower.handler.early_media"
)]
#[case::auth_failure_code_1(
    "early-stream",
    Mutant::AuthFailureCode1,
    "darktower.handler.early_media"
)]
fn a_scripted_participant_finds_the_handler_mutant(
    #[case] case: &str,
    #[case] mutant: Mutant,
    #[case] rule: &str,
    #[values(Tr::Quic, WT)] tr: Tr,
) {
    for (m, expected) in [(None, None), (Some(mutant), Some(rule))] {
        let mut w = scripted(tr, HANDLER, m);
        play(&mut w, handler_steps(case));
        check(&w.judge(judged("handler")), expected);
    }
}

/// Client rules on bytes written by hand (the reference handler answers them right).
#[rstest]
#[case::sequence_repeat(vec![frame(SID, 0), frame(SID, 1), frame(SID, 1)], "darktower.client.sequence")]
#[case::sequence_decrease(vec![frame(SID, 0), frame(SID, 2), frame(SID, 1)], "darktower.client.sequence")]
#[case::stream_id_mismatch(vec![frame(SID, 0), frame([0x66; 16], 1)], "darktower.client.frame_stream_id")]
#[case::bad_frame_version(vec![{ let mut f = frame(SID, 0); f[0] = 2; f }], "darktower.client.frame_version")]
#[case::reserved_bytes(vec![{ let mut f = frame(SID, 0); f[45] = 1; f }], "darktower.client.reserved")]
fn scripted_client_media(
    #[case] frames: Vec<Vec<u8>>,
    #[case] rule: &str,
    #[values(Tr::Quic, WT)] tr: Tr,
) {
    let mut w = scripted(tr, HANDLER, None);
    let mut bytes = header();
    for f in frames {
        bytes.extend(f);
    }
    play(
        &mut w,
        vec![
            (0, Media, Control, connect("p1", "j1"), false, 300),
            (0, Media, NewUni, bytes, true, 2_000),
        ],
    );
    check(&w.judge(judged("client")), Some(rule));
    check(&w.judge(judged("handler")), None);
}

#[rstest]
fn a_sequence_gap_is_counted_not_blamed(#[values(Tr::Quic, WT)] tr: Tr) {
    let mut w = scripted(tr, HANDLER, None);
    let mut bytes = header();
    for s in [0, 1, 3] {
        bytes.extend(frame(SID, s));
    }
    play(
        &mut w,
        vec![
            (0, Media, Control, connect("p1", "j1"), false, 300),
            (0, Media, NewUni, bytes, true, 500),
            (0, Media, Uni(0), Vec::new(), false, 0),
        ],
    );
    let r = w.judge(Judged::ALL);
    check(&r, None);
    assert!(
        r.notes.iter().any(|n| n.contains("1 sequence gaps")),
        "{}",
        show(&r)
    );
}

/// DT9 is a contract: a handler whose stack sends raw codes in a `mapped` WebTransport run, or
/// mapped ones in a `raw` run, is read either way and never blamed for it.
#[test]
fn reset_codes_in_either_form_are_not_blamed() {
    for (tr, codes) in [
        (WT, None),
        (WT, Some(ResetCodes::Raw)),
        (Tr::Wt(ResetCodes::Raw), None),
        (Tr::Wt(ResetCodes::Raw), Some(ResetCodes::Mapped)),
    ] {
        let mut w = scripted_with_codes(tr, HANDLER, None, codes);
        play(&mut w, handler_steps("early-stream"));
        let r = w.judge(judged("handler"));
        check(&r, None);
        assert!(
            r.sessions.iter().any(|s| !s.stop_sendings.is_empty()),
            "{}",
            show(&r)
        );
    }
}

/// The reference client's early media (mutant `media-before-auth`) reaches the handler in the
/// same flight as its ConnectRequest: which the handler read first cannot be told from the
/// capture, so neither answer is blamed on the handler — the client is.
#[rstest]
fn early_media_in_the_request_flight_is_the_clients_fault(
    #[values(None, Some(Mutant::MediaBeforeAuthAccepted))] handler: Option<Mutant>,
    #[values(Tr::Quic, WT)] tr: Tr,
) {
    let w = scene(tr, Scene::EarlyMedia, "handler", handler);
    check(&w.judge(judged("handler")), None);
    check(
        &w.judge(judged("client")),
        Some("darktower.client.media_after_auth"),
    );
}
