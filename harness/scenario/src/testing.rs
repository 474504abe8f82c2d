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

/// Asserts a family's learning alphabets are well formed: each setup a JSON object's members,
/// each input's steps a non-empty JSON array (with the window set), each seed word made of the
/// alphabet's inputs, and a `wait` input (or `wait_…`) that lets timers fire.
pub fn assert_alphabets_parse(learning: &crate::Learning) {
    for alphabet in learning.alphabets {
        let part = alphabet.part.unwrap_or("(whole role)");
        let setup: Result<serde_json::Value, _> =
            serde_json::from_str(&format!("{{{}}}", alphabet.setup));
        assert!(setup.is_ok_and(|s| s.is_object()), "{part}: setup");
        for (name, steps) in alphabet.inputs {
            let steps: serde_json::Value = serde_json::from_str(&steps.replace("WINDOW_MS", "5"))
                .unwrap_or_else(|e| panic!("{part}: {name}: {e}"));
            assert!(
                steps.as_array().is_some_and(|a| !a.is_empty()),
                "{part}: {name}"
            );
        }
        for word in alphabet.seeds {
            for input in word.split_whitespace() {
                assert!(
                    alphabet.inputs.iter().any(|(name, _)| *name == input),
                    "{part}: seed `{word}`: no input `{input}`"
                );
            }
        }
        // A server's timers are within a query's reach (a wait lets them fire); a client's may
        // not be (Proton's: its operation timeout is 300 s), and its alphabet is then untimed.
        assert!(
            alphabet.role == crate::Role::Initiator
                || alphabet
                    .inputs
                    .iter()
                    .any(|(name, _)| name.starts_with("wait")),
            "{part}: no wait"
        );
    }
}

/// How a family's unit enum disagrees with its vocabulary's unit kinds (empty: they agree), given
/// one sample of each variant: every kind listed is some sample's, every sample's kind is listed,
/// and each with the same fields (`kind` aside).
pub fn unit_kind_mismatches<F: Family>(samples: &[F::Unit]) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sample in samples {
        let value = crate::family::unit_json(sample);
        let Some(object) = value.as_object() else {
            problems.push(format!("{value} is not an object"));
            continue;
        };
        let Some(kind) = object.get("kind").and_then(serde_json::Value::as_str) else {
            problems.push(format!("{value} has no kind"));
            continue;
        };
        let fields = object.keys().filter(|k| *k != "kind").cloned().collect();
        seen.insert(kind.to_owned(), fields);
    }
    for (kind, listed) in F::VOCABULARY.units {
        let listed: BTreeSet<String> = listed
            .iter()
            .filter(|f| **f != "kind")
            .map(|f| (*f).to_owned())
            .collect();
        match seen.remove(*kind) {
            None => problems.push(format!("`{kind}` is listed, but no sample is one")),
            Some(fields) if fields != listed => {
                problems.push(format!("`{kind}` lists {listed:?}, serializes {fields:?}"))
            }
            Some(_) => {}
        }
    }
    problems.extend(seen.keys().map(|k| format!("`{k}` is not listed")));
    problems
}
