//! What a media-stream expectation may rest on: the facts of `shared/protocols/mediastream.md`
//! (section ids), its decisions D1…D14, this project's D15 (3-way push, which the facts leave to the
//! project), and this project's own profile decisions beyond the facts.

use handshake_scenario::Citations;

/// Facts and normative decisions: (id, what it says).
pub const FACTS: &[(&str, &str)] = &[
    ("wire", "Wire facts: the layout of every datagram kind"),
    ("wire.check_order", "The receive check order (3-way spec §8); exactly 5 bytes START first in legacy-accepting receivers"),
    ("payload.pattern", "Every payload is the fill pattern from offset 0 (-verify:data)"),
    ("frames.size", "Frame size F = floor(BitsPerSecond/8/FrameRate), headers included"),
    ("frames.fragmentation", "M-byte datagrams; a 1..26-byte remainder shortens the previous datagram so the last is 27"),
    ("frames.seq", "Sequence numbers from 1, one per frame, shared by a frame's datagrams"),
    ("frames.pacing", "Frames at base + k·1000/FrameRate ms, a frame's datagrams back to back; no end marker"),
    ("legacy.initiator", "Legacy initiator as coded: START at connect, re-sent every trunc(1000/FrameRate)+500 ms until the first DATA"),
    ("legacy.responder", "Legacy responder as coded: CONNECTION_ID once and first, then frames; repeated START a duplicate; non-START discarded"),
    ("legacy.receive", "Legacy receive side as coded: any malformed datagram fails the stream; byte-sum accounting at render deadlines"),
    ("legacy.known_bugs", "Legacy bugs as coded: a duplicated fragment can hide a lost one"),
    ("udp_push.initiator", "The udp_push build's initiator: START, then a SYN on every re-send tick; legacy receive side"),
    ("udp_push.responder", "The udp_push build's responder is the legacy responder"),
    ("push.initiator", "The bidirectional branch's sending client: START (at most once more), frames after the CONNECTION_ID"),
    ("push.responder", "The bidirectional branch's receiving server: CONNECTION_ID for a START, no media; success when the final frame arrives"),
    ("D1", "The initiator opens with SYN; DesiredConnectionId zero unless configured"),
    ("D2", "SYN re-sends at 500 ms doubling, capped at 2000 ms, at most 4 SYNs"),
    ("D3", "Fresh id and SYN-ACK(Accept=1) for a new tuple; a repeated SYN while pending gets the same SYN-ACK"),
    ("D4", "Reject (SYN-ACK Accept=0, ASCII reason) for version ≠ 1 or the session limit; no state kept"),
    ("D5", "ACK echoing the assigned id; every repeated SYN-ACK gets an ACK; no ACK on Accept=0"),
    ("D6", "No media before an ACK echoing the assigned id; then CONNECTION_ID and media; a mismatched ACK is counted"),
    ("D7", "SYN-ACK re-sent while no ACK comes (500 ms doubling, 4 sends), then the pending session is dropped"),
    ("D8", "Optimistic start: CONNECTION_ID and media right after the SYN-ACK; the initiator takes media once it knows the session"),
    ("D9", "AllowLegacyStart: START served as legacy, never a SYN-ACK; without it START is dropped and counted"),
    ("D10", "Fallback: legacy START after the SYN attempts fail, then the legacy initiator"),
    ("D11", "Invalid or unexpected datagrams are dropped and counted; they never abort a 3-way stream"),
    ("D12", "Dedup/reassembly state flushed on an id change or a completed handshake; reassembly limits"),
    ("D13", "A duplicate DATA datagram is discarded and counted; it never turns a good frame bad"),
    ("D14", "TLV options: unknown types skipped, an overrun invalid; the SYN's requested, the SYN-ACK's accepted"),
    ("D15", "This project (the facts leave it to it): 3-way push: the pull handshake, media from the initiator right after its ACK, no CONNECTION_ID"),
];

/// This project's own decisions beyond the facts, that a scenario may check as a deviation:
/// (id, the decision).
pub const PROFILE_DECISIONS: &[(&str, &str)] = &[
    ("syn_ack_while_streaming", "A SYN from a tuple whose 3-way session is streaming gets the same SYN-ACK again, and the stream goes on (D3 covers only a pending handshake)."),
    ("fallback_keeps_d11", "After a D10 fallback the initiator keeps D11: a late SYN-ACK is dropped and counted, not fatal (the facts' \"legacy initiator\" would fail on it)."),
    ("failed_stream_frames_dropped", "A stream that fails counts every frame not rendered yet as dropped (the facts say so only when nothing arrived by the first render)."),
    ("d14_accepted_subset", "A SYN-ACK carries exactly the requested options the responder honours, with the requested values (a SYN without options gets none)."),
    ("connection_id_once_3way", "A 3-way responder sends CONNECTION_ID once per session, also when an ACK repeats (D6 with D8 leaves a repeat open)."),
    ("mid_stream_connection_id_dropped", "A 3-way initiator drops a CONNECTION_ID with another id mid-stream and keeps its session and frames (D12's id change is read as a new handshake only)."),
];

/// Both lists, for the seam.
pub static CITATIONS: Citations = Citations {
    facts: FACTS,
    profile_decisions: PROFILE_DECISIONS,
};
