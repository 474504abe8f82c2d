//! The initiator's frame accounting, as ctsTraffic codes it: bytes are summed per sequence number
//! (headers included) and each frame is judged at its render deadline: a sum equal to F is successful,
//! below F dropped, above F duplicate. The first render is IBF frame periods after the stream's base; the window holds
//! 2 × IBF frames; datagrams for stale, future or beyond-last sequence numbers count as `errorFrames`.
//!
//! The 3-way profile adds D13: with `dedup`, a datagram already seen for the same sequence number is
//! discarded before it reaches the byte sum, so a duplicate can neither spoil a good frame nor hide a
//! lost datagram of the same size (the legacy bug).

use std::collections::BTreeMap;

use handshake_core::Instant;

use super::config::StreamConfig;
use super::event::{DropReason, Metrics};

/// What identifies one datagram of a frame for D13 dedup. QPC is sampled per datagram, so two
/// datagrams of one frame differ in (QPC, length) unless one is a copy of the other; a DATA+FRAG is
/// identified by its fragment offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DatagramIdentity {
    /// DATA: (QPC, length).
    Data { qpc: u64, len: u64 },
    /// DATA+FRAG: (offset, length).
    Fragment { offset: u64, len: u64 },
}

#[derive(Debug, Default)]
struct FrameBytes {
    bytes: u64,
    seen: Vec<DatagramIdentity>,
}

/// The render outcome of a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Render {
    /// More frames to come.
    Continue,
    /// The last frame was rendered.
    Finished,
    /// The first render came and nothing had arrived: the stream fails, all frames dropped.
    NothingArrived,
}

#[derive(Debug)]
pub(crate) struct Playout {
    config: StreamConfig,
    frame_size: u64,
    frames: u64,
    ibf: u64,
    dedup: bool,
    base: Option<Instant>,
    next_render: u64,
    pending: BTreeMap<u64, FrameBytes>,
    any_data: bool,
}

impl Playout {
    pub(crate) fn new(config: StreamConfig, frame_size: u64, dedup: bool) -> Playout {
        Playout {
            config,
            frame_size,
            frames: config.frames(),
            ibf: config.initial_buffer_frames(),
            dedup,
            base: None,
            next_render: 1,
            pending: BTreeMap::new(),
            any_data: false,
        }
    }

    /// Starts the render clock (once).
    pub(crate) fn start(&mut self, base: Instant) {
        self.base.get_or_insert(base);
    }

    /// Starts the render clock from a media datagram of sequence number `seq` arriving `now`: the
    /// stream's base is when frame 1 would have arrived.
    pub(crate) fn start_from_media(&mut self, now: Instant, seq: u64) {
        let base = now.saturating_sub(self.config.frame_offset(seq.saturating_sub(1)));
        self.start(base);
    }

    pub(crate) fn is_started(&self) -> bool {
        self.base.is_some()
    }

    /// The next render deadline: frame j renders at base + (IBF + j − 1) frame periods.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let base = self.base?;
        (self.next_render <= self.frames)
            .then(|| base + self.config.frame_offset(self.ibf + self.next_render - 1))
    }

    /// Takes one media datagram into the byte sum, or says why it is not taken.
    pub(crate) fn receive(
        &mut self,
        seq: u64,
        identity: DatagramIdentity,
        len: u64,
    ) -> Result<(), DropReason> {
        if seq == 0 || seq > self.frames {
            return Err(DropReason::BeyondLastFrame);
        }
        if seq < self.next_render {
            return Err(DropReason::StaleFrame);
        }
        if seq >= self.next_render + 2 * self.ibf.max(1) {
            return Err(DropReason::FutureFrame);
        }
        let frame = self.pending.entry(seq).or_default();
        if self.dedup {
            if frame.seen.contains(&identity) {
                return Err(DropReason::DuplicateDatagram);
            }
            frame.seen.push(identity);
        }
        frame.bytes += len;
        self.any_data = true;
        Ok(())
    }

    /// Renders every frame whose deadline has passed.
    pub(crate) fn render_due(&mut self, now: Instant, metrics: &mut Metrics) -> Render {
        while let Some(deadline) = self.deadline() {
            if deadline > now {
                return Render::Continue;
            }
            if self.next_render == 1 && !self.any_data {
                metrics.frames_dropped = self.frames;
                self.next_render = self.frames + 1;
                return Render::NothingArrived;
            }
            self.render_next(metrics);
        }
        if self.next_render > self.frames {
            Render::Finished
        } else {
            Render::Continue
        }
    }

    /// Renders every frame not rendered yet, now, whatever its deadline.
    pub(crate) fn render_remaining(&mut self, metrics: &mut Metrics) {
        while self.next_render <= self.frames {
            self.render_next(metrics);
        }
    }

    /// Judges frame `next_render` by its byte sum: F successful, less dropped, more duplicate.
    fn render_next(&mut self, metrics: &mut Metrics) {
        let bytes = self
            .pending
            .remove(&self.next_render)
            .map_or(0, |f| f.bytes);
        match bytes.cmp(&self.frame_size) {
            core::cmp::Ordering::Equal => metrics.frames_successful += 1,
            core::cmp::Ordering::Less => metrics.frames_dropped += 1,
            core::cmp::Ordering::Greater => metrics.frames_duplicate += 1,
        }
        self.next_render += 1;
    }

    /// Whether frame `seq` has all its bytes (F) and is not rendered yet.
    pub(crate) fn frame_complete(&self, seq: u64) -> bool {
        self.pending
            .get(&seq)
            .is_some_and(|f| f.bytes >= self.frame_size)
    }

    /// Frames not rendered yet (counted as dropped when a stream is cut short).
    pub(crate) fn unrendered(&self) -> u64 {
        (self.frames + 1).saturating_sub(self.next_render)
    }
}
