//! How an external Proton IUT is started for a scenario: the profile it must run (from its
//! manifest's `profiles`), the option flags (`action_push`, `reset_discriminator`), and the values
//! of the family's placeholders (timers, the client's plan, a key-log file).

use handshake_proton_endpoint::Profile;
use handshake_scenario::external::manifest::{Launch, Manifest};
use handshake_scenario::Role;

use crate::{required_features, ProtonScenario};

/// The profiles a manifest may list.
pub const PROFILES: [&str; 2] = ["project", "as_coded"];
/// The family's flags.
pub const FLAGS: &[&str] = &["action_push", "reset_discriminator"];
/// The family's placeholders.
pub const PLACEHOLDERS: &[&str] = &[
    "keylog",
    "idle_ms",
    "keepalive_ms",
    "accept_ms",
    "op_ms",
    "startup_ms",
    "disc_ms",
    "action_interval_ms",
    "events",
    "commits",
    "actions",
    "repl",
];

/// Checks the manifest's profiles.
pub fn validate_manifest(manifest: &Manifest) -> Result<(), String> {
    for p in manifest.profiles.iter().flatten() {
        if !PROFILES.contains(&p.as_str()) {
            return Err(format!(
                "profiles: unknown Proton profile `{p}`: expected one of {}",
                PROFILES.join(", ")
            ));
        }
    }
    Ok(())
}

fn fits(profile: &str, feature: &str, manifest: Option<&Manifest>) -> bool {
    let project = profile == "project";
    let flag = |f: &str| manifest.is_none_or(|m| m.has_flag(f));
    match feature {
        "restart" | "action_pull" => true,
        "wrapping_commits" | "three_streams" => !project,
        "checked_commits" | "discriminator_timeout" => project,
        "action_push" => project && flag("action_push"),
        "reset_discriminator" => project && flag("reset_discriminator"),
        _ => false,
    }
}

fn complete_values(s: &ProtonScenario, profile: &str) -> Vec<(&'static str, String)> {
    complete(s, profile).values
}

fn complete(s: &ProtonScenario, profile: &str) -> Launch {
    let p = s.setup.session.apply(
        Profile::parse(profile).unwrap_or(Profile::new(handshake_proton_endpoint::Base::Project)),
    );
    let t = &p.timers;
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    let plan = s.setup.session.plan();
    let mut flags = Vec::new();
    let mut options = Vec::new();
    for (on, name) in [
        (s.iut.fields.action_push, "action_push"),
        (s.iut.fields.reset_discriminator, "reset_discriminator"),
    ] {
        if on {
            flags.push((name.to_owned(), None));
            options.push(name.to_owned());
        }
    }
    let keylog = handshake_scenario::external::manifest::keylog_path("proton");
    Launch {
        profile: profile.to_owned(),
        options,
        flags,
        values: vec![
            ("keylog", keylog.display().to_string()),
            ("idle_ms", ms(t.idle)),
            ("keepalive_ms", t.keep_alive.map_or("0".into(), ms)),
            ("accept_ms", ms(t.accept)),
            ("op_ms", ms(t.op)),
            ("startup_ms", ms(t.startup)),
            ("disc_ms", t.discriminator.map_or("0".into(), ms)),
            ("action_interval_ms", ms(t.action_interval)),
            ("events", plan.events.to_string()),
            ("commits", plan.commits.to_string()),
            ("actions", plan.actions.to_string()),
            ("repl", repl_script(&plan)),
        ],
        mutant: None,
        plant: None,
    }
}

/// A client's plan in the REPL language (the original's `client_repl` and `harness proton repl`),
/// for a client IUT driven on its stdin: connect, the events, the commits 1..n, the actions,
/// close, exit — one command a line.
pub fn repl_script(plan: &handshake_proton_endpoint::ClientPlan) -> String {
    let mut lines = vec!["connect".to_owned()];
    lines.extend((0..plan.events).map(|_| "send_event".to_owned()));
    lines.extend((1..=plan.commits).map(|r| format!("commit {r}")));
    lines.extend((0..plan.actions).map(|_| "read_action".to_owned()));
    lines.extend(["close".to_owned(), "exit".to_owned()]);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// What the IUT must be started with for `s`, or why it cannot run it.
pub fn launch(manifest: &Manifest, s: &ProtonScenario) -> Result<Launch, String> {
    let profiles = manifest
        .profiles
        .clone()
        .unwrap_or_else(|| vec!["project".to_owned()]);
    let required = required_features(s);
    let mut untellable = None;
    for p in &profiles {
        if required.iter().all(|f| fits(p, f, Some(manifest))) {
            match untold(manifest, s, p) {
                Ok(()) => return Ok(complete(s, p)),
                Err(why) => untellable = untellable.or(Some(why)),
            }
        }
    }
    if let Some(why) = untellable {
        return Err(why);
    }
    let labels: Vec<String> = required
        .iter()
        .map(|f| handshake_scenario::engine::feature_label(f))
        .collect();
    Err(format!(
        "no profile of the IUT has all of the features [{}]",
        labels.join(", ")
    ))
}

/// Why the IUT cannot run `s` as `profile`: a timer or plan value the scenario sets differently
/// from the profile's default whose placeholder the IUT's command does not take (the original
/// program hard-codes them). The startup delay matters only to a scenario that connects during
/// it; otherwise the readiness line comes after it anyway.
fn untold(manifest: &Manifest, s: &ProtonScenario, profile: &str) -> Result<(), String> {
    if manifest.template(s.iut.role).is_none() {
        return Ok(());
    }
    let mentions = |name: &str| manifest.takes(s.iut.role, name);
    // A plan given through the REPL script is told too.
    let takes = |name: &str| {
        mentions(name) || (matches!(name, "events" | "commits" | "actions") && mentions("repl"))
    };
    let mut plain = s.clone();
    plain.setup.session = crate::format::Session::default();
    let default = complete_values(&plain, profile);
    let wanted = complete_values(s, profile);
    for ((name, value), (_, base)) in wanted.iter().zip(&default) {
        let relevant = match *name {
            "keylog" | "repl" => false,
            "startup_ms" => <crate::Proton as handshake_scenario::Family>::steps_before_ready(s),
            "events" | "commits" | "actions" => s.iut.role == Role::Initiator,
            _ => true,
        };
        if relevant && value != base && !takes(name) {
            return Err(format!(
                "the IUT's command takes no {{{name}}}: it cannot be run with {name} {value} (its default is taken to be {base})"
            ));
        }
    }
    Ok(())
}

/// The same for a server already running that behaves like `profile`.
pub fn launch_running(profile: &Profile, s: &ProtonScenario) -> Result<Launch, String> {
    if s.iut.role != Role::Responder {
        return Err("a running IUT is a server".into());
    }
    let name = profile.base.name();
    if let Some(f) = required_features(s).iter().find(|f| !fits(name, f, None)) {
        return Err(format!(
            "the running server lacks the feature {}",
            handshake_scenario::engine::feature_label(f)
        ));
    }
    Ok(complete(s, name))
}

/// The profile an external IUT's traffic is judged against.
pub fn launched_profile(launch: &Launch) -> Option<Profile> {
    let mut p = Profile::parse(&launch.profile).ok()?;
    p.action_push = launch.has("action_push");
    p.reset_discriminator = launch.has("reset_discriminator");
    Some(p)
}
