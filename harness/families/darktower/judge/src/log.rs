//! The verdict being built: violations (at most [`MAX_VIOLATIONS_PER_RULE`] kept per rule, all
//! counted) and notes.

use std::collections::BTreeMap;

use handshake_check::{Rule, Violation, MAX_VIOLATIONS_PER_RULE};
use handshake_quic::rebuild::At;

#[derive(Debug, Default)]
pub(crate) struct Log {
    violations: Vec<Violation>,
    per_rule: BTreeMap<&'static str, usize>,
    count: u64,
    pub notes: Vec<String>,
}

impl Log {
    pub fn violation(&mut self, at: At, rule: &'static Rule, detail: String) {
        self.count += 1;
        let kept = self.per_rule.entry(rule.id).or_default();
        if *kept < MAX_VIOLATIONS_PER_RULE {
            *kept += 1;
            self.violations.push(Violation {
                packet: at.packet,
                time_ns: at.time_ns,
                rule: rule.id,
                statement: rule.statement,
                detail,
            });
        }
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub fn into_parts(mut self) -> (Vec<Violation>, u64, Vec<String>) {
        self.violations.sort_by_key(|v| (v.packet, v.rule));
        (self.violations, self.count, self.notes)
    }
}
