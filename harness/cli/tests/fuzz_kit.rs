//! `harness fuzz-kit` end to end: a kit for every format of the three families, each corpus entry
//! accepted by the reference decoder unless named `invalid-…`, and the streaming decoder's verdicts
//! equal to the in-process decoder's on every entry.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use handshake_formats::{verdict_json, Verdict, WireFormat, INVALID_PREFIX};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn formats() -> Vec<&'static WireFormat> {
    handshake_harness::families::REGISTRY
        .families
        .0
        .iter()
        .flat_map(|f| f.formats())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The harness and the mutator library serve one list (the mutator's test holds the ids).
#[test]
fn the_harness_and_the_mutator_library_serve_the_same_formats() {
    let ids: Vec<&str> = formats().iter().map(|f| f.id).collect();
    let library: Vec<&str> = handshake_mutator::formats().map(|f| f.id).collect();
    assert_eq!(ids, library);
    assert_eq!(ids.len(), 8);
}

#[test]
fn a_kit_for_every_format_agrees_with_the_reference_in_and_out_of_process() {
    let out = tempfile::tempdir().expect("scratch directory");
    let o = Command::new(HARNESS)
        .args(["fuzz-kit", "--out"])
        .arg(out.path())
        .current_dir(root())
        .output()
        .expect("harness runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let readme = std::fs::read_to_string(out.path().join("README.md")).expect("a README");
    for format in formats() {
        let dir = out.path().join(format.id);
        assert!(
            readme.contains(&format!("`{}`", format.id)),
            "{}",
            format.id
        );
        let dict =
            std::fs::read_to_string(dir.join(format!("{}.dict", format.id))).expect("a dictionary");
        assert!(dict.lines().count() >= 3, "{}: {dict}", format.id);
        let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("corpus"))
            .expect("a corpus")
            .map(|e| {
                let e = e.expect("an entry");
                let bytes = std::fs::read(e.path()).expect("readable");
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        entries.sort();
        let valid = entries
            .iter()
            .filter(|(n, _)| !n.starts_with(INVALID_PREFIX))
            .count();
        assert!(valid >= 3, "{}: {valid} valid entries", format.id);
        assert!(valid < entries.len(), "{}: no invalid edge case", format.id);
        for (name, bytes) in &entries {
            assert_eq!(
                (format.decode)(bytes).ok,
                !name.starts_with(INVALID_PREFIX),
                "{}/{name}",
                format.id
            );
        }
        // The streaming decoder, fed every entry, says what the library says.
        let mut child = Command::new(HARNESS)
            .args(["decode", "--format", format.id, "--stream"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("harness runs");
        let lines: String = entries.iter().map(|(_, b)| hex(b) + "\n").collect();
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(lines.as_bytes())
            .expect("written");
        let done = child.wait_with_output().expect("harness ends");
        assert_eq!(done.status.code(), Some(0), "{}", format.id);
        let streamed: Vec<&str> = std::str::from_utf8(&done.stdout)
            .expect("UTF-8")
            .lines()
            .collect();
        assert_eq!(streamed.len(), entries.len(), "{}", format.id);
        for ((name, bytes), line) in entries.iter().zip(streamed) {
            let expected = verdict_json(&(format.decode)(bytes));
            let parsed: Verdict = serde_json::from_str(line).expect("a verdict");
            assert_eq!(line, expected, "{}/{name}", format.id);
            assert_eq!(parsed.ok, !name.starts_with(INVALID_PREFIX));
        }
    }
}

#[test]
fn bad_formats_and_lines_are_input_errors() {
    let o = Command::new(HARNESS)
        .args(["decode", "--format", "nope.x", "--hex", "00"])
        .output()
        .expect("harness runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mediastream.datagram"));
    let o = Command::new(HARNESS)
        .args(["fuzz-kit", "--family", "nope", "--out", "/nonexistent/x"])
        .output()
        .expect("harness runs");
    assert_eq!(o.status.code(), Some(2));
    let mut child = Command::new(HARNESS)
        .args(["decode", "--format", "mediastream.tlv", "--stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"0104001e000000\nnot hex\n")
        .expect("written");
    let done = child.wait_with_output().expect("harness ends");
    assert_eq!(done.status.code(), Some(2));
    let text = String::from_utf8_lossy(&done.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with(r#"{"ok":true"#), "{text}");
    assert!(lines[1].contains("input line 2: not hex"), "{text}");
}

#[test]
fn the_decode_schema_describes_the_verdict() {
    let o = Command::new(HARNESS)
        .args(["schema", "decode"])
        .output()
        .expect("harness runs");
    assert_eq!(o.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    for key in ["ok", "kind", "fields", "error"] {
        assert!(schema["properties"].get(key).is_some(), "{key}: {schema}");
    }
}
