//! Running one fuzz input and judging what it did to the IUT.
//!
//! An input is a scenario whose steps were mutated. Before it runs, the family's liveness probe
//! (a fresh, valid session that must get an answer) is appended, so one run tells both what the
//! input did and whether the IUT still serves afterwards; external IUTs are started afresh for
//! every input (their manifest's command), which is the restart between inputs. What counts:
//!
//! - **crash**: the IUT's process ended on its own with a failure (a non-zero exit code or a
//!   signal) before the run did;
//! - **memory**: the IUT's process group grew past the memory bound (its peak resident memory,
//!   read before the harness ends it);
//! - **flood**: the IUT sent more in one run than the harness keeps (its memory budget)
//!   where the family's reference, given the same input, stays within the run budget;
//! - **hang**: the run did not settle (virtual time), or the probe got no answer while the
//!   family's reference, given the same input, answers it;
//! - **rule**: the judge found a rule broken that the family's reference does not break on the
//!   same input (a judge also looks at what the mutated scripted peer sent).

use handshake_netfuzz::arbitrary::{self, Unstructured};
use handshake_netfuzz::campaign::{with_steps, Blamed, Executed, Executor, Judged, Verdict};
use handshake_netfuzz::mutate::{self, Mutator};
use handshake_netfuzz::novelty::Kinds;
use handshake_netfuzz::schema::Steps;
use handshake_scenario::engine::OVER_BUDGET;
use handshake_scenario::external::ExternalIut;
use handshake_scenario::external::{FLOODED, PEAK_MEMORY};
use handshake_scenario::{DynFamily, Iut, ScenarioOutcome, Verdict as OutcomeVerdict};
use serde_json::Value;
use std::collections::{BTreeSet, VecDeque};

/// The family's mutator: its step shapes (read from its scenario schema) and its layouts.
pub struct FamilyMutator {
    family: &'static dyn DynFamily,
    shapes: Steps,
    /// Inputs run over real UDP, where a delay costs its length.
    real_time: bool,
}

impl FamilyMutator {
    pub fn new(family: &'static dyn DynFamily, real_time: bool) -> FamilyMutator {
        let schema = serde_json::to_value(family.scenario_schema()).unwrap_or_default();
        FamilyMutator {
            family,
            shapes: Steps::from_schema(&schema),
            real_time,
        }
    }
}

impl Mutator for FamilyMutator {
    fn mutate_value(
        &self,
        step: &str,
        path: &[String],
        body: &mut Value,
        u: &mut Unstructured<'_>,
    ) -> arbitrary::Result<bool> {
        (self.family.fuzz().value)(step, path, body, u)
    }

    fn text_values(&self, step: &str, path: &[String]) -> Vec<String> {
        (self.family.fuzz().text)(step, path)
    }

    fn edges(&self, step: &str, path: &[String]) -> &'static [u64] {
        (self.family.fuzz().edges)(step, path)
    }

    fn shapes(&self) -> Option<&Steps> {
        Some(&self.shapes)
    }

    fn delays_ms(&self) -> &'static [u64] {
        if self.real_time {
            &mutate::REAL_TIME_DELAYS_MS
        } else {
            &mutate::DELAYS_MS
        }
    }
}

/// What one input did in the search.
struct Searched {
    pub outcome: ScenarioOutcome,
    /// What the outcome shows is wrong with the IUT.
    pub verdict: Option<Verdict>,
    /// For a verdict over real UDP, the input's verdict run again on a fresh process: real-time
    /// verdicts vary, and a kept process carries what earlier inputs left in it (a responder slowed
    /// by them misses a probe now and then).
    pub fresh: Option<Option<Verdict>>,
    /// A crash or hang the fresh run did not show, traced to another input the kept process
    /// served lately.
    pub blamed: Option<Box<Blamed>>,
}

/// How many of the inputs a kept process served lately are kept, per process, to find the one to
/// blame when it dies or stops serving: the media stream's responder serves 8 at once, and a hang
/// shows only in the runs after the one that did it.
const RECENT_PER_PROCESS: usize = 24;

/// Kept processes whose recent inputs are remembered (the least recently used is forgotten): more
/// than a search keeps at once.
const PROCESSES_REMEMBERED: usize = 64;

/// The inputs each kept process served lately (newest last), by process id, the process that
/// served last at the end.
#[derive(Default)]
pub struct Recent(std::sync::Mutex<Vec<(u32, VecDeque<Value>)>>);

impl Recent {
    fn served(&self, pid: u32, input: &Value) {
        let mut recent = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut inputs = match recent.iter().position(|(p, _)| *p == pid) {
            Some(i) => recent.remove(i).1,
            None => VecDeque::new(),
        };
        if inputs.len() == RECENT_PER_PROCESS {
            inputs.pop_front();
        }
        inputs.push_back(input.clone());
        if recent.len() == PROCESSES_REMEMBERED {
            recent.remove(0);
        }
        recent.push((pid, inputs));
    }

    /// The inputs `pid` served, newest first, taken out: of the runs that saw it end, the first
    /// to ask replays them, the others find none.
    fn take(&self, pid: u32) -> Vec<Value> {
        let mut recent = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match recent.iter().position(|(p, _)| *p == pid) {
            Some(i) => recent.remove(i).1.into_iter().rev().collect(),
            None => Vec::new(),
        }
    }
}

/// How many times longer the probe waits over real UDP in the runs that confirm a finding, and in
/// the scenario written for it: an IUT slowed by the search's own load (many jobs on few cores,
/// each with its processes) can miss the probe's usual window — a responder behind a slow proxy
/// missed it in 21 of 32 runs 16 at a time, and was reported hung — where a hung one misses any.
const PATIENCE: u64 = 5;

/// Runs inputs against the IUT and, when needed, against the reference it is compared with.
pub struct Runner<'a> {
    pub family: &'static dyn DynFamily,
    pub iut: &'a Iut,
    /// The IUT as the search runs it: an external responder kept running from one input to the
    /// next (restarted when an input left it dead or not serving). Verdicts are confirmed, and
    /// findings minimised, on `iut`, started afresh for every run as `harness run` does.
    pub search_iut: Iut,
    /// The references the IUT is compared with, in preference order: an input is compared with
    /// the first that can run it (empty: none).
    pub baseline: Vec<Iut>,
    pub seed: u64,
    /// An external IUT whose process group's peak memory passes this many kB is a finding.
    pub max_memory_kb: u64,
    /// Kinds of verdict the run no longer minimises (enough tries): not confirmed either.
    pub done_kinds: std::sync::Mutex<BTreeSet<String>>,
    /// Whether a rule resting on a profile decision makes a finding (else only the facts' do: a
    /// program that reads a silence of the facts otherwise is not wrong).
    pub strict_profile: bool,
    /// The inputs each kept process served lately, to blame one when it dies or stops serving.
    pub recent: Recent,
    /// Whether a crash or hang a fresh process does not show is traced by replaying `recent`.
    pub blame: bool,
    /// One input in this many on a kept process is probed (see `FuzzHooks::kept_probe_every`).
    pub probe_every: u64,
    /// Inputs run on kept processes, to draw which are probed.
    pub kept_inputs: std::sync::atomic::AtomicU64,
}

/// Simulation steps and link events (a datagram sent and delivered is two) one input may take
/// in virtual time (an injected datagram counts as one): over six times what the library's
/// largest skeleton needs with its probe (under 300; a test checks each fits), so that a count
/// mutated to thousands, or an option asking the reference for gigabits of media, costs no
/// more than a few dozen ordinary inputs. A run that needs more is not judged (`over_budget`).
/// Over real UDP the sends an input's steps ask for are held to the same number.
pub const RUN_BUDGET_STEPS: u64 = 2_000;

/// How many datagrams a scenario's steps send at least: each step once, or its `times`.
fn requested_sends(scenario: &Value) -> u64 {
    scenario["peer"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_object()?.values().next())
        .map(|body| body["times"].as_u64().unwrap_or(1))
        .fold(0, u64::saturating_add)
}

/// Whether `o` is a run stopped by [`RUN_BUDGET_STEPS`].
pub fn over_budget(o: &ScenarioOutcome) -> bool {
    o.verdict == OutcomeVerdict::Error && o.reasons.iter().any(|r| r.starts_with(OVER_BUDGET))
}

/// Whether `o` is a run that could not be run at all (the IUT would not start, a socket could not
/// be opened …), not one the budget stopped: nothing to judge, and no pass either.
pub fn could_not_run(o: &ScenarioOutcome) -> bool {
    o.verdict == OutcomeVerdict::Error && !over_budget(o)
}

/// Rules about whether the capture can be judged rather than about what the IUT did: a QUIC
/// family's "every 1-RTT packet decrypts" fires when a handshake whose packets a skeleton's fault
/// dropped never completed before the run ended (the harness never derived those keys). Not a
/// finding.
fn about_the_capture(rule: &str) -> bool {
    rule.ends_with(".decrypt")
}

/// An external IUT's peak memory in the run, kB (its transcript says).
fn peak_memory_kb(o: &ScenarioOutcome) -> Option<u64> {
    o.transcript.iter().find_map(|l| {
        l.text
            .strip_prefix(PEAK_MEMORY)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Whether every verdict the baseline could leave for an outcome is of a kind in `done` (kinds
/// the search no longer takes in): a `hang` when the probe failed, else `rule:` and any non-empty
/// subset of the IUT's `rules` (the baseline takes away those it breaks too; `rules` in the
/// verdict's order). Then the baseline's run — half of a rule-breaking mutant's time — decides
/// nothing.
fn only_done_kinds(done: &BTreeSet<String>, probe: bool, rules: &[&String]) -> bool {
    // 2^n − 1 subsets: beyond a few rules the baseline's run is the cheaper look.
    const MAX_RULES: usize = 4;
    if done.is_empty() || rules.len() > MAX_RULES || (probe && !done.contains("hang")) {
        return false;
    }
    (1u32..1 << rules.len()).all(|mask| {
        let kept: Vec<&str> = (0..rules.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| rules[i].as_str())
            .collect();
        done.contains(&format!("rule:{}", kept.join("+")))
    })
}

impl Runner<'_> {
    /// The family's probe for `scenario`; `patient`: over real UDP its windows [`PATIENCE`] times
    /// as long.
    fn probe(&self, scenario: &Value, patient: bool) -> Vec<Value> {
        let mut probe = (self.family.fuzz().liveness_probe)(scenario).unwrap_or_default();
        if patient && matches!(self.iut, Iut::External(_)) {
            for window in probe
                .iter_mut()
                .filter_map(|step| step.pointer_mut("/expect/within_ms"))
            {
                if let Some(ms) = window.as_u64() {
                    *window = Value::from(ms.saturating_mul(PATIENCE));
                }
            }
        }
        probe
    }

    /// `scenario` with the family's probe after its steps; and how many steps were the input's.
    pub fn probed(&self, scenario: &Value) -> (Value, usize) {
        self.probed_with(scenario, false)
    }

    /// [`probed`](Self::probed), the probe `patient` or not (see `PATIENCE`).
    pub fn probed_with(&self, scenario: &Value, patient: bool) -> (Value, usize) {
        let mut steps = scenario["peer"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let input_len = steps.len();
        steps.extend(self.probe(scenario, patient));
        (with_steps(scenario, steps), input_len)
    }

    /// Runs `run` on `input` with the family's probe after its steps (`probed`), which are put
    /// back as they were after (a copy of every input cost a tenth of a run in virtual time);
    /// and how many steps were the input's.
    fn with_probe<T>(
        &self,
        input: &mut Value,
        probed: bool,
        run: impl FnOnce(&Value) -> T,
    ) -> (T, usize) {
        let probe = if probed {
            self.probe(input, false)
        } else {
            Vec::new()
        };
        let Some(steps) = input
            .pointer_mut("/peer/steps")
            .and_then(Value::as_array_mut)
        else {
            let (probed, input_len) = self.probed(input);
            return (run(&probed), input_len);
        };
        let input_len = steps.len();
        steps.extend(probe);
        let result = run(input);
        if let Some(steps) = input
            .pointer_mut("/peer/steps")
            .and_then(Value::as_array_mut)
        {
            steps.truncate(input_len);
        }
        (result, input_len)
    }

    fn run_on(&self, iut: &Iut, scenario: &Value) -> Option<ScenarioOutcome> {
        let sends = requested_sends(scenario);
        // A step repeated past the budget (`times` mutated to 10,000) would only be run up to it
        // in virtual time: not run (nor loaded: a scenario the family would refuse is over budget
        // too), it costs nothing. Over real UDP the same budget: there each datagram costs the
        // IUT's time, and such inputs (one draw in seven) took two fifths of a campaign's.
        if sends > RUN_BUDGET_STEPS {
            let budget = match iut {
                Iut::Reference { .. } => "simulation steps",
                Iut::External(_) => "sends",
            };
            return Some(self.family.outcome_without_run(
                scenario,
                iut.name(),
                OutcomeVerdict::Error,
                format!(
                    "{OVER_BUDGET} {RUN_BUDGET_STEPS} {budget} (its steps ask for {sends} sends)"
                ),
            ));
        }
        let loaded = self.family.load_value(scenario).ok()?;
        Some(loaded.search_run(iut, self.seed, RUN_BUDGET_STEPS))
    }

    /// Runs an input (probe appended, `patient` or not) on the IUT: its outcome and the input's
    /// step count; `None` when the mutation made a scenario the family refuses (not run).
    pub fn exec(&self, input: &Value, patient: bool) -> Option<(ScenarioOutcome, usize)> {
        let (probed, input_len) = self.probed_with(input, patient);
        self.run_on(self.iut, &probed).map(|o| (o, input_len))
    }

    /// As [`exec`](Self::exec), on the IUT as the search runs it (`search_iut`): a kept
    /// responder that died or no longer serves is ended, so the next input starts it afresh. The
    /// verdict is reached here, on the job's thread, and a real-time one is confirmed here too, so
    /// that the other jobs go on meanwhile. A `replay` (an input of the corpus read, as it was)
    /// runs on fresh processes, as `harness run` would: what a kept process kept from earlier
    /// inputs must not hide the bug a regression input shows.
    fn searched(&self, input: &mut Value, replay: bool) -> Option<Searched> {
        let iut = if replay { self.iut } else { &self.search_iut };
        let external = matches!(self.search_iut, Iut::External(_));
        let probed = replay || !external || self.probe_due();
        let (outcome, input_len) =
            self.with_probe(input, probed, |scenario| self.run_on(iut, scenario));
        let outcome = outcome?;
        let kept = (external && !replay)
            .then(ExternalIut::last_kept_process)
            .flatten();
        if let Some(pid) = kept {
            self.recent.served(pid, input);
        }
        let crashed = outcome.iut_crash().is_some();
        // A probe missed on a kept process: asked again, alone and patiently, on that very
        // process. One still serving was slow (the search's own load), not stopped: nothing it
        // served earlier is blamed (up to 23 fresh runs for each missed probe made a campaign's
        // tail, and the load that made more probes miss). It is started afresh all the same:
        // kept, a slow process missed probe after probe.
        let missed = external && outcome.failed_after(input_len);
        let still_serving =
            missed && !crashed && kept.is_some_and(|pid| self.still_serves(pid, input));
        if external && (missed || crashed) {
            ExternalIut::forget_kept();
        }
        let verdict = self.verdict_within(input, &outcome, input_len, true);
        let done = |v: &Verdict| self.done_kinds.lock().is_ok_and(|d| d.contains(&v.kind));
        let fresh = verdict
            .as_ref()
            .filter(|v| external && !done(v))
            .map(|_| self.verdict_of(input, true));
        let blamed = match (&verdict, &fresh, kept) {
            (Some(v), Some(f), Some(pid))
                if self.blame
                    && !still_serving
                    && matches!(v.kind.as_str(), "crash" | "hang")
                    && f.as_ref().is_none_or(|f| f.kind != v.kind) =>
            {
                self.blame(pid, input, &v.kind)
            }
            _ => None,
        };
        Some(Searched {
            outcome,
            verdict,
            fresh,
            blamed,
        })
    }

    /// Whether kept process `pid` answers the family's probe (patient) for `input`'s role, run
    /// alone on it.
    fn still_serves(&self, pid: u32, input: &Value) -> bool {
        let probe = self.probe(input, true);
        if probe.is_empty() {
            return false;
        }
        let _pinned = ExternalIut::pin_kept(pid);
        self.run_on(&self.search_iut, &with_steps(input, probe))
            .is_some_and(|o| o.verdict != OutcomeVerdict::Error && !o.failed_after(0))
    }

    /// Whether the next input on a kept process is probed: one in [`Runner::probe_every`].
    fn probe_due(&self) -> bool {
        let n = self
            .kept_inputs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        n % self.probe_every == 0
    }

    /// The input of those kept process `pid` served lately (newest first, `shown_in` left out)
    /// whose run on a fresh process shows a verdict of `kind`.
    fn blame(&self, pid: u32, shown_in: &Value, kind: &str) -> Option<Box<Blamed>> {
        let suspects = self.recent.take(pid);
        let others = suspects.iter().filter(|s| *s != shown_in);
        for (n, suspect) in others.enumerate() {
            if self
                .verdict_of(suspect, true)
                .is_some_and(|v| v.kind == kind)
            {
                return Some(Box::new(Blamed {
                    input: suspect.clone(),
                    replayed: n + 1,
                }));
            }
        }
        None
    }

    /// What `outcome` (of `input`) shows is wrong with the IUT, if anything; runs the baseline on
    /// the same input when the verdict depends on it.
    fn verdict(
        &self,
        input: &Value,
        outcome: &ScenarioOutcome,
        input_len: usize,
    ) -> Option<Verdict> {
        self.verdict_within(input, outcome, input_len, false)
    }

    /// [`verdict`](Self::verdict); `in_search`: a verdict of a kind the search no longer takes in
    /// may come back as none (its baseline run skipped).
    fn verdict_within(
        &self,
        input: &Value,
        outcome: &ScenarioOutcome,
        input_len: usize,
        in_search: bool,
    ) -> Option<Verdict> {
        let detail = outcome.reasons.join("; ");
        if let Some(why) = outcome.iut_crash().map(str::to_owned) {
            return Some(Verdict {
                kind: "crash".into(),
                detail: why,
                rules: Vec::new(),
            });
        }
        if let Some(kb) = peak_memory_kb(outcome).filter(|kb| *kb > self.max_memory_kb) {
            return Some(Verdict {
                kind: "memory".into(),
                detail: format!(
                    "the IUT's processes reached {} MB of resident memory (bound {} MB)",
                    kb / 1024,
                    self.max_memory_kb / 1024
                ),
                rules: Vec::new(),
            });
        }
        // A flood stopped the run (and with it the probe): a finding when a reference ran the same
        // input within its budget, so that the input did not ask for that much.
        if detail.contains(FLOODED) {
            return self.run_baseline(input).map(|_| Verdict {
                kind: "flood".into(),
                detail,
                rules: Vec::new(),
            });
        }
        if detail.contains("did not settle") {
            return Some(Verdict {
                kind: "hang".into(),
                detail,
                rules: Vec::new(),
            });
        }
        let probe = outcome.failed_after(input_len);
        let catalogue = self.family.rules();
        let judged = |rule: &str| {
            self.strict_profile
                || handshake_check::rules::find(catalogue, rule)
                    .is_none_or(|r| r.basis == handshake_check::Basis::Fact)
        };
        let the_iuts = |r: &&String| {
            !about_the_capture(r) && !outcome.rules_on_harness_datagrams.contains(*r) && judged(r)
        };
        if !probe && !outcome.rules_fired.keys().any(|r| the_iuts(&r)) {
            return None;
        }
        if in_search {
            let fired: Vec<&String> = outcome.rules_fired.keys().filter(the_iuts).collect();
            if self
                .done_kinds
                .lock()
                .is_ok_and(|done| only_done_kinds(&done, probe, &fired))
            {
                return None;
            }
        }
        let baseline = self.run_baseline(input);
        if probe
            && baseline
                .as_ref()
                .is_some_and(|b| !b.failed_after(input_len))
        {
            return Some(Verdict {
                kind: "hang".into(),
                detail,
                rules: Vec::new(),
            });
        }
        let compared = baseline.is_some();
        let reference: Vec<String> = baseline
            .map(|b| b.rules_fired.into_keys().collect())
            .unwrap_or_default();
        let rules: Vec<String> = outcome
            .rules_fired
            .keys()
            .filter(|r| the_iuts(r) && !reference.contains(r))
            .cloned()
            .collect();
        // Without a reference that runs the input every rule could be the input's doing (a rule
        // about what the harness itself sent).
        if rules.is_empty() || !compared {
            return None;
        }
        Some(Verdict {
            kind: format!("rule:{}", rules.join("+")),
            detail,
            rules,
        })
    }

    /// `input` (probe appended) on the first baseline reference that can run it: one lacking a
    /// feature the input needs says `unsupported`, and its silence proves nothing.
    fn run_baseline(&self, input: &Value) -> Option<ScenarioOutcome> {
        let probed = self.probed(input).0;
        self.baseline.iter().find_map(|b| {
            self.run_on(b, &probed).filter(|o| {
                !matches!(
                    o.verdict,
                    OutcomeVerdict::Unsupported | OutcomeVerdict::Error
                )
            })
        })
    }
}

/// The scenario engine as the campaign's executor.
impl Executor for Runner<'_> {
    fn search(&self, input: &mut Value, replay: bool) -> Executed {
        let Some(Searched {
            outcome,
            verdict,
            fresh,
            blamed,
        }) = self.searched(input, replay)
        else {
            return Executed::Refused;
        };
        // An input the IUT cannot run (it needs what the IUT lacks: a 3-way input for a legacy
        // responder) is no execution of it: counted apart, never as one.
        if outcome.verdict == OutcomeVerdict::Unsupported {
            return Executed::Refused;
        }
        if over_budget(&outcome) {
            return Executed::OverBudget;
        }
        if could_not_run(&outcome) {
            return Executed::CouldNotRun {
                why: outcome.reasons.join("; "),
            };
        }
        Executed::Judged(Judged {
            cost: outcome.traffic_bytes,
            path: path_of(&outcome),
            verdict,
            fresh,
            blamed,
        })
    }

    /// The verdict of `input` run afresh; `patient`: as a finding is confirmed (see
    /// `PATIENCE`).
    fn verdict_of(&self, input: &Value, patient: bool) -> Option<Verdict> {
        let (o, input_len) = self.exec(input, patient)?;
        self.verdict(input, &o, input_len)
    }

    fn fold(&self, steps: &[Value]) -> Option<Vec<Value>> {
        (self.family.fuzz().fold)(steps)
    }

    /// Verdicts of `kind` are no longer confirmed (the search ignores them from now on).
    fn kind_done(&self, kind: &str) {
        if let Ok(mut done) = self.done_kinds.lock() {
            done.insert(kind.to_owned());
        }
    }

    /// Ends the responders this thread keeps for the search (`--keep-iut`).
    fn forget_kept(&self) {
        if matches!(self.search_iut, Iut::External(_)) {
            ExternalIut::forget_kept();
        }
    }
}

/// The references a finding must not also show: a reference mutant's base, or for an external
/// IUT the family's references (the bases of its mutants, in their order: an input only a legacy
/// endpoint runs is compared with the legacy one). A reference has none: against it only crashes
/// and hangs of its own count.
pub fn baseline_of(iut: &Iut, family: &'static dyn DynFamily) -> Vec<Iut> {
    let reference = |f: &'static str, base: &str| Iut::Reference {
        name: format!("ref:{base}"),
        family: f,
        profile: base.to_owned(),
    };
    match iut {
        Iut::Reference {
            family: f, profile, ..
        } => profile
            .split_once('!')
            .map(|(base, _)| reference(f, base))
            .into_iter()
            .collect(),
        Iut::External(_) => {
            let mut bases: Vec<&'static str> = Vec::new();
            for m in family.mutants() {
                if !bases.contains(&m.base) {
                    bases.push(m.base);
                }
            }
            bases
                .into_iter()
                .map(|b| reference(family.name(), b))
                .collect()
        }
    }
}

/// The path of response kinds of a run: what the IUT sent (the media stream's datagrams, `IUT ->`),
/// what the harness's endpoint got (QUIC families' events, `harness:`) and an in-process IUT's
/// state changes (`IUT event:`), with numbers, quoted ids and step notes taken out.
fn path_of(o: &ScenarioOutcome) -> Kinds {
    path_of_lines(o.transcript.iter().map(|l| l.text.as_str()))
}

fn path_of_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Kinds {
    let mut path = Kinds::default();
    for (prefix, rest) in lines.filter_map(|text| {
        ["harness: ", "IUT -> ", "IUT event: "]
            .iter()
            .find_map(|p| text.strip_prefix(p).map(|rest| (p, rest)))
    }) {
        // Up to the harness's note (` [dropped]`); a byte search (`str::find` sets up a
        // two-way search per line, a thirtieth of a search's time).
        let note = rest
            .as_bytes()
            .windows(2)
            .position(|w| w == b" [")
            .unwrap_or(rest.len());
        let rest = &rest[..note];
        path.push_str(prefix);
        // Kept: the runs of text outside quotes between digits (quotes and digits are ASCII:
        // the offsets next to them are char boundaries).
        let mut quoted = false;
        let mut kept_from = 0;
        for (i, b) in rest.bytes().enumerate() {
            if b == b'"' {
                if !quoted {
                    path.push_str(&rest[kept_from..i]);
                }
                quoted = !quoted;
                kept_from = i + 1;
            } else if !quoted && b.is_ascii_digit() {
                path.push_str(&rest[kept_from..i]);
                kept_from = i + 1;
            }
        }
        if !quoted {
            path.push_str(&rest[kept_from..]);
        }
        path.end_kind();
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_s_recent_inputs_are_its_last_newest_first_and_taken_once() {
        let recent = Recent::default();
        let input = |n: usize| serde_json::json!({ "n": n });
        for n in 0..RECENT_PER_PROCESS + 2 {
            recent.served(7, &input(n));
            recent.served(8, &input(1000 + n));
        }
        let taken = recent.take(7);
        assert_eq!(taken.len(), RECENT_PER_PROCESS);
        assert_eq!(taken.first(), Some(&input(RECENT_PER_PROCESS + 1)));
        assert_eq!(taken.last(), Some(&input(2)));
        assert!(recent.take(7).is_empty());
        assert_eq!(
            recent.take(8).first(),
            Some(&input(1000 + RECENT_PER_PROCESS + 1))
        );
        // Only so many processes are remembered: the least recently used is forgotten.
        for pid in 0..PROCESSES_REMEMBERED as u32 + 1 {
            recent.served(100 + pid, &input(0));
        }
        assert!(recent.take(100).is_empty());
        assert_eq!(recent.take(101).len(), 1);
    }

    #[test]
    fn the_baseline_is_skipped_only_when_every_verdict_it_could_leave_is_done() {
        let done: BTreeSet<String> = ["rule:a", "rule:b", "hang"]
            .into_iter()
            .map(String::from)
            .collect();
        let (a, b, c) = ("a".to_owned(), "b".to_owned(), "c".to_owned());
        assert!(only_done_kinds(&done, false, &[&a]));
        assert!(only_done_kinds(&done, true, &[&a]));
        // The baseline could leave `rule:a+b`, not done yet; or `rule:c`.
        assert!(!only_done_kinds(&done, false, &[&a, &b]));
        assert!(!only_done_kinds(&done, false, &[&c]));
        let mut with_pair = done.clone();
        with_pair.insert("rule:a+b".into());
        assert!(only_done_kinds(&with_pair, false, &[&a, &b]));
        // A failed probe with no rule broken: only a hang is possible.
        assert!(only_done_kinds(&done, true, &[]));
        with_pair.remove("hang");
        assert!(!only_done_kinds(&with_pair, true, &[&a]));
        assert!(!only_done_kinds(&BTreeSet::new(), false, &[&a]));
    }

    #[test]
    fn a_path_keeps_the_kinds_of_the_lines_without_numbers_quotes_or_notes() {
        let lines = [
            "IUT -> SYN-ACK version=1 id=\"ab 12\" options=[max_datagram=1400]  [dropped]",
            "IUT <- SYN version=1",
            "step 3: send syn",
            "IUT event: Streaming { frames: 50 }",
            "harness: stream 4 opened, 12 bytes, \"ünï\" é9",
            "IUT -> DATA seq 1..50 (50 datagrams, until 12.500 ms)",
        ];
        assert_eq!(
            path_of_lines(lines.iter().copied()).kinds(),
            [
                "IUT -> SYN-ACK version= id= options=[max_datagram=] ",
                "IUT event: Streaming { frames:  }",
                "harness: stream  opened,  bytes,  é",
                "IUT -> DATA seq .. ( datagrams, until . ms)",
            ]
        );
    }

    #[test]
    fn an_input_s_sends_count_each_step_once_or_its_times() {
        let scenario = serde_json::json!({"peer": {"steps": [
            {"send_syn": {"version": 1}},
            {"send_data": {"times": 5000}},
            {"wait": {"ms": 10}},
        ]}});
        // Past the budget: the input is over it before it runs.
        assert_eq!(requested_sends(&scenario), 5002);
        assert!(requested_sends(&scenario) > RUN_BUDGET_STEPS);
        assert_eq!(requested_sends(&serde_json::json!({})), 0);
    }

    #[test]
    fn only_the_decryption_rule_is_about_the_capture() {
        assert!(about_the_capture("proton.packet.decrypt"));
        assert!(!about_the_capture("darktower.controller.capacity"));
    }
}
