//! The Proton manifest of the independent Python implementation loads with the Proton registry.

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
