//! What the `harness learn` tests share: running the binary from the workspace root, a fresh
//! output folder per test, and what a run said.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `harness ARGS`, from the workspace root.
pub fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// An output folder of one test, removed when the test ends.
pub struct OutDir(PathBuf);

impl std::ops::Deref for OutDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An empty output folder for `test` (this process's own).
pub fn out_dir(test: &str) -> OutDir {
    let d = std::env::temp_dir().join(format!("harness-learn-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    OutDir(d)
}

/// A run's stdout and stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `check` of each item, all at once (each learns on its own), and what the checks that failed
/// said: empty when every one passed. A check that panicked says so.
#[allow(dead_code)] // Not every test binary that shares this module uses it.
pub fn misses<T: Sync>(items: &[T], check: impl Fn(&T) -> Option<String> + Sync) -> Vec<String> {
    let check = &check;
    std::thread::scope(|scope| {
        let runs: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || check(item)))
            .collect();
        runs.into_iter()
            .filter_map(|r| {
                r.join()
                    .unwrap_or_else(|_| Some("a check panicked".to_owned()))
            })
            .collect()
    })
}
