#!/usr/bin/env python3
"""Independent implementation of Dark Tower signaling + media ("stranger").

Roles: controller (Meeting Controller), handler (Media Handler), client.
Transports: WebTransport over HTTP/3 (default) or bare QUIC (ALPN "darktower").
Written from 002_36b09c9622eb105d.txt and nbuckles13/dark_tower; see README.md.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import struct
import sys
import time
import uuid
from typing import Dict, List, Optional, Tuple

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import FrameType, H3Connection
from aioquic.h3.events import (DataReceived, DatagramReceived, HeadersReceived,
                               WebTransportStreamDataReceived)
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (ConnectionTerminated, DatagramFrameReceived,
                                 ProtocolNegotiated, StopSendingReceived,
                                 StreamDataReceived, StreamReset)

EXIT_UNSUPPORTED = 89
BARE_ALPN = "darktower"
MUTANT = ""

# Media stream-level reset codes (002:380-385)
RC_OK, RC_FORMAT, RC_AUTH, RC_QUOTA, RC_INTERNAL = 0, 1, 2, 3, 4
# Signaling ErrorCode enum (proto/signaling.proto @ef4e7f7 lines 144-154)
E_UNKNOWN, E_INVALID, E_UNAUTH, E_FORBIDDEN, E_NOTFOUND, E_CONFLICT, E_INTERNAL, E_CAPACITY, E_STREAM = range(9)

STREAM_MAGIC = 0x44415254  # "DART" (002:285)


def log(*a):
    print("[darktower]", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- protobuf
def pb_varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_key(field: int, wt: int) -> bytes:
    return pb_varint((field << 3) | wt)


def pb_str(field: int, v) -> bytes:
    if isinstance(v, str):
        v = v.encode()
    if not v:
        return b""
    return pb_key(field, 2) + pb_varint(len(v)) + v


def pb_msg(field: int, v: bytes) -> bytes:
    # embedded messages are emitted even when empty (presence matters)
    return pb_key(field, 2) + pb_varint(len(v)) + v


def pb_uint(field: int, v: int) -> bytes:
    if not v:
        return b""
    return pb_key(field, 0) + pb_varint(v)


def pb_bool(field: int, v: bool) -> bytes:
    return pb_uint(field, 1 if v else 0)


class PBError(Exception):
    pass


def pb_parse(data: bytes) -> Dict[int, List[Tuple[int, object]]]:
    """Parse one message level: {field: [(wiretype, value), ...]}."""
    out: Dict[int, List[Tuple[int, object]]] = {}
    i, n = 0, len(data)

    def varint():
        nonlocal i
        shift = res = 0
        while True:
            if i >= n or shift > 63:
                raise PBError("bad varint")
            b = data[i]
            i += 1
            res |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return res

    while i < n:
        k = varint()
        field, wt = k >> 3, k & 7
        if field == 0:
            raise PBError("field 0")
        if wt == 0:
            v = varint()
        elif wt == 1:
            if i + 8 > n:
                raise PBError("short fixed64")
            v = data[i:i + 8]
            i += 8
        elif wt == 2:
            ln = varint()
            if i + ln > n:
                raise PBError("short bytes")
            v = data[i:i + ln]
            i += ln
        elif wt == 5:
            if i + 4 > n:
                raise PBError("short fixed32")
            v = data[i:i + 4]
            i += 4
        else:
            raise PBError("bad wiretype %d" % wt)
        out.setdefault(field, []).append((wt, v))
    return out


def pb_get(m, field, wt=2, default=None):
    vals = [v for (w, v) in m.get(field, []) if w == wt]
    return vals[-1] if vals else default


def pb_getstr(m, field) -> str:
    v = pb_get(m, field, 2, b"")
    try:
        return v.decode()
    except UnicodeDecodeError:
        raise PBError("bad utf8")


def pb_all(m, field, wt=2):
    return [v for (w, v) in m.get(field, []) if w == wt]


def frame_lp(payload: bytes) -> bytes:
    """4-byte big-endian length prefix (002:180-188)."""
    if MUTANT == "ctl-no-length-prefix":
        return payload
    if MUTANT == "ctl-little-endian-length":
        return struct.pack("<I", len(payload)) + payload
    return struct.pack(">I", len(payload)) + payload


class LPReader:
    def __init__(self, limit=1 << 20):
        self.buf = b""
        self.limit = limit

    def feed(self, data: bytes) -> List[bytes]:
        self.buf += data
        msgs = []
        while len(self.buf) >= 4:
            ln = struct.unpack(">I", self.buf[:4])[0]
            if ln > self.limit:
                raise PBError("message too large")
            if len(self.buf) < 4 + ln:
                break
            msgs.append(self.buf[4:4 + ln])
            self.buf = self.buf[4 + ln:]
        return msgs


# ---------------------------------------------------------------- JWT
def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_mint(secret: str, claims: dict) -> str:
    h = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64u(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), (h + "." + p).encode(), hashlib.sha256).digest()
    return h + "." + p + "." + b64u(sig)


def jwt_verify(secret: str, token: str, check_sig=True, check_exp=True) -> Optional[dict]:
    """Returns claims or None. HS256 only (002:536)."""
    try:
        h, p, s = token.split(".")
        hdr = json.loads(b64u_dec(h))
        claims = json.loads(b64u_dec(p))
        sig = b64u_dec(s)
    except Exception:
        return None
    if not isinstance(hdr, dict) or not isinstance(claims, dict):
        return None
    if check_sig:
        if hdr.get("alg") != "HS256":
            return None
        want = hmac.new(secret.encode(), (h + "." + p).encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(want, sig):
            return None
    if check_exp:
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= time.time():
            return None
    return claims


# ---------------------------------------------------------------- media format
HDR_FMT = ">IBB16s4s6x"  # 32-byte stream header (002:281-296)
assert struct.calcsize(HDR_FMT) == 32
FRAME_FMT = {
    # flow document / API_CONTRACTS @ef4e7f7: 16-byte stream id, 46 bytes
    "flow": ">BB16sQQIH6x",
    # later code crates/media-protocol/src/codec.rs: user_id u64 + stream_id u32, 42 bytes
    "code": ">BBQIQQIH6x",
}
assert struct.calcsize(FRAME_FMT["flow"]) == 46 and struct.calcsize(FRAME_FMT["code"]) == 42


def stream_header(stype: int, sid: bytes, codec: bytes) -> bytes:
    magic = STREAM_MAGIC
    ver = 1
    if MUTANT == "hdl-forward-bad-magic":
        magic = 0x44415255
    if MUTANT == "cli-header-version-2":
        ver = 2
    return struct.pack(HDR_FMT, magic, ver, stype, sid, codec)


def parse_stream_header(b: bytes):
    magic, ver, stype, sid, codec = struct.unpack(HDR_FMT, b[:32])
    return magic, ver, stype, sid, codec


def encode_frame(fmt: str, ftype: int, sid16: bytes, user_id: int, ts: int, seq: int, payload: bytes, flags=1) -> bytes:
    plen = len(payload)
    if MUTANT == "cli-wrong-payload-length":
        plen += 1
    if fmt == "flow":
        h = struct.pack(FRAME_FMT["flow"], 1, ftype, sid16, ts, seq, plen, flags)
    else:
        h = struct.pack(FRAME_FMT["code"], 1, ftype, user_id, struct.unpack(">I", sid16[:4])[0], ts, seq, plen, flags)
    return h + payload


# ---------------------------------------------------------------- transport glue
def wt_code_to_h3(n: int) -> int:
    return 0x52E4A40FA8DB + n + n // 0x1E


def h3_code_to_wt(c: int) -> int:
    first = 0x52E4A40FA8DB
    if first <= c <= 0x657AB2D6A2E3:
        x = c - first
        return x - x // 0x1F
    return c


class Conn(QuicConnectionProtocol):
    """One QUIC connection, carrying either one WebTransport session or bare QUIC."""

    def __init__(self, *args, app=None, transport_mode="wt", **kw):
        super().__init__(*args, **kw)
        self.app = app
        self.mode = transport_mode
        self.h3: Optional[H3Connection] = None
        self.session_id: Optional[int] = None
        self.session_ready = asyncio.get_event_loop().create_future()
        self.closed = asyncio.get_event_loop().create_future()
        self.path = None
        self.state = {}
        self.close_info = None
        self._ka_task = None

    # -- setup
    def start_keepalive(self, interval: float):
        if interval and interval > 0:
            async def ka():
                n = 0
                while not self.closed.done():
                    await asyncio.sleep(interval)
                    n += 1
                    try:
                        self._quic.send_ping(n)
                        self.transmit()
                    except Exception:
                        return
            self._ka_task = asyncio.ensure_future(ka())

    def _ensure_h3(self):
        if self.mode == "wt" and self.h3 is None:
            self.h3 = H3Connection(self._quic, enable_webtransport=True)

    async def open_wt_session(self, authority: str, path: str):
        """Client side: extended CONNECT (:protocol webtransport)."""
        if self.mode != "wt":
            self.session_ready.set_result(True)
            return
        self._ensure_h3()
        sid = self._quic.get_next_available_stream_id()
        self.session_id = sid
        self.h3.send_headers(sid, [
            (b":method", b"CONNECT"), (b":scheme", b"https"),
            (b":authority", authority.encode()), (b":path", path.encode()),
            (b":protocol", b"webtransport"),
            (b"sec-webtransport-http3-draft02", b"1"),
        ], end_stream=False)
        self.transmit()
        await asyncio.wait_for(self.session_ready, 5)

    # -- actions
    def open_uni(self) -> int:
        if self.mode == "wt":
            sid = self.h3.create_webtransport_stream(self.session_id, is_unidirectional=True)
        else:
            sid = self._quic.get_next_available_stream_id(is_unidirectional=True)
        return sid

    def open_bidi(self) -> int:
        if self.mode == "wt":
            sid = self.h3.create_webtransport_stream(self.session_id, is_unidirectional=False)
            # aioquic does not mark locally opened WT bidi streams; do it so the
            # peer's replies on this stream surface as WebTransport data.
            st = self.h3._get_or_create_stream(sid)
            st.frame_type = FrameType.WEBTRANSPORT_STREAM
            st.session_id = self.session_id
        else:
            sid = self._quic.get_next_available_stream_id(is_unidirectional=False)
        return sid

    def send(self, sid: int, data: bytes, fin=False):
        try:
            self._quic.send_stream_data(sid, data, end_stream=fin)
        except Exception as e:
            log("send failed", sid, e)
        self.transmit()

    def send_datagram(self, data: bytes):
        if self.mode == "wt":
            self.h3.send_datagram(self.session_id, data)
        else:
            self._quic.send_datagram_frame(data)
        self.transmit()

    def _code(self, c):
        return wt_code_to_h3(c) if self.mode == "wt" else c

    def reset(self, sid: int, code: int):
        try:
            self._quic.reset_stream(sid, self._code(code))
        except Exception as e:
            log("reset failed", sid, e)
        self.transmit()

    def stop(self, sid: int, code: int):
        try:
            self._quic.stop_stream(sid, self._code(code))
        except Exception as e:
            log("stop failed", sid, e)
        self.transmit()

    def close_session(self, code: int = 0, reason: str = ""):
        """WT: CLOSE_WEBTRANSPORT_SESSION capsule + FIN, then QUIC close.
        Bare QUIC: CONNECTION_CLOSE with the application code."""
        if self.closed.done():
            return
        if self.mode == "wt" and self.session_id is not None:
            body = struct.pack(">I", code) + reason.encode()[:1024]
            capsule = encode_uint_var(0x2843) + encode_uint_var(len(body)) + body
            try:
                self.h3.send_data(self.session_id, capsule, end_stream=True)
            except Exception:
                pass
            self.transmit()
            loop = asyncio.get_event_loop()
            loop.call_later(0.15, self._quic_close, 0x100, reason)
        else:
            self._quic_close(code, reason)

    def _quic_close(self, code, reason):
        try:
            self._quic.close(error_code=code, reason_phrase=reason)
            self.transmit()
        except Exception:
            pass

    # -- events
    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated):
            self._ensure_h3()
        if isinstance(event, StreamReset):
            self.app.on_reset(self, event.stream_id, self._uncode(event.error_code))
        elif isinstance(event, StopSendingReceived):
            self.app.on_stop(self, event.stream_id, self._uncode(event.error_code))
        elif isinstance(event, ConnectionTerminated):
            self.close_info = (event.error_code, event.reason_phrase)
            self._mark_closed()
            return
        if self.mode == "wt":
            if self.h3 is None:
                return
            for ev in self.h3.handle_event(event):
                self._h3_event(ev)
        else:
            if isinstance(event, StreamDataReceived):
                self.app.on_stream_data(self, event.stream_id, event.data, event.end_stream)
            elif isinstance(event, DatagramFrameReceived):
                self.app.on_datagram(self, event.data)

    def _uncode(self, c):
        return h3_code_to_wt(c) if self.mode == "wt" else c

    def _mark_closed(self):
        if not self.closed.done():
            self.closed.set_result(True)
            if self._ka_task:
                self._ka_task.cancel()
            try:
                self.app.on_closed(self)
            except Exception as e:
                log("on_closed error", e)
        if not self.session_ready.done():
            self.session_ready.set_exception(ConnectionError("closed"))

    def _h3_event(self, ev):
        if isinstance(ev, HeadersReceived):
            hdrs = dict(ev.headers)
            if not self._quic.configuration.is_client:
                if hdrs.get(b":method") == b"CONNECT" and hdrs.get(b":protocol") == b"webtransport" \
                        and self.session_id is None:
                    self.session_id = ev.stream_id
                    self.path = hdrs.get(b":path", b"/").decode(errors="replace")
                    self.h3.send_headers(ev.stream_id, [(b":status", b"200"),
                                                        (b"sec-webtransport-http3-draft", b"draft02")])
                    self.transmit()
                    if not self.session_ready.done():
                        self.session_ready.set_result(True)
                    self.app.on_session(self)
                else:
                    self.h3.send_headers(ev.stream_id, [(b":status", b"404")], end_stream=True)
                    self.transmit()
            else:
                if ev.stream_id == self.session_id and not self.session_ready.done():
                    st = hdrs.get(b":status", b"")
                    if st.startswith(b"2"):
                        self.session_ready.set_result(True)
                    else:
                        self.session_ready.set_exception(ConnectionError("CONNECT status %r" % st))
        elif isinstance(ev, WebTransportStreamDataReceived):
            self.app.on_stream_data(self, ev.stream_id, ev.data, ev.stream_ended)
        elif isinstance(ev, DatagramReceived):
            self.app.on_datagram(self, ev.data)
        elif isinstance(ev, DataReceived):
            if ev.stream_id == self.session_id and ev.stream_ended:
                # peer ended the session (capsule or FIN)
                self.app.on_session_ended(self)


def is_peer_initiated(conn: Conn, sid: int) -> bool:
    client_init = (sid & 1) == 0
    return client_init != conn._quic.configuration.is_client


def is_uni(sid: int) -> bool:
    return bool(sid & 2)


class BaseApp:
    def on_session(self, conn): pass
    def on_stream_data(self, conn, sid, data, fin): pass
    def on_datagram(self, conn, data): pass
    def on_reset(self, conn, sid, code): pass
    def on_stop(self, conn, sid, code): pass
    def on_closed(self, conn): pass
    def on_session_ended(self, conn):
        conn.close_session(0, "")


def make_config(args, is_client: bool) -> QuicConfiguration:
    alpn = ["h3"] if args.transport == "wt" else [BARE_ALPN]
    cfg = QuicConfiguration(is_client=is_client, alpn_protocols=alpn,
                            max_datagram_frame_size=65536,
                            idle_timeout=args.idle_timeout)
    if args.keylog:
        cfg.secrets_log_file = open(args.keylog, "a", buffering=1)
    if not is_client:
        cfg.load_cert_chain(args.cert, args.key)
    else:
        import ssl
        cfg.verify_mode = ssl.CERT_NONE  # pinning done by hash after handshake
    return cfg


def parse_hostport(s: str) -> Tuple[str, int]:
    h, _, p = s.rpartition(":")
    h = h.strip("[]") or "127.0.0.1"
    return h, int(p)


def loopback_only(host: str) -> str:
    if host in ("127.0.0.1", "localhost", "::1"):
        return "127.0.0.1" if host == "localhost" else host
    raise SystemExit("refusing non-loopback address %r" % host)


async def run_server(args, app):
    host, port = parse_hostport(args.listen)
    loopback_only(host)
    cfg = make_config(args, False)

    def factory(*a, **kw):
        c = Conn(*a, app=app, transport_mode=args.transport, **kw)
        c.start_keepalive(args.keepalive)
        if args.transport != "wt":
            asyncio.get_event_loop().call_soon(lambda: (c.session_ready.done() or c.session_ready.set_result(True)))
            asyncio.get_event_loop().call_soon(app.on_session, c)
        return c

    server = await serve(host, port, configuration=cfg, create_protocol=factory)
    sock = server._transport.get_extra_info("sockname")
    print("listening on %s:%d" % (sock[0], sock[1]), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_event_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    try:
        server.close()
    except Exception:
        pass
    await asyncio.sleep(0.05)


# ---------------------------------------------------------------- controller
def enc_media_stream(stream_id: str, stype: int, codec: str) -> bytes:
    meta = pb_str(1, codec)
    return pb_str(1, stream_id) + pb_uint(2, stype) + pb_msg(3, meta)


class Participant:
    def __init__(self, pid, name, meeting, conn, sid):
        self.pid, self.name, self.meeting, self.conn, self.sid = pid, name, meeting, conn, sid
        self.streams: List[bytes] = []  # encoded MediaStream
        self.joined_at = int(time.time() * 1000)
        self.wrapped = True

    def encode(self) -> bytes:
        b = pb_str(1, self.pid) + pb_str(2, self.name)
        for s in self.streams:
            b += pb_msg(3, s)
        return b + pb_uint(4, self.joined_at)


class Controller(BaseApp):
    def __init__(self, args):
        self.args = args
        self.meetings = set(x for x in args.meetings.split(",") if x)
        self.ended = set(x for x in args.ended.split(",") if x)
        self.capacity = args.capacity
        self.rooms: Dict[str, Dict[str, Participant]] = {}

    def on_session(self, conn):
        if "reader" in conn.state:
            return
        conn.state.update(reader={}, part=None, sig_sid=None, wrapped=None)

    def on_stream_data(self, conn, sid, data, fin):
        st = conn.state
        if "reader" not in st:
            self.on_session(conn)
        if is_uni(sid) or not is_peer_initiated(conn, sid):
            return
        if st["sig_sid"] is None:
            st["sig_sid"] = sid
        rd = st["reader"].setdefault(sid, LPReader())
        try:
            msgs = rd.feed(data)
        except PBError:
            self.send_error(conn, sid, E_INVALID, "Malformed frame", wrapped=bool(st["wrapped"]))
            conn.send(sid, b"", fin=True)
            return
        for m in msgs:
            self.handle_msg(conn, sid, m)
        if fin:
            if st["part"] is not None and sid == st["part"].sid:
                self.leave(conn, reason=0)  # VOLUNTARY
            try:
                conn.send(sid, b"", fin=True)
            except Exception:
                pass

    def send_server(self, conn, sid, field: int, body: bytes):
        conn.send(sid, frame_lp(pb_msg(field, body)))

    def send_error(self, conn, sid, code, message, wrapped=True):
        body = pb_uint(1, code) + pb_str(2, message)
        if wrapped:
            self.send_server(conn, sid, 6, body)
        else:
            conn.send(sid, frame_lp(body))

    @staticmethod
    def classify(m: bytes):
        """Return (kind, body, wrapped). A ClientMessage carries exactly one oneof
        field (1..5, plus optional trace fields >= 20); a bare JoinRequest (flow
        doc 002:89-107) carries meeting_id/join_token/... at the top level."""
        top = pb_parse(m)
        core = [f for f in top if f < 20]
        if len(core) >= 2:
            return "join", m, False
        if core == [1]:
            v = pb_get(top, 1)
            if v is None:
                raise PBError("bad field 1")
            try:
                inner = pb_parse(v)
                if 2 in inner and all(w == 2 for (w, _) in inner[2]):
                    return "join", v, True
            except PBError:
                pass
            return "join", m, False
        kinds = {2: "publish", 3: "subscribe", 4: "unsubscribe", 5: "quality"}
        if len(core) == 1 and core[0] in kinds:
            v = pb_get(top, core[0])
            if v is None:
                raise PBError("bad oneof")
            return kinds[core[0]], v, True
        return "unknown", b"", True

    def handle_msg(self, conn, sid, m):
        st = conn.state
        try:
            kind, body, wrapped = self.classify(m)
        except PBError:
            self.send_error(conn, sid, E_INVALID, "Malformed message", wrapped=st["wrapped"] is not False)
            return
        if st["wrapped"] is None:
            st["wrapped"] = wrapped
        if kind == "join":
            self.handle_join(conn, sid, body, wrapped)
        elif st["part"] is None:
            self.send_error(conn, sid, E_INVALID, "JoinRequest required first")
        elif kind == "publish":
            self.handle_publish(conn, sid, body)
        elif kind in ("subscribe", "unsubscribe", "quality"):
            pass  # accepted; no acknowledgement message exists in the proto
        else:
            self.send_error(conn, sid, E_INVALID, "Unknown message")

    def handle_join(self, conn, sid, body, wrapped):
        st = conn.state
        try:
            jr = pb_parse(body)
            meeting_id = pb_getstr(jr, 1)
            token = pb_getstr(jr, 2)
            name = pb_getstr(jr, 3)
        except PBError:
            return self.send_error(conn, sid, E_INVALID, "Malformed JoinRequest", wrapped)
        if st["part"] is not None:
            return self.send_error(conn, sid, E_CONFLICT, "Already joined", wrapped)
        # 1. validate token (002:118-119)
        claims = jwt_verify(self.args.secret, token,
                            check_sig=MUTANT != "ctl-accept-bad-signature",
                            check_exp=MUTANT != "ctl-accept-expired")
        if claims is None or claims.get("meeting_id") != meeting_id:
            return self.send_error(conn, sid, E_UNAUTH, "Invalid or expired join token", wrapped)
        # 2. meeting existence / ended (002:370-373)
        if meeting_id in self.ended:
            code = E_UNAUTH if MUTANT == "ctl-ended-wrong-code" else E_NOTFOUND
            return self.send_error(conn, sid, code, "Meeting has ended", wrapped)
        if meeting_id not in self.meetings:
            return self.send_error(conn, sid, E_NOTFOUND, "Meeting not found", wrapped)
        room = self.rooms.setdefault(meeting_id, {})
        # 3. capacity (002:364-368)
        if len(room) >= self.capacity and MUTANT != "ctl-ignore-capacity":
            return self.send_error(conn, sid, E_CAPACITY, "Meeting has reached maximum participants", wrapped)
        # 4. create participant session (002:121-126); id form: "pt-" + 20 base32 chars
        pid = "pt-" + base64.b32encode(os.urandom(12)).decode().rstrip("=").lower()
        part = Participant(pid, name, meeting_id, conn, sid)
        part.wrapped = wrapped
        existing = list(room.values())
        room[pid] = part
        st["part"] = part
        # 5. media server + single-use short-lived connection token (002:218-219, 534-536)
        ttl = 3600 if MUTANT == "ctl-media-token-long-ttl" else 300
        mtok = jwt_mint(self.args.secret, {"meeting_id": meeting_id, "participant_id": pid,
                                           "exp": int(time.time()) + ttl, "jti": str(uuid.uuid4())})
        media_server = pb_str(1, self.args.media_url) + pb_str(2, mtok)
        # 6. E2E key material (002:134-135): fresh X25519 public key
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives import serialization
        pub = X25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys = pb_str(1, pub) + pb_str(2, "k-" + os.urandom(4).hex())
        resp = pb_str(1, pid)
        for p in existing:
            resp += pb_msg(2, p.encode())
        if MUTANT != "ctl-no-media-server":
            resp += pb_msg(3, media_server)
        resp += pb_msg(4, keys)
        if wrapped:
            self.send_server(conn, sid, 1, resp)
        else:
            conn.send(sid, frame_lp(resp))
        log("joined", meeting_id, pid, name)
        # 7. notify the others (002:164-165)
        for p in existing:
            self.send_server(p.conn, p.sid, 2, pb_msg(1, part.encode()))

    def handle_publish(self, conn, sid, body):
        part = conn.state["part"]
        try:
            ps = pb_parse(body)
            stream_id = pb_getstr(ps, 1)
            stype = pb_get(ps, 2, 0, 0)
            meta = pb_get(ps, 3, 2, b"")
        except PBError:
            return self.send_error(conn, sid, E_INVALID, "Malformed PublishStream")
        ms = pb_str(1, stream_id) + pb_uint(2, stype) + pb_msg(3, meta)
        part.streams.append(ms)
        ev = pb_str(1, part.pid) + pb_msg(2, ms)
        # ACK to the publisher, then announce to everybody else (002:158-168)
        self.send_server(conn, sid, 4, ev)
        for p in self.rooms.get(part.meeting, {}).values():
            if p is not part:
                self.send_server(p.conn, p.sid, 4, ev)

    def leave(self, conn, reason):
        part = conn.state.get("part")
        if part is None:
            return
        conn.state["part"] = None
        room = self.rooms.get(part.meeting, {})
        room.pop(part.pid, None)
        for p in room.values():
            self.send_server(p.conn, p.sid, 3, pb_str(1, part.pid) + pb_uint(2, reason))

    def on_session_ended(self, conn):
        self.leave(conn, 0)
        conn.close_session(0, "")

    def on_closed(self, conn):
        self.leave(conn, 2)  # CONNECTION_LOST


# ---------------------------------------------------------------- media handler
def extract_token(data: bytes) -> Optional[str]:
    """Token forms accepted: raw JWT text; 4-byte BE length-prefixed; protobuf
    field 1 string (MhConnectRequest) or field 1 message wrapping it (MhClientMessage)."""
    d = data.strip()
    if d.startswith(b"eyJ"):
        try:
            return d.decode()
        except UnicodeDecodeError:
            return None
    if len(data) >= 4 and struct.unpack(">I", data[:4])[0] == len(data) - 4:
        t = extract_token(data[4:])
        if t:
            return t
    try:
        m = pb_parse(data)
        v = pb_get(m, 1)
        if v is not None:
            if v.startswith(b"eyJ"):
                return v.decode()
            inner = pb_parse(v)
            w = pb_get(inner, 1)
            if w is not None and w.startswith(b"eyJ"):
                return w.decode()
    except (PBError, UnicodeDecodeError):
        pass
    return None


AUTH_OK = b"AUTH_OK"


class Handler(BaseApp):
    def __init__(self, args):
        self.args = args
        self.used_jti = set()
        self.conns: List[Conn] = []

    def on_session(self, conn):
        if "claims" in conn.state:
            return
        conn.state.update(claims=None, failed=False, bufs={}, media={}, pending=[])
        self.conns.append(conn)

        def deadline():
            if conn.state.get("claims") is None and not conn.closed.done():
                self.auth_failed(conn, None, "no auth message")
        asyncio.get_event_loop().call_later(self.args.auth_timeout, deadline)

    def on_closed(self, conn):
        if conn in self.conns:
            self.conns.remove(conn)
        for sid, m in list(conn.state.get("media", {}).items()):
            for (c2, s2) in m.get("fwd", []):
                if not c2.closed.done():
                    c2.reset(s2, RC_OK)

    def on_session_ended(self, conn):
        conn.close_session(0, "")

    # -- authentication (002:231-240)
    def try_auth(self, conn, raw: bytes, carrier, final: bool) -> bool:
        st = conn.state
        if st["claims"] is not None or st["failed"]:
            return True
        tok = extract_token(raw)
        if tok is None:
            if final:
                self.auth_failed(conn, carrier, "unparseable auth message")
            return final
        claims = jwt_verify(self.args.secret, tok, check_sig=MUTANT != "hdl-accept-bad-signature")
        if claims is None:
            # a raw token may still be arriving in pieces
            if final or tok.count(".") == 2 and len(raw) >= 4 and struct.unpack(">I", raw[:4])[0] == len(raw) - 4:
                self.auth_failed(conn, carrier, "invalid or expired token")
                return True
            return False
        jti = claims.get("jti")
        if not isinstance(claims.get("meeting_id"), str) or not isinstance(claims.get("participant_id"), str) \
                or not isinstance(jti, str):
            self.auth_failed(conn, carrier, "missing claims")
            return True
        if jti in self.used_jti and MUTANT != "hdl-token-reuse":
            self.auth_failed(conn, carrier, "token already used")  # single-use (002:535)
            return True
        self.used_jti.add(jti)
        st["claims"] = claims
        log("media auth ok", claims["meeting_id"], claims["participant_id"])
        kind, sid = carrier
        if kind == "datagram":
            conn.send_datagram(AUTH_OK)
        elif kind == "bidi":
            conn.send(sid, frame_lp(AUTH_OK), fin=True)
        else:
            s = conn.open_uni()
            conn.send(s, frame_lp(AUTH_OK), fin=True)
        for (psid, pdata, pfin) in st["pending"]:
            self.media_data(conn, psid, pdata, pfin)
        st["pending"] = []
        return True

    def auth_failed(self, conn, carrier, why):
        st = conn.state
        if st.get("failed"):
            return
        st["failed"] = True
        code = RC_FORMAT if MUTANT == "hdl-auth-wrong-reset-code" else RC_AUTH
        log("media auth failed:", why)
        if carrier is not None:
            kind, sid = carrier
            if kind == "bidi":
                conn.reset(sid, code)
                conn.stop(sid, code)
            elif kind == "uni":
                conn.stop(sid, code)
        for (psid, _, _) in st["pending"]:
            conn.stop(psid, code)
        st["pending"] = []
        asyncio.get_event_loop().call_later(0.1, conn.close_session, code, "Authentication failed")

    def on_datagram(self, conn, data):
        if "claims" not in conn.state:
            self.on_session(conn)
        if conn.state["claims"] is None:
            self.try_auth(conn, data, ("datagram", None), True)

    def on_stream_data(self, conn, sid, data, fin):
        st = conn.state
        if "claims" not in st:
            self.on_session(conn)
        if not is_peer_initiated(conn, sid):
            return
        if sid in st["media"]:
            return self.media_data(conn, sid, data, fin)
        buf = st["bufs"].get(sid, b"") + data
        st["bufs"][sid] = buf
        if len(buf) < 4 and not fin:
            return
        if buf[:4] == struct.pack(">I", STREAM_MAGIC):
            del st["bufs"][sid]
            st["media"][sid] = {"buf": b"", "hdr": None, "fwd": [], "dead": False, "frames": 0}
            if st["claims"] is None:
                st["pending"].append((sid, buf, fin))
                return
            return self.media_data(conn, sid, buf, fin)
        if st["claims"] is None and not st["failed"]:
            kind = "uni" if is_uni(sid) else "bidi"
            if self.try_auth(conn, buf, (kind, sid), fin):
                st["bufs"].pop(sid, None)
            return
        # a non-media stream after auth: invalid stream format (002:382)
        st["bufs"].pop(sid, None)
        if st["claims"] is not None:
            conn.stop(sid, RC_FORMAT)
            if not is_uni(sid):
                conn.reset(sid, RC_FORMAT)

    def media_data(self, conn, sid, data, fin):
        st = conn.state
        m = st["media"].get(sid)
        if m is None or m["dead"]:
            return
        if st["claims"] is None:
            st["pending"].append((sid, data, fin))
            return
        m["buf"] += data
        fmt = FRAME_FMT[self.args.frame_format]
        fsize = struct.calcsize(fmt)
        if m["hdr"] is None:
            if len(m["buf"]) < 32:
                if fin:
                    self.bad_stream(conn, sid, m)
                return
            magic, ver, stype, ssid, codec = parse_stream_header(m["buf"])
            if magic != STREAM_MAGIC or ver != 1 or stype not in (0, 1):
                return self.bad_stream(conn, sid, m)
            m["hdr"] = m["buf"][:32]
            m["buf"] = m["buf"][32:]
            if MUTANT != "hdl-no-forward":
                mid = st["claims"]["meeting_id"]
                hdr = stream_header(stype, ssid, codec)
                for c2 in self.conns:
                    if c2 is conn or c2.closed.done() or c2.state.get("claims") is None:
                        continue
                    if c2.state["claims"]["meeting_id"] != mid:
                        continue
                    s2 = c2.open_bidi() if MUTANT == "hdl-bidi-forward" else c2.open_uni()
                    c2.send(s2, hdr)
                    m["fwd"].append((c2, s2))
        while len(m["buf"]) >= fsize:
            fields = struct.unpack(fmt, m["buf"][:fsize])
            ver, ftype, plen = fields[0], fields[1], fields[-2]
            if ver != 1 or ftype not in (0, 1, 2) or plen > (16 << 20):
                return self.bad_stream(conn, sid, m)
            if len(m["buf"]) < fsize + plen:
                break
            frame = m["buf"][:fsize + plen]
            m["buf"] = m["buf"][fsize + plen:]
            m["frames"] += 1
            for (c2, s2) in m["fwd"]:
                if not c2.closed.done():
                    c2.send(s2, frame)
        if fin:
            if m["buf"]:
                return self.bad_stream(conn, sid, m)
            log("media stream done", sid, "frames", m["frames"])
            for (c2, s2) in m["fwd"]:
                if not c2.closed.done():
                    c2.send(s2, b"", fin=True)

    def bad_stream(self, conn, sid, m):
        m["dead"] = True
        conn.stop(sid, RC_FORMAT)
        for (c2, s2) in m["fwd"]:
            if not c2.closed.done():
                c2.reset(s2, RC_FORMAT)

    def on_reset(self, conn, sid, code):
        m = conn.state.get("media", {}).get(sid)
        if m:
            m["dead"] = True
            for (c2, s2) in m["fwd"]:
                if not c2.closed.done():
                    c2.reset(s2, code)


# ---------------------------------------------------------------- client
class ClientApp(BaseApp):
    def __init__(self):
        self.q: Dict[Conn, asyncio.Queue] = {}
        self.events: Dict[Conn, List] = {}

    def _ev(self, conn, item):
        self.q.setdefault(conn, asyncio.Queue()).put_nowait(item)

    def on_stream_data(self, conn, sid, data, fin):
        self._ev(conn, ("data", sid, data, fin))

    def on_datagram(self, conn, data):
        self._ev(conn, ("datagram", None, data, False))

    def on_reset(self, conn, sid, code):
        self._ev(conn, ("reset", sid, code, False))

    def on_stop(self, conn, sid, code):
        self._ev(conn, ("stop", sid, code, False))

    def on_closed(self, conn):
        self._ev(conn, ("closed", None, conn.close_info, False))

    def on_session_ended(self, conn):
        self._ev(conn, ("closed", None, "session ended", False))


def decode_server_msg(m: bytes):
    """Returns (kind, body). Accepts ServerMessage and bare JoinResponse/ErrorMessage."""
    top = pb_parse(m)
    if any(w == 0 for (w, _) in top.get(1, [])):
        return "error", m  # bare ErrorMessage: code is a varint
    if 3 in top or 4 in top and 1 in top:
        return "join_response", m  # bare JoinResponse
    kinds = {1: "join_response", 2: "participant_joined", 3: "participant_left",
             4: "stream_published", 5: "quality", 6: "error"}
    for f, k in kinds.items():
        v = pb_get(top, f)
        if v is not None:
            return k, v
    return "unknown", m


async def pinned_connect(args, host, port, app, stack):
    cfg = make_config(args, True)
    cfg.server_name = "localhost"
    cm = connect(host, port, configuration=cfg,
                 create_protocol=lambda *a, **kw: Conn(*a, app=app, transport_mode=args.transport, **kw))
    conn = await stack.enter_async_context(cm)
    if args.pin_sha256:
        from cryptography.hazmat.primitives import serialization
        cert = conn._quic.tls._peer_certificate
        der = cert.public_bytes(serialization.Encoding.DER)
        if hashlib.sha256(der).hexdigest().lower() != args.pin_sha256.lower().replace(":", ""):
            raise ConnectionError("certificate pin mismatch")
    conn.start_keepalive(args.keepalive)
    return conn


async def next_event(app, conn, timeout):
    q = app.q.setdefault(conn, asyncio.Queue())
    return await asyncio.wait_for(q.get(), timeout)


async def run_client(args) -> int:
    import contextlib
    from urllib.parse import urlparse
    app = ClientApp()
    host, port = parse_hostport(args.connect)
    host = loopback_only(host)
    async with contextlib.AsyncExitStack() as stack:
        # ---- signaling (002:69-149)
        sig = await pinned_connect(args, host, port, app, stack)
        await sig.open_wt_session("%s:%d" % (host, port), args.path)
        ssid = sig.open_bidi()
        caps = pb_str(1, "VP9") + pb_str(1, "AV1") + pb_str(2, "Opus") + pb_bool(3, True) + pb_uint(4, 4)
        jr = pb_str(1, args.meeting_id) + pb_str(2, args.token) + pb_str(3, args.name) + pb_msg(4, caps)
        msg = pb_msg(1, jr) if args.envelope == "wrapped" else jr
        lp = msg if MUTANT == "cli-unframed-join" else struct.pack(">I", len(msg)) + msg
        sig.send(ssid, lp)
        rd = LPReader()
        join = None
        pending_msgs: List[bytes] = []
        t_end = time.time() + args.timeout
        while join is None:
            ev = await next_event(app, sig, max(0.1, t_end - time.time()))
            if ev[0] == "closed":
                log("signaling closed before JoinResponse", ev[2])
                return 3
            if ev[0] in ("reset", "stop") and ev[1] == ssid:
                log("signaling stream", ev[0], ev[2])
                return 3
            if ev[0] != "data" or ev[1] != ssid:
                continue
            for m in rd.feed(ev[2]):
                kind, body = decode_server_msg(m)
                if kind == "error":
                    e = pb_parse(body)
                    log("join refused: code", pb_get(e, 1, 0, 0), pb_getstr(e, 2))
                    return 3
                if kind == "join_response":
                    join = pb_parse(body)
                else:
                    pending_msgs.append(m)
            if ev[3] and join is None:
                return 3
        pid = pb_getstr(join, 1)
        ms = pb_get(join, 3)
        if ms is None:
            log("JoinResponse has no media_server")
            return 3
        msi = pb_parse(ms)
        mh_url, ctoken = pb_getstr(msi, 1), pb_getstr(msi, 2)
        log("joined as", pid, "media", mh_url)
        user_id = int.from_bytes(hashlib.sha256(pid.encode()).digest()[:8], "big")

        # ---- publish on signaling (002:158-162)
        stream_uuid = uuid.uuid4()
        stype = {"audio": 0, "video": 1}.get(args.publish)
        if stype is not None:
            codec = "Opus" if stype == 0 else "VP9"
            ps = pb_str(1, str(stream_uuid)) + pb_uint(2, stype) + pb_msg(3, pb_str(1, codec))
            m = pb_msg(2, ps)
            sig.send(ssid, struct.pack(">I", len(m)) + m)

        # ---- media connection (002:209-244)
        u = urlparse(mh_url if "://" in mh_url else "https://" + mh_url)
        mhost = loopback_only(u.hostname or "127.0.0.1")
        mport = u.port or 443
        med = await pinned_connect(args, mhost, mport, app, stack)
        await med.open_wt_session("%s:%d" % (mhost, mport), u.path or "/media")
        authed = False
        if MUTANT != "cli-no-auth":
            tok = ctoken.encode()
            if args.auth_format == "lp":
                tok = struct.pack(">I", len(tok)) + tok
            if args.auth_via == "datagram":
                med.send_datagram(tok)
            else:
                s = med.open_uni() if args.auth_via == "uni" else med.open_bidi()
                med.send(s, tok, fin=True)
            t_end = time.time() + args.auth_wait
            tries = 0
            while not authed:
                left = t_end - time.time()
                if left <= 0:
                    break
                try:
                    ev = await next_event(app, med, min(left, 0.3))
                except asyncio.TimeoutError:
                    tries += 1
                    if args.auth_via == "datagram" and tries < 5:
                        med.send_datagram(tok)  # datagrams are unreliable: repeat
                    continue
                if ev[0] == "closed":
                    log("media connection closed during auth", ev[2])
                    return 4
                if ev[0] in ("reset", "stop"):
                    log("media auth rejected: code", ev[2])
                    return 4
                if ev[0] in ("datagram", "data"):
                    authed = True
            if not authed:
                log("no explicit Auth Success; connection still open, proceeding")

        # ---- media plan (002:246-275)
        if stype is not None and args.frames > 0:
            if MUTANT == "cli-bidi-media":
                ms_id = med.open_bidi()
            else:
                ms_id = med.open_uni()
            codec4 = b"Opus" if stype == 0 else b"VP90"
            if MUTANT != "cli-no-stream-header":
                med.send(ms_id, stream_header(stype, stream_uuid.bytes, codec4))
            interval = 1.0 / args.fps if args.fps > 0 else 0
            for seq in range(args.frames):
                if stype == 0:
                    ft = 0
                else:
                    ft = 1 if seq % 30 == 0 else 2
                payload = os.urandom(args.payload_bytes)  # stands in for E2E ciphertext (002:540)
                fr = encode_frame(args.frame_format, ft, stream_uuid.bytes, user_id,
                                  int(time.time() * 1_000_000), seq, payload)
                med.send(ms_id, fr, fin=(seq == args.frames - 1))
                if med.closed.done():
                    log("media connection closed while sending")
                    return 5
                if interval:
                    await asyncio.sleep(interval)
            if args.frames == 0:
                med.send(ms_id, b"", fin=True)
        # ---- stay, draining incoming media / signaling events
        t_end = time.time() + args.stay
        rx = 0
        while time.time() < t_end:
            for c in (sig, med):
                q = app.q.setdefault(c, asyncio.Queue())
                while not q.empty():
                    ev = q.get_nowait()
                    if ev[0] == "data":
                        rx += len(ev[2])
                    if ev[0] in ("stop",) and c is med and ev[2] != 0:
                        log("handler stopped our media stream: code", ev[2])
                        return 5
            await asyncio.sleep(0.05)
        log("done; received media bytes", rx)
        # ---- graceful close (002:478-485): FIN signaling stream, close sessions
        sig.send(ssid, b"", fin=True)
        await asyncio.sleep(0.05)
        med.close_session(0, "bye")
        sig.close_session(0, "bye")
        await asyncio.sleep(0.25)
    return 0


# ---------------------------------------------------------------- main
def main(argv=None):
    global MUTANT
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("role", choices=["controller", "handler", "client"])
    ap.add_argument("--transport", default="wt", help="wt (WebTransport/HTTP3) or quic (bare QUIC, ALPN darktower)")
    ap.add_argument("--frame-format", default="flow", help="flow (46-byte frame header) or code (42-byte)")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--secret", default="")
    ap.add_argument("--keylog", default="", help="NSS key log file (appended)")
    ap.add_argument("--idle-timeout", type=float, default=30.0)
    ap.add_argument("--keepalive", type=float, default=15.0)
    ap.add_argument("--mutant", default="")
    # controller
    ap.add_argument("--media-url", default="https://127.0.0.1:4434/media")
    ap.add_argument("--meetings", default="")
    ap.add_argument("--ended", default="")
    ap.add_argument("--capacity", type=int, default=100)
    # handler
    ap.add_argument("--auth-timeout", type=float, default=10.0)
    # client
    ap.add_argument("--connect", default="127.0.0.1:4433")
    ap.add_argument("--path", default="/signaling")
    ap.add_argument("--meeting-id", default="")
    ap.add_argument("--token", default="")
    ap.add_argument("--name", default="stranger")
    ap.add_argument("--pin-sha256", default="")
    ap.add_argument("--insecure", action="store_true", help="skip certificate pinning")
    ap.add_argument("--publish", default="video", choices=["video", "audio", "none"])
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--payload-bytes", type=int, default=200)
    ap.add_argument("--stay", type=float, default=0.5)
    ap.add_argument("--envelope", default="bare", help="bare (flow doc JoinRequest) or wrapped (ClientMessage)")
    ap.add_argument("--auth-via", default="datagram", help="datagram, uni or bidi")
    ap.add_argument("--auth-format", default="raw", help="raw or lp")
    ap.add_argument("--auth-wait", type=float, default=3.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args(argv)
    MUTANT = args.mutant
    if MUTANT:
        known = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mutants.json")))
        if MUTANT not in known:
            log("unknown mutant", MUTANT)
            return 2
    if args.transport not in ("wt", "quic") or args.frame_format not in FRAME_FMT \
            or args.envelope not in ("bare", "wrapped") or args.auth_via not in ("datagram", "uni", "bidi") \
            or args.auth_format not in ("raw", "lp"):
        log("unsupported configuration")
        return EXIT_UNSUPPORTED
    if args.role in ("controller", "handler"):
        if not (args.cert and args.key):
            log("--cert and --key are required")
            return 2
        app = Controller(args) if args.role == "controller" else Handler(args)
        asyncio.run(run_server(args, app))
        return 0
    if args.insecure:
        args.pin_sha256 = ""
    try:
        return asyncio.run(run_client(args))
    except SystemExit:
        raise
    except Exception as e:
        log("client failed:", type(e).__name__, e)
        return 6


if __name__ == "__main__":
    sys.exit(main())
