//! What an external Proton server speaks, found with a short exchange before it is judged
//! (`harness probe`; a manifest without `profiles` is probed implicitly): does it answer a
//! StateCommit of 0xFFFFFFFE with 0 (wrapping, as the original codes it) or close with 5 (P1's
//! checked arithmetic, the project profile)?

use handshake_scenario::{Inferred, Probe};

/// A server probe: set up the three streams, then a StateCommit of 0xFFFFFFFE and `answer`.
macro_rules! commit_probe {
    ($id:literal, $asks:literal, $profile:literal, $requires:literal, $answer:literal) => {
        Probe {
            id: $id,
            asks: $asks,
            profile: $profile,
            options: &[],
            scenario: concat!(
                r#"{"id": "probe."#, $id, r#"", "title": "probe", "protocol": "proton",
                "iut": {"role": "server", "requires": [""#, $requires, r#""]},
                "session": {"startup_ms": 0}, "settle_ms": 0,
                "peer": {"steps": [{"connect": {}}, {"open_bi": {"count": 3}},
                    {"write": {"stream": 0, "hex": "01"}}, {"write": {"stream": 4, "hex": "02"}},
                    {"write": {"stream": 8, "hex": "03"}}, {"write": {"stream": 4, "u32": [4294967294]}},
                    "#, $answer, r#"]}}"#
            ),
        }
    };
}

/// The questions, in the order they are asked.
pub const PROBES: &[Probe] = &[
    commit_probe!(
        "server.commit_wraps",
        "does the server answer a StateCommit of 0xFFFFFFFE with 0 (wrapping, as coded)?",
        "as_coded",
        "wrapping_commits",
        r#"{"expect": {"kind": "u32", "within_ms": 2000, "where": {"stream": 4, "value": 0}, "basis": "wire.commit"}}"#
    ),
    commit_probe!(
        "server.commit_checked",
        "does the server close with 5 on a StateCommit of 0xFFFFFFFE (P1, checked)?",
        "project",
        "checked_commits",
        r#"{"expect": {"kind": "close", "within_ms": 2000, "where": {"code": 5, "by": "iut"}, "basis": "P1"}}"#
    ),
];

/// What the answers say: the profile whose answer it gave.
pub fn infer(passed: &[&str], _asked: &[&str]) -> Option<Inferred> {
    let mut profiles = Vec::new();
    if passed.contains(&"server.commit_checked") {
        profiles.push("project".to_owned());
    }
    if passed.contains(&"server.commit_wraps") {
        profiles.push("as_coded".to_owned());
    }
    (!profiles.is_empty()).then_some(Inferred {
        profiles,
        options: Vec::new(),
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
    fn the_profile_its_answer_belongs_to() {
        let p = |passed: &[&str]| infer(passed, &[]).map(|i| i.profiles);
        assert_eq!(
            p(&["server.commit_wraps"]),
            Some(vec!["as_coded".to_owned()])
        );
        assert_eq!(
            p(&["server.commit_checked"]),
            Some(vec!["project".to_owned()])
        );
        assert_eq!(p(&[]), None);
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
