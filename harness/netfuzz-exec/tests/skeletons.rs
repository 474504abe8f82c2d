//! The skeletons a fuzz campaign starts from, over every family's library: their waits, that
//! every one loads and runs within the budget, and how a few shaped inputs are judged.

use std::path::{Path, PathBuf};

use handshake_netfuzz::campaign::with_steps;
use handshake_netfuzz_exec::exec;
use handshake_netfuzz_exec::skeletons::{
    load_skeletons, max_wait_ms, usable_skeletons, MAX_WAIT_MS,
};
use handshake_scenario::{Families, Iut, Registered};
use serde_json::Value;

/// The families the harness binary is built over.
static FAMILIES: Families = Families(&[
    &Registered::<handshake_mediastream::MediaStream>::new(),
    &Registered::<handshake_proton::Proton>::new(),
    &Registered::<handshake_darktower::DarkTower>::new(),
]);

/// The checkout, whose `vectors/scenarios` is the library.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Over real UDP a skeleton's expects wait at most the family's answer window; in virtual
/// time (where waiting costs nothing) the longer bound, so in-process campaigns are unchanged.
#[test]
fn real_time_skeletons_wait_the_family_s_answer_window() {
    let families = FAMILIES;
    let cap =
        |name: &str, real_time| max_wait_ms(families.require(name).expect("registered"), real_time);
    assert_eq!(cap("mediastream", true), 25);
    assert_eq!(cap("proton", true), 80);
    assert_eq!(cap("darktower", true), 80);
    assert_eq!(cap("mediastream", false), MAX_WAIT_MS);
}

/// Every scripted library scenario of every family makes a skeleton its family loads, in
/// virtual time and over real UDP: a refused skeleton is a part of the library never fuzzed.
#[test]
fn every_library_skeleton_loads() {
    let families = FAMILIES;
    fn default_profile(family: &str) -> &'static str {
        match family {
            "proton" => "project",
            "darktower" => "v1",
            _ => "3way",
        }
    }
    let root = workspace_root();
    for name in families.names() {
        let family = families.require(name).expect("registered");
        for real_time in [false, true] {
            let dir = root.join("vectors/scenarios").join(name);
            let skeletons =
                load_skeletons(families, &[dir], name, None, real_time).expect("library");
            assert!(skeletons.len() >= 20, "{name}: {}", skeletons.len());
            let reference = families.reference(&format!("{name}/{}", default_profile(name)));
            let iut = reference.expect("a reference");
            let usable = usable_skeletons(family, skeletons.clone(), &iut);
            assert_eq!(
                usable.usable.len(),
                skeletons.len(),
                "{name}: skeletons refused"
            );
            assert!(usable.refused.is_empty() && usable.lacking.is_empty());
        }
    }
}

/// An input asking the media-stream reference for 2^47 bit/s: each frame is a burst of
/// thousands of datagrams in one simulation step (60 MB in 0.2 s unbudgeted). It is over the
/// budget (the link's trace stops at it: `Simulation::limit_link_events`).
#[test]
fn a_burst_of_media_is_over_the_budget() {
    let families = FAMILIES;
    let root = workspace_root();
    let family = families.require("mediastream").expect("registered");
    let mut s: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root.join("vectors/scenarios/mediastream/responder_syn_options.json"),
        )
        .expect("library scenario"),
    )
    .expect("JSON");
    s["peer"]["steps"] = serde_json::json!([
        { "send": { "datagram": { "syn": { "options_hex": "02 0800 0000008000000000" } } } },
        { "expect": { "kind": "syn_ack", "within_ms": 10, "optional": true, "capture": { "assigned_id": "connection_id" } } },
        { "send": { "datagram": { "ack": {} } } },
        { "wait": { "ms": 200 } }
    ]);
    let iut = Iut::Reference {
        name: "ref:3way".into(),
        family: "mediastream",
        profile: "3way".into(),
    };
    let loaded = family.load_value(&s).expect("loads");
    let o = loaded.search_run(&iut, 1, exec::RUN_BUDGET_STEPS);
    assert!(exec::over_budget(&o), "{:?}", o.reasons);
}

/// A skeleton of a scenario about one of the project's decisions fails as any other input
/// does: a step that gets no answer is a reason, not a deviation (the probe's failure, a hang,
/// was unseen in such inputs).
#[test]
fn a_skeleton_about_a_decision_fails_like_any_other() {
    let families = FAMILIES;
    let root = workspace_root();
    let family = families.require("mediastream").expect("registered");
    let file = root.join("vectors/scenarios/mediastream/responder_syn_while_streaming.json");
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("library")).expect("JSON");
    assert!(
        original["profile"].is_string(),
        "a scenario about a decision"
    );
    let mut s = load_skeletons(families, &[file], "mediastream", None, false)
        .expect("library")
        .remove(0);
    let steps = s["peer"]["steps"].as_array_mut().expect("steps");
    steps.push(
        serde_json::json!({ "expect": { "kind": "syn_ack", "to_port": 50999, "within_ms": 5 } }),
    );
    let iut = Iut::Reference {
        name: "ref:3way".into(),
        family: "mediastream",
        profile: "3way".into(),
    };
    let o = family
        .load_value(&s)
        .expect("loads")
        .search_run(&iut, 1, exec::RUN_BUDGET_STEPS);
    assert!(
        o.reasons.iter().any(|r| r.starts_with("step ")),
        "{:?} / {:?}",
        o.reasons,
        o.deviations
    );
}

/// Every library skeleton, its probe appended, runs within the fuzz budget against the
/// family's first reference: a budget too small would leave a skeleton, and every input made
/// from it, never judged.
#[test]
fn every_library_skeleton_runs_within_the_fuzz_budget() {
    let families = FAMILIES;
    let root = workspace_root();
    for name in families.names() {
        let family = families.require(name).expect("registered");
        let base = family.mutants().first().map(|m| m.base).expect("mutants");
        let iut = Iut::Reference {
            name: format!("ref:{base}"),
            family: family.name(),
            profile: base.to_owned(),
        };
        let dir = root.join("vectors/scenarios").join(name);
        for s in load_skeletons(families, &[dir], name, None, false).expect("library") {
            let mut steps = s["peer"]["steps"].as_array().cloned().unwrap_or_default();
            steps.extend((family.fuzz().liveness_probe)(&s).unwrap_or_default());
            let loaded = family.load_value(&with_steps(&s, steps)).expect("loads");
            let o = loaded.search_run(&iut, 1, exec::RUN_BUDGET_STEPS);
            assert!(!exec::over_budget(&o), "{}: {:?}", s["id"], o.reasons);
        }
    }
}
