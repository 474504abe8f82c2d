//! The virtual link on its own: each action's effect on bytes and times, predicates, randomness,
//! reordering, MTU, trace shape.

use rstest::rstest;

use super::util::*;
use crate::{
    AppliedFault, DatagramId, DropReason, FaultAction, FaultEffect, FaultRule, LinkConfig,
    LinkError, LinkEvent, Nth, Predicate, VirtualLink,
};

const PAYLOAD: &[u8] = b"0123456789";

fn link_with(rules: Vec<FaultRule>) -> VirtualLink {
    VirtualLink::new(LinkConfig::with_seed(1))
        .with_classifier(classify)
        .with_rules(rules)
        .expect("unique rule ids")
}

fn all(id: u32, action: FaultAction) -> FaultRule {
    FaultRule::new(id, Predicate::any(), action)
}

/// Sends PAYLOAD once from A to B at 0 through `rules`; returns the `(ms, bytes)` deliveries.
fn one_through(rules: Vec<FaultRule>) -> (Vec<(u64, Vec<u8>)>, VirtualLink) {
    let mut link = link_with(rules);
    link.send(ms(0), addr(A), addr(B), PAYLOAD.to_vec(), false);
    let deliveries = drain(&mut link);
    (timeline(&deliveries), link)
}

fn p(bytes: &[u8]) -> Vec<u8> {
    bytes.to_vec()
}

#[rstest]
#[case::no_rule(vec![], vec![(1, p(PAYLOAD))])]
#[case::drop(vec![all(1, FaultAction::Drop)], vec![])]
#[case::duplicate(
    vec![all(1, FaultAction::Duplicate { copies: 2, spacing_ms: 3 })],
    vec![(1, p(PAYLOAD)), (4, p(PAYLOAD)), (7, p(PAYLOAD))]
)]
#[case::duplicate_zero_copies(vec![all(1, FaultAction::Duplicate { copies: 0, spacing_ms: 3 })], vec![(1, p(PAYLOAD))])]
#[case::delay(vec![all(1, FaultAction::Delay { ms: 5 })], vec![(6, p(PAYLOAD))])]
#[case::delays_add(
    vec![all(1, FaultAction::Delay { ms: 5 }), all(2, FaultAction::Delay { ms: 10 })],
    vec![(16, p(PAYLOAD))]
)]
#[case::truncate(vec![all(1, FaultAction::Truncate { len: 4 })], vec![(1, p(b"0123"))])]
#[case::truncate_to_zero(vec![all(1, FaultAction::Truncate { len: 0 })], vec![(1, p(b""))])]
#[case::truncate_longer(vec![all(1, FaultAction::Truncate { len: 100 })], vec![(1, p(PAYLOAD))])]
#[case::corrupt(vec![all(1, FaultAction::Corrupt { offset: 0, xor: 0x01 })], vec![(1, p(b"1123456789"))])]
#[case::corrupt_last(vec![all(1, FaultAction::Corrupt { offset: 9, xor: 0x0f })], vec![(1, p(b"0123456786"))])]
#[case::corrupt_out_of_range(vec![all(1, FaultAction::Corrupt { offset: 10, xor: 0xff })], vec![(1, p(PAYLOAD))])]
#[case::reorder_alone_times_out(vec![all(1, FaultAction::Reorder { hold: 1 })], vec![(1001, p(PAYLOAD))])]
#[case::reorder_hold_zero(vec![all(1, FaultAction::Reorder { hold: 0 })], vec![(1, p(PAYLOAD))])]
#[case::truncate_then_corrupt(
    vec![all(1, FaultAction::Truncate { len: 4 }), all(2, FaultAction::Corrupt { offset: 5, xor: 1 })],
    vec![(1, p(b"0123"))]
)]
#[case::corrupt_then_truncate(
    vec![all(1, FaultAction::Corrupt { offset: 1, xor: 1 }), all(2, FaultAction::Truncate { len: 4 })],
    vec![(1, p(b"0023"))]
)]
#[case::drop_ends_processing(
    vec![all(1, FaultAction::Drop), all(2, FaultAction::Duplicate { copies: 1, spacing_ms: 0 })],
    vec![]
)]
#[case::copies_survive_a_later_drop(
    vec![all(1, FaultAction::Duplicate { copies: 1, spacing_ms: 2 }), all(2, FaultAction::Drop)],
    vec![(3, p(PAYLOAD))]
)]
#[case::copy_is_a_snapshot(
    vec![
        all(1, FaultAction::Truncate { len: 6 }),
        all(2, FaultAction::Duplicate { copies: 1, spacing_ms: 1 }),
        all(3, FaultAction::Truncate { len: 2 }),
        all(4, FaultAction::Delay { ms: 10 }),
    ],
    vec![(2, p(b"012345")), (11, p(b"01"))]
)]
fn action_effects(#[case] rules: Vec<FaultRule>, #[case] expected: Vec<(u64, Vec<u8>)>) {
    let (got, _) = one_through(rules);
    assert_eq!(got, expected);
}

#[test]
fn copies_come_after_the_original_at_equal_times() {
    let (_, link) = one_through(vec![all(
        1,
        FaultAction::Duplicate {
            copies: 2,
            spacing_ms: 0,
        },
    )]);
    let delivered: Vec<u64> = link
        .trace()
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Delivered { id, .. } => Some(id.0),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [0, 1, 2]);
}

#[rstest]
#[case(1)]
#[case(3)]
#[case(10)]
#[case(1000)]
fn corrupt_random_changes_exactly_min_bytes_len(#[case] bytes: u32) {
    let (got, link) = one_through(vec![all(7, FaultAction::CorruptRandom { bytes })]);
    let [(1, delivered)] = got.as_slice() else {
        panic!("{got:?}")
    };
    let differing = delivered
        .iter()
        .zip(PAYLOAD)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, (bytes as usize).min(PAYLOAD.len()));
    let Some(LinkEvent::Delivered { applied, .. }) = link.trace().last() else {
        panic!()
    };
    let [AppliedFault {
        rule: 7,
        effect: FaultEffect::CorruptedRandom { changes },
    }] = applied.as_slice()
    else {
        panic!("{applied:?}")
    };
    assert_eq!(changes.len(), differing);
}

#[test]
fn trace_records_sent_faults_and_delivered_bytes() {
    let (_, link) = one_through(vec![
        all(4, FaultAction::Delay { ms: 2 }),
        all(5, FaultAction::Truncate { len: 3 }),
        all(6, FaultAction::Corrupt { offset: 20, xor: 1 }),
    ]);
    let applied = vec![
        AppliedFault {
            rule: 4,
            effect: FaultEffect::Delayed { ms: 2 },
        },
        AppliedFault {
            rule: 5,
            effect: FaultEffect::Truncated {
                from_len: 10,
                to_len: 3,
            },
        },
        AppliedFault {
            rule: 6,
            effect: FaultEffect::CorruptOutOfRange { offset: 20, len: 3 },
        },
    ];
    let expected = vec![
        LinkEvent::Sent {
            id: DatagramId(0),
            at: ms(0),
            from: addr(A),
            to: addr(B),
            kind: "other",
            injected: false,
            payload: PAYLOAD.to_vec(),
            applied: applied.clone(),
            dropped: None,
        },
        LinkEvent::Delivered {
            id: DatagramId(0),
            at: ms(3),
            from: addr(A),
            to: addr(B),
            payload: b"012".to_vec(),
            applied,
        },
    ];
    assert_eq!(link.trace(), expected);
    let comment = "harness: rule 4 delayed 2 ms; rule 5 truncated 10 -> 3 bytes; \
                   rule 6 corrupt offset 20 beyond 3 bytes: unchanged";
    assert_eq!(link.trace()[0].comment().as_deref(), Some(comment));
    assert_eq!(link.trace()[1].comment().as_deref(), Some(comment));
}

#[test]
fn trace_of_a_drop_and_a_duplicate() {
    let (_, link) = one_through(vec![
        all(
            1,
            FaultAction::Duplicate {
                copies: 1,
                spacing_ms: 5,
            },
        ),
        all(2, FaultAction::Drop),
    ]);
    let trace = link.trace();
    assert_eq!(trace.len(), 4, "{trace:#?}");
    assert_eq!(
        trace[1],
        LinkEvent::Duplicated {
            id: DatagramId(1),
            at: ms(0),
            copy_of: DatagramId(0),
            rule: 1,
            deliver_at: ms(6)
        }
    );
    assert_eq!(
        trace[2],
        LinkEvent::Dropped {
            id: DatagramId(0),
            at: ms(0),
            from: addr(A),
            to: addr(B),
            reason: DropReason::Rule { rule: 2 }
        }
    );
    assert_eq!(
        trace[0].comment().as_deref(),
        Some("dropped by harness: rule 2; harness: rule 1 duplicated into #1 (5 ms apart)")
    );
    assert_eq!(
        trace[2].comment().as_deref(),
        Some("dropped by harness: rule 2")
    );
    assert_eq!(trace[3].id(), DatagramId(1));
    assert_eq!(trace[3].at(), ms(6));
    assert_eq!(
        trace[3].comment().as_deref(),
        Some("harness: rule 1 copy of #0")
    );
}

/// Ten datagrams from A to B; which (1-based) a drop rule with `nth` hits.
#[rstest]
#[case::exactly(Nth::Exactly(3), vec![3])]
#[case::exactly_beyond(Nth::Exactly(11), vec![])]
#[case::range(Nth::Range { from: 2, to: Some(4) }, vec![2, 3, 4])]
#[case::range_open(Nth::Range { from: 8, to: None }, vec![8, 9, 10])]
#[case::every(Nth::Every(3), vec![3, 6, 9])]
#[case::every_one(Nth::Every(1), (1..=10).collect())]
fn nth_selects_positions(#[case] nth: Nth, #[case] expected: Vec<u64>) {
    let mut link = link_with(vec![FaultRule::new(
        1,
        Predicate::any().nth(nth),
        FaultAction::Drop,
    )]);
    for i in 0..10 {
        link.send(ms(i), addr(A), addr(B), ping(i as u32), false);
    }
    let dropped: Vec<u64> = dropped_ids(link.trace()).iter().map(|id| id + 1).collect();
    assert_eq!(dropped, expected);
}

/// `nth` counts only datagrams matching from/to/kind.
#[rstest]
#[case::by_kind(Predicate::any().kind("pong").nth(Nth::Exactly(2)), vec![3])]
#[case::by_source(Predicate::any().from(addr(B)).nth(Nth::Every(2)), vec![3, 7])]
#[case::by_destination(Predicate::any().to(addr(B)), vec![0, 2, 4, 6])]
#[case::by_source_and_kind(Predicate::any().from(addr(A)).kind("pong"), vec![])]
#[case::unknown_kind(Predicate::any().kind("data"), vec![])]
fn predicates_filter_and_count(#[case] when: Predicate, #[case] expected: Vec<u64>) {
    let mut link = link_with(vec![FaultRule::new(1, when, FaultAction::Drop)]);
    // A pings B, B pongs A, four times: ids 0, 2, 4, 6 are pings, 1, 3, 5, 7 pongs.
    for i in 0..4u32 {
        link.send(ms(u64::from(i)), addr(A), addr(B), ping(i), false);
        link.send(ms(u64::from(i)), addr(B), addr(A), pong(i), false);
    }
    assert_eq!(dropped_ids(link.trace()), expected);
}

fn drop_pattern(seed: u64, rules: Vec<FaultRule>, n: u64) -> Vec<bool> {
    let mut link = VirtualLink::new(LinkConfig::with_seed(seed))
        .with_rules(rules)
        .expect("unique rule ids");
    for i in 0..n {
        link.send(ms(i), addr(A), addr(B), vec![0; 4], false);
    }
    let dropped: std::collections::BTreeSet<u64> = link
        .trace()
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Dropped {
                id,
                reason: DropReason::Rule { rule: 1 },
                ..
            } => Some(id.0),
            _ => None,
        })
        .collect();
    (0..n).map(|i| dropped.contains(&i)).collect()
}

fn coin(p: f64) -> FaultRule {
    FaultRule::new(1, Predicate::any().probability(p), FaultAction::Drop)
}

#[test]
fn probability_with_a_fixed_seed_gives_a_fixed_pattern() {
    let pattern: String = drop_pattern(42, vec![coin(0.5)], 32)
        .iter()
        .map(|&d| if d { 'x' } else { '.' })
        .collect();
    assert_eq!(pattern, "....xxx.x.x.x..x.xx...x.xxx.x.xx");
    assert_eq!(
        drop_pattern(42, vec![coin(0.5)], 32),
        drop_pattern(42, vec![coin(0.5)], 32)
    );
    assert_ne!(
        drop_pattern(42, vec![coin(0.5)], 32),
        drop_pattern(43, vec![coin(0.5)], 32)
    );
}

#[rstest]
#[case(0.01)]
#[case(0.1)]
#[case(0.5)]
#[case(0.9)]
fn probability_gives_roughly_the_fraction(#[case] p: f64, #[values(1, 2, 3)] seed: u64) {
    let n = 10_000;
    let hits = drop_pattern(seed, vec![coin(p)], n)
        .iter()
        .filter(|&&d| d)
        .count();
    let fraction = hits as f64 / n as f64;
    // Five standard deviations.
    let tolerance = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (fraction - p).abs() < tolerance,
        "p = {p}, seed = {seed}: {fraction}"
    );
}

#[rstest]
#[case::zero(0.0, false)]
#[case::negative(-1.0, false)]
#[case::nan(f64::NAN, false)]
#[case::one(1.0, true)]
#[case::more(2.5, true)]
fn probability_extremes(#[case] p: f64, #[case] all_dropped: bool) {
    assert!(drop_pattern(5, vec![coin(p)], 200)
        .iter()
        .all(|&d| d == all_dropped));
}

/// Rule 1's decisions do not change when another rule (before or after it, random or not) joins.
#[rstest]
#[case::random_after(FaultRule::new(2, Predicate::any().probability(0.5), FaultAction::Drop), false)]
#[case::random_before(FaultRule::new(2, Predicate::any().probability(0.5), FaultAction::Delay { ms: 1 }), true)]
#[case::corrupting_before(FaultRule::new(2, Predicate::any(), FaultAction::CorruptRandom { bytes: 2 }), true)]
#[case::counting_before(FaultRule::new(2, Predicate::any().nth(Nth::Every(2)), FaultAction::Truncate { len: 1 }), true)]
fn adding_a_rule_keeps_other_rules_draws(#[case] other: FaultRule, #[case] before: bool) {
    let alone = drop_pattern(9, vec![coin(0.3)], 2000);
    let rules = if before {
        vec![other, coin(0.3)]
    } else {
        vec![coin(0.3), other]
    };
    assert_eq!(drop_pattern(9, rules, 2000), alone);
}

#[test]
fn rule_ids_are_unique_and_rules_can_be_removed() {
    let mut link = link_with(vec![all(1, FaultAction::Drop)]);
    assert_eq!(
        link.add_rule(all(1, FaultAction::Delay { ms: 1 })),
        Err(LinkError::DuplicateRuleId(1))
    );
    assert_eq!(link.remove_rule(1), Some(all(1, FaultAction::Drop)));
    assert_eq!(link.remove_rule(1), None);
    assert_eq!(link.rules().count(), 0);
    link.send(ms(0), addr(A), addr(B), ping(1), false);
    assert_eq!(drain(&mut link).len(), 1);
}

fn delivery_order(link: &mut VirtualLink) -> Vec<u32> {
    drain(link)
        .iter()
        .map(|d| u32::from_be_bytes(d.payload[4..8].try_into().expect("4 bytes")))
        .collect()
}

#[rstest]
#[case::hold_one(1, vec![2, 1, 3, 4, 5])]
#[case::hold_two(2, vec![2, 3, 1, 4, 5])]
#[case::hold_four(4, vec![2, 3, 4, 5, 1])]
fn reorder_lets_later_datagrams_overtake(#[case] hold: u32, #[case] expected: Vec<u32>) {
    let mut link = link_with(vec![FaultRule::new(
        1,
        Predicate::any().nth(Nth::Exactly(1)),
        FaultAction::Reorder { hold },
    )]);
    for seq in 1..=5 {
        link.send(ms(0), addr(A), addr(B), ping(seq), false);
    }
    assert_eq!(delivery_order(&mut link), expected);
}

#[test]
fn reorder_release_time_and_other_paths() {
    let mut link = link_with(vec![FaultRule::new(
        1,
        Predicate::any().from(addr(A)).nth(Nth::Exactly(1)),
        FaultAction::Reorder { hold: 1 },
    )]);
    link.send(ms(0), addr(A), addr(B), ping(1), false);
    // Another path does not release it.
    link.send(ms(1), addr(C), addr(B), ping(2), false);
    // The next datagram on the path, 5 ms later, does: both delivered at 6 ms.
    link.send(ms(5), addr(A), addr(B), ping(3), false);
    let deliveries = drain(&mut link);
    let got: Vec<(u64, u32)> = timeline(&deliveries)
        .into_iter()
        .map(|(t, p)| (t, u32::from_be_bytes(p[4..8].try_into().expect("4 bytes"))))
        .collect();
    assert_eq!(got, [(2, 2), (6, 3), (6, 1)]);
    let Some(LinkEvent::Delivered { applied, .. }) = link.trace().last() else {
        panic!()
    };
    assert_eq!(
        applied.last(),
        Some(&AppliedFault {
            rule: 1,
            effect: FaultEffect::Released { by_timeout: false }
        })
    );
}

#[test]
fn reorder_is_never_earlier_than_its_own_delay() {
    let mut link = link_with(vec![
        FaultRule::new(
            1,
            Predicate::any().nth(Nth::Exactly(1)),
            FaultAction::Delay { ms: 10 },
        ),
        FaultRule::new(
            2,
            Predicate::any().nth(Nth::Exactly(1)),
            FaultAction::Reorder { hold: 1 },
        ),
    ]);
    link.send(ms(0), addr(A), addr(B), ping(1), false);
    link.send(ms(0), addr(A), addr(B), ping(2), false);
    let got: Vec<u64> = timeline(&drain(&mut link)).iter().map(|d| d.0).collect();
    assert_eq!(got, [1, 11]);
}

#[test]
fn reorder_timeout_is_configurable_and_recorded() {
    let config = LinkConfig {
        reorder_timeout_ms: 50,
        ..LinkConfig::with_seed(1)
    };
    let mut link = VirtualLink::new(config)
        .with_rules([all(3, FaultAction::Reorder { hold: 2 })])
        .expect("unique rule ids");
    link.send(ms(0), addr(A), addr(B), ping(1), false);
    let deliveries = drain(&mut link);
    assert_eq!(timeline(&deliveries), [(51, ping(1))]);
    let Some(LinkEvent::Delivered { applied, .. }) = link.trace().last() else {
        panic!()
    };
    assert_eq!(
        applied,
        &[
            AppliedFault {
                rule: 3,
                effect: FaultEffect::Held { hold: 2 }
            },
            AppliedFault {
                rule: 3,
                effect: FaultEffect::Released { by_timeout: true }
            },
        ]
    );
}

#[test]
fn mtu_drops_before_rules_see_the_datagram() {
    let config = LinkConfig {
        mtu: Some(8),
        ..LinkConfig::with_seed(1)
    };
    let mut link = VirtualLink::new(config)
        .with_rules([FaultRule::new(
            1,
            Predicate::any().nth(Nth::Exactly(1)),
            FaultAction::Drop,
        )])
        .expect("unique rule ids");
    link.send(ms(0), addr(A), addr(B), vec![0; 9], false);
    link.send(ms(0), addr(A), addr(B), vec![0; 8], false);
    link.send(ms(0), addr(A), addr(B), vec![0; 8], false);
    assert_eq!(
        drain(&mut link).iter().map(|d| d.id.0).collect::<Vec<_>>(),
        [2]
    );
    let reasons: Vec<DropReason> = link
        .trace()
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Dropped { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            DropReason::Mtu { mtu: 8, len: 9 },
            DropReason::Rule { rule: 1 }
        ]
    );
    assert_eq!(
        link.trace()[0].comment().as_deref(),
        Some("dropped by harness: 9 bytes over MTU 8")
    );
}

#[test]
fn latency_is_configurable() {
    let config = LinkConfig {
        latency_ms: 25,
        ..LinkConfig::default()
    };
    let mut link = VirtualLink::new(config);
    link.send(ms(3), addr(A), addr(B), ping(1), false);
    assert_eq!(link.next_time(), Some(ms(28)));
    assert_eq!(link.pop_due(ms(27), |_| true), None);
    assert_eq!(timeline(&drain(&mut link)), [(28, ping(1))]);
}

#[test]
fn unreachable_destinations_are_recorded_not_delivered() {
    let mut link = link_with(vec![]);
    link.send(ms(0), addr(A), addr(C), ping(1), true);
    link.send(ms(0), addr(A), addr(B), ping(2), false);
    let got = drain_reachable(&mut link, |a| a == addr(B));
    assert_eq!(got.iter().map(|d| d.id.0).collect::<Vec<_>>(), [1]);
    assert!(matches!(
        &link.trace()[2],
        LinkEvent::Undeliverable { id: DatagramId(0), to, .. } if *to == addr(C)
    ));
    assert_eq!(
        link.trace()[0].comment().as_deref(),
        Some("injected by harness")
    );
    assert_eq!(
        link.trace()[2].comment().as_deref(),
        Some("undeliverable: nothing at 10.0.0.3:5000")
    );
}

#[test]
fn duplicate_copies_are_capped() {
    let (got, _) = one_through(vec![all(
        1,
        FaultAction::Duplicate {
            copies: u32::MAX,
            spacing_ms: 0,
        },
    )]);
    assert_eq!(got.len(), 1 + crate::MAX_COPIES as usize);
}

#[test]
fn extreme_values_do_not_panic() {
    let (got, _) = one_through(vec![
        all(u32::MAX, FaultAction::Delay { ms: u64::MAX }),
        all(
            0,
            FaultAction::Duplicate {
                copies: 3,
                spacing_ms: u64::MAX,
            },
        ),
        all(
            2,
            FaultAction::Corrupt {
                offset: usize::MAX,
                xor: 1,
            },
        ),
        all(3, FaultAction::Truncate { len: usize::MAX }),
        all(4, FaultAction::CorruptRandom { bytes: u32::MAX }),
        all(5, FaultAction::Reorder { hold: u32::MAX }),
    ]);
    assert_eq!(got.len(), 4);
}

#[test]
fn trace_serializes_to_json() {
    let (_, link) = one_through(vec![all(2, FaultAction::Drop)]);
    let json = serde_json::to_string(&link.trace()[1]).expect("json");
    assert_eq!(
        json,
        r#"{"dropped":{"id":0,"at":0,"from":"10.0.0.1:5000","to":"10.0.0.2:5000","reason":{"rule":{"rule":2}}}}"#
    );
}

#[test]
fn link_config_json() {
    let config: LinkConfig = serde_json::from_str(r#"{"seed":5,"mtu":1200}"#).expect("json");
    assert_eq!(
        config,
        LinkConfig {
            seed: 5,
            mtu: Some(1200),
            ..LinkConfig::default()
        }
    );
    assert!(serde_json::from_str::<LinkConfig>(r#"{"jitter_ms":1}"#).is_err());
}

/// A drop ends the actions, not the evaluation: later rules still count the dropped datagram.
#[test]
fn rules_after_a_drop_still_count() {
    let mut link = link_with(vec![
        FaultRule::new(1, Predicate::any().nth(Nth::Exactly(1)), FaultAction::Drop),
        FaultRule::new(
            2,
            Predicate::any().nth(Nth::Exactly(1)),
            FaultAction::Delay { ms: 50 },
        ),
    ]);
    link.send(ms(0), addr(A), addr(B), ping(1), false);
    link.send(ms(0), addr(A), addr(B), ping(2), false);
    assert_eq!(timeline(&drain(&mut link)), [(1, ping(2))]);
}

/// A rule's corruption draws do not disturb its own probability draws.
#[test]
fn corruption_draws_do_not_shift_decisions() {
    let corrupting = FaultRule::new(
        1,
        Predicate::any().probability(0.3),
        FaultAction::CorruptRandom { bytes: 3 },
    );
    let mut link = VirtualLink::new(LinkConfig::with_seed(9))
        .with_rules([corrupting])
        .expect("unique rule ids");
    for i in 0..2000 {
        link.send(ms(i), addr(A), addr(B), vec![0; 4], false);
    }
    let corrupted: Vec<bool> = drain(&mut link)
        .iter()
        .map(|d| d.payload != [0; 4])
        .collect();
    assert_eq!(corrupted, drop_pattern(9, vec![coin(0.3)], 2000));
}

/// The probability is drawn only for datagrams that meet the other conditions, so the
/// draws on the selected datagrams equal those of a plain coin over just them.
#[rstest]
#[case::nth(Predicate::any().nth(Nth::Every(2)).probability(0.4), |i: u64| i % 2 == 1)]
#[case::destination(Predicate::any().to(addr(B)).probability(0.4), |i: u64| i % 3 != 0)]
fn draws_only_when_the_other_conditions_hold(
    #[case] when: Predicate,
    #[case] selected: fn(u64) -> bool,
) {
    let mut link = VirtualLink::new(LinkConfig::with_seed(4))
        .with_rules([FaultRule::new(1, when, FaultAction::Drop)])
        .expect("unique rule ids");
    let n = 600;
    for i in 0..n {
        let to = if i % 3 == 0 { addr(C) } else { addr(B) };
        link.send(ms(i), addr(A), to, vec![0; 4], false);
    }
    let dropped: std::collections::BTreeSet<u64> = dropped_ids(link.trace()).into_iter().collect();
    let pattern: Vec<bool> = (0..n)
        .filter(|&i| selected(i))
        .map(|i| dropped.contains(&i))
        .collect();
    let coin_pattern = drop_pattern(4, vec![coin(0.4)], pattern.len() as u64);
    assert_eq!(pattern, coin_pattern);
    assert!((0..n)
        .filter(|&i| !selected(i))
        .all(|i| !dropped.contains(&i)));
}
