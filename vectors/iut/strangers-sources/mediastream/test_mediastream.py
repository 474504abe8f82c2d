"""Quick loopback self-test for mediastream.py (python -m unittest test_mediastream, < 60 s)."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = os.path.join(HERE, "mediastream.py")
sys.path.insert(0, HERE)
import mediastream as ms  # noqa: E402

STREAM = ["--bits-per-second", "400000", "--frame-rate", "50", "--stream-length", "1", "--buffer-depth", "1"]


def start_responder(*extra):
    p = subprocess.Popen([sys.executable, PROG, "responder", "--listen", "127.0.0.1:0", *STREAM, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    assert "listening on" in line, line
    return p, int(line.strip().rsplit(":", 1)[1])


def run_initiator(port, *extra, timeout=15):
    return subprocess.run([sys.executable, PROG, "initiator", "--target", "127.0.0.1:%d" % port, *STREAM, *extra],
                          capture_output=True, text=True, timeout=timeout)


def stop(p):
    t = time.monotonic()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=2)
    p.stdout.close()
    return rc, time.monotonic() - t


class Units(unittest.TestCase):
    def test_split(self):
        self.assertEqual(ms.split_frame(1000, 1400), [1000])
        self.assertEqual(sum(ms.split_frame(2810, 1400)), 2810)
        self.assertTrue(all(x > ms.HEADER_LEN for x in ms.split_frame(1420, 1400)))
        self.assertEqual(ms.split_frame(1420, 1400), [1393, 27])

    def test_params(self):
        p = ms.Params(1000000, 1000, 5, 1, 1400)
        self.assertEqual((p.frame_size, p.frames, p.buffered), (125, 5000, 1000))

    def test_pattern(self):
        self.assertEqual(ms.PATTERN[:6], b"\x00\x00\x01\x00\x02\x00")

    def test_mutants_json(self):
        with open(os.path.join(HERE, "mutants.json")) as f:
            self.assertEqual(set(json.load(f)), set(ms.MUTANTS))


class Loopback(unittest.TestCase):
    def test_legacy(self):
        p, port = start_responder()
        try:
            r = run_initiator(port)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("ok=50", r.stdout)
        finally:
            rc, dt = stop(p)
        self.assertEqual(rc, 0)
        self.assertLess(dt, 0.5)

    def test_3way_and_optimistic(self):
        for extra in ([], ["--optimistic"], ["--cid-after-ack"]):
            p, port = start_responder("--profile", "3way", *extra)
            try:
                r = run_initiator(port, "--profile", "3way")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            finally:
                stop(p)

    def test_3way_wire(self):
        """Raw SYN -> SYN-ACK -> ACK, and no media before the ACK."""
        p, port = start_responder("--profile", "3way")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        try:
            s.sendto(ms.ctrl(ms.FLAG_SYN, 1, 0, b"\0" * 37), ("127.0.0.1", port))
            d, _ = s.recvfrom(2048)
            self.assertEqual(len(d), 67)
            self.assertEqual(struct.unpack_from("<H", d)[0], ms.FLAG_SYNACK)
            self.assertEqual(d[26:28], b"\x01\x01")
            cid = d[30:67]
            s.settimeout(0.15)
            try:
                d2, _ = s.recvfrom(2048)
                self.assertEqual(struct.unpack_from("<H", d2)[0], ms.FLAG_SYNACK)  # only retransmissions
            except socket.timeout:
                pass
            s.sendto(ms.ctrl(ms.FLAG_ACK, 1, 0, cid), ("127.0.0.1", port))
            s.settimeout(1.0)
            while True:
                d, _ = s.recvfrom(2048)
                if struct.unpack_from("<H", d)[0] == ms.FLAG_DATA:
                    break
            self.assertEqual(struct.unpack_from("<q", d, 2)[0], 1)
        finally:
            s.close()
            stop(p)

    def test_legacy_start_gate(self):
        p, port = start_responder("--profile", "3way")
        try:
            r = run_initiator(port, "--profile", "legacy")
            self.assertNotEqual(r.returncode, 0)
        finally:
            stop(p)
        p, port = start_responder("--profile", "3way", "--allow-legacy-start")
        try:
            r = run_initiator(port, "--profile", "legacy")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            stop(p)

    def test_unsupported(self):
        r = run_initiator(9, "--profile", "udp_push")
        self.assertEqual(r.returncode, 89)
        r = run_initiator(9, "--direction", "push")
        self.assertEqual(r.returncode, 89)

    def test_a_mutant_is_caught(self):
        p, port = start_responder("--mutant", "pattern-shift")
        try:
            r = run_initiator(port, "--verify", "data")
            self.assertNotEqual(r.returncode, 0)
        finally:
            stop(p)


if __name__ == "__main__":
    unittest.main()
