#!/usr/bin/env python3
"""Loopback tests for darktower.py (run: python3 -m unittest test_darktower -v).

Servers run as subprocesses (readiness line, SIGTERM); clients mostly run
in-process to keep the wall time low.  Raw probes send hand-made bytes.
"""

import asyncio
import contextlib
import io
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import darktower as dt  # noqa: E402
import dtproto as pb  # noqa: E402

PY = sys.executable
DT = os.path.join(HERE, "darktower.py")
SECRET = "test-secret"


# ------------------------------------------------------------------ helpers ---
class ServerProc:
    def __init__(self, role, *extra):
        self.role = role
        self.argv = [PY, DT, role, "--listen", "127.0.0.1:0", "--secret", SECRET] + list(extra)
        if role == "server" and "--media-listen" not in extra:
            self.argv += ["--media-listen", "127.0.0.1:0"]
        self.err = open(os.devnull, "w") if not os.environ.get("DT_TEST_VERBOSE") else None
        self.p = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.p.stdout.reconfigure(line_buffering=True)
        self.lines = queue.Queue()
        self.ports = {}
        self.hash = None
        self.reader = threading.Thread(target=self._reader, daemon=True)
        self.reader.start()

    def _reader(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_ready(self, timeout=20):
        need = {"controller", "handler"} if self.role == "server" else {self.role}
        deadline = time.time() + timeout
        while need - set(self.ports):
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                raise AssertionError("%s not ready: %s" % (self.role, self.argv))
            if line is None:
                raise AssertionError("%s exited early: %s" % (self.role, self.argv))
            m = re.match(r"(\w+) listening on 127\.0\.0\.1:(\d+)$", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))
            m = re.match(r"(\w+) cert-sha256 ([0-9a-f]{64})$", line)
            if m:
                self.hash = m.group(2)
        return self

    def stop(self):
        t0 = time.time()
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        if self.err:
            self.err.close()
        self.reader.join(timeout=2)
        if not self.reader.is_alive():
            self.p.stdout.close()
        return rc, time.time() - t0


def client_args(argv):
    args = dt.build_parser().parse_args(["client"] + argv)
    args.role = "client"
    return args


def run_clients(*argvs, stagger=0.4):
    """Run several in-process clients concurrently; returns ([exit codes], output)."""
    buf = io.StringIO()

    async def main():
        tasks = []
        for i, argv in enumerate(argvs):
            if i:
                await asyncio.sleep(stagger)
            tasks.append(asyncio.ensure_future(dt.client_main(client_args(argv))))
        return await asyncio.gather(*tasks)

    with contextlib.redirect_stdout(buf):
        try:
            codes = asyncio.run(main())
        finally:
            pb.FIELD_OVERRIDES.clear()
    return list(codes), buf.getvalue()


class Rec:
    """Records everything a probe session receives."""

    def __init__(self):
        self.data = {}
        self.fin = set()
        self.resets = {}
        self.stops = {}
        self.datagrams = []
        self.closed = None
        self.ev = asyncio.Event()

    def on_stream_data(self, sess, sid, data, fin):
        self.data.setdefault(sid, bytearray()).extend(data)
        if fin:
            self.fin.add(sid)
        self.ev.set()

    def on_stream_reset(self, sess, sid, code, form):
        self.resets[sid] = (code, form)
        self.ev.set()

    def on_stop_sending(self, sess, sid, code, form):
        self.stops[sid] = (code, form)
        self.ev.set()

    def on_datagram(self, sess, data):
        self.datagrams.append(bytes(data))
        self.ev.set()

    def on_closed(self, sess, info):
        self.closed = info
        self.ev.set()

    async def wait(self, cond, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not cond():
            rem = deadline - time.monotonic()
            if rem <= 0:
                raise AssertionError("probe condition not met in time")
            self.ev.clear()
            try:
                await asyncio.wait_for(self.ev.wait(), rem)
            except asyncio.TimeoutError:
                pass

    def messages(self, sid, msg="ServerMessage"):
        buf = bytes(self.data.get(sid, b""))
        out = []
        while len(buf) >= 4:
            n = int.from_bytes(buf[:4], "big")
            if len(buf) < 4 + n:
                break
            out.append(pb.decode(msg, buf[4:4 + n]))
            buf = buf[4 + n:]
        return out


async def probe(port, transport="wt", path="/", extra=()):
    c = dt.Client(client_args(["--meeting", "x", "--insecure", "--transport", transport,
                               "--keepalive", "0"] + list(extra)))
    rec = Rec()
    sess = await c.open_session("127.0.0.1", port, path, rec, "probe")
    return c, sess, rec


async def close_probe(c):
    c.leaving = True
    for proto, transport in c.protos:
        proto.close()
    await asyncio.sleep(0.05)
    for proto, transport in c.protos:
        transport.close()


def media_token(meeting="m-probe", pid=None):
    return dt.jwt_encode({"meeting_id": meeting, "participant_id": pid or str(uuid.uuid4()),
                          "exp": int(time.time()) + 300}, SECRET)


async def media_auth(port, transport, token=None, meeting="m-probe"):
    c, sess, rec = await probe(port, transport)
    sid = sess.open_bidi()
    sess.send(sid, pb.frame(pb.encode("MediaClientMessage", {
        "connect_request": {"join_token": token or media_token(meeting)}})))
    await rec.wait(lambda: rec.messages(sid, "MediaServerMessage"))
    m = rec.messages(sid, "MediaServerMessage")[0]
    return c, sess, rec, m


UUID1 = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")


# -------------------------------------------------------------------- tests ---
class T0Codec(unittest.TestCase):
    def test_document_examples(self):
        hdr = dt.build_stream_header(1, UUID1.bytes, b"VP09")
        self.assertEqual(hdr.hex(), "44415254" "01" "01" "550e8400e29b41d4a716446655440000"
                         "56503039" "000000000000")
        fr = dt.build_frame(1, UUID1.bytes, 1_700_000_000_000_000, 7, b"hi", flags=0x0001)
        self.assertEqual(fr.hex(), "01" "01" "550e8400e29b41d4a716446655440000"
                         "00060a24181e4000" "0000000000000007" "00000002" "0001"
                         "000000000000" "6869")
        self.assertEqual(pb.frame(b"x" * 300)[:4].hex(), "0000012c")
        self.assertEqual(len(dt.build_v2(1, 5, 6, 7, 8, b"")), 42)

    def test_parser(self):
        p = dt.V1Parser()
        data = dt.build_stream_header(0, UUID1.bytes, b"Opus") + \
            dt.build_frame(0, UUID1.bytes, 1, 0, b"abc")
        ev = []
        for i in range(len(data)):
            ev += p.feed(data[i:i + 1], False)
        ev += p.feed(b"", True)
        self.assertEqual([e[0] for e in ev], ["header", "frame", "end"])
        for bad, what in [(b"DRAT" + data[4:], "magic"), (data[:4] + b"\x02" + data[5:], "ver"),
                          (data[:5] + b"\x02" + data[6:], "type")]:
            with self.assertRaises(dt.MediaError) as cm:
                dt.V1Parser().feed(bad, False)
            self.assertEqual(cm.exception.code, 1, what)
        with self.assertRaises(dt.MediaError):
            dt.V1Parser().feed(data[:20], True)
        other = dt.build_frame(0, uuid.uuid4().bytes, 1, 0, b"")
        with self.assertRaises(dt.MediaError):
            dt.V1Parser().feed(data[:32] + other, False)

    def test_proto_roundtrip(self):
        msg = {"join_response": {"participant_id": "p1", "existing_participants": [
            {"participant_id": "p2", "name": "n", "streams": [
                {"stream_id": "s", "stream_type": 2, "metadata": {"codec": "VP09"}}],
             "joined_at": 1 << 40}],
            "media_server": {"media_handler_url": "u", "connection_token": "t"},
            "encryption_keys": {"public_key": b"\x00\xff", "key_id": "k"}}}
        d = pb.decode("ServerMessage", pb.encode("ServerMessage", msg))
        self.assertEqual(d["_which"], "join_response")
        jr = d["join_response"]
        self.assertEqual(jr["existing_participants"][0]["streams"][0]["stream_type"], 2)
        self.assertEqual(jr["existing_participants"][0]["joined_at"], 1 << 40)
        e = pb.decode("ServerMessage", pb.encode("ServerMessage", {"error": {
            "code": 7, "message": "full", "details": {"a": "b"}}}))
        self.assertEqual(e["error"]["details"], {"a": "b"})
        # hand-checked bytes: ClientMessage{join_request{meeting_id:"m"}}
        self.assertEqual(pb.encode("ClientMessage", {"join_request": {"meeting_id": "m"}}).hex(),
                         "0a030a016d")

    def test_jwt_and_mapping(self):
        tok = dt.jwt_encode({"meeting_id": "m", "exp": int(time.time()) + 60}, "k")
        self.assertTrue(tok.startswith("eyJhbGc"))
        self.assertEqual(dt.jwt_decode(tok, "k")["meeting_id"], "m")
        with self.assertRaises(dt.TokenError):
            dt.jwt_decode(tok, "other")
        with self.assertRaises(dt.TokenError):
            dt.jwt_decode(dt.jwt_encode({"exp": 1}, "k"), "k")
        self.assertEqual(dt.wt_map(0), 0x52E4A40FA8DB)
        for c in range(0, 100):
            self.assertEqual(dt.wt_unmap(dt.wt_map(c)), c)


class T1Loopback(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dt-test-")
        certf, keyf = os.path.join(cls.tmp, "cert.pem"), os.path.join(cls.tmp, "key.pem")
        out = subprocess.run([PY, DT, "gencert", "--cert-out", certf, "--key-out", keyf],
                             capture_output=True, text=True, check=True).stdout
        cls.hash = out.split()[-1]
        cert = ["--cert", certf, "--key", keyf]
        cls.main = ServerProc("server", "--ended", "old", "--keylog",
                              os.path.join(cls.tmp, "keylog.txt"), *cert)
        cls.small = ServerProc("controller", "--meeting", "solo=1,live,other", "--ended", "old",
                               "--idle-timeout", "2", *cert)
        cls.raw = ServerProc("handler", "--reset-codes", "raw", *cert)
        for s in (cls.main, cls.small, cls.raw):
            s.wait_ready()
            assert s.hash == cls.hash
        cls.cport = cls.main.ports["controller"]
        cls.hport = cls.main.ports["handler"]

    @classmethod
    def tearDownClass(cls):
        for s in (cls.main, cls.small, cls.raw):
            rc, took = s.stop()
            assert rc == 0 and took < 3, (s.argv, rc, took)
        keylog = os.path.join(cls.tmp, "keylog.txt")
        with open(keylog) as f:
            assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in f.read()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def base(self, meeting, transport="wt", port=None, *more):
        return ["--target", "127.0.0.1:%d" % (port or self.cport), "--meeting", meeting,
                "--secret", SECRET, "--transport", transport,
                "--cert-hash", self.hash, "--timeout", "5"] + list(more)

    # -- signaling
    def _join_two(self, transport):
        m = "join-" + transport
        codes, outp = run_clients(
            self.base(m, transport) + ["--name", "bob", "--expect-participants", "1",
                                       "--stay", "0.5"],
            self.base(m, transport) + ["--name", "alice", "--expect-participants", "1",
                                       "--stay", "1.0"])
        self.assertEqual(codes, [0, 0], outp)
        self.assertIn("existing=1", outp)
        self.assertIn("participant_joined", outp)
        self.assertIn("name='alice'", outp)
        self.assertIn("reason=VOLUNTARY", outp)

    def test_join_two_wt(self):
        self._join_two("wt")

    def test_join_two_quic(self):
        self._join_two("quic")

    def _media(self, transport, version):
        m = "media-%s-%d" % (transport, version)
        common = ["--media-version", str(version)]
        codes, outp = run_clients(
            self.base(m, transport) + common + ["--subscribe", "--expect-frames", "20",
                                                "--stay", "6"],
            self.base(m, transport) + common + ["--expect-participants", "1", "--publish",
                                                "video:VP09", "--publish", "audio",
                                                "--frames", "10", "--rate", "100",
                                                "--delay", "0.3", "--stay", "0.3"])
        self.assertEqual(codes, [0, 0], outp)
        self.assertIn('"frames_received": 20', outp)

    def test_media_v1_wt(self):
        self._media("wt", 1)

    def test_media_v1_quic(self):
        self._media("quic", 1)

    def test_media_v2_wt(self):
        self._media("wt", 2)

    def test_media_v2_quic(self):
        self._media("quic", 2)

    def test_join_errors(self):
        sp = self.small.ports["controller"]
        expired = dt.jwt_encode({"meeting_id": "other", "exp": int(time.time()) - 5}, SECRET)
        codes, outp = run_clients(
            self.base("other", "wt", sp, "--secret", "wrong-secret", "--stay", "0"),
            self.base("other", "quic", sp, "--stay", "0") + ["--token", expired],
            self.base("old", "wt", sp, "--stay", "0"),
            self.base("nope", "quic", sp, "--stay", "0"),
            self.base("other", "wt", sp, "--stay", "0", "--name", "x" * 257),
            stagger=0.05)
        self.assertEqual(codes, [12, 12, 14, 14, 11], outp)

    def test_capacity(self):
        sp = self.small.ports["controller"]
        codes, outp = run_clients(
            self.base("solo", "wt", sp, "--stay", "1.5", "--keepalive", "0.5"),
            self.base("solo", "quic", sp, "--stay", "0"))
        self.assertEqual(codes, [0, 17], outp)
        self.assertIn("CAPACITY_EXCEEDED", outp)

    def test_liveness(self):
        """A silent participant is dropped after the idle timeout (2 s here)."""
        sp = self.small.ports["controller"]

        async def main():
            watcher = asyncio.ensure_future(dt.client_main(client_args(self.base(
                "live", "wt", sp, "--keepalive", "0.5", "--expect-participants", "1",
                "--expect-left", "1", "--expect-left-reason", "CONNECTION_LOST",
                "--stay", "8"))))
            await asyncio.sleep(0.8)
            c, sess, rec = await probe(sp, "quic")
            sid = sess.open_bidi()
            tok = dt.jwt_encode({"meeting_id": "live", "exp": int(time.time()) + 60}, SECRET)
            sess.send(sid, pb.frame(pb.encode("ClientMessage", {"join_request": {
                "meeting_id": "live", "join_token": tok, "participant_name": "ghost"}})))
            await rec.wait(lambda: rec.messages(sid))
            self.assertEqual(rec.messages(sid)[0]["_which"], "join_response")
            for proto, transport in c.protos:   # vanish without CONNECTION_CLOSE
                transport.close()
            return await watcher

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = asyncio.run(main())
        self.assertEqual(code, 0, buf.getvalue())
        self.assertIn("reason=CONNECTION_LOST", buf.getvalue())

    # -- raw probes: signaling
    def test_signaling_framing_errors(self):
        async def main():
            res = []
            for payload in (b"\x00\x00\x00\x00", (65537).to_bytes(4, "big"),
                            pb.frame(pb.encode("ClientMessage", {"publish_stream": {
                                "stream_id": "s"}}))):
                c, sess, rec = await probe(self.cport, "wt")
                sid = sess.open_bidi()
                sess.send(sid, payload)
                await rec.wait(lambda: sid in rec.fin)
                res.append(rec.messages(sid)[0]["error"]["code"])
                await close_probe(c)
            return res

        self.assertEqual(asyncio.run(main()), [8, 8, 1])

    def test_unknown_wt_path_still_served_and_h3_settings(self):
        async def main():
            c, sess, rec = await probe(self.cport, "wt", path="/anything")
            st = sess.proto.h3.received_settings
            await close_probe(c)
            return st

        st = asyncio.run(main())
        self.assertEqual(st.get(0x2B603742), 1)
        self.assertEqual(st.get(0x33), 1)

    # -- raw probes: media
    def _reject(self, transport, port, build, expect_code, expect_form, auth=True):
        async def main():
            if auth:
                c, sess, rec, m = await media_auth(port, transport)
                self.assertEqual(m["_which"], "connect_response")
            else:
                c, sess, rec = await probe(port, transport)
            sid = sess.open_uni()
            data, fin = build()
            sess.send(sid, data, fin=fin)
            await rec.wait(lambda: sid in rec.stops)
            got = rec.stops[sid]
            await close_probe(c)
            return got

        self.assertEqual(asyncio.run(main()), (expect_code, expect_form))

    def test_reject_bad_magic_mapped_wt(self):
        self._reject("wt", self.hport, lambda: (b"DRAT" + bytes(28), False), 1, "mapped")

    def test_reject_bad_magic_quic(self):
        self._reject("quic", self.hport, lambda: (b"DRAT" + bytes(28), False), 1, "raw")

    def test_reject_raw_profile_wt(self):
        self._reject("wt", self.raw.ports["handler"],
                     lambda: (dt.build_stream_header(2, UUID1.bytes, b"VP09"), False), 1, "raw")

    def test_reject_screen_type_and_short_header(self):
        self._reject("quic", self.hport,
                     lambda: (dt.build_stream_header(2, UUID1.bytes, b"VP09"), False), 1, "raw")
        self._reject("wt", self.hport, lambda: (b"DART\x01", True), 1, "mapped")

    def test_reject_id_mismatch(self):
        u = uuid.uuid4()
        self._reject("wt", self.hport, lambda: (
            dt.build_stream_header(1, u.bytes, b"VP09")
            + dt.build_frame(1, uuid.uuid4().bytes, 1, 0, b"x"), False), 1, "mapped")

    def test_reject_before_auth(self):
        self._reject("wt", self.hport, lambda: (
            dt.build_stream_header(1, uuid.uuid4().bytes, b"VP09"), False), 2, "mapped",
            auth=False)
        self._reject("quic", self.hport, lambda: (
            dt.build_stream_header(1, uuid.uuid4().bytes, b"VP09"), False), 2, "raw",
            auth=False)

    def test_media_token_single_use_and_invalid(self):
        async def main():
            tok = media_token()
            c1, _s, _r, m1 = await media_auth(self.hport, "wt", tok)
            c2, _s, _r, m2 = await media_auth(self.hport, "quic", tok)
            c3, _s, _r, m3 = await media_auth(self.hport, "quic", "garbage")
            for c in (c1, c2, c3):
                await close_probe(c)
            return m1, m2, m3

        m1, m2, m3 = asyncio.run(main())
        self.assertEqual(m1["_which"], "connect_response")
        self.assertEqual((m2["_which"], m2["error"]["code"]), ("error", 2))
        self.assertEqual((m3["_which"], m3["error"]["code"]), ("error", 2))

    def test_forwarded_bytes_exact(self):
        """Reserved bytes/bits are zeroed; layout is big-endian; FIN propagates."""
        async def main():
            meeting = "fwd-" + uuid.uuid4().hex[:6]
            cs, ss, rs, m = await media_auth(self.hport, "quic", meeting=meeting)
            cp, sp_, rp, m2 = await media_auth(self.hport, "wt", meeting=meeting)
            u = uuid.uuid4()
            hdr = bytearray(dt.build_stream_header(1, u.bytes, b"AV01"))
            hdr[26:32] = b"\xff" * 6
            fr = bytearray(dt.build_frame(2, u.bytes, 123456789, 0, b"payload", flags=0xFFFF))
            fr[40:46] = b"\xee" * 6
            sid = sp_.open_uni()
            sp_.send(sid, bytes(hdr) + bytes(fr), fin=True)
            await rs.wait(lambda: any(s & 3 == 3 and s in rs.fin for s in rs.data))
            got = [bytes(v) for s, v in rs.data.items() if s & 3 == 3][0]
            # v2 datagrams: a bad version is dropped, a good one forwarded
            sp_.send_datagram(dt.build_v2(1, 9, 77, 1, 0, b"zz", version=2))
            sp_.send_datagram(dt.build_v2(1, 9, 77, 1, 1, b"ok"))
            await rs.wait(lambda: rs.datagrams)
            await asyncio.sleep(0.2)
            dgs = list(rs.datagrams)
            for c in (cs, cp):
                await close_probe(c)
            return got, dgs, u

        got, dgs, u = asyncio.run(main())
        expect = dt.build_stream_header(1, u.bytes, b"AV01") + \
            dt.build_frame(2, u.bytes, 123456789, 0, b"payload", flags=0x0003)
        self.assertEqual(got.hex(), expect.hex())
        self.assertEqual(dgs, [dt.build_v2(1, 9, 77, 1, 1, b"ok")])

    # -- process behaviour
    def test_cli_token_and_subprocess_client(self):
        tok = subprocess.run([PY, DT, "token", "--secret", SECRET, "--meeting", "cli"],
                             capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(dt.jwt_decode(tok, SECRET)["meeting_id"], "cli")
        r = subprocess.run([PY, DT, "client", "--target", "127.0.0.1:%d" % self.cport,
                            "--meeting", "cli", "--token", tok, "--cert-hash", self.hash,
                            "--transport", "quic", "--stay", "0"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("result ok", r.stdout)
        r = subprocess.run([PY, DT, "client", "--target", "127.0.0.1:%d" % self.cport,
                            "--meeting", "cli", "--token", tok, "--cert-hash", "00" * 32,
                            "--stay", "0"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    # -- client mutants against the good servers
    def test_client_mutants(self):
        expected = {"cl-magic-drat": 6, "cl-bidi-media": 6, "cl-frame-44": 6,
                    "cl-no-connect": 5, "cl-publish-first": 11, "cl-length-le": 18,
                    "cl-token-name-swap": 12}
        for name in [n for n, v in dt.MUTANTS.items() if v[0] == "client"]:
            m = "mut-" + name
            codes, outp = run_clients(self.base(m, "wt") + [
                "--mutant", name, "--publish", "video", "--frames", "5", "--rate", "200",
                "--stay", "0.5"] + (["--media-version", "2"] if "v2" in name else []))
            self.assertIsInstance(codes[0], int)
            if name in expected:
                self.assertEqual(codes[0], expected[name], name + "\n" + outp)


class T2ServerMutants(unittest.TestCase):
    """Every server mutant starts and answers; several are caught by the client."""

    @classmethod
    def setUpClass(cls):
        cls.procs = {}
        for name, (role, _w, _b) in dt.MUTANTS.items():
            if role in ("controller", "handler"):
                cls.procs[name] = ServerProc("server", "--mutant", name,
                                             "--meeting", "m,cap=1", "--ended", "old")
        for p in cls.procs.values():
            p.wait_ready(timeout=40)

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs.values():
            p.stop()

    def base(self, name, meeting="m", *more):
        p = self.procs[name]
        return ["--target", "127.0.0.1:%d" % p.ports["controller"], "--meeting", meeting,
                "--secret", SECRET, "--cert-hash", p.hash, "--timeout", "4",
                "--stay", "0"] + list(more)

    def test_all_started(self):
        self.assertEqual(len(self.procs), 20)
        for p in self.procs.values():
            self.assertIsNone(p.p.poll())

    def test_controller_mutants_detected(self):
        expired = dt.jwt_encode({"meeting_id": "m", "exp": int(time.time()) - 5}, SECRET)
        cases = [
            ("mc-length-le", self.base("mc-length-le"), 3),
            ("mc-pid-field5", self.base("mc-pid-field5"), 3),
            ("mc-badtoken-forbidden", self.base("mc-badtoken-forbidden", "m",
                                                "--secret", "nope"), 13),
            ("mc-ended-joinable", self.base("mc-ended-joinable", "old"), 0),
            ("mc-accept-expired", self.base("mc-accept-expired", "m", "--token", expired), 0),
            ("mc-long-name-ok", self.base("mc-long-name-ok", "m", "--name", "y" * 300), 0),
        ]
        for name, argv, want in cases:
            codes, outp = run_clients(argv)
            self.assertEqual(codes[0], want, name + "\n" + outp)
        # the good controller would answer 14/12/11 for the last three (see T1)

    def test_joined_tag_and_capacity(self):
        codes, outp = run_clients(
            self.base("mc-joined-tag3", "m", "--expect-participants", "1", "--timeout", "3"),
            self.base("mc-joined-tag3", "m", "--stay", "3"), stagger=0.5)
        self.assertNotEqual(codes[0], 0, outp)
        codes, outp = run_clients(self.base("mc-capacity-plus-one", "cap", "--stay", "1.5"),
                                  self.base("mc-capacity-plus-one", "cap"))
        self.assertEqual(codes, [0, 0], outp)

    def test_zero_length_mutant(self):
        async def main():
            c, sess, rec = await probe(self.procs["mc-zero-length-ok"].ports["controller"])
            sid = sess.open_bidi()
            sess.send(sid, b"\x00\x00\x00\x00")
            await asyncio.sleep(0.5)
            closed = sid in rec.fin
            await close_probe(c)
            return closed

        self.assertFalse(asyncio.run(main()))

    def _media_pair(self, name, version=1):
        common = ["--media-version", str(version)]
        return run_clients(
            self.base(name, "m", "--subscribe", "--expect-frames", "5", "--stay", "4") + common,
            self.base(name, "m", "--expect-participants", "1", "--publish", "video",
                      "--frames", "5", "--rate", "100", "--delay", "0.3") + common)

    def test_handler_mutants_detected(self):
        codes, outp = self._media_pair("mh-magic-drat")
        self.assertEqual(codes[0], 4, outp)
        codes, outp = self._media_pair("mh-frame-le")
        # little-endian sequence numbers show up as absurd gaps at the subscriber
        gaps = [int(g) for g in re.findall(r'"gaps": (\d+)', outp)]
        self.assertTrue(gaps and max(gaps) > 1 << 40, outp)

    def test_handler_acceptance_mutants(self):
        for name, build in [
            ("mh-accept-bad-magic", lambda u: b"DRAT" + dt.build_stream_header(1, u, b"VP09")[4:]),
            ("mh-accept-screen", lambda u: dt.build_stream_header(2, u, b"VP09")),
            ("mh-invalid-code-4", lambda u: b"XXXX" + bytes(28)),
            ("mh-unmapped-codes", lambda u: b"XXXX" + bytes(28)),
        ]:
            async def main():
                c, sess, rec, m = await media_auth(self.procs[name].ports["handler"], "wt")
                sid = sess.open_uni()
                sess.send(sid, build(uuid.uuid4().bytes))
                await asyncio.sleep(0.5)
                got = rec.stops.get(sid)
                await close_probe(c)
                return got

            got = asyncio.run(main())
            if name in ("mh-accept-bad-magic", "mh-accept-screen"):
                self.assertIsNone(got, name)
            elif name == "mh-invalid-code-4":
                self.assertEqual(got, (4, "mapped"), name)
            else:
                self.assertEqual(got, (1, "raw"), name)

    def test_handler_token_reuse_and_no_auth(self):
        async def main():
            port = self.procs["mh-token-reuse"].ports["handler"]
            tok = media_token()
            c1, _s, _r, m1 = await media_auth(port, "quic", tok)
            c2, _s, _r, m2 = await media_auth(port, "quic", tok)
            port = self.procs["mh-no-auth"].ports["handler"]
            c3, sess, rec = await probe(port, "quic")
            sid = sess.open_uni()
            sess.send(sid, dt.build_stream_header(1, uuid.uuid4().bytes, b"VP09"))
            await asyncio.sleep(0.4)
            stopped = sid in rec.stops
            for c in (c1, c2, c3):
                await close_probe(c)
            return m2, stopped

        m2, stopped = asyncio.run(main())
        self.assertEqual(m2["_which"], "connect_response")
        self.assertFalse(stopped)


if __name__ == "__main__":
    unittest.main(verbosity=2)
