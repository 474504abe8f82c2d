//! Runs a selection of scenarios against IUTs: selection (paths, tags, partition), seeds and
//! repetitions, parallel jobs, and expected failures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::outcome::{ScenarioOutcome, Verdict};
use crate::registry::{Iut, LoadedScenario};
use crate::results::{Expectations, ResultEntry, RunReport, Status, RESULTS_VERSION};
use crate::ReadError;

/// Every `*.json` under `paths` (files as given, directories recursively), sorted, deduplicated.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReadError> {
        let entries = std::fs::read_dir(dir).map_err(|source| ReadError::Io {
            path: dir.to_owned(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|x| x == "json") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(ReadError::Missing { path: p.clone() });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenarios (already loaded and filtered), sorted by id.
    pub scenarios: Vec<LoadedScenario>,
    /// The IUTs.
    pub iuts: Vec<Iut>,
    /// `--seed`: overrides every scenario's own seed.
    pub seed: Option<u64>,
    /// Repetitions (each with seed + r − 1).
    pub repeat: u32,
    /// Shard `k` of `n` (1-based).
    pub partition: Option<(usize, usize)>,
    /// Parallel workers.
    pub jobs: usize,
    /// Expected failures per IUT name.
    pub expectations: BTreeMap<String, Expectations>,
    /// Deviations from this project's profile decisions fail the run (`--strict-profile`).
    pub strict_profile: bool,
    /// Start the shortest real-time runs first instead of the longest (when an early result can
    /// make later runs unnecessary, as for `harness mutants --stop-at-first`).
    pub shortest_first: bool,
}

/// Parses `K/N`.
pub fn parse_partition(text: &str) -> Result<(usize, usize), crate::Error> {
    let bad = |why| crate::Error::Partition {
        text: text.to_owned(),
        why,
    };
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| bad("expected K/N, e.g. 2/4"))?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad("K is not a number"))?,
        n.trim().parse().map_err(|_| bad("N is not a number"))?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(bad("need 1 <= K <= N"));
    }
    Ok((k, n))
}

impl Plan {
    /// The scenarios this shard runs.
    pub fn selected(&self) -> Vec<&LoadedScenario> {
        self.scenarios
            .iter()
            .enumerate()
            .filter(|(i, _)| self.partition.is_none_or(|(k, n)| i % n == k - 1))
            .map(|(_, s)| s)
            .collect()
    }

    /// Every run the plan makes, in report order (scenario, IUT, repetition).
    pub fn work(&self) -> Vec<Work<'_>> {
        let mut work = Vec::new();
        for scenario in self.selected() {
            for iut in &self.iuts {
                for repetition in 1..=self.repeat.max(1) {
                    work.push(Work {
                        scenario,
                        iut,
                        repetition,
                    });
                }
            }
        }
        work
    }

    /// Runs everything; `progress` is called with each result as it completes (any order) and its
    /// index in [`work`](Self::work) order, which is also the report's order.
    ///
    /// Real-time runs start longest first (the makespan of many short waits on few cores), and an
    /// IUT the system reports unreachable is not tried again. When the run is interrupted
    /// ([`crate::interrupt`]) no new run starts: the runs cut short and those never started are
    /// reported as [`Status::Interrupted`].
    pub fn run(&self, progress: impl Fn(usize, &ResultEntry) + Sync) -> RunReport {
        self.run_skipping(progress, |_| None)
    }

    /// As [`run`](Self::run), but a run for which `skip` gives a reason when its turn comes is not
    /// started: it is reported `unsupported` with that reason (`harness mutants --stop-at-first`
    /// skips the rest of a mutant's library once it is caught).
    pub fn run_skipping(
        &self,
        progress: impl Fn(usize, &ResultEntry) + Sync,
        skip: impl Fn(&Work<'_>) -> Option<String> + Sync,
    ) -> RunReport {
        let work = self.work();
        let mut order: Vec<usize> = (0..work.len()).collect();
        order.sort_by_key(|&i| {
            let ms = work.get(i).map_or(0, |w| w.scenario.expected_ms(w.iut));
            if self.shortest_first {
                ms as i128
            } else {
                -(ms as i128)
            }
        });
        let results: Vec<Mutex<Option<ResultEntry>>> =
            work.iter().map(|_| Mutex::new(None)).collect();
        let unreachable: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.max(1).min(work.len().max(1)) {
                scope.spawn(|| loop {
                    if handshake_net::interrupt::interrupted().is_some() {
                        break;
                    }
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let Some(w) = work.get(i) else {
                        break;
                    };
                    let dead = unreachable
                        .lock()
                        .ok()
                        .and_then(|u| u.get(w.iut.name()).cloned());
                    let entry = match (dead, skip(w)) {
                        (Some(why), _) => self.entry(
                            w,
                            w.scenario
                                .outcome_without_run(w.iut.name(), Verdict::Error, why),
                        ),
                        (None, Some(why)) => self.entry(
                            w,
                            w.scenario
                                .outcome_without_run(w.iut.name(), Verdict::Unsupported, why),
                        ),
                        (None, None) => self.run_one(w),
                    };
                    if entry.outcome.iut_unreachable {
                        if let (Ok(mut u), Some(why)) =
                            (unreachable.lock(), entry.outcome.reasons.first())
                        {
                            u.entry(w.iut.name().to_owned()).or_insert(why.clone());
                        }
                    }
                    progress(i, &entry);
                    if let Some(slot) = results.get(i) {
                        if let Ok(mut slot) = slot.lock() {
                            *slot = Some(entry);
                        }
                    }
                });
            }
        });
        let results = results
            .into_iter()
            .zip(&work)
            .map(|(slot, w)| {
                slot.into_inner().ok().flatten().unwrap_or_else(|| {
                    let mut o = w.scenario.outcome_without_run(
                        w.iut.name(),
                        Verdict::Error,
                        "not started: the run was interrupted".into(),
                    );
                    o.interrupted = true;
                    self.entry(w, o)
                })
            })
            .collect();
        RunReport {
            version: RESULTS_VERSION,
            seed: self.seed.unwrap_or(1),
            partition: self.partition.map(|(k, n)| format!("{k}/{n}")),
            results,
        }
    }

    fn seed_of(&self, w: &Work<'_>) -> u64 {
        let base = self.seed.or(w.scenario.seed()).unwrap_or(1);
        base.wrapping_add(u64::from(w.repetition) - 1)
    }

    fn run_one(&self, w: &Work<'_>) -> ResultEntry {
        let outcome = w.scenario.run(w.iut, self.seed_of(w));
        self.entry(w, outcome)
    }

    fn entry(&self, w: &Work<'_>, outcome: ScenarioOutcome) -> ResultEntry {
        let expected_failure = self
            .expectations
            .get(w.iut.name())
            .and_then(|e| e.known_failures.get(w.scenario.id()))
            .cloned();
        let status = if outcome.interrupted {
            Status::Interrupted
        } else {
            Status::of(
                outcome.verdict,
                !outcome.deviations.is_empty(),
                expected_failure.as_deref(),
                self.strict_profile,
            )
        };
        let duration_ms = outcome.transcript.last().map_or(0.0, |l| l.at_ms);
        ResultEntry {
            outcome,
            status,
            expected_failure,
            repetition: w.repetition,
            seed: self.seed_of(w),
            duration_ms,
        }
    }
}

/// One run of a plan: a scenario against an IUT, one repetition.
#[derive(Debug, Clone, Copy)]
pub struct Work<'a> {
    /// The scenario.
    pub scenario: &'a LoadedScenario,
    /// The IUT.
    pub iut: &'a Iut,
    /// From 1.
    pub repetition: u32,
}
