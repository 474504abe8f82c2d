//! The scenario format: one JSON envelope for every protocol family.
//!
//! What every family shares is typed here — identity and citations, the IUT's role and required
//! features, the peer's reference profile and steps, link faults, `wait`/`fault`/`expect`/
//! `expect_none` steps, rule expectations — and each family adds its own keys at four places
//! ([`Family`]'s associated types): the top level (the media stream's `stream`),
//! `iut`, `peer`, and `expect`; and its own step kinds (the media stream's `send`). Family keys sit
//! beside the generic ones in the same JSON object, so files read naturally and old files keep
//! loading.
//!
//! Parsing reads the text once: every key of an object is routed to the generic part or to the
//! family's [`Fields`], so an error points at the exact token with file:line:column, and an unknown
//! key (a typo) is an error that lists every key the object takes. Steps are externally tagged
//! (`{"send": {…}}`).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use handshake_net::{FaultAction, Nth};
use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::family::Family;

/// Most steps in one scenario.
pub const MAX_STEPS: usize = 10_000;
/// Most repetitions of one step, and most datagrams a reorder may hold back.
pub const MAX_TIMES: u64 = 10_000;
/// The largest datagram (a UDP payload over IPv4), for sizes, offsets and truncations.
pub const MAX_PAYLOAD: usize = 65_507;
/// The longest window, wait, delay or settle time, ms (an hour).
pub const MAX_WINDOW_MS: u64 = 3_600_000;

/// A family's keys in one of the scenario's objects (see the module docs). Declare them with
/// [`family_fields!`](crate::family_fields).
pub trait Fields:
    Default + Clone + fmt::Debug + Serialize + JsonSchema + Send + Sync + 'static
{
    /// The keys, in the order they are documented.
    const NAMES: &'static [&'static str];
    /// Reads the value of `key` (one of [`NAMES`](Self::NAMES)) from `map`.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// No family keys in this object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct NoFields {}

impl Fields for NoFields {
    const NAMES: &'static [&'static str] = &[];
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, _: &mut A) -> Result<(), A::Error> {
        Err(de::Error::custom(format!("unknown field `{key}`")))
    }
}

/// Declares a family's keys for one object of the scenario format: a struct with the given fields
/// (each with its default) and its [`Fields`] implementation.
///
/// ```
/// handshake_scenario::family_fields! {
///     /// Keys of `expect`.
///     pub struct DemoExpect {
///         /// The close code the IUT must send.
///         close_code: Option<u64> = None,
///     }
/// }
/// assert_eq!(<DemoExpect as handshake_scenario::Fields>::NAMES, ["close_code"]);
/// ```
#[macro_export]
macro_rules! family_fields {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, $crate::__serde::Serialize, $crate::__schemars::JsonSchema)]
        #[serde(crate = "handshake_scenario::__serde")]
        #[schemars(crate = "handshake_scenario::__schemars", deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* #[serde(default)] pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)* }
            }
        }

        impl $crate::Fields for $name {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];
            fn read<'de, A: $crate::__serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match key {
                    $(stringify!($field) => self.$field = map.next_value()?,)*
                    other => {
                        return Err(<A::Error as $crate::__serde::de::Error>::custom(
                            format!("unknown field `{other}`"),
                        ))
                    }
                }
                Ok(())
            }
        }
    };
}

/// A family's own steps: an externally tagged enum (`{"send": {…}}`).
pub trait Action:
    Serialize + DeserializeOwned + JsonSchema + Clone + fmt::Debug + Send + Sync
{
    /// The step names (the enum's variants), for error messages.
    const NAMES: &'static [&'static str];
    /// A short label for transcripts (`send syn x3`).
    fn label(&self) -> String;
}

/// The two sides of a run. Families name them (the media stream: `initiator` and `responder`;
/// QUIC families: `client` and `server`); scenario files may use either pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The side that opens (ctsTraffic `-target`; a QUIC client).
    #[serde(alias = "client")]
    Initiator,
    /// The side that listens (ctsTraffic `-listen`; a QUIC server).
    #[serde(alias = "server")]
    Responder,
}

impl Role {
    /// The other side.
    pub fn other(self) -> Role {
        match self {
            Role::Initiator => Role::Responder,
            Role::Responder => Role::Initiator,
        }
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Role::Initiator => "initiator",
            Role::Responder => "responder",
        })
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        const NAMES: &[&str] = &["initiator", "responder", "client", "server"];
        let text = String::deserialize(d)?;
        match text.as_str() {
            "initiator" | "client" => Ok(Role::Initiator),
            "responder" | "server" => Ok(Role::Responder),
            other => Err(de::Error::unknown_variant(other, NAMES)),
        }
    }
}

/// One scenario of family `F`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(bound = "")]
#[schemars(bound = "F: Family", rename = "Scenario", deny_unknown_fields)]
pub struct Scenario<F: Family> {
    /// Path of the schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Stable id, e.g. `ms.responder.lost_syn_ack` (also the snapshot name).
    pub id: String,
    /// One line.
    pub title: String,
    /// The protocol family (`mediastream` when absent, for files older than the families).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Facts and decisions it tests (`D6`, `legacy.receive`, …).
    #[serde(default)]
    pub decisions: Vec<String>,
    /// Checker rule ids it exercises.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Set when the scenario checks one of this project's own profile decisions beyond the facts:
    /// a failure is then reported as a `deviation`, never failing the gate unless `--strict-profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Free tags for selection (`--tag`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Which side the implementation under test plays, and what it must support.
    pub iut: IutRequirement<F::IutFields>,
    /// The family's parameters both sides run with.
    #[serde(flatten)]
    pub setup: F::Setup,
    /// The other side: a reference profile, scripted steps, or both.
    pub peer: PeerSpec<F>,
    /// Link faults from the start.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// What must be true at the end.
    #[serde(default)]
    pub expect: OutcomeExpectation<F::ExpectFields>,
    /// Seed for the link's random faults and the reference peer's randomness (overridden by `--seed`).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Longest the scenario may run, in (virtual or real) milliseconds after the last step.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
}

fn default_settle_ms() -> u64 {
    10_000
}

/// The IUT's side and what it must support.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(bound = "")]
#[schemars(bound = "X: Fields", rename = "IutRequirement", deny_unknown_fields)]
pub struct IutRequirement<X: Fields> {
    /// `initiator` or `responder` (`client` or `server`).
    pub role: Role,
    /// Features the IUT must have (the family's names, or `restart`), or the scenario is skipped
    /// as unsupported.
    #[serde(default)]
    pub requires: Vec<String>,
    /// The family's keys.
    #[serde(flatten)]
    pub fields: X,
}

/// The peer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(bound = "")]
#[schemars(bound = "F: Family", rename = "PeerSpec", deny_unknown_fields)]
pub struct PeerSpec<F: Family> {
    /// A reference profile of the family that plays the other side. Without it the peer is only
    /// the script.
    #[serde(default)]
    pub reference: Option<String>,
    /// The family's keys.
    #[serde(flatten)]
    pub fields: F::PeerFields,
    /// Scripted steps, run in order; with a reference peer they add to what it does.
    #[serde(default)]
    pub steps: Vec<Step<F::Action>>,
}

/// One scripted step: one of the family's own, or a generic one.
#[derive(Debug, Clone)]
pub enum Step<A> {
    /// A family step (the media stream's `send`).
    Action(A),
    /// Wait until the IUT does something matching, within a window.
    Expect(ExpectStep),
    /// The IUT must do nothing matching for a while.
    ExpectNone(ExpectNoneStep),
    /// Let time pass.
    Wait(WaitStep),
    /// Add a link fault from now on.
    Fault(FaultSpec),
}

/// The generic step names.
const GENERIC_STEPS: [&str; 4] = ["expect", "expect_none", "wait", "fault"];

/// The name of `value`'s variant (an externally tagged enum: `{"send": …}` → `send`), without
/// serialising what it holds; else the first key of its JSON object.
pub fn variant_name<T: Serialize>(value: &T) -> String {
    match serde_variant::to_variant_name(value) {
        Ok(name) => name.to_owned(),
        Err(_) => serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
            .unwrap_or_default(),
    }
}

impl<A: Action> Step<A> {
    /// The step's name (`send`, `expect`, …).
    pub fn name(&self) -> String {
        match self {
            Step::Action(a) => variant_name(a),
            Step::Expect(_) => "expect".into(),
            Step::ExpectNone(_) => "expect_none".into(),
            Step::Wait(_) => "wait".into(),
            Step::Fault(_) => "fault".into(),
        }
    }
}

impl<A: Action> Serialize for Step<A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn one<S: Serializer, T: Serialize>(s: S, key: &str, value: &T) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(key, value)?;
            m.end()
        }
        match self {
            Step::Action(a) => a.serialize(s),
            Step::Expect(e) => one(s, "expect", e),
            Step::ExpectNone(e) => one(s, "expect_none", e),
            Step::Wait(w) => one(s, "wait", w),
            Step::Fault(f) => one(s, "fault", f),
        }
    }
}

impl<'de, A: Action> Deserialize<'de> for Step<A> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Step<A>, D::Error> {
        struct StepVisitor<A>(PhantomData<A>);
        impl<'de, A: Action> Visitor<'de> for StepVisitor<A> {
            type Value = Step<A>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a step: an object with one key naming its kind")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Step<A>, M::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!(
                        "a step needs a kind: expected one of {}",
                        quoted(&step_names::<A>())
                    )));
                };
                let step = match key.as_str() {
                    "expect" => Step::Expect(map.next_value()?),
                    "expect_none" => Step::ExpectNone(map.next_value()?),
                    "wait" => Step::Wait(map.next_value()?),
                    "fault" => Step::Fault(map.next_value()?),
                    name if A::NAMES.contains(&name) => Step::Action(A::deserialize(Tagged {
                        tag: key,
                        map: &mut map,
                    })?),
                    other => {
                        let names = step_names::<A>();
                        return Err(de::Error::custom(format!(
                            "unknown variant `{other}`{}, expected one of {}",
                            handshake_core::words::did_you_mean(other, names.iter().copied()),
                            quoted(&names)
                        )));
                    }
                };
                if let Some(more) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "a step has one kind; `{more}` is a second one (write it as its own step)"
                    )));
                }
                Ok(step)
            }
        }
        d.deserialize_map(StepVisitor(PhantomData))
    }
}

fn step_names<A: Action>() -> Vec<&'static str> {
    A::NAMES.iter().copied().chain(GENERIC_STEPS).collect()
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rest of a map whose first key names an enum variant, read as that externally tagged enum
/// (so a family's derived step enum reads its variant's value straight from the text).
struct Tagged<'a, M> {
    tag: String,
    map: &'a mut M,
}

impl<'de, M: MapAccess<'de>> Deserializer<'de> for Tagged<'_, M> {
    type Error = M::Error;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, M::Error> {
        v.visit_enum(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, M::Error> {
        v.visit_enum(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de, M: MapAccess<'de>> de::EnumAccess<'de> for Tagged<'_, M> {
    type Error = M::Error;
    type Variant = Self;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), M::Error> {
        let tag: de::value::StrDeserializer<'_, M::Error> = self.tag.as_str().into_deserializer();
        let value = seed.deserialize(tag)?;
        Ok((value, self))
    }
}

impl<'de, M: MapAccess<'de>> de::VariantAccess<'de> for Tagged<'_, M> {
    type Error = M::Error;
    fn unit_variant(self) -> Result<(), M::Error> {
        self.map.next_value::<de::IgnoredAny>().map(|_| ())
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, M::Error> {
        self.map.next_value_seed(seed)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, M::Error> {
        struct Seed<V>(usize, V);
        impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Seed<V> {
            type Value = V::Value;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
                d.deserialize_tuple(self.0, self.1)
            }
        }
        self.map.next_value_seed(Seed(len, v))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, M::Error> {
        struct Seed<V>(&'static [&'static str], V);
        impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Seed<V> {
            type Value = V::Value;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
                d.deserialize_struct("", self.0, self.1)
            }
        }
        self.map.next_value_seed(Seed(fields, v))
    }
}

impl<A: Action> JsonSchema for Step<A> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut one_of = vec![g.subschema_for::<A>()];
        let mut generic = |name: &str, schema: schemars::Schema| {
            one_of.push(schemars::json_schema!({
                "type": "object",
                "properties": { name: schema },
                "required": [name],
                "additionalProperties": false
            }));
        };
        generic("expect", g.subschema_for::<ExpectStep>());
        generic("expect_none", g.subschema_for::<ExpectNoneStep>());
        generic("wait", g.subschema_for::<WaitStep>());
        generic("fault", g.subschema_for::<FaultSpec>());
        schemars::json_schema!({
            "description": "One scripted step: one of the family's own, or expect, expect_none, wait, fault.",
            "oneOf": one_of
        })
    }
}

/// `expect`: something the IUT does (a *unit* of the family: a decoded datagram for the media
/// stream) whose decoded fields match.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// Kind name (the family's unit kinds, e.g. `syn_ack`), or `any`.
    pub kind: String,
    /// Decoded fields that must match: a value, `"*"`, or `"$variable"` (compared when set,
    /// captured when not).
    #[serde(default, rename = "where")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Window from the start of the step.
    #[serde(default = "default_window_ms")]
    pub within_ms: u64,
    /// Variables to capture from the matched unit: variable name → field.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Only units addressed to this port of the peer's host (default: the peer's own port).
    #[serde(default)]
    pub to_port: Option<u16>,
    /// The fact or decision this expectation rests on (see `harness coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// No failure when nothing matches: the step then ends with its window. Fuzz inputs keep
    /// their skeleton's captures this way (a later step that uses a variable never captured
    /// fails there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Only units the IUT sent since the actions right before this step began (since the step
    /// itself when it follows none). By default an `expect` also matches an earlier unit no
    /// `expect` has matched yet (an answer that came while the steps before it ran); a learning
    /// query's SYN-ACK must be the answer to its own SYN, not a re-send of an earlier one, and
    /// what an action brings at once (a stream left `blocked` by a write) is its answer too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub since_step: bool,
    /// More outcomes the facts allow besides `kind`/`where`: the step is met by a unit that matches
    /// any of them (a refusal may be an ErrorMessage, a reset or a close). Only `kind`/`where`
    /// captures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<Outcome>,
    /// The profile's preferred form among the allowed outcomes, with its own (non-fact) basis: a
    /// matched unit not in this form is a deviation naming what the program chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer: Option<Preferred>,
}

/// One outcome an `expect` step accepts: a unit kind and the fields it must have.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Kind name, or `any`.
    pub kind: String,
    /// Decoded fields that must match (values, `"*"`, or set `"$variable"`s).
    #[serde(default, rename = "where", skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// The profile's preferred form of what an `expect` step matched.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferred {
    /// Kind name, or `any`.
    pub kind: String,
    /// Decoded fields the preferred form has.
    #[serde(default, rename = "where", skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The profile decision (or SHOULD, or disputed reading) it rests on.
    pub basis: String,
}

fn default_window_ms() -> u64 {
    1000
}

/// `expect_none`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectNoneStep {
    /// Kind name or `any`.
    pub kind: String,
    /// Fields that must match for a unit to count.
    #[serde(default, rename = "where")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// How long.
    pub for_ms: u64,
    /// Only units addressed to this port of the peer's host (default: any).
    #[serde(default)]
    pub to_port: Option<u16>,
    /// The fact or decision this expectation rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

/// `wait`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    /// Milliseconds.
    pub ms: u64,
}

/// A link fault: which datagrams (direction, kind, position, probability) and what happens to them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `to_iut`, `from_iut` or `both` (default).
    #[serde(default)]
    pub direction: Direction,
    /// Kind name (the family's link classes, e.g. `syn_ack`; `malformed` for what does not parse).
    #[serde(default)]
    pub kind: Option<String>,
    /// Which of the matching datagrams (1-based).
    #[serde(default)]
    pub nth: Option<Nth>,
    /// Chance per matching datagram (seeded).
    #[serde(default)]
    pub probability: Option<f64>,
    /// What happens.
    pub action: FaultAction,
}

/// Which way a fault applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Datagrams to the IUT.
    ToIut,
    /// Datagrams from the IUT.
    FromIut,
    /// Both.
    #[default]
    Both,
}

/// What must hold at the end: the family's expectations (`X`) and the rules.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(bound = "")]
#[schemars(
    bound = "X: Fields",
    rename = "OutcomeExpectation",
    deny_unknown_fields
)]
pub struct OutcomeExpectation<X: Fields> {
    /// The family's keys.
    #[serde(flatten)]
    pub fields: X,
    /// Checker rules that must hold on the capture (`all` for every rule).
    #[serde(default)]
    pub rules_hold: Vec<String>,
    /// Checker rules that must fire.
    #[serde(default)]
    pub rules_fire: Vec<String>,
    /// The facts or decisions these expectations rest on (`D6, D11`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Expectations that rest on one of this project's own profile decisions beyond the facts:
    /// judged, but a miss is a `deviation` (never failing the gate unless `--strict-profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Box<ProfileOutcome<X>>>,
}

/// Outcome expectations that rest on a profile decision.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(bound = "X: Fields", rename = "ProfileOutcome")]
pub struct ProfileOutcome<X: Fields> {
    /// The decision's id (the family's list of profile decisions).
    pub decision: String,
    /// What it expects (`rules_hold`/`rules_fire` and nested `profile` are not used here).
    pub expect: OutcomeExpectation<X>,
}

/// An exact number or a range.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Bound {
    /// Exactly.
    Exactly(u64),
    /// Inclusive range; a missing end is open.
    Range {
        /// Lowest allowed.
        #[serde(default)]
        min: Option<u64>,
        /// Highest allowed.
        #[serde(default)]
        max: Option<u64>,
    },
}

impl Bound {
    /// Whether `value` is within.
    pub fn contains(&self, value: u64) -> bool {
        match *self {
            Bound::Exactly(v) => value == v,
            Bound::Range { min, max } => {
                min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
            }
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Bound::Exactly(v) => write!(f, "{v}"),
            Bound::Range { min, max } => write!(
                f,
                "{}..={}",
                min.map_or(String::new(), |m| m.to_string()),
                max.map_or(String::new(), |m| m.to_string())
            ),
        }
    }
}

// ---- Reading objects whose keys are shared between the generic part and a family's fields.

/// Reads every key of `map`: `generic` takes the keys it knows (returning `true`), the family's
/// `fields` take theirs, anything else is an unknown field listing both. For any generic format
/// with family keys (scenarios, interop matrices).
pub fn read_object<'de, M: MapAccess<'de>, X: Fields>(
    map: &mut M,
    generic_names: &[&str],
    fields: &mut X,
    mut generic: impl FnMut(&str, &mut M) -> Result<bool, M::Error>,
) -> Result<(), M::Error> {
    let mut seen: Vec<String> = Vec::new();
    while let Some(key) = map.next_key::<String>()? {
        if seen.contains(&key) {
            return Err(de::Error::custom(format!("duplicate field `{key}`")));
        }
        seen.push(key.clone());
        if generic(&key, map)? {
            continue;
        }
        if X::NAMES.contains(&key.as_str()) {
            fields.read(&key, map)?;
            continue;
        }
        let mut names: Vec<&str> = generic_names.to_vec();
        names.extend(X::NAMES.iter().copied());
        return Err(de::Error::custom(format!(
            "unknown field `{key}`, expected one of {}",
            quoted(&names)
        )));
    }
    Ok(())
}

/// `slot`'s value, or serde's missing-field error.
pub fn missing<E: de::Error, T>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| de::Error::missing_field(name))
}

struct ObjectVisitor<T>(&'static str, PhantomData<T>);

impl<F: Family> Scenario<F> {
    const GENERIC: [&'static str; 14] = [
        "$schema",
        "id",
        "title",
        "protocol",
        "decisions",
        "rules",
        "profile",
        "tags",
        "iut",
        "peer",
        "faults",
        "expect",
        "seed",
        "settle_ms",
    ];
}

impl<'de, F: Family> Visitor<'de> for ObjectVisitor<Scenario<F>> {
    type Value = Scenario<F>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Scenario<F>, M::Error> {
        let (mut schema, mut id, mut title, mut protocol) = (None, None, None, None);
        let (mut decisions, mut rules, mut profile, mut tags) = (None, None, None, None);
        let (mut iut, mut peer, mut faults, mut expect) = (None, None, None, None);
        let (mut seed, mut settle_ms) = (None, None);
        let mut setup = F::Setup::default();
        read_object(&mut map, &Scenario::<F>::GENERIC, &mut setup, |key, map| {
            match key {
                "$schema" => schema = Some(map.next_value()?),
                "id" => id = Some(map.next_value()?),
                "title" => title = Some(map.next_value()?),
                "protocol" => protocol = Some(map.next_value()?),
                "decisions" => decisions = Some(map.next_value()?),
                "rules" => rules = Some(map.next_value()?),
                "profile" => profile = Some(map.next_value()?),
                "tags" => tags = Some(map.next_value()?),
                "iut" => iut = Some(map.next_value()?),
                "peer" => peer = Some(map.next_value()?),
                "faults" => faults = Some(map.next_value()?),
                "expect" => expect = Some(map.next_value()?),
                "seed" => seed = Some(map.next_value()?),
                "settle_ms" => settle_ms = Some(map.next_value()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(Scenario {
            schema,
            id: missing(id, "id")?,
            title: missing(title, "title")?,
            protocol,
            decisions: decisions.unwrap_or_default(),
            rules: rules.unwrap_or_default(),
            profile,
            tags: tags.unwrap_or_default(),
            iut: missing(iut, "iut")?,
            setup,
            peer: missing(peer, "peer")?,
            faults: faults.unwrap_or_default(),
            expect: expect.unwrap_or_default(),
            seed,
            settle_ms: settle_ms.unwrap_or_else(default_settle_ms),
        })
    }
}

impl<'de, F: Family> Deserialize<'de> for Scenario<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor::<Scenario<F>>(
            "a scenario object",
            PhantomData,
        ))
    }
}

impl<'de, X: Fields> Visitor<'de> for ObjectVisitor<IutRequirement<X>> {
    type Value = IutRequirement<X>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<IutRequirement<X>, M::Error> {
        let (mut role, mut requires) = (None, None);
        let mut fields = X::default();
        read_object(&mut map, &["role", "requires"], &mut fields, |key, map| {
            match key {
                "role" => role = Some(map.next_value()?),
                "requires" => requires = Some(map.next_value()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(IutRequirement {
            role: missing(role, "role")?,
            requires: requires.unwrap_or_default(),
            fields,
        })
    }
}

impl<'de, X: Fields> Deserialize<'de> for IutRequirement<X> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor::<IutRequirement<X>>(
            "the IUT's role and requirements",
            PhantomData,
        ))
    }
}

impl<'de, F: Family> Visitor<'de> for ObjectVisitor<PeerSpec<F>> {
    type Value = PeerSpec<F>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<PeerSpec<F>, M::Error> {
        let (mut reference, mut steps) = (None, None);
        let mut fields = F::PeerFields::default();
        read_object(
            &mut map,
            &["reference", "steps"],
            &mut fields,
            |key, map| {
                match key {
                    "reference" => reference = Some(map.next_value()?),
                    "steps" => steps = Some(map.next_value()?),
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(PeerSpec {
            reference: reference.flatten(),
            fields,
            steps: steps.unwrap_or_default(),
        })
    }
}

impl<'de, F: Family> Deserialize<'de> for PeerSpec<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor::<PeerSpec<F>>("the peer", PhantomData))
    }
}

impl<'de, X: Fields> Visitor<'de> for ObjectVisitor<OutcomeExpectation<X>> {
    type Value = OutcomeExpectation<X>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<OutcomeExpectation<X>, M::Error> {
        let (mut hold, mut fire, mut basis, mut profile) = (None, None, None, None);
        let mut fields = X::default();
        read_object(
            &mut map,
            &["rules_hold", "rules_fire", "basis", "profile"],
            &mut fields,
            |key, map| {
                match key {
                    "rules_hold" => hold = Some(map.next_value()?),
                    "rules_fire" => fire = Some(map.next_value()?),
                    "basis" => basis = Some(map.next_value()?),
                    "profile" => profile = Some(map.next_value()?),
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(OutcomeExpectation {
            fields,
            rules_hold: hold.unwrap_or_default(),
            rules_fire: fire.unwrap_or_default(),
            basis: basis.flatten(),
            profile: profile.flatten(),
        })
    }
}

impl<'de, X: Fields> Deserialize<'de> for OutcomeExpectation<X> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor::<OutcomeExpectation<X>>(
            "the outcome expectations",
            PhantomData,
        ))
    }
}

/// Every id a scenario cites: its decisions, rules and profile decision, and the basis of each
/// expectation (for `harness coverage`).
pub fn cited<F: Family>(s: &Scenario<F>) -> std::collections::BTreeSet<String> {
    let mut ids: std::collections::BTreeSet<String> = s
        .decisions
        .iter()
        .cloned()
        .chain(s.rules.iter().map(|r| crate::family::rule_id::<F>(r)))
        .collect();
    let mut add = |basis: Option<&str>| {
        if let Some(b) = basis {
            ids.extend(crate::citations::ids(b).map(str::to_owned));
        }
    };
    add(s.profile.as_deref());
    add(s.expect.basis.as_deref());
    add(s.expect.profile.as_ref().map(|p| p.decision.as_str()));
    for step in &s.peer.steps {
        match step {
            Step::Expect(e) => {
                add(e.basis.as_deref());
                add(e.prefer.as_ref().map(|p| p.basis.as_str()));
            }
            Step::ExpectNone(e) => add(e.basis.as_deref()),
            _ => {}
        }
    }
    ids
}
