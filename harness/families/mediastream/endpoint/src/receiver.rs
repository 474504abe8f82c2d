//! The media receiver: payload verification and the frame accounting of [`Playout`], with the
//! legacy semantics as coded (`strict`: only DATA, a bad payload fails the stream) or the 3-way ones
//! (DATA and DATA+FRAG, D13 dedup, a bad payload dropped and counted). A pull initiator and a push
//! responder's session share it; the caller decides what a verdict means for its stream.

use handshake_mediastream_wire::{verify_pattern, Datagram, Kind};

use handshake_core::Instant;

use super::config::{StreamConfig, Verify};
use super::event::{DropReason, Metrics};
use super::playout::{DatagramIdentity, Playout, Render};

/// What became of one media datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Media {
    /// Its payload is not the fill pattern (`-verify:data`): legacy fails the stream, 3-way drops it.
    BadPayload(String),
    /// A kind this receiver does not take (DATA+FRAG at a legacy receiver).
    Unexpected,
    /// Verified: `Ok` when it went into its frame's byte sum, else why not.
    Verified(Result<(), DropReason>),
}

/// One stream's receive side.
#[derive(Debug)]
pub(crate) struct MediaReceiver {
    config: StreamConfig,
    playout: Playout,
    /// Legacy semantics as coded.
    strict: bool,
}

impl MediaReceiver {
    /// A receiver for frames of `frame_size` bytes; `dedup` is D13, `strict` the legacy semantics.
    pub(crate) fn new(
        config: StreamConfig,
        frame_size: u64,
        dedup: bool,
        strict: bool,
    ) -> MediaReceiver {
        MediaReceiver {
            config,
            playout: Playout::new(config, frame_size, dedup),
            strict,
        }
    }

    /// Switches to (or from) the legacy semantics (D10 fallback keeps the 3-way ones, see README).
    pub(crate) fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    /// Starts the render clock at `base` (legacy: the first START).
    pub(crate) fn start(&mut self, base: Instant) {
        self.playout.start(base);
    }

    /// Whether the render clock runs.
    pub(crate) fn is_started(&self) -> bool {
        self.playout.is_started()
    }

    /// The next render deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.playout.deadline()
    }

    /// Renders every frame due at `now` into `metrics`.
    pub(crate) fn render_due(&mut self, now: Instant, metrics: &mut Metrics) -> Render {
        self.playout.render_due(now, metrics)
    }

    /// Renders every frame still pending now, whatever its deadline (a push receiver reports
    /// success as soon as the final frame has arrived).
    pub(crate) fn render_all(&mut self, metrics: &mut Metrics) {
        self.playout.render_remaining(metrics);
    }

    /// Frames not rendered yet.
    pub(crate) fn unrendered(&self) -> u64 {
        self.playout.unrendered()
    }

    /// Whether the last frame's bytes are all there.
    pub(crate) fn last_frame_complete(&self) -> bool {
        self.playout.frame_complete(self.config.frames())
    }

    /// Takes one media datagram (DATA or DATA+FRAG; anything else is [`Media::Unexpected`]).
    pub(crate) fn take(&mut self, now: Instant, datagram: &Datagram<'_>) -> Media {
        let (seq, identity) = match datagram {
            Datagram::Data(d) => (
                d.seq,
                DatagramIdentity::Data {
                    qpc: d.qpc,
                    len: datagram.buffer_len() as u64,
                },
            ),
            Datagram::Fragment(f) if !self.strict => (
                f.seq,
                DatagramIdentity::Fragment {
                    offset: f.fragment_offset,
                    len: datagram.buffer_len() as u64,
                },
            ),
            _ => return Media::Unexpected,
        };
        if self.config.verify == Verify::Data {
            if let Err(m) = verify_pattern(datagram.payload().unwrap_or_default()) {
                return Media::BadPayload(format!("{} seq {seq}: {m}", datagram.kind()));
            }
        }
        // The render clock starts with the first media unless the role started it (a legacy
        // initiator at its first START).
        if !self.playout.is_started() {
            self.playout.start_from_media(now, seq);
        }
        let len = datagram.buffer_len() as u64;
        Media::Verified(self.playout.receive(seq, identity, len))
    }
}

/// Why a legacy receiver fails on a kind it does not know, as coded.
pub(crate) fn unexpected(kind: Kind) -> String {
    format!("unexpected {kind} datagram (flag unknown to this receiver)")
}
