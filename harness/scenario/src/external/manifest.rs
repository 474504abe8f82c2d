//! IUT manifests: how to start an external implementation, what it supports, which flags its options
//! take. The JSON Schema is generated from these types and committed as
//! `vectors/schema/iut-manifest.schema.json`; an example is `vectors/iut/harness-peer.json`.
//!
//! Command templates are split into words the way a POSIX shell would (quotes and backslashes; no
//! variables, globs or pipes: write `sh -c '…'` for those), then each placeholder is substituted
//! inside its word, so a value never splits or joins words. Placeholders:
//!
//! | placeholder | value |
//! |---|---|
//! | `{listen}`, `{listen_host}`, `{listen_port}` | responder (server): the loopback address to serve on (fresh port per scenario) |
//! | `{target}`, `{target_host}`, `{target_port}` | initiator (client): the harness's address to connect to |
//! | `{address}`, `{address_host}`, `{address_port}` | either of the above, for the role run |
//! | `{role}` | the family's name of the role run (`responder`, `server`, …) |
//! | `{profile}` | the profile chosen from `profiles` |
//! | `{seed}` | the run's seed |
//! | `{harness}` | the running harness executable |
//! | `{manifest_dir}` | the manifest's directory |
//! | `{mutant}` | the mutant run (with the `mutant` flag) |
//! | `{plant}` | the planted bug run (with the `plant` flag) |
//! | `{flags}` | (a whole word) the option flags the scenario needs; appended at the end when absent |
//!
//! and the family's own (the media stream's `{bits_per_second}`, `{frame_rate}`, …), listed by
//! `harness schema iut-manifest` and in the README.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The exit code that means "this IUT does not support the scenario", unless the manifest says
/// otherwise.
pub const DEFAULT_UNSUPPORTED_EXIT_CODE: i32 = 89;

/// An external implementation under test.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Path of the schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The IUT's name in reports and expectations files.
    pub name: String,
    /// The protocol family it implements (default `mediastream`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// One line about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How to start it as a responder or server (ctsTraffic `-listen`); without it, responder
    /// scenarios are unsupported.
    #[serde(default, alias = "server", skip_serializing_if = "Option::is_none")]
    pub responder: Option<CommandTemplate>,
    /// How to start it as an initiator or client (ctsTraffic `-target`); it must run once and exit
    /// 0 when it completed, nonzero otherwise. Without it, initiator scenarios are unsupported.
    #[serde(default, alias = "client", skip_serializing_if = "Option::is_none")]
    pub initiator: Option<CommandTemplate>,
    /// Commands by the name the family gives the IUT's part in a run (the `{role}` value: Dark
    /// Tower's `controller`, `handler`, `client`), for a program whose parts take different
    /// options; one found here is used instead of `responder`/`initiator`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, CommandTemplate>,
    /// The command-line flag of each option a scenario may require, by the family's flag names
    /// (and `mutant`): e.g. `"allow_legacy_start": "--allow-legacy-start"`, `"verify": "--verify
    /// {verify}"`.
    #[serde(default)]
    pub flags: BTreeMap<String, CommandTemplate>,
    /// Profiles it supports, in order of preference (the first one with every required feature is
    /// used; `{profile}` names it). Default: the family's (`["3way"]` for the media stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    /// Options it supports (the family's names). Default: those with a flag. An option listed
    /// without a flag is taken to be always on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// The exit code by which it says it does not support what it was asked (default 89).
    #[serde(default = "default_unsupported")]
    pub unsupported_exit_code: i32,
    /// Exit codes by which a client or initiator says it did what it was asked (default `[0]`);
    /// any other code says it failed. A contract: what a program means by its exit status is its
    /// own.
    #[serde(default = "default_success_codes")]
    pub success_exit_codes: Vec<i32>,
    /// What the program calls the harness's values, per placeholder: `{"transport":
    /// {"webtransport": "wt"}}` puts `wt` where `{transport}` would be `webtransport` (a contract:
    /// the words are the program's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub value_names: BTreeMap<String, BTreeMap<String, String>>,
    /// The values the program accepts, per placeholder, where it takes fewer than the harness may
    /// give (`{"verify": ["connection"]}`: an initiator that checks connection ids only). A
    /// contract: a scenario that does not test the value runs with one the program accepts; one
    /// that tests it is `unsupported`. Default: any value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accepts: BTreeMap<String, Vec<String>>,
    /// Exit codes after which the program's success cannot be told (it uses one code for a
    /// success of one kind and a failure of another): expectations on it are not judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unclear_exit_codes: Vec<i32>,
    /// Text written to the IUT's standard input when it starts, then closed (placeholders
    /// substituted; default: stdin closed at once). A client driven through a REPL on its stdin,
    /// e.g. Proton's `{repl}`: the scenario's plan in the REPL language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// A fixed address the responder always serves on, for a program that cannot be told where
    /// to listen (the original Proton server binds 127.0.0.1:5000): `{listen}` is this address,
    /// and this IUT's scenarios run one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// When a responder is ready for the first datagram (default: once `{listen}`'s port is bound).
    #[serde(default)]
    pub ready: Ready,
    /// Longest wait for a responder to become ready, ms (default 3000); after it the scenario fails.
    #[serde(default = "default_startup_timeout_ms")]
    pub startup_timeout_ms: u64,
    /// After the scenario the process group gets SIGTERM, and SIGKILL this many ms later if still
    /// there (default 500).
    #[serde(default = "default_kill_grace_ms")]
    pub kill_grace_ms: u64,
    /// Working directory, relative to the manifest's directory (default: the harness's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Deliberately wrong variants the program offers (name → the fact or decision it breaks),
    /// selected with the `mutant` flag: `harness mutants --iut MANIFEST` runs the library against
    /// each and reports whether it was caught.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mutants: BTreeMap<String, String>,
    /// Bugs planted for evaluating a fuzzer (name → a description that need not give it away),
    /// selected with the `plant` flag as `MANIFEST!NAME`. Unlike `mutants`, the curated library is
    /// not expected to catch them: `harness mutants` never runs them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub planted: BTreeMap<String, String>,
}

fn default_unsupported() -> i32 {
    DEFAULT_UNSUPPORTED_EXIT_CODE
}

fn default_success_codes() -> Vec<i32> {
    vec![0]
}

impl Manifest {
    /// What an exit code says of the program's success: `None` when it cannot be told (see
    /// [`Manifest::unclear_exit_codes`]; a signal tells nothing either).
    pub fn succeeded(&self, code: Option<i32>) -> Option<bool> {
        let code = code?;
        if self.unclear_exit_codes.contains(&code) {
            None
        } else {
            Some(self.success_exit_codes.contains(&code))
        }
    }
}

fn default_startup_timeout_ms() -> u64 {
    3000
}

fn default_kill_grace_ms() -> u64 {
    500
}

/// A command: one line (split like a shell would, without running one) or the words themselves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CommandTemplate {
    /// `"{harness} peer responder --listen {listen}"`.
    Line(String),
    /// `["{harness}", "peer", "responder", "--listen", "{listen}"]`.
    Words(Vec<String>),
}

/// A manifest, or one of its command templates, that cannot be used: what is wrong, as the user
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

impl From<String> for ManifestError {
    fn from(why: String) -> ManifestError {
        ManifestError(why)
    }
}

impl From<&str> for ManifestError {
    fn from(why: &str) -> ManifestError {
        ManifestError(why.to_owned())
    }
}

/// Command lines and outcomes print errors: a [`ManifestError`] becomes its message.
impl From<ManifestError> for String {
    fn from(e: ManifestError) -> String {
        e.0
    }
}

impl CommandTemplate {
    /// The template's words, before substitution.
    pub fn words(&self) -> Result<Vec<String>, ManifestError> {
        match self {
            CommandTemplate::Line(line) => split_words(line),
            CommandTemplate::Words(words) => Ok(words.clone()),
        }
    }
}

/// When a freshly started responder may get its first datagram.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Ready {
    /// Once a UDP socket is bound to `{listen}`'s port (Linux: `/proc/net/udp*`; elsewhere a
    /// 200 ms pause).
    #[default]
    ListenPort,
    /// Once a line of its stdout or stderr contains this text.
    Output(String),
    /// After this many milliseconds.
    DelayMs(u64),
}

/// What one scenario run asks of the IUT: the profile, the options, and the flags and
/// placeholder values that say so (the family decides them, [`crate::Family::launch`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launch {
    /// The profile chosen from the manifest's `profiles`.
    pub profile: String,
    /// The options the scenario needs.
    pub options: Vec<String>,
    /// The flags to pass, in order: (flag name, its value). A valued flag's template names
    /// `{flag}`, or the value follows the flag's words.
    pub flags: Vec<(String, Option<String>)>,
    /// The family's placeholder values.
    pub values: Vec<(&'static str, String)>,
    /// The mutant run, if any.
    pub mutant: Option<String>,
    /// The planted bug run, if any.
    pub plant: Option<String>,
}

impl Launch {
    /// Whether `option` was chosen.
    pub fn has(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }
}

/// Flags every manifest may have besides its family's: those that select a variant of the program.
const VARIANT_FLAGS: [&str; 2] = ["mutant", "plant"];

const INITIATOR_ONLY: [&str; 3] = ["target", "target_host", "target_port"];
const RESPONDER_ONLY: [&str; 3] = ["listen", "listen_host", "listen_port"];

/// The generic placeholders (a family adds its own, [`crate::Vocabulary::placeholders`]).
pub const PLACEHOLDERS: [&str; 17] = [
    "role",
    "address",
    "address_host",
    "address_port",
    "listen",
    "listen_host",
    "listen_port",
    "target",
    "target_host",
    "target_port",
    "profile",
    "seed",
    "harness",
    "manifest_dir",
    "mutant",
    "plant",
    "flags",
];

/// The words a mutant's description may start with to name the part it belongs to.
const PARTS: [&str; 6] = [
    "initiator",
    "client",
    "responder",
    "server",
    "controller",
    "handler",
];

/// Whether a mutant of `part` (a word of `PARTS`) runs in a run of the part `here` (the
/// family's `{role}` value) in `role`: the same part, or the generic word for its side.
pub fn part_runs(part: &str, here: &str, role: crate::format::Role) -> bool {
    use crate::format::Role;
    part == here
        || match role {
            Role::Initiator => matches!(part, "initiator" | "client"),
            Role::Responder => matches!(part, "responder" | "server"),
        }
}

/// Values of the placeholders for one run.
#[derive(Debug, Clone, Default)]
pub struct Values {
    values: BTreeMap<&'static str, String>,
    /// Every placeholder that may appear (generic and the family's).
    known: Vec<&'static str>,
}

impl Values {
    /// The values for a run in `role` (named `role_name` by the family) at `addr` (the listen
    /// address of a responder, the target of an initiator), launched as `launch`; the family's
    /// placeholders are `family_placeholders`.
    pub fn new(
        role: crate::format::Role,
        role_name: &str,
        addr: SocketAddr,
        launch: &Launch,
        family_placeholders: &[&'static str],
    ) -> Values {
        let mut v = BTreeMap::new();
        let (a, h, p) = match role {
            crate::format::Role::Responder => ("listen", "listen_host", "listen_port"),
            crate::format::Role::Initiator => ("target", "target_host", "target_port"),
        };
        v.insert("role", role_name.to_owned());
        v.insert("address", addr.to_string());
        v.insert("address_host", addr.ip().to_string());
        v.insert("address_port", addr.port().to_string());
        v.insert(a, addr.to_string());
        v.insert(h, addr.ip().to_string());
        v.insert(p, addr.port().to_string());
        v.insert("profile", launch.profile.clone());
        for (name, value) in &launch.values {
            v.insert(name, value.clone());
        }
        if let Some(m) = &launch.mutant {
            v.insert("mutant", m.clone());
        }
        if let Some(p) = &launch.plant {
            v.insert("plant", p.clone());
        }
        Values {
            values: v,
            known: PLACEHOLDERS
                .iter()
                .chain(family_placeholders)
                .copied()
                .collect(),
        }
    }

    /// Adds the run's seed, the harness executable and the manifest's directory.
    pub fn with_run(mut self, seed: u64, harness: &Path, manifest_dir: &Path) -> Values {
        self.values.insert("seed", seed.to_string());
        self.values.insert("harness", harness.display().to_string());
        self.values
            .insert("manifest_dir", manifest_dir.display().to_string());
        self
    }

    fn get(&self, name: &str) -> Option<&String> {
        self.values.get(name)
    }
}

/// Replaces every `{name}` in `word`; `{{` and `}}` stand for braces.
fn substitute(word: &str, values: &Values) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else if let Some(t) = tail.strip_prefix('{') {
            let end = t
                .find('}')
                .ok_or_else(|| format!("`{word}`: `{{` without `}}`"))?;
            let (name, unit) = match t[..end].split_once(':') {
                Some((n, u)) => (n, Some(u)),
                None => (&t[..end], None),
            };
            match values.get(name) {
                Some(v) => out.push_str(&in_unit(word, name, v, unit)?),
                None if values.known.contains(&name) => {
                    return Err(format!("`{word}`: {{{name}}} has no value here"));
                }
                None => {
                    return Err(format!(
                        "`{word}`: unknown placeholder {{{name}}} (known: {})",
                        known(&values.known)
                    ))
                }
            }
            rest = &t[end + 1..];
        } else {
            return Err(format!(
                "`{word}`: `}}` without `{{` (write `}}}}` for a brace)"
            ));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A placeholder's value in the unit a program wants: `{idle_ms:s}` is `idle_ms` in seconds
/// (`500` → `0.5`), for programs whose command lines count in seconds.
fn in_unit(word: &str, name: &str, value: &str, unit: Option<&str>) -> Result<String, String> {
    match unit {
        None => Ok(value.to_owned()),
        Some("s") => {
            let ms: u64 = value.parse().map_err(|_| {
                format!("`{word}`: {{{name}:s}}: `{value}` is not a number of milliseconds")
            })?;
            let secs = format!("{}.{:03}", ms / 1000, ms % 1000);
            Ok(secs.trim_end_matches('0').trim_end_matches('.').to_owned())
        }
        Some(other) => Err(format!(
            "`{word}`: unknown unit `:{other}` in {{{name}:{other}}} (known: `:s`, milliseconds as seconds)"
        )),
    }
}

fn known(names: &[&str]) -> String {
    names
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every `{name}` in a template word, for validation.
fn placeholders_in(word: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = word;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            rest = t;
        } else if let Some(t) = tail.strip_prefix('{') {
            let end = t
                .find('}')
                .ok_or_else(|| format!("`{word}`: `{{` without `}}`"))?;
            let name = &t[..end];
            names.push(name.split_once(':').map_or(name, |(n, _)| n).to_owned());
            rest = &t[end + 1..];
        } else {
            return Err(format!(
                "`{word}`: `}}` without `{{` (write `}}}}` for a brace)"
            ));
        }
    }
    Ok(names)
}

impl Manifest {
    /// Reads a manifest file (JSON; errors carry file:line:column). The family's checks come after
    /// ([`crate::registry::Families::load_manifest`]).
    pub fn read(path: &Path) -> Result<Manifest, crate::Error> {
        let text = crate::read_text(path).map_err(|e| crate::Error::Manifest(e.to_string()))?;
        crate::json::from_str(&text)
            .map_err(|e| crate::Error::Manifest(format!("{}:{e}", path.display())))
    }

    /// The one-line shorthand (`--iut-cmd`): the same template for both roles, defaults otherwise,
    /// for any family (`family_placeholders`: those of every family it may serve). A template
    /// naming `{listen…}` serves only as responder, one naming `{target…}` only as initiator
    /// (`{address}` and `{role}` serve both); naming both is an error.
    pub fn from_command(
        line: &str,
        family_placeholders: &[&str],
    ) -> Result<Manifest, crate::Error> {
        Manifest::command_line(line, family_placeholders).map_err(crate::Error::Iut)
    }

    fn command_line(line: &str, family_placeholders: &[&str]) -> Result<Manifest, String> {
        let template = CommandTemplate::Line(line.to_owned());
        let mut names = Vec::new();
        for word in template.words()? {
            names.extend(placeholders_in(&word)?);
        }
        let listen = names.iter().any(|n| RESPONDER_ONLY.contains(&n.as_str()));
        let target = names.iter().any(|n| INITIATOR_ONLY.contains(&n.as_str()));
        if listen && target {
            return Err(format!("`{line}`: one template cannot use both {{listen}} and {{target}}: use {{address}} (and {{role}}), or a manifest"));
        }
        let manifest = Manifest {
            schema: None,
            name: format!("cmd:{line}"),
            protocol: None,
            description: None,
            responder: (!target).then(|| template.clone()),
            initiator: (!listen).then_some(template),
            flags: BTreeMap::new(),
            profiles: None,
            options: None,
            unsupported_exit_code: DEFAULT_UNSUPPORTED_EXIT_CODE,
            success_exit_codes: default_success_codes(),
            unclear_exit_codes: Vec::new(),
            value_names: BTreeMap::new(),
            accepts: BTreeMap::new(),
            roles: BTreeMap::new(),
            stdin: None,
            listen: None,
            ready: Ready::default(),
            startup_timeout_ms: default_startup_timeout_ms(),
            kill_grace_ms: default_kill_grace_ms(),
            cwd: None,
            env: BTreeMap::new(),
            mutants: BTreeMap::new(),
            planted: BTreeMap::new(),
        };
        manifest.validate(family_placeholders, &[])?;
        Ok(manifest)
    }

    /// Checks what the schema cannot: templates split and name known placeholders (the generic
    /// ones and `family_placeholders`), the roles' addresses are used where they belong, flags are
    /// the family's (`family_flags`, `mutant` and `plant`), there is something to run.
    pub fn validate(
        &self,
        family_placeholders: &[&str],
        family_flags: &[&str],
    ) -> Result<(), ManifestError> {
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        if self.responder.is_none() && self.initiator.is_none() {
            return Err("give a responder command, an initiator command, or both".into());
        }
        if self.profiles.as_ref().is_some_and(Vec::is_empty) {
            return Err("profiles: name at least one".into());
        }
        let known_names: Vec<&str> = PLACEHOLDERS
            .iter()
            .chain(family_placeholders)
            .copied()
            .collect();
        let check = |what: &str, t: &CommandTemplate, forbidden: &[&str]| -> Result<(), String> {
            let words = t.words().map_err(|e| format!("{what}: {e}"))?;
            if words.is_empty() || words[0].trim().is_empty() {
                return Err(format!("{what}: no program to run"));
            }
            for word in &words {
                for name in placeholders_in(word).map_err(|e| format!("{what}: {e}"))? {
                    if name.is_empty() || !known_names.contains(&name.as_str()) {
                        return Err(format!(
                            "{what}: unknown placeholder {{{name}}} (known: {})",
                            known(&known_names)
                        ));
                    }
                    if forbidden.contains(&name.as_str()) {
                        return Err(format!("{what}: {{{name}}} has no value here"));
                    }
                    if name == "flags" && word != "{flags}" {
                        return Err(format!("{what}: {{flags}} must be a word of its own"));
                    }
                }
            }
            Ok(())
        };
        if let Some(t) = &self.responder {
            check("responder", t, &INITIATOR_ONLY)?;
        }
        if let Some(t) = &self.initiator {
            check("initiator", t, &RESPONDER_ONLY)?;
        }
        for (part, t) in &self.roles {
            check(&format!("roles.{part}"), t, &[])?;
        }
        if let Some(text) = &self.stdin {
            for name in placeholders_in(text).map_err(|e| format!("stdin: {e}"))? {
                if name.is_empty() || !known_names.contains(&name.as_str()) || name == "flags" {
                    return Err(format!(
                        "stdin: unknown placeholder {{{name}}} (known: {})",
                        known(&known_names)
                    )
                    .into());
                }
            }
        }
        let flag_forbidden: Vec<&str> = INITIATOR_ONLY
            .iter()
            .chain(&RESPONDER_ONLY)
            .chain(&["flags"])
            .copied()
            .collect();
        for (name, t) in &self.flags {
            if !VARIANT_FLAGS.contains(&name.as_str()) && !family_flags.contains(&name.as_str()) {
                let mut names: Vec<&str> = family_flags.to_vec();
                names.extend(VARIANT_FLAGS);
                return Err(format!(
                    "flags: unknown flag `{name}`: expected one of {}",
                    crate::format::quoted(&names)
                )
                .into());
            }
            let words = t.words().map_err(|e| format!("flags.{name}: {e}"))?;
            if words.is_empty() {
                return Err(format!("flags.{name}: empty (leave the flag out, and list the option in `options` if it is always on)").into());
            }
            check(&format!("flags.{name}"), t, &flag_forbidden)?;
        }
        for (key, flag, variants) in [
            ("mutants", "mutant", &self.mutants),
            ("planted", "plant", &self.planted),
        ] {
            if !variants.is_empty() && !self.flags.contains_key(flag) {
                return Err(format!("{key}: listed without a `{flag}` flag to select them (e.g. \"{flag}\": \"--{flag} {{{flag}}}\")").into());
            }
            for name in variants.keys() {
                if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '!') {
                    return Err(
                        format!("{key}: `{name}` is not a usable name (no spaces or `!`)").into(),
                    );
                }
            }
        }
        if let Some(both) = self.mutants.keys().find(|m| self.planted.contains_key(*m)) {
            return Err(format!(
                "planted: `{both}` is also a mutant's name (`MANIFEST!{both}` must name one)"
            )
            .into());
        }
        Ok(())
    }

    /// Whether it has a flag of this name.
    pub fn has_flag(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }

    /// Whether the program accepts `value` for the placeholder `name` ([`Manifest::accepts`]).
    pub fn accepts(&self, name: &str, value: &str) -> bool {
        self.accepts
            .get(name)
            .is_none_or(|values| values.iter().any(|v| v == value))
    }

    /// The text for the IUT's stdin, placeholders substituted (`None`: stdin closed at once).
    pub fn stdin_text(&self, values: &Values) -> Result<Option<String>, ManifestError> {
        let values = &self.in_its_words(values);
        self.stdin
            .as_deref()
            .map(|t| substitute(t, values).map_err(|e| ManifestError(format!("stdin: {e}"))))
            .transpose()
    }

    /// The command template of `role`.
    pub fn template(&self, role: crate::format::Role) -> Option<&CommandTemplate> {
        match role {
            crate::format::Role::Responder => self.responder.as_ref(),
            crate::format::Role::Initiator => self.initiator.as_ref(),
        }
    }

    /// The part a mutant belongs to, read from the first word of its description (`server,
    /// breaks …` → `server`), when that word names a part ([`part_runs`]); `None` otherwise (it
    /// may show anywhere).
    pub fn mutant_part(&self, mutant: &str) -> Option<String> {
        let first = self
            .mutants
            .get(mutant)?
            .split([',', ' ', ':'])
            .next()?
            .to_ascii_lowercase();
        PARTS.contains(&first.as_str()).then_some(first)
    }

    /// `values` with the program's own words for them ([`Manifest::value_names`]).
    pub fn in_its_words(&self, values: &Values) -> Values {
        let mut out = values.clone();
        for (name, value) in out.values.iter_mut() {
            if let Some(word) = self
                .value_names
                .get(*name)
                .and_then(|m| m.get(value.as_str()))
            {
                value.clone_from(word);
            }
        }
        out
    }

    /// Whether the command for `role` (or the text written to its stdin) takes placeholder
    /// `name`, in whatever unit (`{idle_ms}`, `{idle_ms:s}`).
    pub fn takes(&self, role: crate::format::Role, name: &str) -> bool {
        let words = self
            .template(role)
            .and_then(|t| t.words().ok())
            .unwrap_or_default();
        words
            .iter()
            .map(String::as_str)
            .chain(self.stdin.as_deref())
            .any(|w| placeholders_in(w).is_ok_and(|names| names.iter().any(|n| n == name)))
    }

    /// The program and its arguments for one run of `role` (named `role_name` by the family).
    pub fn command(
        &self,
        role: crate::format::Role,
        role_name: &str,
        launch: &Launch,
        values: &Values,
    ) -> Result<Vec<String>, ManifestError> {
        let template = values
            .get("role")
            .and_then(|part| self.roles.get(part))
            .or_else(|| self.template(role))
            .ok_or_else(|| format!("the IUT has no {role_name} command"))?;
        let values = &self.in_its_words(values);
        let mut flags: Vec<String> = Vec::new();
        let mut add = |name: &str, value: Option<String>| -> Result<(), String> {
            let Some(flag) = self.flags.get(name) else {
                return Ok(());
            };
            let words = flag.words()?;
            let has = words.iter().any(|w| w.contains(&format!("{{{name}}}")));
            for w in &words {
                flags.push(substitute(w, values)?);
            }
            if let (Some(v), false) = (value, has) {
                flags.push(v);
            }
            Ok(())
        };
        for (name, value) in &launch.flags {
            add(name, value.clone())?;
        }
        if let Some(m) = &launch.mutant {
            add("mutant", Some(m.clone()))?;
        }
        if let Some(p) = &launch.plant {
            add("plant", Some(p.clone()))?;
        }
        let mut out = Vec::new();
        let mut placed = false;
        for word in template.words()? {
            if word == "{flags}" {
                out.append(&mut flags);
                placed = true;
            } else {
                out.push(substitute(&word, values)?);
            }
        }
        if !placed {
            out.append(&mut flags);
        }
        Ok(out)
    }
}

fn scratch_path() -> PathBuf {
    std::env::temp_dir().join(format!("harness-{}", std::process::id()))
}

/// The directory for the files this harness process hands to IUTs (key logs, certificates):
/// one per process, created on first use, removed by [`remove_scratch_dir`] when the process ends
/// (the `harness` binary does), so that runs leave nothing behind in the temporary directory.
pub fn scratch_dir() -> PathBuf {
    static MADE: std::sync::Once = std::sync::Once::new();
    let dir = scratch_path();
    // Where it cannot be made, writing into it fails with the path, or the IUT reports it.
    MADE.call_once(|| {
        let _ = std::fs::create_dir_all(&dir);
    });
    dir
}

/// Removes [`scratch_dir`] and what is in it (nothing to remove is no error: the process handed
/// no files out).
pub fn remove_scratch_dir() {
    let _ = std::fs::remove_dir_all(scratch_path());
}

/// The `{keylog}` file of a QUIC family's IUT (in [`scratch_dir`]): one per family, not per
/// scenario or thread, so that scenarios started with otherwise equal command lines get equal ones
/// (a fuzzer keeps such a responder running between inputs, for any thread's runs). The IUTs
/// append NSS key log lines; the harness reads none of them (it decrypts with its own side's
/// secrets): they are there for the IUT's own key logging.
pub fn keylog_path(family: &str) -> PathBuf {
    scratch_dir().join(format!("{family}.keys"))
}

/// Splits a command line into words like a POSIX shell (without expansions): blanks separate words;
/// `'…'` is literal; inside `"…"` a backslash escapes `"`, `\`, `$` and `` ` ``; elsewhere a
/// backslash escapes the next character.
pub fn split_words(line: &str) -> Result<Vec<String>, ManifestError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("`{line}`: unterminated '").into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("`{line}`: unterminated \"").into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("`{line}`: unterminated \"").into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("`{line}`: trailing backslash").into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The JSON Schema of IUT manifests (committed as `vectors/schema/iut-manifest.schema.json`).
pub fn schema_json() -> String {
    let mut schema = schemars::schema_for!(Manifest);
    // `server` and `client` are the QUIC families' names of `responder` and `initiator` (serde
    // aliases, which schemars does not list): the same schema under each name.
    if let Some(props) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        for (alias, name) in [("server", "responder"), ("client", "initiator")] {
            if let Some(mut p) = props.get(name).cloned() {
                if let Some(o) = p.as_object_mut() {
                    o.insert(
                        "description".into(),
                        format!("The same as `{name}` (the name the QUIC families use).").into(),
                    );
                }
                props.insert(alias.into(), p);
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_words(r#"a  'b c' "d \"e\"" f\ g"#).unwrap_or_default(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert_eq!(
            split_words("sh -c 'exit 89'").unwrap_or_default(),
            ["sh", "-c", "exit 89"]
        );
        assert_eq!(split_words("''").unwrap_or_default(), [""]);
        assert!(split_words("a 'b").is_err());
    }

    #[test]
    fn substitutes_inside_words() {
        let mut v = Values {
            known: PLACEHOLDERS.to_vec(),
            ..Values::default()
        };
        v.values.insert("listen", "127.0.0.1:5".into());
        assert_eq!(
            substitute("--listen={listen}", &v).ok().as_deref(),
            Some("--listen=127.0.0.1:5")
        );
        assert_eq!(substitute("{{x}}", &v).ok().as_deref(), Some("{x}"));
        assert!(substitute("{nope}", &v).is_err());
        assert!(substitute("{target}", &v).is_err());
    }

    #[test]
    fn values_in_the_programs_own_words() {
        let mut m = manifest(serde_json::json!({
            "value_names": {"transport": {"webtransport": "wt"}}
        }));
        m.responder = Some(CommandTemplate::Line("p --transport {transport}".into()));
        let mut v = Values {
            known: vec!["transport"],
            ..Values::default()
        };
        v.values.insert("transport", "webtransport".into());
        let launch = Launch::default();
        let words = m.command(crate::format::Role::Responder, "server", &launch, &v);
        assert_eq!(
            words.ok(),
            Some(vec!["p".into(), "--transport".into(), "wt".into()])
        );
        v.values.insert("transport", "quic".into());
        let words = m.command(crate::format::Role::Responder, "server", &launch, &v);
        assert_eq!(
            words.ok(),
            Some(vec!["p".into(), "--transport".into(), "quic".into()])
        );
    }

    #[test]
    fn a_mutant_says_its_part_first() {
        let m = manifest(serde_json::json!({"mutants": {
            "a": "server, breaks X", "b": "Client: breaks Y", "c": "handler, breaks Z", "d": "breaks W"
        }}));
        use crate::format::Role::{Initiator, Responder};
        assert_eq!(m.mutant_part("a").as_deref(), Some("server"));
        assert_eq!(m.mutant_part("b").as_deref(), Some("client"));
        assert_eq!(m.mutant_part("d"), None);
        assert_eq!(m.mutant_part("e"), None);
        // A server's mutant runs wherever the IUT is the server, whatever the family calls it.
        assert!(part_runs("server", "controller", Responder));
        assert!(part_runs("handler", "handler", Responder));
        assert!(!part_runs("handler", "controller", Responder));
        assert!(!part_runs("client", "controller", Responder));
        assert!(part_runs("initiator", "client", Initiator));
        assert!(!part_runs("responder", "initiator", Initiator));
        assert_eq!(m.mutant_part("c").as_deref(), Some("handler"));
    }

    #[test]
    fn milliseconds_as_seconds() {
        let mut v = Values {
            known: vec!["idle_ms"],
            ..Values::default()
        };
        for (ms, secs) in [("5000", "5"), ("500", "0.5"), ("1250", "1.25"), ("0", "0")] {
            v.values.insert("idle_ms", ms.into());
            assert_eq!(substitute("{idle_ms:s}", &v).ok().as_deref(), Some(secs));
        }
        v.values.insert("idle_ms", "soon".into());
        assert!(substitute("{idle_ms:s}", &v).is_err());
        assert!(substitute("{idle_ms:h}", &v).is_err());
    }

    fn manifest(extra: serde_json::Value) -> Manifest {
        let mut m = serde_json::json!({
            "name": "x",
            "responder": "prog --listen {listen} {flags}",
        });
        if let (Some(o), Some(e)) = (m.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        serde_json::from_value(m).expect("a manifest")
    }

    #[test]
    fn planted_bugs_need_the_plant_flag_and_names_of_their_own() {
        let ok = manifest(serde_json::json!({
            "flags": { "plant": "--plant {plant}", "mutant": "--mutant {mutant}" },
            "mutants": { "m": "breaks D1" },
            "planted": { "crash": "sealed" }
        }));
        assert_eq!(ok.validate(&[], &[]), Ok(()));
        let no_flag = manifest(serde_json::json!({ "planted": { "crash": "sealed" } }));
        let why = no_flag.validate(&[], &[]).expect_err("no plant flag");
        assert!(why.0.contains("`plant` flag"), "{why}");
        let clash = manifest(serde_json::json!({
            "flags": { "plant": "--plant {plant}", "mutant": "--mutant {mutant}" },
            "mutants": { "crash": "breaks D1" },
            "planted": { "crash": "sealed" }
        }));
        assert!(clash.validate(&[], &[]).is_err());
    }

    #[test]
    fn the_planted_bug_is_passed_with_its_flag() {
        let m = manifest(serde_json::json!({
            "flags": { "plant": "--plant {plant}" },
            "planted": { "hang": "sealed" }
        }));
        let launch = Launch {
            plant: Some("hang".into()),
            ..Launch::default()
        };
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("address");
        let values = Values::new(
            crate::format::Role::Responder,
            "responder",
            addr,
            &launch,
            &[],
        );
        let argv = m
            .command(
                crate::format::Role::Responder,
                "responder",
                &launch,
                &values,
            )
            .expect("a command");
        assert_eq!(argv, ["prog", "--listen", "127.0.0.1:9", "--plant", "hang"]);
    }
}
