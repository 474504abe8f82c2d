//! Dark Tower in interop matrices: reference (or external) clients × meeting servers (a controller
//! and a handler on one port) across profiles; a cell shows whether the client's whole meeting
//! succeeded (joined, authenticated, published, closed with 0), or why not
//! ([`handshake_interop::verdict`]).

use handshake_darktower_endpoint::DarkTowerNode;
use handshake_interop::verdict::{CellSeen, ClientEnd};
use handshake_interop::InteropFamily;
use handshake_scenario::engine::{Simulated, INITIATOR};
use handshake_scenario::{Role, ScenarioOutcome};

use crate::format::ExpectFields;
use crate::{DarkTower, DarkTowerReport, DarkTowerScenario};

/// What a completed cell did.
const DONE: &str = "joined, authenticated, published, closed with 0";

impl InteropFamily for DarkTower {
    type CellExpect = handshake_interop::verdict::CellExpect;
    type CellSeen = CellSeen;
    const PATHS: &'static [&'static str] = handshake_interop::verdict::PATHS;

    fn seen_pair(run: &Simulated<Self>, _: &DarkTowerReport, _: &DarkTowerScenario) -> CellSeen {
        let client = match run.node(INITIATOR) {
            Some(DarkTowerNode::Client(c)) => Some(c),
            _ => None,
        };
        let end = match client.map(|c| &c.report().result) {
            None => ClientEnd::Absent,
            Some(None) => ClientEnd::Unfinished,
            Some(Some(Ok(()))) => ClientEnd::Done,
            Some(Some(Err(why))) => ClientEnd::Failed(why),
        };
        CellSeen::of_client(end, DONE)
    }

    fn seen_external(
        outcome: &ScenarioOutcome,
        observed: &crate::observe::DarkTowerObservations,
        role: Role,
        _: &DarkTowerReport,
        _: &DarkTowerScenario,
    ) -> Result<CellSeen, handshake_scenario::FamilyError> {
        Ok(CellSeen::of(
            handshake_quic_family::observe::client_cell_ok(outcome, observed, role),
            &outcome.reasons,
            DONE,
        ))
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
