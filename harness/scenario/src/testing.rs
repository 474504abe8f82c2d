//! For the families' tests: their scenario libraries read as typed scenarios.

use std::path::{Path, PathBuf};

use crate::{Family, Role, Scenario};

/// The scenarios of `folder` (sorted by file name) whose IUT plays `role`, each with its file
/// stem. Panics on a file that does not parse: a test's library is known good.
pub fn scenarios_of<F: Family>(folder: &Path, role: Role) -> Vec<(String, Scenario<F>)> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect(),
        Err(e) => panic!("{}: {e}", folder.display()),
    };
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => panic!("{}: {e}", path.display()),
            };
            let scenario: Scenario<F> = match crate::json::from_str(&text) {
                Ok(s) => s,
                Err(e) => panic!("{}: {e}", path.display()),
            };
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            (scenario.iut.role == role).then_some((stem, scenario))
        })
        .collect()
}
