//! The Proton family: a single-client QUIC control protocol on three streams (Event,
//! StateCommit, Action) as a plug-in of the generic harness. Its wire codec, endpoints and judge
//! are the sibling crates (`handshake-proton-wire`, `-endpoint`, `-judge`); QUIC itself is
//! `handshake-quic`. This crate is what the core asks of a family:
//!
//! - the scenario vocabulary ([`format`](mod@format)): `session` (timers, the client's plan), the IUT's
//!   `action_push`/`reset_discriminator`, the steps `connect`, `open_bi`, `open_uni`, `write`,
//!   `fin`, `reset`, `stop_sending`, `close`, and the outcome keys;
//! - units from the harness's own QUIC endpoint ([`observe::unit`]): QUIC is encrypted, so what
//!   the IUT did is read where it is decrypted;
//! - the reference server and client per profile, the scripted peer, the judge, the launch rules.
#![forbid(unsafe_code)]

pub mod check;
pub mod citations;
pub mod cli;
pub mod format;
#[cfg(feature = "arbitrary")]
pub mod fuzzing;
pub mod interop;
mod judge;
pub mod kit;
pub mod launch;
pub mod learning;
pub mod netfuzz;
pub mod observe;
pub mod probe;
pub mod repl;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_proton_endpoint::{
    host, Client, Mutant, Profile, ProtonNode, ScriptPeer, Server, ALPN,
};
use handshake_quic::KeyLog;
use handshake_scenario::external::manifest::{Launch, Manifest};
use handshake_scenario::json::Seg;
use handshake_scenario::validate::Validator;
use handshake_scenario::{
    ActCtx, Family, FamilyError, JudgeCtx, LaunchError, NoFields, ObserveCtx, ProfileError,
    Registered, Role, Scenario, Vocabulary,
};
use serde_json::Value;

use crate::format::{ExpectFields, IutFields, ProtonStep, Setup};
use crate::observe::ProtonObservations;

/// The Proton family.
#[derive(Debug, Clone, Copy, Default)]
pub struct Proton;

/// Its entry in a registry of families.
pub static FAMILY: Registered<Proton> = Registered::new();

/// A Proton scenario.
pub type ProtonScenario = Scenario<Proton>;

/// What the judge reports on a run.
pub type ProtonReport = handshake_quic_family::QuicReport;

/// The features a reference profile has (in either role).
pub fn profile_features(profile: &Profile) -> Vec<String> {
    let mut f = vec!["restart", "action_pull"];
    match profile.base {
        handshake_proton_endpoint::Base::AsCoded => f.extend(["wrapping_commits", "three_streams"]),
        handshake_proton_endpoint::Base::Project => {
            f.extend([
                "checked_commits",
                "action_push",
                "discriminator_timeout",
                "reset_discriminator",
            ]);
        }
    }
    f.into_iter().map(str::to_owned).collect()
}

/// The features a scenario requires: `iut.requires` plus what its IUT keys imply.
pub fn required_features(s: &ProtonScenario) -> Vec<String> {
    let mut f = s.iut.requires.clone();
    for (on, name) in [
        (s.iut.fields.action_push, "action_push"),
        (s.iut.fields.reset_discriminator, "reset_discriminator"),
    ] {
        if on && !f.iter().any(|x| x == name) {
            f.push(name.into());
        }
    }
    f
}

/// Whether a scenario waits for the IUT's acknowledgement of stream data (an `acked` unit): the
/// scripted peer then tracks it (a second decryption of every datagram, so only then).
fn waits_for_acks(s: &ProtonScenario) -> bool {
    s.peer.steps.iter().any(|step| match step {
        handshake_scenario::format::Step::Expect(e) => e.kind == "acked",
        handshake_scenario::format::Step::ExpectNone(e) => e.kind == "acked",
        _ => false,
    })
}

/// The harness's scripted peer stays out of the timing: no keep-alive, a long idle timeout (the
/// effective idle timeout is the smaller of the two sides', so the IUT's decides).
fn script_timers() -> handshake_proton_endpoint::Timers {
    let mut t = handshake_proton_endpoint::Timers::of(handshake_proton_endpoint::Base::Project);
    t.idle = Duration::from_secs(3_600);
    t.keep_alive = None;
    t
}

fn peer<'a>(ctx: &'a mut ActCtx<'_, Proton>) -> Result<&'a mut ScriptPeer, String> {
    ctx.peer
        .as_deref_mut()
        .and_then(ProtonNode::script)
        .ok_or_else(|| {
            "Proton steps need the harness's scripted peer (no reference peer)".to_owned()
        })
}

/// A u32 value made of what the IUT sent on the written stream (a server's answer to a client's
/// latest request, whatever values the client chose): `{"iut_sent": "last", "plus": K}` is the
/// last u32 the IUT sent there plus K (wrapping: an echo, a commit's answer);
/// `{"iut_sent": "count", "plus": K}` how many it sent there plus K (a pull's counter: `-1`).
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    iut_sent: AnswerOf,
    #[serde(default)]
    plus: i64,
}

#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum AnswerOf {
    Last,
    Count,
}

impl Answer {
    fn parse(value: &Value) -> Result<Answer, String> {
        <Answer as serde::Deserialize>::deserialize(value).map_err(|e| format!("`{value}`: {e}"))
    }

    /// The value, given what the IUT sent on the stream (last value, count); none before it sent
    /// one, or where a count plus K is below 0 (nothing to answer: the value is left out).
    fn value(self, received: Option<(u32, u64)>) -> Option<u32> {
        let (last, count) = received?;
        match self.iut_sent {
            // Modulo 2^32, whatever K (2^64 is a multiple of it).
            AnswerOf::Last => {
                Some(i64::from(last).wrapping_add(self.plus).rem_euclid(1 << 32) as u32)
            }
            AnswerOf::Count => {
                u32::try_from(i64::try_from(count).ok()?.checked_add(self.plus)?).ok()
            }
        }
    }
}

/// A `write`'s bytes: its hex, or its u32 values (numbers, `$variables`, `$fresh`: 1, 2, 3, …
/// in a run, wrapping after 255, and [`Answer`]s made of `received`, what the IUT sent on the
/// stream).
fn write_bytes(
    w: &format::WriteStep,
    vars: &mut handshake_scenario::script::Vars,
    received: Option<(u32, u64)>,
) -> Result<Vec<u8>, String> {
    let mut bytes = match &w.hex {
        Some(h) => handshake_scenario::script::hex_bytes(h)?,
        None => Vec::new(),
    };
    for v in w.u32.iter().flatten() {
        let n = match v {
            Value::String(s) if s == "$fresh" => u64::from(vars.fresh()),
            Value::String(s) => {
                let text = vars.resolve(s)?;
                text.parse::<u64>()
                    .map_err(|_| format!("`{s}` = `{text}` is not a number"))?
            }
            Value::Object(_) => match Answer::parse(v)?.value(received) {
                Some(n) => u64::from(n),
                None => continue,
            },
            other => other
                .as_u64()
                .ok_or_else(|| format!("`{other}` is not a u32"))?,
        };
        let n = u32::try_from(n).map_err(|_| format!("{n} does not fit a u32"))?;
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    Ok(bytes)
}

/// What Proton's files may say and cite.
pub const VOCABULARY: Vocabulary = Vocabulary {
    role_names: ("client", "server"),
    rules: handshake_proton_judge::rules::ALL,
    citations: citations::CITATIONS,
    features: format::FEATURES,
    units: observe::UNIT_KINDS,
    placeholders: launch::PLACEHOLDERS,
    flags: launch::FLAGS,
};

/// One step of the scenario's peer ([`Family::act`]); its reasons are the scenario's mistakes.
fn act_step(action: &ProtonStep, ctx: &mut ActCtx<'_, Proton>) -> Result<(), String> {
    let now = ctx.now;
    match action {
        ProtonStep::Connect(c) => {
            let alpn: Option<Vec<Vec<u8>>> = c
                .alpn
                .as_ref()
                .map(|a| a.iter().map(|s| s.as_bytes().to_vec()).collect());
            peer(ctx)?.connect(now, alpn.as_deref())?;
        }
        ProtonStep::OpenBi(o) | ProtonStep::OpenUni(o) => {
            let bidi = matches!(action, ProtonStep::OpenBi(_));
            // Far more than any QUIC peer allows at once; a bound keeps a mutated count from
            // queueing billions of opens.
            if o.count > 1024 {
                return Err(format!("`count` {} is above 1024", o.count));
            }
            if o.write.len() > o.count as usize {
                return Err(format!(
                    "`write` has {} entries for {} streams",
                    o.write.len(),
                    o.count
                ));
            }
            let writes = o
                .write
                .iter()
                .map(|h| handshake_scenario::script::hex_bytes(h))
                .collect::<Result<Vec<_>, _>>()?;
            let p = peer(ctx)?;
            for i in 0..o.count as usize {
                let stream = p.open(now, o.conn, bidi)?;
                if let Some(bytes) = writes.get(i) {
                    p.write(now, o.conn, stream, bytes)?;
                }
            }
        }
        ProtonStep::Write(w) => {
            if w.first && peer(ctx)?.used(w.at.conn, w.at.stream) {
                return Ok(());
            }
            let received = peer(ctx)?.received(w.at.conn, w.at.stream);
            let bytes = write_bytes(w, ctx.vars, received)?;
            let p = peer(ctx)?;
            let mut rest = bytes.as_slice();
            for size in &w.chunks {
                let (chunk, tail) = rest.split_at((*size).min(rest.len()));
                p.write(now, w.at.conn, w.at.stream, chunk)?;
                rest = tail;
            }
            if !rest.is_empty() {
                p.write(now, w.at.conn, w.at.stream, rest)?;
            }
            if w.fin {
                p.fin(now, w.at.conn, w.at.stream)?;
            }
        }
        ProtonStep::Fin(s) => peer(ctx)?.fin(now, s.conn, s.stream)?,
        ProtonStep::Reset(c) => peer(ctx)?.reset(now, c.at.conn, c.at.stream, c.code)?,
        ProtonStep::StopSending(c) => {
            peer(ctx)?.stop_sending(now, c.at.conn, c.at.stream, c.code)?
        }
        ProtonStep::Close(c) => peer(ctx)?.close(now, c.conn, c.code, &c.reason),
    }
    Ok(())
}

impl Family for Proton {
    const NAME: &'static str = "proton";
    const VOCABULARY: &'static Vocabulary = &VOCABULARY;

    type Setup = Setup;
    type IutFields = IutFields;
    type PeerFields = NoFields;
    type ExpectFields = ExpectFields;
    type Action = ProtonStep;
    type Datagrams = handshake_quic_family::QuicDatagrams;
    type Unit = observe::ProtonUnit;

    fn validate(s: &ProtonScenario, v: &mut Validator<'_>) {
        if s.peer.reference.is_some() && !s.peer.steps.is_empty() {
            v.problem(
                handshake_scenario::validate::path(&[Seg::key("peer"), Seg::key("steps")]),
                "Proton steps drive the harness's scripted peer: a scenario has a reference peer or steps, not both",
            );
        }
    }
    fn validate_action(_: &ProtonScenario, action: &ProtonStep, at: &[Seg], v: &mut Validator<'_>) {
        if let ProtonStep::Write(w) = action {
            if w.hex.is_some() == w.u32.is_some() {
                v.problem(at.to_vec(), "`write` takes either `hex` or `u32`");
            }
            if let Some(h) = &w.hex {
                v.hex(
                    handshake_scenario::validate::sub(at, &[Seg::key("write"), Seg::key("hex")]),
                    h,
                );
            }
            for (i, value) in w.u32.iter().flatten().enumerate() {
                let here = handshake_scenario::validate::sub(
                    at,
                    &[Seg::key("write"), Seg::key("u32"), Seg::Index(i)],
                );
                match value {
                    Value::String(text) => {
                        v.variable(here, text);
                    }
                    other if other.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)) => {}
                    answer @ Value::Object(_) => {
                        if let Err(e) = Answer::parse(answer) {
                            v.problem(here, format!("not an answer ({{\"iut_sent\": \"last\" or \"count\", \"plus\": K}}): {e}"));
                        }
                    }
                    other => v.problem(here, format!("`{other}` is not a u32")),
                }
            }
        }
    }
    fn required_features(s: &ProtonScenario) -> Vec<String> {
        required_features(s)
    }

    type Profile = Profile;
    type Node = ProtonNode;

    fn parse_profile(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text).map_err(ProfileError)
    }
    fn profile_features(profile: &Profile, _: Role) -> Vec<String> {
        profile_features(profile)
    }
    fn node(
        profile: &Profile,
        role: Role,
        s: &ProtonScenario,
        iut: bool,
        remote: SocketAddr,
        seed: u64,
        now: Instant,
    ) -> Result<ProtonNode, FamilyError> {
        let mut profile = s.setup.session.apply(profile.clone());
        if iut && profile.base == handshake_proton_endpoint::Base::Project {
            profile.action_push |= s.iut.fields.action_push;
            profile.reset_discriminator |= s.iut.fields.reset_discriminator;
        }
        let keys = Arc::new(KeyLog::default());
        let alpn = vec![ALPN.to_vec()];
        Ok(match role {
            Role::Responder => {
                let h = host(
                    seed,
                    "server",
                    true,
                    &profile.timers,
                    profile.max_bidi(),
                    alpn,
                    keys,
                )
                .map_err(|e| FamilyError::harness(e.to_string()))?;
                ProtonNode::Server(Server::new(h, profile, now))
            }
            Role::Initiator => {
                let h = host(seed, "client", false, &profile.timers, 0, alpn, keys)
                    .map_err(|e| FamilyError::harness(e.to_string()))?;
                let mut plan = s.setup.session.plan();
                if !iut {
                    // A reference client waits out the server's startup delay, as coded (H11).
                    plan.connect_after = profile.timers.startup;
                }
                ProtonNode::Client(Client::new(h, profile, plan, remote, now))
            }
        })
    }
    fn script_node(
        s: &ProtonScenario,
        _: Option<&Profile>,
        remote: SocketAddr,
        seed: u64,
        now: Instant,
    ) -> Result<Option<ProtonNode>, FamilyError> {
        let server = s.iut.role == Role::Initiator;
        let h = host(
            seed,
            if server {
                "script-server"
            } else {
                "script-client"
            },
            server,
            &script_timers(),
            16,
            vec![ALPN.to_vec()],
            Arc::new(KeyLog::default()),
        )
        .map_err(|e| FamilyError::harness(e.to_string()))?;
        let mut peer = ScriptPeer::new(h, remote, server, now);
        if waits_for_acks(s) {
            peer.track_acks();
        }
        Ok(Some(ProtonNode::Script(peer)))
    }
    fn act(action: &ProtonStep, ctx: &mut ActCtx<'_, Self>) -> Result<(), FamilyError> {
        act_step(action, ctx).map_err(FamilyError::BadInput)
    }
    handshake_quic_family::quic_hooks!(ending: handshake_proton_endpoint::ProtonEvent::Ended { .. }, unit: observe::unit);
    /// H1: a scenario that connects during the server's startup delay starts its steps once the
    /// server's port is bound: the readiness line of an as-coded server comes after the delay.
    fn steps_before_ready(s: &ProtonScenario) -> bool {
        s.iut.role == Role::Responder && s.setup.session.startup_ms.is_some_and(|ms| ms > 0)
    }
    /// H1: a server serves (and prints its readiness line) after its startup delay.
    fn startup_delay(s: &ProtonScenario, launch: &Launch) -> Duration {
        let profile = Profile::parse(&launch.profile).unwrap_or_default();
        s.setup.session.apply(profile).timers.startup
    }
    fn expected_ms(s: &ProtonScenario) -> u64 {
        s.setup.session.startup_ms.unwrap_or(10_000) + 1_000
    }

    type Report = ProtonReport;
    fn judge(capture: &[u8], ctx: &JudgeCtx<'_, Self>) -> Result<ProtonReport, FamilyError> {
        let server = match ctx.role {
            Role::Responder => ctx.iut,
            Role::Initiator => ctx.peer,
        };
        let mut profile = match ctx.role {
            Role::Responder => ctx.iut_profile.clone(),
            Role::Initiator => ctx.peer_profile.clone(),
        };
        // The scenario's IUT keys switch the server's P2/P4 options on (as `node` does).
        if let (Role::Responder, Some(p)) = (ctx.role, profile.as_mut()) {
            if p.base == handshake_proton_endpoint::Base::Project {
                p.action_push |= ctx.scenario.iut.fields.action_push;
                p.reset_discriminator |= ctx.scenario.iut.fields.reset_discriminator;
            }
        }
        let options = handshake_proton_judge::Options {
            server: Some(server),
            profile: judge::profile_view(profile.as_ref(), &ctx.scenario.setup.session),
            key_log: None,
            port: None,
            tolerance: handshake_quic_family::tolerance(ctx.tolerance),
        };
        let report =
            handshake_proton_judge::judge(capture, &options).map_err(FamilyError::harness)?;
        let violations = report
            .violations
            .into_iter()
            .filter(|v| judge::concerns(v.rule, ctx.role))
            .collect();
        Ok(ProtonReport::new(violations, report.damage, report.notes))
    }
    type Observations = ProtonObservations;
    fn observe(ctx: &ObserveCtx<'_, Self>, report: &ProtonReport) -> ProtonObservations {
        let mut o = observe::observe(ctx, report.notes.clone());
        if let (Some(ProtonNode::Client(c)), true) = (ctx.iut, o.client_ok.is_none()) {
            o.client_ok = c.verdict().map(|v| v.0);
        }
        o
    }

    fn validate_manifest(manifest: &Manifest) -> Result<(), handshake_scenario::Error> {
        launch::validate_manifest(manifest).map_err(handshake_scenario::Error::Manifest)
    }
    // Every reason a launch gives is why this program cannot run the scenario.
    fn launch(manifest: &Manifest, s: &ProtonScenario) -> Result<Launch, LaunchError> {
        launch::launch(manifest, s).map_err(LaunchError::unsupported)
    }
    fn launch_running(profile: &Profile, s: &ProtonScenario) -> Result<Launch, LaunchError> {
        launch::launch_running(profile, s).map_err(LaunchError::unsupported)
    }
    fn launched_profile(launch: &Launch) -> Option<Profile> {
        launch::launched_profile(launch)
    }

    fn mutants() -> Vec<handshake_scenario::ReferenceMutant> {
        Mutant::ALL
            .into_iter()
            .map(|m| handshake_scenario::ReferenceMutant {
                name: m.name(),
                base: m.base(),
                breaks: m.breaks(),
            })
            .collect()
    }

    const PROBING: handshake_scenario::Probing = probe::PROBING;
    const FUZZ: handshake_scenario::FuzzHooks = netfuzz::HOOKS;
    const FORMATS: &'static [handshake_scenario::WireFormat] =
        handshake_proton_wire::formats::FORMATS;
    const LEARNING: handshake_scenario::Learning = learning::LEARNING;
}

#[cfg(test)]
mod tests {
    use super::Answer;
    use serde_json::json;

    #[test]
    fn an_answer_is_made_of_what_the_iut_sent_and_left_out_before_it_sent_anything() {
        let answer = |v| Answer::parse(&v).map_err(|e| e.to_string());
        let echo = answer(json!({"iut_sent": "last"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(echo.value(Some((7, 1))), Some(7));
        assert_eq!(echo.value(None), None);
        let commit =
            answer(json!({"iut_sent": "last", "plus": 2})).unwrap_or_else(|e| panic!("{e}"));
        // Wrapping, as the as-coded server's answer to the largest requests.
        assert_eq!(commit.value(Some((u32::MAX, 1))), Some(1));
        let counter =
            answer(json!({"iut_sent": "count", "plus": -1})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(counter.value(Some((42, 1))), Some(0));
        assert_eq!(counter.value(Some((42, 3))), Some(2));
        let below =
            answer(json!({"iut_sent": "count", "plus": -5})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(below.value(Some((42, 3))), None);
        // Any K a file may hold, without overflowing.
        let huge = answer(json!({"iut_sent": "last", "plus": i64::MAX}));
        assert_eq!(huge.map(|a| a.value(Some((1, 1)))), Ok(Some(0)));
        let huge = answer(json!({"iut_sent": "count", "plus": i64::MAX}));
        assert_eq!(huge.map(|a| a.value(Some((1, 1)))), Ok(None));
        assert!(answer(json!({"iut_sent": "first"})).is_err());
        assert!(answer(json!({"iut_sent": "last", "times": 2})).is_err());
    }
}
