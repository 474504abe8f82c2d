//! Bad input never hurts the harness: every hole found by trying gets a clear error and exit 2 (or,
//! for Ctrl-C, a report of what finished and exit 130), and nothing is lost. Each test feeds the
//! real binary what a user would and asserts the exit code and the message.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh directory for one test, removed with the returned guard.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("scratch directory: {e}"))
}

fn harness(args: &[&str]) -> Output {
    Command::new(HARNESS)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {HARNESS}: {e}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scenario file: the library's happy responder case with `patch` applied to its text.
fn scenario_with(dir: &Path, name: &str, from: &str, to: &str) -> String {
    let base = std::fs::read_to_string(
        root().join("vectors/scenarios/mediastream/responder_scripted_handshake.json"),
    )
    .expect("library scenario");
    assert!(base.contains(from), "{from} in the base scenario");
    let path = dir.join(name);
    std::fs::write(&path, base.replacen(from, to, 1)).expect("write");
    path.display().to_string()
}

fn run_one(scenario: &str) -> Output {
    harness(&["run", scenario, "--iut", "ref:3way"])
}

#[rstest]
#[case::times_beyond_limit(
    r#"{ "send": { "datagram": { "syn": {} } } }"#,
    r#"{ "send": { "datagram": { "syn": {} }, "times": 4294967295 } }"#,
    "times is 4294967295, at most 10000 is allowed"
)]
#[case::unknown_kind(r#""kind": "syn_ack""#, r#""kind": "synack""#, "unknown kind `synack`")]
#[case::unknown_where_key(
    r#""where": { "accept": true }"#,
    r#""where": { "acept": true }"#,
    "`acept` is not a field of a decoded syn_ack"
)]
#[case::unknown_mode(
    r#""negotiated_mode": "3way""#,
    r#""negotiated_mode": "three-way""#,
    "unknown negotiated mode `three-way`"
)]
#[case::unknown_rule(
    r#""rules_hold": ["all"]"#,
    r#""rules_hold": ["3way.orderr"]"#,
    "unknown checker rule `3way.orderr`"
)]
#[case::unbound_variable(
    r#"{ "send": { "datagram": { "ack": { "id": "$assigned_id" } } } }"#,
    r#"{ "send": { "datagram": { "ack": { "id": "$asigned_id" } } } }"#,
    "variable `$asigned_id` is used before any expect captures it"
)]
#[case::huge_bit_rate(
    r#""tags": ["#,
    r#""stream": { "bits_per_second": 18446744073709551615 }, "tags": ["#,
    "over the limit of 16777216"
)]
#[case::unknown_citation(
    r#""decisions": ["D1""#,
    r#""decisions": ["D99""#,
    "`D99` is not a fact or decision id"
)]
fn a_scenario_mistake_is_located_and_refused(
    #[case] from: &str,
    #[case] to: &str,
    #[case] message: &str,
) {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    let path = scenario_with(&dir, "bad.json", from, to);
    let started = Instant::now();
    let o = run_one(&path);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(message), "{err}");
    // file:line:column in front of the message.
    assert!(err.contains(&format!("{path}:")), "{err}");
    let located = err
        .lines()
        .find(|l| l.contains(message))
        .and_then(|l| {
            l.strip_prefix(&format!("error: {path}:"))
                .or_else(|| l.strip_prefix(&format!("{path}:")))
        })
        .map(|rest| {
            rest.split(':')
                .take(2)
                .all(|n| n.trim().parse::<usize>().is_ok())
        });
    assert_eq!(located, Some(true), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused at once"
    );
}

#[test]
fn every_bad_file_is_reported_and_duplicate_ids_name_both_files() {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    let a = scenario_with(
        &dir,
        "a.json",
        r#""kind": "syn_ack""#,
        r#""kind": "synack""#,
    );
    let b = scenario_with(
        &dir,
        "b.json",
        r#""negotiated_mode": "3way""#,
        r#""negotiated_mode": "x""#,
    );
    let c = scenario_with(&dir, "c.json", "\"title\"", "\"title\"");
    let d = scenario_with(&dir, "d.json", "\"title\"", "\"title\"");
    let o = harness(&[
        "run",
        dir.to_str().expect("utf-8 path"),
        "--iut",
        "ref:3way",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&a) && err.contains("unknown kind"), "{err}");
    assert!(
        err.contains(&b) && err.contains("unknown negotiated mode"),
        "{err}"
    );
    // c and d carry the same id: the message names both files.
    let dup = err
        .lines()
        .find(|l| l.contains("is already used by"))
        .unwrap_or_default();
    assert!(dup.contains(&c) || dup.contains(&d), "{err}");
    assert!(dup.contains(&c) && dup.contains(&d), "{err}");
    assert!(err.contains("3 files cannot be used"), "{err}");
}

#[test]
fn a_file_that_is_not_utf8_says_so_with_its_path() {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    let path = dir.join("latin1.json");
    std::fs::write(&path, b"{ \"id\": \"caf\xe9\" }").expect("write");
    let o = run_one(path.to_str().expect("utf-8 path"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&path.display().to_string()) && err.contains("not UTF-8"),
        "{err}"
    );
}

#[rstest]
#[case::zero_jobs(&["run", "--iut", "ref:3way", "--jobs", "0"], "--jobs")]
#[case::zero_repeat(&["run", "--iut", "ref:3way", "--repeat", "0"], "--repeat")]
#[case::zero_connections(&["peer", "initiator", "--connections", "0"], "--connections")]
#[case::zero_frame_rate(&["check", "pcaps/mediastream/clean_3way_scripted.pcapng", "--frame-rate", "0"], "--frame-rate")]
#[case::frame_rate_alone(&["check", "pcaps/mediastream/clean_3way_scripted.pcapng", "--frame-rate", "50"], "--frame-rate alone changes nothing")]
#[case::huge_bit_rate_peer(&["peer", "responder", "--listen", "127.0.0.1:0", "--bits-per-second", "18446744073709551615", "--duration", "1"], "over the limit of 16777216")]
#[case::tiny_datagram(&["check", "pcaps/mediastream/clean_3way_scripted.pcapng", "--datagram-byte-size", "10"], "--datagram-byte-size")]
fn zero_and_out_of_range_counts_are_refused(#[case] args: &[&str], #[case] message: &str) {
    let o = harness(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(message), "{err}");
}

#[test]
fn a_running_responder_that_is_not_there_is_reported_at_once() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let o = harness(&["run", "--iut-addr", &addr]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing is listening on UDP port"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn check_never_calls_a_damaged_or_empty_capture_clean() {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    // A capture cut in the middle of a packet.
    let whole =
        std::fs::read(root().join("pcaps/mediastream/clean_3way_scripted.pcapng")).expect("golden");
    let cut = dir.join("cut.pcapng");
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).expect("write");
    let o = harness(&["check", cut.to_str().expect("path")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.contains("verdict: clean"), "{out}");
    assert!(out.contains("verdict: incomplete"), "{out}");

    // A classic pcap of link type 105 (802.11): the link type is named.
    let mut pcap = Vec::new();
    pcap.extend(0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend(2u16.to_le_bytes());
    pcap.extend(4u16.to_le_bytes());
    pcap.extend([0u8; 8]);
    pcap.extend(65_535u32.to_le_bytes());
    pcap.extend(105u32.to_le_bytes());
    for _ in 0..3 {
        pcap.extend([0u8; 8]);
        pcap.extend(4u32.to_le_bytes());
        pcap.extend(4u32.to_le_bytes());
        pcap.extend([1, 2, 3, 4]);
    }
    let wifi = dir.join("wifi.pcap");
    std::fs::write(&wifi, &pcap).expect("write");
    let o = harness(&["check", wifi.to_str().expect("path")]);
    let err = stderr(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("LINKTYPE 105") && err.contains("802.11"),
        "{err}"
    );
    assert!(out.contains("verdict: nothing to judge"), "{out}");
}

#[test]
fn coverage_report_writes_its_files() {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().join("report");
    let o = harness(&["coverage", "--report", dir.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in ["coverage.json", "coverage.md"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(text.contains("D15"), "{f}");
    }
}

#[test]
fn a_report_directory_is_replaced_and_a_foreign_one_refused() {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    let report = dir.join("report");
    let library = root().join("vectors/scenarios/mediastream");
    let lib = library.to_str().expect("path");
    let r = report.to_str().expect("path");
    let o = harness(&[
        "run", lib, "--iut", "ref:3way", "--filter", "happy", "--report", r,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(report
        .join("ref_3way/ms.responder.happy_3way.pcapng")
        .is_file());
    // A second run with another selection leaves nothing of the first.
    let o = harness(&[
        "run",
        lib,
        "--iut",
        "ref:3way",
        "--filter",
        "lost_syn_ack",
        "--report",
        r,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!report
        .join("ref_3way/ms.responder.happy_3way.pcapng")
        .exists());
    assert!(report
        .join("ref_3way/ms.responder.lost_syn_ack.pcapng")
        .is_file());
    // A directory the harness did not write is not mixed into.
    let foreign = dir.join("mine");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "keep me").expect("write");
    let o = harness(&[
        "run",
        lib,
        "--iut",
        "ref:3way",
        "--filter",
        "happy",
        "--report",
        foreign.to_str().expect("path"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a report directory written by the harness"));
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt"))
            .ok()
            .as_deref(),
        Some("keep me")
    );
}

/// Ctrl-C during an external run: the results that finished are written (JUnit, JSON, Markdown,
/// HTML), each cut-short scenario is marked interrupted with its capture so far, exit 130, and no
/// IUT process is left.
#[test]
fn ctrl_c_keeps_what_finished() {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    let report = dir.join("report");
    let library = root().join("vectors/scenarios/mediastream");
    // The manifest of `harness peer`, with an environment mark to find exactly these IUTs later.
    let mark = format!("bad-input-sigint-{}", std::process::id());
    let mut manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("vectors/iut/harness-peer.json")).expect("manifest"),
    )
    .expect("JSON");
    manifest["env"] = serde_json::json!({ "HANDSHAKE_TEST_MARK": mark });
    manifest.as_object_mut().map(|m| m.remove("$schema"));
    let manifest_path = dir.join("harness-peer.json");
    std::fs::write(&manifest_path, manifest.to_string()).expect("write manifest");
    let child = Command::new(HARNESS)
        .args([
            "run",
            library.to_str().expect("path"),
            "--iut",
            manifest_path.to_str().expect("path"),
            "--jobs",
            "8",
            "--report",
            report.to_str().expect("path"),
        ])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Interrupt once a result is on disk (results are written as they finish) and longer
    // scenarios are under way.
    let dir = report.join("harness-peer");
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(60) {
        let written = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".transcript.txt"))
                    .count()
            })
            .unwrap_or(0);
        if written >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let started = Instant::now();
    let out = child.wait_with_output().expect("wait");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "it stops promptly"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(report.join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    let statuses: Vec<&str> = results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert!(statuses.contains(&"pass"), "some finished: {statuses:?}");
    assert!(
        statuses.contains(&"interrupted"),
        "some were cut short: {statuses:?}"
    );
    assert_eq!(
        results["summary"]["passed"], false,
        "an interrupted run never passes"
    );
    for f in ["junit.xml", "summary.md", "index.html"] {
        assert!(report.join(f).is_file(), "{f}");
    }
    let junit = std::fs::read_to_string(report.join("junit.xml")).expect("junit");
    assert!(junit.contains("interrupted"), "JUnit marks them");
    // A scenario under way when interrupted keeps its capture so far.
    let cut_short = results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["status"] == "interrupted" && r["files"]["capture"].is_string());
    let capture = cut_short
        .and_then(|r| r["files"]["capture"].as_str())
        .expect("a partial capture");
    assert!(report.join(capture).is_file(), "{capture}");
    // No IUT of this run left behind.
    std::thread::sleep(Duration::from_millis(300));
    let left: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .is_ok_and(|env| env.windows(mark.len()).any(|w| w == mark.as_bytes()))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "IUTs left: {left:?}");
}
