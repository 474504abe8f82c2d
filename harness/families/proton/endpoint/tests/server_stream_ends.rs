//! P5 (corrected: the original's code), both profiles: a stream that ends (FIN or RESET_STREAM)
//! before its discriminator fails its setup (close 1); after the setup every FIN ends a read
//! early (close 5, at a u32 boundary too); a RESET_STREAM after the setup closes with 5 (H7).
//! And the scripted peer's acknowledgement tracking, which a step racing the setup waits for.

mod common;

use common::{connected, connected_tracking, Pair};
use handshake_core::Instant;
use handshake_proton_endpoint::ProtonEvent;
use handshake_quic::{Close, ConnId};

/// The server's own close: (ms, code).
fn server_close(pair: &Pair) -> Option<(u64, u64)> {
    pair.server_events.iter().find_map(|(at, e)| match e {
        ProtonEvent::Ended {
            close: Close::Application { code, .. },
            by_peer: false,
            ..
        } => Some((at.as_nanos() / 1_000_000, *code)),
        _ => None,
    })
}

/// Opens `n` streams and writes `discs` on the first of them.
fn open(pair: &mut Pair, conn: ConnId, n: usize, discs: &[u8]) {
    let now = pair.now();
    for i in 0..n {
        let id = pair.client.open(now, conn, true).expect("open");
        if let Some(d) = discs.get(i) {
            pair.client.write(now, conn, id, &[*d]).expect("write");
        }
    }
}

#[test]
fn a_fin_before_the_discriminator_fails_the_setup() {
    for profile in ["as_coded", "project"] {
        let (mut pair, conn) = connected(profile);
        open(&mut pair, conn, 2, &[1]);
        let now = pair.now();
        pair.client.fin(now, conn, 4).expect("fin");
        pair.run_until(Instant::from_millis(500));
        assert_eq!(server_close(&pair).map(|c| c.1), Some(1), "{profile}");
    }
}

#[test]
fn a_reset_before_the_discriminator_fails_the_setup() {
    for profile in ["as_coded", "project"] {
        let (mut pair, conn) = connected(profile);
        open(&mut pair, conn, 2, &[1]);
        let now = pair.now();
        pair.client.reset(now, conn, 4, 7).expect("reset");
        pair.run_until(Instant::from_millis(500));
        assert_eq!(server_close(&pair).map(|c| c.1), Some(1), "{profile}");
    }
}

/// Stream 4's discriminator arrived, but the server was still waiting for stream 0's (H2: one at
/// a time, in order): the reset discards it, as quinn does, and stream 4's setup fails when its
/// turn comes.
#[test]
fn a_reset_of_a_stream_not_set_up_yet_fails_its_setup_when_its_turn_comes() {
    for profile in ["as_coded", "project"] {
        let (mut pair, conn) = connected(profile);
        let now = pair.now();
        for _ in 0..2 {
            pair.client.open(now, conn, true).expect("open");
        }
        pair.client.write(now, conn, 4, &[2]).expect("write");
        pair.run_until(Instant::from_millis(100));
        let now = pair.now();
        pair.client.reset(now, conn, 4, 7).expect("reset");
        pair.run_until(Instant::from_millis(200));
        assert_eq!(server_close(&pair), None, "{profile}: waits for stream 0");
        let now = pair.now();
        pair.client.write(now, conn, 0, &[1]).expect("write");
        pair.run_until(Instant::from_millis(500));
        assert_eq!(server_close(&pair), Some((205, 1)), "{profile}");
    }
}

#[test]
fn every_fin_after_the_setup_closes_with_5() {
    for profile in ["as_coded", "project"] {
        for (stream, before) in [(0u64, &[][..]), (0, &[1, 0, 0, 0][..]), (8, &[42, 0][..])] {
            let (mut pair, conn) = connected(profile);
            open(&mut pair, conn, 3, &[1, 2, 3]);
            pair.run_until(Instant::from_millis(100));
            let now = pair.now();
            pair.client.write(now, conn, stream, before).expect("write");
            pair.client.fin(now, conn, stream).expect("fin");
            pair.run_until(Instant::from_millis(500));
            assert_eq!(
                server_close(&pair).map(|c| c.1),
                Some(5),
                "{profile}: FIN on {stream} after {before:?}"
            );
        }
    }
}

#[test]
fn a_reset_after_the_setup_closes_with_5() {
    for profile in ["as_coded", "project"] {
        let (mut pair, conn) = connected(profile);
        open(&mut pair, conn, 3, &[1, 2, 3]);
        pair.run_until(Instant::from_millis(100));
        let now = pair.now();
        pair.client.reset(now, conn, 4, 7).expect("reset");
        pair.run_until(Instant::from_millis(500));
        assert_eq!(server_close(&pair).map(|c| c.1), Some(5), "{profile}");
    }
}

/// The scripted peer reports how far the server acknowledged each stream (only when asked).
#[test]
fn the_scripted_peer_reports_what_the_server_acknowledged() {
    let acked = |track: bool| {
        let (mut pair, conn) = connected_tracking("project", track);
        open(&mut pair, conn, 3, &[1, 2, 3]);
        pair.run_until(Instant::from_millis(100));
        let now = pair.now();
        pair.client
            .write(now, conn, 0, &[1, 0, 0, 0])
            .expect("write");
        pair.run_until(Instant::from_millis(200));
        pair.client_events
            .iter()
            .filter_map(|(_, e)| match e {
                ProtonEvent::Acked { stream, offset, .. } => Some((*stream, *offset)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let mut got = acked(true);
    got.sort_unstable();
    assert_eq!(got, vec![(0, 1), (0, 5), (4, 1), (8, 1)]);
    assert_eq!(acked(false), vec![]);
}
