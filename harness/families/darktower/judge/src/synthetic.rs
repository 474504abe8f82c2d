//! Rules without a reference mutant, on connections written by hand at the application layer
//! (the decrypted bytes the rebuild would give): each case breaks exactly its rule, and its
//! corrected twin breaks none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use handshake_darktower_wire::proto::media::{
    media_server_message::Message as Ms, ConnectResponse, MediaServerMessage,
};
use handshake_darktower_wire::proto::signaling::{
    client_message::Message as Cm, server_message::Message as Sm, ClientMessage, ErrorCode,
    ErrorMessage, JoinRequest, JoinResponse, LeaveReason, Participant, ParticipantJoined,
    ParticipantLeft, ServerMessage,
};
use handshake_darktower_wire::{
    encode_message, Flags, FourCc, FrameHeaderRepr, FrameRepr, FrameType, FrameV2Repr,
    StreamHeaderRepr, StreamId, StreamType, FRAME_HEADER_LEN,
};
use handshake_quic::rebuild::{At, Conn, DatagramRec, ResetView, Side, StopSendingView};
use handshake_webtransport_wire::frame::{setting, Settings};
use handshake_webtransport_wire::{qpack, FieldSection, Frame, UniStreamType, VarInt};
use rstest::rstest;

use crate::app::{judge, Capture};
use crate::{Judged, Options, ResetCodes, Transport};

const S: Side = Side::Server;
const C: Side = Side::Client;

/// One connection written by hand; times in ms.
struct Syn {
    conn: Conn,
    packet: u64,
}

fn at(packet: u64, ms: u64) -> At {
    At {
        packet,
        time_ns: handshake_core::EPOCH_NS + ms * 1_000_000,
    }
}

impl Syn {
    fn new(index: usize, alpn: &str, client: &str, server: &str) -> Syn {
        Syn {
            conn: Conn {
                index,
                alpn: Some(alpn.as_bytes().to_vec()),
                client: client.parse::<SocketAddr>().ok(),
                server: server.parse::<SocketAddr>().ok(),
                ..Conn::default()
            },
            packet: (index as u64) * 1_000,
        }
    }
    /// Packet numbers follow time across connections, as in a real capture.
    fn next(&mut self, side: Side, ms: u64) -> At {
        let a = at(ms * 10_000 + self.packet, ms);
        self.packet += 1;
        self.conn.packets.push((a, side));
        self.conn.activity.push(a);
        a
    }
    fn send(&mut self, side: Side, stream: u64, bytes: &[u8], fin: bool, ms: u64) -> &mut Syn {
        let a = self.next(side, ms);
        let flow = &mut self.conn.streams.entry(stream).or_default().flows[side.index()];
        let off = flow.data.len() as u64;
        flow.push(off, bytes, fin, a);
        self
    }
    fn ping(&mut self, side: Side, ms: u64) -> &mut Syn {
        self.next(side, ms);
        self
    }
    fn stop(&mut self, side: Side, stream: u64, code: u64, ms: u64) -> &mut Syn {
        let a = self.next(side, ms);
        let view = StopSendingView {
            by: side,
            code,
            packet: a.packet,
            time_ns: a.time_ns,
        };
        self.conn
            .streams
            .entry(stream)
            .or_default()
            .stops
            .push((view, a));
        self
    }
    fn reset(&mut self, side: Side, stream: u64, code: u64, ms: u64) -> &mut Syn {
        let a = self.next(side, ms);
        let view = ResetView {
            by: side,
            code,
            final_size: 0,
            packet: a.packet,
            time_ns: a.time_ns,
        };
        self.conn
            .streams
            .entry(stream)
            .or_default()
            .resets
            .push((view, a));
        self
    }
    fn datagram(&mut self, side: Side, data: Vec<u8>, ms: u64) -> &mut Syn {
        let a = self.next(side, ms);
        self.conn.datagrams.push(DatagramRec {
            by: side,
            data,
            at: a,
        });
        self
    }
    fn done(&mut self) -> Conn {
        std::mem::take(&mut self.conn)
    }
}

fn cmsg(m: Cm) -> Vec<u8> {
    encode_message(&ClientMessage { message: Some(m) }).unwrap()
}
fn smsg(m: Sm) -> Vec<u8> {
    encode_message(&ServerMessage { message: Some(m) }).unwrap()
}
fn join(name: &str, token: &str) -> Vec<u8> {
    cmsg(Cm::JoinRequest(JoinRequest {
        meeting_id: "standup".into(),
        join_token: token.into(),
        participant_name: name.into(),
        capabilities: None,
    }))
}
fn joined(id: &str, existing: &[&str]) -> Vec<u8> {
    smsg(Sm::JoinResponse(JoinResponse {
        participant_id: id.into(),
        existing_participants: existing
            .iter()
            .map(|p| Participant {
                participant_id: (*p).into(),
                ..Participant::default()
            })
            .collect(),
        // A media handler and a connection token (media_server, a fact).
        media_server: Some(
            handshake_darktower_wire::proto::signaling::MediaServerInfo {
                media_handler_url: "https://10.0.0.3:4434/media".into(),
                connection_token: "t".into(),
            },
        ),
        encryption_keys: None,
    }))
}
fn error(code: ErrorCode) -> Vec<u8> {
    smsg(Sm::Error(ErrorMessage {
        code: code as i32,
        ..ErrorMessage::default()
    }))
}
fn left(id: &str, reason: LeaveReason) -> Vec<u8> {
    smsg(Sm::ParticipantLeft(ParticipantLeft {
        participant_id: id.into(),
        reason: reason as i32,
    }))
}
fn pj(id: &str) -> Vec<u8> {
    smsg(Sm::ParticipantJoined(ParticipantJoined {
        participant: Some(Participant {
            participant_id: id.into(),
            ..Participant::default()
        }),
    }))
}
fn media_answer(m: Ms) -> Vec<u8> {
    encode_message(&MediaServerMessage { message: Some(m) }).unwrap()
}
fn connect_ok(id: &str) -> Vec<u8> {
    media_answer(Ms::ConnectResponse(ConnectResponse {
        participant_id: id.into(),
    }))
}
fn header(id: u8) -> Vec<u8> {
    StreamHeaderRepr {
        stream_type: StreamType::Video,
        stream_id: StreamId([id; 16]),
        codec: FourCc::VP09,
    }
    .to_bytes()
    .to_vec()
}
fn frame(id: u8, seq: u64) -> Vec<u8> {
    FrameRepr {
        frame_type: FrameType::VideoKey,
        stream_id: StreamId([id; 16]),
        timestamp_us: 1_700_000_000_000_000,
        sequence: seq,
        flags: Flags {
            end_of_frame: true,
            discardable: false,
        },
        payload: b"hi",
    }
    .to_vec()
    .unwrap()
}
fn v2(seq: u64) -> Vec<u8> {
    FrameV2Repr {
        frame_type: FrameType::VideoKey,
        user_id: 1,
        stream_id: 1,
        timestamp_us: 1_700_000_000_000_000,
        sequence: seq,
        flags: Flags {
            end_of_frame: true,
            discardable: false,
        },
        payload: b"hi",
    }
    .to_vec()
    .unwrap()
}

const CTRL: &str = "10.0.0.1:4433";
const HAND: &str = "10.0.0.2:4434";

/// A bare-QUIC signaling session of participant `id` joining with `existing` present.
fn signaling(index: usize, name: &str, id: &str, existing: &[&str], ms: u64) -> Syn {
    let mut s = Syn::new(
        index,
        "darktower",
        &format!("10.0.1.{}:5000", index + 1),
        CTRL,
    );
    s.send(C, 0, &join(name, &format!("token-{name}")), false, ms)
        .send(S, 0, &joined(id, existing), false, ms + 1);
    s
}

/// A bare-QUIC media session authenticated as `id`.
fn media(index: usize, id: &str, ms: u64) -> Syn {
    let mut s = Syn::new(
        index,
        "darktower-media",
        &format!("10.0.1.{}:5001", index + 1),
        HAND,
    );
    s.send(C, 0, &[0, 0, 0, 0], false, ms); // placeholder replaced below
    s.conn.streams.clear();
    s.conn.packets.clear();
    s.conn.activity.clear();
    s.send(C, 0, b"\x00\x00\x00\x02\x0a\x00", false, ms)
        .send(S, 0, &connect_ok(id), false, ms + 1);
    s
}

fn verdict(
    conns: Vec<Conn>,
    transport: Transport,
    codes: ResetCodes,
    judged: Judged,
) -> Vec<&'static str> {
    let end = conns
        .iter()
        .flat_map(|c| c.packets.iter().map(|p| p.0))
        .max()
        .unwrap_or_default();
    let cap = Capture {
        conns,
        end,
        secrets: true,
        ..Capture::default()
    };
    let options = Options {
        transport: Some(transport),
        reset_codes: codes,
        judge: judged,
        ..Options::default()
    };
    let r = judge(cap, &options);
    let mut ids = r.broken();
    ids.sort_unstable();
    assert!(
        ids.len() <= 1 && std::env::var("SHOW").is_err(),
        "{:#?}",
        r.violations
            .iter()
            .map(|v| (v.rule, &v.detail))
            .collect::<Vec<_>>()
    );
    ids
}

fn quic(conns: Vec<Conn>, judged: &str) -> Vec<&'static str> {
    verdict(
        conns,
        Transport::Quic,
        ResetCodes::Raw,
        Judged::parse(judged).unwrap(),
    )
}

// ---- Controller ----

fn two_present(bad: bool) -> Vec<Conn> {
    // p1 joins; p2 joins and learns p1; p1 leaves by FIN at 1 s; p2 stays to 3 s.
    let mut a = signaling(0, "alice", "p1", &[], 0);
    a.send(S, 0, &pj("p2"), false, 102)
        .send(C, 0, b"", true, 1_000);
    let mut b = signaling(1, "bob", "p2", &["p1"], 100);
    if !bad {
        b.send(S, 0, &left("p1", LeaveReason::Voluntary), false, 1_001);
    }
    b.ping(C, 3_000);
    vec![a.done(), b.done()]
}

#[rstest]
#[case::clean(false, None)]
#[case::missing(true, Some("darktower.controller.leave"))]
fn participant_left_is_due(#[case] bad: bool, #[case] rule: Option<&str>) {
    assert_eq!(
        quic(two_present(bad), "controller"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

/// A participant id is the controller's choice (the real Dark Tower uses UUIDs): nothing assumes
/// the reference's `p1`, `p2`, …
#[rstest]
#[case::told(true, None)]
#[case::not_told(false, Some("darktower.controller.participant_joined"))]
fn participant_ids_are_the_controllers_choice(#[case] told: bool, #[case] rule: Option<&str>) {
    let (x, y) = (
        "550e8400-e29b-41d4-a716-446655440000",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    );
    let mut a = signaling(0, "alice", x, &[], 0);
    if told {
        a.send(S, 0, &pj(y), false, 102);
    }
    a.send(C, 0, b"", true, 5_000);
    let mut b = signaling(1, "bob", y, &[x], 100);
    b.send(S, 0, &left(x, LeaveReason::Voluntary), false, 5_001)
        .ping(C, 7_000);
    assert_eq!(
        quic(vec![a.done(), b.done()], "controller"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

#[rstest]
#[case::voluntary(LeaveReason::Voluntary, None)]
#[case::lost(LeaveReason::ConnectionLost, Some("darktower.controller.leave"))]
fn participant_left_reason(#[case] reason: LeaveReason, #[case] rule: Option<&str>) {
    let mut a = signaling(0, "alice", "p1", &[], 0);
    a.send(S, 0, &pj("p2"), false, 102)
        .send(C, 0, b"", true, 1_000);
    let mut b = signaling(1, "bob", "p2", &["p1"], 100);
    b.send(S, 0, &left("p1", reason), false, 1_001)
        .ping(C, 3_000);
    assert_eq!(
        quic(vec![a.done(), b.done()], "controller"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

/// DT10 is a fact (the others learn of an idle-out: a controller that never tells them fails);
/// its reason CONNECTION_LOST is DT10.reason, a profile decision (another reason deviates).
#[rstest]
#[case::idle_lost(Some(LeaveReason::ConnectionLost), None)]
#[case::idle_voluntary(Some(LeaveReason::Voluntary), Some("darktower.controller.leave"))]
#[case::never_told(None, Some("darktower.controller.participant_left"))]
fn an_idle_participant_is_lost(#[case] reason: Option<LeaveReason>, #[case] rule: Option<&str>) {
    // Alice goes silent at 0.1 s; Bob (keep-alives every 15 s) hears of it at 30.1 s.
    let mut a = signaling(0, "alice", "p1", &[], 0);
    a.send(S, 0, &pj("p2"), false, 102);
    let mut b = signaling(1, "bob", "p2", &["p1"], 100);
    b.ping(C, 15_000);
    if let Some(reason) = reason {
        b.send(S, 0, &left("p1", reason), false, 30_200);
    }
    b.ping(C, 30_300).ping(C, 45_000);
    assert_eq!(
        quic(vec![a.done(), b.done()], "controller"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

#[rstest]
#[case::resume_same_token(true, None)]
#[case::other_token(false, Some("darktower.controller.participant_ids"))]
fn participant_ids_are_unique(#[case] same: bool, #[case] rule: Option<&str>) {
    let mut a = signaling(0, "alice", "p1", &[], 0);
    a.send(C, 0, b"", true, 500);
    let mut b = Syn::new(1, "darktower", "10.0.1.2:5000", CTRL);
    let token = if same { "token-alice" } else { "token-mallory" };
    b.send(C, 0, &join("alice", token), false, 1_000)
        .send(S, 0, &joined("p1", &[]), false, 1_001);
    assert_eq!(
        quic(vec![a.done(), b.done()], "controller"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

#[rstest]
#[case::clean(0, None)]
#[case::joined_before_response(1, Some("darktower.controller.join_answer"))]
#[case::more_after_error(2, Some("darktower.controller.join_answer"))]
#[case::no_fin_after_error(3, Some("darktower.controller.join_answer"))]
#[case::empty_server_frame(4, Some("darktower.controller.frame"))]
#[case::fatal_then_more(5, Some("darktower.controller.fatal"))]
#[case::undecodable_not_invalid_request(6, Some("darktower.controller.undecodable"))]
fn controller_answers(#[case] case: u8, #[case] rule: Option<&str>) {
    let mut s = Syn::new(0, "darktower", "10.0.1.1:5000", CTRL);
    s.send(C, 0, &join("alice", "t"), false, 0);
    match case {
        0 => {
            s.send(S, 0, &error(ErrorCode::Unauthorized), true, 1);
        }
        1 => {
            s.send(S, 0, &pj("p9"), false, 1)
                .send(S, 0, &joined("p1", &[]), false, 2);
        }
        2 => {
            s.send(S, 0, &error(ErrorCode::Unauthorized), false, 1)
                .send(S, 0, &pj("p9"), true, 2);
        }
        3 => {
            s.send(S, 0, &error(ErrorCode::Unauthorized), false, 1)
                .ping(S, 3_000);
        }
        4 => {
            s.send(S, 0, &[0, 0, 0, 0], false, 1);
        }
        5 | 6 => {
            s.send(S, 0, &joined("p1", &[]), false, 1).send(
                C,
                0,
                b"\x00\x00\x00\x02\xff\xff",
                false,
                100,
            );
            if case == 5 {
                s.send(S, 0, &error(ErrorCode::InvalidRequest), false, 101)
                    .send(S, 0, &pj("p9"), false, 102);
            } else {
                s.send(S, 0, &error(ErrorCode::NotFound), false, 101)
                    .ping(C, 3_000);
            }
        }
        _ => unreachable!(),
    }
    assert_eq!(
        quic(vec![s.done()], "controller"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

// ---- Handler ----

#[rstest]
#[case::clean(0, None)]
#[case::auth_not_found(1, Some("darktower.handler.auth_answer"))]
#[case::undecodable_answer(2, None)]
#[case::quota_wrong_code(3, Some("darktower.handler.quota"))]
#[case::quota_right_code(4, None)]
#[case::internal_error(5, Some("darktower.handler.no_internal_error"))]
#[case::valid_stream_stopped(6, Some("darktower.handler.bad_media"))]
#[case::forged_datagram(7, Some("darktower.handler.datagram_forward"))]
#[case::forwarded_datagram(8, None)]
#[case::forwarded_back(9, Some("darktower.handler.forward"))]
#[case::forward_reset_not_graceful(10, Some("darktower.handler.forward"))]
fn handler_answers(#[case] case: u8, #[case] rule: Option<&str>) {
    let mut a = media(0, "p1", 0);
    let mut conns = Vec::new();
    match case {
        0 => {}
        1 | 2 => {
            a.conn.streams.clear();
            a.send(C, 0, b"\x00\x00\x00\x02\x0a\x00", false, 0);
            let answer = if case == 1 {
                media_answer(Ms::Error(ErrorMessage {
                    code: ErrorCode::NotFound as i32,
                    ..ErrorMessage::default()
                }))
            } else {
                vec![0, 0, 0, 2, 0xff, 0xff]
            };
            a.send(S, 0, &answer, true, 1);
        }
        3 | 4 => {
            let mut bytes = header(7);
            let big = FrameHeaderRepr {
                frame_type: FrameType::VideoKey,
                stream_id: StreamId([7; 16]),
                timestamp_us: 1_700_000_000_000_000,
                sequence: 0,
                payload_len: 2 << 20,
                flags: Flags::default(),
            };
            let mut fh = vec![0u8; FRAME_HEADER_LEN];
            fh[0] = 1;
            fh[1] = 1;
            fh[2..18].copy_from_slice(&big.stream_id.0);
            fh[34..38].copy_from_slice(&big.payload_len.to_be_bytes());
            bytes.extend(fh);
            a.send(C, 2, &bytes, false, 100)
                .stop(S, 2, if case == 3 { 1 } else { 3 }, 101)
                .ping(C, 3_000);
        }
        5 | 6 => {
            let mut bytes = header(7);
            bytes.extend(frame(7, 0));
            a.send(C, 2, &bytes, false, 100)
                .stop(S, 2, if case == 5 { 4 } else { 1 }, 101)
                .ping(C, 3_000);
        }
        7 | 8 => {
            let mut b = media(1, "p2", 0);
            let mut d = v2(0);
            if case == 7 {
                d[30] ^= 1;
            }
            a.datagram(C, v2(0), 100);
            b.datagram(S, d, 101);
            conns.push(b.done());
        }
        9 | 10 => {
            let mut bytes = header(7);
            bytes.extend(frame(7, 0));
            a.send(C, 2, &bytes, false, 100);
            if case == 9 {
                a.send(S, 3, &bytes, false, 101);
            } else {
                let mut b = media(1, "p2", 0);
                b.send(S, 3, &bytes, false, 101).reset(S, 3, 1, 102);
                conns.push(b.done());
            }
        }
        _ => unreachable!(),
    }
    conns.insert(0, a.done());
    assert_eq!(quic(conns, "handler"), rule.into_iter().collect::<Vec<_>>());
}

// ---- Client ----

#[rstest]
#[case::valid(v2(0), None)]
#[case::bad_version({ let mut d = v2(0); d[0] = 2; d }, Some("darktower.client.datagram"))]
#[case::cut_short(v2(0)[..43].to_vec(), Some("darktower.client.datagram"))]
#[case::reserved({ let mut d = v2(0); d[41] = 1; d }, Some("darktower.client.reserved"))]
#[case::timestamp_little_endian({ let mut d = v2(0); d[14..22].reverse(); d }, Some("darktower.client.timestamp"))]
fn client_datagrams(#[case] d: Vec<u8>, #[case] rule: Option<&str>) {
    let mut a = media(0, "p1", 0);
    a.datagram(C, d, 100);
    assert_eq!(
        quic(vec![a.done()], "client"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

#[rstest]
#[case::header_cut_by_fin(header(7)[..20].to_vec(), Some("darktower.client.media_header"))]
#[case::stream_type_2({ let mut h = header(7); h[5] = 2; h }, Some("darktower.client.media_header"))]
#[case::fin_inside_frame({ let mut h = header(7); h.extend(&frame(7, 0)[..47]); h }, Some("darktower.client.media_frame"))]
#[case::zero_frames(header(7), None)]
fn client_media_streams(#[case] bytes: Vec<u8>, #[case] rule: Option<&str>) {
    let mut a = media(0, "p1", 0);
    a.send(C, 2, &bytes, true, 100);
    assert_eq!(
        quic(vec![a.done()], "client"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

/// DT1: a client's media goes on unidirectional streams; the same header and frame on a
/// bidirectional stream of its own (not its authentication stream) deviate.
#[rstest]
#[case::unidirectional(2, None)]
#[case::bidirectional(4, Some("darktower.client.media_unidirectional"))]
fn client_media_direction(#[case] stream: u64, #[case] rule: Option<&str>) {
    let mut a = media(0, "p1", 0);
    let mut bytes = header(7);
    bytes.extend(frame(7, 0));
    a.send(C, stream, &bytes, true, 100);
    assert_eq!(
        quic(vec![a.done()], "client"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

// ---- Transport (WebTransport) ----

fn wt_session(settings: Settings, status: &str, stop: Option<u64>) -> Conn {
    let mut s = Syn::new(0, "h3", "10.0.1.1:5001", HAND);
    let control = |settings: &Settings| {
        let mut out = UniStreamType::Control.to_vec();
        Frame::Settings(settings.clone()).emit(&mut out);
        out
    };
    let connect =
        Frame::Headers(&FieldSection::encode(&qpack::webtransport_connect("h", "/media")).to_vec())
            .to_vec();
    let fields = vec![qpack::Field::new(":status", status)];
    let answer = Frame::Headers(&FieldSection::encode(&fields).to_vec()).to_vec();
    let mut auth = vec![0x40, 0x41, 0x00];
    auth.extend(b"\x00\x00\x00\x02\x0a\x00");
    let mut uni = UniStreamType::WebTransport(VarInt::from_u32(0)).to_vec();
    uni.extend(header(7));
    uni.extend(frame(7, 0));
    s.send(C, 2, &control(&Settings::webtransport(1)), false, 0)
        .send(S, 3, &control(&settings), false, 1)
        .send(C, 0, &connect, false, 2)
        .send(S, 0, &answer, false, 3)
        .send(C, 4, &auth, false, 4)
        .send(S, 4, &connect_ok("p1"), false, 5)
        .send(C, 6, &uni, false, 100);
    if let Some(code) = stop {
        s.stop(S, 6, code, 101);
    }
    s.ping(C, 3_000);
    s.done()
}

#[rstest]
#[case::clean(Settings::webtransport(1), "200", None, ResetCodes::Mapped, None)]
#[case::no_datagrams({ let mut s = Settings::default(); s.push(setting::ENABLE_CONNECT_PROTOCOL, 1).unwrap(); s.push(setting::WT_MAX_SESSIONS, 1).unwrap(); s }, "200", None, ResetCodes::Mapped, Some("darktower.h3.settings"))]
#[case::refused(
    Settings::webtransport(1),
    "404",
    None,
    ResetCodes::Mapped,
    Some("darktower.h3.connect")
)]
#[case::graceful_mapped(
    Settings::webtransport(1),
    "200",
    Some(handshake_webtransport_wire::error_code::to_http3(0)),
    ResetCodes::Mapped,
    None
)]
#[case::raw_in_mapped(Settings::webtransport(1), "200", Some(0), ResetCodes::Mapped, None)]
#[case::mapped_in_raw(
    Settings::webtransport(1),
    "200",
    Some(handshake_webtransport_wire::error_code::to_http3(0)),
    ResetCodes::Raw,
    None
)]
#[case::reserved_point(
    Settings::webtransport(1),
    "200",
    Some(handshake_webtransport_wire::error_code::WT_FIRST + 0x1e),
    ResetCodes::Mapped,
    Some("darktower.reset.mapping")
)]
fn webtransport_layer(
    #[case] settings: Settings,
    #[case] status: &str,
    #[case] stop: Option<u64>,
    #[case] codes: ResetCodes,
    #[case] rule: Option<&str>,
) {
    let ids = verdict(
        vec![wt_session(settings, status, stop)],
        Transport::WebTransport,
        codes,
        Judged::parse("handler").unwrap(),
    );
    assert_eq!(ids, rule.into_iter().collect::<Vec<_>>());
}

/// DT9 and DH1 are contracts: a mapped code over bare QUIC is read, not blamed; the ALPN the
/// server selects must be one the client offered (RFC 7301), whatever its name.
#[test]
fn codes_are_read_either_way_and_the_alpn_is_one_offered() {
    let mut a = media(0, "p1", 0);
    let mut bytes = header(7);
    bytes.extend(frame(7, 0));
    a.send(C, 2, &bytes, false, 100).stop(
        S,
        2,
        handshake_webtransport_wire::error_code::to_http3(0),
        101,
    );
    assert_eq!(quic(vec![a.done()], "handler"), Vec::<&str>::new());
    let mut b = media(0, "p1", 0);
    b.conn.alpn = Some(b"darktower".to_vec());
    b.conn.offered_alpn = vec![b"darktower-media".to_vec(), b"darktower".to_vec()];
    assert_eq!(
        quic(vec![b.done()], "controller,handler"),
        Vec::<&str>::new()
    );
    let mut b = media(0, "p1", 0);
    b.conn.alpn = Some(b"h3".to_vec());
    b.conn.offered_alpn = vec![b"darktower-media".to_vec()];
    assert_eq!(
        quic(vec![b.done()], "controller,handler"),
        ["darktower.alpn"]
    );
    let mut c = media(0, "p1", 0);
    c.conn.undecrypted_1rtt = 1;
    let none = verdict(
        vec![c.done()],
        Transport::Quic,
        ResetCodes::Raw,
        Judged::NONE,
    );
    assert_eq!(none, ["darktower.decrypt"]);
}

/// DH9: a participant that left and resumes is announced again; one that resumes while present
/// replaces its old session and the others see nothing.
#[rstest]
#[case::left_then_announced(true, true, None)]
#[case::left_not_announced(true, false, Some("darktower.controller.participant_joined"))]
#[case::present_replaced_silently(false, false, None)]
fn a_resume(#[case] left_first: bool, #[case] announced: bool, #[case] rule: Option<&str>) {
    let mut a = signaling(0, "alice", "p1", &[], 0);
    a.send(S, 0, &pj("p2"), false, 102);
    if left_first {
        a.send(C, 0, b"", true, 1_000);
    }
    let mut b = signaling(1, "bob", "p2", &["p1"], 100);
    if left_first {
        b.send(S, 0, &left("p1", LeaveReason::Voluntary), false, 1_001);
    }
    let mut again = signaling(2, "alice", "p1", &["p2"], 2_000);
    // The same join token as the first session (a resume, DH9).
    again.conn.streams.clear();
    again
        .send(C, 0, &join("alice", "token-alice"), false, 2_000)
        .send(S, 0, &joined("p1", &["p2"]), false, 2_001);
    if announced {
        b.send(S, 0, &pj("p1"), false, 2_002);
    }
    if !left_first {
        // The old session is closed by the controller (`replaced`).
        a.ping(S, 2_002);
    }
    b.ping(C, 5_000);
    again.ping(C, 5_000);
    assert_eq!(
        quic(vec![a.done(), b.done(), again.done()], "controller"),
        rule.into_iter().collect::<Vec<_>>()
    );
}

/// Bare-QUIC peers that use ALPN `darktower` for both sessions: the media session is told by
/// the address its JoinResponse named (or by its media).
#[test]
fn one_alpn_for_both_sessions() {
    let mut sig = Syn::new(0, "darktower", "10.0.1.1:5000", CTRL);
    let answer = smsg(Sm::JoinResponse(JoinResponse {
        participant_id: "p1".into(),
        media_server: Some(
            handshake_darktower_wire::proto::signaling::MediaServerInfo {
                media_handler_url: format!("quic://{HAND}"),
                connection_token: String::new(),
            },
        ),
        ..JoinResponse::default()
    }));
    sig.send(C, 0, &join("alice", "t"), false, 0)
        .send(S, 0, &answer, false, 1);
    let mut m = media(1, "p1", 10);
    m.conn.alpn = Some(b"darktower".to_vec());
    let end = at(99_999_999, 100);
    let cap = Capture {
        conns: vec![sig.done(), m.done()],
        end,
        secrets: true,
        ..Capture::default()
    };
    let r = judge(cap, &Options::default());
    let roles: Vec<_> = r.sessions.iter().map(|s| s.role).collect();
    assert_eq!(roles, [crate::Role::Controller, crate::Role::Handler]);
    assert_eq!(r.sessions[1].participant.as_deref(), Some("p1"));
}
