//! The media-stream family: the ctsTraffic UDP media stream (legacy `START` discovery and the 3-way
//! `SYN`/`SYN-ACK`/`ACK` handshake) as a plug-in of the generic harness. Its wire codec, endpoints and
//! judge are the sibling crates (`handshake-mediastream-wire`, `-endpoint`, `-judge`); this crate is
//! what the core asks of a family ([`handshake_scenario::Family`]):
//!
//! - the scenario vocabulary ([`format`](mod@format)): `stream`, `iut.session_limit`, `peer.stream`, the `send`
//!   step, the `expect` keys `negotiated_mode`, `metrics`, `validation_errors`, `stream_complete`;
//! - the reference endpoints as run nodes ([`node`]) and the datagrams a `send` builds ([`build`]);
//! - units: one decoded datagram per unit, as the IUT sent it;
//! - the judge (the media-stream checker), observations ([`observe`]) and transcript;
//! - how external IUTs are started ([`launch`]).
#![forbid(unsafe_code)]

pub mod build;
pub mod citations;
pub mod cli;
pub mod format;
pub mod golden;
pub mod interop;
pub mod kit;
pub mod ladder;
pub mod launch;
pub mod learning;
pub mod mutants;
pub mod netfuzz;
pub mod node;
pub mod observe;
pub mod pair;
pub mod probe;
pub mod transcript;
mod validate;

use std::net::SocketAddr;
use std::time::Duration;

use handshake_capture::UdpDatagram;
use handshake_core::Instant;
use handshake_mediastream_endpoint::{Direction, Profile, ProfileKind};
use handshake_mediastream_judge::{CheckOptions, Report};
use handshake_mediastream_wire::{decoded_fields, kind_name, Kind};
use handshake_net::SimEvent;
use handshake_scenario::external::manifest::{Launch, Manifest};
use handshake_scenario::json::Seg;
use handshake_scenario::outcome::TranscriptLine;
use handshake_scenario::validate::Validator;
use handshake_scenario::{
    ActCtx, Datagrams, Event, Family, FamilyError, JudgeCtx, Judged, LaunchError, ObserveCtx,
    ProfileError, Registered, Role, Scenario, Settle, Vocabulary,
};

use crate::format::{ExpectFields, IutFields, MediaStep, PeerFields, Setup};
use crate::node::Node;
use crate::observe::MediaObservations;

/// The media-stream family.
#[derive(Debug, Clone, Copy, Default)]
pub struct MediaStream;

/// Its entry in a registry of families.
pub static FAMILY: Registered<MediaStream> = Registered::new();

/// A media-stream scenario.
pub type MediaScenario = Scenario<MediaStream>;

/// Loads and validates a media-stream scenario file (the loader's errors, with file:line:column).
pub fn load(path: &std::path::Path) -> Result<MediaScenario, handshake_scenario::LoadError> {
    static ONLY: handshake_scenario::Families = handshake_scenario::Families(&[&FAMILY]);
    ONLY.load_typed::<MediaStream>(path)
}

/// The features a reference profile has in a role.
pub fn profile_features(profile: &Profile, role: Role) -> Vec<String> {
    let mut f = vec!["restart"];
    match profile.kind {
        ProfileKind::Legacy => f.extend(["legacy_start", "push"]),
        ProfileKind::UdpPush => f.extend(["legacy_start", "udp_push"]),
        ProfileKind::ThreeWay => {
            f.extend(["three_way", "push"]);
            if profile.request_options && role == Role::Initiator {
                f.push("request_options");
            }
            if profile.allow_legacy_start && role == Role::Responder {
                f.extend(["allow_legacy_start", "legacy_start"]);
            }
            if profile.optimistic_start && role == Role::Responder {
                f.push("optimistic_start");
            }
            if profile.fallback_to_legacy && role == Role::Initiator {
                f.push("fallback_to_legacy");
            }
        }
    }
    f.into_iter().map(str::to_owned).collect()
}

/// The features a scenario requires: `iut.requires`, plus `push` when the stream is pushed.
pub fn required_features(s: &MediaScenario) -> Vec<String> {
    let mut f = s.iut.requires.clone();
    if s.setup.stream.direction == Direction::Push && !f.iter().any(|x| x == "push") {
        f.push("push".into());
    }
    f
}

/// What the judge is told of a run: the responder's profile (the IUT's, or its peer's when the
/// IUT initiates), the roles, and in real time the harness's tolerance.
fn check_options(ctx: &JudgeCtx<'_, MediaStream>) -> CheckOptions {
    let responder_profile = match ctx.role {
        Role::Responder => ctx.iut_profile,
        Role::Initiator => ctx.peer_profile,
    }
    .unwrap_or(Profile::new(ProfileKind::ThreeWay));
    let mut options = CheckOptions::for_stream(responder_profile, &ctx.scenario.setup.stream);
    options.initiator_profile = match ctx.role {
        Role::Responder => ctx.peer_profile,
        Role::Initiator => ctx.iut_profile,
    };
    // The roles are told, in virtual time too: inferred from the datagrams, they come out reversed
    // when the harness speaks first with a responder's datagram (a script opening with a SYN-ACK),
    // and the run is judged as if the IUT were the other side.
    options.responder = Some(match ctx.role {
        Role::Responder => ctx.iut,
        Role::Initiator => ctx.peer,
    });
    if let Some(tolerance) = ctx.tolerance {
        // Real time: the SYN schedule allows the harness's tolerance.
        options.tolerance = options.tolerance.at_least(tolerance);
    }
    options
}

/// The unit kinds (every datagram kind, and `malformed`), each with its decoded fields: what the
/// wire's serialization writes.
const UNITS: &[(&str, &[&str])] = &[
    (Kind::Start.name(), decoded_fields(Some(Kind::Start))),
    (
        Kind::ConnectionId.name(),
        decoded_fields(Some(Kind::ConnectionId)),
    ),
    (Kind::Data.name(), decoded_fields(Some(Kind::Data))),
    (Kind::DataFrag.name(), decoded_fields(Some(Kind::DataFrag))),
    (Kind::Syn.name(), decoded_fields(Some(Kind::Syn))),
    (Kind::SynAck.name(), decoded_fields(Some(Kind::SynAck))),
    (Kind::Ack.name(), decoded_fields(Some(Kind::Ack))),
    ("malformed", decoded_fields(None)),
];

/// What the media stream's files may say and cite.
pub const VOCABULARY: Vocabulary = Vocabulary {
    role_names: ("initiator", "responder"),
    rules: handshake_mediastream_judge::rules::ALL,
    citations: citations::CITATIONS,
    features: format::FEATURES,
    units: UNITS,
    placeholders: launch::PLACEHOLDERS,
    flags: launch::FLAGS,
};

/// Media-stream datagrams: one datagram is one message, read without state.
#[derive(Debug, Clone, Copy, Default)]
pub struct MediaDatagrams;

impl Datagrams for MediaDatagrams {
    /// A fault's `kind` selects datagrams by their unit kind.
    const CLASSES: &'static [&'static str] = &[
        UNITS[0].0, UNITS[1].0, UNITS[2].0, UNITS[3].0, UNITS[4].0, UNITS[5].0, UNITS[6].0,
        UNITS[7].0,
    ];
    fn classify(payload: &[u8]) -> &'static str {
        kind_name(payload)
    }
    fn describe(payload: &[u8]) -> handshake_scenario::DatagramLabel {
        ladder::describe(payload)
    }
}

/// Runs one kept responder serves at once (`harness fuzz --keep-iut`): measured with
/// `make bench-netfuzz` (docs/src/benchmarks.md).
const SESSIONS_PER_RESPONDER: usize = 8;

impl Family for MediaStream {
    const NAME: &'static str = "mediastream";
    const VOCABULARY: &'static Vocabulary = &VOCABULARY;

    type Setup = Setup;
    type IutFields = IutFields;
    type PeerFields = PeerFields;
    type ExpectFields = ExpectFields;
    type Action = MediaStep;
    type Datagrams = MediaDatagrams;
    type Unit = build::MediaUnit;

    fn validate(s: &MediaScenario, v: &mut Validator<'_>) {
        validate::scenario(s, v);
    }
    fn validate_action(s: &MediaScenario, action: &MediaStep, at: &[Seg], v: &mut Validator<'_>) {
        validate::step(s, action, at, v);
    }
    fn required_features(s: &MediaScenario) -> Vec<String> {
        required_features(s)
    }

    type Profile = Profile;
    type Node = Node;

    fn parse_profile(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text).map_err(|e| ProfileError(e.to_string()))
    }
    fn profile_features(profile: &Profile, role: Role) -> Vec<String> {
        profile_features(profile, role)
    }
    fn node(
        profile: &Profile,
        role: Role,
        s: &MediaScenario,
        iut: bool,
        remote: SocketAddr,
        seed: u64,
        now: Instant,
    ) -> Result<Node, FamilyError> {
        let mut profile = *profile;
        let config = if iut {
            if let Some(limit) = s.iut.fields.session_limit {
                profile.session_limit = Some(limit);
            }
            s.setup.stream
        } else {
            s.peer.fields.stream.unwrap_or(s.setup.stream)
        };
        Node::reference(profile, role, config, remote, seed, now).map_err(FamilyError::BadInput)
    }
    /// No reference peer: a sink takes the IUT's datagrams (the script's come from the harness).
    fn script_node(
        _: &MediaScenario,
        _: Option<&Profile>,
        _: SocketAddr,
        _: u64,
        _: Instant,
    ) -> Result<Option<Node>, FamilyError> {
        Ok(Some(Node::Sink))
    }
    fn unit_of_datagram(payload: &[u8]) -> Option<build::MediaUnit> {
        Some(build::MediaUnit::of_datagram(payload))
    }
    fn act(action: &MediaStep, ctx: &mut ActCtx<'_, Self>) -> Result<(), FamilyError> {
        match action {
            MediaStep::Send(send) => {
                let datagrams = build::Builder { vars: ctx.vars }
                    .build(&send.datagram, &ctx.scenario.setup.stream, ctx.now)
                    .map_err(FamilyError::BadInput)?;
                let truncated = |mut bytes: Vec<u8>| {
                    if let Some(len) = send.truncate_to {
                        bytes.truncate(len);
                    }
                    (send.from_port, bytes)
                };
                // Copies for all but the last time; the last takes the built datagrams.
                for _ in 1..send.times.max(1) {
                    ctx.send.extend(datagrams.iter().cloned().map(truncated));
                }
                ctx.send.extend(datagrams.into_iter().map(truncated));
                Ok(())
            }
        }
    }
    fn is_ending(event: &Event<Self>) -> bool {
        matches!(event, handshake_mediastream_endpoint::Event::Ended { .. })
    }
    fn settle(s: &MediaScenario, real_time: bool) -> Settle {
        let stream = &s.setup.stream;
        let push = stream.direction == Direction::Push;
        let initiator_iut = s.iut.role == Role::Initiator;
        if real_time {
            // A reference initiator finishes; an initiator IUT exits, and in push the reference
            // responder that receives ends its session once the stream is in.
            return Settle {
                iut: initiator_iut,
                peer: !initiator_iut,
                peer_tail: (initiator_iut && push).then(|| {
                    stream.frame_offset(stream.initial_buffer_frames()) + Duration::from_millis(100)
                }),
            };
        }
        // The initiator finishes; in push the receiving responder, too, ends its session once the
        // stream is in.
        Settle {
            iut: initiator_iut || push,
            peer: !initiator_iut || push,
            peer_tail: None,
        }
    }
    fn expected_ms(s: &MediaScenario) -> u64 {
        let stream = &s.setup.stream;
        u64::from(stream.stream_length_secs + stream.buffer_depth_secs) * 1000
    }

    type Report = Report;
    fn judge(capture: &[u8], ctx: &JudgeCtx<'_, Self>) -> Result<Report, FamilyError> {
        handshake_mediastream_judge::check_capture(capture, None, check_options(ctx))
            .map(|v| v.report)
            .map_err(|e| FamilyError::harness(e.to_string()))
    }
    type Observations = MediaObservations;
    fn observe(ctx: &ObserveCtx<'_, Self>, report: &Report) -> MediaObservations {
        observe::observe(ctx, report)
    }
    fn transcript(
        capture: &[u8],
        events: &[SimEvent<Event<Self>>],
        iut: SocketAddr,
        markers: &[(Instant, String)],
    ) -> Vec<TranscriptLine> {
        transcript::transcript(capture, events, iut, markers)
    }
    fn judge_datagrams(
        datagrams: &[UdpDatagram<'_>],
        events: &[SimEvent<Event<Self>>],
        markers: &[(Instant, String)],
        ctx: &JudgeCtx<'_, Self>,
    ) -> Option<Result<Judged<Self>, FamilyError>> {
        let checker = handshake_mediastream_judge::Checker::new(check_options(ctx));
        let report = handshake_check::judge_datagrams(datagrams, checker);
        let transcript = transcript::transcript_of(
            datagrams,
            events,
            ctx.iut,
            markers,
            transcript::Lines::OfTheIut,
        );
        Some(Ok((report, transcript)))
    }

    fn validate_manifest(manifest: &Manifest) -> Result<(), handshake_scenario::Error> {
        launch::validate_manifest(manifest).map_err(handshake_scenario::Error::Manifest)
    }
    /// A responder serves each tuple as a session of its own (D3); a run's sessions count against
    /// another's only under a session limit (D4).
    fn sessions_per_process(s: &MediaScenario) -> usize {
        if s.iut.fields.session_limit.is_some() {
            1
        } else {
            SESSIONS_PER_RESPONDER
        }
    }
    // Every reason a launch gives is why this program cannot run the scenario.
    fn launch(manifest: &Manifest, s: &MediaScenario) -> Result<Launch, LaunchError> {
        launch::launch(manifest, s).map_err(LaunchError::unsupported)
    }
    fn launch_running(profile: &Profile, s: &MediaScenario) -> Result<Launch, LaunchError> {
        launch::launch_running(profile, s).map_err(LaunchError::unsupported)
    }
    fn launched_profile(launch: &Launch) -> Option<Profile> {
        launch::launched_profile(launch)
    }

    fn mutants() -> Vec<handshake_scenario::ReferenceMutant> {
        mutants::all()
    }

    const PROBING: handshake_scenario::Probing = probe::PROBING;
    const LEARNING: handshake_scenario::Learning = learning::LEARNING;
    const FUZZ: handshake_scenario::FuzzHooks = netfuzz::HOOKS;
    const FORMATS: &'static [handshake_scenario::WireFormat] =
        handshake_mediastream_wire::formats::FORMATS;
}
