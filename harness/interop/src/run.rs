//! Planning and running a matrix: every cell in parallel workers, each compared with its
//! expectation.
//!
//! A cell of two reference profiles is a pair run in virtual time (the engine's pair runner), its
//! capture taken at the initiator. A cell with an external program is a scenario run in real time:
//! the program is the IUT, the reference profile its peer, no steps; its capture is taken at the
//! program. Either way the family's judge reads the capture and the family says what the cell
//! showed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use handshake_check::Violation;
use handshake_net::{LinkConfig, VirtualLink};
use handshake_scenario::engine::{fault_rule, run_pair, INITIATOR, RESPONDER};
use handshake_scenario::format::{
    Direction, FaultSpec, IutRequirement, OutcomeExpectation, PeerSpec,
};
use handshake_scenario::outcome::Verdict;
use handshake_scenario::{Class, FamilyError, Iut, JudgeCtx, Role, Scenario, TypedOutcome};

use crate::matrix::{self, ExpectedCell, FaultProfile, MatrixFile};
use crate::peer::{peer_of_spec, split_peers, Peer};
use crate::{CellExpect as _, InteropFamily};
use handshake_scenario::external::pair::{run_programs, PairOutcome};
use handshake_scenario::external::ExternalIut;

/// What the user asked for (the CLI's arguments, family-free).
#[derive(Debug, Clone)]
pub struct Request {
    /// Initiators (rows): peer specs; empty: the expected matrix's rows.
    pub initiators: Vec<String>,
    /// Responders (columns), likewise.
    pub responders: Vec<String>,
    /// Fault profile: a name in `<matrix dir>/faults/` or a JSON file.
    pub faults: String,
    /// The expected matrix on a clean link.
    pub matrix: PathBuf,
    /// An expected matrix to compare with instead of the one `matrix` and `faults` choose.
    pub expected: Option<PathBuf>,
    /// Seed of the link's random faults and the responders' randomness.
    pub seed: u64,
    /// Parallel workers.
    pub jobs: usize,
    /// Real-time cells: timing tolerance.
    pub tolerance: handshake_check::Tolerance,
    /// `--strict-profile`: a cell that deviates from an expectation resting on a profile decision
    /// fails.
    pub strict_profile: bool,
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Plan<F: InteropFamily> {
    /// Rows.
    pub initiators: Vec<Peer>,
    /// Columns.
    pub responders: Vec<Peer>,
    /// The expected matrix (and the setup every cell runs).
    pub expected: MatrixFile<F>,
    /// Where it came from.
    pub expected_path: PathBuf,
    /// The fault profile.
    pub faults: FaultProfile,
    /// Seed.
    pub seed: u64,
    /// Workers.
    pub jobs: usize,
    /// Real-time tolerance.
    pub tolerance: handshake_check::Tolerance,
    /// A cell that deviates from an expectation resting on a profile decision fails.
    pub strict_profile: bool,
}

/// Reads the request and the files it names.
pub fn prepare<F: InteropFamily>(request: &Request) -> Result<Plan<F>, FamilyError> {
    read_plan(request).map_err(FamilyError::BadInput)
}

fn read_plan<F: InteropFamily>(request: &Request) -> Result<Plan<F>, String> {
    let matrix_dir = request
        .matrix
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let faults_path = matrix::fault_profile_path(&matrix_dir, &request.faults);
    let faults = if request.faults == "none" && !faults_path.exists() {
        FaultProfile::none()
    } else {
        if !faults_path.exists() {
            let known = known_fault_profiles(&matrix_dir.join("faults"));
            return Err(format!(
                "fault profile `{}`: {} does not exist (known: {})",
                request.faults,
                faults_path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        matrix::load_faults::<F>(&faults_path).map_err(|e| e.to_string())?
    };
    let expected_path = match &request.expected {
        Some(p) => p.clone(),
        None => matrix::expected_matrix_path(&request.matrix, &faults.name),
    };
    if !expected_path.exists() {
        return Err(format!(
            "no expected matrix for fault profile `{}`: {} does not exist (write it, or give --expected FILE)",
            faults.name,
            expected_path.display()
        ));
    }
    let expected = matrix::load::<F>(&expected_path).map_err(|e| e.to_string())?;
    let mut commands = 0usize;
    let mut side = |values: &[String], defaults: &[String], role: Role| {
        let specs = if values.is_empty() {
            defaults.iter().map(|d| format!("ref:{d}")).collect()
        } else {
            split_peers::<F>(values)
        };
        let peers = specs
            .iter()
            .map(|s| peer_of_spec::<F>(s, role, &mut commands))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<&str> = peers.iter().map(|p| p.slug.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("peer `{}` is listed twice", w[0]));
        }
        if peers.is_empty() {
            return Err("no peers given".to_owned());
        }
        Ok(peers)
    };
    let initiators = side(&request.initiators, &expected.initiators, Role::Initiator)?;
    let responders = side(&request.responders, &expected.responders, Role::Responder)?;
    Ok(Plan {
        initiators,
        responders,
        expected,
        expected_path,
        faults,
        seed: request.seed,
        jobs: request.jobs.max(1),
        tolerance: request.tolerance,
        strict_profile: request.strict_profile,
    })
}

fn known_fault_profiles(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension().is_some_and(|x| x == "json"))
                        .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                        .flatten()
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One cell as run and compared.
#[derive(Debug, Clone)]
pub struct Cell<F: InteropFamily> {
    /// Row index.
    pub initiator: usize,
    /// Column index.
    pub responder: usize,
    /// What it showed.
    pub seen: F::CellSeen,
    /// Checker rule ids that fired on the capture, sorted.
    pub rules_fired: Vec<String>,
    /// The path the judge saw on the capture.
    pub checker_path: Option<String>,
    /// The judge's violations.
    pub violations: Vec<Violation>,
    /// The capture (pcapng).
    pub capture: Vec<u8>,
    /// Two programs: the capture as the responder saw it (the other is the initiator's).
    pub responder_capture: Vec<u8>,
    /// Whose view the capture is (`initiator`, `responder`).
    pub viewpoint: &'static str,
    /// The expectation, when the expected matrix has one for these profiles.
    pub expected: Option<ExpectedCell<F>>,
    /// How it differs from the expectation, or why it could not run.
    pub mismatch: Option<String>,
    /// How it differs from an expectation that rests on a profile decision (this project's
    /// reading where the facts are silent): shown, not failing (unless `--strict-profile`).
    pub deviation: Option<String>,
    /// Other things to know (an external program's exit, stderr).
    pub notes: Vec<String>,
    /// Whether it ran in real time.
    pub real_time: bool,
}

impl<F: InteropFamily> Cell<F> {
    /// `as_expected`, `differs`, `deviates` or `no_expectation`.
    pub fn status(&self) -> &'static str {
        match (&self.mismatch, &self.expected) {
            (Some(_), _) => "differs",
            (None, _) if self.deviation.is_some() => "deviates",
            (None, Some(_)) => "as_expected",
            (None, None) => "no_expectation",
        }
    }
}

/// A run's cells, in row then column order.
#[derive(Debug, Clone)]
pub struct Outcome<F: InteropFamily> {
    /// The plan it ran.
    pub plan: Plan<F>,
    /// The cells.
    pub cells: Vec<Cell<F>>,
}

impl<F: InteropFamily> Outcome<F> {
    /// Cells that differ from their expectation.
    pub fn differing(&self) -> impl Iterator<Item = &Cell<F>> {
        self.cells.iter().filter(|c| c.mismatch.is_some())
    }

    /// Whether every cell matched (cells without an expectation do not fail the run).
    pub fn passed(&self) -> bool {
        self.differing().next().is_none()
    }

    /// The cell file name (`cells/<initiator>__<responder>.pcapng`).
    pub fn capture_file(&self, cell: &Cell<F>) -> Option<String> {
        let (i, r) = (
            self.plan.initiators.get(cell.initiator)?,
            self.plan.responders.get(cell.responder)?,
        );
        (!cell.capture.is_empty()).then(|| format!("cells/{}__{}.pcapng", i.slug, r.slug))
    }
}

/// Runs every cell of the plan (in parallel workers) and compares each with its expectation.
pub fn execute<F: InteropFamily>(plan: Plan<F>) -> Outcome<F> {
    let work: Vec<(usize, usize)> = (0..plan.initiators.len())
        .flat_map(|i| (0..plan.responders.len()).map(move |r| (i, r)))
        .collect();
    let slots: Vec<Mutex<Option<Cell<F>>>> = work.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.min(work.len()).max(1) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, r)) = work.get(k) else {
                    break;
                };
                let cell = run_cell(&plan, i, r);
                if let Some(Ok(mut slot)) = slots.get(k).map(|s| s.lock()) {
                    *slot = Some(cell);
                }
            });
        }
    });
    let cells = slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect();
    Outcome { plan, cells }
}

fn failed_cell<F: InteropFamily>(plan: &Plan<F>, i: usize, r: usize, why: String) -> Cell<F> {
    let scenario = cell_scenario(plan, "", "", Role::Responder, None);
    Cell {
        initiator: i,
        responder: r,
        seen: F::seen_failed(&why, &scenario),
        rules_fired: Vec::new(),
        checker_path: None,
        violations: Vec::new(),
        capture: Vec::new(),
        responder_capture: Vec::new(),
        viewpoint: "initiator",
        expected: None,
        mismatch: Some(format!("could not run: {why}")),
        deviation: None,
        notes: Vec::new(),
        real_time: false,
    }
}

/// Runs one cell.
pub fn run_cell<F: InteropFamily>(plan: &Plan<F>, i: usize, r: usize) -> Cell<F> {
    let (Some(ip), Some(rp)) = (plan.initiators.get(i), plan.responders.get(r)) else {
        return failed_cell(plan, i, r, "no such cell".into());
    };
    let expected = match (ip.expected_as(), rp.expected_as()) {
        (Some(a), Some(b)) => plan.expected.expected(&a, &b).cloned(),
        _ => None,
    };
    let mut cell = match (&ip.iut, &rp.iut) {
        (Iut::Reference { profile: a, .. }, Iut::Reference { profile: b, .. }) => {
            match reference_cell(plan, a, b) {
                Ok(c) => c,
                Err(e) => failed_cell(plan, i, r, e),
            }
        }
        (Iut::External(program), Iut::Reference { profile: b, .. }) => {
            external_cell(plan, i, r, program, Role::Initiator, b, ip.like.as_deref())
        }
        (Iut::Reference { profile: a, .. }, Iut::External(program)) => {
            external_cell(plan, i, r, program, Role::Responder, a, rp.like.as_deref())
        }
        (Iut::External(a), Iut::External(b)) => pair_cell(plan, i, r, a, b),
    };
    cell.initiator = i;
    cell.responder = r;
    if let (None, Some(e)) = (&cell.mismatch, &expected) {
        // An external initiator's failure is its exit status: only whether it failed compares.
        let text = !(cell.real_time && ip.is_command());
        let outcome = e.fields.mismatch(&cell.seen, text);
        let want: Vec<String> = e
            .rules_fire
            .iter()
            .map(|r| handshake_scenario::family::rule_id::<F>(r))
            .collect();
        let rules: Vec<String> = matrix::rules_mismatch(&want, &cell.rules_fired)
            .into_iter()
            .collect();
        // A program (not our reference, whose readings these are) that differs from an outcome
        // resting on this project's reading deviates; the rules it breaks are judged apart.
        let reading = e
            .basis
            .as_deref()
            .filter(|b| F::VOCABULARY.citations.verdict_class(b) == Class::Profile)
            .filter(|_| cell.real_time && !plan.strict_profile);
        let joined = |d: Vec<String>| (!d.is_empty()).then(|| d.join("; "));
        match reading {
            Some(basis) => {
                cell.deviation = joined(outcome)
                    .map(|d| format!("{d} (the expectation rests on {basis}: a profile decision)"));
                cell.mismatch = joined(rules);
            }
            None => cell.mismatch = joined([outcome, rules].concat()),
        }
    }
    cell.expected = expected;
    cell
}

/// The scenario a cell is: the matrix's setup, the IUT in `role` (the responder of a reference
/// pair; the external program otherwise), the reference profile `peer` playing the other side, the
/// fault profile, no steps.
pub fn cell_scenario<F: InteropFamily>(
    plan: &Plan<F>,
    initiator: &str,
    responder: &str,
    role: Role,
    peer: Option<&str>,
) -> Scenario<F> {
    let mut s = Scenario {
        schema: None,
        id: format!("interop.{initiator}__{responder}"),
        title: format!("interop cell {initiator} × {responder}"),
        protocol: Some(F::NAME.into()),
        decisions: Vec::new(),
        rules: Vec::new(),
        profile: None,
        tags: vec!["interop".into()],
        iut: IutRequirement {
            role,
            requires: Vec::new(),
            fields: Default::default(),
        },
        setup: plan.expected.setup.clone(),
        peer: PeerSpec {
            reference: peer.map(str::to_owned),
            fields: Default::default(),
            steps: Vec::new(),
        },
        faults: as_scenario_faults(&plan.faults.faults, role),
        expect: OutcomeExpectation {
            fields: F::cell_expect(role),
            ..OutcomeExpectation::default()
        },
        seed: Some(plan.seed),
        settle_ms: 0,
    };
    // Long enough for the whole handshake schedule, a fallback, and what the reference plays.
    s.settle_ms = F::expected_ms(&s) + 8000;
    s
}

/// Faults are relative to the initiator; in a scenario they are relative to the IUT.
fn as_scenario_faults(faults: &[FaultSpec], iut: Role) -> Vec<FaultSpec> {
    faults
        .iter()
        .cloned()
        .map(|mut f| {
            if iut == Role::Responder {
                f.direction = match f.direction {
                    Direction::ToIut => Direction::FromIut,
                    Direction::FromIut => Direction::ToIut,
                    Direction::Both => Direction::Both,
                };
            }
            f
        })
        .collect()
}

fn reference_cell<F: InteropFamily>(
    plan: &Plan<F>,
    initiator: &str,
    responder: &str,
) -> Result<Cell<F>, String> {
    let profile = |p: &str| F::parse_profile(p).map_err(|e| e.to_string());
    let (a, b) = (profile(initiator)?, profile(responder)?);
    let mut scenario = cell_scenario(plan, initiator, responder, Role::Responder, Some(initiator));
    // In virtual time a stuck pair costs nothing: a generous horizon (a minute past the stream).
    scenario.settle_ms = F::expected_ms(&scenario) + 60_000;
    // Faults are relative to the initiator: `to_iut` is towards it.
    let rules = plan
        .faults
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| fault_rule(i as u32 + 1, f, INITIATOR, RESPONDER))
        .collect::<Vec<_>>();
    let link = VirtualLink::new(LinkConfig::with_seed(plan.seed))
        .with_classifier(F::classify)
        .with_rules(rules)
        .map_err(|e| format!("faults: {e:?}"))?;
    // The responder's randomness follows the link's seed too.
    let run = run_pair(&scenario, &a, &b, link, plan.seed).map_err(|e| e.to_string())?;
    let capture = run
        .capture(INITIATOR, None)
        .map_err(|e| format!("capture: {e}"))?;
    let report = F::judge(
        &capture,
        &JudgeCtx {
            scenario: &scenario,
            role: Role::Responder,
            iut: RESPONDER,
            peer: INITIATOR,
            iut_profile: Some(b),
            peer_profile: Some(a),
            tolerance: None,
        },
    )
    .map_err(|e| format!("checker: {e}"))?;
    let violations = F::violations(&report);
    Ok(Cell {
        initiator: 0,
        responder: 0,
        seen: F::seen_pair(&run, &report, &scenario),
        rules_fired: matrix::fired(&violations),
        checker_path: F::checker_path(&report),
        violations,
        capture,
        responder_capture: Vec::new(),
        viewpoint: "initiator",
        expected: None,
        mismatch: None,
        deviation: None,
        notes: Vec::new(),
        real_time: false,
    })
}

fn external_cell<F: InteropFamily>(
    plan: &Plan<F>,
    i: usize,
    r: usize,
    program: &handshake_scenario::external::ExternalIut,
    role: Role,
    reference: &str,
    like: Option<&str>,
) -> Cell<F> {
    let (Some(ip), Some(rp)) = (plan.initiators.get(i), plan.responders.get(r)) else {
        return failed_cell(plan, i, r, "no such cell".into());
    };
    let mut iut = program.clone();
    iut.set_tolerance(plan.tolerance);
    let mut scenario = cell_scenario(plan, &ip.slug, &rp.slug, role, Some(reference));
    scenario.iut.requires = match role {
        Role::Initiator => ip.requires.clone(),
        Role::Responder => rp.requires.clone(),
    };
    let TypedOutcome { outcome, observed } = iut.run_observed(&scenario, plan.seed);
    let viewpoint = match role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    };
    let notes = |prefixes: &[&str]| -> Vec<String> {
        outcome
            .transcript
            .iter()
            .filter(|l| prefixes.iter().any(|p| l.text.starts_with(p)))
            .map(|l| l.to_string())
            .take(20)
            .collect()
    };
    if matches!(outcome.verdict, Verdict::Error | Verdict::Unsupported) {
        let mut c = failed_cell(plan, i, r, outcome.reasons.join("; "));
        c.capture = outcome.capture.clone();
        c.viewpoint = viewpoint;
        c.real_time = true;
        c.notes = notes(&["IUT "]);
        return c;
    }
    // The responder's profile judges the capture: the reference, or what the program is expected
    // to behave like.
    let (iut_profile, peer_profile) = match role {
        Role::Initiator => (None, F::parse_profile(reference).ok()),
        Role::Responder => (like.and_then(|l| F::parse_profile(l).ok()), None),
    };
    let report = match F::judge(
        &outcome.capture,
        &JudgeCtx {
            scenario: &scenario,
            role,
            iut: match role {
                Role::Initiator => INITIATOR,
                Role::Responder => RESPONDER,
            },
            peer: match role {
                Role::Initiator => RESPONDER,
                Role::Responder => INITIATOR,
            },
            iut_profile,
            peer_profile,
            tolerance: None,
        },
    ) {
        Ok(r) => r,
        Err(e) => return failed_cell(plan, i, r, format!("checker: {e}")),
    };
    let seen = match F::seen_external(&outcome, &observed, role, &report, &scenario) {
        Ok(s) => s,
        Err(why) => return failed_cell(plan, i, r, why.to_string()),
    };
    let violations = F::violations(&report);
    Cell {
        initiator: i,
        responder: r,
        seen,
        rules_fired: matrix::fired(&violations),
        checker_path: F::checker_path(&report),
        violations,
        capture: outcome.capture.clone(),
        responder_capture: Vec::new(),
        viewpoint,
        expected: None,
        mismatch: None,
        deviation: None,
        notes: notes(&["IUT ended", "IUT stderr"]),
        real_time: true,
    }
}

/// A cell of two programs: the harness relays between them ([`handshake_scenario::external::pair`]);
/// the cell is what the initiator's run showed, its rules those either side broke. A broken rule
/// that rests on a profile decision (the facts leave it open) is noted as an allowed difference,
/// not held against either program.
fn pair_cell<F: InteropFamily>(
    plan: &Plan<F>,
    i: usize,
    r: usize,
    initiator: &ExternalIut,
    responder: &ExternalIut,
) -> Cell<F> {
    let (Some(ip), Some(rp)) = (plan.initiators.get(i), plan.responders.get(r)) else {
        return failed_cell(plan, i, r, "no such cell".into());
    };
    let (mut a, mut b) = (initiator.clone(), responder.clone());
    a.set_tolerance(plan.tolerance);
    b.set_tolerance(plan.tolerance);
    let mut si = cell_scenario(plan, &ip.slug, &rp.slug, Role::Initiator, None);
    let mut sr = cell_scenario(plan, &ip.slug, &rp.slug, Role::Responder, None);
    si.iut.requires.clone_from(&ip.requires);
    sr.iut.requires.clone_from(&rp.requires);
    let (initiator, responder, notes) = match run_programs(&a, &b, &si, &sr, plan.seed) {
        PairOutcome::NotRun { why, capture, .. } => {
            let mut c = failed_cell(plan, i, r, why);
            c.capture = capture;
            c.real_time = true;
            return c;
        }
        PairOutcome::Ran {
            initiator,
            responder,
            notes,
        } => (initiator, responder, notes),
    };
    let Some(report) = initiator.report.as_ref() else {
        return failed_cell(plan, i, r, initiator.outcome.reasons.join("; "));
    };
    let seen = match F::seen_external(
        &initiator.outcome,
        &initiator.observed,
        Role::Initiator,
        report,
        &si,
    ) {
        Ok(s) => s,
        Err(why) => return failed_cell(plan, i, r, why.to_string()),
    };
    let mut violations = F::violations(report);
    if let Some(rr) = &responder.report {
        violations.extend(F::violations(rr));
    }
    // Rules resting on this project's reading are the programs' choice where the facts are
    // silent: shown, never a difference.
    let (facts, readings): (Vec<Violation>, Vec<Violation>) =
        violations.into_iter().partition(|v| {
            handshake_check::rules::find(F::VOCABULARY.rules, v.rule)
                .is_none_or(|rule| rule.basis == handshake_check::Basis::Fact)
        });
    let mut cell_notes = notes;
    for v in &readings {
        cell_notes.push(format!(
            "allowed difference (a profile decision, not a fact): {} — {}",
            v.rule, v.detail
        ));
    }
    for (side, o) in [
        (F::VOCABULARY.role_names.0, &initiator.outcome),
        (F::VOCABULARY.role_names.1, &responder.outcome),
    ] {
        cell_notes.extend(
            o.transcript
                .iter()
                .filter(|l| l.text.starts_with("IUT ended") || l.text.starts_with("IUT stderr"))
                .take(10)
                .map(|l| format!("{side}: {l}")),
        );
    }
    Cell {
        initiator: i,
        responder: r,
        seen,
        rules_fired: matrix::fired(&facts),
        checker_path: F::checker_path(report),
        violations: facts,
        capture: initiator.outcome.capture.clone(),
        responder_capture: responder.outcome.capture.clone(),
        viewpoint: "initiator",
        expected: None,
        mismatch: None,
        deviation: None,
        notes: cell_notes,
        real_time: true,
    }
}
