//! P2 push (H5) when the Action stream is not the third stream the client set up (H2 sets
//! streams up in the order opened, whatever their discriminators).

mod common;

use std::time::Duration;

use common::{connected, connected_with, Pair};
use handshake_core::Instant;
use handshake_proton_endpoint::ProtonEvent;
use handshake_quic::Close;

fn values_on(pair: &Pair, stream: u64) -> Vec<u32> {
    pair.client_events
        .iter()
        .filter_map(|(_, e)| match e {
            ProtonEvent::Value {
                stream: s, value, ..
            } if *s == stream => Some(*value),
            _ => None,
        })
        .collect()
}

fn server_close(pair: &Pair) -> Option<(u64, bool)> {
    pair.server_events.iter().find_map(|(_, e)| match e {
        ProtonEvent::Ended {
            close: Close::Application { code, .. },
            by_peer,
            ..
        } => Some((*code, *by_peer)),
        _ => None,
    })
}

/// Action set up first, the other two 300 ms later: the server neither spins on a push timer
/// it cannot serve (it used to: a wake-up in the past for ever) nor pushes before all three
/// are set up (H2), then pushes on the Action stream (0), never on stream 8.
#[test]
fn action_first_pushes_on_its_own_stream_once_all_three_are_set_up() {
    let (mut pair, conn) = connected("project+action_push");
    let now = pair.now();
    for _ in 0..3 {
        pair.client.open(now, conn, true).expect("open");
    }
    pair.client.write(now, conn, 0, &[3]).expect("write");
    pair.run_until(Instant::from_millis(350));
    assert!(values_on(&pair, 0).is_empty(), "{:?}", pair.client_events);
    let now = pair.now();
    pair.client.write(now, conn, 4, &[1]).expect("write");
    pair.client.write(now, conn, 8, &[2]).expect("write");
    pair.run_until(Instant::from_millis(700));
    let pushed = values_on(&pair, 0);
    assert!(pushed.len() >= 3, "{:?}", pair.client_events);
    assert_eq!(pushed, (0..pushed.len() as u32).collect::<Vec<_>>());
    assert!(values_on(&pair, 8).is_empty(), "{:?}", pair.client_events);
    assert_eq!(server_close(&pair), None);
}

/// In push mode the client need not write on the Action stream: its silence there is no
/// operation timeout, wherever the Action stream is; the other two streams' silence is.
#[test]
fn a_silent_action_stream_is_no_operation_timeout_in_push_mode() {
    let (mut pair, conn) = connected_with("project+action_push", |p| {
        p.timers.op = Duration::from_millis(300);
    });
    let now = pair.now();
    for _ in 0..3 {
        pair.client.open(now, conn, true).expect("open");
    }
    for (stream, disc) in [(0, 3), (4, 1), (8, 2)] {
        pair.client
            .write(now, conn, stream, &[disc])
            .expect("write");
    }
    // The op timer is 300 ms: events and commits every 100 ms for 1 s.
    let step = 100;
    for k in 1..=10u32 {
        let at = pair.now().as_nanos() / 1_000_000 + step;
        pair.run_until(Instant::from_millis(at));
        let now = pair.now();
        pair.client
            .write(now, conn, 4, &k.to_le_bytes())
            .expect("write");
        pair.client
            .write(now, conn, 8, &k.to_le_bytes())
            .expect("write");
    }
    assert_eq!(server_close(&pair), None, "{:?}", pair.server_events);
    assert!(values_on(&pair, 0).len() >= 5, "{:?}", pair.client_events);
    // Then silence on the other two: code 4.
    pair.run_until(Instant::from_millis(
        pair.now().as_nanos() / 1_000_000 + 1_000,
    ));
    assert_eq!(
        server_close(&pair),
        Some((4, false)),
        "{:?}",
        pair.server_events
    );
}
