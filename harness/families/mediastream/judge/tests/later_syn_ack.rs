//! A later accepting SYN-ACK with another id (the responder changed its mind, D12 expects ids to
//! change): D5 has the initiator adopt the id of a SYN-ACK(Accept=1) and ACK it, so an initiator
//! that does is no violation; one that keeps the first id and ACKs only it is none either. The
//! responder's second id is D3.idempotent's business (a profile rule). `ms.initiator.second_syn_ack_other_id`
//! had failed an initiator adopting the later id.

mod common;

use common::Session;
use handshake_mediastream_wire::{ConnectionId, ControlRepr, DataRepr, Datagram};
use rstest::rstest;

fn control(c: ControlRepr<'_>) -> Vec<u8> {
    Datagram::Control(c).to_vec()
}

/// A pull session: SYN-ACK(A), ACK(A), SYN-ACK(B), the initiator's `answers` to it, SYN-ACK(A)
/// and ACK(A) again, then CONNECTION_ID(A) and one frame.
fn rules_fired(answers: &[ConnectionId]) -> Vec<&'static str> {
    let a = common::assigned_id();
    let b = ConnectionId::from_uuid_bytes([0xb7; 16]);
    let mut session = Session::new();
    session.push(0, true, &control(ControlRepr::syn(ConnectionId::ZERO)));
    session.push(1, false, &control(ControlRepr::syn_ack_accept(a)));
    session.push(2, true, &control(ControlRepr::ack(a)));
    session.push(3, false, &control(ControlRepr::syn_ack_accept(b)));
    for id in answers {
        session.push(4, true, &control(ControlRepr::ack(*id)));
    }
    session.push(5, false, &control(ControlRepr::syn_ack_accept(a)));
    session.push(6, true, &control(ControlRepr::ack(a)));
    session.push(7, false, &Datagram::ConnectionId(a).to_vec());
    let payload: Vec<u8> = (0..50u16).flat_map(u16::to_le_bytes).collect();
    let data = DataRepr {
        seq: 1,
        qpc: 8_000,
        qpf: 10_000_000,
        payload: &payload,
    };
    session.push(8, false, &Datagram::Data(data).to_vec());
    session.rules_fired()
}

#[rstest]
#[case::the_initiator_adopts_the_later_id(&[ConnectionId::from_uuid_bytes([0xb7; 16])])]
#[case::the_initiator_keeps_the_first_id(&[])]
fn either_reading_of_a_later_syn_ack_holds(#[case] answers: &[ConnectionId]) {
    // Only the responder's change of id is noted, as a profile rule.
    assert_eq!(
        rules_fired(answers),
        vec!["mediastream.3way.syn_ack_idempotent"]
    );
}

#[test]
fn an_ack_echoing_an_id_never_told_still_fires() {
    let fired = rules_fired(&[ConnectionId::from_uuid_bytes([0xc3; 16])]);
    assert!(
        fired.contains(&"mediastream.3way.ack_echoes_id"),
        "{fired:?}"
    );
}
