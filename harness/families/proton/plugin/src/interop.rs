//! Proton in interop matrices: reference (or external) clients × servers across profiles; a cell
//! shows whether the client's whole exchange succeeded, or why not
//! ([`handshake_interop::verdict`]).

use handshake_interop::verdict::CellSeen;
use handshake_interop::InteropFamily;
use handshake_proton_endpoint::ProtonNode;
use handshake_scenario::engine::{Simulated, INITIATOR};
use handshake_scenario::{Role, ScenarioOutcome};

use crate::format::ExpectFields;
use crate::{Proton, ProtonReport, ProtonScenario};

impl InteropFamily for Proton {
    handshake_interop::verdict_cells!("every answer right, closed with 0");

    fn seen_pair(run: &Simulated<Self>, _: &ProtonReport, _: &ProtonScenario) -> CellSeen {
        match run.node(INITIATOR) {
            Some(ProtonNode::Client(c)) => match c.verdict() {
                Some((true, _)) => CellSeen::ok(),
                Some((false, why)) => CellSeen::failed(why.clone()),
                None => CellSeen::failed("the client did not finish"),
            },
            _ => CellSeen::failed("no client"),
        }
    }

    fn seen_external(
        outcome: &ScenarioOutcome,
        role: Role,
        _: &ProtonReport,
        _: &ProtonScenario,
    ) -> Result<CellSeen, String> {
        Ok(CellSeen::of(
            handshake_interop::client_cell_ok(outcome, role),
            &outcome.reasons,
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
