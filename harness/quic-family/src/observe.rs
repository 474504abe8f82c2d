//! What both QUIC families observe of a run besides their own facts: the units the IUT produced,
//! and how a client (the IUT, or the harness's facing a server IUT) ended its plan — with the
//! interop cell that follows from it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use handshake_scenario::{Observations, Role, ScenarioOutcome, Verdict};

/// A QUIC family's observations that carry a client's verdict.
pub trait ClientVerdict: Observations {
    /// How the client ended its plan: `Some(true)` when it got every answer right (`None`: no
    /// client was observed).
    fn client_ok(&self) -> Option<bool>;
}

/// A QUIC family's cell against an external program: a client IUT's cell is its run's verdict;
/// a server IUT's is whether the harness's client got every answer right (`observed`: the run's
/// observations).
pub fn client_cell_ok<O: ClientVerdict>(
    outcome: &ScenarioOutcome,
    observed: &O,
    role: Role,
) -> bool {
    match role {
        Role::Initiator => outcome.verdict == Verdict::Pass,
        // A run that never happened observed the defaults: no client, no success.
        Role::Responder => observed.client_ok().unwrap_or(false),
    }
}

/// The text lines of the units and the client's verdict (with why it failed, when known), then
/// the judge's notes.
pub fn render_units_client_notes(
    out: &mut String,
    units: &BTreeMap<String, u64>,
    client: (Option<bool>, Option<&str>),
    notes: &[String],
) {
    if !units.is_empty() {
        let list: Vec<String> = units.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "units from the IUT: {}", list.join(", "));
    }
    let (client_ok, failure) = client;
    if let Some(ok) = client_ok {
        let _ = writeln!(
            out,
            "client verdict: {}{}",
            if ok { "ok" } else { "fail" },
            failure.map_or_else(String::new, |f| format!(" ({f})"))
        );
    }
    for n in notes {
        let _ = writeln!(out, "note: {n}");
    }
}

/// The facts of the units and the client's verdict, appended to `facts`.
pub fn units_client_facts(
    facts: &mut Vec<(String, String)>,
    units: &BTreeMap<String, u64>,
    client_ok: Option<bool>,
) {
    facts.extend(
        units
            .iter()
            .map(|(k, n)| (format!("units {k}"), n.to_string())),
    );
    if let Some(ok) = client_ok {
        facts.push(("client ok".into(), ok.to_string()));
    }
}
