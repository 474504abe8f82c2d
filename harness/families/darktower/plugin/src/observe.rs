//! Units (what the IUT did, as the harness's endpoint saw it) and the run's observations.

use std::collections::BTreeMap;

use handshake_darktower_endpoint::DarkTowerEvent;
use handshake_scenario::{Observations, ObserveCtx, Role};
use serde::{Deserialize, Serialize};

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

/// What an event of the harness's endpoint says the IUT did: a unit `expect` matches (its JSON
/// form, serde's, is `{"kind": "joined", "participant": "…", …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DarkTowerUnit {
    /// A signaling message the IUT sent a scripted participant.
    Message {
        /// The scripted participant.
        participant: u32,
        /// `controller` or `handler`.
        from: String,
        /// The message's type.
        #[serde(rename = "type")]
        message_type: String,
        /// Its error code, if any.
        code: Option<i32>,
        /// What it is about, if it says.
        about: Option<String>,
        /// Its reason, if any.
        reason: Option<i32>,
    },
    /// The IUT ended a participant's stream (FIN).
    Fin {
        /// The scripted participant.
        participant: u32,
        /// `controller` or `handler`.
        from: String,
    },
    /// The IUT asked a participant to stop sending on a stream (STOP_SENDING).
    Stopped {
        /// The scripted participant.
        participant: u32,
        /// The stream.
        stream: u64,
        /// The application code it maps to, if known.
        code: Option<u32>,
        /// The code on the wire.
        wire: u64,
    },
    /// The IUT reset a participant's stream (RESET_STREAM).
    Reset {
        /// The scripted participant.
        participant: u32,
        /// The stream.
        stream: u64,
        /// The application code it maps to, if known.
        code: Option<u32>,
        /// The code on the wire.
        wire: u64,
    },
    /// A media frame the IUT sent.
    Frame {
        /// The scripted participant.
        participant: u32,
        /// Its stream (`None`: a datagram).
        stream: Option<u64>,
        /// Its sequence number.
        sequence: u64,
        /// Its source.
        source: String,
    },
    /// The IUT closed a participant's session.
    Closed {
        /// The scripted participant.
        participant: u32,
        /// `controller` or `handler`.
        from: String,
        /// How.
        close: String,
    },
    /// A client IUT joined the harness's meeting.
    Joined {
        /// Its participant id.
        participant: String,
        /// It resumed an earlier session.
        resumed: bool,
    },
    /// A client IUT left the meeting.
    Left {
        /// Its participant id.
        participant: String,
        /// Why.
        reason: i32,
    },
    /// A client IUT published a stream.
    Published {
        /// Its participant id.
        participant: String,
        /// The stream.
        stream_id: String,
    },
    /// A client IUT authenticated.
    Authenticated {
        /// Its participant id.
        participant: String,
    },
    /// A client IUT requested something of the controller.
    Requested {
        /// What.
        what: String,
        /// Whether the request was valid.
        valid: bool,
    },
    /// The harness's server dropped a datagram of the IUT.
    BadDatagram {
        /// Why.
        reason: String,
    },
}

/// The unit an event of the harness's endpoint stands for (`None`: the harness's own doing).
pub fn unit(event: &DarkTowerEvent) -> Option<DarkTowerUnit> {
    Some(match event {
        DarkTowerEvent::Message {
            participant,
            from,
            kind,
            code,
            about,
            reason,
        } => DarkTowerUnit::Message {
            participant: *participant,
            from: (*from).to_owned(),
            message_type: (*kind).to_owned(),
            code: *code,
            about: about.clone(),
            reason: *reason,
        },
        DarkTowerEvent::Fin { participant, from } => DarkTowerUnit::Fin {
            participant: *participant,
            from: (*from).to_owned(),
        },
        DarkTowerEvent::StreamCode {
            participant,
            how,
            stream,
            code,
            wire,
        } => {
            let (participant, stream, code, wire) = (*participant, *stream, *code, *wire);
            match *how {
                "stopped" => DarkTowerUnit::Stopped {
                    participant,
                    stream,
                    code,
                    wire,
                },
                "reset" => DarkTowerUnit::Reset {
                    participant,
                    stream,
                    code,
                    wire,
                },
                // The endpoint says only these two (STOP_SENDING, RESET_STREAM).
                _ => return None,
            }
        }
        DarkTowerEvent::Frame {
            participant,
            stream,
            sequence,
            source,
        } => DarkTowerUnit::Frame {
            participant: *participant,
            stream: *stream,
            sequence: *sequence,
            source: source.clone(),
        },
        DarkTowerEvent::ParticipantClosed {
            participant,
            from,
            close,
            by_iut: true,
        } => DarkTowerUnit::Closed {
            participant: *participant,
            from: (*from).to_owned(),
            close: close.clone(),
        },
        // The harness's meeting server facing a client IUT: what the client achieved.
        DarkTowerEvent::Joined {
            participant,
            resumed,
        } => DarkTowerUnit::Joined {
            participant: participant.clone(),
            resumed: *resumed,
        },
        DarkTowerEvent::Left {
            participant,
            reason,
        } => DarkTowerUnit::Left {
            participant: participant.clone(),
            reason: *reason,
        },
        DarkTowerEvent::Published {
            participant,
            stream_id,
        } => DarkTowerUnit::Published {
            participant: participant.clone(),
            stream_id: stream_id.clone(),
        },
        DarkTowerEvent::Requested { what, valid } => DarkTowerUnit::Requested {
            what: (*what).to_owned(),
            valid: *valid,
        },
        DarkTowerEvent::Authenticated { participant } => DarkTowerUnit::Authenticated {
            participant: participant.clone(),
        },
        DarkTowerEvent::DatagramDropped { reason } => DarkTowerUnit::BadDatagram {
            reason: reason.clone(),
        },
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
        if let Some(kind) = unit(&e.event).and_then(|u| handshake_scenario::unit_kind(&u)) {
            *o.units.entry(kind).or_default() += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unit kind the vocabulary lists is a variant of [`DarkTowerUnit`], with its fields.
    #[test]
    fn unit_kinds_are_the_enums() {
        let (participant, name) = (1, String::from("p"));
        let samples = [
            DarkTowerUnit::Message {
                participant,
                from: "controller".into(),
                message_type: "join".into(),
                code: None,
                about: None,
                reason: None,
            },
            DarkTowerUnit::Fin {
                participant,
                from: "handler".into(),
            },
            DarkTowerUnit::Stopped {
                participant,
                stream: 0,
                code: None,
                wire: 0,
            },
            DarkTowerUnit::Reset {
                participant,
                stream: 0,
                code: Some(1),
                wire: 1,
            },
            DarkTowerUnit::Frame {
                participant,
                stream: None,
                sequence: 0,
                source: name.clone(),
            },
            DarkTowerUnit::Closed {
                participant,
                from: "handler".into(),
                close: "done".into(),
            },
            DarkTowerUnit::Joined {
                participant: name.clone(),
                resumed: false,
            },
            DarkTowerUnit::Left {
                participant: name.clone(),
                reason: 0,
            },
            DarkTowerUnit::Published {
                participant: name.clone(),
                stream_id: "s".into(),
            },
            DarkTowerUnit::Authenticated { participant: name },
            DarkTowerUnit::Requested {
                what: "token".into(),
                valid: true,
            },
            DarkTowerUnit::BadDatagram {
                reason: "short".into(),
            },
        ];
        let problems = handshake_scenario::testing::unit_kind_mismatches::<DarkTower>(&samples);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
