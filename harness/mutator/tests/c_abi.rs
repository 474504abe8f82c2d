//! The C ABI from C: compiles `tests/c_abi.c` against `include/handshake_mutator.h`, links it with
//! the `libhandshake_mutator.so` this build made, and runs it (configured, and once without
//! `HANDSHAKE_FORMAT`, which must stop the program with status 2 and the list of ids).
//!
//! A missing C compiler fails the test (set `CC` to one): the ABI is the crate's point.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the built `libhandshake_mutator.so`: the test binary lives in
/// `<target>/<profile>/deps/`, the library there or one level up.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    [deps.clone(), deps.parent().unwrap().to_path_buf()]
        .into_iter()
        .find(|d| d.join("libhandshake_mutator.so").is_file())
        .unwrap_or_else(|| panic!("no libhandshake_mutator.so near {}", exe.display()))
}

fn compile(out: &Path) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(out)
        .arg(crate_dir.join("tests/c_abi.c"))
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lhandshake_mutator")
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}` ({e}); set CC to one"));
    assert!(status.success(), "{cc} failed on tests/c_abi.c");
}

#[test]
fn the_c_abi_works_from_c() {
    let dir = std::env::temp_dir().join(format!("handshake-mutator-c-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("c_abi");
    compile(&exe);

    let run = Command::new(&exe)
        .env("HANDSHAKE_FORMAT", "mediastream.datagram")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(", 0 failed"), "{stdout}");

    for (value, expected) in [
        (None, "is not set"),
        (Some("mediastream"), "unknown format"),
    ] {
        let mut cmd = Command::new(&exe);
        cmd.arg("unconfigured").env_remove("HANDSHAKE_FORMAT");
        if let Some(v) = value {
            cmd.env("HANDSHAKE_FORMAT", v);
        }
        let run = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            stderr.contains("mediastream.datagram, mediastream.tlv"),
            "{stderr}"
        );
        assert!(run.stdout.is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
