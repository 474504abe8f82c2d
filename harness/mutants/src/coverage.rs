//! Coverage: every fact, decision and rule id with the scenarios that name it and the mutants
//! those scenarios kill; an id without a scenario is a gap.

use std::collections::{BTreeMap, BTreeSet};

use handshake_scenario::{Families, LoadedScenario};
use serde::Serialize;

use crate::{families_of, MutantsReport};

/// One id of the coverage report.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageEntry {
    /// A decision id (D1…), fact id or rule id.
    pub id: String,
    /// Scenarios that name it.
    pub scenarios: Vec<String>,
    /// Mutants those scenarios kill.
    pub kills: Vec<String>,
}

/// The coverage of a library: its entries by id, and the ids no scenario names.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// Every id, in order.
    pub entries: Vec<CoverageEntry>,
    /// The ids with no scenario.
    pub gaps: Vec<String>,
}

/// The coverage of `scenarios`, with the kills of a mutants run over them (`report`).
pub fn coverage(
    families: &Families,
    scenarios: &[LoadedScenario],
    report: &MutantsReport,
) -> Coverage {
    let mut ids: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for f in families_of(families, scenarios) {
        let c = f.citations();
        // A contract is adapted to, never judged: no scenario tests it.
        let known = c
            .decisions
            .iter()
            .filter(|d| d.class != handshake_scenario::Class::Contract)
            .map(|d| d.id)
            .chain(f.rules().iter().map(|r| r.id));
        for id in known {
            ids.entry(id.to_owned()).or_default();
        }
    }
    for s in scenarios {
        for id in s.cited() {
            ids.entry(id).or_default().0.insert(s.id().to_owned());
        }
    }
    for m in &report.mutants {
        for scenario in &m.caught_by {
            for (_, (scenarios_of, kills)) in ids.iter_mut() {
                if scenarios_of.contains(scenario) {
                    kills.insert(m.mutant.clone());
                }
            }
        }
    }
    let entries: Vec<CoverageEntry> = ids
        .into_iter()
        .map(|(id, (scenarios_of, kills))| CoverageEntry {
            id,
            scenarios: scenarios_of.into_iter().collect(),
            kills: kills.into_iter().collect(),
        })
        .collect();
    let gaps = entries
        .iter()
        .filter(|e| e.scenarios.is_empty())
        .map(|e| e.id.clone())
        .collect();
    Coverage { entries, gaps }
}

impl Coverage {
    /// The report as Markdown (`coverage.md`).
    pub fn markdown(&self) -> String {
        let mut md = String::from(
            "# Coverage\n\nEvery decision, fact and rule id with the scenarios that name it and the mutants those scenarios kill.\n\n| id | scenarios | mutants killed |\n|---|---:|---|\n",
        );
        for e in &self.entries {
            md.push_str(&format!(
                "| `{}` | {} | {} |\n",
                e.id,
                e.scenarios.len(),
                e.kills
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.gaps.is_empty() {
            md.push_str(&format!("\nGaps (no scenario): {}\n", self.gaps.join(", ")));
        }
        md
    }

    /// The report as JSON (`coverage.json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "ids": self.entries, "gaps": self.gaps })
    }
}
