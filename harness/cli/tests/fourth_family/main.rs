//! A fourth family that lives only in this test: a toy echo protocol over UDP ([`echo`]), written
//! against the seam alone. It proves that a family is its own folder plus one registry line (the
//! `families!` below, the binary's own macro): its scenarios load and validate, run against its
//! references in virtual time, are judged by its rules, and its references meet in an interop
//! matrix, through the same generic code as the three real families; and the command layer
//! (`harness run`, `interop`, `check`, `decisions`, `schema`, `scenarios list`) serves it end to
//! end.

mod echo;

use std::path::{Path, PathBuf};

use handshake_interop::{DynInterop, Interop, Request};
use handshake_scenario::runner::Plan;
use handshake_scenario::Verdict;

handshake_plugin::families!(static REGISTRY = [echo::Echo];);

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fourth_family")
}

/// Runs every scenario of the folder against `iut`: (scenario id, verdict, reasons).
fn run(iut: &str) -> Vec<(String, Verdict, Vec<String>)> {
    let files = handshake_scenario::runner::scenario_files(&[here().join("scenarios")])
        .expect("the scenarios folder");
    let scenarios = REGISTRY
        .families
        .load_all(&files)
        .expect("the echo scenarios load and validate");
    let plan = Plan {
        scenarios,
        iuts: vec![REGISTRY.families.parse_iut(iut).expect("an echo reference")],
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
    let err = REGISTRY
        .families
        .load(&path)
        .expect_err("an unknown key is refused");
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

/// Runs `harness ARGS…` over the echo registry: (exit code, what it wrote).
fn harness(args: &[&str]) -> (i32, String) {
    let mut out = Vec::new();
    let argv = std::iter::once("harness").chain(args.iter().copied());
    let code = handshake_harness::cli::run_args(&REGISTRY, argv, &mut out);
    (code, String::from_utf8_lossy(&out).into_owned())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("echo-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_commands_serve_it_end_to_end() {
    let scenarios = here().join("scenarios");
    let scenarios = scenarios.to_str().expect("utf-8 path");
    let report = scratch("run");
    let (code, text) = run_into(scenarios, "ref:echo", &report);
    assert_eq!(code, 0, "{text}");
    let results = std::fs::read_to_string(report.join("results.json")).expect("results.json");
    assert!(results.contains("echo.server.echoes"), "{results}");

    // The capture of the server scenario is judged by `harness check --protocol echo`: clean for
    // the reference, a violation for the wrong one's.
    let (code, text) = harness(&["check", "--protocol", "echo", &server_capture(&report)]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("verdict:"), "{text}");
    let shout = scratch("shout");
    let (code, text) = run_into(scenarios, "ref:shout", &shout);
    assert_eq!(code, 1, "{text}");
    let (code, text) = harness(&["check", "--protocol", "echo", &server_capture(&shout)]);
    assert_eq!(code, 1, "{text}");
    let _ = std::fs::remove_dir_all(shout);

    let matrix = here().join("echo-matrix.json");
    let interop = scratch("interop");
    let (code, text) = harness(&[
        "interop",
        "--matrix",
        matrix.to_str().expect("utf-8 path"),
        "--report",
        interop.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "{text}");

    let (code, text) = harness(&["decisions"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("E1"), "{text}");

    let (code, text) = harness(&["schema", "scenario"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\"echo\""), "{text}");

    // A library of its own (`--library DIR`, laid out as `vectors/`) lists its scenarios.
    let library = scratch("library");
    let own = library.join("scenarios/echo");
    std::fs::create_dir_all(&own).expect("library folder");
    for name in ["server_echoes.json", "client_completes.json"] {
        std::fs::copy(here().join("scenarios").join(name), own.join(name)).expect("copy");
    }
    let (code, text) = harness(&[
        "scenarios",
        "list",
        "--family",
        "echo",
        "--library",
        library.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("echo.client.completes"), "{text}");
    let _ = std::fs::remove_dir_all(library);

    let _ = std::fs::remove_dir_all(report);
    let _ = std::fs::remove_dir_all(interop);
}

/// `harness run SCENARIOS --iut IUT --report REPORT`.
fn run_into(scenarios: &str, iut: &str, report: &Path) -> (i32, String) {
    let report = report.to_str().expect("utf-8 path");
    harness(&["run", scenarios, "--iut", iut, "--report", report])
}

/// The capture a run wrote of the server scenario, under its report folder.
fn server_capture(report: &Path) -> String {
    let iut_folder = std::fs::read_dir(report)
        .expect("the run wrote its report")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a folder per IUT");
    std::fs::read_dir(iut_folder)
        .expect("the IUT's folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.to_string_lossy().contains("server") && p.extension().is_some_and(|x| x == "pcapng")
        })
        .expect("a capture of the server scenario")
        .to_string_lossy()
        .into_owned()
}
