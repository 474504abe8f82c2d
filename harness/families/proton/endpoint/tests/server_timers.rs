//! H6: the operation timer of a stream starts when the server starts serving it, once all
//! three are set up (H2), not at its own setup.

mod common;

use std::time::Duration;

use common::connected_with;
use handshake_core::Instant;
use handshake_proton_endpoint::ProtonEvent;
use handshake_quic::Close;

#[test]
fn the_op_timer_of_a_stream_set_up_first_starts_with_the_serving() {
    for profile in ["as_coded", "project"] {
        let (mut pair, conn) = connected_with(profile, |p| {
            p.timers.op = Duration::from_millis(300);
            p.timers.accept = Duration::from_millis(5_000);
            p.timers.discriminator = Some(Duration::from_millis(1_000));
        });
        let now = pair.now();
        pair.client.open(now, conn, true).expect("open");
        pair.client.write(now, conn, 0, &[1]).expect("write");
        pair.run_until(Instant::from_millis(250));
        let now = pair.now();
        for (stream, disc) in [(4, 2), (8, 3)] {
            pair.client.open(now, conn, true).expect("open");
            pair.client
                .write(now, conn, stream, &[disc])
                .expect("write");
        }
        pair.run_until(Instant::from_millis(2_000));
        // All three set up at 255 ms (5 ms latency): silence closes at 555 ms, not 355 ms.
        let closed = pair.server_events.iter().find_map(|(at, e)| match e {
            ProtonEvent::Ended {
                close: Close::Application { code, .. },
                by_peer: false,
                ..
            } => Some((at.as_nanos() / 1_000_000, *code)),
            _ => None,
        });
        assert_eq!(
            closed,
            Some((555, 4)),
            "{profile}: {:?}",
            pair.server_events
        );
    }
}
