//! D9's "never a control frame towards a peer that opened with legacy START" needs a START: a
//! session opened by a SYN this decoder calls malformed (a frame-rate option of length 0, which
//! D14 leaves open) and served anyway is no legacy session (found fuzzing an independent responder
//! that accepts such a SYN).

mod common;

use common::Session;
use handshake_mediastream_wire::{ConnectionId, ControlRepr, Datagram};
use rstest::rstest;

fn rules_fired(opening: &[u8]) -> Vec<&'static str> {
    let id = common::assigned_id();
    let mut session = Session::new();
    let control = |c: ControlRepr<'_>| Datagram::Control(c).to_vec();
    session.push(0, true, opening);
    session.push(1, false, &control(ControlRepr::syn_ack_accept(id)));
    session.push(2, true, &control(ControlRepr::ack(id)));
    session.push(3, false, &Datagram::ConnectionId(id).to_vec());
    // A SYN of version 255 from the same tuple, rejected.
    let mut bad_version = control(ControlRepr::syn(ConnectionId::ZERO));
    bad_version[26] = 255;
    session.push(4, true, &bad_version);
    session.push(
        5,
        false,
        &control(ControlRepr::syn_ack_reject("unsupported version")),
    );
    session.rules_fired()
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

/// Each malformed request the initiator sent may get its own rejection, whatever answered the
/// session's SYN (found fuzzing the independent responder: a SYN with a frame-rate option of
/// length 0, accepted, then two SYNs of version 3, each rejected). A rejection no malformed
/// request explains still breaks D3.
#[rstest]
#[case::the_finding(true, 2, 2, false)]
#[case::more_rejections_than_malformed_requests(true, 1, 3, true)]
#[case::a_rejection_after_an_accept(false, 0, 1, true)]
#[case::two_bad_versions_rejected(false, 2, 2, false)]
fn each_malformed_request_may_be_rejected(
    #[case] bad_length_opening: bool,
    #[case] bad_versions: usize,
    #[case] rejections: usize,
    #[case] fires: bool,
) {
    let id = common::assigned_id();
    let control = |c: ControlRepr<'_>| Datagram::Control(c).to_vec();
    let mut session = Session::new();
    let mut opening = control(ControlRepr::syn(ConnectionId::ZERO));
    if bad_length_opening {
        opening.extend_from_slice(&[1, 0, 0]);
    }
    session.push(0, true, &opening);
    let mut bad_version = control(ControlRepr::syn(ConnectionId::ZERO));
    bad_version[26] = 3;
    for _ in 0..bad_versions {
        session.push(0, true, &bad_version);
    }
    session.push(1, false, &control(ControlRepr::syn_ack_accept(id)));
    for _ in 0..rejections {
        session.push(
            1,
            false,
            &control(ControlRepr::syn_ack_reject("unsupported version")),
        );
    }
    let fired = session.rules_fired();
    assert_eq!(
        fired.contains(&"mediastream.3way.syn_ack_idempotent"),
        fires,
        "{fired:?}"
    );
}

/// A 3-way responder without AllowLegacyStart drops a START with no reply (D9); a SYN of version 2
/// from the same tuple then gets the rejection D4 asks for, which is no control frame to a legacy
/// peer (found fuzzing: a stray SYN-ACK, a START, a SYN of version 2, and the independent responder
/// rejecting it as the reference does). A rejection nothing malformed asked for still breaks D9,
/// and so does one after the START was served.
#[rstest]
#[case::a_bad_version_rejected_after_a_dropped_start(true, false, false)]
#[case::a_rejection_of_nothing_malformed(false, false, true)]
#[case::a_bad_version_rejected_after_a_served_start(true, true, true)]
fn a_rejection_of_a_malformed_syn_after_a_start(
    #[case] bad_version_sent: bool,
    #[case] start_served: bool,
    #[case] fires: bool,
) {
    let id = common::assigned_id();
    let control = |c: ControlRepr<'_>| Datagram::Control(c).to_vec();
    let mut session = Session::new();
    session.push(0, true, &Datagram::Start.to_vec());
    if start_served {
        session.push(1, false, &Datagram::ConnectionId(id).to_vec());
    }
    if bad_version_sent {
        let mut bad_version = control(ControlRepr::syn(ConnectionId::ZERO));
        bad_version[26] = 2;
        session.push(2, true, &bad_version);
    }
    session.push(
        3,
        false,
        &control(ControlRepr::syn_ack_reject("unsupported version")),
    );
    let fired = session.rules_fired();
    assert_eq!(
        fired.contains(&"mediastream.legacy.no_control_frames"),
        fires,
        "{fired:?}"
    );
}
