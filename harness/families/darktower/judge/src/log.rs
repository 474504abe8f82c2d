//! The verdict being built: violations (at most `MAX_VIOLATIONS_PER_RULE` kept per rule, all
//! counted: `handshake_check::ViolationLog`) and notes.

use handshake_check::{Rule, Violation, ViolationLog};
use handshake_quic::rebuild::At;

#[derive(Debug, Default)]
pub(crate) struct Log {
    violations: ViolationLog,
    pub notes: Vec<String>,
}

impl Log {
    pub fn violation(&mut self, at: At, rule: &'static Rule, detail: String) {
        self.violations
            .record_at(at.packet, at.time_ns, rule, detail);
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// Violations in packet order (then by rule), their count, the notes.
    pub fn into_parts(self) -> (Vec<Violation>, u64, Vec<String>) {
        let (mut violations, count) = self.violations.into_parts();
        violations.sort_by_key(|v| (v.packet, v.rule));
        (violations, count, self.notes)
    }
}
