//! Dark Tower in interop matrices: reference (or external) clients × meeting servers (a controller
//! and a handler on one port) across profiles; a cell shows whether the client's whole meeting
//! succeeded (joined, authenticated, published, closed with 0).

use handshake_interop::InteropFamily;
use handshake_darktower_endpoint::DarkTowerNode;
use handshake_scenario::engine::{Simulated, INITIATOR};
use handshake_scenario::outcome::Verdict;
use handshake_scenario::{Role, ScenarioOutcome};
use serde::Serialize;

use crate::format::ExpectFields;
use crate::observe::DarkTowerObservations;
use crate::{DarkTower, DarkTowerReport, DarkTowerScenario};

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

impl InteropFamily for DarkTower {
    type CellExpect = CellExpect;
    type CellSeen = CellSeen;
    const PATHS: &'static [&'static str] = &["ok", "failed"];

    fn seen_pair(run: &Simulated<Self>, _: &DarkTowerReport, _: &DarkTowerScenario) -> CellSeen {
        match run.node(INITIATOR) {
            Some(DarkTowerNode::Client(c)) => match &c.report().result {
                Some(Ok(())) => CellSeen {
                    path: "ok".into(),
                    failure: None,
                },
                Some(Err(why)) => CellSeen {
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
        _: &DarkTowerReport,
        _: &DarkTowerScenario,
    ) -> Result<CellSeen, String> {
        let ok = match role {
            Role::Initiator => outcome.verdict == Verdict::Pass,
            Role::Responder => outcome
                .observed
                .as_any()
                .downcast_ref::<DarkTowerObservations>()
                .and_then(|o| o.client_ok)
                .unwrap_or(false),
        };
        Ok(CellSeen {
            path: if ok { "ok" } else { "failed" }.into(),
            failure: (!ok).then(|| outcome.reasons.join("; ")),
        })
    }

    fn seen_failed(why: &str, _: &DarkTowerScenario) -> CellSeen {
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
            .unwrap_or_else(|| "joined, authenticated, published, closed with 0".into())
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
    fn checker_path(_: &DarkTowerReport) -> Option<String> {
        None
    }
    fn setup_facts(s: &DarkTowerScenario) -> Vec<(String, String)> {
        let m = &s.setup.meeting;
        vec![(
            "plan".into(),
            format!(
                "{} × {} frames at {} fps, {} B",
                m.publish.join("+"),
                m.frames,
                m.fps,
                m.payload_bytes
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

/// Dark Tower's face in the interop registry.
pub static INTEROP: handshake_interop::Interop<DarkTower> = handshake_interop::Interop::new();
