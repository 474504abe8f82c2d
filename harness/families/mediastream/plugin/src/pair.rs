//! One media-stream initiator against one responder over the virtual link, in virtual time (the
//! generic pair runner, [`handshake_scenario::engine::run_pair`]), with the media stream's view of
//! the result: the initiator's metrics, every responder session's, the trace and the events. The
//! interop matrix, the golden pair captures and the property tests are made of these.

use std::net::SocketAddr;

use handshake_mediastream_endpoint::{Direction, Event, Metrics, Profile, StreamConfig};
use handshake_net::{LinkEvent, RunOutcome, SimEvent, VirtualLink};
use handshake_scenario::engine::{run_pair as run_generic_pair, Simulated, INITIATOR, RESPONDER};
use handshake_scenario::format::{IutRequirement, OutcomeExpectation, PeerSpec};
use handshake_scenario::Role;

use crate::format::{IutFields, PeerFields, Setup};
use crate::{MediaScenario, MediaStream};

/// The initiator's address in virtual runs.
pub fn initiator_addr() -> SocketAddr {
    INITIATOR
}

/// The responder's address in virtual runs.
pub fn responder_addr() -> SocketAddr {
    RESPONDER
}

/// The scenario a pair runs: the stream, no script, long enough for the whole D2 schedule, a
/// fallback, and the stream with its buffer.
pub fn pair_scenario(config: StreamConfig) -> MediaScenario {
    MediaScenario {
        schema: None,
        id: "pair".into(),
        title: "a reference pair".into(),
        protocol: Some("mediastream".into()),
        decisions: Vec::new(),
        rules: Vec::new(),
        profile: None,
        tags: Vec::new(),
        iut: IutRequirement {
            role: Role::Responder,
            requires: Vec::new(),
            fields: IutFields::default(),
        },
        setup: Setup { stream: config },
        peer: PeerSpec {
            reference: None,
            fields: PeerFields::default(),
            steps: Vec::new(),
        },
        faults: Vec::new(),
        expect: OutcomeExpectation::default(),
        seed: None,
        settle_ms: (u64::from(config.stream_length_secs) + u64::from(config.buffer_depth_secs))
            * 1000
            + 60_000,
    }
}

/// What a pair run produced.
pub struct PairRun {
    /// Why the run stopped.
    pub outcome: RunOutcome,
    /// The initiator's final metrics.
    pub initiator: Metrics,
    /// Metrics of every responder session that ended, in order, then of those still live.
    pub responder_sessions: Vec<Metrics>,
    /// Every datagram's fate on the link.
    pub trace: Vec<LinkEvent>,
    /// Every endpoint event, time-stamped.
    pub events: Vec<SimEvent<Event>>,
    /// Who sent the media.
    pub direction: Direction,
    run: Simulated<MediaStream>,
}

impl std::fmt::Debug for PairRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairRun")
            .field("outcome", &self.outcome)
            .field("initiator", &self.initiator)
            .field("responder_sessions", &self.responder_sessions)
            .finish_non_exhaustive()
    }
}

impl PairRun {
    /// The media receiver's frame metrics: the initiator's in pull, the responder's (first)
    /// session's in push, where the initiator only sends.
    pub fn receiver(&self) -> Option<&Metrics> {
        match self.direction {
            Direction::Pull => Some(&self.initiator),
            Direction::Push => self.responder_sessions.first(),
        }
    }

    /// The run's traffic as `viewpoint` saw it, as pcapng (virtual time from 2026-01-01T00:00:00Z),
    /// with the harness's comments on every datagram the link dropped, delayed, duplicated or changed.
    pub fn capture(&self, viewpoint: SocketAddr) -> Result<Vec<u8>, String> {
        self.run.capture(viewpoint, None).map_err(|e| e.to_string())
    }

    /// The generic run underneath.
    pub fn simulated(&self) -> &Simulated<MediaStream> {
        &self.run
    }
}

/// Runs a full stream between the two profiles over `link` (its seed and fault rules), bounded in
/// virtual time so a stuck pair ends as `TimeLimit`; the responder's ids follow `responder_seed`.
pub fn run_pair(
    initiator: Profile,
    responder: Profile,
    config: StreamConfig,
    link: VirtualLink,
    responder_seed: u64,
) -> Result<PairRun, String> {
    let scenario = pair_scenario(config);
    let run = run_generic_pair(&scenario, &initiator, &responder, link, responder_seed)
        .map_err(|e| e.to_string())?;
    Ok(PairRun {
        outcome: run.outcome,
        initiator: initiator_metrics(&run),
        responder_sessions: responder_sessions(&run),
        trace: run.link.trace().to_vec(),
        events: run.events.clone(),
        direction: config.direction,
        run,
    })
}

/// The initiator's final metrics in a pair run.
pub fn initiator_metrics(run: &Simulated<MediaStream>) -> Metrics {
    run.node(INITIATOR)
        .and_then(|n| n.endpoint())
        .and_then(|p| p.as_initiator())
        .map(|i| i.metrics().clone())
        .unwrap_or_default()
}

/// Metrics of every responder session of a pair run that ended, in order, then of the one still
/// live.
pub fn responder_sessions(run: &Simulated<MediaStream>) -> Vec<Metrics> {
    let mut sessions: Vec<Metrics> = run
        .events
        .iter()
        .filter(|e| e.endpoint == RESPONDER)
        .filter_map(|e| match &e.event {
            Event::Ended { metrics, .. } => Some((**metrics).clone()),
            _ => None,
        })
        .collect();
    if let Some(m) = run
        .node(RESPONDER)
        .and_then(|n| n.endpoint())
        .and_then(|p| p.as_responder())
        .and_then(|r| r.session_metrics(INITIATOR))
    {
        sessions.push(m.clone());
    }
    sessions
}
