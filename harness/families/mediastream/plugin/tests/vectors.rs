//! Every file in vectors/mediastream is a test case: add a file, get a case, no code change.

use std::path::PathBuf;

use handshake_mediastream::cli::vectors;
use rstest::rstest;

#[rstest]
fn vector_file_holds(#[files("../../../../vectors/mediastream/*.json")] path: PathBuf) {
    let report = vectors::check_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !report.results.is_empty(),
        "{} checks nothing",
        path.display()
    );
    let failures: Vec<String> = report
        .failures()
        .map(|r| {
            format!(
                "{} [{}]: {}",
                r.name,
                r.section,
                r.failure.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        path.display(),
        failures.join("\n")
    );
}

#[test]
fn committed_schema_matches_the_types() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../vectors/schema/vector-file.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = <handshake_mediastream::MediaStream as handshake_plugin::Plugin>::schemas()
        .into_iter()
        .find(|(name, _)| *name == "vectors")
        .map(|(_, text)| text)
        .unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `make schemas`",
        path.display()
    );
}

#[test]
fn every_section_and_required_kind_is_covered() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../vectors/mediastream");
    let files = vectors::collect_files(&[dir]).expect("readable");
    let mut sections = std::collections::BTreeSet::new();
    let mut decoded_kinds = std::collections::BTreeSet::new();
    for path in &files {
        let file = vectors::load(path).expect("valid");
        for v in &file.datagrams {
            if let Some(vectors::Outcome::Datagram(d)) = &v.expect {
                decoded_kinds.insert(d["kind"].as_str().unwrap_or("").to_owned());
            }
        }
        for r in vectors::evaluate(&file).expect("evaluates") {
            sections.insert(r.section.split('/').next().unwrap_or("").to_owned());
        }
    }
    let want = [
        "datagrams",
        "fill_pattern",
        "fragment_plans",
        "frame_sizes",
        "pattern_checks",
    ];
    assert!(want.iter().all(|s| sections.contains(*s)), "{sections:?}");
    let kinds = [
        "ack",
        "connection_id",
        "data",
        "data_frag",
        "syn",
        "syn_ack",
    ];
    assert!(
        kinds.iter().all(|k| decoded_kinds.contains(*k)),
        "{decoded_kinds:?}"
    );
}

#[rstest]
#[case::unknown_field("{\"protocol\":\"mediastream\",\"title\":\"t\",\"datagrams\":[{\"name\":\"a\",\"hex\":\"00\",\"expect\":{\"error\":{}},\"bogus\":1}]}", "1:")]
#[case::both_expectations("{\"protocol\":\"mediastream\",\"title\":\"t\",\"datagrams\":[{\"name\":\"a\",\"hex\":\"00\"}]}", "exactly one of `expect`")]
#[case::duplicate_names("{\"protocol\":\"mediastream\",\"title\":\"t\",\"frame_sizes\":[{\"name\":\"a\",\"bits_per_second\":1,\"frame_rate\":1,\"frame_size\":1},{\"name\":\"a\",\"bits_per_second\":1,\"frame_rate\":1,\"frame_size\":1}]}", "used twice")]
#[case::bad_hex("{\"protocol\":\"mediastream\",\"title\":\"t\",\"datagrams\":[{\"name\":\"a\",\"hex\":\"0g\",\"expect\":{\"error\":{}}}]}", "not a hex digit")]
#[case::empty("{\"protocol\":\"mediastream\",\"title\":\"t\"}", "no vectors")]
fn malformed_vector_files_are_clear_errors(#[case] text: &str, #[case] needle: &str) {
    let scratch = tempfile::tempdir().expect("scratch directory");
    let dir = scratch.path();
    let path = dir.join(format!("{}.json", needle.len()));
    std::fs::write(&path, text).expect("write");
    let err = vectors::load(&path)
        .expect_err("must be refused")
        .to_string();
    assert!(err.contains(needle), "{err}");
    assert!(err.starts_with(&path.display().to_string()), "{err}");
}

#[test]
fn a_wrong_expectation_is_reported_not_passed() {
    let text = r#"{"protocol":"mediastream","title":"t","datagrams":[
        {"name":"lie","hex":"5354415254","expect":{"datagram":{"kind":"start"}}}]}"#;
    let file: vectors::VectorFile = serde_json::from_str(text).expect("valid json");
    let results = vectors::evaluate(&file).expect("evaluates");
    // Legacy-accepting decodes START; 3-way-only must not, so exactly one failure.
    let failed: Vec<_> = results.iter().filter(|r| r.failure.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].section, "datagrams/three_way_only");
}
