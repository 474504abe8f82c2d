#!/usr/bin/env python3
"""UDP media-stream protocol (ctsTraffic "-protocol:udp" media stream pattern).

Written from the public protocol description (mediastream.md) only.
Implements both roles:

  * Initiator  (ctsTraffic client, -target:, normally the media receiver)
  * Responder  (ctsTraffic server, -listen:, normally the media sender)

and the profiles ``legacy``, ``3way`` (decisions D1..D14), ``udp_push`` and the
bidirectional branch's media direction (``pull`` / ``push``, legacy handshake only).

Python 3.11, standard library only.  See README.md for the command line.
"""

import argparse
import heapq
import json
import select
import signal
import socket
import struct
import sys
import time
import uuid
from collections import Counter

# --------------------------------------------------------------------------------------
# Exit codes
# --------------------------------------------------------------------------------------
EXIT_OK = 0                 # stream completed successfully
EXIT_STREAM_FAILED = 1      # frame accounting says the stream was not received completely
EXIT_USAGE = 2              # bad command line / invalid stream parameters
EXIT_REJECTED = 3           # 3way: responder rejected us (SYN-ACK Accept=0, D5)
EXIT_NO_HANDSHAKE = 4       # 3way: SYN attempts exhausted without fallback (D2); push: no CONNECTION_ID
EXIT_MALFORMED = 5          # legacy receive rules: a malformed datagram failed the whole stream
EXIT_UNSUPPORTED = 89       # combination not coded anywhere (e.g. push + 3way)
EXIT_SIGNAL = 143           # initiator terminated by SIGTERM/SIGINT before completion

DEFAULT_PORT = 4444

# --------------------------------------------------------------------------------------
# Wire facts (all integers little-endian)
# --------------------------------------------------------------------------------------
START = b"START"                      # exactly 5 bytes, no NUL, case-sensitive
FLAG_DATA = 0x0000
FLAG_FRAG = 0x0001                    # spec extension, never coded
FLAG_SYN = 0x0100
FLAG_SYNACK = 0x0101
FLAG_ACK = 0x0102
FLAG_CONNID = 0x1000
HEADERED_FLAGS = (FLAG_DATA, FLAG_FRAG, FLAG_SYN, FLAG_SYNACK, FLAG_ACK)
CONTROL_FLAGS = (FLAG_SYN, FLAG_SYNACK, FLAG_ACK)

HEADER_LEN = 26                       # flag u16 | seq u64 @2 | QPC u64 @10 | QPF u64 @18
FRAG_HEADER_LEN = 42                  # + FragmentOffset u64 @26 | TotalLength u64 @34
ID_LEN = 37                           # 36 ASCII chars + NUL
CONNID_LEN = 2 + ID_LEN               # 39
CONTROL_BODY_LEN = 4 + ID_LEN         # Version u8, Flags u8, Reserved u16, id 37 bytes = 41
CONTROL_LEN = HEADER_LEN + CONTROL_BODY_LEN   # 67
PROTOCOL_VERSION = 1
ZERO_ID = b"\x00" * ID_LEN
MIN_FRAME = 40
MIN_DATAGRAM = 27
MAX_DATAGRAM = 65507

QPF = 10_000_000                      # constant QueryPerformanceFrequency (10 MHz, like Windows)

# D14 TLV types
TLV_FRAME_RATE = 1        # u32
TLV_BITS_PER_SECOND = 2   # u64
TLV_BUFFER_DEPTH_MS = 3   # u32
TLV_CODEC_HINT = 4        # ASCII
TLV_MAX_DATAGRAM = 5      # u32
TLV_FIXED = {TLV_FRAME_RATE: "<I", TLV_BITS_PER_SECOND: "<Q", TLV_BUFFER_DEPTH_MS: "<I",
             TLV_MAX_DATAGRAM: "<I"}

# Payload fill pattern: u16 LE counter 0..32767 repeating every 65,536 bytes.
# Two periods so that any slice [off, off+65481) with off < 65536 is available.
PATTERN_PERIOD = 65536
PATTERN = struct.pack("<32768H", *range(32768)) * 2

# --------------------------------------------------------------------------------------
# Mutants: each breaks exactly one statement of the document (see README.md)
# --------------------------------------------------------------------------------------
MUTANTS = {
    # responder side
    "seq-start-0": ("responder", "Wire facts: sequence numbers start at 1; 0 is never data"),
    "seq-big-endian": ("responder", "Wire facts: all integers little-endian (SequenceNumber written big-endian)"),
    "connid-no-nul": ("responder", "Wire facts: CONNECTION_ID is 39 bytes, 36 chars + NUL (sent as 38, no NUL)"),
    "pattern-continues": ("responder", "Wire facts: every datagram's payload equals pattern[0..len-26], even for later fragments"),
    "frag-no-shorten": ("responder", "Frames: remainder 1..26 -> shorten the previous datagram so the last is 27 bytes"),
    "frame-excl-header": ("responder", "Frames: F includes the 26-byte header of every datagram of the frame"),
    "connid-repeat": ("responder", "Legacy: CONNECTION_ID sent once, never repeated"),
    "dup-start-restarts": ("responder", "Legacy: a START from a tuple with a live session is ignored"),
    "no-pacing": ("responder", "Frames are sent at base + k*1000/FrameRate ms"),
    "synack-fresh-id": ("responder", "D3: a repeated SYN while pending gets the same SYN-ACK"),
    "media-before-ack": ("responder", "D6: no media before the ACK (non-optimistic)"),
    "legacy-start-synack": ("responder", "D9: a START is served like legacy, never with a SYN-ACK"),
    "synack-no-resend": ("responder", "D7: responder re-sends the SYN-ACK when no ACK arrives"),
    "accept-bad-version": ("responder", "D4: reject when the version != 1"),
    "limit-ignored": ("responder", "D4: reject when at the session limit"),
    # initiator side
    "start-nul": ("initiator", "Wire facts: START is exactly 5 bytes, no NUL"),
    "start-backoff": ("initiator", "Legacy: START re-sent at a fixed interval, no backoff"),
    "start-stop-on-connid": ("initiator", "Legacy: CONNECTION_ID does not stop the START re-sends"),
    "resend-no-500": ("initiator", "Legacy: re-send interval is trunc(1000/FrameRate)+500 ms"),
    "syn-with-start": ("initiator", "D1: the initiator opens with SYN (no START)"),
    "syn-fixed-interval": ("initiator", "D2: SYN retransmission timeout doubles (500, 1000, 2000)"),
    "ack-zero-id": ("initiator", "D5: the ACK echoes the AssignedConnectionId"),
    "no-ack-repeat": ("initiator", "D5: answer every repeated SYN-ACK with another ACK"),
    "udppush-resend-start": ("initiator", "udp_push: a SYN replaces START on every re-send tick"),
    "push-periodic-start": ("initiator", "bidirectional push: START at connect and at most once more, no periodic re-sends"),
}


class Terminated(Exception):
    pass


def log(msg):
    if not QUIET:
        sys.stderr.write("[%.3f] %s\n" % (time.monotonic(), msg))
        sys.stderr.flush()


QUIET = False

# --------------------------------------------------------------------------------------
# Pure wire helpers
# --------------------------------------------------------------------------------------


def frame_size(bps, frame_rate):
    """F = floor((BitsPerSecond/8)/FrameRate) bytes, headers included."""
    return bps // (8 * frame_rate)


def split_frame(F, M):
    """Datagram sizes of one frame (as coded): chunks of M; a remainder of 1..26 makes the
    previous datagram shorter so that the last one is exactly 27 bytes."""
    if F <= M:
        return [F]
    n_full, r = divmod(F, M)
    sizes = [M] * n_full
    if r == 0:
        return sizes
    if r < MIN_DATAGRAM:
        sizes[-1] = M + r - MIN_DATAGRAM
        sizes.append(MIN_DATAGRAM)
    else:
        sizes.append(r)
    return sizes


def count_datagrams(F, M):
    if F <= M:
        return 1
    n_full, r = divmod(F, M)
    return n_full + (1 if r else 0)


def frame_plan(F, M, mutants=()):
    """List of (datagram size, payload pattern offset) for one frame."""
    if "frame-excl-header" in mutants:
        sizes = []
        remaining = F
        chunk = M - HEADER_LEN
        while remaining > 0:
            c = min(chunk, remaining)
            sizes.append(c + HEADER_LEN)
            remaining -= c
    elif "frag-no-shorten" in mutants and F > M:
        n_full, r = divmod(F, M)
        sizes = [M] * n_full
        if 1 <= r < MIN_DATAGRAM:
            sizes.append(MIN_DATAGRAM)
        elif r:
            sizes.append(r)
    else:
        sizes = split_frame(F, M)
    plan = []
    off = 0
    for s in sizes:
        plan.append((s, (off % PATTERN_PERIOD) if "pattern-continues" in mutants else 0))
        off += s - HEADER_LEN
    return plan


def pattern(n, off=0):
    return PATTERN[off:off + n]


def build_header(flag, seq, qpc, qpf, seq_big_endian=False):
    if seq_big_endian:
        return struct.pack("<H", flag) + struct.pack(">Q", seq) + struct.pack("<QQ", qpc, qpf)
    return struct.pack("<HQQQ", flag, seq, qpc, qpf)


def build_data(seq, size, qpc, qpf=QPF, pattern_off=0, seq_big_endian=False):
    return build_header(FLAG_DATA, seq, qpc, qpf, seq_big_endian) + pattern(size - HEADER_LEN, pattern_off)


def build_connid(id37, no_nul=False):
    if no_nul:
        return struct.pack("<H", FLAG_CONNID) + id37[:36]
    return struct.pack("<H", FLAG_CONNID) + id37


def build_control(flag, id37, accept=False, options=b"", version=PROTOCOL_VERSION):
    flags = 1 if accept else 0
    return (build_header(flag, 0, 0, 0) + struct.pack("<BBH", version, flags, 0) + id37 + options)


def build_syn(desired=ZERO_ID, options=b"", version=PROTOCOL_VERSION):
    return build_control(FLAG_SYN, desired, False, options, version)


def build_synack(id37, accept, options=b""):
    return build_control(FLAG_SYNACK, id37, accept, options)


def build_ack(id37, options=b""):
    return build_control(FLAG_ACK, id37, False, options)


def make_id37(text):
    """36 ASCII chars + NUL (longer text truncated, shorter NUL-padded)."""
    raw = text.encode("ascii", "replace")[:36]
    return raw + b"\x00" * (ID_LEN - len(raw))


def new_connection_id():
    return make_id37(str(uuid.uuid4()).lower())


def id_text(id37):
    return id37.split(b"\x00", 1)[0].decode("ascii", "replace")


def encode_tlv(t, value):
    return struct.pack("<BH", t, len(value)) + value


def encode_options(opts):
    """opts: list of (type, python value)."""
    out = b""
    for t, v in opts:
        if t in TLV_FIXED:
            out += encode_tlv(t, struct.pack(TLV_FIXED[t], v))
        elif isinstance(v, str):
            out += encode_tlv(t, v.encode("ascii", "replace"))
        else:
            out += encode_tlv(t, bytes(v))
    return out


def parse_tlvs(buf):
    """D14: type u8, length u16 LE, value. Raises ValueError when a TLV runs past the end."""
    out = []
    i = 0
    n = len(buf)
    while i < n:
        if i + 3 > n:
            raise ValueError("truncated TLV header")
        t = buf[i]
        ln = struct.unpack_from("<H", buf, i + 1)[0]
        if i + 3 + ln > n:
            raise ValueError("TLV runs past the end")
        out.append((t, bytes(buf[i + 3:i + 3 + ln])))
        i += 3 + ln
    return out


def decode_known_tlvs(tlvs):
    """Known types with the right size -> dict type->value; unknown types skipped (D14);
    a known fixed-size type with the wrong length is skipped too (our choice)."""
    res = {}
    for t, v in tlvs:
        if t in TLV_FIXED:
            fmt = TLV_FIXED[t]
            if len(v) == struct.calcsize(fmt):
                res[t] = struct.unpack(fmt, v)[0]
        elif t == TLV_CODEC_HINT:
            res[t] = v.decode("ascii", "replace")
    return res


def classify(data):
    """Check order of the 3-way spec §8. Returns a kind string:
    too_short, connid, short_connid, data, frag, syn, synack, ack, short_header,
    short_control, unknown_flag."""
    n = len(data)
    if n < 2:
        return "too_short"
    flag = data[0] | (data[1] << 8)
    if flag == FLAG_CONNID:
        return "connid" if n >= CONNID_LEN else "short_connid"
    if flag in HEADERED_FLAGS:
        if n < HEADER_LEN:
            return "short_header"
        if flag == FLAG_DATA:
            return "data"
        if flag == FLAG_FRAG:
            return "frag" if n >= FRAG_HEADER_LEN else "short_header"
        if n < CONTROL_LEN:
            return "short_control"
        return {FLAG_SYN: "syn", FLAG_SYNACK: "synack", FLAG_ACK: "ack"}[flag]
    return "unknown_flag"


def parse_control(data):
    """-> (version, flags, id37, options bytes)"""
    return data[26], data[27], bytes(data[30:67]), bytes(data[67:])


# --------------------------------------------------------------------------------------
# Stream parameters
# --------------------------------------------------------------------------------------


class StreamParams:
    def __init__(self, bps, frame_rate, stream_length, buffer_depth, datagram_size):
        self.bps = int(bps)
        self.fr = int(frame_rate)
        self.length_s = float(stream_length)
        self.depth_s = float(buffer_depth)
        self.M = int(datagram_size)
        self.recompute()

    def recompute(self):
        self.F = frame_size(self.bps, self.fr) if self.fr > 0 else 0
        self.N = int(self.length_s * self.fr + 1e-9)
        self.IBF = max(1, min(self.N, int(self.depth_s * self.fr + 1e-9)))
        self.interval = 1.0 / self.fr if self.fr > 0 else 1.0
        # legacy re-send timer: trunc(1000/FrameRate)+500 ms
        self.resend_ms = (1000 // self.fr) + 500 if self.fr > 0 else 1500

    def copy(self):
        return StreamParams(self.bps, self.fr, self.length_s, self.depth_s, self.M)

    def validate(self):
        if self.fr < 1:
            return "frame rate must be >= 1"
        if self.bps < 1:
            return "bits per second must be >= 1"
        if not (MIN_DATAGRAM <= self.M <= MAX_DATAGRAM):
            return "datagram byte size must be in %d..%d" % (MIN_DATAGRAM, MAX_DATAGRAM)
        if self.F < MIN_FRAME:
            return "frame size floor((bps/8)/frameRate) = %d < %d" % (self.F, MIN_FRAME)
        if self.N < 1:
            return "stream length x frame rate must give at least one frame"
        if self.depth_s <= 0:
            return "buffer depth must be > 0"
        if self.F > self.M:
            n_full, r = divmod(self.F, self.M)
            if 1 <= r < MIN_DATAGRAM and self.M + r - MIN_DATAGRAM < MIN_DATAGRAM:
                return "datagram byte size too small for this frame size"
        return None

    def describe(self):
        return ("bps=%d fr=%d F=%d M=%d N=%d IBF=%d datagrams/frame=%d"
                % (self.bps, self.fr, self.F, self.M, self.N, self.IBF, count_datagrams(self.F, self.M)))


# --------------------------------------------------------------------------------------
# Event loop (single thread, one socket, heap of timers)
# --------------------------------------------------------------------------------------


class Timer:
    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when, fn, args):
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class Loop:
    def __init__(self, sock):
        self.sock = sock
        self.heap = []
        self.n = 0
        self.stopped = False

    def at(self, when, fn, *args):
        t = Timer(when, fn, args)
        heapq.heappush(self.heap, (when, self.n, t))
        self.n += 1
        return t

    def now(self):
        return time.monotonic()

    def run(self, on_datagram):
        sock = self.sock
        while not self.stopped:
            now = time.monotonic()
            while self.heap and not self.stopped:
                when, _, t = self.heap[0]
                if t.cancelled:
                    heapq.heappop(self.heap)
                    continue
                if when > now:
                    break
                heapq.heappop(self.heap)
                t.fn(*t.args)
                now = time.monotonic()
            if self.stopped:
                break
            timeout = 0.5
            if self.heap:
                timeout = min(timeout, max(0.0, self.heap[0][0] - time.monotonic()))
            r, _, _ = select.select([sock], [], [], timeout)
            if not r:
                continue
            for _ in range(2000):
                try:
                    data, addr = sock.recvfrom(65536, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    # e.g. ICMP-induced errors; nothing to do for UDP
                    break
                on_datagram(data, addr, time.monotonic())
                if self.stopped:
                    break


def safe_sendto(sock, data, addr):
    try:
        sock.sendto(data, addr)
        return True
    except OSError as e:
        log("sendto %s failed: %s" % (addr, e))
        return False


# --------------------------------------------------------------------------------------
# Media sender (responder in pull, initiator in push)
# --------------------------------------------------------------------------------------


class Sender:
    def __init__(self, loop, sock, addr, params, mutants, on_done, before_frame=None):
        self.loop = loop
        self.sock = sock
        self.addr = addr
        self.p = params
        self.mutants = mutants
        self.on_done = on_done
        self.before_frame = before_frame
        self.plan = frame_plan(params.F, params.M, mutants)
        self.k = 0
        self.timer = None
        self.stopped = False
        self.last_qpc = 0
        self.sent_datagrams = 0

    def start(self, base):
        self.base = base
        self._schedule()

    def stop(self):
        self.stopped = True
        if self.timer:
            self.timer.cancel()

    def _schedule(self):
        if "no-pacing" in self.mutants:
            when = self.base
        else:
            when = self.base + self.k * self.p.interval   # frame k+1 at base + k*1000/FrameRate ms
        self.timer = self.loop.at(when, self._send_frame)

    def _qpc(self):
        q = time.perf_counter_ns() // 100
        if q <= self.last_qpc:
            q = self.last_qpc + 1
        self.last_qpc = q
        return q

    def _send_frame(self):
        if self.stopped:
            return
        self.k += 1
        seq = self.k - 1 if "seq-start-0" in self.mutants else self.k
        if self.before_frame:
            self.before_frame()
        be = "seq-big-endian" in self.mutants
        for size, off in self.plan:
            dg = build_data(seq, size, self._qpc(), QPF, off, be)
            safe_sendto(self.sock, dg, self.addr)
            self.sent_datagrams += 1
        if self.k >= self.p.N:
            self.stopped = True
            self.on_done()
        else:
            self._schedule()


# --------------------------------------------------------------------------------------
# Media receiver with ctsTraffic frame accounting
# --------------------------------------------------------------------------------------


class FrameAcc:
    __slots__ = ("sum", "cnt", "first", "expired")

    def __init__(self, now):
        self.sum = 0
        self.cnt = Counter()
        self.first = now
        self.expired = False


class Receiver:
    """Frame accounting at playout deadlines.

    strict=True  : legacy receive rules (payload mismatch fails the stream, byte sum per
                   sequence number without dedup, so > F is a 'duplicate' frame).
    strict=False : 3way rules (D11 drop-and-count, D12 reassembly limits, D13 dedup).
    """

    def __init__(self, loop, params, strict, verify, base, on_done, counters,
                 success_on_final=False, limits=None):
        self.loop = loop
        self.p = params
        self.strict = strict
        self.verify = verify
        self.base = base
        self.on_done = on_done
        self.counters = counters
        self.success_on_final = success_on_final
        lim = limits or {}
        self.frame_limit = lim.get("frame", 16 * 1024 * 1024)
        self.total_limit = lim.get("total", 64 * 1024 * 1024)
        self.reasm_timeout = lim.get("timeout", 5.0)
        self.head = 1
        self.frames = {}
        self.buffered = 0
        self.successful = 0
        self.dropped = 0
        self.duplicate = 0
        self.error_frames = 0
        self.got_data = False
        self.done = False
        self.result = None
        self.reason = ""
        self.expected = Counter(split_frame(params.F, params.M))
        self.window = 2 * params.IBF
        self.timer = loop.at(self._render_time(1), self._render)

    def _render_time(self, seq):
        # first render at base + IBF frames; frame s at base + (IBF + s - 1) frames
        return self.base + (self.p.IBF + seq - 1) * self.p.interval

    def stop(self):
        self.done = True
        if self.timer:
            self.timer.cancel()

    def _finish(self, code, reason):
        if self.done:
            return
        self.done = True
        self.result = code
        self.reason = reason
        if self.timer:
            self.timer.cancel()
        self.on_done(code, reason)

    def stats(self):
        return {"frames": self.p.N, "frame_bytes": self.p.F, "successful": self.successful,
                "dropped": self.dropped, "duplicate": self.duplicate,
                "error_frames": self.error_frames, "rendered": self.head - 1}

    def on_data(self, data, now):
        if self.done:
            return
        n = len(data)
        if self.verify and data[HEADER_LEN:] != PATTERN[:n - HEADER_LEN]:
            if self.strict:
                self._finish(EXIT_MALFORMED, "payload mismatch")
                return
            self.counters["payload_mismatch"] += 1
            return
        seq = struct.unpack_from("<Q", data, 2)[0]
        self.got_data = True
        p = self.p
        if seq == 0 or seq < self.head:
            self.error_frames += 1          # stale (or 0, never data)
        elif seq > p.N:
            self.error_frames += 1          # beyond last
        elif seq >= self.head + self.window:
            self.error_frames += 1          # future
        else:
            fa = self.frames.get(seq)
            if fa is None:
                fa = self.frames[seq] = FrameAcc(now)
            if self.strict:
                fa.sum += n
            else:
                self._add_dedup(fa, n)
        if self.success_on_final and seq == p.N:
            # bidirectional branch: success as soon as the final frame's datagram arrives
            self._finish(EXIT_OK, "final frame arrived")

    def _add_dedup(self, fa, n):
        if fa.expired:
            self.counters["reassembly_timed_out_datagram"] += 1
            return
        exp = self.expected.get(n, 0)
        if exp:
            if fa.cnt[n] >= exp:
                self.counters["duplicate_datagram"] += 1     # D13
                return
        elif fa.sum + n > self.p.F:
            self.counters["duplicate_datagram"] += 1         # D13: never overfill a frame
            return
        if fa.sum + n > self.frame_limit:
            self.counters["reassembly_frame_limit"] += 1     # D12
            return
        if self.buffered + n > self.total_limit:
            self.counters["reassembly_total_limit"] += 1     # D12
            return
        fa.sum += n
        fa.cnt[n] += 1
        self.buffered += n

    def _purge(self, now):
        for seq, fa in self.frames.items():
            if not fa.expired and fa.sum < self.p.F and now - fa.first > self.reasm_timeout:
                fa.expired = True                            # D12 5000 ms reassembly timeout
                self.buffered -= fa.sum
                fa.sum = 0
                self.counters["reassembly_timeout"] += 1

    def _render(self):
        if self.done:
            return
        p = self.p
        if self.head == 1 and not self.got_data:
            self.dropped = p.N
            self._finish(EXIT_STREAM_FAILED, "nothing arrived by the first render")
            return
        if not self.strict:
            self._purge(time.monotonic())
        fa = self.frames.pop(self.head, None)
        s = fa.sum if fa else 0
        if not self.strict and fa:
            self.buffered -= s
        if s == p.F:
            self.successful += 1
        elif s < p.F:
            self.dropped += 1
        else:
            self.duplicate += 1
        self.head += 1
        if self.head > p.N:
            if self.successful == p.N:
                self._finish(EXIT_OK, "all frames received")
            else:
                self._finish(EXIT_STREAM_FAILED, "stream incomplete")
            return
        self.timer = self.loop.at(self._render_time(self.head), self._render)


# --------------------------------------------------------------------------------------
# Initiator
# --------------------------------------------------------------------------------------


class Initiator:
    def __init__(self, cfg, sock, target):
        self.cfg = cfg
        self.sock = sock
        self.target = target
        self.loop = Loop(sock)
        self.mut = set(cfg.mutants)
        self.p = cfg.params.copy()
        self.counters = Counter()
        self.exit_code = None
        self.reason = ""
        self.receiver = None
        self.sender = None
        self.session_id = None
        self.mode = None
        self.first_data = False
        self.resend_timer = None
        self.syn_timer = None
        self.got_synack = False
        self.connid_seen = None
        self.sent = Counter()

    # ---- plumbing
    def send(self, data, what):
        self.sent[what] += 1
        safe_sendto(self.sock, data, self.target)

    def start_bytes(self):
        return START + b"\x00" if "start-nul" in self.mut else START

    def finish(self, code, reason):
        if self.exit_code is not None:
            return
        self.exit_code = code
        self.reason = reason
        self.loop.stopped = True

    def run(self):
        now = time.monotonic()
        prof, direction = self.cfg.profile, self.cfg.direction
        if direction == "push":
            self.start_push(now)
        elif prof == "3way":
            self.start_3way(now)
        else:
            self.start_legacy(now, "udp_push" if prof == "udp_push" else "legacy")
        try:
            self.loop.run(self.on_datagram)
        except Terminated:
            self.finish(EXIT_SIGNAL, "terminated by signal")
        return self.exit_code

    def summary(self):
        d = {"result": "success" if self.exit_code == EXIT_OK else "failure",
             "exit_code": self.exit_code, "reason": self.reason, "role": "initiator",
             "profile": self.cfg.profile, "direction": self.cfg.direction, "mode": self.mode,
             "connection_id": id_text(self.session_id) if self.session_id else None,
             "sent": dict(self.sent), "dropped_datagrams": dict(self.counters)}
        if self.receiver:
            d.update(self.receiver.stats())
        if self.sender:
            d["frames_sent"] = self.sender.k
            d["datagrams_sent"] = self.sender.sent_datagrams
        return d

    # ---- legacy / udp_push pull initiator
    def start_legacy(self, now, mode):
        self.mode = mode
        self.first_data = False
        self.send(self.start_bytes(), "START")
        self.resend_interval = (self.cfg.resend_ms if self.cfg.resend_ms else self.p.resend_ms) / 1000.0
        if "resend-no-500" in self.mut:
            self.resend_interval = (1000 // self.p.fr) / 1000.0
        self.receiver = Receiver(self.loop, self.p, True, self.cfg.verify_data, now,
                                 self.on_receiver_done, self.counters)
        self.resend_due = now + self.resend_interval
        self.resend_timer = self.loop.at(self.resend_due, self.on_resend)

    def on_resend(self):
        if self.first_data or self.exit_code is not None:
            return
        if self.mode == "udp_push" and "udppush-resend-start" not in self.mut:
            self.send(build_syn(ZERO_ID), "SYN")
        else:
            self.send(self.start_bytes(), "START")
        if "start-backoff" in self.mut:
            self.resend_interval *= 2
        self.resend_due += self.resend_interval       # fixed interval, no backoff, no cap
        self.resend_timer = self.loop.at(self.resend_due, self.on_resend)

    def on_receiver_done(self, code, reason):
        self.finish(code, reason)

    def on_datagram(self, data, addr, now):
        if self.exit_code is not None:
            return
        if addr[:2] != self.target[:2]:
            self.counters["unknown_tuple"] += 1
            return
        if self.mode in ("legacy", "udp_push"):
            self.on_legacy_datagram(data, now)
        elif self.mode == "3way":
            self.on_3way_datagram(data, now)
        elif self.mode == "push":
            self.on_push_datagram(data, now)

    def on_legacy_datagram(self, data, now):
        kind = classify(data)
        if kind == "connid":
            self.connid_seen = bytes(data[2:CONNID_LEN])
            if self.session_id is None or self.session_id != self.connid_seen:
                self.session_id = self.connid_seen
                log("initiator: CONNECTION_ID %s" % id_text(self.session_id))
            if "start-stop-on-connid" in self.mut and self.resend_timer:
                self.resend_timer.cancel()
            return
        if kind == "data":
            if not self.first_data:
                self.first_data = True
                if self.resend_timer:
                    self.resend_timer.cancel()
            self.receiver.on_data(data, now)
            return
        # ANY malformed datagram fails the whole stream (legacy as coded)
        flag = "0x%04x" % (data[0] | data[1] << 8) if len(data) >= 2 else "-"
        self.finish(EXIT_MALFORMED, "malformed datagram (%s, %d bytes, flag %s)" % (kind, len(data), flag))

    # ---- 3way initiator
    def start_3way(self, now):
        self.mode = "3way"
        cfg = self.cfg
        opts = []
        if cfg.syn_options:
            opts = [(TLV_FRAME_RATE, self.p.fr), (TLV_BITS_PER_SECOND, self.p.bps),
                    (TLV_BUFFER_DEPTH_MS, int(round(self.p.depth_s * 1000)))]
            if cfg.codec_hint is not None:
                opts.append((TLV_CODEC_HINT, cfg.codec_hint))
            opts.append((TLV_MAX_DATAGRAM, self.p.M))
        elif cfg.codec_hint is not None:
            opts = [(TLV_CODEC_HINT, cfg.codec_hint)]
        desired = make_id37(cfg.desired_id) if cfg.desired_id else ZERO_ID   # D1
        self.syn_bytes = build_syn(desired, encode_options(opts))
        if "syn-with-start" in self.mut:
            self.send(START, "START")
        self.send(self.syn_bytes, "SYN")                                      # D1
        self.syn_count = 1
        self.syn_wait = cfg.syn_initial_ms / 1000.0
        self.syn_due = now + self.syn_wait
        self.syn_timer = self.loop.at(self.syn_due, self.on_syn_timer)

    def on_syn_timer(self):
        if self.session_id is not None or self.exit_code is not None or self.mode != "3way":
            return
        cfg = self.cfg
        if self.syn_count < cfg.syn_max:                                      # D2
            self.send(self.syn_bytes, "SYN")
            self.syn_count += 1
            if "syn-fixed-interval" not in self.mut:
                self.syn_wait = min(self.syn_wait * 2, cfg.syn_cap_ms / 1000.0)
            self.syn_due += self.syn_wait
            self.syn_timer = self.loop.at(self.syn_due, self.on_syn_timer)
            return
        if cfg.fallback:                                                      # D10
            log("initiator: no SYN-ACK after %d SYNs, falling back to legacy START" % self.syn_count)
            self.start_legacy(time.monotonic(), "legacy")
        else:
            self.finish(EXIT_NO_HANDSHAKE, "no SYN-ACK after %d SYNs" % self.syn_count)

    def adopt(self, id37, now, via):
        self.session_id = id37
        if self.syn_timer:
            self.syn_timer.cancel()
        # D12: dedup/reassembly state flushed when a handshake completes (new receiver)
        if self.receiver:
            self.receiver.stop()
        self.receiver = Receiver(self.loop, self.p, False, self.cfg.verify_data, now,
                                 self.on_receiver_done, self.counters,
                                 limits=self.cfg.reasm_limits)
        log("initiator: session %s established via %s (%s)" % (id_text(id37), via, self.p.describe()))

    def apply_synack_options(self, opts):
        known = decode_known_tlvs(opts)
        if not known:
            return
        p = self.p.copy()
        if TLV_FRAME_RATE in known:
            p.fr = known[TLV_FRAME_RATE]
        if TLV_BITS_PER_SECOND in known:
            p.bps = known[TLV_BITS_PER_SECOND]
        if TLV_BUFFER_DEPTH_MS in known:
            p.depth_s = known[TLV_BUFFER_DEPTH_MS] / 1000.0
        if TLV_MAX_DATAGRAM in known:
            p.M = known[TLV_MAX_DATAGRAM]
        p.recompute()
        if p.validate() is None:
            self.p = p
        else:
            self.counters["bad_accepted_options"] += 1

    def on_3way_datagram(self, data, now):
        kind = classify(data)
        if kind == "synack":
            version, flags, id37, optbytes = parse_control(data)
            if version != PROTOCOL_VERSION:
                self.counters["bad_version"] += 1                            # D11
                return
            try:
                opts = parse_tlvs(optbytes)
            except ValueError:
                self.counters["bad_tlv"] += 1                                # D14 / D11
                return
            accept = bool(flags & 1)
            if not accept:
                if self.session_id is None and not self.got_synack:
                    reason = id_text(id37) if id37.strip(b"\x00") else "(no reason given)"
                    self.finish(EXIT_REJECTED, "rejected by responder: %s" % reason)   # D5
                else:
                    self.counters["unexpected_control"] += 1
                return
            if self.session_id is None:
                self.got_synack = True
                self.apply_synack_options(opts)
                self.adopt(id37, now, "SYN-ACK")
                self.send_ack(id37)                                          # D5
            elif id37 == self.session_id:
                if not self.got_synack:
                    self.got_synack = True
                    self.send_ack(id37)      # session first known from CONNECTION_ID (D8)
                elif "no-ack-repeat" not in self.mut:
                    self.send_ack(id37)      # D5: every repeated SYN-ACK gets another ACK
            else:
                self.counters["unexpected_control"] += 1
            return
        if kind == "connid":
            id37 = bytes(data[2:CONNID_LEN])
            if self.session_id is None:
                self.adopt(id37, now, "CONNECTION_ID")                       # D8
            elif id37 != self.session_id:
                self.counters["connid_mismatch"] += 1
            return
        if kind == "data":
            if self.session_id is None or self.receiver is None:
                self.counters["media_before_session"] += 1                   # D8
                return
            self.receiver.on_data(data, now)
            return
        if kind in ("syn", "ack"):
            self.counters["unexpected_control"] += 1                         # D11
        elif kind == "frag":
            self.counters["frag_unsupported"] += 1
        else:
            self.counters[kind] += 1                                          # D11

    def send_ack(self, id37):
        self.send(build_ack(ZERO_ID if "ack-zero-id" in self.mut else id37), "ACK")

    # ---- push (bidirectional branch): the initiator is the media sender
    def start_push(self, now):
        self.mode = "push"
        self.t0 = now
        self.send(self.start_bytes(), "START")
        self.resend_interval = (self.cfg.resend_ms if self.cfg.resend_ms else self.p.resend_ms) / 1000.0
        self.resend_timer = self.loop.at(now + self.resend_interval, self.on_push_resend)
        self.push_timeout = self.loop.at(now + self.cfg.push_connect_timeout_ms / 1000.0,
                                         self.on_push_timeout)

    def on_push_resend(self):
        if self.exit_code is not None:
            return
        if "push-periodic-start" in self.mut:
            self.send(self.start_bytes(), "START")
            self.resend_timer = self.loop.at(time.monotonic() + self.resend_interval, self.on_push_resend)
            return
        if self.session_id is None:
            self.send(self.start_bytes(), "START")    # at most once more, no periodic re-sends

    def on_push_timeout(self):
        if self.session_id is None:
            self.finish(EXIT_NO_HANDSHAKE, "no CONNECTION_ID from the server")

    def on_push_datagram(self, data, now):
        kind = classify(data)
        if kind == "connid":
            if self.session_id is None:
                self.session_id = bytes(data[2:CONNID_LEN])
                self.push_timeout.cancel()
                log("initiator(push): CONNECTION_ID %s, streaming %s" % (id_text(self.session_id), self.p.describe()))
                self.sender = Sender(self.loop, self.sock, self.target, self.p, self.mut, self.on_push_done)
                self.sender.start(now)
            return
        self.counters["ignored_" + kind] += 1

    def on_push_done(self):
        self.finish(EXIT_OK, "all frames sent")


# --------------------------------------------------------------------------------------
# Responder
# --------------------------------------------------------------------------------------


class Session:
    def __init__(self, kind, addr, id37):
        self.kind = kind          # legacy | pending | streaming | push_rx
        self.addr = addr
        self.id = id37
        self.sender = None
        self.receiver = None
        self.synack = None
        self.synack_timer = None
        self.synack_sends = 0
        self.acked = False
        self.params = None
        self.ended = False


class Responder:
    def __init__(self, cfg, sock):
        self.cfg = cfg
        self.sock = sock
        self.loop = Loop(sock)
        self.mut = set(cfg.mutants)
        self.sessions = {}
        self.counters = Counter()
        self.served = 0

    def run(self):
        try:
            self.loop.run(self.on_datagram)
        except Terminated:
            pass
        for s in list(self.sessions.values()):
            self.end_session(s, "responder terminated")
        log("responder: exiting; sessions served=%d counters=%s" % (self.served, dict(self.counters)))
        return EXIT_OK

    # ---- helpers
    def send(self, data, addr):
        safe_sendto(self.sock, data, addr)

    def at_limit(self):
        lim = self.cfg.session_limit
        return lim > 0 and len(self.sessions) >= lim

    def end_session(self, s, why):
        if s.ended:
            return
        s.ended = True
        if s.sender:
            s.sender.stop()
        if s.receiver:
            s.receiver.stop()
        if s.synack_timer:
            s.synack_timer.cancel()
        if self.sessions.get(s.addr) is s:
            del self.sessions[s.addr]
        log("responder: session %s %s ended: %s" % (id_text(s.id), fmt_addr(s.addr), why))

    def start_media(self, s, params):
        """CONNECTION_ID first (once), then frames 1..N from the listening socket."""
        self.send(build_connid(s.id, "connid-no-nul" in self.mut), s.addr)
        before = None
        if "connid-repeat" in self.mut:
            def before():
                self.send(build_connid(s.id, "connid-no-nul" in self.mut), s.addr)
        s.sender = Sender(self.loop, self.sock, s.addr, params, self.mut,
                          lambda: self.end_session(s, "all %d frames sent" % params.N), before)
        s.sender.start(time.monotonic())
        self.served += 1

    def start_legacy_session(self, addr, announce_synack=False):
        s = Session("legacy", addr, new_connection_id())
        s.params = self.cfg.params
        self.sessions[addr] = s
        log("responder: START from %s -> session %s (%s)" % (fmt_addr(addr), id_text(s.id), s.params.describe()))
        if announce_synack:
            self.send(build_synack(s.id, True), addr)       # mutant legacy-start-synack
        self.start_media(s, s.params)

    # ---- dispatch
    def on_datagram(self, data, addr, now):
        cfg = self.cfg
        if len(data) == 5 and data == START:        # "exactly 5 bytes == START" tested first
            self.on_start(addr, now)
            return
        s = self.sessions.get(addr)
        if cfg.direction == "push":
            if s is not None and s.kind == "push_rx":
                self.on_push_data(s, data, now)
            else:
                self.counters["no_session_datagram"] += 1
            return
        if cfg.profile != "3way":
            self.counters["discarded_non_start"] += 1     # legacy: non-START discarded
            return
        kind = classify(data)
        if kind == "syn":
            self.on_syn(addr, data, now)
        elif kind == "ack":
            self.on_ack(addr, data, now)
        elif kind == "synack":
            self.counters["unexpected_control"] += 1      # D11
        else:
            self.counters[kind] += 1                      # D11: dropped, counted per kind

    def on_start(self, addr, now):
        cfg = self.cfg
        if cfg.profile == "3way" and not cfg.allow_legacy_start:
            self.counters["start_dropped"] += 1           # D9: dropped and counted, no reply
            return
        s = self.sessions.get(addr)
        if cfg.direction == "push":
            if s is not None:
                self.send(build_connid(s.id, "connid-no-nul" in self.mut), addr)
                self.counters["repeated_start"] += 1
                return
            if self.at_limit():
                self.counters["session_limit_start"] += 1
                return
            s = Session("push_rx", addr, new_connection_id())
            self.sessions[addr] = s
            s.receiver = Receiver(self.loop, cfg.params, True, cfg.verify_data, now,
                                  lambda code, reason, s=s: self.on_push_rx_done(s, code, reason),
                                  self.counters, success_on_final=True)
            log("responder(push): START from %s -> receiving session %s (%s)"
                % (fmt_addr(addr), id_text(s.id), cfg.params.describe()))
            self.send(build_connid(s.id, "connid-no-nul" in self.mut), addr)
            self.served += 1
            return
        if s is not None:
            if s.kind == "legacy":
                self.counters["duplicate_start"] += 1       # counted and ignored
                if "dup-start-restarts" in self.mut:
                    self.end_session(s, "restarted by duplicate START (mutant)")
                    self.start_legacy_session(addr)
                return
            self.counters["unexpected_start"] += 1
            return
        if self.at_limit():
            self.counters["session_limit_start"] += 1
            return
        self.start_legacy_session(addr, announce_synack=(cfg.profile == "3way" and
                                                         "legacy-start-synack" in self.mut))

    # ---- push receiver (bidirectional branch)
    def on_push_data(self, s, data, now):
        kind = classify(data)
        if kind == "connid":
            return
        if kind == "data":
            s.receiver.on_data(data, now)
            return
        s.receiver._finish(EXIT_MALFORMED, "malformed datagram (%s, %d bytes)" % (kind, len(data)))

    def on_push_rx_done(self, s, code, reason):
        st = s.receiver.stats()
        log("responder(push): session %s result=%s (%s) %s" % (
            id_text(s.id), "success" if code == EXIT_OK else "failure", reason, json.dumps(st)))
        self.end_session(s, reason)

    # ---- 3way
    def negotiate(self, known):
        """D14: SYN options are requested parameters; accept them when valid."""
        own = self.cfg.params
        p = own.copy()
        if TLV_FRAME_RATE in known:
            p.fr = known[TLV_FRAME_RATE]
        if TLV_BITS_PER_SECOND in known:
            p.bps = known[TLV_BITS_PER_SECOND]
        if TLV_MAX_DATAGRAM in known:
            p.M = known[TLV_MAX_DATAGRAM]
        if TLV_BUFFER_DEPTH_MS in known:
            p.depth_s = max(known[TLV_BUFFER_DEPTH_MS], 1) / 1000.0
        p.recompute()
        if p.validate() is not None:
            p = own.copy()
            if TLV_BUFFER_DEPTH_MS in known:
                p.depth_s = max(known[TLV_BUFFER_DEPTH_MS], 1) / 1000.0
            p.recompute()
        acc = []
        for t in (TLV_FRAME_RATE, TLV_BITS_PER_SECOND, TLV_BUFFER_DEPTH_MS, TLV_CODEC_HINT, TLV_MAX_DATAGRAM):
            if t not in known:
                continue
            if t == TLV_FRAME_RATE:
                acc.append((t, p.fr))
            elif t == TLV_BITS_PER_SECOND:
                acc.append((t, p.bps))
            elif t == TLV_BUFFER_DEPTH_MS:
                acc.append((t, known[t]))
            elif t == TLV_CODEC_HINT:
                acc.append((t, known[t]))
            elif t == TLV_MAX_DATAGRAM:
                acc.append((t, p.M))
        return p, encode_options(acc)

    def reject(self, addr, reason):
        self.send(build_synack(make_id37(reason), False), addr)      # D4: no state kept
        log("responder: rejected SYN from %s: %s" % (fmt_addr(addr), reason))

    def on_syn(self, addr, data, now):
        cfg = self.cfg
        version, flags, desired, optbytes = parse_control(data)
        try:
            opts = parse_tlvs(optbytes)
        except ValueError:
            self.counters["bad_tlv"] += 1                       # D14: invalid, dropped (D11)
            return
        if version != PROTOCOL_VERSION and "accept-bad-version" not in self.mut:
            self.counters["bad_version"] += 1
            self.reject(addr, "unsupported version %d" % version)   # D4
            return
        s = self.sessions.get(addr)
        if s is not None:
            if s.kind in ("pending", "streaming"):
                self.counters["repeated_syn"] += 1
                if "synack-fresh-id" in self.mut and s.kind == "pending":
                    s.id = new_connection_id()
                    s.synack = build_synack(s.id, True, s.synack[CONTROL_LEN:])
                self.send(s.synack, addr)                        # D3: same SYN-ACK (idempotent)
            else:
                self.counters["unexpected_control"] += 1
            return
        if self.at_limit() and "limit-ignored" not in self.mut:
            self.counters["session_limit_syn"] += 1
            self.reject(addr, "session limit reached")           # D4
            return
        params, accepted = self.negotiate(decode_known_tlvs(opts))
        s = Session("pending", addr, new_connection_id())         # D3: fresh lowercase UUID
        s.params = params
        s.synack = build_synack(s.id, True, accepted)
        self.sessions[addr] = s
        log("responder: SYN from %s -> SYN-ACK %s (%s)" % (fmt_addr(addr), id_text(s.id), params.describe()))
        self.send(s.synack, addr)
        s.synack_sends = 1
        s.synack_wait = cfg.synack_initial_ms / 1000.0
        s.synack_due = now + s.synack_wait
        s.synack_timer = self.loop.at(s.synack_due, self.on_synack_timer, s)
        if cfg.optimistic or "media-before-ack" in self.mut:
            s.kind = "streaming"                                 # D8: optimistic start
            self.start_media(s, params)

    def on_synack_timer(self, s):
        cfg = self.cfg
        if s.ended or s.acked:
            return
        if s.synack_sends < cfg.synack_max:                       # D7
            if "synack-no-resend" not in self.mut:
                self.send(s.synack, s.addr)
            s.synack_sends += 1
            s.synack_wait = min(s.synack_wait * 2, cfg.synack_cap_ms / 1000.0)
            s.synack_due += s.synack_wait
            s.synack_timer = self.loop.at(s.synack_due, self.on_synack_timer, s)
            return
        if s.kind == "pending":
            self.counters["pending_dropped"] += 1
            self.end_session(s, "no ACK after %d SYN-ACKs" % s.synack_sends)   # D7

    def on_ack(self, addr, data, now):
        version, flags, id37, optbytes = parse_control(data)
        s = self.sessions.get(addr)
        if s is None or s.kind not in ("pending", "streaming"):
            self.counters["ack_without_session"] += 1            # D7: later ACKs are errors
            return
        if version != PROTOCOL_VERSION:
            self.counters["bad_version"] += 1
            return
        if id37 != s.id:
            self.counters["ack_id_mismatch"] += 1                # D6: validation error, keep waiting
            return
        if s.acked:
            self.counters["duplicate_ack"] += 1
            return
        s.acked = True
        if s.synack_timer:
            s.synack_timer.cancel()
        if s.kind == "pending":
            s.kind = "streaming"                                  # D6: established
            log("responder: ACK from %s -> streaming %s" % (fmt_addr(addr), id_text(s.id)))
            self.start_media(s, s.params)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def fmt_addr(addr):
    host, port = addr[0], addr[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def parse_hostport(text, default_host):
    text = text.strip()
    port = ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text
    if host in ("", "*"):
        host = default_host
    return host, (int(port) if port else DEFAULT_PORT)


def resolve(host, port, passive=False):
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM, 0,
                               socket.AI_PASSIVE if passive else 0)
    infos.sort(key=lambda i: 0 if i[0] == socket.AF_INET else 1)
    fam, _, _, _, sockaddr = infos[0]
    return fam, sockaddr


CTS_ALIASES = {
    "listen": "--listen", "target": "--target", "bitspersecond": "--bits-per-second",
    "framerate": "--frame-rate", "streamlength": "--stream-length", "bufferdepth": "--buffer-depth",
    "datagrambytesize": "--datagram-byte-size", "pattern": "--direction", "verify": "--verify",
    "port": "--port",
}


def translate_cts_args(argv):
    """Accept ctsTraffic-style '-Name:value' arguments as aliases."""
    out = []
    for a in argv:
        if a.startswith("-") and not a.startswith("--") and ":" in a:
            name, _, val = a[1:].partition(":")
            if name.lower() == "protocol" and val.lower() == "udp":
                continue                      # -protocol:udp is implied
            opt = CTS_ALIASES.get(name.lower())
            if opt:
                if opt == "--direction" and val.lower() not in ("push", "pull"):
                    out.append(a)
                    continue
                out.extend([opt, val])
                continue
        out.append(a)
    return out


def build_parser():
    ap = argparse.ArgumentParser(prog="mediastream.py",
                                 description="UDP media-stream protocol (ctsTraffic media stream) initiator/responder")
    ap.add_argument("role", nargs="?", choices=["initiator", "responder"], help="role to play")
    ap.add_argument("--role", dest="role_opt", choices=["initiator", "responder"])
    ap.add_argument("--listen", default=None, help="responder: HOST[:PORT] to bind (default 0.0.0.0:4444)")
    ap.add_argument("--target", default=None, help="initiator: HOST[:PORT] of the responder (port default 4444)")
    ap.add_argument("--port", type=int, default=None, help="override the port of --listen/--target")
    ap.add_argument("--profile", choices=["legacy", "3way", "udp_push"], default="legacy")
    ap.add_argument("--direction", "--pattern", dest="direction", choices=["pull", "push"], default="pull",
                    help="media direction (bidirectional branch); push only with the legacy handshake")
    ap.add_argument("--allow-legacy-start", action="store_true", help="3way responder: serve legacy START (D9)")
    ap.add_argument("--optimistic", action="store_true", help="3way responder: optimistic start (D8)")
    ap.add_argument("--fallback", action="store_true", help="3way initiator: fall back to legacy START (D10)")
    ap.add_argument("--session-limit", type=int, default=0, help="responder: max live sessions, 0 = unlimited (D4)")
    ap.add_argument("--verify", choices=["data", "connection"], default="data",
                    help="data: check the payload fill pattern (default); connection: do not")
    ap.add_argument("--bits-per-second", type=int, default=1_000_000)
    ap.add_argument("--frame-rate", type=int, default=30)
    ap.add_argument("--stream-length", type=float, default=5.0, help="seconds")
    ap.add_argument("--buffer-depth", type=float, default=1.0, help="seconds")
    ap.add_argument("--datagram-byte-size", type=int, default=1400)
    ap.add_argument("--desired-id", default=None, help="3way initiator: DesiredConnectionId (default all zero)")
    ap.add_argument("--syn-options", action="store_true",
                    help="3way initiator: put TLV options 1,2,3,5 (own parameters) in the SYN (D14)")
    ap.add_argument("--codec-hint", default=None, help="3way initiator: TLV 4 codec hint in the SYN")
    ap.add_argument("--resend-ms", type=int, default=0,
                    help="legacy/udp_push/push START re-send interval (default trunc(1000/FrameRate)+500)")
    ap.add_argument("--syn-initial-ms", type=int, default=500)
    ap.add_argument("--syn-cap-ms", type=int, default=2000)
    ap.add_argument("--syn-max", type=int, default=4)
    ap.add_argument("--synack-initial-ms", type=int, default=500)
    ap.add_argument("--synack-cap-ms", type=int, default=2000)
    ap.add_argument("--synack-max", type=int, default=4)
    ap.add_argument("--reassembly-timeout-ms", type=int, default=5000)
    ap.add_argument("--reassembly-frame-limit", type=int, default=16 * 1024 * 1024)
    ap.add_argument("--reassembly-total-limit", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--push-connect-timeout-ms", type=int, default=5000,
                    help="push initiator: give up when no CONNECTION_ID arrived by then")
    ap.add_argument("--mutant", action="append", default=[], help="deliberately wrong variant (see --list-mutants)")
    ap.add_argument("--list-mutants", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="no log lines on stderr")
    return ap


class Config:
    pass


def make_config(args, role):
    cfg = Config()
    cfg.role = role
    cfg.profile = args.profile
    cfg.direction = args.direction
    cfg.allow_legacy_start = args.allow_legacy_start
    cfg.optimistic = args.optimistic
    cfg.fallback = args.fallback
    cfg.session_limit = max(0, args.session_limit)
    cfg.verify_data = args.verify == "data"
    cfg.params = StreamParams(args.bits_per_second, args.frame_rate, args.stream_length,
                              args.buffer_depth, args.datagram_byte_size)
    cfg.desired_id = args.desired_id
    cfg.syn_options = args.syn_options
    cfg.codec_hint = args.codec_hint
    cfg.resend_ms = args.resend_ms
    cfg.syn_initial_ms = args.syn_initial_ms
    cfg.syn_cap_ms = args.syn_cap_ms
    cfg.syn_max = max(1, args.syn_max)
    cfg.synack_initial_ms = args.synack_initial_ms
    cfg.synack_cap_ms = args.synack_cap_ms
    cfg.synack_max = max(1, args.synack_max)
    cfg.reasm_limits = {"timeout": args.reassembly_timeout_ms / 1000.0,
                        "frame": args.reassembly_frame_limit, "total": args.reassembly_total_limit}
    cfg.push_connect_timeout_ms = args.push_connect_timeout_ms
    cfg.mutants = list(args.mutant)
    return cfg


def _on_signal(signum, frame):
    raise Terminated()


def main(argv=None):
    global QUIET
    argv = translate_cts_args(sys.argv[1:] if argv is None else argv)
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code else 0
    if args.list_mutants:
        for name, (role, what) in MUTANTS.items():
            print("%-22s %-10s breaks %s" % (name, role, what))
        return EXIT_OK
    QUIET = args.quiet
    role = args.role or args.role_opt
    if role is None:
        role = "initiator" if args.target else ("responder" if args.listen else None)
    if role is None:
        ap.print_usage(sys.stderr)
        sys.stderr.write("error: a role (initiator|responder) is required\n")
        return EXIT_USAGE
    for m in args.mutant:
        if m not in MUTANTS:
            sys.stderr.write("error: unknown mutant %r (try --list-mutants)\n" % m)
            return EXIT_USAGE
    if args.direction == "push" and args.profile != "legacy":
        sys.stderr.write("unsupported: direction push is only coded with the legacy handshake "
                         "(profile %s + push is not coded anywhere)\n" % args.profile)
        return EXIT_UNSUPPORTED
    cfg = make_config(args, role)
    err = cfg.params.validate()
    if err:
        sys.stderr.write("error: %s\n" % err)
        return EXIT_USAGE
    for m in cfg.mutants:
        if MUTANTS[m][0] != role:
            log("note: mutant %s affects the %s role only" % (m, MUTANTS[m][0]))

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        return run_role(args, cfg, role)
    except Terminated:
        return EXIT_OK if role == "responder" else EXIT_SIGNAL


def run_role(args, cfg, role):
    if role == "responder":
        host, port = parse_hostport(args.listen or "0.0.0.0", "0.0.0.0")
        if args.port is not None:
            port = args.port
        try:
            fam, sockaddr = resolve(host, port, passive=True)
            sock = socket.socket(fam, socket.SOCK_DGRAM)
            tune_socket(sock)
            sock.bind(sockaddr)
        except OSError as e:
            sys.stderr.write("error: cannot bind %s:%s: %s\n" % (host, port, e))
            return EXIT_USAGE
        try:
            bound = sock.getsockname()
            sys.stdout.write("listening on %s\n" % fmt_addr(bound))
            sys.stdout.flush()
            log("responder: profile=%s direction=%s allow_legacy_start=%s optimistic=%s session_limit=%d "
                "mutants=%s %s" % (cfg.profile, cfg.direction, cfg.allow_legacy_start, cfg.optimistic,
                                   cfg.session_limit, cfg.mutants, cfg.params.describe()))
            return Responder(cfg, sock).run()
        except Terminated:
            return EXIT_OK
        finally:
            sock.close()

    if not args.target:
        sys.stderr.write("error: initiator needs --target HOST[:PORT]\n")
        return EXIT_USAGE
    host, port = parse_hostport(args.target, "127.0.0.1")
    if args.port is not None:
        port = args.port
    try:
        fam, target = resolve(host, port)
        sock = socket.socket(fam, socket.SOCK_DGRAM)
        tune_socket(sock)
        sock.bind(("::", 0) if fam == socket.AF_INET6 else ("0.0.0.0", 0))
    except OSError as e:
        sys.stderr.write("error: cannot reach %s:%s: %s\n" % (host, port, e))
        return EXIT_USAGE
    log("initiator: target=%s profile=%s direction=%s fallback=%s mutants=%s %s" % (
        fmt_addr(target), cfg.profile, cfg.direction, cfg.fallback, cfg.mutants, cfg.params.describe()))
    ini = Initiator(cfg, sock, target)
    try:
        code = ini.run()
    except Terminated:
        ini.finish(EXIT_SIGNAL, "terminated by signal")
        code = EXIT_SIGNAL
    finally:
        sock.close()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.stdout.write(json.dumps(ini.summary(), sort_keys=True) + "\n")
    sys.stdout.flush()
    return code


def tune_socket(sock):
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 * 1024 * 1024)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
