//! A fourth family that lives only in this test: a toy echo protocol over UDP ([`echo`]), written
//! against the seam alone. It proves that a family is its own folder plus one registry line (the
//! `FAMILIES` below): its scenarios load and validate, run against its references in virtual time,
//! are judged by its rules, and its references meet in an interop matrix, through the same generic
//! code as the three real families.

mod echo;

use std::path::{Path, PathBuf};

use handshake_interop::{DynInterop, Interop, Request};
use handshake_scenario::runner::Plan;
use handshake_scenario::{Families, Registered, Verdict};

static ECHO: Registered<echo::Echo> = Registered::new();
/// The registry line.
static FAMILIES: Families = Families(&[&ECHO]);

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fourth_family")
}

/// Runs every scenario of the folder against `iut`: (scenario id, verdict, reasons).
fn run(iut: &str) -> Vec<(String, Verdict, Vec<String>)> {
    let files = handshake_scenario::runner::scenario_files(&[here().join("scenarios")])
        .expect("the scenarios folder");
    let scenarios = FAMILIES
        .load_all(&files)
        .expect("the echo scenarios load and validate");
    let plan = Plan {
        scenarios,
        iuts: vec![FAMILIES.parse_iut(iut).expect("an echo reference")],
        seed: None,
        repeat: 1,
        partition: None,
        jobs: 1,
        expectations: Default::default(),
        strict_profile: false,
        shortest_first: false,
    };
    plan.run(|_, _| {})
        .results
        .into_iter()
        .map(|r| (r.outcome.scenario, r.outcome.verdict, r.outcome.reasons))
        .collect()
}

#[test]
fn its_scenarios_pass_its_reference() {
    let results = run("ref:echo");
    assert_eq!(results.len(), 2);
    for (id, verdict, reasons) in results {
        assert_eq!(verdict, Verdict::Pass, "{id}: {reasons:?}");
    }
}

#[test]
fn its_rules_catch_its_mutant() {
    let results = run("ref:shout");
    let server = results
        .iter()
        .find(|(id, ..)| id == "echo.server.echoes")
        .expect("the server scenario ran");
    assert_eq!(server.1, Verdict::Fail, "{:?}", server.2);
    assert!(
        server.2.iter().any(|r| r.contains("echo.reply.same_text")),
        "the rule names the bug: {:?}",
        server.2
    );
}

#[test]
fn a_bad_scenario_is_refused_with_its_place() {
    let dir = std::env::temp_dir().join(format!("echo-family-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.json");
    let text = std::fs::read_to_string(here().join("scenarios/server_echoes.json"))
        .expect("scenario")
        .replace("\"seq\": 2, \"text\"", "\"seq\": 2, \"txet\"");
    std::fs::write(&path, text).expect("write");
    let err = FAMILIES.load(&path).expect_err("an unknown key is refused");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.to_string().contains("bad.json:"), "{err}");
}

#[test]
fn its_references_meet_in_an_interop_matrix() {
    let matrix = here().join("echo-matrix.json");
    let request = Request {
        initiators: Vec::new(),
        responders: Vec::new(),
        faults: "none".into(),
        matrix: matrix.clone(),
        expected: Some(matrix),
        seed: 1,
        jobs: 1,
        tolerance: handshake_check::Tolerance::DEFAULT,
        strict_profile: false,
    };
    let outcome = Interop::<echo::Echo>::new()
        .run(&request)
        .unwrap_or_else(|e| panic!("the matrix runs: {e}"));
    assert!(outcome.passed(), "{}", outcome.terminal());
    assert!(
        outcome.terminal().contains("failed"),
        "{}",
        outcome.terminal()
    );
}
