//! The scenario library against every reference profile: `ref:3way` passes (or reports unsupported),
//! and every other profile fails exactly where its expectations file says — an expected failure that
//! passes (xpass) or an unexpected failure fails this test.

use std::path::PathBuf;

use clap::Parser;
use handshake_harness::cli::{self, Cli};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn library_meets_every_reference_profiles_expectations() {
    let expectations: Vec<PathBuf> = std::fs::read_dir(root().join("vectors/expectations"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    let mut argv: Vec<String> = vec![
        "harness".into(),
        "run".into(),
        root()
            .join("vectors/scenarios/mediastream")
            .display()
            .to_string(),
    ];
    for iut in [
        "ref:3way",
        "ref:3way+allow_legacy_start",
        "ref:3way+optimistic_start",
        "ref:3way+fallback_to_legacy",
        "ref:legacy",
        "ref:udp_push",
    ] {
        argv.extend(["--iut".into(), iut.into()]);
    }
    for e in &expectations {
        argv.extend(["--expectations".into(), e.display().to_string()]);
    }
    let mut out = Vec::new();
    let code = cli::run(
        &handshake_harness::families::REGISTRY,
        Cli::try_parse_from(&argv).expect("arguments"),
        &mut out,
    );
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{text}");
    // The known failures are counted apart, not as passes.
    assert!(text.contains(" failed as expected, 0 failed\n"), "{text}");
}

#[test]
fn at_least_forty_scenarios_cover_the_named_cases() {
    let dir = root().join("vectors/scenarios/mediastream");
    let files = handshake_scenario::runner::scenario_files(&[dir]).expect("scenario files");
    assert!(files.len() >= 40, "{} scenarios", files.len());
    let scenarios: Vec<_> = files
        .iter()
        .map(|f| {
            handshake_harness::families::REGISTRY
                .families
                .load(f)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let users = scenarios
        .iter()
        .filter(|s| s.tags().iter().any(|t| t == "users"))
        .count();
    assert!(
        users >= 4,
        "the four cases named by the users are tagged `users`: {users}"
    );
    for role in [
        handshake_scenario::Role::Initiator,
        handshake_scenario::Role::Responder,
    ] {
        assert!(
            scenarios.iter().filter(|s| s.role() == role).count() >= 10,
            "{role:?}"
        );
    }
}

#[test]
fn malformed_scenarios_are_located_and_exit_2() {
    let scratch = tempfile::tempdir().expect("scratch directory");
    let dir = scratch.path();
    let path = dir.join("bad.json");
    std::fs::write(&path, "{\n  \"id\": \"x\",\n  \"title\": \"t\",\n  \"protocol\": \"mediastream\",\n  \"iut\": {\"role\": \"responder\"},\n  \"peer\": {\"steps\": [{\"sned\": {}}]}\n}\n").expect("write");
    let err = handshake_harness::families::REGISTRY
        .families
        .load(&path)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("bad.json:6:"), "{err}");
    assert!(
        err.contains("unknown variant `sned` (did you mean `send`?)"),
        "{err}"
    );
    let argv = [
        "harness",
        "run",
        path.to_str().expect("utf8"),
        "--iut",
        "ref:3way",
    ];
    let mut out = Vec::new();
    assert_eq!(
        cli::run(
            &handshake_harness::families::REGISTRY,
            Cli::try_parse_from(argv).expect("args"),
            &mut out
        ),
        2
    );
    let argv = [
        "harness",
        "run",
        path.to_str().expect("utf8"),
        "--iut",
        "ref:3way",
        "--filter",
        "nothing-matches",
    ];
    let _ = std::fs::write(
        &path,
        std::fs::read_to_string(
            root().join("vectors/scenarios/mediastream/responder_happy_3way.json"),
        )
        .expect("read"),
    );
    assert_eq!(
        cli::run(
            &handshake_harness::families::REGISTRY,
            Cli::try_parse_from(argv).expect("args"),
            &mut out
        ),
        3,
        "no scenario selected"
    );
    let argv = [
        "harness",
        "run",
        path.to_str().expect("utf8"),
        "--iut",
        "ref:legacy",
    ];
    assert_eq!(
        cli::run(
            &handshake_harness::families::REGISTRY,
            Cli::try_parse_from(argv).expect("args"),
            &mut out
        ),
        3,
        "only unsupported: nothing tested"
    );
}
