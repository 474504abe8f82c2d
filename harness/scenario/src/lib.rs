//! Layer 5's scenario engine: JSON scenarios (see [`model`]), a scripted peer, and runs against an
//! implementation under test — in-process reference profiles in virtual time ([`engine`]), external
//! programs over real UDP in real time ([`external`]) — with the capture checked and the outcome
//! judged ([`outcome`]).
#![forbid(unsafe_code)]

pub mod engine;
pub mod external;
pub mod json;
pub mod model;
pub mod outcome;
pub mod report;
pub mod runner;

use std::path::Path;

pub use model::Scenario;
pub use outcome::{ScenarioOutcome, Verdict};

/// Loads and validates a scenario file; errors carry file:line:column and what was expected.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
    let scenario: Scenario =
        json::from_str(&text).map_err(|e| LoadError(format!("{}:{e}", path.display())))?;
    validate(&scenario).map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
    Ok(scenario)
}

/// Checks what the schema cannot: profiles, rule ids, kinds.
pub fn validate(s: &Scenario) -> Result<(), String> {
    if let Some(p) = &s.peer.reference {
        handshake_endpoint::mediastream::Profile::parse(p)
            .map_err(|e| format!("peer.reference: {e}"))?;
    }
    if s.peer.reference.is_none() && s.peer.steps.is_empty() {
        return Err("peer: give a reference profile, steps, or both".into());
    }
    for rule in s
        .expect
        .rules_hold
        .iter()
        .chain(&s.expect.rules_fire)
        .chain(&s.rules)
    {
        if rule != "all" && handshake_check::rules::by_id(rule).is_none() {
            return Err(format!("unknown checker rule `{rule}`"));
        }
    }
    s.stream.validate().map_err(|e| format!("stream: {e}"))?;
    Ok(())
}

/// A scenario file that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);
