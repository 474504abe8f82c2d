//! The one `harness check` command's verdict, the same for every family: a family judges the
//! capture into a [`Checked`]; [`conclude`] gives the verdict word, writes the JSON or text
//! verdict and says how the command ends.

use std::io::Write;

use crate::{verdict_word, CheckRequest};

/// Writes a text verdict, given the verdict word.
pub type TextVerdict = Box<dyn FnOnce(&mut dyn Write, &str) -> std::io::Result<()>>;

/// What a family's judge made of one capture.
pub struct Checked {
    /// UDP datagrams judged.
    pub datagrams: u64,
    /// The capture's damage: the verdict covers the datagrams before it.
    pub damage: Option<String>,
    /// Datagrams were there but nothing could be judged: why.
    pub nothing_judged: Option<String>,
    /// Said after "no UDP datagrams to judge[ on port P]" (which packets were skipped, say).
    pub no_datagrams_detail: String,
    /// Rules broken.
    pub violations: u64,
    /// How many of them rest on a profile decision (deviations unless `--strict-profile`).
    pub deviations: u64,
    /// The JSON verdict's fields besides `verdict` and `deviations`.
    pub json: serde_json::Map<String, serde_json::Value>,
    /// Writes the text verdict for the verdict word, ending with [`crate::write_verdict_line`].
    pub text: TextVerdict,
}

impl Checked {
    /// The verdict of a judge that reports its `violations` as a list (`is_profile_rule` names
    /// the rules that rest on a profile decision); `nothing_judged` when no part of the capture
    /// could be judged.
    pub fn of_violations(
        datagrams: u64,
        damage: Option<String>,
        nothing_judged: Option<String>,
        violations: &[crate::Violation],
        is_profile_rule: impl Fn(&str) -> bool,
        json: serde_json::Map<String, serde_json::Value>,
        text: TextVerdict,
    ) -> Checked {
        Checked {
            datagrams,
            damage,
            nothing_judged,
            no_datagrams_detail: String::new(),
            violations: violations.len() as u64,
            deviations: violations
                .iter()
                .filter(|v| is_profile_rule(v.rule))
                .count() as u64,
            json,
            text,
        }
    }
}

/// Why a family could not judge the capture.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Its options are wrong (clap's message, usage included).
    #[error("{0}")]
    Usage(String),
    /// The input cannot be judged (a bad profile, an unreadable key log, a broken capture).
    #[error("error: {0}")]
    Input(String),
    /// Already said on stderr (the capture could not be read).
    #[error("")]
    Said,
}

/// How `harness check` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// Nothing failing (clean, or deviations only).
    Clean,
    /// Rules broken.
    Failed,
    /// The capture could not be judged (whole): damaged, empty, nothing judged, or the output
    /// could not be written.
    Unusable,
}

impl Conclusion {
    /// `harness check`'s exit code (`handshake_scenario::exit`: 0, 1, 2).
    pub fn exit_code(self) -> i32 {
        match self {
            Conclusion::Clean => 0,
            Conclusion::Failed => 1,
            Conclusion::Unusable => 2,
        }
    }
}

/// The whole of `harness check` after the family judged: says why it could not (stderr), or writes
/// the verdict; returns the exit code.
pub fn finish(
    request: &CheckRequest,
    judged: Result<Checked, CheckError>,
    out: &mut dyn Write,
) -> i32 {
    match judged {
        Ok(checked) => conclude(request, checked, out).exit_code(),
        Err(e) => {
            match e {
                CheckError::Usage(text) => eprint!("{text}"),
                CheckError::Input(_) => eprintln!("{e}"),
                CheckError::Said => {}
            }
            Conclusion::Unusable.exit_code()
        }
    }
}

/// Writes the verdict of `checked` for `request` to `out` (problems to stderr).
pub fn conclude(request: &CheckRequest, checked: Checked, out: &mut dyn Write) -> Conclusion {
    let failing = if request.strict_profile {
        checked.violations
    } else {
        checked.violations.saturating_sub(checked.deviations)
    };
    // The verdict word never says "clean" about a capture that could not be judged whole.
    let unusable = match (&checked.damage, checked.datagrams, &checked.nothing_judged) {
        (Some(damage), _, _) => Some(format!(
            "{damage} (the verdict covers the {} datagrams before it)",
            checked.datagrams
        )),
        (None, 0, _) => Some(format!(
            "no UDP datagrams to judge{}{}",
            request
                .port
                .map(|p| format!(" on port {p}"))
                .unwrap_or_default(),
            checked.no_datagrams_detail
        )),
        (None, _, Some(why)) => Some(why.clone()),
        (None, _, None) => None,
    };
    let word = verdict_word(
        checked.damage.is_some(),
        unusable.is_some(),
        failing,
        checked.deviations,
    );
    let written = if request.json {
        let mut doc = checked.json;
        doc.insert("verdict".into(), word.into());
        doc.insert("deviations".into(), checked.deviations.into());
        serde_json::to_writer_pretty(&mut *out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        (checked.text)(out, word)
    };
    if let Err(e) = written {
        eprintln!("error: writing output: {e}");
        return Conclusion::Unusable;
    }
    if let Some(why) = unusable {
        eprintln!("error: {}: {why}", request.file.display());
        return Conclusion::Unusable;
    }
    if failing == 0 {
        Conclusion::Clean
    } else {
        Conclusion::Failed
    }
}
