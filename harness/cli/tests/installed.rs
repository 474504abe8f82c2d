//! The installed binary needs no checkout: a copy of `harness` run from an empty directory finds
//! its scenario libraries, expectations and interop matrices built in, and writes its reports
//! where it says.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the binary in a fresh directory, and an empty working directory beside it.
fn installed(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("harness-installed-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (bin, work) = (dir.join("bin"), dir.join("work"));
    for d in [&bin, &work] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    }
    let exe = bin.join("harness");
    std::fs::copy(env!("CARGO_BIN_EXE_harness"), &exe).unwrap_or_else(|e| panic!("copy: {e}"));
    (exe, work)
}

fn harness(exe: &Path, work: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .current_dir(work)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", exe.display()))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_reference_runs_the_built_in_library_from_an_empty_directory() {
    let (exe, work) = installed("ref");
    let o = harness(&exe, &work, &["run", "--iut", "ref:3way", "--report", "r"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("pass"), "{t}");
    assert!(work.join("r/results.json").is_file(), "{t}");
    // The interop matrix is built in too.
    let o = harness(&exe, &work, &["interop"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn the_built_in_library_can_be_listed_shown_and_exported() {
    let (exe, work) = installed("list");
    let o = harness(&exe, &work, &["scenarios", "list", "--family", "proton"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("  proton  server  "), "{t}");
    let first = t.lines().next().and_then(|l| l.split_whitespace().next());
    let id = first.unwrap_or_else(|| panic!("{t}"));
    let o = harness(&exe, &work, &["scenarios", "show", id]);
    assert!(
        text(&o).contains(&format!("\"id\": \"{id}\"")),
        "{}",
        text(&o)
    );
    let o = harness(&exe, &work, &["scenarios", "export", "lib"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(work.join("lib/scenarios/darktower").is_dir());
    // An edited copy is what --library makes the default.
    let o = harness(
        &exe,
        &work,
        &[
            "run",
            "--library",
            "lib",
            "--iut",
            "ref:project",
            "--filter",
            "happy",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_program_a_manifest_and_a_capture_work_from_an_empty_directory() {
    let (exe, work) = installed("program");
    let peer = root().join("vectors/iut/python/mediastream_peer.py");
    let peer = peer.display().to_string();
    let stream = "--bits-per-second {bits_per_second} --frame-rate {frame_rate} --stream-length {stream_length} --buffer-depth {buffer_depth} --datagram-byte-size {datagram_byte_size}";
    let cmd = format!("python3 {peer} responder --listen {{listen}} --profile 3way {stream}");
    let o = harness(
        &exe,
        &work,
        &[
            "run",
            "--iut-cmd",
            &cmd,
            "--filter",
            "ms.responder.happy_3way",
            "--report",
            "r",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // `harness fuzz --iut my.json`: the family and role come from the manifest.
    let manifest = serde_json::json!({
        "name": "my-responder",
        "protocol": "mediastream",
        "responder": cmd,
        "profiles": ["3way"],
    });
    std::fs::write(work.join("my.json"), manifest.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let o = harness(&exe, &work, &["fuzz", "--iut", "my.json", "--time", "3"]);
    let t = text(&o);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{t}");
    assert!(!t.contains("--family is needed"), "{t}");

    let capture = root().join("pcaps/mediastream/clean_3way_scripted.pcapng");
    std::fs::copy(&capture, work.join("capture.pcapng")).unwrap_or_else(|e| panic!("{e}"));
    let o = harness(&exe, &work, &["check", "capture.pcapng"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
