//! The virtual-time driver: the IUT (an in-process reference endpoint of the scenario's family) and
//! the peer run on the virtual link in a [`Simulation`]; the steps run between simulation advances;
//! then the traffic is captured as the IUT saw it, judged by the family, and the outcome judged
//! against the scenario's expectations. Every run is a function of the scenario and the seed.

use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::{Endpoint, Instant};
use handshake_net::{
    DatagramId, FaultRule, LinkConfig, LinkEvent, Predicate, RunLimits, RunOutcome, SimEvent,
    Simulation, VirtualLink,
};

use crate::family::{Event, Family, JudgeCtx, ObserveCtx};
use crate::format::{Direction, FaultSpec, Role, Scenario};
use crate::outcome::{judge, Observed, ScenarioOutcome};
use crate::script::{block_on_ready, run_steps, Driver, Script};
use crate::FamilyError;

/// The initiator's address in virtual runs (TEST-NET-1).
pub const INITIATOR: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    50000,
);
/// The responder's address in virtual runs (ctsTraffic's default port).
pub const RESPONDER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    4444,
);

/// The address of `role` in virtual runs.
pub fn address(role: Role) -> SocketAddr {
    match role {
        Role::Initiator => INITIATOR,
        Role::Responder => RESPONDER,
    }
}

/// Bound on simulation steps in one run (a livelocked IUT cannot hang the engine).
pub const STEP_LIMIT: u64 = 20_000_000;

/// How a run that outgrew a budget smaller than [`STEP_LIMIT`] ends (an error outcome, not a
/// verdict on the IUT): `harness fuzz` bounds the cost of one input so.
pub const OVER_BUDGET: &str = "the run outgrew its budget of";

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

/// What a run has cost so far against its budget: its simulation steps and, in a budgeted run
/// (below [`STEP_LIMIT`]), the link's trace events too (a datagram sent and delivered is two): one
/// step can carry thousands of datagrams (a fuzz input asking the reference for 2 Gbit/s of
/// media made 280 MB in one run, 0.7 s), so steps alone bound nothing.
fn work<N: Endpoint>(sim: &Simulation<N>, counts_datagrams: bool) -> u64 {
    let events = if counts_datagrams {
        sim.trace().len() as u64
    } else {
        0
    };
    sim.steps().saturating_add(events)
}

/// Takes `cost` from the budget `left`; all of it once the link's trace is full (work outside the
/// counted calls — the script's own sends and collections — fills it too).
fn charge<N: Endpoint>(sim: &Simulation<N>, left: &mut u64, cost: u64) {
    *left = if sim.at_link_limit() {
        0
    } else {
        left.saturating_sub(cost)
    };
}

/// Steps a budgeted run takes between looks at its budget.
const BUDGET_CHUNK: u64 = 16;

/// Runs `call(sim, max_steps)` (a [`Simulation::run`] with that step limit) until it stops for
/// another reason than its step limit or `left` is spent, taking what it cost from `left`. An
/// unbudgeted run is one call (its steps are its cost).
fn spend<N: Endpoint>(
    sim: &mut Simulation<N>,
    left: &mut u64,
    counts_datagrams: bool,
    mut call: impl FnMut(&mut Simulation<N>, u64) -> RunOutcome,
) -> RunOutcome {
    let chunk = if counts_datagrams {
        BUDGET_CHUNK
    } else {
        u64::MAX
    };
    loop {
        let before = work(sim, counts_datagrams);
        let outcome = call(sim, (*left).min(chunk));
        charge(
            sim,
            left,
            work(sim, counts_datagrams).saturating_sub(before),
        );
        if outcome != RunOutcome::StepLimit || *left == 0 {
            return outcome;
        }
    }
}

/// The virtual-time driver of the step interpreter.
struct VirtualDriver<F: Family> {
    sim: Simulation<F::Node>,
    iut: SocketAddr,
    peer: SocketAddr,
    /// Steps left before the run is declared livelocked (or over budget).
    steps_left: u64,
    /// Whether datagrams count against `steps_left` ([`work`]).
    counts_datagrams: bool,
}

impl<F: Family> VirtualDriver<F> {
    fn livelocked(&self) -> bool {
        self.steps_left == 0 || self.sim.livelocked()
    }
}

impl<F: Family> Driver<F> for VirtualDriver<F> {
    fn now(&self) -> Instant {
        self.sim.now()
    }
    fn trace(&self) -> &[LinkEvent] {
        self.sim.trace()
    }
    fn events(&self) -> &[SimEvent<Event<F>>] {
        self.sim.events()
    }
    fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
    fn peer_port(&self) -> u16 {
        self.peer.port()
    }
    fn scenario_port(&self, addr: SocketAddr) -> Option<u16> {
        (addr.ip() == self.peer.ip()).then_some(addr.port())
    }
    fn peer_node(&mut self) -> Option<&mut F::Node> {
        self.sim.endpoint_mut(self.peer)
    }
    fn iut(&self) -> Option<SocketAddr> {
        Some(self.iut)
    }
    /// Virtual time is exact; only the harness's transport can notice late (a QUIC idle timer's
    /// floor over a link with long delays).
    fn slack(&self) -> Duration {
        self.sim
            .endpoint(self.peer)
            .map_or(Duration::ZERO, Endpoint::transport_lateness)
    }
    fn iut_gone(&self) -> Option<String> {
        self.livelocked().then(|| {
            format!(
                "the simulation did not settle: {STEP_LIMIT} steps, or {} in a row without time moving (a livelock: a timer that stays due)",
                handshake_net::sim::MAX_STEPS_AT_ONE_INSTANT
            )
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
        Ok(SocketAddr::new(
            self.peer.ip(),
            port.unwrap_or(self.peer.port()),
        ))
    }
    async fn inject(&mut self, from: SocketAddr, payload: Vec<u8>) -> Result<DatagramId, String> {
        // An injected datagram costs a step: a script sending thousands counts against the budget.
        if self.steps_left == 0 {
            return Err(self.iut_gone().unwrap_or_default());
        }
        self.steps_left -= 1;
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
            spend(
                &mut self.sim,
                &mut self.steps_left,
                self.counts_datagrams,
                |sim, max| sim.run_until(deadline, max),
            );
            return false;
        }
        let before = work(&self.sim, self.counts_datagrams);
        let stepped = self.sim.step();
        let cost = work(&self.sim, self.counts_datagrams).saturating_sub(before);
        charge(&self.sim, &mut self.steps_left, cost.max(1));
        stepped
    }
}

/// Runs `scenario` against the family's reference profile `profile` (named `iut_name` in reports)
/// in virtual time.
pub fn run_reference<F: Family>(
    scenario: &Scenario<F>,
    iut_name: &str,
    profile: &F::Profile,
    seed: u64,
) -> ScenarioOutcome {
    run_reference_within(scenario, iut_name, profile, seed, STEP_LIMIT, Keep::Capture)
}

/// What a run in virtual time leaves besides its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Its capture (pcapng), from which it is judged.
    Capture,
    /// Only what the judge found, the transcript's lines of what the IUT did (a search reads no
    /// other: step markers keep no text) and the traffic's size, where the family judges a run's
    /// datagrams without a capture ([`Family::judge_datagrams`]); the capture otherwise. A fuzz
    /// input's run: writing and reading back its capture was a fifth of its time.
    Judgement,
    /// Its capture, and every unit the IUT sent, decoded, in
    /// [`ScenarioOutcome::iut_units`] (a learning query's answer). Runs of external programs
    /// honour this one only.
    Units,
}

/// As [`run_reference`], in at most `max_steps` simulation steps (an injected datagram counts as
/// one; below [`STEP_LIMIT`] every event of the link's trace counts as one too, see `work`): a
/// run that needs more ends as an error whose reason starts with [`OVER_BUDGET`] (when
/// `max_steps` is below [`STEP_LIMIT`]; at the limit it fails as not settling).
pub fn run_reference_within<F: Family>(
    scenario: &Scenario<F>,
    iut_name: &str,
    profile: &F::Profile,
    seed: u64,
    max_steps: u64,
    keep: Keep,
) -> ScenarioOutcome {
    let role = scenario.iut.role;
    let features = F::profile_features(profile, role);
    if let Some(missing) = F::required_features(scenario)
        .iter()
        .find(|f| !features.contains(f))
    {
        return ScenarioOutcome::unsupported(
            scenario,
            iut_name,
            format!("the IUT lacks the feature {}", feature_label(missing)),
        );
    }
    match run_virtual(scenario, iut_name, profile, seed, max_steps, keep) {
        Ok(outcome) => outcome,
        Err(e) => ScenarioOutcome::of_error(scenario, iut_name, e),
    }
}

/// A feature as messages name it: as a scenario's `iut.requires` spells it, quoted
/// (`` `three_way` ``).
pub fn feature_label(name: &str) -> String {
    format!("`{name}`")
}

/// What a virtual run leaves: the link with its whole trace, the endpoints as they ended, their
/// events, and why the run stopped.
pub struct Simulated<F: Family> {
    /// The link (its trace, its configuration).
    pub link: VirtualLink,
    /// The endpoints, in the order they were added (the responder first).
    pub nodes: Vec<(SocketAddr, F::Node)>,
    /// Every endpoint event, stamped.
    pub events: Vec<SimEvent<Event<F>>>,
    /// Why the settle phase stopped.
    pub outcome: RunOutcome,
}

impl<F: Family> Simulated<F> {
    /// The endpoint at `addr`.
    pub fn node(&self, addr: SocketAddr) -> Option<&F::Node> {
        self.nodes.iter().find(|(a, _)| *a == addr).map(|(_, n)| n)
    }

    /// The run's traffic as `viewpoint` saw it, as pcapng (virtual time from 2026-01-01T00:00:00Z),
    /// with the harness's comments on every datagram the link dropped, delayed, duplicated or
    /// changed, and `annotate`'s on the datagrams it names.
    pub fn capture(
        &self,
        viewpoint: SocketAddr,
        annotate: Option<handshake_capture::trace::Annotate<'_>>,
    ) -> Result<Vec<u8>, FamilyError> {
        let options = self.trace_options(annotate);
        let mut writer = handshake_capture::CaptureWriter::new(Vec::new())
            .map_err(|e| FamilyError::harness(e.to_string()))?;
        let secrets = merged_secrets(self.nodes.iter().map(|(_, n)| F::secrets(n)));
        writer
            .write_secrets(&secrets)
            .map_err(|e| FamilyError::harness(e.to_string()))?;
        handshake_capture::write_trace(self.link.trace(), viewpoint, &options, &mut writer)
            .map_err(|e| FamilyError::harness(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| FamilyError::harness(e.to_string()))
    }

    /// The datagrams of [`capture`](Self::capture), as a reader of it yields them.
    pub fn datagrams<'s>(
        &'s self,
        viewpoint: SocketAddr,
        annotate: Option<handshake_capture::trace::Annotate<'_>>,
    ) -> Vec<handshake_capture::UdpDatagram<'s>> {
        handshake_capture::trace::trace_datagrams(
            self.link.trace(),
            viewpoint,
            &self.trace_options(annotate),
        )
    }

    fn trace_options<'a>(
        &self,
        annotate: Option<handshake_capture::trace::Annotate<'a>>,
    ) -> handshake_capture::TraceOptions<'a> {
        handshake_capture::TraceOptions {
            annotate,
            not_delivered_delay_ns: self.link.config().latency_ms.saturating_mul(1_000_000),
            ..handshake_capture::TraceOptions::default()
        }
    }
}

/// Key-log texts of several endpoints as one, each line once (both sides of a connection log
/// the same secrets), in first-seen order.
pub fn merged_secrets(texts: impl IntoIterator<Item = String>) -> String {
    let mut lines: Vec<String> = Vec::new();
    for text in texts {
        for line in text.lines() {
            if !line.is_empty() && !lines.iter().any(|l| l == line) {
                lines.push(line.to_owned());
            }
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The pair runner: the IUT's endpoint and the peer's (a reference profile, or the family's
/// scripted endpoint) on `link`, the scenario's steps run between simulation advances (none when
/// two reference endpoints meet), then the run to its end (the sides the family names finish, at
/// most `settle_ms` later). `script` collects the steps' annotations and failures.
pub fn simulate<F: Family>(
    scenario: &Scenario<F>,
    iut: F::Node,
    peer: Option<F::Node>,
    link: VirtualLink,
    script: &mut Script,
    max_steps: u64,
) -> Result<Simulated<F>, FamilyError> {
    let role = scenario.iut.role;
    let (iut_addr, peer_addr) = (address(role), address(role.other()));
    let mut sim: Simulation<F::Node> = Simulation::new(link);
    // The responder first: an initiator's opening datagram must find it.
    let mut nodes = vec![(iut_addr, Some(iut)), (peer_addr, peer)];
    if role == Role::Initiator {
        nodes.reverse();
    }
    for (addr, node) in nodes {
        if let Some(node) = node {
            sim.add_endpoint(addr, node)
                .map_err(|e| FamilyError::harness(format!("{e:?}")))?;
        }
    }
    let counts_datagrams = max_steps < STEP_LIMIT;
    if counts_datagrams {
        // Past this, the run is over its budget whatever else it does.
        sim.limit_link_events(usize::try_from(max_steps).unwrap_or(usize::MAX));
    }
    let mut driver = VirtualDriver::<F> {
        sim,
        iut: iut_addr,
        peer: peer_addr,
        steps_left: max_steps,
        counts_datagrams,
    };
    let origin = driver.now();
    block_on_ready(run_steps(&mut driver, script, scenario, origin))
        .map_err(FamilyError::harness)?;
    let mut left = driver.steps_left;
    let mut sim = driver.sim;
    let over_budget = |sim: &Simulation<F::Node>| {
        // A livelock (the clock stuck) is the IUT's fault whatever the budget; an input too large
        // to judge is the harness's limit, not the IUT's failure.
        (max_steps < STEP_LIMIT && !sim.livelocked()).then(|| {
            FamilyError::harness(format!("{OVER_BUDGET} {max_steps} simulation steps and link events (an input too large to judge)"))
        })
    };
    if left == 0 {
        if let Some(why) = over_budget(&sim) {
            return Err(why);
        }
    }
    // What the last step sent reaches the IUT (one link latency) whatever else ends the run.
    let last_step = sim.now();
    let latency = Duration::from_millis(sim.link().config().latency_ms);
    spend(&mut sim, &mut left, counts_datagrams, |sim, max| {
        sim.run_until(last_step + latency, max)
    });
    // Let the run come to its end (the family says which sides must finish).
    let end = sim.now() + Duration::from_millis(scenario.settle_ms);
    let settle = F::settle(scenario, false);
    let mut until = Vec::new();
    if settle.iut {
        until.push(iut_addr);
    }
    if settle.peer {
        until.push(peer_addr);
    }
    let limits = RunLimits::until_finished(until).max_time(end);
    let outcome = spend(&mut sim, &mut left, counts_datagrams, |sim, max| {
        sim.run(&limits.clone().max_steps(max))
    });
    if outcome == RunOutcome::StepLimit {
        if let Some(why) = over_budget(&sim) {
            return Err(why);
        }
    }
    if matches!(outcome, RunOutcome::Livelock | RunOutcome::StepLimit) {
        // Judged as it stands (the capture is kept), and failed: a run that cannot end is a bug
        // of one of its endpoints, never a pass.
        script.failures.push(format!(
            "the run did not settle after the steps ({outcome:?} at {:.3} ms): an endpoint's timer stays due",
            sim.now().as_nanos() as f64 / 1e6
        ));
    }
    sim.drain_endpoints();
    // What the link still holds never arrived: record it, so the capture loses nothing.
    let end = sim.now();
    sim.link_mut().end_run(end);
    let events = sim.take_events();
    let (link, nodes) = sim.into_parts();
    Ok(Simulated {
        link,
        nodes,
        events,
        outcome,
    })
}

/// Two reference endpoints of a family meet on `link` (its seed and fault rules): the
/// `initiator` profile against the `responder` profile, with the scenario's setup, run to the end.
/// The responder plays the scenario's IUT (its `iut` keys apply; it gets `seed`).
pub fn run_pair<F: Family>(
    scenario: &Scenario<F>,
    initiator: &F::Profile,
    responder: &F::Profile,
    link: VirtualLink,
    seed: u64,
) -> Result<Simulated<F>, FamilyError> {
    if scenario.iut.role != Role::Responder {
        return Err(FamilyError::bad_input(
            "a pair's scenario has the responder as its IUT",
        ));
    }
    let iut = F::node(
        responder,
        Role::Responder,
        scenario,
        true,
        INITIATOR,
        seed,
        Instant::ZERO,
    )?;
    let peer = F::node(
        initiator,
        Role::Initiator,
        scenario,
        false,
        RESPONDER,
        seed ^ 0x5eed,
        Instant::ZERO,
    )?;
    simulate(
        scenario,
        iut,
        Some(peer),
        link.with_classifier(F::classify),
        &mut Script::default(),
        STEP_LIMIT,
    )
}

fn run_virtual<F: Family>(
    scenario: &Scenario<F>,
    iut_name: &str,
    profile: &F::Profile,
    seed: u64,
    max_steps: u64,
    keep: Keep,
) -> Result<ScenarioOutcome, FamilyError> {
    let role = scenario.iut.role;
    let (iut_addr, peer_addr) = (address(role), address(role.other()));
    let peer_profile = scenario
        .peer
        .reference
        .as_deref()
        .map(F::parse_profile)
        .transpose()
        .map_err(|e| FamilyError::bad_input(format!("peer: {e}")))?
        .map(|p| F::peer_profile(&p, profile));
    let rules: Vec<FaultRule> = scenario
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| fault_rule(i as u32 + 1, f, iut_addr, peer_addr))
        .collect();
    let link = VirtualLink::new(LinkConfig::with_seed(seed))
        .with_classifier(F::classify)
        .with_rules(rules)
        .map_err(|e| FamilyError::bad_input(format!("faults: {e:?}")))?;
    let iut_node = F::node(
        profile,
        role,
        scenario,
        true,
        peer_addr,
        seed,
        Instant::ZERO,
    )?;
    let peer_node = match &peer_profile {
        Some(p) => Some(F::node(
            p,
            role.other(),
            scenario,
            false,
            iut_addr,
            seed ^ 0x5eed,
            Instant::ZERO,
        )?),
        None => F::script_node(
            scenario,
            Some(profile),
            iut_addr,
            seed ^ 0x5eed,
            Instant::ZERO,
        )?,
    };
    let mut script = Script::default();
    script.unmarked = keep == Keep::Judgement;
    script.keep_units = keep == Keep::Units;
    let run = simulate(scenario, iut_node, peer_node, link, &mut script, max_steps)?;
    let annotations = &script.annotations;
    let annotate = |id: DatagramId| annotations.get(id);
    let ctx = JudgeCtx {
        scenario,
        role,
        iut: iut_addr,
        peer: peer_addr,
        iut_profile: Some(profile.clone()),
        peer_profile,
        tolerance: None,
    };
    let judged = match keep {
        Keep::Judgement => {
            let datagrams = run.datagrams(iut_addr, Some(&annotate));
            F::judge_datagrams(&datagrams, &run.events, &script.markers, &ctx).map(|judged| {
                // Roughly what the capture's records would take: the payloads, the comments and
                // their framing.
                let size = datagrams
                    .iter()
                    .map(|d| d.payload.len() + d.comment.as_ref().map_or(0, |c| c.len()) + 64)
                    .sum();
                judged.map(|(report, transcript)| (report, transcript, Vec::new(), size))
            })
        }
        Keep::Capture | Keep::Units => None,
    };
    let (report, transcript, capture, traffic_bytes) = match judged {
        Some(judged) => judged?,
        None => {
            let capture = run.capture(iut_addr, Some(&annotate))?;
            let report = F::judge(&capture, &ctx)?;
            let transcript = F::transcript(&capture, &run.events, iut_addr, &script.markers);
            let size = capture.len();
            (report, transcript, capture, size)
        }
    };
    let family = F::observe(
        &ObserveCtx {
            scenario,
            role,
            iut_addr,
            peer_addr,
            iut: run.node(iut_addr),
            peer: run.node(peer_addr),
            events: &run.events,
            iut_exit: None,
            real_time: false,
        },
        &report,
    );
    let observed = Observed {
        family,
        violations: F::violations(&report),
        iut_addr,
        step_failures: std::mem::take(&mut script.failures),
        step_deviations: std::mem::take(&mut script.deviations),
        unmet_contracts: std::mem::take(&mut script.unmet_contracts),
        step_notes: std::mem::take(&mut script.notes),
        cut_short: script.cut_short,
    };
    let mut outcome = judge(scenario, iut_name, observed, transcript, capture);
    outcome.traffic_bytes = traffic_bytes;
    outcome.iut_units = units_at_ms(std::mem::take(&mut script.iut_units));
    Ok(outcome)
}

/// The IUT's units with their times in ms from the run's start (as the transcript's).
pub(crate) fn units_at_ms(
    units: Vec<(Instant, serde_json::Value)>,
) -> Vec<(f64, serde_json::Value)> {
    units
        .into_iter()
        .map(|(at, v)| (at.as_nanos() as f64 / 1e6, v))
        .collect()
}
