//! D14: a SYN-ACK's options are the accepted parameters. When an initiator gets two accepting
//! SYN-ACKs with different options (a duplicate carrying others), the facts do not say which it
//! runs with: `harness fuzz` found the independent Python initiator keeping the first SYN-ACK's
//! (none: its own 50 frames) while the judge took the second's frame rate and failed every frame
//! after its count. The judge now leaves the frame count open then; with one set of options it
//! still holds the IUT to it, as `media.accepted_parameters` (D14.tlv: a profile decision).

mod common;

use common::Session;
use handshake_mediastream_endpoint::{Direction, Profile, ProfileKind, StreamConfig};
use handshake_mediastream_judge::CheckOptions;
use handshake_mediastream_wire::{ConnectionId, ControlRepr, DataRepr, Datagram};
use rstest::rstest;

const AFTER_LAST_FRAME: &str = "mediastream.media.nothing_after_last_frame";
const ACCEPTED_PARAMETERS: &str = "mediastream.media.accepted_parameters";

/// A SYN-ACK accepting the session, with a frame-rate option (D14 type 1) when given.
fn syn_ack(frame_rate: Option<u32>) -> Vec<u8> {
    let mut bytes = Datagram::Control(ControlRepr::syn_ack_accept(common::assigned_id())).to_vec();
    if let Some(rate) = frame_rate {
        bytes.extend_from_slice(&[1, 4, 0]);
        bytes.extend_from_slice(&rate.to_le_bytes());
    }
    bytes
}

/// The rules fired by a pull session of 5 frames (5 frames/s for 1 s) whose responder sends
/// `syn_acks` and then the 5 frames.
fn rules_fired(syn_acks: &[Option<u32>]) -> Vec<&'static str> {
    let config = StreamConfig {
        frame_rate: 5,
        stream_length_secs: 1,
        direction: Direction::Pull,
        ..StreamConfig::default()
    };
    let options = CheckOptions::for_stream(Profile::new(ProfileKind::ThreeWay), &config);
    let mut session = Session::with_options(options);
    let id = common::assigned_id();
    session.push(
        0,
        true,
        &Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)).to_vec(),
    );
    for rate in syn_acks {
        session.push(1, false, &syn_ack(*rate));
    }
    session.push(2, true, &Datagram::Control(ControlRepr::ack(id)).to_vec());
    let payload = [0u8; 64];
    for seq in 1..=5 {
        let data = DataRepr {
            seq,
            qpc: 4_000 * seq,
            qpf: 10_000_000,
            payload: &payload,
        };
        session.push(2 + seq * 200, false, &Datagram::Data(data).to_vec());
    }
    session.rules_fired()
}

#[rstest]
#[case::one_syn_ack_with_3_frames_per_second(&[Some(3)], true)]
#[case::the_same_options_twice(&[Some(3), Some(3)], true)]
#[case::one_syn_ack_without_options(&[None], false)]
#[case::a_duplicate_with_another_frame_rate(&[None, Some(3)], false)]
#[case::a_duplicate_without_the_frame_rate(&[Some(3), None], false)]
fn the_frame_count_is_judged_only_when_one_set_of_options_was_accepted(
    #[case] syn_acks: &[Option<u32>],
    #[case] fires: bool,
) {
    let fired = rules_fired(syn_acks);
    assert_eq!(fired.contains(&ACCEPTED_PARAMETERS), fires, "{fired:?}");
    // The configured frame count (5 frames) holds: the fact rule never fires here.
    assert!(!fired.contains(&AFTER_LAST_FRAME), "{fired:?}");
}
