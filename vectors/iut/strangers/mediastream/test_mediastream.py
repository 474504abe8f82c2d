#!/usr/bin/env python3
"""Self-tests for mediastream.py over loopback UDP (python3 -m unittest -v test_mediastream)."""

import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mediastream as ms  # noqa: E402

PROG = os.path.join(HERE, "mediastream.py")
UUID_RE = re.compile(rb"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\x00$")

# end-to-end stream: 50 fps, 1 s, F = 1120800/400 = 2802 -> [1400, 1375, 27]
E2E = ["--frame-rate", "50", "--stream-length", "1", "--buffer-depth", "0.2",
       "--bits-per-second", "1120800", "--datagram-byte-size", "1400"]
# raw-peer stream: 10 fps, 0.5 s -> 5 frames, F = 112080/80 = 1401 -> [1374, 27]
RAW = ["--frame-rate", "10", "--stream-length", "0.5", "--buffer-depth", "0.3",
       "--bits-per-second", "112080", "--datagram-byte-size", "1400"]


def start_responder(*args, quiet=True):
    cmd = [sys.executable, PROG, "responder", "--listen", "127.0.0.1:0"] + list(args)
    if quiet:
        cmd.append("--quiet")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r, _, _ = select.select([p.stdout], [], [], 5)
    if not r:
        p.kill()
        raise AssertionError("responder did not print its listening line")
    line = p.stdout.readline()
    m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        raise AssertionError("bad listening line %r / %s" % (line, p.stderr.read()))
    return p, int(m.group(1))


def stop(p):
    p.terminate()
    try:
        out, err = p.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("process did not end promptly on SIGTERM")
    return p.returncode, out, err


def run_initiator(port, *args, timeout=20):
    cmd = [sys.executable, PROG, "initiator", "--target", "127.0.0.1:%d" % port, "--quiet"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def spawn_initiator(port, *args):
    cmd = [sys.executable, PROG, "initiator", "--target", "127.0.0.1:%d" % port, "--quiet"] + list(args)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary(proc):
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


class Peer:
    """A raw UDP socket playing the other side."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]

    def send(self, data, port):
        self.s.sendto(data, ("127.0.0.1", port))

    def recv(self, timeout):
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return None, None
        return self.s.recvfrom(65536)

    def collect(self, duration, until=None):
        out = []
        end = time.monotonic() + duration
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            d, a = self.recv(left)
            if d is None:
                break
            out.append((time.monotonic(), d, a))
            if until and until(out):
                break
        return out

    def close(self):
        self.s.close()


# ------------------------------------------------------------------------------------------
class WireUnitTests(unittest.TestCase):
    def test_split_examples(self):
        ex = {27: [27], 1399: [1399], 1400: [1400], 1401: [1374, 27], 2800: [1400, 1400],
              2801: [1400, 1374, 27]}
        for F, sizes in ex.items():
            self.assertEqual(ms.split_frame(F, 1400), sizes, F)
            self.assertEqual(sum(sizes), F)
        big = ms.split_frame(123456789, 1400)
        self.assertEqual(len(big), 88184)
        self.assertEqual(ms.count_datagrams(123456789, 1400), 88184)
        self.assertEqual(sum(big), 123456789)

    def test_frame_size(self):
        self.assertEqual(ms.frame_size(1120800, 50), 2802)
        self.assertEqual(ms.frame_size(1000000, 30), 4166)

    def test_fill_pattern(self):
        self.assertEqual(ms.PATTERN[:6], bytes.fromhex("000001000200"))
        self.assertEqual(ms.PATTERN[65534:65536], b"\xff\x7f")
        self.assertEqual(ms.PATTERN[65536:65538], b"\x00\x00")

    def test_data_layout(self):
        d = ms.build_data(1, 30, qpc=0x0102030405060708, qpf=10_000_000)
        self.assertEqual(d, bytes.fromhex("0000" "0100000000000000" "0807060504030201" "8096980000000000"
                                          "00000100"))
        # every fragment carries pattern[0..len-26]
        for size, off in ms.frame_plan(2801, 1400):
            self.assertEqual(off, 0)

    def test_connid_layout(self):
        cid = ms.make_id37("01234567-89ab-cdef-0123-456789abcdef")
        d = ms.build_connid(cid)
        self.assertEqual(len(d), 39)
        self.assertEqual(d[:2], b"\x00\x10")
        self.assertEqual(d[2:], b"01234567-89ab-cdef-0123-456789abcdef\x00")
        self.assertTrue(UUID_RE.match(ms.new_connection_id()))

    def test_control_layouts(self):
        syn = ms.build_syn()
        self.assertEqual(syn, b"\x00\x01" + b"\x00" * 24 + b"\x01\x00\x00\x00" + b"\x00" * 37)
        self.assertEqual(len(syn), 67)
        cid = ms.new_connection_id()
        sa = ms.build_synack(cid, True)
        self.assertEqual(sa[:2], b"\x01\x01")
        self.assertEqual(sa[26:30], b"\x01\x01\x00\x00")
        self.assertEqual(sa[30:], cid)
        ack = ms.build_ack(cid)
        self.assertEqual(ack[:2], b"\x02\x01")
        self.assertEqual(ack[2:26], b"\x00" * 24)
        self.assertEqual(ack[26:30], b"\x01\x00\x00\x00")
        self.assertEqual(ack[30:67], cid)

    def test_classify_order(self):
        self.assertEqual(ms.classify(b""), "too_short")
        self.assertEqual(ms.classify(b"\x00"), "too_short")
        self.assertEqual(ms.classify(b"START"), "unknown_flag")      # 0x5453
        self.assertEqual(ms.classify(b"\x00\x10" + b"a" * 36), "short_connid")
        self.assertEqual(ms.classify(b"\x00\x10" + b"a" * 40), "connid")
        self.assertEqual(ms.classify(b"\x00\x00" + b"\x00" * 23), "short_header")
        self.assertEqual(ms.classify(b"\x00\x00" + b"\x00" * 24), "data")
        self.assertEqual(ms.classify(b"\x01\x00" + b"\x00" * 39), "short_header")
        self.assertEqual(ms.classify(b"\x01\x00" + b"\x00" * 40), "frag")
        self.assertEqual(ms.classify(b"\x00\x01" + b"\x00" * 60), "short_control")
        self.assertEqual(ms.classify(ms.build_syn()), "syn")
        self.assertEqual(ms.classify(b"\x03\x01" + b"\x00" * 65), "unknown_flag")

    def test_tlv(self):
        opts = ms.encode_options([(1, 30), (2, 1000000), (9, b"xy"), (5, 1200)])
        self.assertEqual(opts[:7], b"\x01\x04\x00\x1e\x00\x00\x00")
        known = ms.decode_known_tlvs(ms.parse_tlvs(opts))
        self.assertEqual(known, {1: 30, 2: 1000000, 5: 1200})
        with self.assertRaises(ValueError):
            ms.parse_tlvs(b"\x01\x04\x00\x1e\x00")
        with self.assertRaises(ValueError):
            ms.parse_tlvs(b"\x01\x04")

    def test_params(self):
        p = ms.StreamParams(1000000, 30, 5, 1, 1400)
        self.assertEqual((p.F, p.N, p.IBF, p.resend_ms), (4166, 150, 30, 533))
        self.assertIsNotNone(ms.StreamParams(1000, 30, 5, 1, 1400).validate())   # F < 40


# ------------------------------------------------------------------------------------------
class EndToEndTests(unittest.TestCase):
    """Initiator against responder for every supported combination (run concurrently)."""

    def test_combinations(self):
        cases = [
            # name, responder args, initiator args, expected initiator exit code
            ("legacy", ["--profile", "legacy"], ["--profile", "legacy"], 0),
            ("udp_push", ["--profile", "udp_push"], ["--profile", "udp_push"], 0),
            ("legacy-push", ["--direction", "push"], ["--direction", "push"], 0),
            ("legacy-pull-explicit", ["--direction", "pull"], ["--direction", "pull"], 0),
            ("3way", ["--profile", "3way"], ["--profile", "3way"], 0),
            ("3way-optimistic", ["--profile", "3way", "--optimistic"], ["--profile", "3way"], 0),
            ("3way-options", ["--profile", "3way"], ["--profile", "3way", "--syn-options",
                                                     "--codec-hint", "h264"], 0),
            ("3way-allow-legacy", ["--profile", "3way", "--allow-legacy-start"], ["--profile", "legacy"], 0),
            ("3way-no-legacy", ["--profile", "3way"], ["--profile", "legacy"], 1),
            ("3way-fallback", ["--profile", "legacy"],
             ["--profile", "3way", "--fallback", "--syn-initial-ms", "40", "--syn-cap-ms", "80"], 0),
            ("3way-no-fallback", ["--profile", "legacy"],
             ["--profile", "3way", "--syn-initial-ms", "40", "--syn-cap-ms", "80"], 4),
            ("udp_push-vs-3way-allow", ["--profile", "3way", "--allow-legacy-start"], ["--profile", "udp_push"], 0),
            ("verify-connection", ["--profile", "legacy"], ["--profile", "legacy", "--verify", "connection"], 0),
        ]

        def one(case):
            name, rargs, iargs, want = case
            resp, port = start_responder(*(rargs + E2E), quiet=(name != "legacy-push"))
            try:
                res = run_initiator(port, *(iargs + E2E))
            finally:
                rc, out, err = stop(resp)
            return name, want, res, rc, err

        with ThreadPoolExecutor(max_workers=len(cases)) as ex:
            results = list(ex.map(one, cases))
        for name, want, res, rrc, rerr in results:
            with self.subTest(case=name):
                self.assertEqual(res.returncode, want, "%s: %s %s" % (name, res.stdout, res.stderr))
                self.assertEqual(rrc, 0)
                s = summary(res)
                if want == 0 and name != "legacy-push":
                    self.assertEqual(s["successful"], 50)
                if name == "legacy-push":
                    self.assertEqual(s["frames_sent"], 50)
                    self.assertIn("result=success", rerr)
                if name == "3way-fallback":
                    self.assertEqual(s["sent"].get("SYN"), 4)
                    self.assertEqual(s["mode"], "legacy")

    def test_concurrent_sessions(self):
        resp, port = start_responder(*E2E)
        try:
            procs = [spawn_initiator(port, *E2E) for _ in range(3)]
            outs = [p.communicate(timeout=20) for p in procs]
        finally:
            stop(resp)
        ids = set()
        for p, (out, _) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, out)
            ids.add(json.loads(out.splitlines()[-1])["connection_id"])
        self.assertEqual(len(ids), 3)

    def test_unsupported_and_usage(self):
        for args in (["initiator", "--target", "127.0.0.1:9", "--profile", "3way", "--direction", "push"],
                     ["responder", "--listen", "127.0.0.1:0", "--profile", "3way", "--direction", "push"],
                     ["initiator", "--target", "127.0.0.1:9", "--profile", "udp_push", "--direction", "push"]):
            r = subprocess.run([sys.executable, PROG] + args, capture_output=True, timeout=5)
            self.assertEqual(r.returncode, 89, args)
        r = subprocess.run([sys.executable, PROG, "initiator", "--target", "127.0.0.1:9",
                            "--bits-per-second", "100"], capture_output=True, timeout=5)
        self.assertEqual(r.returncode, 2)


# ------------------------------------------------------------------------------------------
class ResponderWireTests(unittest.TestCase):
    def setUp(self):
        self.peer = Peer()
        self.procs = []

    def tearDown(self):
        self.peer.close()
        for p in self.procs:
            if p.poll() is None:
                stop(p)

    def responder(self, *args):
        p, port = start_responder(*args)
        self.procs.append(p)
        return port

    def check_frames(self, datagrams, cid_expected=None, F=1401, N=5):
        kinds = [d[:2] for d in datagrams]
        self.assertEqual(kinds[0], b"\x00\x10")
        self.assertEqual(len(datagrams[0]), 39)
        self.assertTrue(UUID_RE.match(datagrams[0][2:]), datagrams[0])
        if cid_expected:
            self.assertEqual(datagrams[0][2:], cid_expected)
        data = datagrams[1:]
        self.assertTrue(all(k == b"\x00\x00" for k in kinds[1:]))
        sizes = [len(d) for d in data]
        self.assertEqual(sizes, ms.split_frame(F, 1400) * N)
        seqs = [struct.unpack_from("<Q", d, 2)[0] for d in data]
        per = len(ms.split_frame(F, 1400))
        self.assertEqual(seqs, [s for s in range(1, N + 1) for _ in range(per)])
        qpfs = {struct.unpack_from("<Q", d, 18)[0] for d in data}
        self.assertEqual(len(qpfs), 1)
        for d in data:
            self.assertEqual(d[26:], ms.PATTERN[:len(d) - 26])

    def test_legacy_start_stream(self):
        port = self.responder(*RAW)
        self.peer.send(b"START", port)
        t0 = time.monotonic()
        got = self.peer.collect(1.5, until=lambda o: len(o) >= 11)
        self.peer.send(b"START", port)          # after the session: ignored or fresh
        dgs = [d for _, d, _ in got]
        self.assertEqual(len(dgs), 11)
        self.check_frames(dgs)
        # pacing: frames 100 ms apart (frame 5 at base + 400 ms)
        t_frame5 = got[-2][0] - t0
        self.assertGreater(t_frame5, 0.3)

    def test_legacy_duplicate_start_ignored_and_non_start_discarded(self):
        port = self.responder(*RAW)
        self.peer.send(b"START", port)
        time.sleep(0.05)
        self.peer.send(b"START", port)
        self.peer.send(b"START\x00", port)
        self.peer.send(b"start", port)
        self.peer.send(ms.build_syn(), port)
        got = self.peer.collect(1.2)
        dgs = [d for _, d, _ in got]
        self.assertEqual(len(dgs), 11)
        self.check_frames(dgs)
        # after the session ends, a new START starts a fresh session (new id, seq from 1)
        self.peer.send(b"START", port)
        got2 = [d for _, d, _ in self.peer.collect(1.2, until=lambda o: len(o) >= 11)]
        self.check_frames(got2)
        self.assertNotEqual(got2[0], dgs[0])

    def test_3way_handshake(self):
        port = self.responder("--profile", "3way", *RAW)
        syn = ms.build_syn()
        self.peer.send(syn, port)
        d, _ = self.peer.recv(1)
        self.assertEqual(len(d), 67)
        self.assertEqual(d[:26], b"\x01\x01" + b"\x00" * 24)
        self.assertEqual(d[26:30], b"\x01\x01\x00\x00")
        cid = d[30:67]
        self.assertTrue(UUID_RE.match(cid))
        self.peer.send(syn, port)                      # D3: same SYN-ACK
        d2, _ = self.peer.recv(1)
        self.assertEqual(d2, d)
        # D6: nothing but (re-sent) SYN-ACKs before the ACK; a wrong ACK does not establish
        self.peer.send(ms.build_ack(ms.make_id37("not-the-id")), port)
        early = [x for _, x, _ in self.peer.collect(0.7)]
        self.assertTrue(early and all(x == d for x in early), early)   # D7 re-send at 500 ms
        self.peer.send(ms.build_ack(cid), port)
        got = [x for _, x, _ in self.peer.collect(1.5, until=lambda o: len(o) >= 11)]
        self.check_frames(got, cid_expected=cid)

    def test_3way_optimistic(self):
        port = self.responder("--profile", "3way", "--optimistic", *RAW)
        self.peer.send(ms.build_syn(), port)
        got = [x for _, x, _ in self.peer.collect(0.3)]
        self.assertEqual(got[0][:2], b"\x01\x01")
        self.assertEqual(got[1], b"\x00\x10" + got[0][30:67])
        self.assertEqual(got[2][:2], b"\x00\x00")

    def test_3way_reject_and_start_policy(self):
        port = self.responder("--profile", "3way", "--session-limit", "1", *RAW)
        self.peer.send(b"START", port)                 # D9 without option: no reply
        self.assertEqual(self.peer.collect(0.2), [])
        self.peer.send(ms.build_syn(version=2), port)  # D4: bad version
        d, _ = self.peer.recv(1)
        self.assertEqual(d[:2], b"\x01\x01")
        self.assertEqual(d[27] & 1, 0)
        self.assertIn(b"version", d[30:67])
        self.peer.send(ms.build_syn(options=b"\x01\x04\x00\x1e"), port)   # TLV past the end
        self.assertEqual(self.peer.collect(0.2), [])
        self.peer.send(ms.build_syn(), port)           # occupies the single slot
        d, _ = self.peer.recv(1)
        self.assertEqual(d[27] & 1, 1)
        other = Peer()
        try:
            other.send(ms.build_syn(), port)
            d, _ = other.recv(1)
            self.assertEqual(d[27] & 1, 0)              # D4: session limit
            self.assertIn(b"limit", d[30:67])
        finally:
            other.close()

    def test_3way_allow_legacy_start_never_synack(self):
        port = self.responder("--profile", "3way", "--allow-legacy-start", *RAW)
        self.peer.send(b"START", port)
        got = [d for _, d, _ in self.peer.collect(1.2, until=lambda o: len(o) >= 11)]
        self.check_frames(got)

    def test_3way_options_negotiated(self):
        port = self.responder("--profile", "3way", *RAW)
        opts = ms.encode_options([(1, 10), (2, 112080), (77, b"zz"), (5, 1400)])
        self.peer.send(ms.build_syn(options=opts), port)
        d, _ = self.peer.recv(1)
        self.assertEqual(d[27] & 1, 1)
        self.assertEqual(ms.decode_known_tlvs(ms.parse_tlvs(d[67:])), {1: 10, 2: 112080, 5: 1400})


# ------------------------------------------------------------------------------------------
class InitiatorWireTests(unittest.TestCase):
    def setUp(self):
        self.peer = Peer()

    def tearDown(self):
        self.peer.close()

    def test_legacy_start_resend_interval(self):
        # FR=50 -> re-send every trunc(1000/50)+500 = 520 ms until the first DATA
        p = spawn_initiator(self.peer.port, "--frame-rate", "50", "--stream-length", "2",
                            "--buffer-depth", "1.2", "--bits-per-second", "1120800")
        got = self.peer.collect(1.3)
        p.communicate(timeout=5)
        self.assertEqual(p.returncode, 1)             # nothing arrived by the first render
        self.assertTrue(all(d == b"START" for _, d, _ in got), got)
        self.assertEqual(len(got), 3)
        gaps = [got[i + 1][0] - got[i][0] for i in range(len(got) - 1)]
        for g in gaps:
            self.assertAlmostEqual(g, 0.52, delta=0.08)

    def test_legacy_fails_on_control_frame(self):
        p = spawn_initiator(self.peer.port, *RAW)
        d, a = self.peer.recv(2)
        self.assertEqual(d, b"START")
        self.peer.s.sendto(ms.build_connid(ms.new_connection_id()), a)
        self.peer.s.sendto(ms.build_synack(ms.new_connection_id(), True), a)
        out, _ = p.communicate(timeout=5)
        self.assertEqual(p.returncode, 5)

    def test_udp_push_sends_syn_on_tick(self):
        p = spawn_initiator(self.peer.port, "--profile", "udp_push", "--frame-rate", "50",
                            "--stream-length", "2", "--buffer-depth", "1.2", "--bits-per-second", "1120800")
        got = [d for _, d, _ in self.peer.collect(1.3)]
        p.communicate(timeout=5)
        self.assertEqual(got[0], b"START")
        self.assertEqual(got[1:], [ms.build_syn()] * 2)

    def test_3way_syn_schedule_and_ack(self):
        p = spawn_initiator(self.peer.port, "--profile", "3way", "--syn-initial-ms", "100",
                            "--syn-cap-ms", "200", *RAW)
        got = self.peer.collect(0.9)
        p.communicate(timeout=5)
        self.assertEqual(p.returncode, 4)
        self.assertEqual([d for _, d, _ in got], [ms.build_syn()] * 4)
        gaps = [round(got[i + 1][0] - got[i][0], 2) for i in range(3)]
        for g, want in zip(gaps, (0.1, 0.2, 0.2)):
            self.assertAlmostEqual(g, want, delta=0.05)
        # handshake: SYN-ACK -> ACK echoing the id; repeated SYN-ACK -> another ACK
        p = spawn_initiator(self.peer.port, "--profile", "3way", *RAW)
        d, a = self.peer.recv(2)
        self.assertEqual(d, ms.build_syn())
        cid = ms.new_connection_id()
        self.peer.s.sendto(ms.build_synack(cid, True), a)
        d, _ = self.peer.recv(1)
        self.assertEqual(d, ms.build_ack(cid))
        self.peer.s.sendto(ms.build_synack(cid, True), a)
        d, _ = self.peer.recv(1)
        self.assertEqual(d, ms.build_ack(cid))
        # junk never aborts a 3way stream (D11); then stream 5 frames with a duplicate (D13)
        for junk in (b"", b"\x07", b"START", b"\x00\x00abc", b"\x09\x09" + b"\x00" * 30):
            self.peer.s.sendto(junk, a)
        self.peer.s.sendto(ms.build_connid(cid), a)
        for seq in range(1, 6):
            for size in ms.split_frame(1401, 1400):
                dg = ms.build_data(seq, size, qpc=seq)
                self.peer.s.sendto(dg, a)
                if seq == 2:
                    self.peer.s.sendto(dg, a)
            time.sleep(0.1)
        out, _ = p.communicate(timeout=5)
        self.assertEqual(p.returncode, 0, out)

    def test_3way_reject(self):
        p = spawn_initiator(self.peer.port, "--profile", "3way", *RAW)
        d, a = self.peer.recv(2)
        self.peer.s.sendto(ms.build_synack(ms.make_id37("busy"), False), a)
        out, _ = p.communicate(timeout=5)
        self.assertEqual(p.returncode, 3)
        self.assertIn("busy", out)
        self.assertEqual(self.peer.collect(0.1), [])   # no ACK

    def test_push_client(self):
        p = spawn_initiator(self.peer.port, "--direction", "push", *RAW)
        d, a = self.peer.recv(2)
        self.assertEqual(d, b"START")
        cid = ms.new_connection_id()
        self.peer.s.sendto(ms.build_connid(cid), a)
        got = [x for _, x, _ in self.peer.collect(1.0, until=lambda o: len(o) >= 10)]
        out, _ = p.communicate(timeout=5)
        self.assertEqual(p.returncode, 0)
        self.assertEqual([len(x) for x in got], [1374, 27] * 5)
        self.assertEqual([struct.unpack_from("<Q", x, 2)[0] for x in got], [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])


# ------------------------------------------------------------------------------------------
class MutantTests(unittest.TestCase):
    def test_every_mutant_starts(self):
        def one(name):
            role = ms.MUTANTS[name][0]
            if role == "responder":
                p, port = start_responder("--mutant", name, *RAW)
                rc, _, err = stop(p)
                return name, rc == 0 and "Traceback" not in err, err
            peer = Peer()
            try:
                r = run_initiator(peer.port, "--mutant", name, "--buffer-depth", "0.1",
                                  "--frame-rate", "10", "--stream-length", "0.5",
                                  "--bits-per-second", "112080", "--syn-initial-ms", "20",
                                  "--syn-cap-ms", "20", "--push-connect-timeout-ms", "200",
                                  *(["--profile", "3way"] if name.startswith(("syn", "ack", "no-ack")) else []),
                                  *(["--profile", "udp_push"] if name.startswith("udppush") else []),
                                  *(["--direction", "push"] if name.startswith("push") else []))
                sent = peer.collect(0.05)
                ok = r.returncode in (1, 4) and "Traceback" not in r.stderr and (sent or True)
                return name, ok, r.stderr
            finally:
                peer.close()

        with ThreadPoolExecutor(max_workers=12) as ex:
            for name, ok, err in ex.map(one, sorted(ms.MUTANTS)):
                with self.subTest(mutant=name):
                    self.assertTrue(ok, err)
        self.assertGreaterEqual(len(ms.MUTANTS), 12)

    def test_some_mutants_visible(self):
        def responder_capture(mutant, count, extra=()):
            peer = Peer()
            try:
                p, port = start_responder("--mutant", mutant, *extra, *RAW)
                peer.send(b"START", port)
                got = [d for _, d, _ in peer.collect(0.5, until=lambda o: len(o) >= count)]
                stop(p)
                return got
            finally:
                peer.close()

        got = responder_capture("seq-start-0", 2)
        self.assertEqual(struct.unpack_from("<Q", got[1], 2)[0], 0)
        got = responder_capture("connid-no-nul", 1)
        self.assertEqual(len(got[0]), 38)
        got = responder_capture("frag-no-shorten", 3)
        self.assertEqual([len(x) for x in got[1:3]], [1400, 27])
        got = responder_capture("seq-big-endian", 2)
        self.assertEqual(got[1][2:10], b"\x00" * 7 + b"\x01")
        peer = Peer()
        try:
            p = spawn_initiator(peer.port, "--mutant", "start-nul", *RAW)
            d, _ = peer.recv(2)
            stop(p)
            self.assertEqual(d, b"START\x00")
        finally:
            peer.close()


if __name__ == "__main__":
    unittest.main()
