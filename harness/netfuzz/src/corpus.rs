//! The corpus on disk: one JSON file per input (a scenario's steps), named by a hash of its
//! content, so inputs are never duplicated and a second run resumes where the first stopped.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why the corpus could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A file system error.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Content name of an input (FNV-1a of its canonical JSON).
pub fn name_of(input: &Value) -> String {
    let text = input.to_string();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}.json")
}

/// Reads every `*.json` in `dir` (a missing folder is an empty corpus). Files that are not JSON
/// are reported by name, not fatal: a broken corpus file must not stop a campaign.
pub fn load(dir: &Path) -> Result<(Vec<Value>, Vec<String>), CorpusError> {
    let mut inputs = Vec::new();
    let mut broken = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((inputs, broken)),
        Err(source) => {
            return Err(CorpusError::Io {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        match std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            Some(v) => inputs.push(v),
            None => broken.push(path.display().to_string()),
        }
    }
    Ok((inputs, broken))
}

/// Writes `input` into `dir` under its content name; the path.
pub fn save(dir: &Path, input: &Value) -> Result<PathBuf, CorpusError> {
    std::fs::create_dir_all(dir).map_err(|source| CorpusError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(name_of(input));
    let text = serde_json::to_string_pretty(input).unwrap_or_default();
    std::fs::write(&path, text).map_err(|source| CorpusError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_broken_files_are_reported_not_fatal() {
        let dir = std::env::temp_dir().join(format!("netfuzz-corpus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(load(&dir).expect("missing is empty").0.is_empty());
        let a = serde_json::json!([{"join": {"participant": 0}}]);
        let p = save(&dir, &a).expect("save");
        assert_eq!(save(&dir, &a).expect("again"), p, "same content, same name");
        std::fs::write(dir.join("broken.json"), "{ not json").expect("write");
        let (inputs, broken) = load(&dir).expect("load");
        assert_eq!(inputs, vec![a]);
        assert_eq!(broken.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
