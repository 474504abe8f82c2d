//! A silent idle close over a slow path. An IUT's idle timeout ends its connection without a frame,
//! so the harness notices it only when its own QUIC idle timer fires — and quinn keeps that timer
//! running for at least three probe timeouts (RFC 9000 §10.1). After a handshake measured at ~900 ms
//! (here: the IUT's first three datagrams delayed; on a loaded CI machine: a slow interpreter) that
//! is seconds past the 5 s idle timeout. The harness counts that as its own lateness: the library's
//! idle-timeout scenario, over such a path, still passes a correct IUT. (Without the widening, the
//! close was seen ~3 s after the step's window and a correct server failed.)

use std::path::{Path, PathBuf};
use std::process::Command;

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The library's idle-timeout scenario with the IUT's first three datagrams delayed by 900 ms.
fn slow_handshake_scenario(dir: &Path) -> PathBuf {
    let library =
        root().join("vectors/scenarios/proton/server_idle_timeout_without_keepalive.json");
    let text = std::fs::read_to_string(&library).expect("library scenario");
    let mut scenario: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    scenario["id"] = "proton.server.idle_timeout_slow_handshake".into();
    scenario["faults"] = serde_json::json!([{
        "direction": "from_iut",
        "nth": { "range": { "from": 1, "to": 3 } },
        "action": { "delay": { "ms": 900 } }
    }]);
    if let Some(fields) = scenario.as_object_mut() {
        fields.remove("$schema");
    }
    let path = dir.join("idle_timeout_slow_handshake.json");
    std::fs::write(&path, scenario.to_string()).expect("write scenario");
    path
}

#[test]
fn a_silent_idle_close_after_a_slow_handshake_passes_a_correct_server() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let scenario = slow_handshake_scenario(dir.path());
    // Virtual time (the reference server) and real UDP (the harness's own Proton server through a
    // manifest).
    for iut in [
        "ref:project".to_owned(),
        root()
            .join("vectors/iut/harness-peer-proton.json")
            .display()
            .to_string(),
    ] {
        let report = dir.path().join("report");
        let out = Command::new(HARNESS)
            .current_dir(root())
            .args([
                "run",
                scenario.to_str().expect("path"),
                "--iut",
                &iut,
                "--report",
            ])
            .arg(&report)
            .output()
            .expect("harness runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{iut}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
