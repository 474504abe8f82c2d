//! How an external media-stream IUT is started for a scenario: the profile and 3-way options it
//! must run (chosen from what its manifest supports), the flags that say so, and the values of the
//! family's placeholders (`{bits_per_second}`, `{frame_rate}`, …).

use handshake_mediastream_endpoint::{Direction, Profile, ProfileKind, Verify};
use handshake_scenario::external::manifest::{Launch, Manifest};
use handshake_scenario::{Role, Scenario};

use crate::MediaStream;

/// The base profiles a manifest may list.
pub const PROFILES: [&str; 3] = ["3way", "legacy", "udp_push"];
/// The options a manifest may list (`push` is given by the `direction` flag).
pub const OPTIONS: [&str; 5] = [
    "allow_legacy_start",
    "optimistic_start",
    "fallback_to_legacy",
    "request_options",
    "push",
];
/// The flags a manifest may give (besides the generic `mutant`).
pub const FLAGS: &[&str] = &[
    "direction",
    "request_options",
    "allow_legacy_start",
    "optimistic_start",
    "fallback_to_legacy",
    "verify",
    "session_limit",
];
/// The family's placeholders.
pub const PLACEHOLDERS: &[&str] = &[
    "bits_per_second",
    "frame_rate",
    "stream_length",
    "buffer_depth",
    "datagram_byte_size",
    "verify",
    "session_limit",
    "direction",
];

/// Checks the manifest's profiles and options.
pub fn validate_manifest(manifest: &Manifest) -> Result<(), String> {
    for p in manifest.profiles.iter().flatten() {
        if !PROFILES.contains(&p.as_str()) {
            return Err(format!(
                "profiles: unknown profile `{p}`: expected one of {}",
                PROFILES.join(", ")
            ));
        }
    }
    for o in manifest.options.iter().flatten() {
        if !OPTIONS.contains(&o.as_str()) {
            return Err(format!(
                "options: unknown option `{o}`: expected one of {}",
                OPTIONS.join(", ")
            ));
        }
    }
    Ok(())
}

/// The options it supports: its `options`, or those with a flag.
fn supported_options(manifest: &Manifest) -> Vec<String> {
    match &manifest.options {
        Some(o) => o.clone(),
        None => [
            ("allow_legacy_start", "allow_legacy_start"),
            ("optimistic_start", "optimistic_start"),
            ("fallback_to_legacy", "fallback_to_legacy"),
            ("request_options", "request_options"),
            ("direction", "push"),
        ]
        .iter()
        .filter(|(flag, _)| manifest.has_flag(flag))
        .map(|(_, option)| (*option).to_owned())
        .collect(),
    }
}

/// The side a 3-way option belongs to.
fn option_role(option: &str) -> Role {
    match option {
        "allow_legacy_start" | "optimistic_start" => Role::Responder,
        _ => Role::Initiator,
    }
}

/// Which option (if any) `profile` needs for feature `f` in `role`, or `None` when it cannot have
/// `f` at all.
fn fits(
    profile: &str,
    f: &str,
    role: Role,
    options: &[String],
    restartable: bool,
) -> Option<Option<&'static str>> {
    let three_way = profile == "3way";
    let option = |o: &'static str, r: Role| {
        (three_way && role == r && options.iter().any(|x| x == o)).then_some(Some(o))
    };
    match f {
        "three_way" => three_way.then_some(None),
        "legacy_start" if !three_way => Some(None),
        "legacy_start" | "allow_legacy_start" => option("allow_legacy_start", Role::Responder),
        "optimistic_start" => option("optimistic_start", Role::Responder),
        "fallback_to_legacy" => option("fallback_to_legacy", Role::Initiator),
        "request_options" => option("request_options", Role::Initiator),
        // No build ever coded push with udp_push; the direction flag carries it.
        "push" => (profile != "udp_push" && options.iter().any(|o| o == "push")).then_some(None),
        "udp_push" => (profile == "udp_push").then_some(None),
        "restart" => restartable.then_some(None),
        _ => None,
    }
}

/// The flags' and placeholders' part of a launch for `s` with `options` chosen.
fn complete(s: &Scenario<MediaStream>, profile: &str, mut options: Vec<&'static str>) -> Launch {
    // In the order the options are declared.
    options.sort_by_key(|o| OPTIONS.iter().position(|x| x == o));
    options.dedup();
    let stream = &s.setup.stream;
    let verify = match stream.verify {
        Verify::Data => "data",
        Verify::Connection => "connection",
    };
    let mut flags: Vec<(String, Option<String>)> = options
        .iter()
        .filter(|o| **o != "push")
        .map(|o| ((*o).to_owned(), None))
        .collect();
    flags.push(("verify".into(), Some(verify.into())));
    flags.push(("direction".into(), Some(stream.direction.name().into())));
    let mut values = vec![
        ("bits_per_second", stream.bits_per_second.to_string()),
        ("frame_rate", stream.frame_rate.to_string()),
        ("stream_length", stream.stream_length_secs.to_string()),
        ("buffer_depth", stream.buffer_depth_secs.to_string()),
        ("datagram_byte_size", stream.datagram_byte_size.to_string()),
        ("verify", verify.to_owned()),
        ("direction", stream.direction.name().to_owned()),
    ];
    if let Some(n) = s.iut.fields.session_limit {
        flags.push(("session_limit".into(), Some(n.to_string())));
        values.push(("session_limit", n.to_string()));
    }
    Launch {
        profile: profile.to_owned(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        flags,
        values,
        mutant: None,
        plant: None,
    }
}

/// Chooses the profile and options for `s` among what `manifest` supports, or says why the IUT
/// cannot run it (an `unsupported` reason).
pub fn launch(manifest: &Manifest, s: &Scenario<MediaStream>) -> Result<Launch, String> {
    let role = s.iut.role;
    let profiles: Vec<String> = manifest
        .profiles
        .clone()
        .unwrap_or_else(|| vec!["3way".to_owned()]);
    let options = supported_options(manifest);
    let required = crate::required_features(s);
    if let Some(f) = required.iter().find(|f| {
        !profiles
            .iter()
            .any(|p| fits(p, f, role, &options, true).is_some())
    }) {
        return Err(format!(
            "the IUT lacks the feature {}",
            handshake_scenario::engine::feature_label(f)
        ));
    }
    // An option the manifest lists without a flag is always on (a program that cannot be told):
    // it is part of every 3-way run, and a scenario that tests its absence cannot run.
    let always_on: Vec<&'static str> = OPTIONS
        .iter()
        .copied()
        .filter(|o| *o != "push" && options.iter().any(|x| x == o) && !manifest.has_flag(o))
        .collect();
    if always_on.contains(&"allow_legacy_start")
        && s.decisions.iter().any(|d| d == "D9")
        && !required
            .iter()
            .any(|f| f == "allow_legacy_start" || f == "legacy_start")
    {
        return Err("the IUT always serves a START (its option `allow_legacy_start` has no flag to turn it off): the scenario tests a responder without it".into());
    }
    for p in &profiles {
        let mut chosen: Vec<&'static str> = if p == "3way" {
            always_on
                .iter()
                .copied()
                .filter(|o| option_role(o) == role)
                .collect()
        } else {
            Vec::new()
        };
        let all = required
            .iter()
            .all(|f| match fits(p, f, role, &options, true) {
                Some(o) => {
                    chosen.extend(o);
                    true
                }
                None => false,
            });
        if all {
            let mut launch = complete(s, p, chosen);
            verify_accepted(manifest, s, &mut launch)?;
            untold(manifest, s, &launch)?;
            if let Some(n) = s.iut.fields.session_limit {
                if !manifest.has_flag("session_limit") {
                    return Err(format!("the scenario needs a session limit of {n} and the manifest has no session_limit flag"));
                }
            }
            return Ok(launch);
        }
    }
    let labels: Vec<String> = required
        .iter()
        .map(|f| handshake_scenario::engine::feature_label(f))
        .collect();
    Err(format!(
        "no one profile of the IUT has all of the features [{}]",
        labels.join(", ")
    ))
}

/// How a receiver checks payloads is a contract (ctsTraffic's `-verify`) unless the scenario tests
/// it: one that cites the fill pattern (`payload.pattern`) needs the mode it names; any other runs in a mode the program accepts (its manifest's `accepts`), payloads
/// checked where it can.
fn verify_accepted(
    manifest: &Manifest,
    s: &Scenario<MediaStream>,
    launch: &mut Launch,
) -> Result<(), String> {
    let asked = match s.setup.stream.verify {
        Verify::Data => "data",
        Verify::Connection => "connection",
    };
    if manifest.accepts("verify", asked) {
        return Ok(());
    }
    let tests_verify = handshake_scenario::format::cited(s).contains("payload.pattern");
    let other = ["data", "connection"]
        .into_iter()
        .find(|v| *v != asked && manifest.accepts("verify", v));
    match other {
        Some(v) if !tests_verify => {
            for (name, value) in launch.values.iter_mut() {
                if *name == "verify" {
                    *value = v.to_owned();
                }
            }
            for (name, value) in launch.flags.iter_mut() {
                if name == "verify" {
                    *value = Some(v.to_owned());
                }
            }
            Ok(())
        }
        _ => Err(format!(
            "the scenario tests payload checking with verify {asked}, which the IUT does not accept (its manifest's `accepts`)"
        )),
    }
}

/// Why the IUT cannot run `s`: a stream value the scenario sets otherwise than the default whose
/// placeholder (or flag) the IUT's command does not take. A program that cannot be told is taken
/// to stream the scenarios' default ([`crate::format::default_stream`]); judging it by another
/// stream would fail it for a contract it was never offered.
fn untold(manifest: &Manifest, s: &Scenario<MediaStream>, launch: &Launch) -> Result<(), String> {
    if manifest.template(s.iut.role).is_none() {
        return Ok(());
    }
    let mut plain = s.clone();
    plain.setup.stream = crate::format::default_stream();
    let default = complete(&plain, &launch.profile, Vec::new()).values;
    // The buffer depth and the check of payloads are the receiver's; the direction is a feature
    // (`push`), chosen above.
    let receives = matches!(
        (s.iut.role, s.setup.stream.direction),
        (Role::Initiator, Direction::Pull) | (Role::Responder, Direction::Push)
    );
    for ((name, value), (_, base)) in launch.values.iter().zip(&default) {
        let relevant = match *name {
            "buffer_depth" | "verify" => receives,
            "direction" => false,
            _ => true,
        };
        let told = manifest.takes(s.iut.role, name) || manifest.has_flag(name);
        if relevant && value != base && !told {
            return Err(format!(
                "the IUT's command takes no {{{name}}}: it cannot be run with {name} {value} (its default is taken to be {base})"
            ));
        }
    }
    Ok(())
}

/// A responder already running, behaving like `profile` (in pull: its direction was fixed when it
/// was started).
pub fn launch_running(profile: &Profile, s: &Scenario<MediaStream>) -> Result<Launch, String> {
    if let Some(n) = s.iut.fields.session_limit {
        return Err(format!(
            "the scenario needs a session limit of {n}, which cannot be set on a running responder"
        ));
    }
    let mut features = crate::profile_features(profile, Role::Responder);
    features.retain(|f| f != "push");
    if let Some(missing) = crate::required_features(s)
        .iter()
        .find(|f| !features.contains(f))
    {
        return Err(format!(
            "the IUT lacks the feature {} (it runs as {profile}, pull)",
            handshake_scenario::engine::feature_label(missing)
        ));
    }
    let mut options = Vec::new();
    if profile.allow_legacy_start {
        options.push("allow_legacy_start");
    }
    if profile.optimistic_start {
        options.push("optimistic_start");
    }
    if profile.fallback_to_legacy {
        options.push("fallback_to_legacy");
    }
    let base = match profile.kind {
        ProfileKind::ThreeWay => "3way",
        ProfileKind::Legacy => "legacy",
        ProfileKind::UdpPush => "udp_push",
    };
    let mut launch = complete(s, base, options);
    launch.flags.clear();
    Ok(launch)
}

/// The profile an external IUT's traffic is judged against.
pub fn launched_profile(launch: &Launch) -> Option<Profile> {
    let kind = match launch.profile.as_str() {
        "3way" => ProfileKind::ThreeWay,
        "legacy" => ProfileKind::Legacy,
        "udp_push" => ProfileKind::UdpPush,
        _ => return None,
    };
    let mut p = Profile::new(kind);
    p.allow_legacy_start = launch.has("allow_legacy_start");
    p.optimistic_start = launch.has("optimistic_start");
    p.fallback_to_legacy = launch.has("fallback_to_legacy");
    p.session_limit = launch
        .values
        .iter()
        .find(|(name, _)| *name == "session_limit")
        .and_then(|(_, v)| v.parse().ok());
    Some(p)
}
