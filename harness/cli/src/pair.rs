//! One initiator against one responder over the virtual link, in virtual time: the unit the interop
//! matrix, the property tests and (later) scenarios are made of.

use std::net::SocketAddr;

use std::time::Duration;

use handshake_core::Instant;
use handshake_mediastream_endpoint::{
    ConfigError, Direction, Event, Initiator, Metrics, Peer, Profile, Responder, StreamConfig,
};
use handshake_mediastream_wire::kind_name;
use handshake_net::{LinkEvent, RunLimits, RunOutcome, SimEvent, Simulation, VirtualLink};

/// The initiator's address in virtual runs (TEST-NET-1).
pub const INITIATOR_ADDR: &str = "192.0.2.1:50000";
/// The responder's address in virtual runs (ctsTraffic's default port).
pub const RESPONDER_ADDR: &str = "192.0.2.2:4444";

/// The initiator's address.
pub fn initiator_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 50000))
}

/// The responder's address.
pub fn responder_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 2], 4444))
}

/// What a pair run produced.
#[derive(Debug)]
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
    /// The link's one-way latency.
    pub latency_ms: u64,
    /// Who sent the media.
    pub direction: Direction,
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
    pub fn capture(
        &self,
        viewpoint: SocketAddr,
    ) -> Result<Vec<u8>, handshake_capture::CaptureError> {
        let mut writer = handshake_capture::CaptureWriter::new(Vec::new())?;
        let options = handshake_capture::TraceOptions {
            not_delivered_delay_ns: self.latency_ms.saturating_mul(1_000_000),
            ..handshake_capture::TraceOptions::default()
        };
        handshake_capture::write_trace(&self.trace, viewpoint, &options, &mut writer)?;
        writer.finish()
    }
}

/// Runs a full stream between the two profiles over `link` (its seed and fault rules), bounded in
/// virtual time so a stuck pair ends as `TimeLimit`.
pub fn run_pair(
    initiator: Profile,
    responder: Profile,
    config: StreamConfig,
    link: VirtualLink,
    responder_seed: u64,
) -> Result<PairRun, ConfigError> {
    let (i_addr, r_addr) = (initiator_addr(), responder_addr());
    let mut init = Initiator::new(initiator, config, r_addr)?;
    init.connect(Instant::ZERO);
    let resp = Responder::new(responder, config, responder_seed)?;
    let mut sim = Simulation::new(link.with_classifier(kind_name));
    // Both addresses are fixed and distinct, so adding cannot fail.
    let _ = sim.add_endpoint(r_addr, Peer::Responder(resp));
    let _ = sim.add_endpoint(i_addr, Peer::Initiator(init));
    // Generous bound: stream + buffer + the longest handshake and fallback schedules.
    let horizon = Instant::from_millis(
        (u64::from(config.stream_length_secs) + u64::from(config.buffer_depth_secs)) * 1000
            + 60_000,
    );
    let limits = RunLimits::until_finished(vec![i_addr])
        .max_time(horizon)
        .max_steps(50_000_000);
    let outcome = sim.run(&limits);
    // Let the responder finish sending what is due (its session ends after the last frame); in
    // push, let it receive what is in flight and end its session (at the last frame, or at its
    // render deadlines).
    if config.direction == Direction::Push {
        let tail = config.frame_offset(config.initial_buffer_frames()) + Duration::from_millis(100);
        let until = sim.now() + tail;
        sim.run_until(until, 50_000_000);
    }
    sim.drain_endpoints();
    // What the link still holds never arrived: record it, so the capture loses nothing.
    let end = sim.now();
    sim.link_mut().end_run(end);
    let events = sim.take_events();
    let mut responder_sessions: Vec<Metrics> = events
        .iter()
        .filter(|e| e.endpoint == r_addr)
        .filter_map(|e| match &e.event {
            Event::Ended { metrics, .. } => Some((**metrics).clone()),
            _ => None,
        })
        .collect();
    let (link, endpoints) = sim.into_parts();
    let mut initiator_metrics = Metrics::default();
    for (addr, peer) in &endpoints {
        match peer {
            Peer::Initiator(i) if *addr == i_addr => initiator_metrics = i.metrics().clone(),
            Peer::Responder(r) => {
                if let Some(m) = r.session_metrics(i_addr) {
                    responder_sessions.push(m.clone());
                }
            }
            _ => {}
        }
    }
    let mut link = link;
    let latency_ms = link.config().latency_ms;
    Ok(PairRun {
        latency_ms,
        outcome,
        direction: config.direction,
        initiator: initiator_metrics,
        responder_sessions,
        trace: link.take_trace(),
        events,
    })
}
