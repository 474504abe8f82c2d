//! Layer 5's scenario engine: JSON scenarios (see [`model`]), a scripted peer, and runs against an
//! implementation under test — in-process reference profiles in virtual time ([`engine`]), external
//! programs over real UDP in real time ([`external`]) — with the capture checked and the outcome
//! judged ([`outcome`]).
#![forbid(unsafe_code)]

pub mod citations;
pub mod engine;
pub mod external;
pub mod interrupt;
pub mod json;
pub mod model;
pub mod outcome;
pub mod report;
pub mod runner;
pub mod script;
pub mod validate;

use std::path::{Path, PathBuf};

pub use model::Scenario;
pub use outcome::{ScenarioOutcome, Verdict};

/// Reads a user's text file: a clear error for a missing file and for bytes that are not UTF-8
/// (with the offset of the first bad byte).
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not UTF-8 text (byte {} is not valid UTF-8): scenario, manifest and expectations files are JSON in UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Loads and validates a scenario file. The error lists every problem found, each as
/// `file:line:column: what was wrong and what was expected (at path)`.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = read_text(path).map_err(LoadError)?;
    let scenario: Scenario =
        json::from_str(&text).map_err(|e| LoadError(format!("{}:{e}", path.display())))?;
    let problems = validate::problems(&scenario);
    if problems.is_empty() {
        return Ok(scenario);
    }
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            let (line, column) = json::locate(&text, &p.path).unwrap_or((1, 1));
            format!(
                "{}:{line}:{column}: {} (at {})",
                path.display(),
                p.message,
                json::path_text(&p.path)
            )
        })
        .collect();
    Err(LoadError(lines.join("\n")))
}

/// Loads every file; all problems of all files are reported (not only the first), and a
/// scenario id used twice names both files.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Scenario>, LoadError> {
    let mut scenarios: Vec<(PathBuf, Scenario)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for path in paths {
        match load(path) {
            Ok(s) => scenarios.push((path.clone(), s)),
            Err(e) => errors.push(e.0),
        }
    }
    let mut seen: std::collections::BTreeMap<&str, &Path> = std::collections::BTreeMap::new();
    for (path, s) in &scenarios {
        if let Some(first) = seen.insert(&s.id, path) {
            errors.push(format!(
                "{}: scenario id `{}` is already used by {}",
                path.display(),
                s.id,
                first.display()
            ));
        }
    }
    if errors.is_empty() {
        Ok(scenarios.into_iter().map(|(_, s)| s).collect())
    } else {
        let files = errors.len();
        Err(LoadError(format!(
            "{}\n{files} file{} cannot be used",
            errors.join("\n"),
            if files == 1 { "" } else { "s" }
        )))
    }
}

/// Checks what the schema cannot (see [`validate`]); the first problem, without a position.
pub fn validate(s: &Scenario) -> Result<(), String> {
    match validate::problems(s).into_iter().next() {
        None => Ok(()),
        Some(p) => Err(format!("{} (at {})", p.message, json::path_text(&p.path))),
    }
}

/// A scenario file that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);
