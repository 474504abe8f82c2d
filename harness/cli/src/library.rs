//! The libraries the binary carries: every family's scenarios, the reference profiles' expectations,
//! the interop matrices and fault profiles, and the JSON Schemas (the checkout's `vectors/`
//! folders), so that an installed `harness` works from any directory.
//!
//! A path under `vectors/` that names one of them (the commands' defaults, `vectors/scenarios/proton`
//! …) is the checkout's when the working directory holds it; else the folder `--library DIR` names
//! (as `harness scenarios export DIR` writes it); else the built-in copy, written once per version
//! under the system's temporary directory, so that every file keeps a path for error messages
//! (file:line:column) and the scenarios' relative `$schema` links still resolve.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The built-in folders, by their name under `vectors/` (the `handshake-library` crate's copy).
use handshake_library::{Dir, PARTS};

/// `--library DIR`: a folder with the parts (`DIR/scenarios`, …) that replaces the built-in ones.
static OVERRIDE: OnceLock<PathBuf> = OnceLock::new();

/// The built-in copy's root (its parts are `ROOT/vectors/<part>`), once written.
static WRITTEN: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Takes the library from `dir` instead of the built-in one (`--library`).
pub fn set_library(dir: PathBuf) {
    let _ = OVERRIDE.set(dir);
}

/// The names of the built-in folders.
pub fn parts() -> impl Iterator<Item = &'static str> {
    PARTS.iter().map(|(name, _)| *name)
}

/// Where a path the user gave (or a command's default) is: itself when it exists, or names no
/// library folder (`vectors/<part>/…`); else that file or folder of `--library DIR`, or of the
/// built-in copy. `Err` only when the built-in copy cannot be written.
pub fn resolve(path: &Path) -> Result<PathBuf, String> {
    if path.exists() {
        return Ok(path.to_owned());
    }
    let Some(rest) = library_relative(path) else {
        return Ok(path.to_owned());
    };
    match OVERRIDE.get() {
        Some(dir) => Ok(dir.join(rest)),
        None => Ok(built_in_root()?.join("vectors").join(rest)),
    }
}

/// [`resolve`] for each path.
pub fn resolve_all(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    paths.iter().map(|p| resolve(p)).collect()
}

/// The part of `vectors/<part>/…` from `<part>` on, when `path` is one.
fn library_relative(path: &Path) -> Option<PathBuf> {
    let mut parts = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    if parts.next().as_deref() != Some("vectors") {
        return None;
    }
    let rest: PathBuf = parts.collect();
    let first = rest
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    parts_contains(&first).then_some(rest)
}

fn parts_contains(name: &str) -> bool {
    PARTS.iter().any(|(n, _)| *n == name)
}

/// The built-in copy of the library, written the first time it is needed (once per version and
/// content: a folder named by both, reused by every later run).
pub fn built_in_root() -> Result<PathBuf, String> {
    WRITTEN.get_or_init(write_built_in).clone()
}

fn write_built_in() -> Result<PathBuf, String> {
    let root = std::env::temp_dir().join(format!(
        "handshake-harness-library-{}-{:016x}",
        env!("CARGO_PKG_VERSION"),
        content_hash()
    ));
    if root.join("vectors").is_dir() {
        return Ok(root);
    }
    // Written beside, then renamed into place: a concurrent run sees all of it or none.
    let staging = root.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    export_to(&staging.join("vectors"))
        .map_err(|e| format!("cannot write the built-in library: {e}"))?;
    match std::fs::rename(&staging, &root) {
        Ok(()) => Ok(root),
        // Another run put it there first.
        Err(_) if root.join("vectors").is_dir() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(root)
        }
        Err(e) => Err(format!(
            "cannot write the built-in library to {}: {e}",
            root.display()
        )),
    }
}

/// Writes every built-in folder under `dir` (`dir/scenarios`, `dir/expectations`, …).
pub fn export_to(dir: &Path) -> std::io::Result<()> {
    for (name, part) in &PARTS {
        write_dir(part, &dir.join(name))?;
    }
    Ok(())
}

fn write_dir(d: &Dir<'_>, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for file in d.files() {
        let name = file.path().file_name().unwrap_or_default();
        std::fs::write(to.join(name), file.contents())?;
    }
    for sub in d.dirs() {
        let name = sub.path().file_name().unwrap_or_default();
        write_dir(sub, &to.join(name))?;
    }
    Ok(())
}

/// FNV-1a over every built-in file's path and bytes: a new build with other content gets a folder
/// of its own.
fn content_hash() -> u64 {
    fn visit(d: &Dir<'_>, h: &mut u64) {
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                *h ^= u64::from(*b);
                *h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for f in d.files() {
            eat(f.path().to_string_lossy().as_bytes());
            eat(f.contents());
        }
        for sub in d.dirs() {
            visit(sub, h);
        }
    }
    let mut h = 0xcbf2_9ce4_8422_2325;
    for (_, part) in &PARTS {
        visit(part, &mut h);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_paths_are_recognised() {
        assert_eq!(
            library_relative(Path::new("vectors/scenarios/proton")),
            Some(PathBuf::from("scenarios/proton"))
        );
        assert_eq!(
            library_relative(Path::new("./vectors/interop/mediastream-matrix.json")),
            Some(PathBuf::from("interop/mediastream-matrix.json"))
        );
        assert_eq!(library_relative(Path::new("vectors/iut/x.json")), None);
        assert_eq!(library_relative(Path::new("my/scenarios")), None);
    }

    #[test]
    fn the_built_in_copy_holds_every_family_s_scenarios() {
        let root = built_in_root().unwrap_or_else(|e| panic!("{e}"));
        for family in ["mediastream", "proton", "darktower"] {
            let dir = root.join("vectors/scenarios").join(family);
            let n = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .count();
            assert!(n > 10, "{family}: {n} scenarios");
        }
        assert!(root.join("vectors/schema/scenario.schema.json").is_file());
    }
}
