//! Every scenario's outcome against every reference profile, as one insta snapshot per scenario:
//! verdict, negotiated mode, metrics, rules fired and the decoded transcript with virtual times.
//! `make test` fails on any difference; review changes with `cargo insta review`.

use std::path::PathBuf;

use handshake_mediastream_endpoint::Profile;
use handshake_scenario::engine::{run_reference, run_reference_within, Keep, STEP_LIMIT};
use rstest::rstest;

const PROFILES: [&str; 6] = [
    "3way",
    "3way+allow_legacy_start",
    "3way+optimistic_start",
    "3way+fallback_to_legacy",
    "legacy",
    "udp_push",
];

#[rstest]
fn scenario_outcomes(#[files("../../../../vectors/scenarios/mediastream/*.json")] path: PathBuf) {
    let scenario = handshake_mediastream::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut text = String::new();
    for name in PROFILES {
        let profile = Profile::parse(name).expect("profile");
        let seed = scenario.seed.unwrap_or(1);
        let outcome = run_reference(&scenario, &format!("ref:{name}"), &profile, seed);
        // Same scenario, same seed: the same outcome, byte for byte (transcript and capture).
        let again = run_reference(&scenario, &format!("ref:{name}"), &profile, seed);
        assert_eq!(
            outcome.render(),
            again.render(),
            "{} against {name} is not deterministic",
            scenario.id
        );
        assert_eq!(
            outcome.capture, again.capture,
            "{} against {name}: capture differs between runs",
            scenario.id
        );
        // Judged from the run's datagrams without a capture (how `harness fuzz` runs its
        // inputs): the same judgement, and the transcript's lines of what the IUT did.
        let judged = run_reference_within(
            &scenario,
            &format!("ref:{name}"),
            &profile,
            seed,
            STEP_LIMIT,
            Keep::Judgement,
        );
        let mut of_the_iut = outcome.clone();
        of_the_iut
            .transcript
            .retain(|l| l.text.starts_with("IUT -> ") || l.text.starts_with("IUT event: "));
        assert_eq!(
            (of_the_iut.render(), &outcome.rules_on_harness_datagrams),
            (judged.render(), &judged.rules_on_harness_datagrams),
            "{} against {name}: judged without its capture, another outcome",
            scenario.id
        );
        // No capture, but its size (a run that did not happen has neither).
        assert!(judged.capture.is_empty());
        assert_eq!(judged.traffic_bytes > 0, !outcome.capture.is_empty());
        text.push_str(&outcome.render());
        text.push('\n');
    }
    insta::with_settings!({ snapshot_suffix => scenario.id.clone(), description => scenario.title.clone(), omit_expression => true }, {
        insta::assert_snapshot!("outcome", text);
    });
}
