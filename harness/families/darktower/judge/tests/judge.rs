//! The judge on captures of the reference endpoints: clean meetings have no violation; each
//! misbehaviour breaks the rule it is about.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use handshake_darktower_endpoint::MediaVersion;
use handshake_darktower_judge::{Judged, ResetCodes, Role};
use rstest::rstest;

#[rstest]
#[case::quic_v1(Tr::Quic, MediaVersion::V1)]
#[case::quic_v2(Tr::Quic, MediaVersion::V2)]
#[case::wt_mapped_v1(Tr::Wt(ResetCodes::Mapped), MediaVersion::V1)]
#[case::wt_mapped_v2(Tr::Wt(ResetCodes::Mapped), MediaVersion::V2)]
#[case::wt_raw_v1(Tr::Wt(ResetCodes::Raw), MediaVersion::V1)]
fn a_clean_meeting_has_no_violation(#[case] tr: Tr, #[case] version: MediaVersion) {
    let w = meeting(Setup::new(
        tr,
        vec![
            client_config("alice", version),
            client_config("bob", version),
        ],
    ));
    let r = w.judge(Judged::ALL);
    assert!(r.violations.is_empty(), "violations:\n{}", show(&r));
    let roles: Vec<Role> = r.sessions.iter().map(|s| s.role).collect();
    assert_eq!(
        roles.iter().filter(|r| **r == Role::Controller).count(),
        2,
        "{roles:?}"
    );
    assert_eq!(
        roles.iter().filter(|r| **r == Role::Handler).count(),
        2,
        "{roles:?}"
    );
    assert!(r.sessions.iter().all(|s| s.judged));
    let participants: Vec<_> = r
        .sessions
        .iter()
        .filter(|s| s.role == Role::Controller)
        .filter_map(|s| s.participant.clone())
        .collect();
    assert_eq!(participants, ["p1", "p2"]);
    // Media was there to judge: forwarded streams (v1) or datagrams (v2).
    let forwarded: usize = r
        .sessions
        .iter()
        .map(|s| {
            s.media_streams
                .iter()
                .filter(|m| m.by == handshake_darktower_judge::Side::Server && m.frames > 0)
                .count()
                + s.server_datagrams as usize
        })
        .sum();
    assert!(forwarded > 0, "nothing forwarded:\n{:#?}", r.sessions);
}

/// Three participants, video and audio each, joining 120 ms apart (late joiners get the
/// others' streams from a frame boundary on, DH13), 30 frames: still clean.
#[rstest]
#[case::quic_v1(Tr::Quic, MediaVersion::V1)]
#[case::wt_v1(Tr::Wt(ResetCodes::Mapped), MediaVersion::V1)]
#[case::wt_raw_v2(Tr::Wt(ResetCodes::Raw), MediaVersion::V2)]
fn a_bigger_meeting_is_clean(#[case] tr: Tr, #[case] version: MediaVersion) {
    let clients = ["alice", "bob", "carol"]
        .iter()
        .map(|n| handshake_darktower_endpoint::ClientConfig {
            sources: vec![
                handshake_darktower_endpoint::Source::VIDEO,
                handshake_darktower_endpoint::Source::AUDIO,
            ],
            frames: 30,
            ..client_config(n, version)
        })
        .collect();
    let w = meeting(Setup {
        stagger_ms: 120,
        ..Setup::new(tr, clients)
    });
    let r = w.judge(Judged::ALL);
    assert!(r.violations.is_empty(), "violations:\n{}", show(&r));
    let joined: Vec<_> = r
        .sessions
        .iter()
        .filter(|s| s.role == Role::Controller)
        .map(|s| {
            s.server_messages
                .iter()
                .filter(|m| *m == "participant_joined")
                .count()
        })
        .collect();
    assert_eq!(joined, [2, 1, 0], "{:#?}", r.sessions);
    if version == MediaVersion::V1 {
        // Every participant receives the 2 × 2 streams of the others.
        for s in r.sessions.iter().filter(|s| s.role == Role::Handler) {
            let forwarded = s
                .media_streams
                .iter()
                .filter(|m| m.by == handshake_darktower_judge::Side::Server)
                .count();
            assert_eq!(forwarded, 4, "{:#?}", s.media_streams);
        }
    }
}
