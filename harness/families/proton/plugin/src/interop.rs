//! Proton in interop matrices: reference (or external) clients × servers across profiles; a cell
//! shows whether the client's whole exchange succeeded, or why not
//! ([`handshake_interop::verdict`]).

use handshake_interop::verdict::{CellSeen, ClientEnd};
use handshake_interop::InteropFamily;
use handshake_proton_endpoint::ProtonNode;
use handshake_scenario::engine::{Simulated, INITIATOR};
use handshake_scenario::{Role, ScenarioOutcome};

use crate::format::ExpectFields;
use crate::{Proton, ProtonReport, ProtonScenario};

/// What a completed cell did.
const DONE: &str = "every answer right, closed with 0";

impl InteropFamily for Proton {
    type CellExpect = handshake_interop::verdict::CellExpect;
    type CellSeen = CellSeen;
    const PATHS: &'static [&'static str] = handshake_interop::verdict::PATHS;

    fn seen_pair(run: &Simulated<Self>, _: &ProtonReport, _: &ProtonScenario) -> CellSeen {
        let client = match run.node(INITIATOR) {
            Some(ProtonNode::Client(c)) => Some(c),
            _ => None,
        };
        let end = match client.map(|c| c.verdict()) {
            None => ClientEnd::Absent,
            Some(None) => ClientEnd::Unfinished,
            Some(Some((true, _))) => ClientEnd::Done,
            Some(Some((false, why))) => ClientEnd::Failed(why),
        };
        CellSeen::of_client(end, DONE)
    }

    fn seen_external(
        outcome: &ScenarioOutcome,
        observed: &crate::observe::ProtonObservations,
        role: Role,
        _: &ProtonReport,
        _: &ProtonScenario,
    ) -> Result<CellSeen, handshake_scenario::FamilyError> {
        Ok(CellSeen::of(
            handshake_quic_family::observe::client_cell_ok(outcome, observed, role),
            &outcome.reasons,
            DONE,
        ))
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
