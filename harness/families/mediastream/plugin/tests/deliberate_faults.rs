//! The harness's deliberately malformed datagrams are the scripted peer's, not the IUT's: a
//! scenario that sends them can say `rules_hold: ["all"]` and pass against a correct IUT, while
//! the rule still fires (on the harness's datagram) for a scenario that expects it to.

use std::path::Path;

use handshake_mediastream::MediaStream;
use handshake_mediastream_endpoint::{Profile, ProfileKind};
use handshake_scenario::{Scenario, Verdict};

fn scenario(without_rules_fire: bool) -> Scenario<MediaStream> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../vectors/scenarios/mediastream/initiator_unknown_flags.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    if without_rules_fire {
        if let Some(expect) = json["expect"].as_object_mut() {
            expect.remove("rules_fire");
        }
    }
    handshake_scenario::json::from_str(&json.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn rules_hold_of_the_iut_s_side_only() {
    let profile = Profile::new(ProfileKind::ThreeWay);
    for without_rules_fire in [false, true] {
        let outcome = handshake_scenario::engine::run_reference(
            &scenario(without_rules_fire),
            "ref:3way",
            &profile,
            1,
        );
        assert_eq!(
            outcome.verdict,
            Verdict::Pass,
            "without rules_fire: {without_rules_fire}: {:?}",
            outcome.reasons
        );
        // The rule fired all the same, on the datagrams the harness sent.
        assert!(
            outcome
                .rules_fired
                .contains_key("mediastream.wire.well_formed"),
            "{:?}",
            outcome.rules_fired
        );
        assert!(outcome
            .rules_on_harness_datagrams
            .contains("mediastream.wire.well_formed"));
    }
}
