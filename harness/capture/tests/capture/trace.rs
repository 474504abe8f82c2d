//! `write_trace`: a virtual link's trace as one endpoint's capture.

use std::net::SocketAddr;

use handshake_capture::trace::{
    trace_packets, PacketRole, TraceStats, DEFAULT_EPOCH_NS, NOT_DELIVERED,
};
use handshake_capture::{open, write_trace, CaptureFormat, CaptureWriter, TraceOptions};
use handshake_core::Instant;
use handshake_net::{
    AppliedFault, DatagramId, DropReason, FaultAction, FaultEffect, FaultRule, LinkConfig,
    LinkEvent, Nth, Predicate, VirtualLink,
};

use crate::util::{addr, read_all};

fn me() -> SocketAddr {
    addr("10.0.0.2:5000")
}
fn peer() -> SocketAddr {
    addr("10.0.0.1:4000")
}
fn other() -> SocketAddr {
    addr("10.0.0.3:6000")
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn fault(rule: u32, effect: FaultEffect) -> AppliedFault {
    AppliedFault { rule, effect }
}

#[allow(clippy::too_many_arguments)]
fn sent(
    id: u64,
    at: u64,
    from: SocketAddr,
    to: SocketAddr,
    injected: bool,
    payload: &[u8],
    applied: Vec<AppliedFault>,
    dropped: Option<DropReason>,
) -> LinkEvent {
    LinkEvent::Sent {
        id: DatagramId(id),
        at: ms(at),
        from,
        to,
        kind: "datagram",
        injected,
        payload: payload.to_vec(),
        applied,
        dropped,
    }
}

fn delivered(
    id: u64,
    at: u64,
    from: SocketAddr,
    to: SocketAddr,
    payload: &[u8],
    applied: Vec<AppliedFault>,
) -> LinkEvent {
    LinkEvent::Delivered {
        id: DatagramId(id),
        at: ms(at),
        from,
        to,
        payload: payload.to_vec(),
        applied,
    }
}

fn dropped(id: u64, at: u64, from: SocketAddr, to: SocketAddr, reason: DropReason) -> LinkEvent {
    LinkEvent::Dropped {
        id: DatagramId(id),
        at: ms(at),
        from,
        to,
        reason,
    }
}

fn duplicated(id: u64, at: u64, copy_of: u64, rule: u32, deliver_at: u64) -> LinkEvent {
    LinkEvent::Duplicated {
        id: DatagramId(id),
        at: ms(at),
        copy_of: DatagramId(copy_of),
        rule,
        deliver_at: ms(deliver_at),
    }
}

/// A hand-built trace covering every case, seen from `me()`. Not in time order everywhere:
/// the writer sorts.
fn trace() -> Vec<LinkEvent> {
    [
        trace_delays_and_drops(),
        trace_duplicates(),
        trace_injections(),
        trace_losses_and_corruption(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Part of [`trace`]: #0 to #3: untouched, delayed and truncated, dropped by a rule.
fn trace_delays_and_drops() -> Vec<LinkEvent> {
    let (me, peer) = (me(), peer());
    let rule2 = DropReason::Rule { rule: 2 };
    vec![
        // #0: sent by me, untouched, delivered to the peer (not mine).
        sent(0, 0, me, peer, false, b"b0", vec![], None),
        delivered(0, 1, me, peer, b"b0", vec![]),
        // #1: to me, delayed and truncated: delivered late, cut.
        sent(
            1,
            2,
            peer,
            me,
            false,
            b"a1 long",
            vec![
                fault(3, FaultEffect::Delayed { ms: 20 }),
                fault(
                    4,
                    FaultEffect::Truncated {
                        from_len: 7,
                        to_len: 2,
                    },
                ),
            ],
            None,
        ),
        // #2: to me, dropped: never seen.
        sent(
            2,
            3,
            peer,
            me,
            false,
            b"a2",
            vec![fault(2, FaultEffect::Dropped)],
            Some(rule2),
        ),
        dropped(2, 3, peer, me, rule2),
        // #3: sent by me, dropped.
        sent(
            3,
            4,
            me,
            peer,
            false,
            b"b3",
            vec![fault(2, FaultEffect::Dropped)],
            Some(rule2),
        ),
        dropped(3, 4, me, peer, rule2),
    ]
}

/// Part of [`trace`]: #4 and its copy #5, #10 at the same time, and #1's late delivery.
fn trace_duplicates() -> Vec<LinkEvent> {
    let (me, peer) = (me(), peer());
    vec![
        // #4: to me, duplicated into #5.
        sent(
            4,
            5,
            peer,
            me,
            false,
            b"a4",
            vec![fault(
                1,
                FaultEffect::Duplicated {
                    copies: vec![DatagramId(5)],
                    spacing_ms: 3,
                },
            )],
            None,
        ),
        duplicated(5, 5, 4, 1, 9),
        delivered(
            4,
            6,
            peer,
            me,
            b"a4",
            vec![fault(
                1,
                FaultEffect::Duplicated {
                    copies: vec![DatagramId(5)],
                    spacing_ms: 3,
                },
            )],
        ),
        // #10: sent by me at the same time as #4's delivery, later in the trace.
        sent(10, 6, me, peer, false, b"tie", vec![], None),
        delivered(
            5,
            9,
            peer,
            me,
            b"a4",
            vec![fault(
                1,
                FaultEffect::CopyOf {
                    original: DatagramId(4),
                },
            )],
        ),
        // #1 delivered (late, in the trace before events of earlier times).
        delivered(
            1,
            23,
            peer,
            me,
            b"a1",
            vec![
                fault(3, FaultEffect::Delayed { ms: 20 }),
                fault(
                    4,
                    FaultEffect::Truncated {
                        from_len: 7,
                        to_len: 2,
                    },
                ),
            ],
        ),
    ]
}

/// Part of [`trace`]: #6 injected towards me and its copy #12, #7 injected with my address.
fn trace_injections() -> Vec<LinkEvent> {
    let (me, peer, other) = (me(), peer(), other());
    vec![
        // #6: injected towards me (from another address), duplicated into #12.
        sent(
            6,
            10,
            other,
            me,
            true,
            b"inj",
            vec![fault(
                1,
                FaultEffect::Duplicated {
                    copies: vec![DatagramId(12)],
                    spacing_ms: 1,
                },
            )],
            None,
        ),
        duplicated(12, 10, 6, 1, 12),
        delivered(
            6,
            11,
            other,
            me,
            b"inj",
            vec![fault(
                1,
                FaultEffect::Duplicated {
                    copies: vec![DatagramId(12)],
                    spacing_ms: 1,
                },
            )],
        ),
        delivered(
            12,
            12,
            other,
            me,
            b"inj",
            vec![fault(
                1,
                FaultEffect::CopyOf {
                    original: DatagramId(6),
                },
            )],
        ),
        // #7: injected with my address as source: I did not send it.
        sent(7, 12, me, peer, true, b"spoof", vec![], None),
        delivered(7, 13, me, peer, b"spoof", vec![]),
    ]
}

/// Part of [`trace`]: #8 over the MTU, #9 undeliverable, #11 corrupted, and traffic between two
/// other endpoints.
fn trace_losses_and_corruption() -> Vec<LinkEvent> {
    let (me, peer, other) = (me(), peer(), other());
    let big = vec![0xee; 1600];
    vec![
        // #8: to me, over the MTU.
        sent(
            8,
            14,
            peer,
            me,
            false,
            &big,
            vec![],
            Some(DropReason::Mtu {
                mtu: 1500,
                len: 1600,
            }),
        ),
        dropped(
            8,
            14,
            peer,
            me,
            DropReason::Mtu {
                mtu: 1500,
                len: 1600,
            },
        ),
        // #9: to me when nothing was at my address.
        sent(9, 14, peer, me, false, b"a9", vec![], None),
        LinkEvent::Undeliverable {
            id: DatagramId(9),
            at: ms(15),
            from: peer,
            to: me,
            payload: b"a9".to_vec(),
            applied: vec![],
        },
        // #11: sent by me, corrupted on the way.
        sent(
            11,
            16,
            me,
            peer,
            false,
            b"b11",
            vec![fault(
                5,
                FaultEffect::Corrupted {
                    offset: 1,
                    xor: 0x40,
                },
            )],
            None,
        ),
        delivered(
            11,
            17,
            me,
            peer,
            b"bq1",
            vec![fault(
                5,
                FaultEffect::Corrupted {
                    offset: 1,
                    xor: 0x40,
                },
            )],
        ),
        // Traffic between two other endpoints.
        sent(13, 18, peer, other, false, b"x", vec![], None),
        delivered(13, 19, peer, other, b"x", vec![]),
    ]
}

/// One packet as read back: (time, src, dst, payload, comment).
type Packet = (u64, SocketAddr, SocketAddr, Vec<u8>, Option<String>);

/// What the capture from `me()` must hold, with times in virtual milliseconds.
fn expected() -> Vec<Packet> {
    let (me, peer, other) = (me(), peer(), other());
    let s = |t: &str| Some(t.to_owned());
    vec![
        (0, me, peer, b"b0".to_vec(), None),
        (
            3,
            peer,
            me,
            b"a2".to_vec(),
            s("not delivered: dropped by harness: rule 2; step 2"),
        ),
        (4, me, peer, b"b3".to_vec(), s("dropped by harness: rule 2")),
        (
            6,
            peer,
            me,
            b"a4".to_vec(),
            s("harness: rule 1 duplicated into #5 (3 ms apart); step 3"),
        ),
        (6, me, peer, b"tie".to_vec(), None),
        (9, peer, me, b"a4".to_vec(), s("received as changed by harness: rule 1 copy of #4")),
        (
            11,
            other,
            me,
            b"inj".to_vec(),
            s("injected by harness; harness: rule 1 duplicated into #12 (1 ms apart)"),
        ),
        (
            12,
            other,
            me,
            b"inj".to_vec(),
            s("injected by harness; received as changed by harness: rule 1 copy of #6"),
        ),
        (
            14,
            peer,
            me,
            vec![0xee; 1600],
            s("not delivered: dropped by harness: 1600 bytes over MTU 1500"),
        ),
        (
            15,
            peer,
            me,
            b"a9".to_vec(),
            s("not delivered: undeliverable: nothing at 10.0.0.2:5000"),
        ),
        (
            16,
            me,
            peer,
            b"b11".to_vec(),
            s("altered in transit by harness: rule 5 corrupted byte 1 (xor 0x40)"),
        ),
        (
            23,
            peer,
            me,
            b"a1".to_vec(),
            s("received as changed by harness: rule 3 delayed 20 ms; rule 4 truncated 7 -> 2 bytes"),
        ),
    ]
}

fn steps(id: DatagramId) -> Option<&'static str> {
    match id.0 {
        2 => Some("step 2"),
        4 => Some("step 3"),
        _ => None,
    }
}

fn write(format: CaptureFormat, trace: &[LinkEvent]) -> (Vec<u8>, TraceStats) {
    let mut writer = CaptureWriter::with_format(Vec::new(), format).expect("start");
    let options = TraceOptions {
        annotate: Some(&steps),
        ..TraceOptions::default()
    };
    let stats = write_trace(trace, me(), &options, &mut writer).expect("write trace");
    (writer.finish().expect("finish"), stats)
}

#[test]
fn capture_from_one_endpoint() {
    let (bytes, stats) = write(CaptureFormat::PcapNg, &trace());
    assert_eq!(
        stats,
        TraceStats {
            sent: 4,
            received: 5,
            not_delivered: 3
        }
    );
    let (got, skipped) = read_all(&bytes);
    assert_eq!(skipped.total(), 0);
    let got: Vec<Packet> = got
        .into_iter()
        .map(|d| {
            (
                d.timestamp_ns,
                d.src,
                d.dst,
                d.payload.into_owned(),
                d.comment.map(|c| c.into_owned()),
            )
        })
        .collect();
    let want: Vec<Packet> = expected()
        .into_iter()
        .map(|(t, s, d, p, c)| (DEFAULT_EPOCH_NS + t * 1_000_000, s, d, p, c))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn checker_view_skips_not_delivered() {
    let (bytes, _) = write(CaptureFormat::PcapNg, &trace());
    let (got, _) = read_all(&bytes);
    let real: Vec<&[u8]> = got
        .iter()
        .filter(|d| {
            !d.comment
                .as_deref()
                .is_some_and(|c| c.starts_with(NOT_DELIVERED))
        })
        .map(|d| &d.payload[..])
        .collect();
    let want: Vec<&[u8]> = vec![
        b"b0", b"b3", b"a4", b"tie", b"a4", b"inj", b"inj", b"b11", b"a1",
    ];
    assert_eq!(real, want);
}

#[test]
fn classic_pcap_has_the_packets_without_comments() {
    let (bytes, stats) = write(CaptureFormat::Pcap, &trace());
    assert_eq!(stats.total(), 12);
    let (got, _) = read_all(&bytes);
    assert_eq!(got.len(), 12);
    assert!(got.iter().all(|d| d.comment.is_none()));
    let times: Vec<u64> = got.iter().map(|d| d.timestamp_ns).collect();
    let want: Vec<u64> = expected()
        .iter()
        .map(|e| DEFAULT_EPOCH_NS + e.0 * 1_000_000)
        .collect();
    assert_eq!(times, want);
}

#[test]
fn output_is_deterministic() {
    for format in [CaptureFormat::PcapNg, CaptureFormat::Pcap] {
        let (a, _) = write(format, &trace());
        let (b, _) = write(format, &trace());
        assert_eq!(a, b);
    }
}

#[test]
fn epoch_is_configurable_and_roles_are_reported() {
    let trace = trace();
    let mut writer = CaptureWriter::new(Vec::new()).expect("start");
    let options = TraceOptions {
        epoch_ns: 0,
        ..TraceOptions::default()
    };
    write_trace(&trace, me(), &options, &mut writer).expect("write");
    let bytes = writer.finish().expect("finish");
    let mut reader = open(&bytes).expect("open");
    let first = reader.next().expect("packet").expect("ok");
    assert_eq!(first.timestamp_ns, 0);

    let packets = trace_packets(&trace, me(), &TraceOptions::default());
    let roles: Vec<PacketRole> = packets.iter().map(|p| p.role).collect();
    use PacketRole::{NotDelivered as N, Received as R, Sent as S};
    assert_eq!(roles, vec![S, N, S, R, S, R, R, R, N, N, S, R]);
    // The peer's view of the same trace: its own sends, and what reached it.
    let theirs = trace_packets(&trace, peer(), &TraceOptions::default());
    let ids: Vec<u64> = theirs.iter().map(|p| p.id.0).collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4, 7, 8, 9, 11, 13]);
}

/// A dropped datagram is never shown before one sent earlier on its path: in real time the
/// harness may deliver a burst late, and "sent + latency" alone put a dropped datagram of the
/// burst ahead of its delivered predecessors (a false `seq` order violation under load).
#[test]
fn a_dropped_datagram_keeps_its_place_behind_a_late_delivered_burst() {
    let (a, b) = (peer(), me());
    let mut link = VirtualLink::new(LinkConfig::with_seed(1))
        .with_rules([FaultRule::new(
            2,
            Predicate::any().to(b).nth(Nth::Exactly(3)),
            FaultAction::Drop,
        )])
        .expect("rules");
    // Three datagrams sent at 0 ms, delivered 8 ms late (the harness was busy).
    for i in 0..3u8 {
        link.send(ms(0), a, b, vec![i], false);
    }
    while link.pop_due(ms(9), |_| true).is_some() {}
    let packets = trace_packets(
        link.trace(),
        b,
        &TraceOptions {
            not_delivered_delay_ns: 1_000_000,
            ..TraceOptions::default()
        },
    );
    let order: Vec<(u8, PacketRole)> = packets.iter().map(|p| (p.payload[0], p.role)).collect();
    assert_eq!(
        order,
        vec![
            (0, PacketRole::Received),
            (1, PacketRole::Received),
            (2, PacketRole::NotDelivered)
        ]
    );
}

/// The same through a real link: the comments are the link's own.
#[test]
fn trace_of_a_virtual_link() {
    let (a, b) = (peer(), me());
    let mut link = VirtualLink::new(LinkConfig::with_seed(1))
        .with_rules([FaultRule::new(
            2,
            Predicate::any().to(b).nth(Nth::Exactly(2)),
            FaultAction::Drop,
        )])
        .expect("rules");
    for i in 0..3u8 {
        link.send(ms(u64::from(i) * 10), a, b, vec![i], false);
        while link.pop_due(ms(u64::from(i) * 10 + 1), |_| true).is_some() {}
    }
    link.send(ms(40), b, a, b"reply".to_vec(), false);
    while link.pop_due(ms(41), |_| true).is_some() {}

    let packets = trace_packets(link.trace(), b, &TraceOptions::default());
    let summary: Vec<(u64, PacketRole, Option<&str>)> = packets
        .iter()
        .map(|p| (p.at.as_nanos() / 1_000_000, p.role, p.comment.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, PacketRole::Received, None),
            // Dropped at 10 ms, shown when it would have arrived: with the 1 ms lag of the
            // datagram before it on its path (the default not-delivered delay is 0).
            (
                11,
                PacketRole::NotDelivered,
                Some("not delivered: dropped by harness: rule 2")
            ),
            (21, PacketRole::Received, None),
            (40, PacketRole::Sent, None),
        ]
    );
}
