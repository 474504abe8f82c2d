//! The media stream's interop matrices: the committed expected matrices hold for a run without
//! faults and for a run with the `lossy-handshake` fault profile; a cell that differs fails the run
//! and is marked; the report directory gets matrix.json, matrix.md, index.html and one pcapng per
//! cell; input errors are named. (The `harness interop` command line, with external programs, is
//! tested in the cli crate.)

use std::path::{Path, PathBuf};

use handshake_interop::output::{terminal, write_report};
use handshake_interop::peer::split_peers;
use handshake_interop::{execute, prepare, Outcome, Request};
use handshake_mediastream::MediaStream;

type Out = Outcome<MediaStream>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

fn args(faults: &str) -> Request {
    Request {
        initiators: Vec::new(),
        responders: Vec::new(),
        faults: faults.to_owned(),
        matrix: root().join("vectors/interop/mediastream-matrix.json"),
        expected: None,
        seed: 1,
        jobs: 2,
        tolerance: handshake_check::Tolerance::from_ms(50),
        strict_profile: false,
    }
}

fn run(args: &Request) -> Out {
    let plan = prepare::<MediaStream>(args).unwrap_or_else(|e| panic!("{e}"));
    execute(plan)
}

/// What `harness interop` does with a request: the terminal matrix (and the report directory);
/// exit 0 when every cell is as expected, 1 otherwise, 2 when the request cannot run.
fn run_cli(args: &Request, report: Option<&Path>) -> (i32, String) {
    let plan = match prepare::<MediaStream>(args) {
        Ok(p) => p,
        Err(e) => return (2, e.to_string()),
    };
    let outcome = execute(plan);
    if let Some(dir) = report {
        write_report(dir, &outcome).unwrap_or_else(|e| panic!("{e}"));
    }
    (i32::from(!outcome.passed()), terminal(&outcome))
}

fn differences(outcome: &Out) -> String {
    terminal(outcome)
}

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("handshake-interop-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn paths(outcome: &Out) -> Vec<(String, String, String, u64)> {
    outcome
        .cells
        .iter()
        .map(|c| {
            (
                outcome.plan.initiators[c.initiator].name.clone(),
                outcome.plan.responders[c.responder].name.clone(),
                c.seen.negotiated_mode.clone(),
                c.seen.frames_successful,
            )
        })
        .collect()
}

#[test]
fn the_committed_matrix_matches_a_run_without_faults() {
    let outcome = run(&args("none"));
    assert_eq!(outcome.cells.len(), 20, "4 initiators × 5 responders");
    assert!(outcome.plan.faults.faults.is_empty());
    assert!(outcome.passed(), "{}", differences(&outcome));
    for c in &outcome.cells {
        assert_eq!(c.status(), "as_expected", "{}", differences(&outcome));
        assert!(!c.capture.is_empty(), "every cell has a capture");
        assert!(c.violations.is_empty(), "clean link, clean captures");
    }
    let text = terminal(&outcome);
    assert!(
        text.contains("20 cells: 20 as expected, 0 differ"),
        "{text}"
    );
    assert!(!text.contains('✗'), "{text}");
}

#[test]
fn the_committed_lossy_handshake_matrix_matches_a_run_with_that_profile() {
    let clean = run(&args("none"));
    let lossy = run(&args("lossy-handshake"));
    assert_eq!(lossy.plan.faults.name, "lossy-handshake");
    assert_eq!(
        lossy.plan.faults.faults.len(),
        3,
        "first SYN, SYN-ACK and ACK"
    );
    assert!(lossy
        .plan
        .expected_path
        .ends_with("mediastream-matrix.lossy-handshake.json"));
    assert!(lossy.passed(), "{}", differences(&lossy));
    assert!(lossy.cells.iter().all(|c| c.status() == "as_expected"));
    // The profile's promise: every pair reaches the same path and delivers the same frames as
    // without faults.
    assert_eq!(paths(&lossy), paths(&clean));
    // And the faults did bite: a 3way pair needs the re-sends, so its media comes later, and its
    // capture carries the harness's drop notes.
    let ttfm = |o: &Out| {
        o.cells
            .iter()
            .find(|c| {
                o.plan.initiators[c.initiator].name == "ref:3way"
                    && o.plan.responders[c.responder].name == "ref:3way"
            })
            .and_then(|c| c.seen.time_to_first_media_ms)
            .unwrap_or_default()
    };
    assert!(
        ttfm(&lossy) > ttfm(&clean) + 1000.0,
        "{} vs {}",
        ttfm(&lossy),
        ttfm(&clean)
    );
    let dropped = lossy
        .cells
        .iter()
        .filter(|c| String::from_utf8_lossy(&c.capture).contains("dropped by harness"))
        .count();
    assert!(dropped >= 10, "only {dropped} captures show a harness drop");
}

#[test]
fn the_expected_matrix_for_lossy_handshake_differs_from_the_clean_one_only_where_said() {
    // Run the lossy profile against the clean expectations: only the udp_push × 3-way cells fail
    // differently (same path, another failure), which is why the profile has its own file.
    let mut a = args("lossy-handshake");
    a.expected = Some(root().join("vectors/interop/mediastream-matrix.json"));
    let outcome = run(&a);
    let differing: Vec<(String, String)> = outcome
        .differing()
        .map(|c| {
            (
                outcome.plan.initiators[c.initiator].name.clone(),
                outcome.plan.responders[c.responder].name.clone(),
            )
        })
        .collect();
    assert_eq!(
        differing,
        vec![
            ("ref:udp_push".to_owned(), "ref:3way".to_owned()),
            ("ref:udp_push".to_owned(), "ref:3way+optimistic".to_owned())
        ],
        "{}",
        differences(&outcome)
    );
    for c in outcome.differing() {
        let m = c.mismatch.as_deref().unwrap_or_default();
        assert!(m.starts_with("failure `nothing arrived"), "{m}");
    }
}

#[test]
fn a_cell_that_differs_fails_the_run_and_is_marked() {
    let dir = scratch("differs");
    let text = std::fs::read_to_string(root().join("vectors/interop/mediastream-matrix.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    // Claim legacy × 3way would take the legacy path.
    for cell in json["cells"].as_array_mut().into_iter().flatten() {
        if cell["initiator"] == "legacy" && cell["responder"] == "3way" {
            cell["negotiated_mode"] = "legacy".into();
            cell["frames_successful"] = 100.into();
            cell["failure_contains"] = serde_json::Value::Null;
        }
    }
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, json.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let mut a = args("none");
    a.expected = Some(wrong);
    a.initiators = vec!["ref:legacy,ref:3way".into()];
    a.responders = vec!["ref:3way".into(), "ref:legacy".into()];
    let (code, text) = run_cli(&a, Some(&dir.join("report")));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("failed 0 ✗"), "{text}");
    assert!(
        text.contains("✗ ref:legacy × ref:3way: mode failed, expected legacy; 0 frames delivered, expected 100; unexpected failure"),
        "{text}"
    );
    assert!(text.contains("4 cells: 3 as expected, 1 differ"), "{text}");
    let md =
        std::fs::read_to_string(dir.join("report/matrix.md")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        md.contains("❌ [failed · 0](cells/legacy__3way.pcapng)"),
        "{md}"
    );
    let html =
        std::fs::read_to_string(dir.join("report/index.html")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        html.contains("class=\"cell p-failed differs\""),
        "differing cell outlined"
    );
}

#[test]
fn the_report_has_json_markdown_html_and_a_capture_per_cell() {
    let dir = scratch("report");
    let a = args("lossy-handshake");
    let (code, text) = run_cli(&a, Some(&dir));
    assert_eq!(code, 0, "{text}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("matrix.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["version"], 1);
    assert_eq!(json["faults"]["name"], "lossy-handshake");
    assert_eq!(json["summary"]["cells"], 20);
    assert_eq!(json["summary"]["as_expected"], 20);
    assert_eq!(json["summary"]["passed"], true);
    let cells = json["cells"].as_array().cloned().unwrap_or_default();
    assert_eq!(cells.len(), 20);
    for cell in &cells {
        let capture = cell["capture"].as_str().unwrap_or_default();
        assert!(
            capture.starts_with("cells/") && capture.ends_with(".pcapng"),
            "{cell}"
        );
        let bytes = std::fs::read(dir.join(capture)).unwrap_or_else(|e| panic!("{capture}: {e}"));
        assert!(
            handshake_capture::open(&bytes).is_ok(),
            "{capture} is a capture"
        );
        assert_eq!(
            cell["checker"]["rules_fired"],
            serde_json::json!([]),
            "{cell}"
        );
        assert!(cell["expected"]["why"].is_string(), "{cell}");
    }
    let three_way = cells
        .iter()
        .find(|c| c["initiator"] == "ref:3way" && c["responder"] == "ref:3way")
        .cloned()
        .unwrap_or_default();
    assert_eq!(three_way["negotiated_mode"], "3way");
    assert_eq!(three_way["capture"], "cells/3way__3way.pcapng");
    assert!(
        three_way["time_to_first_media_ms"]
            .as_f64()
            .unwrap_or_default()
            > 1000.0
    );
    let md = std::fs::read_to_string(dir.join("matrix.md")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        md.starts_with("# handshake-harness interop matrix: ✅"),
        "{md}"
    );
    assert!(
        md.contains("[legacy-fallback · 100](cells/3way_fallback__legacy.pcapng)"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(html.matches("<svg class=\"ladder\"").count(), 20);
    assert!(
        html.contains("href=\"cells/3way_optimistic__3way.pcapng\"")
            || html.contains("href=\"cells/3way__3way_optimistic.pcapng\"")
    );
    // Same inputs, same bytes.
    assert_eq!(run_cli(&a, Some(&dir.join("again"))).0, 0);
    for f in ["matrix.md", "index.html", "cells/3way__3way.pcapng"] {
        assert_eq!(
            std::fs::read(dir.join(f)).ok(),
            std::fs::read(dir.join("again").join(f)).ok(),
            "{f} is deterministic"
        );
    }
}

#[test]
fn a_mutant_is_compared_with_its_base_profile_and_caught_by_path_or_checker() {
    let a = Request {
        initiators: vec!["ref:3way".into()],
        responders: vec!["ref:3way!media-before-ack,ref:3way!no-syn-ack-retransmit".into()],
        ..args("lossy-handshake")
    };
    let outcome = run(&a);
    let text = differences(&outcome);
    assert!(!outcome.passed(), "{text}");
    // Same path and frames as 3way, but the checker's verdict on the capture differs.
    assert!(
        text.contains("✗ ref:3way × ref:3way!media-before-ack: checker rules fired: mediastream.3way.no_media_before_ack, expected none"),
        "{text}"
    );
    // Without SYN-ACK re-sends the lost SYN-ACK is never replaced: another path.
    assert!(
        text.contains("✗ ref:3way × ref:3way!no-syn-ack-retransmit: mode failed, expected 3way"),
        "{text}"
    );
    assert_eq!(run_cli(&a, None).0, 1);
}

#[test]
fn usage_and_input_errors_exit_2() {
    let cases: Vec<(Request, &str)> = vec![
        (
            Request {
                initiators: vec!["ref:4way".into()],
                ..args("none")
            },
            "unknown profile",
        ),
        (
            Request {
                initiators: vec!["cmd:prog --profile 3way".into()],
                ..args("none")
            },
            "names no address: an initiator command takes {target}",
        ),
        (
            Request {
                responders: vec!["vectors/no-such-manifest.json@3way".into()],
                ..args("none")
            },
            "no-such-manifest.json",
        ),
        (
            Request {
                responders: vec!["cmd:prog --target {target}".into()],
                ..args("none")
            },
            "names {listen}",
        ),
        (
            args("no-such-profile"),
            "does not exist (known: lossy-handshake, none)",
        ),
        (
            Request {
                initiators: vec!["ref:3way,ref:3way".into()],
                ..args("none")
            },
            "listed twice",
        ),
    ];
    for (a, want) in cases {
        let (code, e) = run_cli(&a, None);
        assert!(e.contains(want), "`{e}` should contain `{want}`");
        assert_eq!(code, 2);
    }
    // A fault profile without an expected matrix.
    let dir = scratch("no-expected");
    std::fs::create_dir_all(dir.join("faults")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        root().join("vectors/interop/mediastream-matrix.json"),
        dir.join("m.json"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("faults/dup.json"),
        r#"[{"kind": "data", "action": {"duplicate": {"copies": 1, "spacing_ms": 0}}}]"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let a = Request {
        matrix: dir.join("m.json"),
        ..args("dup")
    };
    let e = run_cli(&a, None).1;
    assert!(
        e.contains("no expected matrix for fault profile `dup`") && e.contains("m.dup.json"),
        "{e}"
    );
    // A bad fault kind names the file.
    std::fs::write(
        dir.join("faults/bad.json"),
        r#"{"description": "x", "faults": [{"kind": "synack", "action": "drop"}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = run_cli(
        &Request {
            matrix: dir.join("m.json"),
            ..args("bad")
        },
        None,
    )
    .1;
    assert!(
        e.contains("bad.json") && e.contains("faults[0].kind `synack`"),
        "{e}"
    );
}

#[test]
fn peer_lists_split_on_commas_between_peers_only() {
    assert_eq!(
        split_peers::<MediaStream>(&["ref:legacy, ref:3way+fallback".into(), "3way".into()]),
        vec!["ref:legacy", "ref:3way+fallback", "3way"]
    );
    assert_eq!(
        split_peers::<MediaStream>(&["cmd:prog --list a,b {target},ref:3way".into()]),
        vec!["cmd:prog --list a,b {target}", "ref:3way"]
    );
}

/// Push under lossy-handshake: a lost ACK costs no media (D15), every cell as on a clean link.
#[test]
fn the_push_lossy_handshake_matrix_matches_a_run() {
    let mut a = args("lossy-handshake");
    a.matrix = root().join("vectors/interop/mediastream-matrix.push.json");
    let lossy = run(&a);
    assert!(lossy
        .plan
        .expected_path
        .ends_with("mediastream-matrix.push.lossy-handshake.json"));
    assert!(lossy.passed(), "{}", differences(&lossy));
}

/// The manifests of the two independent media-stream programs: ours (written from the facts and
/// our notes) and the stranger's (from the facts alone).
fn programs() -> (String, String) {
    let m = |p: &str| root().join(p).display().to_string();
    (
        m("vectors/iut/python-mediastream.json"),
        m("vectors/iut/strangers/mediastream.json"),
    )
}

/// Two programs meet through the harness: one row and one column of each kind of peer, every
/// cell as the profiles they are declared as predict, one capture per side of a program pair.
#[test]
fn two_programs_meet_through_the_harness() {
    let (ours, theirs) = programs();
    let a = Request {
        initiators: vec![format!("{ours}@3way+fallback_to_legacy,ref:legacy")],
        responders: vec![format!("{theirs}@legacy,{theirs}@3way+allow_legacy_start")],
        ..args("none")
    };
    let dir = scratch("programs");
    let (code, text) = run_cli(&a, Some(&dir));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("legacy-fallback 100"), "{text}");
    assert!(text.contains("4 cells: 4 as expected"), "{text}");
    let cells = dir.join("cells");
    let name = "python-mediastream_3way_fallback_to_legacy__stranger-mediastream_legacy";
    for f in [format!("{name}.pcapng"), format!("{name}.responder.pcapng")] {
        let bytes = std::fs::read(cells.join(&f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(bytes.len() > 1000, "{f}: {} bytes", bytes.len());
    }
}

/// A responder that never listens, and an initiator that never speaks, are named as such.
#[test]
fn a_pair_that_cannot_meet_says_why() {
    let (ours, _) = programs();
    // Told the matrix's stream (a command that could not be told would not be run at all).
    let wait = "python3 -c 'import time; time.sleep(30)' {bits_per_second} {frame_rate} {stream_length} {buffer_depth} {datagram_byte_size}";
    let a = Request {
        initiators: vec![format!("cmd@3way:{wait} {{target}}")],
        responders: vec![format!("{ours}@3way")],
        ..args("none")
    };
    let (code, text) = run_cli(&a, None);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("the initiator: it sent nothing within")
            && text.contains("wait for the other"),
        "{text}"
    );
    let a = Request {
        initiators: vec![format!("{ours}@3way")],
        responders: vec![format!("cmd@3way:{wait} {{listen}}")],
        ..args("none")
    };
    let (code, text) = run_cli(&a, None);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("the responder: it was not ready (listening on"),
        "{text}"
    );
}
