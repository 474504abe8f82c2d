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
        cli::run(Cli::try_parse_from(argv).expect("args"), &mut out),
        2
    );
}

#[test]
fn coverage_has_no_gaps() {
    let mut out = Vec::new();
    let code = cli::run(
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
