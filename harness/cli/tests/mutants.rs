//! The suite's power: every mutant of the reference endpoints is caught by at least one scenario, and
//! every decision and rule id has a scenario (`harness coverage` finds no gap).

use std::path::PathBuf;

use clap::Parser;
use handshake_harness::cli::{self, Cli};

fn library() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/scenarios/mediastream")
        .display()
        .to_string()
}

#[test]
fn every_mutant_is_caught() {
    let mut out = Vec::new();
    let code = cli::run(
        &handshake_harness::families::REGISTRY,
        Cli::try_parse_from(["harness", "mutants", &library()]).expect("args"),
        &mut out,
    );
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("NOT CAUGHT"), "{text}");
    let score = text.lines().last().unwrap_or_default();
    assert!(
        score.starts_with("mutation score: ") && score.contains("(100 %)"),
        "{score}"
    );
    let total: usize = score
        .trim_start_matches("mutation score: ")
        .split('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(total >= 15, "at least 15 mutants: {total}");
}

#[test]
fn an_unknown_mutant_is_an_input_error() {
    let mut out = Vec::new();
    let argv = [
        "harness",
        "mutants",
        &library(),
        "--mutant",
        "no-such-mutant",
    ];
    assert_eq!(
        cli::run(
            &handshake_harness::families::REGISTRY,
            Cli::try_parse_from(argv).expect("args"),
            &mut out
        ),
        2
    );
}

#[test]
fn coverage_has_no_gaps() {
    let mut out = Vec::new();
    let code = cli::run(
        &handshake_harness::families::REGISTRY,
        Cli::try_parse_from(["harness", "coverage", &library()]).expect("args"),
        &mut out,
    );
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{text}");
    for id in [
        "D1",
        "D14",
        "mediastream.3way.no_media_before_ack",
        "mediastream.media.fragmentation",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(id)),
            "{id} listed: {text}"
        );
    }
}

/// An external IUT whose command does not start passes no scenario, so none of its mutants can be
/// caught: an input error that says so, not a mutation score of 0.
#[test]
fn an_iut_that_cannot_start_is_an_input_error_not_a_score() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let original = root.join("vectors/iut/python-mediastream.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(original).expect("manifest")).expect("JSON");
    m["responder"] = "/nonexistent/iut {listen_port}".into();
    m["initiator"] = "/nonexistent/iut {target_port}".into();
    m.as_object_mut().expect("object").remove("$schema");
    let dir = std::env::temp_dir().join(format!("handshake-mutants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let manifest = dir.join("absent.json");
    std::fs::write(&manifest, m.to_string()).expect("write manifest");
    let mut out = Vec::new();
    let argv = [
        "harness",
        "mutants",
        &library(),
        "--iut",
        manifest.to_str().expect("path"),
        "--mutant",
        "media-before-ack",
    ];
    let code = cli::run(
        &handshake_harness::families::REGISTRY,
        Cli::try_parse_from(argv).expect("args"),
        &mut out,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "{}", String::from_utf8_lossy(&out));
}
