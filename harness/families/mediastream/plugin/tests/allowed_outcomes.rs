//! An expectation states what the facts allow apart from the profile's preferred form: a step met
//! by an allowed outcome passes, an outcome other than the preferred form is a deviation naming
//! what the program chose, and a profile step that misses ends the script without the script's
//! end being judged on the facts (a profile miss never cascades into a failure).

use handshake_mediastream::MediaStream;
use handshake_mediastream_endpoint::{Profile, ProfileKind};
use handshake_scenario::{Scenario, ScenarioOutcome, Verdict};

fn run(steps: serde_json::Value, expect: serde_json::Value) -> ScenarioOutcome {
    let json = serde_json::json!({
        "id": "ms.test.allowed_outcomes",
        "title": "allowed outcomes",
        "protocol": "mediastream",
        "iut": { "role": "responder", "requires": ["three_way"] },
        "peer": { "steps": steps },
        "expect": expect,
    });
    let s: Scenario<MediaStream> =
        handshake_scenario::json::from_str(&json.to_string()).unwrap_or_else(|e| panic!("{e}"));
    handshake_scenario::engine::run_reference(
        &s,
        "ref:3way",
        &Profile::new(ProfileKind::ThreeWay),
        1,
    )
}

fn syn() -> serde_json::Value {
    serde_json::json!({ "send": { "datagram": { "syn": {} } } })
}

#[test]
fn an_allowed_outcome_passes_and_another_form_than_the_preferred_deviates() {
    // The SYN-ACK is among what the facts allow (a SYN-ACK or, say, a reject); the "profile" here
    // prefers a reject, so the accepting SYN-ACK is a deviation that names it.
    let outcome = run(
        serde_json::json!([
            syn(),
            { "expect": {
                "kind": "syn_ack", "where": { "accept": false },
                "any_of": [ { "kind": "syn_ack", "where": { "accept": true } } ],
                "within_ms": 100, "basis": "D3",
                "prefer": { "kind": "syn_ack", "where": { "accept": false }, "basis": "D4.triggers" }
            } }
        ]),
        serde_json::json!({}),
    );
    assert_eq!(outcome.verdict, Verdict::Pass, "{:?}", outcome.reasons);
    assert_eq!(outcome.deviations.len(), 1, "{:?}", outcome.deviations);
    assert!(
        outcome.deviations[0].contains("\"accept\":true")
            && outcome.deviations[0].contains("prefers syn_ack"),
        "{:?}",
        outcome.deviations
    );

    // Neither the step's kind nor any alternative: a failure naming them all.
    let missed = run(
        serde_json::json!([
            syn(),
            { "expect": {
                "kind": "connection_id", "any_of": [ { "kind": "data" } ],
                "within_ms": 100, "basis": "D3"
            } }
        ]),
        serde_json::json!({}),
    );
    assert_eq!(missed.verdict, Verdict::Fail, "{:?}", missed.reasons);
    assert!(
        missed
            .reasons
            .iter()
            .any(|r| r.contains("connection_id {} or data {}")),
        "{:?}",
        missed.reasons
    );
}

#[test]
fn a_profile_miss_ends_the_script_without_failing_its_end() {
    // The profile step misses (the responder answers the SYN), so the ACK is never sent and the
    // session never reaches 3way: the end is not judged, the miss is a deviation.
    let steps = serde_json::json!([
        syn(),
        { "expect_none": { "kind": "syn_ack", "for_ms": 200, "basis": "D7.values" } },
        { "expect": { "kind": "syn_ack", "within_ms": 100, "capture": { "id": "connection_id" }, "basis": "D3" } },
        { "send": { "datagram": { "ack": { "id": "$id" } } } }
    ]);
    let outcome = run(
        steps,
        serde_json::json!({ "negotiated_mode": "3way", "basis": "D6" }),
    );
    assert_eq!(outcome.verdict, Verdict::Pass, "{:?}", outcome.reasons);
    assert!(
        outcome.deviations.iter().any(|d| d.contains("step 2")),
        "{:?}",
        outcome.deviations
    );
    assert!(
        outcome
            .not_observable
            .iter()
            .any(|n| n.contains("not judged: step 2's deviation ended the script")),
        "{:?}",
        outcome.not_observable
    );

    // The same script on the facts alone (a fact step in its place) fails there.
    let steps = serde_json::json!([
        syn(),
        { "expect_none": { "kind": "syn_ack", "for_ms": 200, "basis": "D3" } }
    ]);
    let outcome = run(
        steps,
        serde_json::json!({ "negotiated_mode": "3way", "basis": "D6" }),
    );
    assert_eq!(outcome.verdict, Verdict::Fail, "{:?}", outcome.reasons);
}
