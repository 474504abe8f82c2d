//! Hints after a run: which of the library's expectations files explain an IUT's failures, when
//! none was given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handshake_scenario::results::{Expectations, RunReport, Status};

/// The failed scenarios of `report`, by IUT.
pub fn failures_by_iut(report: &RunReport) -> BTreeMap<&str, Vec<&str>> {
    let mut failed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in report.results.iter().filter(|r| r.status == Status::Fail) {
        failed
            .entry(r.outcome.iut.as_str())
            .or_default()
            .push(r.outcome.scenario.as_str());
    }
    failed
}

/// For each IUT of `failed` (its failed scenarios): the expectations file in `dir` that names it,
/// and how many of the failures it lists. Unreadable folders and files give no hint.
pub fn known_failure_hints(dir: &Path, failed: &BTreeMap<&str, Vec<&str>>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    let mut hints = Vec::new();
    for path in files {
        let Ok(e) = handshake_scenario::json::load_file::<Expectations>(&path) else {
            continue;
        };
        let Some(scenarios) = failed.get(e.iut.as_str()) else {
            continue;
        };
        let known = scenarios
            .iter()
            .filter(|s| e.known_failures.contains_key(**s))
            .count();
        if known > 0 {
            hints.push(format!(
                "hint: {known} of the {} failures of {} are known and explained in {}: add --expectations {}",
                scenarios.len(),
                e.iut,
                path.display(),
                path.display()
            ));
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the file naming the failing IUT and one of its failures gives a hint, with the count.
    #[test]
    fn a_hint_names_the_file_that_explains_failures() {
        let dir = std::env::temp_dir().join(format!("report-hints-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let write = |name: &str, iut: &str, known: &str| {
            let text = format!(r#"{{"iut": "{iut}", "known_failures": {{"{known}": "why"}}}}"#);
            std::fs::write(dir.join(name), text).expect("write");
        };
        write("a.json", "ref:a", "s1");
        write("b.json", "ref:b", "s9");
        std::fs::write(dir.join("broken.json"), "{").expect("write");
        let failed = BTreeMap::from([("ref:a", vec!["s1", "s2"]), ("ref:b", vec!["s3"])]);
        let hints = known_failure_hints(&dir, &failed);
        let file = dir.join("a.json");
        assert_eq!(
            hints,
            [format!(
                "hint: 1 of the 2 failures of ref:a are known and explained in {}: add --expectations {}",
                file.display(),
                file.display()
            )]
        );
        assert!(known_failure_hints(&dir.join("absent"), &failed).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
