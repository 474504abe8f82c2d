//! Laws over arbitrary rules and traffic.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::util::*;
use crate::{
    FaultAction, FaultEffect, FaultRule, LinkConfig, LinkEvent, Nth, Predicate, RunLimits,
    Simulation, VirtualLink,
};

fn action() -> impl Strategy<Value = FaultAction> {
    prop_oneof![
        Just(FaultAction::Drop),
        (0u32..4, 0u64..5)
            .prop_map(|(copies, spacing_ms)| FaultAction::Duplicate { copies, spacing_ms }),
        (0u64..20).prop_map(|ms| FaultAction::Delay { ms }),
        (0u32..4).prop_map(|hold| FaultAction::Reorder { hold }),
        (0usize..12).prop_map(|len| FaultAction::Truncate { len }),
        (0usize..12, any::<u8>()).prop_map(|(offset, xor)| FaultAction::Corrupt { offset, xor }),
        (0u32..12).prop_map(|bytes| FaultAction::CorruptRandom { bytes }),
    ]
}

fn nth() -> impl Strategy<Value = Nth> {
    prop_oneof![
        (0u64..6).prop_map(Nth::Exactly),
        (0u64..6, proptest::option::of(0u64..10)).prop_map(|(from, to)| Nth::Range { from, to }),
        (0u64..4).prop_map(Nth::Every),
    ]
}

fn predicate() -> impl Strategy<Value = Predicate> {
    let host = proptest::option::of(1u8..=3);
    let kind = proptest::option::of(proptest::sample::select(vec![
        "ping", "pong", "other", "none",
    ]));
    (
        host.clone(),
        host,
        kind,
        proptest::option::of(nth()),
        proptest::option::of(-0.2f64..1.2),
    )
        .prop_map(|(from, to, kind, nth, probability)| Predicate {
            from: from.map(addr),
            to: to.map(addr),
            kind: kind.map(str::to_owned),
            nth,
            probability,
        })
}

fn rules() -> impl Strategy<Value = Vec<FaultRule>> {
    proptest::collection::vec((predicate(), action()), 0..5).prop_map(|rules| {
        rules
            .into_iter()
            .enumerate()
            .map(|(i, (when, action))| FaultRule::new(i as u32 * 7 + 1, when, action))
            .collect()
    })
}

/// `(ms after the previous send, from, to, payload)`.
fn traffic() -> impl Strategy<Value = Vec<(u64, u8, u8, Vec<u8>)>> {
    let payload = prop_oneof![
        (0u32..5).prop_map(ping),
        (0u32..5).prop_map(pong),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    proptest::collection::vec((0u64..4, 1u8..=3, 1u8..=3, payload), 0..40)
}

/// Sends the traffic, delivering what falls due in between (host 3 is unreachable), then drains.
fn play(
    seed: u64,
    mtu: Option<usize>,
    rules: Vec<FaultRule>,
    traffic: &[(u64, u8, u8, Vec<u8>)],
) -> VirtualLink {
    let config = LinkConfig {
        seed,
        mtu,
        reorder_timeout_ms: 30,
        ..LinkConfig::default()
    };
    let mut link = VirtualLink::new(config)
        .with_classifier(classify)
        .with_rules(rules)
        .expect("unique rule ids");
    let reachable = |a| a != addr(3);
    let mut now = ms(0);
    for (gap, from, to, payload) in traffic {
        now += core::time::Duration::from_millis(*gap);
        while link.pop_due(now, reachable).is_some() {}
        link.send(now, addr(*from), addr(*to), payload.clone(), false);
    }
    drain_reachable(&mut link, reachable);
    link
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every datagram (copies included) meets exactly one fate, never before its latency, and the
    /// trace is in time order.
    #[test]
    fn every_datagram_has_one_fate(
        seed in any::<u64>(),
        mtu in proptest::option::of(4usize..12),
        rules in rules(),
        traffic in traffic(),
    ) {
        let link = play(seed, mtu, rules, &traffic);
        prop_assert_eq!(link.in_flight(), 0);
        let mut born: BTreeMap<u64, (handshake_core::Instant, usize)> = BTreeMap::new();
        let mut fates: BTreeMap<u64, usize> = BTreeMap::new();
        let mut last = ms(0);
        for event in link.trace() {
            prop_assert!(event.at() >= last, "trace out of order at {:?}", event);
            last = event.at();
            match event {
                LinkEvent::Sent { id, at, payload, .. } => {
                    prop_assert!(born.insert(id.0, (*at, payload.len())).is_none());
                }
                LinkEvent::Duplicated { id, copy_of, deliver_at, .. } => {
                    let parent = born.get(&copy_of.0).copied();
                    prop_assert!(parent.is_some());
                    if let Some((at, len)) = parent {
                        prop_assert!(*deliver_at >= at + core::time::Duration::from_millis(1));
                        prop_assert!(born.insert(id.0, (at, len)).is_none());
                    }
                }
                LinkEvent::Dropped { id, .. } | LinkEvent::InFlightAtEnd { id, .. } => {
                    *fates.entry(id.0).or_default() += 1
                }
                LinkEvent::Delivered { id, at, payload, applied, .. }
                | LinkEvent::Undeliverable { id, at, payload, applied, .. } => {
                    *fates.entry(id.0).or_default() += 1;
                    let (sent_at, len) = born.get(&id.0).copied().unwrap_or((*at, 0));
                    prop_assert!(*at >= sent_at + core::time::Duration::from_millis(1));
                    prop_assert!(payload.len() <= len);
                    let truncated = applied.iter().any(|a| matches!(a.effect, FaultEffect::Truncated { .. }));
                    prop_assert!(truncated || payload.len() == len);
                }
            }
        }
        prop_assert_eq!(born.len(), fates.len());
        prop_assert!(fates.values().all(|&n| n == 1), "{:?}", fates);
    }

    /// Same inputs, same trace.
    #[test]
    fn the_link_is_deterministic(seed in any::<u64>(), rules in rules(), traffic in traffic()) {
        let first = play(seed, None, rules.clone(), &traffic);
        let second = play(seed, None, rules, &traffic);
        prop_assert_eq!(first.trace(), second.trace());
    }

    /// A toy ping run under arbitrary faults ends (the pinger gives up or finishes), never
    /// acknowledges out of order, and replays identically.
    #[test]
    fn ping_runs_end_and_replay(seed in any::<u64>(), rules in rules(), count in 0u32..6) {
        let run = |rules: Vec<FaultRule>| {
            let link = VirtualLink::new(LinkConfig::with_seed(seed))
                .with_classifier(classify)
                .with_rules(rules).expect("unique rule ids");
            let mut sim = Simulation::new(link)
                .with_endpoint(addr(1), Toy::Pinger(Pinger::new(addr(2), count, 5, 4))).expect("free address")
                .with_endpoint(addr(2), Toy::Echoer(Echoer::default())).expect("free address");
            let outcome = sim.run(&RunLimits::until_finished([addr(1)]).max_steps(10_000));
            let trace = sim.trace().to_vec();
            (outcome, (trace, sim.take_events()))
        };
        let (outcome, (trace, events)) = run(rules.clone());
        prop_assert_eq!(outcome, crate::RunOutcome::Finished);
        let acks: Vec<u32> = events
            .iter()
            .filter_map(|e| match e.event {
                ToyEvent::Acked { seq } => Some(seq),
                _ => None,
            })
            .collect();
        prop_assert_eq!(acks.clone(), (1..=acks.len() as u32).collect::<Vec<_>>());
        prop_assert_eq!(run(rules), (outcome, (trace, events)));
    }
}
