//! The mutants runner: runs a scenario library against every deliberately wrong variant (mutant)
//! of the reference endpoints or of an external program, compares each with its unmutated base and
//! says which scenarios (and checker rules) caught it, and how (a failure on the facts alone, or a
//! deviation from this project's profile decisions). `harness mutants` and `harness coverage` are
//! its command-line faces; this crate takes the families as a parameter and prints nothing.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};

use handshake_scenario::external::ExternalIut;
use handshake_scenario::outcome::Verdict;
use handshake_scenario::runner::{scenario_files, Plan};
use handshake_scenario::{DynFamily, Families, Iut, LoadedScenario};
use serde::Serialize;

mod coverage;
pub use coverage::{coverage, Coverage, CoverageEntry};

/// Why the mutants could not be run: the input (scenarios, manifest, mutant names) is unusable.
#[derive(Debug, thiserror::Error)]
pub enum MutantsError {
    /// The scenarios could not be found or loaded.
    #[error("{0}")]
    Scenarios(String),
    /// The mutants asked for do not exist, or the manifest lists none.
    #[error("{0}")]
    Selection(String),
}

/// Loads the scenarios of `paths` (files or folders, already resolved to the file system), leaves
/// out those with one of `skip_tags`, and sorts them by id.
pub fn load(
    families: &Families,
    paths: &[std::path::PathBuf],
    skip_tags: &[String],
) -> Result<Vec<LoadedScenario>, MutantsError> {
    let files = scenario_files(paths).map_err(|e| MutantsError::Scenarios(e.to_string()))?;
    let mut scenarios = families
        .load_all(&files)
        .map_err(|e| MutantsError::Scenarios(e.0))?;
    scenarios.retain(|s| !s.tags().iter().any(|t| skip_tags.contains(t)));
    scenarios.sort_by(|a, b| a.id().cmp(b.id()));
    Ok(scenarios)
}

/// How one mutant fared.
#[derive(Debug, Clone, Serialize)]
pub struct MutantResult {
    /// Mutant name.
    pub mutant: String,
    /// What it breaks.
    pub description: String,
    /// The IUT run (`ref:3way!media-before-ack`).
    pub iut: String,
    /// Scenarios that pass on the base profile and fail on the mutant.
    pub caught_by: Vec<String>,
    /// How the best of those caught it: `fail` (on the facts alone) or `deviation` (only with
    /// this project's profile decisions counted); absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caught_as: Option<CaughtAs>,
    /// Whether it must be caught as a failure: it breaks a fact (its description cites no id, or a
    /// fact among its ids). A mutant that breaks only profile decisions is caught by a deviation.
    pub must_fail: bool,
    /// Checker rules that fired on the mutant but not on the base, over those scenarios.
    pub rules: Vec<String>,
}

/// How a scenario caught a mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaughtAs {
    /// Only with this project's profile decisions counted: a deviation on the facts alone.
    Deviation,
    /// On the facts alone.
    Fail,
}

impl MutantResult {
    /// Whether it was caught as it must be: as a failure when it breaks a fact.
    pub fn caught(&self) -> bool {
        match self.caught_as {
            Some(CaughtAs::Fail) => true,
            Some(CaughtAs::Deviation) => !self.must_fail,
            None => false,
        }
    }
}

/// Whether a mutant described by `breaks` must fail: unless every decision id its description
/// cites is a profile decision (or weaker) of the families' tables, it breaks a fact. An id is
/// cited inside parentheses or right after the word "breaks" (`breaks D6: …`, `(D4.version)`), so
/// that ordinary words that happen to be ids (`wire`, `errors`) elsewhere in the text do not count.
fn must_fail(breaks: &str, families: &[&'static dyn handshake_scenario::DynFamily]) -> bool {
    // A description re-read against the audited tables says so at its end, and that part decides.
    let breaks = breaks
        .rsplit_once("audited against the sources")
        .map_or(breaks, |(_, audited)| audited);
    let classes: Vec<handshake_scenario::Class> = cited_ids(breaks)
        .into_iter()
        .filter_map(|w| families.iter().find_map(|f| f.citations().class(w)))
        .collect();
    classes.is_empty() || classes.contains(&handshake_scenario::Class::Fact)
}

/// The words of `text` in citation places: inside parentheses, and the word after "breaks".
fn cited_ids(text: &str) -> Vec<&str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_';
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut after_breaks = false;
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if word(c) {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            let w = text[s..i].trim_end_matches('.');
            if depth > 0 || after_breaks {
                out.push(w);
            }
            after_breaks = w.eq_ignore_ascii_case("breaks");
        }
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' | ' ' | ';' => {}
            _ => after_breaks = false,
        }
    }
    out
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct MutantsReport {
    /// Per mutant.
    pub mutants: Vec<MutantResult>,
    /// Caught / total.
    pub score: f64,
    /// Scenario ids run.
    pub scenarios: usize,
    /// Unmutated IUTs that passed none of the scenarios (they failed, or could not run: a command
    /// that does not start): their mutants cannot be caught, and the score means nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bases_passing_nothing: Vec<String>,
}

/// The families the scenarios belong to, in registry order.
pub fn families_of(
    families: &Families,
    scenarios: &[LoadedScenario],
) -> Vec<&'static dyn DynFamily> {
    families
        .0
        .iter()
        .copied()
        .filter(|f| scenarios.iter().any(|s| s.family() == f.name()))
        .collect()
}

/// A run's verdict in both readings: with this project's profile decisions counted (`strict`,
/// see `run_libraries`) and on the facts alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdicts {
    strict: Verdict,
    facts: Verdict,
}

impl Verdicts {
    fn of(outcome: &handshake_scenario::ScenarioOutcome) -> Verdicts {
        let strict = match (outcome.verdict, outcome.deviations.is_empty()) {
            (Verdict::Pass, false) => Verdict::Fail,
            (v, _) => v,
        };
        Verdicts {
            strict,
            facts: outcome.verdict,
        }
    }

    /// Whether a mutant with these verdicts is caught against its base's: it fails where the
    /// base passes, with profile decisions counted (the base keeps them, the mutant breaks one)
    /// or on the facts alone (the base only deviates there, the mutant breaks a fact).
    fn caught_against(self, base: Verdicts) -> bool {
        self.caught_as(base).is_some()
    }

    /// How a mutant with these verdicts is caught against its base's: a failure on the facts
    /// alone, else a deviation (a failure with profile decisions counted).
    fn caught_as(self, base: Verdicts) -> Option<CaughtAs> {
        let failed = |v: Verdict| matches!(v, Verdict::Fail | Verdict::Error);
        if base.facts == Verdict::Pass && failed(self.facts) {
            Some(CaughtAs::Fail)
        } else if base.strict == Verdict::Pass && failed(self.strict) {
            Some(CaughtAs::Deviation)
        } else {
            None
        }
    }

    /// Whether the base passes in either reading (so a mutant can be caught there).
    fn passes(self) -> bool {
        self.strict == Verdict::Pass || self.facts == Verdict::Pass
    }
}

type LibraryResult = BTreeMap<String, (Verdicts, BTreeSet<String>)>;

/// The base verdicts by scenario, the set of IUTs caught so far, and the IUTs a deviation catches
/// (they break no fact; see [`run_libraries`]).
type Catching<'a> = (
    &'a BTreeMap<String, Verdicts>,
    &'a std::sync::Mutex<BTreeSet<String>>,
    &'a BTreeSet<String>,
);

/// Runs the library against every IUT at once (one pool of workers: real-time runs mostly wait),
/// and returns each IUT's results by name. With `catching`, a run of an IUT whose name is in the
/// set is skipped, and a run that `catching`'s base verdicts say it is caught by adds the IUT to
/// the set.
fn run_libraries(
    scenarios: &[LoadedScenario],
    iuts: Vec<Iut>,
    jobs: usize,
    catching: Option<Catching<'_>>,
) -> BTreeMap<String, LibraryResult> {
    let plan = Plan {
        scenarios: scenarios.to_vec(),
        iuts,
        seed: None,
        repeat: 1,
        partition: None,
        jobs,
        expectations: BTreeMap::new(),
        // A mutant is compared with its own base, not with the facts alone: where the base keeps
        // this project's profile decisions (P1-P5, D1-D14) and the mutant breaks one, the suite
        // has noticed the difference, so it counts (a scenario that is only a deviation on the
        // base is not `pass` there and catches nothing).
        strict_profile: true,
        shortest_first: catching.is_some(),
    };
    let caught =
        |name: &str| catching.is_some_and(|(_, c, _)| c.lock().is_ok_and(|c| c.contains(name)));
    let report = plan.run_skipping(
        |_, entry| {
            let Some((base, c, by_deviation)) = catching else {
                return;
            };
            // A failure ends a mutant's run early, and so does a deviation for one that breaks no
            // fact; one that breaks a fact runs on past a deviation, since it must fail.
            let catches = base.get(&entry.outcome.scenario).is_some_and(|b| {
                match Verdicts::of(&entry.outcome).caught_as(*b) {
                    Some(CaughtAs::Fail) => true,
                    Some(CaughtAs::Deviation) => by_deviation.contains(&entry.outcome.iut),
                    None => false,
                }
            });
            if catches {
                if let Ok(mut c) = c.lock() {
                    c.insert(entry.outcome.iut.clone());
                }
            }
        },
        |w| caught(w.iut.name()).then(|| "not run: the mutant was already caught".to_owned()),
    );
    let mut out: BTreeMap<String, LibraryResult> = BTreeMap::new();
    for r in report.results {
        out.entry(r.outcome.iut.clone()).or_default().insert(
            r.outcome.scenario.clone(),
            (
                Verdicts::of(&r.outcome),
                r.outcome.rules_fired.keys().cloned().collect(),
            ),
        );
    }
    out
}

/// The catches of `candidates` that hold when each scenario runs again alone: `mutant` is caught
/// against `base` once more (all of them, or the first that holds with `stop_at_first`).
fn confirmed(
    scenarios: &[LoadedScenario],
    base: &Iut,
    mutant: &Iut,
    candidates: Vec<String>,
    stop_at_first: bool,
) -> Vec<String> {
    let mut held = Vec::new();
    for id in candidates {
        let Some(s) = scenarios.iter().find(|s| s.id() == id) else {
            continue;
        };
        let seed = s.seed().unwrap_or(1);
        let base_verdicts = Verdicts::of(&s.run(base, seed));
        if Verdicts::of(&s.run(mutant, seed)).caught_against(base_verdicts) {
            held.push(id);
            if stop_at_first {
                break;
            }
        }
    }
    held
}

/// Whose mutants to run.
pub enum Subject {
    /// The reference endpoints' mutants (of the families the scenarios belong to).
    Reference(Vec<&'static dyn handshake_scenario::DynFamily>),
    /// An external program's, from its manifest.
    External(Box<ExternalIut>),
}

/// The mutants to run: (name, what it breaks, the IUT, the base it is compared with).
fn selected(
    families: &Families,
    subject: &Subject,
    only: &[String],
) -> Result<Vec<(String, String, Iut, String)>, String> {
    let chosen = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let list: Vec<(String, String, Iut, String)> = match subject {
        Subject::Reference(of_scenarios) => of_scenarios
            .iter()
            .flat_map(|f| f.mutants().into_iter().map(move |m| (f.name(), m)))
            .filter(|(_, m)| chosen(m.name))
            .map(|(family, m)| {
                let iut = families.reference(&format!("{family}/{}!{}", m.base, m.name))?;
                let base = families.reference(&format!("{family}/{}", m.base))?;
                Ok((
                    m.name.to_owned(),
                    m.breaks.to_owned(),
                    iut,
                    base.name().to_owned(),
                ))
            })
            .collect::<Result<_, String>>()?,
        Subject::External(base) => {
            let listed = base
                .manifest()
                .map(|m| m.mutants.clone())
                .unwrap_or_default();
            if listed.is_empty() {
                return Err(format!(
                    "{}: the manifest lists no `mutants` (and a `mutant` flag to select them)",
                    base.name()
                ));
            }
            for o in only {
                if !listed.contains_key(o) {
                    base.with_mutant(o)?;
                }
            }
            listed
                .iter()
                .filter(|(name, _)| chosen(name))
                .map(|(name, what)| {
                    let iut = Iut::External(Box::new(base.with_mutant(name)?));
                    Ok((name.clone(), what.clone(), iut, base.name().to_owned()))
                })
                .collect::<Result<_, String>>()?
        }
    };
    if list.is_empty() {
        return Err(format!("no such mutant: {}", only.join(", ")));
    }
    Ok(list)
}

/// Runs every (selected) mutant against the library and compares it with its base.
pub fn mutants(
    families: &Families,
    scenarios: &[LoadedScenario],
    subject: &Subject,
    only: &[String],
    jobs: usize,
    stop_at_first: bool,
) -> Result<MutantsReport, MutantsError> {
    let selected = selected(families, subject, only).map_err(MutantsError::Selection)?;
    let mut iuts: Vec<Iut> = Vec::new();
    let mut base_names: BTreeSet<String> = BTreeSet::new();
    for (_, _, _, base) in &selected {
        if base_names.insert(base.clone()) {
            iuts.push(match subject {
                Subject::Reference(_) => families
                    .parse_iut(base)
                    .map_err(|e| MutantsError::Selection(e.to_string()))?,
                Subject::External(b) => Iut::External(b.clone()),
            });
        }
    }
    let mutants: Vec<Iut> = selected.iter().map(|(_, _, iut, _)| iut.clone()).collect();
    let results = if stop_at_first && base_names.len() == 1 {
        // The base first, then every mutant until a scenario that passed on the base fails on it.
        let mut results = run_libraries(scenarios, iuts, jobs, None);
        let base: BTreeMap<String, Verdicts> = results
            .values()
            .flat_map(|r| r.iter())
            .filter(|(_, (v, _))| v.passes())
            .map(|(id, (v, _))| (id.clone(), *v))
            .collect();
        let caught = std::sync::Mutex::new(BTreeSet::new());
        let scenario_families = families_of(families, scenarios);
        let by_deviation: BTreeSet<String> = selected
            .iter()
            .filter(|(_, description, _, _)| !must_fail(description, &scenario_families))
            .map(|(_, _, iut, _)| iut.name().to_owned())
            .collect();
        results.extend(run_libraries(
            scenarios,
            mutants,
            jobs,
            Some((&base, &caught, &by_deviation)),
        ));
        results
    } else {
        iuts.extend(mutants);
        run_libraries(scenarios, iuts, jobs, None)
    };
    let mut out = Vec::new();
    for (name, description, iut, base_name) in selected {
        let iut_name = iut.name().to_owned();
        let base = results.get(&base_name).cloned().unwrap_or_default();
        let mutated = results.get(&iut_name).cloned().unwrap_or_default();
        let mut caught_by = Vec::new();
        let mut rules = BTreeSet::new();
        let mut how: BTreeMap<String, CaughtAs> = BTreeMap::new();
        for (id, (verdicts, fired)) in &mutated {
            let Some((base_verdicts, base_fired)) = base.get(id) else {
                continue;
            };
            if let Some(c) = verdicts.caught_as(*base_verdicts) {
                caught_by.push(id.clone());
                how.insert(id.clone(), c);
                rules.extend(fired.difference(base_fired).cloned());
            }
        }
        // In real time a loaded machine can fail a scenario by its timing alone: a catch counts
        // only when the scenario, run again on its own, passes on the base and fails on the
        // mutant once more.
        if let Subject::External(b) = subject {
            let base_iut = Iut::External(b.clone());
            let mut tried: BTreeSet<String> = caught_by.iter().cloned().collect();
            caught_by = confirmed(scenarios, &base_iut, &iut, caught_by, stop_at_first);
            // With --stop-at-first the rest of the library was skipped for this mutant: when the
            // first catches did not hold, every scenario not tried yet runs (half the workers,
            // without stopping at a first failure, which may be load again), and their catches
            // are confirmed the same way.
            if caught_by.is_empty() && stop_at_first && !tried.is_empty() {
                let passing: BTreeSet<String> = base
                    .iter()
                    .filter(|(id, (v, _))| v.passes() && !tried.contains(*id))
                    .map(|(id, _)| id.clone())
                    .collect();
                let rest: Vec<LoadedScenario> = scenarios
                    .iter()
                    .filter(|s| passing.contains(s.id()))
                    .cloned()
                    .collect();
                let again = run_libraries(&rest, vec![iut.clone()], (jobs / 2).max(1), None);
                let mut candidates: Vec<String> = Vec::new();
                for (id, (v, _)) in again.get(&iut_name).into_iter().flat_map(|r| r.iter()) {
                    if let Some(c) = base.get(id).and_then(|(b, _)| v.caught_as(*b)) {
                        how.insert(id.clone(), c);
                        candidates.push(id.clone());
                    }
                }
                tried.extend(candidates.iter().cloned());
                caught_by = confirmed(scenarios, &base_iut, &iut, candidates, stop_at_first);
            }
        }
        let caught_as = caught_by.iter().filter_map(|id| how.get(id)).max().copied();
        // Failures first: the scenarios that caught it on the facts alone.
        caught_by.sort_by_key(|id| std::cmp::Reverse(how.get(id).copied()));
        out.push(MutantResult {
            mutant: name,
            must_fail: must_fail(&description, &families_of(families, scenarios)),
            description,
            iut: iut_name,
            caught_by,
            caught_as,
            rules: rules.into_iter().collect(),
        });
    }
    let caught = out.iter().filter(|r| r.caught()).count();
    let bases_passing_nothing = base_names
        .into_iter()
        .filter(|b| {
            !results
                .get(b)
                .is_some_and(|r| r.values().any(|(v, _)| v.passes()))
        })
        .collect();
    Ok(MutantsReport {
        score: caught as f64 / out.len().max(1) as f64,
        mutants: out,
        scenarios: scenarios.len(),
        bases_passing_nothing,
    })
}

/// The report as Markdown (`mutants.md`).
pub fn markdown(report: &MutantsReport) -> String {
    let caught = report.mutants.iter().filter(|m| m.caught()).count();
    let mut md = format!(
        "# Mutants\n\nMutation score: {caught}/{} ({:.0} %) over {} scenarios. A mutant that breaks a fact counts only when a scenario fails on it; one that breaks only profile decisions counts when one deviates.\n\n| mutant | breaks | caught as | caught by | rules that fired |\n|---|---|---|---|---|\n",
        report.mutants.len(),
        report.score * 100.0,
        report.scenarios
    );
    for m in &report.mutants {
        let by = if m.caught_by.is_empty() {
            "**not caught**".to_owned()
        } else {
            m.caught_by
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rules = m
            .rules
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ");
        md.push_str(&format!(
            "| `{}` | {} | {} | {by} | {rules} |\n",
            m.iut,
            m.description,
            caught_as_text(m)
        ));
    }
    md
}

/// How a mutant was caught, in words: `fail`, `deviation` (and, for one that breaks a fact,
/// `deviation only: a fact must fail`), or `not caught`.
pub fn caught_as_text(m: &MutantResult) -> &'static str {
    match (m.caught_as, m.must_fail) {
        (Some(CaughtAs::Fail), _) => "fail",
        (Some(CaughtAs::Deviation), false) => "deviation",
        (Some(CaughtAs::Deviation), true) => "DEVIATION ONLY (it breaks a fact: it must fail)",
        (None, _) => "NOT CAUGHT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(strict: Verdict, facts: Verdict) -> Verdicts {
        Verdicts { strict, facts }
    }

    #[test]
    fn ids_are_cited_in_parentheses_or_after_breaks() {
        assert_eq!(
            cited_ids("responder, breaks D6: no media (D6.no_media_before_ack, D7) on the wire"),
            vec!["D6", "D6.no_media_before_ack", "D7"]
        );
        assert_eq!(
            cited_ids("a zero-length message is not answered with STREAM_ERROR"),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_failure_on_the_facts_where_the_base_passes_is_caught_as_fail() {
        let base = verdicts(Verdict::Pass, Verdict::Pass);
        let mutant = verdicts(Verdict::Fail, Verdict::Fail);
        assert_eq!(mutant.caught_as(base), Some(CaughtAs::Fail));
        // The base only deviating (strict fail, facts pass) still lets a fact failure catch.
        let deviating_base = verdicts(Verdict::Fail, Verdict::Pass);
        assert_eq!(mutant.caught_as(deviating_base), Some(CaughtAs::Fail));
        // An error counts as a failure too.
        let errored = verdicts(Verdict::Error, Verdict::Error);
        assert_eq!(errored.caught_as(base), Some(CaughtAs::Fail));
    }

    #[test]
    fn a_deviation_where_the_base_keeps_the_reading_is_caught_as_deviation() {
        let base = verdicts(Verdict::Pass, Verdict::Pass);
        let deviating = verdicts(Verdict::Fail, Verdict::Pass);
        assert_eq!(deviating.caught_as(base), Some(CaughtAs::Deviation));
        // Where the base deviates too, the mutant's deviation tells nothing.
        assert_eq!(
            deviating.caught_as(verdicts(Verdict::Fail, Verdict::Pass)),
            None
        );
        // A base failing on the facts catches nothing.
        let failing_base = verdicts(Verdict::Fail, Verdict::Fail);
        assert_eq!(
            verdicts(Verdict::Fail, Verdict::Fail).caught_as(failing_base),
            None
        );
        assert!(!failing_base.passes());
    }

    #[test]
    fn a_mutant_that_breaks_a_fact_counts_only_when_caught_as_fail() {
        let result = |caught_as, must_fail| MutantResult {
            mutant: "m".into(),
            description: String::new(),
            iut: "ref:x!m".into(),
            caught_by: vec![],
            caught_as,
            must_fail,
            rules: vec![],
        };
        assert!(result(Some(CaughtAs::Fail), true).caught());
        assert!(!result(Some(CaughtAs::Deviation), true).caught());
        assert!(result(Some(CaughtAs::Deviation), false).caught());
        assert!(!result(None, false).caught());
        assert_eq!(
            caught_as_text(&result(Some(CaughtAs::Deviation), true)),
            "DEVIATION ONLY (it breaks a fact: it must fail)"
        );
    }

    #[test]
    fn a_description_citing_no_id_breaks_a_fact() {
        assert!(must_fail("answers nothing at all", &[]));
    }
}
