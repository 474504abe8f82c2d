//! The media stream's decision table: what an expectation may rest on, each with its class (the
//! facts of `docs/src/protocols/mediastream.md`, its decisions D1…D14, this project's D15, and this
//! project's own profile decisions beyond them). The table is `docs/decisions.md`'s media-stream
//! part.

use handshake_scenario::{Citations, Decision};

const CODE: &str = "ctsTraffic's code (mediastream.md, wire facts and behaviour as coded)";

/// Every decision, in the order the table lists them.
pub const DECISIONS: &[Decision] = &[
    Decision::fact("wire", "Wire facts: the layout of every datagram kind", CODE),
    Decision::fact("wire.check_order", "The receive check order (3-way spec §8); exactly 5 bytes START first in legacy-accepting receivers", CODE),
    Decision::fact("payload.pattern", "Every payload is the fill pattern from offset 0 (-verify:data)", CODE),
    Decision::fact("frames.size", "Frame size F = floor(BitsPerSecond/8/FrameRate), headers included", CODE),
    Decision::fact("frames.fragmentation", "M-byte datagrams; a 1..26-byte remainder shortens the previous datagram so the last is 27", CODE),
    Decision::fact("frames.seq", "Sequence numbers from 1, one per frame, shared by a frame's datagrams", CODE),
    Decision::fact("frames.pacing", "Frames at base + k·1000/FrameRate ms, a frame's datagrams back to back; no end marker", CODE),
    Decision::fact("legacy.initiator", "Legacy initiator as coded: START at connect, re-sent every trunc(1000/FrameRate)+500 ms until the first DATA", CODE),
    Decision::fact("legacy.responder", "Legacy responder as coded: CONNECTION_ID once and first, then frames; repeated START a duplicate; non-START discarded", CODE),
    Decision::fact("legacy.receive", "Legacy receive side as coded: any malformed datagram fails the stream; byte-sum accounting at render deadlines", CODE),
    Decision::fact("legacy.known_bugs", "Legacy bugs as coded: a duplicated fragment can hide a lost one", CODE),
    Decision::fact("udp_push.initiator", "The udp_push build's initiator: START, then a SYN on every re-send tick; legacy receive side", CODE),
    Decision::fact("udp_push.responder", "The udp_push build's responder is the legacy responder", CODE),
    Decision::fact("push.initiator", "The bidirectional branch's sending client: START (at most once more), frames after the CONNECTION_ID", CODE),
    Decision::fact("push.responder", "The bidirectional branch's receiving server: CONNECTION_ID for a START, no media; success when the final frame arrives", CODE),
    Decision::fact("D1", "The initiator opens with SYN (no START); DesiredConnectionId all zero asks the responder to assign one", "3-way spec §2, §4, §6.1"),
    Decision::fact("D2", "The initiator re-sends its SYN while no SYN-ACK comes, backing off, a bounded number of times", "3-way spec §6.1 (MAY retransmit, SHOULD back off and bound)"),
    Decision::profile("D2.values", "SYN re-sends at 500 ms doubling, capped at 2000 ms, at most 4 SYNs (0, 500, 1500, 3500 ms), then the attempt fails", "the spec gives no values"),
    Decision::fact("D3", "A valid SYN from a new tuple gets SYN-ACK(Accept=1) with an assigned connection id", "3-way spec §6.2, §7 (a UUID)"),
    Decision::profile("D3.idempotent", "A repeated SYN while the handshake is pending gets the same SYN-ACK (the same id)", "the spec is silent; the udp_push code makes a new id for every SYN"),
    Decision::fact("D4", "A reject is a SYN-ACK with Accept=0, its id field zero or an ASCII reason", "3-way spec §6.2"),
    Decision::profile("D4.triggers", "Reject when the version ≠ 1 or at the session limit, keeping no state", "the spec says only that the responder decides"),
    Decision::fact("D5", "On SYN-ACK(Accept=1) the initiator adopts the assigned id and sends an ACK echoing it", "3-way spec §6.3"),
    Decision::profile("D5.repeat", "Every repeated SYN-ACK gets another ACK; on Accept=0 the initiator stops and sends no ACK", "the spec defines the Accept bit only"),
    Decision::fact("D6", "The handshake completes at an ACK whose ConfirmedConnectionId equals the assigned id; the responder then sends CONNECTION_ID and media", "3-way spec §6.3, §6.4, §7"),
    Decision::profile("D6.no_media_before_ack", "By default (not optimistic) the responder sends no media before that ACK; an ACK with another id is counted and does not establish", "the spec contradicts itself (§6.2 SHOULD wait, §6.4 MAY start after the SYN-ACK)"),
    Decision::fact("D7", "The responder re-sends its SYN-ACK while no ACK comes", "3-way spec §6.4 (retransmission timers)"),
    Decision::profile("D7.values", "SYN-ACK re-sends at 500 ms doubling, 4 sends, then the pending session is dropped", "the spec gives no values or expiry"),
    Decision::fact("D8", "Optimistic start: CONNECTION_ID as the first datagram after the SYN-ACK, then media; the initiator takes media once it has the session's id", "3-way spec §6.4 (MAY); migration plan"),
    Decision::profile("D8.option", "Optimistic start is a responder option, off by default; media for an unknown id or tuple is dropped and counted", "the spec makes it a MAY and is silent on unknown media"),
    Decision::fact("D9", "AllowLegacyStart: a START is accepted only with the option; without it a START is an unknown flag, dropped and counted", "3-way spec §4, §8; migration plan"),
    Decision::profile("D9.as_legacy", "With AllowLegacyStart a START is served exactly as the legacy responder does (CONNECTION_ID and media, never a SYN-ACK)", "the spec does not say how; legacy initiators die on control frames (as coded)"),
    Decision::profile("D10", "Fallback (initiator option): after the SYN attempts get no SYN-ACK, legacy START and the legacy initiator", "the spec gives backward compatibility on the responder side only"),
    Decision::fact("D11", "Invalid datagrams (too short, unknown flag) are dropped and counted; they never abort a 3-way stream", "3-way spec §5, §8; base spec §12"),
    Decision::profile("D11.kinds", "Counted per kind, with bad version and unexpected control frames as kinds of their own", "the spec has no version or unexpected-control rule"),
    Decision::fact("D12", "Dedup/reassembly state flushed on an id change or a completed handshake; key (tuple, id, seq); limits 16 MiB, 64 MiB, 5000 ms", "3-way spec §6.4, §9; base spec §12"),
    Decision::fact("D13", "A duplicate DATA datagram is discarded and counted", "base spec §10, §12; 3-way spec §9"),
    Decision::profile("D13.identity", "A duplicate is told from another datagram of its frame by (QPC, length); it never turns a good frame bad", "datagrams of a frame share their seq: the spec cannot tell them apart"),
    Decision::fact("D14", "Options follow the 41-byte control body; unknown options are ignored", "3-way spec §6.1–§6.3"),
    Decision::profile("D14.tlv", "Options are TLVs (type u8, length u16 LE; an overrun is invalid), types 1–5; the SYN's are requested, the SYN-ACK's accepted parameters", "the spec's TLV appendix is missing; the base spec keeps stream parameters off the wire"),
    Decision::profile("D15", "3-way push: the pull handshake, media from the initiator right after its ACK, no CONNECTION_ID", "no source codes push with the 3-way handshake"),
    Decision::profile("syn_ack_while_streaming", "A SYN from a tuple whose 3-way session is streaming gets the same SYN-ACK again, and the stream goes on (D3 covers only a pending handshake).", "the facts allow more than one reading"),
    Decision::profile("fallback_keeps_d11", "After a D10 fallback the initiator keeps D11: a late SYN-ACK is dropped and counted, not fatal (the facts' \"legacy initiator\" would fail on it).", "the facts allow more than one reading"),
    Decision::profile("failed_stream_frames_dropped", "A stream that fails counts every frame not rendered yet as dropped (the facts say so only when nothing arrived by the first render).", "the facts allow more than one reading"),
    Decision::profile("render_base_3way", "A 3-way initiator's render clock starts with its first media datagram (not when it adopts the id), so a handshake slowed by lost control frames does not fail the stream", "the facts place the first render at base + IBF frames without saying where a 3-way stream's base is"),
    Decision::profile("d14_accepted_subset", "A SYN-ACK carries exactly the requested options the responder honours, with the requested values (a SYN without options gets none).", "the facts allow more than one reading"),
    Decision::profile("connection_id_once_3way", "A 3-way responder sends CONNECTION_ID once per session, also when an ACK repeats (D6 with D8 leaves a repeat open).", "the facts allow more than one reading"),
    Decision::profile("mid_stream_connection_id_dropped", "A 3-way initiator drops a CONNECTION_ID with an id other than its session's (mid-stream, or after the ACK before any media) and keeps its session and frames (D12's id change is read as a new handshake only).", "the facts allow more than one reading"),
];

/// The media stream's citations.
pub static CITATIONS: Citations = Citations {
    decisions: DECISIONS,
};
