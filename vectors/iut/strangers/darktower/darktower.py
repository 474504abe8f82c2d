#!/usr/bin/env python3
"""Dark Tower: Meeting Controller, Media Handler and Client over WebTransport
(HTTP/3) or bare QUIC, written from the project's profile document only.

Roles:  controller | handler | server (both in one process) | client
Helpers: token | gencert | mutants
See README.md for every option.
"""

import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import random
import signal
import socket
import ssl
import struct
import sys
import time
import uuid
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dtproto as pb  # noqa: E402

from aioquic.asyncio import serve  # noqa: E402
from aioquic.asyncio.protocol import QuicConnectionProtocol  # noqa: E402
from aioquic.h3.connection import H3Connection, FrameType  # noqa: E402
from aioquic.h3.events import (  # noqa: E402
    DataReceived,
    DatagramReceived,
    HeadersReceived,
    WebTransportStreamDataReceived,
)
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.quic.connection import QuicConnection  # noqa: E402
from aioquic.quic.events import (  # noqa: E402
    ConnectionTerminated,
    DatagramFrameReceived,
    HandshakeCompleted,
    ProtocolNegotiated,
    StopSendingReceived,
    StreamDataReceived,
    StreamReset,
)

# ------------------------------------------------------------ constants ---
ALPN_H3 = "h3"
ALPN_QUIC = "darktower"
PATH_SIGNALING = "/signaling"
PATH_MEDIA = "/media"
DEFAULT_SECRET = "darktower-dev-secret"

RESET_GRACEFUL = 0x00
RESET_INVALID = 0x01
RESET_AUTH = 0x02
RESET_QUOTA = 0x03
RESET_INTERNAL = 0x04
RESET_NAMES = {0: "graceful", 1: "invalid-stream-format", 2: "authentication-failed",
               3: "quota-exceeded", 4: "internal-error"}

MAGIC = b"DART"
HDR_LEN = 32
FRAME_HDR_LEN = 46
V2_HDR_LEN = 42
FRAME_STRUCT = struct.Struct(">BB16sQQIH6s")      # 46 bytes
V2_STRUCT = struct.Struct(">BBQIQQIH6s")          # 42 bytes
FOURCCS = (b"Opus", b"VP08", b"VP09", b"AV01", b"H264")
FLAG_END_OF_FRAME = 0x0001
FLAG_DISCARDABLE = 0x0002

# WebTransport over HTTP/3 application error code mapping (draft-ietf-webtrans-http3)
WT_ERR_FIRST = 0x52E4A40FA8DB
WT_ERR_LAST = 0x52E5AC983162

H3_NO_ERROR = 0x100

# --------------------------------------------------------------- mutants ---
MUTANTS = {
    # Meeting Controller
    "mc-length-le": ("controller", "signaling length prefix written little-endian",
                     "breaks Signaling: 'u32 big-endian length + protobuf bytes'"),
    "mc-pid-field5": ("controller", "JoinResponse.participant_id encoded as field 5",
                      "breaks proto: JoinResponse{1 string participant_id}"),
    "mc-joined-tag3": ("controller", "ParticipantJoined sent under ServerMessage field 3",
                       "breaks proto: ServerMessage oneof{2 participant_joined}"),
    "mc-badtoken-forbidden": ("controller", "invalid/expired join token answered with FORBIDDEN",
                              "breaks Documented errors: invalid/expired token -> UNAUTHORIZED"),
    "mc-capacity-plus-one": ("controller", "admits one participant more than the capacity",
                             "breaks Documented errors: meeting full -> CAPACITY_EXCEEDED"),
    "mc-ended-joinable": ("controller", "an ended meeting can be joined",
                          "breaks Documented errors: meeting ended -> NOT_FOUND"),
    "mc-accept-expired": ("controller", "expired join tokens are accepted",
                          "breaks DT8: an expired token -> UNAUTHORIZED"),
    "mc-lost-as-voluntary": ("controller", "idle-timeout departures reported with reason VOLUNTARY",
                             "breaks DT10: no traffic for 30 s -> ParticipantLeft(CONNECTION_LOST)"),
    "mc-zero-length-ok": ("controller", "a zero-length signaling message is skipped silently",
                          "breaks DT6: length 0 closes the signaling stream with STREAM_ERROR"),
    "mc-long-name-ok": ("controller", "participant names longer than 256 bytes are accepted",
                        "breaks DT6: participant names are at most 256 bytes"),
    # Media Handler
    "mh-magic-drat": ("handler", "forwarded stream headers carry magic 'DRAT'",
                      "breaks Media v1: magic 44 41 52 54 ('DART')"),
    "mh-frame-le": ("handler", "forwarded frames carry the sequence number little-endian",
                    "breaks DT4: big-endian everywhere (frame sequence u64)"),
    "mh-accept-bad-magic": ("handler", "a stream header with a bad magic is accepted and forwarded",
                            "breaks DT5: bad magic -> reset 0x01"),
    "mh-invalid-code-4": ("handler", "invalid stream format is signalled with code 0x04",
                          "breaks Media v1 reset codes: 0x01 invalid stream format"),
    "mh-no-id-check": ("handler", "frames whose stream id differs from the header are forwarded",
                       "breaks DT3: stream id mismatch -> reset 0x01"),
    "mh-accept-screen": ("handler", "stream header type 0x02 (VIDEO_SCREEN) is accepted",
                         "breaks DT2: stream type other than 0x00/0x01 -> reset 0x01"),
    "mh-token-reuse": ("handler", "media connection tokens may be used more than once",
                       "breaks DT8: media tokens are single-use"),
    "mh-no-auth": ("handler", "media streams are accepted without a ConnectRequest",
                   "breaks DT7: media streams before a successful ConnectResponse -> reset 0x02"),
    "mh-unmapped-codes": ("handler", "over WebTransport (mapped profile) reset codes are sent unmapped",
                          "breaks DT9: codes are mapped into the HTTP/3 WebTransport error space"),
    "mh-v2-forward-bad": ("handler", "v2 datagrams with version != 1 or frame type > 2 are forwarded",
                          "breaks DT11: version != 1 or frame type > 2 are dropped"),
    # Client
    "cl-magic-drat": ("client", "stream header magic 'DRAT'",
                      "breaks Media v1: magic 44 41 52 54 ('DART')"),
    "cl-seq-from-1": ("client", "per-stream sequence numbers start at 1",
                      "breaks DT10: sequence numbers start at 0"),
    "cl-ts-le": ("client", "frame timestamp written little-endian",
                 "breaks DT4: big-endian everywhere (frame timestamp u64)"),
    "cl-bidi-media": ("client", "media sent on client-opened bidirectional streams",
                      "breaks DT1: media travels on unidirectional streams"),
    "cl-frame-44": ("client", "frame header of 44 bytes (4 reserved bytes instead of 6)",
                    "breaks Media v1: 46-byte frame header"),
    "cl-length-le": ("client", "signaling length prefix written little-endian",
                     "breaks Signaling: 'u32 big-endian length + protobuf bytes'"),
    "cl-no-connect": ("client", "opens media streams without sending ConnectRequest",
                      "breaks DT7: first bidi stream carries ConnectRequest before media"),
    "cl-publish-first": ("client", "sends PublishStream before JoinRequest",
                         "breaks DT6: the first client message must be JoinRequest"),
    "cl-token-name-swap": ("client", "JoinRequest join_token sent as field 3 and participant_name as field 2",
                           "breaks proto: JoinRequest{2 join_token; 3 participant_name}"),
    "cl-v2-version-2": ("client", "v2 datagram frames carry version 2",
                        "breaks v2 frame: version 1"),
    "cl-eof-flag-msb": ("client", "end-of-frame flag sent as 0x8000",
                        "breaks DT4: flag bit 0 = LSB (end of frame = 0x0001)"),
}

VERBOSE = False


def log(role, msg):
    ts = time.strftime("%H:%M:%S")
    print("%s [%s] %s" % (ts, role, msg), file=sys.stderr, flush=True)


def vlog(role, msg):
    if VERBOSE:
        log(role, msg)


# ------------------------------------------------------ error code maps ---
def wt_map(code):
    return WT_ERR_FIRST + code + code // 0x1E


def wt_unmap(h):
    if not (WT_ERR_FIRST <= h <= WT_ERR_LAST) or (h - 0x21) % 0x1F == 0:
        return None
    shifted = h - WT_ERR_FIRST
    return shifted - shifted // 0x1F


# ------------------------------------------------------------------ JWT ---
class TokenError(Exception):
    pass


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64u_dec(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    if b"=" in s:
        raise TokenError("padding in base64url")
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def jwt_encode(claims, secret):
    header = {"alg": "HS256", "typ": "JWT"}
    h = b64u(json.dumps(header, separators=(",", ":")).encode())
    c = b64u(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = (h + "." + c).encode("ascii")
    sig = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return h + "." + c + "." + b64u(sig)


def jwt_decode(token, secret, check_exp=True, now=None):
    try:
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("not a JWS compact token")
        header = json.loads(b64u_dec(parts[0]))
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise TokenError("alg must be HS256")
        sig = b64u_dec(parts[2])
        expected = hmac.new(secret.encode("utf-8"), (parts[0] + "." + parts[1]).encode("ascii"),
                            hashlib.sha256).digest()
        if not hmac.compare_digest(sig, expected):
            raise TokenError("bad signature")
        claims = json.loads(b64u_dec(parts[1]))
    except TokenError:
        raise
    except Exception as e:  # malformed base64/JSON/ASCII
        raise TokenError("malformed token: %s" % e)
    if not isinstance(claims, dict):
        raise TokenError("claims are not an object")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TokenError("missing exp claim")
    if check_exp and exp <= (now if now is not None else time.time()):
        raise TokenError("token expired")
    return claims


# ---------------------------------------------------------- media codec ---
class MediaError(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.events = []


def build_stream_header(stream_type, uuid16, fourcc, magic=MAGIC, version=1):
    assert len(uuid16) == 16 and len(fourcc) == 4
    return magic + bytes([version, stream_type]) + uuid16 + fourcc + bytes(6)


def parse_stream_header(b, accept_bad_magic=False, accept_any_type=False):
    magic, version, stype = bytes(b[0:4]), b[4], b[5]
    sid, fourcc = bytes(b[6:22]), bytes(b[22:26])
    if magic != MAGIC and not accept_bad_magic:
        raise MediaError(RESET_INVALID, "bad magic %s" % magic.hex())
    if version != 1:
        raise MediaError(RESET_INVALID, "stream header version %d" % version)
    if stype not in (0, 1) and not accept_any_type:
        raise MediaError(RESET_INVALID, "unknown stream type 0x%02x" % stype)
    return {"magic": magic, "version": version, "stream_type": stype, "stream_id": sid,
            "fourcc": fourcc, "known_codec": fourcc in FOURCCS}


def build_frame(frame_type, uuid16, ts_us, seq, payload, flags=FLAG_END_OF_FRAME, version=1):
    return FRAME_STRUCT.pack(version, frame_type, uuid16, ts_us, seq, len(payload),
                             flags, bytes(6)) + payload


def build_v2(frame_type, user_id, stream_id, ts_us, seq, payload, flags=FLAG_END_OF_FRAME,
             version=1):
    return V2_STRUCT.pack(version, frame_type, user_id, stream_id, ts_us, seq, len(payload),
                          flags, bytes(6)) + payload


def parse_v2(data):
    """Returns dict or raises MediaError (code unused for datagrams)."""
    if len(data) < V2_HDR_LEN:
        raise MediaError(0, "datagram shorter than 42 bytes")
    ver, ftype, user, sid, ts, seq, plen, flags, _res = V2_STRUCT.unpack_from(data, 0)
    fr = {"version": ver, "frame_type": ftype, "user_id": user, "stream_id": sid,
          "timestamp": ts, "sequence": seq, "length": plen, "flags": flags}
    if len(data) < V2_HDR_LEN + plen:
        raise MediaError(0, "datagram shorter than 42 + payload length")
    fr["payload"] = bytes(data[V2_HDR_LEN:V2_HDR_LEN + plen])
    return fr


class V1Parser:
    """Incremental parser for one v1 media stream (header + frames)."""

    def __init__(self, accept_bad_magic=False, accept_any_type=False, check_ids=True,
                 max_payload=1 << 20):
        self.buf = bytearray()
        self.header = None
        self.accept_bad_magic = accept_bad_magic
        self.accept_any_type = accept_any_type
        self.check_ids = check_ids
        self.max_payload = max_payload
        self.finished = False

    def feed(self, data, fin):
        out = []
        try:
            self._feed(data, fin, out)
        except MediaError as e:
            e.events = out
            self.finished = True
            raise
        return out

    def _feed(self, data, fin, out):
        self.buf += data
        if self.header is None:
            if len(self.buf) < HDR_LEN:
                if fin:
                    raise MediaError(RESET_INVALID,
                                     "stream header cut short by FIN (%d bytes)" % len(self.buf))
                return
            self.header = parse_stream_header(self.buf[:HDR_LEN], self.accept_bad_magic,
                                              self.accept_any_type)
            del self.buf[:HDR_LEN]
            out.append(("header", self.header, None))
        while len(self.buf) >= FRAME_HDR_LEN:
            ver, ftype, sid, ts, seq, plen, flags, _res = FRAME_STRUCT.unpack_from(self.buf, 0)
            if ver != 1:
                raise MediaError(RESET_INVALID, "frame version %d" % ver)
            if ftype > 2:
                raise MediaError(RESET_INVALID, "frame type 0x%02x" % ftype)
            if self.check_ids and sid != self.header["stream_id"]:
                raise MediaError(RESET_INVALID, "frame stream id %s differs from header %s"
                                 % (sid.hex(), self.header["stream_id"].hex()))
            # the announced length is only trusted as far as bytes are present
            # (nothing is allocated up front); a frame that really grows past the
            # limit is refused with 0x03, one cut short by FIN with 0x01.
            if len(self.buf) < FRAME_HDR_LEN + plen:
                if plen > self.max_payload and len(self.buf) - FRAME_HDR_LEN > self.max_payload:
                    raise MediaError(RESET_QUOTA, "payload length %d above limit %d"
                                     % (plen, self.max_payload))
                break
            if plen > self.max_payload:
                raise MediaError(RESET_QUOTA, "payload length %d above limit %d"
                                 % (plen, self.max_payload))
            payload = bytes(self.buf[FRAME_HDR_LEN:FRAME_HDR_LEN + plen])
            del self.buf[:FRAME_HDR_LEN + plen]
            out.append(("frame", {"version": ver, "frame_type": ftype, "stream_id": sid,
                                  "timestamp": ts, "sequence": seq, "length": plen,
                                  "flags": flags}, payload))
        if fin:
            if self.buf:
                raise MediaError(RESET_INVALID, "frame cut short by FIN (%d bytes left)"
                                 % len(self.buf))
            self.finished = True
            out.append(("end", None, None))


class SeqTracker:
    """DT10: sequence numbers start at 0 and rise by one; gaps counted,
    repeats/decreases are violations."""

    def __init__(self):
        self.next = None
        self.first = None
        self.frames = 0
        self.gaps = 0
        self.violations = 0

    def add(self, seq):
        self.frames += 1
        if self.next is None:
            self.first = seq
            self.next = seq + 1
            return "first"
        if seq == self.next:
            self.next += 1
            return "ok"
        if seq > self.next:
            self.gaps += seq - self.next
            self.next = seq + 1
            return "gap"
        self.violations += 1
        return "violation"


# ----------------------------------------------------------------- TLS ---
def generate_cert(names=("localhost",), days=13):
    """ECDSA P-256 self-signed certificate valid < 14 days (usable with
    WebTransport serverCertificateHashes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    sans = []
    for n in list(names) + ["127.0.0.1", "::1"]:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    seen = set()
    uniq = []
    for s in sans:
        if str(s) not in seen:
            seen.add(str(s))
            uniq.append(s)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now - datetime.timedelta(minutes=5) + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(uniq), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def cert_der_sha256(cert):
    from cryptography.hazmat.primitives.serialization import Encoding
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def write_pem(cert, key, cert_path, key_path):
    from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                              PrivateFormat)
    if cert_path:
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(Encoding.PEM))
    if key_path:
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))


def open_keylog(path):
    if not path:
        return None
    return open(path, "a", buffering=1)


def parse_hostport(s, default_port=None):
    s = s.strip()
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif s.count(":") == 1:
        host, port = s.split(":")
    elif s.count(":") > 1:
        host, port = s, ""
    else:
        host, port = s, ""
    if not port:
        if default_port is None:
            raise ValueError("missing port in %r" % s)
        port = default_port
    return host or "127.0.0.1", int(port)


def fmt_hostport(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


# ------------------------------------------------------------ transport ---
class DTH3(H3Connection):
    """aioquic H3 with a few extra WebTransport settings for interop."""

    def _get_local_settings(self):
        s = super()._get_local_settings()
        if self._enable_webtransport:
            s[0xC671706A] = 16   # SETTINGS_WEBTRANSPORT_MAX_SESSIONS (later drafts)
            s[0xFFD277] = 1      # H3_DATAGRAM (draft-04, older Chromium)
        return s


class Session:
    """One WebTransport session or one bare QUIC connection."""

    def __init__(self, proto, kind, session_id):
        self.proto = proto
        self.kind = kind              # 'wt' | 'quic'
        self.session_id = session_id  # CONNECT stream id for wt, None for quic
        self.app = None
        self.closed = False
        self.close_info = None
        self.reset_profile = proto.opts.get("reset_codes", "mapped")
        self.unmapped_codes = False   # mutant hook
        self.no_send = set()          # streams we may no longer write to
        self.peer = proto.peer

    # -- helpers
    @property
    def quic(self):
        return self.proto._quic

    def wire_code(self, code):
        if self.kind == "wt" and self.reset_profile == "mapped" and not self.unmapped_codes:
            return wt_map(code)
        return code

    def app_code(self, wire):
        """Returns (code, form) where form is 'mapped' | 'raw' | 'unknown'."""
        if self.kind == "wt" and wire >= WT_ERR_FIRST:
            c = wt_unmap(wire)
            if c is None:
                return wire, "unknown"
            return c, "mapped"
        return wire, "raw"

    # -- operations
    def open_bidi(self):
        if self.kind == "wt":
            sid = self.proto.h3.create_webtransport_stream(self.session_id, is_unidirectional=False)
            st = self.proto.h3._get_or_create_stream(sid)
            st.frame_type = FrameType.WEBTRANSPORT_STREAM
            st.session_id = self.session_id
        else:
            sid = self.quic.get_next_available_stream_id(is_unidirectional=False)
            self.quic.send_stream_data(sid, b"")
        self.proto.stream_owner[sid] = self
        self.proto.kick()
        return sid

    def open_uni(self):
        if self.kind == "wt":
            sid = self.proto.h3.create_webtransport_stream(self.session_id, is_unidirectional=True)
        else:
            sid = self.quic.get_next_available_stream_id(is_unidirectional=True)
            self.quic.send_stream_data(sid, b"")
        self.proto.stream_owner[sid] = self
        self.proto.kick()
        return sid

    def send(self, sid, data, fin=False):
        if self.closed or sid in self.no_send:
            return False
        try:
            self.quic.send_stream_data(sid, data, end_stream=fin)
        except Exception as e:  # stream reset/stopped/finished or connection gone
            vlog("transport", "send on stream %d failed: %r" % (sid, e))
            self.no_send.add(sid)
            return False
        if fin:
            self.no_send.add(sid)
        self.proto.kick()
        return True

    def reset(self, sid, code):
        if self.closed or sid in self.no_send:
            return
        self.no_send.add(sid)
        try:
            self.quic.reset_stream(sid, self.wire_code(code))
        except Exception as e:
            vlog("transport", "reset on stream %d failed: %r" % (sid, e))
        self.proto.kick()

    def stop(self, sid, code):
        if self.closed:
            return
        try:
            st = self.quic._streams.get(sid)
            if st is not None and st.receiver.is_finished:
                # aioquic would discard a fully received stream before writing the
                # STOP_SENDING (e.g. a header cut short by FIN, DT5): keep it alive
                # until the STOP_SENDING is acknowledged.
                rcv = st.receiver
                rcv.is_finished = False
                orig = rcv.on_stop_sending_delivery

                def delivered(delivery, _orig=orig, _rcv=rcv):
                    _orig(delivery)
                    if not _rcv.stop_pending:
                        _rcv.is_finished = True
                rcv.on_stop_sending_delivery = delivered
            self.quic.stop_stream(sid, self.wire_code(code))
        except Exception as e:
            vlog("transport", "stop on stream %d failed: %r" % (sid, e))
        self.proto.kick()

    def send_datagram(self, data):
        if self.closed:
            return
        try:
            if self.kind == "wt":
                self.proto.h3.send_datagram(self.session_id, data)
            else:
                self.quic.send_datagram_frame(data)
        except Exception as e:
            vlog("transport", "datagram send failed: %r" % e)
        self.proto.kick()

    def close(self, graceful=True):
        """Close the session (and its QUIC connection)."""
        if self.closed:
            return
        try:
            if self.kind == "wt":
                try:
                    self.quic.send_stream_data(self.session_id, b"", end_stream=True)
                except Exception:
                    pass
                self.proto.close(error_code=H3_NO_ERROR if graceful else 0x101)
            else:
                self.proto.close(error_code=0 if graceful else 1)
        except Exception:
            pass

    def _mark_closed(self, info):
        if self.closed:
            return
        self.closed = True
        self.close_info = info
        if self.app is not None:
            try:
                self.app.on_closed(self, info)
            except Exception as e:  # pragma: no cover
                log("transport", "on_closed error: %r" % e)


def _swallow(fut):
    if not fut.cancelled():
        fut.exception()


class DTProtocol(QuicConnectionProtocol):
    def __init__(self, *args, app=None, opts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.server_app = app
        self.opts = opts or {}
        self.mode = None
        self.h3 = None
        self.sessions = {}
        self.stream_owner = {}
        self.pending_wt = {}
        self.settings_waiter = None
        self.connect_waiters = {}
        self._tx_scheduled = False
        self.peer = None
        self.terminated = None
        self.handshake_done = asyncio.get_event_loop().create_future()
        self.handshake_done.add_done_callback(_swallow)

    def connection_made(self, transport):
        super().connection_made(transport)

    def datagram_received(self, data, addr):
        if self.peer is None:
            self.peer = addr
        try:
            super().datagram_received(data, addr)
        except AssertionError as e:
            # aioquic asserts on e.g. STOP_SENDING for a stream we already reset
            vlog("transport", "aioquic assertion while receiving: %r" % (e,))
            self._process_events()
            self.transmit()

    def kick(self):
        if not self._tx_scheduled:
            self._tx_scheduled = True
            self._loop.call_soon(self._do_tx)

    def _do_tx(self):
        self._tx_scheduled = False
        try:
            self.transmit()
        except Exception as e:
            vlog("transport", "transmit failed: %r" % e)

    # --------------------------------------------------------- dispatch --
    def quic_event_received(self, ev):
        try:
            self._event(ev)
        except Exception as e:
            log("transport", "event handling error: %r" % (e,))
            if VERBOSE:
                import traceback
                traceback.print_exc()

    def _event(self, ev):
        if isinstance(ev, ProtocolNegotiated):
            if ev.alpn_protocol == ALPN_H3:
                self.mode = "wt"
                self.h3 = DTH3(self._quic, enable_webtransport=True)
            elif ev.alpn_protocol == ALPN_QUIC:
                self.mode = "quic"
                if not self._quic.configuration.is_client and self.server_app is not None:
                    sess = Session(self, "quic", None)
                    self.sessions[0] = sess
                    self.server_app.on_session(sess)
            return
        if isinstance(ev, HandshakeCompleted):
            if not self.handshake_done.done():
                self.handshake_done.set_result(ev.alpn_protocol)
            return
        if isinstance(ev, ConnectionTerminated):
            self.terminated = ev
            info = {"error_code": ev.error_code, "reason": ev.reason_phrase,
                    "idle": ev.reason_phrase == "Idle timeout",
                    "graceful": ev.error_code in (0, H3_NO_ERROR)
                    and ev.reason_phrase != "Idle timeout"}
            for sess in list(self.sessions.values()):
                sess._mark_closed(info)
            for fut in list(self.connect_waiters.values()):
                if not fut.done():
                    fut.set_exception(ConnectionError("connection terminated"))
            if self.settings_waiter is not None and not self.settings_waiter.done():
                self.settings_waiter.set_exception(ConnectionError("connection terminated"))
            if not self.handshake_done.done():
                self.handshake_done.set_exception(ConnectionError(
                    "connection terminated: %s (0x%x)" % (ev.reason_phrase, ev.error_code)))
            return
        if isinstance(ev, (StreamReset, StopSendingReceived)):
            sess = self.stream_owner.get(ev.stream_id)
            if sess is None and self.mode == "quic":
                sess = self.sessions.get(0)
            if isinstance(ev, StopSendingReceived):
                # aioquic answers STOP_SENDING with RESET_STREAM(0); echo the code instead
                st = self._quic._streams.get(ev.stream_id)
                if st is not None and getattr(st.sender, "reset_pending", False):
                    st.sender._reset_error_code = ev.error_code
            if sess is None and self.mode == "wt" and ev.stream_id in self.sessions:
                # the CONNECT stream itself was reset: session over
                self.sessions[ev.stream_id]._mark_closed(
                    {"error_code": ev.error_code, "reason": "session stream reset",
                     "idle": False, "graceful": False})
                return
            if sess is None or sess.app is None:
                return
            code, form = sess.app_code(ev.error_code)
            if isinstance(ev, StreamReset):
                sess.app.on_stream_reset(sess, ev.stream_id, code, form)
            else:
                sess.no_send.add(ev.stream_id)
                sess.app.on_stop_sending(sess, ev.stream_id, code, form)
            return
        if self.mode == "quic":
            sess = self.sessions.get(0)
            if sess is None or sess.app is None:
                return
            if isinstance(ev, StreamDataReceived):
                self.stream_owner.setdefault(ev.stream_id, sess)
                sess.app.on_stream_data(sess, ev.stream_id, ev.data, ev.end_stream)
            elif isinstance(ev, DatagramFrameReceived):
                sess.app.on_datagram(sess, ev.data)
            return
        if self.mode == "wt" and self.h3 is not None:
            for h in self.h3.handle_event(ev):
                self._h3_event(h)
            if (self.settings_waiter is not None and not self.settings_waiter.done()
                    and self.h3.received_settings is not None):
                self.settings_waiter.set_result(self.h3.received_settings)

    def _h3_event(self, h):
        if isinstance(h, HeadersReceived):
            if self._quic.configuration.is_client:
                fut = self.connect_waiters.get(h.stream_id)
                if fut is not None and not fut.done():
                    fut.set_result(dict(h.headers))
                return
            self._server_headers(h)
        elif isinstance(h, WebTransportStreamDataReceived):
            sess = self.sessions.get(h.session_id)
            if sess is None:
                lst = self.pending_wt.setdefault(h.session_id, [])
                if len(lst) < 1000:
                    lst.append(h)
                return
            self._deliver_wt(sess, h)
        elif isinstance(h, DatagramReceived):
            sess = self.sessions.get(h.stream_id)
            if sess is not None and sess.app is not None:
                sess.app.on_datagram(sess, h.data)
        elif isinstance(h, DataReceived):
            sess = self.sessions.get(h.stream_id)
            if sess is not None and h.stream_ended:
                sess._mark_closed({"error_code": 0, "reason": "session closed by peer",
                                   "idle": False, "graceful": True})

    def _deliver_wt(self, sess, h):
        self.stream_owner.setdefault(h.stream_id, sess)
        if sess.app is not None:
            sess.app.on_stream_data(sess, h.stream_id, h.data, h.stream_ended)

    def _server_headers(self, h):
        hdrs = dict(h.headers)
        method = hdrs.get(b":method")
        proto = hdrs.get(b":protocol")
        path = hdrs.get(b":path", b"").decode("latin-1")
        if method == b"CONNECT" and proto in (b"webtransport", b"webtransport-h3"):
            want = self.opts.get("path")
            if self.opts.get("strict_path") and want and path.split("?")[0] != want:
                self.h3.send_headers(h.stream_id, [(b":status", b"404")], end_stream=True)
                return
            if self.server_app is None:
                self.h3.send_headers(h.stream_id, [(b":status", b"503")], end_stream=True)
                return
            self.h3.send_headers(h.stream_id, [(b":status", b"200"),
                                               (b"sec-webtransport-http3-draft", b"draft02")])
            sess = Session(self, "wt", h.stream_id)
            sess.path = path
            self.sessions[h.stream_id] = sess
            self.server_app.on_session(sess)
            for pending in self.pending_wt.pop(h.stream_id, []):
                self._deliver_wt(sess, pending)
        else:
            self.h3.send_headers(h.stream_id, [(b":status", b"404")], end_stream=True)


def server_configuration(args, alpns):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=alpns,
                            idle_timeout=args.idle_timeout, max_datagram_frame_size=65536)
    cfg.secrets_log_file = open_keylog(args.keylog)
    return cfg


def load_or_generate_cert(args):
    """Returns (certificate, private_key, sha256hex) objects."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    if args.cert:
        with open(args.cert, "rb") as f:
            cert_data = f.read()
        certs = x509.load_pem_x509_certificates(cert_data)
        keyfile = args.key or args.cert
        with open(keyfile, "rb") as f:
            key = load_pem_private_key(f.read(), password=None)
        return certs, key, cert_der_sha256(certs[0])
    cert, key = generate_cert(tuple(args.cert_name or ["localhost"]))
    if args.cert_out or args.key_out:
        write_pem(cert, key, args.cert_out, args.key_out)
    return [cert], key, cert_der_sha256(cert)


async def start_listener(role, args, listen, app, path, stop):
    host, port = parse_hostport(listen)
    alpns = {"wt": [ALPN_H3], "quic": [ALPN_QUIC], "both": [ALPN_H3, ALPN_QUIC]}[args.transport]
    cfg = server_configuration(args, alpns)
    certs, key, digest = args._certinfo
    cfg.certificate = certs[0]
    cfg.certificate_chain = certs[1:]
    cfg.private_key = key
    opts = {"reset_codes": args.reset_codes, "path": path, "strict_path": args.strict_path}

    def factory(*a, **kw):
        return DTProtocol(*a, app=app, opts=opts, **kw)

    server = await serve(host, port, configuration=cfg, create_protocol=factory)
    sock = server._transport.get_extra_info("sockname")
    bound_port = sock[1]
    app.bound = (host, bound_port)
    if args.keepalive and args.keepalive > 0:
        asyncio.get_event_loop().create_task(server_keepalive(server, args.keepalive, stop))
    return server, host, bound_port, digest


async def server_keepalive(server, interval, stop):
    while not stop.is_set():
        await asyncio.sleep(interval)
        for proto in set(getattr(server, "_protocols", {}).values()):
            try:
                proto._quic.send_ping(0)
                proto.transmit()
            except Exception:
                pass


# ---------------------------------------------------- Meeting Controller ---
class Meeting:
    def __init__(self, mid, capacity, ended=False):
        self.id = mid
        self.capacity = capacity
        self.ended = ended
        self.participants = {}   # pid -> SigConn
        self.streams = {}        # stream_id -> (pid, MediaStream dict)


class Controller:
    role = "controller"

    def __init__(self, args):
        self.args = args
        self.mutant = args.mutant or ""
        self.secret = args.secret
        self.capacity = args.capacity
        self.meetings = {}
        self.any_meeting = True
        for spec in args.meeting or []:
            for m in spec.split(","):
                if m:
                    mid, _, cap = m.partition("=")
                    self.meetings[mid] = Meeting(mid, int(cap) if cap else self.capacity)
                    self.any_meeting = False
        for spec in args.ended or []:
            for m in spec.split(","):
                if m:
                    self.meetings[m] = Meeting(m, self.capacity, ended=True)
        self.media_url = args.media_url
        self.link = None          # Media Handler in the same process (server role)
        self.bound = None
        if self.mutant == "mc-pid-field5":
            pb.FIELD_OVERRIDES[("JoinResponse", "participant_id")] = 5

    def on_session(self, sess):
        sess.app = SigConn(self, sess)
        vlog(self.role, "session from %s (%s)" % (sess.peer, sess.kind))

    def media_url_for(self):
        if self.media_url:
            return self.media_url
        host, port = self.bound
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return "https://%s%s" % (fmt_hostport(host, port + 1), PATH_MEDIA)

    def meeting(self, mid):
        m = self.meetings.get(mid)
        if m is None and self.any_meeting:
            m = self.meetings[mid] = Meeting(mid, self.capacity)
        return m

    def is_subscribed(self, meeting_id, pid, key):
        m = self.meetings.get(meeting_id)
        if m is None:
            return False
        conn = m.participants.get(pid)
        return conn is not None and canon_stream_id(key) in conn.subscriptions


def canon_stream_id(s):
    """Canonical form used to match signaling stream ids with media stream ids."""
    try:
        return str(uuid.UUID(s))
    except (ValueError, TypeError, AttributeError):
        return s


class SigConn:
    def __init__(self, ctl, sess):
        self.ctl = ctl
        self.sess = sess
        self.sid = None
        self.deframer = pb.Deframer(allow_zero=(ctl.mutant == "mc-zero-length-ok"))
        self.sig_closed = False
        self.pid = None
        self.meeting = None
        self.participant = None
        self.subscriptions = set()

    # -- output
    def send(self, which, body):
        if self.sig_closed or self.sid is None:
            return
        if which == "participant_joined" and self.ctl.mutant == "mc-joined-tag3":
            inner = pb.encode("ParticipantJoined", body)
            data = pb.enc_varint((3 << 3) | 2) + pb.enc_varint(len(inner)) + inner
        else:
            data = pb.encode("ServerMessage", {which: body})
        self.sess.send(self.sid, pb.frame(data, little_endian=(self.ctl.mutant == "mc-length-le")))

    def send_error(self, code_name, message, details=None, fatal=False):
        log(self.ctl.role, "error %s to %s: %s%s" % (code_name, self.pid or self.sess.peer, message,
                                                       " (closing signaling)" if fatal else ""))
        self.send("error", {"code": pb.ERROR_CODE[code_name], "message": message,
                            "details": details or {}})
        if fatal:
            self.close_signaling("KICKED")

    def close_signaling(self, reason_name):
        if not self.sig_closed and self.sid is not None:
            self.sess.send(self.sid, b"", fin=True)
        self.sig_closed = True
        self.leave(reason_name)

    # -- transport callbacks
    def on_stream_data(self, sess, sid, data, fin):
        if sid & 3 != 0:
            return  # only client-initiated bidirectional streams matter here
        if self.sid is None:
            self.sid = sid
        elif sid != self.sid:
            vlog(self.ctl.role, "ignoring extra bidi stream %d" % sid)
            return
        if self.sig_closed:
            return
        try:
            msgs = self.deframer.feed(data)
        except pb.FramingError as e:
            self.send_error("STREAM_ERROR", str(e), fatal=True)
            return
        for m in msgs:
            if len(m) == 0 and self.ctl.mutant == "mc-zero-length-ok":
                continue
            self.handle(m)
            if self.sig_closed:
                return
        if fin and not self.sig_closed:
            vlog(self.ctl.role, "signaling stream closed by %s" % (self.pid or sess.peer))
            self.sess.send(self.sid, b"", fin=True)
            self.sig_closed = True
            self.leave("VOLUNTARY")

    def on_stream_reset(self, sess, sid, code, form):
        if sid == self.sid:
            self.sig_closed = True
            self.sess.reset(self.sid, RESET_GRACEFUL)
            self.leave("CONNECTION_LOST")

    def on_stop_sending(self, sess, sid, code, form):
        pass

    def on_datagram(self, sess, data):
        pass

    def on_closed(self, sess, info):
        self.sig_closed = True
        if info.get("idle") and self.ctl.mutant != "mc-lost-as-voluntary":
            reason = "CONNECTION_LOST"
        elif info.get("graceful") or self.ctl.mutant == "mc-lost-as-voluntary":
            reason = "VOLUNTARY"
        else:
            reason = "CONNECTION_LOST"
        self.leave(reason)

    # -- requests
    def handle(self, raw):
        try:
            cm = pb.decode("ClientMessage", raw)
        except pb.ProtoError as e:
            self.send_error("INVALID_REQUEST", "undecodable ClientMessage: %s" % e,
                            fatal=self.participant is None)
            return
        which = cm["_which"]
        if self.participant is None:
            if which != "join_request":
                self.send_error("INVALID_REQUEST", "first message must be JoinRequest (got %s)"
                                % which, fatal=True)
                return
            self.handle_join(cm["join_request"])
            return
        if which == "join_request":
            self.send_error("CONFLICT", "already joined", {"participant_id": self.pid})
        elif which == "publish_stream":
            self.handle_publish(cm["publish_stream"])
        elif which == "subscribe_stream":
            self.handle_subscribe(cm["subscribe_stream"])
        elif which == "unsubscribe_stream":
            self.handle_unsubscribe(cm["unsubscribe_stream"])
        elif which == "stream_quality_update":
            self.handle_quality(cm["stream_quality_update"])
        else:
            self.send_error("INVALID_REQUEST", "empty ClientMessage")

    def handle_join(self, jr):
        ctl = self.ctl
        mid = jr["meeting_id"]
        name = jr["participant_name"]
        if not mid:
            self.send_error("INVALID_REQUEST", "meeting_id is required", fatal=True)
            return
        if len(name.encode("utf-8")) > 256 and ctl.mutant != "mc-long-name-ok":
            self.send_error("INVALID_REQUEST", "participant_name longer than 256 bytes",
                            {"max_bytes": "256"}, fatal=True)
            return
        bad_token_code = "FORBIDDEN" if ctl.mutant == "mc-badtoken-forbidden" else "UNAUTHORIZED"
        try:
            claims = jwt_decode(jr["join_token"], ctl.secret,
                                check_exp=(ctl.mutant != "mc-accept-expired"))
        except TokenError as e:
            self.send_error(bad_token_code, "invalid join token: %s" % e,
                            {"meeting_id": mid}, fatal=True)
            return
        if claims.get("meeting_id") != mid:
            self.send_error(bad_token_code, "join token is for another meeting",
                            {"meeting_id": mid}, fatal=True)
            return
        m = ctl.meeting(mid)
        if m is None:
            self.send_error("NOT_FOUND", "unknown meeting", {"meeting_id": mid}, fatal=True)
            return
        if m.ended and ctl.mutant != "mc-ended-joinable":
            self.send_error("NOT_FOUND", "meeting has ended", {"meeting_id": mid}, fatal=True)
            return
        cap = m.capacity + (1 if ctl.mutant == "mc-capacity-plus-one" else 0)
        if len(m.participants) >= cap:
            self.send_error("CAPACITY_EXCEEDED", "meeting is full",
                            {"meeting_id": mid, "capacity": str(m.capacity)}, fatal=True)
            return
        pid = str(uuid.uuid4())
        now = time.time()
        self.pid = pid
        self.meeting = m
        self.participant = {"participant_id": pid, "name": name, "streams": [],
                            "joined_at": int(now * 1000)}
        media_token = jwt_encode({"meeting_id": mid, "participant_id": pid,
                                  "exp": int(now) + 300, "iat": int(now),
                                  "jti": uuid.uuid4().hex}, ctl.secret)
        existing = [c.participant for c in m.participants.values()]
        m.participants[pid] = self
        self.send("join_response", {
            "participant_id": pid,
            "existing_participants": existing,
            "media_server": {"media_handler_url": ctl.media_url_for(),
                             "connection_token": media_token},
            "encryption_keys": {"public_key": os.urandom(32), "key_id": uuid.uuid4().hex[:16]},
        })
        log(ctl.role, "participant %s (%r) joined meeting %s [%d/%d]"
            % (pid, name, mid, len(m.participants), m.capacity))
        for other in list(m.participants.values()):
            if other is not self:
                other.send("participant_joined", {"participant": self.participant})

    def handle_publish(self, ps):
        m = self.meeting
        sid = ps["stream_id"]
        if not sid:
            self.send_error("INVALID_REQUEST", "stream_id is required")
            return
        if ps["stream_type"] not in pb.STREAM_TYPE_NAME:
            self.send_error("INVALID_REQUEST", "unknown stream_type %d" % ps["stream_type"],
                            {"stream_id": sid})
            return
        if sid in m.streams:
            self.send_error("CONFLICT", "stream already published", {"stream_id": sid})
            return
        stream = {"stream_id": sid, "stream_type": ps["stream_type"],
                  "metadata": ps["metadata"]}
        m.streams[sid] = (self.pid, stream)
        self.participant["streams"].append(stream)
        log(self.ctl.role, "participant %s published stream %s (%s)"
            % (self.pid, sid, pb.STREAM_TYPE_NAME[ps["stream_type"]]))
        for c in list(m.participants.values()):
            c.send("stream_published", {"participant_id": self.pid, "stream": stream})

    def handle_subscribe(self, ss):
        sid = ss["stream_id"]
        if sid not in self.meeting.streams:
            self.send_error("NOT_FOUND", "unknown stream", {"stream_id": sid})
            return
        key = canon_stream_id(sid)
        if key not in self.subscriptions:
            self.subscriptions.add(key)
            vlog(self.ctl.role, "%s subscribed to %s" % (self.pid, sid))
            if self.ctl.link is not None:
                self.ctl.link.subscription_changed(self.meeting.id, self.pid, key, True)

    def handle_unsubscribe(self, us):
        sid = us["stream_id"]
        key = canon_stream_id(sid)
        if sid not in self.meeting.streams and key not in self.subscriptions:
            self.send_error("NOT_FOUND", "unknown stream", {"stream_id": sid})
            return
        if key in self.subscriptions:
            self.subscriptions.discard(key)
            if self.ctl.link is not None:
                self.ctl.link.subscription_changed(self.meeting.id, self.pid, key, False)

    def handle_quality(self, q):
        ent = self.meeting.streams.get(q["stream_id"])
        if ent is None:
            self.send_error("NOT_FOUND", "unknown stream", {"stream_id": q["stream_id"]})
            return
        pub = self.meeting.participants.get(ent[0])
        if pub is not None and pub is not self:
            pub.send("stream_quality_update", q)

    def leave(self, reason_name):
        if self.participant is None or self.meeting is None:
            return
        m = self.meeting
        if m.participants.get(self.pid) is not self:
            return
        del m.participants[self.pid]
        gone = [s for s, (p, _) in m.streams.items() if p == self.pid]
        for s in gone:
            del m.streams[s]
            key = canon_stream_id(s)
            for c in m.participants.values():
                if key in c.subscriptions:
                    c.subscriptions.discard(key)
                    if self.ctl.link is not None:
                        self.ctl.link.subscription_changed(m.id, c.pid, key, False)
        log(self.ctl.role, "participant %s left meeting %s (%s)" % (self.pid, m.id, reason_name))
        for c in list(m.participants.values()):
            c.send("participant_left", {"participant_id": self.pid,
                                        "reason": pb.LEAVE_REASON[reason_name]})
        self.participant = None
        if not self.sig_closed and self.sid is not None:
            self.sess.send(self.sid, b"", fin=True)
            self.sig_closed = True


# --------------------------------------------------------- Media Handler ---
class ActiveStream:
    """A v1 media stream being received from a publisher and forwarded."""

    def __init__(self, conn, sid, header):
        self.conn = conn
        self.sid = sid
        self.header = header
        self.key = str(uuid.UUID(bytes=header["stream_id"]))
        self.forwards = {}      # MediaConn -> outbound stream id
        self.meeting = conn.meeting
        self.seq = SeqTracker()
        self.header_bytes = b""


class MediaHandler:
    role = "handler"

    def __init__(self, args):
        self.args = args
        self.mutant = args.mutant or ""
        self.secret = args.secret
        self.forward_policy = args.forward
        self.max_payload = args.max_payload
        self.max_streams = args.max_streams
        self.used_tokens = {}       # token -> exp
        self.conns = set()
        self.active = {}            # (meeting, key) -> ActiveStream
        self.link = None            # Controller in the same process
        self.bound = None
        self.stats = {"v2_dropped": 0, "v2_forwarded": 0, "unknown_fourcc": 0}

    def on_session(self, sess):
        conn = MediaConn(self, sess)
        sess.app = conn
        if self.mutant == "mh-unmapped-codes":
            sess.unmapped_codes = True
        self.conns.add(conn)
        vlog(self.role, "media session from %s (%s)" % (sess.peer, sess.kind))

    # -- policy
    def wants(self, sub, meeting, publisher_pid, key):
        if not sub.authed or sub.sess.closed:
            return False
        if meeting != "*" and sub.meeting != meeting:
            return False
        if sub.pid == publisher_pid:
            return False
        if self.forward_policy == "subscribed" and self.link is not None:
            return self.link.is_subscribed(meeting, sub.pid, key)
        return True

    def subscribers(self, meeting, publisher_pid, key, exclude=None):
        return [c for c in list(self.conns)
                if c is not exclude and self.wants(c, meeting, publisher_pid, key)]

    # -- token
    def check_token(self, token):
        now = time.time()
        for t, exp in list(self.used_tokens.items()):
            if exp < now:
                del self.used_tokens[t]
        claims = jwt_decode(token, self.secret)
        if not isinstance(claims.get("participant_id"), str) or not claims.get("participant_id"):
            raise TokenError("media token lacks participant_id")
        if not isinstance(claims.get("meeting_id"), str) or not claims.get("meeting_id"):
            raise TokenError("media token lacks meeting_id")
        if token in self.used_tokens and self.mutant != "mh-token-reuse":
            raise TokenError("media token already used")
        self.used_tokens[token] = claims["exp"]
        return claims

    # -- forwarding
    def open_forward(self, act, sub):
        if sub in act.forwards or sub.sess.closed:
            return
        try:
            out = sub.sess.open_uni()
        except Exception as e:
            log(self.role, "cannot open forward stream to %s: %r" % (sub.pid, e))
            return
        act.forwards[sub] = out
        sub.sess.send(out, act.header_bytes)
        vlog(self.role, "forwarding %s to %s on stream %d" % (act.key, sub.pid, out))

    def subscription_changed(self, meeting, pid, key, on):
        """Called by an in-process Meeting Controller."""
        if self.forward_policy != "subscribed":
            return
        subs = [c for c in self.conns if c.meeting == meeting and c.pid == pid and c.authed]
        act = self.active.get((meeting, key))
        for sub in subs:
            if act is None:
                continue
            if on and act.conn is not sub:
                self.open_forward(act, sub)
            elif not on and sub in act.forwards:
                out = act.forwards.pop(sub)
                sub.sess.reset(out, RESET_GRACEFUL)

    def conn_authenticated(self, conn):
        for (meeting, key), act in list(self.active.items()):
            if self.wants(conn, meeting, act.conn.pid, key):
                self.open_forward(act, conn)

    def conn_closed(self, conn):
        self.conns.discard(conn)
        for act in list(self.active.values()):
            act.forwards.pop(conn, None)
            if act.conn is conn:
                self.finish_active(act, None)

    def finish_active(self, act, code):
        """End forwarding of `act`: FIN (code None) or reset with `code`."""
        if self.active.get((act.meeting, act.key)) is act:
            del self.active[(act.meeting, act.key)]
        for sub, out in list(act.forwards.items()):
            if code is None:
                sub.sess.send(out, b"", fin=True)
            else:
                sub.sess.reset(out, code)
        act.forwards.clear()
        log(self.role, "stream %s from %s ended (%s): frames=%d gaps=%d violations=%d"
            % (act.key, act.conn.pid, "fin" if code is None else "reset 0x%02x" % code,
               act.seq.frames, act.seq.gaps, act.seq.violations))


class MediaConn:
    def __init__(self, handler, sess):
        self.h = handler
        self.sess = sess
        self.auth_sid = None
        self.deframer = pb.Deframer()
        self.authed = False
        self.auth_failed = False
        self.pid = None
        self.meeting = None
        self.inbound = {}      # sid -> (V1Parser, ActiveStream|None)
        self.dead = set()
        self.v2seq = {}
        self.preauth = False
        if handler.mutant == "mh-no-auth":
            self.authed = True
            self.preauth = True
            self.pid = "anonymous-%s" % uuid.uuid4().hex[:8]
            self.meeting = "*"

    def reject(self, sid, code, reason):
        if self.h.mutant == "mh-invalid-code-4" and code == RESET_INVALID:
            code = RESET_INTERNAL
        log(self.h.role, "rejecting media stream %d of %s: %s -> 0x%02x (%s)"
            % (sid, self.pid or self.sess.peer, reason, code, RESET_NAMES.get(code, "?")))
        self.dead.add(sid)
        self.sess.stop(sid, code)
        if sid & 2 == 0:   # bidirectional: also reset our sending half
            self.sess.reset(sid, code)

    # -- auth
    def send_auth(self, which, body, fin=False):
        data = pb.encode("MediaServerMessage", {which: body})
        self.sess.send(self.auth_sid, pb.frame(data), fin=fin)

    def auth_error(self, code_name, msg):
        log(self.h.role, "media auth failed for %s: %s" % (self.sess.peer, msg))
        self.auth_failed = True
        self.send_auth("error", {"code": pb.ERROR_CODE[code_name], "message": msg}, fin=True)

    def on_auth_data(self, data, fin):
        if self.auth_failed:
            return
        try:
            msgs = self.deframer.feed(data)
        except pb.FramingError as e:
            self.auth_error("STREAM_ERROR", str(e))
            return
        for raw in msgs:
            try:
                mm = pb.decode("MediaClientMessage", raw)
            except pb.ProtoError as e:
                self.auth_error("INVALID_REQUEST", "undecodable MediaClientMessage: %s" % e)
                return
            if mm["_which"] != "connect_request":
                self.auth_error("INVALID_REQUEST", "expected ConnectRequest")
                return
            if self.authed and not self.preauth:
                self.send_auth("error", {"code": pb.ERROR_CODE["CONFLICT"],
                                         "message": "already connected"})
                continue
            try:
                claims = self.h.check_token(mm["connect_request"]["join_token"])
            except TokenError as e:
                self.auth_error("UNAUTHORIZED", "invalid media token: %s" % e)
                return
            self.authed = True
            self.preauth = False
            self.pid = claims["participant_id"]
            self.meeting = claims["meeting_id"]
            self.send_auth("connect_response", {"participant_id": self.pid})
            log(self.h.role, "participant %s connected for media (meeting %s)"
                % (self.pid, self.meeting))
            self.h.conn_authenticated(self)
        if fin and not self.auth_failed:
            pass  # client half-closed the auth stream; session stays usable

    # -- transport callbacks
    def on_stream_data(self, sess, sid, data, fin):
        if sid in self.dead:
            return
        if sid & 1:
            return   # server-initiated (our forward streams are unidirectional)
        if sid & 2 == 0:   # client bidi
            if self.auth_sid is None:
                self.auth_sid = sid
            if sid == self.auth_sid:
                self.on_auth_data(data, fin)
                return
            if sid not in self.inbound:
                # DT1: media travels on unidirectional streams
                self.reject(sid, RESET_INVALID, "media on a bidirectional stream")
                return
        if sid not in self.inbound:
            if not self.authed:
                self.reject(sid, RESET_AUTH, "media stream before ConnectResponse")
                return
            if len(self.inbound) >= self.h.max_streams:
                self.reject(sid, RESET_QUOTA, "more than %d media streams" % self.h.max_streams)
                return
            mut = self.h.mutant
            parser = V1Parser(accept_bad_magic=(mut == "mh-accept-bad-magic"),
                              accept_any_type=(mut == "mh-accept-screen"),
                              check_ids=(mut != "mh-no-id-check"),
                              max_payload=self.h.max_payload)
            self.inbound[sid] = [parser, None]
        ent = self.inbound[sid]
        try:
            events = ent[0].feed(data, fin)
            err = None
        except MediaError as e:
            events = e.events
            err = e
        for kind, info, payload in events:
            if kind == "header":
                if not self.on_header(sid, ent, info):
                    return
            elif kind == "frame":
                self.on_frame(ent[1], info, payload)
            elif kind == "end":
                self.inbound.pop(sid, None)
                if ent[1] is not None:
                    self.h.finish_active(ent[1], None)
        if err is not None:
            self.inbound.pop(sid, None)
            self.reject(sid, err.code, err.reason)
            if ent[1] is not None:
                code = err.code
                if self.h.mutant == "mh-invalid-code-4" and code == RESET_INVALID:
                    code = RESET_INTERNAL
                self.h.finish_active(ent[1], code)

    def on_header(self, sid, ent, hdr):
        act = ActiveStream(self, sid, hdr)
        if (self.meeting, act.key) in self.h.active:
            self.inbound.pop(sid, None)
            self.reject(sid, RESET_INVALID, "stream id %s already active" % act.key)
            return False
        if not hdr["known_codec"]:
            self.h.stats["unknown_fourcc"] += 1
            log(self.h.role, "flag: stream %s uses FourCC %r outside the table"
                % (act.key, hdr["fourcc"]))
        magic = b"DRAT" if self.h.mutant == "mh-magic-drat" else MAGIC
        act.header_bytes = build_stream_header(hdr["stream_type"], hdr["stream_id"],
                                               hdr["fourcc"], magic=magic)
        ent[1] = act
        self.h.active[(self.meeting, act.key)] = act
        log(self.h.role, "participant %s opened %s stream %s (%s)"
            % (self.pid, {0: "audio", 1: "video"}.get(hdr["stream_type"], "type-%d" %
                                                        hdr["stream_type"]),
               act.key, hdr["fourcc"].decode("latin-1")))
        for sub in self.h.subscribers(self.meeting, self.pid, act.key):
            self.h.open_forward(act, sub)
        return True

    def on_frame(self, act, fr, payload):
        r = act.seq.add(fr["sequence"])
        if r == "first" and fr["sequence"] != 0:
            act.seq.gaps += fr["sequence"]
            vlog(self.h.role, "stream %s: first sequence %d (expected 0)"
                 % (act.key, fr["sequence"]))
        elif r == "violation":
            log(self.h.role, "stream %s: sequence %d repeats/decreases (violation, not reset)"
                % (act.key, fr["sequence"]))
        if self.h.mutant == "mh-frame-le":
            data = struct.pack(">BB16sQ", 1, fr["frame_type"], fr["stream_id"], fr["timestamp"]) \
                + struct.pack("<Q", fr["sequence"]) \
                + struct.pack(">IH6s", len(payload), fr["flags"] & 0x0003, bytes(6)) + payload
        else:
            data = build_frame(fr["frame_type"], fr["stream_id"], fr["timestamp"],
                               fr["sequence"], payload, flags=fr["flags"] & 0x0003)
        for sub, out in list(act.forwards.items()):
            sub.sess.send(out, data)

    def on_stream_reset(self, sess, sid, code, form):
        ent = self.inbound.pop(sid, None)
        self.dead.add(sid)
        if ent is not None and ent[1] is not None:
            self.h.finish_active(ent[1], code if 0 <= code <= 4 else RESET_INTERNAL)

    def on_stop_sending(self, sess, sid, code, form):
        # a subscriber stopped one of our forward streams
        for act in self.h.active.values():
            if act.forwards.get(self) == sid:
                del act.forwards[self]

    def on_datagram(self, sess, data):
        h = self.h
        if not self.authed:
            h.stats["v2_dropped"] += 1
            vlog(h.role, "datagram before ConnectResponse dropped")
            return
        try:
            fr = parse_v2(data)
        except MediaError as e:
            h.stats["v2_dropped"] += 1
            vlog(h.role, "datagram dropped: %s" % e.reason)
            return
        if (fr["version"] != 1 or fr["frame_type"] > 2) and h.mutant != "mh-v2-forward-bad":
            h.stats["v2_dropped"] += 1
            log(h.role, "datagram dropped: version %d frame type %d (dropped=%d)"
                % (fr["version"], fr["frame_type"], h.stats["v2_dropped"]))
            return
        key = (fr["user_id"], fr["stream_id"])
        tr = self.v2seq.setdefault(key, SeqTracker())
        if tr.add(fr["sequence"]) == "violation":
            vlog(h.role, "v2 stream %s: sequence repeat/decrease" % (key,))
        if h.mutant == "mh-v2-forward-bad":
            out = bytes(data)
        else:
            out = build_v2(fr["frame_type"], fr["user_id"], fr["stream_id"], fr["timestamp"],
                           fr["sequence"], fr["payload"], flags=fr["flags"] & 0x0003)
        for sub in h.subscribers(self.meeting, self.pid, str(fr["stream_id"]), exclude=self):
            sub.sess.send_datagram(out)
            h.stats["v2_forwarded"] += 1

    def on_closed(self, sess, info):
        log(self.h.role, "media session of %s closed (%s)" % (self.pid or sess.peer,
                                                               info.get("reason") or "-"))
        self.h.conn_closed(self)


# ---------------------------------------------------------------- Client ---
EXIT_OK = 0
EXIT_USAGE = 1
EXIT_CONNECT = 2
EXIT_SIGNALING = 3
EXIT_MEDIA_PROTOCOL = 4
EXIT_MEDIA_AUTH = 5
EXIT_MEDIA_RESET = 6
EXIT_EXPECT = 7
EXIT_TIMEOUT = 8
EXIT_REQUEST_REJECTED = 9
EXIT_JOIN_BASE = 10
EXIT_LOST = 20


class ClientExit(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


def out(line):
    print(line, flush=True)


class Publication:
    def __init__(self, spec, version, idx):
        parts = spec.split(":")
        kind = parts[0].lower()
        if kind not in ("video", "audio", "screen"):
            raise ValueError("publish kind must be video, audio or screen: %r" % spec)
        self.kind = kind
        default_cc = "Opus" if kind == "audio" else "VP09"
        cc = parts[1] if len(parts) > 1 and parts[1] else default_cc
        if len(cc.encode("latin-1")) != 4:
            raise ValueError("FourCC must be 4 bytes: %r" % cc)
        self.fourcc = cc.encode("latin-1")
        self.proto_type = {"audio": 0, "video": 1, "screen": 2}[kind]
        self.header_type = self.proto_type
        ident = parts[2] if len(parts) > 2 and parts[2] else None
        if version == 1:
            self.uuid = uuid.UUID(ident) if ident else uuid.uuid4()
            self.stream_id = str(self.uuid)
            self.v2id = None
        else:
            self.v2id = int(ident) if ident else random.randrange(1, 1 << 31)
            if not 0 <= self.v2id < (1 << 32):
                raise ValueError("v2 stream id must fit u32")
            self.stream_id = str(self.v2id)
            self.uuid = None
        self.sid = None
        self.sent = 0
        self.acked = False


class ClientApp:
    """Transport callbacks for the client's two sessions."""

    def __init__(self, client, which):
        self.c = client
        self.which = which

    def on_stream_data(self, sess, sid, data, fin):
        if self.which == "sig":
            self.c.sig_data(sid, data, fin)
        else:
            self.c.media_data(sid, data, fin)

    def on_stream_reset(self, sess, sid, code, form):
        self.c.stream_reset(self.which, sess, sid, code, form)

    def on_stop_sending(self, sess, sid, code, form):
        self.c.stop_sending(self.which, sess, sid, code, form)

    def on_datagram(self, sess, data):
        if self.which == "media":
            self.c.media_datagram(data)

    def on_closed(self, sess, info):
        self.c.session_closed(self.which, info)


class Client:
    role = "client"

    def __init__(self, args):
        self.args = args
        self.mutant = args.mutant or ""
        self.changed = asyncio.Event()
        self.failure = None
        self.leaving = False
        self.join_result = None
        self.pid = None
        self.others = {}
        self.streams = {}
        self.left_events = []
        self.post_join_errors = []
        self.connect_result = None
        self.subscribed = set()
        self.recv = {}            # forwarded stream key -> SeqTracker
        self.recv_parsers = {}
        self.frames_received = 0
        self.stream_resets = []
        self.sig_sess = None
        self.sig_sid = None
        self.sig_deframer = pb.Deframer()
        self.media_sess = None
        self.auth_sid = None
        self.auth_deframer = pb.Deframer()
        self.protos = []
        self.pubs = []
        self.media_ready = False
        self.keylog = open_keylog(args.keylog)
        self.user_id = 0
        if self.mutant == "cl-token-name-swap":
            pb.FIELD_OVERRIDES[("JoinRequest", "join_token")] = 3
            pb.FIELD_OVERRIDES[("JoinRequest", "participant_name")] = 2

    # ------------------------------------------------------------ state --
    def fail(self, code, msg):
        if self.failure is None:
            self.failure = (code, msg)
            log(self.role, "failure (exit %d): %s" % (code, msg))
        self.changed.set()

    def poke(self):
        self.changed.set()

    async def until(self, cond, timeout, code, what):
        deadline = time.monotonic() + timeout
        while True:
            if self.failure is not None:
                raise ClientExit(*self.failure)
            if cond():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientExit(code, "timed out waiting for %s" % what)
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def sleep(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            if self.failure is not None:
                raise ClientExit(*self.failure)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------- connection --
    async def open_session(self, host, port, path, app, what):
        args = self.args
        alpn = ALPN_H3 if args.transport == "wt" else ALPN_QUIC
        cfg = QuicConfiguration(is_client=True, alpn_protocols=[alpn],
                                idle_timeout=args.idle_timeout, max_datagram_frame_size=65536)
        cfg.server_name = args.server_name or host
        if args.cert_hash or args.insecure:
            cfg.verify_mode = ssl.CERT_NONE
        if args.ca:
            cfg.load_verify_locations(cafile=args.ca)
        cfg.secrets_log_file = self.keylog
        loop = asyncio.get_event_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as e:
            raise ClientExit(EXIT_CONNECT, "%s: cannot resolve %s: %s" % (what, host, e))
        addr = infos[0][4]
        if len(addr) == 2:
            addr = ("::ffff:" + addr[0], addr[1], 0, 0)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0, 0, 0))
        conn = QuicConnection(configuration=cfg)
        opts = {"reset_codes": "mapped" if args.reset_codes == "any" else args.reset_codes}
        transport, proto = await loop.create_datagram_endpoint(
            lambda: DTProtocol(conn, opts=opts), sock=sock)
        self.protos.append((proto, transport))
        proto.connect(addr)
        try:
            await asyncio.wait_for(proto.wait_connected(), args.timeout)
        except asyncio.TimeoutError:
            if proto._connected_waiter is not None:
                proto._connected_waiter.add_done_callback(_swallow)
            raise ClientExit(EXIT_CONNECT, "%s: QUIC handshake with %s:%d timed out"
                             % (what, host, port))
        except Exception as e:
            reason = proto.terminated.reason_phrase if proto.terminated else repr(e)
            raise ClientExit(EXIT_CONNECT, "%s: QUIC handshake with %s:%d failed: %s"
                             % (what, host, port, reason))
        if args.cert_hash:
            cert = proto._quic.tls._peer_certificate
            digest = cert_der_sha256(cert) if cert is not None else ""
            wanted = {h.replace(":", "").lower() for h in args.cert_hash}
            if digest not in wanted:
                proto.close(error_code=0x100 if alpn == ALPN_H3 else 1,
                            reason_phrase="certificate hash mismatch")
                raise ClientExit(EXIT_CONNECT, "%s: server certificate sha256 %s not trusted"
                                 % (what, digest))
        vlog(self.role, "%s: connected to %s:%d (%s)" % (what, host, port, alpn))
        if alpn == ALPN_QUIC:
            sess = Session(proto, "quic", None)
            sess.app = app
            proto.sessions[0] = sess
            return sess
        proto.settings_waiter = loop.create_future()
        proto.settings_waiter.add_done_callback(_swallow)
        if proto.h3.received_settings is not None:
            proto.settings_waiter.set_result(proto.h3.received_settings)
        try:
            settings = await asyncio.wait_for(proto.settings_waiter, args.timeout)
        except Exception as e:
            raise ClientExit(EXIT_CONNECT, "%s: no HTTP/3 SETTINGS from server: %r" % (what, e))
        if settings.get(0x2B603742) != 1 and settings.get(0xC671706A) is None:
            log(self.role, "%s: warning: server did not advertise WebTransport" % what)
        sid = proto._quic.get_next_available_stream_id()
        fut = loop.create_future()
        fut.add_done_callback(_swallow)
        proto.connect_waiters[sid] = fut
        authority = fmt_hostport(host, port).encode()
        proto.h3.send_headers(sid, [
            (b":method", b"CONNECT"), (b":scheme", b"https"), (b":authority", authority),
            (b":path", (path or "/").encode()), (b":protocol", b"webtransport"),
            (b"sec-webtransport-http3-draft02", b"1"), (b"origin", b"https://" + authority),
        ])
        proto.transmit()
        try:
            hdrs = await asyncio.wait_for(fut, args.timeout)
        except asyncio.TimeoutError:
            raise ClientExit(EXIT_CONNECT, "%s: WebTransport CONNECT timed out" % what)
        except Exception as e:
            raise ClientExit(EXIT_CONNECT, "%s: WebTransport CONNECT failed: %r" % (what, e))
        status = hdrs.get(b":status", b"")
        if status != b"200":
            raise ClientExit(EXIT_CONNECT, "%s: WebTransport CONNECT answered %s"
                             % (what, status.decode("latin-1")))
        sess = Session(proto, "wt", sid)
        sess.app = app
        proto.sessions[sid] = sess
        for pending in proto.pending_wt.pop(sid, []):
            proto._deliver_wt(sess, pending)
        return sess

    async def keepalive(self):
        while True:
            await asyncio.sleep(self.args.keepalive)
            for proto, _t in self.protos:
                try:
                    proto._quic.send_ping(0)
                    proto.transmit()
                except Exception:
                    pass

    # -------------------------------------------------------- signaling --
    def send_sig(self, which, body):
        data = pb.encode("ClientMessage", {which: body})
        self.sig_sess.send(self.sig_sid, pb.frame(data, little_endian=(self.mutant == "cl-length-le")))

    def sig_data(self, sid, data, fin):
        if sid != self.sig_sid:
            return
        try:
            msgs = self.sig_deframer.feed(data)
        except pb.FramingError as e:
            self.fail(EXIT_SIGNALING, "signaling framing error from controller: %s" % e)
            return
        for raw in msgs:
            try:
                m = pb.decode("ServerMessage", raw)
            except pb.ProtoError as e:
                self.fail(EXIT_SIGNALING, "undecodable ServerMessage: %s" % e)
                return
            self.on_server_message(m)
        if fin:
            if self.sig_deframer.pending():
                self.fail(EXIT_SIGNALING, "signaling stream ended inside a message")
            elif not self.leaving and self.join_result is not None and \
                    self.join_result[0] == "ok":
                self.fail(EXIT_LOST, "controller closed the signaling stream")
            elif self.join_result is None:
                self.fail(EXIT_SIGNALING, "controller closed signaling without answering")
            self.poke()

    def on_server_message(self, m):
        which = m["_which"]
        body = m[which] if which else None
        if which == "join_response":
            if self.join_result is not None:
                self.fail(EXIT_SIGNALING, "unexpected second JoinResponse")
                return
            self.join_result = ("ok", body)
        elif which == "error":
            name = pb.ERROR_CODE_NAME.get(body["code"], str(body["code"]))
            out("error code=%s message=%r details=%s" % (name, body["message"],
                                                         json.dumps(body["details"])))
            if self.join_result is None:
                self.join_result = ("error", body)
            else:
                self.post_join_errors.append(body)
        elif which == "participant_joined":
            p = body["participant"] or {}
            if not p.get("participant_id"):
                self.fail(EXIT_SIGNALING, "ParticipantJoined without participant_id")
                return
            self.others[p["participant_id"]] = p
            out("participant_joined id=%s name=%r" % (p["participant_id"], p["name"]))
            for s in p.get("streams") or []:
                self.note_stream(p["participant_id"], s)
        elif which == "participant_left":
            if body["participant_id"] not in self.others:
                self.fail(EXIT_SIGNALING, "ParticipantLeft for unknown participant %r"
                          % body["participant_id"][:80])
                return
            self.others.pop(body["participant_id"], None)
            reason = pb.LEAVE_REASON_NAME.get(body["reason"], str(body["reason"]))
            self.left_events.append((body["participant_id"], reason))
            out("participant_left id=%s reason=%s" % (body["participant_id"], reason))
        elif which == "stream_published":
            s = body["stream"] or {}
            out("stream_published participant=%s stream=%s type=%s" % (
                body["participant_id"], s.get("stream_id"),
                pb.STREAM_TYPE_NAME.get(s.get("stream_type"), s.get("stream_type"))))
            if body["participant_id"] == self.pid:
                for pub in self.pubs:
                    if pub.stream_id == s.get("stream_id"):
                        pub.acked = True
            else:
                self.note_stream(body["participant_id"], s)
        elif which == "stream_quality_update":
            out("stream_quality_update stream=%s bitrate=%d loss=%.3f rtt=%d" % (
                body["stream_id"], body["available_bitrate"], body["packet_loss"],
                body["rtt_ms"]))
        else:
            self.fail(EXIT_SIGNALING, "empty ServerMessage")
        self.poke()

    def note_stream(self, pid, s):
        sid = s.get("stream_id")
        if not sid:
            return
        self.streams[sid] = (pid, s)
        if self.args.subscribe and self.media_ready and sid not in self.subscribed:
            self.subscribe(sid)

    def subscribe(self, sid):
        self.subscribed.add(sid)
        self.send_sig("subscribe_stream", {"stream_id": sid, "options": {}})
        out("subscribe stream=%s" % sid)

    # ------------------------------------------------------------ media --
    def media_data(self, sid, data, fin):
        if sid == self.auth_sid:
            try:
                msgs = self.auth_deframer.feed(data)
            except pb.FramingError as e:
                self.fail(EXIT_MEDIA_AUTH, "media auth framing error: %s" % e)
                return
            for raw in msgs:
                try:
                    m = pb.decode("MediaServerMessage", raw)
                except pb.ProtoError as e:
                    self.fail(EXIT_MEDIA_AUTH, "undecodable MediaServerMessage: %s" % e)
                    return
                if self.connect_result is None:
                    self.connect_result = (m["_which"], m[m["_which"]] if m["_which"] else None)
                elif m["_which"] == "error":
                    out("media error code=%s message=%r" % (
                        pb.ERROR_CODE_NAME.get(m["error"]["code"]), m["error"]["message"]))
            if fin and self.connect_result is None:
                self.connect_result = ("closed", None)
            self.poke()
            return
        if sid & 3 != 3:
            return   # only server-initiated unidirectional streams carry forwarded media
        if sid not in self.recv_parsers:
            self.recv_parsers[sid] = [V1Parser(max_payload=1 << 24), None]
        ent = self.recv_parsers[sid]
        if ent[0].finished:
            return
        try:
            events = ent[0].feed(data, fin)
            err = None
        except MediaError as e:
            events, err = e.events, e
        for kind, info, _payload in events:
            if kind == "header":
                key = str(uuid.UUID(bytes=info["stream_id"]))
                ent[1] = key
                self.recv.setdefault(key, SeqTracker())
                out("media_stream key=%s type=%d fourcc=%s" % (
                    key, info["stream_type"], info["fourcc"].decode("latin-1")))
            elif kind == "frame":
                self.count_frame(ent[1], info)
            elif kind == "end":
                tr = self.recv.get(ent[1])
                out("media_stream_end key=%s frames=%d gaps=%d" % (
                    ent[1], tr.frames if tr else 0, tr.gaps if tr else 0))
        if err is not None:
            self.media_sess.stop(sid, err.code)
            self.fail(EXIT_MEDIA_PROTOCOL, "forwarded stream %d: %s" % (sid, err.reason))
        self.poke()

    def count_frame(self, key, fr):
        tr = self.recv.setdefault(key, SeqTracker())
        r = tr.add(fr["sequence"])
        self.frames_received += 1
        vlog(self.role, "frame key=%s seq=%d len=%d" % (key, fr["sequence"], fr["length"]))
        if fr["flags"] & 0xFFFC:
            vlog(self.role, "reserved flag bits set (ignored)")
        if r == "violation":
            self.fail(EXIT_MEDIA_PROTOCOL, "stream %s: sequence %d repeats/decreases"
                      % (key, fr["sequence"]))

    def media_datagram(self, data):
        try:
            fr = parse_v2(data)
        except MediaError as e:
            self.fail(EXIT_MEDIA_PROTOCOL, "forwarded datagram: %s" % e.reason)
            return
        if fr["version"] != 1 or fr["frame_type"] > 2:
            self.fail(EXIT_MEDIA_PROTOCOL, "forwarded datagram with version %d frame type %d"
                      % (fr["version"], fr["frame_type"]))
            return
        self.count_frame("v2:%d:%d" % (fr["user_id"], fr["stream_id"]), fr)
        self.poke()

    def check_form(self, form, code):
        want = self.args.reset_codes
        if self.args.transport != "wt" or want == "any":
            return
        if form != want:
            self.fail(EXIT_MEDIA_PROTOCOL, "reset/stop code 0x%x arrived %s, expected %s"
                      % (code, form, want))

    def stream_reset(self, which, sess, sid, code, form):
        if which == "sig":
            if sid == self.sig_sid and not self.leaving:
                self.fail(EXIT_SIGNALING, "controller reset the signaling stream (code %d)" % code)
            return
        if sid == self.auth_sid:
            if self.connect_result is None:
                self.connect_result = ("reset", code)
            self.poke()
            return
        self.stream_resets.append((sid, code))
        out("forwarded_stream_reset stream=%d code=0x%02x (%s, %s)" % (
            sid, code, RESET_NAMES.get(code, "?"), form))
        if code != RESET_GRACEFUL:
            self.check_form(form, code)

    def stop_sending(self, which, sess, sid, code, form):
        if which != "media":
            return
        name = RESET_NAMES.get(code, "?")
        out("media_stream_stopped stream=%d code=0x%02x (%s, %s)" % (sid, code, name, form))
        self.check_form(form, code)
        if code == RESET_AUTH:
            self.fail(EXIT_MEDIA_AUTH, "handler refused media stream: 0x02 authentication failed")
        else:
            self.fail(EXIT_MEDIA_RESET, "handler stopped media stream %d with 0x%02x (%s)"
                      % (sid, code, name))

    def session_closed(self, which, info):
        if not self.leaving:
            self.fail(EXIT_LOST, "%s session closed: %s (0x%x)"
                      % ("signaling" if which == "sig" else "media", info.get("reason"),
                         info.get("error_code") or 0))

    # ---------------------------------------------------- media sending --
    def client_frame(self, ftype, u, ts, seq, payload, flags):
        tsb = struct.pack("<Q" if self.mutant == "cl-ts-le" else ">Q", ts)
        res = bytes(4 if self.mutant == "cl-frame-44" else 6)
        return (struct.pack(">BB16s", 1, ftype, u) + tsb
                + struct.pack(">QIH", seq, len(payload), flags) + res + payload)

    def frame_params(self, pub, i):
        a = self.args
        seq = i + (1 if self.mutant == "cl-seq-from-1" else 0)
        if pub.kind == "audio":
            ftype = 0
        else:
            ftype = 1 if i % 30 == 0 else 2
        flags = 0x8000 if self.mutant == "cl-eof-flag-msb" else FLAG_END_OF_FRAME
        payload = bytes((seq + j) & 0xFF for j in range(a.payload_size))
        return seq, ftype, flags, payload

    async def send_media(self, pub):
        a = self.args
        sess = self.media_sess
        interval = 1.0 / a.rate if a.rate > 0 else 0
        if a.media_version == 1:
            if self.mutant == "cl-bidi-media":
                pub.sid = sess.open_bidi()
            else:
                pub.sid = sess.open_uni()
            magic = b"DRAT" if self.mutant == "cl-magic-drat" else MAGIC
            sess.send(pub.sid, build_stream_header(pub.header_type, pub.uuid.bytes, pub.fourcc,
                                                   magic=magic))
        for i in range(a.frames):
            if self.failure is not None or sess.closed:
                break
            if a.media_version == 1 and pub.sid in sess.no_send:
                break
            seq, ftype, flags, payload = self.frame_params(pub, i)
            ts = int(time.time() * 1_000_000)
            if a.media_version == 1:
                sess.send(pub.sid, self.client_frame(ftype, pub.uuid.bytes, ts, seq, payload, flags))
            else:
                ver = 2 if self.mutant == "cl-v2-version-2" else 1
                sess.send_datagram(build_v2(ftype, self.user_id, pub.v2id, ts, seq, payload,
                                            flags=flags, version=ver))
            pub.sent += 1
            if interval:
                await asyncio.sleep(interval)
        if a.media_version == 1 and not a.keep_open:
            sess.send(pub.sid, b"", fin=True)
        out("published stream=%s frames=%d" % (pub.stream_id, pub.sent))

    # -------------------------------------------------------------- run --
    def expectations_met(self):
        a = self.args
        if a.expect_frames is not None and self.frames_received < a.expect_frames:
            return False
        if a.expect_left is not None:
            lefts = [r for _p, r in self.left_events
                     if a.expect_left_reason is None or r == a.expect_left_reason]
            if len(lefts) < a.expect_left:
                return False
        return True

    async def run(self):
        a = self.args
        host, port = parse_hostport(a.target)
        token = a.token
        if not token:
            if not a.secret:
                raise ClientExit(EXIT_USAGE, "need --token or --secret")
            token = jwt_encode({"meeting_id": a.meeting, "exp": int(time.time()) + a.token_ttl,
                                "iat": int(time.time())}, a.secret)
        for i, spec in enumerate(a.publish or []):
            try:
                self.pubs.append(Publication(spec, a.media_version, i))
            except ValueError as e:
                raise ClientExit(EXIT_USAGE, str(e))
        if a.media_version == 2 and a.payload_size > 1100:
            raise ClientExit(EXIT_USAGE, "v2 payload must fit a datagram (<= 1100 bytes)")
        if a.keepalive and a.keepalive > 0:
            asyncio.get_event_loop().create_task(self.keepalive())

        # 1. signaling session + JoinRequest
        self.sig_sess = await self.open_session(host, port, a.path, ClientApp(self, "sig"),
                                                "controller")
        self.sig_sid = self.sig_sess.open_bidi()
        if self.mutant == "cl-publish-first":
            self.send_sig("publish_stream", {"stream_id": str(uuid.uuid4()), "stream_type": 1})
        self.send_sig("join_request", {
            "meeting_id": a.meeting, "join_token": token, "participant_name": a.name,
            "capabilities": {"video_codecs": ["VP8", "VP9", "AV1", "H264"],
                             "audio_codecs": ["opus"], "supports_simulcast": False,
                             "max_video_streams": 4}})
        await self.until(lambda: self.join_result is not None, a.timeout, EXIT_TIMEOUT,
                         "JoinResponse")
        kind, body = self.join_result
        if kind == "error":
            code = body["code"]
            name = pb.ERROR_CODE_NAME.get(code, str(code))
            raise ClientExit(EXIT_JOIN_BASE + code if code <= 9 else EXIT_JOIN_BASE,
                             "join rejected: %s: %s" % (name, body["message"]))
        jr = body
        self.pid = jr["participant_id"]
        if not self.pid:
            raise ClientExit(EXIT_SIGNALING, "JoinResponse without participant_id")
        self.user_id = int.from_bytes(hashlib.sha256(self.pid.encode()).digest()[:8], "big")
        for p in jr["existing_participants"]:
            self.others[p["participant_id"]] = p
            for s in p["streams"]:
                self.streams[s["stream_id"]] = (p["participant_id"], s)
        ms = jr["media_server"] or {}
        out("joined participant_id=%s meeting=%s existing=%d media_url=%s" % (
            self.pid, a.meeting, len(jr["existing_participants"]), ms.get("media_handler_url")))

        # 2. wait for other participants
        if a.expect_participants:
            await self.until(lambda: len(self.others) >= a.expect_participants, a.timeout,
                             EXIT_EXPECT, "%d other participant(s)" % a.expect_participants)

        # 3. media session + ConnectRequest (DT7)
        need_media = bool(self.pubs) or a.subscribe or a.expect_frames or a.media
        if need_media:
            url = a.media_url or ms.get("media_handler_url") or ""
            try:
                u = urlparse(url if "//" in url else "https://" + url)
                mport = u.port or 443
            except ValueError:
                u = None
            if u is None or not u.hostname:
                raise ClientExit(EXIT_SIGNALING, "unusable media_handler_url %r" % url)
            mpath = (u.path or PATH_MEDIA) + ("?" + u.query if u.query else "")
            self.media_sess = await self.open_session(u.hostname, mport, mpath,
                                                      ClientApp(self, "media"), "handler")
            if self.mutant != "cl-no-connect":
                self.auth_sid = self.media_sess.open_bidi()
                data = pb.encode("MediaClientMessage", {"connect_request": {
                    "join_token": ms.get("connection_token", "")}})
                self.media_sess.send(self.auth_sid, pb.frame(data))
                await self.until(lambda: self.connect_result is not None, a.timeout,
                                 EXIT_TIMEOUT, "ConnectResponse")
                kind, body = self.connect_result
                if kind != "connect_response":
                    detail = ""
                    if kind == "error":
                        detail = "%s: %s" % (pb.ERROR_CODE_NAME.get(body["code"]), body["message"])
                    raise ClientExit(EXIT_MEDIA_AUTH, "media connect refused (%s) %s"
                                     % (kind, detail))
                out("media_connected participant_id=%s" % body["participant_id"])
            self.media_ready = True

        # 4. publish
        for pub in self.pubs:
            self.send_sig("publish_stream", {
                "stream_id": pub.stream_id, "stream_type": pub.proto_type,
                "metadata": {"codec": pub.fourcc.decode("latin-1"), "max_bitrate": 1_000_000,
                             "video": None if pub.kind == "audio" else
                             {"width": 640, "height": 480, "framerate": int(a.rate)}}})
            try:
                await self.until(lambda: pub.acked or len(self.post_join_errors) > 0,
                                 a.ack_wait, EXIT_TIMEOUT, "StreamPublished for %s" % pub.stream_id)
            except ClientExit as e:
                if e.code != EXIT_TIMEOUT or a.require_ack:
                    raise
                out("note: no StreamPublished echo for %s within %.1f s; continuing"
                    % (pub.stream_id, a.ack_wait))
                continue
            if not pub.acked:
                e = self.post_join_errors[0]
                raise ClientExit(EXIT_REQUEST_REJECTED, "publish rejected: %s: %s" % (
                    pb.ERROR_CODE_NAME.get(e["code"]), e["message"]))

        # 5. subscribe to everything the others publish
        if a.subscribe:
            for sid, (pid, _s) in list(self.streams.items()):
                if pid != self.pid and sid not in self.subscribed:
                    self.subscribe(sid)

        # 6. send media
        if a.delay:
            await self.sleep(a.delay)
        if self.pubs:
            tasks = [asyncio.ensure_future(self.send_media(p)) for p in self.pubs]
            try:
                while not all(t.done() for t in tasks):
                    await self.sleep(0.05)
            finally:
                for t in tasks:
                    if not t.done():
                        t.cancel()
            for t in tasks:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()

        # 7. stay
        has_expect = a.expect_frames is not None or a.expect_left is not None
        deadline = time.monotonic() + a.stay
        while time.monotonic() < deadline:
            if has_expect and self.expectations_met() and not a.linger:
                break
            await self.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        if self.failure is not None:
            raise ClientExit(*self.failure)
        if self.post_join_errors:
            e = self.post_join_errors[0]
            raise ClientExit(EXIT_REQUEST_REJECTED, "request rejected: %s: %s" % (
                pb.ERROR_CODE_NAME.get(e["code"]), e["message"]))
        if not self.expectations_met():
            raise ClientExit(EXIT_EXPECT, "expectations not met: frames_received=%d "
                             "(want %s), left=%s (want %s %s)" % (
                                 self.frames_received, a.expect_frames, self.left_events,
                                 a.expect_left, a.expect_left_reason or ""))
        return EXIT_OK

    async def leave(self):
        self.leaving = True
        try:
            if self.sig_sess is not None and not self.sig_sess.closed:
                self.sig_sess.send(self.sig_sid, b"", fin=True)
                await asyncio.sleep(0.05)
        except Exception:
            pass
        for proto, transport in self.protos:
            try:
                proto.close(error_code=H3_NO_ERROR if proto.mode == "wt" else 0)
            except Exception:
                pass
        for proto, transport in self.protos:
            try:
                await asyncio.wait_for(proto.wait_closed(), 1.0)
            except Exception:
                pass
            transport.close()

    def summary(self):
        return {
            "participant_id": self.pid,
            "others": sorted(self.others),
            "frames_sent": sum(p.sent for p in self.pubs),
            "frames_received": self.frames_received,
            "streams_received": {k: {"frames": t.frames, "gaps": t.gaps,
                                     "violations": t.violations, "first_seq": t.first}
                                 for k, t in self.recv.items()},
            "left": self.left_events,
            "errors": [{"code": pb.ERROR_CODE_NAME.get(e["code"]), "message": e["message"]}
                       for e in self.post_join_errors],
        }


async def client_main(args):
    c = Client(args)
    code, msg = EXIT_OK, "ok"
    try:
        code = await c.run()
    except ClientExit as e:
        code, msg = e.code, e.msg
    except Exception as e:
        code, msg = EXIT_USAGE, "internal error: %r" % (e,)
        if VERBOSE:
            import traceback
            traceback.print_exc()
    await c.leave()
    out("summary " + json.dumps(c.summary(), sort_keys=True))
    out("result %s exit=%d %s" % ("ok" if code == 0 else "fail", code, msg))
    return code


# ------------------------------------------------------------ server main ---
async def servers_main(args, role):
    loop = asyncio.get_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    args._certinfo = load_or_generate_cert(args)
    started = []
    ctl = handler = None
    if role in ("controller", "server"):
        ctl = Controller(args)
    if role in ("handler", "server"):
        handler = MediaHandler(args)
    if ctl is not None and handler is not None:
        ctl.link = handler
        handler.link = ctl
    if handler is not None:
        listen = args.media_listen if role == "server" else args.listen
        mpath = args.media_path if role == "server" else args.path
        srv, host, port, digest = await start_listener("handler", args, listen, handler,
                                                       mpath, stop)
        started.append(("handler", srv, host, port, digest))
        if ctl is not None and not ctl.media_url:
            h = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            ctl.media_url = "https://%s%s" % (fmt_hostport(h, port), mpath)
    if ctl is not None:
        srv, host, port, digest = await start_listener("controller", args, args.listen, ctl,
                                                       args.path, stop)
        started.append(("controller", srv, host, port, digest))
    for name, _srv, host, port, digest in started:
        print("%s cert-sha256 %s" % (name, digest), flush=True)
        if name == "controller":
            print("controller media-url %s" % ctl.media_url_for(), flush=True)
    for name, _srv, host, port, digest in sorted(started, key=lambda x: x[0] == "controller"):
        print("%s listening on %s" % (name, fmt_hostport(host, port)), flush=True)
    await stop.wait()
    for name, srv, *_ in started:
        try:
            srv.close()
        except Exception:
            pass
    log(role, "stopped")
    return 0


def cmd_token(args):
    claims = {}
    if args.meeting is not None:
        claims["meeting_id"] = args.meeting
    if args.participant is not None:
        claims["participant_id"] = args.participant
    now = int(time.time())
    claims["iat"] = now
    claims["exp"] = args.exp if args.exp is not None else now + args.ttl
    for kv in args.claim or []:
        k, _, v = kv.partition("=")
        try:
            claims[k] = json.loads(v)
        except ValueError:
            claims[k] = v
    print(jwt_encode(claims, args.secret), flush=True)
    return 0


def cmd_gencert(args):
    cert, key = generate_cert(tuple(args.name or ["localhost"]), days=args.days)
    write_pem(cert, key, args.cert_out, args.key_out)
    print("cert-sha256 %s" % cert_der_sha256(cert), flush=True)
    return 0


def cmd_mutants(args):
    for name, (role, what, breaks) in MUTANTS.items():
        if args.role and role != args.role:
            continue
        print("%-24s %-10s %s -- %s" % (name, role, what, breaks))
    return 0


# ------------------------------------------------------------------- CLI ---
def add_server_common(p, default_listen, default_path):
    p.add_argument("--listen", default=default_listen,
                   help="HOST:PORT to listen on (UDP); port 0 = ephemeral (default %(default)s)")
    p.add_argument("--cert", help="PEM certificate (chain) file; default: generate "
                   "a self-signed ECDSA P-256 certificate valid 13 days")
    p.add_argument("--key", help="PEM private key file (default: same file as --cert)")
    p.add_argument("--cert-name", action="append",
                   help="DNS name/IP for the generated certificate (repeatable, default localhost)")
    p.add_argument("--cert-out", help="write the generated certificate (PEM) here")
    p.add_argument("--key-out", help="write the generated private key (PEM) here")
    p.add_argument("--keylog", help="append TLS secrets here (SSLKEYLOGFILE format)")
    p.add_argument("--secret", default=os.environ.get("DT_JWT_SECRET", DEFAULT_SECRET),
                   help="JWT HS256 secret (default $DT_JWT_SECRET or %r)" % DEFAULT_SECRET)
    p.add_argument("--transport", choices=["wt", "quic", "both"], default="both",
                   help="accept WebTransport (ALPN h3), bare QUIC (ALPN %s) or both "
                   "(default both)" % ALPN_QUIC)
    p.add_argument("--reset-codes", choices=["mapped", "raw"], default="mapped",
                   help="DT9 profile for stream reset/stop codes over WebTransport "
                   "(default mapped; bare QUIC always raw)")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="QUIC idle timeout in seconds (DT10, default 30)")
    p.add_argument("--keepalive", type=float, default=0.0,
                   help="server-sent QUIC PING interval in seconds, 0 = off (default 0)")
    p.add_argument("--path", default=default_path,
                   help="WebTransport path (default %(default)s)")
    p.add_argument("--strict-path", action="store_true",
                   help="answer 404 to WebTransport CONNECTs for other paths")
    p.add_argument("--mutant", help="run a deliberately wrong variant (see `mutants`)")
    p.add_argument("-v", "--verbose", action="store_true")


def add_controller_opts(p):
    p.add_argument("--meeting", action="append",
                   help="meeting known to the controller: ID or ID=CAPACITY (repeatable or "
                   "comma-separated); without any --meeting every meeting id is accepted")
    p.add_argument("--ended", action="append",
                   help="meeting id that has ended (repeatable or comma-separated)")
    p.add_argument("--capacity", type=int, default=16,
                   help="maximum participants per meeting (default %(default)s)")
    p.add_argument("--media-url",
                   help="media_handler_url announced in JoinResponse "
                   "(default https://HOST:PORT+1/media, or the co-hosted handler)")


def add_handler_opts(p, default_forward):
    p.add_argument("--forward", choices=["all", "subscribed"], default=default_forward,
                   help="forward media to every other media participant of the meeting, "
                   "or only to subscribers (needs the controller in the same process)")
    p.add_argument("--max-payload", type=int, default=1 << 20,
                   help="largest accepted v1 frame payload; above -> reset 0x03 (default 1 MiB)")
    p.add_argument("--max-streams", type=int, default=16,
                   help="concurrent media streams per session; above -> reset 0x03 (default 16)")


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print("%s: error: %s" % (self.prog, message), file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser():
    ap = Parser(prog="darktower.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("controller", help="Meeting Controller (signaling server)")
    add_server_common(p, "127.0.0.1:4433", PATH_SIGNALING)
    add_controller_opts(p)

    p = sub.add_parser("handler", help="Media Handler (media server)")
    add_server_common(p, "127.0.0.1:4434", PATH_MEDIA)
    add_handler_opts(p, "all")

    p = sub.add_parser("server", help="controller and handler in one process")
    add_server_common(p, "127.0.0.1:4433", PATH_SIGNALING)
    add_controller_opts(p)
    add_handler_opts(p, "all")
    p.add_argument("--media-listen", default="127.0.0.1:4434",
                   help="HOST:PORT for the Media Handler (default %(default)s)")
    p.add_argument("--media-path", default=PATH_MEDIA,
                   help="WebTransport path of the Media Handler (default %(default)s)")

    p = sub.add_parser("client", help="participant following a plan")
    p.add_argument("--target", default="127.0.0.1:4433", help="controller HOST:PORT")
    p.add_argument("--transport", choices=["wt", "quic"], default="wt",
                   help="WebTransport over HTTP/3 or bare QUIC (default wt)")
    p.add_argument("--path", default=PATH_SIGNALING, help="controller WebTransport path")
    p.add_argument("--media-version", type=int, choices=[1, 2], default=1,
                   help="1: 46-byte frames on unidirectional streams; 2: 42-byte datagrams")
    p.add_argument("--meeting", required=True, help="meeting id")
    p.add_argument("--name", default="dt-client", help="participant name")
    p.add_argument("--token", help="join token (JWT)")
    p.add_argument("--secret", default=os.environ.get("DT_JWT_SECRET", DEFAULT_SECRET),
                   help="without --token, mint the join token {meeting_id, exp} with this "
                   "secret (default $DT_JWT_SECRET or %r)" % DEFAULT_SECRET)
    p.add_argument("--token-ttl", type=int, default=300, help="lifetime of a minted token")
    p.add_argument("--cert-hash", action="append",
                   help="trust a server certificate with this SHA-256 (hex, repeatable)")
    p.add_argument("--ca", help="trust certificates signed by this CA file (PEM)")
    p.add_argument("--insecure", action="store_true", help="do not verify certificates")
    p.add_argument("--server-name", help="TLS server name (SNI / verification)")
    p.add_argument("--keylog", help="append TLS secrets here (SSLKEYLOGFILE format)")
    p.add_argument("--media-url", help="override the media_handler_url from JoinResponse")
    p.add_argument("--media", action="store_true", help="connect to the handler even if the "
                   "plan has no media")
    p.add_argument("--publish", action="append",
                   help="KIND[:FOURCC[:ID]] with KIND video|audio|screen (repeatable)")
    p.add_argument("--frames", type=int, default=10, help="frames per published stream")
    p.add_argument("--rate", type=float, default=50.0, help="frames per second")
    p.add_argument("--payload-size", type=int, default=100, help="payload bytes per frame")
    p.add_argument("--keep-open", action="store_true",
                   help="do not FIN media streams after the last frame")
    p.add_argument("--ack-wait", type=float, default=2.0,
                   help="seconds to wait for the StreamPublished echo of our own stream "
                   "(default 2; without echo the client continues unless --require-ack)")
    p.add_argument("--require-ack", action="store_true",
                   help="a missing StreamPublished echo is a failure (exit 8)")
    p.add_argument("--subscribe", action="store_true",
                   help="subscribe to every stream the other participants publish")
    p.add_argument("--expect-participants", type=int, default=0,
                   help="wait for N other participants before media")
    p.add_argument("--expect-frames", type=int, help="require N forwarded frames received")
    p.add_argument("--expect-left", type=int, help="require N ParticipantLeft events")
    p.add_argument("--expect-left-reason", choices=list(pb.LEAVE_REASON),
                   help="only count ParticipantLeft with this reason")
    p.add_argument("--delay", type=float, default=0.0, help="seconds to wait before sending media")
    p.add_argument("--stay", type=float, default=2.0,
                   help="seconds to stay after sending (ends early once expectations are met)")
    p.add_argument("--linger", action="store_true", help="always stay the full --stay time")
    p.add_argument("--timeout", type=float, default=10.0, help="per-step timeout in seconds")
    p.add_argument("--reset-codes", choices=["mapped", "raw", "any"], default="any",
                   help="expected DT9 form of codes over WebTransport (default any)")
    p.add_argument("--idle-timeout", type=float, default=30.0, help="QUIC idle timeout")
    p.add_argument("--keepalive", type=float, default=15.0,
                   help="QUIC PING interval, 0 = off (default 15)")
    p.add_argument("--mutant", help="run a deliberately wrong variant (see `mutants`)")
    p.add_argument("-v", "--verbose", action="store_true")

    p = sub.add_parser("token", help="mint a JWT HS256 token")
    p.add_argument("--secret", default=os.environ.get("DT_JWT_SECRET", DEFAULT_SECRET))
    p.add_argument("--meeting", help="meeting_id claim")
    p.add_argument("--participant", help="participant_id claim (media tokens)")
    p.add_argument("--ttl", type=int, default=300, help="seconds until exp (default 300)")
    p.add_argument("--exp", type=int, help="absolute exp (Unix seconds), e.g. in the past")
    p.add_argument("--claim", action="append", help="extra claim NAME=VALUE (JSON or string)")

    p = sub.add_parser("gencert", help="generate an ECDSA P-256 certificate (<14 days)")
    p.add_argument("--cert-out", required=True)
    p.add_argument("--key-out", required=True)
    p.add_argument("--name", action="append")
    p.add_argument("--days", type=int, default=13)

    p = sub.add_parser("mutants", help="list the mutants")
    p.add_argument("--role", choices=["controller", "handler", "client"])
    return ap


def main(argv=None):
    global VERBOSE
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.cmd != "mutants":
        args.role = args.cmd
    else:
        args.mutant = None
    VERBOSE = bool(getattr(args, "verbose", False))
    import logging
    logging.basicConfig(level=logging.INFO if VERBOSE else logging.ERROR,
                        format="%(asctime)s %(name)s %(message)s")
    if getattr(args, "mutant", None):
        ent = MUTANTS.get(args.mutant)
        allowed = {"controller": ("controller",), "handler": ("handler",),
                   "server": ("controller", "handler"), "client": ("client",)}[args.role]
        if ent is None or ent[0] not in allowed:
            print("unknown mutant %r for role %s (see `darktower.py mutants`)"
                  % (args.mutant, args.role), file=sys.stderr)
            return EXIT_USAGE
        log(args.role, "MUTANT %s: %s (%s)" % (args.mutant, ent[1], ent[2]))
    if args.cmd == "token":
        return cmd_token(args)
    if args.cmd == "gencert":
        return cmd_gencert(args)
    if args.cmd == "mutants":
        return cmd_mutants(args)
    try:
        if args.role == "client":
            return asyncio.run(client_main(args))
        return asyncio.run(servers_main(args, args.role))
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        print("%s: cannot start: %s" % (args.role, e), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
