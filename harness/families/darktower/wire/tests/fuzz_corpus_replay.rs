//! Replays every committed Dark Tower fuzz corpus file through the fuzz targets' own checks on the
//! stable toolchain, so CI catches a regression without fuzzing.

use std::path::{Path, PathBuf};

use handshake_darktower_wire::fuzzing;

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
fn darktower_header_corpus() {
    assert!(replay("darktower_header", fuzzing::check_stream_header) >= 3);
}

#[test]
fn darktower_frame_v1_corpus() {
    assert!(replay("darktower_frame_v1", fuzzing::check_frame_v1) >= 3);
}

#[test]
fn darktower_frame_v2_corpus() {
    assert!(replay("darktower_frame_v2", fuzzing::check_frame_v2) >= 3);
}

#[test]
fn darktower_signaling_corpus() {
    assert!(replay("darktower_signaling", fuzzing::check_signaling) >= 3);
}

#[test]
fn darktower_media_stream_corpus() {
    assert!(replay("darktower_media_stream", fuzzing::check_media_stream_reader) >= 3);
}
