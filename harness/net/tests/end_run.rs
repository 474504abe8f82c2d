//! Ending a run records what the link still holds, so a capture written from the trace loses nothing.

use handshake_core::Instant;
use handshake_net::{FaultAction, FaultRule, LinkConfig, LinkEvent, Predicate, VirtualLink};

#[test]
fn in_flight_and_held_datagrams_are_recorded_at_the_end() {
    let (a, b) = (
        "10.0.0.1:1".parse().expect("addr"),
        "10.0.0.2:2".parse().expect("addr"),
    );
    let mut link = VirtualLink::new(LinkConfig::with_seed(1))
        .with_rules([FaultRule::new(
            1,
            Predicate::any().from(a),
            FaultAction::Delay { ms: 50 },
        )])
        .expect("rules");
    link.send(Instant::ZERO, a, b, b"late".to_vec(), false);
    link.send(Instant::ZERO, b, a, b"on time".to_vec(), false);
    assert!(
        link.pop_due(Instant::from_millis(1), |_| true).is_some(),
        "b's datagram arrives"
    );
    assert_eq!(link.end_run(Instant::from_millis(2)), 1);
    assert_eq!(link.in_flight(), 0);
    let last = link.trace().last().expect("event");
    assert!(
        matches!(last, LinkEvent::InFlightAtEnd { payload, .. } if payload == b"late"),
        "{last:?}"
    );
    assert_eq!(
        last.comment().as_deref(),
        Some("in flight when the run ended; harness: rule 1 delayed 50 ms")
    );
    assert_eq!(link.end_run(Instant::from_millis(3)), 0, "nothing twice");
}
