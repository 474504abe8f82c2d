//! What an external media-stream program speaks, found with a few short exchanges before it is
//! judged (`harness probe`; `--iut-cmd` and `--iut-addr` use it implicitly): does a responder
//! answer a SYN, a START, and stream before the ACK; does an initiator open with a SYN or a START,
//! and follow a START with SYNs (the udp_push build)?

use handshake_scenario::{Inferred, Probe};

/// A probe of the `role` side, started as `profile` with `options`: a scenario requiring
/// `requires`, with `steps` (JSON).
macro_rules! probe {
    ($id:literal, $asks:literal, $profile:literal, [$($option:literal),*], $role:literal, $requires:literal, $steps:literal) => {
        Probe {
            id: $id,
            asks: $asks,
            profile: $profile,
            options: &[$($option),*],
            scenario: concat!(
                r#"{"id": "probe."#, $id, r#"", "title": "probe", "protocol": "mediastream", "#,
                r#""iut": {"role": ""#, $role, r#"", "requires": [""#, $requires, r#""]}, "settle_ms": 0, "#,
                r#""peer": {"steps": ["#, $steps, "]}}"
            ),
        }
    };
}

/// The questions, in the order they are asked.
pub const PROBES: &[Probe] = &[
    probe!(
        "responder.syn",
        "does the responder answer a SYN with an accepting SYN-ACK?",
        "3way",
        [],
        "responder",
        "three_way",
        r#"{"send": {"datagram": {"syn": {}}}},
           {"expect": {"kind": "syn_ack", "where": {"accept": true}, "within_ms": 1000, "basis": "D3"}}"#
    ),
    probe!(
        "responder.start",
        "does the responder answer a START with a CONNECTION_ID?",
        "legacy",
        [],
        "responder",
        "legacy_start",
        r#"{"send": {"datagram": {"start": {}}}},
           {"expect": {"kind": "connection_id", "within_ms": 1000, "basis": "legacy.responder"}}"#
    ),
    probe!(
        "responder.optimistic",
        "does the responder send its CONNECTION_ID right after its SYN-ACK, before any ACK?",
        "3way",
        ["optimistic_start"],
        "responder",
        "optimistic_start",
        r#"{"send": {"datagram": {"syn": {}}}},
           {"expect": {"kind": "syn_ack", "where": {"accept": true}, "within_ms": 1000, "basis": "D3"}},
           {"expect": {"kind": "connection_id", "within_ms": 300, "basis": "D8"}}"#
    ),
    probe!(
        "initiator.syn",
        "does the initiator open with a SYN?",
        "3way",
        [],
        "initiator",
        "three_way",
        r#"{"expect": {"kind": "syn", "within_ms": 50, "basis": "D1"}}"#
    ),
    probe!(
        "initiator.start",
        "does the initiator open with a START?",
        "legacy",
        [],
        "initiator",
        "legacy_start",
        r#"{"expect": {"kind": "start", "within_ms": 50, "basis": "legacy.initiator"}}"#
    ),
    probe!(
        "initiator.start_then_syn",
        "does the initiator follow its START with a SYN (the udp_push build)?",
        "udp_push",
        [],
        "initiator",
        "udp_push",
        r#"{"expect": {"kind": "start", "within_ms": 50, "basis": "udp_push.initiator"}},
           {"expect": {"kind": "syn", "within_ms": 1600, "basis": "udp_push.initiator"}}"#
    ),
];

/// What the answers say: the responder's profile first (its options always on), then the
/// initiator's.
pub fn infer(passed: &[&str], asked: &[&str]) -> Option<Inferred> {
    let yes = |id: &str| passed.contains(&id);
    let mut profiles: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !profiles.iter().any(|x| x == p) {
            profiles.push(p.to_owned());
        }
    };
    if yes("responder.syn") {
        add("3way");
        if yes("responder.start") {
            options.push("allow_legacy_start".into());
        }
        if yes("responder.optimistic") {
            options.push("optimistic_start".into());
        }
    } else if yes("responder.start") {
        // The udp_push build's responder is the legacy one.
        add("legacy");
        add("udp_push");
    }
    if yes("initiator.syn") {
        add("3way");
    } else if yes("initiator.start_then_syn") {
        add("udp_push");
    } else if yes("initiator.start") {
        add("legacy");
    }
    let _ = asked;
    (!profiles.is_empty()).then_some(Inferred { profiles, options })
}

/// How `harness probe` finds out what a program speaks.
pub const PROBING: handshake_scenario::Probing = handshake_scenario::Probing {
    probes: PROBES,
    infer,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn inferred(passed: &[&str]) -> Option<(Vec<String>, Vec<String>)> {
        infer(passed, &[]).map(|i| (i.profiles, i.options))
    }

    #[test]
    fn a_responder_that_answers_only_start_is_legacy() {
        let (profiles, options) = inferred(&["responder.start"]).expect("inferred");
        assert_eq!(profiles, ["legacy", "udp_push"]);
        assert!(options.is_empty());
    }

    #[test]
    fn a_3way_responder_that_also_serves_start_has_allow_legacy_start_on() {
        let (profiles, options) =
            inferred(&["responder.syn", "responder.start", "responder.optimistic"])
                .expect("inferred");
        assert_eq!(profiles, ["3way"]);
        assert_eq!(options, ["allow_legacy_start", "optimistic_start"]);
    }

    #[test]
    fn initiators_by_what_they_send_first() {
        assert_eq!(
            inferred(&["initiator.syn"]).map(|i| i.0),
            Some(vec!["3way".to_owned()])
        );
        assert_eq!(
            inferred(&["initiator.start", "initiator.start_then_syn"]).map(|i| i.0),
            Some(vec!["udp_push".to_owned()])
        );
        assert_eq!(
            inferred(&["initiator.start"]).map(|i| i.0),
            Some(vec!["legacy".to_owned()])
        );
        assert_eq!(inferred(&[]), None);
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
