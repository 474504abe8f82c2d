//! The audit, kept: every expectation of the scenario library cites the fact or decision it rests
//! on (ids the loader validates), and what rests on one of this project's own profile decisions is
//! marked so (a `profile` scenario, an `expect.profile` block, a step whose basis cites it): a miss
//! there is a deviation.

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

/// A step's miss is what its basis makes it, but the outcome fields at the top of `expect` fail on
/// a miss whatever `expect.basis` says: they must rest on facts only. What rests on one of this
/// project's profile decisions is in `expect.profile` (a deviation), unless the whole scenario is
/// a `profile` one; a count of a kind only a profile decision names (D4.triggers, D6.no_media_before_ack,
/// D8.option, D11.kinds, D14.tlv, a later SYN-ACK's id) is one of those.
#[test]
fn top_level_outcomes_rest_on_facts() {
    use handshake_scenario::format::Bound;
    use handshake_scenario::Class;
    const KINDS_OF_PROFILE_DECISIONS: &[&str] = &[
        "bad_version",
        "unexpected_kind",
        "mismatched_connection_id",
        "session_limit",
        "bad_options",
        "media_before_session",
        "unknown_session",
    ];
    let table = &handshake_mediastream::citations::CITATIONS;
    let mut wrong = Vec::new();
    for path in library() {
        let s = handshake_mediastream::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if let Some(b) = s
            .expect
            .profile
            .as_ref()
            .and_then(|p| p.expect.basis.as_deref())
        {
            for id in handshake_scenario::citations::ids(b) {
                if table.find(id).is_none() {
                    wrong.push(format!(
                        "{}: expect.profile basis cites unknown `{id}`",
                        s.id
                    ));
                }
            }
        }
        if s.profile.is_some() {
            continue;
        }
        let f = &s.expect.fields;
        let fields = f.negotiated_mode.is_some()
            || !f.metrics.is_empty()
            || !f.validation_errors.is_empty()
            || f.stream_complete.is_some();
        if let (true, Some(basis)) = (fields, s.expect.basis.as_deref()) {
            for id in handshake_scenario::citations::ids(basis) {
                if table.class(id) == Some(Class::Profile) {
                    wrong.push(format!(
                        "{}: expect.basis cites the profile decision `{id}` beside fields that fail on a miss",
                        s.id
                    ));
                }
            }
        }
        for (kind, bound) in &f.validation_errors {
            if KINDS_OF_PROFILE_DECISIONS.contains(&kind.as_str())
                && !matches!(bound, Bound::Exactly(0))
            {
                wrong.push(format!(
                    "{}: a count of `{kind}` rests on a profile decision: put it in expect.profile",
                    s.id
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
