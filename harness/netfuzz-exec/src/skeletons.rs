//! The inputs a fuzz campaign starts from: a family's library scenarios with their oracle taken
//! out ([`handshake_netfuzz::mutate::skeleton`]), their waits shortened, and only those the
//! family loads and the IUT can run; and the corpus entries that belong to the same campaign.

use std::path::PathBuf;

use handshake_netfuzz::mutate::skeleton;
use handshake_scenario::{DynFamily, Families, Iut, Role};
use serde_json::Value;

/// The longest wait an `expect` of a library scenario becomes in a skeleton in virtual time: long
/// enough for an answer on loopback, short enough for many inputs a second. Over real UDP, where
/// each wait costs its length, the family's own answer window (measured for `harness learn`: 25
/// ms for the media stream, 80 for the QUIC families): with 150 ms, the skeletons' waits were
/// half of a media-stream input's median run.
pub const MAX_WAIT_MS: u64 = 150;

/// How long a fuzz input's run waits after its steps (the probe already waited for an answer).
pub const SETTLE_MS: u64 = 100;

/// The longest wait of a skeleton's `expect` for `family`'s inputs (see [`MAX_WAIT_MS`]).
pub fn max_wait_ms(family: &dyn DynFamily, real_time: bool) -> u64 {
    let window = family
        .learning()
        .alphabets
        .iter()
        .map(|a| a.real_time_window_ms)
        .max();
    match (real_time, window) {
        (true, Some(ms)) => ms.min(MAX_WAIT_MS),
        _ => MAX_WAIT_MS,
    }
}

/// The skeletons of `family`'s scenarios in `paths` (files or folders): those with scripted steps,
/// not tagged `slow`, whose IUT plays `role` when given. Files that are not JSON are passed over
/// (the family's own loading says what is wrong with them).
pub fn load_skeletons(
    families: Families,
    paths: &[PathBuf],
    family: &str,
    role: Option<&str>,
    real_time: bool,
) -> Result<Vec<Value>, handshake_scenario::ReadError> {
    let max_wait = families
        .require(family)
        .map_or(MAX_WAIT_MS, |f| max_wait_ms(f, real_time));
    let files = handshake_scenario::runner::scenario_files(paths)?;
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|source| handshake_scenario::ReadError::Io {
                path: f.clone(),
                source,
            })?;
        let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let protocol = v["protocol"].as_str().unwrap_or(families.default_name());
        let slow = v["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "slow"));
        let steps = v["peer"]["steps"].as_array().cloned().unwrap_or_default();
        let wrong_role = role.is_some_and(|r| v["iut"]["role"] != r);
        if protocol != family
            || slow
            || wrong_role
            || steps.is_empty()
            || v["peer"].get("reference").is_some()
        {
            continue;
        }
        v["peer"]["steps"] = Value::Array(skeleton(&steps, max_wait));
        v["expect"] = serde_json::json!({"rules_hold": ["all"]});
        v["settle_ms"] = Value::from(SETTLE_MS);
        // Random loss in real time is not reproducible (it would also take the probe's packets):
        // over real UDP only the faults that pick their datagrams stay.
        if real_time {
            // (`get_mut`: indexing would add `"faults": null` to a scenario without faults.)
            if let Some(faults) = v.get_mut("faults").and_then(Value::as_array_mut) {
                faults.retain(|f| f.get("probability").is_none());
            }
        }
        if let Some(o) = v.as_object_mut() {
            o.remove("$schema");
            // A scenario about one of the project's decisions turns every reason of its outcome
            // into a deviation, the probe's and the IUT's ending too: with the oracle gone, an
            // input from it must fail as any other does, or its crashes and hangs go unseen. (Its
            // citations of decisions go with it: they are allowed only in such a scenario.)
            if o.remove("profile").is_some() {
                o.remove("decisions");
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// Skeletons sorted into those a campaign can draw from and those it cannot.
#[derive(Debug, Default)]
pub struct UsableSkeletons {
    /// The skeletons the family loads and the IUT can run.
    pub usable: Vec<Value>,
    /// Each skeleton the family refuses: its id and why (every input drawn from it would be
    /// refused too).
    pub refused: Vec<(String, String)>,
    /// Why the IUT cannot run the others, each reason once.
    pub lacking: Vec<String>,
}

/// Sorts `skeletons` by whether `family` loads them and `iut` can run them: what the IUT cannot
/// run would only be refused, input after input.
pub fn usable_skeletons(
    family: &dyn DynFamily,
    skeletons: Vec<Value>,
    iut: &Iut,
) -> UsableSkeletons {
    let mut sorted = UsableSkeletons::default();
    for s in skeletons {
        match family.load_value(&s) {
            Ok(loaded) => match loaded.unsupported_by(iut) {
                Some(why) => {
                    if !sorted.lacking.contains(&why) {
                        sorted.lacking.push(why);
                    }
                }
                None => sorted.usable.push(s),
            },
            Err(e) => {
                let id = s["id"].as_str().unwrap_or("a scenario").to_owned();
                sorted.refused.push((id, e.to_string()));
            }
        }
    }
    sorted
}

/// The role the IUT plays when it can play only one: a program with one role's command plays
/// that role (its manifest says so); `None` for a reference or a program with both.
pub fn only_role(family: &dyn DynFamily, iut: &Iut) -> Option<String> {
    let Iut::External(e) = iut else {
        return None;
    };
    let (initiator, responder) = family.role_names();
    match (e.has_role(Role::Initiator), e.has_role(Role::Responder)) {
        (true, false) => Some(initiator.to_owned()),
        (false, true) => Some(responder.to_owned()),
        _ => None,
    }
}

/// Keeps the corpus entries (whole scenarios) that are `family`'s and, when given, whose IUT plays
/// `role`.
pub fn retain_campaign_inputs(
    families: Families,
    inputs: &mut Vec<Value>,
    family: &str,
    role: Option<&str>,
) {
    inputs.retain(|v| {
        v["protocol"].as_str().unwrap_or(families.default_name()) == family
            && role.is_none_or(|r| v["iut"]["role"] == r)
    });
}
