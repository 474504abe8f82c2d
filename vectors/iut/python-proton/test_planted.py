"""Planted bugs (--plant) of proton_peer.py: each trigger has its effect, and without the flag the same
input is served normally. Contains the triggers: see ../PLANTED.md (sealed for the network-fuzzing
evaluation).

Run from the repository root:
    target/pyenv/bin/python3 -m unittest discover -s vectors/iut/python-proton -v
"""

import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_proton_peer as t  # noqa: E402  (helpers: ServerProc, connect, req, arun)

E, C = t.E, t.C
CRASH_EVENT = 0x80000000
HANG_COMMIT = 0x7FFFFFFF


def kill(srv):
    if srv.p.poll() is None:
        srv.p.kill()
    srv.stop()


class Planted(unittest.TestCase):
    def exchange(self, port, role, values, timeout=2.0):
        """Open the three streams, send values on role's stream; answers (None after a failure)."""
        async def go():
            out = []
            conn = await t.connect(port)
            try:
                conn.open_proton()
                for v in values:
                    try:
                        out.append(await t.req(conn, role, v, timeout))
                    except Exception:  # noqa: BLE001 -- the server died or stopped answering
                        out.append(None)
                        break
            finally:
                if not conn.link.ended:
                    await conn.close(0, "test done")
                conn.dispose()
            return out
        return t.arun(go(), timeout=timeout * (len(values) + 2) + 3)

    def test_crash(self):
        srv = t.ServerProc("--plant", "crash", profile="project")
        try:
            got = self.exchange(srv.port, E, [1, CRASH_EVENT])
            self.assertEqual(got[0], 1)
            self.assertIsNone(got[1])
            rc = srv.p.wait(timeout=5)
            self.assertEqual(rc, -signal.SIGABRT)
        finally:
            kill(srv)

    def test_hang(self):
        srv = t.ServerProc("--plant", "hang", profile="project")
        try:
            got = self.exchange(srv.port, C, [1, HANG_COMMIT], timeout=1.5)
            self.assertEqual(got, [3, None])
            self.assertIsNone(srv.p.poll(), "the hang must not end the process")

            async def fresh():
                conn = await t.connect(srv.port, handshake_timeout_s=1.5)
                conn.dispose()
            with self.assertRaises(Exception):  # a new connection gets no answer
                t.arun(fresh(), timeout=4)
            self.assertIsNone(srv.p.poll())
        finally:
            kill(srv)

    def test_without_flag_served_normally(self):
        for profile in ("project", "as_coded"):
            srv = t.ServerProc(profile=profile)
            try:
                self.assertEqual(self.exchange(srv.port, E, [1, CRASH_EVENT, CRASH_EVENT + 1]),
                                 [1, CRASH_EVENT, CRASH_EVENT + 1])
                self.assertEqual(self.exchange(srv.port, C, [1, HANG_COMMIT, 5]), [3, HANG_COMMIT + 2, 7])
                self.assertIsNone(srv.p.poll())
            finally:
                self.assertEqual(srv.stop(), 0)

    def test_other_plant_served_normally(self):
        srv = t.ServerProc("--plant", "hang", profile="project")
        try:
            self.assertEqual(self.exchange(srv.port, E, [1, CRASH_EVENT]), [1, CRASH_EVENT])
        finally:
            self.assertEqual(srv.stop(), 0)
        srv = t.ServerProc("--plant", "crash", profile="project")
        try:
            self.assertEqual(self.exchange(srv.port, C, [HANG_COMMIT]), [HANG_COMMIT + 2])
        finally:
            self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
