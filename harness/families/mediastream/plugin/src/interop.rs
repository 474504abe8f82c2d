//! The media stream in interop matrices: a cell's path is the negotiated mode, what it delivered
//! the frames the receiver rendered complete; an expected cell names both (and a failure's text).

use std::time::Duration;

use handshake_interop::InteropFamily;
use handshake_mediastream_endpoint::{Direction, Metrics};
use handshake_mediastream_judge::{Mark, Report};
use handshake_mediastream_wire::{Datagram, Mode};
use handshake_scenario::engine::Simulated;
use handshake_scenario::outcome::Verdict;
use handshake_scenario::{FamilyError, Role, ScenarioOutcome};
use serde::Serialize;

use crate::format::{ExpectFields, NEGOTIATED_MODES};
use crate::observe::MediaObservations;
use crate::pair::{initiator_metrics, responder_sessions};
use crate::{MediaScenario, MediaStream};

handshake_scenario::family_fields! {
    /// What a media-stream cell must show.
    pub struct CellExpect {
        /// `3way`, `legacy`, `legacy-fallback`, `rejected` or `failed`.
        negotiated_mode: String = String::new(),
        /// Frames the receiver rendered complete.
        frames_successful: u64 = 0,
        /// A part of the initiator's failure message, when it fails.
        failure_contains: Option<String> = None,
    }
}

/// What a media-stream cell showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellSeen {
    /// The path taken (`3way`, `legacy`, `legacy-fallback`, `rejected`, `failed`).
    pub negotiated_mode: String,
    /// Frames the receiver rendered complete.
    pub frames_successful: u64,
    /// Frames in the stream.
    pub frames_expected: u64,
    /// Time to first media, ms.
    pub time_to_first_media_ms: Option<f64>,
    /// The initiator's failure, if any.
    pub failure: Option<String>,
}

fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1000.0)
}

/// What the initiator's metrics and the receiver's frames say.
fn from_metrics(initiator: &Metrics, received: u64) -> CellSeen {
    CellSeen {
        negotiated_mode: initiator.negotiated_mode.name().to_owned(),
        frames_successful: received,
        frames_expected: initiator.frames_expected,
        time_to_first_media_ms: ms(initiator.time_to_first_media),
        failure: initiator.failure.clone(),
    }
}

/// Time from the capture's first datagram to the first media datagram delivered, ms.
fn first_media_ms(capture: &[u8]) -> Option<f64> {
    let reader = handshake_capture::open(capture).ok()?;
    let mut first = None;
    for udp in reader.flatten() {
        let t0 = *first.get_or_insert(udp.timestamp_ns);
        let media = matches!(
            Datagram::parse(&udp.payload, Mode::LegacyAccepting),
            Ok(Datagram::Data(_) | Datagram::Fragment(_))
        );
        let delivered = !Mark::from_comment(udp.comment.as_deref()).undelivered;
        if media && delivered {
            return Some(udp.timestamp_ns.saturating_sub(t0) as f64 / 1e6);
        }
    }
    None
}

impl handshake_interop::CellSeen for CellSeen {
    fn failed(why: &str) -> CellSeen {
        CellSeen {
            negotiated_mode: "failed".into(),
            frames_successful: 0,
            frames_expected: 0,
            time_to_first_media_ms: None,
            failure: Some(why.to_owned()),
        }
    }
    fn path(&self) -> String {
        self.negotiated_mode.clone()
    }
    fn value(&self) -> String {
        self.frames_successful.to_string()
    }
    fn summary(&self) -> String {
        format!(
            "{} / {} frames",
            self.frames_successful, self.frames_expected
        )
    }
    fn detail(&self) -> Option<String> {
        self.time_to_first_media_ms.map(|t| format!(" · {t:.1} ms"))
    }
    fn facts(&self) -> Vec<(String, String)> {
        let mut facts = vec![
            ("path".to_owned(), self.negotiated_mode.clone()),
            (
                "frames delivered".to_owned(),
                format!("{} of {}", self.frames_successful, self.frames_expected),
            ),
            (
                "time to first media".to_owned(),
                self.time_to_first_media_ms
                    .map_or("—".into(), |t| format!("{t:.3} ms")),
            ),
        ];
        if let Some(f) = &self.failure {
            facts.push(("failure".to_owned(), f.clone()));
        }
        facts
    }
    fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

impl handshake_interop::CellExpect<CellSeen> for CellExpect {
    fn short(&self) -> String {
        format!("{} · {}", self.negotiated_mode, self.frames_successful)
    }
    fn long(&self) -> String {
        format!(
            "{} · {} frames{}",
            self.negotiated_mode,
            self.frames_successful,
            self.failure_contains
                .as_ref()
                .map(|f| format!(" · failure containing “{f}”"))
                .unwrap_or_default()
        )
    }
    fn mismatch(&self, seen: &CellSeen, failure_text: bool) -> Vec<String> {
        let mut mismatch = Vec::new();
        if seen.negotiated_mode != self.negotiated_mode {
            mismatch.push(format!(
                "mode {}, expected {}",
                seen.negotiated_mode, self.negotiated_mode
            ));
        }
        if seen.frames_successful != self.frames_successful {
            mismatch.push(format!(
                "{} delivered, expected {}",
                handshake_core::words::count(seen.frames_successful, "frame"),
                self.frames_successful
            ));
        }
        match (&self.failure_contains, &seen.failure) {
            (Some(want), Some(got)) if failure_text && !got.contains(want.as_str()) => {
                mismatch.push(format!("failure `{got}`, expected it to contain `{want}`"))
            }
            (Some(want), None) => {
                mismatch.push(format!("no failure, expected one containing `{want}`"))
            }
            (None, Some(got)) => mismatch.push(format!("unexpected failure `{got}`")),
            _ => {}
        }
        mismatch
    }
}

impl InteropFamily for MediaStream {
    type CellExpect = CellExpect;
    type CellSeen = CellSeen;
    const PATHS: &'static [&'static str] = &NEGOTIATED_MODES;

    fn seen_pair(run: &Simulated<Self>, _: &Report, s: &MediaScenario) -> CellSeen {
        // The path is the initiator's; the frames are the receiver's (the responder in push).
        let initiator = initiator_metrics(run);
        let received = match s.setup.stream.direction {
            Direction::Pull => initiator.frames_successful,
            Direction::Push => responder_sessions(run)
                .first()
                .map_or(0, |m| m.frames_successful),
        };
        from_metrics(&initiator, received)
    }

    fn seen_external(
        outcome: &ScenarioOutcome,
        observed: &MediaObservations,
        role: Role,
        report: &Report,
        s: &MediaScenario,
    ) -> Result<CellSeen, FamilyError> {
        match role {
            // The reference initiator's own metrics.
            Role::Responder => observed
                .metrics
                .as_ref()
                .map(|m| from_metrics(m, m.frames_successful))
                .ok_or_else(|| {
                    FamilyError::iut(format!(
                        "the reference initiator reported nothing: {}",
                        outcome.reasons.join("; ")
                    ))
                }),
            // The program's receive side cannot be seen: completion is its exit status, frames and
            // time to first media are read from the capture taken at it.
            Role::Initiator => {
                let complete = outcome.verdict == Verdict::Pass;
                let first = report.sessions.first();
                let mode = match (complete, first.map(|s| s.negotiated_mode)) {
                    (_, Some("rejected")) => "rejected".to_owned(),
                    (true, Some(m)) => m.to_owned(),
                    _ => "failed".to_owned(),
                };
                Ok(CellSeen {
                    negotiated_mode: mode,
                    frames_successful: first.map_or(0, |s| s.stats.frames_complete),
                    frames_expected: s.setup.stream.frames(),
                    time_to_first_media_ms: first_media_ms(&outcome.capture),
                    failure: (!complete).then(|| {
                        let why = outcome.reasons.join("; ");
                        if why.is_empty() {
                            "the stream did not complete".into()
                        } else {
                            why
                        }
                    }),
                })
            }
        }
    }

    /// A cell that could not run delivered none of the stream's frames.
    fn seen_failed(why: &str, s: &MediaScenario) -> CellSeen {
        CellSeen {
            frames_expected: s.setup.stream.frames(),
            ..handshake_interop::CellSeen::failed(why)
        }
    }

    fn checker_path(report: &Report) -> Option<String> {
        report
            .sessions
            .first()
            .map(|s| s.negotiated_mode.to_owned())
    }
    fn setup_facts(s: &MediaScenario) -> Vec<(String, String)> {
        let stream = &s.setup.stream;
        vec![(
            "stream".to_owned(),
            format!(
                "{} bit/s, {} frames/s, {} s, {} s buffer, {}-byte datagrams ({} frames{})",
                stream.bits_per_second,
                stream.frame_rate,
                stream.stream_length_secs,
                stream.buffer_depth_secs,
                stream.datagram_byte_size,
                stream.frames(),
                match stream.direction {
                    Direction::Pull => "",
                    Direction::Push => ", push",
                }
            ),
        )]
    }
    fn cell_expect(role: Role) -> ExpectFields {
        ExpectFields {
            stream_complete: (role == Role::Initiator).then_some(true),
            ..ExpectFields::default()
        }
    }
}

/// The media stream's face in the interop registry.
pub static INTEROP: handshake_interop::Interop<MediaStream> = handshake_interop::Interop::new();
