//! The decision tables are the one place that classes what an expectation rests on: the manual's
//! `docs/decisions.md` is their text, and every checker rule's basis follows from its sources.

use std::path::Path;

use handshake_check::Basis;
use handshake_harness::families::REGISTRY;
use handshake_scenario::{Class, Strength};

#[test]
fn docs_decisions_md_is_the_tables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/decisions.md");
    let want = handshake_harness::decisions_cmd::markdown(REGISTRY.families.0, None);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("write docs/decisions.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/decisions.md is not `harness decisions`: run UPDATE_DOCS=1 cargo test -p handshake-harness --test decisions"
    );
}

/// A fact rests on the sources' own words: at least one source location, and the strength `must`
/// or an undisputed `as-coded` (a disputed one is `disputed`, never a fact). Every other row names a
/// location too, but a `silent` one, which says what the sources leave open.
#[test]
fn every_fact_cites_a_source_location_with_a_facts_strength() {
    let mut wrong = Vec::new();
    for f in REGISTRY.families.0 {
        for d in f.citations().decisions {
            let located = !d.locations().is_empty();
            match (d.class, d.strength) {
                (Class::Fact, Strength::Must | Strength::AsCoded) if located => {}
                (Class::Fact, s) => wrong.push(format!(
                    "{}/{}: a fact of strength {} with locations {:?}",
                    f.name(),
                    d.id,
                    s.name(),
                    d.locations()
                )),
                (_, Strength::Silent) => {}
                (_, _) if located => {}
                (_, s) => wrong.push(format!(
                    "{}/{}: strength {} names no source location: {}",
                    f.name(),
                    d.id,
                    s.name(),
                    d.source
                )),
            }
            if d.strength == Strength::AsCoded && !d.locations().iter().any(|l| l.contains('@')) {
                wrong.push(format!(
                    "{}/{}: as-coded, but no repository location (owner/repo path:line @commit)",
                    f.name(),
                    d.id
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A rule rests on decisions of one class (contracts beside a fact only configure it), and its
/// basis is that class: a fact violation never hides behind a profile decision, and a profile
/// reading never fails a program.
#[test]
fn every_rule_rests_on_one_class_and_says_which() {
    let mut wrong = Vec::new();
    for f in REGISTRY.families.0 {
        let table = f.citations();
        for rule in f.rules() {
            let mut cited: Vec<Class> = rule
                .source
                .split([',', ';', ':', ' ', '(', ')'])
                .filter_map(|w| table.class(w))
                .collect();
            cited.sort();
            cited.dedup();
            let judged: Vec<Class> = cited
                .iter()
                .copied()
                .filter(|c| *c != Class::Contract)
                .collect();
            let want = match judged.as_slice() {
                [Class::Fact] => Basis::Fact,
                [Class::Profile] => Basis::Profile,
                // A rule that rests on an RFC is a fact of that RFC, whatever contract configures it.
                [] if rule.source.contains("RFC") => Basis::Fact,
                _ => {
                    wrong.push(format!(
                        "{}: cites {:?} ({}): one class, please",
                        rule.id, cited, rule.source
                    ));
                    continue;
                }
            };
            if rule.basis != want {
                wrong.push(format!(
                    "{}: basis {:?} but cites {:?}",
                    rule.id, rule.basis, cited
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
