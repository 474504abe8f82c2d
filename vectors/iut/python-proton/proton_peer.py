#!/usr/bin/env python3
"""proton_peer.py -- an independent implementation of the "Proton" QUIC control protocol.

Written only from the project's facts (shared/protocols/proton.md: wire facts, as-coded details,
profile decisions P1-P5) and the harness's behaviour notes (H1-H12, timer defaults per profile).
No other Proton implementation was read. One file, Python 3.11, aioquic 1.2.0 (sans-I/O
QuicConnection driven by our own asyncio UDP endpoints).

Usage
-----
  proton_peer.py server --listen HOST:PORT --profile as_coded|project [--idle-ms N] [--keepalive-ms N]
                 [--accept-ms N] [--op-ms N] [--startup-ms N] [--disc-ms N] [--action-interval-ms N]
                 [--action-push] [--reset-discriminator] [--keylog FILE] [--mutant NAME]
                 [--plant crash|hang]   (planted bug for the network-fuzzing evaluation, see ../PLANTED.md)
  proton_peer.py client --target HOST:PORT --profile as_coded|project [--idle-ms N] [--keepalive-ms N]
                 [--op-ms N] --events N --commits N --actions N [--action-push] [--keylog FILE]
                 [--mutant NAME]
  proton_peer.py repl --target HOST:PORT [--idle-ms N] [--keepalive-ms N] [--op-ms N] [--keylog FILE]

Exit codes: 0 ok (server: SIGTERM/SIGINT), 1 protocol failure, 2 usage error, 89 unsupported.

Wire (all u32 little-endian): three client-opened bidirectional streams, first byte = discriminator
1 Event (echo of strictly increasing ids >= 1), 2 StateCommit (answer r + 2), 3 Action (counter
0, 1, 2, ...; pull: one per u32 the client writes; push: one every action-interval-ms).

Choices where the facts and notes are silent (see README.md as well)
---------------------------------------------------------------------
 1. Refusal (H10): while a connection is live, a client Initial (datagram >= 1200 bytes) with an
    unknown destination connection id is answered statelessly with ONE datagram holding one
    Initial packet (keys derived from the client's DCID) that carries only
    CONNECTION_CLOSE type 0x1c, error 0x2 CONNECTION_REFUSED, frame type 0, empty reason. No TLS
    is started for it (as quinn's connection limit does). Each retransmitted Initial gets the same.
 2. "Live" = from the first Initial until the application's session ends: our close, the peer's
    close, or the QUIC idle timeout. The QUIC closing period of an ended connection does not
    block the next connection (so a reset or a normal close lets a client reconnect at once).
 3. H1: during the startup wait the QUIC stack may complete a handshake (like quinn's accept
    queue); the application starts serving (accept timer) only when the wait is over.
 4. H2: the accept timer of the first stream starts when the application accepts the connection
    (handshake complete and startup over); a stream counts as opened when any frame for it, or
    for a higher-numbered client bidirectional stream, has arrived (QUIC's implicit opening).
 5. The discriminator read without P3 (as_coded, or project with --disc-ms 0) is a read operation:
    bounded by op-ms -> close 4.
 6. P3 also applies to the 4th (reset) stream: no discriminator within disc-ms -> close 1.
 7. Ends of streams (P5, corrected: the original's code): a FIN or RESET_STREAM on a stream
    before its discriminator was read fails its setup: close 1, when the setup reaches that
    stream. After the setup every FIN ends a read early: close 5, at a u32 boundary too (FIN is
    judged where the reader reaches it: data before it is served first). A RESET_STREAM on a
    set-up stream, or a STOP_SENDING on any stream, closes at once with 5 (H7).
 8. Push (H5): item k (counter k) is written at t0 + k * action-interval-ms, the first one at t0,
    the moment serving starts (all three streams set up, H2; with the normal order 1, 2, 3 that is
    the moment the Action stream is set up). A write "completes" when all its bytes have been put
    in a packet once; a write not complete within op-ms (peer's flow control) -> close 4.
 9. Keep-alive: a PING when no ack-eliciting packet was sent for keepalive-ms, after the
    handshake. A timer given as 0 means "none" (idle, keep-alive, accept, op, disc); for idle
    aioquic needs a value, one day is used.
10. Unidirectional streams are not part of the protocol; aioquic's default limit is kept and
    their data is ignored.
11. A mutant of the other role is accepted and has no effect; project-only mutants have no effect
    in as_coded.
12. REPL: `connect [secs]` waits secs (default 0) before connecting, then opens the three
    streams; the REPL's reset waits 2 x idle-ms (default 5000).
13. Client on failure: a wrong answer or a stream error -> it closes with application code 5, its
    own read timeout (op-ms) -> code 4 (the facts' codes read as "protocol violation" and
    "operation timeout"); after a close from the server or the idle timeout there is nothing to
    send. Exit 1 in every case, with RESULT=fail reason=... on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import struct
import sys
from typing import Callable, Dict, List, Optional, Tuple

try:
    from aioquic.buffer import Buffer
    from aioquic.quic import events as qe
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.crypto import CryptoPair
    from aioquic.quic.packet import (
        QuicErrorCode,
        QuicFrameType,
        QuicPacketType,
        encode_quic_version_negotiation,
        pull_quic_header,
    )
    from aioquic.quic.packet_builder import QuicPacketBuilder
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError as _exc:  # pragma: no cover
    print(f"unsupported: aioquic is not installed ({_exc})", file=sys.stderr)
    sys.exit(89)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 89

ALPN = "proton"
U32 = struct.Struct("<I")
MASK32 = 0xFFFFFFFF
PLANTS = ("crash", "hang")  # planted bugs (see PLANTED.md)
CID_LEN = 8
MIN_INITIAL = 1200

DISC_EVENT, DISC_COMMIT, DISC_ACTION, DISC_RESET = 1, 2, 3, 0xFF
ROLE_NAMES = {DISC_EVENT: "event", DISC_COMMIT: "commit", DISC_ACTION: "action"}

# name -> (role, rule, description)
MUTANTS: Dict[str, Tuple[str, str, str]] = {
    "commit-times-two": ("server", "H4",
                         "a StateCommit request r is answered with r * 2 (the README's example) instead of r + 2"),
    "equal-event-id-accepted": ("server", "H3",
                                "an Event id equal to the previous one is echoed instead of closing with 5"),
    "decreasing-event-id-accepted": ("server", "H3",
                                     "an Event id smaller than the previous one is echoed instead of closing with 5"),
    "event-id-zero-accepted": ("server", "H3",
                               "an Event id 0 (as the first id) is echoed instead of closing with 5"),
    "wrong-close-code-on-bad-discriminator": ("server", "H2",
                                              "an unknown or repeated discriminator closes with code 5 instead of 1"),
    "second-connection-accepted": ("server", "H10",
                                   "a second connection while one is live is accepted and served instead of "
                                   "refused with transport CONNECTION_REFUSED 0x2"),
    "refuse-with-app-close": ("server", "H10",
                              "a second connection is refused by completing the handshake and closing with "
                              "application code 0 instead of the transport error CONNECTION_REFUSED 0x2"),
    "action-counter-from-one": ("server", "H5",
                                "the Action counter starts at 1 (1, 2, 3, ...) instead of 0"),
    "no-accept-timeout": ("server", "H2",
                          "no stream accept timeout: waits forever for the streams instead of closing with 3"),
    "accept-timeout-code-2": ("server", "H2",
                              "a stream accept timeout closes with code 2 instead of 3"),
    "fin-ignored": ("server", "P5",
                    "a FIN at a u32 boundary after the setup does not close the connection with 5 (the stream "
                    "is just no longer served)"),
    "discriminator-twice-accepted": ("server", "H2",
                                     "a discriminator already used on the connection is accepted instead of "
                                     "closing with 1"),
    "fin-inside-u32-code-0": ("server", "P5",
                              "a FIN inside a u32 closes with code 0 instead of 5"),
    "early-fin-code-0": ("server", "P5",
                         "a FIN before the discriminator closes with code 0 instead of 1"),
    "commit-no-overflow-check": ("server", "P1",
                                 "project: r >= 0xFFFFFFFE wraps (as coded) instead of closing with 5"),
    "no-discriminator-timeout": ("server", "P3",
                                 "project: no discriminator timeout (the read waits op-ms, then closes with 4) "
                                 "instead of closing with 1 after disc-ms"),
    "reset-discriminator-ignored": ("server", "P4",
                                    "project: a 4th stream with discriminator 0xFF is ignored instead of closing "
                                    "with 0 (reason reset)"),
    "op-timeout-code-5": ("server", "H6",
                          "an operation timeout closes with code 5 instead of 4"),
    "stop-sending-ignored": ("server", "H7",
                             "a STOP_SENDING from the client does not close the connection with 5"),
    "max-streams-four": ("server", "H8",
                         "MAX_STREAMS bidi = 4 without the reset option (a 4th stream is accepted by QUIC and "
                         "left unread) instead of 3"),
    "push-counter-prompted": ("server", "H5",
                              "project push: the counter is written only in answer to a u32 from the client "
                              "(pull) instead of unprompted every action-interval-ms"),
    "client-skips-action-discriminator-order": ("client", "H11",
                                                "writes the discriminators 1, 3, 2 on streams 0, 4, 8 (Action "
                                                "before StateCommit) instead of 1, 2, 3 (each stream then used "
                                                "by the role it announced)"),
    "client-event-ids-from-0": ("client", "H11",
                                "Event ids 0, 1, 2, ... instead of 1, 2, 3, ..."),
    "client-commits-from-0": ("client", "H11",
                              "StateCommit requests 0, 1, 2, ... instead of 1, 2, 3, ..."),
    "client-close-code-5": ("client", "H11",
                            "closes with application code 5 at the end instead of 0"),
    "client-no-close": ("client", "H11",
                        "exits without closing the connection (the server sees the idle timeout)"),
    "client-ignores-wrong-commit": ("client", "H11",
                                    "does not check StateCommit answers (a wrong answer still exits 0)"),
    "client-exit-0-on-server-close": ("client", "H11",
                                      "a close from the server before the end is reported as RESULT=ok, exit 0"),
}

PROFILES = ("as_coded", "project")
DEFAULTS = {
    #            idle  keepalive accept  op      startup disc
    "as_coded": (5000, 5000, 5000, 300000, 10000, 0),
    "project": (5000, 1000, 5000, 300000, 10000, 1000),
}
NO_IDLE_S = 86400.0


def planted(kind: str) -> None:
    """planted bug (see PLANTED.md)"""
    if kind == "crash":
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except Exception:  # noqa: BLE001
            pass
        os.abort()
    import time
    while True:
        time.sleep(3600)


class Usage(Exception):
    pass


class Unsupported(Exception):
    pass


class ProtonClose(Exception):
    """The server closes the connection with this application code."""

    def __init__(self, code: int, reason: str):
        super().__init__(f"close {code}: {reason}")
        self.code = code
        self.reason = reason


class LinkEnded(Exception):
    """The connection ended (either side, or idle timeout); .info is the Link's close_info."""

    def __init__(self, info: Optional[dict]):
        super().__init__(describe_close(info))
        self.info = info


class StreamDone(Exception):
    """A stream is no longer served (mutant fin-ignored)."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def parse_hostport(text: str) -> Tuple[str, int]:
    if not text or ":" not in text:
        raise Usage(f"expected HOST:PORT, got {text!r}")
    host, _, port_s = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise Usage(f"expected HOST:PORT, got {text!r}")
    try:
        port = int(port_s)
    except ValueError:
        raise Usage(f"bad port in {text!r}") from None
    if not 0 <= port <= 65535:
        raise Usage(f"bad port in {text!r}")
    return host, port


def make_certificate():
    """A fresh self-signed certificate for `localhost` (P-256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def open_keylog(path: Optional[str]):
    if not path:
        return None
    return open(path, "a", encoding="ascii")


def describe_close(info: Optional[dict]) -> str:
    if info is None:
        return "open"
    kind = info["kind"]
    if kind == "idle":
        return "idle timeout"
    tr = "transport" if info["transport"] else "app"
    return f"{kind} {tr} code={info['code']} reason={info['reason']!r}"


# --------------------------------------------------------------------------------------------
# one QUIC connection driven by asyncio (sans-I/O pump)
# --------------------------------------------------------------------------------------------

class Rx:
    __slots__ = ("buf", "fin", "reset")

    def __init__(self):
        self.buf = bytearray()
        self.fin = False
        self.reset: Optional[int] = None


class FixedStreamsConnection(QuicConnection):
    """A server connection whose MAX_STREAMS bidi is fixed (aioquic would double it)."""

    def __init__(self, *args, max_bidi: int = 3, **kwargs):
        super().__init__(*args, **kwargs)
        lim = self._local_max_streams_bidi
        lim.value = max_bidi
        lim.sent = max_bidi

    def _write_connection_limits(self, *args, **kwargs):
        lim = self._local_max_streams_bidi
        used = lim.used
        lim.used = 0  # never "more than half used": no raise
        try:
            return super()._write_connection_limits(*args, **kwargs)
        finally:
            lim.used = used


class Link:
    def __init__(self, quic: QuicConnection, sendto: Callable[[bytes, tuple], None], keepalive_s: float,
                 on_cid: Optional[Callable[[bytes, bool], None]] = None,
                 on_terminated: Optional[Callable[[], None]] = None):
        self.loop = asyncio.get_running_loop()
        self.quic = quic
        self._sendto = sendto
        self.keepalive_s = keepalive_s
        self.on_cid = on_cid
        self.on_terminated = on_terminated
        self.rx: Dict[int, Rx] = {}
        self.max_bidi_seen = -1  # highest client-initiated bidirectional stream id seen
        self.handshake_done = False
        self.handshake_at: Optional[float] = None
        self.close_info: Optional[dict] = None
        self.terminated = False
        self.resets: List[Tuple[int, int]] = []
        self.stops: List[Tuple[int, int]] = []
        self.ping_uid = 0
        self._sent_off: Dict[int, int] = {}
        self._waiters: List[asyncio.Future] = []
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at: Optional[float] = None
        self._ka: Optional[asyncio.TimerHandle] = None
        self._last_ping_at = float("-inf")

    # ---- state ----
    @property
    def ended(self) -> bool:
        return self.close_info is not None

    def rx_get(self, sid: int) -> Rx:
        r = self.rx.get(sid)
        if r is None:
            r = self.rx[sid] = Rx()
        return r

    # ---- input ----
    def receive(self, data: bytes, addr) -> None:
        if self.terminated:
            return
        self.quic.receive_datagram(data, addr, now=self.loop.time())
        self._after()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self.terminated:
            return
        self.quic.handle_timer(now=self.loop.time())
        self._after()

    def _after(self) -> None:
        self._process_events()
        self.transmit()

    def _process_events(self) -> None:
        q = self.quic
        while True:
            ev = q.next_event()
            if ev is None:
                break
            if isinstance(ev, qe.HandshakeCompleted):
                self.handshake_done = True
                self.handshake_at = self.loop.time()
            elif isinstance(ev, qe.StreamDataReceived):
                r = self.rx_get(ev.stream_id)
                r.buf += ev.data
                if ev.end_stream:
                    r.fin = True
            elif isinstance(ev, qe.StreamReset):
                self.rx_get(ev.stream_id).reset = ev.error_code
                self.resets.append((ev.stream_id, ev.error_code))
            elif isinstance(ev, qe.StopSendingReceived):
                self.stops.append((ev.stream_id, ev.error_code))
            elif isinstance(ev, qe.ConnectionIdIssued):
                if self.on_cid:
                    self.on_cid(ev.connection_id, True)
            elif isinstance(ev, qe.ConnectionIdRetired):
                if self.on_cid:
                    self.on_cid(ev.connection_id, False)
            elif isinstance(ev, qe.ConnectionTerminated):
                self.terminated = True
                if self.close_info is None:
                    if ev.reason_phrase == "Idle timeout" and ev.frame_type == QuicFrameType.PADDING:
                        kind = "idle"
                    else:
                        kind = "peer" if self._state_name() == "DRAINING" else "local"
                    self.close_info = dict(kind=kind, transport=ev.frame_type is not None,
                                           code=ev.error_code, reason=ev.reason_phrase)
                if self.on_terminated:
                    self.on_terminated()
        # streams opened by the peer (also by an empty frame): aioquic creates them without an event
        streams = getattr(q, "_streams", {})
        peer_bidi = 0 if not q.configuration.is_client else 1
        for sid in streams:
            if sid % 4 == peer_bidi and sid > self.max_bidi_seen:
                self.max_bidi_seen = sid
        # a close detected before the termination event (peer close: draining period)
        ce = getattr(q, "_close_event", None)
        if self.close_info is None and ce is not None:
            kind = "peer" if self._state_name() == "DRAINING" else "local"
            self.close_info = dict(kind=kind, transport=ce.frame_type is not None,
                                   code=ce.error_code, reason=ce.reason_phrase)

    def _state_name(self) -> str:
        st = getattr(self.quic, "_state", None)
        return getattr(st, "name", str(st))

    # ---- output ----
    def transmit(self) -> None:
        now = self.loop.time()
        for data, addr in self.quic.datagrams_to_send(now=now):
            try:
                self._sendto(data, addr)
            except OSError:
                pass
        self._process_events()
        t = self.quic.get_timer()
        if t != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._timer_at = t
            if t is not None:
                self._timer = self.loop.call_at(t, self._on_timer)
        self._arm_keepalive()
        self._notify()

    def _arm_keepalive(self) -> None:
        if self._ka is not None:
            self._ka.cancel()
            self._ka = None
        if self.keepalive_s <= 0 or not self.handshake_done or self.ended:
            return
        due = self._last_eliciting() + self.keepalive_s
        if due <= self.loop.time():  # overdue: at most one PING per interval
            due = max(due, self._last_ping_at + self.keepalive_s)
        self._ka = self.loop.call_at(due, self._on_keepalive)

    def _last_eliciting(self) -> float:
        loss = getattr(self.quic, "_loss", None)
        t = getattr(loss, "_time_of_last_sent_ack_eliciting_packet", 0.0) or 0.0
        return max(t, self.handshake_at or 0.0)

    def _on_keepalive(self) -> None:
        self._ka = None
        if self.ended or self.terminated:
            return
        now = self.loop.time()
        if now >= self._last_eliciting() + self.keepalive_s - 0.001 and \
                now >= self._last_ping_at + self.keepalive_s - 0.001:
            self.ping_uid += 1
            self._last_ping_at = now
            self.quic.send_ping(self.ping_uid)
            self.transmit()
        else:
            self._arm_keepalive()

    def send(self, sid: int, data: bytes, end: bool = False) -> int:
        self.quic.send_stream_data(sid, data, end_stream=end)
        off = self._sent_off.get(sid, 0) + len(data)
        self._sent_off[sid] = off
        self.transmit()
        return off

    def sent_through(self, sid: int, off: int) -> bool:
        s = getattr(self.quic, "_streams", {}).get(sid)
        if s is None:
            return True
        return s.sender.highest_offset >= off

    def reset_stream(self, sid: int, code: int = 0) -> None:
        self.quic.reset_stream(sid, code)
        self.transmit()

    def stop_sending(self, sid: int, code: int = 0) -> None:
        self.quic.stop_stream(sid, code)
        self.transmit()

    def close_app(self, code: int, reason: str = "") -> None:
        if self.close_info is None:
            self.close_info = dict(kind="local", transport=False, code=code, reason=reason)
            self.quic.close(error_code=code, reason_phrase=reason)
            self.transmit()

    def close_transport(self, code: int, reason: str = "") -> None:
        if self.close_info is None:
            self.close_info = dict(kind="local", transport=True, code=code, reason=reason)
            self.quic.close(error_code=code, frame_type=QuicFrameType.PADDING, reason_phrase=reason)
            self.transmit()

    # ---- waiting ----
    def _notify(self) -> None:
        if self._waiters:
            ws, self._waiters = self._waiters, []
            for f in ws:
                if not f.done():
                    f.set_result(None)

    async def wait_until(self, pred: Callable[[], bool], deadline: Optional[float] = None,
                         *, allow_end: bool = False) -> bool:
        """True when pred() holds, False at the deadline; LinkEnded when the connection ended first."""
        while True:
            if pred():
                return True
            if self.ended and not allow_end:
                raise LinkEnded(self.close_info)
            now = self.loop.time()
            if deadline is not None and now >= deadline:
                return False
            fut = self.loop.create_future()
            self._waiters.append(fut)
            await asyncio.wait([fut], timeout=None if deadline is None else deadline - now)

    async def read_exact(self, sid: int, n: int, deadline: Optional[float]) -> bytes:
        """Client side: n bytes or an exception describing why not."""
        r = self.rx_get(sid)
        ok = await self.wait_until(lambda: len(r.buf) >= n or r.fin or r.reset is not None, deadline)
        if len(r.buf) >= n:
            data = bytes(r.buf[:n])
            del r.buf[:n]
            return data
        if not ok:
            raise TimeoutError(f"no answer on stream {sid}")
        if r.reset is not None:
            raise ConnectionError(f"stream {sid} reset by the server (code {r.reset})")
        raise ConnectionError(f"stream {sid} finished by the server")

    def shutdown(self) -> None:
        for h in (self._timer, self._ka):
            if h is not None:
                h.cancel()
        self._timer = self._ka = None


# --------------------------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------------------------

class ServerOptions:
    def __init__(self, ns):
        self.profile = ns.profile
        d = DEFAULTS[ns.profile]
        self.idle_ms = d[0] if ns.idle_ms is None else ns.idle_ms
        self.keepalive_ms = d[1] if ns.keepalive_ms is None else ns.keepalive_ms
        self.accept_ms = d[2] if ns.accept_ms is None else ns.accept_ms
        self.op_ms = d[3] if ns.op_ms is None else ns.op_ms
        self.startup_ms = d[4] if ns.startup_ms is None else ns.startup_ms
        self.disc_ms = d[5] if ns.disc_ms is None else ns.disc_ms
        self.action_interval_ms = ns.action_interval_ms
        self.action_push = ns.action_push
        self.reset_discriminator = ns.reset_discriminator
        self.mutant = ns.mutant
        self.plant = ns.plant
        self.keylog = ns.keylog
        for name in ("idle_ms", "keepalive_ms", "accept_ms", "op_ms", "startup_ms", "disc_ms"):
            if getattr(self, name) < 0:
                raise Usage(f"--{name.replace('_', '-')} must be >= 0")
        if self.action_interval_ms <= 0:
            raise Usage("--action-interval-ms must be > 0")
        if self.profile == "as_coded" and (self.action_push or self.reset_discriminator):
            raise Unsupported("--action-push and --reset-discriminator are project-profile options (P2, P4)")

    @property
    def project(self) -> bool:
        return self.profile == "project"

    def m(self, name: str) -> bool:
        return self.mutant == name


class Session:
    """The application's handling of one connection (H2-H9)."""

    def __init__(self, server: "Server", link: Link, number: int, peer):
        self.server = server
        self.o = server.o
        self.link = link
        self.n = number
        self.peer = peer
        self.last_event = 0
        self.counter = 1 if self.o.m("action-counter-from-one") else 0
        # Streams whose discriminator was read (H7 applies to them; P5 before).
        self.set_up: set = set()
        self.loop = asyncio.get_running_loop()

    def log(self, text: str) -> None:
        self.server.log(f"conn {self.n} {text}")

    # ---- time ----
    def now(self) -> float:
        return self.loop.time()

    def op_deadline(self) -> Optional[float]:
        """Deadline of one read/write operation (H6); op-ms 0 = none."""
        return None if self.o.op_ms == 0 else self.now() + self.o.op_ms / 1000.0

    def op_close(self, what: str) -> ProtonClose:
        code = 5 if self.o.m("op-timeout-code-5") else 4
        return ProtonClose(code, f"operation timeout: {what}")

    # ---- main ----
    async def run(self) -> None:
        link = self.link
        try:
            # H1: nothing is served before the startup wait is over (the server wakes us when it is)
            await link.wait_until(lambda: self.server.started.is_set())
            await link.wait_until(lambda: link.handshake_done)
            self.log(f"accepted peer={self.peer[0]}:{self.peer[1]}")
            await run_group([self.watch_abort(), self.setup_and_serve()], link)
        except ProtonClose as e:
            self.log(f"close code={e.code} reason={e.reason!r}")
            link.close_app(e.code, e.reason)
        except LinkEnded:
            self.log(f"ended: {describe_close(link.close_info)}")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 -- never let one connection stop the server
            self.log(f"internal error {type(e).__name__}: {e}")
            link.close_app(5, "internal error")
        finally:
            self.server.session_ended(self)

    async def watch_abort(self) -> None:
        """H7: a RESET_STREAM on a set-up stream, or a STOP_SENDING, closes at once with 5 (a reset
        before a stream's discriminator fails its setup instead: read_discriminator, P5)."""
        link = self.link
        stop_ignored = self.o.m("stop-sending-ignored")

        def reset_after_setup():
            return next(((sid, code) for sid, code in link.resets if sid in self.set_up), None)

        await link.wait_until(lambda: reset_after_setup() is not None or (bool(link.stops) and not stop_ignored))
        reset = reset_after_setup()
        if reset is not None:
            sid, code = reset
            raise ProtonClose(5, f"RESET_STREAM on stream {sid} (code {code})")
        sid, code = link.stops[0]
        raise ProtonClose(5, f"STOP_SENDING on stream {sid} (code {code})")

    async def setup_and_serve(self) -> None:
        o, link = self.o, self.link
        roles: List[Tuple[int, int]] = []
        used = set()
        t_ref = self.now()
        for k in range(3):
            sid = 4 * k
            deadline = None if o.m("no-accept-timeout") or o.accept_ms == 0 else t_ref + o.accept_ms / 1000.0
            if not await link.wait_until(lambda: link.max_bidi_seen >= sid, deadline):
                code = 2 if o.m("accept-timeout-code-2") else 3
                raise ProtonClose(code, f"stream {k + 1} not opened within {o.accept_ms} ms")
            d = await self.read_discriminator(sid)
            bad_code = 5 if o.m("wrong-close-code-on-bad-discriminator") else 1
            if d not in ROLE_NAMES:
                raise ProtonClose(bad_code, f"bad discriminator {d:#04x} on stream {sid}")
            if d in used and not o.m("discriminator-twice-accepted"):
                raise ProtonClose(bad_code, f"discriminator {d} repeated on stream {sid}")
            used.add(d)
            roles.append((sid, d))
            self.set_up.add(sid)
            self.log(f"stream {sid} discriminator {d} ({ROLE_NAMES[d]})")
            t_ref = self.now()
        tasks = []
        for sid, d in roles:
            if d == DISC_EVENT:
                tasks.append(self.serve_events(sid))
            elif d == DISC_COMMIT:
                tasks.append(self.serve_commits(sid))
            elif o.action_push and not o.m("push-counter-prompted"):
                tasks.append(self.push_actions(sid))
                tasks.append(self.drain(sid))
            else:
                tasks.append(self.serve_actions(sid))
        if o.project and o.reset_discriminator:
            tasks.append(self.watch_fourth())
        await run_group(tasks, link)

    # ---- reading ----
    async def read_discriminator(self, sid: int) -> int:
        o, link = self.o, self.link
        r = link.rx_get(sid)
        if o.project and o.disc_ms > 0 and not o.m("no-discriminator-timeout"):
            deadline, code, what = self.now() + o.disc_ms / 1000.0, 1, f"no discriminator within {o.disc_ms} ms"
        else:
            deadline, code, what = self.op_deadline(), None, f"discriminator of stream {sid}"
        ok = await link.wait_until(lambda: len(r.buf) > 0 or r.fin or r.reset is not None, deadline)
        if len(r.buf) > 0:
            d = r.buf[0]
            del r.buf[:1]
            return d
        # P5: a stream that ended before its discriminator fails its setup
        if r.reset is not None:
            raise ProtonClose(1, f"RESET_STREAM before the discriminator on stream {sid}")
        if r.fin:
            raise ProtonClose(0 if o.m("early-fin-code-0") else 1, f"early FIN on stream {sid}")
        assert not ok
        if code is None:
            raise self.op_close(what)
        raise ProtonClose(code, f"{what} (stream {sid})")

    async def read_u32(self, sid: int) -> int:
        link = self.link
        r = link.rx_get(sid)
        ok = await link.wait_until(lambda: len(r.buf) >= 4 or r.fin or r.reset is not None,
                                   self.op_deadline())
        if len(r.buf) >= 4:
            (v,) = U32.unpack_from(r.buf, 0)
            del r.buf[:4]
            return v
        if r.reset is not None:
            raise ProtonClose(5, f"RESET_STREAM on stream {sid}")
        if r.fin:
            if not r.buf:
                if self.o.m("fin-ignored"):
                    self.log(f"stream {sid} FIN ignored")
                    raise StreamDone()
                # P5: the read of the next u32 ends early
                raise ProtonClose(5, f"FIN on stream {sid}")
            code = 0 if self.o.m("fin-inside-u32-code-0") else 5
            raise ProtonClose(code, f"FIN inside a u32 on stream {sid} ({len(r.buf)} bytes)")
        assert not ok
        raise self.op_close(f"read on stream {sid}")

    async def write_u32(self, sid: int, v: int) -> None:
        link = self.link
        if self.o.m("stop-sending-ignored") and any(s == sid for s, _ in link.stops):
            return  # the mutant drops what the client asked not to get, and serves on
        off = link.send(sid, U32.pack(v & MASK32))
        if not await link.wait_until(lambda: link.sent_through(sid, off), self.op_deadline()):
            raise self.op_close(f"write on stream {sid}")

    # ---- roles ----
    async def serve_events(self, sid: int) -> None:
        o = self.o
        while True:
            v = await self.read_u32(sid)
            last = self.last_event
            if v == 0 and not o.m("event-id-zero-accepted"):
                raise ProtonClose(5, "event id 0")
            if v == last and last != 0 and not o.m("equal-event-id-accepted"):
                raise ProtonClose(5, f"event id {v} repeated")
            if v < last and not o.m("decreasing-event-id-accepted"):
                raise ProtonClose(5, f"event id {v} after {last}")
            if o.plant == "crash" and v == 0x80000000:  # planted bug (see PLANTED.md)
                planted("crash")
            self.last_event = v
            await self.write_u32(sid, v)

    async def serve_commits(self, sid: int) -> None:
        o = self.o
        while True:
            r = await self.read_u32(sid)
            if o.plant == "hang" and r == 0x7FFFFFFF:  # planted bug (see PLANTED.md)
                planted("hang")
            if o.m("commit-times-two"):
                ans = (r * 2) & MASK32
            elif o.project and not o.m("commit-no-overflow-check"):
                if r + 2 > MASK32:
                    raise ProtonClose(5, f"commit {r:#x} + 2 overflows")
                ans = r + 2
            else:
                ans = (r + 2) & MASK32
            await self.write_u32(sid, ans)

    async def serve_actions(self, sid: int) -> None:
        while True:
            await self.read_u32(sid)
            c = self.counter
            self.counter = (self.counter + 1) & MASK32
            await self.write_u32(sid, c)

    async def push_actions(self, sid: int) -> None:
        t0 = self.now()
        k = 0
        interval = self.o.action_interval_ms / 1000.0
        while True:
            c = self.counter
            self.counter = (self.counter + 1) & MASK32
            await self.write_u32(sid, c)
            k += 1
            delay = t0 + k * interval - self.now()
            if delay > 0:
                await asyncio.sleep(delay)

    async def drain(self, sid: int) -> None:
        """Push mode: the client's bytes on the Action stream are read and ignored (FIN rules apply)."""
        r = self.link.rx_get(sid)
        while True:
            await self.link.wait_until(lambda: len(r.buf) >= 4 or r.fin or r.reset is not None)
            if len(r.buf) >= 4:
                del r.buf[:len(r.buf) // 4 * 4]
                continue
            # FIN (or reset): judged like any read
            await self.read_u32(sid)

    async def watch_fourth(self) -> None:
        link = self.link
        await link.wait_until(lambda: link.max_bidi_seen >= 12)
        d = await self.read_discriminator(12)
        if d == DISC_RESET:
            if self.o.m("reset-discriminator-ignored"):
                self.log("stream 12 reset discriminator ignored")
                return
            raise ProtonClose(0, "reset")
        raise ProtonClose(1, f"bad discriminator {d:#04x} on stream 12")


async def run_group(coros, link: Link) -> None:
    """Run coroutines together: the first exception wins (the others are cancelled); a coroutine
    that returns is just finished; when all have returned, wait for the connection to end."""
    tasks = set()
    for c in coros:
        tasks.add(asyncio.ensure_future(c))
    try:
        while tasks:
            done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            first = None
            for t in done:
                exc = t.exception()  # retrieve every one (no "never retrieved" warnings)
                if exc is not None and not isinstance(exc, StreamDone):
                    # a close decided by the application wins over the connection's end
                    if first is None or (isinstance(exc, ProtonClose) and not isinstance(first, ProtonClose)):
                        first = exc
            if first is not None:
                raise first
        await link.wait_until(lambda: False)
    finally:
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class Server(asyncio.DatagramProtocol):
    def __init__(self, o: ServerOptions):
        self.o = o
        self.loop = asyncio.get_running_loop()
        cert, key = make_certificate()
        self.keylog = open_keylog(o.keylog)
        self.config = QuicConfiguration(
            is_client=False,
            alpn_protocols=[ALPN],
            idle_timeout=o.idle_ms / 1000.0 if o.idle_ms > 0 else NO_IDLE_S,
            certificate=cert,
            private_key=key,
            secrets_log_file=self.keylog,
            connection_id_length=CID_LEN,
        )
        self.routes: Dict[bytes, Link] = {}
        self.live: set = set()
        self.started = asyncio.Event()
        self.count = 0
        self.transport: Optional[asyncio.DatagramTransport] = None

    def log(self, text: str) -> None:
        try:
            print(text, file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001
            pass

    def connection_made(self, transport) -> None:
        self.transport = transport

    def error_received(self, exc) -> None:
        pass

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            self._datagram(data, addr)
        except Exception as e:  # noqa: BLE001
            self.log(f"datagram from {addr} dropped: {type(e).__name__}: {e}")

    def _datagram(self, data: bytes, addr) -> None:
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=CID_LEN)
        except ValueError:
            return
        if header.version is not None and header.version not in self.config.supported_versions:
            self.transport.sendto(encode_quic_version_negotiation(
                source_cid=header.destination_cid, destination_cid=header.source_cid,
                supported_versions=self.config.supported_versions), addr)
            return
        link = self.routes.get(header.destination_cid)
        if link is not None:
            link.receive(data, addr)
            return
        if header.packet_type != QuicPacketType.INITIAL or len(data) < MIN_INITIAL:
            return
        if self.live and not self.o.m("second-connection-accepted"):
            if self.o.m("refuse-with-app-close"):
                self._new_connection(header, data, addr, refuse_app=True)
            else:
                self._refuse(header, addr)
            return
        self._new_connection(header, data, addr)

    def _refuse(self, header, addr) -> None:
        """Stateless: one Initial packet with CONNECTION_CLOSE 0x1c, CONNECTION_REFUSED (0x2)."""
        crypto = CryptoPair()
        crypto.setup_initial(cid=header.destination_cid, is_client=False, version=header.version)
        builder = QuicPacketBuilder(host_cid=os.urandom(CID_LEN), peer_cid=header.source_cid,
                                    version=header.version, is_client=False,
                                    max_datagram_size=MIN_INITIAL)
        builder.start_packet(QuicPacketType.INITIAL, crypto)
        buf = builder.start_frame(QuicFrameType.TRANSPORT_CLOSE, capacity=3)
        buf.push_uint_var(QuicErrorCode.CONNECTION_REFUSED)
        buf.push_uint_var(QuicFrameType.PADDING)  # frame type: none
        buf.push_uint_var(0)  # empty reason
        datagrams, _ = builder.flush()
        for d in datagrams:
            self.transport.sendto(d, addr)
        self.log(f"refused {addr[0]}:{addr[1]} (transport CONNECTION_REFUSED 0x2)")

    def _new_connection(self, header, data: bytes, addr, refuse_app: bool = False) -> None:
        o = self.o
        max_bidi = 4 if (o.project and o.reset_discriminator) or o.m("max-streams-four") else 3
        quic = FixedStreamsConnection(configuration=self.config,
                                      original_destination_connection_id=header.destination_cid,
                                      max_bidi=max_bidi)
        holder: Dict[str, Link] = {}

        def on_cid(cid: bytes, issued: bool) -> None:
            if issued:
                self.routes[cid] = holder["link"]
            else:
                self.routes.pop(cid, None)

        def on_terminated() -> None:
            lk = holder["link"]
            for cid in [c for c, v in self.routes.items() if v is lk]:
                del self.routes[cid]
            lk.shutdown()

        link = Link(quic, self.transport.sendto, o.keepalive_ms / 1000.0, on_cid, on_terminated)
        holder["link"] = link
        self.routes[header.destination_cid] = link
        self.routes[quic.host_cid] = link
        if refuse_app:
            asyncio.ensure_future(self._refuse_app(link, addr))
        else:
            self.count += 1
            session = Session(self, link, self.count, addr)
            self.live.add(session)
            asyncio.ensure_future(session.run())
        link.receive(data, addr)

    async def _refuse_app(self, link: Link, addr) -> None:
        try:
            await link.wait_until(lambda: link.handshake_done)
            link.close_app(0, "already connected")
            self.log(f"refused {addr[0]}:{addr[1]} (application close 0)")
        except LinkEnded:
            pass

    def session_ended(self, session: Session) -> None:
        self.live.discard(session)


async def server_main(o: ServerOptions, host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = Server(o)
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, sockaddr = infos[0]
        transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=sockaddr, family=family)
    except OSError as e:
        print(f"cannot bind {host}:{port}: {e}", file=sys.stderr, flush=True)
        return EXIT_FAIL
    bound = transport.get_extra_info("sockname")
    server.log(f"bound {bound[0]}:{bound[1]} profile={o.profile} idle_ms={o.idle_ms} "
               f"keepalive_ms={o.keepalive_ms} accept_ms={o.accept_ms} op_ms={o.op_ms} "
               f"startup_ms={o.startup_ms} disc_ms={o.disc_ms} push={o.action_push} "
               f"reset_discriminator={o.reset_discriminator}" + (f" mutant={o.mutant}" if o.mutant else ""))

    async def startup():
        await asyncio.sleep(o.startup_ms / 1000.0)  # H1
        print("Server listening", flush=True)
        server.started.set()
        for session in list(server.live):
            session.link.transmit()  # wakes the session's waiters

    st = asyncio.ensure_future(startup())
    await stop.wait()
    st.cancel()
    transport.close()
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# client side
# --------------------------------------------------------------------------------------------

class _ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self):
        self.link: Optional[Link] = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if self.link is not None:
            self.link.receive(data, addr)

    def error_received(self, exc):
        pass


class ClientConnection:
    """A client connection: used by the client, the REPL and the self-tests."""

    def __init__(self, link: Link, proto: _ClientProtocol, keylog):
        self.link = link
        self.proto = proto
        self.keylog = keylog
        self.streams: Dict[int, int] = {}  # role -> stream id

    @classmethod
    async def connect(cls, host: str, port: int, *, idle_ms: int = 5000, keepalive_ms: int = 0,
                      keylog: Optional[str] = None, handshake_timeout_s: Optional[float] = None
                      ) -> "ClientConnection":
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, sockaddr = infos[0]
        klog = open_keylog(keylog)
        cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN],
                                idle_timeout=idle_ms / 1000.0 if idle_ms > 0 else NO_IDLE_S,
                                server_name="localhost", verify_mode=ssl.CERT_NONE,
                                secrets_log_file=klog, connection_id_length=CID_LEN)
        quic = QuicConnection(configuration=cfg)
        proto = _ClientProtocol()
        transport, _ = await loop.create_datagram_endpoint(lambda: proto, remote_addr=sockaddr, family=family)
        link = Link(quic, lambda d, a: transport.sendto(d), keepalive_ms / 1000.0)
        proto.link = link
        conn = cls(link, proto, klog)
        quic.connect(sockaddr, now=loop.time())
        link.transmit()
        deadline = None if handshake_timeout_s is None else loop.time() + handshake_timeout_s
        try:
            ok = await link.wait_until(lambda: link.handshake_done, deadline)
        except LinkEnded:
            conn.dispose()
            raise
        if not ok:
            conn.dispose()
            raise TimeoutError("handshake timeout")
        return conn

    def open_stream(self, first: bytes) -> int:
        sid = self.link.quic.get_next_available_stream_id()
        self.link.send(sid, first)
        return sid

    def open_proton(self, order=(DISC_EVENT, DISC_COMMIT, DISC_ACTION)) -> None:
        for d in order:
            self.streams[d] = self.open_stream(bytes([d]))

    async def request(self, role: int, value: Optional[int], timeout_s: Optional[float]) -> int:
        sid = self.streams[role]
        link = self.link
        if value is not None:
            link.send(sid, U32.pack(value & MASK32))
        deadline = None if timeout_s is None else link.loop.time() + timeout_s
        (v,) = U32.unpack(await link.read_exact(sid, 4, deadline))
        return v

    async def close(self, code: int = 0, reason: str = "", linger_s: float = 0.02) -> None:
        self.link.close_app(code, reason)
        await asyncio.sleep(linger_s)
        self.dispose()

    def dispose(self) -> None:
        self.link.shutdown()
        if self.proto.transport is not None:
            self.proto.transport.close()
        if self.keylog is not None:
            try:
                self.keylog.close()
            except OSError:
                pass
            self.keylog = None


class ClientOptions:
    def __init__(self, ns):
        self.profile = ns.profile
        d = DEFAULTS[ns.profile]
        self.idle_ms = d[0] if ns.idle_ms is None else ns.idle_ms
        self.keepalive_ms = d[1] if ns.keepalive_ms is None else ns.keepalive_ms
        self.op_ms = d[3] if ns.op_ms is None else ns.op_ms
        self.events = ns.events
        self.commits = ns.commits
        self.actions = ns.actions
        self.action_push = ns.action_push
        self.keylog = ns.keylog
        self.mutant = ns.mutant
        for name in ("idle_ms", "keepalive_ms", "op_ms", "events", "commits", "actions"):
            if getattr(self, name) < 0:
                raise Usage(f"--{name.replace('_', '-')} must be >= 0")
        if self.profile == "as_coded" and self.action_push:
            raise Unsupported("--action-push is a project-profile option (P2)")

    def m(self, name: str) -> bool:
        return self.mutant == name


async def client_main(o: ClientOptions, host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    counts = dict(events=0, commits=0, actions=0)
    result: Dict[str, object] = {}

    def finish(ok: bool, reason: str = "", extra: str = "") -> int:
        kv = " ".join(f"{k}={v}" for k, v in counts.items())
        if ok:
            line = f"RESULT=ok {kv}"
        else:
            line = f"RESULT=fail reason={reason} {extra + ' ' if extra else ''}{kv}"
        print(line, flush=True)
        return EXIT_OK if ok else EXIT_FAIL

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    op_s = o.op_ms / 1000.0 if o.op_ms > 0 else None
    conn: Optional[ClientConnection] = None

    async def run() -> None:
        nonlocal conn
        conn = await ClientConnection.connect(host, port, idle_ms=o.idle_ms, keepalive_ms=o.keepalive_ms,
                                              keylog=o.keylog, handshake_timeout_s=op_s)
        order = (DISC_EVENT, DISC_ACTION, DISC_COMMIT) if o.m("client-skips-action-discriminator-order") \
            else (DISC_EVENT, DISC_COMMIT, DISC_ACTION)
        conn.open_proton(order)
        first = 0 if o.m("client-event-ids-from-0") else 1
        for i in range(o.events):
            eid = first + i
            v = await conn.request(DISC_EVENT, eid, op_s)
            if v != eid:
                result["wrong"] = f"event id={eid} answer={v}"
                return
            counts["events"] += 1
        first = 0 if o.m("client-commits-from-0") else 1
        for i in range(o.commits):
            r = first + i
            v = await conn.request(DISC_COMMIT, r, op_s)
            if v != (r + 2) & MASK32 and not o.m("client-ignores-wrong-commit"):
                result["wrong"] = f"commit request={r} answer={v}"
                return
            counts["commits"] += 1
        for i in range(o.actions):
            v = await conn.request(DISC_ACTION, None if o.action_push else 42, op_s)
            if v != i:
                result["wrong"] = f"action expected={i} answer={v}"
                return
            counts["actions"] += 1

    task = asyncio.ensure_future(run())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if conn is not None:
            conn.dispose()
        return finish(False, "signal")
    exc = task.exception()
    try:
        if exc is None and "wrong" not in result:
            if conn.link.ended:  # closed while the last answer arrived
                exc = LinkEnded(conn.link.close_info)
            elif o.m("client-no-close"):
                conn.dispose()
                return finish(True)
            else:
                await conn.close(5 if o.m("client-close-code-5") else 0, "done")
                return finish(True)
        if "wrong" in result:
            if conn is not None:
                await conn.close(5, "wrong answer")
            return finish(False, "wrong-answer", str(result["wrong"]).replace(" ", ","))
        if isinstance(exc, LinkEnded) or (isinstance(exc, ConnectionError) and conn and conn.link.ended):
            info = conn.link.close_info if conn is not None else getattr(exc, "info", None)
            if o.m("client-exit-0-on-server-close"):
                return finish(True)
            if info is not None:
                kind = "transport" if info["transport"] else "app"
                reason = "idle-timeout" if info["kind"] == "idle" else f"closed-by-{info['kind']}"
                why = (info["reason"] or "-").replace(" ", "_")
                return finish(False, reason, f"close={kind}:{info['code']:#x} close_reason={why}")
            return finish(False, "closed")
        if isinstance(exc, TimeoutError):
            if conn is not None:
                await conn.close(4, "timeout")
            return finish(False, "timeout", f"detail={str(exc).replace(' ', '_')}")
        if isinstance(exc, (ConnectionError, OSError)):
            if conn is not None:
                await conn.close(5, "stream error")
            return finish(False, "stream-error", f"detail={str(exc).replace(' ', '_')}")
        raise exc
    finally:
        if conn is not None:
            conn.dispose()


# --------------------------------------------------------------------------------------------
# REPL
# --------------------------------------------------------------------------------------------

REPL_HELP = [
    "commands: connect [secs] | send_event | commit <id> | read_action | close | sleep <secs> | reset | help | exit",
    "  `;` chains commands; a leading number repeats one command (e.g. `3 send_event`)",
]


class Repl:
    def __init__(self, host: str, port: int, ns):
        self.host, self.port = host, port
        self.idle_ms = ns.idle_ms
        self.keepalive_ms = ns.keepalive_ms
        self.op_s = ns.op_ms / 1000.0 if ns.op_ms > 0 else None
        self.keylog = ns.keylog
        self.conn: Optional[ClientConnection] = None
        self.next_event = 1
        self.failed = False

    def out(self, text: str) -> None:
        print(text, flush=True)

    def fail(self, text: str) -> None:
        self.failed = True
        self.out(f"error: {text}")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            for part in line.split(";"):
                if not await self.command(part.strip()):
                    await self.shutdown()
                    return EXIT_FAIL if self.failed else EXIT_OK
        await self.shutdown()
        return EXIT_FAIL if self.failed else EXIT_OK

    async def shutdown(self) -> None:
        if self.conn is not None:
            if not self.conn.link.ended:
                await self.conn.close(0, "bye")
            self.conn.dispose()
            self.conn = None

    async def command(self, text: str) -> bool:
        if not text or text.startswith("#"):
            return True
        words = text.split()
        times = 1
        if words[0].isdigit():
            times = int(words[0])
            words = words[1:]
            if not words:
                self.fail(f"nothing to repeat in {text!r}")
                return True
        for _ in range(times):
            r = await self.one(words)
            if r is False:
                return False
        return True

    def need_conn(self) -> Optional[ClientConnection]:
        if self.conn is None:
            self.fail("not connected")
            return None
        if self.conn.link.ended:
            self.fail(f"connection closed: {describe_close(self.conn.link.close_info)}")
            self.conn.dispose()
            self.conn = None
            return None
        return self.conn

    async def exchange(self, role: int, value: Optional[int]) -> Optional[int]:
        conn = self.need_conn()
        if conn is None:
            return None
        try:
            return await conn.request(role, value, self.op_s)
        except (LinkEnded, ConnectionError, TimeoutError) as e:
            if conn.link.ended:
                self.fail(f"connection closed: {describe_close(conn.link.close_info)}")
            else:
                self.fail(str(e))
            return None

    async def one(self, words: List[str]) -> Optional[bool]:
        cmd, args = words[0].lower(), words[1:]
        try:
            if cmd == "help":
                for line in REPL_HELP:
                    self.out(line)
            elif cmd in ("exit", "quit"):
                return False
            elif cmd == "connect":
                secs = float(args[0]) if args else 0.0
                if self.conn is not None and not self.conn.link.ended:
                    self.fail("already connected")
                    return None
                if secs > 0:
                    await asyncio.sleep(secs)
                try:
                    self.conn = await ClientConnection.connect(
                        self.host, self.port, idle_ms=self.idle_ms, keepalive_ms=self.keepalive_ms,
                        keylog=self.keylog, handshake_timeout_s=self.op_s)
                except (LinkEnded, TimeoutError, OSError) as e:
                    self.conn = None
                    self.fail(f"connect failed: {e}")
                    return None
                self.conn.open_proton()
                self.next_event = 1
                self.out("connected")
            elif cmd == "send_event":
                eid = self.next_event
                v = await self.exchange(DISC_EVENT, eid)
                if v is not None:
                    self.next_event += 1
                    self.out(f"event {eid} -> {v}")
                    if v != eid:
                        self.fail(f"wrong echo {v} for event {eid}")
            elif cmd == "commit":
                if len(args) != 1:
                    self.fail("usage: commit <id>")
                    return None
                r = int(args[0], 0)
                if not 0 <= r <= MASK32:
                    self.fail("commit id must be a u32")
                    return None
                v = await self.exchange(DISC_COMMIT, r)
                if v is not None:
                    self.out(f"commit {r} -> {v}")
            elif cmd == "read_action":
                v = await self.exchange(DISC_ACTION, 42)
                if v is not None:
                    self.out(f"action -> {v}")
            elif cmd == "close":
                if self.conn is None:
                    self.fail("not connected")
                    return None
                await self.conn.close(0, "close")
                self.conn = None
                self.out("closed code=0")
            elif cmd == "sleep":
                secs = float(args[0]) if args else 1.0
                await asyncio.sleep(secs)
                self.out(f"slept {secs:g}")
            elif cmd == "reset":
                if self.conn is not None:
                    await self.conn.close(0, "reset")
                    self.conn = None
                await asyncio.sleep(2 * self.idle_ms / 1000.0)
                self.out("reset")
            else:
                self.fail(f"unknown command {cmd!r} (try help)")
        except ValueError as e:
            self.fail(f"bad argument: {e}")
        return None


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="proton_peer.py", description="Proton (QUIC control protocol) server, client and REPL")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    def common(p, client: bool):
        p.add_argument("--profile", choices=PROFILES, default="project")
        p.add_argument("--idle-ms", type=int, default=None)
        p.add_argument("--keepalive-ms", type=int, default=None)
        p.add_argument("--op-ms", type=int, default=None)
        p.add_argument("--action-push", action="store_true")
        p.add_argument("--keylog", default=None)
        p.add_argument("--mutant", choices=sorted(MUTANTS), default=None)
        p.add_argument("--plant", choices=PLANTS, default=None)

    s = sub.add_parser("server")
    s.add_argument("--listen", required=True)
    common(s, False)
    s.add_argument("--accept-ms", type=int, default=None)
    s.add_argument("--startup-ms", type=int, default=None)
    s.add_argument("--disc-ms", type=int, default=None)
    s.add_argument("--action-interval-ms", type=int, default=100)
    s.add_argument("--reset-discriminator", action="store_true")

    c = sub.add_parser("client")
    c.add_argument("--target", required=True)
    common(c, True)
    c.add_argument("--events", type=int, default=3)
    c.add_argument("--commits", type=int, default=3)
    c.add_argument("--actions", type=int, default=3)

    r = sub.add_parser("repl")
    r.add_argument("--target", required=True)
    r.add_argument("--idle-ms", type=int, default=5000)
    r.add_argument("--keepalive-ms", type=int, default=1000)
    r.add_argument("--op-ms", type=int, default=300000)
    r.add_argument("--keylog", default=None)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    ns = ap.parse_args(argv)
    # an empty --keylog value (the harness's {keylog} may be empty) means none
    if getattr(ns, "keylog", None) == "":
        ns.keylog = None
    try:
        if ns.cmd == "server":
            host, port = parse_hostport(ns.listen)
            o = ServerOptions(ns)
            return asyncio.run(server_main(o, host, port))
        if ns.cmd == "client":
            host, port = parse_hostport(ns.target)
            if port == 0:
                raise Usage("--target port must not be 0")
            o = ClientOptions(ns)
            return asyncio.run(client_main(o, host, port))
        host, port = parse_hostport(ns.target)
        return asyncio.run(Repl(host, port, ns).run())
    except Usage as e:
        ap.print_usage(sys.stderr)
        print(f"proton_peer.py: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Unsupported as e:
        print(f"unsupported: {e}", file=sys.stderr, flush=True)
        return EXIT_UNSUPPORTED
    except KeyboardInterrupt:
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
