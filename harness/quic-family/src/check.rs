//! A QUIC family's part of `harness check`, written once: its options read, the capture judged, the
//! JSON verdict, and the text one (the family's lines, then [`write_verdict`](crate::write_verdict)).
//! A family says only what differs, as a [`QuicCheck`].

use crate::QuicInputError;
use std::io::Write;

use clap::FromArgMatches;
use handshake_check::{CheckError, CheckRequest, Checked, Violation};

/// What the shared part reads of a QUIC judge's report.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    /// UDP datagrams read.
    pub datagrams: u64,
    /// Where the capture is damaged.
    pub damage: Option<&'a String>,
    /// The rules broken.
    pub violations: &'a [Violation],
    /// QUIC packets of known connections that could not be decrypted.
    pub undecrypted: u64,
    /// What the judge could not see.
    pub notes: &'a [String],
    /// Whether any connection or session could be judged.
    pub any: bool,
}

/// The [`Judged`] of a QUIC judge's report, whose fields `datagrams`, `damage`, `violations`,
/// `undecrypted` and `notes` are named alike in every QUIC family; `any` says whether any
/// connection or session could be judged.
#[macro_export]
macro_rules! judged {
    ($report:expr, any: $any:expr $(,)?) => {{
        let r = $report;
        $crate::check::Judged {
            datagrams: r.datagrams,
            damage: r.damage.as_ref(),
            violations: &r.violations,
            undecrypted: r.undecrypted,
            notes: &r.notes,
            any: $any,
        }
    }};
}

/// A QUIC family's judge as `harness check` runs it.
pub trait QuicCheck: 'static {
    /// The family's options of `harness check`.
    type Args: FromArgMatches;
    /// What the judge is told.
    type Options: 'static;
    /// What the judge reports (the JSON verdict's `report`).
    type Report: serde::Serialize + 'static;
    /// Said when no connection or session could be judged.
    const NOTHING_JUDGED: &'static str;

    /// The judge's options for `request` and `args`.
    fn options(request: &CheckRequest, args: &Self::Args) -> Result<Self::Options, QuicInputError>;
    /// Judges a capture's bytes.
    fn judge(bytes: &[u8], options: &Self::Options) -> Result<Self::Report, QuicInputError>;
    /// What the shared part reads of the report.
    fn judged(report: &Self::Report) -> Judged<'_>;
    /// The family's rule catalogue.
    const RULES: &'static [handshake_check::Rule];

    /// Whether a rule of the catalogue rests on this project's profile decisions.
    fn is_profile_rule(id: &str) -> bool {
        handshake_check::rules::find(Self::RULES, id)
            .is_some_and(|r| r.basis == handshake_check::Basis::Profile)
    }
    /// The family's fields of the JSON verdict, besides `file` and `report`.
    fn json_fields(
        request: &CheckRequest,
        options: &Self::Options,
        json: &mut serde_json::Map<String, serde_json::Value>,
    );
    /// The text verdict's lines before the violations.
    fn write_head(
        out: &mut dyn Write,
        request: &CheckRequest,
        options: &Self::Options,
        report: &Self::Report,
    ) -> std::io::Result<()>;
}

/// Judges the capture of `request` with the family's options in `matches`, for the one
/// `harness check` command.
pub fn check<C: QuicCheck>(
    request: &CheckRequest,
    matches: &clap::ArgMatches,
) -> Result<Checked, CheckError> {
    let args = C::Args::from_arg_matches(matches).map_err(|e| CheckError::Usage(e.to_string()))?;
    let options = C::options(request, &args).map_err(|e| CheckError::Input(e.to_string()))?;
    let bytes = request.read_capture().ok_or(CheckError::Said)?;
    let report = C::judge(&bytes, &options)
        .map_err(|e| CheckError::Input(format!("{}: {e}", request.file.display())))?;
    let mut json = serde_json::Map::new();
    json.insert("file".into(), request.file.display().to_string().into());
    C::json_fields(request, &options, &mut json);
    json.insert("report".into(), serde_json::json!(&report));
    let judged = C::judged(&report);
    let (datagrams, damage) = (judged.datagrams, judged.damage.cloned());
    let violations = judged.violations.to_vec();
    let nothing_judged = (!judged.any).then(|| C::NOTHING_JUDGED.to_owned());
    let request = request.clone();
    Ok(Checked::of_violations(
        datagrams,
        damage,
        nothing_judged,
        &violations,
        C::is_profile_rule,
        json,
        Box::new(move |out, word| {
            C::write_head(out, &request, &options, &report)?;
            let judged = C::judged(&report);
            crate::write_verdict(
                out,
                judged.violations,
                C::is_profile_rule,
                judged.undecrypted,
                judged.notes,
                word,
            )
        }),
    ))
}

/// Refuses a `--profile` naming a mutant: a mutant is a reference endpoint, not a profile to
/// judge by.
pub fn refuse_mutant(is_mutant: bool) -> Result<(), QuicInputError> {
    if is_mutant {
        return Err(QuicInputError::MutantProfile);
    }
    Ok(())
}
