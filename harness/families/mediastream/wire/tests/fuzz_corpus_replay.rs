//! Replays every committed fuzz corpus file through the fuzz targets' own checks on the stable
//! toolchain, so CI catches a regression the fuzzer once found (or a seed that stopped parsing).

use std::path::{Path, PathBuf};

use handshake_mediastream_wire::fuzzing;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    // A missing or empty corpus would make this test pass without checking anything.
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files
}

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let files = corpus(target);
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} breaks the target's law",
            path.display()
        );
    }
    files.len()
}

#[test]
fn mediastream_parse_corpus() {
    assert!(replay("mediastream_parse", fuzzing::check_parse) >= 100);
}

#[test]
fn mediastream_roundtrip_corpus() {
    assert!(replay("mediastream_roundtrip", fuzzing::check_roundtrip) >= 10);
}

#[test]
fn tlv_options_corpus() {
    assert!(replay("tlv_options", fuzzing::check_tlv_options) >= 10);
}
