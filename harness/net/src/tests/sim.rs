//! The simulation driver with toy endpoints.

use rstest::rstest;

use super::util::*;
use crate::{
    FaultAction, FaultRule, LinkConfig, LinkEvent, Nth, Predicate, RunLimits, RunOutcome, SimError,
    SimEvent, Simulation, Until, VirtualLink,
};
use handshake_core::{Endpoint, Instant, Transmit};

fn ping_sim(seed: u64, rules: Vec<FaultRule>, pinger: Pinger) -> Simulation<Toy> {
    let link = VirtualLink::new(LinkConfig::with_seed(seed))
        .with_classifier(classify)
        .with_rules(rules)
        .expect("unique rule ids");
    Simulation::new(link)
        .with_endpoint(addr(A), Toy::Pinger(pinger))
        .expect("free address")
        .with_endpoint(addr(B), Toy::Echoer(Echoer::default()))
        .expect("free address")
}

fn events_of(sim: &Simulation<Toy>, host: u8) -> Vec<(u64, ToyEvent)> {
    sim.events()
        .iter()
        .filter(|e| e.endpoint == addr(host))
        .map(|e| (e.at.as_nanos() / 1_000_000, e.event.clone()))
        .collect()
}

fn acked_at(sim: &Simulation<Toy>) -> Vec<(u64, u32)> {
    events_of(sim, A)
        .into_iter()
        .filter_map(|(t, e)| match e {
            ToyEvent::Acked { seq } => Some((t, seq)),
            _ => None,
        })
        .collect()
}

#[test]
fn ping_echo_without_faults() {
    let mut sim = ping_sim(0, vec![], Pinger::new(addr(B), 3, 10, 3));
    assert_eq!(
        sim.run(&RunLimits::until_finished([addr(A)])),
        RunOutcome::Finished
    );
    assert_eq!(sim.now(), ms(6));
    assert_eq!(acked_at(&sim), [(2, 1), (4, 2), (6, 3)]);
    assert_eq!(
        sim.events()[..3],
        [
            SimEvent {
                at: ms(0),
                endpoint: addr(A),
                event: ToyEvent::Sent { seq: 1, attempt: 1 }
            },
            SimEvent {
                at: ms(1),
                endpoint: addr(B),
                event: ToyEvent::Echoed { seq: 1 }
            },
            SimEvent {
                at: ms(2),
                endpoint: addr(A),
                event: ToyEvent::Acked { seq: 1 }
            },
        ]
    );
    assert!(sim.endpoint(addr(A)).expect("pinger").is_finished());
    assert!(sim.endpoint(addr(C)).is_none());
}

/// The echoer never finishes: waiting for everyone ends when nothing is left to do.
#[rstest]
#[case::all(Until::AllFinished, RunOutcome::Idle, 2)]
#[case::pinger(Until::Finished(vec![addr(A)]), RunOutcome::Finished, 2)]
#[case::echoer(Until::Finished(vec![addr(B)]), RunOutcome::Idle, 2)]
#[case::nobody_there(Until::Finished(vec![addr(C)]), RunOutcome::Idle, 2)]
#[case::nobody(Until::Finished(vec![]), RunOutcome::Finished, 0)]
#[case::idle(Until::Idle, RunOutcome::Idle, 2)]
fn until_conditions(#[case] until: Until, #[case] expected: RunOutcome, #[case] acks: usize) {
    let mut sim = ping_sim(0, vec![], Pinger::new(addr(B), 2, 10, 3));
    let limits = RunLimits {
        until,
        ..RunLimits::default()
    };
    assert_eq!(sim.run(&limits), expected);
    assert_eq!(acked_at(&sim).len(), acks);
}

#[test]
fn no_endpoints_means_all_finished() {
    let mut sim: Simulation<Toy> = Simulation::new(VirtualLink::default());
    assert_eq!(sim.run(&RunLimits::default()), RunOutcome::Finished);
    assert_eq!(sim.run(&RunLimits::until_idle()), RunOutcome::Idle);
    assert!(!sim.step());
    assert_eq!(sim.steps(), 0);
}

/// A lost ping is retransmitted after the timeout; times follow exactly.
#[rstest]
#[case::first_ping(Predicate::any().kind("ping").nth(Nth::Exactly(1)), vec![(12, 1), (14, 2), (16, 3)])]
#[case::second_ping(Predicate::any().kind("ping").nth(Nth::Exactly(2)), vec![(2, 1), (14, 2), (16, 3)])]
#[case::second_pong(Predicate::any().kind("pong").nth(Nth::Exactly(2)), vec![(2, 1), (14, 2), (16, 3)])]
#[case::from_pinger_twice(Predicate::any().from(addr(A)).nth(Nth::Range { from: 1, to: Some(2) }), vec![(22, 1), (24, 2), (26, 3)])]
fn a_drop_costs_a_timeout(#[case] when: Predicate, #[case] expected: Vec<(u64, u32)>) {
    let mut sim = ping_sim(
        0,
        vec![FaultRule::new(1, when, FaultAction::Drop)],
        Pinger::new(addr(B), 3, 10, 5),
    );
    assert_eq!(
        sim.run(&RunLimits::until_finished([addr(A)])),
        RunOutcome::Finished
    );
    assert_eq!(acked_at(&sim), expected);
}

#[test]
fn delay_shifts_the_round_trip() {
    let rule = FaultRule::new(
        1,
        Predicate::any().kind("pong"),
        FaultAction::Delay { ms: 3 },
    );
    let mut sim = ping_sim(0, vec![rule], Pinger::new(addr(B), 2, 10, 5));
    assert_eq!(
        sim.run(&RunLimits::until_finished([addr(A)])),
        RunOutcome::Finished
    );
    assert_eq!(acked_at(&sim), [(5, 1), (10, 2)]);
}

#[test]
fn giving_up_when_everything_is_lost() {
    let rule = FaultRule::new(1, Predicate::any(), FaultAction::Drop);
    let mut sim = ping_sim(0, vec![rule], Pinger::new(addr(B), 3, 10, 3));
    assert_eq!(
        sim.run(&RunLimits::until_finished([addr(A)])),
        RunOutcome::Finished
    );
    assert_eq!(sim.now(), ms(30));
    let pinger_events: Vec<ToyEvent> = events_of(&sim, A).into_iter().map(|e| e.1).collect();
    assert_eq!(
        pinger_events,
        [
            ToyEvent::Sent { seq: 1, attempt: 1 },
            ToyEvent::Sent { seq: 1, attempt: 2 },
            ToyEvent::Sent { seq: 1, attempt: 3 },
            ToyEvent::GaveUp { seq: 1 },
        ]
    );
}

/// Same seed, same inputs: the same trace and events, byte for byte; another seed differs.
#[test]
fn runs_are_deterministic() {
    let run = |seed: u64| {
        let rules = vec![
            FaultRule::new(1, Predicate::any().probability(0.3), FaultAction::Drop),
            FaultRule::new(
                2,
                Predicate::any().kind("pong").probability(0.2),
                FaultAction::Duplicate {
                    copies: 1,
                    spacing_ms: 1,
                },
            ),
            FaultRule::new(
                3,
                Predicate::any().probability(0.1),
                FaultAction::CorruptRandom { bytes: 1 },
            ),
            FaultRule::new(
                4,
                Predicate::any().nth(Nth::Every(5)),
                FaultAction::Reorder { hold: 1 },
            ),
        ];
        let mut sim = ping_sim(seed, rules, Pinger::new(addr(B), 30, 5, 20));
        let outcome = sim.run(&RunLimits::until_finished([addr(A)]));
        let trace = serde_json::to_string(sim.trace()).expect("json");
        let events = format!("{:?}", sim.events());
        (outcome, sim.now(), trace, events)
    };
    let first = run(11);
    assert_eq!(first.0, RunOutcome::Finished);
    assert_eq!(first, run(11));
    let other = run(12);
    assert_ne!(first.2, other.2);
    assert_ne!(first.3, other.3);
}

#[test]
fn deliveries_come_before_timeouts_and_ties_keep_send_order() {
    // C and A both send to B at 0 (C first in insertion order): both arrive at 1 ms, C's first.
    // B's own timer is also due at 1 ms: it fires after both deliveries.
    let link = VirtualLink::new(LinkConfig::default());
    let mut sim = Simulation::new(link)
        .with_endpoint(
            addr(C),
            Toy::Script(Script::sends([(ms(0), addr(B), b"from c".to_vec())])),
        )
        .expect("free address")
        .with_endpoint(
            addr(A),
            Toy::Script(Script::sends([(ms(0), addr(B), b"from a".to_vec())])),
        )
        .expect("free address")
        .with_endpoint(addr(B), Toy::Script(Script::sink().timers([(ms(1), 7)])))
        .expect("free address");
    assert_eq!(sim.run(&RunLimits::default()), RunOutcome::Finished);
    assert_eq!(
        events_of(&sim, B),
        [
            (
                1,
                ToyEvent::Received {
                    from: addr(C),
                    payload: b"from c".to_vec()
                }
            ),
            (
                1,
                ToyEvent::Received {
                    from: addr(A),
                    payload: b"from a".to_vec()
                }
            ),
            (1, ToyEvent::Timer { label: 7 }),
        ]
    );
}

#[test]
fn one_step_is_one_instant() {
    let mut sim = ping_sim(0, vec![], Pinger::new(addr(B), 1, 10, 3));
    let mut times = Vec::new();
    while sim.step() {
        times.push(sim.now());
        if sim.endpoint(addr(A)).expect("pinger").is_finished() {
            break;
        }
    }
    // Timer at 0 (sends), delivery at 1 (echo), delivery at 2 (ack).
    assert_eq!(times, [ms(0), ms(1), ms(2)]);
    assert_eq!(sim.steps(), 3);
    // The ack is only collected by the next drain.
    assert!(!sim
        .events()
        .iter()
        .any(|e| e.event == ToyEvent::Acked { seq: 1 }));
    sim.drain_endpoints();
    assert!(sim
        .events()
        .iter()
        .any(|e| e.event == ToyEvent::Acked { seq: 1 } && e.at == ms(2)));
    assert_eq!(sim.take_events().len(), 3);
    assert!(sim.events().is_empty());
}

fn ping_pong(latency_ms: u64) -> Simulation<Toy> {
    let config = LinkConfig {
        latency_ms,
        ..LinkConfig::default()
    };
    Simulation::new(VirtualLink::new(config))
        .with_endpoint(
            addr(A),
            Toy::Script(Script::sends([(ms(0), addr(B), b"ball".to_vec())]).bouncing()),
        )
        .expect("free address")
        .with_endpoint(addr(B), Toy::Script(Script::sink().bouncing()))
        .expect("free address")
}

/// Zero-time ping-pong never moves the clock: the run ends as a livelock, not after the step
/// limit; with 1 ms latency time moves, so it is no livelock.
#[rstest]
#[case::zero_latency(0, RunOutcome::Livelock)]
#[case::one_ms(1, RunOutcome::StepLimit)]
fn a_run_without_time_moving_is_a_livelock(#[case] latency_ms: u64, #[case] outcome: RunOutcome) {
    let mut sim = ping_pong(latency_ms);
    let limits = RunLimits::until_idle().max_steps(crate::sim::MAX_STEPS_AT_ONE_INSTANT + 10);
    assert_eq!(sim.run(&limits), outcome);
    assert_eq!(sim.livelocked(), outcome == RunOutcome::Livelock);
}

#[rstest]
#[case::zero_latency(0, ms(0))]
#[case::one_ms(1, ms(499))]
fn step_limit_stops_a_livelock(#[case] latency_ms: u64, #[case] now: Instant) {
    let mut sim = ping_pong(latency_ms);
    let limits = RunLimits::until_idle().max_steps(500);
    assert_eq!(sim.run(&limits), RunOutcome::StepLimit);
    assert_eq!(sim.steps(), 500);
    assert_eq!(sim.now(), now);
    // The limit is per call.
    assert_eq!(sim.run(&limits), RunOutcome::StepLimit);
    assert_eq!(sim.steps(), 1000);
}

#[test]
fn time_limit_stops_at_the_limit() {
    let mut sim = ping_pong(3);
    assert_eq!(
        sim.run(&RunLimits::until_idle().max_time(ms(20))),
        RunOutcome::TimeLimit
    );
    assert_eq!(sim.now(), ms(20));
    // Work due at 3, 6, …, 18 was done: 7 steps (timer at 0 included).
    assert_eq!(sim.steps(), 7);
    assert_eq!(
        sim.run(&RunLimits::until_idle().max_time(ms(10))),
        RunOutcome::TimeLimit
    );
    assert_eq!(sim.now(), ms(20), "the clock never goes back");
}

#[test]
fn run_until_moves_the_clock() {
    let mut sim: Simulation<Toy> = Simulation::new(VirtualLink::default());
    assert_eq!(sim.run_until(ms(7), 10), RunOutcome::Idle);
    assert_eq!(sim.now(), ms(7));
    let mut sim = ping_sim(0, vec![], Pinger::new(addr(B), 100, 10, 3));
    assert_eq!(sim.run_until(ms(5), 1000), RunOutcome::TimeLimit);
    assert_eq!(sim.now(), ms(5));
    assert_eq!(acked_at(&sim), [(2, 1), (4, 2)]);
}

#[test]
fn undeliverable_datagrams_are_recorded() {
    let mut sim = Simulation::new(VirtualLink::default())
        .with_endpoint(addr(A), Toy::Pinger(Pinger::new(addr(C), 1, 5, 3)))
        .expect("free address");
    assert_eq!(sim.run(&RunLimits::default()), RunOutcome::Finished);
    let lost: Vec<(u64, Instant)> = sim
        .trace()
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Undeliverable { id, at, to, .. } if *to == addr(C) => Some((id.0, *at)),
            _ => None,
        })
        .collect();
    assert_eq!(lost, [(0, ms(1)), (1, ms(6)), (2, ms(11))]);
}

#[test]
fn injected_datagrams_go_through_the_link() {
    let mut sim = Simulation::new(VirtualLink::new(LinkConfig {
        latency_ms: 4,
        ..LinkConfig::default()
    }))
    .with_endpoint(addr(A), Toy::Pinger(Pinger::new(addr(B), 1, 100, 3)))
    .expect("free address");
    assert!(sim.step());
    let id = sim.inject(addr(B), addr(A), pong(1));
    assert_eq!(id.0, 1, "the ping the pinger produced went in first");
    assert_eq!(sim.run(&RunLimits::default()), RunOutcome::Finished);
    assert_eq!(sim.now(), ms(4));
    assert_eq!(acked_at(&sim), [(4, 1)]);
    assert!(
        matches!(&sim.trace()[1], LinkEvent::Sent { injected: true, from, .. } if *from == addr(B))
    );
}

#[test]
fn rules_can_change_between_runs() {
    let mut sim = ping_sim(0, vec![], Pinger::new(addr(B), 3, 10, 2));
    assert_eq!(sim.run_until(ms(2), 100), RunOutcome::TimeLimit);
    sim.link_mut()
        .add_rule(FaultRule::new(1, Predicate::any(), FaultAction::Drop))
        .expect("unique rule id");
    assert_eq!(
        sim.run(&RunLimits::until_finished([addr(A)])),
        RunOutcome::Finished
    );
    assert_eq!(acked_at(&sim), [(2, 1)]);
    assert!(events_of(&sim, A).contains(&(22, ToyEvent::GaveUp { seq: 2 })));
}

#[test]
fn endpoints_are_reachable_by_address() {
    let mut sim = ping_sim(0, vec![], Pinger::new(addr(B), 1, 10, 3));
    assert_eq!(
        sim.add_endpoint(addr(A), Toy::Echoer(Echoer::default())),
        Err(SimError::DuplicateAddress(addr(A)))
    );
    let addrs: Vec<_> = sim.endpoints().map(|(a, _)| a).collect();
    assert_eq!(addrs, [addr(A), addr(B)]);
    // Replace the pinger's plan through &mut access.
    *sim.endpoint_mut(addr(A)).expect("pinger") = Toy::Pinger(Pinger::new(addr(B), 2, 10, 3));
    assert_eq!(
        sim.run(&RunLimits::until_finished([addr(A)])),
        RunOutcome::Finished
    );
    assert_eq!(acked_at(&sim).len(), 2);
    let (link, endpoints) = sim.into_parts();
    assert_eq!(endpoints.len(), 2);
    assert!(!link.trace().is_empty());
}

/// Sends forever from `poll_transmit`.
struct Flood;

impl Endpoint for Flood {
    type Event = ();
    fn handle_datagram(&mut self, _: Instant, _: std::net::SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Some(Transmit {
            destination: addr(B),
            payload: Vec::new(),
        })
    }
    fn poll_event(&mut self) -> Option<()> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn is_finished(&self) -> bool {
        false
    }
}

#[test]
fn an_endless_poll_transmit_cannot_hang_the_driver() {
    let mut sim = Simulation::new(VirtualLink::default())
        .with_endpoint(addr(A), Flood)
        .expect("free address");
    assert_eq!(
        sim.run(&RunLimits::default().max_steps(0)),
        RunOutcome::StepLimit
    );
    assert_eq!(sim.link().in_flight(), crate::MAX_POLLS_PER_DRAIN);
}

#[test]
fn a_burst_stops_at_the_link_event_limit() {
    let mut sim = Simulation::new(VirtualLink::default())
        .with_endpoint(addr(A), Flood)
        .expect("free address");
    sim.limit_link_events(100);
    assert_eq!(sim.run(&RunLimits::default()), RunOutcome::StepLimit);
    // The rest of the burst waits in its endpoint: no step was taken past the limit.
    assert_eq!(sim.trace().len(), 100);
    assert!(sim.at_link_limit());
    assert_eq!(sim.steps(), 0);
    // Deliveries stop there too: a step delivers nothing once the trace is full.
    assert!(sim.step());
    assert_eq!(sim.trace().len(), 100);
}
