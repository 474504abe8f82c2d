//! What an external Dark Tower server speaks, found with a few short exchanges before it is
//! judged (`harness probe`; a manifest without `profiles` is probed implicitly): does its
//! controller answer a JoinRequest, and its handler a ConnectRequest, over WebTransport and over
//! bare QUIC (the harness offering every ALPN)? The transports it answers become its manifest's
//! `transports=` contract; v1 and v2 media cannot be told apart without a second participant, so
//! both stay.

use handshake_scenario::{Inferred, Probe};

/// A probe of `part` (controller or handler) over `transport`.
macro_rules! server_probe {
    ($id:literal, $asks:literal, $part:literal, $transport:literal, $step:literal, $answer:literal) => {
        Probe {
            id: $id,
            asks: $asks,
            profile: "v1",
            options: &[],
            scenario: concat!(
                r#"{"id": "probe."#,
                $id,
                r#"", "title": "probe", "protocol": "darktower",
                "iut": {"role": "server", "serves": ""#,
                $part,
                r#""}, "transport": ""#,
                $transport,
                r#"", "settle_ms": 0,
                "peer": {"steps": [{""#,
                $step,
                r#"": {"participant": 0}},
                    {"expect": {"kind": "message", "where": {"participant": 0, "type": ""#,
                $answer,
                r#""}, "within_ms": 2000, "basis": "signaling, DH1"}}]}}"#
            ),
        }
    };
}

/// The questions, in the order they are asked.
pub const PROBES: &[Probe] = &[
    server_probe!(
        "controller.webtransport",
        "does the controller answer a JoinRequest over WebTransport?",
        "controller",
        "webtransport",
        "join",
        "join_response"
    ),
    server_probe!(
        "controller.quic",
        "does the controller answer a JoinRequest over bare QUIC?",
        "controller",
        "quic",
        "join",
        "join_response"
    ),
    server_probe!(
        "handler.webtransport",
        "does the handler answer a ConnectRequest over WebTransport?",
        "handler",
        "webtransport",
        "authenticate",
        "connect_response"
    ),
    server_probe!(
        "handler.quic",
        "does the handler answer a ConnectRequest over bare QUIC?",
        "handler",
        "quic",
        "authenticate",
        "connect_response"
    ),
];

/// What the answers say: the transports its servers answered on.
pub fn infer(passed: &[&str], _asked: &[&str]) -> Option<Inferred> {
    let answered = |t: &str| passed.iter().any(|p| p.ends_with(t));
    let transports: Vec<&str> = ["webtransport", "quic"]
        .into_iter()
        .filter(|t| answered(&format!(".{t}")))
        .collect();
    (!transports.is_empty()).then(|| Inferred {
        profiles: vec!["v1".into(), "v2".into()],
        options: vec![format!("transports={}", transports.join(","))],
    })
}

/// How `harness probe` finds out what a program speaks.
pub const PROBING: handshake_scenario::Probing = handshake_scenario::Probing {
    probes: PROBES,
    infer,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transports_it_answered_on() {
        let i = infer(&["controller.quic", "handler.quic"], &[]).expect("inferred");
        assert_eq!(i.options, ["transports=quic"]);
        let i = infer(&["controller.webtransport", "handler.quic"], &[]).expect("inferred");
        assert_eq!(i.options, ["transports=webtransport,quic"]);
        assert!(infer(&[], &[]).is_none());
    }

    #[test]
    fn every_probe_loads() {
        use handshake_scenario::DynFamily;
        for p in PROBES {
            let s = crate::FAMILY.load(std::path::Path::new(p.id), p.scenario);
            assert!(s.is_ok(), "{}: {:?}", p.id, s.err());
        }
    }
}
