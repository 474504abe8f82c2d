//! Interop matrices, written once for every protocol family: every initiator × responder cell —
//! reference profiles in virtual time (the pair runner), external programs (`cmd:`) in real time
//! against a reference peer (the scenario engine) — through the fault link with a fault profile;
//! each cell's path, what it delivered and the judge's verdict on its capture, compared with the
//! expected matrix for that fault profile ([`matrix`]), reported as a terminal table, `matrix.json`,
//! `matrix.md` and an HTML page ([`output`]).
//!
//! What a family adds is [`InteropFamily`]: the keys of an expected cell, what a cell showed and how
//! the two compare. The registry's face of it is [`DynInterop`].
#![forbid(unsafe_code)]

pub mod matrix;
pub mod output;
pub mod peer;
pub mod run;
pub mod verdict;

use std::fmt;
use std::marker::PhantomData;

use handshake_scenario::engine::Simulated;
use handshake_scenario::format::Fields;
use handshake_scenario::{Family, FamilyError, Role, Scenario, ScenarioOutcome};
use serde::Serialize;

pub use run::{execute, prepare, Cell, Outcome, Plan, Request};

/// What one cell of a matrix showed (`matrix.json` gives its fields) and how reports present it.
pub trait CellSeen: Serialize + Clone + fmt::Debug + Send + Sync {
    /// A cell that could not run, and why.
    fn failed(why: &str) -> Self;
    /// The path it took (one of the family's [`InteropFamily::PATHS`], or another word).
    fn path(&self) -> String;
    /// What it delivered, in a word (`100`: frames). Default: its path.
    fn value(&self) -> String {
        self.path()
    }
    /// What it delivered against what it could (`100 / 100 frames`).
    fn summary(&self) -> String;
    /// A further figure for the matrix cell (` · 12.5 ms` to first media), if any.
    fn detail(&self) -> Option<String> {
        None
    }
    /// Labelled facts for the cell's section of the HTML page. Default: its path.
    fn facts(&self) -> Vec<(String, String)> {
        vec![("path".into(), self.path())]
    }
    /// Why it failed, when it did.
    fn failure(&self) -> Option<&str>;
}

/// An expected cell of a matrix file: the family's keys, and how a cell that showed `S` compares.
pub trait CellExpect<S>: Fields {
    /// In short (`3way · 100`).
    fn short(&self) -> String;
    /// In full (`3way · 100 frames · failure containing “…”`).
    fn long(&self) -> String;
    /// How `seen` differs from it (empty: as expected); with `failure_text` false only whether
    /// it failed is compared, not the text (an external program's failure is its exit status).
    fn mismatch(&self, seen: &S, failure_text: bool) -> Vec<String>;
}

/// What a family adds to be run in interop matrices: what a cell shows and expects (two types
/// that present and compare themselves), its paths, and how a cell's run is read.
pub trait InteropFamily: Family {
    /// The family's keys of an expected cell (the media stream's `negotiated_mode`,
    /// `frames_successful`, `failure_contains`).
    type CellExpect: CellExpect<Self::CellSeen>;
    /// What a cell showed.
    type CellSeen: CellSeen;
    /// The paths a cell may take, in legend order (the media stream's `3way`, `legacy`, …).
    const PATHS: &'static [&'static str];

    /// What a reference × reference cell showed: the pair run, and the judge's report on its
    /// capture taken at the initiator.
    fn seen_pair(
        run: &Simulated<Self>,
        report: &Self::Report,
        s: &Scenario<Self>,
    ) -> Self::CellSeen;
    /// What a cell with an external side showed: its outcome (the program was the IUT in `role`),
    /// the family's observations of it, and the judge's report on its capture (taken at the
    /// program).
    fn seen_external(
        outcome: &ScenarioOutcome,
        observed: &Self::Observations,
        role: Role,
        report: &Self::Report,
        s: &Scenario<Self>,
    ) -> Result<Self::CellSeen, FamilyError>;
    /// The cell scenario's expectations for an external program in `role` (so that an
    /// initiator's exit status is observed).
    fn cell_expect(role: Role) -> Self::ExpectFields;
    /// A cell that could not run (default: [`CellSeen::failed`]; a family may say what it
    /// would have delivered).
    fn seen_failed(why: &str, _s: &Scenario<Self>) -> Self::CellSeen {
        Self::CellSeen::failed(why)
    }
    /// The setup every cell runs, as labelled facts (`stream`: …). Default: none.
    fn setup_facts(_s: &Scenario<Self>) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The path the judge saw on the capture (`None`, the default: the judge names none).
    fn checker_path(_report: &Self::Report) -> Option<String> {
        None
    }
}

/// [`InteropFamily`] behind [`DynInterop`].
pub struct Interop<F>(PhantomData<F>);

impl<F> Interop<F> {
    /// The face of `F`.
    pub const fn new() -> Interop<F> {
        Interop(PhantomData)
    }
}

impl<F> Default for Interop<F> {
    fn default() -> Self {
        Interop::new()
    }
}

handshake_core::dyn_face! {
    /// A family's interop matrices behind one object-safe face, for the registry.
    pub trait DynInterop: Send, Sync;
    impl<F: InteropFamily> for Interop<F>;

    /// The family's name (a matrix file's `protocol`).
    fn name(&self) -> &'static str {
        F::NAME
    }
    /// Runs a matrix.
    fn run(&self, request: &Request) -> Result<Box<dyn MatrixRun>, FamilyError> {
        let plan = prepare::<F>(request)?;
        Ok(Box::new(execute(plan)))
    }
}

handshake_core::dyn_face! {
    /// A finished matrix run, for the CLI.
    pub trait MatrixRun: Send;
    impl<F: InteropFamily> for Outcome<F>;

    /// Whether every cell was as expected.
    fn passed(&self) -> bool {
        Outcome::passed(self)
    }
    /// The terminal table.
    fn terminal(&self) -> String {
        output::terminal(self)
    }
    /// `matrix.json`.
    fn json(&self) -> String {
        output::matrix_json(self)
    }
    /// Writes the report directory; every path written.
    fn write_report(&self, dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
        output::write_report(dir, self)
    }
}
