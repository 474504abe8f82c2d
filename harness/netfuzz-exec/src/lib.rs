//! Network fuzzing over the scenario engine: the executor that runs one mutated scenario (with the
//! family's liveness probe appended) against an implementation and judges what it did — a crash,
//! a hang, a memory blow-up, a flood or a broken rule, each against the family's reference given
//! the same input — and the summary and findings a campaign reports. `harness fuzz` is its
//! command-line face: the arguments, the progress line and the files it writes.
#![forbid(unsafe_code)]

pub mod exec;
pub mod report;
pub mod skeletons;

pub use exec::{
    baseline_of, could_not_run, over_budget, FamilyMutator, Recent, Runner, RUN_BUDGET_STEPS,
};
pub use report::{Finding, RunInfo, Spread, Summary};
