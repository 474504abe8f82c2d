//! The scripted peer takes any stream a scenario names: a side a stream does not have is an
//! error, never a panic (quinn-proto asserts on it).

mod common;

use common::{connected, Pair};
use handshake_core::Instant;
use handshake_proton_endpoint::ProtonEvent;

#[test]
fn a_side_a_unidirectional_stream_does_not_have_is_an_error() {
    let (mut pair, conn) = connected("project");
    let now = pair.now();
    let client = &mut pair.client;
    // Stream 2 is the client's own unidirectional stream (send only), 3 the server's (receive
    // only); neither is open, so each is done at once.
    assert!(client.stop_sending(now, conn, 2, 0).is_err());
    for stream in [3, 7] {
        assert!(client.write(now, conn, stream, &[1]).is_err());
        assert!(client.fin(now, conn, stream).is_err());
        assert!(client.reset(now, conn, stream, 0).is_err());
    }
    // The same on a closed connection that quinn still keeps while it drains (a uni stream
    // the client asked for and never got, the server allowing none).
    let uni = client.open(now, conn, false).expect("open");
    client.close(now, conn, 0, "done");
    assert!(client.stop_sending(now, conn, uni, 0).is_err());
    pair.run_until(Instant::from_millis(5_000));
}

/// quinn keeps state for the server's streams before the server opens them: a FIN on stream 5
/// went out, and the ACK of it underflowed quinn's stream count (a panic with overflow checks).
#[test]
fn a_stream_the_other_side_never_opened_is_not_acted_on() {
    let (mut pair, conn) = connected("project");
    let now = pair.now();
    let fin = pair.client.fin(now, conn, 5);
    let write = pair.client.write(now, conn, 1, &[1]);
    let stop = pair.client.stop_sending(now, conn, 1, 0);
    pair.run_until(Instant::from_millis(5_000));
    assert!(fin.is_err() && write.is_err() && stop.is_err());
}

/// A second FIN or reset, and anything on a connection that ended, send nothing and are no
/// error: nothing more can go out there (a learner's queries may ask for them in any order).
#[test]
fn what_can_no_longer_go_out_is_nothing_not_an_error() {
    let (mut pair, conn) = connected("as_coded");
    let now = pair.now();
    let client = &mut pair.client;
    let stream = client.open(now, conn, true).expect("open");
    assert!(!client.used(conn, stream));
    client.write(now, conn, stream, &[1]).expect("write");
    assert!(client.used(conn, stream));
    client.fin(now, conn, stream).expect("fin");
    client.fin(now, conn, stream).expect("a second fin");
    let other = client.open(now, conn, true).expect("open");
    client.reset(now, conn, other, 0).expect("reset");
    client.reset(now, conn, other, 0).expect("a second reset");
    client.fin(now, conn, other).expect("a fin after the reset");
    // The server closes (the second stream was reset before its discriminator: 1, P5); long
    // after, the connection has drained and is gone.
    pair.run_until(Instant::from_millis(20_000));
    assert!(pair
        .client_events
        .iter()
        .any(|(_, e)| matches!(e, ProtonEvent::Ended { by_peer: true, .. })));
    let now = pair.now();
    let client = &mut pair.client;
    client
        .write(now, conn, stream, &[1])
        .expect("a write after the end");
    client.fin(now, conn, other).expect("a fin after the end");
    client
        .reset(now, conn, stream, 0)
        .expect("a reset after the end");
    // A connection never made is still an error.
    assert!(client.write(now, conn + 1, 0, &[1]).is_err());
}

/// Writing on a stream of ours that was never opened opens it and the lower ones of its kind
/// (as QUIC creates streams, RFC 9000 §2.1): a write on stream 12 is a 4th bidirectional stream,
/// which an as-coded server's MAX_STREAMS 3 blocks; the write waits, and is no error, and each
/// write on it while it waits says so.
#[test]
fn a_write_on_a_stream_never_opened_opens_it() {
    let (mut pair, conn) = connected("as_coded");
    let now = pair.now();
    assert!(pair.client.write(now, conn, 12, &[1]).is_ok());
    pair.run_until(Instant::from_millis(1_000));
    let blocked = |pair: &Pair| {
        pair.client_events
            .iter()
            .filter(|(_, e)| matches!(e, ProtonEvent::Blocked { .. }))
            .count()
    };
    assert_eq!(blocked(&pair), 1, "{:?}", pair.client_events);
    // Written on again, still blocked: said again.
    let now = pair.now();
    assert!(pair.client.write(now, conn, 12, &[1]).is_ok());
    pair.run_until(Instant::from_millis(2_000));
    assert_eq!(blocked(&pair), 2, "{:?}", pair.client_events);
    // Streams 0 to 12 are taken: the next one opened is 16.
    let now = pair.now();
    assert_eq!(pair.client.open(now, conn, true), Ok(16));
}
