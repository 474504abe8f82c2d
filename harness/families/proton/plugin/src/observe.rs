//! Units (what the IUT did, as the harness's endpoint saw it) and the run's observations.

use std::collections::BTreeMap;

use handshake_proton_endpoint::ProtonEvent;
use handshake_proton_wire::Discriminator;
use handshake_quic::Close;
use handshake_quic::ConnId;
use handshake_scenario::{Observations, ObserveCtx, Role};
use serde::{Deserialize, Serialize};

use crate::format::ExpectFields;
use crate::Proton;

/// The unit kinds `expect` matches, with their fields.
pub const UNIT_KINDS: &[(&str, &[&str])] = &[
    ("connected", &["conn", "alpn"]),
    ("stream", &["conn", "stream"]),
    ("discriminator", &["conn", "stream", "byte", "name"]),
    ("u32", &["conn", "stream", "value"]),
    ("fin", &["conn", "stream", "pending"]),
    ("reset", &["conn", "stream", "code"]),
    ("stop_sending", &["conn", "stream", "code"]),
    ("close", &["conn", "by", "space", "code", "reason"]),
    ("refused", &["conn"]),
    ("blocked", &["conn", "what"]),
    ("acked", &["conn", "stream", "offset"]),
];

/// `(space, code, reason)` of a close.
pub fn close_parts(close: &Close) -> (&'static str, Option<u64>, String) {
    match close {
        Close::Application { code, reason } => ("application", Some(*code), reason.clone()),
        Close::Transport { code, reason } => ("transport", Some(*code), reason.clone()),
        Close::TimedOut => ("idle", None, String::new()),
        Close::Reset => ("reset", None, String::new()),
        Close::Other(text) => ("other", None, text.clone()),
    }
}

/// What an event of the harness's endpoint says the IUT did: a unit `expect` matches (its JSON
/// form, serde's, is `{"kind": "fin", "conn": 0, …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProtonUnit {
    /// The connection's handshake completed.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The ALPN agreed on.
        alpn: Option<String>,
    },
    /// The IUT opened a stream.
    Stream {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
    },
    /// A stream's first byte: which kind of stream it is.
    Discriminator {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// The byte.
        byte: u8,
        /// Its name (`unknown` for a byte Proton does not define).
        name: String,
    },
    /// A 32-bit value on a stream.
    U32 {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// The value.
        value: u32,
    },
    /// The IUT ended a stream (FIN).
    Fin {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Bytes of a value left incomplete before it.
        pending: u8,
    },
    /// The IUT reset a stream.
    Reset {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Its error code.
        code: u64,
    },
    /// The IUT asked the harness to stop sending on a stream.
    StopSending {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Its error code.
        code: u64,
    },
    /// A connection ended (by the IUT or by the harness).
    Close {
        /// The connection.
        conn: ConnId,
        /// `iut` or `harness`.
        by: String,
        /// `application`, `transport`, `idle`, `reset`, `other`.
        space: String,
        /// Its code.
        code: Option<u64>,
        /// Its reason.
        reason: String,
    },
    /// The IUT refused a connection (CONNECTION_REFUSED).
    Refused {
        /// The connection.
        conn: ConnId,
    },
    /// A step could not be done locally (flow control …).
    Blocked {
        /// The connection.
        conn: ConnId,
        /// What.
        what: String,
    },
    /// The IUT acknowledged a stream's data up to an offset.
    Acked {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Every byte before it is acknowledged.
        offset: u64,
    },
}

/// The unit an event of the harness's endpoint stands for.
pub fn unit(event: &ProtonEvent) -> Option<ProtonUnit> {
    Some(match event {
        ProtonEvent::Connected { conn, alpn } => ProtonUnit::Connected {
            conn: *conn,
            alpn: alpn.clone(),
        },
        ProtonEvent::StreamOpened { conn, stream } => ProtonUnit::Stream {
            conn: *conn,
            stream: *stream,
        },
        ProtonEvent::Discriminator { conn, stream, byte } => ProtonUnit::Discriminator {
            conn: *conn,
            stream: *stream,
            byte: *byte,
            name: Discriminator::from_byte(*byte)
                .map_or("unknown", |d| d.name())
                .to_owned(),
        },
        ProtonEvent::Value {
            conn,
            stream,
            value,
        } => ProtonUnit::U32 {
            conn: *conn,
            stream: *stream,
            value: *value,
        },
        ProtonEvent::Fin {
            conn,
            stream,
            pending,
        } => ProtonUnit::Fin {
            conn: *conn,
            stream: *stream,
            pending: *pending,
        },
        ProtonEvent::Reset { conn, stream, code } => ProtonUnit::Reset {
            conn: *conn,
            stream: *stream,
            code: *code,
        },
        ProtonEvent::StopSending { conn, stream, code } => ProtonUnit::StopSending {
            conn: *conn,
            stream: *stream,
            code: *code,
        },
        ProtonEvent::Ended {
            conn,
            close: Close::Transport { code: 2, .. },
            by_peer: true,
        } => ProtonUnit::Refused { conn: *conn },
        ProtonEvent::Ended {
            conn,
            close,
            by_peer,
        } => {
            let (space, code, reason) = close_parts(close);
            ProtonUnit::Close {
                conn: *conn,
                by: if *by_peer { "iut" } else { "harness" }.to_owned(),
                space: space.to_owned(),
                code,
                reason,
            }
        }
        ProtonEvent::Blocked { conn, what } => ProtonUnit::Blocked {
            conn: *conn,
            what: what.clone(),
        },
        ProtonEvent::Acked {
            conn,
            stream,
            offset,
        } => ProtonUnit::Acked {
            conn: *conn,
            stream: *stream,
            offset: *offset,
        },
        ProtonEvent::Listening | ProtonEvent::RefusedIncoming | ProtonEvent::ClientDone { .. } => {
            return None
        }
    })
}

/// How connection 0 ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ending {
    /// `application`, `transport`, `idle`, `reset`, `other`.
    pub space: String,
    /// Its code.
    pub code: Option<u64>,
    /// Its reason.
    pub reason: String,
    /// `iut` or `harness`.
    pub by: String,
    /// When, ms after the start.
    pub at_ms: u64,
}

/// What a Proton run observed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProtonObservations {
    /// How connection 0 ended (`None`: it did not, or there was none).
    pub close: Option<Ending>,
    /// Some connection was refused.
    pub refused: bool,
    /// Units the IUT produced, by kind.
    pub units: BTreeMap<String, u64>,
    /// A client IUT's verdict (in-process: the reference client's; external: exit 0).
    pub client_ok: Option<bool>,
    /// The judge's notes (undecrypted packets …).
    pub notes: Vec<String>,
}

impl Observations for ProtonObservations {
    fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        match &self.close {
            Some(e) => {
                let _ = writeln!(
                    out,
                    "connection 0: closed by {} at {} ms ({} {}{})",
                    e.by,
                    e.at_ms,
                    e.space,
                    e.code.map_or_else(String::new, |c| format!("code {c}")),
                    if e.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" {:?}", e.reason)
                    }
                );
            }
            None => out.push_str("connection 0: not closed\n"),
        }
        if self.refused {
            out.push_str("a connection was refused (CONNECTION_REFUSED)\n");
        }
        handshake_quic_family::observe::render_units_client_notes(
            out,
            &self.units,
            (self.client_ok, None),
            &self.notes,
        );
    }

    fn facts(&self) -> Vec<(String, String)> {
        let mut f = Vec::new();
        if let Some(e) = &self.close {
            f.push((
                "close".into(),
                format!(
                    "{} by {} at {} ms, code {}",
                    e.space,
                    e.by,
                    e.at_ms,
                    e.code.map_or("-".into(), |c| c.to_string())
                ),
            ));
        }
        f.push(("refused".into(), self.refused.to_string()));
        handshake_quic_family::observe::units_client_facts(&mut f, &self.units, self.client_ok);
        f
    }
}

impl handshake_quic_family::observe::ClientVerdict for ProtonObservations {
    fn client_ok(&self) -> Option<bool> {
        self.client_ok
    }
}

/// Collects the observations from the harness's endpoint's events.
pub fn observe(ctx: &ObserveCtx<'_, Proton>, notes: Vec<String>) -> ProtonObservations {
    let mut o = ProtonObservations {
        notes,
        ..ProtonObservations::default()
    };
    for e in ctx.events {
        if e.endpoint == ctx.iut_addr {
            if let ProtonEvent::ClientDone { ok, .. } = &e.event {
                o.client_ok = Some(*ok);
            }
            continue;
        }
        if e.endpoint != ctx.peer_addr {
            continue;
        }
        // A reference client facing a server IUT (interop): how it ended its plan.
        if let ProtonEvent::ClientDone { ok, .. } = &e.event {
            o.client_ok = Some(*ok);
        }
        if let Some(u) = unit(&e.event) {
            if let Some(kind) = handshake_scenario::unit_kind(&u) {
                *o.units.entry(kind).or_default() += 1;
            }
            if matches!(u, ProtonUnit::Refused { .. }) {
                o.refused = true;
            }
        }
        if let ProtonEvent::Ended {
            conn: 0,
            close,
            by_peer,
        } = &e.event
        {
            if o.close.is_none() {
                let (space, code, reason) = close_parts(close);
                o.close = Some(Ending {
                    space: space.into(),
                    code,
                    reason,
                    by: if *by_peer { "iut" } else { "harness" }.into(),
                    at_ms: e
                        .at
                        .since_start()
                        .as_millis()
                        .try_into()
                        .unwrap_or(u64::MAX),
                });
            }
        }
    }
    // The harness's own closes are units of the harness, not of the IUT.
    if let Some(n) = o.units.get_mut("close") {
        let by_harness = ctx
            .events
            .iter()
            .filter(|e| e.endpoint == ctx.peer_addr)
            .filter(|e| matches!(e.event, ProtonEvent::Ended { by_peer: false, .. }))
            .count() as u64;
        *n = n.saturating_sub(by_harness);
    }
    o.units.retain(|_, n| *n > 0);
    if ctx.role == Role::Initiator && ctx.iut.is_none() {
        o.client_ok = ctx.iut_exit.and_then(|x| x.succeeded);
    }
    o
}

/// Compares the expectations with the observations.
impl handshake_scenario::Expectations<ProtonObservations> for ExpectFields {
    fn check(
        &self,
        o: &ProtonObservations,
        reasons: &mut Vec<String>,
        _unobservable: &mut Vec<String>,
    ) {
        let close = o.close.as_ref();
        if let Some(space) = &self.close_space {
            let got = close.map_or("none", |c| c.space.as_str());
            if got != space {
                reasons.push(format!("connection 0 ended `{got}`, expected `{space}`"));
            }
        }
        if let Some(code) = self.close_code {
            let got = close.and_then(|c| c.code);
            if got != Some(code) {
                reasons.push(format!("connection 0 close code {got:?}, expected {code}"));
            }
        }
        if let Some(by) = &self.closed_by {
            let got = close.map_or("nobody", |c| c.by.as_str());
            if got != by {
                reasons.push(format!("connection 0 closed by {got}, expected {by}"));
            }
        }
        if let Some(bound) = &self.closed_at_ms {
            match close {
                Some(c) if bound.contains(c.at_ms) => {}
                Some(c) => reasons.push(format!(
                    "connection 0 ended at {} ms, expected {bound}",
                    c.at_ms
                )),
                None => reasons.push(format!("connection 0 did not end, expected at {bound} ms")),
            }
        }
        if let Some(refused) = self.refused {
            if refused != o.refused {
                reasons.push(format!("refused = {}, expected {refused}", o.refused));
            }
        }
        handshake_quic_family::check_units_and_client(
            (&self.units, self.client_ok),
            (&o.units, o.client_ok, None),
            reasons,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unit kind the vocabulary lists is a variant of [`ProtonUnit`], with its fields.
    #[test]
    fn unit_kinds_are_the_enums() {
        let (conn, stream) = (0, 4);
        let samples = [
            ProtonUnit::Connected { conn, alpn: None },
            ProtonUnit::Stream { conn, stream },
            ProtonUnit::Discriminator {
                conn,
                stream,
                byte: 0,
                name: "unknown".into(),
            },
            ProtonUnit::U32 {
                conn,
                stream,
                value: 7,
            },
            ProtonUnit::Fin {
                conn,
                stream,
                pending: 0,
            },
            ProtonUnit::Reset {
                conn,
                stream,
                code: 1,
            },
            ProtonUnit::StopSending {
                conn,
                stream,
                code: 1,
            },
            ProtonUnit::Close {
                conn,
                by: "iut".into(),
                space: "application".into(),
                code: Some(0),
                reason: String::new(),
            },
            ProtonUnit::Refused { conn },
            ProtonUnit::Blocked {
                conn,
                what: "stream".into(),
            },
            ProtonUnit::Acked {
                conn,
                stream,
                offset: 3,
            },
        ];
        let problems = handshake_scenario::testing::unit_kind_mismatches::<Proton>(&samples);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
