//! The interop matrices in virtual time: every initiator × responder cell must show exactly the
//! outcome the committed data files (vectors/interop/mediastream-matrix*.json) say, and why.

use std::path::PathBuf;

use handshake_interop::{execute, prepare, Outcome, Request};
use handshake_mediastream::MediaStream;

fn vectors(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../vectors/interop")
        .join(file)
}

fn run(file: &str, faults: &str, seed: u64) -> Outcome<MediaStream> {
    let plan = prepare::<MediaStream>(&Request {
        initiators: Vec::new(),
        responders: Vec::new(),
        faults: faults.into(),
        matrix: vectors(file),
        expected: None,
        seed,
        jobs: 2,
        tolerance: handshake_check::Tolerance::from_ms(50),
        strict_profile: false,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    execute(plan)
}

fn differing(outcome: &Outcome<MediaStream>) -> Vec<String> {
    outcome
        .differing()
        .map(|c| {
            format!(
                "{} × {}: {}",
                outcome.plan.initiators[c.initiator].name,
                outcome.plan.responders[c.responder].name,
                c.mismatch.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn every_cell_matches_the_expected_matrix() {
    let outcome = run("mediastream-matrix.json", "none", 1);
    assert_eq!(outcome.cells.len(), 20, "4 initiators × 5 responders");
    let bad = differing(&outcome);
    assert!(
        bad.is_empty(),
        "cells differ from the expected matrix:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_matrix_is_deterministic() {
    let a = run("mediastream-matrix.json", "none", 5);
    let b = run("mediastream-matrix.json", "none", 5);
    assert_eq!(
        handshake_interop::output::matrix_json(&a),
        handshake_interop::output::matrix_json(&b)
    );
}

/// The push direction: the committed matrices (clean and lossy-handshake) match a run, cell by cell.
#[test]
fn the_push_matrices_match_a_run() {
    for faults in ["none", "lossy-handshake"] {
        let outcome = run("mediastream-matrix.push.json", faults, 1);
        assert_eq!(outcome.cells.len(), 9, "3 initiators × 3 responders");
        assert_eq!(
            outcome.plan.expected.setup.stream.direction,
            handshake_mediastream_endpoint::Direction::Push
        );
        let bad = differing(&outcome);
        assert!(
            bad.is_empty(),
            "push cells differ ({faults}):\n{}",
            bad.join("\n")
        );
    }
}
