//! The Dark Tower family: WebTransport/QUIC video-conferencing signaling (Meeting Controller) and
//! media (Media Handler) as a plug-in of the generic harness. Its wire codec, endpoints and judge
//! are the sibling crates (`handshake-darktower-wire`, `-endpoint`, `-judge`); the transports are
//! `handshake-webtransport` (WebTransport over HTTP/3) and `handshake-quic` (bare QUIC).
//!
//! - The scenario vocabulary ([`format`](mod@format)): the `meeting`, which server an IUT `serves`, the
//!   harness's twists when it plays the servers for a client IUT (`peer`), the scripted
//!   participants' steps (`join`, `signal`, `authenticate`, `media`, `datagram`, `write`, `fin`,
//!   `reset`, `close`, `vanish`) and the outcome keys.
//! - Units from the harness's own endpoint ([`observe::unit`]): QUIC is encrypted, so what the IUT
//!   did is read where the harness decrypts it.
//! - Profiles ([`profile`]): `v1`/`v2` media, `+quic` (bare QUIC), `+raw` (unmapped reset codes).
#![forbid(unsafe_code)]

pub mod act;
pub mod check;
pub mod citations;
pub mod cli;
pub mod format;
pub mod interop;
pub mod kit;
pub mod launch;
pub mod learning;
pub mod netfuzz;
pub mod observe;
mod peer;
pub mod probe;
pub mod profile;
pub use peer::LoadMetrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_darktower_endpoint::{
    bare_sessions_with, quic_transport, Client, ClientConfig, Clock, Controller, ControllerConfig,
    DarkTowerEvent, DarkTowerNode, Handler, HandlerConfig, JoinMint, JoinTokenKind, Liveness,
    MeetingServer, Mutant, ScriptClient, Secret, Source, TransportKind, PATH_SIGNALING,
};
use handshake_darktower_wire::proto::signaling::ErrorCode;
use handshake_quic::session::{ResetCodes, Sessions};
use handshake_quic::{HostConfig, KeyLog, QuicHost, Seed};
use handshake_scenario::external::manifest::{Launch, Manifest};
use handshake_scenario::json::Seg;
use handshake_scenario::validate::Validator;
use handshake_scenario::{
    ActCtx, Family, FamilyError, JudgeCtx, LaunchError, ObserveCtx, ProfileError, Registered, Role,
    Scenario, Settle, Vocabulary,
};
use handshake_webtransport::{WtConfig, WtSessions};

use crate::format::{DarkTowerStep, ExpectFields, IutFields, PeerFields, Setup};
use crate::observe::DarkTowerObservations;
pub use crate::profile::Profile;

/// The token secret of in-process runs and the one external IUTs get (`{token_secret}`).
pub const TOKEN_SECRET: &str = "dark-tower-harness-secret";

/// The handler URL an IUT controller hands out (nobody connects to it in controller scenarios).
pub const IUT_CONTROLLER_HANDLER_URL: &str = "https://127.0.0.1:4434/media";

/// The Dark Tower family.
#[derive(Debug, Clone, Copy, Default)]
pub struct DarkTower;

/// Its entry in a registry of families.
pub static FAMILY: Registered<DarkTower> = Registered::new();

/// A Dark Tower scenario.
pub type DarkTowerScenario = Scenario<DarkTower>;

/// What the judge reports on a run.
pub type DarkTowerReport = handshake_quic_family::QuicReport;

/// The profile a scenario runs: the IUT's, with the scenario's `transport` and `reset_codes`.
pub fn effective(profile: &Profile, s: &DarkTowerScenario) -> Profile {
    let mut p = *profile;
    match s.setup.transport.as_deref() {
        Some("quic") => p.transport = TransportKind::Quic,
        Some("webtransport") => p.transport = TransportKind::WebTransport,
        _ => {}
    }
    match s.setup.reset_codes.as_deref() {
        Some("raw") => p.reset_codes = ResetCodes::Raw,
        Some("mapped") => p.reset_codes = ResetCodes::Mapped,
        _ => {}
    }
    p
}

/// Which server a responder IUT of `s` is: `controller`, `handler`, or `both` on one port. The
/// default: `both` when no scripted participant drives it (a reference client does, as in interop
/// cells), else `controller`.
pub fn serves(s: &DarkTowerScenario) -> &str {
    s.iut
        .fields
        .serves
        .as_deref()
        .unwrap_or(if s.peer.steps.is_empty() {
            "both"
        } else {
            "controller"
        })
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// A transport for one host of a run (`key_log`: where its TLS secrets go).
#[allow(clippy::too_many_arguments)]
pub fn transport(
    profile: &Profile,
    meeting: &format::Meeting,
    who: &str,
    seed: u64,
    server: bool,
    handler: bool,
    keep_alive: bool,
    reset_codes: ResetCodes,
    key_log: Arc<KeyLog>,
) -> Result<Box<dyn Sessions>, String> {
    let liveness = Liveness {
        idle: ms(meeting.idle_ms),
        keep_alive: ms(meeting.keepalive_ms),
    };
    let mut t = quic_transport(liveness, server, handler);
    if !server {
        t.keep_alive = (keep_alive && meeting.keepalive_ms > 0).then(|| ms(meeting.keepalive_ms));
    }
    let seed = Seed::derive(seed, who);
    Ok(match profile.transport {
        TransportKind::WebTransport => {
            let mut config = handshake_webtransport::host_config(seed, t, server);
            config.key_log = key_log;
            let host = QuicHost::new(&config).map_err(|e| e.to_string())?;
            // DT9 is a contract: codes are sent as the run says and read in either form.
            let wt = WtConfig {
                read_either: true,
                ..WtConfig::with_reset_codes(reset_codes)
            };
            Box::new(WtSessions::with_config(host, server, wt))
        }
        TransportKind::Quic => {
            // DH1's ALPNs are a contract: the IUT's, else every reasonable one.
            let alpns = profile.contract.bare_alpns();
            let host = QuicHost::new(&HostConfig {
                seed,
                alpn: alpns.server_list(),
                transport: t,
                server,
                key_log,
            })
            .map_err(|e| e.to_string())?;
            Box::new(bare_sessions_with(host, &alpns))
        }
    })
}

/// The URL scheme of a profile's transport.
pub fn scheme(profile: &Profile) -> &'static str {
    match profile.transport {
        TransportKind::WebTransport => "https",
        TransportKind::Quic => "quic",
    }
}

/// The reference client of a scenario.
pub fn client_config(
    s: &DarkTowerScenario,
    profile: &Profile,
    controller: SocketAddr,
) -> Result<ClientConfig, String> {
    client_config_for(&s.setup.meeting, &s.setup.meeting.name, profile, controller)
}

/// The reference client of a meeting plan, named `name`.
pub fn client_config_for(
    m: &format::Meeting,
    name: &str,
    profile: &Profile,
    controller: SocketAddr,
) -> Result<ClientConfig, String> {
    let kind = JoinTokenKind::parse(&m.join_token)
        .ok_or_else(|| format!("meeting.join_token `{}`", m.join_token))?;
    let sources = m
        .publish
        .iter()
        .map(|p| match p.as_str() {
            "video" => Ok(Source::VIDEO),
            "audio" => Ok(Source::AUDIO),
            other => Err(format!(
                "meeting.publish `{other}`: expected video or audio"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ClientConfig {
        controller,
        controller_path: PATH_SIGNALING.into(),
        meeting: m.id.clone(),
        join_token: String::new(),
        mint: Some(JoinMint {
            secret: Secret::new(TOKEN_SECRET),
            meeting: m.id.clone(),
            kind,
            subject: Some(name.to_owned()),
        }),
        name: name.to_owned(),
        sources,
        frames: m.frames,
        frame_interval: Duration::from_micros(1_000_000 / u64::from(m.fps.max(1))),
        payload_bytes: m.payload_bytes as usize,
        linger: ms(m.linger_ms),
        version: profile.version,
        clock: Clock::VIRTUAL,
        mutant: profile.mutant,
        media_not_before: None,
    })
}

fn controller_config(
    s: &DarkTowerScenario,
    profile: &Profile,
    handler_url: String,
) -> ControllerConfig {
    let m = &s.setup.meeting;
    ControllerConfig {
        meetings: vec![m.id.clone()],
        ended: m.ended.clone(),
        capacity: m.capacity,
        handler_url,
        secret: Secret::new(TOKEN_SECRET),
        clock: Clock::VIRTUAL,
        refuse_join: None,
        hold: false,
        mutant: profile.mutant,
    }
}

fn handler_config(profile: &Profile) -> HandlerConfig {
    HandlerConfig {
        secret: Secret::new(TOKEN_SECRET),
        clock: Clock::VIRTUAL,
        refuse_auth: false,
        hold: false,
        stop_media: None,
        mutant: profile.mutant,
    }
}

/// A controller and a handler on one port. The JoinResponse points back at it: in virtual time
/// the responder's fixed address, in real time `remote` (the harness's own socket until the IUT
/// speaks). `twists`: the harness facing a client IUT (the scenario's twists, no mutant).
fn meeting_server(
    t: Box<dyn Sessions>,
    s: &DarkTowerScenario,
    p: &Profile,
    remote: SocketAddr,
    twists: Option<&PeerFields>,
) -> DarkTowerNode {
    let own = if remote == handshake_scenario::engine::INITIATOR {
        handshake_scenario::engine::RESPONDER
    } else {
        remote
    };
    let mut controller = controller_config(s, p, format!("{}://{own}/media", scheme(p)));
    let mut handler = handler_config(p);
    if let Some(twists) = twists {
        controller.refuse_join = twists.refuse_join;
        controller.mutant = None;
        handler.refuse_auth = twists.refuse_auth;
        handler.stop_media = twists.stop_media;
        controller.hold = twists.hold;
        handler.hold = twists.hold;
        handler.mutant = None;
    }
    DarkTowerNode::Server(MeetingServer::new(t, controller, handler))
}

/// What Dark Tower's files may say and cite.
pub const VOCABULARY: Vocabulary = Vocabulary {
    role_names: ("client", "server"),
    rules: handshake_darktower_judge::rules::ALL,
    citations: citations::CITATIONS,
    features: format::FEATURES,
    units: observe::UNIT_KINDS,
    placeholders: launch::PLACEHOLDERS,
    flags: launch::FLAGS,
};

impl Family for DarkTower {
    const NAME: &'static str = "darktower";
    const VOCABULARY: &'static Vocabulary = &VOCABULARY;

    type Setup = Setup;
    type IutFields = IutFields;
    type PeerFields = PeerFields;
    type ExpectFields = ExpectFields;
    type Action = DarkTowerStep;
    type Datagrams = handshake_quic_family::QuicDatagrams;
    type Unit = observe::DarkTowerUnit;

    fn validate(s: &DarkTowerScenario, v: &mut Validator<'_>) {
        let at =
            |k: &'static str| handshake_scenario::validate::path(&[Seg::key("iut"), Seg::key(k)]);
        match (s.iut.role, s.iut.fields.serves.as_deref()) {
            (Role::Responder, None | Some("controller" | "handler" | "both")) => {}
            (Role::Responder, Some(other)) => v.problem(
                at("serves"),
                format!("`{other}`: a server IUT serves `controller`, `handler` or `both`"),
            ),
            (Role::Initiator, Some(_)) => {
                v.problem(at("serves"), "a client IUT serves nothing: drop `serves`")
            }
            (Role::Initiator, None) => {}
        }
        let steps = handshake_scenario::validate::path(&[Seg::key("peer"), Seg::key("steps")]);
        for action in s.peer.steps.iter().filter_map(|st| match st {
            handshake_scenario::format::Step::Action(a) => Some(a),
            _ => None,
        }) {
            let problem = match (s.iut.role, action) {
                (Role::Initiator, DarkTowerStep::Answer(a)) if !s.peer.fields.hold => Some(format!(
                    "`answer {}`: a request is held for an answer only with `peer.hold: true`",
                    a.to
                )),
                (Role::Initiator, DarkTowerStep::Answer(a)) if !matches!(a.to.as_str(), "join" | "auth") => {
                    Some(format!("`answer` to `{}`: expected join or auth", a.to))
                }
                (Role::Initiator, DarkTowerStep::Answer(_) | DarkTowerStep::Announce(_)) => None,
                (Role::Initiator, DarkTowerStep::Fin(f)) if f.on == "signaling" => None,
                (Role::Initiator, DarkTowerStep::Close(c)) if c.on == "signaling" => None,
                (Role::Initiator, other) => Some(format!(
                    "`{}`: facing a client IUT the harness is its meeting server: its steps are `answer`, `announce`, `fin` and `close` on signaling (and twists: `peer.refuse_join`, `refuse_auth`, `stop_media`)",
                    handshake_scenario::Action::label(other)
                )),
                (Role::Responder, DarkTowerStep::Answer(_) | DarkTowerStep::Announce(_)) => Some(
                    "`answer` and `announce` are the meeting server's, facing a client IUT; a server IUT faces scripted participants".to_owned(),
                ),
                (Role::Responder, _) => None,
            };
            if let Some(problem) = problem {
                v.problem(steps.clone(), problem);
            }
        }
        for (key, value, allowed) in [
            (
                "transport",
                &s.setup.transport,
                &["webtransport", "quic"][..],
            ),
            ("reset_codes", &s.setup.reset_codes, &["mapped", "raw"][..]),
        ] {
            if let Some(value) = value {
                if !allowed.contains(&value.as_str()) {
                    v.problem(
                        handshake_scenario::validate::path(&[Seg::key(key)]),
                        format!("`{value}`: expected one of {}", allowed.join(", ")),
                    );
                }
            }
        }
        if JoinTokenKind::parse(&s.setup.meeting.join_token).is_none() {
            v.problem(
                handshake_scenario::validate::path(&[Seg::key("meeting"), Seg::key("join_token")]),
                "expected valid, expired, forged, wrong_meeting or garbage",
            );
        }
    }
    fn validate_action(
        _: &DarkTowerScenario,
        action: &DarkTowerStep,
        at: &[Seg],
        v: &mut Validator<'_>,
    ) {
        if let DarkTowerStep::Write(w) = action {
            v.hex(
                handshake_scenario::validate::sub(at, &[Seg::key("write"), Seg::key("hex")]),
                &w.hex,
            );
        }
    }

    type Profile = Profile;
    type Node = DarkTowerNode;

    fn parse_profile(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text).map_err(ProfileError)
    }
    fn profile_features(profile: &Profile, _: Role) -> Vec<String> {
        vec![profile.base().to_owned()]
    }
    fn node(
        profile: &Profile,
        role: Role,
        s: &DarkTowerScenario,
        iut: bool,
        remote: SocketAddr,
        seed: u64,
        now: Instant,
    ) -> Result<DarkTowerNode, FamilyError> {
        let p = effective(profile, s);
        // A host of this run: its name (the seed's), whether it is the handler (flow-control
        // windows), whether a client keeps alive, its reset codes.
        let host = |who: &str, server: bool, handler: bool, keep_alive: bool, codes: ResetCodes| {
            transport(
                &p,
                &s.setup.meeting,
                who,
                seed,
                server,
                handler,
                keep_alive,
                codes,
                Arc::new(KeyLog::default()),
            )
            .map_err(FamilyError::harness)
        };
        let codes = p.wire_codes();
        Ok(match (role, iut) {
            (Role::Responder, true) if serves(s) == "handler" => {
                let t = host("handler", true, true, false, codes)?;
                DarkTowerNode::Handler(Handler::new(t, handler_config(&p)))
            }
            (Role::Responder, true) if serves(s) == "both" => {
                let t = host("meeting-server", true, true, false, codes)?;
                meeting_server(t, s, &p, remote, None)
            }
            (Role::Responder, true) => {
                let t = host("controller", true, false, false, codes)?;
                DarkTowerNode::Controller(Controller::new(
                    t,
                    controller_config(s, &p, IUT_CONTROLLER_HANDLER_URL.into()),
                ))
            }
            (Role::Responder, false) => {
                // The harness plays both servers on one port for a client IUT, with the scenario's
                // twists and none of the profile's mutants.
                let t = host("meeting-server", true, true, false, codes)?;
                meeting_server(t, s, &p, remote, Some(&s.peer.fields))
            }
            (Role::Initiator, _) => {
                let keep_alive = p.mutant != Some(Mutant::NoKeepAlive);
                let t = host("client", false, false, keep_alive, codes)?;
                DarkTowerNode::Client(Client::new(
                    t,
                    client_config(s, &p, remote).map_err(FamilyError::BadInput)?,
                    now,
                ))
            }
        })
    }
    fn script_node(
        s: &DarkTowerScenario,
        iut_profile: Option<&Profile>,
        remote: SocketAddr,
        seed: u64,
        now: Instant,
    ) -> Result<Option<DarkTowerNode>, FamilyError> {
        // The scripted participants speak the IUT's transport and reset codes (as the scenario
        // sets them); they write what the steps say, so no mutant of the IUT's applies.
        let mut p = effective(
            iut_profile.copied().as_ref().unwrap_or(&Profile::default()),
            s,
        );
        p.mutant = None;
        if s.iut.role == Role::Initiator {
            // A client IUT with no reference named faces the meeting server its steps drive.
            return Self::node(&p, Role::Responder, s, false, remote, seed, now).map(Some);
        }
        let t = transport(
            &p,
            &s.setup.meeting,
            "participants",
            seed,
            false,
            false,
            true,
            p.wire_codes(),
            Arc::new(KeyLog::default()),
        )
        .map_err(FamilyError::harness)?;
        let mut script = ScriptClient::new(t, remote);
        if p.transport == TransportKind::WebTransport {
            // WebTransport paths are a contract: the IUT's, else `/signaling` and `/media`.
            let (signaling, media) = p.contract.paths();
            script = script.with_paths(signaling, media);
        }
        Ok(Some(DarkTowerNode::Script(script)))
    }
    fn peer_profile(peer: &Profile, iut: &Profile) -> Profile {
        // The IUT's transport, codes and contract (the ALPNs its manifest says it speaks).
        Profile {
            transport: iut.transport,
            reset_codes: iut.reset_codes,
            contract: iut.contract,
            ..*peer
        }
    }
    /// Real time: the wall clock, and the harness's servers present the certificate whose hash
    /// an external client got as `{cert_hash}`.
    fn use_wall_clock(node: &mut DarkTowerNode, now: Instant) {
        node.set_clock(Clock::wall(now));
        if let (Some(t), Ok(id)) = (node.server_transport(), launch::identity()) {
            let identity = handshake_quic::Identity {
                cert: id.der.0.clone().into(),
                key_pkcs8: id.der.1.clone(),
            };
            // A failure leaves the seeded certificate: a pinning client then says why it stopped.
            let _ = t.host_mut().set_server_identity(identity);
        }
    }
    fn act(action: &DarkTowerStep, ctx: &mut ActCtx<'_, Self>) -> Result<(), FamilyError> {
        let now = ctx.now;
        let meeting = ctx.scenario.setup.meeting.id.clone();
        let acted = match ctx.peer.as_deref_mut() {
            Some(DarkTowerNode::Script(script)) => {
                act::act(action, script, now, &meeting, ctx.vars)
            }
            Some(DarkTowerNode::Server(server)) => act::act_on_client(action, server, now),
            _ => Err("Dark Tower steps drive the scripted participants or the meeting server facing a client IUT".to_owned()),
        };
        acted.map_err(FamilyError::BadInput)
    }
    handshake_quic_family::quic_hooks!(ending: DarkTowerEvent::SessionClosed { .. }, unit: observe::unit);
    fn settle(s: &DarkTowerScenario, _real_time: bool) -> Settle {
        // A client IUT finishes; servers serve forever; the scripted participants end with the
        // steps, a reference client when its meeting is done.
        Settle {
            iut: s.iut.role == Role::Initiator,
            // A server IUT facing a reference client (interop): until the client is done.
            peer: s.iut.role == Role::Responder && s.peer.steps.is_empty(),
            peer_tail: None,
        }
    }
    fn expected_ms(s: &DarkTowerScenario) -> u64 {
        let m = &s.setup.meeting;
        let media = u64::from(m.frames) * 1000 / u64::from(m.fps.max(1));
        media + m.linger_ms + 2_000
    }

    type Report = DarkTowerReport;
    fn judge(capture: &[u8], ctx: &JudgeCtx<'_, Self>) -> Result<DarkTowerReport, FamilyError> {
        judge::judge(capture, ctx).map_err(FamilyError::harness)
    }
    type Observations = DarkTowerObservations;
    fn observe(ctx: &ObserveCtx<'_, Self>, report: &DarkTowerReport) -> DarkTowerObservations {
        observe::observe(ctx, report.notes.clone())
    }

    fn validate_manifest(manifest: &Manifest) -> Result<(), handshake_scenario::Error> {
        launch::validate_manifest(manifest).map_err(handshake_scenario::Error::Manifest)
    }
    // Every reason a launch gives is why this program cannot run the scenario.
    fn launch(manifest: &Manifest, s: &DarkTowerScenario) -> Result<Launch, LaunchError> {
        launch::launch(manifest, s).map_err(LaunchError::unsupported)
    }
    fn launch_running(profile: &Profile, s: &DarkTowerScenario) -> Result<Launch, LaunchError> {
        launch::launch_running(profile, s).map_err(LaunchError::unsupported)
    }
    fn launched_profile(launch: &Launch) -> Option<Profile> {
        Profile::parse(&launch.profile).ok().map(|p| Profile {
            contract: launch::contract(launch),
            ..p
        })
    }

    fn mutants() -> Vec<handshake_scenario::ReferenceMutant> {
        Mutant::ALL
            .iter()
            .map(|m| handshake_scenario::ReferenceMutant {
                name: m.name(),
                base: if *m == Mutant::BadDatagramForwarded {
                    "v2"
                } else {
                    "v1"
                },
                breaks: m.breaks(),
            })
            .collect()
    }

    /// A meeting server is a controller and a handler: two programs of a manifest (its `{role}`).
    fn responder_parts(s: &DarkTowerScenario) -> Vec<(&'static str, DarkTowerScenario)> {
        if s.iut.role != Role::Responder || serves(s) != "both" {
            return Vec::new();
        }
        ["controller", "handler"]
            .map(|part| {
                let mut p = s.clone();
                p.iut.fields.serves = Some(part.to_owned());
                (part, p)
            })
            .to_vec()
    }
    /// The controller hands out the URL at which the initiator reaches the handler.
    fn connect_parts(part: &str, launch: &mut Launch, fronts: &[(&'static str, SocketAddr)]) {
        let (Some((_, handler)), "controller") =
            (fronts.iter().find(|(p, _)| *p == "handler"), part)
        else {
            return;
        };
        let profile = Self::launched_profile(launch).unwrap_or_default();
        let (_, media) = profile.contract.paths();
        // As the harness's own meeting server hands it out.
        let url = format!("{}://{handler}{media}", scheme(&profile));
        for (name, value) in &mut launch.values {
            if *name == "handler_url" {
                value.clone_from(&url);
            }
        }
    }
    const PROBING: handshake_scenario::Probing = probe::PROBING;
    const FUZZ: handshake_scenario::FuzzHooks = netfuzz::HOOKS;
    const FORMATS: &'static [handshake_scenario::WireFormat] =
        handshake_darktower_wire::formats::FORMATS;
    const LEARNING: handshake_scenario::Learning = learning::LEARNING;
}

/// Error codes by name, for messages.
pub fn error_name(code: i32) -> &'static str {
    ErrorCode::try_from(code).map_or("?", |c| c.as_str_name())
}

mod judge {
    //! The judge's face for runs: `handshake-darktower-judge` over the run's capture, judging only
    //! the IUT's side.
    use super::*;
    use handshake_darktower_judge::{Judged, Options, Transport};

    pub fn judge(capture: &[u8], ctx: &JudgeCtx<'_, DarkTower>) -> Result<DarkTowerReport, String> {
        let s = ctx.scenario;
        let profile = effective(&ctx.iut_profile.unwrap_or_default(), s);
        let judged = match (ctx.role, serves(s)) {
            (Role::Initiator, _) => Judged {
                client: true,
                ..Judged::NONE
            },
            (Role::Responder, "handler") => Judged {
                handler: true,
                ..Judged::NONE
            },
            (Role::Responder, "both") => Judged {
                controller: true,
                handler: true,
                ..Judged::NONE
            },
            (Role::Responder, _) => Judged {
                controller: true,
                ..Judged::NONE
            },
        };
        let options = Options {
            transport: Some(transport(profile.transport)),
            reset_codes: profile.reset_codes,
            key_log: None,
            // Token expiry is judged against capture time, which is the endpoints' clock only in
            // virtual time (real-time captures are stamped from the same fixed epoch).
            token_secret: ctx.tolerance.is_none().then(|| TOKEN_SECRET.to_owned()),
            // Real time: judged right after the capture ended, so its end is no later than now.
            judged_at_unix_s: ctx.tolerance.is_some().then(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            }),
            idle_timeout_ms: s.setup.meeting.idle_ms,
            tolerance: handshake_quic_family::tolerance(ctx.tolerance),
            judge: judged,
            capacity: Some(s.setup.meeting.capacity),
            // A server IUT of one role: every session to it is that role's, whatever its path or
            // ALPN (contracts, DH1).
            controller: (ctx.role == Role::Responder && serves(s) == "controller")
                .then_some(ctx.iut),
            handler: (ctx.role == Role::Responder && serves(s) == "handler").then_some(ctx.iut),
            port: None,
        };
        let report = handshake_darktower_judge::judge(capture, &options)?;
        Ok(DarkTowerReport::new(
            report.violations,
            report.damage,
            report.notes,
        ))
    }

    /// The judge's name for a profile's transport.
    fn transport(kind: TransportKind) -> Transport {
        match kind {
            TransportKind::WebTransport => Transport::WebTransport,
            TransportKind::Quic => Transport::Quic,
        }
    }

    /// The judge's options in `harness check` for `request` and Dark Tower's `args` (`--profile
    /// v1`, `v2+raw`, `v1+quic` …: the transport and the reset codes; default: each connection's
    /// transport from its ALPN, mapped codes).
    pub fn check_options(
        request: &handshake_check::CheckRequest,
        args: &crate::check::DarkTowerCheckArgs,
    ) -> Result<Options, handshake_quic_family::QuicInputError> {
        let (transport, reset_codes) = match request.profile.as_deref() {
            None => (None, ResetCodes::Mapped),
            Some(text) => {
                let p = Profile::parse(text)?;
                handshake_quic_family::check::refuse_mutant(p.mutant.is_some())?;
                (Some(transport(p.transport)), p.reset_codes)
            }
        };
        let judge = Judged::parse(&args.judge).ok_or_else(|| {
            format!(
                "--judge {}: expected all, or a list of controller, handler, client",
                args.judge
            )
        })?;
        Ok(Options {
            transport,
            reset_codes,
            key_log: handshake_quic_family::hooks::check_key_log(request)?,
            token_secret: args.token_secret.clone(),
            judged_at_unix_s: None,
            idle_timeout_ms: args.idle_ms,
            tolerance: request.tolerance,
            judge,
            capacity: args.capacity,
            controller: args.controller.or(request.responder),
            handler: args.handler,
            port: request.port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems of a scenario with this `iut` and `peer`.
    fn problems(iut: &str, peer: &str) -> Vec<String> {
        let text = format!(
            r#"{{"id": "t", "title": "t", "protocol": "darktower", "iut": {iut}, "peer": {peer},
                "expect": {{"rules_hold": ["all"]}}}}"#
        );
        let s: DarkTowerScenario = match handshake_scenario::json::from_str(&text) {
            Ok(s) => s,
            Err(e) => return vec![format!("does not parse: {e}")],
        };
        handshake_scenario::validate::problems(&s)
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    /// The meeting server's steps face a client IUT (and an answer needs requests held); the
    /// scripted participants' face a server IUT.
    #[test]
    fn the_meeting_server_s_steps_are_a_client_iut_s_only() {
        let client = r#"{"role": "client"}"#;
        assert_eq!(
            problems(
                client,
                r#"{"hold": true, "steps": [{"answer": {"to": "join"}}, {"answer": {"to": "auth", "error": 2}},
                    {"announce": {}}, {"fin": {"on": "signaling"}}, {"close": {"on": "signaling"}}]}"#
            ),
            Vec::<String>::new()
        );
        let said = |iut: &str, peer: &str, what: &str| {
            let p = problems(iut, peer);
            assert!(p.iter().any(|m| m.contains(what)), "{what}: {p:?}");
        };
        said(
            client,
            r#"{"steps": [{"answer": {"to": "join"}}]}"#,
            "peer.hold: true",
        );
        said(
            client,
            r#"{"hold": true, "steps": [{"answer": {"to": "publish"}}]}"#,
            "expected join or auth",
        );
        said(
            client,
            r#"{"steps": [{"join": {"participant": 0}}]}"#,
            "its meeting server",
        );
        said(
            r#"{"role": "server"}"#,
            r#"{"steps": [{"announce": {}}]}"#,
            "facing a client IUT",
        );
    }

    /// Tokens minted in virtual time expire against the capture's clock: the two epochs agree.
    #[test]
    fn virtual_clock_is_the_capture_epoch() {
        assert_eq!(
            Clock::VIRTUAL.epoch_us_at_zero * 1_000,
            handshake_capture::trace::DEFAULT_EPOCH_NS
        );
    }
}
