//! Expected interop matrices and fault profiles, as data.
//!
//! An expected matrix (`vectors/interop/<family>-matrix.json`, and one
//! `<family>-matrix.<faults>.json` per fault profile) names its family (`protocol`), the family's
//! setup every cell runs (the media stream's `stream`), the initiator and responder profiles (rows
//! and columns), and per cell what it must show (the family's keys), the rules that fire on its
//! capture, and why. A fault profile (`vectors/interop/faults/<name>.json`) is a list of
//! scenario-style link faults applied to every cell; in a cell `direction` is relative to the
//! initiator (`to_iut` = towards the initiator).

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use handshake_check::Violation;
use handshake_scenario::format::{missing, read_object, FaultSpec};
use handshake_scenario::json::{load_file, parse_file, FileError};
use handshake_scenario::Family;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::InteropFamily;

/// An expected interop matrix of family `F`.
#[derive(Debug, Clone, Serialize)]
#[serde(bound = "")]
pub struct MatrixFile<F: InteropFamily> {
    /// The protocol family.
    pub protocol: String,
    /// What the matrix shows.
    pub description: String,
    /// The family's setup every cell runs.
    #[serde(flatten)]
    pub setup: F::Setup,
    /// Initiator profiles (rows).
    pub initiators: Vec<String>,
    /// Responder profiles (columns).
    pub responders: Vec<String>,
    /// One entry per initiator × responder.
    pub cells: Vec<ExpectedCell<F>>,
}

/// What one cell must show.
#[derive(Debug, Clone, Serialize)]
#[serde(bound = "")]
pub struct ExpectedCell<F: InteropFamily> {
    /// Initiator profile.
    pub initiator: String,
    /// Responder profile.
    pub responder: String,
    /// The family's keys.
    #[serde(flatten)]
    pub fields: F::CellExpect,
    /// Checker rules that fire on the cell's capture (default: none, the capture is clean).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_fire: Vec<String>,
    /// The decisions the expectation rests on (comma-separated ids of the family's table): when
    /// any is a profile decision, a cell that differs only deviates from this project's reading
    /// (it fails only under `--strict-profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Why this is the right outcome (facts and decisions).
    pub why: String,
}

struct ObjectVisitor<T>(&'static str, PhantomData<T>);

impl<'de, F: InteropFamily> Visitor<'de> for ObjectVisitor<MatrixFile<F>> {
    type Value = MatrixFile<F>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<MatrixFile<F>, M::Error> {
        let (mut protocol, mut description, mut initiators, mut responders, mut cells) =
            (None, None, None, None, None);
        let mut setup = F::Setup::default();
        read_object(
            &mut map,
            &[
                "protocol",
                "description",
                "initiators",
                "responders",
                "cells",
            ],
            &mut setup,
            |key, map| {
                match key {
                    "protocol" => protocol = Some(map.next_value()?),
                    "description" => description = Some(map.next_value()?),
                    "initiators" => initiators = Some(map.next_value()?),
                    "responders" => responders = Some(map.next_value()?),
                    "cells" => cells = Some(map.next_value()?),
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(MatrixFile {
            protocol: missing(protocol, "protocol")?,
            description: missing(description, "description")?,
            setup,
            initiators: missing(initiators, "initiators")?,
            responders: missing(responders, "responders")?,
            cells: missing(cells, "cells")?,
        })
    }
}

impl<'de, F: InteropFamily> Deserialize<'de> for MatrixFile<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor::<MatrixFile<F>>(
            "an expected interop matrix",
            PhantomData,
        ))
    }
}

impl<'de, F: InteropFamily> Visitor<'de> for ObjectVisitor<ExpectedCell<F>> {
    type Value = ExpectedCell<F>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<ExpectedCell<F>, M::Error> {
        let (mut initiator, mut responder, mut rules_fire, mut why) = (None, None, None, None);
        let mut basis = None;
        let mut fields = F::CellExpect::default();
        read_object(
            &mut map,
            &["initiator", "responder", "rules_fire", "basis", "why"],
            &mut fields,
            |key, map| {
                match key {
                    "initiator" => initiator = Some(map.next_value()?),
                    "responder" => responder = Some(map.next_value()?),
                    "rules_fire" => rules_fire = Some(map.next_value()?),
                    "basis" => basis = Some(map.next_value()?),
                    "why" => why = Some(map.next_value()?),
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(ExpectedCell {
            initiator: missing(initiator, "initiator")?,
            responder: missing(responder, "responder")?,
            fields,
            rules_fire: rules_fire.unwrap_or_default(),
            basis,
            why: missing(why, "why")?,
        })
    }
}

impl<'de, F: InteropFamily> Deserialize<'de> for ExpectedCell<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor::<ExpectedCell<F>>(
            "an expected cell",
            PhantomData,
        ))
    }
}

/// The `protocol` of a matrix file, to pick its family before reading the rest.
pub fn protocol_of(path: &Path) -> Result<String, FileError> {
    #[derive(Deserialize)]
    struct ProtocolOnly {
        protocol: String,
    }
    let text = handshake_scenario::read_text(path).map_err(|e| FileError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let p: ProtocolOnly = serde_json::from_str(&text).map_err(|e| FileError::Invalid {
        path: path.to_owned(),
        message: format!("no `protocol` naming the matrix's family: {e}"),
    })?;
    Ok(p.protocol)
}

/// Loads a matrix file and checks its family, its profiles, and that it covers exactly the cross
/// product of its rows and columns.
pub fn load<F: InteropFamily>(path: &Path) -> Result<MatrixFile<F>, FileError> {
    let file: MatrixFile<F> = load_file(path)?;
    let invalid = |message: String| FileError::Invalid {
        path: path.to_owned(),
        message,
    };
    if file.protocol != F::NAME {
        return Err(invalid(format!(
            "protocol `{}`: this is a {} matrix",
            file.protocol,
            F::NAME
        )));
    }
    for name in file.initiators.iter().chain(&file.responders) {
        F::parse_profile(name).map_err(|e| invalid(e.to_string()))?;
    }
    for c in &file.cells {
        for id in handshake_scenario::citations::ids(c.basis.as_deref().unwrap_or_default()) {
            if F::VOCABULARY.citations.find(id).is_none() {
                return Err(invalid(format!(
                    "cell {} × {}: basis `{id}` is not one of the family's decisions",
                    c.initiator, c.responder
                )));
            }
        }
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

impl<F: InteropFamily> MatrixFile<F> {
    /// The expected cell for a pair of profiles, compared as profiles (`3way+optimistic` is
    /// `3way+optimistic_start`).
    pub fn expected(&self, initiator: &str, responder: &str) -> Option<&ExpectedCell<F>> {
        let canonical = |p: &str| F::parse_profile(p).ok().map(|p| p.to_string());
        let (i, r) = (canonical(initiator)?, canonical(responder)?);
        self.cells.iter().find(|c| {
            canonical(&c.initiator).as_deref() == Some(i.as_str())
                && canonical(&c.responder).as_deref() == Some(r.as_str())
        })
    }
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

/// How a cell's fired rules differ from the expected ones, if they do.
pub fn rules_mismatch(expected: &[String], fired: &[String]) -> Option<String> {
    let want: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    let got: BTreeSet<&str> = fired.iter().map(String::as_str).collect();
    if want == got {
        return None;
    }
    let list = |s: &BTreeSet<&str>| {
        if s.is_empty() {
            "none".to_owned()
        } else {
            s.iter().copied().collect::<Vec<_>>().join(", ")
        }
    };
    Some(format!(
        "checker rules fired: {}, expected {}",
        list(&got),
        list(&want)
    ))
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

impl FaultProfile {
    /// No faults.
    pub fn none() -> FaultProfile {
        FaultProfile {
            name: "none".into(),
            description: None,
            faults: Vec::new(),
        }
    }
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

/// Loads a fault profile file and checks its faults' kinds against family `F`'s link classes.
pub fn load_faults<F: Family>(path: &Path) -> Result<FaultProfile, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.to_owned(),
        source,
    })?;
    // A bare list, or the object form: told apart by the first character, so that errors keep their
    // exact positions.
    let (description, faults) = if text.trim_start().starts_with('[') {
        (None, parse_file::<Vec<FaultSpec>>(path, &text)?)
    } else {
        let d: DescribedFaults = parse_file(path, &text)?;
        (Some(d.description), d.faults)
    };
    let kinds = F::link_classes();
    for (i, f) in faults.iter().enumerate() {
        if let Some(kind) = &f.kind {
            if !kinds.contains(&kind.as_str()) {
                return Err(FileError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "faults[{i}].kind `{kind}`: expected one of {}",
                        kinds.join(", ")
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
