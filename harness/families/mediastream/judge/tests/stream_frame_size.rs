//! With the stream's frame size F known (1,410 bytes: 112,800 bit/s at 10 frames/s, M = 1,400),
//! a frame's datagrams are F's cut ([1383, 27]), or some of them (lost ones), never a frame of
//! another size cut right: `[1400, 27]` is 1,427 bytes cut by the tail rule, but not this
//! stream's frame (a responder that forgot to shorten the previous datagram), and `[1400, 62]`
//! is 1,410 bytes of payload plus headers (F counted without them).

mod common;

use common::Session;
use handshake_mediastream_judge::CheckOptions;
use handshake_mediastream_wire::{ControlRepr, DataRepr, Datagram};
use rstest::rstest;

/// A legacy-free 3-way pull session whose first frame is sent as datagrams of `sizes`.
fn rules_fired(sizes: &[usize], frame_size: Option<u64>) -> Vec<&'static str> {
    let a = common::assigned_id();
    let mut session = Session::with_options(CheckOptions {
        frame_size,
        ..CheckOptions::default()
    });
    session.push(
        0,
        true,
        &Datagram::Control(ControlRepr::syn(
            handshake_mediastream_wire::ConnectionId::ZERO,
        ))
        .to_vec(),
    );
    session.push(
        1,
        false,
        &Datagram::Control(ControlRepr::syn_ack_accept(a)).to_vec(),
    );
    session.push(2, true, &Datagram::Control(ControlRepr::ack(a)).to_vec());
    session.push(3, false, &Datagram::ConnectionId(a).to_vec());
    let pattern: Vec<u8> = (0..2000u16).flat_map(u16::to_le_bytes).collect();
    for (k, size) in sizes.iter().enumerate() {
        let data = DataRepr {
            seq: 1,
            qpc: 8_000 + k as u64,
            qpf: 10_000_000,
            payload: &pattern[..size - 26],
        };
        session.push(4, false, &Datagram::Data(data).to_vec());
    }
    session.rules_fired()
}

#[rstest]
#[case::the_streams_cut(&[1383, 27])]
#[case::its_first_datagram_alone(&[1383])]
#[case::its_last_alone(&[27])]
fn the_streams_frame_or_part_of_it_holds(#[case] sizes: &[usize]) {
    assert_eq!(rules_fired(sizes, Some(1410)), Vec::<&str>::new());
}

#[rstest]
#[case::previous_not_shortened(&[1400, 27])]
#[case::f_without_headers(&[1400, 62])]
fn another_frame_cut_right_is_not_the_streams(#[case] sizes: &[usize]) {
    assert_eq!(
        rules_fired(sizes, Some(1410)),
        vec!["mediastream.media.fragmentation"]
    );
    // Without F, a frame is judged by its own total: both are cut as planned.
    assert_eq!(rules_fired(sizes, None), Vec::<&str>::new());
}
