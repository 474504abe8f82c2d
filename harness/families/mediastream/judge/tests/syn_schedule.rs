//! D2's schedule when the harness changed a SYN: the changed datagram still holds its place, so the
//! SYNs after it are judged as re-sends 2, 3 and 4, not 1, 2 and 3.

use std::net::SocketAddr;

use handshake_mediastream_judge::{CheckOptions, Checker, Mark, Packet};
use handshake_mediastream_wire::{ConnectionId, ControlRepr, Datagram};
use rstest::rstest;

fn syn() -> Vec<u8> {
    Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)).to_vec()
}

fn rules_fired(first_syn_truncated: bool) -> Vec<&'static str> {
    let (i, r): (SocketAddr, SocketAddr) = (
        "192.0.2.1:50000".parse().expect("addr"),
        "192.0.2.2:4444".parse().expect("addr"),
    );
    let mut checker = Checker::new(CheckOptions::default());
    let mut number = 0;
    let mut push = |ms: u64, bytes: &[u8], mark: Mark| {
        number += 1;
        checker.push(&Packet {
            number,
            time_ns: ms * 1_000_000,
            src: i,
            dst: r,
            payload: bytes,
            mark,
        });
    };
    if first_syn_truncated {
        let cut = syn();
        push(
            0,
            &cut[..66],
            Mark::from_comment(Some(
                "received as changed by harness: rule 1 truncated 67 -> 66 bytes",
            )),
        );
    }
    for ms in [500, 1500, 3500] {
        push(ms, &syn(), Mark::default());
    }
    checker.finish().violations().map(|v| v.rule).collect()
}

#[rstest]
#[case::after_a_truncated_first_syn(true, vec![])]
#[case::without_the_first_the_schedule_is_wrong(false, vec!["mediastream.3way.syn_backoff"])]
fn a_changed_first_syn_keeps_its_place(#[case] truncated: bool, #[case] expected: Vec<&str>) {
    let mut fired = rules_fired(truncated);
    fired.dedup();
    assert_eq!(fired, expected);
}
