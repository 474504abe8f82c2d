//! D9's "never a control frame towards a peer that opened with legacy START" needs a START: a
//! session opened by a SYN this decoder calls malformed (a frame-rate option of length 0, which
//! D14 leaves open) and served anyway is no legacy session (found fuzzing an independent responder
//! that accepts such a SYN).

use std::net::SocketAddr;

use handshake_mediastream_judge::{CheckOptions, Checker, Mark, Packet};
use handshake_mediastream_wire::{ConnectionId, ControlRepr, Datagram};
use rstest::rstest;

fn rules_fired(opening: &[u8]) -> Vec<&'static str> {
    let (i, r): (SocketAddr, SocketAddr) = (
        "192.0.2.1:50000".parse().expect("addr"),
        "192.0.2.2:4444".parse().expect("addr"),
    );
    let id = ConnectionId::from_text("7887efe9-2f22-4082-b78a-62421b8fdd9e").expect("id");
    let mut checker = Checker::new(CheckOptions::default());
    let mut number = 0;
    let mut push = |ms: u64, from_initiator: bool, bytes: &[u8]| {
        number += 1;
        let (src, dst) = if from_initiator { (i, r) } else { (r, i) };
        checker.push(&Packet {
            number,
            time_ns: ms * 1_000_000,
            src,
            dst,
            payload: bytes,
            mark: Mark::default(),
        });
    };
    let control = |c: ControlRepr<'_>| Datagram::Control(c).to_vec();
    push(0, true, opening);
    push(1, false, &control(ControlRepr::syn_ack_accept(id)));
    push(2, true, &control(ControlRepr::ack(id)));
    push(3, false, &Datagram::ConnectionId(id).to_vec());
    // A SYN of version 255 from the same tuple, rejected.
    let mut bad_version = control(ControlRepr::syn(ConnectionId::ZERO));
    bad_version[26] = 255;
    push(4, true, &bad_version);
    push(
        5,
        false,
        &control(ControlRepr::syn_ack_reject("unsupported version")),
    );
    let mut fired: Vec<&str> = checker.finish().violations().map(|v| v.rule).collect();
    fired.dedup();
    fired
}

#[rstest]
#[case::a_syn_with_a_frame_rate_of_length_0(false, false)]
#[case::a_start(true, true)]
fn a_control_frame_to_legacy_needs_a_start(#[case] start: bool, #[case] fires: bool) {
    let opening = if start {
        Datagram::Start.to_vec()
    } else {
        let mut syn = Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)).to_vec();
        syn.extend_from_slice(&[1, 0, 0]);
        syn
    };
    let fired = rules_fired(&opening);
    assert_eq!(
        fired.contains(&"mediastream.legacy.no_control_frames"),
        fires,
        "{fired:?}"
    );
}
