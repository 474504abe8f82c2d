//! The interop matrix of legacy versus 3-way peers: which path each initiator × responder pair takes
//! and what it delivers. The expected matrix is data (`vectors/interop/mediastream-matrix.json`, and
//! one `mediastream-matrix.<faults>.json` per fault profile); a run compares every cell with it.
//!
//! Fault profiles are data too (`vectors/interop/faults/<name>.json`): scenario-style link faults
//! ([`FaultSpec`]) applied to every cell. In a cell `direction` is relative to the initiator:
//! `to_iut` = towards the initiator, `from_iut` = from it (`both`, the default, is what the committed
//! profiles use; the datagram kind decides the direction anyway).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use handshake_mediastream_endpoint::{Profile, StreamConfig};
use handshake_mediastream_judge::{check_capture, CheckOptions, Violation};
use handshake_net::{LinkConfig, VirtualLink};
use handshake_scenario::format::FaultSpec;
use serde::{Deserialize, Serialize};

use crate::input::{load_json, parse_json, InputError};
use handshake_mediastream::pair::{initiator_addr, responder_addr, run_pair};

/// An expected interop matrix.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    /// The protocol.
    pub protocol: String,
    /// What the matrix shows.
    pub description: String,
    /// The stream every cell runs.
    pub stream: StreamConfig,
    /// Initiator profiles (rows).
    pub initiators: Vec<String>,
    /// Responder profiles (columns).
    pub responders: Vec<String>,
    /// One entry per initiator × responder.
    pub cells: Vec<ExpectedCell>,
}

/// What one cell must show.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCell {
    /// Initiator profile.
    pub initiator: String,
    /// Responder profile.
    pub responder: String,
    /// `3way`, `legacy`, `legacy-fallback`, `rejected` or `failed`.
    pub negotiated_mode: String,
    /// Frames the initiator rendered complete.
    pub frames_successful: u64,
    /// A part of the initiator's failure message, when it fails.
    #[serde(default)]
    pub failure_contains: Option<String>,
    /// Checker rules that fire on the cell's capture (default: none, the capture is clean).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_fire: Vec<String>,
    /// Why this is the right outcome (facts and decisions).
    pub why: String,
}

/// One cell as run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellResult {
    /// Initiator profile.
    pub initiator: String,
    /// Responder profile.
    pub responder: String,
    /// The path taken.
    pub negotiated_mode: String,
    /// Frames rendered complete.
    pub frames_successful: u64,
    /// Frames in the stream.
    pub frames_expected: u64,
    /// Time to first media, ms.
    pub time_to_first_media_ms: Option<f64>,
    /// The initiator's failure, if any.
    pub failure: Option<String>,
    /// Checker rule ids that fired on the cell's capture, sorted (empty: clean).
    pub rules_fired: Vec<String>,
    /// How the cell differs from the expectation (`None`: as expected).
    pub mismatch: Option<String>,
}

/// Loads a matrix file and checks it covers exactly the cross product of its rows and columns.
pub fn load(path: &Path) -> Result<MatrixFile, InputError> {
    let file: MatrixFile = load_json(path)?;
    let invalid = |message: String| InputError::Invalid {
        path: path.to_owned(),
        message,
    };
    for name in file.initiators.iter().chain(&file.responders) {
        Profile::parse(name).map_err(|e| invalid(e.to_string()))?;
    }
    for i in &file.initiators {
        for r in &file.responders {
            let n = file
                .cells
                .iter()
                .filter(|c| &c.initiator == i && &c.responder == r)
                .count();
            if n != 1 {
                return Err(invalid(format!(
                    "cell {i} × {r} appears {n} times, expected once"
                )));
            }
        }
    }
    if file.cells.len() != file.initiators.len() * file.responders.len() {
        return Err(invalid(
            "cells name profiles outside the rows and columns".into(),
        ));
    }
    Ok(file)
}

/// Runs every cell with `link_config` (seed, latency) and compares it with the expectation.
pub fn run(file: &MatrixFile, link_config: &LinkConfig) -> Result<Vec<CellResult>, String> {
    Ok(run_cells(file, link_config, &[])?
        .into_iter()
        .map(|c| c.result)
        .collect())
}

/// Runs every cell of `file` with `link_config` and the link `faults`, keeping each cell's capture
/// and checker verdict.
pub fn run_cells(
    file: &MatrixFile,
    link_config: &LinkConfig,
    faults: &[FaultSpec],
) -> Result<Vec<CellRun>, String> {
    let mut out = Vec::new();
    for cell in &file.cells {
        let initiator = Profile::parse(&cell.initiator).map_err(|e| e.to_string())?;
        let responder = Profile::parse(&cell.responder).map_err(|e| e.to_string())?;
        let observed = run_reference_cell(initiator, responder, file.stream, link_config, faults)?;
        let mismatch = compare(cell, &observed.observation);
        out.push(CellRun {
            result: observed
                .observation
                .into_result(&cell.initiator, &cell.responder, mismatch),
            capture: observed.capture,
            violations: observed.violations,
        });
    }
    Ok(out)
}

/// One cell as run, with its capture (pcapng, as the initiator saw it) and the checker's violations.
#[derive(Debug, Clone)]
pub struct CellRun {
    /// The cell's result and comparison.
    pub result: CellResult,
    /// The capture.
    pub capture: Vec<u8>,
    /// What the checker found on it.
    pub violations: Vec<Violation>,
}

/// What a cell showed, before it is compared with an expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The path taken (`3way`, `legacy`, `legacy-fallback`, `rejected`, `failed`).
    pub negotiated_mode: String,
    /// Frames the initiator rendered complete.
    pub frames_successful: u64,
    /// Frames in the stream.
    pub frames_expected: u64,
    /// Time to first media, ms.
    pub time_to_first_media_ms: Option<f64>,
    /// The initiator's failure, if any.
    pub failure: Option<String>,
    /// Checker rule ids that fired, sorted and deduplicated.
    pub rules_fired: Vec<String>,
}

impl Observation {
    /// The result row, given how it compared.
    pub fn into_result(
        self,
        initiator: &str,
        responder: &str,
        mismatch: Option<String>,
    ) -> CellResult {
        CellResult {
            initiator: initiator.to_owned(),
            responder: responder.to_owned(),
            negotiated_mode: self.negotiated_mode,
            frames_successful: self.frames_successful,
            frames_expected: self.frames_expected,
            time_to_first_media_ms: self.time_to_first_media_ms,
            failure: self.failure,
            rules_fired: self.rules_fired,
            mismatch,
        }
    }
}

/// A reference cell's observation with its capture and violations.
#[derive(Debug, Clone)]
pub struct ObservedCell {
    /// What it showed.
    pub observation: Observation,
    /// pcapng as the initiator saw it.
    pub capture: Vec<u8>,
    /// The checker's violations on the capture.
    pub violations: Vec<Violation>,
    /// The negotiated mode the checker sees on the wire.
    pub checker_mode: Option<String>,
}

/// The link rules of `faults` between the initiator and the responder of a pair run (`direction`
/// relative to the initiator).
pub fn pair_fault_rules(faults: &[FaultSpec]) -> Vec<handshake_net::FaultRule> {
    faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            handshake_scenario::engine::fault_rule(
                i as u32 + 1,
                f,
                initiator_addr(),
                responder_addr(),
            )
        })
        .collect()
}

/// Runs one reference pair in virtual time over a link with `faults`, captures it at the initiator
/// and checks the capture against the responder's profile.
pub fn run_reference_cell(
    initiator: Profile,
    responder: Profile,
    stream: StreamConfig,
    link_config: &LinkConfig,
    faults: &[FaultSpec],
) -> Result<ObservedCell, String> {
    let link = VirtualLink::new(link_config.clone())
        .with_classifier(handshake_mediastream_wire::kind_name)
        .with_rules(pair_fault_rules(faults))
        .map_err(|e| format!("faults: {e:?}"))?;
    // The responder's connection ids follow the link's seed too.
    let pair = run_pair(initiator, responder, stream, link, link_config.seed)
        .map_err(|e| e.to_string())?;
    let capture = pair
        .capture(initiator_addr())
        .map_err(|e| format!("capture: {e}"))?;
    let check = check_cell(&capture, responder, stream)?;
    let violations = check.violations;
    // The path is the initiator's; the frames are the receiver's (the responder in push).
    let m = &pair.initiator;
    let received = pair.receiver().map_or(0, |r| r.frames_successful);
    Ok(ObservedCell {
        observation: Observation {
            negotiated_mode: m.negotiated_mode.name().to_owned(),
            frames_successful: received,
            frames_expected: m.frames_expected,
            time_to_first_media_ms: m.time_to_first_media.map(|d| d.as_secs_f64() * 1000.0),
            failure: m.failure.clone(),
            rules_fired: fired(&violations),
        },
        capture,
        violations,
        checker_mode: check.mode,
    })
}

/// The checker's verdict on a cell's capture.
#[derive(Debug, Clone, Default)]
pub struct CellCheck {
    /// The negotiated mode of the first session as seen on the wire.
    pub mode: Option<String>,
    /// Frames of the first session seen complete in the capture.
    pub frames_complete: u64,
    /// The violations.
    pub violations: Vec<Violation>,
}

/// Judges a cell's capture against the responder's profile and the stream.
pub fn check_cell(
    capture: &[u8],
    responder: Profile,
    stream: StreamConfig,
) -> Result<CellCheck, String> {
    let options = CheckOptions::for_stream(responder, &stream);
    let verdict = check_capture(capture, None, options).map_err(|e| format!("checker: {e}"))?;
    let first = verdict.report.sessions.first();
    Ok(CellCheck {
        mode: first.map(|s| s.negotiated_mode.to_owned()),
        frames_complete: first.map_or(0, |s| s.stats.frames_complete),
        violations: verdict.report.violations().cloned().collect(),
    })
}

/// Sorted, deduplicated rule ids of `violations`.
pub fn fired(violations: &[Violation]) -> Vec<String> {
    violations
        .iter()
        .map(|v| v.rule.to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// How `observed` differs from `cell` (`None`: as expected).
pub fn compare(cell: &ExpectedCell, observed: &Observation) -> Option<String> {
    compare_observed(cell, observed, true)
}

/// [`compare`]; with `failure_text` false only whether the stream failed is compared, not the
/// failure's text (an external initiator's failure is its exit status, not the reference's message).
pub fn compare_observed(
    cell: &ExpectedCell,
    observed: &Observation,
    failure_text: bool,
) -> Option<String> {
    let mut mismatch = Vec::new();
    if observed.negotiated_mode != cell.negotiated_mode {
        mismatch.push(format!(
            "mode {}, expected {}",
            observed.negotiated_mode, cell.negotiated_mode
        ));
    }
    if observed.frames_successful != cell.frames_successful {
        mismatch.push(format!(
            "{} frames delivered, expected {}",
            observed.frames_successful, cell.frames_successful
        ));
    }
    match (&cell.failure_contains, &observed.failure) {
        (Some(want), Some(got)) if failure_text && !got.contains(want.as_str()) => {
            mismatch.push(format!("failure `{got}`, expected it to contain `{want}`"))
        }
        (Some(want), None) => {
            mismatch.push(format!("no failure, expected one containing `{want}`"))
        }
        (None, Some(got)) => mismatch.push(format!("unexpected failure `{got}`")),
        _ => {}
    }
    let want: BTreeSet<&str> = cell.rules_fire.iter().map(String::as_str).collect();
    let got: BTreeSet<&str> = observed.rules_fired.iter().map(String::as_str).collect();
    if want != got {
        let list = |s: &BTreeSet<&str>| {
            if s.is_empty() {
                "none".to_owned()
            } else {
                s.iter().copied().collect::<Vec<_>>().join(", ")
            }
        };
        mismatch.push(format!(
            "checker rules fired: {}, expected {}",
            list(&got),
            list(&want)
        ));
    }
    (!mismatch.is_empty()).then(|| mismatch.join("; "))
}

impl MatrixFile {
    /// The expected cell for a pair of profiles (compared as profiles: `3way+optimistic` is
    /// `3way+optimistic_start`).
    pub fn expected(&self, initiator: &Profile, responder: &Profile) -> Option<&ExpectedCell> {
        self.cells.iter().find(|c| {
            Profile::parse(&c.initiator).is_ok_and(|p| &p == initiator)
                && Profile::parse(&c.responder).is_ok_and(|p| &p == responder)
        })
    }
}

/// A fault profile file in its object form (a bare `[FaultSpec, …]` list is accepted too).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DescribedFaults {
    /// What the profile does and why.
    pub description: String,
    /// The faults, applied to every cell from the start.
    pub faults: Vec<FaultSpec>,
}

/// A loaded fault profile.
#[derive(Debug, Clone)]
pub struct FaultProfile {
    /// Its name (the file stem).
    pub name: String,
    /// Its description, if the file has one.
    pub description: Option<String>,
    /// The faults.
    pub faults: Vec<FaultSpec>,
}

/// Where fault profile `name` lives, given the directory of the expected matrix
/// (`<dir>/faults/<name>.json`); a name with a `/` or ending in `.json` is a path.
pub fn fault_profile_path(matrix_dir: &Path, name: &str) -> PathBuf {
    if name.contains('/') || name.ends_with(".json") {
        PathBuf::from(name)
    } else {
        matrix_dir.join("faults").join(format!("{name}.json"))
    }
}

/// The expected matrix for a fault profile: the base file for `none`, else
/// `<base stem>.<name>.json` beside it (`mediastream-matrix.lossy-handshake.json`).
pub fn expected_matrix_path(base: &Path, faults: &str) -> PathBuf {
    if faults == "none" {
        return base.to_owned();
    }
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "matrix".into());
    base.with_file_name(format!("{stem}.{faults}.json"))
}

/// Loads a fault profile file and checks its faults' kinds.
pub fn load_faults(path: &Path) -> Result<FaultProfile, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    // A bare list, or the object form: told apart by the first character, so that errors keep their
    // exact positions.
    let (description, faults) = if text.trim_start().starts_with('[') {
        (None, parse_json::<Vec<FaultSpec>>(path, &text)?)
    } else {
        let d: DescribedFaults = parse_json(path, &text)?;
        (Some(d.description), d.faults)
    };
    const KINDS: [&str; 8] = [
        "start",
        "connection_id",
        "data",
        "data_frag",
        "syn",
        "syn_ack",
        "ack",
        "malformed",
    ];
    for (i, f) in faults.iter().enumerate() {
        if let Some(kind) = &f.kind {
            if !KINDS.contains(&kind.as_str()) {
                return Err(InputError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "faults[{i}].kind `{kind}`: expected one of {}",
                        KINDS.join(", ")
                    ),
                });
            }
        }
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(FaultProfile {
        name,
        description,
        faults,
    })
}
