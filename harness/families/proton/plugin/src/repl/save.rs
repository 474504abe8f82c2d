//! `save FILE`: the session so far as a Proton scenario that replays it as a test. The IUT is the
//! server; the scripted client does the steps the REPL did (`connect`, `open_bi`, `write`, `close`,
//! `wait`), and each thing the server did becomes an `expect` in the order it happened (the
//! handshake, each answer with its value, a close with its code and side, a refusal, a blocked
//! stream), with a window of twice the time it took (at least a second). The outcome expects the
//! u32 units exchanged and how connection 0 ended. Before writing, the text is loaded back with
//! the scenario loader and validated: a file `save` writes always loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handshake_proton_endpoint::Profile;
use handshake_scenario::format::{MAX_STEPS, MAX_WINDOW_MS};
use serde::Serialize;
use serde_json::{json, Value};

use crate::format::{ProtonStep, Session};
use crate::repl::session::{Driver, Record, Recording, Repl, MIN_WINDOW_MS};
use crate::ProtonScenario;

/// Where scenario files point for their schema (relative to `vectors/scenarios/proton`).
pub const SCHEMA: &str = "../../schema/scenario.schema.json";

/// A saved session.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The file.
    pub path: PathBuf,
    /// The scenario id.
    pub id: String,
    /// Its steps.
    pub steps: usize,
    /// What the user should know about it.
    pub notes: Vec<String>,
}

impl Saved {
    /// One line for the REPL.
    pub fn summary(&self) -> String {
        format!(
            "saved {} steps to {} (scenario {}); replay: harness run {} --iut ref:project",
            self.steps,
            self.path.display(),
            self.id,
            self.path.display()
        )
    }
}

/// How many steps the recording makes.
pub fn step_count(recording: &Recording) -> usize {
    recording.records.len()
}

/// The window an expectation gets for something that came `after_ms` after its step began.
pub fn window_ms(after_ms: u64) -> u64 {
    after_ms
        .saturating_mul(2)
        .clamp(MIN_WINDOW_MS, MAX_WINDOW_MS)
}

/// `proton.repl.<stem>`, the stem made of `[a-z0-9_]`.
pub fn scenario_id(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut id: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if id.trim_matches('_').is_empty() {
        id = "session".into();
    }
    format!("proton.repl.{id}")
}

#[derive(Serialize)]
struct File<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    id: String,
    title: String,
    protocol: &'static str,
    decisions: Vec<&'static str>,
    tags: Vec<&'static str>,
    iut: Iut,
    #[serde(skip_serializing_if = "is_default_session")]
    session: Session,
    peer: Peer<'a>,
    expect: Expect,
}

fn is_default_session(s: &Session) -> bool {
    *s == Session::default()
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
struct Iut {
    role: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    requires: Vec<&'static str>,
    #[serde(skip_serializing_if = "is_false")]
    action_push: bool,
    #[serde(skip_serializing_if = "is_false")]
    reset_discriminator: bool,
}

#[derive(Serialize)]
struct Peer<'a> {
    steps: Vec<StepOut<'a>>,
}

#[derive(Serialize)]
struct Expect {
    #[serde(skip_serializing_if = "Option::is_none")]
    close_space: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_code: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_by: Option<&'static str>,
    units: BTreeMap<&'static str, Value>,
    basis: &'static str,
    /// What of the end only the profile says: the server's close code, the refusal's form.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileEnd>,
}

/// Outcome expectations on a profile decision.
#[derive(Serialize)]
struct ProfileEnd {
    decision: &'static str,
    expect: ProfileExpect,
}

#[derive(Serialize)]
struct ProfileExpect {
    #[serde(skip_serializing_if = "Option::is_none")]
    close_space: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_code: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<bool>,
}

/// The timers a saved session (and an in-process reference server) runs with: the ones given,
/// and a startup delay of 0 unless one was given (the REPL starts talking when told to, to a
/// server that is already listening; a scenario connects at once).
pub fn effective_session(given: &Session) -> Session {
    Session {
        startup_ms: given.startup_ms.or(Some(0)),
        ..*given
    }
}

/// A step as written: keys in the order people write them, no defaults.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum StepOut<'a> {
    Connect {},
    OpenBi {
        conn: u32,
        count: u32,
    },
    Write {
        conn: u32,
        stream: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        hex: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        u32: Option<&'a [Value]>,
    },
    Close {
        conn: u32,
        code: u64,
        reason: &'a str,
    },
    Expect {
        kind: &'static str,
        #[serde(rename = "where")]
        fields: &'a serde_json::Map<String, Value>,
        within_ms: u64,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        any_of: Vec<OutcomeOut<'a>>,
        basis: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        prefer: Option<PreferOut<'a>>,
    },
    Wait {
        ms: u64,
    },
    /// Any other step of the vocabulary, as it serializes.
    #[serde(untagged)]
    Other(Value),
}

/// One more outcome the facts allow.
#[derive(Serialize)]
struct OutcomeOut<'a> {
    kind: &'static str,
    #[serde(rename = "where")]
    fields: &'a serde_json::Map<String, Value>,
}

/// The profile's preferred form.
#[derive(Serialize)]
struct PreferOut<'a> {
    kind: &'static str,
    #[serde(rename = "where")]
    fields: &'a serde_json::Map<String, Value>,
    basis: &'static str,
}

fn step_out(record: &Record) -> Result<StepOut<'_>, String> {
    Ok(match record {
        Record::Step(ProtonStep::Connect(c)) if c.alpn.is_none() => StepOut::Connect {},
        Record::Step(ProtonStep::OpenBi(o)) if o.write.is_empty() => StepOut::OpenBi {
            conn: o.conn,
            count: o.count,
        },
        Record::Step(ProtonStep::Write(w)) if w.chunks.is_empty() && !w.fin => StepOut::Write {
            conn: w.at.conn,
            stream: w.at.stream,
            hex: w.hex.as_deref(),
            u32: w.u32.as_deref(),
        },
        Record::Step(ProtonStep::Close(c)) => StepOut::Close {
            conn: c.conn,
            code: c.code,
            reason: &c.reason,
        },
        Record::Step(other) => {
            StepOut::Other(serde_json::to_value(other).map_err(|e| e.to_string())?)
        }
        Record::Expect {
            kind,
            fields,
            after_ms,
            basis,
            any_of,
            prefer,
        } => StepOut::Expect {
            kind,
            fields,
            within_ms: window_ms(*after_ms),
            any_of: any_of
                .iter()
                .map(|(kind, fields)| OutcomeOut { kind, fields })
                .collect(),
            basis,
            prefer: prefer.as_ref().map(|p| PreferOut {
                kind: p.kind,
                fields: &p.fields,
                basis: p.basis,
            }),
        },
        Record::Wait(ms) => StepOut::Wait { ms: *ms },
    })
}

/// The scenario text for `recording` (made against `target`; `live`: a connection is still open),
/// to be saved at `path`; validated.
pub fn scenario_text(
    recording: &Recording,
    live: bool,
    target: &str,
    session: &Session,
    reference: Option<&Profile>,
    path: &Path,
) -> Result<(String, Saved), String> {
    let steps = step_count(recording);
    if steps == 0 {
        return Err("nothing to save yet: the session has no steps (`connect` first)".into());
    }
    if steps > MAX_STEPS {
        return Err(format!(
            "the session has {steps} steps, more than a scenario may hold ({MAX_STEPS}): save earlier sessions"
        ));
    }
    let id = scenario_id(path);
    let mut notes = Vec::new();
    let mut title = format!(
        "REPL session against {target}: {}",
        recording.commands.join("; ")
    );
    if title.chars().count() > 160 {
        title = title.chars().take(159).collect::<String>() + "…";
    }
    let mut requires = Vec::new();
    if recording.wrapped_commit {
        requires.push("wrapping_commits");
    }
    if recording.checked_commit {
        requires.push("checked_commits");
    }
    let pushes = recording.unprompted > 0 || reference.is_some_and(|p| p.action_push);
    if recording.unprompted > 0 {
        notes.push(format!(
            "the server sent {} value(s) on its own (it pushes actions, P2): the scenario expects at least the {} answers, not each push",
            recording.unprompted,
            recording.u32_units.saturating_sub(recording.unprompted)
        ));
    }
    let reset = recording.reset_discriminator || reference.is_some_and(|p| p.reset_discriminator);
    let mut expect = Expect {
        close_space: None,
        close_code: None,
        closed_by: None,
        units: BTreeMap::new(),
        basis: "wire",
        profile: None,
    };
    // How a second connection is refused is the profile's (H10, a fact, is its step's).
    let mut profile = recording.refused.then_some(ProfileEnd {
        decision: "wire.second_connection",
        expect: ProfileExpect {
            close_space: None,
            close_code: None,
            refused: Some(true),
        },
    });
    if let Some(end) = &recording.conn0 {
        let (space, code, _) = crate::observe::close_parts(&end.close);
        expect.closed_by = Some(if end.by_server { "iut" } else { "harness" });
        if end.by_server && space == "application" {
            // The server's application close code is the profile's (wire.close_codes); its
            // step says what the connection's end rests on.
            if profile.is_none() {
                profile = Some(ProfileEnd {
                    decision: "wire.close_codes",
                    expect: ProfileExpect {
                        close_space: Some(space),
                        close_code: code,
                        refused: None,
                    },
                });
            }
        } else {
            expect.close_space = Some(space);
            expect.close_code = code;
        }
    }
    expect.profile = profile;
    let matched = recording.u32_units.saturating_sub(recording.unprompted);
    expect.units.insert(
        "u32",
        if recording.unprompted > 0 || (pushes && live) {
            json!({ "min": matched })
        } else {
            json!(recording.u32_units)
        },
    );
    if !live {
        expect.units.insert("close", json!(recording.server_closes));
    } else {
        notes.push(
            "a connection is still open: the scenario ends with it open (the replay lets it idle out)"
                .into(),
        );
    }
    if recording.failures > 0 {
        notes.push(format!(
            "{} command(s) failed in this session: the scenario expects what was observed, so it passes against servers that behave the same",
            recording.failures
        ));
    }
    let file = File {
        schema: SCHEMA,
        id: id.clone(),
        title,
        protocol: "proton",
        decisions: recording.facts.clone(),
        tags: vec!["repl", "server"],
        iut: Iut {
            role: "server",
            requires,
            action_push: pushes,
            reset_discriminator: reset,
        },
        session: effective_session(session),
        peer: Peer {
            steps: recording
                .records
                .iter()
                .map(step_out)
                .collect::<Result<_, _>>()?,
        },
        expect,
    };
    let mut text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    text.push('\n');
    // A file `save` writes always loads: check with the loader itself.
    let scenario: ProtonScenario = handshake_scenario::json::from_str(&text)
        .map_err(|e| format!("internal error: the saved scenario does not parse: {e}"))?;
    let problems = handshake_scenario::validate::problems(&scenario);
    if let Some(p) = problems.first() {
        return Err(format!(
            "internal error: the saved scenario is not valid: {} (at {})",
            p.message,
            handshake_scenario::json::path_text(&p.path)
        ));
    }
    Ok((
        text,
        Saved {
            path: path.to_owned(),
            id,
            steps,
            notes,
        },
    ))
}

/// `save FILE` for `repl`.
pub fn save(repl: &Repl, d: &dyn Driver, path: &str) -> Result<Saved, String> {
    let path = PathBuf::from(path);
    let (text, saved) = scenario_text(
        repl.recording(),
        repl.has_live_connection(),
        &repl.options().target,
        &repl.options().session,
        d.reference(),
        &path,
    )?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(saved)
}
