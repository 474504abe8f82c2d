//! Units (what the IUT did, as the harness's endpoint saw it) and the run's observations.

use std::any::Any;
use std::collections::BTreeMap;

use handshake_darktower_endpoint::DarkTowerEvent;
use handshake_scenario::{Observations, ObserveCtx, Role};
use serde::Serialize;
use serde_json::{json, Value};

use crate::format::ExpectFields;
use crate::DarkTower;

/// The unit kinds `expect` matches, with their fields.
pub const UNIT_KINDS: &[(&str, &[&str])] = &[
    (
        "message",
        &["participant", "from", "type", "code", "about", "reason"],
    ),
    ("fin", &["participant", "from"]),
    ("stopped", &["participant", "stream", "code", "wire"]),
    ("reset", &["participant", "stream", "code", "wire"]),
    ("frame", &["participant", "stream", "sequence", "source"]),
    ("closed", &["participant", "from", "close"]),
    ("joined", &["participant", "resumed"]),
    ("left", &["participant", "reason"]),
    ("published", &["participant", "stream_id"]),
    ("authenticated", &["participant"]),
    ("requested", &["what", "valid"]),
    ("bad_datagram", &["reason"]),
];

/// The unit an event of the harness's endpoint stands for (`None`: the harness's own doing).
pub fn unit(event: &DarkTowerEvent) -> Option<Value> {
    Some(match event {
        DarkTowerEvent::Message {
            participant,
            from,
            kind,
            code,
            about,
            reason,
        } => json!({
            "kind": "message", "participant": participant, "from": from, "type": kind,
            "code": code, "about": about, "reason": reason,
        }),
        DarkTowerEvent::Fin { participant, from } => {
            json!({"kind": "fin", "participant": participant, "from": from})
        }
        DarkTowerEvent::StreamCode {
            participant,
            how,
            stream,
            code,
            wire,
        } => json!({
            "kind": how, "participant": participant, "stream": stream, "code": code, "wire": wire,
        }),
        DarkTowerEvent::Frame {
            participant,
            stream,
            sequence,
            source,
        } => json!({
            "kind": "frame", "participant": participant, "stream": stream,
            "sequence": sequence, "source": source,
        }),
        DarkTowerEvent::ParticipantClosed {
            participant,
            from,
            close,
            by_iut: true,
        } => json!({"kind": "closed", "participant": participant, "from": from, "close": close}),
        // The harness's meeting server facing a client IUT: what the client achieved.
        DarkTowerEvent::Joined {
            participant,
            resumed,
        } => json!({"kind": "joined", "participant": participant, "resumed": resumed}),
        DarkTowerEvent::Left {
            participant,
            reason,
        } => json!({"kind": "left", "participant": participant, "reason": reason}),
        DarkTowerEvent::Published {
            participant,
            stream_id,
        } => json!({"kind": "published", "participant": participant, "stream_id": stream_id}),
        DarkTowerEvent::Requested { what, valid } => {
            json!({"kind": "requested", "what": what, "valid": valid})
        }
        DarkTowerEvent::Authenticated { participant } => {
            json!({"kind": "authenticated", "participant": participant})
        }
        DarkTowerEvent::DatagramDropped { reason } => {
            json!({"kind": "bad_datagram", "reason": reason})
        }
        DarkTowerEvent::ParticipantClosed { by_iut: false, .. }
        | DarkTowerEvent::SessionOpened { .. }
        | DarkTowerEvent::SessionClosed { .. }
        | DarkTowerEvent::Error { .. }
        | DarkTowerEvent::StreamEnded { .. }
        | DarkTowerEvent::Finished { .. } => return None,
    })
}

/// What a Dark Tower run observed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DarkTowerObservations {
    /// Units the IUT produced, by kind.
    pub units: BTreeMap<String, u64>,
    /// A client IUT's verdict (in-process: the reference client's; external: exit 0).
    pub client_ok: Option<bool>,
    /// Why the in-process client failed.
    pub client_failure: Option<String>,
    /// The judge's notes.
    pub notes: Vec<String>,
}

impl Observations for DarkTowerObservations {
    fn render(&self, out: &mut String) {
        handshake_quic_family::observe::render_units_client_notes(
            out,
            &self.units,
            (self.client_ok, self.client_failure.as_deref()),
            &self.notes,
        );
    }

    fn facts(&self) -> Vec<(String, String)> {
        let mut f = Vec::new();
        handshake_quic_family::observe::units_client_facts(&mut f, &self.units, self.client_ok);
        f
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl handshake_quic_family::observe::ClientVerdict for DarkTowerObservations {
    fn client_ok(&self) -> Option<bool> {
        self.client_ok
    }
}

/// Collects the observations from the harness's endpoint's events.
pub fn observe(ctx: &ObserveCtx<'_, DarkTower>, notes: Vec<String>) -> DarkTowerObservations {
    let mut o = DarkTowerObservations {
        notes,
        ..DarkTowerObservations::default()
    };
    for e in ctx.events {
        if e.endpoint == ctx.iut_addr {
            if let DarkTowerEvent::Finished { ok, reason } = &e.event {
                o.client_ok = Some(*ok);
                o.client_failure = (!ok).then(|| reason.clone());
            }
            continue;
        }
        if e.endpoint != ctx.peer_addr {
            continue;
        }
        // A reference client facing a server IUT (interop): how its meeting ended.
        if let DarkTowerEvent::Finished { ok, reason } = &e.event {
            o.client_ok = Some(*ok);
            o.client_failure = (!ok).then(|| reason.clone());
        }
        if let Some(kind) = unit(&e.event)
            .as_ref()
            .and_then(|u| u.get("kind"))
            .and_then(Value::as_str)
        {
            *o.units.entry(kind.to_owned()).or_default() += 1;
        }
    }
    if ctx.role == Role::Initiator && ctx.iut.is_none() {
        o.client_ok = ctx.iut_exit.and_then(|x| x.succeeded);
    }
    o
}

/// Compares the expectations with the observations.
impl handshake_scenario::Expectations<DarkTowerObservations> for ExpectFields {
    fn check(
        &self,
        o: &DarkTowerObservations,
        reasons: &mut Vec<String>,
        _unobservable: &mut Vec<String>,
    ) {
        handshake_quic_family::check_units_and_client(
            (&self.units, self.client_ok),
            (&o.units, o.client_ok, o.client_failure.as_deref()),
            reasons,
        );
    }
}
