//! D14 gives the known option types' sizes but calls only a TLV running past the end invalid. A
//! control frame whose known-type option has another length is malformed to this decoder, yet an
//! independent implementation may skip the option and take the frame: its receiver may act on it
//! and the checker must not call that a violation (found fuzzing the independent Python responder,
//! which streamed after an ACK carrying a 16-byte max-datagram option). Nothing is required of a
//! receiver that drops it, and a frame D14 does call invalid still permits nothing.

mod common;

use common::Session;
use handshake_mediastream_wire::{ConnectionId, ControlRepr, DataRepr, Datagram};
use rstest::rstest;

/// What a control frame carries after its 67 bytes.
#[derive(Clone, Copy, Debug)]
enum Options {
    None,
    /// Type 5 (max datagram bytes, u32) with a 16-byte value.
    BadLength,
    /// A TLV whose length runs past the end (invalid by D14).
    Overrun,
}

fn control(c: ControlRepr<'_>, options: Options) -> Vec<u8> {
    let mut bytes = Datagram::Control(c).to_vec();
    match options {
        Options::None => {}
        Options::BadLength => {
            bytes.extend_from_slice(&[5, 16, 0]);
            bytes.extend_from_slice(&[0x44; 16]);
        }
        Options::Overrun => bytes.extend_from_slice(&[5, 16, 0, 1, 2]),
    }
    bytes
}

/// The rules fired by a 3-way session whose SYN, SYN-ACK and ACK carry `syn`, `syn_ack` and
/// `ack` options, and in which the responder then streams (ACK absent when `ack` is `None`; with
/// `syn_again`, a well-formed SYN repeated after it).
fn rules_fired(
    syn: Options,
    syn_ack: Options,
    ack: Option<Options>,
    syn_again: bool,
) -> Vec<&'static str> {
    let id = common::assigned_id();
    let mut session = Session::new();
    session.push(0, true, &control(ControlRepr::syn(ConnectionId::ZERO), syn));
    session.push(1, false, &control(ControlRepr::syn_ack_accept(id), syn_ack));
    if let Some(ack) = ack {
        session.push(2, true, &control(ControlRepr::ack(id), ack));
    }
    if syn_again {
        session.push(
            2,
            true,
            &control(ControlRepr::syn(ConnectionId::ZERO), Options::None),
        );
    }
    session.push(3, false, &Datagram::ConnectionId(id).to_vec());
    // The fill pattern: the little-endian counter 0, 1, 2, …
    let payload: Vec<u8> = (0..50u16).flat_map(u16::to_le_bytes).collect();
    let data = DataRepr {
        seq: 1,
        qpc: 4_000,
        qpf: 10_000_000,
        payload: &payload,
    };
    session.push(4, false, &Datagram::Data(data).to_vec());
    session.rules_fired()
}

#[rstest]
#[case::media_after_an_ack_with_a_bad_length_option(Options::None, Options::None, Some(Options::BadLength), false, &[], &["mediastream.3way.no_media_before_ack"])]
#[case::a_session_opened_by_a_syn_with_a_bad_length_option(Options::BadLength, Options::None, Some(Options::None), false, &[], &["mediastream.3way.order", "mediastream.3way.no_media_before_ack"])]
// Found fuzzing the independent responder: such a SYN opens the 3-way session like any SYN (a
// SYN repeated after the ACK did, and the ACK before it had been ignored).
#[case::a_syn_repeated_after_the_ack_of_a_session_opened_by_a_bad_length_syn(Options::BadLength, Options::None, Some(Options::None), true, &[], &["mediastream.3way.order", "mediastream.3way.no_media_before_ack"])]
#[case::media_without_an_ack_after_a_bad_length_syn(Options::BadLength, Options::None, None, false, &["mediastream.3way.no_media_before_ack"], &[])]
#[case::an_ack_to_a_syn_ack_with_a_bad_length_option(Options::None, Options::BadLength, Some(Options::None), false, &[], &["mediastream.3way.order"])]
#[case::media_without_an_ack(Options::None, Options::None, None, false, &["mediastream.3way.no_media_before_ack"], &[])]
#[case::media_after_an_ack_whose_option_overruns(Options::None, Options::None, Some(Options::Overrun), false, &["mediastream.3way.no_media_before_ack"], &[])]
fn a_frame_d14_leaves_open_may_be_taken(
    #[case] syn: Options,
    #[case] syn_ack: Options,
    #[case] ack: Option<Options>,
    #[case] syn_again: bool,
    #[case] fires: &[&str],
    #[case] holds: &[&str],
) {
    let fired = rules_fired(syn, syn_ack, ack, syn_again);
    for rule in fires {
        assert!(fired.contains(rule), "{rule} should fire: {fired:?}");
    }
    for rule in holds {
        assert!(!fired.contains(rule), "{rule} should hold: {fired:?}");
    }
}
