//! `harness interop` as a user runs it: the binary with external programs (`cmd:`) as initiator and
//! as responder, the exit code as the matrix's verdict, and usage errors. (The matrices themselves
//! are tested with their family, under harness/families/.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh directory for one test, removed with the returned guard.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("scratch directory: {e}"))
}

/// `harness interop ARGS`: exit code and stdout (stderr appended).
fn interop(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("interop")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// External programs as initiator and as responder: this very binary's `harness peer` over real
/// UDP, compared with the reference profiles' expected cells (`cmd@PROFILE:`).
#[cfg(unix)]
#[test]
fn external_programs_take_part_as_initiator_and_responder() {
    let harness = env!("CARGO_BIN_EXE_harness");
    let stream = "--bits-per-second {bits_per_second} --frame-rate {frame_rate} --stream-length {stream_length} --buffer-depth {buffer_depth} --datagram-byte-size {datagram_byte_size}";
    let responder = format!(
        "cmd@3way+allow_legacy_start:'{harness}' peer responder --listen {{listen}} --profile 3way --allow-legacy-start {stream}"
    );
    let initiator =
        format!("cmd@3way:'{harness}' peer initiator --target {{target}} --profile 3way {stream}");
    let started = std::time::Instant::now();
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    let r1 = dir.join("r1");
    let (code, text) = interop(&[
        "--faults",
        "lossy-handshake",
        "--jobs",
        "3",
        "--initiators",
        "ref:3way,ref:legacy",
        "--responders",
        &responder,
        "--report",
        r1.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("cmd-1 = "), "{text}");
    assert!(text.contains("2 cells: 2 as expected, 0 differ"), "{text}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("r1/matrix.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let modes: Vec<&str> = json["cells"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["negotiated_mode"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(modes, vec!["3way", "legacy"]);
    assert_eq!(json["cells"][0]["real_time"], true);
    assert_eq!(json["cells"][0]["capture_viewpoint"], "responder");
    assert!(dir.join("r1/cells/3way__cmd-1.pcapng").is_file());

    let r2 = dir.join("r2");
    let (code, text) = interop(&[
        "--faults",
        "lossy-handshake",
        "--jobs",
        "3",
        "--initiators",
        &initiator,
        "--responders",
        "ref:3way",
        "--responders",
        "ref:3way+optimistic",
        "--report",
        r2.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("3way 100"), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// The command line itself.
#[test]
fn the_binary_runs_interop_and_exits_with_the_matrix_verdict() {
    let scratch_dir = scratch();
    let dir = scratch_dir.path().to_path_buf();
    let o = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["interop", "--faults", "lossy-handshake", "--report"])
        .arg(&dir)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.starts_with("interop matrix: 4 initiators × 5 responders, faults `lossy-handshake`"),
        "{stdout}"
    );
    assert!(dir.join("index.html").is_file() && dir.join("matrix.json").is_file());
    let o = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["interop", "--initiators", "ref:nope"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(2));
}

/// Programs declared with `cmd@legacy:` run as legacy: the judge knows their profile, as it knows a
/// manifest's (`FILE@legacy`), so a legacy initiator's START is never judged by the 3-way rules.
#[cfg(unix)]
#[test]
fn a_command_declared_legacy_is_judged_as_legacy() {
    let harness = env!("CARGO_BIN_EXE_harness");
    let stream = "--bits-per-second {bits_per_second} --frame-rate {frame_rate} --stream-length {stream_length} --buffer-depth {buffer_depth} --datagram-byte-size {datagram_byte_size}";
    let initiator = format!(
        "cmd@legacy:'{harness}' peer initiator --target {{target}} --profile legacy {stream}"
    );
    let responder = format!(
        "cmd@legacy:'{harness}' peer responder --listen {{listen}} --profile legacy {stream}"
    );
    let scratch_dir = scratch();
    let report = scratch_dir.path().join("r");
    let (code, text) = interop(&[
        "--initiators",
        &initiator,
        "--responders",
        &responder,
        "--report",
        report.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 cells: 1 as expected, 0 differ"), "{text}");
    assert!(!text.contains("opens_with_syn"), "{text}");
}
