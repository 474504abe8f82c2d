//! A legacy initiator re-sends START every trunc(1000/FrameRate)+500 ms until the first media
//! arrives (600 ms at 10 frames/s): sooner (no +500), or doubling, breaks the fact. Judged where
//! the initiator is known to run the legacy profile.

mod common;

use common::Session;
use handshake_mediastream_endpoint::{Profile, ProfileKind, StreamConfig};
use handshake_mediastream_judge::CheckOptions;
use handshake_mediastream_wire::{DataRepr, Datagram};
use rstest::rstest;

/// A legacy pull session whose initiator sends STARTs at `starts` ms, the responder's
/// CONNECTION_ID at 1 ms and, when `media_at` is given, its first frame then.
fn rules_fired(starts: &[u64], media_at: Option<u64>) -> Vec<&'static str> {
    let stream = StreamConfig {
        bits_per_second: 112_800,
        frame_rate: 10,
        ..StreamConfig::default()
    };
    let mut options = CheckOptions::for_stream(Profile::new(ProfileKind::Legacy), &stream);
    options.initiator_profile = Some(Profile::new(ProfileKind::Legacy));
    let mut session = Session::with_options(options);
    let pattern: Vec<u8> = (0..2000u16).flat_map(u16::to_le_bytes).collect();
    let mut events: Vec<(u64, Vec<u8>, bool)> = starts
        .iter()
        .map(|ms| (*ms, Datagram::Start.to_vec(), true))
        .collect();
    events.push((
        1,
        Datagram::ConnectionId(common::assigned_id()).to_vec(),
        false,
    ));
    if let Some(ms) = media_at {
        for (size, qpc) in [(1383, 1), (27, 2)] {
            let data = DataRepr {
                seq: 1,
                qpc,
                qpf: 10_000_000,
                payload: &pattern[..size - 26],
            };
            events.push((ms, Datagram::Data(data).to_vec(), false));
        }
    }
    events.sort_by_key(|(ms, _, _)| *ms);
    for (ms, bytes, from_initiator) in events {
        session.push(ms, from_initiator, &bytes);
    }
    session.rules_fired()
}

#[rstest]
#[case::every_600_ms(&[0, 600, 1200, 1800], None)]
#[case::late_under_load(&[0, 600, 1350], None)]
#[case::none_judged_after_the_first_media(&[0, 600, 700], Some(650))]
fn the_fixed_interval_holds(#[case] starts: &[u64], #[case] media_at: Option<u64>) {
    assert_eq!(rules_fired(starts, media_at), Vec::<&str>::new());
}

#[test]
fn a_scripted_initiator_is_not_judged() {
    // No initiator profile: the STARTs are a script's (the harness's, or a capture's unknown).
    let stream = StreamConfig {
        frame_rate: 10,
        ..StreamConfig::default()
    };
    let options = CheckOptions::for_stream(Profile::new(ProfileKind::Legacy), &stream);
    let mut session = Session::with_options(options);
    for ms in [0, 100, 200] {
        session.push(ms, true, &Datagram::Start.to_vec());
    }
    assert_eq!(session.rules_fired(), Vec::<&str>::new());
}

#[rstest]
#[case::without_the_500(&[0, 100, 200])]
#[case::doubling(&[0, 600, 1800])]
fn another_interval_breaks_it(#[case] starts: &[u64]) {
    assert_eq!(
        rules_fired(starts, None),
        vec!["mediastream.legacy.start_resends"]
    );
}
