#!/usr/bin/env python3
"""mediastream_peer.py -- an independent implementation of the ctsTraffic UDP "media stream" protocol.

Written only from /work/shared/protocols/mediastream.md (wire facts, legacy behaviour as coded, the
fork's udp_push build, the bidirectional_media_stream branch, decisions D1..D14) and the project's
decision D15 (3-way push, revised text below). Python 3.11, standard library only, one file.

D15 (the project's decision, revised)
-------------------------------------
    3-way push: the handshake is the pull handshake (D1-D5, D7, D4 unchanged). The responder
    (receiver) sends no CONNECTION_ID and no media in a 3-way push session. The initiator (sender),
    right after sending its first ACK, streams frames 1..N to the responder (frame k due at the time
    of that ACK + (k-1)*1000/FrameRate ms), fragmented and filled like a pull sender; while streaming
    it still answers every repeated SYN-ACK with an ACK (D5). The responder's pending session is
    established by an ACK echoing the assigned id (D6) or by the first media datagram from the
    session's tuple: the sender streams only after an accepting SYN-ACK, so its media proves the
    SYN-ACK arrived, and a lost ACK costs no media. Once established, D7's SYN-ACK re-sends stop.
    Media from a tuple with no session at all is dropped and counted (D11). D8 has no meaning in
    push. D9 on a 3-way push responder: a START is served as the legacy push receiver serves it.
    D10 on a 3-way push initiator: after the SYNs go unanswered, continue as the legacy push sender
    (START).
(The earlier text established a push session only on the ACK and dropped media from a tuple whose
session was not established; that behaviour survives only as the mutant push-media-does-not-establish.)

How to run
----------
    python3 mediastream_peer.py responder --listen HOST:PORT [options]
    python3 mediastream_peer.py initiator --target HOST:PORT [options]

Options (both roles accept all of them; options that do not apply to a role or profile are ignored):
    --profile legacy|udp_push|3way   (default 3way)
    --allow-legacy-start             D9, responder, 3way
    --optimistic-start               D8, responder, 3way pull
    --fallback-to-legacy             D10, initiator, 3way
    --session-limit N                D4, responder, 3way (pending + streaming sessions)
    --direction pull|push            (default pull)
    --bits-per-second N (1000000) --frame-rate N (100) --stream-length SECONDS (5)
    --buffer-depth SECONDS (1) --datagram-byte-size N (1400) --verify data|connection (data)
    --request-options                initiator, 3way: D14 TLVs 1,2,3,5 in every SYN
    --mutant NAME                    deliberately break one rule (see MUTANTS below / README.md)
    --plant crash|hang              planted bug for the network-fuzzing evaluation (see ../PLANTED.md, sealed)

Exit codes: initiator 0 = stream completed, 1 = stream failed (also on SIGTERM/SIGINT);
2 = bad command line; 89 = unsupported combination (udp_push + push; responder --optimistic-start
with push). The responder runs until SIGTERM/SIGINT and then exits 0 quietly.
The initiator prints one summary line on stdout; the responder prints one line per finished session
on stderr.

Choices where the facts are silent
----------------------------------
 1. Clock and QPC/QPF: all timing uses time.monotonic(); QPC = perf_counter_ns() // 100 sampled per
    datagram, QPF = 10,000,000 (constant). Received QPC/QPF are read from offsets 10/18 and are only
    used to tell an exact duplicate apart from an equal-sized fragment (choice 20).
 2. Parameter limits: frame rate >= 1; frame size F = floor(bps/8/FrameRate) >= 40; datagram size
    52..65507 (52 is the smallest size for which the 27-byte tail rule never produces a datagram
    shorter than the 26-byte header; 65507 is the IPv4 UDP maximum); buffer depth > 0; StreamLength x
    FrameRate must give at least one frame. Otherwise exit 2. Fractional seconds are accepted:
    N = floor(StreamLength x FrameRate), IBF = min(N, floor(BufferDepth_ms x FrameRate / 1000)), at least 1.
 3. Pacing: frame k (k = 1..N) is due at base + (k-1)*1000/FrameRate ms; a frame that is late (the
    process was descheduled) is sent at once, never skipped. The pull responder's base is the moment
    it starts the stream (START received, ACK received, or right after the SYN-ACK with D8); the push
    sender's base is the CONNECTION_ID arrival (legacy push) or the first ACK (D15).
 4. Legacy / udp_push pull initiator: the render base is the moment the first START is sent (also
    after a D10 fallback: the moment of the fallback START). Frame k is rendered at
    base + (IBF + k - 1)*1000/FrameRate ms. The stream ends after frame N is rendered: exit 0 if it
    has not failed, even when frames were dropped (the counts are in the summary). Re-sends are on a
    fixed absolute grid base + j*I, I = trunc(1000/FrameRate)+500 ms, until the first valid DATA
    datagram (any sequence number) arrives; the first render (when nothing has arrived) fails the
    stream, so that also ends the re-sends.
 5. 3way pull initiator: the render base is the moment it adopts the connection id (first accepting
    SYN-ACK, or -- D8 with a lost SYN-ACK -- a CONNECTION_ID from the target while the SYNs are still
    outstanding). Adopting through a CONNECTION_ID stops the SYN re-sends but sends no ACK: ACKs are
    only ever sent in answer to SYN-ACKs (D5), and the responder's D7 re-send gets one.
 6. "Nothing arrived": no valid DATA datagram of this stream was received before the first render
    deadline -> the stream fails with all N frames dropped (facts), exit 1.
 7. D2 timing: SYNs at 0, 500, 1500, 3500 ms, give-up (or D10 fallback) at 5500 ms (the 2000 ms cap
    applies to the wait after the 4th SYN).
 8. D7 timing mirrors D2: SYN-ACK sends at 0, 500, 1500, 3500 ms after the first, the pending session
    is dropped at 5500 ms. The SYN-ACK sent in answer to a repeated SYN (D3) is extra: it neither
    counts toward the 4 sends nor moves the schedule. The schedule stops when the session is
    established: by the ACK (D6), or in 3-way push also by the first media datagram (D15, choice 33).
 9. Legacy push sender: START at connect, START once more at connect + I if no CONNECTION_ID came
    (I as in choice 4), and gives up (exit 1, "no CONNECTION_ID") at connect + 3*I. Anything other than
    the first CONNECTION_ID from the target is counted and ignored by a sender; a sender never fails
    on malformed input. It exits 0 once the N-th frame has been handed to the socket.
10. D14 at the responder: if a SYN carries at least one known option (types 1, 2, 3, 5), the
    responder accepts every requested value that is valid (frame rate 1..100000, bits/s giving
    40 <= F <= 16 MiB together with the accepted frame rate, max datagram 52..65507, buffer depth
    1..3600000 ms), uses its own value for anything invalid or not requested, and puts ALL FOUR
    settled values (types 1, 2, 3, 5 in that order) into the SYN-ACK -- including in answers to
    repeated SYNs (same bytes). A SYN without known options gets a plain 67-byte SYN-ACK and the
    responder's own parameters. Type 4 (codec hint) is read and ignored. StreamLength is never
    negotiated: each side uses its own, so N = own StreamLength x accepted FrameRate.
11. D14 at the initiator: options in an accepting SYN-ACK are honoured whether or not
    --request-options was given (they state what the responder will do); an invalid or absent value
    leaves the initiator's own. Options in repeated SYN-ACKs and in ACKs are ignored.
12. D14 parsing: a known type with the wrong value length (1/3/5 need 4 bytes, 2 needs 8) is skipped
    like an unknown type; a TLV running past the end (including 1 or 2 stray bytes after the
    67-byte body) makes the whole control frame invalid: it is dropped and counted, never answered.
    The version is checked before the options.
13. SYN on a tuple that already has a live session (3-way streaming/established, or a legacy pull
    session served under D9): dropped and counted, no reply; the running stream is not disturbed. (On
    a legacy push session served under D9 every non-START datagram goes to the legacy receiver, see
    choice 18, so a SYN there fails that session as the legacy push branch would.) A SYN on a
    pending tuple gets the same SYN-ACK bytes again (D3). After a session ends (pull: last frame sent;
    push: choice 18; pending: D7), a SYN or START from the same tuple starts a fresh session with a
    new id; datagrams from a tuple without a session are counted in the responder's global counters.
14. The responder always assigns a fresh id (D3); a non-zero DesiredConnectionId is ignored. SYN Flags
    and Reserved are ignored on receipt.
15. Reject reasons (D4), ASCII NUL-padded to 37 bytes: "unsupported version" and
    "session limit reached". A rejecting SYN-ACK has Version 1, Flags 0 and no options.
16. The session limit counts every live session on a 3way responder: pending, established, and
    legacy sessions served under D9. A START over the limit is dropped and counted (a legacy
    initiator must never see a control frame). --session-limit is ignored by legacy/udp_push
    responders (the legacy code has no limit).
17. Repeated START on a live legacy session (pull or push receiver): counted as a duplicate and
    ignored, no second CONNECTION_ID (the legacy responder rule, applied to the push receiver too).
18. Push receiver (responder): frames are counted by byte sum at the end of the session (== F
    successful, < F or missing dropped, > F duplicate, seq 0 or > N error). The session ends with
    success when the datagram that completes the final frame N (byte sum reaches F) arrives; it ends
    incomplete after 5 s without any datagram from the tuple. A legacy push receiver (legacy profile,
    or D9 on a 3way push responder) fails and ends its session on any malformed datagram, like the
    legacy initiator; a 3way push receiver drops and counts (D11). A new START/SYN after the end starts
    a fresh session. A 3way push session's receive state is created when the session is established
    (ACK or first media, choice 33); the idle timeout runs from then on (a pending session is governed
    by D7 instead).
19. Datagrams from any address other than the target are dropped and counted by the initiator (in
    every profile; they never fail a legacy stream).
20. D12/D13 dedup in the 3way receivers: key (tuple, connection id, seq) refined by (length, QPC, QPF)
    so that the fragments of one frame are not taken for duplicates; a datagram is a duplicate if the
    same (seq, length, QPC, QPF) was already accepted or if it would push the frame's byte sum above
    F. So a duplicate never turns a good frame into a bad one. Receive state is created fresh when a
    handshake completes or the id changes (D12). Legacy receivers keep the coded byte-sum behaviour.
21. DATA+FRAG (0x0001, never coded): a legacy receiver fails on it (unknown flag, facts); a 3way
    receiver drops and counts it ("fragment_unsupported"); no sender here emits it.
22. In the 3way initiator, an accepting SYN-ACK with a different id after adoption, a CONNECTION_ID
    with a different id, START, SYN and ACK are dropped and counted (D11), no reply. A rejecting
    SYN-ACK after adoption is ignored. A SYN-ACK or ACK whose Version is not 1 is dropped and
    counted ("bad_version").
23. D10: after the fallback the initiator is exactly the legacy initiator (pull: START re-sends,
    legacy validation, so a late control frame fails the stream; push: legacy push sender).
24. D15 push + D8: the responder exits 89 for --optimistic-start with push; the initiator ignores
    --optimistic-start (not an initiator option). udp_push + push exits 89 in both roles.
25. --verify connection only turns off the payload check on receipt; senders always fill the
    pattern.
26. SIGTERM/SIGINT: responder exits 0 without output; initiator prints its summary with
    reason "terminated by signal" and exits 1.
27. A D8 (optimistic) session still gets the D7 SYN-ACK re-sends until its ACK arrives, and is
    dropped (its stream stops) if no ACK came by the D7 deadline.
28. Repeated SYN-ACKs after the initiator adopted the id: an ACK is sent for every accepting SYN-ACK
    with the adopted id, for as long as the initiator runs (D5), in pull and push.
29. Receiver window (legacy and 3way pull initiators): a sequence number is accepted while
    next_to_render <= seq < next_to_render + 2*IBF and seq <= N; seq 0, stale, future and beyond-last
    datagrams each add one to errorFrames (counted per datagram, never a failure, also in legacy).
30. D12's reassembly limits concern DATA+FRAG, which nobody sends (choice 21); the 16 MiB per-frame
    limit is used as the ceiling of a negotiated frame size (choice 10) and the 5000 ms timeout as the
    push receiver's idle timeout (choice 18).
31. The responder writes one "listening on HOST:PORT ..." line to stderr once it has bound, then one
    line per finished session; the initiator binds an ephemeral port on the wildcard address of the
    target's family and never connect()s its socket (choice 19 filters by address instead).
32. D2/D7 values are fixed (the command-line contract has no options for them).
33. D15 establishment by media, 3way push responder: "media datagram" means a well-formed DATA
    datagram (flag 0x0000, >= 26 bytes) from the pending session's tuple, whatever its sequence number
    or payload: it establishes the session (D7 re-sends stop, fresh receive state, D12) and is then
    received as the stream's first media -- so a payload mismatch (--verify data) or a sequence number
    of 0 or > N is counted on it exactly as on any later datagram. DATA+FRAG (0x0001) is not media here
    (choice 21: dropped and counted, it establishes nothing); neither is any control frame or
    CONNECTION_ID. An ACK with the assigned id arriving after media established the session is a
    harmless late ACK (counted as an event, "ack_after_media"; any further one as "duplicate_ack"); an
    ACK with another id is still "ack_id_mismatch". DATA from a tuple with no session (never had one,
    ended, or its pending session dropped by D7) is dropped and counted ("media_without_session"),
    without creating a session. DATA reaching a pull responder's session is dropped and counted
    ("media_at_sender") and establishes nothing: a pull session waits for its ACK (D6).
"""

from __future__ import annotations

import argparse
import collections
import heapq
import os
import selectors
import signal
import socket
import struct
import sys
import time
import uuid

# --------------------------------------------------------------------------------------------
# Wire constants
# --------------------------------------------------------------------------------------------
FLAG_DATA = 0x0000
FLAG_DATA_FRAG = 0x0001
FLAG_SYN = 0x0100
FLAG_SYN_ACK = 0x0101
FLAG_ACK = 0x0102
FLAG_CONNECTION_ID = 0x1000
HEADERED_FLAGS = (FLAG_DATA, FLAG_DATA_FRAG, FLAG_SYN, FLAG_SYN_ACK, FLAG_ACK)

START = b"START"
HEADER_LEN = 26
FRAG_HEADER_LEN = 42
CONTROL_LEN = 67
CONTROL_BODY_LEN = 41
ID_LEN = 37
CONNECTION_ID_LEN = 2 + ID_LEN  # 39
PROTOCOL_VERSION = 1
QPF = 10_000_000
MIN_FRAME = 40
MIN_DATAGRAM = 52
MAX_DATAGRAM = 65507
ZERO_ID = bytes(ID_LEN)

OPT_FRAME_RATE = 1
OPT_BITS_PER_SECOND = 2
OPT_BUFFER_DEPTH_MS = 3
OPT_CODEC_HINT = 4
OPT_MAX_DATAGRAM = 5

# D2 / D7 schedules (seconds): the wait after the 1st, 2nd, 3rd, 4th send.
HANDSHAKE_WAITS = (0.5, 1.0, 2.0, 2.0)
HANDSHAKE_SENDS = 4
RECEIVER_IDLE_TIMEOUT = 5.0
MAX_NEGOTIATED_FRAME = 16 * 1024 * 1024

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 89

PLANTS = ("crash", "hang")  # planted bugs (see PLANTED.md)

REASON_VERSION = "unsupported version"
REASON_LIMIT = "session limit reached"

# Mutants: name -> (side, rule broken, what the peer sees).
MUTANTS = {
    # responder side
    "synack-fixed-interval": ("responder", "D7",
        "SYN-ACK re-sent every 500 ms (0,500,1000,1500) instead of doubling (0,500,1500,3500)"),
    "synack-new-id-on-repeat": ("responder", "D3",
        "a repeated SYN while pending gets a SYN-ACK with a fresh id instead of the same SYN-ACK"),
    "media-before-ack": ("responder", "D6",
        "non-optimistic responder sends CONNECTION_ID and media right after the SYN-ACK, before any ACK"),
    "accept-any-version": ("responder", "D4",
        "a SYN with Version != 1 is accepted (Accept=1) instead of rejected"),
    "ignore-session-limit": ("responder", "D4",
        "SYNs beyond --session-limit are accepted instead of rejected"),
    "start-answered-with-synack": ("responder", "D9",
        "a START served under --allow-legacy-start is answered with a SYN-ACK before the CONNECTION_ID"),
    "connection-id-mismatch": ("responder", "D6",
        "the CONNECTION_ID sent when the 3-way session starts carries an id other than the assigned one"),
    "seq-from-zero": ("responder", "wire: sequence numbers start at 1",
        "the pull responder numbers frames 0..N-1"),
    "no-tail-rule": ("responder", "wire: fragmentation 27-byte tail rule",
        "a frame remainder of 1..26 bytes is sent as its own datagram of that (sub-header) length"),
    "pattern-continues": ("responder", "wire: every payload equals pattern[0..len-26]",
        "later fragments of a frame continue the fill pattern instead of restarting it at 0"),
    "push-receiver-sends-connection-id": ("responder", "D15",
        "a 3-way push responder sends a CONNECTION_ID when the session is established (by the ACK or "
        "by the first media datagram)"),
    "push-media-does-not-establish": ("responder", "D15",
        "a 3-way push responder establishes only on the ACK (the old D15): media on a pending session is "
        "dropped and the D7 SYN-ACK re-sends go on while media arrives"),
    "legacy-push-receiver-streams": ("responder", "bidirectional branch: the receiving server does not stream",
        "a legacy push responder streams frames 1..N back after its CONNECTION_ID"),
    # initiator side
    "syn-fixed-interval": ("initiator", "D2",
        "SYN re-sent every 500 ms (0,500,1000,1500) instead of doubling (0,500,1500,3500)"),
    "syn-version-2": ("initiator", "wire: SYN Version = 1",
        "the SYN carries Version 2"),
    "ack-wrong-id": ("initiator", "D5",
        "the ACK echoes an id that differs from the AssignedConnectionId in its first byte"),
    "ack-after-reject": ("initiator", "D5",
        "an ACK is sent in answer to a rejecting SYN-ACK (Accept=0)"),
    "no-ack-on-repeat": ("initiator", "D5",
        "only the first SYN-ACK is answered with an ACK; repeated SYN-ACKs get none"),
    "start-before-syn": ("initiator", "D1",
        "the 3-way initiator sends a START before its first SYN"),
    "start-stops-on-connection-id": ("initiator", "legacy: CONNECTION_ID does not stop the START re-sends",
        "the legacy initiator stops re-sending START once a CONNECTION_ID arrives"),
    "udp-push-syn-first": ("initiator", "udp_push: the initiator still sends START first",
        "the udp_push initiator opens with a SYN instead of a START"),
    "push-no-handshake-wait": ("initiator", "D15",
        "the 3-way push sender streams media right after its first SYN, without a SYN-ACK/ACK"),
    "push-start-repeats": ("initiator", "bidirectional branch: START at most once more",
        "the legacy push sender re-sends START on every timer tick (3 STARTs before it gives up)"),
    "push-no-wait-connection-id": ("initiator", "bidirectional branch: frames after the CONNECTION_ID",
        "the legacy push sender streams right after START, without waiting for the CONNECTION_ID"),
    "push-seq-from-zero": ("initiator", "wire: sequence numbers start at 1",
        "the push sender numbers frames 0..N-1"),
}


# --------------------------------------------------------------------------------------------
# Encoding / decoding
# --------------------------------------------------------------------------------------------
def _build_pattern() -> bytes:
    one = b"".join(struct.pack("<H", i) for i in range(32768))  # 65,536 bytes
    return one * 2  # doubled so that any slice [off % 65536 : +65507] is a plain slice


PATTERN = _build_pattern()
PATTERN_PERIOD = 65536


def pattern_bytes(n: int, offset: int = 0) -> bytes:
    """pattern[offset .. offset+n]; the pattern repeats every 65,536 bytes."""
    if n <= 0:
        return b""
    offset %= PATTERN_PERIOD
    if offset + n <= len(PATTERN):
        return PATTERN[offset:offset + n]
    out = bytearray()
    while len(out) < n:
        take = min(n - len(out), len(PATTERN) - offset)
        out += PATTERN[offset:offset + take]
        offset = 0
    return bytes(out)


def payload_ok(data: bytes) -> bool:
    """Every datagram's payload equals pattern[0 .. len-26]."""
    n = len(data) - HEADER_LEN
    if n <= 0:
        return True
    if n <= len(PATTERN):
        return memoryview(data)[HEADER_LEN:] == memoryview(PATTERN)[:n]
    return data[HEADER_LEN:] == pattern_bytes(n)


def fragment_sizes(frame_size: int, max_datagram: int) -> list[int]:
    """Datagram sizes (26-byte header included) for one frame, as coded."""
    if frame_size <= max_datagram:
        return [frame_size]
    n, r = divmod(frame_size, max_datagram)
    sizes = [max_datagram] * n
    if r == 0:
        return sizes
    if r >= HEADER_LEN + 1:
        sizes.append(r)
        return sizes
    # remainder 1..26: shorten the previous datagram so that the last one is exactly 27 bytes
    sizes[-1] = max_datagram - (HEADER_LEN + 1 - r)
    sizes.append(HEADER_LEN + 1)
    return sizes


def fragment_sizes_naive(frame_size: int, max_datagram: int) -> list[int]:
    """Mutant no-tail-rule: plain split, a remainder of 1..26 bytes becomes its own datagram."""
    n, r = divmod(frame_size, max_datagram)
    return [max_datagram] * n + ([r] if r else [])


def encode_data(seq: int, qpc: int, payload: bytes, qpf: int = QPF, flag: int = FLAG_DATA) -> bytes:
    return struct.pack("<HQQQ", flag, seq, qpc, qpf) + payload


def encode_connection_id(cid: bytes) -> bytes:
    return struct.pack("<H", FLAG_CONNECTION_ID) + cid


def encode_control(flag: int, cid: bytes, flags: int = 0, version: int = PROTOCOL_VERSION,
                   options: bytes = b"") -> bytes:
    assert len(cid) == ID_LEN
    return struct.pack("<HQQQBBH", flag, 0, 0, 0, version, flags, 0) + cid + options


def encode_tlvs(items) -> bytes:
    out = bytearray()
    for t, value in items:
        out += struct.pack("<BH", t, len(value)) + value
    return bytes(out)


def parse_tlvs(buf: bytes):
    """List of (type, value) or None when a TLV runs past the end (D14)."""
    items = []
    i, n = 0, len(buf)
    while i < n:
        if n - i < 3:
            return None
        t = buf[i]
        (length,) = struct.unpack_from("<H", buf, i + 1)
        i += 3
        if i + length > n:
            return None
        items.append((t, bytes(buf[i:i + length])))
        i += length
    return items


def known_options(items) -> dict:
    """Known option types with the right value length -> int value (type 4 -> str)."""
    out = {}
    for t, v in items or ():
        if t in (OPT_FRAME_RATE, OPT_BUFFER_DEPTH_MS, OPT_MAX_DATAGRAM) and len(v) == 4:
            out[t] = struct.unpack("<I", v)[0]
        elif t == OPT_BITS_PER_SECOND and len(v) == 8:
            out[t] = struct.unpack("<Q", v)[0]
        elif t == OPT_CODEC_HINT:
            out[t] = v.decode("ascii", "replace")
    return out


def encode_stream_options(fr: int, bps: int, bd_ms: int, max_dg: int) -> bytes:
    return encode_tlvs([
        (OPT_FRAME_RATE, struct.pack("<I", fr)),
        (OPT_BITS_PER_SECOND, struct.pack("<Q", bps)),
        (OPT_BUFFER_DEPTH_MS, struct.pack("<I", bd_ms)),
        (OPT_MAX_DATAGRAM, struct.pack("<I", max_dg)),
    ])


def new_id() -> bytes:
    """A fresh ctsTraffic-style id: lowercase hyphenated UUID, 36 chars + NUL."""
    return str(uuid.uuid4()).encode("ascii") + b"\x00"


def text_id(text: str) -> bytes:
    return text.encode("ascii", "replace")[:ID_LEN - 1].ljust(ID_LEN, b"\x00")


def id_str(cid) -> str:
    if cid is None:
        return "-"
    raw = bytes(cid).split(b"\x00", 1)[0]
    s = "".join(chr(b) if 0x20 <= b < 0x7f and b not in (0x22, 0x5c) else f"\\x{b:02x}" for b in raw)
    return s if s else "<zero>"


class Parsed:
    """Result of the receive check order (3-way spec §8)."""
    __slots__ = ("kind", "flag", "seq", "qpc", "qpf", "version", "flags", "cid", "options")

    def __init__(self, kind, flag=None):
        self.kind = kind
        self.flag = flag
        self.seq = self.qpc = self.qpf = 0
        self.version = self.flags = 0
        self.cid = None
        self.options = b""


def classify(data: bytes, accept_start: bool = False) -> Parsed:
    """kind: start, connection_id, data, data_frag, syn, synack, ack, or one of the invalid kinds
    too_short, short_connection_id, short_header, short_fragment_header, short_control, unknown_flag."""
    n = len(data)
    if accept_start and n == 5 and data == START:
        return Parsed("start")
    if n < 2:
        return Parsed("too_short")
    flag = data[0] | (data[1] << 8)
    if flag == FLAG_CONNECTION_ID:
        if n < CONNECTION_ID_LEN:
            return Parsed("short_connection_id", flag)
        p = Parsed("connection_id", flag)
        p.cid = bytes(data[2:2 + ID_LEN])
        return p
    if flag not in HEADERED_FLAGS:
        return Parsed("unknown_flag", flag)
    if n < HEADER_LEN:
        return Parsed("short_header", flag)
    if flag == FLAG_DATA_FRAG and n < FRAG_HEADER_LEN:
        return Parsed("short_fragment_header", flag)
    if flag >= FLAG_SYN and n < CONTROL_LEN:
        return Parsed("short_control", flag)
    kind = {FLAG_DATA: "data", FLAG_DATA_FRAG: "data_frag", FLAG_SYN: "syn",
            FLAG_SYN_ACK: "synack", FLAG_ACK: "ack"}[flag]
    p = Parsed(kind, flag)
    p.seq, p.qpc, p.qpf = struct.unpack_from("<QQQ", data, 2)
    if flag >= FLAG_SYN:
        p.version, p.flags, _reserved = struct.unpack_from("<BBH", data, HEADER_LEN)
        p.cid = bytes(data[HEADER_LEN + 4:HEADER_LEN + 4 + ID_LEN])
        p.options = bytes(data[CONTROL_LEN:])
    return p


def planted(kind: str) -> None:
    """planted bug (see PLANTED.md)"""
    if kind == "crash":
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except Exception:  # noqa: BLE001
            pass
        os.abort()
    while True:
        time.sleep(3600)


def qpc_now() -> int:
    return time.perf_counter_ns() // 100


# --------------------------------------------------------------------------------------------
# Stream parameters
# --------------------------------------------------------------------------------------------
class StreamParams:
    def __init__(self, fr: int, bps: int, bd_ms: int, max_dg: int, stream_length: float):
        self.fr = int(fr)
        self.bps = int(bps)
        self.bd_ms = int(bd_ms)
        self.max_dg = int(max_dg)
        self.stream_length = float(stream_length)
        self.frame_size = self.bps // 8 // self.fr
        self.frames = int(self.stream_length * self.fr + 1e-9)
        self.ibf = max(1, min(self.frames, self.bd_ms * self.fr // 1000))
        self.period = 1.0 / self.fr
        self.resend_interval = (1000 // self.fr + 500) / 1000.0  # trunc(1000/FrameRate)+500 ms

    def problems(self) -> list[str]:
        out = []
        if self.fr < 1:
            out.append("frame rate must be >= 1")
            return out
        if self.bps < 1:
            out.append("bits per second must be >= 1")
        if self.frame_size < MIN_FRAME:
            out.append(f"frame size floor(bps/8/FrameRate) = {self.frame_size} < {MIN_FRAME}")
        if not MIN_DATAGRAM <= self.max_dg <= MAX_DATAGRAM:
            out.append(f"datagram byte size must be {MIN_DATAGRAM}..{MAX_DATAGRAM}")
        if self.bd_ms <= 0:
            out.append("buffer depth must be > 0")
        if self.frames < 1:
            out.append("stream length x frame rate must give at least one frame")
        return out

    def with_options(self, opts: dict) -> "StreamParams":
        """Apply settled D14 values; invalid ones keep our own (choices 10, 11)."""
        fr = opts.get(OPT_FRAME_RATE, self.fr)
        if not 1 <= fr <= 100000:
            fr = self.fr
        bps = opts.get(OPT_BITS_PER_SECOND, self.bps)
        if not 1 <= bps <= (1 << 63):
            bps = self.bps
        if not MIN_FRAME <= bps // 8 // fr <= max(MAX_NEGOTIATED_FRAME, self.frame_size):
            fr, bps = self.fr, self.bps
        mdg = opts.get(OPT_MAX_DATAGRAM, self.max_dg)
        if not MIN_DATAGRAM <= mdg <= MAX_DATAGRAM:
            mdg = self.max_dg
        bd = opts.get(OPT_BUFFER_DEPTH_MS, self.bd_ms)
        if not 1 <= bd <= 3_600_000:
            bd = self.bd_ms
        p = StreamParams(fr, bps, bd, mdg, self.stream_length)
        if p.frames < 1:
            return self
        return p

    def options_bytes(self) -> bytes:
        return encode_stream_options(self.fr, self.bps, self.bd_ms, self.max_dg)

    def __repr__(self):
        return (f"fr={self.fr} bps={self.bps} F={self.frame_size} M={self.max_dg} "
                f"N={self.frames} IBF={self.ibf}")


# --------------------------------------------------------------------------------------------
# Timers
# --------------------------------------------------------------------------------------------
class Timers:
    """A heap of one-shot timers. Entries: [when, n, fn, args, alive]."""

    def __init__(self):
        self._heap = []
        self._n = 0

    def at(self, when: float, fn, *args):
        self._n += 1
        entry = [when, self._n, fn, args, True]
        heapq.heappush(self._heap, entry)
        return entry

    @staticmethod
    def cancel(entry):
        if entry is not None:
            entry[4] = False

    def next_time(self):
        while self._heap and not self._heap[0][4]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def run_due(self, now: float, on_error=None) -> None:
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if not entry[4]:
                continue
            entry[4] = False
            try:
                entry[2](now, *entry[3])
            except Exception as exc:  # noqa: BLE001 -- never die on one callback
                if on_error:
                    on_error(exc)


# --------------------------------------------------------------------------------------------
# Media sender and receiver
# --------------------------------------------------------------------------------------------
class Sender:
    """Streams frames 1..N to addr: frame k at base + (k-1)/FrameRate s, fragments back to back."""

    def __init__(self, sock, addr, params: StreamParams, timers: Timers, on_done=None,
                 seq_start: int = 1, naive_tail: bool = False, pattern_continues: bool = False):
        self.sock = sock
        self.addr = addr
        self.p = params
        self.timers = timers
        self.on_done = on_done
        self.seq_start = seq_start
        self.pattern_continues = pattern_continues
        self.sizes = (fragment_sizes_naive if naive_tail else fragment_sizes)(params.frame_size, params.max_dg)
        # pre-built payloads (the pattern restarts at 0 in every datagram)
        self.payloads = []
        off = 0
        for s in self.sizes:
            n = max(0, s - HEADER_LEN)
            self.payloads.append(pattern_bytes(n, off if pattern_continues else 0))
            off += n
        self.base = None
        self.sent_frames = 0
        self.sent_datagrams = 0
        self.send_errors = 0
        self.timer = None
        self.done = False

    def start(self, base: float):
        self.base = base
        self.timer = self.timers.at(base, self._tick, 0)

    def stop(self):
        Timers.cancel(self.timer)
        self.done = True

    def _tick(self, now, k):
        if self.done:
            return
        seq = self.seq_start + k
        for size, payload in zip(self.sizes, self.payloads):
            if size < HEADER_LEN:  # only the no-tail-rule mutant: a truncated header
                dgram = encode_data(seq, qpc_now(), b"")[:size]
            else:
                dgram = struct.pack("<HQQQ", FLAG_DATA, seq, qpc_now(), QPF) + payload
            try:
                self.sock.sendto(dgram, self.addr)
                self.sent_datagrams += 1
            except OSError:
                self.send_errors += 1
        self.sent_frames += 1
        if k + 1 < self.p.frames:
            self.timer = self.timers.at(self.base + (k + 1) * self.p.period, self._tick, k + 1)
        else:
            self.done = True
            if self.on_done:
                self.on_done(now)


class FrameReceiver:
    """Frame accounting by byte sum per sequence number (headers included)."""

    def __init__(self, params: StreamParams, legacy: bool, windowed: bool):
        self.p = params
        self.legacy = legacy
        self.windowed = windowed
        self.sums = {}
        self.seen = {}
        self.next_render = 1
        self.successful = self.dropped = self.duplicate = self.error = 0
        self.duplicate_datagrams = 0
        self.accepted_datagrams = 0
        self.any_data = False

    def accept(self, seq: int, length: int, qpc: int, qpf: int) -> str:
        self.any_data = True
        p = self.p
        if seq < 1 or seq > p.frames:
            self.error += 1
            return "error"
        if self.windowed and (seq < self.next_render or seq >= self.next_render + 2 * p.ibf):
            self.error += 1
            return "error"
        cur = self.sums.get(seq, 0)
        if not self.legacy:  # D12/D13 dedup
            seen = self.seen.setdefault(seq, set())
            key = (length, qpc, qpf)
            if key in seen or cur + length > p.frame_size:
                self.duplicate_datagrams += 1
                return "duplicate"
            seen.add(key)
        self.sums[seq] = cur + length
        self.accepted_datagrams += 1
        return "ok"

    def frame_complete(self, seq: int) -> bool:
        return self.sums.get(seq, 0) >= self.p.frame_size

    def render_next(self) -> int:
        k = self.next_render
        total = self.sums.pop(k, 0)
        self.seen.pop(k, None)
        if total == self.p.frame_size:
            self.successful += 1
        elif total < self.p.frame_size:
            self.dropped += 1
        else:
            self.duplicate += 1
        self.next_render += 1
        return k

    def finish(self):
        while self.next_render <= self.p.frames:
            self.render_next()

    def fail_all(self):
        self.dropped += self.p.frames - (self.next_render - 1)
        self.next_render = self.p.frames + 1

    def summary(self) -> str:
        return (f"successful={self.successful} dropped={self.dropped} duplicate={self.duplicate} "
                f"error={self.error}")


def fmt_counts(c) -> str:
    if not c:
        return "{}"
    return "{" + ",".join(f"{k}:{v}" for k, v in sorted(c.items())) + "}"


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
class Config:
    def __init__(self, ns):
        self.role = ns.role
        self.profile = ns.profile
        self.direction = ns.direction
        self.allow_legacy_start = ns.allow_legacy_start
        self.optimistic = ns.optimistic_start
        self.fallback = ns.fallback_to_legacy
        self.session_limit = ns.session_limit
        self.request_options = ns.request_options
        self.verify_data = ns.verify == "data"
        self.mutant = ns.mutant
        self.plant = ns.plant
        self.params = StreamParams(ns.frame_rate, ns.bits_per_second, int(round(ns.buffer_depth * 1000)),
                                   ns.datagram_byte_size, ns.stream_length)

    def mut(self, name: str) -> bool:
        return self.mutant == name


# --------------------------------------------------------------------------------------------
# Initiator
# --------------------------------------------------------------------------------------------
class Initiator:
    def __init__(self, cfg: Config, sock, target, timers: Timers):
        self.cfg = cfg
        self.sock = sock
        self.target = target
        self.tkey = tuple(target[:2])
        self.timers = timers
        self.p = cfg.params
        self.result = None  # (ok: bool, reason: str)
        self.counters = collections.Counter()  # dropped / invalid datagrams by reason (D11)
        self.events = collections.Counter()  # datagrams handled that are not drops
        self.cid = None
        self.receiver = None
        self.sender = None
        self.phase = "idle"
        self.legacy_validation = False
        self.mode = cfg.profile
        self.timer = None
        self.render_timer = None
        self.got_data = False
        self.starts_sent = 0
        self.syns_sent = 0
        self.acks_sent = 0
        self.synacks_seen = 0

    # ----- plumbing
    def send(self, dgram: bytes):
        try:
            self.sock.sendto(dgram, self.target)
        except OSError:
            self.counters["send_error"] += 1

    def finish(self, ok: bool, reason: str):
        if self.result is None:
            self.result = (ok, reason)
            Timers.cancel(self.timer)
            Timers.cancel(self.render_timer)
            if self.sender:
                self.sender.stop()

    def summary(self) -> str:
        ok, reason = self.result if self.result else (False, "not finished")
        rx = self.receiver.summary() if self.receiver else "successful=0 dropped=0 duplicate=0 error=0"
        sent = self.sender.sent_frames if self.sender else 0
        return (f"RESULT={'ok' if ok else 'fail'} role=initiator profile={self.cfg.profile} "
                f"mode={self.mode} direction={self.cfg.direction} connection_id={id_str(self.cid)} "
                f"frames {rx} sent_frames={sent} dropped_datagrams={fmt_counts(self.counters)} "
                f"events={fmt_counts(self.events)} reason=\"{reason}\"")

    # ----- start
    def start(self, now: float):
        if self.cfg.profile == "3way":
            self._start_3way(now)
        elif self.cfg.direction == "pull":
            self._start_legacy_pull(now, udp_push=self.cfg.profile == "udp_push")
        else:
            self._start_legacy_push(now)

    # ----- legacy / udp_push pull
    def _start_legacy_pull(self, now, udp_push: bool):
        self.phase = "legacy-pull"
        self.mode = "udp_push" if udp_push else "legacy"
        self.legacy_validation = True
        self.udp_push = udp_push
        if udp_push and self.cfg.mut("udp-push-syn-first"):
            self._send_plain_syn()
        else:
            self.send(START)
            self.starts_sent += 1
        self.receiver = FrameReceiver(self.p, legacy=True, windowed=True)
        self.base = now
        self.resend_index = 1
        self.timer = self.timers.at(now + self.p.resend_interval, self._legacy_resend)
        self.render_timer = self.timers.at(now + self.p.ibf * self.p.period, self._render)

    def _send_plain_syn(self):
        self.send(encode_control(FLAG_SYN, ZERO_ID))
        self.syns_sent += 1

    def _legacy_resend(self, now):
        if self.result or self.got_data:
            return
        if self.cfg.mut("start-stops-on-connection-id") and self.cid is not None:
            return
        if self.udp_push:
            self._send_plain_syn()
        else:
            self.send(START)
            self.starts_sent += 1
        self.resend_index += 1
        self.timer = self.timers.at(self.base + self.resend_index * self.p.resend_interval,
                                    self._legacy_resend)

    def _on_legacy_pull(self, data, now):
        c = classify(data)
        if c.kind == "connection_id":
            if self.cid is None:
                self.cid = c.cid
            self.events["connection_id"] += 1
            return
        if c.kind == "data":
            if self.cfg.verify_data and not payload_ok(data):
                self.counters["payload_mismatch"] += 1
                self.receiver.fail_all()
                self.finish(False, f"malformed datagram: payload mismatch (seq {c.seq})")
                return
            self.got_data = True
            self.receiver.accept(c.seq, len(data), c.qpc, c.qpf)
            return
        # anything else is malformed for a legacy receiver and fails the whole stream
        kind = c.kind
        if c.kind in ("syn", "synack", "ack", "data_frag"):
            kind = f"unknown flag 0x{c.flag:04x} ({c.kind})"
        elif c.kind == "unknown_flag":
            kind = f"unknown flag 0x{c.flag:04x}"
        self.counters[c.kind] += 1
        self.receiver.fail_all()
        self.finish(False, f"malformed datagram ({len(data)} bytes): {kind}")

    # ----- rendering (pull receivers)
    def _render(self, now):
        if self.result:
            return
        r = self.receiver
        while r.next_render <= self.p.frames:
            due = self.base + (self.p.ibf + r.next_render - 1) * self.p.period
            if due > now:
                self.render_timer = self.timers.at(due, self._render)
                return
            if r.next_render == 1 and not r.any_data:
                r.fail_all()
                self.finish(False, "nothing arrived by the first render")
                return
            r.render_next()
        self.finish(True, "stream complete")

    # ----- legacy push sender
    def _start_legacy_push(self, now):
        self.phase = "push-wait-cid"
        self.mode = "legacy"
        self.push_t0 = now
        self.send(START)
        self.starts_sent += 1
        if self.cfg.mut("push-no-wait-connection-id"):
            self._start_push_stream(now)
        self.timer = self.timers.at(now + self.p.resend_interval, self._legacy_push_tick, 1)

    def _legacy_push_tick(self, now, j):
        if self.result:
            return
        if j >= 3:
            if self.phase == "push-wait-cid":
                self.finish(False, "no CONNECTION_ID")
            return
        if self.phase == "push-wait-cid" and (j == 1 or self.cfg.mut("push-start-repeats")):
            self.send(START)
            self.starts_sent += 1
        if self.phase == "push-wait-cid":
            self.timer = self.timers.at(self.push_t0 + (j + 1) * self.p.resend_interval,
                                        self._legacy_push_tick, j + 1)

    def _on_legacy_push(self, data, now):
        c = classify(data)
        if c.kind == "connection_id" and self.cid is None:
            self.cid = c.cid
            if self.phase == "push-wait-cid":
                Timers.cancel(self.timer)
                self._start_push_stream(now)
            return
        self.counters["ignored_by_sender_" + c.kind] += 1

    def _start_push_stream(self, now):
        if self.sender is not None:
            return
        self.phase = "push-streaming"
        seq_start = 0 if self.cfg.mut("push-seq-from-zero") else 1
        self.sender = Sender(self.sock, self.target, self.p, self.timers, on_done=self._push_done,
                             seq_start=seq_start)
        self.sender.start(now)

    def _push_done(self, now):
        if self.sender.send_errors and self.sender.sent_datagrams == 0:
            self.finish(False, "all sends failed")
        else:
            self.finish(True, f"sent all {self.p.frames} frames")

    # ----- 3way
    def _syn_bytes(self) -> bytes:
        version = 2 if self.cfg.mut("syn-version-2") else PROTOCOL_VERSION
        opts = self.p.options_bytes() if self.cfg.request_options else b""
        return encode_control(FLAG_SYN, ZERO_ID, version=version, options=opts)

    def _start_3way(self, now):
        self.phase = "syn"
        self.mode = "3way"
        self.legacy_validation = False
        if self.cfg.mut("start-before-syn"):
            self.send(START)
            self.starts_sent += 1
        self.syn = self._syn_bytes()
        self.syn_t = now
        self._send_syn(now)
        if self.cfg.direction == "push" and self.cfg.mut("push-no-handshake-wait"):
            self._start_push_stream(now)
            self.phase = "syn"

    def _send_syn(self, now):
        self.send(self.syn)
        self.syns_sent += 1
        waits = (0.5, 0.5, 0.5, 0.5) if self.cfg.mut("syn-fixed-interval") else HANDSHAKE_WAITS
        self.syn_t += waits[self.syns_sent - 1]
        self.timer = self.timers.at(self.syn_t, self._syn_timeout)

    def _syn_timeout(self, now):
        if self.result or self.phase != "syn":
            return
        if self.syns_sent < HANDSHAKE_SENDS:
            self._send_syn(now)
            return
        if self.cfg.fallback:  # D10
            self.events["fallback_to_legacy"] += 1
            if self.sender:
                self.sender.stop()
                self.sender = None
            if self.cfg.direction == "pull":
                self._start_legacy_pull(now, udp_push=False)
            else:
                self._start_legacy_push(now)
            return
        self.finish(False, f"no SYN-ACK after {self.syns_sent} SYNs")

    def _ack(self):
        cid = self.cid
        if self.cfg.mut("ack-wrong-id"):
            cid = bytes([cid[0] ^ 0x01]) + cid[1:]
        self.send(encode_control(FLAG_ACK, cid))
        self.acks_sent += 1

    def _adopt(self, cid, now, opts):
        """Handshake complete from the initiator's point of view (D5/D8); D12 flush."""
        self.cid = cid
        Timers.cancel(self.timer)
        self.phase = "established"
        if opts:
            self.p = self.p.with_options(opts)
        if self.cfg.direction == "pull":
            self.receiver = FrameReceiver(self.p, legacy=False, windowed=True)
            self.base = now
            self.render_timer = self.timers.at(now + self.p.ibf * self.p.period, self._render)

    def _on_3way(self, data, now):
        c = classify(data)
        k = c.kind
        if k == "synack":
            if c.version != PROTOCOL_VERSION:
                self.counters["bad_version"] += 1
                return
            items = parse_tlvs(c.options)
            if items is None:
                self.counters["bad_options"] += 1
                return
            accept = bool(c.flags & 1)
            self.synacks_seen += 1
            if self.phase == "syn":
                if not accept:
                    if self.cfg.mut("ack-after-reject"):
                        self.cid = c.cid
                        self._ack()
                    self.cid = None
                    self.finish(False, f"rejected: {id_str(c.cid)}")
                    return
                self._adopt(c.cid, now, known_options(items))
                self._ack()
                if self.cfg.direction == "push":
                    self._start_push_stream(now)  # D15: right after the first ACK
                return
            # established: answer every repeated SYN-ACK with another ACK (D5)
            if accept and c.cid == self.cid:
                if not self.cfg.mut("no-ack-on-repeat"):
                    self._ack()
                self.events["repeated_synack_acked"] += 1
            else:
                self.counters["unexpected_synack"] += 1
            return
        if k == "connection_id":
            if self.phase == "syn" and self.cfg.direction == "pull":
                self._adopt(c.cid, now, None)  # D8 with a lost SYN-ACK (choice 5)
                return
            if self.cid is None:
                self.counters["unexpected_connection_id"] += 1
            elif c.cid == self.cid:
                self.events["connection_id"] += 1
            else:
                self.counters["connection_id_mismatch"] += 1
            return
        if k == "data":
            if self.cfg.direction != "pull":
                self.counters["media_at_sender"] += 1
                return
            if self.phase != "established":
                self.counters["media_before_handshake"] += 1
                return
            if self.cfg.verify_data and not payload_ok(data):
                self.counters["payload_mismatch"] += 1
                return
            res = self.receiver.accept(c.seq, len(data), c.qpc, c.qpf)
            if res == "duplicate":
                self.counters["duplicate_datagram"] += 1
            return
        if k == "data_frag":
            self.counters["fragment_unsupported"] += 1
            return
        if k in ("syn", "ack"):
            if c.version != PROTOCOL_VERSION:
                self.counters["bad_version"] += 1
            else:
                self.counters["unexpected_control"] += 1
            return
        self.counters[k] += 1

    # ----- receive entry
    def on_datagram(self, data: bytes, addr, now: float):
        if self.result:
            return
        if tuple(addr[:2]) != self.tkey:
            self.counters["foreign_tuple"] += 1
            return
        if self.phase == "legacy-pull":
            self._on_legacy_pull(data, now)
        elif self.phase in ("push-wait-cid", "push-streaming") and self.mode == "legacy":
            self._on_legacy_push(data, now)
        elif self.mode == "3way":
            self._on_3way(data, now)
        else:
            self.counters["ignored"] += 1


# --------------------------------------------------------------------------------------------
# Responder
# --------------------------------------------------------------------------------------------
class Session:
    def __init__(self, addr, kind: str, direction: str, params: StreamParams, now: float):
        self.addr = addr
        self.kind = kind  # legacy-pull | legacy-push | 3way
        self.direction = direction
        self.p = params
        self.state = "pending"
        self.id = None
        self.synack = None
        self.synack_sends = 0
        self.synack_t = now
        self.counters = collections.Counter()  # dropped / invalid datagrams by reason (D11)
        self.events = collections.Counter()  # handled, not dropped
        self.sender = None
        self.receiver = None
        self.timer = None
        self.idle_timer = None
        self.last_activity = now
        self.cid_sent = False
        self.established_by = None  # "ack" | "media" (D15) | None
        self.ack_seen = False
        self.ended = False


class Responder:
    def __init__(self, cfg: Config, sock, timers: Timers, log=None):
        self.cfg = cfg
        self.sock = sock
        self.timers = timers
        self.log = log or (lambda line: None)
        self.sessions: dict = {}
        self.counters = collections.Counter()

    def send(self, dgram: bytes, addr, s: Session | None = None):
        try:
            self.sock.sendto(dgram, addr)
        except OSError:
            (s.counters if s else self.counters)["send_error"] += 1

    def at_limit(self) -> bool:
        lim = self.cfg.session_limit
        if lim is None or self.cfg.mut("ignore-session-limit"):
            return False
        return len(self.sessions) >= lim

    # ----- session lifecycle
    def end(self, s: Session, reason: str, now: float):
        if s.ended:
            return
        s.ended = True
        Timers.cancel(s.timer)
        Timers.cancel(s.idle_timer)
        if s.sender:
            s.sender.stop()
        if self.sessions.get(s.addr) is s:
            del self.sessions[s.addr]
        rx = ""
        if s.receiver:
            s.receiver.finish()
            rx = " frames " + s.receiver.summary()
        tx = f" sent_frames={s.sender.sent_frames}" if s.sender else ""
        self.log(f"session {s.addr[0]}:{s.addr[1]} id={id_str(s.id)} kind={s.kind} "
                 f"direction={s.direction} end=\"{reason}\"{rx}{tx} "
                 f"dropped_datagrams={fmt_counts(s.counters)} events={fmt_counts(s.events)}")

    def _start_stream(self, s: Session, now: float):
        if s.sender is not None:
            return
        s.sender = Sender(self.sock, s.addr, s.p, self.timers,
                          on_done=lambda t, s=s: self.end(s, "stream sent", t),
                          seq_start=0 if self.cfg.mut("seq-from-zero") else 1,
                          naive_tail=self.cfg.mut("no-tail-rule"),
                          pattern_continues=self.cfg.mut("pattern-continues"))
        s.sender.start(now)

    def _arm_idle(self, s: Session, now: float):
        s.last_activity = now
        if s.idle_timer is None or not s.idle_timer[4]:
            s.idle_timer = self.timers.at(now + RECEIVER_IDLE_TIMEOUT, self._idle_check, s)

    def _idle_check(self, now, s: Session):
        if s.ended:
            return
        if now - s.last_activity >= RECEIVER_IDLE_TIMEOUT - 1e-6:
            self.end(s, "idle timeout (incomplete)", now)
        else:
            s.idle_timer = self.timers.at(s.last_activity + RECEIVER_IDLE_TIMEOUT, self._idle_check, s)

    # ----- legacy START service (legacy profile, or D9)
    def _serve_start(self, addr, now: float, via_d9: bool):
        kind = "legacy-pull" if self.cfg.direction == "pull" else "legacy-push"
        s = Session(addr, kind, self.cfg.direction, self.cfg.params, now)
        s.id = new_id()
        s.state = "established"
        self.sessions[addr] = s
        if via_d9 and self.cfg.mut("start-answered-with-synack"):
            self.send(encode_control(FLAG_SYN_ACK, s.id, flags=1), addr, s)
        self.send(encode_connection_id(s.id), addr, s)
        s.cid_sent = True
        if kind == "legacy-pull":
            self._start_stream(s, now)
        else:
            s.receiver = FrameReceiver(s.p, legacy=True, windowed=False)
            self._arm_idle(s, now)
            if self.cfg.mut("legacy-push-receiver-streams"):
                s.sender = Sender(self.sock, addr, s.p, self.timers)
                s.sender.start(now)

    def _legacy_push_receive(self, s: Session, data: bytes, now: float):
        s.last_activity = now
        c = classify(data)
        if c.kind == "connection_id":
            s.counters["connection_id_ignored"] += 1
            return
        if c.kind != "data":
            s.counters[c.kind] += 1
            self.end(s, f"failed: malformed datagram ({len(data)} bytes, {c.kind})", now)
            return
        if self.cfg.verify_data and not payload_ok(data):
            s.counters["payload_mismatch"] += 1
            self.end(s, f"failed: payload mismatch (seq {c.seq})", now)
            return
        self._push_accept(s, c, len(data), now)

    def _push_accept(self, s: Session, c: Parsed, length: int, now: float):
        res = s.receiver.accept(c.seq, length, c.qpc, c.qpf)
        if res == "duplicate":
            s.counters["duplicate_datagram"] += 1
        if c.seq == s.p.frames and res == "ok" and s.receiver.frame_complete(c.seq):
            self.end(s, "final frame arrived (success)", now)

    # ----- dispatch
    def on_datagram(self, data: bytes, addr, now: float):
        addr = tuple(addr[:2])
        if self.cfg.profile == "3way":
            self._on_3way(data, addr, now)
        else:
            self._on_legacy(data, addr, now)

    def _on_legacy(self, data, addr, now):
        s = self.sessions.get(addr)
        if len(data) == 5 and data == START:
            if s is not None:
                s.counters["duplicate_start"] += 1
                return
            self._serve_start(addr, now, via_d9=False)
            return
        if s is not None and s.kind == "legacy-push":
            self._legacy_push_receive(s, data, now)
            return
        (s.counters if s else self.counters)["discarded_non_start"] += 1

    def _on_3way(self, data, addr, now):
        s = self.sessions.get(addr)
        if len(data) == 5 and data == START:
            if not self.cfg.allow_legacy_start:
                (s.counters if s else self.counters)["start_not_allowed"] += 1
                return
            if s is not None:
                s.counters["duplicate_start"] += 1
                return
            if self.at_limit():
                self.counters["start_over_session_limit"] += 1
                return
            self._serve_start(addr, now, via_d9=True)
            return
        if s is not None and s.kind == "legacy-push":
            self._legacy_push_receive(s, data, now)
            return
        if s is not None and s.kind == "legacy-pull":
            s.counters["discarded_non_start"] += 1
            return
        c = classify(data)
        bucket = s.counters if s else self.counters
        k = c.kind
        if k == "syn":
            self._on_syn(c, addr, s, now)
        elif k == "ack":
            self._on_ack(c, addr, s, now)
        elif k == "data":
            if s is None:
                self.counters["media_without_session"] += 1  # D15/D11: no session at all
            elif s.direction != "push":
                s.counters["media_at_sender"] += 1  # a pull responder never receives media
            else:
                if s.state == "pending":
                    if self.cfg.mut("push-media-does-not-establish"):
                        s.counters["media_before_ack"] += 1  # the old D15: ACK only
                        return
                    self._establish_push(s, now, "media")  # D15: media proves the SYN-ACK arrived
                s.last_activity = now
                if self.cfg.verify_data and not payload_ok(data):
                    s.counters["payload_mismatch"] += 1
                    return
                self._push_accept(s, c, len(data), now)
        elif k == "synack":
            bucket["unexpected_control"] += 1
        elif k == "connection_id":
            bucket["unexpected_connection_id"] += 1
        elif k == "data_frag":
            bucket["fragment_unsupported"] += 1
        else:
            bucket[k] += 1

    def _on_syn(self, c: Parsed, addr, s, now):
        bucket = s.counters if s else self.counters
        if c.version != PROTOCOL_VERSION and not self.cfg.mut("accept-any-version"):
            bucket["bad_version"] += 1
            self.send(encode_control(FLAG_SYN_ACK, text_id(REASON_VERSION), flags=0), addr, s)
            return
        items = parse_tlvs(c.options)
        if items is None:
            bucket["bad_options"] += 1
            return
        if self.cfg.plant:  # planted bug (see PLANTED.md)
            o = known_options(items)
            if self.cfg.plant == "crash" and o.get(OPT_BUFFER_DEPTH_MS) == 1 and OPT_MAX_DATAGRAM in o:
                planted("crash")
            if self.cfg.plant == "hang" and o.get(OPT_FRAME_RATE) == 100000 and OPT_CODEC_HINT in o:
                planted("hang")
        if s is not None:
            if s.kind == "3way" and s.state == "pending":
                s.events["repeated_syn_answered"] += 1
                if self.cfg.mut("synack-new-id-on-repeat"):
                    s.id = new_id()
                    s.synack = encode_control(FLAG_SYN_ACK, s.id, flags=1, options=s.synack[CONTROL_LEN:])
                self.send(s.synack, addr, s)  # D3: the same SYN-ACK
                return
            s.counters["syn_on_live_session"] += 1
            return
        if self.at_limit():
            self.counters["rejected_session_limit"] += 1
            self.send(encode_control(FLAG_SYN_ACK, text_id(REASON_LIMIT), flags=0), addr)
            return
        requested = known_options(items)
        has_stream_opts = any(t in requested for t in
                              (OPT_FRAME_RATE, OPT_BITS_PER_SECOND, OPT_BUFFER_DEPTH_MS, OPT_MAX_DATAGRAM))
        params = self.cfg.params.with_options(requested) if has_stream_opts else self.cfg.params
        s = Session(addr, "3way", self.cfg.direction, params, now)
        s.id = new_id()
        s.synack = encode_control(FLAG_SYN_ACK, s.id, flags=1,
                                  options=params.options_bytes() if has_stream_opts else b"")
        self.sessions[addr] = s
        self.send(s.synack, addr, s)
        s.synack_sends = 1
        s.synack_t = now
        self._schedule_d7(s)
        if s.direction == "pull" and (self.cfg.optimistic or self.cfg.mut("media-before-ack")):
            self._send_cid(s)
            self._start_stream(s, now)

    def _schedule_d7(self, s: Session):
        waits = (0.5, 0.5, 0.5, 0.5) if self.cfg.mut("synack-fixed-interval") else HANDSHAKE_WAITS
        s.synack_t += waits[s.synack_sends - 1]
        s.timer = self.timers.at(s.synack_t, self._d7_tick, s)

    def _d7_tick(self, now, s: Session):
        if s.ended or s.state != "pending":
            return
        if s.synack_sends < HANDSHAKE_SENDS:
            self.send(s.synack, s.addr, s)
            s.synack_sends += 1
            self._schedule_d7(s)
            return
        what = "ACK or media" if s.direction == "push" else "ACK"
        self.end(s, f"no {what} after 4 SYN-ACKs (pending session dropped)", now)

    def _send_cid(self, s: Session):
        cid = new_id() if self.cfg.mut("connection-id-mismatch") else s.id
        self.send(encode_connection_id(cid), s.addr, s)
        s.cid_sent = True

    def _on_ack(self, c: Parsed, addr, s, now):
        bucket = s.counters if s else self.counters
        if c.version != PROTOCOL_VERSION:
            bucket["bad_version"] += 1
            return
        if parse_tlvs(c.options) is None:
            bucket["bad_options"] += 1
            return
        if s is None or s.kind != "3way":
            bucket["ack_without_pending_session"] += 1
            return
        if s.state == "established":
            if c.cid != s.id:
                s.counters["ack_id_mismatch"] += 1
            elif s.established_by == "media" and not s.ack_seen:
                s.events["ack_after_media"] += 1  # D15: late (or reordered) ACK, harmless
            else:
                s.counters["duplicate_ack"] += 1
            s.ack_seen = s.ack_seen or c.cid == s.id
            return
        if c.cid != s.id:
            s.counters["ack_id_mismatch"] += 1  # D6: validation error, keep waiting
            return
        s.ack_seen = True
        if s.direction == "push":
            self._establish_push(s, now, "ack")  # D15 (D6)
            return
        # D6: established
        Timers.cancel(s.timer)
        s.state = "established"
        s.established_by = "ack"
        if not s.cid_sent:
            self._send_cid(s)
        self._start_stream(s, now)

    def _establish_push(self, s: Session, now: float, by: str):
        """D15: a pending 3-way push session is established by an ACK echoing the assigned id or by
        the first media datagram from its tuple. D7's re-sends stop; no CONNECTION_ID, no media."""
        Timers.cancel(s.timer)
        s.state = "established"
        s.established_by = by
        s.events["established_by_" + by] += 1
        s.receiver = FrameReceiver(s.p, legacy=False, windowed=False)  # D12: fresh state
        if self.cfg.mut("push-receiver-sends-connection-id"):
            self._send_cid(s)
        self._arm_idle(s, now)


# --------------------------------------------------------------------------------------------
# Main loop
# --------------------------------------------------------------------------------------------
class Terminated(BaseException):
    pass


def _on_signal(signum, frame):
    raise Terminated()


def parse_hostport(text: str):
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bad address {text!r}")
        port = rest[1:]
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"bad address {text!r} (HOST:PORT expected)")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"bad port in {text!r}")
    return host, int(port)


def resolve(host: str, port: int, passive: bool):
    flags = socket.AI_PASSIVE if passive else 0
    infos = socket.getaddrinfo(host or None, port, 0, socket.SOCK_DGRAM, 0, flags)
    infos.sort(key=lambda i: 0 if i[0] == socket.AF_INET else 1)
    return infos[0][0], infos[0][4]


def make_socket(family, bind_addr):
    sock = socket.socket(family, socket.SOCK_DGRAM)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 * 1024 * 1024)
        except OSError:
            pass
    sock.bind(bind_addr)
    sock.setblocking(True)
    return sock


def run_loop(sock, timers: Timers, on_datagram, done, on_error):
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    try:
        while not done():
            timers.run_due(time.monotonic(), on_error)
            if done():
                break
            nxt = timers.next_time()
            timeout = 1.0 if nxt is None else min(1.0, max(0.0, nxt - time.monotonic()))
            if not sel.select(timeout):
                continue
            for _ in range(512):
                try:
                    data, addr = sock.recvfrom(65536, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # e.g. ICMP errors reported on the socket
                try:
                    on_datagram(data, addr, time.monotonic())
                except Exception as exc:  # noqa: BLE001 -- never crash on input
                    on_error(exc)
                if done():
                    break
    finally:
        sel.close()


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mediastream_peer.py",
                                 description="ctsTraffic UDP media stream peer (legacy, udp_push, 3way)")
    ap.add_argument("role", choices=("responder", "initiator"))
    ap.add_argument("--listen", metavar="HOST:PORT")
    ap.add_argument("--target", metavar="HOST:PORT")
    ap.add_argument("--profile", choices=("legacy", "udp_push", "3way"), default="3way")
    ap.add_argument("--allow-legacy-start", action="store_true")
    ap.add_argument("--optimistic-start", action="store_true")
    ap.add_argument("--fallback-to-legacy", action="store_true")
    ap.add_argument("--session-limit", type=int, default=None)
    ap.add_argument("--direction", choices=("pull", "push"), default="pull")
    ap.add_argument("--bits-per-second", type=int, default=1_000_000)
    ap.add_argument("--frame-rate", type=int, default=100)
    ap.add_argument("--stream-length", type=float, default=5.0)
    ap.add_argument("--buffer-depth", type=float, default=1.0)
    ap.add_argument("--datagram-byte-size", type=int, default=1400)
    ap.add_argument("--verify", choices=("data", "connection"), default="data")
    ap.add_argument("--request-options", action="store_true")
    ap.add_argument("--mutant", choices=sorted(MUTANTS), default=None)
    ap.add_argument("--plant", choices=PLANTS, default=None)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    ns = ap.parse_args(argv)  # exits 2 on bad values / unknown mutant
    if ns.session_limit is not None and ns.session_limit < 0:
        ap.error("--session-limit must be >= 0")
    if not ns.stream_length > 0 or not ns.buffer_depth > 0:
        ap.error("--stream-length and --buffer-depth must be > 0")
    if ns.frame_rate < 1:
        ap.error("--frame-rate must be >= 1")
    cfg = Config(ns)
    probs = cfg.params.problems()
    if probs:
        ap.error("; ".join(probs))
    addr_text = ns.listen if ns.role == "responder" else ns.target
    if not addr_text:
        ap.error(f"{ns.role} needs --{'listen' if ns.role == 'responder' else 'target'} HOST:PORT")
    try:
        host, port = parse_hostport(addr_text)
    except ValueError as exc:
        ap.error(str(exc))
    if ns.role == "initiator" and port == 0:
        ap.error("--target port must not be 0")

    # unsupported combinations
    if ns.profile == "udp_push" and ns.direction == "push":
        print("unsupported: profile udp_push has no push direction", file=sys.stderr)
        return EXIT_UNSUPPORTED
    if ns.role == "responder" and ns.profile == "3way" and ns.optimistic_start and ns.direction == "push":
        print("unsupported: optimistic start has no meaning in push (D15)", file=sys.stderr)
        return EXIT_UNSUPPORTED

    try:
        family, sockaddr = resolve(host, port, passive=ns.role == "responder")
    except OSError as exc:
        ap.error(f"cannot resolve {addr_text!r}: {exc}")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    timers = Timers()

    if ns.role == "responder":
        try:
            sock = make_socket(family, sockaddr)
        except OSError as exc:
            print(f"cannot bind {addr_text}: {exc}", file=sys.stderr)
            return EXIT_FAIL

        def log(line):
            try:
                print(line, file=sys.stderr, flush=True)
            except Exception:  # noqa: BLE001
                pass

        resp = Responder(cfg, sock, timers, log)
        bound = sock.getsockname()
        log(f"listening on {bound[0]}:{bound[1]} profile={cfg.profile} direction={cfg.direction} "
            f"{cfg.params!r}" + (f" mutant={cfg.mutant}" if cfg.mutant else ""))
        errors = collections.Counter()

        def on_error(exc):
            errors[type(exc).__name__] += 1
            resp.counters["internal_error"] += 1
            if errors[type(exc).__name__] <= 3:
                log(f"internal error (ignored): {type(exc).__name__}: {exc}")

        try:
            run_loop(sock, timers, resp.on_datagram, lambda: False, on_error)
        except Terminated:
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass
        return EXIT_OK

    # initiator
    bind = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
    try:
        sock = make_socket(family, bind)
    except OSError as exc:
        print(f"cannot bind: {exc}", file=sys.stderr)
        return EXIT_FAIL
    ini = Initiator(cfg, sock, sockaddr, timers)

    def on_error_i(exc):
        ini.counters["internal_error"] += 1

    try:
        ini.start(time.monotonic())
        run_loop(sock, timers, ini.on_datagram, lambda: ini.result is not None, on_error_i)
    except Terminated:
        ini.finish(False, "terminated by signal")
    finally:
        try:
            sock.close()
        except OSError:
            pass
    try:
        print(ini.summary(), flush=True)
    except Exception:  # noqa: BLE001
        pass
    return EXIT_OK if ini.result and ini.result[0] else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
