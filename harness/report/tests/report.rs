//! The report files `harness run --report DIR` writes.

use std::collections::BTreeMap;
use std::path::Path;

use handshake_report::{result_files, slug, write_reports};
use handshake_scenario::outcome::TranscriptLine;
use handshake_scenario::results::{ResultEntry, RunReport, Status, RESULTS_VERSION};
use handshake_scenario::{Observations, ScenarioOutcome, Verdict};
use quick_junit::{NonSuccessKind, TestCaseStatus};

/// A family's observations, as far as the reports care: fields flattened into the JSON, lines in
/// the text.
#[derive(Debug, serde::Serialize)]
struct Seen {
    negotiated_mode: Option<String>,
    iut_drops: BTreeMap<String, u64>,
}

impl Observations for Seen {
    fn render(&self, out: &mut String) {
        if let Some(m) = &self.negotiated_mode {
            out.push_str(&format!("negotiated mode: {m}\n"));
        }
    }
    fn facts(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

fn entry(
    scenario: &str,
    iut: &str,
    status: Status,
    reasons: &[&str],
    expected_failure: Option<&str>,
    repetition: u32,
) -> ResultEntry {
    let verdict = match status {
        Status::Pass | Status::Xpass | Status::Deviation => Verdict::Pass,
        Status::Fail | Status::Xfail => Verdict::Fail,
        Status::Unsupported => Verdict::Unsupported,
        Status::Error | Status::Interrupted => Verdict::Error,
    };
    ResultEntry {
        outcome: ScenarioOutcome {
            scenario: scenario.into(),
            title: format!("Title of {scenario}"),
            iut: iut.into(),
            verdict,
            reasons: reasons.iter().map(|s| s.to_string()).collect(),
            // The leading reasons that name a broken rule are the causes.
            causes: reasons
                .iter()
                .take_while(|r| r.starts_with("rule ") && r.contains(" broke"))
                .count(),
            first_violations: Vec::new(),
            deviations: Vec::new(),
            notes: Vec::new(),
            observed: std::sync::Arc::new(Seen {
                negotiated_mode: Some("three_way".into()),
                iut_drops: BTreeMap::from([("bad_cid".to_string(), 2)]),
            }),
            protocol: "demo",
            rules_fired: BTreeMap::new(),
            rules_on_harness_datagrams: Default::default(),
            not_observable: Vec::new(),
            timing: None,
            iut_unreachable: false,
            interrupted: false,
            transcript: vec![
                TranscriptLine {
                    at_ms: 0.0,
                    text: "-> SYN".into(),
                },
                TranscriptLine {
                    at_ms: 12.5,
                    text: "<- SYN-ACK".into(),
                },
            ],
            capture: if matches!(status, Status::Unsupported | Status::Error) {
                Vec::new()
            } else {
                format!("pcapng:{scenario}:{iut}:{repetition}").into_bytes()
            },
            traffic_bytes: 0,
            iut_units: Vec::new(),
        },
        status,
        expected_failure: expected_failure.map(String::from),
        repetition,
        seed: 41 + u64::from(repetition),
        duration_ms: 1250.0,
    }
}

const REF: &str = "ref:3way";
const OTHER: &str = "ref:3way+optimistic start";

fn sample() -> RunReport {
    RunReport {
        version: RESULTS_VERSION,
        seed: 42,
        partition: Some("1/2".into()),
        results: vec![
            entry("basic", REF, Status::Pass, &[], None, 1),
            entry("basic", OTHER, Status::Pass, &[], None, 1),
            entry(
                "loss",
                REF,
                Status::Fail,
                &[
                    "rule R3 broke twice, first at packet #4: seq 0 (rests on F3)",
                    "frames_dropped = 7, expected 0",
                ],
                None,
                1,
            ),
            entry("loss", REF, Status::Pass, &[], None, 2),
            entry(
                "loss",
                OTHER,
                Status::Xfail,
                &["stream complete = false, expected true"],
                Some("no retransmission yet"),
                1,
            ),
            entry(
                "reorder",
                REF,
                Status::Xpass,
                &[],
                Some("reordering bug #12"),
                1,
            ),
            entry(
                "reorder",
                OTHER,
                Status::Unsupported,
                &["IUT lacks feature `reorder`"],
                None,
                1,
            ),
            entry(
                "zz|pipe",
                REF,
                Status::Error,
                &["IUT would not start: exit 3"],
                None,
                1,
            ),
        ],
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "handshake-report-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn slugs() {
    assert_eq!(
        slug("ref:3way+optimistic start"),
        "ref_3way_optimistic_start"
    );
    assert_eq!(slug("ref:3way"), "ref_3way");
    assert_eq!(slug("a.b_c-D9"), "a.b_c-D9");
    assert_eq!(slug("../etc/passwd"), ".._etc_passwd");
    assert_eq!(slug(".."), "__");
    assert_eq!(slug(""), "_");
    assert_eq!(slug("é/x"), "__x");
    assert!(slug(&"x".repeat(1000)).len() <= 120);
}

#[test]
fn file_layout() {
    let dir = tmp("layout");
    let report = sample();
    let files = write_reports(&dir, &report).expect("write");
    let rel: Vec<String> = files
        .all()
        .iter()
        .map(|p| {
            p.strip_prefix(&dir)
                .expect("under dir")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        rel,
        [
            "ref_3way/basic.transcript.txt",
            "ref_3way_optimistic_start/basic.transcript.txt",
            "ref_3way/loss.transcript.txt",
            "ref_3way/loss.r2.transcript.txt",
            "ref_3way_optimistic_start/loss.transcript.txt",
            "ref_3way/reorder.transcript.txt",
            "ref_3way_optimistic_start/reorder.transcript.txt",
            "ref_3way/zz_pipe.transcript.txt",
            "ref_3way/basic.pcapng",
            "ref_3way_optimistic_start/basic.pcapng",
            "ref_3way/loss.pcapng",
            "ref_3way/loss.r2.pcapng",
            "ref_3way_optimistic_start/loss.pcapng",
            "ref_3way/reorder.pcapng",
            "junit.xml",
            "results.json",
            "summary.md",
        ]
    );
    for p in files.all() {
        assert!(p.is_file(), "{} missing", p.display());
    }
    // Empty captures (unsupported, error) are not written.
    assert!(!dir
        .join("ref_3way_optimistic_start/reorder.pcapng")
        .exists());
    assert!(!dir.join("ref_3way/zz_pipe.pcapng").exists());
    assert_eq!(
        std::fs::read(dir.join("ref_3way/loss.r2.pcapng")).expect("capture"),
        b"pcapng:loss:ref:3way:2"
    );
    assert_eq!(
        read(&dir.join("ref_3way/loss.transcript.txt")),
        report.results[2].outcome.render()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn colliding_names_get_distinct_files() {
    let report = RunReport {
        version: RESULTS_VERSION,
        seed: 1,
        partition: None,
        results: vec![
            entry("a/b", "x:y", Status::Pass, &[], None, 1),
            entry("a_b", "x:y", Status::Pass, &[], None, 1),
            entry("a/b", "x_y", Status::Pass, &[], None, 1),
            entry("A/B", "X_Y", Status::Pass, &[], None, 1),
            entry("s", "junit.xml", Status::Pass, &[], None, 1),
        ],
    };
    let layout = result_files(&report);
    let transcripts: Vec<&str> = layout.iter().map(|f| f.transcript.as_str()).collect();
    // IUT directories are assigned in name order: "X_Y" < "junit.xml" < "x:y" < "x_y".
    assert_eq!(
        transcripts,
        [
            "x_y-2/a_b.transcript.txt",
            "x_y-2/a_b-2.transcript.txt",
            "x_y-3/a_b.transcript.txt",
            "X_Y/A_B.transcript.txt",
            "junit.xml-2/s.transcript.txt"
        ]
    );
    let dir = tmp("collide");
    let files = write_reports(&dir, &report).expect("write");
    assert_eq!(files.transcripts.len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deterministic() {
    let (a, b) = (tmp("det-a"), tmp("det-b"));
    let fa = write_reports(&a, &sample()).expect("write a");
    let fb = write_reports(&b, &sample()).expect("write b");
    assert_eq!(fa.all().len(), fb.all().len());
    for (pa, pb) in fa.all().into_iter().zip(fb.all()) {
        assert_eq!(pa.strip_prefix(&a).ok(), pb.strip_prefix(&b).ok());
        assert_eq!(
            std::fs::read(pa).expect("a"),
            std::fs::read(pb).expect("b"),
            "{} differs",
            pa.display()
        );
    }
    // Writing again over the same directory gives the same bytes.
    let junit = std::fs::read(&fa.junit).expect("junit");
    write_reports(&a, &sample()).expect("rewrite");
    assert_eq!(std::fs::read(&fa.junit).expect("junit"), junit);
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn junit_elements() {
    let dir = tmp("junit");
    let files = write_reports(&dir, &sample()).expect("write");
    let xml = read(&files.junit);
    assert!(!xml.contains("timestamp"), "{xml}");
    assert!(!xml.contains("hostname"), "{xml}");
    let junit = quick_junit::Report::deserialize_from_str(&xml).expect("parse junit.xml");
    assert_eq!(junit.tests, 8);
    assert_eq!((junit.failures, junit.errors, junit.skipped), (2, 1, 2));
    let suites: Vec<&str> = junit.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, [REF, OTHER]);

    let case = |iut: &str, name: &str| {
        let suite = junit
            .test_suites
            .iter()
            .find(|s| s.name.as_str() == iut)
            .expect("suite");
        suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("no case {name} in {iut}"))
            .clone()
    };
    let message = |status: &TestCaseStatus| match status {
        TestCaseStatus::NonSuccess { message, .. } | TestCaseStatus::Skipped { message, .. } => {
            message.as_ref().map(|m| m.as_str().to_owned())
        }
        TestCaseStatus::Success { .. } => None,
    };

    let pass = case(REF, "basic");
    assert!(matches!(pass.status, TestCaseStatus::Success { .. }));
    assert_eq!(
        pass.classname.as_ref().map(|c| c.as_str()),
        Some("demo.ref_3way")
    );
    assert_eq!(pass.time, Some(std::time::Duration::from_millis(1250)));
    assert!(pass.system_out.is_none());
    assert!(pass
        .properties
        .iter()
        .any(|p| p.name.as_str() == "seed" && p.value.as_str() == "42"));
    assert_eq!(
        case(OTHER, "basic").classname.as_ref().map(|c| c.as_str()),
        Some("demo.ref_3way_optimistic_start")
    );

    let fail = case(REF, "loss");
    assert!(matches!(
        fail.status,
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            ..
        }
    ));
    assert_eq!(
        message(&fail.status).as_deref(),
        Some("rule R3 broke twice, first at packet #4: seq 0 (rests on F3); then: frames_dropped = 7, expected 0")
    );
    let out = fail
        .system_out
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    assert!(
        out.contains("<- SYN-ACK") && out.contains("verdict: fail"),
        "{out}"
    );
    // Cause first, then what followed, folded under it.
    assert!(
        out.contains("  because: rule R3 broke twice, first at packet #4: seq 0 (rests on F3)\n  then:\n    frames_dropped = 7, expected 0\n"),
        "{out}"
    );

    let rep2 = case(REF, "loss.r2");
    assert!(matches!(rep2.status, TestCaseStatus::Success { .. }));
    assert!(rep2
        .properties
        .iter()
        .any(|p| p.name.as_str() == "seed" && p.value.as_str() == "43"));

    let xfail = case(OTHER, "loss");
    assert!(matches!(xfail.status, TestCaseStatus::Skipped { .. }));
    assert_eq!(
        message(&xfail.status).as_deref(),
        Some("expected failure: no retransmission yet")
    );

    let xpass = case(REF, "reorder");
    assert!(matches!(
        xpass.status,
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            ..
        }
    ));
    assert_eq!(
        message(&xpass.status).as_deref(),
        Some("passed but expected to fail: reordering bug #12")
    );
    assert!(xpass.system_out.is_some());

    let unsupported = case(OTHER, "reorder");
    assert!(matches!(unsupported.status, TestCaseStatus::Skipped { .. }));
    assert_eq!(
        message(&unsupported.status).as_deref(),
        Some("unsupported: IUT lacks feature `reorder`")
    );
    assert!(unsupported.system_out.is_none());

    let error = case(REF, "zz|pipe");
    assert!(matches!(
        error.status,
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            ..
        }
    ));
    assert_eq!(
        message(&error.status).as_deref(),
        Some("IUT would not start: exit 3")
    );
    assert!(error.system_out.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn results_json_round_trips() {
    let dir = tmp("json");
    let report = sample();
    let files = write_reports(&dir, &report).expect("write");
    let v: serde_json::Value =
        serde_json::from_str(&read(&files.results_json)).expect("valid JSON");
    assert_eq!(v["version"], RESULTS_VERSION);
    assert_eq!(v["seed"], 42);
    assert_eq!(v["partition"], "1/2");
    let s = &v["summary"];
    assert_eq!(
        (
            &s["pass"],
            &s["fail"],
            &s["xfail"],
            &s["xpass"],
            &s["unsupported"],
            &s["error"],
            &s["total"],
            &s["passed"]
        ),
        (
            &3.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &8.into(),
            &false.into()
        )
    );
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 8);
    assert_eq!(results[2]["scenario"], "loss");
    assert_eq!(results[2]["iut"], REF);
    assert_eq!(results[2]["status"], "fail");
    assert_eq!(
        results[2]["reasons"][0],
        "rule R3 broke twice, first at packet #4: seq 0 (rests on F3)"
    );
    assert_eq!(results[2]["reasons"][1], "frames_dropped = 7, expected 0");
    assert_eq!(results[2]["causes"], 1);
    assert!(
        results[0].get("causes").is_none(),
        "no rule broke: no count"
    );
    assert_eq!(
        results[2]["files"]["transcript"],
        "ref_3way/loss.transcript.txt"
    );
    assert_eq!(results[2]["files"]["capture"], "ref_3way/loss.pcapng");
    assert_eq!(results[4]["expected_failure"], "no retransmission yet");
    assert_eq!(results[6]["files"]["capture"], serde_json::Value::Null);
    assert!(
        results[0].get("capture").is_none(),
        "capture bytes are not in the JSON"
    );

    // A passing run says so.
    let passing = RunReport {
        results: vec![
            entry("basic", REF, Status::Pass, &[], None, 1),
            entry("loss", REF, Status::Xfail, &["x"], Some("y"), 1),
        ],
        ..sample()
    };
    let v: serde_json::Value =
        serde_json::from_str(&handshake_report::results_json(&passing).expect("json"))
            .expect("valid");
    assert_eq!(v["summary"]["passed"], true);
    // Only unsupported: nothing ran, not passed.
    let nothing = RunReport {
        results: vec![entry(
            "reorder",
            OTHER,
            Status::Unsupported,
            &["no"],
            None,
            1,
        )],
        ..sample()
    };
    let v: serde_json::Value =
        serde_json::from_str(&handshake_report::results_json(&nothing).expect("json"))
            .expect("valid");
    assert_eq!(v["summary"]["passed"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn summary_markdown_tables() {
    let dir = tmp("md");
    let files = write_reports(&dir, &sample()).expect("write");
    let md = read(&files.summary_md);
    assert!(
        md.starts_with("# handshake-harness scenarios: \u{274c} failed\n"),
        "{md}"
    );
    assert!(md.contains("8 results (3 pass, 1 fail, 1 xfail, 1 xpass, 0 deviation, 1 unsupported, 1 error, 0 interrupted); seed 42; partition 1/2."), "{md}");
    // Counts per IUT.
    assert!(
        md.contains("| IUT | pass | fail | xfail | xpass | deviation | unsupported | error | interrupted |\n"),
        "{md}"
    );
    assert!(
        md.contains("| `ref:3way` | 2 | 1 | 0 | 1 | 0 | 0 | 1 | 0 |\n"),
        "{md}"
    );
    assert!(
        md.contains("| `ref:3way+optimistic start` | 1 | 0 | 1 | 0 | 0 | 1 | 0 | 0 |\n"),
        "{md}"
    );
    assert!(
        md.contains("| **total** | 3 | 1 | 1 | 1 | 0 | 1 | 1 | 0 |\n"),
        "{md}"
    );
    // Not passing, with the first reason and links.
    assert!(md.contains("| `loss` | `ref:3way` | \u{274c} fail | rule R3 broke twice, first at packet #4: seq 0 (rests on F3) | [transcript](ref_3way/loss.transcript.txt) \u{b7} [pcapng](ref_3way/loss.pcapng) |\n"), "{md}");
    assert!(md.contains("| `loss` | `ref:3way+optimistic start` | \u{2796} xfail | stream complete = false, expected true | [transcript](ref_3way_optimistic_start/loss.transcript.txt)"), "{md}");
    assert!(md.contains("| `reorder` | `ref:3way` | \u{26a0}\u{fe0f} xpass | passed but expected to fail: reordering bug #12 |"), "{md}");
    assert!(md.contains("| `reorder` | `ref:3way+optimistic start` | \u{23ed}\u{fe0f} unsupported | IUT lacks feature `reorder` | [transcript](ref_3way_optimistic_start/reorder.transcript.txt) |\n"), "{md}");
    assert!(md.contains("| `zz\\|pipe` | `ref:3way` | \u{1f4a5} error | IUT would not start: exit 3 | [transcript](ref_3way/zz_pipe.transcript.txt) |\n"), "{md}");
    assert!(
        !md.contains("| `basic` | `ref:3way` | \u{2705}"),
        "passing results are not in the failure table"
    );
    // The matrix: rows scenarios, columns IUTs (in name order), one mark per repetition.
    assert!(
        md.contains("| Scenario | Title | `ref:3way` | `ref:3way+optimistic start` |\n"),
        "{md}"
    );
    assert!(md.contains(
        "| `loss` | Title of loss | [\u{274c}](ref_3way/loss.transcript.txt)<sup>[pcap](ref_3way/loss.pcapng)</sup> [\u{2705}](ref_3way/loss.r2.transcript.txt)<sup>[pcap](ref_3way/loss.r2.pcapng)</sup> | [\u{2796}](ref_3way_optimistic_start/loss.transcript.txt)<sup>[pcap](ref_3way_optimistic_start/loss.pcapng)</sup> |\n"
    ), "{md}");
    assert!(md.contains("| `zz\\|pipe` | Title of zz\\|pipe | [\u{1f4a5}](ref_3way/zz_pipe.transcript.txt) |  |\n"), "{md}");
    assert!(md.contains("Legend: \u{2705} pass"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn summary_markdown_when_all_pass() {
    let report = RunReport {
        results: vec![entry("basic", REF, Status::Pass, &[], None, 1)],
        partition: None,
        ..sample()
    };
    let md = handshake_report::summary_markdown(&report);
    assert!(
        md.starts_with("# handshake-harness scenarios: \u{2705} passed\n"),
        "{md}"
    );
    assert!(md.contains("Every result passed."), "{md}");
    let empty = RunReport {
        results: vec![],
        ..sample()
    };
    let md = handshake_report::summary_markdown(&empty);
    assert!(md.contains("No results."), "{md}");
}

#[test]
fn odd_durations_do_not_panic() {
    let mut report = sample();
    report.results[0].duration_ms = f64::NAN;
    report.results[1].duration_ms = -5.0;
    report.results[2].duration_ms = f64::INFINITY;
    let xml = handshake_report::junit_xml(&report).expect("junit");
    let junit = quick_junit::Report::deserialize_from_str(&xml).expect("parse");
    assert_eq!(junit.tests, 8);
    handshake_report::results_json(&report).expect("json");
}
