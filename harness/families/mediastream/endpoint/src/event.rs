//! What the media-stream endpoints report: typed transitions and drops (the transcript of a run) and
//! per-session metrics with the same names on every side.

use core::fmt;
use core::time::Duration;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use handshake_mediastream_wire::{ConnectionId, Error as WireError, Kind};
use serde::{Serialize, Serializer};

named_enum! {
    /// A session's (or stream's) phase.
    Phase {
        /// Nothing sent yet.
        Idle = "idle",
        /// Legacy discovery: START sent, no DATA yet.
        Discovering = "discovering",
        /// 3-way: SYN sent, no SYN-ACK yet.
        Handshaking = "handshaking",
        /// Responder: SYN-ACK sent, waiting for ACK (D6).
        AwaitingAck = "awaiting_ack",
        /// Media flowing (or expected).
        Streaming = "streaming",
        /// The stream ended normally.
        Finished = "finished",
        /// The stream or handshake failed.
        Failed = "failed",
        /// The responder refused (SYN-ACK Accept=0, D4/D5).
        Rejected = "rejected",
        /// Responder: a pending session given up for lack of an ACK (D7).
        Abandoned = "abandoned",
    }
}

named_enum! {
    /// Why a transition happened.
    Reason {
        /// The initiator opened with legacy START.
        StartSent = "start_sent",
        /// The initiator opened with SYN (D1).
        SynSent = "syn_sent",
        /// The udp_push initiator: START then SYNs.
        StartThenSyn = "start_then_syn",
        /// A SYN-ACK accepted the stream (D5).
        SynAckAccepted = "syn_ack_accepted",
        /// A SYN-ACK rejected it (D5).
        SynAckRejected = "syn_ack_rejected",
        /// The initiator adopted the id of a CONNECTION_ID (optimistic responder, D8).
        ConnectionIdAdopted = "connection_id_adopted",
        /// The first DATA arrived.
        FirstData = "first_data",
        /// The responder accepted a SYN (D3).
        SynAccepted = "syn_accepted",
        /// The responder rejected a SYN (D4).
        SynRejected = "syn_rejected",
        /// The responder got the ACK (D6).
        AckConfirmed = "ack_confirmed",
        /// The responder streams without waiting for ACK (D8).
        OptimisticStart = "optimistic_start",
        /// The responder served a legacy START (legacy profile, or D9).
        LegacyStart = "legacy_start",
        /// All SYN attempts went unanswered (D2).
        HandshakeTimedOut = "handshake_timed_out",
        /// …and the initiator fell back to legacy START (D10).
        FellBackToLegacy = "fell_back_to_legacy",
        /// No ACK after every SYN-ACK re-send (D7).
        AckTimedOut = "ack_timed_out",
        /// The last frame was sent or rendered.
        StreamComplete = "stream_complete",
        /// Nothing arrived before the first render deadline.
        NothingBeforeFirstRender = "nothing_before_first_render",
        /// A legacy receive side met a malformed datagram.
        MalformedDatagram = "malformed_datagram",
    }
}

named_enum! {
    /// Why a datagram was dropped (and counted). Legacy receivers fail instead where the facts say so.
    DropReason {
        /// Fewer bytes than the kind needs.
        TooShort = "too_short",
        /// A flag no profile knows.
        UnknownFlag = "unknown_flag",
        /// Control frame Version ≠ 1.
        BadVersion = "bad_version",
        /// Invalid TLV options.
        BadOptions = "bad_options",
        /// A kind this receiver does not accept here (e.g. a control frame at a legacy receiver, a SYN at
        /// an initiator, a SYN-ACK after fallback).
        UnexpectedKind = "unexpected_kind",
        /// START where legacy START is not served (3way without AllowLegacyStart, D9).
        UnexpectedStart = "unexpected_start",
        /// START from a tuple whose session is live.
        DuplicateStart = "duplicate_start",
        /// A connection id other than the session's (D6, D8).
        MismatchedConnectionId = "mismatched_connection_id",
        /// An ACK for no pending or live session (e.g. after D7 gave up).
        UnknownSession = "unknown_session",
        /// A datagram from a tuple that is not this initiator's peer.
        UnknownTuple = "unknown_tuple",
        /// Media before the initiator knows the session (D8).
        MediaBeforeSession = "media_before_session",
        /// A DATA datagram already received (D13).
        DuplicateDatagram = "duplicate_datagram",
        /// Payload differs from the fill pattern.
        PayloadMismatch = "payload_mismatch",
        /// Sequence number already rendered.
        StaleFrame = "stale_frame",
        /// Sequence number beyond the receive window.
        FutureFrame = "future_frame",
        /// Sequence number 0 or beyond the stream's last frame.
        BeyondLastFrame = "beyond_last_frame",
        /// The responder is at its session limit (D4).
        SessionLimit = "session_limit",
        /// The stream has ended (or failed); nothing more is taken.
        AfterEnd = "after_end",
    }
}

// The enum comes from `named_enum!`, which cannot carry `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for NegotiatedMode {
    fn default() -> Self {
        NegotiatedMode::Pending
    }
}

impl DropReason {
    /// The drop reason for a wire parse error.
    pub fn from_wire(error: &WireError) -> DropReason {
        match error {
            WireError::TooShort { .. } => DropReason::TooShort,
            WireError::UnknownFlag { .. } => DropReason::UnknownFlag,
            WireError::BadVersion { .. } => DropReason::BadVersion,
            WireError::TlvOverrun { .. } | WireError::TlvBadLength { .. } => DropReason::BadOptions,
        }
    }
}

named_enum! {
    /// How a stream was (or was not) set up.
    NegotiatedMode {
        /// Not decided yet.
        Pending = "pending",
        /// The 3-way handshake.
        ThreeWay = "3way",
        /// Legacy START discovery.
        Legacy = "legacy",
        /// 3-way attempted, then legacy START (D10).
        LegacyFallback = "legacy-fallback",
        /// The responder refused.
        Rejected = "rejected",
        /// No stream.
        Failed = "failed",
    }
}

fn millis<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_secs_f64() * 1000.0)),
        None => s.serialize_none(),
    }
}

/// Per-session metrics. The initiator fills the receive side; the responder the send side; the names
/// are the same wherever they appear (reports, interop cells, scenario outcomes).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// How the stream was set up.
    pub negotiated_mode: NegotiatedMode,
    /// The session's connection id, once known.
    #[serde(serialize_with = "escaped_id")]
    pub connection_id: Option<ConnectionId>,
    /// Frames in the stream (StreamLength × FrameRate).
    pub frames_expected: u64,
    /// Frames sent (responder).
    pub frames_sent: u64,
    /// Frames rendered complete (initiator).
    pub frames_successful: u64,
    /// Frames rendered short or missing (initiator).
    pub frames_dropped: u64,
    /// Frames rendered with more bytes than F (legacy byte-sum accounting of duplicates).
    pub frames_duplicate: u64,
    /// Datagrams for stale, future or beyond-last sequence numbers (legacy `errorFrames`).
    pub frames_error: u64,
    /// Duplicate DATA datagrams discarded (D13).
    pub duplicate_datagrams: u64,
    /// Dropped datagrams per reason.
    pub validation_errors: BTreeMap<DropReason, u64>,
    /// SYNs, STARTs (initiator) or SYN-ACKs (responder) sent.
    pub handshake_attempts: u32,
    /// From the first discovery datagram (initiator) or session start (responder) to the first media.
    #[serde(serialize_with = "millis", rename = "time_to_first_media_ms")]
    pub time_to_first_media: Option<Duration>,
    /// From the same start to the stream's end.
    #[serde(serialize_with = "millis", rename = "time_to_end_ms")]
    pub time_to_end: Option<Duration>,
    /// Why the stream failed or was rejected.
    pub failure: Option<String>,
}

fn escaped_id<S: Serializer>(id: &Option<ConnectionId>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(&id.escaped()),
        None => s.serialize_none(),
    }
}

impl Metrics {
    /// Counts a dropped datagram.
    pub fn count_drop(&mut self, reason: DropReason) {
        *self.validation_errors.entry(reason).or_default() += 1;
    }

    /// Dropped datagrams of one reason.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.validation_errors.get(&reason).copied().unwrap_or(0)
    }
}

/// Something an endpoint reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// A session or stream changed phase.
    Transition {
        /// The peer (the responder for an initiator, the initiator for a responder session).
        peer: SocketAddr,
        /// The phase left.
        from: Phase,
        /// The phase entered.
        to: Phase,
        /// Why.
        reason: Reason,
    },
    /// A datagram was dropped and counted.
    Dropped {
        /// Where it came from.
        peer: SocketAddr,
        /// Its kind, when it parsed that far.
        kind: Option<Kind>,
        /// Why.
        reason: DropReason,
    },
    /// A session or stream ended (normally or not); its final metrics.
    Ended {
        /// The peer.
        peer: SocketAddr,
        /// Final metrics.
        metrics: Box<Metrics>,
    },
}

impl Event {
    /// The peer the event concerns.
    pub fn peer(&self) -> SocketAddr {
        match self {
            Event::Transition { peer, .. }
            | Event::Dropped { peer, .. }
            | Event::Ended { peer, .. } => *peer,
        }
    }
}

impl Event {
    /// [`Display`](fmt::Display) with `peer` written as given: a transcript writes many events
    /// of few peers, and formatting the address again for each was half the cost of a line.
    pub fn write_with_peer(
        &self,
        out: &mut impl fmt::Write,
        peer: &dyn fmt::Display,
    ) -> fmt::Result {
        match self {
            Event::Transition {
                from, to, reason, ..
            } => write!(out, "{peer} {from} -> {to} ({reason})"),
            Event::Dropped { kind, reason, .. } => match kind {
                Some(kind) => write!(out, "{peer} dropped {kind}: {reason}"),
                None => write!(out, "{peer} dropped datagram: {reason}"),
            },
            Event::Ended { metrics, .. } => write!(
                out,
                "{peer} ended: mode={} frames {}/{} ok, {} dropped, {} duplicate, {} error{}",
                metrics.negotiated_mode.name(),
                metrics.frames_successful,
                metrics.frames_expected,
                metrics.frames_dropped,
                metrics.frames_duplicate,
                metrics.frames_error,
                metrics
                    .failure
                    .as_ref()
                    .map(|why| format!(", failed: {why}"))
                    .unwrap_or_default()
            ),
        }
    }
}

impl fmt::Display for Event {
    /// One transcript line, e.g. `127.0.0.1:4444 handshaking -> streaming (syn_ack_accepted)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_with_peer(f, &self.peer())
    }
}
