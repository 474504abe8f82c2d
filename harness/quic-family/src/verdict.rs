//! The end of a QUIC family's `harness check` text verdict.

use handshake_check::Violation;

/// The violations, the packets of known connections that could not be decrypted, the judge's
/// notes, the verdict line.
pub fn write_verdict(
    out: &mut dyn std::io::Write,
    violations: &[Violation],
    is_profile_rule: impl Fn(&str) -> bool,
    undecrypted: u64,
    notes: &[String],
    word: &str,
) -> std::io::Result<()> {
    handshake_check::write_violations(out, violations, is_profile_rule)?;
    if undecrypted > 0 {
        writeln!(
            out,
            "undecrypted: {undecrypted} QUIC packets of known connections"
        )?;
    }
    for n in notes {
        writeln!(out, "note: {n}")?;
    }
    handshake_check::write_verdict_line(out, word, violations.len())
}
