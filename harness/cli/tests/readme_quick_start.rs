//! The README's quick start works on a fresh clone: every `harness …` line of its first code block
//! under "Quick start" runs from the repository's root with this build's binary and exits 0 (the
//! `cargo install` line builds this same binary, and is not run here).

use std::path::Path;
use std::process::Command;

#[test]
fn every_quick_start_command_exits_0() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    let section = readme
        .split("## Quick start")
        .nth(1)
        .unwrap_or_else(|| panic!("README.md has no Quick start section"));
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("the Quick start has no ```sh block"));
    let lines: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() >= 5, "five commands: {lines:?}");
    let mut ran = 0;
    for line in lines {
        let Some(args) = line.strip_prefix("harness ") else {
            assert!(line.starts_with("cargo install"), "unexpected line: {line}");
            continue;
        };
        let words = shlex::split(args).unwrap_or_else(|| panic!("cannot split: {line}"));
        let o = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(&words)
            .current_dir(&root)
            .output()
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(
            o.status.code(),
            Some(0),
            "{line}\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 4, "{ran} harness commands");
}
