//! The interop matrix in virtual time: every initiator × responder cell must show exactly the outcome
//! the committed data file (vectors/interop/mediastream-matrix.json) says, and why.

use std::path::PathBuf;

use handshake_harness::matrix;
use handshake_net::LinkConfig;

fn matrix_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors/interop/mediastream-matrix.json")
}

#[test]
fn every_cell_matches_the_expected_matrix() {
    let file = matrix::load(&matrix_file()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.cells.len(), 20, "4 initiators × 5 responders");
    let results = matrix::run(&file, &LinkConfig::with_seed(1)).expect("runs");
    let bad: Vec<String> = results
        .iter()
        .filter_map(|c| {
            c.mismatch
                .as_ref()
                .map(|m| format!("{} × {}: {m}", c.initiator, c.responder))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "cells differ from the expected matrix:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_matrix_is_deterministic() {
    let file = matrix::load(&matrix_file()).unwrap_or_else(|e| panic!("{e}"));
    let a = matrix::run(&file, &LinkConfig::with_seed(5)).expect("runs");
    let b = matrix::run(&file, &LinkConfig::with_seed(5)).expect("runs");
    assert_eq!(a, b);
}

/// The push direction: the committed matrices (clean and lossy-handshake) match a run, cell by cell.
#[test]
fn the_push_matrices_match_a_run() {
    let clean = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/interop/mediastream-matrix.push.json");
    let file = matrix::load(&clean).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.cells.len(), 9, "3 initiators × 3 responders");
    assert_eq!(
        file.stream.direction,
        handshake_mediastream_endpoint::Direction::Push
    );
    let results = matrix::run(&file, &LinkConfig::with_seed(1)).expect("runs");
    let bad: Vec<String> = results
        .iter()
        .filter_map(|c| {
            c.mismatch
                .as_ref()
                .map(|m| format!("{} × {}: {m}", c.initiator, c.responder))
        })
        .collect();
    assert!(bad.is_empty(), "push cells differ:\n{}", bad.join("\n"));
}
