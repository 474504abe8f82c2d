//! The scripted peer takes any stream a scenario names: a side a stream does not have is an
//! error, never a panic (quinn-proto asserts on it).

mod common;

use common::Pair;

#[test]
fn a_side_a_unidirectional_stream_does_not_have_is_an_error() {
    let (mut pair, conn) = Pair::connected("project");
    let now = pair.now;
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
    pair.run_until(5_000);
}

/// quinn keeps state for the server's streams before the server opens them: a FIN on stream 5
/// went out, and the ACK of it underflowed quinn's stream count (a panic with overflow checks).
#[test]
fn a_stream_the_other_side_never_opened_is_not_acted_on() {
    let (mut pair, conn) = Pair::connected("project");
    let now = pair.now;
    let fin = pair.client.fin(now, conn, 5);
    let write = pair.client.write(now, conn, 1, &[1]);
    let stop = pair.client.stop_sending(now, conn, 1, 0);
    pair.run_until(5_000);
    assert!(fin.is_err() && write.is_err() && stop.is_err());
}
