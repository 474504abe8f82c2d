//! `harness check --threads 1` and `--threads 2` print the same verdict, byte for byte, text and
//! JSON, over every golden media-stream capture (the judge's inputs are compared packet by packet in
//! handshake-check's own tests).

use std::process::Command;

fn check(file: &std::path::Path, threads: &str, json: bool) -> (Option<i32>, Vec<u8>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.arg("check").arg(file).args(["--threads", threads]);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("harness runs");
    (out.status.code(), out.stdout)
}

#[test]
fn one_thread_and_two_print_the_same() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pcaps/mediastream");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("pcaps/mediastream")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng" || e == "pcap"))
        .collect();
    files.sort();
    assert!(files.len() > 20);
    for file in files {
        for json in [false, true] {
            let one = check(&file, "1", json);
            assert!(!one.1.is_empty(), "{}: a verdict", file.display());
            assert_eq!(
                one,
                check(&file, "2", json),
                "{} (json: {json})",
                file.display()
            );
        }
    }
}

#[test]
fn threads_out_of_range_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["check", "x.pcap", "--threads", "3"])
        .output()
        .expect("harness runs");
    assert_eq!(out.status.code(), Some(2));
}
