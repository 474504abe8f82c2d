#!/usr/bin/env python3
"""Independent implementation of the ctsTraffic UDP media stream (legacy START and 3-way SYN/SYN-ACK/ACK).

Roles:
  responder  (ctsTraffic server side: the media sender)   --listen HOST:PORT
  initiator  (ctsTraffic client side: the media receiver) --target HOST:PORT

See README.md for the option list, the choices made and the citations.
Standard library only.  Loopback only.
"""
import argparse
import os
import random
import select
import signal
import socket
import struct
import sys
import time
import uuid

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 89

# ---- wire constants ---------------------------------------------------------------------------
FLAG_DATA = 0x0000
FLAG_DATA_FRAG = 0x0001
FLAG_SYN = 0x0100
FLAG_SYNACK = 0x0101
FLAG_ACK = 0x0102
FLAG_CID = 0x1000
HEADER_LEN = 26            # flag(2) seq(8) qpc(8) qpf(8)
FRAG_META_LEN = 16
CID_LEN = 37               # 36 char UUID + NUL
CID_DGRAM_LEN = 2 + CID_LEN
CTRL_BODY_LEN = 4 + CID_LEN
CTRL_LEN = HEADER_LEN + CTRL_BODY_LEN  # 67
START_TOKEN = b"START"
CTRL_VERSION = 1
ACCEPT_BIT = 0x01
QPF = 1_000_000_000        # our clock: perf_counter_ns, ticks per second

MUTANTS = {
    "start-lowercase": "initiator, breaks microsoft/ctsTraffic ctsTraffic/ctsMediaStreamProtocol.hpp:54 (how it works): discovery token is 'start' instead of 'START'",
    "start-with-nul": "initiator, breaks 001_03b132d5e807e566.txt:120 (how it works): sends the 6-byte 'START\\0' instead of the exact 5-byte token",
    "start-no-retransmit": "initiator, breaks microsoft/ctsTraffic ctsTraffic/ctsIOPatternMediaStream.cpp:453 (how it works): never re-sends START while nothing has been received",
    "syn-no-header": "initiator, breaks 001_03b132d5e807e566.txt:112 (MUST): SYN control body sent without the 26-byte header",
    "syn-wrong-flag": "initiator, breaks 001_03b132d5e807e566.txt:22 (how it works): SYN carries ProtocolFlag 0x0102 (ACK) instead of 0x0100",
    "no-ack": "initiator, breaks 001_03b132d5e807e566.txt:49 (how it works): never answers SYN-ACK with ACK",
    "ack-wrong-cid": "initiator, breaks Alan-Jowett/ctsTraffic documents/media_streaming_protocol_spec_3way.md:116 (how it works): ACK confirms a freshly made-up connection id instead of the assigned one",
    "cid-wrong-flag": "responder, breaks Alan-Jowett/ctsTraffic documents/media_streaming_protocol_spec_3way.md:125 (how it works): connection-id datagram uses ProtocolFlag 0x0010 instead of 0x1000",
    "cid-short": "responder, breaks Alan-Jowett/ctsTraffic documents/media_streaming_protocol_spec_3way.md:126 (how it works): connection-id datagram carries 36 bytes (no NUL), 38 bytes total",
    "no-cid-first": "responder, breaks microsoft/ctsTraffic ctsTraffic/ctsIOPattern.cpp:1124 (how it works): legacy session starts media without sending the connection-id datagram first",
    "big-endian": "responder, breaks Alan-Jowett/ctsTraffic documents/media_streaming_protocol_spec_3way.md:30 (MUST): header fields of media datagrams written big-endian",
    "seq-from-zero": "responder, breaks microsoft/ctsTraffic ctsTraffic/ctsMediaStreamServerConnectedSocket.h:88 (how it works): first frame carries SequenceNumber 0 instead of 1",
    "seq-per-datagram": "responder, breaks Alan-Jowett/ctsTraffic documents/media_streaming_protocol_spec_3way.md:162 (MUST): every datagram of a frame gets its own SequenceNumber",
    "pattern-shift": "responder, breaks microsoft/ctsTraffic ctsTraffic/ctsIOPattern.cpp:55 (how it works): payload fill pattern starts at 16-bit value 1 instead of 0",
    "oversize-datagram": "responder, breaks microsoft/ctsTraffic ctsTraffic/ctsMediaStreamProtocol.hpp:176 (how it works): ignores the datagram byte size and sends each frame as one datagram",
    "burst": "responder, breaks microsoft/ctsTraffic ctsTraffic/ctsIOPattern.cpp:1143 (how it works): sends every frame at once instead of one frame per 1/FrameRate",
    "dup-start-restarts": "responder, breaks microsoft/ctsTraffic ctsTraffic/ctsMediaStreamServer.cpp:451 (how it works): a repeated START from a streaming tuple restarts a second stream",
    "legacy-start-always": "responder, breaks 001_03b132d5e807e566.txt:120 (how it works): 3-way responder accepts a legacy START without AllowLegacyStart",
    "optimistic-no-cid": "responder, breaks 001_03b132d5e807e566.txt:130 (MUST): optimistic start sends media right after SYN-ACK without the connection-id datagram",
    "synack-version-0": "responder, breaks Alan-Jowett/ctsTraffic documents/media_streaming_protocol_spec_3way.md:93 (how it works): SYN-ACK Version byte is 0 instead of 1",
}


def log(*a):
    print("[mediastream]", *a, file=sys.stderr, flush=True)


def now_ms():
    return time.monotonic() * 1000.0


# ---- stream parameters (ctsConfig MediaStreamSettings::CalculateTransferSize) -----------------
class Params:
    def __init__(self, bps, fps, length_s, depth_s, dgram):
        if bps <= 0 or fps <= 0 or length_s <= 0 or depth_s <= 0:
            raise ValueError("bits-per-second, frame-rate, stream-length and buffer-depth must be > 0")
        bps -= bps % 8
        self.fps = fps
        self.frames = length_s * fps
        total = bps // 8 * length_s
        total -= total % self.frames
        self.frame_size = total // self.frames
        if self.frame_size < 40:
            raise ValueError("frame size %d is below 40 bytes" % self.frame_size)
        self.buffered = min(depth_s * fps, self.frames)
        self.dgram = dgram
        if dgram <= HEADER_LEN:
            raise ValueError("datagram byte size must exceed the 26-byte header")
        self.ms_per_frame = 1000.0 / fps


def split_frame(frame_size, max_dgram):
    """Datagram total lengths (header included) for one frame, as ctsMediaStreamSendRequests does."""
    out = []
    remaining = frame_size
    while remaining > 0:
        total = max_dgram if remaining > max_dgram else remaining
        left = remaining - total
        if 0 < left <= HEADER_LEN:
            total -= HEADER_LEN + 1 - left
        out.append(total)
        remaining -= total
    return out


def _make_pattern(shift=0):
    one = b"".join(((k + shift) & 0xFFFF).to_bytes(2, "little") for k in range(0x8000))  # 65536 bytes
    return one * 2


PATTERN = _make_pattern()


def hdr(flag, seq, qpc, qpf, big=False):
    return struct.pack(">HQQQ" if big else "<HQQQ", flag, seq & 0xFFFFFFFFFFFFFFFF, qpc, qpf)


def ctrl(flag, version, flags, cid):
    return hdr(flag, 0, 0, 0) + bytes([version & 0xFF, flags & 0xFF, 0, 0]) + cid


def new_cid():
    return str(uuid.uuid4()).encode("ascii") + b"\x00"


def parse_addr(s):
    host, _, port = s.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("loopback only (127.0.0.1)")
    return ("127.0.0.1", int(port))


# ---- responder ---------------------------------------------------------------------------------
class Session:
    def __init__(self, addr, cid):
        self.addr = addr
        self.cid = cid
        self.state = "new"          # synack_sent | streaming
        self.acked = False
        self.next_frame = 1
        self.base_ms = 0.0
        self.seq = 0
        self.synack_at = 0.0
        self.synack_tries = 0


class Responder:
    SYNACK_RTO_MS = 300.0
    SYNACK_MAX = 4

    def __init__(self, args, params):
        self.a = args
        self.p = params
        self.m = args.mutant
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.sock.bind(parse_addr(args.listen))
        self.sessions = {}
        self.pattern = _make_pattern(1) if self.m == "pattern-shift" else PATTERN

    def send(self, data, addr):
        try:
            self.sock.sendto(data, addr)
        except OSError as e:
            log("sendto failed", e)

    def send_cid(self, s):
        if self.m == "cid-wrong-flag":
            self.send(struct.pack("<H", 0x0010) + s.cid, s.addr)
        elif self.m == "cid-short":
            self.send(struct.pack("<H", FLAG_CID) + s.cid[:36], s.addr)
        else:
            self.send(struct.pack("<H", FLAG_CID) + s.cid, s.addr)

    def begin_stream(self, s, with_cid=True):
        if with_cid:
            self.send_cid(s)
        s.state = "streaming"
        s.base_ms = now_ms()
        s.next_frame = 1
        s.seq = -1 if self.m == "seq-from-zero" else 0

    def send_frame(self, s, n):
        big = self.m == "big-endian"
        sizes = [self.p.frame_size] if self.m == "oversize-datagram" else split_frame(self.p.frame_size, self.p.dgram)
        s.seq += 1
        for total in sizes:
            qpc = time.perf_counter_ns()
            plen = total - HEADER_LEN
            self.send(hdr(FLAG_DATA, s.seq, qpc, QPF, big) + self.pattern[:plen], s.addr)
            if self.m == "seq-per-datagram":
                s.seq += 1

    def send_synack(self, s, accept=True):
        ver = 0 if self.m == "synack-version-0" else CTRL_VERSION
        self.send(ctrl(FLAG_SYNACK, ver, ACCEPT_BIT if accept else 0, s.cid), s.addr)
        s.synack_at = now_ms()
        s.synack_tries += 1

    def on_datagram(self, data, addr):
        prof = self.a.profile
        s = self.sessions.get(addr)
        if data == START_TOKEN:
            if prof == "3way" and not (self.a.allow_legacy_start or self.m == "legacy-start-always"):
                log("legacy START from", addr, "ignored (AllowLegacyStart off)")
                return
            if s is not None:
                if self.m == "dup-start-restarts" and s.state == "streaming":
                    self.begin_stream(s)
                return  # duplicate START from an active tuple: ignore
            s = Session(addr, new_cid())
            self.sessions[addr] = s
            if self.m == "no-cid-first":
                self.begin_stream(s, with_cid=False)
            else:
                self.begin_stream(s)
            log("legacy session", addr)
            return
        if prof != "3way":
            return  # legacy server only understands the START token
        if len(data) < 2:
            return
        flag = struct.unpack_from("<H", data)[0]
        if flag == FLAG_SYN:
            if len(data) < CTRL_LEN:
                log("short SYN dropped")
                return
            version = data[HEADER_LEN]
            if s is None:
                if version != CTRL_VERSION:
                    # reject: Accept=0 and a zero connection id; no state kept
                    self.send(ctrl(FLAG_SYNACK, CTRL_VERSION, 0, b"\x00" * CID_LEN), addr)
                    return
                s = Session(addr, new_cid())
                s.state = "synack_sent"
                self.sessions[addr] = s
                self.send_synack(s)
                if self.a.optimistic:
                    self.begin_stream(s, with_cid=self.m != "optimistic-no-cid")
                log("SYN from", addr, "-> SYN-ACK", s.cid[:36].decode())
            elif s.state == "synack_sent" or (s.state == "streaming" and not s.acked and s.synack_tries):
                self.send_synack(s)  # SYN-ACK lost: repeat the same assignment
            return
        if flag == FLAG_ACK:
            if len(data) < CTRL_LEN or s is None:
                return
            confirmed = data[HEADER_LEN + 4:HEADER_LEN + 4 + CID_LEN]
            if confirmed != s.cid:
                log("ACK with a non-matching connection id ignored")
                return
            s.acked = True
            if s.state == "synack_sent":
                self.begin_stream(s, with_cid=self.a.cid_after_ack)
                log("ACK from", addr, "-> streaming")
            return
        # anything else: ignored by the responder

    def due(self):
        t = now_ms()
        nxt = t + 200.0
        for addr, s in list(self.sessions.items()):
            if s.state == "synack_sent":
                if t - s.synack_at >= self.SYNACK_RTO_MS:
                    if s.synack_tries > self.SYNACK_MAX:
                        log("no ACK from", addr, "- half-open state dropped")
                        del self.sessions[addr]
                        continue
                    self.send_synack(s)
                nxt = min(nxt, s.synack_at + self.SYNACK_RTO_MS)
            elif s.state == "streaming":
                while s.next_frame <= self.p.frames:
                    when = s.base_ms + (s.next_frame * 1000 // self.p.fps)
                    if self.m != "burst" and when - now_ms() >= 2:
                        nxt = min(nxt, when)
                        break
                    self.send_frame(s, s.next_frame)
                    s.next_frame += 1
                if s.next_frame > self.p.frames:
                    log("stream to", addr, "complete")
                    del self.sessions[addr]
        return max(0.0, (nxt - now_ms()) / 1000.0)

    def run(self):
        host, port = self.sock.getsockname()
        print("listening on %s:%d" % (host, port), flush=True)
        while True:
            timeout = self.due()
            r, _, _ = select.select([self.sock], [], [], min(timeout, 0.1))
            if r:
                for _ in range(64):
                    try:
                        data, addr = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        continue
                    self.on_datagram(data, addr)


# ---- initiator ---------------------------------------------------------------------------------
class Initiator:
    def __init__(self, args, params):
        self.a = args
        self.p = params
        self.m = args.mutant
        self.target = parse_addr(args.target)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.mode = args.profile          # 'legacy' or '3way' (may fall back to legacy)
        self.cid = None                   # connection id in use
        self.established = False          # 3-way: SYN-ACK accepted (or connection-id seen)
        self.window = 2 * max(params.buffered, 1)
        self.head = 1
        self.bytes = {}
        self.anything = False
        self.error = None
        self.stats = dict(ok=0, dropped=0, dup=0, err=0, invalid=0)
        self.desired = new_cid()

    def send(self, data):
        try:
            self.sock.sendto(data, self.target)
        except OSError as e:
            log("sendto failed", e)

    def send_discovery(self):
        if self.mode == "legacy":
            tok = START_TOKEN
            if self.m == "start-lowercase":
                tok = b"start"
            elif self.m == "start-with-nul":
                tok = b"START\x00"
            self.send(tok)
        else:
            body = bytes([CTRL_VERSION, 0, 0, 0]) + self.desired
            flag = FLAG_ACK if self.m == "syn-wrong-flag" else FLAG_SYN
            self.send(body if self.m == "syn-no-header" else hdr(flag, 0, 0, 0) + body)

    def send_ack(self, cid):
        if self.m == "no-ack":
            return
        if self.m == "ack-wrong-cid":
            cid = new_cid()
        self.send(ctrl(FLAG_ACK, CTRL_VERSION, 0, cid))

    def flush(self):
        self.bytes.clear()

    def fail(self, why):
        if self.error is None:
            self.error = why
            log("stream failed:", why)

    def on_datagram(self, data):
        if len(data) < 2:
            if self.mode == "legacy":
                self.fail("datagram shorter than the 2-byte ProtocolFlag")
            else:
                self.stats["invalid"] += 1
            return
        flag = struct.unpack_from("<H", data)[0]
        if flag == FLAG_CID:
            if len(data) < CID_DGRAM_LEN:
                if self.mode == "legacy":
                    self.fail("short connection-id datagram")
                else:
                    self.stats["invalid"] += 1
                return
            cid = data[2:2 + CID_LEN]
            if self.cid is not None and cid != self.cid:
                self.flush()
            self.cid = cid
            self.established = True
            return
        if self.mode == "3way" and flag in (FLAG_SYN, FLAG_SYNACK, FLAG_ACK):
            if flag != FLAG_SYNACK or len(data) < CTRL_LEN:
                self.stats["invalid"] += 1
                return
            version, flags = data[HEADER_LEN], data[HEADER_LEN + 1]
            cid = data[HEADER_LEN + 4:HEADER_LEN + 4 + CID_LEN]
            if version != CTRL_VERSION:
                self.stats["invalid"] += 1
                return
            if not flags & ACCEPT_BIT:
                if not self.anything:
                    self.fail("responder rejected the SYN")
                return
            if self.cid is None or cid == self.cid or not self.anything:
                if cid != self.cid:
                    self.flush()
                self.cid = cid
                self.established = True
                self.send_ack(cid)
            return
        data_flags = (FLAG_DATA, FLAG_DATA_FRAG) if self.mode == "3way" else (FLAG_DATA,)
        if flag in data_flags:
            need = HEADER_LEN + (FRAG_META_LEN if flag == FLAG_DATA_FRAG else 0)
            if len(data) < need:
                if self.mode == "legacy":
                    self.fail("data datagram shorter than the 26-byte header")
                else:
                    self.stats["invalid"] += 1
                return
            if self.mode == "3way" and not self.established:
                self.stats["invalid"] += 1  # media with no session identity yet: dropped
                return
            data = data[:min(self.p.frame_size, self.p.dgram)]  # the receive buffer ctsTraffic posts
            if self.a.verify == "data":
                payload = data[need:]
                if payload != PATTERN[:len(payload)]:
                    self.fail("payload does not match the ctsTraffic fill pattern")
                    return
            seq = struct.unpack_from("<q", data, 2)[0]
            if seq > self.p.frames or not (self.head <= seq < self.head + self.window):
                self.stats["err"] += 1
                return
            self.bytes[seq] = self.bytes.get(seq, 0) + len(data)
            self.anything = True
            return
        if self.mode == "legacy":
            self.fail("unknown ProtocolFlag 0x%04x" % flag)
        else:
            self.stats["invalid"] += 1

    def render(self):
        got = self.bytes.pop(self.head, 0)
        if got == self.p.frame_size:
            self.stats["ok"] += 1
        elif got < self.p.frame_size:
            self.stats["dropped"] += 1
        else:
            self.stats["dup"] += 1
        self.head += 1

    def run(self):
        p = self.p
        t0 = now_ms()
        legacy_rto = int(p.ms_per_frame) + 500
        syn_rto, syn_tries = 250.0, 1
        self.send_discovery()
        next_disc = t0 + (legacy_rto if self.mode == "legacy" else syn_rto)
        k = 1  # next frame to render
        while True:
            if self.error:
                break
            t = now_ms()
            # discovery retransmission
            if self.mode == "legacy":
                if not self.anything and self.head == 1 and t >= next_disc and self.m != "start-no-retransmit":
                    self.send_discovery()
                    next_disc = t + legacy_rto
            elif not self.established and t >= next_disc:
                if syn_tries >= self.a.syn_attempts:
                    if self.a.fallback_legacy:
                        log("no SYN-ACK: falling back to the legacy START")
                        self.mode = "legacy"
                        self.send_discovery()
                        next_disc = t + legacy_rto
                    else:
                        self.fail("no SYN-ACK after %d SYN attempts" % syn_tries)
                        break
                else:
                    self.send_discovery()
                    syn_tries += 1
                    syn_rto *= 2
                    next_disc = t + syn_rto
            # rendering
            render_at = t0 + (p.buffered + k - 1) * p.ms_per_frame
            while t >= render_at and k <= p.frames:
                if k == 1 and not self.anything:
                    self.stats["dropped"] = p.frames
                    self.fail("nothing received from the responder before the buffer period ended")
                    break
                self.render()
                k += 1
                render_at = t0 + (p.buffered + k - 1) * p.ms_per_frame
            if self.error or k > p.frames:
                break
            wake = render_at
            if (self.mode == "legacy" and not self.anything) or (self.mode == "3way" and not self.established):
                wake = min(wake, next_disc)
            timeout = max(0.0, min(wake - now_ms(), 100.0) / 1000.0)
            r, _, _ = select.select([self.sock], [], [], timeout)
            if r:
                for _ in range(256):
                    try:
                        data, _addr = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        continue
                    self.on_datagram(data)
                    if self.error:
                        break
        s = self.stats
        print("frames ok=%d dropped=%d duplicate=%d error=%d invalid=%d cid=%s result=%s" % (
            s["ok"], s["dropped"], s["dup"], s["err"], s["invalid"],
            (self.cid or b"").rstrip(b"\x00").decode("ascii", "replace") or "-",
            "FAIL:" + self.error if self.error else "OK"), flush=True)
        if self.error:
            return EXIT_FAIL
        if self.a.max_dropped is not None and s["dropped"] > self.a.max_dropped:
            return EXIT_FAIL
        return EXIT_OK


# ---- command line ------------------------------------------------------------------------------
def build_parser():
    ap = argparse.ArgumentParser(description="ctsTraffic UDP media stream (independent implementation)")
    ap.add_argument("role", choices=["responder", "initiator", "server", "client"])
    ap.add_argument("--listen", default=None, help="responder: HOST:PORT to bind (port 0 allowed)")
    ap.add_argument("--target", default=None, help="initiator: responder HOST:PORT")
    ap.add_argument("--bits-per-second", "--bitspersecond", type=int, required=True, dest="bps")
    ap.add_argument("--frame-rate", "--framerate", type=int, required=True, dest="fps")
    ap.add_argument("--stream-length", "--streamlength", type=int, required=True, dest="length")
    ap.add_argument("--buffer-depth", "--bufferdepth", type=int, default=1, dest="depth")
    ap.add_argument("--datagram-size", "--datagrambytesize", type=int, default=1400, dest="dgram")
    ap.add_argument("--profile", choices=["legacy", "3way", "udp_push"], default="legacy")
    ap.add_argument("--allow-legacy-start", action="store_true", help="3way responder: also accept the 5-byte START")
    ap.add_argument("--optimistic", action="store_true", help="3way responder: stream right after SYN-ACK")
    ap.add_argument("--cid-after-ack", action="store_true", help="3way responder: send a connection-id datagram after the ACK")
    ap.add_argument("--fallback-legacy", action="store_true", help="3way initiator: fall back to START when SYN gets no answer")
    ap.add_argument("--syn-attempts", type=int, default=5, help="3way initiator: SYN transmissions before giving up")
    ap.add_argument("--verify", choices=["data", "connection", "always", "never"], default="data")
    ap.add_argument("--direction", choices=["pull", "push"], default="pull")
    ap.add_argument("--max-dropped", type=int, default=None, help="initiator: fail when more frames than this were dropped")
    ap.add_argument("--mutant", default=None)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.role = {"server": "responder", "client": "initiator"}.get(args.role, args.role)
    args.verify = {"always": "data", "never": "connection"}.get(args.verify, args.verify)
    if args.mutant is not None and args.mutant not in MUTANTS:
        log("unknown mutant", args.mutant)
        return EXIT_USAGE
    if args.profile == "udp_push" or args.direction == "push":
        log("not supported: profile=%s direction=%s" % (args.profile, args.direction))
        return EXIT_UNSUPPORTED
    if args.allow_legacy_start and args.profile != "3way":
        pass  # meaningless outside 3-way (legacy accepts START anyway)
    try:
        params = Params(args.bps, args.fps, args.length, args.depth, args.dgram)
    except ValueError as e:
        log("invalid parameters:", e)
        return EXIT_USAGE
    if args.role == "responder":
        if not args.listen:
            log("--listen is required")
            return EXIT_USAGE

        def on_term(_sig, _frm):
            os._exit(EXIT_OK)
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        Responder(args, params).run()
        return EXIT_OK
    if not args.target:
        log("--target is required")
        return EXIT_USAGE
    return Initiator(args, params).run()


if __name__ == "__main__":
    sys.exit(main())
