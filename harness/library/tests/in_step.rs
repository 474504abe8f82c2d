//! The crate's copy of the libraries is the repository's `vectors/` folders, file for file and
//! byte for byte (`make library` copies them again). In a packaged crate, where there is no
//! repository around it, there is nothing to compare with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
                out.insert(relative, bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn the_copy_is_the_repository_s_vectors() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repository = crate_dir.join("../../vectors");
    if !repository.is_dir() {
        eprintln!("skipped: no repository vectors/ beside this crate (a packaged crate)");
        return;
    }
    for (part, _) in &handshake_library::PARTS {
        let source = files(&repository.join(part));
        let copy = files(&crate_dir.join("vectors").join(part));
        let missing: Vec<_> = source.keys().filter(|k| !copy.contains_key(*k)).collect();
        let extra: Vec<_> = copy.keys().filter(|k| !source.contains_key(*k)).collect();
        let differ: Vec<_> = source
            .iter()
            .filter(|(k, v)| copy.get(*k).is_some_and(|c| c != *v))
            .map(|(k, _)| k)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty() && differ.is_empty(),
            "harness/library/vectors/{part} is not vectors/{part} (run `make library`): missing {missing:?}, extra {extra:?}, different {differ:?}"
        );
    }
}

#[test]
fn every_part_carries_files() {
    for (part, dir) in &handshake_library::PARTS {
        assert!(
            dir.files().count() + dir.dirs().count() > 0,
            "{part} is empty"
        );
    }
}
