//! What the media stream observes of a run: the negotiated mode the judge saw on the wire, the media
//! receiver's frame metrics, the IUT's drop counters (in-process only) and whether the initiator's
//! stream completed; and how the `expect` keys are judged against them.

use std::collections::BTreeMap;

use handshake_mediastream_endpoint::{Direction, DropReason, Event, Metrics, Phase};
use handshake_mediastream_judge::Report;
use handshake_scenario::{Observations, ObserveCtx, Role};
use serde::Serialize;

use crate::format::ExpectFields;
use crate::node::Node;
use crate::MediaStream;

/// The media stream's observations of one run (their JSON fields are the outcome's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MediaObservations {
    /// The negotiated mode seen on the wire.
    pub negotiated_mode: Option<String>,
    /// The media receiver's frame metrics (the initiator's in pull, the responder session's in
    /// push), when known (an in-process IUT, or a reference peer that receives).
    pub metrics: Option<Metrics>,
    /// The IUT's dropped datagrams by reason, when known.
    pub iut_drops: BTreeMap<String, u64>,
    /// Whether the initiator's stream completed without failure, when known.
    #[serde(skip)]
    pub initiator_complete: Option<bool>,
    /// Whether the IUT's drop counters could be read (an in-process IUT).
    #[serde(skip)]
    pub drops_observable: bool,
}

/// `frames_successful ok, … error of frames_expected`: the frame counts both renderings start with.
fn frame_counts(m: &Metrics) -> String {
    format!(
        "{} ok, {} dropped, {} duplicate, {} error of {}",
        m.frames_successful,
        m.frames_dropped,
        m.frames_duplicate,
        m.frames_error,
        m.frames_expected
    )
}

impl MediaObservations {
    /// `reason=count, …`, when the IUT dropped anything.
    fn drops(&self) -> Option<String> {
        (!self.iut_drops.is_empty()).then(|| {
            self.iut_drops
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

impl Observations for MediaObservations {
    fn render(&self, s: &mut String) {
        if let Some(mode) = &self.negotiated_mode {
            s.push_str(&format!("negotiated mode: {mode}\n"));
        }
        if let Some(m) = &self.metrics {
            s.push_str(&format!(
                "initiator frames: {}; {} duplicate datagrams{}\n",
                frame_counts(m),
                m.duplicate_datagrams,
                m.failure
                    .as_ref()
                    .map(|f| format!("; failed: {f}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(drops) = self.drops() {
            s.push_str(&format!("iut dropped: {drops}\n"));
        }
    }
    fn facts(&self) -> Vec<(String, String)> {
        let mut facts = Vec::new();
        if let Some(mode) = &self.negotiated_mode {
            facts.push(("negotiated mode".to_owned(), mode.clone()));
        }
        if let Some(m) = &self.metrics {
            let mut text = frame_counts(m);
            if let Some(t) = m.time_to_first_media {
                text.push_str(&format!(
                    "; first media after {:.3} ms",
                    t.as_secs_f64() * 1000.0
                ));
            }
            if let Some(fail) = &m.failure {
                text.push_str(&format!("; failed: {fail}"));
            }
            facts.push(("initiator frames".to_owned(), text));
        }
        if let Some(drops) = self.drops() {
            facts.push(("IUT dropped".to_owned(), drops));
        }
        facts
    }
}

fn complete(m: &Metrics, phase: Phase) -> bool {
    phase == Phase::Finished && m.failure.is_none()
}

/// Collects the observations (see [`handshake_scenario::Family::observe`]).
pub fn observe(ctx: &ObserveCtx<'_, MediaStream>, report: &Report) -> MediaObservations {
    let pushing = ctx.scenario.setup.stream.direction == Direction::Push;
    let mut o = MediaObservations {
        negotiated_mode: report
            .sessions
            .first()
            .map(|s| s.negotiated_mode.to_owned()),
        ..MediaObservations::default()
    };
    let peer = ctx.peer.and_then(Node::endpoint);
    if ctx.real_time {
        // The receiver's metrics are known when the reference peer receives: a reference initiator
        // in pull, a reference responder in push. An initiator IUT's completion is its exit code 0
        // within the deadline.
        match ctx.role {
            Role::Responder => {
                if let Some(i) = peer.and_then(|p| p.as_initiator()) {
                    o.metrics = (!pushing).then(|| i.metrics().clone());
                    o.initiator_complete = Some(complete(i.metrics(), i.phase()));
                }
            }
            Role::Initiator => {
                o.metrics = pushing
                    .then(|| {
                        ctx.events.iter().find_map(|e| match &e.event {
                            Event::Ended { metrics, .. } => Some((**metrics).clone()),
                            _ => None,
                        })
                    })
                    .flatten();
                o.initiator_complete = ctx.iut_exit.map_or(Some(false), |e| {
                    if e.in_time {
                        e.succeeded
                    } else {
                        Some(false)
                    }
                });
            }
        }
        return o;
    }
    let mut drops: BTreeMap<DropReason, u64> = BTreeMap::new();
    let responder_addr = match ctx.role {
        Role::Responder => ctx.iut_addr,
        Role::Initiator => ctx.peer_addr,
    };
    // The responder first, as the simulation holds them.
    let mut nodes = [
        (ctx.iut_addr, ctx.iut.and_then(Node::endpoint)),
        (ctx.peer_addr, peer),
    ];
    if ctx.role == Role::Initiator {
        nodes.reverse();
    }
    for (addr, node) in nodes {
        let Some(node) = node else {
            continue;
        };
        if let Some(i) = node.as_initiator() {
            if !pushing {
                o.metrics = Some(i.metrics().clone());
            }
            o.initiator_complete = Some(complete(i.metrics(), i.phase()));
            if addr == ctx.iut_addr {
                drops = i.metrics().validation_errors.clone();
            }
        }
        if let (Some(r), true) = (node.as_responder(), pushing) {
            // Push: the receiving session still live at the end (one that ended is below).
            if let Some((_, m)) = r.sessions().next() {
                o.metrics = Some(m.clone());
            }
        }
        if let (Some(r), true) = (node.as_responder(), addr == ctx.iut_addr) {
            for (reason, n) in &r.stray_metrics().validation_errors {
                *drops.entry(*reason).or_default() += n;
            }
            for (_, m) in r.sessions() {
                for (reason, n) in &m.validation_errors {
                    *drops.entry(*reason).or_default() += n;
                }
            }
        }
    }
    for e in ctx.events.iter().filter(|e| e.endpoint == responder_addr) {
        if let Event::Ended { metrics, .. } = &e.event {
            if ctx.role == Role::Responder {
                for (reason, n) in &metrics.validation_errors {
                    *drops.entry(*reason).or_default() += n;
                }
            }
            if pushing && o.metrics.is_none() {
                o.metrics = Some((**metrics).clone());
            }
        }
    }
    o.iut_drops = drops
        .into_iter()
        .map(|(r, n)| (r.name().to_owned(), n))
        .collect();
    o.drops_observable = true;
    o
}

fn metric(m: &Metrics, name: &str) -> Option<u64> {
    Some(match name {
        "frames_successful" => m.frames_successful,
        "frames_dropped" => m.frames_dropped,
        "frames_duplicate" => m.frames_duplicate,
        "frames_error" => m.frames_error,
        "duplicate_datagrams" => m.duplicate_datagrams,
        _ => return None,
    })
}

/// Checks the observable outcome expectations (mode, metrics, drops, completion); what fails goes to
/// `reasons`, what this IUT cannot show to `unobservable`.
impl handshake_scenario::Expectations<MediaObservations> for ExpectFields {
    fn check(
        &self,
        observed: &MediaObservations,
        reasons: &mut Vec<String>,
        unobservable: &mut Vec<String>,
    ) {
        if let Some(want) = &self.negotiated_mode {
            match &observed.negotiated_mode {
                Some(got) if got == want => {}
                got => reasons.push(format!(
                    "negotiated mode {}, expected {want}",
                    got.as_deref().unwrap_or("(no session)")
                )),
            }
        }
        for (name, bound) in &self.metrics {
            match observed.metrics.as_ref().and_then(|m| metric(m, name)) {
                Some(v) if bound.contains(v) => {}
                Some(v) => reasons.push(format!("{name} = {v}, expected {bound}")),
                None => unobservable.push(name.clone()),
            }
        }
        if observed.drops_observable {
            for (reason, bound) in &self.validation_errors {
                let v = observed.iut_drops.get(reason).copied().unwrap_or(0);
                if !bound.contains(v) {
                    reasons.push(format!(
                        "IUT dropped {} as {reason}, expected {bound}",
                        handshake_core::words::count(v, "datagram")
                    ));
                }
            }
        } else {
            unobservable.extend(
                self.validation_errors
                    .keys()
                    .map(|k| format!("validation_errors.{k}")),
            );
        }
        if let Some(want) = self.stream_complete {
            match observed.initiator_complete {
                Some(got) if got == want => {}
                Some(got) => reasons.push(format!("stream complete = {got}, expected {want}")),
                None => unobservable.push("stream_complete".into()),
            }
        }
    }
}
