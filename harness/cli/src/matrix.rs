//! The interop matrix of legacy versus 3-way peers: which path each initiator × responder pair takes
//! and what it delivers. The expected matrix is data (`vectors/interop/mediastream-matrix.json`); a run
//! compares every cell with it.

use std::path::Path;

use handshake_endpoint::mediastream::{Profile, StreamConfig};
use handshake_run::{LinkConfig, VirtualLink};
use serde::{Deserialize, Serialize};

use crate::input::{load_json, InputError};
use crate::pair::run_pair;

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
    let mut results = Vec::new();
    for cell in &file.cells {
        let initiator = Profile::parse(&cell.initiator).map_err(|e| e.to_string())?;
        let responder = Profile::parse(&cell.responder).map_err(|e| e.to_string())?;
        let pair = run_pair(
            initiator,
            responder,
            file.stream,
            VirtualLink::new(link_config.clone()),
            1,
        )
        .map_err(|e| e.to_string())?;
        let m = &pair.initiator;
        let mode = m.negotiated_mode.name().to_owned();
        let mut mismatch = Vec::new();
        if mode != cell.negotiated_mode {
            mismatch.push(format!("mode {mode}, expected {}", cell.negotiated_mode));
        }
        if m.frames_successful != cell.frames_successful {
            mismatch.push(format!(
                "{} frames delivered, expected {}",
                m.frames_successful, cell.frames_successful
            ));
        }
        match (&cell.failure_contains, &m.failure) {
            (Some(want), Some(got)) if !got.contains(want.as_str()) => {
                mismatch.push(format!("failure `{got}`, expected it to contain `{want}`"))
            }
            (Some(want), None) => {
                mismatch.push(format!("no failure, expected one containing `{want}`"))
            }
            (None, Some(got)) => mismatch.push(format!("unexpected failure `{got}`")),
            _ => {}
        }
        results.push(CellResult {
            initiator: cell.initiator.clone(),
            responder: cell.responder.clone(),
            negotiated_mode: mode,
            frames_successful: m.frames_successful,
            frames_expected: m.frames_expected,
            time_to_first_media_ms: m.time_to_first_media.map(|d| d.as_secs_f64() * 1000.0),
            failure: m.failure.clone(),
            mismatch: (!mismatch.is_empty()).then(|| mismatch.join("; ")),
        });
    }
    Ok(results)
}
