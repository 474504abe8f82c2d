//! The media sender: frames 1..N on schedule, each cut by the fragmentation plan into datagrams
//! whose payloads are the fill pattern. A pull responder's session and a push initiator share it.
//!
//! As coded: frame k (1-based) is due at base + (k−1)·1000/FrameRate ms and all its datagrams go back
//! to back with the same sequence number; QPC is sampled per datagram (and made strictly increasing,
//! which D13's dedup identity relies on); QPF is constant.

use handshake_mediastream_wire::{pattern_slice, DataRepr, Datagram, FragmentPlan};

use handshake_core::Instant;

use super::config::{Profile, StreamConfig};
use super::Mutant;

/// QPF the reference senders report: a 10 MHz counter, as Windows' QueryPerformanceFrequency usually is.
pub const QPF: u64 = 10_000_000;

/// One stream's send schedule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MediaSender {
    /// When frame 1 is (was) due.
    base: Instant,
    /// Frames sent.
    sent: u64,
}

/// The sender's per-endpoint QPC clock (strictly increasing across all its streams).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Qpc {
    last: u64,
}

impl Qpc {
    fn sample(&mut self, now: Instant) -> u64 {
        let ticks = now.as_nanos() / (1_000_000_000 / QPF);
        self.last = ticks.max(self.last + 1);
        self.last
    }
}

impl MediaSender {
    /// A stream whose frame 1 is due at `base`.
    pub(crate) fn new(base: Instant) -> MediaSender {
        MediaSender { base, sent: 0 }
    }

    /// Frames this profile sends: N, or N + 1 for the `extra-frame` mutant.
    fn frames(config: &StreamConfig, profile: &Profile) -> u64 {
        config.frames() + u64::from(profile.is(Mutant::ExtraFrame))
    }

    /// When the next frame is due; `None` once every frame was sent.
    pub(crate) fn next_due(&self, config: &StreamConfig, profile: &Profile) -> Option<Instant> {
        (self.sent < Self::frames(config, profile))
            .then(|| self.base + config.frame_offset(self.sent))
    }

    /// Whether every frame was sent.
    pub(crate) fn finished(&self, config: &StreamConfig, profile: &Profile) -> bool {
        self.sent >= Self::frames(config, profile)
    }

    /// Sends every frame due at `now` through `out`; returns how many frames went.
    pub(crate) fn send_due(
        &mut self,
        now: Instant,
        config: &StreamConfig,
        plan: &FragmentPlan,
        profile: &Profile,
        qpc: &mut Qpc,
        mut out: impl FnMut(Vec<u8>),
    ) -> u64 {
        let mut frames = 0;
        while self.next_due(config, profile).is_some_and(|due| due <= now) {
            self.sent += 1;
            frames += 1;
            let seq = self.sent - u64::from(profile.is(Mutant::SeqFromZero));
            for len in datagram_sizes(plan, profile) {
                let payload_len = usize::try_from(len).unwrap_or(0).saturating_sub(26);
                let offset = usize::from(profile.is(Mutant::PatternOffByOne));
                out(Datagram::Data(DataRepr {
                    seq,
                    qpc: qpc.sample(now),
                    qpf: QPF,
                    payload: pattern_slice(offset, payload_len),
                })
                .to_vec());
            }
        }
        frames
    }
}

/// The datagram sizes of one frame: the planner's, or a mutant's wrong cut.
fn datagram_sizes(plan: &FragmentPlan, profile: &Profile) -> Vec<u64> {
    let (frame, max) = (plan.frame_size(), plan.max_datagram());
    match profile.mutant {
        Some(Mutant::WrongFragmentationTail) => {
            let mut sizes = vec![max; (frame / max) as usize];
            if frame % max > 0 {
                sizes.push(frame % max);
            }
            sizes
        }
        Some(Mutant::OversizeDatagrams) => match FragmentPlan::new(frame, max + 100) {
            Ok(plan) => plan.iter().map(|d| d.len).collect(),
            Err(_) => plan.iter().map(|d| d.len).collect(),
        },
        _ => plan.iter().map(|d| d.len).collect(),
    }
}
