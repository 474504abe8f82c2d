//! The Proton manifests of the library load with the Proton registry; the template for the original
//! program has its shape.

use std::path::PathBuf;

static ONLY: handshake_scenario::Families =
    handshake_scenario::Families(&[&handshake_proton::FAMILY]);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

#[test]
fn python_proton_manifest_loads() {
    let path = root().join("vectors/iut/python-proton.json");
    ONLY.load_manifest(&path).unwrap_or_else(|e| panic!("{e}"));
}

/// Every Proton manifest of the library loads.
#[test]
fn every_proton_manifest_loads() {
    for name in [
        "harness-peer-proton.json",
        "harness-peer-proton-fixed.json",
        "harness-repl-proton.json",
        "python-proton.json",
    ] {
        let path = root().join("vectors/iut").join(name);
        ONLY.load_manifest(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// The template for the original program has its shape: a fixed address, hard-coded timers, the
/// readiness line only after the as-coded startup delay of 10 s, and time enough to wait for it.
#[test]
fn the_fixed_template_has_the_originals_shape() {
    let path = root().join("vectors/iut/harness-peer-proton-fixed.json");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("manifest")).expect("json");
    let startup = handshake_proton_endpoint::Timers::of(handshake_proton_endpoint::Base::AsCoded)
        .startup
        .as_millis();
    assert_eq!(startup, 10_000);
    assert_eq!(m["listen"], "127.0.0.1:5000");
    assert_eq!(m["ready"]["output"], "Server listening");
    let server = m["server"].as_str().expect("server");
    assert!(
        server.contains(&format!("--startup-ms {startup}")) && !server.contains("{startup_ms}"),
        "{server}"
    );
    let timeout = m["startup_timeout_ms"]
        .as_u64()
        .expect("startup_timeout_ms");
    assert!(u128::from(timeout) >= startup + 5_000, "{timeout}");
}
