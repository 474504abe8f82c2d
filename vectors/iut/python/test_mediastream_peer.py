"""Self-test of mediastream_peer.py (stdlib unittest only).

Run from /work/main:  python3 -m unittest discover -s vectors/iut/python
The end-to-end groups (interop, mutants) run their subprocesses concurrently in setUpClass so that
the whole suite stays well under a minute on two cores.
"""

import collections
import concurrent.futures
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mediastream_peer as mp  # noqa: E402

PEER = os.path.join(HERE, "mediastream_peer.py")
SHORT = ["--stream-length", "1", "--frame-rate", "50"]  # 50 frames, I = 520 ms


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_responder(args, port=None):
    """Start a responder; returns (proc, port) once it has bound (it logs 'listening on')."""
    for _attempt in range(5):
        p = port or free_port()
        proc = subprocess.Popen([sys.executable, PEER, "responder", "--listen", f"127.0.0.1:{p}"] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stderr.readline()
        if first.startswith("listening on"):
            return proc, p
        proc.kill()
        proc.communicate()
        if port:
            break
    raise RuntimeError(f"responder did not start: {first!r}")


def stop_responder(proc):
    if proc.poll() is None:
        proc.terminate()
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, err


def run_initiator(port, args, timeout=30):
    r = subprocess.run([sys.executable, PEER, "initiator", "--target", f"127.0.0.1:{port}"] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout.strip(), r.stderr


def run_cli(args, timeout=10):
    r = subprocess.run([sys.executable, PEER] + list(args), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def kind_of(d):
    if len(d) == 5 and d == mp.START:
        return "start"
    return mp.classify(d).kind


class Peer:
    """A scripted UDP peer that records what it receives (time relative to its t0)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.t0 = None
        self.log = []  # (t, data, addr)

    def send(self, data, addr):
        if self.t0 is None:
            self.t0 = time.monotonic()
        self.sock.sendto(data, addr)

    def collect(self, duration, on_recv=None, until=None):
        end = time.monotonic() + duration
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                return
            now = time.monotonic()
            if self.t0 is None:
                self.t0 = now
            self.log.append((now - self.t0, data, addr))
            if on_recv:
                on_recv(data, addr)
            if until and until(self.log):
                return

    def kinds(self):
        return [kind_of(d) for _, d, _ in self.log]

    def of_kind(self, k):
        return [(t, d) for t, d, _ in self.log if kind_of(d) == k]

    def close(self):
        self.sock.close()


def syn(version=1, options=b""):
    return mp.encode_control(mp.FLAG_SYN, mp.ZERO_ID, version=version, options=options)


def ack(cid):
    return mp.encode_control(mp.FLAG_ACK, cid)


def synack(cid, accept=True):
    return mp.encode_control(mp.FLAG_SYN_ACK, cid, flags=1 if accept else 0)


def parsed(d):
    return mp.classify(d)


# ------------------------------------------------------------------------------------------------
# 1. encoder / decoder against the byte examples of the facts
# ------------------------------------------------------------------------------------------------
class WireTests(unittest.TestCase):
    def test_fragmentation_examples(self):
        cases = {27: [27], 1399: [1399], 1400: [1400], 1401: [1374, 27], 2800: [1400, 1400],
                 2801: [1400, 1374, 27]}
        for f, sizes in cases.items():
            self.assertEqual(mp.fragment_sizes(f, 1400), sizes, f)
        big = mp.fragment_sizes(123456789, 1400)
        self.assertEqual(len(big), 88184)
        self.assertEqual(sum(big), 123456789)

    def test_fragmentation_invariants(self):
        rnd = random.Random(1)
        for _ in range(3000):
            m = rnd.randint(mp.MIN_DATAGRAM, 9000)
            f = rnd.randint(mp.MIN_FRAME, 50000)
            sizes = mp.fragment_sizes(f, m)
            self.assertEqual(sum(sizes), f)
            self.assertTrue(all(mp.HEADER_LEN <= s <= m for s in sizes), (f, m, sizes))
            if len(sizes) > 1:
                self.assertGreaterEqual(sizes[-1], 27)

    def test_pattern(self):
        self.assertEqual(mp.pattern_bytes(6), bytes.fromhex("000001000200"))
        self.assertEqual(mp.PATTERN[65534:65536], bytes.fromhex("ff7f"))
        self.assertEqual(mp.pattern_bytes(4, 65534), bytes.fromhex("ff7f0000"))
        self.assertEqual(mp.pattern_bytes(70000)[65536:65540], bytes.fromhex("00000100"))

    def test_start_and_connection_id(self):
        self.assertEqual(mp.START, bytes.fromhex("5354415254"))
        self.assertEqual(kind_of(b"START"), "start")
        self.assertEqual(mp.classify(b"START").kind, "unknown_flag")  # 0x5453 without the START test
        self.assertEqual(mp.classify(b"START").flag, 0x5453)
        self.assertEqual(mp.classify(b"start", accept_start=True).kind, "unknown_flag")
        cid = mp.new_id()
        self.assertEqual(len(cid), 37)
        self.assertEqual(cid[-1], 0)
        self.assertEqual(cid[:36].decode(), cid[:36].decode().lower())
        d = mp.encode_connection_id(cid)
        self.assertEqual(len(d), 39)
        self.assertEqual(d[:2], b"\x00\x10")
        p = mp.classify(d + b"trailing")
        self.assertEqual((p.kind, p.cid), ("connection_id", cid))
        self.assertEqual(mp.classify(d[:38]).kind, "short_connection_id")

    def test_data_header(self):
        d = mp.encode_data(7, 0x1122334455667788, b"\x00\x00\x01\x00", qpf=10_000_000)
        self.assertEqual(d[:2], b"\x00\x00")
        self.assertEqual(struct.unpack_from("<Q", d, 2)[0], 7)
        self.assertEqual(struct.unpack_from("<Q", d, 10)[0], 0x1122334455667788)
        self.assertEqual(struct.unpack_from("<Q", d, 18)[0], 10_000_000)
        self.assertTrue(mp.payload_ok(d))
        self.assertFalse(mp.payload_ok(d[:-1] + b"\x09"))
        p = mp.classify(d)
        self.assertEqual((p.kind, p.seq, p.qpc, p.qpf), ("data", 7, 0x1122334455667788, 10_000_000))

    def test_control_frames(self):
        cid = mp.new_id()
        for flag, first2 in ((mp.FLAG_SYN, b"\x00\x01"), (mp.FLAG_SYN_ACK, b"\x01\x01"), (mp.FLAG_ACK, b"\x02\x01")):
            d = mp.encode_control(flag, cid, flags=1 if flag == mp.FLAG_SYN_ACK else 0)
            self.assertEqual(len(d), 67)
            self.assertEqual(d[:2], first2)
            self.assertEqual(d[2:26], bytes(24))
            self.assertEqual(d[26], 1)
            self.assertEqual(d[28:30], b"\x00\x00")
            self.assertEqual(d[30:67], cid)
            p = mp.classify(d)
            self.assertEqual(p.cid, cid)
            self.assertEqual(p.version, 1)
            self.assertEqual(mp.classify(d[:66]).kind, "short_control")
        s = syn()
        self.assertEqual(s, b"\x00\x01" + bytes(24) + b"\x01\x00\x00\x00" + bytes(37))

    def test_check_order(self):
        self.assertEqual(mp.classify(b"").kind, "too_short")
        self.assertEqual(mp.classify(b"\x00").kind, "too_short")
        self.assertEqual(mp.classify(b"\x00\x00" + bytes(23)).kind, "short_header")
        self.assertEqual(mp.classify(b"\x00\x00" + bytes(24)).kind, "data")
        self.assertEqual(mp.classify(b"\x01\x00" + bytes(39)).kind, "short_fragment_header")
        self.assertEqual(mp.classify(b"\x01\x00" + bytes(40)).kind, "data_frag")
        self.assertEqual(mp.classify(b"\x03\x01" + bytes(70)).kind, "unknown_flag")
        self.assertEqual(mp.classify(b"\x00\x20").kind, "unknown_flag")

    def test_tlvs(self):
        opts = mp.encode_stream_options(50, 2_000_000, 750, 1000)
        self.assertEqual(opts[:7], bytes([1, 4, 0, 50, 0, 0, 0]))
        items = mp.parse_tlvs(opts)
        self.assertEqual(mp.known_options(items), {1: 50, 2: 2_000_000, 3: 750, 5: 1000})
        self.assertEqual(mp.parse_tlvs(b""), [])
        self.assertIsNone(mp.parse_tlvs(b"\x01"))
        self.assertIsNone(mp.parse_tlvs(b"\x01\x04\x00\x01"))
        self.assertEqual(mp.parse_tlvs(b"\x09\x00\x00"), [(9, b"")])  # unknown type skipped later
        self.assertEqual(mp.known_options(mp.parse_tlvs(b"\x01\x02\x00\x05\x00")), {})  # wrong length

    def test_params(self):
        p = mp.StreamParams(100, 1_000_000, 1000, 1400, 5)
        self.assertEqual((p.frame_size, p.frames, p.ibf), (1250, 500, 100))
        self.assertAlmostEqual(p.resend_interval, 0.51)
        self.assertAlmostEqual(mp.StreamParams(3, 1_000_000, 1000, 1400, 5).resend_interval, 0.833)
        self.assertTrue(mp.StreamParams(100, 31999, 1000, 1400, 5).problems())  # F = 39


# ------------------------------------------------------------------------------------------------
# 2. fuzz: random datagrams never crash either role
# ------------------------------------------------------------------------------------------------
class FakeSock:
    def __init__(self):
        self.sent = []

    def sendto(self, data, addr):
        self.sent.append((bytes(data), addr))


def templates():
    cid = mp.new_id()
    return [mp.START, mp.encode_connection_id(cid), mp.encode_data(1, 5, mp.pattern_bytes(100)),
            mp.encode_data(3, 5, b"", flag=mp.FLAG_DATA_FRAG) + bytes(16) + mp.pattern_bytes(10),
            syn(), syn(options=mp.encode_stream_options(50, 400000, 500, 600)), synack(cid), synack(cid, False),
            ack(cid), syn(version=9), syn(options=b"\x02\x08")]


def random_datagram(rnd, tpls):
    r = rnd.random()
    if r < 0.3:
        n = rnd.choice([0, 1, 2, 5, 25, 26, 27, 38, 39, 41, 42, 66, 67, 68, 69, 70, rnd.randint(0, 3000)])
        return bytes(rnd.getrandbits(8) for _ in range(n))
    d = bytearray(rnd.choice(tpls))
    op = rnd.randint(0, 4)
    if op == 0 and d:
        d = d[:rnd.randint(0, len(d))]
    elif op == 1 and d:
        for _ in range(rnd.randint(1, 4)):
            d[rnd.randrange(len(d))] = rnd.getrandbits(8)
    elif op == 2:
        d += bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 20)))
    elif op == 3 and len(d) > 26:
        struct.pack_into("<Q", d, 2, rnd.choice([0, 1, 2, 49, 50, 51, 2 ** 64 - 1, rnd.getrandbits(64)]))
    return bytes(d)


class FuzzTests(unittest.TestCase):
    def _cfg(self, role, *extra):
        ns = mp.build_parser().parse_args([role, *extra, *SHORT])
        return mp.Config(ns)

    def test_responder_in_process(self):
        rnd = random.Random(7)
        tpls = templates()
        configs = [[], ["--allow-legacy-start"], ["--optimistic-start"], ["--session-limit", "1"],
                   ["--direction", "push"], ["--direction", "push", "--allow-legacy-start"],
                   ["--profile", "legacy"], ["--profile", "legacy", "--direction", "push"],
                   ["--profile", "udp_push"], ["--verify", "connection", "--direction", "push"]]
        for extra in configs:
            errors = []
            sock = FakeSock()
            timers = mp.Timers()
            r = mp.Responder(self._cfg("responder", *extra), sock, timers)
            now = 1000.0
            addrs = [("10.0.0.1", 1000 + i) for i in range(4)]
            for _ in range(2500):
                addr = rnd.choice(addrs)
                d = random_datagram(rnd, tpls)
                # sometimes complete a handshake properly
                if rnd.random() < 0.05 and sock.sent:
                    last = sock.sent[-1][0]
                    p = mp.classify(last)
                    if p.kind == "synack":
                        d = ack(p.cid)
                        addr = sock.sent[-1][1]
                r.on_datagram(d, addr, now)  # must not raise
                now += rnd.choice([0.0, 0.001, 0.02, 0.3])
                timers.run_due(now, errors.append)
            timers.run_due(now + 100, errors.append)
            self.assertEqual(errors, [], extra)

    def test_initiator_in_process(self):
        rnd = random.Random(11)
        tpls = templates()
        configs = [["--profile", "legacy"], ["--profile", "udp_push"], ["--profile", "legacy", "--direction", "push"],
                   [], ["--direction", "push"], ["--fallback-to-legacy"], ["--request-options"],
                   ["--direction", "push", "--fallback-to-legacy", "--request-options"]]
        target = ("10.0.0.9", 4444)
        for extra in configs:
            for _round in range(40):
                errors = []
                sock = FakeSock()
                timers = mp.Timers()
                ini = mp.Initiator(self._cfg("initiator", *extra), sock, target, timers)
                now = 50.0
                ini.start(now)
                cid = mp.new_id()
                for i in range(150):
                    if i == 3 and rnd.random() < 0.7:
                        d = rnd.choice([synack(cid), mp.encode_connection_id(cid),
                                        synack(cid, False), synack(cid) + rnd.choice([b"", b"\x01", b"\x01\x04\x00"])])
                    else:
                        d = random_datagram(rnd, tpls)
                    addr = target if rnd.random() < 0.9 else ("10.0.0.8", 4444)
                    ini.on_datagram(d, addr, now)
                    now += rnd.choice([0.0, 0.005, 0.05, 0.4])
                    timers.run_due(now, errors.append)
                timers.run_due(now + 100, errors.append)
                self.assertEqual(errors, [], extra)
                self.assertIsNotNone(ini.result)
                ini.summary()

    def test_responder_process_survives_random_datagrams(self):
        for extra in (["--allow-legacy-start"], ["--profile", "legacy", "--direction", "push"]):
            proc, port = start_responder(extra + SHORT)
            try:
                rnd = random.Random(3)
                tpls = templates()
                socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
                for i in range(1500):
                    d = random_datagram(rnd, tpls)
                    if i % 300 == 0:
                        d = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([65507, 40000])))
                    try:
                        rnd.choice(socks).sendto(d, ("127.0.0.1", port))
                    except OSError:
                        pass
                for s in socks:
                    s.close()
                time.sleep(0.3)
                self.assertIsNone(proc.poll(), "responder died")
                args = ["--allow-legacy-start"] if "--allow-legacy-start" in extra else ["--profile", "legacy",
                                                                                         "--direction", "push"]
                rc, out, _ = run_initiator(port, args + SHORT)
                self.assertEqual(rc, 0, out)
                self.assertIsNone(proc.poll(), "responder died")
            finally:
                rc, err = stop_responder(proc)
            self.assertEqual(rc, 0)
            self.assertNotIn("Traceback", err)

    def test_3way_initiator_survives_garbage_between_frames(self):
        """D11: invalid datagrams never abort a 3way stream (scripted responder)."""
        peer = Peer()
        rnd = random.Random(5)
        tpls = [t for t in templates() if kind_of(t) not in ("synack", "connection_id", "data")]
        args = ["--bits-per-second", "250000"] + SHORT  # F = 625: one datagram per frame
        result = {}

        def run():
            result["r"] = run_initiator(peer.port, args)

        th = threading.Thread(target=run)
        th.start()
        try:
            peer.collect(3, until=lambda log: any(kind_of(d) == "syn" for _, d, _ in log))
            addr = peer.log[-1][2]
            for _ in range(100):
                peer.send(random_datagram(rnd, tpls), addr)
            cid = mp.new_id()
            peer.send(synack(cid), addr)
            peer.collect(2, until=lambda log: any(kind_of(d) == "ack" for _, d, _ in log))
            peer.send(mp.encode_connection_id(cid), addr)
            base = time.monotonic()
            for k in range(1, 51):
                d = mp.encode_data(k, mp.qpc_now(), mp.pattern_bytes(625 - 26))
                peer.send(d, addr)
                peer.send(d, addr)  # a network duplicate (D13)
                peer.send(random_datagram(rnd, tpls), addr)
                time.sleep(max(0.0, base + k * 0.02 - time.monotonic()))
        finally:
            th.join(20)
            peer.close()
        rc, out, _ = result["r"]
        self.assertEqual(rc, 0, out)
        self.assertIn("successful=50 dropped=0 duplicate=0", out)


# ------------------------------------------------------------------------------------------------
# 2b. D15 (revised) at the 3way push responder, in process (fake socket, fake clock)
# ------------------------------------------------------------------------------------------------
class Push3WayResponderTests(unittest.TestCase):
    A = ("10.0.0.1", 1000)

    def setUp(self):
        self.lines = []
        self.sock = FakeSock()
        self.timers = mp.Timers()
        self.now = 100.0

    def responder(self, *extra):
        ns = mp.build_parser().parse_args(["responder", *extra, *SHORT])
        self.r = mp.Responder(mp.Config(ns), self.sock, self.timers, log=self.lines.append)
        return self.r

    def feed(self, d, dt=0.0):
        self.now += dt
        self.timers.run_due(self.now)
        self.r.on_datagram(d, self.A, self.now)

    def advance(self, dt):
        self.now += dt
        self.timers.run_due(self.now)

    def sent_kinds(self):
        return [kind_of(d) for d, _ in self.sock.sent]

    def handshake(self):
        self.feed(syn())
        self.assertEqual(self.sent_kinds(), ["synack"])
        return parsed(self.sock.sent[0][0]).cid

    def stream(self, first=1, last=50, dt=0.02):
        for k in range(first, last + 1):
            for d in push_frame(k):
                self.feed(d)
            self.advance(dt)

    def test_media_establishes_pending_session(self):
        self.responder("--direction", "push")
        self.handshake()
        self.advance(0.1)  # the ACK was lost
        s = self.r.sessions[self.A]
        self.assertEqual(s.state, "pending")
        self.stream(1, 1)
        self.assertEqual((s.state, s.established_by), ("established", "media"))
        self.assertEqual(s.receiver.sums.get(1), 2500)  # received as the first media of the stream
        self.stream(2, 50)
        self.advance(10)
        self.assertEqual(self.sent_kinds(), ["synack"])  # D7 stopped; no CONNECTION_ID, no media
        self.assertEqual(len(self.lines), 1)
        self.assertIn('end="final frame arrived (success)" frames successful=50 dropped=0 duplicate=0 error=0',
                      self.lines[0])
        self.assertIn("established_by_media:1", self.lines[0])
        self.assertNotIn(self.A, self.r.sessions)

    def test_media_on_pending_session_stops_d7_midway(self):
        self.responder("--direction", "push")
        self.handshake()
        self.advance(0.6)  # one D7 re-send went out
        self.assertEqual(self.sent_kinds(), ["synack", "synack"])
        self.stream(1, 50)
        self.advance(10)
        self.assertEqual(self.sent_kinds(), ["synack", "synack"])
        self.assertIn("successful=50 dropped=0", self.lines[0])

    def test_late_ack_after_media(self):
        self.responder("--direction", "push")
        cid = self.handshake()
        self.stream(1, 3)
        self.feed(ack(cid))  # reordered / late ACK: harmless
        self.feed(ack(cid))
        self.feed(ack(mp.new_id()))
        s = self.r.sessions[self.A]
        self.assertEqual(s.events["ack_after_media"], 1)
        self.assertEqual(s.counters["duplicate_ack"], 1)
        self.assertEqual(s.counters["ack_id_mismatch"], 1)
        self.stream(4, 50)
        self.assertEqual(self.sent_kinds(), ["synack"])
        self.assertIn("successful=50 dropped=0", self.lines[0])

    def test_ack_still_establishes(self):
        self.responder("--direction", "push")
        cid = self.handshake()
        self.feed(ack(cid), 0.01)
        s = self.r.sessions[self.A]
        self.assertEqual((s.state, s.established_by), ("established", "ack"))
        self.stream()
        self.advance(10)
        self.assertEqual(self.sent_kinds(), ["synack"])
        self.assertIn("successful=50 dropped=0", self.lines[0])
        self.assertIn("established_by_ack:1", self.lines[0])

    def test_mismatched_ack_then_media(self):
        self.responder("--direction", "push")
        cid = self.handshake()
        self.feed(ack(bytes([cid[0] ^ 1]) + cid[1:]))  # D6: validation error, keeps waiting
        self.assertEqual(self.r.sessions[self.A].state, "pending")
        self.stream()
        self.assertIn("successful=50 dropped=0", self.lines[0])
        self.assertIn("ack_id_mismatch:1", self.lines[0])
        self.assertEqual(self.sent_kinds(), ["synack"])

    def test_media_without_session_dropped(self):
        self.responder("--direction", "push")
        self.stream(1, 2)
        self.assertEqual(self.r.sessions, {})
        self.assertEqual(self.r.counters["media_without_session"], 4)
        self.assertEqual(self.sock.sent, [])
        # after D7 dropped the pending session, media is again from a tuple without a session
        self.handshake()
        self.advance(6)
        self.assertEqual(self.sent_kinds(), ["synack"] * 4)
        self.assertNotIn(self.A, self.r.sessions)
        self.assertIn("no ACK or media after 4 SYN-ACKs", self.lines[0])
        self.stream(1, 1)
        self.assertEqual(self.r.sessions, {})
        self.assertEqual(self.r.counters["media_without_session"], 6)

    def test_what_is_not_media(self):
        self.responder("--direction", "push")
        cid = self.handshake()
        frag = mp.encode_data(1, 5, b"", flag=mp.FLAG_DATA_FRAG) + bytes(16) + mp.pattern_bytes(10)
        for d in (frag, mp.encode_connection_id(cid), synack(cid), b"\x00\x00" + bytes(10), mp.START):
            self.feed(d)
        s = self.r.sessions[self.A]
        self.assertEqual(s.state, "pending")
        self.advance(0.6)
        self.assertEqual(self.sent_kinds(), ["synack", "synack"])  # D7 still running

    def test_bad_payload_and_bad_seq_still_establish(self):
        """Choice 33: any DATA datagram establishes; it is then judged like any other."""
        for first in (mp.encode_data(1, 5, b"\x09" * 100), mp.encode_data(0, 5, mp.pattern_bytes(100))):
            self.setUp()
            self.responder("--direction", "push")
            self.handshake()
            self.feed(first)
            s = self.r.sessions[self.A]
            self.assertEqual(s.state, "established")
            self.assertEqual(s.counters["payload_mismatch"] + s.receiver.error, 1)
            self.stream()
            self.assertIn("successful=50 dropped=0", self.lines[0])
            self.assertEqual(self.sent_kinds(), ["synack"])

    def test_pull_responder_ignores_media(self):
        self.responder()
        self.handshake()
        self.stream(1, 1)
        s = self.r.sessions[self.A]
        self.assertEqual(s.state, "pending")
        self.assertEqual(s.counters["media_at_sender"], 2)
        self.advance(1.6)
        self.assertEqual(self.sent_kinds(), ["synack"] * 3)  # D7 goes on, no media before the ACK (D6)

    def test_old_d15_mutant(self):
        self.responder("--direction", "push", "--mutant", "push-media-does-not-establish")
        cid = self.handshake()
        self.stream(1, 30)
        s = self.r.sessions[self.A]
        self.assertEqual(s.state, "pending")
        self.assertEqual(self.sent_kinds(), ["synack"] * 2)
        self.feed(ack(cid))  # the ACK answering the re-sent SYN-ACK establishes it
        self.stream(31, 50)
        self.advance(10)
        self.assertIn("successful=20 dropped=30", self.lines[0])


# ------------------------------------------------------------------------------------------------
# 3. initiator against responder over 127.0.0.1
# ------------------------------------------------------------------------------------------------
# name -> (responder args, [initiator args ...], expected exit codes, expected substrings per initiator,
#          expected substring in the responder's stderr or None)
LEG = ["--profile", "legacy"]
UDPP = ["--profile", "udp_push"]
PUSH = ["--direction", "push"]
FRAG = ["--bits-per-second", str(1401 * 8 * 50)]  # F = 1401 -> [1374, 27]
INTEROP = {
    "legacy_pull": (LEG, [LEG], [0], ["successful=50 dropped=0"], "kind=legacy-pull"),
    "legacy_pull_fragmented": (LEG + FRAG, [LEG + FRAG], [0], ["successful=50 dropped=0"], None),
    "legacy_pull_verify_connection": (LEG + ["--verify", "connection"], [LEG + ["--verify", "connection"]], [0],
                                      ["successful=50"], None),
    "legacy_push": (LEG + PUSH, [LEG + PUSH], [0], ["sent_frames=50"], "final frame arrived (success)\" frames successful=50"),
    "udp_push_vs_udp_push": (UDPP, [UDPP], [0], ["successful=50 dropped=0"], None),
    "udp_push_vs_legacy": (LEG, [UDPP], [0], ["successful=50 dropped=0"], None),
    "3way_pull": ([], [[]], [0], ["successful=50 dropped=0", "mode=3way"], "kind=3way direction=pull"),
    "3way_pull_fragmented": (FRAG, [FRAG], [0], ["successful=50 dropped=0"], None),
    "3way_pull_optimistic": (["--optimistic-start"], [[]], [0], ["successful=50 dropped=0"], None),
    "3way_pull_request_options": (["--stream-length", "1"],  # responder defaults: 100 fps, 1 Mbit/s, 1400
                                  [["--request-options", "--bits-per-second", "2000000",
                                    "--datagram-byte-size", "1000", "--buffer-depth", "0.5"]],
                                  [0], ["successful=50 dropped=0"], "sent_frames=50"),
    "3way_push": (PUSH, [PUSH], [0], ["sent_frames=50"],
                  ["final frame arrived (success)\" frames successful=50", "established_by_ack:1"]),
    # D15 (revised): the ACK is unusable (wrong id), the first media datagram establishes the session
    "3way_push_ack_unusable": (PUSH, [PUSH + ["--mutant", "ack-wrong-id"]], [0], ["sent_frames=50"],
                               ["final frame arrived (success)\" frames successful=50 dropped=0",
                                "ack_id_mismatch:1", "established_by_media:1"]),
    "3way_push_request_options": (PUSH + ["--stream-length", "1"],
                                  [PUSH + ["--request-options", "--bits-per-second", "800000"]],
                                  [0], ["sent_frames=50"], "final frame arrived (success)\" frames successful=50"),
    "3way_push_fragmented": (PUSH + FRAG, [PUSH + FRAG], [0], ["sent_frames=50"],
                             "final frame arrived (success)\" frames successful=50"),
    "d9_legacy_pull_on_3way": (["--allow-legacy-start"], [LEG], [0], ["successful=50 dropped=0"], "kind=legacy-pull"),
    "d9_legacy_push_on_3way": (["--allow-legacy-start"] + PUSH, [LEG + PUSH], [0], ["sent_frames=50"],
                               "kind=legacy-push direction=push end=\"final frame arrived (success)\""),
    "d9_udp_push_on_3way": (["--allow-legacy-start"], [UDPP], [0], ["successful=50"], None),
    "legacy_vs_3way_without_d9": ([], [LEG], [1], ["nothing arrived"], None),
    "udp_push_vs_3way_without_d9": ([], [UDPP], [1], ["unknown flag 0x0101"], None),
    "d10_fallback_pull": (LEG, [["--fallback-to-legacy"]], [0], ["successful=50 dropped=0", "fallback_to_legacy:1"], None),
    "d10_fallback_push": (LEG + PUSH, [PUSH + ["--fallback-to-legacy"]], [0], ["sent_frames=50"],
                          "final frame arrived (success)"),
    "3way_vs_legacy_no_fallback": (LEG, [[]], [1], ["no SYN-ACK after 4 SYNs"], None),
    "d4_limit_zero": (["--session-limit", "0"], [[], PUSH], [1, 1], ["rejected: session limit reached"] * 2, None),
    # The responder streams 4 s so that its one session is surely live when the second SYN comes. Which
    # initiator wins is not asserted (UNORDERED): on a loaded machine the undelayed one can start late.
    "d4_limit_one": (["--session-limit", "1", "--stream-length", "4", "--frame-rate", "50"],
                     [[], ["--delay", "1.0"]], [0, 1],
                     ["successful=50", "rejected: session limit reached"], None),
}
# scenarios whose initiators race: their results are matched to the expectations by exit code
UNORDERED = {"d4_limit_one"}


class InteropTests(unittest.TestCase):
    results = {}

    @classmethod
    def setUpClass(cls):
        def scenario(name):
            resp_args, inits, _codes, _subs, _ = INTEROP[name]
            # a scenario that sets --stream-length itself keeps the responder's other defaults
            proc, port = start_responder(resp_args if "--stream-length" in resp_args else resp_args + SHORT)
            try:
                def one(a):
                    a = list(a)
                    if "--delay" in a:
                        i = a.index("--delay")
                        time.sleep(float(a[i + 1]))
                        del a[i:i + 2]
                    return run_initiator(port, a + SHORT)

                with concurrent.futures.ThreadPoolExecutor(len(inits)) as ex:
                    outs = list(ex.map(one, inits))
            finally:
                rc, err = stop_responder(proc)
            return outs, rc, err

        with concurrent.futures.ThreadPoolExecutor(len(INTEROP)) as ex:
            futs = {n: ex.submit(scenario, n) for n in INTEROP}
            cls.results = {n: f.result() for n, f in futs.items()}


def _make_interop_test(name):
    def test(self):
        outs, rrc, err = self.results[name]
        _resp, _inits, codes, subs, resp_sub = INTEROP[name]
        if name in UNORDERED:
            outs = sorted(outs, key=lambda o: o[0])
            codes, subs = zip(*sorted(zip(codes, subs)))
        self.assertEqual(rrc, 0, err)
        self.assertNotIn("Traceback", err)
        for (rc, out, ierr), code, sub in zip(outs, codes, subs):
            self.assertEqual(rc, code, out + ierr)
            self.assertIn(sub, out)
            self.assertEqual(len(out.splitlines()), 1)
            self.assertNotIn("Traceback", ierr)
        for sub in ([resp_sub] if isinstance(resp_sub, str) else resp_sub or []):
            self.assertIn(sub, err)
    return test


for _n in INTEROP:
    setattr(InteropTests, f"test_{_n}", _make_interop_test(_n))


class CliTests(unittest.TestCase):
    def test_exit_codes(self):
        cases = [
            (["initiator", "--target", "127.0.0.1:9", "--profile", "udp_push", "--direction", "push"], 89),
            (["responder", "--listen", "127.0.0.1:0", "--profile", "udp_push", "--direction", "push"], 89),
            (["responder", "--listen", "127.0.0.1:0", "--optimistic-start", "--direction", "push"], 89),
            (["initiator", "--target", "127.0.0.1:9", "--mutant", "no-such-mutant"], 2),
            (["initiator", "--target", "127.0.0.1:9", "--bits-per-second", "31999"], 2),
            (["initiator", "--target", "127.0.0.1:9", "--frame-rate", "0"], 2),
            (["initiator", "--target", "127.0.0.1:9", "--datagram-byte-size", "40"], 2),
            (["initiator", "--target", "nonsense"], 2),
            (["initiator"], 2),
            (["responder", "--listen", "127.0.0.1:99999"], 2),
            (["initiator", "--target", "127.0.0.1:9", "--profile", "bogus"], 2),
        ]
        for args, code in cases:
            rc, out, err = run_cli(args)
            self.assertEqual(rc, code, (args, out, err))

    def test_sigterm(self):
        proc, port = start_responder([])
        time.sleep(0.1)
        rc, err = stop_responder(proc)
        self.assertEqual(rc, 0)
        self.assertNotIn("Traceback", err)
        peer = Peer()
        ini = subprocess.Popen([sys.executable, PEER, "initiator", "--target", f"127.0.0.1:{peer.port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peer.collect(2, until=lambda log: len(log) >= 1)
        t = time.monotonic()
        ini.terminate()
        out, err = ini.communicate(timeout=5)
        self.assertLess(time.monotonic() - t, 1.0)
        self.assertEqual(ini.returncode, 1)
        self.assertIn("terminated by signal", out)
        self.assertNotIn("Traceback", err)
        peer.close()

    def test_mutant_table(self):
        sides = collections.Counter(v[0] for v in mp.MUTANTS.values())
        self.assertGreaterEqual(len(mp.MUTANTS), 12)
        self.assertGreaterEqual(sides["responder"], 5)
        self.assertGreaterEqual(sides["initiator"], 5)
        self.assertGreaterEqual(sum(1 for k in mp.MUTANTS if "push" in k), 2)
        self.assertEqual(set(mp.MUTANTS), set(MUTANT_PROBES))


# ------------------------------------------------------------------------------------------------
# 4. each mutant changes the wire behaviour
# ------------------------------------------------------------------------------------------------
def gaps(times):
    return [round(b - a, 2) for a, b in zip(times, times[1:])]


def near(values, expected, tol=0.2):
    return len(values) == len(expected) and all(abs(v - e) <= tol for v, e in zip(values, expected))


def responder_probe(args, script):
    """Start a responder with args, run script(peer, addr) -> bool, stop it."""
    def run(mutant):
        extra = ["--mutant", mutant] if mutant else []
        proc, port = start_responder(args + extra)
        peer = Peer()
        try:
            return script(peer, ("127.0.0.1", port))
        finally:
            peer.close()
            stop_responder(proc)
    return run


def initiator_probe(args, script, wait_first=True):
    """Start an initiator against a scripted peer; script(peer, proc) -> bool."""
    def run(mutant):
        extra = ["--mutant", mutant] if mutant else []
        peer = Peer()
        proc = subprocess.Popen([sys.executable, PEER, "initiator", "--target", f"127.0.0.1:{peer.port}"]
                                + args + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if wait_first:
                peer.collect(5, until=lambda log: len(log) >= 1)
            return script(peer, proc)
        finally:
            peer.close()
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    return run


def _handshake(peer, addr, version=1):
    peer.send(syn(version), addr)
    peer.collect(1, until=lambda log: any(kind_of(d) == "synack" for _, d, _ in log))
    sa = peer.of_kind("synack")
    return parsed(sa[0][1]) if sa else None


def r_synack_interval(peer, addr):
    peer.send(syn(), addr)
    peer.collect(1.8)
    return near(gaps([t for t, _ in peer.of_kind("synack")]), [0.5, 1.0])


def r_same_synack(peer, addr):
    peer.send(syn(), addr)
    peer.collect(0.15)
    peer.send(syn(), addr)
    peer.collect(0.2)
    sa = [d for _, d in peer.of_kind("synack")]
    return len(sa) == 2 and sa[0] == sa[1]


def r_no_media_before_ack(peer, addr):
    peer.send(syn(), addr)
    peer.collect(0.4)
    return peer.kinds() == ["synack"]


def r_version_rejected(peer, addr):
    p = _handshake(peer, addr, version=2)
    return p is not None and p.flags & 1 == 0 and mp.id_str(p.cid) == "unsupported version"


def r_session_limit(peer, addr):
    p = _handshake(peer, addr)
    other = Peer()
    try:
        other.send(syn(), addr)
        other.collect(0.5, until=lambda log: len(log) >= 1)
        q = parsed(other.log[0][1]) if other.log else None
    finally:
        other.close()
    return (p is not None and p.flags & 1 == 1 and q is not None and q.kind == "synack" and q.flags & 1 == 0
            and mp.id_str(q.cid) == "session limit reached")


def r_start_no_control(peer, addr):
    peer.send(mp.START, addr)
    peer.collect(0.3)
    k = peer.kinds()
    return bool(k) and k[0] == "connection_id" and not {"synack", "syn", "ack"} & set(k)


def r_cid_matches(peer, addr):
    p = _handshake(peer, addr)
    peer.send(ack(p.cid), addr)
    peer.collect(0.3)
    cids = [parsed(d).cid for _, d in peer.of_kind("connection_id")]
    return cids == [p.cid] and len(peer.of_kind("data")) > 3


def _data_after_start(peer, addr):
    peer.send(mp.START, addr)
    peer.collect(0.3)
    return [d for _, d, _ in peer.log if not d.startswith(b"\x00\x10")]


def r_seq_from_one(peer, addr):
    ds = _data_after_start(peer, addr)
    seqs = [parsed(d).seq for d in ds]
    return bool(seqs) and seqs[0] == 1 and 0 not in seqs


def r_tail_rule(peer, addr):
    ds = _data_after_start(peer, addr)
    by_seq = collections.defaultdict(list)
    for d in ds:
        p = parsed(d)
        if p.kind != "data":
            return False
        by_seq[p.seq].append(len(d))
    # The collection window may end between the two fragments of the last frame.
    seqs = sorted(by_seq)
    complete = seqs[:-1]
    return (bool(complete) and all(by_seq[q] == [1374, 27] for q in complete)
            and by_seq[seqs[-1]] in ([1374], [1374, 27]))


def r_pattern(peer, addr):
    ds = _data_after_start(peer, addr)
    return len(ds) > 4 and all(mp.payload_ok(d) for d in ds)


def push_frame(k, frame_size=2500, max_dg=1400):
    """The datagrams of pushed frame k (SHORT: F = 2500 -> [1400, 1100])."""
    return [mp.encode_data(k, mp.qpc_now() + i, mp.pattern_bytes(n - mp.HEADER_LEN))
            for i, n in enumerate(mp.fragment_sizes(frame_size, max_dg))]


def r_push_receiver_silent(peer, addr):
    """D15: no CONNECTION_ID (nor anything else) when the push session is established, whether by the
    ACK (this peer) or by the first media datagram (a second peer that never ACKs)."""
    p = _handshake(peer, addr)
    peer.send(ack(p.cid), addr)
    other = Peer()
    try:
        q = _handshake(other, addr)
        for d in push_frame(1):
            other.send(d, addr)
        peer.collect(0.4)
        other.collect(0.2)
        return p is not None and q is not None and peer.kinds() == ["synack"] and other.kinds() == ["synack"]
    finally:
        other.close()


def r_push_media_establishes(peer, addr):
    """D15: no ACK at all, media right after the SYN-ACK: the session is established by the media, so
    the D7 SYN-ACK re-sends (500, 1500 ms) never come."""
    p = _handshake(peer, addr)
    if p is None:
        return False
    for k in range(1, 51):
        for d in push_frame(k):
            peer.send(d, addr)
        peer.collect(0.02)
    peer.collect(1.8 - (time.monotonic() - peer.t0))
    return peer.kinds() == ["synack"]


def r_legacy_push_receiver_silent(peer, addr):
    peer.send(mp.START, addr)
    peer.collect(0.4)
    return peer.kinds() == ["connection_id"]


def i_syn_interval(peer, proc):
    peer.collect(1.8 - (time.monotonic() - peer.t0))
    return near(gaps([t for t, _ in peer.of_kind("syn")]), [0.5, 1.0]) and peer.kinds() == ["syn"] * 3


def i_syn_bytes(peer, proc):
    return peer.log[0][1] == syn()


def _reply_synack(peer, accept=True):
    t, d, addr = peer.log[0]
    cid = mp.new_id()
    peer.send(synack(cid, accept), addr)
    return cid, addr


def i_ack_echo(peer, proc):
    cid, _ = _reply_synack(peer)
    peer.collect(0.3, until=lambda log: any(kind_of(d) == "ack" for _, d, _ in log))
    acks = peer.of_kind("ack")
    return bool(acks) and parsed(acks[0][1]).cid == cid


def i_no_ack_after_reject(peer, proc):
    _reply_synack(peer, accept=False)
    peer.collect(0.4)
    return "ack" not in peer.kinds() and proc.wait(5) == 1


def i_ack_every_synack(peer, proc):
    cid, addr = _reply_synack(peer)
    peer.collect(0.2)
    peer.send(synack(cid), addr)
    peer.collect(0.2)
    return len(peer.of_kind("ack")) == 2


def i_no_start_in_3way(peer, proc):
    peer.collect(0.3)
    k = peer.kinds()
    return k[0] == "syn" and "start" not in k


def i_start_continues(peer, proc):
    peer.send(mp.encode_connection_id(mp.new_id()), peer.log[0][2])
    peer.collect(1.3 - (time.monotonic() - peer.t0))
    return peer.kinds() == ["start"] * 3


def i_udp_push_start_first(peer, proc):
    peer.collect(0.8 - (time.monotonic() - peer.t0))
    return peer.kinds() == ["start", "syn"]


def i_push_waits_for_synack(peer, proc):
    peer.collect(0.4)
    return set(peer.kinds()) == {"syn"}


def i_push_two_starts(peer, proc):
    rc = proc.wait(5)
    peer.collect(0.1)
    return peer.kinds() == ["start", "start"] and rc == 1


def i_push_waits_for_cid(peer, proc):
    peer.collect(0.4)
    return peer.kinds() == ["start"]


def i_push_seq_from_one(peer, proc):
    peer.send(mp.encode_connection_id(mp.new_id()), peer.log[0][2])
    peer.collect(0.3)
    seqs = [parsed(d).seq for _, d in peer.of_kind("data")]
    return bool(seqs) and seqs[0] == 1 and 0 not in seqs


MUTANT_PROBES = {
    "synack-fixed-interval": responder_probe(SHORT, r_synack_interval),
    "synack-new-id-on-repeat": responder_probe(SHORT, r_same_synack),
    "media-before-ack": responder_probe(SHORT, r_no_media_before_ack),
    "accept-any-version": responder_probe(SHORT, r_version_rejected),
    "ignore-session-limit": responder_probe(SHORT + ["--session-limit", "1"], r_session_limit),
    "start-answered-with-synack": responder_probe(SHORT + ["--allow-legacy-start"], r_start_no_control),
    "connection-id-mismatch": responder_probe(SHORT, r_cid_matches),
    "seq-from-zero": responder_probe(SHORT + LEG, r_seq_from_one),
    "no-tail-rule": responder_probe(SHORT + LEG + FRAG, r_tail_rule),
    "pattern-continues": responder_probe(SHORT + LEG + FRAG, r_pattern),
    "push-receiver-sends-connection-id": responder_probe(SHORT + PUSH, r_push_receiver_silent),
    "push-media-does-not-establish": responder_probe(SHORT + PUSH, r_push_media_establishes),
    "legacy-push-receiver-streams": responder_probe(SHORT + LEG + PUSH, r_legacy_push_receiver_silent),
    "syn-fixed-interval": initiator_probe(SHORT, i_syn_interval),
    "syn-version-2": initiator_probe(SHORT, i_syn_bytes),
    "ack-wrong-id": initiator_probe(SHORT, i_ack_echo),
    "ack-after-reject": initiator_probe(SHORT, i_no_ack_after_reject),
    "no-ack-on-repeat": initiator_probe(SHORT, i_ack_every_synack),
    "start-before-syn": initiator_probe(SHORT, i_no_start_in_3way),
    "start-stops-on-connection-id": initiator_probe(SHORT + LEG + ["--buffer-depth", "3", "--stream-length", "4"],
                                                    i_start_continues),
    "udp-push-syn-first": initiator_probe(SHORT + UDPP, i_udp_push_start_first),
    "push-no-handshake-wait": initiator_probe(SHORT + PUSH, i_push_waits_for_synack),
    "push-start-repeats": initiator_probe(SHORT + LEG + PUSH, i_push_two_starts),
    "push-no-wait-connection-id": initiator_probe(SHORT + LEG + PUSH, i_push_waits_for_cid),
    "push-seq-from-zero": initiator_probe(SHORT + LEG + PUSH, i_push_seq_from_one),
}


class MutantTests(unittest.TestCase):
    results = {}

    @classmethod
    def setUpClass(cls):
        jobs = [(name, m) for name in MUTANT_PROBES for m in (None, name)]

        def run(job):
            name, m = job
            try:
                return MUTANT_PROBES[name](m)
            except Exception as exc:  # noqa: BLE001
                return f"error: {type(exc).__name__}: {exc}"

        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            res = list(ex.map(run, jobs))
        cls.results = dict(zip(jobs, res))


def _make_mutant_test(name):
    def test(self):
        self.assertIs(self.results[(name, None)], True, f"correct program fails the {name} probe")
        self.assertIs(self.results[(name, name)], False, f"mutant {name} not detected on the wire")
    return test


for _n in MUTANT_PROBES:
    setattr(MutantTests, "test_" + _n.replace("-", "_"), _make_mutant_test(_n))


if __name__ == "__main__":
    unittest.main()
