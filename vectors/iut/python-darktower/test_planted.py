"""Planted bugs (--plant) of darktower_peer.py: each trigger has its effect, and without the flag the
same input is served normally. Contains the triggers: see ../PLANTED.md (sealed for the
network-fuzzing evaluation).

Run from the repository root:
    target/pyenv/bin/python3 -m unittest discover -s vectors/iut/python-darktower -v
"""

import asyncio
import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import darktower_peer as dp  # noqa: E402
import test_darktower_peer as t  # noqa: E402  (helpers: ServerProc, join, connect, tokens, certificate)

W = 4.0  # answer wait


def setUpModule():
    t.setUpModule()


def tearDownModule():
    t.tearDownModule()


def publish(cc, sig, stream_id, stream_type):
    cc.send(sig, dp.frame_msg("ClientMessage", {"publish_stream": dict(
        stream_id=stream_id, stream_type=stream_type, metadata=dict(codec="VP09"))}))


def controller(*extra):
    return t.ServerProc("controller", "--handler-url", "https://127.0.0.1:9/media", *extra)


def kill(srv):
    if srv.p.poll() is None:
        srv.p.kill()
    srv.stop()


U = bytes(range(16))
HEADER = dp.build_header(U, 1, b"VP09")


def key_frame(flags):
    return dp.build_frame(1, U, 10, 0, b"abcde", flags)


class PlantedController(unittest.TestCase):
    def screen_share(self, ctl, wait=W):
        """ann publishes a screen alone, then with ben present; what ben hears (None if nothing)."""
        async def go():
            url = ctl.url("/signaling")
            a, sa, ma = await t.join(url, t.join_token(sub="pa"), name="ann")
            b = None
            try:
                self.assertEqual(ma and ma["_which"], "join_response")
                publish(a, sa, "scr-0", dp.VIDEO_SCREEN)
                b, sb, mb = await t.join(url, t.join_token(sub="pb"), name="ben")
                self.assertEqual(mb and mb["_which"], "join_response")
                publish(a, sa, "scr-1", dp.VIDEO_SCREEN)
                return await t.next_msg(b, sb, timeout=wait, which="stream_published")
            finally:
                for cc in (a, b):
                    if cc is not None:
                        try:
                            await asyncio.wait_for(cc.close(grace_s=0.1), 2)
                        except Exception:  # noqa: BLE001
                            cc.dispose()
        return t.arun(go(), timeout=25)

    def test_crash(self):
        ctl = controller("--plant", "crash")
        try:
            self.assertIsNone(self.screen_share(ctl, wait=2.0))
            self.assertEqual(ctl.p.wait(timeout=5), -signal.SIGABRT)
        finally:
            kill(ctl)

    def test_without_flag_served_normally(self):
        for extra in ((), ("--plant", "hang")):
            ctl = controller(*extra)
            try:
                msg = self.screen_share(ctl)
                self.assertEqual(msg and msg["stream_published"]["stream"]["stream_id"], "scr-1")
                self.assertEqual(msg["stream_published"]["stream"]["stream_type"], dp.VIDEO_SCREEN)
                self.assertIsNone(ctl.p.poll())
            finally:
                self.assertEqual(ctl.stop(), 0)


class PlantedHandler(unittest.TestCase):
    async def auth(self, url, pid, jti):
        cc = await t.connect(url, timeout_s=W)
        a = cc.open(uni=False)
        cc.send(a, dp.frame_msg("MediaClientMessage", {"connect_request": dict(join_token=t.media_token(pid, jti=jti))}))
        msg = await cc.read_msg(a, "MediaServerMessage", W)
        self.assertEqual(msg and msg["_which"], "connect_response")
        return cc

    def forward(self, h, flags, wait=W):
        """p1 sends a key frame with flags; the bytes p2 gets forwarded (None if nothing came)."""
        async def go():
            url = h.url("/media")
            a = await self.auth(url, "p1", f"a{flags}")
            b = await self.auth(url, "p2", f"b{flags}")
            try:
                m = a.open(uni=True)
                a.send(m, HEADER + key_frame(flags))
                want = len(HEADER) + len(key_frame(flags))
                ok = await b.wait(lambda: any(k % 4 == 3 and len(v) >= want for k, v in b.rx.items()), wait)
                return bytes(next(v for k, v in b.rx.items() if k % 4 == 3)) if ok else None
            finally:
                for cc in (a, b):
                    try:
                        await asyncio.wait_for(cc.close(grace_s=0.1), 2)
                    except Exception:  # noqa: BLE001
                        cc.dispose()
        return t.arun(go(), timeout=25)

    def test_hang(self):
        h = t.ServerProc("handler", "--plant", "hang")
        try:
            self.assertEqual(self.forward(h, 1), HEADER + key_frame(1))
            self.assertIsNone(self.forward(h, 3, wait=2.0))
            self.assertIsNone(h.p.poll(), "the hang must not end the process")

            async def fresh():
                cc = await t.connect(h.url("/media"), timeout_s=1.5)
                cc.dispose()
            with self.assertRaises(Exception):  # a new session gets no answer
                t.arun(fresh(), timeout=4)
            self.assertIsNone(h.p.poll())
        finally:
            kill(h)

    def test_without_flag_served_normally(self):
        for extra in ((), ("--plant", "crash")):
            h = t.ServerProc("handler", *extra)
            try:
                self.assertEqual(self.forward(h, 3), HEADER + key_frame(3))
                self.assertIsNone(h.p.poll())
            finally:
                self.assertEqual(h.stop(), 0)


if __name__ == "__main__":
    unittest.main()
