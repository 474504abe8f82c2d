//! The scenario engine for in-process reference IUTs, in virtual time: builds the IUT and the peer
//! on the virtual link, runs the steps between simulation advances, then captures the traffic as the
//! IUT saw it, checks it, and judges the outcome expectations.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use handshake_check::{check_capture, CheckOptions};
use handshake_endpoint::mediastream::{
    DropReason, Event, Initiator, Metrics, Peer, Phase, Profile, ProfileKind, Responder,
    StreamConfig,
};
use handshake_endpoint::{Endpoint, Instant, Transmit};
use handshake_run::{
    DatagramId, FaultRule, LinkConfig, LinkEvent, Predicate, RunLimits, Simulation, VirtualLink,
};
use handshake_wire::mediastream::{
    kind_name, pattern_slice, ConnectionId, DataRepr, Datagram, FragmentPlan, Mode,
};
use serde_json::Value;

use crate::model::{
    ControlSpec, DatagramSpec, Direction, ExpectStep, FaultSpec, Feature, Role, Scenario, Step,
};
use crate::outcome::{judge, Observed, ScenarioOutcome, TranscriptLine};

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
        ProfileKind::Legacy | ProfileKind::UdpPush => f.push(Feature::LegacyStart),
        ProfileKind::ThreeWay => {
            f.push(Feature::ThreeWay);
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
    fn is_finished(&self) -> bool {
        match self {
            Node::Media(p) => p.is_finished(),
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

/// Script state: variables and the step annotations for the capture.
#[derive(Debug, Default)]
pub struct Script {
    /// Captured and set variables.
    pub vars: BTreeMap<String, Value>,
    /// Datagram → "step N: …" for capture comments.
    pub annotations: BTreeMap<DatagramId, String>,
    /// Failures of steps.
    pub failures: Vec<String>,
    /// Step markers for the transcript: (time, text).
    pub markers: Vec<(Instant, String)>,
    fresh: u8,
}

impl Script {
    fn id(&mut self, text: &str) -> Result<ConnectionId, String> {
        if text == "$fresh" {
            self.fresh = self.fresh.wrapping_add(1);
            return Ok(ConnectionId::from_uuid_bytes([0xf0 ^ self.fresh; 16]));
        }
        let resolved = self.resolve(text)?;
        ConnectionId::from_escaped(&resolved).map_err(|e| format!("id `{text}`: {e}"))
    }

    fn resolve(&self, text: &str) -> Result<String, String> {
        match text.strip_prefix('$') {
            Some(var) => match self.vars.get(var) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Ok(other.to_string()),
                None => Err(format!(
                    "variable `${var}` is not set (capture it in an earlier expect)"
                )),
            },
            None => Ok(text.to_owned()),
        }
    }

    /// The datagrams a send step stands for.
    pub fn build(
        &mut self,
        spec: &DatagramSpec,
        config: &StreamConfig,
        now: Instant,
    ) -> Result<Vec<Vec<u8>>, String> {
        let qpc_now = now.as_nanos() / 100;
        Ok(match spec {
            DatagramSpec::Start {} => vec![Datagram::Start.to_vec()],
            DatagramSpec::Syn(c) => vec![self.control(c, 0x0100, false)?],
            DatagramSpec::SynAck(c) => vec![self.control(c, 0x0101, true)?],
            DatagramSpec::Ack(c) => vec![self.control(c, 0x0102, true)?],
            DatagramSpec::ConnectionId { id } => {
                vec![Datagram::ConnectionId(self.id(id)?).to_vec()]
            }
            DatagramSpec::Data {
                seq,
                qpc,
                payload_len,
                payload_hex,
            } => {
                let payload = match payload_hex {
                    Some(hex) => hex_bytes(hex)?,
                    None => {
                        let len = payload_len.unwrap_or_else(|| {
                            config
                                .frame_size()
                                .map_or(0, |f| f as usize)
                                .saturating_sub(26)
                        });
                        pattern_slice(0, len).to_vec()
                    }
                };
                let repr = DataRepr {
                    seq: *seq,
                    qpc: qpc.unwrap_or(qpc_now),
                    qpf: 10_000_000,
                    payload: &payload,
                };
                vec![Datagram::Data(repr).to_vec()]
            }
            DatagramSpec::DataFrag {
                seq,
                offset,
                total_length,
                payload_len,
            } => {
                let repr = handshake_wire::mediastream::FragmentRepr {
                    seq: *seq,
                    qpc: qpc_now,
                    qpf: 10_000_000,
                    fragment_offset: *offset,
                    total_length: *total_length,
                    payload: pattern_slice(0, *payload_len),
                };
                vec![Datagram::Fragment(repr).to_vec()]
            }
            DatagramSpec::Frames { from, to } => {
                let plan = config.plan().map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                let mut qpc = qpc_now;
                for seq in *from..=*to {
                    for d in plan.iter() {
                        qpc += 1;
                        let payload = pattern_slice(0, (d.len as usize).saturating_sub(26));
                        out.push(
                            Datagram::Data(DataRepr {
                                seq,
                                qpc,
                                qpf: 10_000_000,
                                payload,
                            })
                            .to_vec(),
                        );
                    }
                }
                let _ = FragmentPlan::new;
                out
            }
            DatagramSpec::Raw { hex } => vec![hex_bytes(hex)?],
        })
    }

    fn control(
        &mut self,
        c: &ControlSpec,
        flag: u16,
        default_assigned: bool,
    ) -> Result<Vec<u8>, String> {
        let id = match (&c.id, default_assigned) {
            (Some(text), _) => self.id(text)?,
            (None, true) => self.id("$assigned_id")?,
            (None, false) => ConnectionId::ZERO,
        };
        let mut bytes = vec![0u8; 67];
        bytes[..2].copy_from_slice(&flag.to_le_bytes());
        bytes[26] = c.version.unwrap_or(1);
        bytes[27] = c
            .flags
            .unwrap_or(u8::from(flag == 0x0101 && c.accept.unwrap_or(true)));
        bytes[30..67].copy_from_slice(id.as_bytes());
        if let Some(hex) = &c.options_hex {
            bytes.extend(hex_bytes(hex)?);
        }
        Ok(bytes)
    }

    /// Whether a decoded datagram matches `kind` and `fields`; captures unset `$variables` on success.
    pub fn matches(
        &mut self,
        kind: &str,
        fields: &BTreeMap<String, Value>,
        decoded: &Value,
        capture: &BTreeMap<String, String>,
    ) -> bool {
        if kind != "any" && decoded.get("kind").and_then(Value::as_str) != Some(kind) {
            return false;
        }
        let mut bind = Vec::new();
        for (field, want) in fields {
            let Some(got) = decoded.get(field) else {
                return false;
            };
            match want {
                Value::String(s) if s == "*" => {}
                Value::String(s) if s.starts_with('$') => match self.vars.get(&s[1..]) {
                    Some(v) if v != got => return false,
                    Some(_) => {}
                    None => bind.push((s[1..].to_owned(), got.clone())),
                },
                other if other != got => return false,
                _ => {}
            }
        }
        for (var, value) in bind {
            self.vars.insert(var, value);
        }
        for (var, field) in capture {
            if let Some(v) = decoded.get(field) {
                self.vars.insert(var.clone(), v.clone());
            }
        }
        true
    }
}

fn hex_bytes(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("hex `{hex}` has an odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("`{hex}` is not hex"))
        })
        .collect()
}

/// Decodes a datagram into the JSON object `expect` matches against.
pub fn decoded(payload: &[u8]) -> Value {
    match Datagram::parse(payload, Mode::LegacyAccepting) {
        Ok(d) => serde_json::to_value(d).unwrap_or(Value::Null),
        Err(e) => {
            serde_json::json!({"kind": "malformed", "error": serde_json::to_value(e).unwrap_or(Value::Null)})
        }
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
    if let Some(missing) = scenario.iut.requires.iter().find(|f| !features.contains(f)) {
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
        Some(p) => media_node(p, peer_role, config, seed ^ 0x5eed)?,
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
    let mut next_rule = scenario.faults.len() as u32 + 1;
    let mut seen = 0usize;
    for (n, step) in scenario.peer.steps.iter().enumerate() {
        let n = n + 1;
        let start = sim.now();
        let result = match step {
            Step::Send(send) => script
                .build(&send.datagram, &config, start)
                .map(|datagrams| {
                    script
                        .markers
                        .push((start, format!("step {n}: send {}", step_label(step))));
                    for _ in 0..send.times.max(1) {
                        for mut bytes in datagrams.clone() {
                            if let Some(len) = send.truncate_to {
                                bytes.truncate(len);
                            }
                            let id =
                                sim.inject(on_port(peer_addr, send.from_port), iut_addr, bytes);
                            script.annotations.insert(id, format!("step {n}"));
                        }
                    }
                }),
            Step::Wait(w) => {
                script
                    .markers
                    .push((start, format!("step {n}: wait {} ms", w.ms)));
                sim.run_until(start + Duration::from_millis(w.ms), STEP_LIMIT);
                Ok(())
            }
            Step::Fault(spec) => {
                script
                    .markers
                    .push((start, format!("step {n}: fault {}", fault_label(spec))));
                let rule = fault_rule(next_rule, spec, iut_addr, peer_addr);
                next_rule += 1;
                sim.link_mut().add_rule(rule).map_err(|e| format!("{e:?}"))
            }
            Step::Expect(e) => {
                script.markers.push((
                    start,
                    format!("step {n}: expect {} within {} ms", e.kind, e.within_ms),
                ));
                expect(
                    &mut sim,
                    &mut script,
                    &mut seen,
                    iut_addr,
                    on_port(peer_addr, e.to_port),
                    e,
                    n,
                )
            }
            Step::ExpectNone(e) => {
                script.markers.push((
                    start,
                    format!("step {n}: expect no {} for {} ms", e.kind, e.for_ms),
                ));
                let deadline = start + Duration::from_millis(e.for_ms);
                // From the previous `expect`'s match on (not the trace's end): a datagram the IUT sent
                // at the step's start time, after that match, is inside the window too.
                let from = seen;
                sim.run_until(deadline, STEP_LIMIT);
                sim.drain_endpoints();
                let mut found = None;
                for (_, at, payload) in iut_sent(
                    sim.trace(),
                    iut_addr,
                    e.to_port.map(|p| on_port(peer_addr, Some(p))),
                    from,
                ) {
                    let d = decoded(&payload);
                    if at >= start
                        && at <= deadline
                        && script.matches(&e.kind, &e.fields, &d, &BTreeMap::new())
                    {
                        found = Some(format!("step {n}: the IUT sent {d} at {:.3} ms", ms(at)));
                        break;
                    }
                }
                found.map_or(Ok(()), Err)
            }
        };
        if let Err(why) = result {
            script.failures.push(if why.starts_with("step ") {
                why
            } else {
                format!("step {n}: {why}")
            });
            break;
        }
    }
    // What the last step sent reaches the IUT (one link latency) whatever else ends the run.
    let last_step = sim.now();
    let latency = Duration::from_millis(sim.link().config().latency_ms);
    sim.run_until(last_step + latency, STEP_LIMIT);
    // Let the stream run to its end (an initiator finishes; a responder serves until idle).
    let end = sim.now() + Duration::from_millis(scenario.settle_ms);
    let initiator_addr = match role {
        Role::Initiator => iut_addr,
        Role::Responder => peer_addr,
    };
    let limits = RunLimits::until_finished(vec![initiator_addr])
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
    let mut initiator_metrics: Option<Metrics> = None;
    let mut initiator_complete: Option<bool> = None;
    let mut iut_drops: BTreeMap<DropReason, u64> = BTreeMap::new();
    for (addr, node) in &endpoints {
        if let Node::Media(peer) = node {
            if let Some(i) = peer.as_initiator() {
                initiator_metrics = Some(i.metrics().clone());
                initiator_complete =
                    Some(i.phase() == Phase::Finished && i.metrics().failure.is_none());
                if *addr == iut_addr {
                    iut_drops = i.metrics().validation_errors.clone();
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
    for e in events.iter().filter(|e| e.endpoint == iut_addr) {
        if let Event::Ended { metrics, .. } = &e.event {
            if role == Role::Responder {
                for (reason, n) in &metrics.validation_errors {
                    *iut_drops.entry(*reason).or_default() += n;
                }
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
    let check = CheckOptions {
        profile: responder_profile,
        frame_size: config.frame_size().ok(),
        frames: Some(config.frames()),
        max_datagram: u64::from(config.datagram_byte_size),
        verify_payload: config.verify == handshake_endpoint::mediastream::Verify::Data,
        ..CheckOptions::default()
    };
    let verdict = check_capture(&capture, None, check).map_err(|e| e.to_string())?;
    let transcript = transcript(&capture, &events, iut_addr, &script.markers);
    let observed = Observed {
        initiator_metrics,
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

/// Bound on simulation steps for any one wait (a livelocked IUT cannot hang the engine).
const STEP_LIMIT: u64 = 5_000_000;

fn ms(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e6
}

/// Datagrams the IUT sent (as sent) to `to` (any address when `None`), from trace index `from` on:
/// (index, time, bytes).
pub(crate) fn iut_sent(
    trace: &[LinkEvent],
    iut: SocketAddr,
    to: Option<SocketAddr>,
    from: usize,
) -> Vec<(usize, Instant, Vec<u8>)> {
    trace
        .iter()
        .enumerate()
        .skip(from)
        .filter_map(|(i, e)| match e {
            LinkEvent::Sent {
                at,
                from,
                to: dst,
                injected: false,
                payload,
                ..
            } if *from == iut && to.is_none_or(|t| t == *dst) => Some((i, *at, payload.clone())),
            _ => None,
        })
        .collect()
}

fn on_port(peer: SocketAddr, port: Option<u16>) -> SocketAddr {
    SocketAddr::new(peer.ip(), port.unwrap_or(peer.port()))
}

/// Waits for a matching datagram from the IUT. Steps are ordered: the search starts after the datagram
/// the previous `expect` matched (`seen`), so datagrams sent together (CONNECTION_ID then DATA) can be
/// expected one after the other.
fn expect(
    sim: &mut Simulation<Node>,
    script: &mut Script,
    seen: &mut usize,
    iut: SocketAddr,
    to: SocketAddr,
    e: &ExpectStep,
    n: usize,
) -> Result<(), String> {
    let deadline = sim.now() + Duration::from_millis(e.within_ms);
    let mut scan = *seen;
    // Looks at what the IUT sent since the last look; on a match, marks it and moves `seen` past it.
    let mut look = |sim: &Simulation<Node>, script: &mut Script, scan: &mut usize| -> bool {
        for (i, at, payload) in iut_sent(sim.trace(), iut, Some(to), *scan) {
            *scan = i + 1;
            if at <= deadline && script.matches(&e.kind, &e.fields, &decoded(&payload), &e.capture)
            {
                *seen = i + 1;
                script
                    .annotations
                    .entry(trace_id(sim.trace(), i))
                    .or_insert_with(|| format!("step {n}"));
                return true;
            }
        }
        false
    };
    loop {
        sim.drain_endpoints();
        if look(sim, script, &mut scan) {
            return Ok(());
        }
        if sim.next_work_time().is_none_or(|t| t > deadline) {
            sim.run_until(deadline, STEP_LIMIT);
            sim.drain_endpoints();
            if look(sim, script, &mut scan) {
                return Ok(());
            }
            let fields = serde_json::to_string(&e.fields).unwrap_or_default();
            return Err(format!(
                "step {n}: no {} {} from the IUT within {} ms",
                e.kind, fields, e.within_ms
            ));
        }
        sim.step();
    }
}

fn trace_id(trace: &[LinkEvent], index: usize) -> DatagramId {
    trace.get(index).map_or(DatagramId(u64::MAX), LinkEvent::id)
}

pub(crate) fn step_label(step: &Step) -> String {
    match step {
        Step::Send(s) => {
            let v = serde_json::to_value(&s.datagram).unwrap_or(Value::Null);
            let name = v
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default();
            let mut label = name;
            if let Some(len) = s.truncate_to {
                label.push_str(&format!(" cut to {len} bytes"));
            }
            if s.times > 1 {
                label.push_str(&format!(" x{}", s.times));
            }
            label
        }
        _ => String::new(),
    }
}

pub(crate) fn fault_label(f: &FaultSpec) -> String {
    serde_json::to_string(f).unwrap_or_default()
}

/// The transcript: the capture (as the IUT saw it) decoded, with the IUT's events and the step
/// markers, in time order; runs of DATA in one direction are folded into one line.
pub(crate) fn transcript(
    capture: &[u8],
    events: &[handshake_run::SimEvent<Event>],
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
