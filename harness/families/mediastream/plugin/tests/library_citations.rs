//! The audit, kept: every expectation of the scenario library cites the fact or decision it rests
//! on (ids the loader validates), and what rests on one of this project's own profile decisions is
//! marked so (a `profile` scenario or an `expect.profile` block): a miss there is a deviation.

use std::path::{Path, PathBuf};

use handshake_scenario::format::Step;

fn library() -> Vec<PathBuf> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../vectors/scenarios/mediastream");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_expectation_cites_its_basis() {
    let mut missing = Vec::new();
    for path in library() {
        let s = handshake_mediastream::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for (i, step) in s.peer.steps.iter().enumerate() {
            let basis = match step {
                Step::Expect(e) => Some(&e.basis),
                Step::ExpectNone(e) => Some(&e.basis),
                _ => None,
            };
            if basis.is_some_and(Option::is_none) {
                missing.push(format!("{}: step {}", s.id, i + 1));
            }
        }
        let e = &s.expect;
        let f = &e.fields;
        let expects_something = f.negotiated_mode.is_some()
            || !f.metrics.is_empty()
            || !f.validation_errors.is_empty()
            || f.stream_complete.is_some()
            || !e.rules_hold.is_empty()
            || !e.rules_fire.is_empty();
        if expects_something && e.basis.is_none() {
            missing.push(format!("{}: expect", s.id));
        }
        if s.decisions.is_empty() {
            missing.push(format!("{}: decisions", s.id));
        }
    }
    assert!(
        missing.is_empty(),
        "expectations without a basis: {missing:#?}"
    );
}
