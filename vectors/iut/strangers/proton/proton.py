#!/usr/bin/env python3
"""Proton: a single-client QUIC control protocol (server and client).

Independent implementation written only from the public description
``proton.md`` ("Proton (single-client QUIC control protocol) - facts and this
project's profile").  Built on aioquic 1.2.0.

Subcommands:
    server   run a Proton server
    client   run a Proton client (a PLAN, or a REPL reading commands from stdin)
    mutants  list the deliberately wrong variants selectable with --mutant

See README.md for every option, exit code and the choices made where the
description is silent.
"""

import argparse
import asyncio
import datetime
import logging
import os
import signal
import socket
import ssl
import sys
import time
from typing import Dict, List, Optional, Tuple

from aioquic import tls as _tls
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import Buffer
from aioquic.quic import events
from aioquic.quic.configuration import SMALLEST_MAX_DATAGRAM_SIZE, QuicConfiguration
from aioquic.quic.connection import (
    END_STATES,
    Limit,
    QuicConnection,
    QuicConnectionState,
    QuicNetworkPath,
)
from aioquic.quic.packet import (
    QuicErrorCode,
    QuicFrameType,
    QuicPacketType,
    encode_quic_version_negotiation,
    pull_quic_header,
)

# --------------------------------------------------------------------------
# Wire constants (proton.md, "Wire facts")
# --------------------------------------------------------------------------

ALPN = "proton"
DISC_EVENT = 1
DISC_COMMIT = 2
DISC_ACTION = 3
DISC_RESET = 0xFF  # design only; accepted under P4 (project profile)
DISC_NAMES = {DISC_EVENT: "Event", DISC_COMMIT: "StateCommit", DISC_ACTION: "Action"}

CLOSE_NORMAL = 0  # normal / second connection
CLOSE_SETUP = 1  # stream setup error (bad or duplicate discriminator)
CLOSE_ACCEPT = 2  # stream accept error
CLOSE_SETUP_TIMEOUT = 3  # stream setup timeout
CLOSE_OP_TIMEOUT = 4  # stream operation timeout
CLOSE_STREAM = 5  # stream error or protocol violation
CLOSE_REASONS = {
    CLOSE_NORMAL: "Streams completed",
    CLOSE_SETUP: "Stream setup error",
    CLOSE_ACCEPT: "Stream accept error",
    CLOSE_SETUP_TIMEOUT: "Stream setup timeout",
    CLOSE_OP_TIMEOUT: "Stream operation timeout",
    CLOSE_STREAM: "Stream error",
}

U32_MAX = 0xFFFFFFFF
ACTION_PULL_VALUE = 42  # what the original REPL writes to pull an Action

# Client exit codes (also used by the REPL for its final status)
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_MISMATCH = 4
EXIT_PEER_CLOSED = 5
EXIT_TIMEOUT = 6
EXIT_STREAM = 7
EXIT_IDLE = 8

PROFILES = ("as_coded", "project")

# --------------------------------------------------------------------------
# Mutants: each breaks exactly one statement of proton.md
# --------------------------------------------------------------------------

MUTANTS: Dict[str, Tuple[str, str]] = {
    # ---- server ----
    "commit-times-two": (
        "server",
        "breaks Wire facts: 'server answers u32 = request + 2 as coded' "
        "(answers request x 2, the README examples' reading)",
    ),
    "event-echo-plus-one": (
        "server",
        "breaks Wire facts: 'Event: client sends u32 id; server echoes it' (echoes id + 1)",
    ),
    "event-allow-repeat": (
        "server",
        "breaks Wire facts: 'Ids must strictly increase per connection' "
        "(repeated / decreasing / zero ids are echoed instead of closing with 5)",
    ),
    "big-endian": (
        "server",
        "breaks Wire facts: 'all u32 little-endian' (server reads and writes u32 big-endian)",
    ),
    "action-counter-from-1": (
        "server",
        "breaks As-coded details: 'the server answers with its counter 0, 1, 2, ...' "
        "(counter starts at 1)",
    ),
    "dup-disc-accepted": (
        "server",
        "breaks Wire facts: 'Any other byte, or a repeated one, is a protocol violation' "
        "(a repeated discriminator is accepted and served)",
    ),
    "bad-disc-code-5": (
        "server",
        "breaks Wire facts: 'close codes ... 1 stream setup error (bad or duplicate "
        "discriminator)' (closes with 5 instead)",
    ),
    "setup-timeout-code-2": (
        "server",
        "breaks As-coded details: 'each next stream must be accepted within 5 s "
        "(else close code 3)' (closes with 2 instead)",
    ),
    "second-conn-app-close": (
        "server",
        "breaks As-coded details: 'A second connection gets the transport error "
        "CONNECTION_REFUSED (0x2) ... the application's own close (code 0) is dead code' "
        "(second connection completes the handshake, then gets application close 0)",
    ),
    "second-conn-accepted": (
        "server",
        "breaks Wire facts: 'A second connection while one is live is refused' "
        "(it is accepted and served)",
    ),
    "four-streams": (
        "server",
        "breaks As-coded details: 'At most 3 bidirectional streams are allowed' "
        "(advertises initial_max_streams_bidi = 4 in the as_coded profile; in the "
        "project profile it advertises 5)",
    ),
    "idle-doubled": (
        "server",
        "breaks Wire facts: 'Timeouts as coded: idle 5 s' (advertises and uses twice the "
        "configured idle timeout)",
    ),
    "no-startup-delay": (
        "server",
        "breaks Wire facts: 'server startup delay 10 s (2 x idle) before the first accept' "
        "(accepts and prints the readiness line at once)",
    ),
    "early-fin-code-0": (
        "server",
        "breaks P5: 'a FIN ... on a stream before its discriminator arrives fails that "
        "stream's setup: close code 1' (closes with 0, the earlier text's reading)",
    ),
    "fin-boundary-ignored": (
        "server",
        "breaks P5: 'after setup, a FIN that ends a read early (before or inside a u32) is "
        "a stream error: close code 5' (a FIN between u32s quietly ends that handler; "
        "when all three ended so, closes with 0)",
    ),
    "p1-overflow-wraps": (
        "server",
        "breaks P1: 'requests that would overflow get close code 5' (project profile: the "
        "answer wraps modulo 2^32 instead)",
    ),
    "p3-no-disc-timeout": (
        "server",
        "breaks P3: 'A discriminator must arrive within 1 s of stream open, else close "
        "code 1' (project profile: no discriminator deadline)",
    ),
    "p4-reset-refused": (
        "server",
        "breaks P4: '0xFF is accepted as a reset discriminator' (project profile: 0xFF is "
        "treated as a bad discriminator, close code 1)",
    ),
    # ---- client ----
    "client-event-repeat": (
        "client",
        "breaks Wire facts: 'Ids must strictly increase per connection' (every Event "
        "re-sends the first id)",
    ),
    "client-bad-disc": (
        "client",
        "breaks Wire facts: 'discriminator: 1 = Event, 2 = StateCommit, 3 = Action' "
        "(opens the Action stream with discriminator 4)",
    ),
    "client-big-endian": (
        "client",
        "breaks Wire facts: 'all u32 little-endian' (client writes and reads u32 big-endian)",
    ),
    "client-wrong-alpn": (
        "client",
        "breaks Wire facts: 'ALPN proton' (offers ALPN 'proton-rs')",
    ),
    "client-close-code-1": (
        "client",
        "breaks Wire facts: 'Application close codes: 0 normal' (a normal end closes with "
        "code 1)",
    ),
    "client-expect-times-two": (
        "client",
        "breaks Wire facts: 'server answers u32 = request + 2 as coded' (the client expects "
        "request x 2, so against a correct server it closes with 5 after the first commit)",
    ),
    "client-action-no-write": (
        "client",
        "breaks As-coded details: 'Action: the client writes a u32, the server answers' "
        "(in pull mode the client only waits to read, writing nothing)",
    ),
}


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

_QUIET = False


def log(msg: str) -> None:
    if not _QUIET:
        ts = time.strftime("%H:%M:%S")
        print(f"[{ts}] {msg}", file=sys.stderr, flush=True)


def say(msg: str) -> None:
    print(msg, flush=True)


def parse_hostport(text: str, default_port: int = 5000) -> Tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    if text.count(":") == 1:
        host, port = text.split(":")
        return host or "127.0.0.1", int(port)
    if text.count(":") > 1:  # bare IPv6
        return text, default_port
    return text, default_port


def parse_secs_or_none(text: str) -> Optional[float]:
    if text.lower() in ("none", "off", "inf", "-1"):
        return None
    v = float(text)
    if v < 0:
        return None
    return v


def enc_u32(value: int, big_endian: bool = False) -> bytes:
    return (value & U32_MAX).to_bytes(4, "big" if big_endian else "little")


def dec_u32(data: bytes, big_endian: bool = False) -> int:
    return int.from_bytes(data, "big" if big_endian else "little")


def make_self_signed(hostname: str = "localhost"):
    """A fresh self-signed certificate for `localhost` (EC P-256)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(hostname),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _install_alpn_alert_patch() -> None:
    """Make a failed ALPN negotiation send TLS alert no_application_protocol (120,
    i.e. CRYPTO_ERROR 0x178) like rustls/quinn, instead of aioquic's handshake_failure."""

    class AlertNoApplicationProtocol(_tls.Alert):
        description = _tls.AlertDescription.no_application_protocol

    original = _tls.negotiate
    if getattr(original, "_proton_patched", False):
        return

    def negotiate(supported, offered, exc=None):
        if exc is not None and "ALPN" in str(exc):
            exc = AlertNoApplicationProtocol("No common ALPN protocols")
        return original(supported, offered, exc)

    negotiate._proton_patched = True  # type: ignore[attr-defined]
    _tls.negotiate = negotiate


_install_alpn_alert_patch()


class FixedLimit(Limit):
    """A MAX_STREAMS limit that aioquic may not raise on its own (aioquic doubles
    its stream limits when half are used; the protocol wants a hard 3 / 4)."""

    def __init__(self, frame_type: int, name: str, value: int):
        self._fixed = value
        super().__init__(frame_type=frame_type, name=name, value=value)

    @property
    def value(self) -> int:  # type: ignore[override]
        return self._fixed

    @value.setter
    def value(self, _v: int) -> None:
        pass


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


class ConnGone(Exception):
    """The connection is closing, draining or terminated."""


class ReadTimeout(Exception):
    pass


class WriteTimeout(Exception):
    pass


class EarlyEnd(Exception):
    """FIN before the requested number of bytes arrived."""

    def __init__(self, got: int):
        super().__init__(f"FIN after {got} byte(s) of the item")
        self.got = got


class StreamResetErr(Exception):
    def __init__(self, code: int):
        super().__init__(f"stream reset by peer (code {code})")
        self.code = code


class StreamStopped(Exception):
    pass


class ProtonFail(Exception):
    """Server side: close the connection with an application code."""

    def __init__(self, code: int, reason: Optional[str] = None):
        super().__init__(reason or CLOSE_REASONS.get(code, ""))
        self.code = code
        self.reason = reason or CLOSE_REASONS.get(code, "")


class ClientError(Exception):
    def __init__(self, exit_code: int, message: str):
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------
# connection protocol shared by both roles
# --------------------------------------------------------------------------


class StreamState:
    def __init__(self, sid: int):
        self.sid = sid
        self.buf = bytearray()
        self.fin = False
        self.reset_code: Optional[int] = None
        self.stopped = False


class ProtonConn(QuicConnectionProtocol):
    def __init__(self, quic: QuicConnection, **kwargs):
        super().__init__(quic, **kwargs)
        self.streams: Dict[int, StreamState] = {}
        self.handshake_done = False
        self.alpn: Optional[str] = None
        self.gone = False
        self.local_close: Optional[Tuple[int, str]] = None
        self.peer_close: Optional[events.ConnectionTerminated] = None
        self.idle_timeout_hit = False
        self._progress = asyncio.Event()
        self.on_gone = None  # callback(conn)
        self.on_terminated = None  # callback(conn)
        self.last_send = self._loop.time()
        self._ack_eliciting_since_rx = False

    # -- plumbing ---------------------------------------------------------

    def stream(self, sid: int) -> StreamState:
        st = self.streams.get(sid)
        if st is None:
            st = self.streams[sid] = StreamState(sid)
        return st

    def kick(self) -> None:
        ev = self._progress
        self._progress = asyncio.Event()
        ev.set()

    async def wait_progress(self, deadline: Optional[float]) -> bool:
        """Wait for any I/O progress; False when the deadline passed."""
        ev = self._progress
        if deadline is None:
            await ev.wait()
            return True
        remaining = deadline - self._loop.time()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(ev.wait(), remaining)
        except asyncio.TimeoutError:
            return False
        return True

    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.StreamDataReceived):
            st = self.stream(event.stream_id)
            st.buf += event.data
            if event.end_stream:
                st.fin = True
        elif isinstance(event, events.StreamReset):
            self.stream(event.stream_id).reset_code = event.error_code
        elif isinstance(event, events.StopSendingReceived):
            self.stream(event.stream_id).stopped = True
        elif isinstance(event, events.HandshakeCompleted):
            self.handshake_done = True
            self.last_send = self._loop.time()
            self.alpn = event.alpn_protocol
            self.on_handshake()
        elif isinstance(event, events.ConnectionTerminated):
            self._mark_gone()
            if self.on_terminated is not None:
                self.on_terminated(self)

    def on_handshake(self) -> None:
        pass

    def datagram_received(self, data, addr) -> None:
        self._ack_eliciting_since_rx = False
        super().datagram_received(data, addr)
        self._after_io()

    def _handle_timer(self) -> None:
        had_close = self._quic._close_event is not None
        super()._handle_timer()
        if not had_close and self._quic._close_event is not None and self.local_close is None:
            if self._quic._state == QuicConnectionState.TERMINATED:
                self.idle_timeout_hit = True
        self._after_io()

    def _after_io(self) -> None:
        if not self.gone and (
            self._quic._close_event is not None or self._quic._state in END_STATES
        ):
            self._mark_gone()
        self.scan_streams()
        self.kick()

    def scan_streams(self) -> None:
        pass

    def _mark_gone(self) -> None:
        if self.gone:
            return
        self.gone = True
        if self.local_close is None:
            self.peer_close = self._quic._close_event
            if (
                self.peer_close is not None
                and self.peer_close.reason_phrase == "Idle timeout"
                and self.peer_close.error_code == QuicErrorCode.INTERNAL_ERROR
            ):
                self.idle_timeout_hit = True
        self.kick()
        if self.on_gone is not None:
            self.on_gone(self)

    def close_app(self, code: int, reason: str = "") -> None:
        """Send an application CONNECTION_CLOSE (once)."""
        if self.gone:
            return
        self.local_close = (code, reason)
        self._quic.close(error_code=code, reason_phrase=reason)
        self.transmit()
        self._mark_gone()

    def close_transport(self, code: int, reason: str = "") -> None:
        if self.gone:
            return
        self.local_close = (code, reason)
        self._quic.close(error_code=code, frame_type=QuicFrameType.PADDING, reason_phrase=reason)
        self.transmit()
        self._mark_gone()

    # -- stream I/O -------------------------------------------------------

    async def read_exact(self, st: StreamState, n: int, deadline: Optional[float]) -> bytes:
        while True:
            if st.reset_code is not None:
                raise StreamResetErr(st.reset_code)
            if len(st.buf) >= n:
                data = bytes(st.buf[:n])
                del st.buf[:n]
                return data
            if st.fin:
                raise EarlyEnd(len(st.buf))
            if self.gone:
                raise ConnGone()
            if not await self.wait_progress(deadline):
                # one last look: data may have arrived exactly at the deadline
                if len(st.buf) >= n and st.reset_code is None:
                    continue
                raise ReadTimeout()

    async def write(self, st: StreamState, data: bytes, deadline: Optional[float],
                    end_stream: bool = False) -> None:
        if self.gone:
            raise ConnGone()
        if st.stopped:
            raise StreamStopped()
        try:
            self._quic.send_stream_data(st.sid, data, end_stream=end_stream)
        except (AssertionError, ValueError) as exc:
            raise StreamStopped() from exc
        self.transmit()
        self.note_send()
        stream = self._quic._streams.get(st.sid)
        # emulate a blocking write: wait while the data is beyond the peer's
        # stream flow-control window
        while stream is not None and stream.sender._buffer_stop > stream.max_stream_data_remote:
            if self.gone:
                raise ConnGone()
            if st.stopped:
                raise StreamStopped()
            if not await self.wait_progress(deadline):
                raise WriteTimeout()

    def note_send(self) -> None:
        """We just sent an ack-eliciting packet.  RFC 9000 10.1 (and quinn): the
        first ack-eliciting packet sent since the last receipt restarts the idle
        timer.  aioquic only restarts it on receipt, so do it here."""
        now = self._loop.time()
        self.last_send = now
        if self._ack_eliciting_since_rx:
            return
        self._ack_eliciting_since_rx = True
        q = self._quic
        if self.handshake_done and q._state not in END_STATES and q._close_at is not None:
            q._close_at = max(q._close_at, now + q._idle_timeout())
            self.transmit()  # re-arms the timer

    async def keepalive(self, interval: Optional[float]) -> None:
        """Like quinn's keep_alive_interval: a PING when nothing ack-eliciting
        was sent for `interval` seconds."""
        if not interval or interval <= 0:
            return
        while not self.gone:
            due = self.last_send + interval
            q = self._quic
            idle = q._idle_timeout()
            if q._close_at is not None and interval <= idle and not self._ack_eliciting_since_rx:
                # keep-alive == idle (the as-coded 5 s / 5 s) would race the idle
                # timer to the millisecond; send the PING a hair early instead
                due = min(due, q._close_at - min(0.1, 0.02 * idle))
            now = self._loop.time()
            if now < due:
                await self.wait_progress(due)  # re-evaluate on any I/O
                continue
            if self.gone:
                return
            self._quic.send_ping(0)
            self.transmit()
            self.note_send()
            await asyncio.sleep(0.001)  # never spin


# --------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------


class ServerOptions:
    def __init__(self, args):
        self.profile: str = args.profile
        self.mutant: Optional[str] = args.mutant
        self.idle: float = args.idle
        self.keep_alive: Optional[float] = args.keep_alive
        self.accept_timeout: float = args.accept_timeout
        self.op_timeout: Optional[float] = args.op_timeout
        self.startup_delay: float = args.startup_delay
        project = self.profile == "project"
        if args.disc_timeout is None:
            self.disc_timeout: Optional[float] = 1.0 if project else None
        else:
            self.disc_timeout = parse_secs_or_none(args.disc_timeout)
        self.max_streams: int = args.max_streams or (4 if project else 3)
        self.p1_checked = project
        self.p4_reset = project
        self.action_mode: str = args.action_mode
        self.push_interval: float = args.push_interval
        self.commit_delay: float = args.commit_delay
        m = self.mutant
        if m == "idle-doubled":
            self.idle *= 2
        if m == "four-streams":
            self.max_streams += 1
        if m == "p1-overflow-wraps":
            self.p1_checked = False
        if m == "p3-no-disc-timeout":
            self.disc_timeout = None
        self.big_endian = m == "big-endian"


class ServerConn(ProtonConn):
    def __init__(self, quic, server: "ProtonServer", opts: ServerOptions, number: int,
                 refuse_app: bool = False):
        super().__init__(quic)
        self.server = server
        self.opts = opts
        self.number = number
        self.refuse_app = refuse_app
        self.max_seen_index = -1
        self.open_times: Dict[int, float] = {}
        self.handshake_at: Optional[float] = None
        self.tasks: List[asyncio.Task] = []
        self.main_task: Optional[asyncio.Task] = None

    def log(self, msg: str) -> None:
        log(f"conn#{self.number}: {msg}")

    def on_handshake(self) -> None:
        self.handshake_at = self._loop.time()

    def scan_streams(self) -> None:
        # client-initiated bidirectional stream ids are 0, 4, 8, ...; opening
        # stream n implicitly opens all lower ones (RFC 9000 3.2), and the
        # application accepts them in id order (as quinn's accept_bi does).
        top = self.max_seen_index
        for sid in self._quic._streams.keys():
            if sid % 4 == 0 and sid // 4 > top:
                top = sid // 4
        for sid in self.streams.keys():
            if sid % 4 == 0 and sid // 4 > top:
                top = sid // 4
        if top > self.max_seen_index:
            now = self._loop.time()
            for i in range(self.max_seen_index + 1, top + 1):
                self.open_times[i] = now
            self.max_seen_index = top

    def deadline(self, timeout: Optional[float]) -> Optional[float]:
        return None if timeout is None else self._loop.time() + timeout

    def fail(self, code: int, reason: Optional[str] = None) -> None:
        if self.gone:
            return
        reason = reason or CLOSE_REASONS.get(code, "")
        self.log(f"closing with application code {code} ({reason})")
        self.close_app(code, reason)

    # -- session ------------------------------------------------------------

    async def run(self) -> None:
        try:
            while not self.handshake_done:
                if self.gone:
                    return
                await self.wait_progress(None)
            if self.alpn != ALPN:
                self.log(f"no ALPN '{ALPN}' negotiated; closing")
                self.close_transport(QuicErrorCode.CRYPTO_ERROR + 120, "no application protocol")
                return
            if self.refuse_app:
                self.log("second connection: application close 0 (mutant)")
                self.close_app(CLOSE_NORMAL, "Already connected")
                return
            self.log("handshake complete")
            self.tasks.append(asyncio.ensure_future(self.keepalive(self.opts.keep_alive)))
            handlers = await self.setup()
            if handlers is None:
                return
            gone_waiter = asyncio.ensure_future(self._wait_gone())
            all_handlers = asyncio.ensure_future(asyncio.gather(*handlers, return_exceptions=True))
            await asyncio.wait([gone_waiter, all_handlers], return_when=asyncio.FIRST_COMPLETED)
            gone_waiter.cancel()
            if all_handlers.done() and not self.gone:
                results = all_handlers.result()
                if all(r is True for r in results):
                    self.fail(CLOSE_NORMAL, "Streams completed")
        except ProtonFail as exc:
            self.fail(exc.code, exc.reason)
        except ConnGone:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pragma: no cover - defensive
            self.log(f"internal error: {exc!r}")
            self.fail(CLOSE_STREAM, "Internal error")
        finally:
            for t in self.tasks:
                t.cancel()

    async def _wait_gone(self) -> None:
        while not self.gone:
            await self.wait_progress(None)

    async def accept(self, index: int, timeout: Optional[float]) -> StreamState:
        deadline = self.deadline(timeout)
        while self.max_seen_index < index:
            if self.gone:
                raise ProtonFail(CLOSE_ACCEPT)  # no-op when already gone
            if not await self.wait_progress(deadline):
                if self.max_seen_index >= index:
                    break
                code = CLOSE_SETUP_TIMEOUT
                if self.opts.mutant == "setup-timeout-code-2":
                    code = CLOSE_ACCEPT
                raise ProtonFail(code, CLOSE_REASONS[CLOSE_SETUP_TIMEOUT])
        return self.stream(index * 4)

    async def read_disc(self, index: int, st: StreamState) -> int:
        if self.opts.disc_timeout is not None:
            deadline = self.open_times.get(index, self._loop.time()) + self.opts.disc_timeout
        else:
            deadline = self.deadline(self.opts.op_timeout)
        try:
            data = await self.read_exact(st, 1, deadline)
        except EarlyEnd:
            if self.opts.mutant == "early-fin-code-0":
                raise ProtonFail(CLOSE_NORMAL, "Streams completed")
            raise ProtonFail(CLOSE_SETUP, "Stream setup error: FIN before discriminator")
        except StreamResetErr:
            raise ProtonFail(CLOSE_SETUP, "Stream setup error: reset before discriminator")
        except ReadTimeout:
            raise ProtonFail(CLOSE_SETUP, "Stream setup error: no discriminator in time")
        except ConnGone:
            raise
        return data[0]

    def reset_requested(self) -> None:
        if self.opts.mutant == "p4-reset-refused":
            raise ProtonFail(CLOSE_SETUP, "Stream setup error: bad discriminator 0xFF")
        self.log("reset discriminator 0xFF: closing all state (code 0)")
        raise ProtonFail(CLOSE_NORMAL, "Reset")

    async def setup(self) -> Optional[List[asyncio.Future]]:
        seen = set()
        handlers: List[asyncio.Future] = []
        index = 0
        timeout = self.opts.accept_timeout
        # the first accept is timed from the end of the handshake
        first_deadline_base = self.handshake_at or self._loop.time()
        while len(handlers) < 3:
            if index == 0:
                t = max(0.0, first_deadline_base + timeout - self._loop.time())
            else:
                t = timeout
            st = await self.accept(index, t)
            disc = await self.read_disc(index, st)
            if disc == DISC_RESET and self.opts.p4_reset:
                self.reset_requested()
            if disc not in DISC_NAMES:
                code = CLOSE_STREAM if self.opts.mutant == "bad-disc-code-5" else CLOSE_SETUP
                raise ProtonFail(code, f"Stream setup error: bad discriminator {disc:#x}")
            if disc in seen and self.opts.mutant != "dup-disc-accepted":
                code = CLOSE_STREAM if self.opts.mutant == "bad-disc-code-5" else CLOSE_SETUP
                raise ProtonFail(code, f"Stream setup error: repeated discriminator {disc}")
            seen.add(disc)
            self.log(f"stream {st.sid}: {DISC_NAMES[disc]}")
            handlers.append(asyncio.ensure_future(self.run_handler(disc, st)))
            self.tasks.append(handlers[-1])
            index += 1
        if self.opts.p4_reset and self.opts.max_streams > 3:
            self.tasks.append(asyncio.ensure_future(self.watch_extra_streams(index)))
        return handlers

    async def watch_extra_streams(self, index: int) -> None:
        """Project profile (P4): a 4th stream may carry the reset discriminator."""
        try:
            while index < self.opts.max_streams:
                st = await self.accept(index, None)
                disc = await self.read_disc(index, st)
                if disc == DISC_RESET:
                    self.reset_requested()
                raise ProtonFail(CLOSE_SETUP, f"Stream setup error: extra stream discriminator {disc:#x}")
        except ProtonFail as exc:
            self.fail(exc.code, exc.reason)
        except ConnGone:
            pass

    async def run_handler(self, disc: int, st: StreamState) -> bool:
        """Returns True when the handler ended without error."""
        try:
            if disc == DISC_EVENT:
                await self.handle_events(st)
            elif disc == DISC_COMMIT:
                await self.handle_commits(st)
            else:
                await self.handle_actions(st)
            return True
        except ProtonFail as exc:
            self.fail(exc.code, exc.reason)
        except ConnGone:
            pass
        except (ReadTimeout, WriteTimeout):
            self.fail(CLOSE_OP_TIMEOUT, "Stream operation timeout")
        except EarlyEnd as exc:
            if exc.got == 0 and self.opts.mutant == "fin-boundary-ignored":
                self.log(f"stream {st.sid}: FIN, handler ends (mutant)")
                return True
            self.fail(CLOSE_STREAM, f"Stream error: {exc}")
        except (StreamResetErr, StreamStopped) as exc:
            self.fail(CLOSE_STREAM, f"Stream error: {exc or 'stopped'}")
        return False

    async def read_u32(self, st: StreamState) -> int:
        data = await self.read_exact(st, 4, self.deadline(self.opts.op_timeout))
        return dec_u32(data, self.opts.big_endian)

    async def write_u32(self, st: StreamState, value: int) -> None:
        await self.write(st, enc_u32(value, self.opts.big_endian), self.deadline(self.opts.op_timeout))

    async def handle_events(self, st: StreamState) -> None:
        last = 0
        while True:
            ident = await self.read_u32(st)
            if self.opts.mutant != "event-allow-repeat" and ident <= last:
                raise ProtonFail(
                    CLOSE_STREAM,
                    f"Protocol violation: event id {ident} not greater than {last}",
                )
            last = ident
            echo = ident + 1 if self.opts.mutant == "event-echo-plus-one" else ident
            await self.write_u32(st, echo)

    async def handle_commits(self, st: StreamState) -> None:
        while True:
            req = await self.read_u32(st)
            if self.opts.mutant == "commit-times-two":
                answer = req * 2
            else:
                answer = req + 2
            if answer > U32_MAX and self.opts.p1_checked:
                raise ProtonFail(CLOSE_STREAM, f"Protocol violation: commit {req} overflows")
            if self.opts.commit_delay > 0:
                await asyncio.sleep(self.opts.commit_delay)
            await self.write_u32(st, answer & U32_MAX)

    async def handle_actions(self, st: StreamState) -> None:
        counter = 1 if self.opts.mutant == "action-counter-from-1" else 0
        if self.opts.action_mode == "push":
            # design reading (P2): the server pushes 4-byte items unprompted;
            # whatever the client writes on this stream is ignored.
            while True:
                await self.write_u32(st, counter)
                counter += 1
                await asyncio.sleep(self.opts.push_interval)
                if self.gone:
                    raise ConnGone()
        while True:
            await self.read_u32(st)
            await self.write_u32(st, counter)
            counter += 1


class ProtonServer(asyncio.DatagramProtocol):
    def __init__(self, opts: ServerOptions, qconf: QuicConfiguration):
        self.opts = opts
        self.qconf = qconf
        self.accepting = False
        self.protocols: Dict[bytes, ServerConn] = {}
        self.live: Optional[ServerConn] = None
        self.count = 0
        self.transport: Optional[asyncio.DatagramTransport] = None
        self.loop = asyncio.get_event_loop()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def error_received(self, exc) -> None:  # pragma: no cover
        pass

    def datagram_received(self, data: bytes, addr) -> None:
        if not self.accepting:
            return  # still in the startup delay: nothing is accepted yet
        buf = Buffer(data=data)
        try:
            header = pull_quic_header(buf, host_cid_length=self.qconf.connection_id_length)
        except ValueError:
            return
        if header.version is not None and header.version not in self.qconf.supported_versions:
            self.transport.sendto(
                encode_quic_version_negotiation(
                    source_cid=header.destination_cid,
                    destination_cid=header.source_cid,
                    supported_versions=self.qconf.supported_versions,
                ),
                addr,
            )
            return
        proto = self.protocols.get(header.destination_cid)
        if proto is None:
            if header.packet_type != QuicPacketType.INITIAL or len(data) < SMALLEST_MAX_DATAGRAM_SIZE:
                return
            refuse_app = False
            if self.live is not None and not self.live.gone:
                if self.opts.mutant == "second-conn-accepted":
                    pass
                elif self.opts.mutant == "second-conn-app-close":
                    refuse_app = True
                else:
                    self.refuse(header, addr)
                    return
            proto = self.create(header, refuse_app)
        proto.datagram_received(data, addr)

    def refuse(self, header, addr) -> None:
        """quinn's connection limit: an Initial CONNECTION_CLOSE with the transport
        error CONNECTION_REFUSED (0x2), without taking part in the handshake."""
        log(f"refusing a second connection from {addr[0]}:{addr[1]} (CONNECTION_REFUSED)")
        conn = QuicConnection(
            configuration=self.qconf,
            original_destination_connection_id=header.destination_cid,
        )
        conn._network_paths = [QuicNetworkPath(addr, is_validated=False)]
        conn._version = header.version
        conn._initialize(header.destination_cid)
        conn._peer_cid.cid = header.source_cid
        conn._peer_cid.sequence_number = 0
        conn.close(
            error_code=QuicErrorCode.CONNECTION_REFUSED,
            frame_type=QuicFrameType.PADDING,
            reason_phrase="",
        )
        for datagram, to in conn.datagrams_to_send(now=self.loop.time()):
            self.transport.sendto(datagram, to)

    def create(self, header, refuse_app: bool) -> ServerConn:
        self.count += 1
        quic = QuicConnection(
            configuration=self.qconf,
            original_destination_connection_id=header.destination_cid,
        )
        quic._local_max_streams_bidi = FixedLimit(
            QuicFrameType.MAX_STREAMS_BIDI, "max_streams_bidi", self.opts.max_streams
        )
        proto = ServerConn(quic, self, self.opts, self.count, refuse_app=refuse_app)
        proto.connection_made(self.transport)
        proto._connection_id_issued_handler = lambda cid, p=proto: self.protocols.__setitem__(cid, p)
        proto._connection_id_retired_handler = lambda cid, p=proto: self.protocols.pop(cid, None)
        proto.on_gone = self.conn_gone
        proto.on_terminated = self.conn_terminated
        self.protocols[header.destination_cid] = proto
        self.protocols[quic.host_cid] = proto
        if not refuse_app:
            self.live = proto
        log(f"conn#{proto.number}: new connection")
        proto.main_task = asyncio.ensure_future(proto.run())
        return proto

    def conn_gone(self, proto: ServerConn) -> None:
        if proto.local_close is None:
            pc = proto.peer_close
            if proto.idle_timeout_hit:
                proto.log("idle timeout")
            elif pc is not None:
                kind = "application" if pc.frame_type is None else "transport"
                proto.log(f"closed by peer ({kind} code {pc.error_code:#x} {pc.reason_phrase!r})")
        if self.live is proto:
            self.live = None  # the single slot is free again at once

    def conn_terminated(self, proto: ServerConn) -> None:
        for cid, p in list(self.protocols.items()):
            if p is proto:
                del self.protocols[cid]

    def shutdown(self) -> None:
        for proto in set(self.protocols.values()):
            if proto.main_task is not None:
                proto.main_task.cancel()
            for t in proto.tasks:
                t.cancel()
            if proto._timer is not None:
                proto._timer.cancel()
        if self.transport is not None:
            self.transport.close()


def open_keylog(path: Optional[str]):
    if not path:
        return None
    return open(path, "a", buffering=1)


async def server_main(args) -> int:
    opts = ServerOptions(args)
    host, port = parse_hostport(args.listen)
    qconf = QuicConfiguration(
        is_client=False,
        alpn_protocols=[ALPN],
        idle_timeout=opts.idle,
        secrets_log_file=open_keylog(args.keylog),
    )
    if args.cert:
        qconf.load_cert_chain(args.cert, args.key)
    else:
        qconf.certificate, qconf.private_key = make_self_signed("localhost")
    loop = asyncio.get_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    transport, server = await loop.create_datagram_endpoint(
        lambda: ProtonServer(opts, qconf), local_addr=(host, port), family=family
    )
    bound = transport.get_extra_info("sockname")
    log(f"bound {bound[0]}:{bound[1]}, profile {opts.profile}, action mode {opts.action_mode}"
        + (f", MUTANT {opts.mutant}" if opts.mutant else ""))
    delay = 0.0 if opts.mutant == "no-startup-delay" else opts.startup_delay
    if delay > 0:
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except asyncio.TimeoutError:
            pass
    if not stop.is_set():
        server.accepting = True
        shown = f"[{bound[0]}]" if family == socket.AF_INET6 else bound[0]
        say(f"Server listening on {shown}:{bound[1]}")
        await stop.wait()
    log("stopping")
    server.shutdown()
    return 0


# --------------------------------------------------------------------------
# client
# --------------------------------------------------------------------------


class ClientConn(ProtonConn):
    pass


class ClientSession:
    def __init__(self, args):
        self.args = args
        self.profile = args.profile
        self.mutant: Optional[str] = args.mutant
        self.big_endian = self.mutant == "client-big-endian"
        self.conn: Optional[ClientConn] = None
        self.transport = None
        self.streams: Dict[int, StreamState] = {}
        self.next_event_id = args.event_start
        self.first_event_id: Optional[int] = None
        self.last_event_id = 0
        self.next_commit = args.commit_start
        self.expected_action = 0
        self.ka_task: Optional[asyncio.Task] = None
        self.connected_once = False
        self.keylog = open_keylog(args.keylog)
        self.loop = asyncio.get_event_loop()

    # -- connection -------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.conn is not None and not self.conn.gone

    def qconf(self) -> QuicConfiguration:
        alpn = "proton-rs" if self.mutant == "client-wrong-alpn" else ALPN
        return QuicConfiguration(
            is_client=True,
            alpn_protocols=[alpn],
            idle_timeout=self.args.idle,
            server_name=self.args.server_name,
            verify_mode=ssl.CERT_NONE,
            secrets_log_file=self.keylog,
        )

    def resolve(self) -> Tuple[int, tuple]:
        host, port = parse_hostport(self.args.connect)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        infos.sort(key=lambda i: 0 if i[0] == socket.AF_INET else 1)
        family, _, _, _, sockaddr = infos[0]
        return family, sockaddr

    async def _attempt(self) -> Optional[str]:
        family, addr = self.resolve()
        local = ("0.0.0.0", 0) if family == socket.AF_INET else ("::", 0)
        transport, conn = await self.loop.create_datagram_endpoint(
            lambda: ClientConn(QuicConnection(configuration=self.qconf())),
            local_addr=local,
            family=family,
        )
        conn.connect(addr)
        conn._after_io()
        while not conn.handshake_done and not conn.gone:
            await conn.wait_progress(None)
        if conn.gone:
            transport.close()
            pc = conn.peer_close
            if conn.idle_timeout_hit or pc is None:
                return "no answer (handshake timed out)"
            kind = "application" if pc.frame_type is None else "transport"
            name = ""
            if pc.frame_type is not None and pc.error_code == QuicErrorCode.CONNECTION_REFUSED:
                name = " CONNECTION_REFUSED"
            return f"closed by server: {kind} code {pc.error_code:#x}{name} {pc.reason_phrase!r}"
        self.conn, self.transport = conn, transport
        return None

    async def connect(self, delay: Optional[float] = None) -> None:
        if self.connected:
            raise ClientError(EXIT_USAGE, "already connected")
        self.drop()
        if delay is None:
            delay = 0.0 if self.connected_once else self.args.connect_delay
        if delay > 0:
            await asyncio.sleep(delay)
        attempts = max(1, self.args.connect_attempts)
        reason = ""
        for attempt in range(1, attempts + 1):
            reason = await self._attempt()
            if reason is None:
                break
            log(f"connect attempt {attempt}/{attempts} failed: {reason}")
            if attempt < attempts:
                await asyncio.sleep(self.args.retry_interval)
        else:
            raise ClientError(EXIT_CONNECT, f"could not connect: {reason}")
        self.connected_once = True
        conn = self.conn
        if conn.alpn != ALPN and self.mutant != "client-wrong-alpn":
            conn.close_app(CLOSE_STREAM, "no ALPN")
            raise ClientError(EXIT_CONNECT, "server did not negotiate ALPN proton")
        # per-connection state
        self.last_event_id = 0
        self.first_event_id = None
        self.next_event_id = self.args.event_start
        self.expected_action = 0
        self.streams = {}
        self.ka_task = asyncio.ensure_future(conn.keepalive(self.args.keep_alive))
        discs = {"1": DISC_EVENT, "2": DISC_COMMIT, "3": DISC_ACTION}
        for ch in self.args.stream_order:
            kind = discs[ch]
            wire = 4 if (kind == DISC_ACTION and self.mutant == "client-bad-disc") else kind
            sid = conn._quic.get_next_available_stream_id()
            st = conn.stream(sid)
            await conn.write(st, bytes([wire]), None)
            self.streams[kind] = st
        say(f"connected to {self.args.connect}")

    def drop(self) -> None:
        if self.ka_task is not None:
            self.ka_task.cancel()
            self.ka_task = None
        if self.transport is not None:
            self.transport.close()
        if self.conn is not None and self.conn._timer is not None:
            self.conn._timer.cancel()
        self.transport = None
        self.conn = None

    def _gone_error(self) -> ClientError:
        conn = self.conn
        if conn is None:
            return ClientError(EXIT_USAGE, "not connected")
        if conn.local_close is not None:
            return ClientError(EXIT_USAGE, "connection already closed")
        if conn.idle_timeout_hit:
            return ClientError(EXIT_IDLE, "connection idle timeout")
        pc = conn.peer_close
        if pc is None:
            return ClientError(EXIT_IDLE, "connection lost")
        kind = "application" if pc.frame_type is None else "transport"
        return ClientError(
            EXIT_PEER_CLOSED,
            f"server closed the connection: {kind} code {pc.error_code} ({pc.reason_phrase!r})",
        )

    def _op_deadline(self) -> Optional[float]:
        t = self.args.op_timeout
        return None if t is None else self.loop.time() + t

    async def _exchange(self, kind: int, request: Optional[int], what: str) -> int:
        """Write `request` (if any) on the stream of `kind` and read one u32."""
        if not self.connected:
            if self.conn is not None and self.conn.gone:
                raise self._gone_error()
            raise ClientError(EXIT_USAGE, "not connected")
        conn = self.conn
        st = self.streams.get(kind)
        if st is None:
            raise ClientError(EXIT_USAGE, f"no {DISC_NAMES[kind]} stream was opened")
        try:
            if request is not None:
                await conn.write(st, enc_u32(request, self.big_endian), self._op_deadline())
            data = await conn.read_exact(st, 4, self._op_deadline())
            return dec_u32(data, self.big_endian)
        except ConnGone:
            raise self._gone_error()
        except (ReadTimeout, WriteTimeout):
            conn.close_app(CLOSE_OP_TIMEOUT, "Stream operation timeout")
            raise ClientError(EXIT_TIMEOUT, f"{what}: no answer within the operation timeout")
        except (EarlyEnd, StreamResetErr, StreamStopped) as exc:
            if conn.gone:
                raise self._gone_error()
            conn.close_app(CLOSE_STREAM, "Stream error")
            raise ClientError(EXIT_STREAM, f"{what}: stream error: {exc or 'stopped'}")

    def _mismatch(self, msg: str) -> ClientError:
        if self.conn is not None:
            self.conn.close_app(CLOSE_STREAM, "Protocol violation")
        return ClientError(EXIT_MISMATCH, msg)

    # -- operations ---------------------------------------------------------

    async def send_event(self, ident: Optional[int] = None) -> int:
        if ident is None:
            ident = self.next_event_id
        if self.mutant == "client-event-repeat" and self.first_event_id is not None:
            ident = self.first_event_id
        if self.first_event_id is None:
            self.first_event_id = ident
        echo = await self._exchange(DISC_EVENT, ident, f"event {ident}")
        self.last_event_id = ident
        self.next_event_id = ident + 1
        if echo != (ident & U32_MAX):
            raise self._mismatch(f"event {ident}: echo {echo} differs")
        say(f"event {ident} -> echo {echo} ok")
        return echo

    async def commit(self, value: Optional[int] = None) -> int:
        if value is None:
            value = self.next_commit
        self.next_commit = value + 1
        answer = await self._exchange(DISC_COMMIT, value, f"commit {value}")
        if self.profile == "project" and value + 2 > U32_MAX:
            # P1: the server must have closed with code 5 instead of answering
            raise self._mismatch(f"commit {value}: answer {answer}, expected close code 5 (P1)")
        if self.mutant == "client-expect-times-two":
            expected = (value * 2) & U32_MAX
        else:
            expected = (value + 2) & U32_MAX
        if answer != expected:
            raise self._mismatch(f"commit {value}: answer {answer}, expected {expected}")
        say(f"commit {value} -> {answer} ok")
        return answer

    async def read_action(self, value: Optional[int] = None) -> int:
        if value is None:
            value = self.args.action_value
        request: Optional[int] = value
        if self.args.action_mode == "push" or self.mutant == "client-action-no-write":
            request = None
        got = await self._exchange(DISC_ACTION, request, "action")
        expected = self.expected_action
        self.expected_action += 1
        if got != expected:
            raise self._mismatch(f"action: counter {got}, expected {expected}")
        say(f"action -> {got} ok")
        return got

    async def close(self) -> None:
        if self.conn is None:
            raise ClientError(EXIT_USAGE, "not connected")
        if self.conn.gone:
            err = self._gone_error()
            self.drop()
            raise err
        code = 1 if self.mutant == "client-close-code-1" else CLOSE_NORMAL
        self.conn.close_app(code, "Client closed")
        say(f"closed (code {code})")
        self.drop()

    async def reset(self) -> None:
        if not self.connected:
            if self.conn is not None:
                err = self._gone_error()
                self.drop()
                raise err
            raise ClientError(EXIT_USAGE, "not connected")
        mode = self.args.reset_mode or ("stream" if self.profile == "project" else "close")
        if mode == "close":
            # as coded: close, then wait 2 x idle so the server has dropped us
            await self.close()
            wait = self.args.reset_wait if self.args.reset_wait is not None else 2 * self.args.idle
            say(f"reset: waiting {wait:g} s")
            await asyncio.sleep(wait)
            return
        # P4: a 4th stream carrying 0xFF; the server closes (code 0) and we may
        # reconnect at once
        conn = self.conn
        sid = conn._quic.get_next_available_stream_id()
        st = conn.stream(sid)
        await conn.write(st, bytes([DISC_RESET]), None)
        wait = self.args.reset_wait if self.args.reset_wait is not None else 2 * self.args.idle
        deadline = self.loop.time() + wait
        while not conn.gone:
            if not await conn.wait_progress(deadline):
                break
        if not conn.gone:
            conn.close_app(CLOSE_OP_TIMEOUT, "Stream operation timeout")
            self.drop()
            raise ClientError(EXIT_TIMEOUT, "reset: the server did not close the connection")
        pc = conn.peer_close
        self.drop()
        if pc is None or pc.frame_type is not None or pc.error_code != CLOSE_NORMAL:
            desc = "none" if pc is None else f"code {pc.error_code} {pc.reason_phrase!r}"
            raise ClientError(EXIT_PEER_CLOSED, f"reset: unexpected close ({desc})")
        say("reset: server closed with code 0")


# -- plan ------------------------------------------------------------------


def parse_plan(text: str) -> List[Tuple[str, Optional[float]]]:
    steps: List[Tuple[str, Optional[float]]] = []
    aliases = {"e": "event", "event": "event", "send_event": "event",
               "c": "commit", "commit": "commit",
               "a": "action", "action": "action", "read_action": "action",
               "s": "sleep", "sleep": "sleep", "reset": "reset", "close": "close",
               "connect": "connect"}
    for raw in text.replace(";", ",").split(","):
        tok = raw.strip()
        if not tok:
            continue
        count = 1
        if "*" in tok:
            tok, _, n = tok.partition("*")
            count = int(n)
        name, _, arg = tok.partition(":")
        if not arg and "=" in name:
            name, _, arg = name.partition("=")
        name = aliases.get(name.strip().lower())
        if name is None:
            raise ValueError(f"unknown plan step {raw.strip()!r}")
        value: Optional[float] = None
        if arg.strip():
            value = float(arg) if name == "sleep" else int(arg, 0)
        elif name == "sleep":
            raise ValueError("sleep needs seconds, e.g. sleep:0.5")
        for _ in range(count):
            steps.append((name, value))
    return steps


def default_plan(args) -> str:
    counts = {"e": args.events, "c": args.commits, "a": args.actions}
    parts = []
    for ch in args.order:
        if ch in counts and counts[ch] > 0:
            parts.append({"e": "event", "c": "commit", "a": "action"}[ch] + f"*{counts[ch]}")
    return ",".join(parts)


async def run_plan(session: ClientSession, steps) -> int:
    try:
        for name, value in steps:
            if name == "sleep":
                await asyncio.sleep(value or 0)
                continue
            if name == "connect":
                if not session.connected:
                    await session.connect()
                continue
            if name == "close":
                if session.conn is not None:
                    await session.close()
                continue
            if not session.connected:
                if session.conn is not None and session.conn.gone:
                    raise session._gone_error()
                await session.connect()
            if name == "event":
                await session.send_event(None if value is None else int(value))
            elif name == "commit":
                await session.commit(None if value is None else int(value))
            elif name == "action":
                await session.read_action(None if value is None else int(value))
            elif name == "reset":
                await session.reset()
        if session.conn is None and not session.connected_once:
            await session.connect()
        if session.conn is not None:
            await session.close()
        return EXIT_OK
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        session.drop()
        return exc.exit_code


# -- REPL ------------------------------------------------------------------

REPL_HELP = """commands:
  connect [secs]   wait secs (default --connect-delay), connect, open the 3 streams
  send_event       send the next Event id and check the echo
  commit <id>      send a StateCommit request <id> and check the answer
  read_action      pull (write 42) / read (push) one Action and check the counter
  close            close the connection (code 0)
  sleep <secs>     sleep
  reset            as_coded: close, then wait 2 x idle; project: 0xFF stream (P4)
  help             this text
  exit             close (if connected) and leave
  `;` chains commands; a leading number repeats one: `3 send_event`"""

REPL_WORDS = ["connect", "send_event", "commit", "read_action", "close", "sleep",
              "reset", "help", "exit"]


def split_repl_line(line: str) -> List[Tuple[int, List[str]]]:
    out = []
    for part in line.split(";"):
        words = part.split()
        if not words:
            continue
        repeat = 1
        if words[0].isdigit():
            repeat = int(words[0])
            words = words[1:]
            if not words:
                continue
        out.append((repeat, words))
    return out


async def run_repl(session: ClientSession) -> int:
    loop = asyncio.get_event_loop()
    interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline

            if session.args.history:
                try:
                    readline.read_history_file(os.path.expanduser(session.args.history))
                except OSError:
                    pass

            def complete(text, state):
                opts = [w for w in REPL_WORDS if w.startswith(text)]
                return opts[state] if state < len(opts) else None

            readline.set_completer(complete)
            readline.parse_and_bind("tab: complete")
        except ImportError:  # pragma: no cover
            readline = None  # type: ignore
    status = EXIT_OK

    def read_line() -> Optional[str]:
        try:
            if interactive:
                return input("proton> ") + "\n"
            return sys.stdin.readline()
        except EOFError:
            return ""

    leaving = False
    while not leaving:
        line = await loop.run_in_executor(None, read_line)
        if not line:
            break
        for repeat, words in split_repl_line(line):
            cmd, rest = words[0].lower(), words[1:]
            for _ in range(repeat):
                try:
                    if cmd == "connect":
                        delay = float(rest[0]) if rest else None
                        await session.connect(delay)
                    elif cmd == "send_event":
                        await session.send_event(int(rest[0], 0) if rest else None)
                    elif cmd == "commit":
                        if not rest:
                            raise ClientError(EXIT_USAGE, "usage: commit <id>")
                        await session.commit(int(rest[0], 0))
                    elif cmd == "read_action":
                        await session.read_action()
                    elif cmd == "close":
                        await session.close()
                    elif cmd == "sleep":
                        await asyncio.sleep(float(rest[0]) if rest else 1.0)
                    elif cmd == "reset":
                        await session.reset()
                    elif cmd == "help":
                        say(REPL_HELP)
                    elif cmd in ("exit", "quit"):
                        leaving = True
                        break
                    else:
                        raise ClientError(EXIT_USAGE, f"unknown command {cmd!r} (try help)")
                except ClientError as exc:
                    say(f"error: {exc}")
                    if status == EXIT_OK:
                        status = exc.exit_code
                    if session.conn is not None and session.conn.gone:
                        session.drop()
                except ValueError as exc:
                    say(f"error: {exc}")
                    if status == EXIT_OK:
                        status = EXIT_USAGE
            if leaving:
                break
    if session.connected:
        try:
            await session.close()
        except ClientError as exc:
            if status == EXIT_OK:
                status = exc.exit_code
    elif session.conn is not None and session.conn.gone:
        err = session._gone_error()
        if err.exit_code != EXIT_USAGE and status == EXIT_OK:
            status = err.exit_code
        session.drop()
    if interactive and session.args.history:
        try:
            import readline

            readline.write_history_file(os.path.expanduser(session.args.history))
        except (ImportError, OSError):
            pass
    return status


async def client_main(args) -> int:
    session = ClientSession(args)
    if args.repl:
        return await run_repl(session)
    plan_text = args.plan if args.plan is not None else default_plan(args)
    try:
        steps = parse_plan(plan_text)
    except ValueError as exc:
        print(f"error: bad plan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return await run_plan(session, steps)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="proton.py", description="Proton QUIC control protocol")
    sub = p.add_subparsers(dest="role", required=True)

    def common(sp, role):
        sp.add_argument("--profile", choices=PROFILES, default="as_coded",
                        help="as_coded (original code) or project (P1-P5); default as_coded")
        sp.add_argument("--idle", type=float, default=5.0, help="QUIC idle timeout, s (5)")
        sp.add_argument("--keep-alive", type=parse_secs_or_none, default=5.0,
                        help="keep-alive PING interval, s, or 'none' (5)")
        sp.add_argument("--op-timeout", type=parse_secs_or_none, default=300.0,
                        help="each stream read/write, s, or 'none' (300)")
        sp.add_argument("--action-mode", choices=("pull", "push"), default="pull",
                        help="Action mode: pull (as coded) or push (design; project profile only)")
        sp.add_argument("--keylog", default=os.environ.get("SSLKEYLOGFILE") or None,
                        help="append TLS secrets (SSLKEYLOGFILE format) to this file "
                             "(default: $SSLKEYLOGFILE if set)")
        names = sorted(n for n, (r, _) in MUTANTS.items() if r == role)
        sp.add_argument("--mutant", choices=names, default=None, metavar="NAME",
                        help="run a deliberately wrong variant: " + ", ".join(names))
        sp.add_argument("-q", "--quiet", action="store_true", help="no log lines on stderr")

    s = sub.add_parser("server", help="run the server")
    s.add_argument("--listen", default="127.0.0.1:5000", help="HOST:PORT (127.0.0.1:5000)")
    s.add_argument("--cert", help="PEM certificate (default: fresh self-signed 'localhost')")
    s.add_argument("--key", help="PEM private key for --cert")
    s.add_argument("--accept-timeout", type=float, default=5.0,
                   help="each stream must be opened within this, s (5); else code 3")
    s.add_argument("--startup-delay", type=float, default=10.0,
                   help="sleep before accepting / printing readiness, s (10)")
    s.add_argument("--disc-timeout", default=None,
                   help="discriminator deadline from stream open, s or 'none' "
                        "(project: 1 (P3); as_coded: none = the operation timeout)")
    s.add_argument("--max-streams", type=int, default=None,
                   help="initial_max_streams_bidi (as_coded 3, project 4 (P4))")
    s.add_argument("--push-interval", type=float, default=1.0,
                   help="push mode: seconds between pushed Action items (1)")
    s.add_argument("--commit-delay", type=float, default=0.0,
                   help="simulated StateCommit processing time, s (0)")
    common(s, "server")

    c = sub.add_parser("client", help="run the client")
    c.add_argument("--connect", default="127.0.0.1:5000", help="server HOST:PORT (127.0.0.1:5000)")
    c.add_argument("--server-name", default="localhost", help="TLS SNI (localhost); no verification")
    c.add_argument("--connect-delay", type=float, default=0.0,
                   help="sleep before the first connection, s (0; the original used 10)")
    c.add_argument("--connect-attempts", type=int, default=5, help="connection attempts (5)")
    c.add_argument("--retry-interval", type=float, default=2.0, help="between attempts, s (2)")
    c.add_argument("--plan", default=None,
                   help="steps, comma separated: event[:ID] commit[:VALUE] action[:VALUE] "
                        "sleep:SECS reset close connect, each with optional *N")
    c.add_argument("--events", type=int, default=3, help="without --plan: Events (3)")
    c.add_argument("--commits", type=int, default=3, help="without --plan: StateCommits (3)")
    c.add_argument("--actions", type=int, default=3, help="without --plan: Actions (3)")
    c.add_argument("--order", default="eca", help="without --plan: order of e/c/a blocks (eca)")
    c.add_argument("--event-start", type=int, default=1, help="first Event id (1)")
    c.add_argument("--commit-start", type=int, default=10,
                   help="first StateCommit request when no value is given (10)")
    c.add_argument("--action-value", type=int, default=ACTION_PULL_VALUE,
                   help="u32 written to pull an Action (42)")
    c.add_argument("--stream-order", default="123",
                   help="which streams to open, in order: 1 Event 2 StateCommit 3 Action (123)")
    c.add_argument("--reset-mode", choices=("close", "stream"), default=None,
                   help="reset: close+wait (as_coded default) or 0xFF stream (project default)")
    c.add_argument("--reset-wait", type=float, default=None,
                   help="reset: wait after close / for the server's close, s (2 x idle)")
    c.add_argument("--repl", action="store_true", help="read REPL commands from stdin")
    c.add_argument("--history", default=None,
                   help="REPL history file when interactive (the original used ~/.proton_history)")
    common(c, "client")

    sub.add_parser("mutants", help="list mutants")
    return p


def main(argv=None) -> int:
    global _QUIET
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.role == "mutants":
        for name, (role, text) in MUTANTS.items():
            print(f"{name:24} {role:6} {text}")
        return 0
    _QUIET = args.quiet
    quic_logger = logging.getLogger("quic")
    quic_logger.propagate = False
    quic_logger.addHandler(logging.NullHandler())
    if args.action_mode == "push" and args.profile != "project":
        parser.error("--action-mode push is only allowed with --profile project (P2)")
    if args.role == "client":
        if any(ch not in "123" for ch in args.stream_order):
            parser.error("--stream-order may only contain 1, 2 and 3")
        runner = client_main
    else:
        if args.key and not args.cert:
            parser.error("--key needs --cert")
        runner = server_main
    try:
        return asyncio.run(runner(args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL if args.role == "server" else EXIT_CONNECT


if __name__ == "__main__":
    sys.exit(main())
