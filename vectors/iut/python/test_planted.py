"""Planted bugs (--plant) of mediastream_peer.py: each trigger has its effect, and without the flag the
same input is served normally. Contains the triggers: see ../PLANTED.md (sealed for the
network-fuzzing evaluation).

Run from /work/main:  python3 -m unittest discover -s vectors/iut/python
"""

import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mediastream_peer as mp  # noqa: E402
import test_mediastream_peer as t  # noqa: E402  (helpers: start_responder, stop_responder, Peer, syn, ack)

ARGS = ["--stream-length", "1", "--frame-rate", "50"]
CRASH_OPTIONS = bytes.fromhex("03 0400 01000000  05 0400 78050000")
HANG_OPTIONS = bytes.fromhex("01 0400 a0860100  04 0400 68323634")


def synacks(peer):
    return [mp.classify(d) for _, d in peer.of_kind("synack")]


class Planted(unittest.TestCase):
    def start(self, *extra):
        proc, port = t.start_responder(ARGS + list(extra))
        self.addCleanup(self.finish, proc)
        return proc, ("127.0.0.1", port)

    @staticmethod
    def finish(proc):
        if proc.poll() is None:
            proc.kill()
        proc.communicate()

    def answered(self, addr, options, wait=2.0):
        """A SYN with options from a fresh socket: the SYN-ACKs it got within wait seconds."""
        peer = t.Peer()
        try:
            peer.send(t.syn(options=options), addr)
            peer.collect(wait, until=lambda log: any(t.kind_of(d) == "synack" for _, d, _ in log))
            return synacks(peer)
        finally:
            peer.close()

    def test_crash(self):
        proc, addr = self.start("--plant", "crash")
        self.assertEqual(len(self.answered(addr, b"")), 1)  # a plain SYN is served
        peer = t.Peer()
        peer.send(t.syn(options=CRASH_OPTIONS), addr)
        peer.close()
        self.assertEqual(proc.wait(timeout=5), -signal.SIGABRT)

    def test_hang(self):
        proc, addr = self.start("--plant", "hang")
        self.assertEqual(len(self.answered(addr, b"")), 1)
        self.assertEqual(self.answered(addr, HANG_OPTIONS, wait=1.0), [])
        self.assertEqual(self.answered(addr, b"", wait=1.5), [])  # nobody is served any more
        self.assertIsNone(proc.poll(), "the hang must not end the process")

    def test_without_flag_served_normally(self):
        for extra in ((), ("--plant", "hang"), ("--plant", "crash")):
            proc, addr = self.start(*extra)
            for options in ((CRASH_OPTIONS,) if "crash" not in extra else ()) + \
                           ((HANG_OPTIONS,) if "hang" not in extra else ()):
                got = self.answered(addr, options)
                self.assertEqual(len(got), 1, (extra, options))
                self.assertEqual(got[0].flags, 1)  # accepted
            self.assertEqual(len(self.answered(addr, b"")), 1)
            self.assertIsNone(proc.poll())
            rc, _ = t.stop_responder(proc)
            self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
