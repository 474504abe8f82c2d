//! The families a harness knows, behind one object-safe face: loading scenarios and manifests of any
//! family, naming reference profiles, and running a loaded scenario against any IUT. The CLI owns the
//! list (`harness/cli/src/families.rs`); everything here takes it as [`Families`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use handshake_check::Rule;
use serde::Deserialize;

use crate::engine::Keep;
use crate::external::{ExternalIut, Manifest};
use crate::family::{
    Citations, DatagramLabel, Family, FuzzHooks, Learning, Probing, ReferenceMutant, Vocabulary,
};
use crate::format::{Role, Scenario};
use crate::outcome::{ScenarioOutcome, Verdict};
use crate::{Error, LoadError, ProfileError};
use handshake_core::dyn_face;

/// A [`Family`] behind the object-safe face [`DynFamily`] (a `const`, for a `static` registry).
pub struct Registered<F>(PhantomData<F>);

impl<F> Registered<F> {
    /// The face of `F`.
    pub const fn new() -> Registered<F> {
        Registered(PhantomData)
    }
}

impl<F> Default for Registered<F> {
    fn default() -> Self {
        Registered::new()
    }
}

dyn_face! {
    /// One family, as the generic parts of the harness see it.
    pub trait DynFamily: Send, Sync;
    impl<F: Family> for Registered<F>;
    provided {
        /// What it calls the two roles: (initiator, responder).
        fn role_names(&self) -> (&'static str, &'static str) {
            self.vocabulary().role_names
        }
        /// The judge's rules.
        fn rules(&self) -> &'static [Rule] {
            self.vocabulary().rules
        }
        /// What expectations may cite.
        fn citations(&self) -> &'static Citations {
            &self.vocabulary().citations
        }
        /// The features scenarios may require, with what each means.
        fn features(&self) -> &'static [(&'static str, &'static str)] {
            self.vocabulary().features
        }
        /// Its manifest placeholders.
        fn placeholders(&self) -> &'static [&'static str] {
            self.vocabulary().placeholders
        }
        /// Its manifest flags.
        fn flags(&self) -> &'static [&'static str] {
            self.vocabulary().flags
        }
    }

    /// Its name (`mediastream`).
    fn name(&self) -> &'static str {
        F::NAME
    }
    /// Its names, rules, citations, features, units and manifest keys ([`Family::VOCABULARY`]).
    fn vocabulary(&self) -> &'static Vocabulary {
        F::VOCABULARY
    }
    /// The unit a datagram the IUT sent stands for, if the family reads units off datagrams.
    fn unit_of_datagram(&self, payload: &[u8]) -> Option<serde_json::Value> {
        F::unit_of_datagram(payload).map(|u| crate::family::unit_json(&u))
    }
    /// Reads a scenario of this family from `text` (the file at `path`), validated; every problem
    /// is reported as `file:line:column: what (at path)`.
    fn load(&self, path: &Path, text: &str) -> Result<LoadedScenario, LoadError> {
        let scenario: LoadedScenario = Arc::new(scenario_from_text::<F>(path, text)?);
        Ok(scenario)
    }
    /// As [`load`](Self::load), from a JSON value, with the path of the first problem instead of a
    /// line and column (`harness fuzz`'s inputs: no text to point into, and half are refused).
    fn load_value(&self, value: &serde_json::Value) -> Result<LoadedScenario, LoadError> {
        // Tracking the path costs as much as the deserialisation itself: only a value that
        // fails is deserialised again with it, for the error's path.
        let scenario: Scenario<F> = match Scenario::<F>::deserialize(value) {
            Ok(s) => s,
            Err(_) => serde_path_to_error::deserialize(value)
                .map_err(|e| LoadError(format!("{}: {}", e.path(), e.inner())))?,
        };
        match crate::validate::problems(&scenario).first() {
            None => Ok(Arc::new(scenario)),
            Some(p) => Err(LoadError(format!(
                "{} (at {})",
                p.message,
                crate::json::path_text(&p.path)
            ))),
        }
    }
    /// The outcome of a run of the scenario `value` that did not happen, without loading it
    /// (its `id` and `title` as they are): a fuzz input asking for more than its budget is not
    /// run, and loading it only to say so was a fiftieth of a search.
    fn outcome_without_run(
        &self,
        value: &serde_json::Value,
        iut: &str,
        verdict: Verdict,
        why: String,
    ) -> ScenarioOutcome {
        let text = |key: &str| value[key].as_str().unwrap_or_default();
        ScenarioOutcome::not_run::<F>(text("id"), text("title"), iut, verdict, why)
    }
    /// A reference profile's canonical name, or why `text` is not one.
    fn parse_profile(&self, text: &str) -> Result<String, ProfileError> {
        F::parse_profile(text).map(|p| p.to_string())
    }
    /// Checks a manifest: the generic keys against its placeholders and flags, then its own parts.
    fn validate_manifest(&self, manifest: &Manifest) -> Result<(), Error> {
        manifest
            .validate(F::VOCABULARY.placeholders, F::VOCABULARY.flags)
            .map_err(|e| Error::Manifest(e.0))?;
        F::validate_manifest(manifest)
    }
    /// The JSON Schema of its scenarios.
    fn scenario_schema(&self) -> schemars::Schema {
        let mut schema = schemars::schema_for!(Scenario<F>);
        // What the generic types leave open, the family names: its protocol and its features.
        if let Some(p) = schema.pointer_mut("/properties/protocol") {
            *p = serde_json::json!({ "description": "The protocol family.", "const": F::NAME });
        }
        let mut features: Vec<&str> = F::VOCABULARY.features.iter().map(|(n, _)| *n).collect();
        features.push("restart");
        if let Some(items) = schema.pointer_mut("/$defs/IutRequirement/properties/requires/items") {
            *items = serde_json::json!({ "enum": features });
        }
        schema
    }
    /// The reference endpoints' mutants.
    fn mutants(&self) -> Vec<ReferenceMutant> {
        F::mutants()
    }
    /// How a ladder diagram shows its datagrams.
    fn describer(&self) -> fn(&[u8]) -> DatagramLabel {
        F::describe_datagram
    }
    /// How `harness probe` finds out what a program of the family speaks ([`Family::PROBING`]).
    fn probing(&self) -> Probing {
        F::PROBING
    }
    /// Its layout knowledge for the network fuzzer ([`Family::FUZZ`]).
    fn fuzz(&self) -> FuzzHooks {
        F::FUZZ
    }
    /// Its alphabet for model learning ([`Family::LEARNING`]).
    fn learning(&self) -> Learning {
        F::LEARNING
    }
    /// Its wire formats for fuzzers of other people's parsers ([`Family::FORMATS`]).
    fn formats(&self) -> &'static [handshake_formats::WireFormat] {
        F::FORMATS
    }
}

/// A loaded scenario of any family.
pub type LoadedScenario = Arc<dyn AnyScenario>;

dyn_face! {
    /// A scenario of some family, as the runner sees it.
    pub trait AnyScenario: fmt::Debug, Send, Sync;
    impl<F: Family> for Scenario<F>;
    provided {
        /// Runs it against `iut` with `seed`.
        fn run(&self, iut: &Iut, seed: u64) -> ScenarioOutcome {
            self.run_keeping(iut, seed, crate::engine::STEP_LIMIT, Keep::Capture)
        }
        /// As [`run`](Self::run) for a fuzz input: a run in virtual time takes at most `max_steps`
        /// simulation steps (see [`run_reference_within`](crate::engine::run_reference_within)) and
        /// keeps only its judgement ([`Keep::Judgement`]).
        fn search_run(&self, iut: &Iut, seed: u64, max_steps: u64) -> ScenarioOutcome {
            self.run_keeping(iut, seed, max_steps, Keep::Judgement)
        }
        /// Why an external program cannot run it (it needs what the program lacks), if it cannot.
        fn unsupported_by(&self, iut: &Iut) -> Option<String> {
            match iut {
                Iut::External(e) => self.launch_reason(e),
                Iut::Reference { .. } => None,
            }
        }
    }

    /// Its family.
    fn family(&self) -> &'static str {
        F::NAME
    }
    /// Its id.
    fn id(&self) -> &str {
        &self.id
    }
    /// Its title.
    fn title(&self) -> &str {
        &self.title
    }
    /// Its tags.
    fn tags(&self) -> &[String] {
        &self.tags
    }
    /// Its own seed.
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    /// The IUT's side.
    fn role(&self) -> Role {
        self.iut.role
    }
    /// Every fact, decision and rule id it cites.
    fn cited(&self) -> BTreeSet<String> {
        crate::format::cited(self)
    }
    /// As [`run`](Self::run), within `max_steps` in virtual time, keeping what `keep` says.
    fn run_keeping(&self, iut: &Iut, seed: u64, max_steps: u64, keep: Keep) -> ScenarioOutcome {
        match iut {
            Iut::Reference {
                name,
                family,
                profile,
            } => {
                if *family != F::NAME {
                    return ScenarioOutcome::unsupported(
                        self,
                        name,
                        format!("the IUT is a {family} profile, the scenario is {}", F::NAME),
                    );
                }
                match F::parse_profile(profile) {
                    Ok(p) => {
                        crate::engine::run_reference_within(self, name, &p, seed, max_steps, keep)
                    }
                    Err(e) => ScenarioOutcome::error(self, name, e.to_string()),
                }
            }
            Iut::External(e) => e.run_keeping_units(self, seed, keep == Keep::Units),
        }
    }
    /// Roughly how long a run against `iut` takes, ms (zero in virtual time).
    fn expected_ms(&self, iut: &Iut) -> u64 {
        match iut {
            Iut::Reference { .. } => 0,
            Iut::External(_) => crate::external::expected_ms(self),
        }
    }
    /// An outcome of a run that did not happen.
    fn outcome_without_run(&self, iut: &str, verdict: Verdict, why: String) -> ScenarioOutcome {
        ScenarioOutcome::not_run::<F>(&self.id, &self.title, iut, verdict, why)
    }
    /// Why `program` cannot run it, if it cannot (its launch's `unsupported` reason).
    fn launch_reason(&self, program: &ExternalIut) -> Option<String> {
        program.launch_for(self).err().map(|e| e.to_string())
    }
}

/// Reads a scenario of family `F` from `text` (the file at `path`), validated; every problem is
/// reported as `file:line:column: what (at path)`.
fn scenario_from_text<F: Family>(path: &Path, text: &str) -> Result<Scenario<F>, LoadError> {
    let scenario: Scenario<F> =
        crate::json::from_str(text).map_err(|e| LoadError(format!("{}:{e}", path.display())))?;
    let problems = crate::validate::problems(&scenario);
    if problems.is_empty() {
        return Ok(scenario);
    }
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            let (line, column) = crate::json::locate(text, &p.path).unwrap_or((1, 1));
            format!(
                "{}:{line}:{column}: {} (at {})",
                path.display(),
                p.message,
                crate::json::path_text(&p.path)
            )
        })
        .collect();
    Err(LoadError(lines.join("\n")))
}

/// An implementation under test.
#[derive(Debug, Clone)]
pub enum Iut {
    /// A family's reference profile, in-process, virtual time (`ref:3way+optimistic_start`).
    Reference {
        /// The name as reported (`ref:` and the profile's canonical name).
        name: String,
        /// The family it belongs to.
        family: &'static str,
        /// The profile's canonical name.
        profile: String,
    },
    /// An external program (manifest, `cmd:…`) or a running responder (`addr:…`), in real time.
    External(Box<ExternalIut>),
}

impl Iut {
    /// The IUT's name in reports.
    pub fn name(&self) -> &str {
        match self {
            Iut::Reference { name, .. } => name,
            Iut::External(e) => e.name(),
        }
    }

    /// Whether it runs in real time (an external IUT).
    pub fn is_real_time(&self) -> bool {
        matches!(self, Iut::External(_))
    }

    /// Widens the scenario windows of a real-time IUT by `tolerance` (no effect on reference IUTs,
    /// which run in virtual time).
    pub fn set_tolerance(&mut self, tolerance: handshake_check::Tolerance) {
        if let Iut::External(e) = self {
            e.set_tolerance(tolerance);
        }
    }

    /// Takes in at most `bytes` from a real-time IUT in one run (more is a flood, which stops
    /// the run; no effect on reference IUTs).
    pub fn limit_received(&mut self, bytes: u64) {
        if let Iut::External(e) = self {
            e.limit_received(bytes);
        }
    }
}

/// The families a harness knows (see the module docs).
#[derive(Clone, Copy)]
pub struct Families(pub &'static [&'static dyn DynFamily]);

impl fmt::Debug for Families {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[derive(Deserialize)]
struct ProtocolOnly {
    #[serde(default)]
    protocol: Option<String>,
}

impl Families {
    /// The family of files that do not say: the first registered (the media stream, whose
    /// scenarios and manifests predate the others).
    pub fn default_name(&self) -> &'static str {
        self.0.first().map_or("", |f| f.name())
    }

    /// Their names, in registry order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.name()).collect()
    }

    /// The family of this name.
    pub fn get(&self, name: &str) -> Option<&'static dyn DynFamily> {
        self.0.iter().copied().find(|f| f.name() == name)
    }

    /// The family of a rule id: its catalogue has it.
    pub fn of_rule(&self, id: &str) -> Option<&'static handshake_check::Rule> {
        self.0
            .iter()
            .find_map(|f| handshake_check::rules::find(f.rules(), id))
    }

    /// The family of this name, or an error listing the known ones.
    pub fn require(&self, name: &str) -> Result<&'static dyn DynFamily, Error> {
        self.get(name).ok_or_else(|| Error::UnknownProtocol {
            name: name.to_owned(),
            known: crate::format::quoted(&self.names()),
        })
    }

    /// Loads and validates a scenario file of any family (`protocol` picks it; the
    /// [`default_name`](Families::default_name) when absent). The error lists every problem found, each as `file:line:column: what was wrong and
    /// what was expected (at path)`.
    pub fn load(&self, path: &Path) -> Result<LoadedScenario, LoadError> {
        let (family, text) = self.family_of(path)?;
        family.load(path, &text)
    }

    /// As [`load`](Families::load), for family code that wants its own scenario type: a file of
    /// another family is refused.
    pub fn load_typed<F: Family>(&self, path: &Path) -> Result<Scenario<F>, LoadError> {
        let (family, text) = self.family_of(path)?;
        if family.name() != F::NAME {
            return Err(LoadError(format!(
                "{}: a {} scenario, not {}",
                path.display(),
                family.name(),
                F::NAME
            )));
        }
        scenario_from_text::<F>(path, &text)
    }

    /// The family a scenario file names (its `protocol`, the default when absent) and its text.
    fn family_of(&self, path: &Path) -> Result<(&'static dyn DynFamily, String), LoadError> {
        let text = crate::read_text(path).map_err(|e| LoadError(e.to_string()))?;
        let protocol: ProtocolOnly = match serde_json::from_str(&text) {
            Ok(p) => p,
            // Not even JSON (or `protocol` not a string): the family's parser says where.
            Err(_) => ProtocolOnly { protocol: None },
        };
        let name = protocol.protocol.as_deref().unwrap_or(self.default_name());
        let family = match self.get(name) {
            Some(f) => f,
            None => {
                let path_seg = [crate::json::Seg::key("protocol")];
                let (line, column) = crate::json::locate(&text, &path_seg).unwrap_or((1, 1));
                return Err(LoadError(format!(
                    "{}:{line}:{column}: unknown protocol `{name}`: expected one of {} (at protocol)",
                    path.display(),
                    crate::format::quoted(&self.names())
                )));
            }
        };
        Ok((family, text))
    }

    /// Loads every file; all problems of all files are reported (not only the first), and a
    /// scenario id used twice names both files.
    pub fn load_all(&self, paths: &[PathBuf]) -> Result<Vec<LoadedScenario>, LoadError> {
        let mut scenarios: Vec<(PathBuf, LoadedScenario)> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        for path in paths {
            match self.load(path) {
                Ok(s) => scenarios.push((path.clone(), s)),
                Err(e) => errors.push(e.0),
            }
        }
        let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
        for (path, s) in &scenarios {
            if let Some(first) = seen.insert(s.id(), path) {
                errors.push(format!(
                    "{}: scenario id `{}` is already used by {}",
                    path.display(),
                    s.id(),
                    first.display()
                ));
            }
        }
        if errors.is_empty() {
            Ok(scenarios.into_iter().map(|(_, s)| s).collect())
        } else {
            let files = errors.len();
            Err(LoadError(format!(
                "{}\n{files} file{} cannot be used",
                errors.join("\n"),
                if files == 1 { "" } else { "s" }
            )))
        }
    }

    /// Reads and validates an IUT manifest (its `protocol` picks the family; the
    /// [`default_name`](Families::default_name) when absent).
    pub fn load_manifest(&self, path: &Path) -> Result<Manifest, Error> {
        let mut manifest = Manifest::read(path)?;
        let name = manifest
            .protocol
            .get_or_insert_with(|| self.default_name().to_owned())
            .clone();
        let family = self
            .require(&name)
            .map_err(|e| Error::Manifest(format!("{}: protocol: {e}", path.display())))?;
        family
            .validate_manifest(&manifest)
            .map_err(|e| Error::Manifest(format!("{}: {e}", path.display())))?;
        Ok(manifest)
    }

    /// A reference profile of some family: `PROFILE` (the first family that knows it) or
    /// `FAMILY/PROFILE`.
    pub fn reference(&self, text: &str) -> Result<Iut, Error> {
        let (families, profile): (Vec<&'static dyn DynFamily>, &str) = match text.split_once('/') {
            Some((family, profile)) => (vec![self.require(family)?], profile),
            None => (self.0.to_vec(), text),
        };
        let mut errors = Vec::new();
        for f in families {
            match f.parse_profile(profile) {
                Ok(canonical) => {
                    return Ok(Iut::Reference {
                        name: format!("ref:{canonical}"),
                        family: f.name(),
                        profile: canonical,
                    })
                }
                Err(e) => errors.push(format!("{}: {e}", f.name())),
            }
        }
        Err(Error::Iut(errors.join("; ")))
    }

    /// Parses `ref:PROFILE` (or `ref:FAMILY/PROFILE`), a manifest file (`*.json`), `MANIFEST!MUTANT`,
    /// `cmd:COMMAND LINE` (what `--iut-cmd` gives) or `addr:HOST:PORT[@PROFILE]` (what `--iut-addr`
    /// gives).
    pub fn parse_iut(&self, text: &str) -> Result<Iut, Error> {
        match text.split_once(':') {
            Some(("ref", profile)) => self.reference(profile),
            Some(("cmd", line)) => {
                let placeholders: Vec<&str> =
                    self.0.iter().flat_map(|f| f.placeholders().iter().copied()).collect();
                Ok(Iut::External(Box::new(ExternalIut::from_command(
                    line,
                    &placeholders,
                )?)))
            }
            Some(("addr", addr)) => {
                let iut = ExternalIut::running(addr)?;
                if let Some(p) = iut.running_profile() {
                    self.reference(p)
                        .map_err(|e| Error::Iut(format!("--iut-addr {addr}: {e}")))?;
                }
                Ok(Iut::External(Box::new(iut)))
            }
            _ if text.ends_with(".json") || Path::new(text).is_file() => {
                let path = Path::new(text);
                let manifest = self.load_manifest(path)?;
                Ok(Iut::External(Box::new(ExternalIut::from_manifest_file(
                    manifest, path,
                ))))
            }
            // `manifest.json!NAME`: one of the manifest's mutants or planted bugs.
            _ if text.contains(".json!") => {
                let (file, mutant) = text.rsplit_once('!').unwrap_or((text, ""));
                let path = Path::new(file);
                let manifest = self.load_manifest(path)?;
                let base = ExternalIut::from_manifest_file(manifest, path);
                Ok(Iut::External(Box::new(base.with_variant(mutant)?)))
            }
            _ => Err(Error::Iut(format!(
                "unknown IUT `{text}`: expected ref:PROFILE (a reference profile, e.g. ref:3way), a manifest file (*.json), cmd:COMMAND (--iut-cmd) or addr:HOST:PORT (--iut-addr)"
            ))),
        }
    }

    /// The JSON Schema of scenario files of every family (`protocol` tells them apart).
    pub fn scenario_schema(&self) -> String {
        let one_of: Vec<serde_json::Value> = self
            .0
            .iter()
            .map(|f| serde_json::to_value(f.scenario_schema()).unwrap_or_default())
            .collect();
        let schema = if one_of.len() == 1 {
            one_of.into_iter().next().unwrap_or_default()
        } else {
            serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "Scenario",
                "description": "A scenario of one of the families (its `protocol`).",
                "oneOf": one_of
            })
        };
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    }
}
