//! Layer 4 (judge) of the media-stream family: reads media-stream traffic — the harness's own captures or real ones taken with
//! tcpdump or Wireshark — splits it into sessions, and checks every [`rules`] rule.
//!
//! Sessions are split by UDP tuple and connection id: a new session starts on a tuple when the
//! initiator opens again (START or SYN) after media has flowed, or when the responder announces another
//! id after media. The initiator is whoever sent START or SYN first (or the side that is not
//! `--responder`).
//!
//! Captures written by the harness carry packet comments (see `handshake_capture::trace`): a packet
//! marked `not delivered:` was sent but never reached its destination, so it counts as sent and not as
//! received; a packet the harness truncated, corrupted, copied, delayed or held back is left out of the
//! rules (its bytes or its position are the harness's doing, not the sender's). Captures without
//! comments are taken as they are: every packet sent and received.
//!
//! Rules about what a side sends (sequence numbers, fragmentation, sizes, pattern) judge the capture in
//! the order the packets appear, so they are exact on a capture taken at the sender and may report a
//! gap that is really loss on a capture taken after a lossy network.
#![forbid(unsafe_code)]

pub mod rules;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::net::SocketAddr;

use handshake_mediastream_endpoint::{Backoff, Direction, Profile, ProfileKind, StreamConfig};
use handshake_mediastream_wire::field::CONTROL_LEN;
use handshake_mediastream_wire::{
    verify_pattern, ConnectionId, ControlKind, ControlPacket, Datagram, Error as WireError,
    FragmentPlan, Kind, Mode, Options, TlvOption,
};
use serde::Serialize;

pub use handshake_check::{CaptureVerdict, Mark, Packet, Violation, MAX_VIOLATIONS_PER_RULE};
use handshake_check::{Judge, Rule, ViolationLog};

/// Version of the JSON report format.
pub const REPORT_VERSION: u32 = 1;

/// DATA datagrams remembered for telling a late copy from a sequence error.
const RECENT: usize = 256;

/// Slot of malformed datagrams in the per-kind counters (after the 7 kinds).
const MALFORMED_SLOT: usize = 7;

/// How to judge.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The profile the traffic should follow (3way options matter: optimistic start allows media
    /// after CONNECTION_ID; the D2 backoff is taken from it).
    pub profile: Profile,
    /// The responder's address, when roles cannot be inferred (tuples without it are inferred
    /// from the datagrams).
    pub responder: Option<SocketAddr>,
    /// The configured maximum datagram size M.
    pub max_datagram: u64,
    /// Frame size F, when known (for the complete-frame statistics).
    pub frame_size: Option<u64>,
    /// Frames in the stream (StreamLength × FrameRate), when known: enables `media.nothing_after_last_frame`.
    pub frames: Option<u64>,
    /// Check payloads against the fill pattern (ctsTraffic `-verify:data`).
    pub verify_payload: bool,
    /// Allowed deviation of a SYN re-send interval: this much plus 10 % of the expected interval
    /// early, plus half the interval late.
    pub tolerance: handshake_check::Tolerance,
    /// Who sends the media, when known; `None`: each session's first media datagram tells.
    pub direction: Option<Direction>,
    /// The initiator's profile, when known (the IUT's or the harness's): a 3-way initiator opens
    /// with SYN (D1), where a legacy or `udp_push` one opens with START.
    pub initiator_profile: Option<Profile>,
    /// The whole stream configuration, when known: a SYN-ACK that accepts D14 options then changes
    /// the session's frame size, frame count and maximum datagram accordingly.
    pub stream: Option<StreamConfig>,
}

impl CheckOptions {
    /// Options for traffic that follows `profile` with the stream `config` (direction included).
    pub fn for_stream(profile: Profile, config: &StreamConfig) -> CheckOptions {
        CheckOptions {
            profile,
            frame_size: config.frame_size().ok(),
            frames: Some(config.frames()),
            max_datagram: u64::from(config.datagram_byte_size),
            verify_payload: config.verify == handshake_mediastream_endpoint::Verify::Data,
            direction: Some(config.direction),
            stream: Some(*config),
            ..CheckOptions::default()
        }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            profile: Profile::new(ProfileKind::ThreeWay),
            responder: None,
            max_datagram: 1400,
            frame_size: None,
            frames: None,
            verify_payload: true,
            tolerance: handshake_check::Tolerance::DEFAULT,
            direction: None,
            initiator_profile: None,
            stream: None,
        }
    }
}

/// Per-session statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SessionStats {
    /// Packets in the session.
    pub packets: u64,
    /// Datagrams by kind (`malformed` for those that do not parse).
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Packets the harness marked (undelivered or modified).
    pub harness_marked: u64,
    /// Distinct sequence numbers seen.
    pub frames_seen: u64,
    /// Frames whose datagrams add up to F.
    pub frames_complete: u64,
    /// Frames that add up to less (or more) than F.
    pub frames_incomplete: u64,
    /// The frame size F used (configured, or the most common frame total).
    pub frame_size: Option<u64>,
    /// DATA datagrams seen twice (same seq, QPC and length).
    pub duplicate_datagrams: u64,
    /// Highest sequence number seen.
    pub last_seq: u64,
}

/// One session's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionReport {
    /// 1-based, in order of first packet.
    pub index: usize,
    /// Initiator address.
    pub initiator: SocketAddr,
    /// Responder address.
    pub responder: SocketAddr,
    /// First packet number.
    pub first_packet: u64,
    /// Last packet number.
    pub last_packet: u64,
    /// The handshake as seen, e.g. `SYN x2 > SYN-ACK(accept) > ACK > CONNECTION_ID`.
    pub handshake: String,
    /// `3way`, `legacy`, `legacy-fallback`, `rejected` or `failed` (no media).
    pub negotiated_mode: &'static str,
    /// The session's connection id, when seen.
    pub connection_id: Option<String>,
    /// Statistics.
    pub stats: SessionStats,
    /// Violations, in packet order (at most [`MAX_VIOLATIONS_PER_RULE`] per rule).
    pub violations: Vec<Violation>,
    /// Violations found in all (including those not kept).
    pub violation_count: u64,
}

/// The whole verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Format version.
    pub version: u32,
    /// The profile judged against.
    pub profile: String,
    /// Datagrams judged.
    pub datagrams: u64,
    /// Sessions, in order of first packet.
    pub sessions: Vec<SessionReport>,
    /// Rules that could not be checked, with why.
    pub not_checked: Vec<(&'static str, &'static str)>,
}

impl Report {
    /// Violations in all sessions.
    pub fn violation_count(&self) -> u64 {
        self.sessions.iter().map(|s| s.violation_count).sum()
    }

    /// Every violation, session by session.
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.sessions.iter().flat_map(|s| s.violations.iter())
    }
}

impl handshake_check::Judgement for Report {
    fn violations(&self) -> Vec<Violation> {
        Report::violations(self).cloned().collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opened {
    Unknown,
    Start,
    Syn,
}

#[derive(Debug)]
struct Session {
    index: usize,
    initiator: SocketAddr,
    responder: SocketAddr,
    first_packet: u64,
    last_packet: u64,
    opened: Opened,
    handshake: Vec<(&'static str, u32)>,
    /// Times of the initiator's SYNs (`None`: one the harness delayed or changed; its time is unknown).
    syn_times: Vec<Option<u64>>,
    /// When the initiator's last START of a legacy pull session was seen (ns).
    last_start: Option<u64>,
    start_after_syn: bool,
    syn_received: bool,
    start_received: bool,
    legacy_served: bool,
    first_syn_ack: Option<(ConnectionId, bool)>,
    /// Malformed datagrams (a SYN of another version …) the initiator sent and no rejecting
    /// SYN-ACK has answered yet: each may get its own rejection, which is no answer to the
    /// session's SYN. (An accepting SYN-ACK consumes none: it may answer a well-formed SYN or one
    /// whose options this decoder calls malformed, and which it was cannot be told apart.)
    malformed_requests_pending: u32,
    accepting_syn_ack_received: bool,
    /// A rejecting SYN-ACK reached the initiator.
    rejecting_syn_ack_received: bool,
    /// A SYN-ACK that does not parse for another version than 1 or for its options reached the
    /// initiator: counted here so an ACK answering it is not taken for one that answers nothing.
    dropped_syn_ack_received: bool,
    /// A SYN of another version than 1 reached the responder.
    other_version_syn_received: bool,
    /// An ACK confirming another id than the assigned one reached the responder.
    other_id_ack_received: bool,
    /// The responder sent an accepting SYN-ACK (whatever became of it).
    accepting_syn_ack_sent: bool,
    ack_ok_received: bool,
    rejected: bool,
    connection_ids: u32,
    connection_id: Option<ConnectionId>,
    cid_with_assigned_sent: bool,
    media_started: bool,
    current_seq: u64,
    frame_sizes: Vec<u64>,
    /// Number, time and sender of the current frame's first datagram.
    frame_start_packet: (u64, u64, Option<SocketAddr>),
    frame_totals: BTreeMap<u64, u64>,
    /// The last frame judged as planned (its datagram sizes), to skip re-planning identical frames.
    last_good_frame: Vec<u64>,
    /// The run of equal frame totals not yet added to `frame_totals`.
    total_run: (u64, u64),
    /// Datagrams per kind (index of `Kind::ALL`), then malformed; folded into the stats at the end.
    kind_counts: [u64; 8],
    /// (seq, QPC, length) of the most recent DATA datagrams, to tell duplicates from reordering.
    recent: std::collections::VecDeque<(u64, u64, u64)>,
    last_frame_pending: bool,
    last_frame_done: bool,
    /// Ids the initiator was told in accepting SYN-ACKs (including ones the harness changed).
    ids_told: Vec<ConnectionId>,
    /// An accepting SYN-ACK was altered on its way to the initiator: it may have been told any id.
    id_told_unknown: bool,
    /// Whether the packet being handled is judged (the harness did not change it).
    judging: bool,
    /// A CONNECTION_ID the harness changed (e.g. delayed) was seen.
    cid_changed_seen: bool,
    /// Media came before any CONNECTION_ID (judged at the end: a delayed one may explain it).
    media_before_cid: Option<Packet<'static>>,
    /// Optimistic media came before the ACK and any CONNECTION_ID (judged at the end likewise).
    optimistic_media_early: Option<Packet<'static>>,
    /// Pull media came before any accepting SYN-ACK (judged at the end: the harness may have
    /// delayed the SYN-ACK).
    media_before_syn_ack: Option<Packet<'static>>,
    /// The id of the first CONNECTION_ID seen before any media.
    cid_before_media: Option<ConnectionId>,
    /// Sequence numbers of media the harness delayed, held back or changed (left out of the rules).
    excluded_seqs: std::collections::BTreeSet<u64>,
    /// Media datagrams the harness cut before their sequence number (each may fill one gap).
    unknown_excluded_media: u64,
    /// Whether an accepting SYN-ACK reached the initiator before it fell back to START.
    accepted_before_fallback: bool,
    /// Sequence gaps seen, judged at the end: excluded media may account for them.
    gaps: Vec<(u64, u64, Packet<'static>, String)>,
    /// Push (the initiator sends the media), once known.
    push: Option<bool>,
    /// The initiator's profile, when known (D1: a 3-way one opens with SYN).
    initiator_profile: Option<ProfileKind>,
    /// This session's maximum datagram size, frame size and frame count (the options', or what the
    /// SYN-ACK accepted under D14).
    max_datagram: u64,
    frame_size: Option<u64>,
    frames: Option<u64>,
    /// The initiator sent an ACK echoing the assigned id (push may stream from then on, D15).
    initiator_acked: bool,
    /// The options of the accepting SYN-ACK taken (a hash of their bytes; none: not yet).
    adopted_options: Option<u64>,
    /// The session runs with parameters a SYN-ACK accepted (D14.tlv) that differ from the
    /// configured ones: its sizes and frame count are judged as that profile decision.
    accepted_parameters: bool,
    /// The first CONNECTION_ID of a 3-way session and the first repeated one, judged at the end
    /// when the direction is known (push: none at all, D15; pull: once, a profile rule).
    first_cid: Option<Packet<'static>>,
    repeated_cid: Option<Packet<'static>>,
    stats: SessionStats,
    violations: ViolationLog,
}

/// The judge. Feed packets in capture order with [`push`](Checker::push), then [`finish`](Checker::finish).
#[derive(Debug)]
pub struct Checker {
    options: CheckOptions,
    sessions: Vec<Session>,
    by_tuple: SessionsByTuple,
    datagrams: u64,
}

/// The current session of each tuple, the same whichever address sent. Finding it was a third of
/// the judge's time on a capture of 50 interleaved sessions, hence the IPv4 fast path.
#[derive(Debug)]
struct SessionsByTuple {
    /// IPv4 tuples ([`v4_tuple`]): nearly every capture.
    v4: FxHashMap<u128, usize>,
    /// The same for recently seen IPv4 tuples, in a slot chosen by the tuple: one cache line to
    /// read where the map's probe reads two.
    recent_v4: Box<[(u128, usize); TUPLE_SLOTS]>,
    /// Any other tuple, the lower address first.
    other: FxHashMap<(SocketAddr, SocketAddr), usize>,
}

/// An empty slot of [`SessionsByTuple::recent_v4`]: no tuple packs to it (they use 96 bits).
const NO_TUPLE: u128 = u128::MAX;

impl SessionsByTuple {
    fn new() -> SessionsByTuple {
        SessionsByTuple {
            v4: FxHashMap::default(),
            recent_v4: Box::new([(NO_TUPLE, 0); TUPLE_SLOTS]),
            other: FxHashMap::default(),
        }
    }

    fn get(&mut self, a: SocketAddr, b: SocketAddr) -> Option<usize> {
        let Some(key) = v4_tuple(a, b) else {
            return self.other.get(&tuple(a, b)).copied();
        };
        let slot = &mut self.recent_v4[tuple_slot(key)];
        if slot.0 == key {
            return Some(slot.1);
        }
        let session = self.v4.get(&key).copied()?;
        *slot = (key, session);
        Some(session)
    }

    fn set(&mut self, a: SocketAddr, b: SocketAddr, session: usize) {
        match v4_tuple(a, b) {
            Some(key) => {
                self.recent_v4[tuple_slot(key)] = (key, session);
                self.v4.insert(key, session);
            }
            None => {
                self.other.insert(tuple(a, b), session);
            }
        }
    }
}

/// A tuple as one integer when both addresses are IPv4, the same whichever address sent: cheaper to
/// hash and compare than two `SocketAddr`s.
#[inline]
fn v4_tuple(a: SocketAddr, b: SocketAddr) -> Option<u128> {
    let (SocketAddr::V4(a), SocketAddr::V4(b)) = (a, b) else {
        return None;
    };
    let pack = |s: std::net::SocketAddrV4| u64::from(s.ip().to_bits()) << 16 | u64::from(s.port());
    let (x, y) = (pack(a), pack(b));
    let (low, high) = if x <= y { (x, y) } else { (y, x) };
    Some(u128::from(low) << 48 | u128::from(high))
}

/// Slots of [`SessionsByTuple::recent_v4`].
const TUPLE_SLOTS: usize = 256;

/// The slot of an IPv4 tuple: the top bits of a multiplicative hash of its halves.
#[inline]
fn tuple_slot(key: u128) -> usize {
    let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TUPLE_SLOTS.trailing_zeros())) as usize
}

/// Any other tuple, the lower address first.
fn tuple(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl Checker {
    /// A checker with these options.
    pub fn new(options: CheckOptions) -> Checker {
        Checker {
            options,
            sessions: Vec::new(),
            by_tuple: SessionsByTuple::new(),
            datagrams: 0,
        }
    }

    /// Judges one packet.
    pub fn push(&mut self, packet: &Packet<'_>) {
        self.datagrams += 1;
        let parsed = Datagram::parse(packet.payload, Mode::LegacyAccepting);
        let existing = self.by_tuple.get(packet.src, packet.dst);
        let index = match existing {
            Some(i) if !self.starts_new_session(i, packet, &parsed) => i,
            _ => {
                let i = self.sessions.len();
                let (initiator, responder) = self.roles(packet, &parsed);
                self.sessions.push(Session::new(
                    &self.options,
                    i + 1,
                    initiator,
                    responder,
                    packet.number,
                ));
                self.by_tuple.set(packet.src, packet.dst, i);
                i
            }
        };
        if let Some(session) = self.sessions.get_mut(index) {
            session.push(&self.options, packet, parsed);
        }
    }

    fn roles(
        &self,
        packet: &Packet<'_>,
        parsed: &Result<Datagram<'_>, handshake_mediastream_wire::Error>,
    ) -> (SocketAddr, SocketAddr) {
        // A known responder decides only its own tuples: the harness may speak from another port
        // (a scenario's `from_port`), and in real time every address is on the same loopback IP.
        if let Some(r) = self.options.responder {
            if packet.src == r {
                return (packet.dst, r);
            }
            if packet.dst == r {
                return (packet.src, r);
            }
        }
        let push = self.options.direction == Some(Direction::Push);
        let from_responder = match parsed {
            Ok(d) => match d.kind() {
                Kind::SynAck | Kind::ConnectionId => true,
                Kind::Data | Kind::DataFrag => !push,
                Kind::Start | Kind::Syn | Kind::Ack => false,
            },
            Err(_) => false,
        };
        if from_responder {
            (packet.dst, packet.src)
        } else {
            (packet.src, packet.dst)
        }
    }

    fn starts_new_session(
        &self,
        index: usize,
        packet: &Packet<'_>,
        parsed: &Result<Datagram<'_>, handshake_mediastream_wire::Error>,
    ) -> bool {
        let Some(s) = self.sessions.get(index) else {
            return true;
        };
        // What the harness copied, delayed or changed never opens a session, nor does media (the
        // common case, told before the session's memory is read).
        let Ok(d) = parsed else {
            return false;
        };
        if packet.mark.modified || d.kind().is_media() {
            return false;
        }
        let from_initiator = packet.src == s.initiator;
        match d {
            // A new attempt after a rejection is a new session. After media, a repeated START or SYN may
            // belong to the live session (a duplicate, a D9 tuple): only a new id from the responder
            // tells that a new session began.
            Datagram::Start | Datagram::Control(_) if from_initiator && d.kind() != Kind::Ack => {
                s.rejected
            }
            Datagram::ConnectionId(id) if !from_initiator => {
                s.media_started && s.connection_id.is_some_and(|known| known != *id)
            }
            // In a 3-way session, an accepting SYN-ACK with a new id after media is a new handshake; in a
            // legacy one it is a control frame the session must never see (legacy.no_control_frames).
            Datagram::Control(c)
                if !from_initiator && c.kind == ControlKind::SynAck && c.accept() =>
            {
                s.opened == Opened::Syn
                    && s.media_started
                    && s.connection_id
                        .is_some_and(|known| known != c.connection_id)
            }
            _ => false,
        }
    }

    /// Ends the analysis and gives the verdict.
    pub fn finish(self) -> Report {
        let options = self.options;
        let mut not_checked = Vec::new();
        if options.frames.is_none() {
            not_checked.push((
                rules::AFTER_LAST_FRAME.id,
                "the stream length is unknown: give --stream-length and --frame-rate",
            ));
        }
        if options.initiator_profile.is_none() {
            not_checked.push((
                rules::OPENS_WITH_SYN.id,
                "the initiator's profile is unknown: give --initiator-profile",
            ));
        }
        if options.initiator_profile.is_none() {
            not_checked.push((
                rules::START_RESENDS.id,
                "the initiator's profile is unknown: give --initiator-profile (and the stream's --frame-rate, --stream-length, --direction)",
            ));
        }
        if !options.verify_payload {
            not_checked.push((
                rules::PAYLOAD_PATTERN.id,
                "payload verification is off (--verify connection)",
            ));
        }
        Report {
            version: REPORT_VERSION,
            profile: options.profile.to_string(),
            datagrams: self.datagrams,
            sessions: self.sessions.into_iter().map(Session::finish).collect(),
            not_checked,
        }
    }
}

impl Session {
    fn new(
        options: &CheckOptions,
        index: usize,
        initiator: SocketAddr,
        responder: SocketAddr,
        first_packet: u64,
    ) -> Session {
        Session {
            index,
            initiator,
            responder,
            first_packet,
            last_packet: first_packet,
            opened: Opened::Unknown,
            handshake: Vec::new(),
            syn_times: Vec::new(),
            last_start: None,
            start_after_syn: false,
            syn_received: false,
            start_received: false,
            legacy_served: false,
            first_syn_ack: None,
            malformed_requests_pending: 0,
            accepting_syn_ack_received: false,
            rejecting_syn_ack_received: false,
            dropped_syn_ack_received: false,
            other_version_syn_received: false,
            other_id_ack_received: false,
            accepting_syn_ack_sent: false,
            ack_ok_received: false,
            rejected: false,
            connection_ids: 0,
            connection_id: None,
            cid_with_assigned_sent: false,
            media_started: false,
            current_seq: 0,
            frame_sizes: Vec::new(),
            frame_start_packet: (0, 0, None),
            frame_totals: BTreeMap::new(),
            kind_counts: [0; 8],
            last_good_frame: Vec::new(),
            total_run: (0, 0),
            recent: std::collections::VecDeque::with_capacity(RECENT),
            last_frame_pending: false,
            last_frame_done: false,
            judging: true,
            ids_told: Vec::new(),
            id_told_unknown: false,
            cid_changed_seen: false,
            media_before_cid: None,
            optimistic_media_early: None,
            media_before_syn_ack: None,
            cid_before_media: None,
            excluded_seqs: std::collections::BTreeSet::new(),
            unknown_excluded_media: 0,
            accepted_before_fallback: false,
            gaps: Vec::new(),
            push: options.direction.map(|d| d == Direction::Push),
            initiator_profile: options.initiator_profile.map(|p| p.kind),
            max_datagram: options.max_datagram,
            frame_size: options.frame_size,
            frames: options.frames,
            initiator_acked: false,
            adopted_options: None,
            accepted_parameters: false,
            first_cid: None,
            repeated_cid: None,
            stats: SessionStats::default(),
            violations: ViolationLog::default(),
        }
    }

    fn violate(&mut self, packet: &Packet<'_>, mut rule: &'static Rule, detail: String) {
        if !self.judging {
            return;
        }
        // Sizes and the frame count a SYN-ACK's options changed are D14.tlv's (a profile decision).
        if self.accepted_parameters
            && [
                rules::MAX_DATAGRAM.id,
                rules::FRAGMENTATION.id,
                rules::AFTER_LAST_FRAME.id,
            ]
            .contains(&rule.id)
        {
            rule = &rules::ACCEPTED_PARAMETERS;
        }
        self.violations.record(packet, rule, detail);
    }

    /// A datagram the harness cut or corrupted so that it no longer parses was still sent: as far as
    /// its flag and sequence number can be read, it accounts for a CONNECTION_ID or a media datagram.
    fn note_changed_unparsed(&mut self, packet: &Packet<'_>) {
        if packet.src != self.responder {
            self.note_changed_initiator_datagram(packet);
            return;
        }
        self.unknown_excluded_media += 1;
        self.cid_changed_seen = true;
        let view = handshake_mediastream_wire::Packet::new_unchecked(packet.payload);
        match view.flag() {
            handshake_mediastream_wire::flag::CONNECTION_ID => self.cid_changed_seen = true,
            handshake_mediastream_wire::flag::DATA
            | handshake_mediastream_wire::flag::DATA_FRAG
                if packet.payload.len() >= 10 =>
            {
                self.excluded_seqs.insert(view.seq());
            }
            handshake_mediastream_wire::flag::DATA
            | handshake_mediastream_wire::flag::DATA_FRAG => {
                self.unknown_excluded_media += 1;
            }
            _ => {}
        }
    }

    /// Before any SYN-ACK, a 3-way initiator sends only SYNs: a datagram of its that the harness changed
    /// into something else still holds a place in the D2 schedule (its time unknown).
    /// A changed datagram whose flag still reads SYN opens a 3-way session like any SYN (a truncated
    /// first SYN is still the first SYN).
    fn note_changed_initiator_datagram(&mut self, packet: &Packet<'_>) {
        // A START changed so that it no longer reads as one: the next is not judged against it.
        self.last_start = None;
        let reads_as_syn = packet.payload.len() >= 2
            && handshake_mediastream_wire::Packet::new_unchecked(packet.payload).flag()
                == handshake_mediastream_wire::flag::SYN;
        if self.opened == Opened::Unknown && reads_as_syn && !packet.mark.copy {
            self.opened = Opened::Syn;
        }
        if self.opened == Opened::Syn
            && self.first_syn_ack.is_none()
            && !self.start_after_syn
            && !packet.mark.copy
        {
            self.syn_times.push(None);
        }
    }

    fn note_handshake(&mut self, what: &'static str) {
        match self.handshake.last_mut() {
            Some((last, n)) if *last == what => *n += 1,
            _ => self.handshake.push((what, 1)),
        }
    }

    fn three_way(&self) -> bool {
        self.opened == Opened::Syn
    }

    fn push(
        &mut self,
        options: &CheckOptions,
        packet: &Packet<'_>,
        parsed: Result<Datagram<'_>, handshake_mediastream_wire::Error>,
    ) {
        self.last_packet = packet.number;
        self.stats.packets += 1;
        // A packet the harness changed still tells what its receiver got, but its bytes or its place
        // are not the sender's doing: it updates the state and is never judged.
        self.judging = !packet.mark.modified;
        if packet.mark != Mark::default() {
            self.stats.harness_marked += 1;
        }
        let datagram = match parsed {
            Ok(d) => d,
            Err(e) => {
                self.kind_counts[MALFORMED_SLOT] += 1;
                if packet.mark.modified {
                    self.note_changed_unparsed(packet);
                } else {
                    let who = if packet.src == self.responder {
                        "responder"
                    } else {
                        self.malformed_requests_pending =
                            self.malformed_requests_pending.saturating_add(1);
                        "initiator"
                    };
                    // D14.tlv (a profile decision) makes an option malformed; the wire facts the rest.
                    let rule = match e {
                        WireError::TlvOverrun { .. } | WireError::TlvBadLength { .. } => {
                            &rules::TLV_OPTIONS
                        }
                        _ => &rules::MALFORMED,
                    };
                    self.violate(
                        packet,
                        rule,
                        format!("{who} sent a malformed datagram: {e}"),
                    );
                }
                if matches!(e, WireError::TlvBadLength { .. }) {
                    self.permit_lenient_reading(packet);
                }
                let received = !packet.mark.undelivered;
                match e {
                    WireError::BadVersion {
                        kind: Kind::SynAck, ..
                    }
                    | WireError::TlvOverrun {
                        kind: Kind::SynAck, ..
                    }
                    | WireError::TlvBadLength {
                        kind: Kind::SynAck, ..
                    } if packet.src == self.responder => {
                        self.dropped_syn_ack_received |= received;
                    }
                    WireError::BadVersion {
                        kind: Kind::Syn, ..
                    } if packet.src != self.responder => {
                        self.other_version_syn_received |= received;
                    }
                    _ => {}
                }
                return;
            }
        };
        if let Some(slot) = Kind::ALL.iter().position(|k| *k == datagram.kind()) {
            self.kind_counts[slot] += 1;
        }
        if packet.mark.modified && packet.src == self.initiator && datagram.kind() != Kind::Syn {
            self.note_changed_initiator_datagram(packet);
        }
        if packet.mark.modified && packet.src == self.responder {
            // What the harness changed may have been any datagram the responder sent (a corrupted flag
            // turns DATA into another kind): it may account for one missing media datagram or for the
            // CONNECTION_ID, and its own sequence number, if it still reads as media, is taken as a hint.
            self.unknown_excluded_media += 1;
            self.cid_changed_seen = true;
            if let Some(seq) = datagram.seq() {
                self.excluded_seqs.insert(seq);
                return;
            }
        }
        let received = !packet.mark.undelivered;
        let from_initiator = packet.src == self.initiator;
        // A responder sends each frame's datagrams together, so its next non-media datagram ends the
        // frame; the initiator's datagrams (a re-sent ACK, say) may interleave freely.
        if self.push == Some(from_initiator) && !datagram.kind().is_media() {
            self.close_frame(packet);
        }
        // Media past the end is judged by its sequence number (in on_media); a control frame after
        // the last frame (a D7 SYN-ACK re-send, say) is not media.
        // Control frames have their own fixed size (67 bytes and their options); a tiny M does not
        // apply to them.
        let sized = datagram.kind().is_media() || datagram.kind() == Kind::ConnectionId;
        if sized && packet.payload.len() as u64 > self.max_datagram {
            let detail = format!(
                "{} of {} bytes, maximum {}",
                datagram.kind(),
                packet.payload.len(),
                self.max_datagram
            );
            self.violate(packet, &rules::MAX_DATAGRAM, detail);
        }
        match datagram {
            Datagram::Start => {
                self.on_start(packet, from_initiator, received);
                if from_initiator {
                    self.check_start_resend(options, packet);
                }
            }
            Datagram::Control(c) => {
                self.on_control(
                    options,
                    packet,
                    from_initiator,
                    received,
                    c.kind,
                    c.connection_id,
                    c.accept(),
                );
                if c.kind == ControlKind::SynAck && !from_initiator && c.accept() {
                    let delivered = !packet.mark.undelivered;
                    self.adopt_accepted_options(options, c.options, delivered);
                }
            }
            Datagram::ConnectionId(id) => self.on_connection_id(packet, from_initiator, id),
            Datagram::Data(_) | Datagram::Fragment(_) => {
                self.on_media(options, packet, from_initiator, &datagram)
            }
        }
    }

    /// D14: an accepting SYN-ACK's options are the parameters the session runs with: those of the
    /// first one that reached the initiator, options or none (what the harness changed says
    /// nothing). A later accepting SYN-ACK with other options leaves them open — the facts do not
    /// say whether an initiator takes a duplicate's parameters mid-stream, and `harness fuzz`
    /// found the independent Python initiator keeping the first while the judge took the second
    /// — so from then on the frame count and size are not judged, and the larger datagram bound
    /// holds. A frame rate or bit rate changes the frame size and count only when the whole stream
    /// configuration is known.
    fn adopt_accepted_options(
        &mut self,
        options: &CheckOptions,
        accepted: Options<'_>,
        delivered: bool,
    ) {
        if !self.judging || !delivered {
            return;
        }
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            accepted.hash(&mut h);
            h.finish()
        };
        match self.adopted_options {
            Some(adopted) if adopted == fingerprint => return,
            Some(_) => {
                self.frames = None;
                self.frame_size = None;
                for option in accepted.iter() {
                    if let TlvOption::MaxDatagramBytes(max) = option {
                        self.max_datagram = self.max_datagram.max(u64::from(max));
                    }
                }
                self.accepted_parameters |= self.max_datagram != options.max_datagram;
                return;
            }
            None => self.adopted_options = Some(fingerprint),
        }
        if accepted.is_empty() {
            return;
        }
        let mut stream = options.stream;
        let mut rate_changed = false;
        for option in accepted.iter() {
            match option {
                TlvOption::MaxDatagramBytes(max) => {
                    self.max_datagram = u64::from(max);
                    if let Some(c) = stream.as_mut() {
                        c.datagram_byte_size = max;
                    }
                }
                TlvOption::FrameRate(rate) => {
                    rate_changed = true;
                    if let Some(c) = stream.as_mut() {
                        c.frame_rate = rate;
                    }
                }
                TlvOption::BitsPerSecond(bps) => {
                    rate_changed = true;
                    if let Some(c) = stream.as_mut() {
                        c.bits_per_second = bps;
                    }
                }
                _ => {}
            }
        }
        if rate_changed {
            match stream.filter(|c| c.validate().is_ok()) {
                Some(c) => {
                    self.frame_size = c.frame_size().ok();
                    self.frames = Some(c.frames());
                }
                None => {
                    self.frame_size = None;
                    self.frames = None;
                }
            }
        }
        self.accepted_parameters = (self.max_datagram, self.frame_size, self.frames)
            != (options.max_datagram, options.frame_size, options.frames);
    }

    fn on_start(&mut self, packet: &Packet<'_>, from_initiator: bool, received: bool) {
        self.note_handshake("START");
        if !from_initiator {
            return self.violate(packet, &rules::MALFORMED, "START from the responder".into());
        }
        match self.opened {
            Opened::Unknown => {
                self.opened = Opened::Start;
                if self.initiator_profile == Some(ProfileKind::ThreeWay) && !packet.mark.copy {
                    self.violate(
                        packet,
                        &rules::OPENS_WITH_SYN,
                        "a 3-way initiator's first datagram is a START".into(),
                    );
                }
            }
            Opened::Syn => self.start_after_syn = true,
            Opened::Start => {}
        }
        self.start_received |= received;
    }

    /// A legacy pull session's STARTs before its first media: a fixed interval, trunc(1000/FR) +
    /// 500 ms (a fact of the legacy initiator as coded), judged as D2's ([`interval_off`]). A START the harness copied is not the initiator's; one it delayed or changed
    /// breaks the chain (when it was sent is not known).
    fn check_start_resend(&mut self, options: &CheckOptions, packet: &Packet<'_>) {
        // Judged where the initiator is known to run the legacy profile: a scripted peer's
        // STARTs follow its script.
        let legacy_pull = self.initiator_profile == Some(ProfileKind::Legacy)
            && self.opened == Opened::Start
            && !self.start_after_syn
            && options.direction == Some(Direction::Pull);
        let Some(frame_rate) = options.stream.map(|c| u64::from(c.frame_rate)) else {
            return;
        };
        if !legacy_pull || self.media_started || packet.mark.copy || frame_rate == 0 {
            return;
        }
        if packet.mark.modified {
            // Delayed or held: when it was sent is not known.
            self.last_start = None;
            return;
        }
        let at = packet.time_ns;
        let Some(before) = self.last_start.replace(at) else {
            return;
        };
        let expected = (1000 / frame_rate + 500) * 1_000_000;
        let actual = at.saturating_sub(before);
        if let Some((early, late)) = interval_off(actual, expected, options.tolerance.ns()) {
            let detail = format!(
                "START came {:.1} ms after the one before it, expected {:.1} ms (allowed {:.1} ms early, {:.1} ms late)",
                actual as f64 / 1e6,
                expected as f64 / 1e6,
                early as f64 / 1e6,
                late as f64 / 1e6
            );
            self.violate(packet, &rules::START_RESENDS, detail);
        }
    }

    /// D14 gives the known option types' value sizes and calls only a TLV running past the end
    /// invalid: a control frame whose known-type option has another length is malformed to this
    /// decoder (the reference drops it), while an implementation may as well skip that option and
    /// take the frame. Its receiver may therefore act on it: it permits what the frame would (a
    /// SYN-ACK after such a SYN, an ACK after such a SYN-ACK, media after such an ACK echoing the
    /// assigned id) and requires nothing. Such a SYN opens a 3-way session as any SYN does (else an
    /// ACK after it would be ignored, and a well-formed SYN repeated later would open the session
    /// with that ACK unseen).
    fn permit_lenient_reading(&mut self, packet: &Packet<'_>) {
        let Some(body) = packet.payload.get(..CONTROL_LEN) else {
            return;
        };
        let Ok(Datagram::Control(c)) = Datagram::parse(body, Mode::LegacyAccepting) else {
            return;
        };
        let received = !packet.mark.undelivered;
        match (c.kind, packet.src == self.initiator) {
            (ControlKind::Syn, true) => {
                if self.opened == Opened::Unknown && !packet.mark.copy {
                    self.opened = Opened::Syn;
                }
                self.syn_received |= received;
            }
            (ControlKind::SynAck, false) if c.accept() => {
                self.ids_told.push(c.connection_id);
                self.accepting_syn_ack_sent = true;
                self.accepting_syn_ack_received |= received;
            }
            (ControlKind::Ack, true) => {
                let assigned =
                    matches!(self.first_syn_ack, Some((id, true)) if id == c.connection_id);
                if assigned || self.ids_told.contains(&c.connection_id) {
                    self.ack_ok_received |= received;
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_control(
        &mut self,
        options: &CheckOptions,
        packet: &Packet<'_>,
        from_initiator: bool,
        received: bool,
        kind: ControlKind,
        id: ConnectionId,
        accept: bool,
    ) {
        self.check_zero_fields(packet, kind);
        // D9: a responder that served START (or answers only a START) never sends a control frame.
        // A START it dropped (no AllowLegacyStart) leaves it free to answer a later malformed SYN of
        // the tuple (version 2) with the rejection D4 asks for.
        let rejects_malformed =
            kind == ControlKind::SynAck && !accept && self.malformed_requests_pending > 0;
        let answers_only_start = self.start_received && !self.syn_received && !rejects_malformed;
        if !from_initiator && (self.legacy_served || answers_only_start) {
            let detail = format!(
                "{} sent to a peer that opened with legacy START",
                kind.kind()
            );
            self.violate(packet, &rules::NO_CONTROL_TO_LEGACY, detail);
        }
        match (kind, from_initiator) {
            (ControlKind::Syn, true) => {
                self.note_handshake("SYN");
                if self.opened == Opened::Unknown {
                    self.opened = Opened::Syn;
                }
                if self.opened == Opened::Syn
                    && !self.start_after_syn
                    && self.first_syn_ack.is_none()
                    && !packet.mark.copy
                {
                    let at = self.judging.then_some(packet.time_ns);
                    self.check_syn_backoff(
                        &options.profile.syn_backoff,
                        options.tolerance,
                        packet,
                        at,
                    );
                }
                self.syn_received |= received;
            }
            (ControlKind::SynAck, false) => {
                self.note_handshake(if accept {
                    "SYN-ACK(accept)"
                } else {
                    "SYN-ACK(reject)"
                });
                if accept && !self.syn_received && self.other_version_syn_received {
                    self.violate(
                        packet,
                        &rules::VERSION_VALIDATED,
                        "an accepting SYN-ACK when every SYN received had another version than 1"
                            .into(),
                    );
                } else if self.three_way() && !self.syn_received {
                    self.violate(
                        packet,
                        &rules::ORDER,
                        "SYN-ACK without a SYN received".into(),
                    );
                }
                if accept {
                    // What the initiator was told, changed by the harness or not: an ACK may echo it.
                    self.ids_told.push(id);
                    self.accepting_syn_ack_sent = true;
                }
                // Sent as shown but changed on the way: the initiator was told an id we cannot know.
                self.id_told_unknown |= packet.mark.altered_in_transit;
                let answers_malformed = !accept && self.malformed_requests_pending > 0;
                if answers_malformed {
                    self.malformed_requests_pending -= 1;
                }
                match self.first_syn_ack {
                    // A SYN-ACK the harness changed says nothing about what the responder assigned.
                    None if !self.judging => {}
                    // A rejection of a malformed request (a SYN of version 2) is not the answer to
                    // the session's SYN: a well-formed SYN after it may be accepted.
                    _ if answers_malformed => {}
                    None => {
                        self.first_syn_ack = Some((id, accept));
                        if accept {
                            self.connection_id.get_or_insert(id);
                        } else {
                            self.rejected = true;
                        }
                    }
                    Some((first, first_accept))
                        if self.three_way() && (first != id || first_accept != accept) =>
                    {
                        let detail = format!("SYN-ACK id \"{}\" accept={accept}, first was \"{}\" accept={first_accept}", id.escaped(), first.escaped());
                        self.violate(packet, &rules::SYN_ACK_IDEMPOTENT, detail);
                    }
                    Some(_) => {}
                }
                self.accepting_syn_ack_received |= accept && received;
                self.rejecting_syn_ack_received |= !accept && received;
                self.accepted_before_fallback |= accept && received && !self.start_after_syn;
            }
            (ControlKind::Ack, true) => {
                self.note_handshake("ACK");
                if !self.three_way() {
                    return;
                }
                if !self.accepting_syn_ack_received {
                    // An ACK after a rejection answers a SYN-ACK all the same: that it must not
                    // is D5.repeat, a profile decision; with no SYN-ACK at all it answers nothing.
                    if self.rejecting_syn_ack_received {
                        self.violate(
                            packet,
                            &rules::NO_ACK_AFTER_REJECT,
                            "ACK after a rejecting SYN-ACK, with no accepting one received".into(),
                        );
                    } else if self.dropped_syn_ack_received {
                        // It answers a SYN-ACK all the same; whether an initiator takes one of
                        // another version or with bad options is D11.kinds and D14.tlv, profile
                        // decisions.
                        self.violate(
                            packet,
                            &rules::NO_ACK_TO_DROPPED_SYN_ACK,
                            "ACK after a SYN-ACK of another version or with bad options, with no other received"
                                .into(),
                        );
                    } else {
                        self.violate(
                            packet,
                            &rules::ORDER,
                            "ACK without a SYN-ACK received".into(),
                        );
                    }
                }
                match self.first_syn_ack {
                    Some((assigned, true))
                        if assigned != id
                            && !self.ids_told.contains(&id)
                            && !self.id_told_unknown =>
                    {
                        let detail = format!(
                            "ACK confirms \"{}\", the SYN-ACK assigned \"{}\"",
                            id.escaped(),
                            assigned.escaped()
                        );
                        self.violate(packet, &rules::ACK_ECHOES_ID, detail);
                        self.other_id_ack_received |= received;
                    }
                    Some((_, true)) => {
                        self.ack_ok_received |= received;
                        self.initiator_acked |= self.judging;
                    }
                    // Every SYN-ACK was changed by the harness, so what the responder assigned is not
                    // known here: an ACK echoing an id the initiator was told is not doubted.
                    None if self.ids_told.contains(&id) || self.id_told_unknown => {
                        self.ack_ok_received |= received;
                        self.initiator_acked |= self.judging;
                    }
                    _ => {}
                }
            }
            (kind, from_initiator) => {
                let who = if from_initiator {
                    "initiator"
                } else {
                    "responder"
                };
                if self.three_way() {
                    self.violate(
                        packet,
                        &rules::ORDER,
                        format!("{} sent by the {who}", kind.kind()),
                    );
                }
            }
        }
    }

    fn check_zero_fields(&mut self, packet: &Packet<'_>, kind: ControlKind) {
        let view = ControlPacket::new_unchecked(packet.payload);
        let mut bad = Vec::new();
        if view.seq() != 0 || view.qpc() != 0 || view.qpf() != 0 {
            bad.push("seq/QPC/QPF not zero");
        }
        if view.reserved() != 0 {
            bad.push("Reserved not zero");
        }
        if kind != ControlKind::SynAck && view.control_flags() != 0 {
            bad.push("Flags not zero");
        }
        if !bad.is_empty() && self.opened != Opened::Start {
            let detail = format!("{}: {}", kind.kind(), bad.join(", "));
            self.violate(packet, &rules::CONTROL_ZERO_FIELDS, detail);
        }
    }

    fn check_syn_backoff(
        &mut self,
        backoff: &Backoff,
        tolerance: handshake_check::Tolerance,
        packet: &Packet<'_>,
        at: Option<u64>,
    ) {
        self.syn_times.push(at);
        let n = self.syn_times.len();
        let tolerance = tolerance.ns();
        // D2 (a fact): the re-sends back off. A SYN that breaks it is not judged again by D2's
        // values (a profile decision).
        if let [.., Some(first), Some(second), Some(third)] = self.syn_times[..] {
            let (before, last) = (second.saturating_sub(first), third.saturating_sub(second));
            let ms = |ns: u64| ns as f64 / 1e6;
            let detail = if last + tolerance + before / 10 < before {
                Some(format!(
                    "SYN {n} came {:.1} ms after SYN {}, sooner than the {:.1} ms before it",
                    ms(last),
                    n - 1,
                    ms(before)
                ))
            } else if n == 3
                && backoff.interval_after(2) > backoff.interval_after(1)
                && last <= before + tolerance
            {
                Some(format!(
                    "the second interval between SYNs ({:.1} ms) is not longer than the first ({:.1} ms): no back-off",
                    ms(last),
                    ms(before)
                ))
            } else {
                None
            };
            if let Some(detail) = detail {
                return self.violate(packet, &rules::SYN_RESENDS_BACK_OFF, detail);
            }
        }
        if n as u32 > backoff.sends {
            return self.violate(
                packet,
                &rules::SYN_BACKOFF,
                format!("SYN number {n}, at most {} are sent", backoff.sends),
            );
        }
        if let [.., Some(before), Some(last)] = self.syn_times[..] {
            let actual = last.saturating_sub(before);
            let expected =
                u64::try_from(backoff.interval_after(n as u32 - 1).as_nanos()).unwrap_or(u64::MAX);
            if let Some((early, late)) = interval_off(actual, expected, tolerance) {
                let detail = format!(
                    "SYN {n} came {:.1} ms after SYN {}, expected {:.1} ms (allowed {:.1} ms early, {:.1} ms late)",
                    actual as f64 / 1e6,
                    n - 1,
                    expected as f64 / 1e6,
                    early as f64 / 1e6,
                    late as f64 / 1e6
                );
                self.violate(packet, &rules::SYN_BACKOFF, detail);
            }
        }
    }

    fn on_connection_id(&mut self, packet: &Packet<'_>, from_initiator: bool, id: ConnectionId) {
        self.note_handshake("CONNECTION_ID");
        if !self.judging {
            // Copied, delayed or changed by the harness: it was sent, but not as seen here.
            return;
        }
        if from_initiator {
            return self.violate(
                packet,
                &rules::CONNECTION_ID_FIRST_ONCE,
                "CONNECTION_ID from the initiator".into(),
            );
        }
        self.connection_ids += 1;
        if !self.media_started {
            self.cid_before_media.get_or_insert(id);
        }
        let at = Packet {
            payload: &[],
            ..*packet
        };
        if self.connection_ids == 1 {
            if self.media_started {
                self.violate(
                    packet,
                    &rules::CONNECTION_ID_FIRST_ONCE,
                    "CONNECTION_ID after media".into(),
                );
            }
            if self.three_way() {
                self.first_cid = Some(at);
            }
        } else if self.three_way() || self.push != Some(false) {
            // Judged at the end, when the direction is known: once in a legacy pull session (a
            // fact), in a 3-way pull session (a profile rule); a push receiver may answer every START.
            self.repeated_cid.get_or_insert(at);
        } else {
            self.violate(
                packet,
                &rules::CONNECTION_ID_FIRST_ONCE,
                format!("CONNECTION_ID number {}", self.connection_ids),
            );
        }
        // Only a START seen makes it legacy: a CONNECTION_ID answering a SYN this decoder calls
        // malformed (a known option of another length, which D14 leaves open) is no legacy serving.
        if !self.three_way() && !self.media_started && self.start_received {
            self.legacy_served = true;
        }
        match self.first_syn_ack {
            Some((assigned, true)) if self.three_way() => {
                if assigned == id {
                    self.cid_with_assigned_sent = true;
                } else {
                    let detail = format!(
                        "CONNECTION_ID \"{}\", the SYN-ACK assigned \"{}\"",
                        id.escaped(),
                        assigned.escaped()
                    );
                    self.violate(packet, &rules::CONNECTION_ID_MATCHES, detail);
                }
            }
            _ => {
                self.connection_id.get_or_insert(id);
            }
        }
    }

    fn on_media(
        &mut self,
        options: &CheckOptions,
        packet: &Packet<'_>,
        from_initiator: bool,
        datagram: &Datagram<'_>,
    ) {
        // The first media tells the direction when the options do not.
        let push = *self.push.get_or_insert(from_initiator);
        if from_initiator != push {
            let detail = format!(
                "{} from the {} in a {} session",
                datagram.kind(),
                if from_initiator {
                    "initiator"
                } else {
                    "responder"
                },
                if push { "push" } else { "pull" }
            );
            // Who sends in a 3-way push session is D15's (a profile decision); elsewhere the roles
            // and the push branch as coded say it.
            let rule = if push && self.three_way() && !self.start_after_syn {
                &rules::PUSH_ONE_DIRECTION
            } else {
                &rules::ONE_DIRECTION
            };
            return self.violate(packet, rule, detail);
        }
        let seq = datagram.seq().unwrap_or(0);
        if !self.media_started {
            self.media_started = true;
            if push && self.three_way() && !self.start_after_syn && !self.initiator_acked {
                // D15: the sender streams once it has sent the ACK.
                let detail = "media before the initiator's ACK echoing the assigned id";
                self.violate(packet, &rules::NO_MEDIA_BEFORE_ACK, detail.to_owned());
            }
            // A 3-way push session has no CONNECTION_ID (D15); everywhere else it comes first.
            if self.connection_ids == 0 && !(push && self.three_way() && !self.start_after_syn) {
                // Judged at the end: a CONNECTION_ID the harness delayed may explain it.
                self.media_before_cid = Some(Packet {
                    payload: &[],
                    ..*packet
                });
            }
            if !self.three_way() && self.start_received {
                self.legacy_served = true;
            }
            if !push && self.three_way() && !self.start_after_syn && !self.ack_ok_received {
                let at = Packet {
                    payload: &[],
                    ..*packet
                };
                if options.profile.optimistic_start {
                    // D8 (a fact): media only after the SYN-ACK and a CONNECTION_ID with its id.
                    // Judged at the end: the harness may have delayed the CONNECTION_ID or the
                    // SYN-ACK it must match.
                    if !self.cid_with_assigned_sent {
                        self.optimistic_media_early = Some(at);
                    }
                } else if !self.accepting_syn_ack_sent {
                    // D6, D8 (facts): no media before the responder has assigned the id.
                    self.media_before_syn_ack = Some(at);
                } else {
                    // D6.no_media_before_ack (a profile decision): not before the ACK either.
                    let detail =
                        "media before an ACK echoing the assigned id reached the responder";
                    self.violate(packet, &rules::NO_MEDIA_BEFORE_ACK, detail.to_owned());
                    // D6 (a fact): a responder not started optimistic that streams after an ACK
                    // with another id established on it.
                    if self.other_id_ack_received {
                        let detail = "media after an ACK confirming another id, with none confirming the assigned id";
                        self.violate(packet, &rules::ACK_ID_VERIFIED, detail.to_owned());
                    }
                }
            }
        }
        if options.verify_payload {
            if let Err(m) = verify_pattern(datagram.payload().unwrap_or_default()) {
                self.violate(packet, &rules::PAYLOAD_PATTERN, format!("seq {seq}: {m}"));
            }
        }
        if let Datagram::Data(d) = datagram {
            let identity = (d.seq, d.qpc, packet.payload.len() as u64);
            // Only a datagram that does not move forward can be a copy: look in the current frame, or
            // (for an older seq) in the recent window.
            let window = match seq.cmp(&self.current_seq) {
                std::cmp::Ordering::Equal => self.frame_sizes.len(),
                std::cmp::Ordering::Less => self.recent.len(),
                std::cmp::Ordering::Greater => 0,
            };
            if self
                .recent
                .iter()
                .rev()
                .take(window)
                .any(|x| *x == identity)
            {
                self.stats.duplicate_datagrams += 1;
                return;
            }
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(identity);
        }
        if self.frames.is_some_and(|n| seq > n) {
            let detail = format!(
                "seq {seq} beyond the last frame {}",
                self.frames.unwrap_or(0)
            );
            self.violate(packet, &rules::AFTER_LAST_FRAME, detail);
        }
        if seq == self.current_seq && !self.frame_sizes.is_empty() {
            self.frame_sizes.push(packet.payload.len() as u64);
            return;
        }
        self.close_frame(packet);
        let expected = self.current_seq + 1;
        if seq != expected {
            let detail = if self.current_seq == 0 {
                format!("first frame has seq {seq}")
            } else {
                format!("seq {seq} after seq {}", self.current_seq)
            };
            if seq > expected {
                // Judged at the end: media the harness delayed or changed may fill the gap.
                let at = Packet {
                    payload: &[],
                    ..*packet
                };
                self.gaps.push((expected, seq - 1, at, detail));
            } else {
                self.violate(packet, &rules::SEQ_FROM_ONE, detail);
            }
        }
        self.current_seq = self.current_seq.max(seq);
        self.stats.last_seq = self.stats.last_seq.max(seq);
        self.frame_sizes.push(packet.payload.len() as u64);
        self.frame_start_packet = (packet.number, packet.time_ns, Some(packet.src));
        if self.frames.is_some_and(|n| seq == n) {
            self.last_frame_pending = true;
        }
    }

    /// Judges the frame just ended: its datagram sizes must be the plan of their own total (a
    /// sub-sequence of a correct plan is one too, so loss does not trigger this).
    fn close_frame(&mut self, packet: &Packet<'_>) {
        if self.frame_sizes.is_empty() {
            return;
        }
        let total: u64 = self.frame_sizes.iter().sum();
        if self.total_run.0 == total {
            self.total_run.1 += 1;
        } else {
            self.flush_total_run();
            self.total_run = (total, 1);
        }
        self.stats.frames_seen += 1;
        // Compared element by element: a frame has a datagram or two, too few for a call to memcmp.
        if self.frame_sizes.iter().eq(&self.last_good_frame) {
            self.frame_sizes.clear();
            return self.end_of_last_frame();
        }
        let plan = FragmentPlan::new(total, self.max_datagram).ok();
        let as_planned =
            plan.is_some_and(|p| p.iter().map(|d| d.len).eq(self.frame_sizes.iter().copied()));
        // With the stream's F known, the datagrams are some of F's own (a frame that lost some
        // is still that), not a frame of another size cut right.
        let streams_plan = self
            .frame_size
            .filter(|f| *f != total)
            .and_then(|f| FragmentPlan::new(f, self.max_datagram).ok());
        let of_the_stream = streams_plan.is_none_or(|p| some_of(&self.frame_sizes, &p));
        if as_planned && of_the_stream {
            self.last_good_frame.clone_from(&self.frame_sizes);
        } else {
            let (number, time_ns, src) = self.frame_start_packet;
            let at = Packet {
                number,
                time_ns,
                src: src.unwrap_or(packet.src),
                ..*packet
            };
            let sizes = self.frame_sizes.clone();
            let detail = match (plan, streams_plan) {
                (Some(_), Some(p)) if !of_the_stream => format!(
                    "frame of {total} bytes sent as {sizes:?}: not datagrams of the stream's {}-byte frame, cut {}",
                    p.frame_size(),
                    plan_text(&p)
                ),
                (Some(p), _) => format!(
                    "frame of {total} bytes sent as {sizes:?}, expected {:?}",
                    p.iter().map(|d| d.len).collect::<Vec<_>>()
                ),
                (None, _) => {
                    format!("frame of {total} bytes sent as {sizes:?}: below the 27-byte minimum")
                }
            };
            self.violate(&at, &rules::FRAGMENTATION, detail);
        }
        self.frame_sizes.clear();
        self.end_of_last_frame();
    }

    fn end_of_last_frame(&mut self) {
        if std::mem::take(&mut self.last_frame_pending) {
            self.last_frame_done = true;
        }
    }

    fn flush_total_run(&mut self) {
        let (total, n) = std::mem::take(&mut self.total_run);
        if n > 0 {
            *self.frame_totals.entry(total).or_default() += n;
        }
    }

    fn finish(mut self) -> SessionReport {
        let end = Packet {
            number: self.last_packet,
            time_ns: 0,
            src: self.responder,
            dst: self.initiator,
            payload: &[],
            mark: Mark::default(),
        };
        self.close_frame(&end);
        self.flush_total_run();
        self.judging = true;
        let push = self.push == Some(true);
        if let Some(at) = self
            .first_cid
            .take()
            .filter(|_| push && !self.start_after_syn)
        {
            self.violate(
                &at,
                &rules::PUSH_NO_CONNECTION_ID,
                "CONNECTION_ID in a 3-way push session".into(),
            );
        }
        if let Some(at) = self.repeated_cid.take().filter(|_| !push) {
            let (rule, session) = if self.three_way() {
                (&rules::CONNECTION_ID_ONCE, "3-way")
            } else {
                (&rules::CONNECTION_ID_FIRST_ONCE, "legacy pull")
            };
            let detail = format!(
                "{} CONNECTION_IDs in a {session} session",
                self.connection_ids
            );
            self.violate(&at, rule, detail);
        }
        if let Some(at) = self
            .media_before_cid
            .take()
            .filter(|_| !self.cid_changed_seen)
        {
            // The push branch's sender waits for the CONNECTION_ID (push.initiator, as coded: a
            // fact); elsewhere that it comes first is a profile reading.
            let rule = if self.push == Some(true) && !self.three_way() {
                &rules::PUSH_MEDIA_AFTER_CONNECTION_ID
            } else {
                &rules::CONNECTION_ID_FIRST_ONCE
            };
            self.violate(&at, rule, "media before any CONNECTION_ID".into());
        }
        // The SYN-ACK may have been delayed past the CONNECTION_ID it matches.
        let assigned = self
            .first_syn_ack
            .filter(|(_, accept)| *accept)
            .map(|(id, _)| id);
        let cid_matched = self.cid_before_media.is_some() && self.cid_before_media == assigned;
        if let Some(at) = self
            .optimistic_media_early
            .take()
            .filter(|_| !self.cid_changed_seen && !cid_matched)
        {
            let detail =
                "optimistic media before a CONNECTION_ID with the assigned id (and before an ACK)"
                    .to_owned();
            self.violate(&at, &rules::NO_MEDIA_BEFORE_SYN_ACK, detail);
        }
        if let Some(at) = self
            .media_before_syn_ack
            .take()
            .filter(|_| !self.cid_changed_seen)
        {
            let detail = "media before the responder's accepting SYN-ACK".to_owned();
            self.violate(&at, &rules::NO_MEDIA_BEFORE_SYN_ACK, detail);
        }
        let mut unknown = self.unknown_excluded_media;
        for (from, to, at, detail) in std::mem::take(&mut self.gaps) {
            let gap = to - from + 1;
            let known = self.excluded_seqs.range(from..=to).count() as u64;
            // Datagrams cut before their sequence number may fill what the known ones do not.
            let explained = known == gap || gap - known <= unknown;
            if !explained {
                self.violate(&at, &rules::SEQ_FROM_ONE, detail);
                continue;
            }
            unknown -= gap - known;
        }
        let frame_size = self.frame_size.or_else(|| {
            self.frame_totals
                .iter()
                .max_by_key(|(total, n)| (**n, **total))
                .map(|(t, _)| *t)
        });
        self.stats.frame_size = frame_size;
        for (slot, n) in self.kind_counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let name = Kind::ALL.get(slot).map_or("malformed", |k| k.name());
            self.stats.by_kind.insert(name, *n);
        }
        if let Some(f) = frame_size {
            self.stats.frames_complete = self.frame_totals.get(&f).copied().unwrap_or(0);
            self.stats.frames_incomplete = self.stats.frames_seen - self.stats.frames_complete;
        }
        let negotiated_mode = match (self.opened, self.media_started) {
            _ if self.rejected => "rejected",
            (_, false) => "failed",
            (Opened::Syn, true) if self.start_after_syn && !self.accepted_before_fallback => {
                "legacy-fallback"
            }
            (Opened::Syn, true) => "3way",
            (_, true) => "legacy",
        };
        let (violations, violation_count) = self.violations.into_parts();
        let handshake = self
            .handshake
            .iter()
            .map(|(what, n)| {
                if *n > 1 {
                    format!("{what} x{n}")
                } else {
                    (*what).to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" > ");
        SessionReport {
            index: self.index,
            initiator: self.initiator,
            responder: self.responder,
            first_packet: self.first_packet,
            last_packet: self.last_packet,
            handshake,
            negotiated_mode,
            connection_id: self.connection_id.map(|id| id.escaped().to_string()),
            stats: self.stats,
            violations,
            violation_count,
        }
    }
}

/// Reads a pcap or pcapng capture (only UDP to or from `port`, when given) and judges it.
/// `Err` only when the bytes are not a capture at all.
pub fn check_capture(
    bytes: &[u8],
    port: Option<u16>,
    options: CheckOptions,
) -> Result<CaptureVerdict<Report>, handshake_capture::CaptureError> {
    handshake_check::check_capture(bytes, port, Checker::new(options))
}

impl Judge for Checker {
    type Report = Report;
    fn push(&mut self, packet: &Packet<'_>) {
        Checker::push(self, packet);
    }
    fn finish(self) -> Report {
        Checker::finish(self)
    }
}

/// Whether a timer's interval is off: it fires late under load, never early, so early by more
/// than the tolerance (+10 %) is, late only beyond half an interval more. The allowed early and
/// late (ns) when it is off.
fn interval_off(actual: u64, expected: u64, tolerance: u64) -> Option<(u64, u64)> {
    let early = tolerance + expected / 10;
    let late = tolerance + expected / 2;
    (actual + early < expected || actual > expected + late).then_some((early, late))
}

/// Whether `sizes` are some of `plan`'s datagrams (in any order: a frame that lost datagrams, or
/// had them reordered, is still the plan's). A plan has at most three lengths: M for all but its
/// last one or two.
fn some_of(sizes: &[u64], plan: &FragmentPlan) -> bool {
    let n = plan.count();
    let mut tail: Vec<u64> = (n.saturating_sub(2)..n)
        .filter_map(|i| plan.datagram(i))
        .map(|d| d.len)
        .collect();
    let mut full = n.saturating_sub(2);
    sizes.iter().all(|s| {
        if let Some(k) = tail.iter().position(|t| t == s) {
            tail.swap_remove(k);
            true
        } else if *s == plan.max_datagram() && full > 0 {
            full -= 1;
            true
        } else {
            false
        }
    })
}

/// A plan's datagram lengths, said briefly (`[1383, 27]`, or `98 × 1400, then [1374, 27]`).
fn plan_text(plan: &FragmentPlan) -> String {
    let n = plan.count();
    let tail: Vec<u64> = (n.saturating_sub(2)..n)
        .filter_map(|i| plan.datagram(i))
        .map(|d| d.len)
        .collect();
    match n.saturating_sub(2) {
        0 => format!("{tail:?}"),
        full => format!("{full} × {}, then {tail:?}", plan.max_datagram()),
    }
}
