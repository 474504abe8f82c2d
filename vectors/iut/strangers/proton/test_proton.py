#!/usr/bin/env python3
"""Loopback tests for proton.py (client vs server, close codes, mutants).

Run:  python3 -m unittest -v test_proton      (from this folder)
Uses short timers; the whole file takes well under 90 s.
"""

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = os.path.join(HERE, "proton.py")
PY = sys.executable
FAST = ["--startup-delay", "0", "--idle", "3", "--keep-alive", "1"]

sys.path.insert(0, HERE)
import proton  # noqa: E402


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, *extra, quiet=True):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [PY, PROG, "server", "--listen", f"127.0.0.1:{self.port}", *FAST,
             *(["-q"] if quiet else []), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ready_line = self.proc.stdout.readline().strip()
        self.started = self.ready_line.startswith("Server listening on")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
            _, err = self.proc.communicate()
        self.stderr = err
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def run_client(port, *extra, timeout=30):
    p = subprocess.run(
        [PY, PROG, "client", "--connect", f"127.0.0.1:{port}", "--idle", "3",
         "--keep-alive", "1", "--connect-attempts", "1", *extra],
        capture_output=True, text=True, timeout=timeout,
    )
    return p.returncode, p.stdout, p.stderr


# --------------------------------------------------------------------------
# a raw client that can break the protocol on purpose
# --------------------------------------------------------------------------


class RawConn(QuicConnectionProtocol):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.data = {}
        self.closed = asyncio.Event()
        self.handshake = asyncio.Event()
        self.close_event = None

    def quic_event_received(self, ev):
        if isinstance(ev, events.StreamDataReceived):
            self.data.setdefault(ev.stream_id, bytearray()).extend(ev.data)
        elif isinstance(ev, events.HandshakeCompleted):
            self.handshake.set()

    def datagram_received(self, data, addr):
        super().datagram_received(data, addr)
        self._check()

    def _handle_timer(self):
        super()._handle_timer()
        self._check()

    def _check(self):
        if self._quic._close_event is not None and not self.closed.is_set():
            self.close_event = self._quic._close_event
            self.closed.set()

    def send(self, sid, data, fin=False):
        self._quic.send_stream_data(sid, data, end_stream=fin)
        self.transmit()

    async def read(self, sid, n, timeout=3):
        end = time.monotonic() + timeout
        while len(self.data.get(sid, b"")) < n:
            if time.monotonic() > end:
                raise TimeoutError
            await asyncio.sleep(0.01)
        buf = self.data[sid]
        out = bytes(buf[:n])
        del buf[:n]
        return out

    async def wait_close(self, timeout=5):
        await asyncio.wait_for(self.closed.wait(), timeout)
        ev = self.close_event
        return ev.error_code, ev.frame_type, ev.reason_phrase


async def raw_connect(port, alpn="proton", idle=5.0):
    loop = asyncio.get_event_loop()
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[alpn], verify_mode=ssl.CERT_NONE,
                            server_name="localhost", idle_timeout=idle)
    _, proto = await loop.create_datagram_endpoint(
        lambda: RawConn(QuicConnection(configuration=cfg)), local_addr=("127.0.0.1", 0))
    proto.connect(("127.0.0.1", port))
    done = asyncio.ensure_future(proto.handshake.wait())
    closed = asyncio.ensure_future(proto.closed.wait())
    await asyncio.wait([done, closed], timeout=5, return_when=asyncio.FIRST_COMPLETED)
    done.cancel()
    closed.cancel()
    return proto


def u32(v):
    return v.to_bytes(4, "little")


async def setup3(c, discs=(1, 2, 3)):
    for i, d in enumerate(discs):
        c.send(4 * i, bytes([d]))


def raw(coro):
    return asyncio.run(coro)


# --------------------------------------------------------------------------


class RoundTrip(unittest.TestCase):
    def test_as_coded_default_plan(self):
        with Server() as s:
            self.assertTrue(s.started, s.ready_line)
            rc, out, err = run_client(s.port)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("commit 10 -> 12 ok", out)
            self.assertIn("action -> 2 ok", out)
            self.assertIn("closed (code 0)", out)

    def test_project_pull_and_plan(self):
        with Server("--profile", "project") as s:
            rc, out, err = run_client(
                s.port, "--profile", "project",
                "--plan", "e:5,e:9,c:0,a*2,c:4294967293,sleep:0.1,a")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("event 9 -> echo 9 ok", out)
            self.assertIn("commit 4294967293 -> 4294967295 ok", out)
            self.assertIn("action -> 2 ok", out)

    def test_project_push(self):
        with Server("--profile", "project", "--action-mode", "push", "--push-interval", "0.05") as s:
            rc, out, err = run_client(s.port, "--profile", "project", "--action-mode", "push",
                                      "--plan", "a*4,e")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("action -> 3 ok", out)

    def test_overflow_as_coded_wraps_project_closes_5(self):
        with Server() as s:
            rc, out, err = run_client(s.port, "--plan", "c:0xFFFFFFFE,c:0xFFFFFFFF")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("commit 4294967294 -> 0 ok", out)
            self.assertIn("commit 4294967295 -> 1 ok", out)
        with Server("--profile", "project") as s:
            rc, out, err = run_client(s.port, "--profile", "project", "--plan", "c:0xFFFFFFFE")
            self.assertEqual(rc, proton.EXIT_PEER_CLOSED, out + err)
            self.assertIn("application code 5", err)

    def test_p4_reset_and_as_coded_reset(self):
        with Server("--profile", "project") as s:
            t0 = time.monotonic()
            rc, out, err = run_client(s.port, "--profile", "project", "--plan", "e,reset,e,c")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("reset: server closed with code 0", out)
            self.assertEqual(out.count("connected to"), 2)
            self.assertLess(time.monotonic() - t0, 4)
        with Server() as s:
            rc, out, err = run_client(s.port, "--plan", "e,reset,e", "--reset-wait", "0.2")
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(out.count("connected to"), 2)

    def test_repl(self):
        with Server() as s:
            p = subprocess.run(
                [PY, PROG, "client", "--repl", "--connect", f"127.0.0.1:{s.port}", "-q"],
                input="connect 0; 2 send_event; commit 7\nread_action;read_action\nsleep 0.1\nclose\nexit\n",
                capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("event 2 -> echo 2 ok", p.stdout)
            self.assertIn("commit 7 -> 9 ok", p.stdout)
            self.assertIn("action -> 1 ok", p.stdout)

    def test_second_connection_refused(self):
        async def go(port):
            a = await raw_connect(port)
            self.assertTrue(a.handshake.is_set())
            b = await raw_connect(port)
            code, ftype, _ = await b.wait_close()
            self.assertEqual(code, 0x2)  # CONNECTION_REFUSED
            self.assertIsNotNone(ftype)  # transport close
            a.close()
            await asyncio.sleep(0.1)
            c = await raw_connect(port)  # slot free again at once
            self.assertTrue(c.handshake.is_set())
            c.close()
            for x in (a, b, c):
                x._transport.close()
        with Server() as s:
            raw(go(s.port))


class CloseCodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--accept-timeout", "0.6", "--op-timeout", "0.8")
        cls.proj = Server("--profile", "project", "--disc-timeout", "0.3", "--accept-timeout", "0.6")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.proj.stop()

    def expect(self, scenario, code, server=None):
        server = server or self.srv

        async def go():
            c = await raw_connect(server.port)
            self.assertTrue(c.handshake.is_set())
            await scenario(c)
            got = await c.wait_close()
            c._transport.close()
            return got

        got_code, ftype, reason = raw(go())
        self.assertIsNone(ftype, "expected an application close")
        self.assertEqual(got_code, code, reason)
        time.sleep(0.05)

    def test_bad_discriminator(self):
        async def sc(c):
            c.send(0, b"\x07")
        self.expect(sc, 1)

    def test_zero_discriminator_late_stream(self):
        async def sc(c):
            await setup3(c, (1, 2))
            c.send(8, b"\x00")
        self.expect(sc, 1)

    def test_repeated_discriminator(self):
        async def sc(c):
            await setup3(c, (2, 2))
        self.expect(sc, 1)

    def test_ff_is_bad_in_as_coded(self):
        async def sc(c):
            c.send(0, b"\xff")
        self.expect(sc, 1)

    def test_non_increasing_event(self):
        async def sc(c):
            await setup3(c)
            c.send(0, u32(5))
            self.assertEqual(await c.read(0, 4), u32(5))
            c.send(0, u32(5))
        self.expect(sc, 5)

    def test_event_zero(self):
        async def sc(c):
            await setup3(c)
            c.send(0, u32(0))
        self.expect(sc, 5)

    def test_event_gaps_allowed_and_echo(self):
        async def sc(c):
            await setup3(c)
            for v in (1, 7, 1000):
                c.send(0, u32(v))
                self.assertEqual(await c.read(0, 4), u32(v))
            c.send(4, u32(1))
            self.assertEqual(await c.read(4, 4), u32(3))
            c.send(8, u32(99))
            c.send(8, u32(99))
            self.assertEqual(await c.read(8, 8), u32(0) + u32(1))
            c.send(0, u32(1000))
        self.expect(sc, 5)

    def test_fin_before_discriminator(self):
        async def sc(c):
            c.send(0, b"", fin=True)
        self.expect(sc, 1)

    def test_fin_after_setup(self):
        async def sc(c):
            await setup3(c)
            c.send(4, b"", fin=True)
        self.expect(sc, 5)

    def test_fin_inside_u32(self):
        async def sc(c):
            await setup3(c)
            c.send(8, b"\x01\x02", fin=True)
        self.expect(sc, 5)

    def test_reset_after_setup(self):
        async def sc(c):
            await setup3(c)
            await asyncio.sleep(0.05)
            c._quic.reset_stream(0, 9)
            c.transmit()
        self.expect(sc, 5)

    def test_accept_timeout(self):
        async def sc(c):
            await setup3(c, (1, 2))
        self.expect(sc, 3)

    def test_operation_timeout(self):
        async def sc(c):
            await setup3(c)
        self.expect(sc, 4)

    def test_p1_overflow(self):
        async def sc(c):
            await setup3(c)
            c.send(4, u32(0xFFFFFFFE))
        self.expect(sc, 5, self.proj)

    def test_p3_discriminator_deadline(self):
        async def sc(c):
            c.send(4, b"\x02")  # opens stream 0 implicitly, with no discriminator
        self.expect(sc, 1, self.proj)

    def test_p4_reset_stream(self):
        async def sc(c):
            await setup3(c)
            await asyncio.sleep(0.05)
            c.send(12, b"\xff")
        self.expect(sc, 0, self.proj)


class Mutants(unittest.TestCase):
    def test_every_server_mutant_starts(self):
        names = [n for n, (r, _) in proton.MUTANTS.items() if r == "server"]

        def start(name):
            prof = ["--profile", "project"] if name.startswith("p") and name[1].isdigit() else []
            s = Server("--mutant", name, *prof)
            ok = s.started
            s.stop()
            return name, ok

        with ThreadPoolExecutor(max_workers=8) as ex:
            results = list(ex.map(start, names))
        for name, ok in results:
            self.assertTrue(ok, name)

    def test_client_mutants_visible(self):
        expected = {
            "client-event-repeat": proton.EXIT_PEER_CLOSED,
            "client-bad-disc": proton.EXIT_PEER_CLOSED,
            "client-big-endian": proton.EXIT_MISMATCH,
            "client-wrong-alpn": proton.EXIT_CONNECT,
            "client-close-code-1": proton.EXIT_OK,
            "client-expect-times-two": proton.EXIT_MISMATCH,
            "client-action-no-write": proton.EXIT_TIMEOUT,
        }
        self.assertEqual(set(expected),
                         {n for n, (r, _) in proton.MUTANTS.items() if r == "client"})
        with Server("--accept-timeout", "1", quiet=False) as s:
            for name, rc_expected in expected.items():
                rc, out, err = run_client(s.port, "--mutant", name, "--op-timeout", "0.5",
                                          "--plan", "e*2,c*2,a*2")
                self.assertEqual(rc, rc_expected, f"{name}: {out}{err}")
                time.sleep(0.05)
            s.stop()
            self.assertIn("application code 0x1", s.stderr)  # client-close-code-1

    def test_server_mutants_killed_by_raw_scenarios(self):
        """Each server mutant is told apart from the correct server on the wire."""

        async def close_of(port, scenario, wait=2.0):
            c = await raw_connect(port)
            try:
                if not c.handshake.is_set():
                    return ("no-handshake",)
                await scenario(c)
                try:
                    code, ftype, _ = await c.wait_close(wait)
                except asyncio.TimeoutError:
                    return None
                return (code, "app" if ftype is None else "transport")
            finally:
                c._transport.close()

        async def s_repeat(c):
            await setup3(c)
            c.send(0, u32(5))
            await c.read(0, 4)
            c.send(0, u32(5))

        async def s_dup(c):
            await setup3(c, (2, 2))

        async def s_bad(c):
            c.send(0, b"\x09")

        async def s_two(c):
            await setup3(c, (1, 2))

        async def s_fin_before(c):
            c.send(0, b"", fin=True)

        async def s_fin_all(c):
            await setup3(c)
            for sid in (0, 4, 8):
                c.send(sid, b"", fin=True)

        async def s_p3(c):
            c.send(4, b"\x02")

        async def s_p4(c):
            await setup3(c)
            await asyncio.sleep(0.05)
            c.send(12, b"\xff")

        async def second(port):
            a = await raw_connect(port)
            b = await raw_connect(port)
            try:
                if b.closed.is_set():
                    ev = b.close_event
                    return (ev.error_code, "app" if ev.frame_type is None else "transport")
                try:
                    code, ftype, _ = await b.wait_close(1.0)
                    return (code, "app" if ftype is None else "transport")
                except asyncio.TimeoutError:
                    return "served"
            finally:
                a._transport.close()
                b._transport.close()

        async def params(port):
            c = await raw_connect(port)
            c._transport.close()
            return (c._quic._remote_max_streams_bidi, c._quic._remote_max_idle_timeout)

        A, P = [], ["--profile", "project", "--disc-timeout", "0.3"]
        T = ["--accept-timeout", "0.5"]
        cases = {
            # mutant: (server args, probe(port) -> observation)
            "event-allow-repeat": (A, lambda p: close_of(p, s_repeat, 1.0)),
            "dup-disc-accepted": (A + T, lambda p: close_of(p, s_dup)),
            "bad-disc-code-5": (A, lambda p: close_of(p, s_bad)),
            "setup-timeout-code-2": (A + T, lambda p: close_of(p, s_two)),
            "second-conn-app-close": (A, second),
            "second-conn-accepted": (A, second),
            "four-streams": (A, params),
            "idle-doubled": (A, params),
            "early-fin-code-0": (A, lambda p: close_of(p, s_fin_before)),
            "fin-boundary-ignored": (A, lambda p: close_of(p, s_fin_all)),
            "p3-no-disc-timeout": (P + T, lambda p: close_of(p, s_p3, 1.5)),
            "p4-reset-refused": (P, lambda p: close_of(p, s_p4)),
        }

        def observe(args, probe, mutant=None):
            extra = list(args) + (["--mutant", mutant] if mutant else [])
            with Server(*extra) as s:
                return asyncio.run(probe(s.port))

        def job(item):
            name, (args, probe) = item
            return name, observe(args, probe), observe(args, probe, name)

        with ThreadPoolExecutor(max_workers=8) as ex:
            results = list(ex.map(job, cases.items()))
        for name, good, bad in results:
            self.assertNotEqual(good, bad, f"{name}: correct={good} mutant={bad}")
        got = {name: (good, bad) for name, good, bad in results}
        self.assertEqual(got["second-conn-app-close"][0], (0x2, "transport"))
        self.assertEqual(got["four-streams"][0][0], 3)
        self.assertEqual(got["idle-doubled"][0][1], 3.0)

    def test_no_startup_delay_mutant(self):
        t0 = time.monotonic()
        with Server("--startup-delay", "2") as s:
            self.assertTrue(s.started)
            self.assertGreaterEqual(time.monotonic() - t0, 2.0)
        t0 = time.monotonic()
        with Server("--startup-delay", "2", "--mutant", "no-startup-delay") as s:
            self.assertTrue(s.started)
            self.assertLess(time.monotonic() - t0, 1.9)

    def test_some_server_mutants_visible(self):
        cases = [
            ("commit-times-two", [], "c:5", proton.EXIT_MISMATCH),
            ("event-echo-plus-one", [], "e", proton.EXIT_MISMATCH),
            ("action-counter-from-1", [], "a", proton.EXIT_MISMATCH),
            ("big-endian", [], "c:1", proton.EXIT_MISMATCH),
            ("p1-overflow-wraps", ["--profile", "project"], "c:0xFFFFFFFF", proton.EXIT_MISMATCH),
        ]
        for name, prof, plan, rc_expected in cases:
            with Server("--mutant", name, *prof) as s:
                rc, out, err = run_client(s.port, *prof, "--plan", plan)
                self.assertEqual(rc, rc_expected, f"{name}: {out}{err}")


if __name__ == "__main__":
    unittest.main()
