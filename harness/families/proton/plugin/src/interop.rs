//! Proton in interop matrices: reference (or external) clients × servers across profiles; a cell
//! shows whether the client's whole exchange succeeded and how the connection ended.

use handshake_interop::InteropFamily;
use handshake_proton_endpoint::ProtonNode;
use handshake_scenario::engine::{Simulated, INITIATOR};
use handshake_scenario::outcome::Verdict;
use handshake_scenario::{Role, ScenarioOutcome};
use serde::Serialize;

use crate::format::ExpectFields;
use crate::observe::ProtonObservations;
use crate::{Proton, ProtonReport, ProtonScenario};

handshake_scenario::family_fields! {
    /// An expected cell.
    pub struct CellExpect {
        /// `ok` or `failed`.
        path: String = String::new(),
        /// Part of the client's failure text.
        failure_contains: Option<String> = None,
    }
}

/// What a cell showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellSeen {
    /// `ok` (every answer right, closed with 0) or `failed`.
    pub path: String,
    /// Why it failed.
    pub failure: Option<String>,
}

impl InteropFamily for Proton {
    type CellExpect = CellExpect;
    type CellSeen = CellSeen;
    const PATHS: &'static [&'static str] = &["ok", "failed"];

    fn seen_pair(run: &Simulated<Self>, _: &ProtonReport, _: &ProtonScenario) -> CellSeen {
        match run.node(INITIATOR) {
            Some(ProtonNode::Client(c)) => match c.verdict() {
                Some((true, _)) => CellSeen {
                    path: "ok".into(),
                    failure: None,
                },
                Some((false, why)) => CellSeen {
                    path: "failed".into(),
                    failure: Some(why.clone()),
                },
                None => CellSeen {
                    path: "failed".into(),
                    failure: Some("the client did not finish".into()),
                },
            },
            _ => CellSeen {
                path: "failed".into(),
                failure: Some("no client".into()),
            },
        }
    }

    fn seen_external(
        outcome: &ScenarioOutcome,
        role: Role,
        _: &ProtonReport,
        _: &ProtonScenario,
    ) -> Result<CellSeen, String> {
        let ok = match role {
            Role::Initiator => outcome.verdict == Verdict::Pass,
            Role::Responder => outcome
                .observed
                .as_any()
                .downcast_ref::<ProtonObservations>()
                .and_then(|o| o.client_ok)
                .unwrap_or(false),
        };
        Ok(CellSeen {
            path: if ok { "ok" } else { "failed" }.into(),
            failure: (!ok).then(|| outcome.reasons.join("; ")),
        })
    }

    fn seen_failed(why: &str, _: &ProtonScenario) -> CellSeen {
        CellSeen {
            path: "failed".into(),
            failure: Some(why.to_owned()),
        }
    }
    fn path(seen: &CellSeen) -> String {
        seen.path.clone()
    }
    fn value(seen: &CellSeen) -> String {
        seen.path.clone()
    }
    fn summary(seen: &CellSeen) -> String {
        seen.failure
            .clone()
            .unwrap_or_else(|| "every answer right, closed with 0".into())
    }
    fn detail(_: &CellSeen) -> Option<String> {
        None
    }
    fn facts(seen: &CellSeen) -> Vec<(String, String)> {
        vec![("path".into(), seen.path.clone())]
    }
    fn failure(seen: &CellSeen) -> Option<&str> {
        seen.failure.as_deref()
    }
    fn expect_short(e: &CellExpect) -> String {
        e.path.clone()
    }
    fn expect_long(e: &CellExpect) -> String {
        match &e.failure_contains {
            Some(f) => format!("{} · failure containing “{f}”", e.path),
            None => e.path.clone(),
        }
    }
    fn mismatch(e: &CellExpect, seen: &CellSeen, failure_text: bool) -> Vec<String> {
        let mut m = Vec::new();
        if e.path != seen.path {
            m.push(format!("{}, expected {}", seen.path, e.path));
        }
        if let (true, Some(want), Some(got)) = (failure_text, &e.failure_contains, &seen.failure) {
            if !got.contains(want.as_str()) {
                m.push(format!("failure `{got}`, expected it to contain `{want}`"));
            }
        }
        m
    }
    fn checker_path(_: &ProtonReport) -> Option<String> {
        None
    }
    fn setup_facts(s: &ProtonScenario) -> Vec<(String, String)> {
        let plan = s.setup.session.plan();
        vec![(
            "plan".into(),
            format!(
                "{} events, {} commits, {} actions",
                plan.events, plan.commits, plan.actions
            ),
        )]
    }
    fn cell_expect(role: Role) -> ExpectFields {
        ExpectFields {
            client_ok: (role == Role::Initiator).then_some(true),
            ..ExpectFields::default()
        }
    }
}

/// Proton's face in the interop registry.
pub static INTEROP: handshake_interop::Interop<Proton> = handshake_interop::Interop::new();
