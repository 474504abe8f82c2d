//! The scenario layer's part of the QUIC family: datagrams, the judge's report, expectations of
//! units and the client's verdict, and the tests' `harness check`.

use std::collections::BTreeMap;

use handshake_check::Violation;
use handshake_scenario::format::Bound;
use handshake_scenario::{DatagramLabel, Datagrams};

/// QUIC datagrams as the link and the ladder see them.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuicDatagrams;

impl Datagrams for QuicDatagrams {
    const CLASSES: &'static [&'static str] = &handshake_quic::LINK_CLASSES;

    fn classify(payload: &[u8]) -> &'static str {
        handshake_quic::link_class(payload)
    }

    fn describe(payload: &[u8]) -> DatagramLabel {
        DatagramLabel::text(handshake_quic::describe_datagram(payload))
    }
}

/// What a QUIC family's judge reports on a run.
#[derive(Debug, Default)]
pub struct QuicReport {
    /// Broken rules (of the judged side).
    pub violations: Vec<Violation>,
    /// What the judge could not see (undecrypted packets, a damaged capture …).
    pub notes: Vec<String>,
}

impl QuicReport {
    /// A report from the judge's violations, the capture's damage (judged up to it) and its notes.
    pub fn new(
        violations: Vec<Violation>,
        damage: Option<String>,
        notes: Vec<String>,
    ) -> QuicReport {
        QuicReport {
            violations,
            notes: damage
                .map(|d| format!("the capture is damaged; judged up to the damage: {d}"))
                .into_iter()
                .chain(notes)
                .collect(),
        }
    }
}

impl handshake_check::Judgement for QuicReport {
    fn violations(&self) -> Vec<Violation> {
        self.violations.clone()
    }
}

/// Compares the units the harness's QUIC endpoint saw of each kind with the expected counts, and
/// the harness client's verdict (with why it failed, when it says) with the expected one.
pub fn check_units_and_client(
    expected: (&BTreeMap<String, Bound>, Option<bool>),
    seen: (&BTreeMap<String, u64>, Option<bool>, Option<&str>),
    reasons: &mut Vec<String>,
) {
    let (units, client_ok) = expected;
    let (seen_units, seen_ok, failure) = seen;
    for (kind, bound) in units {
        let n = seen_units.get(kind).copied().unwrap_or(0);
        if !bound.contains(n) {
            reasons.push(format!("{n} `{kind}` units from the IUT, expected {bound}"));
        }
    }
    if let Some(ok) = client_ok {
        if seen_ok != Some(ok) {
            reasons.push(format!(
                "client verdict {seen_ok:?}{}, expected ok = {ok}",
                failure.map_or_else(String::new, |f| format!(" ({f})"))
            ));
        }
    }
}

/// For the QUIC families' tests of `harness check` on their golden captures.
#[doc(hidden)]
pub mod testing {
    use std::path::{Path, PathBuf};

    use handshake_check::testing::CaptureFile;
    use handshake_check::{CheckError, CheckRequest, Checked, Tolerance};

    /// A family's part of `harness check`: its options and its judge (the registry's
    /// `cli::check_args` and `cli::check`).
    #[derive(Clone, Copy)]
    pub struct CheckCli {
        /// Adds the family's options.
        pub args: fn(clap::Command) -> clap::Command,
        /// Judges a capture.
        pub check: fn(&CheckRequest, &clap::ArgMatches) -> Result<Checked, CheckError>,
    }

    /// `harness check PATH ARGS [--json]` on `bytes` (as the file at `path` when it holds them)
    /// as the binary runs it, with `--tolerance-ms` and `--strict-profile` as given: its exit
    /// code and output.
    pub fn check(
        cli: CheckCli,
        path: &Path,
        bytes: &[u8],
        args: &[String],
        json: bool,
        tolerance_ms: u64,
        strict_profile: bool,
    ) -> (i32, String) {
        let command = (cli.args)(
            clap::Command::new("check")
                .arg(clap::Arg::new("profile").long("profile"))
                .arg(clap::Arg::new("keylog").long("keylog")),
        );
        let matches = match command
            .try_get_matches_from(std::iter::once("check".to_owned()).chain(args.iter().cloned()))
        {
            Ok(m) => m,
            Err(e) => panic!("{args:?}: {e}"),
        };
        let file = CaptureFile::new(path, bytes);
        let request = CheckRequest {
            file: file.path.clone(),
            threads: 2,
            port: None,
            responder: None,
            profile: matches.get_one::<String>("profile").cloned(),
            tolerance: Tolerance::from_ms(tolerance_ms),
            json,
            strict_profile,
            keylog: matches.get_one::<String>("keylog").map(PathBuf::from),
        };
        let mut out = Vec::new();
        let code = handshake_check::finish(&request, (cli.check)(&request, &matches), &mut out);
        (code, String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_capture_is_noted_first() {
        let r = QuicReport::new(Vec::new(), Some("cut".into()), vec!["later".into()]);
        assert_eq!(
            r.notes,
            [
                "the capture is damaged; judged up to the damage: cut",
                "later"
            ]
        );
    }
}
