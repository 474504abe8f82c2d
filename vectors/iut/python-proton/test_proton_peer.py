"""Self-tests of proton_peer.py: its server and client (and small scripted clients built on its
ClientConnection) against each other over 127.0.0.1, ephemeral ports, small timers.

Run from the repository root:
    target/pyenv/bin/python3 -m unittest discover -s vectors/iut/python-proton -v
"""

import asyncio
import gc
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "proton_peer.py")
sys.path.insert(0, HERE)

import proton_peer as pp  # noqa: E402

PY = sys.executable
ENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
HOST = "127.0.0.1"


class ServerProc:
    """proton_peer.py server on an ephemeral port; stderr lines are collected."""

    def __init__(self, *args, profile="as_coded", idle_ms=3000, accept_ms=400, op_ms=800,
                 startup_ms=0, disc_ms=None, keepalive_ms=1000):
        cmd = [PY, PEER, "server", "--listen", f"{HOST}:0", "--profile", profile,
               "--idle-ms", str(idle_ms), "--keepalive-ms", str(keepalive_ms),
               "--accept-ms", str(accept_ms), "--op-ms", str(op_ms), "--startup-ms", str(startup_ms)]
        if disc_ms is not None:
            cmd += ["--disc-ms", str(disc_ms)]
        cmd += list(args)
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        self.err = []
        self.out = []
        self.cv = threading.Condition()
        self.bound_at = None
        self.listening_at = None
        self.threads = [threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True),
                        threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True)]
        for t in self.threads:
            t.start()
        m = self.wait_for(self.err, r"^bound \S+:(\d+)", 10)
        self.port = int(m.group(1))
        self.wait_for(self.out, r"^Server listening$", 10 + startup_ms / 1000)

    def _pump(self, f, sink):
        for line in f:
            with self.cv:
                sink.append((time.monotonic(), line.rstrip("\n")))
                self.cv.notify_all()

    def wait_for(self, sink, pattern, timeout=5.0, start=0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for _, line in sink[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r}; got {[x for _, x in sink]}")
                self.cv.wait(left)

    def log(self, pattern, timeout=5.0):
        return self.wait_for(self.err, pattern, timeout)

    def lines(self):
        with self.cv:
            return [x for _, x in self.err]

    def line_time(self, sink, pattern):
        with self.cv:
            for t, line in sink:
                if re.search(pattern, line):
                    return t
        return None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = None
        for t in self.threads:
            t.join(2)
        for f in (self.p.stdout, self.p.stderr):
            f.close()
        return rc


def run_client(port, *args, profile="as_coded", events=3, commits=3, actions=3, timeout=20):
    cmd = [PY, PEER, "client", "--target", f"{HOST}:{port}", "--profile", profile,
           "--idle-ms", "3000", "--keepalive-ms", "1000", "--op-ms", "3000",
           "--events", str(events), "--commits", str(commits), "--actions", str(actions)] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)
    return p.returncode, p.stdout.strip(), p.stderr


def arun(coro, timeout=15):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def connect(port, **kw):
    kw.setdefault("idle_ms", 3000)
    kw.setdefault("keepalive_ms", 0)
    kw.setdefault("handshake_timeout_s", 3.0)
    return await pp.ClientConnection.connect(HOST, port, **kw)


async def closed(conn, timeout=3.0):
    """The close the connection ended with (dict), or None if still open after timeout."""
    link = conn.link
    await link.wait_until(lambda: link.ended, link.loop.time() + timeout, allow_end=True)
    info = link.close_info
    return info


async def req(conn, role, value, timeout=2.0):
    return await conn.request(role, value, timeout)


E, C, A = pp.DISC_EVENT, pp.DISC_COMMIT, pp.DISC_ACTION


class ServerCase(unittest.TestCase):
    server_args = ()
    server_kw = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = ServerProc(*cls.server_args, **cls.server_kw)
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        assert rc == 0, f"server exit code after SIGTERM: {rc}"

    def assertAppClose(self, info, code, reason=None):
        self.assertIsNotNone(info, "connection still open")
        self.assertEqual(info["kind"], "peer", info)
        self.assertFalse(info["transport"], info)
        self.assertEqual(info["code"], code, info)
        if reason is not None:
            self.assertEqual(info["reason"], reason, info)

    def scripted(self, body, **kw):
        async def go():
            conn = await connect(self.port, **kw)
            try:
                return await body(conn)
            finally:
                if not conn.link.ended:
                    await conn.close(0, "test done")
                conn.dispose()
        return arun(go())


# ------------------------------------------------------------------------------------------
class AsCodedServer(ServerCase):
    server_kw = dict(profile="as_coded")

    def test_happy_path(self):
        rc, out, _ = run_client(self.port, events=5, commits=5, actions=5)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out, "RESULT=ok events=5 commits=5 actions=5")

    def test_commit_wraps(self):
        async def body(conn):
            conn.open_proton()
            return [await req(conn, C, r) for r in (0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF, 7)]
        self.assertEqual(self.scripted(body), [0xFFFFFFFF, 0, 1, 9])

    def test_max_streams_three(self):
        async def body(conn):
            conn.open_proton()
            await req(conn, E, 1)
            return conn.link.quic._remote_max_streams_bidi
        self.assertEqual(self.scripted(body), 3)

    def test_bad_discriminator(self):
        async def body(conn):
            conn.open_stream(b"\x07")
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 1)

    def test_reset_discriminator_without_option(self):
        async def body(conn):
            conn.open_stream(b"\xff")
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 1)

    def test_repeated_discriminator(self):
        async def body(conn):
            conn.open_proton((E, E, A))
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 1)

    def test_event_id_rules(self):
        for ids in ([0], [1, 1], [3, 2], [5, 9, 9]):
            async def body(conn, ids=ids):
                conn.open_proton()
                got = []
                for i in ids[:-1]:
                    got.append(await req(conn, E, i))
                conn.link.send(conn.streams[E], pp.U32.pack(ids[-1]))
                return got, await closed(conn)
            got, info = self.scripted(body)
            self.assertEqual(got, ids[:-1])
            self.assertAppClose(info, 5)

    def test_event_gaps_allowed(self):
        async def body(conn):
            conn.open_proton()
            return [await req(conn, E, i) for i in (1, 5, 6, 100, 0xFFFFFFFF)]
        self.assertEqual(self.scripted(body), [1, 5, 6, 100, 0xFFFFFFFF])

    def test_action_pull_counter(self):
        async def body(conn):
            conn.open_proton()
            return [await req(conn, A, v) for v in (42, 0, 7, 42)]
        self.assertEqual(self.scripted(body), [0, 1, 2, 3])

    def test_fin_at_boundary_closes_5(self):
        # P5 (corrected): after the setup a FIN ends the read of the next u32 early
        async def body(conn):
            conn.open_proton()
            echo = await req(conn, E, 1)
            conn.link.send(conn.streams[E], pp.U32.pack(2), end=True)  # served first, then FIN
            echo2 = await req(conn, E, None)
            return echo, echo2, await closed(conn)
        echo, echo2, info = self.scripted(body)
        self.assertEqual((echo, echo2), (1, 2))
        self.assertAppClose(info, 5)

    def test_fin_inside_u32_closes_5(self):
        async def body(conn):
            conn.open_proton()
            conn.link.send(conn.streams[C], b"\x01\x02", end=True)
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 5)

    def test_early_fin_closes_1(self):
        # P5: a stream that ends before its discriminator fails its setup
        async def body(conn):
            sid = conn.link.quic.get_next_available_stream_id()
            conn.link.send(sid, b"", end=True)
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 1)

    def test_reset_before_discriminator_closes_1(self):
        # P5: a stream reset before its discriminator fails its setup (when the setup reaches it)
        async def body(conn):
            conn.open_stream(bytes([E]))
            sid = conn.link.quic.get_next_available_stream_id()
            conn.link.reset_stream(sid, 9)
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 1)

    def test_reset_stream_closes_5(self):
        async def body(conn):
            conn.open_proton()
            await req(conn, E, 1)
            conn.link.reset_stream(conn.streams[C], 9)
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 5)

    def test_stop_sending_closes_5(self):
        async def body(conn):
            conn.open_proton()
            await req(conn, A, 42)
            conn.link.stop_sending(conn.streams[A], 9)
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 5)

    def test_accept_timeout_closes_3(self):
        async def body(conn):
            t = time.monotonic()
            info = await closed(conn, 3)
            return info, time.monotonic() - t
        info, took = self.scripted(body)
        self.assertAppClose(info, 3)
        self.assertGreater(took, 0.3)

    def test_second_stream_accept_timeout_closes_3(self):
        async def body(conn):
            conn.open_stream(bytes([E]))
            return await closed(conn, 3)
        self.assertAppClose(self.scripted(body), 3)

    def test_op_timeout_closes_4(self):
        async def body(conn):
            conn.open_proton()
            await req(conn, E, 1)
            conn.link.send(conn.streams[E], b"\x02\x00")  # half a u32, then silence
            t = time.monotonic()
            info = await closed(conn, 3)
            return info, time.monotonic() - t
        info, took = self.scripted(body)
        self.assertAppClose(info, 4)
        self.assertGreater(took, 0.6)

    def test_missing_discriminator_as_coded_is_op_timeout(self):
        async def body(conn):
            conn.link.quic.get_next_available_stream_id()
            conn.link.send(4, bytes([C]))  # opens stream 4 and, implicitly, stream 0 (no discriminator)
            return await closed(conn, 3)
        self.assertAppClose(self.scripted(body), 4)

    def test_second_connection_refused_then_next_accepted(self):
        async def go():
            a = await connect(self.port)
            a.open_proton()
            self.assertEqual(await req(a, E, 1), 1)
            with self.assertRaises(pp.LinkEnded):
                await connect(self.port)
            # the refused connection saw the transport close: check it on a fresh attempt's link
            b_link = None
            try:
                b = await connect(self.port)
                b.dispose()
            except pp.LinkEnded as e:
                b_link = str(e)
            self.assertEqual(await req(a, E, 2), 2)  # the first is undisturbed
            await a.close(0)
            c = await connect(self.port)  # accepted at once after the first ended
            c.open_proton()
            self.assertEqual(await req(c, C, 5), 7)
            await c.close(0)
            return b_link
        text = arun(go())
        self.assertIn("peer transport code=2", text)
        self.srv.log(r"refused 127\.0\.0\.1:\d+ \(transport CONNECTION_REFUSED 0x2\)")

    def test_refusal_frame(self):
        """The refusal is a transport CONNECTION_CLOSE (0x1c) with CONNECTION_REFUSED, before any handshake."""
        async def one():
            a = await connect(self.port)
            a.open_proton()
            await req(a, E, 1)
            loop = asyncio.get_running_loop()
            cfg = pp.QuicConfiguration(is_client=True, alpn_protocols=["proton"], verify_mode=pp.ssl.CERT_NONE,
                                       server_name="localhost")
            q = pp.QuicConnection(configuration=cfg)
            odcid = q._original_destination_connection_id
            received = []

            class Rec(pp._ClientProtocol):
                def datagram_received(self, data, addr):
                    received.append(data)
                    super().datagram_received(data, addr)
            proto = Rec()
            tr, _ = await loop.create_datagram_endpoint(lambda: proto, remote_addr=(HOST, self.port))
            link = pp.Link(q, lambda d, ad: tr.sendto(d), 0)
            proto.link = link
            q.connect((HOST, self.port), now=loop.time())
            link.transmit()
            await link.wait_until(lambda: link.ended, loop.time() + 3, allow_end=True)
            info, hs = link.close_info, link.handshake_done
            tr.close()
            link.shutdown()
            await a.close(0)
            return odcid, received, info, hs
        odcid, received, info, hs = arun(one())
        self.assertFalse(hs)
        self.assertEqual((info["kind"], info["transport"], info["code"]), ("peer", True, 2))
        # decode the first datagram: one Initial packet, payload CONNECTION_CLOSE 0x1c 0x2 0x0 ""
        from aioquic.buffer import Buffer
        from aioquic.quic.crypto import CryptoPair
        dg = received[0]
        buf = Buffer(data=dg)
        h = pp.pull_quic_header(buf, host_cid_length=8)
        self.assertEqual(h.packet_type, pp.QuicPacketType.INITIAL)
        self.assertEqual(h.packet_length, len(dg))  # a single packet in the datagram
        crypto = CryptoPair()
        crypto.setup_initial(cid=odcid, is_client=True, version=h.version)
        _, payload, pn = crypto.decrypt_packet(dg[:h.packet_length], buf.tell(), 0)
        self.assertEqual(payload[:4], bytes([0x1C, 0x02, 0x00, 0x00]))
        self.assertEqual(payload[4:].strip(b"\x00"), b"")  # only PADDING after it

    def test_keylog_and_repl(self):
        with tempfile.TemporaryDirectory() as d:
            kl = os.path.join(d, "keys.log")
            rc, out, _ = run_client(self.port, "--keylog", kl)
            self.assertEqual(rc, 0, out)
            with open(kl) as f:
                text = f.read()
            self.assertIn("CLIENT_HANDSHAKE_TRAFFIC_SECRET", text)
            self.assertIn("SERVER_TRAFFIC_SECRET_0", text)
        script = "connect; 2 send_event; commit 5\nread_action;read_action\nhelp\nclose\n"
        p = subprocess.run([PY, PEER, "repl", "--target", f"{HOST}:{self.port}", "--idle-ms", "3000"],
                           input=script, capture_output=True, text=True, timeout=20, env=ENV)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = [x for x in p.stdout.splitlines() if not x.startswith(("commands:", "  "))]
        self.assertEqual(lines, ["connected", "event 1 -> 1", "event 2 -> 2", "commit 5 -> 7",
                                 "action -> 0", "action -> 1", "closed code=0"])
        p = subprocess.run([PY, PEER, "repl", "--target", f"{HOST}:{self.port}"],
                           input="send_event\n", capture_output=True, text=True, timeout=20, env=ENV)
        self.assertEqual(p.returncode, 1)
        self.assertIn("error: not connected", p.stdout)


# ------------------------------------------------------------------------------------------
class ProjectServer(ServerCase):
    server_kw = dict(profile="project", disc_ms=300)

    def test_happy_path(self):
        rc, out, _ = run_client(self.port, profile="project", events=4, commits=4, actions=4)
        self.assertEqual((rc, out), (0, "RESULT=ok events=4 commits=4 actions=4"))

    def test_commit_checked(self):
        async def body(conn):
            conn.open_proton()
            v = await req(conn, C, 0xFFFFFFFD)
            conn.link.send(conn.streams[C], pp.U32.pack(0xFFFFFFFE))
            return v, await closed(conn)
        v, info = self.scripted(body)
        self.assertEqual(v, 0xFFFFFFFF)
        self.assertAppClose(info, 5)

    def test_commit_checked_ffffffff(self):
        async def body(conn):
            conn.open_proton()
            conn.link.send(conn.streams[C], pp.U32.pack(0xFFFFFFFF))
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 5)

    def test_discriminator_timeout_closes_1(self):
        async def body(conn):
            conn.link.quic.get_next_available_stream_id()
            conn.link.send(4, bytes([C]))  # stream 0 opened implicitly, never gets its discriminator
            t = time.monotonic()
            info = await closed(conn, 3)
            return info, time.monotonic() - t
        info, took = self.scripted(body)
        self.assertAppClose(info, 1)
        self.assertLess(took, 0.75)  # disc_ms 300, well before op_ms 800

    def test_push_option_rejected_for_as_coded(self):
        for role_args in (["server", "--listen", f"{HOST}:0", "--profile", "as_coded", "--action-push"],
                          ["server", "--listen", f"{HOST}:0", "--profile", "as_coded", "--reset-discriminator"],
                          ["client", "--target", f"{HOST}:{self.port}", "--profile", "as_coded",
                           "--action-push"]):
            p = subprocess.run([PY, PEER] + role_args, capture_output=True, text=True, timeout=10, env=ENV)
            self.assertEqual(p.returncode, 89, role_args)

    def test_usage_errors(self):
        for args in (["server", "--profile", "project"],
                     ["client", "--target", "nohost", "--profile", "project"],
                     ["client", "--target", f"{HOST}:1", "--mutant", "no-such-mutant"],
                     ["bogus"]):
            p = subprocess.run([PY, PEER] + args, capture_output=True, text=True, timeout=10, env=ENV)
            self.assertEqual(p.returncode, 2, args)


class ProjectPushServer(ServerCase):
    server_args = ("--action-push", "--action-interval-ms", "40")
    server_kw = dict(profile="project", disc_ms=300)

    def test_push_client(self):
        rc, out, _ = run_client(self.port, "--action-push", profile="project", events=2, commits=2, actions=5)
        self.assertEqual((rc, out), (0, "RESULT=ok events=2 commits=2 actions=5"))

    def test_push_is_unprompted_and_paced(self):
        async def body(conn):
            conn.open_proton()
            got, times = [], []
            for _ in range(4):
                got.append(await req(conn, A, None))
                times.append(time.monotonic())
            return got, times[-1] - times[0]
        got, span = self.scripted(body)
        self.assertEqual(got, [0, 1, 2, 3])
        self.assertGreater(span, 0.09)  # 3 intervals of 40 ms

    def test_push_ignores_client_bytes_fin_closes_5(self):
        async def body(conn):
            conn.open_proton()
            conn.link.send(conn.streams[A], pp.U32.pack(42) * 2, end=True)
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 5)


class ProjectResetServer(ServerCase):
    server_args = ("--reset-discriminator",)
    server_kw = dict(profile="project", disc_ms=300)

    def test_reset_then_reconnect_at_once(self):
        async def go():
            a = await connect(self.port)
            a.open_proton()
            self.assertEqual(await req(a, E, 1), 1)
            self.assertEqual(a.link.quic._remote_max_streams_bidi, 4)
            a.open_stream(b"\xff")
            info = await closed(a)
            a.dispose()
            b = await connect(self.port)
            b.open_proton()
            v = await req(b, E, 1)
            await b.close(0)
            return info, v
        info, v = arun(go())
        self.assertAppClose(info, 0, "reset")
        self.assertEqual(v, 1)

    def test_fourth_stream_other_byte_closes_1(self):
        async def body(conn):
            conn.open_proton()
            await req(conn, C, 1)
            conn.open_stream(b"\x04")
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 1)

    def test_reset_byte_on_first_stream_closes_1(self):
        async def body(conn):
            conn.open_stream(b"\xff")
            return await closed(conn)
        self.assertAppClose(self.scripted(body), 1)


class KeepAlive(ServerCase):
    server_kw = dict(profile="project", idle_ms=600, keepalive_ms=150, op_ms=5000, disc_ms=300)

    def test_server_pings_keep_a_silent_client_alive(self):
        async def body(conn):  # the client sends no PING (keepalive 0) and stays silent > 2 x idle
            conn.open_proton()
            await req(conn, E, 1)
            await asyncio.sleep(1.5)
            return conn.link.ended, await req(conn, C, 1)
        self.assertEqual(self.scripted(body, idle_ms=600), (False, 3))

    def test_refused_client_reports_transport_close(self):
        async def go():
            a = await connect(self.port)
            a.open_proton()
            await req(a, E, 1)
            p = await asyncio.create_subprocess_exec(
                PY, PEER, "client", "--target", f"{HOST}:{self.port}", "--profile", "project",
                stdout=asyncio.subprocess.PIPE, env=ENV)
            out, _ = await p.communicate()
            await a.close(0)
            return p.returncode, out.decode().strip()
        rc, out = arun(go())
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("RESULT=fail reason=closed-by-peer close=transport:0x2"), out)


class Manifest(unittest.TestCase):
    PATH = os.path.join(os.path.dirname(HERE), "python-proton.json")

    def load(self):
        with open(self.PATH) as f:
            return json.load(f)

    def test_mutants_match_program(self):
        m = self.load()
        self.assertEqual(set(m["mutants"]), set(pp.MUTANTS))
        self.assertGreaterEqual(len(m["mutants"]), 14)
        for name, text in m["mutants"].items():
            role, rule, _ = pp.MUTANTS[name]
            self.assertTrue(text.startswith(f"{role}, breaks {rule}: "), name)
        self.assertEqual(m["protocol"], "proton")
        self.assertEqual(m["unsupported_exit_code"], pp.EXIT_UNSUPPORTED)

    def test_templates_run(self):
        m = self.load()
        manifest_dir = os.path.dirname(self.PATH)
        with tempfile.TemporaryDirectory() as d:
            values = dict(manifest_dir=manifest_dir, listen=f"{HOST}:0", profile="project", idle_ms=3000,
                          keepalive_ms=1000, accept_ms=5000, op_ms=3000, startup_ms=0, disc_ms=1000, action_interval_ms=100,
                          keylog=os.path.join(d, "server.keys"), flags=m["flags"]["action_push"])
            words = [w.format(**values) for w in shlex.split(m["server"])]
            for word in shlex.split(values["flags"]):
                self.assertIn(word, words)
            srv = subprocess.Popen(words, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=dict(ENV, **m["env"]))
            try:
                port = int(re.search(r"^bound \S+:(\d+)", srv.stderr.readline()).group(1))
                self.assertEqual(srv.stdout.readline().strip(), m["ready"]["output"])
                values.update(target=f"{HOST}:{port}", events=2, commits=2, actions=3,
                              keylog=os.path.join(d, "client.keys"))
                words = [w.format(**values) for w in shlex.split(m["client"])]
                p = subprocess.run(words, capture_output=True, text=True, timeout=20, env=dict(ENV, **m["env"]))
                self.assertEqual((p.returncode, p.stdout.strip()), (0, "RESULT=ok events=2 commits=2 actions=3"))
            finally:
                srv.send_signal(signal.SIGTERM)
                self.assertEqual(srv.wait(5), 0)
                srv.stdout.close()
                srv.stderr.close()
            for name in ("server.keys", "client.keys"):
                with open(os.path.join(d, name)) as f:
                    self.assertIn("CLIENT_TRAFFIC_SECRET_0", f.read())


class StartupAndSignal(unittest.TestCase):
    def test_startup_delay_then_listening(self):
        srv = ServerProc(profile="as_coded", startup_ms=400)
        try:
            bound = srv.line_time(srv.err, r"^bound ")
            listening = srv.line_time(srv.out, r"^Server listening$")
            self.assertGreaterEqual(listening - bound, 0.35)
            rc, out, _ = run_client(srv.port, events=1, commits=1, actions=1)
            self.assertEqual(rc, 0, out)
            rc, out, _ = run_client(srv.port, events=1, commits=1, actions=1)  # no new startup delay
            self.assertEqual(rc, 0, out)
        finally:
            t = time.monotonic()
            self.assertEqual(srv.stop(), 0)
            self.assertLess(time.monotonic() - t, 2.0)


# ------------------------------------------------------------------------------------------
class Mutants(unittest.TestCase):
    """Each mutant is caught by the normal client or a small scripted client."""

    def server(self, mutant, **kw):
        kw.setdefault("profile", "as_coded")
        srv = ServerProc("--mutant", mutant, **kw)
        self.addCleanup(srv.stop)
        return srv

    def test_commit_times_two(self):
        srv = self.server("commit-times-two")
        rc, out, _ = run_client(srv.port)
        self.assertEqual(rc, 1)
        self.assertIn("reason=wrong-answer", out)

    def test_action_counter_from_one(self):
        srv = self.server("action-counter-from-one")
        rc, out, _ = run_client(srv.port)
        self.assertEqual(rc, 1)
        self.assertIn("action,expected=0,answer=1", out)

    def test_event_id_zero_accepted(self):
        srv = self.server("event-id-zero-accepted")

        async def go():
            c = await connect(srv.port)
            c.open_proton()
            v = await req(c, E, 0)
            await c.close(0)
            return v
        self.assertEqual(arun(go()), 0)  # a correct server closes with 5

    def test_equal_event_id_accepted(self):
        srv = self.server("equal-event-id-accepted")

        async def go():
            c = await connect(srv.port)
            c.open_proton()
            v = [await req(c, E, 4), await req(c, E, 4)]
            await c.close(0)
            return v
        self.assertEqual(arun(go()), [4, 4])

    def test_wrong_close_code_on_bad_discriminator(self):
        srv = self.server("wrong-close-code-on-bad-discriminator")

        async def go():
            c = await connect(srv.port)
            c.open_stream(b"\x09")
            info = await closed(c)
            c.dispose()
            return info
        info = arun(go())
        self.assertEqual(info["code"], 5)

    def test_second_connection_accepted(self):
        srv = self.server("second-connection-accepted")

        async def go():
            a = await connect(srv.port)
            a.open_proton()
            await req(a, E, 1)
            b = await connect(srv.port)  # a correct server refuses (LinkEnded)
            b.open_proton()
            v = await req(b, C, 1)
            await b.close(0)
            await a.close(0)
            return v
        self.assertEqual(arun(go()), 3)

    def test_refuse_with_app_close(self):
        srv = self.server("refuse-with-app-close")

        async def go():
            a = await connect(srv.port)
            a.open_proton()
            await req(a, E, 1)
            b = await connect(srv.port)  # handshake completes (a correct server refuses before)
            info = await closed(b)
            b.dispose()
            await a.close(0)
            return info
        info = arun(go())
        self.assertFalse(info["transport"])
        self.assertEqual(info["code"], 0)

    def test_fin_inside_u32_code_0(self):
        srv = self.server("fin-inside-u32-code-0")

        async def go():
            c = await connect(srv.port)
            c.open_proton()
            c.link.send(c.streams[E], b"\x01", end=True)
            info = await closed(c)
            c.dispose()
            return info
        self.assertEqual(arun(go())["code"], 0)

    def test_no_accept_timeout(self):
        srv = self.server("no-accept-timeout")  # accept_ms 400

        async def go():
            c = await connect(srv.port)
            info = await closed(c, 1.0)
            await c.close(0)
            return info
        self.assertIsNone(arun(go()))

    def test_commit_no_overflow_check(self):
        srv = self.server("commit-no-overflow-check", profile="project")

        async def go():
            c = await connect(srv.port)
            c.open_proton()
            v = await req(c, C, 0xFFFFFFFE)
            await c.close(0)
            return v
        self.assertEqual(arun(go()), 0)

    def test_client_mutants(self):
        ok = ServerProc(profile="as_coded")  # a correct server
        self.addCleanup(ok.stop)
        rc, out, _ = run_client(ok.port, "--mutant", "client-event-ids-from-0")
        self.assertEqual(rc, 1)
        self.assertIn("close=app:0x5", out)
        ok.log(r"conn \d+ close code=5 reason='event id 0'")
        # the client mutants below change only what the server sees
        rc, out, _ = run_client(ok.port, "--mutant", "client-close-code-5")
        self.assertEqual(rc, 0, out)
        ok.log(r"ended: peer app code=5")
        rc, out, _ = run_client(ok.port, "--mutant", "client-skips-action-discriminator-order")
        self.assertEqual(rc, 0, out)
        lines = ok.lines()
        last = max(int(m.group(1)) for m in (re.match(r"conn (\d+) accepted", x) for x in lines) if m)
        discs = [re.search(r"stream (\d+) discriminator (\d+)", x).groups()
                 for x in lines if x.startswith(f"conn {last} stream")]
        self.assertEqual(discs, [("0", "1"), ("4", "3"), ("8", "2")])

    def test_client_no_close(self):
        srv = ServerProc(profile="as_coded", idle_ms=500, keepalive_ms=0)
        self.addCleanup(srv.stop)
        rc, out, _ = run_client(srv.port, "--mutant", "client-no-close")
        self.assertEqual(rc, 0, out)
        srv.log(r"conn 1 ended: idle timeout", timeout=5)

    def test_client_ignores_wrong_commit(self):
        srv = self.server("commit-times-two")
        rc, out, _ = run_client(srv.port, "--mutant", "client-ignores-wrong-commit")
        self.assertEqual((rc, out), (0, "RESULT=ok events=3 commits=3 actions=3"))  # normal client: exit 1

    def test_client_exit_0_on_server_close(self):
        srv = ServerProc(profile="as_coded")
        self.addCleanup(srv.stop)

        async def go():
            a = await connect(srv.port)  # the server is busy: the client is refused
            a.open_proton()
            await req(a, E, 1)
            res = []
            for mutant in ([], ["--mutant", "client-exit-0-on-server-close"]):
                p = await asyncio.create_subprocess_exec(
                    PY, PEER, "client", "--target", f"{HOST}:{srv.port}", "--profile", "as_coded", *mutant,
                    stdout=asyncio.subprocess.PIPE, env=ENV)
                out, _ = await p.communicate()
                res.append((p.returncode, out.decode().split()[0]))
            await a.close(0)
            return res
        self.assertEqual(arun(go()), [(1, "RESULT=fail"), (0, "RESULT=ok")])

    def test_client_commits_from_0(self):
        srv = ServerProc(profile="as_coded")
        self.addCleanup(srv.stop)
        rc, out, _ = run_client(srv.port, "--mutant", "client-commits-from-0", commits=2)
        self.assertEqual(rc, 0, out)  # only the wire shows it: requests 0, 1 (answers 2, 3)


# every server mutant -> (the regular test class, the test that must fail against it)
SWEEP = {
    "commit-times-two": (AsCodedServer, "test_commit_wraps"),
    "equal-event-id-accepted": (AsCodedServer, "test_event_id_rules"),
    "decreasing-event-id-accepted": (AsCodedServer, "test_event_id_rules"),
    "event-id-zero-accepted": (AsCodedServer, "test_event_id_rules"),
    "wrong-close-code-on-bad-discriminator": (AsCodedServer, "test_bad_discriminator"),
    "second-connection-accepted": (AsCodedServer, "test_second_connection_refused_then_next_accepted"),
    "refuse-with-app-close": (AsCodedServer, "test_refusal_frame"),
    "action-counter-from-one": (AsCodedServer, "test_action_pull_counter"),
    "no-accept-timeout": (AsCodedServer, "test_accept_timeout_closes_3"),
    "accept-timeout-code-2": (AsCodedServer, "test_accept_timeout_closes_3"),
    "fin-ignored": (AsCodedServer, "test_fin_at_boundary_closes_5"),
    "discriminator-twice-accepted": (AsCodedServer, "test_repeated_discriminator"),
    "fin-inside-u32-code-0": (AsCodedServer, "test_fin_inside_u32_closes_5"),
    "early-fin-code-0": (AsCodedServer, "test_early_fin_closes_1"),
    "commit-no-overflow-check": (ProjectServer, "test_commit_checked"),
    "no-discriminator-timeout": (ProjectServer, "test_discriminator_timeout_closes_1"),
    "reset-discriminator-ignored": (ProjectResetServer, "test_reset_then_reconnect_at_once"),
    "op-timeout-code-5": (AsCodedServer, "test_op_timeout_closes_4"),
    "stop-sending-ignored": (AsCodedServer, "test_stop_sending_closes_5"),
    "max-streams-four": (AsCodedServer, "test_max_streams_three"),
    "push-counter-prompted": (ProjectPushServer, "test_push_is_unprompted_and_paced"),
}


class MutantSweep(unittest.TestCase):
    def test_sweep_covers_every_server_mutant(self):
        server_mutants = {n for n, (role, _, _) in pp.MUTANTS.items() if role == "server"}
        self.assertEqual(set(SWEEP), server_mutants)

    def test_every_server_mutant_is_caught(self):
        def one(item):
            mutant, (base, method) = item
            cls = type(f"{base.__name__}_{mutant}", (base,),
                       {"server_args": tuple(base.server_args) + ("--mutant", mutant)})
            suite = unittest.TestSuite([cls(method)])
            with open(os.devnull, "w") as null:
                r = unittest.TextTestRunner(stream=null, verbosity=0).run(suite)
            return mutant, r.wasSuccessful(), r.testsRun
        with ThreadPoolExecutor(max_workers=8) as ex:
            results = list(ex.map(one, sorted(SWEEP.items())))
        with warnings.catch_warnings():  # sockets left by the failed (caught) runs
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        survived = [m for m, ok, n in results if ok or n != 1]
        self.assertEqual(survived, [], "mutants not caught")


if __name__ == "__main__":
    unittest.main()
