//! `harness learn`: the 3-way reference's model is learned exactly, a profile's differences from it
//! are found and judged, and bad input is named.

use std::path::PathBuf;
use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn out_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("harness-learn-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_3way_reference_has_three_states() {
    let out = out_dir("ref");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("ref:3way: 3 states over 6 inputs"),
        "{}",
        text(&o)
    );
    let dot = std::fs::read_to_string(out.join("model.dot")).unwrap_or_default();
    assert!(dot.contains("syn / syn_ack"), "{dot}");
    assert!(dot.contains("ack / connection_id"), "{dot}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("learn.json")).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(summary["model"]["states"], 3, "{summary}");
    assert!(summary["model"]["stopped_by"].is_null(), "{summary}");
}

#[test]
fn a_profile_s_difference_is_found_and_judged() {
    let out = out_dir("diff");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way+allow_legacy_start",
        "--diff",
        "ref:3way",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("after start: the IUT connection_id / the reference -"),
        "{t}"
    );
    assert!(
        t.contains("1 difference from ref:3way: 0 violations"),
        "{t}"
    );
    assert!(out.join("reference.dot").is_file());
}

#[test]
fn bad_input_is_named() {
    let o = harness(&["learn", "--iut", "ref:3way", "--inputs", "syn,synn"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no input `synn`"), "{}", text(&o));
    let o = harness(&["learn", "--iut", "ref:project", "--role", "client"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("proton has no learning alphabet for the client"),
        "{}",
        text(&o)
    );
}
