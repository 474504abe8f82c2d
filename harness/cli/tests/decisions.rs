//! The decision tables are the one place that classes what an expectation rests on: the manual's
//! `docs/decisions.md` is their text, and every checker rule's basis follows from its sources.

use std::path::Path;

use handshake_check::Basis;
use handshake_harness::families::FAMILIES;
use handshake_scenario::Class;

#[test]
fn docs_decisions_md_is_the_tables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/decisions.md");
    let want = handshake_harness::decisions_cmd::markdown(FAMILIES.0, None);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("write docs/decisions.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/decisions.md is not `harness decisions`: run UPDATE_DOCS=1 cargo test -p handshake-harness --test decisions"
    );
}

#[test]
fn every_rule_is_as_strong_as_the_weakest_decision_it_cites() {
    let mut wrong = Vec::new();
    for f in FAMILIES.0 {
        let table = f.citations();
        for rule in f.rules() {
            let cited: Vec<(&str, Class)> = rule
                .source
                .split([',', ';', ':', ' ', '(', ')'])
                .filter_map(|w| table.class(w).map(|c| (w, c)))
                .collect();
            let profile = cited.iter().any(|(_, c)| *c == Class::Profile);
            let contract_only =
                !cited.is_empty() && cited.iter().all(|(_, c)| *c == Class::Contract);
            // A rule that rests on an RFC is a fact of that RFC, whatever contract configures it.
            if contract_only && !rule.source.contains("RFC") {
                wrong.push(format!(
                    "{}: rests on contracts only ({})",
                    rule.id, rule.source
                ));
            } else if profile != (rule.basis == Basis::Profile) {
                wrong.push(format!(
                    "{}: basis {:?} but cites {:?}",
                    rule.id, rule.basis, cited
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
