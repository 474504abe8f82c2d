//! The committed JSON Schemas are what the types generate (`make schemas` rewrites them).

use std::path::PathBuf;

use rstest::rstest;

#[rstest]
#[case::vectors("vector-file.schema.json", "vectors")]
#[case::scenario("scenario.schema.json", "scenario")]
#[case::expectations("expectations.schema.json", "expectations")]
#[case::manifest("iut-manifest.schema.json", "iut-manifest")]
fn committed_schema_matches_the_types(#[case] file: &str, #[case] which: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/schema")
        .join(file);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let mut generated = Vec::new();
    assert_eq!(
        handshake_harness::cli::run_args(
            &handshake_harness::families::REGISTRY,
            ["harness", "schema", which],
            &mut generated
        ),
        0
    );
    assert!(
        committed.as_bytes() == generated.as_slice(),
        "{} is stale: run `make schemas`",
        path.display()
    );
}

#[test]
fn an_unknown_schema_is_a_usage_error() {
    let mut out = Vec::new();
    assert_eq!(
        handshake_harness::cli::run_args(
            &handshake_harness::families::REGISTRY,
            ["harness", "schema", "nope"],
            &mut out
        ),
        2
    );
}
