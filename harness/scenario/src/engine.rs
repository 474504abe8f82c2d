//! The scenario engine for in-process reference IUTs, in virtual time: builds the IUT and the peer
//! on the virtual link, runs the steps between simulation advances, then captures the traffic as the
//! IUT saw it, checks it, and judges the outcome expectations.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::{Endpoint, Instant, Transmit};
use handshake_mediastream_endpoint::{
    Direction as MediaDirection, DropReason, Event, Initiator, Metrics, Peer, Phase, Profile,
    ProfileKind, Responder, StreamConfig,
};
use handshake_mediastream_judge::{check_capture, CheckOptions};
use handshake_mediastream_wire::{kind_name, Datagram, Mode};
use handshake_net::{
    DatagramId, FaultRule, LinkConfig, LinkEvent, Predicate, RunLimits, Simulation, VirtualLink,
};

use crate::model::{Direction, FaultSpec, Feature, Role, Scenario};
use crate::outcome::{judge, Observed, ScenarioOutcome, TranscriptLine};
use crate::script::{block_on_ready, run_steps, Driver, Script};

/// The initiator's address in scenario runs.
pub const INITIATOR: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    50000,
);
/// The responder's address in scenario runs.
pub const RESPONDER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    4444,
);

/// Features a reference profile has in a role.
pub fn reference_features(profile: &Profile, role: Role) -> Vec<Feature> {
    let mut f = vec![Feature::Restart];
    match profile.kind {
        ProfileKind::Legacy => f.extend([Feature::LegacyStart, Feature::Push]),
        ProfileKind::UdpPush => f.extend([Feature::LegacyStart, Feature::UdpPush]),
        ProfileKind::ThreeWay => {
            f.extend([Feature::ThreeWay, Feature::Push]);
            if profile.request_options && role == Role::Initiator {
                f.push(Feature::RequestOptions);
            }
            if profile.allow_legacy_start && role == Role::Responder {
                f.extend([Feature::AllowLegacyStart, Feature::LegacyStart]);
            }
            if profile.optimistic_start && role == Role::Responder {
                f.push(Feature::OptimisticStart);
            }
            if profile.fallback_to_legacy && role == Role::Initiator {
                f.push(Feature::FallbackToLegacy);
            }
        }
    }
    f
}

/// A node of the simulation: a media endpoint (the IUT or the reference peer) or a silent sink that
/// stands for a scripted peer (what it receives is read from the link trace).
#[derive(Debug)]
enum Node {
    Media(Box<Peer>),
    Sink,
}

impl Endpoint for Node {
    type Event = Event;
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        if let Node::Media(p) = self {
            p.handle_datagram(now, source, payload);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        if let Node::Media(p) = self {
            p.handle_timeout(now);
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Node::Media(p) => p.poll_transmit(),
            Node::Sink => None,
        }
    }
    fn poll_event(&mut self) -> Option<Event> {
        match self {
            Node::Media(p) => p.poll_event(),
            Node::Sink => None,
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Node::Media(p) => p.poll_timeout(),
            Node::Sink => None,
        }
    }
    /// A responder is done when it has no live session (for the settle phase of a push run,
    /// where the responder receives: it ends its session once the stream is in).
    fn is_finished(&self) -> bool {
        match self {
            Node::Media(p) => match p.as_responder() {
                Some(r) => r.session_count() == 0,
                None => p.is_finished(),
            },
            Node::Sink => true,
        }
    }
}

fn media_node(
    profile: Profile,
    role: Role,
    config: StreamConfig,
    seed: u64,
) -> Result<Node, String> {
    Ok(Node::Media(Box::new(match role {
        Role::Initiator => {
            let mut i = Initiator::new(profile, config, RESPONDER).map_err(|e| e.to_string())?;
            i.connect(Instant::ZERO);
            Peer::Initiator(i)
        }
        Role::Responder => {
            Peer::Responder(Responder::new(profile, config, seed).map_err(|e| e.to_string())?)
        }
    })))
}

/// Turns a scenario fault into a link rule between the IUT and the peer.
pub fn fault_rule(id: u32, spec: &FaultSpec, iut: SocketAddr, peer: SocketAddr) -> FaultRule {
    let mut when = Predicate::any();
    match spec.direction {
        Direction::ToIut => when = when.from(peer).to(iut),
        Direction::FromIut => when = when.from(iut).to(peer),
        Direction::Both => {}
    }
    if let Some(kind) = &spec.kind {
        when = when.kind(kind.clone());
    }
    if let Some(nth) = spec.nth {
        when = when.nth(nth);
    }
    if let Some(p) = spec.probability {
        when = when.probability(p);
    }
    FaultRule::new(id, when, spec.action.clone())
}

/// The virtual-time driver of the step interpreter.
struct VirtualDriver {
    sim: Simulation<Node>,
    iut: SocketAddr,
    peer: SocketAddr,
    /// Steps left before the run is declared livelocked.
    steps_left: u64,
}

impl VirtualDriver {
    fn livelocked(&self) -> bool {
        self.steps_left == 0
    }
}

impl Driver for VirtualDriver {
    fn now(&self) -> Instant {
        self.sim.now()
    }
    fn trace(&self) -> &[LinkEvent] {
        self.sim.trace()
    }
    fn iut(&self) -> Option<SocketAddr> {
        Some(self.iut)
    }
    fn slack(&self) -> Duration {
        Duration::ZERO
    }
    fn iut_gone(&self) -> Option<String> {
        self.livelocked().then(|| {
            format!("the simulation did not settle within {STEP_LIMIT} steps (a livelock)")
        })
    }
    fn fault_rule(&self, id: u32, spec: &FaultSpec) -> FaultRule {
        fault_rule(id, spec, self.iut, self.peer)
    }
    fn add_rule(&mut self, rule: FaultRule) -> Result<(), String> {
        self.sim
            .link_mut()
            .add_rule(rule)
            .map_err(|e| format!("{e:?}"))
    }
    async fn peer_address(&mut self, port: Option<u16>) -> Result<SocketAddr, String> {
        Ok(on_port(self.peer, port))
    }
    async fn inject(&mut self, from: SocketAddr, payload: Vec<u8>) -> Result<DatagramId, String> {
        Ok(self.sim.inject(from, self.iut, payload))
    }
    async fn collect(&mut self) {
        self.sim.drain_endpoints();
    }
    async fn advance(&mut self, deadline: Instant, wake_on_iut: bool) -> bool {
        if self.livelocked() {
            return false;
        }
        let next = self.sim.next_work_time();
        if !wake_on_iut || next.is_none_or(|t| t > deadline) {
            let before = self.sim.steps();
            self.sim.run_until(deadline, self.steps_left);
            let taken = self.sim.steps().saturating_sub(before);
            self.steps_left = self.steps_left.saturating_sub(taken);
            return false;
        }
        self.steps_left = self.steps_left.saturating_sub(1);
        self.sim.step()
    }
}

/// Runs `scenario` against the reference profile `iut` in virtual time.
pub fn run_reference(
    scenario: &Scenario,
    iut_name: &str,
    iut: Profile,
    seed: u64,
) -> ScenarioOutcome {
    let role = scenario.iut.role;
    let features = reference_features(&iut, role);
    if let Some(missing) = scenario
        .required_features()
        .iter()
        .find(|f| !features.contains(f))
    {
        return ScenarioOutcome::unsupported(
            scenario,
            iut_name,
            format!("the IUT lacks {missing:?}"),
        );
    }
    let mut iut = iut;
    if let Some(limit) = scenario.iut.session_limit {
        iut.session_limit = Some(limit);
    }
    match run_virtual(scenario, iut_name, iut, seed) {
        Ok(outcome) => outcome,
        Err(e) => ScenarioOutcome::error(scenario, iut_name, e),
    }
}

fn run_virtual(
    scenario: &Scenario,
    iut_name: &str,
    iut: Profile,
    seed: u64,
) -> Result<ScenarioOutcome, String> {
    let role = scenario.iut.role;
    let config = scenario.stream;
    config.validate().map_err(|e| format!("stream: {e}"))?;
    let (iut_addr, peer_addr) = match role {
        Role::Initiator => (INITIATOR, RESPONDER),
        Role::Responder => (RESPONDER, INITIATOR),
    };
    let peer_role = match role {
        Role::Initiator => Role::Responder,
        Role::Responder => Role::Initiator,
    };
    let peer_profile = scenario
        .peer
        .reference
        .as_deref()
        .map(Profile::parse)
        .transpose()
        .map_err(|e| format!("peer: {e}"))?;
    let rules: Vec<FaultRule> = scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| fault_rule(i as u32 + 1, f, iut_addr, peer_addr))
        .collect();
    let link = VirtualLink::new(LinkConfig::with_seed(seed))
        .with_classifier(kind_name)
        .with_rules(rules)
        .map_err(|e| format!("faults: {e:?}"))?;
    let mut sim: Simulation<Node> = Simulation::new(link);
    // The responder first: an initiator's opening datagram must find it.
    let iut_node = media_node(iut, role, config, seed)?;
    let peer_node = match peer_profile {
        Some(p) => media_node(p, peer_role, scenario.peer_stream(), seed ^ 0x5eed)?,
        None => Node::Sink,
    };
    let (first, second) = match role {
        Role::Responder => ((iut_addr, iut_node), (peer_addr, peer_node)),
        Role::Initiator => ((peer_addr, peer_node), (iut_addr, iut_node)),
    };
    sim.add_endpoint(first.0, first.1)
        .map_err(|e| format!("{e:?}"))?;
    sim.add_endpoint(second.0, second.1)
        .map_err(|e| format!("{e:?}"))?;

    let mut script = Script::default();
    let mut driver = VirtualDriver {
        sim,
        iut: iut_addr,
        peer: peer_addr,
        steps_left: STEP_LIMIT,
    };
    let origin = driver.now();
    block_on_ready(run_steps(&mut driver, &mut script, scenario, origin))?;
    let mut sim = driver.sim;
    // What the last step sent reaches the IUT (one link latency) whatever else ends the run.
    let last_step = sim.now();
    let latency = Duration::from_millis(sim.link().config().latency_ms);
    sim.run_until(last_step + latency, STEP_LIMIT);
    // Let the stream run to its end: the initiator finishes; in push the receiving responder, too,
    // ends its session once the stream is in.
    let end = sim.now() + Duration::from_millis(scenario.settle_ms);
    let (initiator_addr, responder_addr) = match role {
        Role::Initiator => (iut_addr, peer_addr),
        Role::Responder => (peer_addr, iut_addr),
    };
    let mut until = vec![initiator_addr];
    if config.direction == MediaDirection::Push {
        until.push(responder_addr);
    }
    let limits = RunLimits::until_finished(until)
        .max_time(end)
        .max_steps(STEP_LIMIT);
    sim.run(&limits);
    sim.drain_endpoints();
    // What the link still holds never arrived: record it, so the capture loses nothing.
    let end = sim.now();
    sim.link_mut().end_run(end);

    // Observations.
    let events = sim.take_events();
    let (link, endpoints) = sim.into_parts();
    let pushing = config.direction == MediaDirection::Push;
    let mut media_metrics: Option<Metrics> = None;
    let mut initiator_complete: Option<bool> = None;
    let mut iut_drops: BTreeMap<DropReason, u64> = BTreeMap::new();
    for (addr, node) in &endpoints {
        if let Node::Media(peer) = node {
            if let Some(i) = peer.as_initiator() {
                if !pushing {
                    media_metrics = Some(i.metrics().clone());
                }
                initiator_complete =
                    Some(i.phase() == Phase::Finished && i.metrics().failure.is_none());
                if *addr == iut_addr {
                    iut_drops = i.metrics().validation_errors.clone();
                }
            }
            if let (Some(r), true) = (peer.as_responder(), pushing) {
                // Push: the receiving session still live at the end (one that ended is below).
                if let Some((_, m)) = r.sessions().next() {
                    media_metrics = Some(m.clone());
                }
            }
            if let (Some(r), true) = (peer.as_responder(), *addr == iut_addr) {
                for (reason, n) in &r.stray_metrics().validation_errors {
                    *iut_drops.entry(*reason).or_default() += n;
                }
                for (_, m) in r.sessions() {
                    for (reason, n) in &m.validation_errors {
                        *iut_drops.entry(*reason).or_default() += n;
                    }
                }
            }
        }
    }
    for e in events.iter().filter(|e| e.endpoint == responder_addr) {
        if let Event::Ended { metrics, .. } = &e.event {
            if role == Role::Responder {
                for (reason, n) in &metrics.validation_errors {
                    *iut_drops.entry(*reason).or_default() += n;
                }
            }
            if pushing && media_metrics.is_none() {
                media_metrics = Some((**metrics).clone());
            }
        }
    }
    let trace = link.trace().to_vec();
    let annotations = script.annotations.clone();
    let annotate = move |id: DatagramId| annotations.get(&id).cloned();
    let options = handshake_capture::TraceOptions {
        annotate: Some(&annotate),
        not_delivered_delay_ns: link.config().latency_ms.saturating_mul(1_000_000),
        ..handshake_capture::TraceOptions::default()
    };
    let mut writer =
        handshake_capture::CaptureWriter::new(Vec::new()).map_err(|e| e.to_string())?;
    handshake_capture::write_trace(&trace, iut_addr, &options, &mut writer)
        .map_err(|e| e.to_string())?;
    let capture = writer.finish().map_err(|e| e.to_string())?;
    let responder_profile = match role {
        Role::Responder => iut,
        Role::Initiator => peer_profile.unwrap_or(Profile::new(ProfileKind::ThreeWay)),
    };
    let check = CheckOptions::for_stream(responder_profile, &config);
    let verdict = check_capture(&capture, None, check).map_err(|e| e.to_string())?;
    let transcript = transcript(&capture, &events, iut_addr, &script.markers);
    let observed = Observed {
        media_metrics,
        initiator_complete,
        iut_drops: Some(
            iut_drops
                .into_iter()
                .map(|(r, n)| (r.name().to_owned(), n))
                .collect(),
        ),
        step_failures: std::mem::take(&mut script.failures),
        ..Observed::from_check(&verdict.report)
    };
    Ok(judge(scenario, iut_name, observed, transcript, capture))
}

/// Bound on simulation steps in one run (a livelocked IUT cannot hang the engine).
const STEP_LIMIT: u64 = 20_000_000;

fn on_port(peer: SocketAddr, port: Option<u16>) -> SocketAddr {
    SocketAddr::new(peer.ip(), port.unwrap_or(peer.port()))
}

/// The transcript: the capture (as the IUT saw it) decoded, with the IUT's events and the step
/// markers, in time order; runs of DATA in one direction are folded into one line.
pub(crate) fn transcript(
    capture: &[u8],
    events: &[handshake_net::SimEvent<Event>],
    iut: SocketAddr,
    markers: &[(Instant, String)],
) -> Vec<TranscriptLine> {
    let epoch = handshake_capture::trace::DEFAULT_EPOCH_NS;
    let mut lines: Vec<(u64, u8, String)> = Vec::new();
    if let Ok(reader) = handshake_capture::open(capture) {
        for udp in reader.flatten() {
            let t = udp.timestamp_ns.saturating_sub(epoch);
            let arrow = if udp.src == iut { "IUT ->" } else { "IUT <-" };
            let text = match Datagram::parse(&udp.payload, Mode::LegacyAccepting) {
                Ok(d) => d.to_string(),
                Err(e) => format!("MALFORMED ({} bytes): {e}", udp.payload.len()),
            };
            let comment = udp.comment.map(|c| format!("  [{c}]")).unwrap_or_default();
            lines.push((t, 0, format!("{arrow} {text}{comment}")));
        }
    }
    for e in events.iter().filter(|e| e.endpoint == iut) {
        if !matches!(e.event, Event::Ended { .. }) {
            lines.push((e.at.as_nanos(), 1, format!("IUT event: {}", e.event)));
        }
    }
    for (at, text) in markers {
        lines.push((at.as_nanos(), 2, text.clone()));
    }
    lines.sort_by_key(|(t, order, _)| (*t, *order));
    fold_data(lines)
}

fn fold_data(lines: Vec<(u64, u8, String)>) -> Vec<TranscriptLine> {
    let mut out: Vec<TranscriptLine> = Vec::new();
    let mut run: Option<(u64, u64, String, u64, u64, usize)> = None; // (t0, t1, arrow, first seq, last seq, count)
    let flush = |run: &mut Option<(u64, u64, String, u64, u64, usize)>,
                 out: &mut Vec<TranscriptLine>| {
        if let Some((t0, t1, arrow, a, b, n)) = run.take() {
            let text = if n == 1 {
                format!("{arrow} DATA seq={a}")
            } else {
                format!(
                    "{arrow} DATA seq {a}..{b} ({n} datagrams, until {:.3} ms)",
                    t1 as f64 / 1e6
                )
            };
            out.push(TranscriptLine {
                at_ms: t0 as f64 / 1e6,
                text,
            });
        }
    };
    for (t, _, text) in lines {
        let data = text
            .split_once(" DATA seq=")
            .filter(|(_, rest)| !rest.contains('['));
        if let Some((arrow, rest)) = data {
            let seq: u64 = rest
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            match &mut run {
                Some((_, t1, a, _, last, n))
                    if a == arrow && (seq == *last || seq == *last + 1) =>
                {
                    *t1 = t;
                    *last = seq;
                    *n += 1;
                    continue;
                }
                _ => {
                    flush(&mut run, &mut out);
                    run = Some((t, t, arrow.to_owned(), seq, seq, 1));
                    continue;
                }
            }
        }
        flush(&mut run, &mut out);
        out.push(TranscriptLine {
            at_ms: t as f64 / 1e6,
            text,
        });
    }
    flush(&mut run, &mut out);
    out
}
