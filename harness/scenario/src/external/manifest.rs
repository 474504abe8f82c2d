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
//! | `{listen}`, `{listen_host}`, `{listen_port}` | responder: the loopback address to serve on (fresh port per scenario) |
//! | `{target}`, `{target_host}`, `{target_port}` | initiator: the harness's address to connect to |
//! | `{address}`, `{address_host}`, `{address_port}` | either of the above, for the role run |
//! | `{role}` | `responder` or `initiator` |
//! | `{bits_per_second}`, `{frame_rate}`, `{stream_length}`, `{buffer_depth}`, `{datagram_byte_size}` | the scenario's stream (ctsTraffic names; lengths in seconds) |
//! | `{profile}` | the profile chosen from `profiles` (`3way`, `legacy`, `udp_push`) |
//! | `{verify}`, `{session_limit}` | values for the `verify` and `session_limit` flags |
//! | `{seed}` | the run's seed |
//! | `{harness}` | the running harness executable |
//! | `{manifest_dir}` | the manifest's directory |
//! | `{flags}` | (a whole word) the option flags the scenario needs; appended at the end when absent |

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use handshake_mediastream_endpoint::{Profile, ProfileKind, StreamConfig, Verify};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Feature, Role, Scenario};

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
    /// One line about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How to start it as a responder (ctsTraffic `-listen`); without it, responder scenarios are
    /// unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder: Option<CommandTemplate>,
    /// How to start it as an initiator (ctsTraffic `-target`); it must run one stream and exit 0
    /// when the stream completed, nonzero otherwise. Without it, initiator scenarios are unsupported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<CommandTemplate>,
    /// The command-line flag of each option a scenario may require.
    #[serde(default)]
    pub flags: Flags,
    /// Profiles it supports, in order of preference (the first one with every required feature is
    /// used; `{profile}` names it). Default: `["3way"]`.
    #[serde(default = "default_profiles")]
    pub profiles: Vec<ProfileName>,
    /// 3-way options it supports. Default: those with a flag. An option listed without a flag is
    /// taken to be always on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<OptionName>>,
    /// The exit code by which it says it does not support what it was asked (default 89).
    #[serde(default = "default_unsupported")]
    pub unsupported_exit_code: i32,
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
}

fn default_profiles() -> Vec<ProfileName> {
    vec![ProfileName::ThreeWay]
}

fn default_unsupported() -> i32 {
    DEFAULT_UNSUPPORTED_EXIT_CODE
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

impl CommandTemplate {
    /// The template's words, before substitution.
    pub fn words(&self) -> Result<Vec<String>, String> {
        match self {
            CommandTemplate::Line(line) => split_words(line),
            CommandTemplate::Words(words) => Ok(words.clone()),
        }
    }
}

/// The flags of the options a scenario may require. Boolean options are added only when the scenario
/// needs them; `verify` and `session_limit` take a value (`{verify}` / `{session_limit}` in the flag,
/// or appended as its own word).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flags {
    /// D9 (responder): also serve legacy START, e.g. `--allow-legacy-start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_legacy_start: Option<CommandTemplate>,
    /// D8 (responder): stream right after SYN-ACK, e.g. `--optimistic-start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimistic_start: Option<CommandTemplate>,
    /// D10 (initiator): fall back to START, e.g. `--fallback-to-legacy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_to_legacy: Option<CommandTemplate>,
    /// Payload verification, e.g. `--verify {verify}` (`data` or `connection`); always added when
    /// given. Without it the IUT runs with its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<CommandTemplate>,
    /// D4 (responder): session limit, e.g. `--session-limit {session_limit}`; scenarios with a
    /// session limit are unsupported without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_limit: Option<CommandTemplate>,
    /// Selects one of `mutants`, e.g. `--mutant {mutant}`; added only when a mutant is run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutant: Option<CommandTemplate>,
    /// Media direction, e.g. `--direction {direction}` (`pull` or `push`); always added when given,
    /// and with it the IUT runs push scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<CommandTemplate>,
    /// D14 (initiator): request the stream's parameters as SYN options, e.g. `--request-options`;
    /// added when the scenario requires `request_options`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_options: Option<CommandTemplate>,
}

/// A base profile.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
pub enum ProfileName {
    /// The 3-way handshake.
    #[serde(rename = "3way")]
    ThreeWay,
    /// Legacy START.
    #[serde(rename = "legacy")]
    Legacy,
    /// ctsTraffic's UDP push (legacy START on the wire).
    #[serde(rename = "udp_push")]
    UdpPush,
}

impl ProfileName {
    /// The name in templates and profiles.
    pub fn name(self) -> &'static str {
        match self {
            ProfileName::ThreeWay => "3way",
            ProfileName::Legacy => "legacy",
            ProfileName::UdpPush => "udp_push",
        }
    }

    fn kind(self) -> ProfileKind {
        match self {
            ProfileName::ThreeWay => ProfileKind::ThreeWay,
            ProfileName::Legacy => ProfileKind::Legacy,
            ProfileName::UdpPush => ProfileKind::UdpPush,
        }
    }
}

/// A 3-way option.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OptionName {
    /// D9.
    AllowLegacyStart,
    /// D8.
    OptimisticStart,
    /// D10.
    FallbackToLegacy,
    /// D14 (initiator): requests its stream parameters as SYN options.
    RequestOptions,
    /// The push direction (given by the `direction` flag).
    Push,
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

/// What one scenario run asks of the IUT: the profile, and the options and values passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The base profile.
    pub profile: ProfileName,
    /// The options the scenario needs.
    pub options: Vec<OptionName>,
    /// The scenario's session limit, if any.
    pub session_limit: Option<usize>,
    /// The mutant run, if any.
    pub mutant: Option<String>,
}

impl Launch {
    /// The profile as the checker should judge the traffic.
    pub fn checker_profile(&self) -> Profile {
        let mut p = Profile::new(self.profile.kind());
        p.allow_legacy_start = self.options.contains(&OptionName::AllowLegacyStart);
        p.optimistic_start = self.options.contains(&OptionName::OptimisticStart);
        p.fallback_to_legacy = self.options.contains(&OptionName::FallbackToLegacy);
        p.session_limit = self.session_limit;
        p
    }
}

/// Chooses the profile and options for `scenario` among `profiles` and `options`, or says why the IUT
/// cannot run it (an `unsupported` reason). `restartable`: the IUT is started per scenario.
pub fn choose(
    profiles: &[ProfileName],
    options: &[OptionName],
    scenario: &Scenario,
    restartable: bool,
) -> Result<Launch, String> {
    let role = scenario.iut.role;
    let fits = |p: ProfileName, f: Feature| -> Option<Option<OptionName>> {
        let three_way = p == ProfileName::ThreeWay;
        let option = |o: OptionName, r: Role| {
            (three_way && role == r && options.contains(&o)).then_some(Some(o))
        };
        match f {
            Feature::ThreeWay => three_way.then_some(None),
            Feature::LegacyStart if !three_way => Some(None),
            Feature::LegacyStart | Feature::AllowLegacyStart => {
                option(OptionName::AllowLegacyStart, Role::Responder)
            }
            Feature::OptimisticStart => option(OptionName::OptimisticStart, Role::Responder),
            Feature::FallbackToLegacy => option(OptionName::FallbackToLegacy, Role::Initiator),
            Feature::RequestOptions => option(OptionName::RequestOptions, Role::Initiator),
            // No build ever coded push with udp_push; the direction flag carries it.
            Feature::Push => {
                (p != ProfileName::UdpPush && options.contains(&OptionName::Push)).then_some(None)
            }
            Feature::UdpPush => (p == ProfileName::UdpPush).then_some(None),
            Feature::Restart => restartable.then_some(None),
        }
    };
    let required = scenario.required_features();
    if let Some(f) = required
        .iter()
        .find(|f| !profiles.iter().any(|p| fits(*p, **f).is_some()))
    {
        return Err(format!("the IUT lacks {f:?}"));
    }
    for &p in profiles {
        let mut chosen = Vec::new();
        let all = required.iter().all(|f| match fits(p, *f) {
            Some(o) => {
                chosen.extend(o);
                true
            }
            None => false,
        });
        if all {
            chosen.sort_unstable();
            chosen.dedup();
            return Ok(Launch {
                profile: p,
                options: chosen,
                session_limit: scenario.iut.session_limit,
                mutant: None,
            });
        }
    }
    Err(format!(
        "no one profile of the IUT has all of {:?}",
        required
    ))
}

const INITIATOR_ONLY: [&str; 3] = ["target", "target_host", "target_port"];
const RESPONDER_ONLY: [&str; 3] = ["listen", "listen_host", "listen_port"];

/// The words of every placeholder.
pub const PLACEHOLDERS: [&str; 24] = [
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
    "bits_per_second",
    "frame_rate",
    "stream_length",
    "buffer_depth",
    "datagram_byte_size",
    "profile",
    "verify",
    "session_limit",
    "seed",
    "harness",
    "manifest_dir",
    "mutant",
    "direction",
    "flags",
];

/// Values of the placeholders for one run.
#[derive(Debug, Clone, Default)]
pub struct Values(BTreeMap<&'static str, String>);

impl Values {
    /// The values for a run in `role` at `addr` (the listen address of a responder, the target of an
    /// initiator).
    pub fn new(
        role: Role,
        addr: SocketAddr,
        stream: &StreamConfig,
        launch: &Launch,
        seed: u64,
        harness: &Path,
        manifest_dir: &Path,
    ) -> Values {
        let mut v = BTreeMap::new();
        let (a, h, p) = match role {
            Role::Responder => ("listen", "listen_host", "listen_port"),
            Role::Initiator => ("target", "target_host", "target_port"),
        };
        v.insert("role", role_name(role).to_owned());
        v.insert("address", addr.to_string());
        v.insert("address_host", addr.ip().to_string());
        v.insert("address_port", addr.port().to_string());
        v.insert(a, addr.to_string());
        v.insert(h, addr.ip().to_string());
        v.insert(p, addr.port().to_string());
        v.insert("bits_per_second", stream.bits_per_second.to_string());
        v.insert("frame_rate", stream.frame_rate.to_string());
        v.insert("stream_length", stream.stream_length_secs.to_string());
        v.insert("buffer_depth", stream.buffer_depth_secs.to_string());
        v.insert("datagram_byte_size", stream.datagram_byte_size.to_string());
        v.insert("profile", launch.profile.name().to_owned());
        v.insert(
            "verify",
            match stream.verify {
                Verify::Data => "data",
                Verify::Connection => "connection",
            }
            .to_owned(),
        );
        if let Some(n) = launch.session_limit {
            v.insert("session_limit", n.to_string());
        }
        v.insert("direction", stream.direction.name().to_owned());
        if let Some(m) = &launch.mutant {
            v.insert("mutant", m.clone());
        }
        v.insert("seed", seed.to_string());
        v.insert("harness", harness.display().to_string());
        v.insert("manifest_dir", manifest_dir.display().to_string());
        Values(v)
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
            let name = &t[..end];
            match values.0.get(name) {
                Some(v) => out.push_str(v),
                None if PLACEHOLDERS.contains(&name) => {
                    return Err(format!("`{word}`: {{{name}}} has no value here"));
                }
                None => {
                    return Err(format!(
                        "`{word}`: unknown placeholder {{{name}}} (known: {})",
                        known()
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

fn known() -> String {
    PLACEHOLDERS
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
            names.push(t[..end].to_owned());
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
    /// Reads and validates a manifest file; errors carry file:line:column.
    pub fn load(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let manifest: Manifest =
            crate::json::from_str(&text).map_err(|e| format!("{}:{e}", path.display()))?;
        manifest
            .validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(manifest)
    }

    /// The one-line shorthand (`--iut-cmd`): the same template for both roles, defaults otherwise.
    /// A template naming `{listen…}` serves only as responder, one naming `{target…}` only as
    /// initiator (`{address}` and `{role}` serve both); naming both is an error.
    pub fn from_command(line: &str) -> Result<Manifest, String> {
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
            description: None,
            responder: (!target).then(|| template.clone()),
            initiator: (!listen).then_some(template),
            flags: Flags::default(),
            profiles: default_profiles(),
            options: None,
            unsupported_exit_code: DEFAULT_UNSUPPORTED_EXIT_CODE,
            ready: Ready::default(),
            startup_timeout_ms: default_startup_timeout_ms(),
            kill_grace_ms: default_kill_grace_ms(),
            cwd: None,
            env: BTreeMap::new(),
            mutants: BTreeMap::new(),
        };
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks what the schema cannot: templates split and name known placeholders, the roles'
    /// addresses are used where they belong, there is something to run.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        if self.responder.is_none() && self.initiator.is_none() {
            return Err("give a responder command, an initiator command, or both".into());
        }
        if self.profiles.is_empty() {
            return Err("profiles: name at least one".into());
        }
        let check = |what: &str, t: &CommandTemplate, forbidden: &[&str]| -> Result<(), String> {
            let words = t.words().map_err(|e| format!("{what}: {e}"))?;
            if words.is_empty() || words[0].trim().is_empty() {
                return Err(format!("{what}: no program to run"));
            }
            for word in &words {
                for name in placeholders_in(word).map_err(|e| format!("{what}: {e}"))? {
                    if name.is_empty() || !PLACEHOLDERS.contains(&name.as_str()) {
                        return Err(format!(
                            "{what}: unknown placeholder {{{name}}} (known: {})",
                            known()
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
        let flag_forbidden: Vec<&str> = INITIATOR_ONLY
            .iter()
            .chain(&RESPONDER_ONLY)
            .chain(&["flags"])
            .copied()
            .collect();
        for (name, flag) in self.flag_list() {
            if let Some(t) = flag {
                let words = t.words().map_err(|e| format!("flags.{name}: {e}"))?;
                if words.is_empty() {
                    return Err(format!("flags.{name}: empty (leave the flag out, and list the option in `options` if it is always on)"));
                }
                check(&format!("flags.{name}"), t, &flag_forbidden)?;
            }
        }
        if !self.mutants.is_empty() && self.flags.mutant.is_none() {
            return Err("mutants: listed without a `mutant` flag to select them (e.g. \"mutant\": \"--mutant {mutant}\")".into());
        }
        for name in self.mutants.keys() {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '!') {
                return Err(format!(
                    "mutants: `{name}` is not a usable name (no spaces or `!`)"
                ));
            }
        }
        Ok(())
    }

    fn flag_list(&self) -> [(&'static str, Option<&CommandTemplate>); 8] {
        [
            ("direction", self.flags.direction.as_ref()),
            ("request_options", self.flags.request_options.as_ref()),
            ("allow_legacy_start", self.flags.allow_legacy_start.as_ref()),
            ("optimistic_start", self.flags.optimistic_start.as_ref()),
            ("fallback_to_legacy", self.flags.fallback_to_legacy.as_ref()),
            ("verify", self.flags.verify.as_ref()),
            ("session_limit", self.flags.session_limit.as_ref()),
            ("mutant", self.flags.mutant.as_ref()),
        ]
    }

    /// The options it supports.
    pub fn supported_options(&self) -> Vec<OptionName> {
        match &self.options {
            Some(o) => o.clone(),
            None => {
                let mut o = Vec::new();
                if self.flags.allow_legacy_start.is_some() {
                    o.push(OptionName::AllowLegacyStart);
                }
                if self.flags.optimistic_start.is_some() {
                    o.push(OptionName::OptimisticStart);
                }
                if self.flags.fallback_to_legacy.is_some() {
                    o.push(OptionName::FallbackToLegacy);
                }
                if self.flags.request_options.is_some() {
                    o.push(OptionName::RequestOptions);
                }
                if self.flags.direction.is_some() {
                    o.push(OptionName::Push);
                }
                o
            }
        }
    }

    /// What to run `scenario` with, or why it is unsupported.
    pub fn launch_for(&self, scenario: &Scenario) -> Result<Launch, String> {
        let role = scenario.iut.role;
        let template = match role {
            Role::Responder => self.responder.as_ref(),
            Role::Initiator => self.initiator.as_ref(),
        };
        if template.is_none() {
            return Err(format!("the IUT has no {} command", role_name(role)));
        }
        let launch = choose(&self.profiles, &self.supported_options(), scenario, true)?;
        if let Some(n) = launch.session_limit {
            if self.flags.session_limit.is_none() {
                return Err(format!("the scenario needs a session limit of {n} and the manifest has no session_limit flag"));
            }
        }
        Ok(launch)
    }

    /// The program and its arguments for one run.
    pub fn command(
        &self,
        role: Role,
        launch: &Launch,
        values: &Values,
    ) -> Result<Vec<String>, String> {
        let template = match role {
            Role::Responder => self.responder.as_ref(),
            Role::Initiator => self.initiator.as_ref(),
        }
        .ok_or_else(|| format!("the IUT has no {} command", role_name(role)))?;
        let mut flags: Vec<String> = Vec::new();
        let mut add = |flag: Option<&CommandTemplate>,
                       value: Option<String>,
                       placeholder: &str|
         -> Result<(), String> {
            let Some(flag) = flag else {
                return Ok(());
            };
            let words = flag.words()?;
            let has = words
                .iter()
                .any(|w| w.contains(&format!("{{{placeholder}}}")));
            for w in &words {
                flags.push(substitute(w, values)?);
            }
            if let (Some(v), false) = (value, has) {
                flags.push(v);
            }
            Ok(())
        };
        for o in &launch.options {
            let flag = match o {
                OptionName::AllowLegacyStart => self.flags.allow_legacy_start.as_ref(),
                OptionName::OptimisticStart => self.flags.optimistic_start.as_ref(),
                OptionName::FallbackToLegacy => self.flags.fallback_to_legacy.as_ref(),
                OptionName::RequestOptions => self.flags.request_options.as_ref(),
                OptionName::Push => None,
            };
            add(flag, None, "")?;
        }
        add(
            self.flags.verify.as_ref(),
            values.0.get("verify").cloned(),
            "verify",
        )?;
        add(
            self.flags.direction.as_ref(),
            values.0.get("direction").cloned(),
            "direction",
        )?;
        if launch.session_limit.is_some() {
            add(
                self.flags.session_limit.as_ref(),
                values.0.get("session_limit").cloned(),
                "session_limit",
            )?;
        }
        if launch.mutant.is_some() {
            add(
                self.flags.mutant.as_ref(),
                values.0.get("mutant").cloned(),
                "mutant",
            )?;
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

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Responder => "responder",
        Role::Initiator => "initiator",
    }
}

/// Splits a command line into words like a POSIX shell (without expansions): blanks separate words;
/// `'…'` is literal; inside `"…"` a backslash escapes `"`, `\`, `$` and `` ` ``; elsewhere a
/// backslash escapes the next character.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
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
                        None => return Err(format!("`{line}`: unterminated '")),
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
                            None => return Err(format!("`{line}`: unterminated \"")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("`{line}`: unterminated \"")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("`{line}`: trailing backslash")),
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
    let schema = schemars::schema_for!(Manifest);
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
        let mut v = Values::default();
        v.0.insert("listen", "127.0.0.1:5".into());
        assert_eq!(
            substitute("--listen={listen}", &v).ok().as_deref(),
            Some("--listen=127.0.0.1:5")
        );
        assert_eq!(substitute("{{x}}", &v).ok().as_deref(), Some("{x}"));
        assert!(substitute("{nope}", &v).is_err());
        assert!(substitute("{target}", &v).is_err());
    }
}
