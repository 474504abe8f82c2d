//! The seam between the generic core and a protocol family.
//!
//! A family is a plug-in: its wire codec, its reference endpoints and profiles, its scenario
//! vocabulary, its judge, its outcome observations and its external-IUT launch rules. Everything
//! else — the scenario envelope, the one step interpreter over the two drivers (virtual time
//! in-process, real time over UDP with a process under test), faults, capture, reports, runner and
//! exit codes — is written once and reaches the family only through [`Family`].
//!
//! [`Family`] is a trait with associated types, so a family's own code is fully typed (its steps,
//! setup, profiles and observations are its own structs); the runner sees every family through one
//! object-safe face ([`crate::registry::DynFamily`]) so a library of scenarios of several families
//! runs in one plan. Adding a family: implement [`Family`] in the family's plug-in crate, then add
//! one line to the registry (`harness/cli/src/families.rs`); see `docs/adding-a-family.md`.
//!
//! **Units.** The generic `expect`/`expect_none` steps match *units*: what the IUT did, decoded into
//! a JSON object with a `kind` and fields. A family builds them as its own typed enum
//! ([`Family::Unit`]); the generic side matches their JSON form ([`unit_json`]). A family produces
//! them from either source the drivers offer: every datagram the IUT put on the link, as sent ([`Family::unit_of_datagram`]: the media
//! stream, where one datagram is one message), and the events of the harness's own endpoint
//! ([`Family::unit_of_event`]: QUIC families, where the harness's endpoint decrypts the packets and
//! reports stream data, resets, datagrams and closes).
//!
//! **Errors.** A fallible hook returns a typed error whose text is a *reason*: it becomes a line of
//! the run's outcome (a step that could not act, a judge that could not read the capture, why an
//! external IUT cannot run a scenario). Its variant, not the hook, decides the verdict:
//! [`FamilyError::Unsupported`] (and [`LaunchError::Unsupported`]) makes the outcome
//! `unsupported`, every other kind `error`. Inputs the user got wrong are typed too
//! ([`crate::Error`], [`crate::LoadError`], [`crate::json::FileError`], [`ProfileError`]).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use handshake_capture::UdpDatagram;
use handshake_check::{Rule, Violation};
use handshake_core::{Endpoint, Instant};
pub use handshake_formats::WireFormat;
use handshake_net::SimEvent;
use serde_json::Value;

use crate::external::manifest::{Launch, Manifest};
use crate::format::{Action, Fields, Role, Scenario};
use crate::json::Seg;
use crate::outcome::{Observations, TranscriptLine};
use crate::script::Vars;
use crate::validate::Validator;
use crate::{Error, FamilyError, LaunchError, ProfileError};

/// What a family's expectations may cite: one table of decisions, each with its class, which
/// decides what a miss means (see [`Class`] and `docs/decisions.md`).
#[derive(Debug, Clone, Copy)]
pub struct Citations {
    /// Every fact, contract and profile decision the family's scenarios and rules may cite.
    pub decisions: &'static [Decision],
}

/// One entry of a family's decision table: what it says, where the sources say it and how
/// strongly. Its [`Class`] follows from its [`Strength`] (a contract aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Its id (`D6`, `wire.event`, `DH12`).
    pub id: &'static str,
    /// What a miss means (from `strength`, or a contract).
    pub class: Class,
    /// How strongly the sources say it.
    pub strength: Strength,
    /// What it says, in one line.
    pub says: &'static str,
    /// Where the sources say it, paraphrased: source locations (`001_03b132d5e807e566.txt:112`,
    /// `owner/repo path:line @commit`, `RFC 9000 §3.5`), and for a disputed, silent or as-coded
    /// entry why it has that strength.
    pub source: &'static str,
}

/// How strongly the sources state a decision (`docs/decisions.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// MUST, or stated as how it works: a miss fails.
    Must,
    /// Only the deployed code says it, and the documents are silent; a fact only where a peer needs
    /// it to talk to the deployed program (byte layouts, values a peer parses, a fill pattern its
    /// receiver checks).
    AsCoded,
    /// SHOULD: a miss is a deviation.
    Should,
    /// MAY: not judged.
    May,
    /// Shown by a transcript or a sample only: each reading it allows is allowed.
    Example,
    /// Two sources disagree: each reading is allowed, and the report says which one a program
    /// follows.
    Disputed,
    /// The sources are silent: this project's reading (a profile decision).
    Silent,
}

impl Strength {
    /// Lowercase name, as `docs/decisions.md` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Strength::Must => "must",
            Strength::AsCoded => "as-coded",
            Strength::Should => "should",
            Strength::May => "may",
            Strength::Example => "example",
            Strength::Disputed => "disputed",
            Strength::Silent => "silent",
        }
    }

    /// What a miss of a decision of this strength is.
    pub const fn class(self) -> Class {
        match self {
            Strength::Must | Strength::AsCoded => Class::Fact,
            Strength::May => Class::Informational,
            Strength::Should | Strength::Example | Strength::Disputed | Strength::Silent => {
                Class::Profile
            }
        }
    }
}

/// What a decision is, and so what an implementation that does otherwise gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The sources say so (MUST, how it works, or as coded where a peer needs it): a miss fails.
    Fact,
    /// What both sides must agree on to talk at all (addresses, paths, ALPNs, certificates,
    /// secrets, a client's plan): the harness adapts to it (offers, negotiates, or reads it from the
    /// manifest) and never fails an implementation for choosing otherwise.
    Contract,
    /// A SHOULD, a reading among several the sources allow, or this project's reading where they
    /// are silent: a miss is a deviation, failing only under `--strict-profile`.
    Profile,
    /// A MAY: never judged; a miss is an informational note.
    Informational,
}

impl Class {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Class::Fact => "fact",
            Class::Contract => "contract",
            Class::Profile => "profile",
            Class::Informational => "informational",
        }
    }
}

impl Decision {
    /// A decision of `strength`, its class following from it.
    pub const fn new(
        id: &'static str,
        strength: Strength,
        says: &'static str,
        source: &'static str,
    ) -> Decision {
        Decision {
            id,
            class: strength.class(),
            strength,
            says,
            source,
        }
    }

    /// MUST, or stated as how it works: a fact.
    pub const fn must(id: &'static str, says: &'static str, source: &'static str) -> Decision {
        Decision::new(id, Strength::Must, says, source)
    }

    /// Stated by the deployed code only, where a peer needs it to talk: a fact.
    pub const fn as_coded(id: &'static str, says: &'static str, source: &'static str) -> Decision {
        Decision::new(id, Strength::AsCoded, says, source)
    }

    /// SHOULD: a deviation.
    pub const fn should(id: &'static str, says: &'static str, source: &'static str) -> Decision {
        Decision::new(id, Strength::Should, says, source)
    }

    /// MAY: not judged.
    pub const fn may(id: &'static str, says: &'static str, source: &'static str) -> Decision {
        Decision::new(id, Strength::May, says, source)
    }

    /// Shown by an example or transcript only: the profile's form among those allowed.
    pub const fn example(id: &'static str, says: &'static str, source: &'static str) -> Decision {
        Decision::new(id, Strength::Example, says, source)
    }

    /// Two sources disagree: the profile's reading among those allowed.
    pub const fn disputed(id: &'static str, says: &'static str, source: &'static str) -> Decision {
        Decision::new(id, Strength::Disputed, says, source)
    }

    /// The sources are silent: a profile decision.
    pub const fn silent(id: &'static str, says: &'static str, source: &'static str) -> Decision {
        Decision::new(id, Strength::Silent, says, source)
    }

    /// A contract, whatever the strength of its words: adapted to, never failed.
    pub const fn contract(
        id: &'static str,
        strength: Strength,
        says: &'static str,
        source: &'static str,
    ) -> Decision {
        Decision {
            id,
            class: Class::Contract,
            strength,
            says,
            source,
        }
    }

    /// The source locations `source` names: documents with a line, repositories with a path, a line
    /// and a commit, RFC sections. A fact names at least one.
    pub fn locations(&self) -> Vec<&'static str> {
        crate::citations::locations(self.source)
    }
}

impl Citations {
    /// The decision `id`, if the family has it.
    pub fn find(&self, id: &str) -> Option<&'static Decision> {
        self.decisions.iter().find(|d| d.id == id)
    }

    /// The class of `id`, if the family has it.
    pub fn class(&self, id: &str) -> Option<Class> {
        self.find(id).map(|d| d.class)
    }

    /// Whether `id` is a profile decision.
    pub fn is_profile_decision(&self, id: &str) -> bool {
        self.class(id) == Some(Class::Profile)
    }

    /// The decisions of one class, in table order.
    pub fn of(&self, class: Class) -> impl Iterator<Item = &'static Decision> {
        self.decisions.iter().filter(move |d| d.class == class)
    }

    /// The classes `basis` (comma-separated ids) names, each once, in order. Unknown ids count as
    /// facts (validation refuses them).
    pub fn classes(&self, basis: &str) -> Vec<Class> {
        let mut classes: Vec<Class> = crate::citations::ids(basis)
            .map(|id| self.class(id).unwrap_or(Class::Fact))
            .collect();
        classes.sort();
        classes.dedup();
        classes
    }

    /// What a miss of an expectation resting on `basis` means. A basis names one class (the
    /// validator refuses a mix); should one mix anyway, a fact among its ids makes it a fact, so that
    /// a fact violation never hides behind a profile decision. Contracts beside a fact only
    /// configure it.
    pub fn verdict_class(&self, basis: &str) -> Class {
        let classes = self.classes(basis);
        if classes.is_empty() || classes.contains(&Class::Fact) {
            Class::Fact
        } else if classes.contains(&Class::Profile) {
            Class::Profile
        } else if classes.contains(&Class::Informational) {
            Class::Informational
        } else {
            Class::Contract
        }
    }
}

/// One question a probe asks an external program: a short scenario it passes or not.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Its id (the family's [`Probing::infer`] reads these).
    pub id: &'static str,
    /// What it asks, for the probe's report (`does it answer a SYN with a SYN-ACK?`).
    pub asks: &'static str,
    /// The profile the program is started with for it (its manifest's `{profile}`).
    pub profile: &'static str,
    /// The options it may need on (a program without flags has them on or not at all).
    pub options: &'static [&'static str],
    /// The scenario (JSON), of the family.
    pub scenario: &'static str,
}

/// What a probe found a program speaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inferred {
    /// The manifest's `profiles`, in order of preference.
    pub profiles: Vec<String>,
    /// The manifest's `options` (always on, for a program without flags).
    pub options: Vec<String>,
}

/// A deliberately wrong variant of a family's reference endpoints, selected as
/// `ref:BASE!NAME`: `harness mutants` runs the library against it and expects it caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceMutant {
    /// Its name (`media-before-ack`).
    pub name: &'static str,
    /// The reference profile it mutates (`3way`); the mutant is judged against it.
    pub base: &'static str,
    /// What it breaks, in one line (with the fact or decision).
    pub breaks: &'static str,
}

/// How a ladder diagram shows one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatagramLabel {
    /// The short label on its arrow (`SYN-ACK accept id="5a5a…"`).
    pub short: String,
    /// The whole decoded datagram (the arrow's tooltip).
    pub full: String,
    /// It opens a session: its sender is the initiator (START or SYN; a client's first packet).
    pub opens: bool,
    /// Media with this sequence number: consecutive ones in one direction fold into one arrow.
    pub run: Option<u64>,
}

impl DatagramLabel {
    /// A datagram a family cannot describe: its length.
    pub fn opaque(payload: &[u8]) -> DatagramLabel {
        DatagramLabel::text(format!("{} bytes", payload.len()))
    }

    /// One text for both the arrow and its tooltip (an encrypted datagram's class and size).
    pub fn text(text: String) -> DatagramLabel {
        DatagramLabel {
            short: text.clone(),
            full: text,
            opens: false,
            run: None,
        }
    }
}

/// Which sides a run waits for after its steps, before it ends (at most `settle_ms` later).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settle {
    /// Until the IUT has finished (in-process: its endpoint says so; external: its process exited).
    pub iut: bool,
    /// Until the peer's endpoint has finished.
    pub peer: bool,
    /// Real time only: after the IUT has finished, at most this long more until the peer's endpoint
    /// has reported the end of its session ([`Family::is_ending`]).
    pub peer_tail: Option<Duration>,
}

/// Everything a family step may use and do (see [`Family::act`]).
pub struct ActCtx<'a, F: Family> {
    /// The script's clock.
    pub now: Instant,
    /// The scenario.
    pub scenario: &'a Scenario<F>,
    /// Captured and set variables.
    pub vars: &'a mut Vars,
    /// The peer's endpoint at the peer's own address, when there is one (a reference peer, or the
    /// family's scripted endpoint): a step may give it commands.
    pub peer: Option<&'a mut F::Node>,
    /// Datagrams to put on the link towards the IUT, each from a port of the peer's host (`None`:
    /// its own), in order; the interpreter marks them with the step.
    pub send: Vec<(Option<u16>, Vec<u8>)>,
}

/// A run's judgement without its capture ([`Family::judge_datagrams`]): the judge's report and
/// the transcript.
pub type Judged<F> = (<F as Family>::Report, Vec<TranscriptLine>);

/// What a family's judge is told about the run it judges.
#[derive(Debug, Clone)]
pub struct JudgeCtx<'a, F: Family> {
    /// The scenario.
    pub scenario: &'a Scenario<F>,
    /// The IUT's side.
    pub role: Role,
    /// The IUT's address (the capture's viewpoint).
    pub iut: SocketAddr,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The profile the IUT runs (a reference profile, or what an external IUT was launched as).
    pub iut_profile: Option<F::Profile>,
    /// The reference peer's profile, when there is one.
    pub peer_profile: Option<F::Profile>,
    /// Real time: the timing tolerance the judge must allow (`None`: virtual time, exact).
    pub tolerance: Option<handshake_check::Tolerance>,
}

/// How an external IUT's process ended, as far as the run saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IutExit {
    /// Its exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// What the code says of its success, read with its manifest (`None`: it cannot be told).
    pub succeeded: Option<bool>,
    /// It ended on its own before the run's deadline (not ended by the harness).
    pub in_time: bool,
}

/// What a run leaves for the family to observe (see [`Family::observe`]).
pub struct ObserveCtx<'a, F: Family> {
    /// The scenario.
    pub scenario: &'a Scenario<F>,
    /// The IUT's side.
    pub role: Role,
    /// The IUT's address.
    pub iut_addr: SocketAddr,
    /// The peer's address.
    pub peer_addr: SocketAddr,
    /// The IUT's endpoint, when it ran in-process.
    pub iut: Option<&'a F::Node>,
    /// The peer's endpoint (a reference peer, or the family's scripted one), when there was one.
    pub peer: Option<&'a F::Node>,
    /// Every event of the endpoints the harness ran (in-process IUT and peer), in order.
    pub events: &'a [SimEvent<Event<F>>],
    /// An external IUT's exit, when it ended.
    pub iut_exit: Option<IutExit>,
    /// Whether the run was in real time.
    pub real_time: bool,
}

/// The event type of a family's endpoints.
pub type Event<F> = <<F as Family>::Node as Endpoint>::Event;

/// What a family's files may say and cite, in one table: the scenario format's vocabulary (roles,
/// features, unit kinds), the judge's rule catalogue, the decision table, and the manifest's
/// placeholders and flags. A family writes it once as a constant ([`Family::VOCABULARY`]).
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    /// What the family calls the two roles: (initiator, responder), e.g. `("client", "server")`.
    pub role_names: (&'static str, &'static str),
    /// The judge's rule catalogue.
    pub rules: &'static [Rule],
    /// What expectations may cite.
    pub citations: Citations,
    /// The features a scenario may require (`iut.requires`), with what each means; `restart` is
    /// generic and not listed.
    pub features: &'static [(&'static str, &'static str)],
    /// The unit kinds `expect` and `expect_none` match (besides `any`), each with its decoded
    /// fields.
    pub units: &'static [(&'static str, &'static [&'static str])],
    /// The manifest placeholders (beyond the generic `{listen}`, `{target}`, `{seed}` …).
    pub placeholders: &'static [&'static str],
    /// The manifest flags (beyond the generic `mutant`).
    pub flags: &'static [&'static str],
}

/// How a family reads one datagram off the link without any state: the fault link's classes and a
/// ladder's label. The QUIC families share one
/// (`handshake-quic-family`); a datagram-per-message protocol writes its own.
pub trait Datagrams {
    /// The classes [`classify`](Self::classify) names (what a fault's `kind` may select).
    const CLASSES: &'static [&'static str];
    /// The link class of a datagram.
    fn classify(payload: &[u8]) -> &'static str;
    /// How a ladder diagram shows it.
    fn describe(payload: &[u8]) -> DatagramLabel;
}

/// A unit's JSON form, as `expect` matches it: serde's serialization of the family's enum.
pub fn unit_json<U: serde::Serialize>(unit: &U) -> Value {
    // Units are objects with string keys, which always serialize; `null` matches nothing.
    serde_json::to_value(unit).unwrap_or(Value::Null)
}

/// The `kind` of a unit's JSON form (what observations count units by).
pub fn unit_kind<U: serde::Serialize>(unit: &U) -> Option<String> {
    unit_json(unit)
        .get("kind")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A family's `expect` keys, compared with what a run observed (`O`: the family's observations).
pub trait Expectations<O>: Fields {
    /// Misses go to `reasons`, what this run cannot show to `unobservable`.
    fn check(&self, observed: &O, reasons: &mut Vec<String>, unobservable: &mut Vec<String>);
}

/// No `expect` keys: nothing to compare.
impl<O> Expectations<O> for crate::format::NoFields {
    fn check(&self, _: &O, _: &mut Vec<String>, _: &mut Vec<String>) {}
}

/// A protocol family (see the module docs). A family writes its vocabulary, the types of its
/// scenario format, its reference endpoints (`node`, `act`), its judge (`judge`, `observe`) and
/// how its programs are started (`launch`); everything else has a default it may override.
pub trait Family: Sized + Copy + Default + fmt::Debug + Send + Sync + 'static {
    /// `"mediastream"`: the scenarios' `protocol`, the folder names, the prefix of rule ids.
    const NAME: &'static str;
    /// What its files may say and cite.
    const VOCABULARY: &'static Vocabulary;

    // ---- The scenario format -------------------------------------------------------------------

    /// Family keys at the top level of a scenario (the media stream's `stream`).
    type Setup: Fields;
    /// Family keys in `iut`.
    type IutFields: Fields;
    /// Family keys in `peer`.
    type PeerFields: Fields;
    /// Family keys in `expect`, and how they compare with the observations.
    type ExpectFields: Expectations<Self::Observations>;
    /// The family's own steps.
    type Action: Action;
    /// How it reads a datagram.
    type Datagrams: Datagrams;
    /// What a datagram or an event of the IUT stands for: the family's units, one variant per kind
    /// of [`Vocabulary::units`], serialized (with its `kind`) as `expect` matches them.
    type Unit: serde::Serialize + fmt::Debug;

    /// The unit kinds `expect` and `expect_none` match (besides `any`).
    fn unit_kinds() -> Vec<&'static str> {
        Self::VOCABULARY.units.iter().map(|(k, _)| *k).collect()
    }
    /// The decoded fields of a unit kind.
    fn unit_fields(kind: &str) -> Vec<&'static str> {
        Self::VOCABULARY
            .units
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, f)| f.to_vec())
            .unwrap_or_default()
    }
    /// The classes of datagrams a fault's `kind` selects.
    fn link_classes() -> Vec<&'static str> {
        <Self::Datagrams as Datagrams>::CLASSES.to_vec()
    }
    /// Reports what the schema cannot say about the family's parts of `s` (its setup, IUT, peer and
    /// expectation keys). Default: nothing.
    fn validate(_s: &Scenario<Self>, _v: &mut Validator<'_>) {}
    /// The same for one of its steps at `at`, in step order (variables captured so far are in `v`).
    /// Default: nothing.
    fn validate_action(
        _s: &Scenario<Self>,
        _action: &Self::Action,
        _at: &[Seg],
        _v: &mut Validator<'_>,
    ) {
    }
    /// The features `s` requires of the IUT: `iut.requires`, plus any its parameters imply.
    fn required_features(s: &Scenario<Self>) -> Vec<String> {
        s.iut.requires.clone()
    }

    // ---- Endpoints and runs --------------------------------------------------------------------

    /// A reference profile. Its `Default` is what a running responder (`--iut-addr`) is taken to
    /// behave like when the command line names no profile.
    type Profile: Clone + Default + fmt::Debug + fmt::Display + Send + Sync;
    /// The family's sans-I/O endpoints (reference IUTs and peers, the scripted endpoint, a sink).
    type Node: Endpoint<Event: fmt::Display + fmt::Debug + Clone + Send> + fmt::Debug + Send;

    /// Parses a reference profile name (`3way+optimistic_start`).
    fn parse_profile(text: &str) -> Result<Self::Profile, ProfileError>;
    /// The features a reference profile has in a role (`restart` included: in-process endpoints
    /// are made per run).
    fn profile_features(profile: &Self::Profile, role: Role) -> Vec<String>;
    /// A reference endpoint in `role` for scenario `s`, talking to `remote`, started at `now`;
    /// `iut`: it is the IUT (the scenario's `iut` keys apply), else the reference peer (the `peer`
    /// keys apply).
    fn node(
        profile: &Self::Profile,
        role: Role,
        s: &Scenario<Self>,
        iut: bool,
        remote: SocketAddr,
        seed: u64,
        now: Instant,
    ) -> Result<Self::Node, FamilyError>;
    /// What stands at the peer's address when the scenario has no reference peer, started at `now`
    /// (`None`, the default: nothing; the script's datagrams come from the harness itself).
    /// `iut_profile` is the profile the IUT runs, when known (a reference, or what an external IUT
    /// was launched as): a scripted peer speaks its transport.
    fn script_node(
        _s: &Scenario<Self>,
        _iut_profile: Option<&Self::Profile>,
        _remote: SocketAddr,
        _seed: u64,
        _now: Instant,
    ) -> Result<Option<Self::Node>, FamilyError> {
        Ok(None)
    }
    /// The profile a scenario's reference peer runs, given the IUT's (default: as the scenario
    /// names it). A family whose profiles carry settings both sides must share — a transport —
    /// takes them from the IUT's here (interop pairs are not adapted: a mismatch is their result).
    fn peer_profile(peer: &Self::Profile, _iut: &Self::Profile) -> Self::Profile {
        peer.clone()
    }
    /// Real time only: the harness's endpoint `node`, made at `now`, runs against the wall clock
    /// (a family whose endpoints need Unix time — tokens, timestamps — switches it here; in
    /// virtual time every node keeps the family's fixed epoch, so runs stay byte-identical).
    fn use_wall_clock(_node: &mut Self::Node, _now: Instant) {}
    /// The link class of a datagram (for fault `kind`s).
    fn classify(payload: &[u8]) -> &'static str {
        <Self::Datagrams as Datagrams>::classify(payload)
    }
    /// Performs one of the family's steps.
    fn act(action: &Self::Action, ctx: &mut ActCtx<'_, Self>) -> Result<(), FamilyError>;
    /// The unit a datagram the IUT sent stands for, if any (`None`, the default: units come from
    /// the harness's endpoint's events, as for QUIC, where datagrams are encrypted).
    fn unit_of_datagram(_payload: &[u8]) -> Option<Self::Unit> {
        None
    }
    /// The unit an event of the peer's endpoint stands for, if any.
    fn unit_of_event(_event: &Event<Self>) -> Option<Self::Unit> {
        None
    }
    /// Whether an event of the peer's endpoint ends its session (see [`Settle::peer_tail`]).
    fn is_ending(_event: &Event<Self>) -> bool {
        false
    }
    /// TLS secrets of an endpoint's connections (NSS key-log text; QUIC families): every capture
    /// the harness writes carries them in a Decryption Secrets Block before its first packet.
    fn secrets(_node: &Self::Node) -> String {
        String::new()
    }
    /// New connections the harness's endpoint dropped unanswered in a run (a QUIC family's
    /// server past its handshake limit), for the transcript.
    fn turned_away(_node: &Self::Node) -> u64 {
        0
    }
    /// Whether an external responder's steps start once its port is bound rather than when the
    /// manifest's `ready` says it is ready: a scenario about what it does before it is ready
    /// (Proton's connection during the startup delay, whose readiness line is printed after the
    /// delay).
    fn steps_before_ready(_s: &Scenario<Self>) -> bool {
        false
    }
    /// How many runs of `s` one kept responder process may serve at once (`harness fuzz
    /// --keep-iut`), each on sessions of its own: more than one where a responder serves many
    /// peers independently and nothing of one run counts against another. Default: one.
    fn sessions_per_process(_s: &Scenario<Self>) -> usize {
        1
    }
    /// How long a responder started with `launch` for `s` is told to wait before it serves (a
    /// startup delay its readiness line comes after): the harness waits that much longer for it to
    /// be ready. Default: none.
    fn startup_delay(_s: &Scenario<Self>, _launch: &Launch) -> Duration {
        Duration::ZERO
    }
    /// The programs a responder of `s` is when it is more than one (Dark Tower's meeting server: a
    /// controller and a handler, each a program of its own), each with the scenario it runs; the
    /// first is the one an initiator reaches first. Default: none (the responder is one program).
    /// Used when two programs meet through the harness.
    fn responder_parts(_s: &Scenario<Self>) -> Vec<(&'static str, Scenario<Self>)> {
        Vec::new()
    }
    /// Tells part `part`'s launch where the initiator reaches the other parts (`fronts`: each
    /// part's name and the harness address standing for it): Dark Tower's controller hands out
    /// its handler's URL. Default: nothing to tell.
    fn connect_parts(_part: &str, _launch: &mut Launch, _fronts: &[(&'static str, SocketAddr)]) {}
    /// What the run waits for after the steps. Default: the initiator finishes (an initiator IUT,
    /// or the reference initiator facing a responder IUT); a responder serves on.
    fn settle(s: &Scenario<Self>, _real_time: bool) -> Settle {
        let initiator_iut = s.iut.role == Role::Initiator;
        Settle {
            iut: initiator_iut,
            peer: !initiator_iut,
            peer_tail: None,
        }
    }
    /// Roughly how long the reference peer's part lasts, ms (to start the longest real-time runs
    /// first). Default: a second.
    fn expected_ms(_s: &Scenario<Self>) -> u64 {
        1_000
    }

    // ---- Judging -------------------------------------------------------------------------------

    /// The judge's report on a capture.
    type Report: handshake_check::Judgement + fmt::Debug;
    /// Judges a run's capture (pcapng, as the IUT saw it).
    fn judge(capture: &[u8], ctx: &JudgeCtx<'_, Self>) -> Result<Self::Report, FamilyError>;
    /// Every violation in a report.
    fn violations(report: &Self::Report) -> Vec<Violation> {
        handshake_check::Judgement::violations(report)
    }
    /// What the family observes of a run (beyond rules and steps).
    type Observations: Observations + Default;
    /// Collects the observations.
    fn observe(ctx: &ObserveCtx<'_, Self>, report: &Self::Report) -> Self::Observations;
    /// Compares the family's expectations with the observations: misses go to `reasons`, what this
    /// run cannot show to `unobservable`.
    fn check_expect(
        expect: &Self::ExpectFields,
        observed: &Self::Observations,
        reasons: &mut Vec<String>,
        unobservable: &mut Vec<String>,
    ) {
        expect.check(observed, reasons, unobservable);
    }
    /// How a ladder diagram shows a datagram of this family.
    fn describe_datagram(payload: &[u8]) -> DatagramLabel {
        <Self::Datagrams as Datagrams>::describe(payload)
    }
    /// The run's transcript: the capture decoded (as `iut` saw it), the endpoints' events of the
    /// IUT, and the generic `markers` (steps, process output), in time order. The default: the
    /// endpoints' events and the markers (families whose events say it all: the QUIC ones).
    fn transcript(
        _capture: &[u8],
        events: &[SimEvent<Event<Self>>],
        iut: SocketAddr,
        markers: &[(Instant, String)],
    ) -> Vec<TranscriptLine> {
        crate::outcome::event_transcript(events, iut, markers)
    }
    /// [`judge`](Self::judge) and [`transcript`](Self::transcript) of a run in virtual time from
    /// the datagrams its capture would hold (in its order, numbered and commented as there),
    /// without the capture being written and read back: the same report, and of the transcript
    /// the lines of what the IUT sent and did (the step markers come without text). `harness
    /// fuzz` judges every input so, and writes a capture only for a finding. `None` (the default):
    /// the family reads captures only (the QUIC families take their key log from one).
    fn judge_datagrams(
        _datagrams: &[UdpDatagram<'_>],
        _events: &[SimEvent<Event<Self>>],
        _markers: &[(Instant, String)],
        _ctx: &JudgeCtx<'_, Self>,
    ) -> Option<Result<Judged<Self>, FamilyError>> {
        None
    }

    // ---- External implementations ---------------------------------------------------------------

    /// Checks the family's parts of a manifest. Default: every profile it lists parses.
    fn validate_manifest(manifest: &Manifest) -> Result<(), Error> {
        for p in manifest.profiles.iter().flatten() {
            Self::parse_profile(p).map_err(|e| Error::Manifest(format!("profiles: `{p}`: {e}")))?;
        }
        Ok(())
    }
    /// What an external IUT described by `manifest` must be started with to run `s`, or why it
    /// cannot (the `unsupported` reason).
    fn launch(manifest: &Manifest, s: &Scenario<Self>) -> Result<Launch, LaunchError>;
    /// The same for a responder already running (`--iut-addr`), which behaves like `profile`.
    /// Default: the family cannot judge a running program.
    fn launch_running(
        _profile: &Self::Profile,
        _s: &Scenario<Self>,
    ) -> Result<Launch, LaunchError> {
        Err(LaunchError::unsupported(format!(
            "{} cannot judge a program that is already running: give a manifest",
            Self::NAME
        )))
    }
    /// The profile an external IUT's traffic is judged against. Default: the profile it was
    /// launched as.
    fn launched_profile(launch: &Launch) -> Option<Self::Profile> {
        Self::parse_profile(&launch.profile).ok()
    }
    /// Where a program started with `launch` writes its TLS secrets (NSS key log), when the family
    /// tells it one (the QUIC families' `{keylog}`): two programs talking through the harness are
    /// judged by their own secrets. Default: none.
    fn key_log_file(_launch: &Launch) -> Option<std::path::PathBuf> {
        None
    }
    /// The profile a running responder behaves like when `--iut-addr` names none.
    fn default_running_profile() -> Self::Profile {
        Self::Profile::default()
    }

    // ---- The suite's power ---------------------------------------------------------------------

    /// The reference endpoints' mutants (none by default).
    fn mutants() -> Vec<ReferenceMutant> {
        Vec::new()
    }

    // ---- What an external IUT speaks (`harness probe`), network fuzzing (`harness fuzz`) ------

    /// How to find out what an external program speaks (none by default: the manifest is taken
    /// as it is).
    const PROBING: Probing = Probing::NONE;
    /// What `harness fuzz` knows of the family beyond its step schema (nothing by default).
    const FUZZ: FuzzHooks = FuzzHooks::NONE;
    /// What `harness learn` may do to an IUT and how it reads what the IUT did (nothing by
    /// default: the family's implementations cannot be learned yet).
    const LEARNING: Learning = Learning::NONE;

    // ---- Fuzzing other people's parsers (`harness decode --format`, `harness fuzz-kit`) ---------

    /// Its wire formats, each with its reference decoder, field-level mutator, dictionary and
    /// seeds: the same list the mutator library (`libhandshake_mutator`) serves (none by default).
    const FORMATS: &'static [WireFormat] = &[];
}

/// A family's abstract alphabet for model learning (`harness learn`): each input is a peer action
/// written as scenario steps, each output the abstraction of what the IUT sent in the window
/// after an input.
#[derive(Debug, Clone, Copy)]
pub struct Learning {
    /// The alphabets, one per role (and part of a role) the family's implementations can be
    /// learned in.
    pub alphabets: &'static [Alphabet],
    /// The output letter of one unit the IUT sent (`syn_ack(accept)`), `None` to leave it out.
    pub output: fn(&Value) -> Option<String>,
    /// The unit a letter stands for, as an `expect` step's `kind` and `where`
    /// (`{"kind": "syn_ack", "where": {"accept": false}}`): how a difference is checked when it is
    /// replayed.
    pub pattern: fn(letter: &str) -> Option<Value>,
    /// The fact or decision that says whether the IUT sends `letter` in answer to the last of
    /// `word`'s inputs (after the ones before it, from a fresh session of the alphabet's `part`):
    /// what a difference there rests on. `None` where the facts say nothing of that state: a
    /// difference there is shown, not judged.
    pub basis: fn(part: Option<&str>, word: &[&str], letter: &str) -> Option<&'static str>,
    /// One window's letters (distinct, sorted) as the family words its answer: where what the IUT
    /// sent in a window races with how it ended it, the family keeps only what does not race (a
    /// QUIC server's close, whatever it wrote just before closing), so that a real program's
    /// answers are the same every time. [`Learning::every_letter`] keeps them all.
    pub window: fn(letters: Vec<String>) -> Vec<String>,
}

/// The inputs facing one role (or one part of it: Dark Tower's server is a controller and a
/// handler) of an IUT.
#[derive(Debug, Clone, Copy)]
pub struct Alphabet {
    /// The IUT's role.
    pub role: Role,
    /// The part of the role (`harness learn --part`), `None` for the whole role.
    pub part: Option<&'static str>,
    /// Scenario keys every query has (a JSON object's members, the family's setup). An `iut`
    /// object here is kept, with the role set in it; a `peer` object's `steps` are a preamble
    /// every query begins with, before the first input's window (a connection the inputs act on),
    /// its other keys are kept.
    pub setup: &'static str,
    /// (name, its steps as a JSON array, where `WINDOW_MS` stands for the window of an action,
    /// which `harness learn` sets). An input's window lasts its `wait`s.
    pub inputs: &'static [(&'static str, &'static str)],
    /// Words (inputs separated by spaces) the equivalence check always tries first: the
    /// sequences the family's scenario library plays (a timer's whole schedule, a repeat at
    /// each stage), which random walks rarely reach. Words with an input left out are skipped.
    pub seeds: &'static [&'static str],
    /// How long a replayed transition runs on after its last input, ms, so that what it started
    /// ends (a session's stream): what the abstraction leaves out (media) is then judged by the
    /// rules.
    pub settle_ms: u64,
    /// An action's window over real UDP, ms (`harness learn --window-ms`; 5 ms in virtual time):
    /// long enough for a program's answer on a loaded machine, short against the family's timers,
    /// which fire in `wait`. Answers that come later race with the next input's.
    pub real_time_window_ms: u64,
    /// Whether a program needs a fresh process for every query: a server that remembers what
    /// earlier sessions did (Dark Tower's: the participants of a meeting, single-use media
    /// tokens) cannot give a query a fresh start on a kept process.
    pub fresh_process: bool,
}

impl Learning {
    /// Nothing to learn.
    pub const NONE: Learning = Learning {
        alphabets: &[],
        output: |_| None,
        pattern: |_| None,
        basis: |_, _, _| None,
        window: Learning::every_letter,
    };

    /// A window's answer is every letter in it.
    pub fn every_letter(letters: Vec<String>) -> Vec<String> {
        letters
    }
}

/// How `harness probe` finds out what an external program of a family speaks.
#[derive(Debug, Clone, Copy)]
pub struct Probing {
    /// Short questions asked before the program is judged: each a scenario run against it.
    pub probes: &'static [Probe],
    /// The profiles (in order of preference) and the options that are always on, inferred from
    /// the ids of the probes the program passed (of those it was asked: its roles'). `None`:
    /// nothing can be inferred (the manifest is taken as it is).
    pub infer: fn(passed: &[&str], asked: &[&str]) -> Option<Inferred>,
}

impl Probing {
    /// No probes.
    pub const NONE: Probing = Probing {
        probes: &[],
        infer: |_, _| None,
    };
}

/// A family's layout knowledge for the network fuzzer.
#[derive(Debug, Clone, Copy)]
pub struct FuzzHooks {
    /// A liveness probe for a fuzz input (its JSON, steps included): steps to append that open a
    /// fresh, valid session and end in an `expect` of the IUT's answer to it, whatever the answer
    /// (a refusal is one). An IUT that answers nothing there is hung. `None`: no probe (the IUT
    /// initiates).
    pub liveness_probe: fn(scenario: &Value) -> Option<Vec<Value>>,
    /// Mutates the leaf at `path` (object keys) of `body`, the body of a step named `step` — a hex
    /// payload's TLV type or length, a length prefix, a protobuf field, a header field …
    /// `false`: not handled, the generic mutations apply.
    pub value: for<'a> fn(
        step: &str,
        path: &[String],
        body: &mut Value,
        u: &mut arbitrary::Unstructured<'a>,
    ) -> arbitrary::Result<bool>,
    /// The values a string field at `path` of a step named `step` may take (tokens, FourCCs,
    /// stream names …; wrong ones included); empty: the fuzzer leaves it.
    pub text: fn(step: &str, path: &[String]) -> Vec<String>,
    /// The family's dictionary of an integer field at `path` of a step named `step`: its edge
    /// values (bounds the facts or the reference's limits give, enum values, flag bits), which
    /// the fuzzer draws (or one beside them) half the time; empty: generic boundaries only.
    pub edges: fn(step: &str, path: &[String]) -> &'static [u64],
    /// Inputs run at once per core against kept processes by default (`harness fuzz --jobs`): a
    /// kept run mostly waits on the network, and a family whose processes serve several runs at
    /// once keeps more of them busy.
    pub kept_jobs_per_core: usize,
    /// On a kept process, one input in this many (drawn over all jobs) is followed by the
    /// liveness probe; the others only by the harness's closing what they left open, one
    /// session fewer each. A process that stopped serving shows at a later probe and its input
    /// is found by replaying what it served lately (`blame`). 1: every input.
    pub kept_probe_every: u64,
    /// The same steps spelt with fewer (a minimised finding is shown folded when it still shows
    /// the finding): e.g. streams opened and then written one step each, as one step. `None`:
    /// nothing to fold.
    pub fold: fn(steps: &[Value]) -> Option<Vec<Value>>,
    /// The fuzz kit's inputs beyond its formats' own seeds: the payload bytes the scenario
    /// library's steps and the golden captures hold, each named for where it came from and given
    /// to one of [`Family::FORMATS`] (`harness fuzz-kit`).
    pub kit_inputs: fn(sources: &KitSources) -> Vec<KitInput>,
}

/// Where `harness fuzz-kit` finds edge cases to seed a corpus with.
#[derive(Debug, Clone, Default)]
pub struct KitSources {
    /// The family's library scenarios: (file name, its JSON).
    pub scenarios: Vec<(String, Value)>,
    /// The family's golden captures: (file name, its bytes); empty outside a checkout.
    pub captures: Vec<(String, Vec<u8>)>,
    /// The family's byte test vectors (`vectors/<family>/*.json`): (file name, its JSON); empty
    /// outside a checkout.
    pub vectors: Vec<(String, Value)>,
}

/// The scripted peer's steps of a scenario's JSON (`peer.steps`; none when it has none).
pub fn steps_of(scenario: &Value) -> &[Value] {
    scenario["peer"]["steps"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// One input for a fuzz kit's corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitInput {
    /// The format it is an input of (a [`WireFormat::id`]).
    pub format: &'static str,
    /// Where it came from (`library-3way-order-step-2`, `capture-handler_bad_magic-stream-4`).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl FuzzHooks {
    /// No layout knowledge: the generic mutations of the step schema only.
    pub const NONE: FuzzHooks = FuzzHooks {
        liveness_probe: |_| None,
        value: |_, _, _, _| Ok(false),
        text: |_, _| Vec::new(),
        edges: |_, _| &[],
        kept_jobs_per_core: 16,
        kept_probe_every: 1,
        fold: |_| None,
        kit_inputs: |_| Vec::new(),
    };
}

/// The whole id of a rule of family `F` (`mediastream.3way.order`) from what a file of that family
/// may write (the whole id, or `3way.order`); an id the catalogue lacks stays as it is.
pub fn rule_id<F: Family>(id: &str) -> String {
    handshake_check::rules::find_in(F::VOCABULARY.rules, F::NAME, id)
        .map_or_else(|| id.to_owned(), |r| r.id.to_owned())
}
