//! Replays the committed `proton_stream_reader` corpus through the fuzz target's own check on the
//! stable toolchain (CI replays instead of fuzzing).

use std::path::PathBuf;

#[test]
fn proton_stream_reader_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../fuzz/corpus/proton_stream_reader");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    // An empty corpus would make this pass without checking anything.
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for file in files {
        let data = std::fs::read(&file).expect("corpus file");
        handshake_proton_wire::fuzzing::check_stream_reader(&data);
    }
}
