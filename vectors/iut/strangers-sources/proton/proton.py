#!/usr/bin/env python3
"""Proton over QUIC: an independent server and client (aioquic 1.2.0).

Written from 004_03a81090c55d4a0c.txt and farazshaikh/quicprotocol @20e9100;
see README.md for every choice and its citation.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import json
import os
import signal
import struct
import sys
import time
from typing import Dict, Optional

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicErrorCode

# ---------------------------------------------------------------- constants
ALPN = "proton"
SERVER_NAME = "localhost"
DISC_EVENT, DISC_COMMIT, DISC_ACTION = 1, 2, 3
MAX_BIDI = 3
# application close codes used by the original server
CLOSE_OK = 0            # normal end / "another client is already connected"
CLOSE_SETUP_ERROR = 1   # bad / duplicate discriminator
CLOSE_ACCEPT_ERROR = 2
CLOSE_SETUP_TIMEOUT = 3
CLOSE_OP_TIMEOUT = 4
CLOSE_STREAM_ERROR = 5

EXIT_UNSUPPORTED = 89

MUTANTS = {
    "srv-ack-other-id": "server, breaks 004_03a81090c55d4a0c.txt:16 (how it works): acks event id N with N+1 instead of the same id",
    "srv-ack-big-endian": "server, breaks farazshaikh/quicprotocol src/proton/server.rs:95 @20e9100 (how it works): writes the event ack big-endian instead of little-endian",
    "srv-commit-short": "server, breaks 004_03a81090c55d4a0c.txt:19 (how it works): answers a StateCommit with 2 bytes instead of a 4-byte answer",
    "srv-no-action": "server, breaks 004_03a81090c55d4a0c.txt:22 (how it works): never sends a 4-byte action item on the Action stream",
    "srv-swap-commit-action": "server, breaks farazshaikh/quicprotocol src/proton/mod.rs:6-7 @20e9100 (how it works): treats discriminator 2 as Action and 3 as StateCommit",
    "srv-second-conn-served": "server, breaks 004_03a81090c55d4a0c.txt:10 (how it works, invariant): serves a second concurrent connection instead of refusing/closing it",
    "srv-dup-stream-ok": "server, breaks 004_03a81090c55d4a0c.txt:10 (how it works, invariant): accepts a second stream with an already-used discriminator instead of closing the connection",
    "srv-bad-disc-ok": "server, breaks farazshaikh/quicprotocol src/proton/server.rs:66,331-335 @20e9100 (how it works): ignores an unknown discriminator byte instead of closing with code 1",
    "srv-setup-code": "server, breaks farazshaikh/quicprotocol src/proton/server.rs:334 @20e9100 (how it works): closes a bad stream setup with application code 5 instead of 1",
    "srv-alpn": "server, breaks farazshaikh/quicprotocol src/proton/server.rs:246 @20e9100 (how it works): offers ALPN 'proton2' instead of 'proton'",
    "srv-max-streams": "server, breaks farazshaikh/quicprotocol src/proton/server.rs:254 @20e9100 (how it works): advertises initial_max_streams_bidi 100 instead of 3",
    "srv-idle-timeout": "server, breaks 004_03a81090c55d4a0c.txt:27 and src/proton/mod.rs:16 @20e9100 (how it works): advertises max_idle_timeout 30 s instead of 5 s",
    "srv-no-startup-delay": "server, breaks farazshaikh/quicprotocol src/proton/server.rs:270-275 @20e9100 (how it works): serves streams immediately, ignoring the startup delay",
    "cli-wrong-disc": "client, breaks farazshaikh/quicprotocol src/proton/mod.rs:5 @20e9100 (how it works): identifies the Event stream with byte 4 instead of 1",
    "cli-event-repeat": "client, breaks 004_03a81090c55d4a0c.txt:16 (how it works): sends the same event id twice (not monotonically increasing)",
    "cli-event-3byte": "client, breaks 004_03a81090c55d4a0c.txt:16 (how it works): sends each event identifier as 3 bytes instead of 4",
    "cli-ignore-ack": "client, breaks 004_03a81090c55d4a0c.txt:16 (how it works): does not check that the ack echoes the event id and exits 0 anyway",
    "cli-no-close": "client, breaks farazshaikh/quicprotocol src/proton/client.rs:246-252 @20e9100 (how it works): ends without sending CONNECTION_CLOSE (code 0) to the server",
}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def u32le(v: int) -> bytes:
    return struct.pack("<I", v & 0xFFFFFFFF)


class ProtocolViolation(Exception):
    pass


class StreamGone(Exception):
    pass


# ---------------------------------------------------------------- QUIC glue
class StreamBuf:
    def __init__(self):
        self.data = bytearray()
        self.fin = False
        self.reset = False
        self.cond = asyncio.Event()


class ProtonProtocol(QuicConnectionProtocol):
    """A connection with simple per-stream byte buffers."""

    owner = None  # set by factories

    def __init__(self, quic, stream_handler=None, owner=None, max_bidi=MAX_BIDI):
        super().__init__(quic, stream_handler)
        self.owner = owner
        # advertise at most 3 bidirectional streams (server.rs:254, client.rs:125)
        quic._local_max_streams_bidi.value = max_bidi
        quic._local_max_streams_bidi.sent = max_bidi
        self.streams: Dict[int, StreamBuf] = {}
        self.new_streams: asyncio.Queue = asyncio.Queue()
        self.handshake_done = asyncio.Event()
        self.terminated = asyncio.Event()
        self.close_info = None
        self._first_event = True
        self._ka_task = None

    # -- events
    def quic_event_received(self, event):
        if self._first_event:
            self._first_event = False
            if self.owner is not None:
                self.owner.on_first_event(self)
        if isinstance(event, events.HandshakeCompleted):
            self.handshake_done.set()
        elif isinstance(event, events.StreamDataReceived):
            sid = event.stream_id
            buf = self.streams.get(sid)
            if buf is None:
                buf = self.streams[sid] = StreamBuf()
                # peer-initiated bidirectional streams only (what accept_bi sees)
                if (sid & 2) == 0 and (sid & 1) == int(self._quic._is_client):
                    self.new_streams.put_nowait(sid)
            buf.data += event.data
            if event.end_stream:
                buf.fin = True
            buf.cond.set()
        elif isinstance(event, events.StreamReset):
            buf = self.streams.setdefault(event.stream_id, StreamBuf())
            buf.reset = True
            buf.cond.set()
        elif isinstance(event, events.ConnectionTerminated):
            self.close_info = (event.error_code, event.frame_type, event.reason_phrase)
            self.terminated.set()
            for b in self.streams.values():
                b.cond.set()
            if self.owner is not None:
                self.owner.on_terminated(self)
        # the base class is deliberately not called: it would create asyncio
        # StreamWriters whose garbage collection sends FIN on our streams

    # -- helpers
    async def read_exact(self, sid: int, n: int, timeout: float) -> bytes:
        buf = self.streams.setdefault(sid, StreamBuf())

        async def _wait():
            while True:
                if len(buf.data) >= n:
                    out = bytes(buf.data[:n])
                    del buf.data[:n]
                    return out
                if buf.fin or buf.reset or self.terminated.is_set():
                    raise StreamGone("stream %d ended fin=%s reset=%s term=%s" % (sid, buf.fin, buf.reset, self.terminated.is_set()))
                buf.cond.clear()
                await buf.cond.wait()

        return await asyncio.wait_for(_wait(), timeout)

    def write(self, sid: int, data: bytes, end: bool = False):
        if self.terminated.is_set():
            raise StreamGone("connection closed")
        self._quic.send_stream_data(sid, data, end_stream=end)
        self.transmit()

    def app_close(self, code: int, reason: str):
        if not self.terminated.is_set():
            self._quic.close(error_code=code, reason_phrase=reason)
            self.transmit()

    def start_keepalive(self, interval: float):
        if interval and interval > 0 and self._ka_task is None:
            self._ka_task = asyncio.ensure_future(self._keepalive(interval))

    async def _keepalive(self, interval):
        uid = 1 << 40
        try:
            while not self.terminated.is_set():
                await asyncio.sleep(interval)
                if self.terminated.is_set():
                    break
                uid += 1
                self._quic.send_ping(uid)
                self.transmit()
        except Exception:
            pass


def make_config(is_client: bool, args, mutant: Optional[str]) -> QuicConfiguration:
    alpn = ALPN
    if mutant == "srv-alpn":
        alpn = "proton2"
    idle = args.idle_timeout
    if mutant == "srv-idle-timeout":
        idle = 30.0
    cfg = QuicConfiguration(is_client=is_client, alpn_protocols=[alpn], idle_timeout=idle)
    cfg.secrets_log_file = open(args.keylog, "a", buffering=1)
    if is_client:
        import ssl
        cfg.verify_mode = ssl.CERT_NONE  # server.rs uses a self-signed cert; client skips checks
        cfg.server_name = SERVER_NAME
    else:
        key, cert = self_signed()
        cfg.private_key = key
        cfg.certificate = cert
    return cfg


def self_signed():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def parse_addr(s: str):
    host, _, port = s.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


# ---------------------------------------------------------------- server
class ProtonServer:
    def __init__(self, args):
        self.args = args
        self.mutant = args.mutant
        self.active: Optional[ProtonProtocol] = None
        self.protocols = set()
        self.delay_done = asyncio.Event()
        self.tasks = set()

    # called on the first QUIC event of every new connection
    def on_first_event(self, proto: ProtonProtocol):
        self.protocols.add(proto)
        proto.start_keepalive(self.args.keepalive)
        if self.active is not None and self.active is not proto and not self.active.terminated.is_set() \
                and self.mutant != "srv-second-conn-served":
            mode = self.args.second_conn
            log("second connection while one is active: %s" % mode)
            if mode == "refuse":
                # quinn concurrent_connections(1): transport CONNECTION_REFUSED at handshake
                proto._quic.close(error_code=QuicErrorCode.CONNECTION_REFUSED,
                                  reason_phrase="only one connection allowed")
            else:  # app-close: server.rs:314-320, after the handshake
                t = asyncio.ensure_future(self._app_reject(proto))
                self.tasks.add(t)
                t.add_done_callback(self.tasks.discard)
            return
        if self.active is None or self.active.terminated.is_set():
            self.active = proto
        t = asyncio.ensure_future(self.handle(proto))
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def on_terminated(self, proto):
        self.protocols.discard(proto)
        if self.active is proto:
            self.active = None
            log("connection state cleared; ready for a new connection", proto.close_info)

    async def _app_reject(self, proto):
        await asyncio.wait([asyncio.ensure_future(proto.handshake_done.wait()),
                            asyncio.ensure_future(proto.terminated.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        proto.app_close(CLOSE_OK, "Another client is already connected")

    async def handle(self, proto: ProtonProtocol):
        a = self.args
        try:
            await proto.handshake_done.wait()
            if self.mutant != "srv-no-startup-delay":
                await self.delay_done.wait()
            # ---- stream identification: exactly three streams, each within accept_timeout
            roles: Dict[int, int] = {}
            disc_map = {DISC_EVENT: "event", DISC_COMMIT: "commit", DISC_ACTION: "action"}
            if self.mutant == "srv-swap-commit-action":
                disc_map = {DISC_EVENT: "event", DISC_COMMIT: "action", DISC_ACTION: "commit"}
            by_role: Dict[str, int] = {}
            while len(by_role) < 3:
                try:
                    sid = await asyncio.wait_for(proto.new_streams.get(), a.accept_timeout)
                except asyncio.TimeoutError:
                    log("timeout waiting for stream establishment")
                    proto.app_close(CLOSE_SETUP_TIMEOUT, "Stream setup timeout")
                    return
                if proto.terminated.is_set():
                    return
                try:
                    d = (await proto.read_exact(sid, 1, a.ident_timeout))[0]
                    role = disc_map.get(d)
                    if role is None:
                        if self.mutant == "srv-bad-disc-ok":
                            log("ignoring unknown discriminator %d" % d)
                            continue
                        raise ProtocolViolation("unknown discriminator %d" % d)
                    if role in by_role:
                        if self.mutant == "srv-dup-stream-ok":
                            log("accepting duplicate %s stream" % role)
                            continue
                        raise ProtocolViolation("duplicate %s stream" % role)
                    by_role[role] = sid
                    log("stream %d identified as %s" % (sid, role))
                except (ProtocolViolation, StreamGone, asyncio.TimeoutError) as e:
                    log("stream setup error:", e)
                    code = CLOSE_STREAM_ERROR if self.mutant == "srv-setup-code" else CLOSE_SETUP_ERROR
                    proto.app_close(code, "Stream setup error")
                    return
            # ---- serve the three streams; the first one to end decides
            async def guard(coro):
                try:
                    await coro
                    return None
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # the failure is the result
                    return e

            tasks = [
                asyncio.ensure_future(guard(self.serve_event(proto, by_role["event"]))),
                asyncio.ensure_future(guard(self.serve_commit(proto, by_role["commit"]))),
                asyncio.ensure_future(guard(self.serve_action(proto, by_role["action"]))),
                asyncio.ensure_future(proto.terminated.wait()),
            ]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in pending:
                t.cancel()
            if proto.terminated.is_set():
                log("client closed connection", proto.close_info)
                return
            exc = None
            for t in done:
                r = t.result()
                if isinstance(r, Exception):
                    exc = r
            if isinstance(exc, asyncio.TimeoutError):
                log("stream operation timed out")
                proto.app_close(CLOSE_OP_TIMEOUT, "Stream operation timeout")
            elif exc is not None:
                log("stream error:", repr(exc))
                proto.app_close(CLOSE_STREAM_ERROR, "Stream error")
            else:
                proto.app_close(CLOSE_OK, "Streams completed")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # pragma: no cover
            log("handler crashed:", repr(e))
            proto.app_close(CLOSE_STREAM_ERROR, "Stream error")

    async def serve_event(self, proto, sid):
        last = 0
        while True:
            raw = await proto.read_exact(sid, 4, self.args.op_timeout)
            eid = struct.unpack("<I", raw)[0]
            if eid <= last:
                raise ProtocolViolation("event id %d not above %d" % (eid, last))
            last = eid
            ack = eid
            if self.mutant == "srv-ack-other-id":
                ack = eid + 1
            data = struct.pack(">I", ack & 0xFFFFFFFF) if self.mutant == "srv-ack-big-endian" else u32le(ack)
            proto.write(sid, data)
            log("event %d acknowledged" % eid)

    async def serve_commit(self, proto, sid):
        while True:
            raw = await proto.read_exact(sid, 4, self.args.op_timeout)
            cid = struct.unpack("<I", raw)[0]
            if self.args.commit_delay > 0:
                await asyncio.sleep(self.args.commit_delay)
            ans = cid * 2 if self.args.commit_rule == "double" else cid + 2
            data = u32le(ans)
            if self.mutant == "srv-commit-short":
                data = data[:2]
            proto.write(sid, data)
            log("state commit %d answered %d" % (cid, ans & 0xFFFFFFFF))

    async def serve_action(self, proto, sid):
        counter = self.args.action_start
        if self.args.action_mode == "push":
            while True:
                if self.mutant != "srv-no-action":
                    proto.write(sid, u32le(counter))
                    counter += 1
                await asyncio.sleep(self.args.action_interval)
        while True:
            raw = await proto.read_exact(sid, 4, self.args.op_timeout)
            req = struct.unpack("<I", raw)[0]
            if self.mutant == "srv-no-action":
                continue
            proto.write(sid, u32le(counter))
            log("action request %d answered with action %d" % (req, counter))
            counter += 1

    async def run(self):
        a = self.args
        cfg = make_config(False, a, self.mutant)
        host, port = parse_addr(a.listen)
        max_bidi = 100 if self.mutant == "srv-max-streams" else MAX_BIDI

        def factory(quic, stream_handler=None):
            return ProtonProtocol(quic, stream_handler, owner=self, max_bidi=max_bidi)

        server = await serve(host, port, configuration=cfg, create_protocol=factory)
        sock = server._transport.get_extra_info("sockname")
        print("listening on %s:%d" % (sock[0], sock[1]), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)

        async def delay():
            log("waiting %.3fs startup delay" % a.startup_delay)
            await asyncio.sleep(a.startup_delay)
            self.delay_done.set()
            log("startup delay over; serving")

        dt = asyncio.ensure_future(delay())
        await stop.wait()
        dt.cancel()
        for p in list(self.protocols):
            p.app_close(CLOSE_OK, "Server shutting down")
        for t in list(self.tasks):
            t.cancel()
        await asyncio.sleep(0.05)
        server.close()
        return 0


# ---------------------------------------------------------------- client
class ClientFailure(Exception):
    pass


async def client_main(args) -> int:
    a = args
    mutant = a.mutant
    host, port = parse_addr(a.connect)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log("refusing non-loopback target")
        return 2
    log("waiting %.3fs startup delay" % a.startup_delay)
    await asyncio.sleep(a.startup_delay)

    attempt = 0
    while True:
        cfg = make_config(True, a, mutant)
        try:
            return await client_session(a, cfg, host, port)
        except _Retryable as e:
            log("connect/setup failed:", e)
            if attempt >= a.connect_retries:
                return 1
            attempt += 1
            log("retrying connection (%d/%d)" % (attempt, a.connect_retries))
            await asyncio.sleep(a.retry_delay)
        except ClientFailure as e:
            log("FAILED:", e)
            return 1


class _Retryable(Exception):
    pass


async def client_session(a, cfg, host, port) -> int:
    mutant = a.mutant

    def factory(quic, stream_handler=None):
        return ProtonProtocol(quic, stream_handler)

    cm = connect(host, port, configuration=cfg, create_protocol=factory, wait_connected=True)
    try:
        proto: ProtonProtocol = await asyncio.wait_for(cm.__aenter__(), a.handshake_timeout)
    except (ConnectionError, asyncio.TimeoutError, OSError) as e:
        raise _Retryable("handshake: %r" % (e,))
    ok = False
    try:
        proto.start_keepalive(a.keepalive)
        # ---- open the three streams, in the order of client.rs:33-55
        sids = {}
        discs = [("event", DISC_EVENT), ("commit", DISC_COMMIT), ("action", DISC_ACTION)]
        try:
            for role, d in discs:
                sid = proto._quic.get_next_available_stream_id()
                if mutant == "cli-wrong-disc" and role == "event":
                    d = 4
                proto.write(sid, bytes([d]))
                sids[role] = sid
                log("%s stream %d opened (discriminator %d)" % (role, sid, d))
        except Exception as e:
            raise _Retryable("stream setup: %r" % (e,))

        T = a.op_timeout

        async def rd(sid, what):
            try:
                return struct.unpack("<I", await proto.read_exact(sid, 4, T))[0]
            except asyncio.TimeoutError:
                raise ClientFailure("timeout waiting for %s" % what)
            except StreamGone as e:
                raise ClientFailure("%s: connection/stream ended waiting for %s (close=%r)" % (e, what, proto.close_info))

        event_id = a.event_start - a.event_step
        last_action = None
        n = max(a.events, a.commits, a.actions)
        for i in range(n):
            if i < a.events:
                if not (mutant == "cli-event-repeat" and i == 1):
                    event_id += a.event_step
                enc = u32le(event_id)[:3] if mutant == "cli-event-3byte" else u32le(event_id)
                proto.write(sids["event"], enc)
                ack = await rd(sids["event"], "event ack")
                if ack != (event_id & 0xFFFFFFFF) and mutant != "cli-ignore-ack":
                    raise ClientFailure("event %d acked with %d" % (event_id, ack))
                print("Event acknowledged with ID: %d" % ack, flush=True)
            if i < a.commits:
                cid = (a.commit_start + i * a.commit_step) & 0xFFFFFFFF
                proto.write(sids["commit"], u32le(cid))
                ans = await rd(sids["commit"], "state commit answer")
                allowed = {"double": [cid * 2], "plus2": [cid + 2], "any": [cid * 2, cid + 2]}[a.commit_rule]
                if ans not in [x & 0xFFFFFFFF for x in allowed]:
                    raise ClientFailure("commit %d answered %d (rule %s)" % (cid, ans, a.commit_rule))
                print("State commit response: %d" % ans, flush=True)
            if i < a.actions:
                if a.action_mode == "request":
                    req = (a.action_request + i) & 0xFFFFFFFF
                    proto.write(sids["action"], u32le(req))
                act = await rd(sids["action"], "action")
                if a.strict_actions and last_action is not None and act != ((last_action + 1) & 0xFFFFFFFF):
                    raise ClientFailure("action %d does not follow %d" % (act, last_action))
                last_action = act
                print("Received action: %d" % act, flush=True)
            if a.op_gap > 0:
                await asyncio.sleep(a.op_gap)
        ok = True
    finally:
        if mutant == "cli-no-close" and ok:
            # vanish: no CONNECTION_CLOSE at all
            log("all operations answered correctly (leaving without CONNECTION_CLOSE)")
            sys.stdout.flush()
            os._exit(0)
        else:
            proto.app_close(CLOSE_OK, "Client closed connection")
            try:
                await asyncio.wait_for(proto.wait_closed(), 2.0)
            except Exception:
                pass
            try:
                proto._transport.close()
            except Exception:
                pass
    log("all operations answered correctly")
    return 0


# ---------------------------------------------------------------- CLI
def build_parser():
    p = argparse.ArgumentParser(description="Proton over QUIC (independent implementation)")
    sub = p.add_subparsers(dest="role", required=True)

    def common(sp):
        sp.add_argument("--keylog", required=True, help="append TLS secrets (NSS key log format) here")
        sp.add_argument("--idle-timeout", type=float, default=5.0, help="QUIC max_idle_timeout, seconds (5)")
        sp.add_argument("--keepalive", type=float, default=1.0,
                        help="PING interval, seconds (1 = prose hb; 5 = as coded; 0 = off)")
        sp.add_argument("--startup-delay", type=float, default=10.0, help="seconds (10 = 2*idle)")
        sp.add_argument("--op-timeout", type=float, default=300.0, help="per send/recv timeout, seconds (300)")
        sp.add_argument("--commit-rule", choices=["double", "plus2", "any"], default=None,
                        help="StateCommit answer: double (transcript) / plus2 (as coded) / any (client only)")
        sp.add_argument("--action-mode", choices=["request", "push"], default="request",
                        help="request: 4-byte request per action (as coded); push: server sends items unprompted (prose)")
        sp.add_argument("--second-conn", choices=["refuse", "app-close", "close-both"], default="app-close",
                        help="server reaction to a second connection")
        sp.add_argument("--session-id", action="store_true", help="review suggestion (not implemented: 89)")
        sp.add_argument("--reset-byte", default=None, help="review's 0xFF reset discriminator (not implemented: 89)")
        sp.add_argument("--mutant", default=None)

    s = sub.add_parser("server")
    s.add_argument("--listen", required=True)
    s.add_argument("--accept-timeout", type=float, default=5.0, help="per stream establishment, seconds (5)")
    s.add_argument("--ident-timeout", type=float, default=300.0, help="discriminator read timeout, seconds (300)")
    s.add_argument("--commit-delay", type=float, default=0.0, help="processing delay before a commit answer, s")
    s.add_argument("--action-start", type=int, default=123, help="first action value (123, as in the transcript)")
    s.add_argument("--action-interval", type=float, default=0.05, help="push mode pacing, seconds")
    common(s)

    c = sub.add_parser("client")
    c.add_argument("--connect", required=True)
    c.add_argument("--events", type=int, default=3)
    c.add_argument("--commits", type=int, default=3)
    c.add_argument("--actions", type=int, default=3)
    c.add_argument("--event-start", type=int, default=1)
    c.add_argument("--event-step", type=int, default=3)
    c.add_argument("--commit-start", type=int, default=4242)
    c.add_argument("--commit-step", type=int, default=7)
    c.add_argument("--action-request", type=int, default=77, help="value of the first action request")
    c.add_argument("--strict-actions", action="store_true", help="require consecutive action values")
    c.add_argument("--op-gap", type=float, default=0.0, help="pause between rounds, seconds (example client: 1)")
    c.add_argument("--connect-retries", type=int, default=5)
    c.add_argument("--retry-delay", type=float, default=2.0)
    c.add_argument("--handshake-timeout", type=float, default=10.0)
    common(c)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.mutant is not None and args.mutant not in MUTANTS:
        print("unknown mutant %s" % args.mutant, file=sys.stderr)
        return EXIT_UNSUPPORTED
    if args.mutant is not None and not MUTANTS[args.mutant].startswith(args.role):
        print("mutant %s is for the other role" % args.mutant, file=sys.stderr)
        return EXIT_UNSUPPORTED
    if args.session_id or args.reset_byte is not None or args.second_conn == "close-both":
        print("configuration not supported", file=sys.stderr)
        return EXIT_UNSUPPORTED
    if args.commit_rule is None:
        args.commit_rule = "double" if args.role == "server" else "any"
    if args.role == "server" and args.commit_rule == "any":
        return EXIT_UNSUPPORTED
    try:
        if args.role == "server":
            return asyncio.run(ProtonServer(args).run())
        return asyncio.run(client_main(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
