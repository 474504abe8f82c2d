#!/usr/bin/env python3
"""darktower_peer.py -- an independent implementation of the Dark Tower protocol
(WebTransport / bare QUIC video-conferencing signaling and media).

Written only from shared/protocols/darktower.md (wire facts, decisions DT1-DT11) and the harness's
notes (DH1-DH16 and the external-IUT contract). No other Dark Tower implementation was read. One
file, Python 3.11, aioquic 1.2.0 (sans-I/O QuicConnection driven by our own asyncio UDP endpoints,
H3Connection(enable_webtransport=True) for WebTransport). Protobuf and JWT are coded by hand.

Usage
-----
  darktower_peer.py controller --listen HOST:PORT [--transport webtransport|quic] [--reset-codes mapped|raw]
        [--cert PEM --key PEM] [--keylog FILE] --token-secret S [--idle-ms N] [--keepalive-ms N]
        [--meeting ID]... [--ended ID]... [--capacity N] --handler-url URL [--profile v1|v2] [--mutant NAME]
  darktower_peer.py handler --listen HOST:PORT [--transport ...] [--reset-codes ...] [--cert PEM --key PEM]
        [--keylog FILE] --token-secret S [--idle-ms N] [--profile v1|v2] [--mutant NAME]
  darktower_peer.py client (--target HOST:PORT | --controller-url URL) [--transport ...] [--profile v1|v2]
        [--reset-codes ...] [--cert-hash HEX] [--keylog FILE] --join-token JWT [--name NAME] [--meeting ID]
        [--frames N] [--fps N] [--payload-bytes N] [--linger-ms N] [--publish video,audio|none]
        [--idle-ms N] [--keepalive-ms N] [--op-ms N] [--mutant NAME]
  controller and handler also take [--plant crash|hang] (planted bugs for the network-fuzzing
  evaluation, see ../PLANTED.md).

Exit codes: 0 ok (servers: SIGTERM/SIGINT), 1 failure, 2 usage error, 89 unsupported.
The choices made where the documents are silent are listed in README.md ("Choices").
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import signal
import socket
import ssl
import struct
import sys
import time
import uuid
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

try:
    from aioquic.buffer import Buffer
    from aioquic.h3 import events as he
    from aioquic.h3.connection import H3Connection
    from aioquic.quic import events as qe
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.packet import QuicPacketType, encode_quic_version_negotiation, pull_quic_header
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError as _exc:  # pragma: no cover
    print(f"unsupported: aioquic is not installed ({_exc})", file=sys.stderr)
    sys.exit(89)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNSUPPORTED = 0, 1, 2, 89

ALPN_QUIC = "darktower"
# DH1 (as amended): bare-QUIC media sessions use their own ALPN, so one port can serve both.
ALPN_QUIC_MEDIA = "darktower-media"
ALPN_H3 = "h3"
WT_ERROR_BASE = 0x52E4A40FA8DB          # first HTTP/3 code of the WebTransport application error space
H3_NO_ERROR = 0x100
CAPSULE_CLOSE_WT_SESSION = 0x2843
MAX_SIGNAL_LEN = 65536
MAX_NAME_BYTES = 256
MEDIA_TOKEN_TTL_S = 300
MAX_PAYLOAD = 1 << 20                    # the handler's per-stream window (DH12: longer -> 0x03)
STREAM_WINDOW = 1 << 20                  # handler flow control: 1 MiB per stream
CONN_WINDOW = 10 << 20                   # ... and 10 MiB per connection
MAX_DATAGRAM_FRAME = 65535
MAX_DGRAM_PAYLOAD = 1100                 # what one 1200-byte QUIC packet can carry (with headroom)
CID_LEN = 8

MAGIC = b"DART"
HEADER_LEN = 32
FRAME_HDR_LEN = 46
V2_HDR_LEN = 42
FOURCCS = (b"Opus", b"VP08", b"VP09", b"AV01", b"H264")

# reset codes (darktower.md)
RC_GRACEFUL, RC_FORMAT, RC_AUTH, RC_QUOTA, RC_INTERNAL = 0x00, 0x01, 0x02, 0x03, 0x04

# enums
AUDIO, VIDEO_CAMERA, VIDEO_SCREEN = 0, 1, 2
PLANTS = ("crash", "hang")  # planted bugs (see PLANTED.md)
VOLUNTARY, KICKED, CONNECTION_LOST, MEETING_ENDED = 0, 1, 2, 3
(E_UNKNOWN, E_INVALID_REQUEST, E_UNAUTHORIZED, E_FORBIDDEN, E_NOT_FOUND, E_CONFLICT, E_INTERNAL,
 E_CAPACITY_EXCEEDED, E_STREAM_ERROR) = range(9)
ERROR_NAMES = ["UNKNOWN", "INVALID_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT",
               "INTERNAL_ERROR", "CAPACITY_EXCEEDED", "STREAM_ERROR"]
LEAVE_NAMES = ["VOLUNTARY", "KICKED", "CONNECTION_LOST", "MEETING_ENDED"]

# name -> (role, rule, description)
MUTANTS: Dict[str, Tuple[str, str, str]] = {
    # controller
    "no-capacity-check": ("controller", "DH6",
                          "a meeting at capacity admits one more participant instead of answering CAPACITY_EXCEEDED"),
    "expired-token-accepted": ("controller", "DH4",
                               "a join token with exp <= now is accepted instead of UNAUTHORIZED"),
    "bad-signature-accepted": ("controller", "DH4",
                               "a join token whose HS256 signature does not verify is accepted instead of UNAUTHORIZED"),
    "no-participant-joined": ("controller", "DH8",
                              "the others get no ParticipantJoined when someone joins"),
    "stream-published-to-publisher": ("controller", "DH8",
                                      "StreamPublished also goes back to the publisher (not only to the others)"),
    "idle-leave-voluntary": ("controller", "DT10",
                             "a participant whose connection idles out leaves with VOLUNTARY instead of CONNECTION_LOST"),
    "zero-length-accepted": ("controller", "DT6",
                             "a signaling length of 0 is skipped as an empty message instead of closing with STREAM_ERROR"),
    "long-name-accepted": ("controller", "DT6",
                           "a participant_name over 256 bytes is accepted instead of INVALID_REQUEST"),
    "first-message-not-join-accepted": ("controller", "DT6",
                                        "a first message other than JoinRequest is ignored (a later JoinRequest "
                                        "joins) instead of INVALID_REQUEST and FIN"),
    "ended-meeting-joinable": ("controller", "DH6",
                               "a meeting given with --ended can be joined instead of NOT_FOUND"),
    # handler
    "bad-magic-accepted": ("handler", "DT5",
                           "a media stream header with bad magic is accepted (and forwarded) instead of reset 0x01"),
    "media-before-auth-accepted": ("handler", "DT7",
                                   "a media stream opened before ConnectResponse is read instead of reset 0x02"),
    "auth-reset-code-0x01": ("handler", "DT7",
                             "a media stream before authentication is reset with 0x01 instead of 0x02"),
    "media-token-reuse-accepted": ("handler", "DT8",
                                   "a media token already used is accepted again instead of UNAUTHORIZED"),
    "stream-id-mismatch-accepted": ("handler", "DT3",
                                    "a frame whose stream id differs from its header's is forwarded instead of reset 0x01"),
    "v2-bad-version-forwarded": ("handler", "DT11",
                                 "v2: a datagram with version != 1 is forwarded instead of dropped"),
    "forwarded-header-altered": ("handler", "DH13",
                                 "the forwarded stream header carries the FourCC byte-reversed instead of the same 32 bytes"),
    "mapped-codes-sent-raw": ("handler", "DT9",
                              "with --reset-codes mapped over WebTransport, reset codes are sent raw instead of mapped"),
    "no-payload-quota": ("handler", "DH12",
                         "a frame whose payload length exceeds 1 MiB is waited for instead of reset 0x03"),
    # client
    "sequence-from-1": ("client", "DT10",
                        "frame sequence numbers start at 1 instead of 0"),
    "magic-reversed": ("client", "DT5",
                       "the stream header magic is written byte-reversed (TRAD) instead of DART"),
    "no-publish-stream": ("client", "DH15",
                          "media is sent without a PublishStream to the controller first"),
    "exit-0-after-error": ("client", "DH15",
                           "an ErrorMessage (or a rejected token) still ends with exit 0"),
    "length-prefix-little-endian": ("client", "DT4",
                                    "the signaling u32 length prefix is written little-endian"),
}


def planted(kind: str) -> None:
    """planted bug (see PLANTED.md)"""
    if kind == "crash":
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except Exception:  # noqa: BLE001
            pass
        os.abort()
    while True:
        time.sleep(3600)


class Usage(Exception):
    pass


class Unsupported(Exception):
    pass


def log(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except Exception:  # noqa: BLE001
        pass


# ============================================================================================
# protobuf (proto3) wire codec, by hand
# ============================================================================================

class DecodeError(Exception):
    pass


def enc_varint(v: int) -> bytes:
    if v < 0:
        v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def dec_varint(data, pos: int) -> Tuple[int, int]:
    result = 0
    shift = 0
    for i in range(10):
        if pos >= len(data):
            raise DecodeError("truncated varint")
        b = data[pos]
        pos += 1
        if i == 9 and b > 1:
            raise DecodeError("varint over 64 bits")
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise DecodeError("varint over 10 bytes")


WT_VARINT, WT_I64, WT_LEN, WT_I32 = 0, 1, 2, 5
SCALAR_WIRE = {"string": WT_LEN, "bytes": WT_LEN, "bool": WT_VARINT, "uint32": WT_VARINT,
               "uint64": WT_VARINT, "enum": WT_VARINT, "float": WT_I32}
DEFAULTS = {"string": "", "bytes": b"", "bool": False, "uint32": 0, "uint64": 0, "enum": 0, "float": 0.0}

# message name -> {field number: (field name, type, repeated)}; type is a scalar, "map" (string->string)
# or a message name. ONEOF: messages whose fields form one oneof.
S, R = False, True
SCHEMA: Dict[str, Dict[int, Tuple[str, str, bool]]] = {
    "ParticipantCapabilities": {1: ("video_codecs", "string", R), 2: ("audio_codecs", "string", R),
                                3: ("supports_simulcast", "bool", S), 4: ("max_video_streams", "uint32", S)},
    "JoinRequest": {1: ("meeting_id", "string", S), 2: ("join_token", "string", S),
                    3: ("participant_name", "string", S), 4: ("capabilities", "ParticipantCapabilities", S)},
    "EncryptionKeys": {1: ("public_key", "bytes", S), 2: ("key_id", "string", S)},
    "MediaServerInfo": {1: ("media_handler_url", "string", S), 2: ("connection_token", "string", S)},
    "SimulcastLayer": {1: ("layer_id", "string", S), 2: ("width", "uint32", S), 3: ("height", "uint32", S),
                       4: ("max_bitrate", "uint32", S)},
    "VideoMetadata": {1: ("width", "uint32", S), 2: ("height", "uint32", S), 3: ("framerate", "uint32", S),
                      4: ("simulcast_layers", "SimulcastLayer", R)},
    "StreamMetadata": {1: ("codec", "string", S), 2: ("max_bitrate", "uint32", S), 3: ("video", "VideoMetadata", S)},
    "MediaStream": {1: ("stream_id", "string", S), 2: ("stream_type", "enum", S), 3: ("metadata", "StreamMetadata", S)},
    "Participant": {1: ("participant_id", "string", S), 2: ("name", "string", S), 3: ("streams", "MediaStream", R),
                    4: ("joined_at", "uint64", S)},
    "JoinResponse": {1: ("participant_id", "string", S), 2: ("existing_participants", "Participant", R),
                     3: ("media_server", "MediaServerInfo", S), 4: ("encryption_keys", "EncryptionKeys", S)},
    "ParticipantJoined": {1: ("participant", "Participant", S)},
    "ParticipantLeft": {1: ("participant_id", "string", S), 2: ("reason", "enum", S)},
    "PublishStream": {1: ("stream_id", "string", S), 2: ("stream_type", "enum", S), 3: ("metadata", "StreamMetadata", S)},
    "StreamPublished": {1: ("participant_id", "string", S), 2: ("stream", "MediaStream", S)},
    "SubscriptionOptions": {1: ("preferred_layer", "string", S), 2: ("max_bitrate", "uint32", S)},
    "SubscribeStream": {1: ("stream_id", "string", S), 2: ("options", "SubscriptionOptions", S)},
    "UnsubscribeStream": {1: ("stream_id", "string", S)},
    "StreamQualityUpdate": {1: ("stream_id", "string", S), 2: ("available_bitrate", "uint32", S),
                            3: ("packet_loss", "float", S), 4: ("rtt_ms", "uint32", S)},
    "ErrorMessage": {1: ("code", "enum", S), 2: ("message", "string", S), 3: ("details", "map", S)},
    "ClientMessage": {1: ("join_request", "JoinRequest", S), 2: ("publish_stream", "PublishStream", S),
                      3: ("subscribe_stream", "SubscribeStream", S), 4: ("unsubscribe_stream", "UnsubscribeStream", S),
                      5: ("stream_quality_update", "StreamQualityUpdate", S)},
    "ServerMessage": {1: ("join_response", "JoinResponse", S), 2: ("participant_joined", "ParticipantJoined", S),
                      3: ("participant_left", "ParticipantLeft", S), 4: ("stream_published", "StreamPublished", S),
                      5: ("stream_quality_update", "StreamQualityUpdate", S), 6: ("error", "ErrorMessage", S)},
    # DT7: media authentication
    "ConnectRequest": {1: ("join_token", "string", S)},
    "ConnectResponse": {1: ("participant_id", "string", S)},
    "MediaClientMessage": {1: ("connect_request", "ConnectRequest", S)},
    "MediaServerMessage": {1: ("connect_response", "ConnectResponse", S), 2: ("error", "ErrorMessage", S)},
}
ONEOF = {"ClientMessage", "ServerMessage", "MediaClientMessage", "MediaServerMessage"}


def _enc_scalar(ftype: str, v) -> bytes:
    if ftype == "string":
        b = v.encode("utf-8")
        return enc_varint(len(b)) + b
    if ftype == "bytes":
        return enc_varint(len(v)) + bytes(v)
    if ftype == "bool":
        return enc_varint(1 if v else 0)
    if ftype == "float":
        return struct.pack("<f", v)
    return enc_varint(int(v))


def _key(num: int, wt: int) -> bytes:
    return enc_varint((num << 3) | wt)


def encode(msg_name: str, msg: dict) -> bytes:
    """Encode a dict (field name -> value). Scalars equal to their default are left out (proto3);
    a sub-message given as a dict (even empty) is written; repeated numeric scalars are packed."""
    out = bytearray()
    for num, (name, ftype, rep) in sorted(SCHEMA[msg_name].items()):
        if name not in msg or msg[name] is None:
            continue
        v = msg[name]
        if ftype == "map":
            for k, val in v.items():
                entry = _key(1, WT_LEN) + _enc_scalar("string", k) + _key(2, WT_LEN) + _enc_scalar("string", val)
                out += _key(num, WT_LEN) + enc_varint(len(entry)) + entry
        elif ftype in SCHEMA:
            for item in (v if rep else [v]):
                body = encode(ftype, item)
                out += _key(num, WT_LEN) + enc_varint(len(body)) + body
        elif rep:
            if not v:
                continue
            if SCALAR_WIRE[ftype] == WT_LEN:
                for item in v:
                    out += _key(num, WT_LEN) + _enc_scalar(ftype, item)
            else:
                body = b"".join(_enc_scalar(ftype, item) for item in v)
                out += _key(num, WT_LEN) + enc_varint(len(body)) + body
        else:
            if v == DEFAULTS[ftype] and not (ftype == "float" and struct.pack("<f", v) != b"\0\0\0\0"):
                continue
            out += _key(num, SCALAR_WIRE[ftype]) + _enc_scalar(ftype, v)
    return bytes(out)


def _dec_scalar(ftype: str, wt: int, data, pos: int):
    if ftype == "float":
        if pos + 4 > len(data):
            raise DecodeError("truncated fixed32")
        return struct.unpack_from("<f", data, pos)[0], pos + 4
    if ftype in ("string", "bytes"):
        n, pos = dec_varint(data, pos)
        if pos + n > len(data):
            raise DecodeError("length-delimited field past the end")
        raw = bytes(data[pos:pos + n])
        if ftype == "string":
            try:
                return raw.decode("utf-8"), pos + n
            except UnicodeDecodeError:
                raise DecodeError("string is not UTF-8") from None
        return raw, pos + n
    v, pos = dec_varint(data, pos)
    if ftype == "bool":
        return v != 0, pos
    if ftype in ("uint32", "enum"):
        return v & 0xFFFFFFFF, pos
    return v, pos


def _skip(wt: int, data, pos: int) -> int:
    if wt == WT_VARINT:
        return dec_varint(data, pos)[1]
    if wt == WT_I64:
        pos += 8
    elif wt == WT_I32:
        pos += 4
    elif wt == WT_LEN:
        n, pos = dec_varint(data, pos)
        pos += n
    else:
        raise DecodeError(f"unsupported wire type {wt}")
    if pos > len(data):
        raise DecodeError("field past the end")
    return pos


def decode(msg_name: str, data) -> dict:
    """Decode bytes into a dict with every field (defaults filled in; absent sub-messages are None).
    For the oneof wrappers the key "_which" names the field set last (None if none)."""
    fields = SCHEMA[msg_name]
    out: dict = {}
    for num, (name, ftype, rep) in fields.items():
        out[name] = [] if rep else ({} if ftype == "map" else (None if ftype in SCHEMA else DEFAULTS[ftype]))
    which = None
    pos = 0
    n = len(data)
    while pos < n:
        key, pos = dec_varint(data, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        if num not in fields:
            pos = _skip(wt, data, pos)
            continue
        name, ftype, rep = fields[num]
        if ftype == "map" or ftype in SCHEMA:
            if wt != WT_LEN:
                raise DecodeError(f"field {name}: wire type {wt}, expected 2")
            ln, pos = dec_varint(data, pos)
            if pos + ln > n:
                raise DecodeError(f"field {name} past the end")
            body = data[pos:pos + ln]
            pos += ln
            if ftype == "map":
                entry = _decode_map_entry(body)
                out[name][entry[0]] = entry[1]
            elif rep:
                out[name].append(decode(ftype, body))
            else:
                sub = decode(ftype, body)
                if out[name] is not None:  # a repeated occurrence merges into the first
                    sub = _merge(ftype, out[name], sub)
                out[name] = sub
                which = name
            continue
        want = SCALAR_WIRE[ftype]
        if rep and wt == WT_LEN and want != WT_LEN:  # packed
            ln, pos = dec_varint(data, pos)
            end = pos + ln
            if end > n:
                raise DecodeError(f"packed field {name} past the end")
            while pos < end:
                v, pos = _dec_scalar(ftype, want, data, pos)
                out[name].append(v)
            if pos != end:
                raise DecodeError(f"packed field {name} overruns its length")
            continue
        if wt != want:
            raise DecodeError(f"field {name}: wire type {wt}, expected {want}")
        v, pos = _dec_scalar(ftype, wt, data, pos)
        if rep:
            out[name].append(v)
        else:
            out[name] = v
    if msg_name in ONEOF:
        for num, (name, _, _) in fields.items():
            if name != which:
                out[name] = None
        out["_which"] = which
    return out


def _merge(ftype: str, a: dict, b: dict) -> dict:
    # proto merge of two occurrences of a singular message field: b's set scalars win, repeated append
    raw_a = encode(ftype, a)
    raw_b = encode(ftype, b)
    return decode(ftype, raw_a + raw_b)


def _decode_map_entry(body) -> Tuple[str, str]:
    k, v = "", ""
    pos = 0
    while pos < len(body):
        key, pos = dec_varint(body, pos)
        num, wt = key >> 3, key & 7
        if num in (1, 2):
            if wt != WT_LEN:
                raise DecodeError("map entry: wire type")
            s, pos = _dec_scalar("string", wt, body, pos)
            if num == 1:
                k = s
            else:
                v = s
        elif num == 0:
            raise DecodeError("field number 0")
        else:
            pos = _skip(wt, body, pos)
    return k, v


def frame_msg(msg_name: str, msg: dict, little_endian: bool = False) -> bytes:
    body = encode(msg_name, msg)
    return struct.pack("<I" if little_endian else ">I", len(body)) + body


class MsgReader:
    """u32 big-endian length + body. next() -> ("msg", bytes) | ("bad_length", n) | None (need more)."""

    def __init__(self, allow_zero: bool = False):
        self.buf = bytearray()
        self.allow_zero = allow_zero

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next(self):
        while True:
            if len(self.buf) < 4:
                return None
            (n,) = struct.unpack_from(">I", self.buf, 0)
            if n == 0 and self.allow_zero:
                del self.buf[:4]
                continue
            if n == 0 or n > MAX_SIGNAL_LEN:
                return ("bad_length", n)
            if len(self.buf) < 4 + n:
                return None
            body = bytes(self.buf[4:4 + n])
            del self.buf[:4 + n]
            return ("msg", body)


# ============================================================================================
# JWT HS256 (DH4)
# ============================================================================================

class TokenError(Exception):
    pass


def b64u_enc(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64u_dec(s: str) -> bytes:
    if not s or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in s):
        raise TokenError("not base64url")
    if len(s) % 4 == 1:
        raise TokenError("bad base64url length")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_encode(claims: dict, secret: str, header: Optional[dict] = None) -> str:
    h = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    signing = b64u_enc(json.dumps(h, separators=(",", ":")).encode()) + "." + \
        b64u_enc(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode("utf-8"), signing.encode("ascii"), hashlib.sha256).digest()
    return signing + "." + b64u_enc(sig)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def jwt_verify(token: str, secret: str, required: Dict[str, str], now: Optional[float] = None,
               check_exp: bool = True, check_sig: bool = True) -> dict:
    """The claims, or TokenError. required: claim -> "str" | "num"."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("not three parts")
    try:
        header = json.loads(b64u_dec(parts[0]))
        payload_raw = b64u_dec(parts[1])
        sig = b64u_dec(parts[2]) if parts[2] else b""
    except (ValueError, TokenError) as e:
        raise TokenError(f"bad encoding: {e}") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenError("alg is not HS256")
    want = hmac.new(secret.encode("utf-8"), (parts[0] + "." + parts[1]).encode("ascii"), hashlib.sha256).digest()
    if check_sig and not hmac.compare_digest(sig, want):
        raise TokenError("signature does not verify")
    try:
        claims = json.loads(payload_raw)
    except ValueError:
        raise TokenError("claims are not JSON") from None
    if not isinstance(claims, dict):
        raise TokenError("claims are not an object")
    for name, kind in required.items():
        if name not in claims:
            raise TokenError(f"claim {name} missing")
        v = claims[name]
        if (kind == "str" and not isinstance(v, str)) or (kind == "num" and not _is_num(v)):
            raise TokenError(f"claim {name} has the wrong type")
    if check_exp and claims["exp"] <= (time.time() if now is None else now):
        raise TokenError("expired")
    return claims


def jwt_claims_unverified(token: str) -> dict:
    try:
        c = json.loads(b64u_dec(token.split(".")[1]))
        return c if isinstance(c, dict) else {}
    except Exception:  # noqa: BLE001
        return {}


JOIN_CLAIMS = {"meeting_id": "str", "exp": "num"}
MEDIA_CLAIMS = {"meeting_id": "str", "participant_id": "str", "exp": "num", "jti": "str"}


# ============================================================================================
# media framing (v1 stream header + frames, v2 datagram frames), DT9 mapping
# ============================================================================================

def build_header(stream_uuid: bytes, stream_type: int, fourcc: bytes, magic: bytes = MAGIC) -> bytes:
    return magic + bytes([1, stream_type]) + stream_uuid + fourcc + bytes(6)


def build_frame(frame_type: int, stream_uuid: bytes, ts_us: int, seq: int, payload: bytes, flags: int = 1) -> bytes:
    return struct.pack(">BB16sQQIH6s", 1, frame_type, stream_uuid, ts_us, seq, len(payload), flags, bytes(6)) + payload


def parse_frame_header(b) -> dict:
    v, t, sid, ts, seq, ln, flags, _ = struct.unpack_from(">BB16sQQIH6s", b, 0)
    return dict(version=v, frame_type=t, stream_id=sid, timestamp=ts, sequence=seq, length=ln, flags=flags)


def build_v2(frame_type: int, user_id: int, stream_id: int, ts_us: int, seq: int, payload: bytes,
             flags: int = 1) -> bytes:
    return struct.pack(">BBQIQQIH6s", 1, frame_type, user_id, stream_id, ts_us, seq, len(payload), flags,
                       bytes(6)) + payload


def parse_v2(d: bytes) -> Optional[dict]:
    """A valid v2 frame's fields, or None (DT11: short, version != 1, type > 2, cut short)."""
    if len(d) < V2_HDR_LEN:
        return None
    v, t, user, sid, ts, seq, ln, flags, _ = struct.unpack_from(">BBQIQQIH6s", d, 0)
    return dict(version=v, frame_type=t, user_id=user, stream_id=sid, timestamp=ts, sequence=seq, length=ln,
                flags=flags, complete=len(d) >= V2_HDR_LEN + ln)


def v2_valid(f: Optional[dict], check_version: bool = True) -> bool:
    return (f is not None and f["complete"] and f["frame_type"] <= 2
            and (f["version"] == 1 or not check_version))


def wt_map(code: int) -> int:
    """DT9: a WebTransport application error code in the HTTP/3 error space."""
    return WT_ERROR_BASE + code + code // 0x1E


def wt_unmap(h3code: int) -> Optional[int]:
    if h3code < WT_ERROR_BASE:
        return None
    x = h3code - WT_ERROR_BASE
    if (x + 1) % 0x1F == 0:  # reserved (GREASE) code points
        return None
    return x - x // 0x1F


def encode_capsule(ctype: int, value: bytes) -> bytes:
    return enc_varint_quic(ctype) + enc_varint_quic(len(value)) + value


def enc_varint_quic(v: int) -> bytes:
    if v < 0x40:
        return bytes([v])
    if v < 0x4000:
        return struct.pack(">H", 0x4000 | v)
    if v < 0x40000000:
        return struct.pack(">I", 0x80000000 | v)
    return struct.pack(">Q", 0xC000000000000000 | v)


def dec_varint_quic(b, pos: int) -> Optional[Tuple[int, int]]:
    if pos >= len(b):
        return None
    n = 1 << (b[pos] >> 6)
    if pos + n > len(b):
        return None
    v = b[pos] & 0x3F
    for i in range(1, n):
        v = (v << 8) | b[pos + i]
    return v, pos + n


# ============================================================================================
# helpers: addresses, certificates, keylog
# ============================================================================================

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


def parse_url(url: str) -> Tuple[str, str, int, str]:
    """(transport, host, port, path) from https://HOST:PORT/path (WebTransport) or quic://HOST:PORT."""
    u = urlsplit(url)
    if u.scheme not in ("https", "quic") or not u.hostname:
        raise Usage(f"unsupported URL {url!r} (https://HOST:PORT/path or quic://HOST:PORT)")
    port = u.port or 443
    return ("webtransport" if u.scheme == "https" else "quic"), u.hostname, port, (u.path or "/")


def make_certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def write_certificate(cert_path: str, key_path: str) -> str:
    """Self-tests: a fresh certificate and key as PEM files; returns the DER's SHA-256 (hex)."""
    cert, key = make_certificate()
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def open_keylog(path: Optional[str]):
    if not path:
        return None
    return open(path, "a", encoding="ascii", buffering=1)  # line-buffered: every secret is on disk at once


# ============================================================================================
# one QUIC connection (bare QUIC or one WebTransport session) driven by asyncio
# ============================================================================================

class DTQuic(QuicConnection):
    """aioquic answers STOP_SENDING(c) with RESET_STREAM(0); DH3 wants RESET_STREAM(c). It also asserts
    on a second STOP_SENDING for the same stream; this version resets once, with the peer's code."""

    def _handle_stop_sending_frame(self, context, frame_type: int, buf) -> None:
        stream_id = buf.pull_uint_var()
        error_code = buf.pull_uint_var()
        self._assert_stream_can_send(frame_type, stream_id)
        try:
            stream = self._get_or_create_stream(frame_type, stream_id)
        except Exception:  # noqa: BLE001 -- a stream already finished and discarded: nothing to reset
            stream = None
        if stream is not None and stream.sender._reset_error_code is None and not stream.sender.is_finished:
            stream.sender.reset(error_code)
        self._events.append(qe.StopSendingReceived(error_code=error_code, stream_id=stream_id))


class Conn:
    """The session abstraction both transports share: app streams (uni/bidi), datagrams, resets (with
    the DT9 mapping), the session's close. `app` gets on_session / on_stream / on_reset / on_stop /
    on_datagram / on_closed calls."""

    def __init__(self, quic: QuicConnection, sendto: Callable[[bytes, tuple], None], *, wt: bool,
                 app, keepalive_s: float = 0.0, mapped: bool = False, path: str = "/",
                 authority: str = "", cert_hash: Optional[str] = None,
                 on_cid: Optional[Callable[[bytes, bool], None]] = None,
                 on_terminated: Optional[Callable[[], None]] = None):
        self.loop = asyncio.get_running_loop()
        self.quic = quic
        self.is_client = quic.configuration.is_client
        self._sendto = sendto
        self.wt = wt
        self.app = app
        self.keepalive_s = keepalive_s
        self.mapped = mapped and wt
        self.path = path
        self.authority = authority
        self.cert_hash = cert_hash
        self.on_cid = on_cid
        self.on_terminated = on_terminated
        self.h3: Optional[H3Connection] = None
        self.session_id: Optional[int] = None if wt else 0
        self.session_open = False
        self.session_closed: Optional[dict] = None
        self.handshake_done = False
        self.terminated = False
        self.app_streams: set = set()
        self.state = None  # the application's per-connection state
        self.capsule_buf = bytearray()
        self._waiters: List[asyncio.Future] = []
        self._timer = None
        self._timer_at = None
        self._ka = None
        self._last_ping = float("-inf")
        self._ping_uid = 0
        self.connect_status: Optional[int] = None
        self.wire_resets: Dict[int, int] = {}   # codes as received (before the DT9 unmapping)
        self.wire_stops: Dict[int, int] = {}

    # ---------------- input ----------------
    def receive(self, data: bytes, addr) -> None:
        if self.terminated:
            return
        self.quic.receive_datagram(data, addr, now=self.loop.time())
        self.pump()

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        if self.terminated:
            return
        self.quic.handle_timer(now=self.loop.time())
        self.pump()

    def pump(self) -> None:
        self._process()
        self.transmit()

    def _process(self) -> None:
        q = self.quic
        while True:
            ev = q.next_event()
            if ev is None:
                break
            try:
                self._event(ev)
            except Exception as e:  # noqa: BLE001 -- never let one event stop the endpoint
                log(f"internal error handling {type(ev).__name__}: {type(e).__name__}: {e}")
        # aioquic reports a close (the peer's CONNECTION_CLOSE, or ours) only at the end of the
        # closing/draining period: the session ends as soon as the close is known
        ce = getattr(q, "_close_event", None)
        if ce is not None and self.session_closed is None:
            st = getattr(getattr(q, "_state", None), "name", "")
            if st in ("CLOSING", "DRAINING"):
                self._session_end(dict(kind="peer" if st == "DRAINING" else "local", code=ce.error_code,
                                       reason=ce.reason_phrase, transport=ce.frame_type is not None))

    def _event(self, ev) -> None:
        if isinstance(ev, qe.ProtocolNegotiated):
            if self.wt and self.h3 is None:
                self.h3 = H3Connection(self.quic, enable_webtransport=True)
        elif isinstance(ev, qe.HandshakeCompleted):
            self.handshake_done = True
            if self.is_client and self.cert_hash:
                cert = getattr(self.quic.tls, "_peer_certificate", None)
                der = cert.public_bytes(serialization.Encoding.DER) if cert is not None else b""
                if hashlib.sha256(der).hexdigest() != self.cert_hash.lower().replace(":", ""):
                    self.close_connection(0x12A, "certificate hash mismatch", transport=True)
                    return
            if self.wt and self.h3 is None:
                self.h3 = H3Connection(self.quic, enable_webtransport=True)
            if not self.wt:
                self.session_open = True
                self.app.on_session(self)
            elif self.is_client:
                self.session_id = self.quic.get_next_available_stream_id()
                self.h3.send_headers(self.session_id, [
                    (b":method", b"CONNECT"), (b":protocol", b"webtransport"), (b":scheme", b"https"),
                    (b":authority", self.authority.encode()), (b":path", self.path.encode()),
                    (b"sec-webtransport-http3-draft02", b"1")], end_stream=False)
        elif isinstance(ev, (qe.StreamDataReceived, qe.DatagramFrameReceived)):
            if self.wt:
                if self.h3 is None:
                    return
                for hev in self.h3.handle_event(ev):
                    self._h3_event(hev)
            elif isinstance(ev, qe.StreamDataReceived):
                self.app.on_stream(self, ev.stream_id, ev.data, ev.end_stream)
            else:
                self.app.on_datagram(self, ev.data)
        elif isinstance(ev, qe.StreamReset):
            self.wire_resets[ev.stream_id] = ev.error_code
            if self.wt and ev.stream_id == self.session_id:
                self._session_end(dict(kind="connect-reset", code=ev.error_code, reason=""))
            elif not self.wt or ev.stream_id in self.app_streams:
                self.app.on_reset(self, ev.stream_id, self.unmap(ev.error_code))
        elif isinstance(ev, qe.StopSendingReceived):
            self.wire_stops[ev.stream_id] = ev.error_code
            if not self.wt or ev.stream_id in self.app_streams:
                self.app.on_stop(self, ev.stream_id, self.unmap(ev.error_code))
        elif isinstance(ev, qe.ConnectionIdIssued):
            if self.on_cid:
                self.on_cid(ev.connection_id, True)
        elif isinstance(ev, qe.ConnectionIdRetired):
            if self.on_cid:
                self.on_cid(ev.connection_id, False)
        elif isinstance(ev, qe.ConnectionTerminated):
            self.terminated = True
            if ev.reason_phrase == "Idle timeout" and ev.frame_type == 0:
                kind = "idle"
            else:
                kind = "peer" if getattr(getattr(self.quic, "_state", None), "name", "") == "DRAINING" else "local"
            self._session_end(dict(kind=kind, code=ev.error_code, reason=ev.reason_phrase,
                                   transport=ev.frame_type is not None))
            if self.on_terminated:
                self.on_terminated()

    def _h3_event(self, hev) -> None:
        if isinstance(hev, he.HeadersReceived):
            headers = dict(hev.headers)
            if self.is_client:
                if hev.stream_id == self.session_id:
                    try:
                        self.connect_status = int(headers.get(b":status", b"0"))
                    except ValueError:
                        self.connect_status = 0
                    if self.connect_status == 200:
                        self.session_open = True
                        self.app.on_session(self)
                    else:
                        self._session_end(dict(kind="refused", code=self.connect_status, reason="CONNECT refused"))
                return
            ok = (headers.get(b":method") == b"CONNECT" and headers.get(b":protocol") == b"webtransport"
                  and self.session_id is None)
            if ok:
                self.session_id = hev.stream_id
                self.h3.send_headers(hev.stream_id, [(b":status", b"200"),
                                                     (b"sec-webtransport-http3-draft", b"draft02")])
                self.session_open = True
                self.app.on_session(self)
            else:
                self.h3.send_headers(hev.stream_id, [(b":status", b"400")], end_stream=True)
        elif isinstance(hev, he.DataReceived):
            if hev.stream_id != self.session_id:
                return
            self.capsule_buf += hev.data
            while True:
                a = dec_varint_quic(self.capsule_buf, 0)
                if a is None:
                    break
                b = dec_varint_quic(self.capsule_buf, a[1])
                if b is None or b[1] + b[0] > len(self.capsule_buf):
                    break
                ctype, value = a[0], bytes(self.capsule_buf[b[1]:b[1] + b[0]])
                del self.capsule_buf[:b[1] + b[0]]
                if ctype == CAPSULE_CLOSE_WT_SESSION and len(value) >= 4:
                    code = struct.unpack(">I", value[:4])[0]
                    self._session_end(dict(kind="capsule", code=code,
                                           reason=value[4:].decode("utf-8", "replace")))
            if hev.stream_ended:
                self._session_end(dict(kind="connect-fin", code=0, reason=""))
        elif isinstance(hev, he.WebTransportStreamDataReceived):
            if hev.session_id != self.session_id and not (self.session_id is None and hev.session_id == 0):
                return
            self.app_streams.add(hev.stream_id)
            self.app.on_stream(self, hev.stream_id, hev.data, hev.stream_ended)
        elif isinstance(hev, he.DatagramReceived):
            if hev.stream_id == (self.session_id if self.session_id is not None else 0):
                self.app.on_datagram(self, hev.data)

    def _session_end(self, info: dict) -> None:
        if self.session_closed is not None:
            return
        self.session_closed = info
        if self.wt and self.session_open and not self.terminated and info["kind"] in ("capsule", "connect-fin"):
            # answer the peer's close: FIN our side of the CONNECT stream
            self._safe(lambda: self.h3.send_data(self.session_id, b"", end_stream=True))
        self.app.on_closed(self, info)

    # ---------------- output ----------------
    def transmit(self) -> None:
        now = self.loop.time()
        for data, addr in self.quic.datagrams_to_send(now=now):
            try:
                self._sendto(data, addr)
            except OSError:
                pass
        t = self.quic.get_timer()
        if t != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._timer_at = t
            if t is not None:
                self._timer = self.loop.call_at(t, self._on_timer)
        self._arm_keepalive()
        if self._waiters:
            ws, self._waiters = self._waiters, []
            for f in ws:
                if not f.done():
                    f.set_result(None)

    def _arm_keepalive(self) -> None:
        if self._ka is not None:
            self._ka.cancel()
            self._ka = None
        if self.keepalive_s <= 0 or not self.handshake_done or self.terminated:
            return
        loss = getattr(self.quic, "_loss", None)
        last = getattr(loss, "_time_of_last_sent_ack_eliciting_packet", 0.0) or 0.0
        due = max(last + self.keepalive_s, self._last_ping + self.keepalive_s)
        self._ka = self.loop.call_at(due, self._on_keepalive)

    def _on_keepalive(self) -> None:
        self._ka = None
        if self.terminated:
            return
        loss = getattr(self.quic, "_loss", None)
        last = getattr(loss, "_time_of_last_sent_ack_eliciting_packet", 0.0) or 0.0
        now = self.loop.time()
        if now >= last + self.keepalive_s - 0.001:
            self._ping_uid += 1
            self._last_ping = now
            self.quic.send_ping(self._ping_uid)
            self.transmit()
        else:
            self._arm_keepalive()

    def _safe(self, fn) -> bool:
        try:
            fn()
            return True
        except (AssertionError, ValueError, KeyError, Exception):  # noqa: BLE001
            return False

    def wire_code(self, code: int) -> int:
        return wt_map(code) if self.mapped else code

    def unmap(self, code: int) -> int:
        c = wt_unmap(code) if self.wt else None
        return code if c is None else c

    def open_stream(self, uni: bool) -> Optional[int]:
        if self.terminated:
            return None
        try:
            if self.wt:
                sid = self.h3.create_webtransport_stream(self.session_id, is_unidirectional=uni)
                self.app_streams.add(sid)
                if not uni:
                    # aioquic does not remember that a bidirectional stream it opened is a WebTransport
                    # stream: the peer's bytes on it would be parsed as HTTP/3 frames
                    h3s = self.h3._get_or_create_stream(sid)
                    h3s.frame_type = 0x41
                    h3s.session_id = self.session_id
            else:
                sid = self.quic.get_next_available_stream_id(is_unidirectional=uni)
                self.quic.send_stream_data(sid, b"")
        except Exception as e:  # noqa: BLE001
            log(f"cannot open a stream: {e}")
            return None
        return sid

    def _sender(self, sid: int):
        s = getattr(self.quic, "_streams", {}).get(sid)
        return None if s is None else s.sender

    def can_send(self, sid: int) -> bool:
        snd = self._sender(sid)
        return snd is not None and snd._reset_error_code is None and snd._buffer_fin is None

    def send(self, sid: Optional[int], data: bytes, fin: bool = False, flush: bool = True) -> bool:
        if sid is None or self.terminated or not self.can_send(sid):
            return False
        ok = self._safe(lambda: self.quic.send_stream_data(sid, data, end_stream=fin))
        if flush:
            self.transmit()
        return ok

    def reset(self, sid: int, code: int, wire: Optional[int] = None) -> None:
        snd = self._sender(sid)
        if snd is None or snd._reset_error_code is not None or self.terminated:
            return
        self._safe(lambda: self.quic.reset_stream(sid, self.wire_code(code) if wire is None else wire))
        self.transmit()

    def stop(self, sid: int, code: int, wire: Optional[int] = None) -> None:
        """STOP_SENDING(code), also on a stream whose FIN already arrived (aioquic would discard such a
        stream before writing the frame, so it is kept until the frame is out)."""
        if self.terminated:
            return
        if self._safe(lambda: self.quic.stop_stream(sid, self.wire_code(code) if wire is None else wire)):
            st = getattr(self.quic, "_streams", {}).get(sid)
            if st is not None and st.receiver.is_finished:
                st.receiver.is_finished = False
        self.transmit()

    def send_datagram(self, data: bytes) -> bool:
        if self.terminated or not self.session_open:
            return False
        if self.wt:
            ok = self._safe(lambda: self.h3.send_datagram(self.session_id, data))
        else:
            ok = self._safe(lambda: self.quic.send_datagram_frame(data))
        self.transmit()
        return ok

    def close_connection(self, code: int, reason: str = "", transport: bool = False) -> None:
        if self.terminated:
            return
        if self.session_closed is None:
            self.session_closed = dict(kind="local", code=code, reason=reason)
        self.quic.close(error_code=code, frame_type=0 if transport else None, reason_phrase=reason)
        self.transmit()

    def all_sent_acked(self, sids) -> bool:
        for sid in sids:
            snd = self._sender(sid)
            if snd is not None and snd._reset_error_code is None and not snd.is_finished:
                return False
        return True

    async def close_session(self, code: int, reason: str, grace_s: float = 1.0) -> None:
        """Close the session with an application code: WebTransport: CLOSE_WEBTRANSPORT_SESSION
        capsule + FIN on the CONNECT stream, then (once acknowledged, or after grace_s) the QUIC
        connection with H3_NO_ERROR; bare QUIC: CONNECTION_CLOSE with the code."""
        if self.terminated:
            return
        if self.wt and self.session_open and self.session_id is not None:
            if self.session_closed is None:
                self.session_closed = dict(kind="local", code=code, reason=reason)
                capsule = encode_capsule(CAPSULE_CLOSE_WT_SESSION, struct.pack(">I", code) + reason.encode())
                self._safe(lambda: self.h3.send_data(self.session_id, capsule, end_stream=True))
                self.transmit()
            await self.wait_until(lambda: self.all_sent_acked([self.session_id]), grace_s)
            self.close_connection(H3_NO_ERROR, reason)
        else:
            self.close_connection(code, reason)

    async def wait_until(self, pred: Callable[[], bool], timeout_s: Optional[float] = None) -> bool:
        deadline = None if timeout_s is None else self.loop.time() + timeout_s
        while True:
            if pred():
                return True
            if self.terminated:
                return pred()
            now = self.loop.time()
            if deadline is not None and now >= deadline:
                return False
            fut = self.loop.create_future()
            self._waiters.append(fut)
            await asyncio.wait([fut], timeout=None if deadline is None else deadline - now)

    def shutdown(self) -> None:
        for h in (self._timer, self._ka):
            if h is not None:
                h.cancel()
        self._timer = self._ka = None


class NullApp:
    def on_session(self, conn: Conn) -> None:
        pass

    def on_stream(self, conn: Conn, sid: int, data: bytes, fin: bool) -> None:
        pass

    def on_reset(self, conn: Conn, sid: int, code: int) -> None:
        pass

    def on_stop(self, conn: Conn, sid: int, code: int) -> None:
        pass

    def on_datagram(self, conn: Conn, data: bytes) -> None:
        pass

    def on_closed(self, conn: Conn, info: dict) -> None:
        pass


def client_initiated_bidi(sid: int) -> bool:
    return sid % 4 == 0


def client_initiated_uni(sid: int) -> bool:
    return sid % 4 == 2


# ============================================================================================
# UDP server endpoint (routes datagrams to connections by connection id)
# ============================================================================================

class ServerOptions:
    def __init__(self, ns):
        self.role = ns.role
        self.transport = ns.transport
        self.profile = ns.profile
        self.reset_codes = ns.reset_codes
        self.cert, self.key = ns.cert, ns.key
        self.keylog = ns.keylog
        self.token_secret = ns.token_secret
        self.idle_ms = ns.idle_ms
        self.keepalive_ms = ns.keepalive_ms
        self.meetings = ns.meeting or ["standup"]
        self.ended = ns.ended or []
        self.capacity = ns.capacity
        self.handler_url = ns.handler_url
        self.mutant = ns.mutant
        self.plant = ns.plant
        if self.capacity < 0 or self.idle_ms < 0:
            raise Usage("--capacity and --idle-ms must be >= 0")
        if bool(self.cert) != bool(self.key):
            raise Usage("--cert and --key go together")
        if self.token_secret is None:
            raise Usage("--token-secret is required")
        if self.role == "controller" and not self.handler_url:
            raise Usage("--handler-url is required for the controller")

    def m(self, name: str) -> bool:
        return self.mutant == name


class Endpoint(asyncio.DatagramProtocol):
    def __init__(self, o: ServerOptions, app):
        self.o = o
        self.app = app
        self.keylog = open_keylog(o.keylog)
        wt = o.transport == "webtransport"
        cfg = QuicConfiguration(
            is_client=False,
            alpn_protocols=[ALPN_H3 if wt else (ALPN_QUIC_MEDIA if o.role == "handler" else ALPN_QUIC)],
            idle_timeout=o.idle_ms / 1000.0 if o.idle_ms > 0 else 86400.0,
            secrets_log_file=self.keylog,
            connection_id_length=CID_LEN,
            max_datagram_frame_size=MAX_DATAGRAM_FRAME,
        )
        if o.role == "handler":
            cfg.max_stream_data = STREAM_WINDOW
            cfg.max_data = CONN_WINDOW
        if o.cert:
            cfg.load_cert_chain(o.cert, o.key)
        else:
            cfg.certificate, cfg.private_key = make_certificate()
        self.config = cfg
        self.routes: Dict[bytes, Conn] = {}
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def error_received(self, exc) -> None:
        pass

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            self._datagram(data, addr)
        except Exception as e:  # noqa: BLE001
            log(f"datagram from {addr} dropped: {type(e).__name__}: {e}")

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
        conn = self.routes.get(header.destination_cid)
        if conn is not None:
            conn.receive(data, addr)
            return
        if header.packet_type != QuicPacketType.INITIAL or len(data) < 1200:
            return
        quic = DTQuic(configuration=self.config, original_destination_connection_id=header.destination_cid)
        holder: Dict[str, Conn] = {}

        def on_cid(cid: bytes, issued: bool) -> None:
            if issued:
                self.routes[cid] = holder["c"]
            else:
                self.routes.pop(cid, None)

        def on_terminated() -> None:
            c = holder["c"]
            for cid in [k for k, v in self.routes.items() if v is c]:
                del self.routes[cid]
            c.shutdown()

        conn = Conn(quic, self.transport.sendto, wt=self.o.transport == "webtransport", app=self.app,
                    mapped=self.o.reset_codes == "mapped" and not self.o.m("mapped-codes-sent-raw"),
                    on_cid=on_cid, on_terminated=on_terminated)
        conn.peer = addr
        holder["c"] = conn
        self.routes[header.destination_cid] = conn
        self.routes[quic.host_cid] = conn
        conn.receive(data, addr)


async def server_main(o: ServerOptions, host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = Controller(o) if o.role == "controller" else Handler(o)
    ep = Endpoint(o, app)
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, sockaddr = infos[0]
        transport, _ = await loop.create_datagram_endpoint(lambda: ep, local_addr=sockaddr, family=family)
    except OSError as e:
        log(f"cannot bind {host}:{port}: {e}")
        return EXIT_FAIL
    bound = transport.get_extra_info("sockname")
    extra = f" mutant={o.mutant}" if o.mutant else ""
    print(f"{o.role} listening on {bound[0]}:{bound[1]} transport={o.transport} profile={o.profile} "
          f"reset_codes={o.reset_codes}{extra}", flush=True)
    await stop.wait()
    transport.close()
    return EXIT_OK


# ============================================================================================
# Meeting Controller (DT6, DH6-DH10)
# ============================================================================================

class Participant:
    def __init__(self, pid: str, name: str, meeting: str):
        self.pid = pid
        self.name = name
        self.meeting = meeting
        self.session: Optional["CtlSession"] = None
        self.streams: Dict[str, dict] = {}
        self.joined_at = int(time.time())

    def proto(self) -> dict:
        return dict(participant_id=self.pid, name=self.name, streams=list(self.streams.values()),
                    joined_at=self.joined_at)


class CtlSession:
    def __init__(self, conn: Conn):
        self.conn = conn
        self.sig: Optional[int] = None
        self.reader: Optional[MsgReader] = None
        self.done = False           # fatal error sent, or the stream ended: read nothing more
        self.participant: Optional[Participant] = None


class Controller(NullApp):
    def __init__(self, o: ServerOptions):
        self.o = o
        self.present: Dict[str, Dict[str, Participant]] = {m: {} for m in o.meetings}  # meeting -> pid -> p
        # DH9: a join resumes when both its token and its participant_name joined before.
        self.by_token: Dict[tuple, Participant] = {}
        self.count = 0

    def sess(self, conn: Conn) -> CtlSession:
        if conn.state is None:
            conn.state = CtlSession(conn)
        return conn.state

    # ---- transport callbacks ----
    def on_session(self, conn: Conn) -> None:
        self.sess(conn)
        log(f"controller: session from {getattr(conn, 'peer', '?')}")

    def on_stream(self, conn: Conn, sid: int, data: bytes, fin: bool) -> None:
        s = self.sess(conn)
        if not client_initiated_bidi(sid) or (self.o.transport == "webtransport" and sid == conn.session_id):
            return
        if s.sig is None:
            s.sig = sid
            s.reader = MsgReader(allow_zero=self.o.m("zero-length-accepted"))
        if sid != s.sig or s.done:
            return
        s.reader.feed(data)
        while not s.done:
            item = s.reader.next()
            if item is None:
                break
            kind, val = item
            if kind == "bad_length":
                self.fatal(s, E_STREAM_ERROR, f"bad message length {val}")
                break
            try:
                msg = decode("ClientMessage", val)
            except DecodeError as e:
                self.fatal(s, E_INVALID_REQUEST, f"undecodable ClientMessage: {e}")
                break
            self.handle(s, msg)
        if fin and not s.done:
            s.done = True
            conn.send(s.sig, b"", fin=True)
            self.leave_session(s, VOLUNTARY, "signaling stream finished")

    def on_reset(self, conn: Conn, sid: int, code: int) -> None:
        s = self.sess(conn)
        if sid == s.sig and not s.done:
            s.done = True
            self.leave_session(s, VOLUNTARY, f"signaling stream reset ({code})")

    def on_closed(self, conn: Conn, info: dict) -> None:
        s = self.sess(conn)
        s.done = True
        if info["kind"] == "idle" and not self.o.m("idle-leave-voluntary"):
            reason = CONNECTION_LOST
        else:
            reason = VOLUNTARY
        log(f"controller: session closed ({info['kind']} code={info.get('code')})")
        self.leave_session(s, reason, f"session closed: {info['kind']}")

    # ---- messages ----
    def send(self, s: CtlSession, msg: dict, fin: bool = False) -> None:
        if s.sig is None:
            return
        s.conn.send(s.sig, frame_msg("ServerMessage", msg), fin=fin)

    def error(self, s: CtlSession, code: int, text: str) -> None:
        log(f"controller: error {ERROR_NAMES[code]}: {text}")
        self.send(s, {"error": dict(code=code, message=text, details={})})

    def fatal(self, s: CtlSession, code: int, text: str) -> None:
        """DH7: one ErrorMessage, then FIN; nothing more is read."""
        log(f"controller: fatal {ERROR_NAMES[code]}: {text}")
        self.send(s, {"error": dict(code=code, message=text, details={})}, fin=True)
        s.done = True
        self.leave_session(s, KICKED, "fatal signaling error")

    def others(self, p: Participant) -> List[Participant]:
        return [q for q in self.present.get(p.meeting, {}).values() if q is not p and q.session is not None]

    def broadcast(self, p: Participant, msg: dict, include_self: bool = False) -> None:
        for q in self.others(p) + ([p] if include_self else []):
            if q.session is not None and not q.session.done:
                self.send(q.session, msg)

    def handle(self, s: CtlSession, msg: dict) -> None:
        which = msg["_which"]
        p = s.participant
        if p is None:
            if which != "join_request":
                if self.o.m("first-message-not-join-accepted"):
                    return
                self.fatal(s, E_INVALID_REQUEST, f"first message must be JoinRequest, got {which}")
                return
            self.join(s, msg["join_request"])
            return
        if which == "join_request":
            self.error(s, E_CONFLICT, "already joined")
        elif which == "publish_stream":
            ps = msg["publish_stream"]
            if ps["stream_id"] in p.streams:
                self.error(s, E_CONFLICT, f"stream {ps['stream_id']} already published")
                return
            if self.o.plant == "crash" and ps["stream_type"] == VIDEO_SCREEN and self.others(p):
                planted("crash")  # planted bug (see PLANTED.md)
            ms = dict(stream_id=ps["stream_id"], stream_type=ps["stream_type"], metadata=ps["metadata"])
            p.streams[ps["stream_id"]] = ms
            log(f"controller: {p.pid} publishes {ps['stream_id']}")
            self.broadcast(p, {"stream_published": dict(participant_id=p.pid, stream=ms)},
                           include_self=self.o.m("stream-published-to-publisher"))
        elif which in ("subscribe_stream", "unsubscribe_stream"):
            stream_id = msg[which]["stream_id"]
            known = any(stream_id in q.streams for q in self.present.get(p.meeting, {}).values())
            if not known:
                self.error(s, E_NOT_FOUND, f"unknown stream {stream_id}")
        elif which == "stream_quality_update":
            pass
        else:
            self.fatal(s, E_INVALID_REQUEST, "ClientMessage without a message")

    def join(self, s: CtlSession, req: dict) -> None:
        o = self.o
        if len(req["participant_name"].encode("utf-8")) > MAX_NAME_BYTES and not o.m("long-name-accepted"):
            self.fatal(s, E_INVALID_REQUEST, "participant_name over 256 bytes")
            return
        token = req["join_token"]
        try:
            claims = jwt_verify(token, o.token_secret, JOIN_CLAIMS, check_exp=not o.m("expired-token-accepted"),
                                check_sig=not o.m("bad-signature-accepted"))
        except TokenError as e:
            self.fatal(s, E_UNAUTHORIZED, f"invalid join token: {e}")
            return
        mid = req["meeting_id"]
        if claims["meeting_id"] != mid:
            self.fatal(s, E_UNAUTHORIZED, "the token is for another meeting")
            return
        if mid in o.ended and o.m("ended-meeting-joinable"):
            self.present.setdefault(mid, {})
        elif mid in o.ended or mid not in self.present:
            self.fatal(s, E_NOT_FOUND, f"meeting {mid} not found or ended")
            return
        room = self.present[mid]
        p = self.by_token.get((token, req["participant_name"]))
        if p is not None and p.session is not None and p.pid in room:
            # DH9: resume while present: the old session is closed, the others see nothing
            old = p.session
            old.participant = None
            old.done = True
            asyncio.ensure_future(old.conn.close_session(0, "replaced"))
            p.session = s
            p.name = req["participant_name"]
            p.streams.clear()
            s.participant = p
            log(f"controller: {p.pid} resumed (old session replaced)")
            self.send(s, {"join_response": self.join_response(p)})
            return
        if len(room) >= o.capacity and not o.m("no-capacity-check"):
            self.fatal(s, E_CAPACITY_EXCEEDED, f"meeting {mid} is full ({o.capacity})")
            return
        if p is None:
            self.count += 1
            p = Participant(f"p{self.count}", req["participant_name"], mid)
            self.by_token[(token, req["participant_name"])] = p
        else:
            p.name = req["participant_name"]
            p.joined_at = int(time.time())
        p.session = s
        p.streams.clear()
        s.participant = p
        room[p.pid] = p
        log(f"controller: {p.pid} ({p.name!r}) joined {mid}")
        self.send(s, {"join_response": self.join_response(p)})
        if not o.m("no-participant-joined"):
            self.broadcast(p, {"participant_joined": dict(participant=dict(
                participant_id=p.pid, name=p.name, streams=[], joined_at=p.joined_at))})

    def join_response(self, p: Participant) -> dict:
        media_token = jwt_encode(dict(meeting_id=p.meeting, participant_id=p.pid,
                                      exp=int(time.time()) + MEDIA_TOKEN_TTL_S, jti=uuid.uuid4().hex),
                                 self.o.token_secret)
        return dict(participant_id=p.pid, existing_participants=[q.proto() for q in self.others(p)],
                    media_server=dict(media_handler_url=self.o.handler_url, connection_token=media_token))

    def leave_session(self, s: CtlSession, reason: int, why: str) -> None:
        p = s.participant
        if p is None or p.session is not s:
            return
        s.participant = None
        p.session = None
        self.present.get(p.meeting, {}).pop(p.pid, None)
        p.streams.clear()
        log(f"controller: {p.pid} left ({LEAVE_NAMES[reason]}: {why})")
        for q in self.present.get(p.meeting, {}).values():
            if q.session is not None and not q.session.done:
                self.send(q.session, {"participant_left": dict(participant_id=p.pid, reason=reason)})


# ============================================================================================
# Media Handler (DT1-DT5, DT7, DT8, DT11, DH11-DH14)
# ============================================================================================

class Source:
    """One client media stream (v1) being read and forwarded."""

    def __init__(self, sess: "HSession", sid: int):
        self.sess = sess
        self.sid = sid
        self.buf = bytearray()
        self.header: Optional[bytes] = None
        self.uuid: Optional[bytes] = None
        self.dead = False
        self.forwards: Dict["HSession", int] = {}
        self.frames = 0


class HSession:
    def __init__(self, conn: Conn):
        self.conn = conn
        self.auth_sid: Optional[int] = None
        self.reader = MsgReader()
        self.state = "new"     # new | authed | failed
        self.pid: Optional[str] = None
        self.meeting: Optional[str] = None
        self.sources: Dict[int, Source] = {}
        self.ignored: set = set()
        self.closed = False


class Handler(NullApp):
    def __init__(self, o: ServerOptions):
        self.o = o
        self.used_jti: Dict[str, float] = {}
        self.rooms: Dict[str, List[HSession]] = {}
        self.counters = dict(unknown_fourcc=0, dgram_dropped=0, dgram_forwarded=0, frames=0)

    def sess(self, conn: Conn) -> HSession:
        if conn.state is None:
            conn.state = HSession(conn)
        return conn.state

    def on_session(self, conn: Conn) -> None:
        self.sess(conn)
        log(f"handler: session from {getattr(conn, 'peer', '?')}")

    def on_stream(self, conn: Conn, sid: int, data: bytes, fin: bool) -> None:
        s = self.sess(conn)
        if s.closed:
            return
        if client_initiated_bidi(sid):
            if self.o.transport == "webtransport" and sid == conn.session_id:
                return
            if s.auth_sid is None:
                s.auth_sid = sid
            if sid == s.auth_sid:
                self.auth_data(s, data, fin)
            return
        if not client_initiated_uni(sid) or sid in s.ignored:
            return
        src = s.sources.get(sid)
        if src is None:
            if s.state != "authed" and not self.o.m("media-before-auth-accepted"):
                code = RC_FORMAT if self.o.m("auth-reset-code-0x01") else RC_AUTH
                log(f"handler: media stream {sid} before authentication: stop {code:#x}")
                s.ignored.add(sid)
                conn.stop(sid, code)
                return
            src = s.sources[sid] = Source(s, sid)
        if not src.dead:
            self.media_data(src, data, fin)

    def on_reset(self, conn: Conn, sid: int, code: int) -> None:
        s = self.sess(conn)
        src = s.sources.get(sid)
        if src is not None and not src.dead:
            log(f"handler: source {sid} reset by the client ({code:#x})")
            self.kill_source(src, None)

    def on_stop(self, conn: Conn, sid: int, code: int) -> None:
        # a receiver stopped one of our forwarded streams (DTQuic answered RESET_STREAM(code))
        s = self.sess(conn)
        for room in self.rooms.values():
            for other in room:
                for src in other.sources.values():
                    if src.forwards.get(s) == sid:
                        del src.forwards[s]

    def on_closed(self, conn: Conn, info: dict) -> None:
        s = self.sess(conn)
        if s.closed:
            return
        s.closed = True
        log(f"handler: session {s.pid or '-'} closed ({info['kind']})")
        for src in list(s.sources.values()):
            if not src.dead:
                self.kill_source(src, None, stop=False)
        if s.meeting is not None:
            room = self.rooms.get(s.meeting, [])
            if s in room:
                room.remove(s)
            for other in room:
                for src in other.sources.values():
                    src.forwards.pop(s, None)

    # ---- authentication (DT7, DH11) ----
    def auth_data(self, s: HSession, data: bytes, fin: bool) -> None:
        if s.state != "new":
            return
        s.reader.feed(data)
        item = s.reader.next()
        if item is None:
            if fin:
                self.auth_fail(s, "authentication stream ended without ConnectRequest")
            return
        kind, val = item
        if kind == "bad_length":
            self.auth_fail(s, f"bad message length {val}")
            return
        try:
            msg = decode("MediaClientMessage", val)
        except DecodeError as e:
            self.auth_fail(s, f"undecodable MediaClientMessage: {e}")
            return
        if msg["_which"] != "connect_request":
            self.auth_fail(s, "expected ConnectRequest")
            return
        try:
            claims = jwt_verify(msg["connect_request"]["join_token"], self.o.token_secret, MEDIA_CLAIMS)
        except TokenError as e:
            self.auth_fail(s, f"invalid media token: {e}")
            return
        now = time.time()
        for j in [j for j, exp in self.used_jti.items() if exp <= now]:
            del self.used_jti[j]
        jti = claims["jti"]
        if jti in self.used_jti and not self.o.m("media-token-reuse-accepted"):
            self.auth_fail(s, "media token already used")
            return
        self.used_jti[jti] = claims["exp"]
        s.state = "authed"
        s.pid = claims["participant_id"]
        s.meeting = claims["meeting_id"]
        s.conn.send(s.auth_sid, frame_msg("MediaServerMessage",
                                          {"connect_response": dict(participant_id=s.pid)}))
        log(f"handler: authenticated {s.pid} in {s.meeting}")
        room = self.rooms.setdefault(s.meeting, [])
        # streams already running in the meeting are forwarded to the newcomer from their next frame
        for other in room:
            for src in other.sources.values():
                if src.header is not None and not src.dead:
                    self.open_forward(src, s)
        room.append(s)

    def auth_fail(self, s: HSession, why: str) -> None:
        log(f"handler: authentication failed: {why}")
        s.state = "failed"
        s.conn.send(s.auth_sid, frame_msg("MediaServerMessage", {"error": dict(
            code=E_UNAUTHORIZED, message=why, details={})}), fin=True)

    # ---- media streams (v1) ----
    def receivers(self, s: HSession) -> List[HSession]:
        if s.meeting is None:
            return []
        return [r for r in self.rooms.get(s.meeting, []) if r is not s and r.state == "authed" and not r.closed]

    def open_forward(self, src: Source, r: HSession) -> None:
        fsid = r.conn.open_stream(uni=True)
        if fsid is None:
            return
        hdr = src.header
        if self.o.m("forwarded-header-altered"):
            hdr = hdr[:22] + hdr[22:26][::-1] + hdr[26:]
        src.forwards[r] = fsid
        r.conn.send(fsid, hdr)

    def kill_source(self, src: Source, code: Optional[int], stop: bool = True) -> None:
        """The source stream ends abnormally: stop it with code (if any); forwards reset 0x00 (DH13)."""
        src.dead = True
        if code is not None and stop:
            log(f"handler: source {src.sid} of {src.sess.pid}: stop {code:#x}")
            src.sess.conn.stop(src.sid, code)
        for r, fsid in list(src.forwards.items()):
            r.conn.reset(fsid, RC_GRACEFUL)
        src.forwards.clear()

    def media_data(self, src: Source, data: bytes, fin: bool) -> None:
        o = self.o
        src.buf += data
        b = src.buf
        if src.header is None:
            k = min(len(b), 4)
            if b[:k] != MAGIC[:k] and not o.m("bad-magic-accepted"):
                return self.kill_source(src, RC_FORMAT)
            if len(b) >= 5 and b[4] != 1:
                return self.kill_source(src, RC_FORMAT)
            if len(b) >= 6 and b[5] > 1:
                return self.kill_source(src, RC_FORMAT)
            if len(b) < HEADER_LEN:
                if fin:
                    self.kill_source(src, RC_FORMAT)
                return
            src.header = bytes(b[:HEADER_LEN])
            src.uuid = src.header[6:22]
            if src.header[22:26] not in FOURCCS:
                self.counters["unknown_fourcc"] += 1
                log(f"handler: unknown FourCC {src.header[22:26]!r} (accepted)")
            del b[:HEADER_LEN]
            for r in self.receivers(src.sess):
                self.open_forward(src, r)
        while True:
            n = len(b)
            if n == 0:
                break
            if b[0] != 1:
                return self.kill_source(src, RC_FORMAT)
            if n >= 2 and b[1] > 2:
                return self.kill_source(src, RC_FORMAT)
            if n >= 18 and bytes(b[2:18]) != src.uuid and not o.m("stream-id-mismatch-accepted"):
                return self.kill_source(src, RC_FORMAT)
            if n < FRAME_HDR_LEN:
                break
            (plen,) = struct.unpack_from(">I", b, 34)
            if plen > MAX_PAYLOAD and not o.m("no-payload-quota"):
                return self.kill_source(src, RC_QUOTA)
            if o.plant == "hang" and b[1] == 1 and b[39] & 2:  # planted bug (see PLANTED.md)
                planted("hang")
            if n < FRAME_HDR_LEN + plen:
                break
            frame = bytes(b[:FRAME_HDR_LEN + plen])
            del b[:FRAME_HDR_LEN + plen]
            src.frames += 1
            self.counters["frames"] += 1
            for r, fsid in list(src.forwards.items()):
                r.conn.send(fsid, frame, flush=False)
        for r in list(src.forwards):
            r.conn.transmit()
        if fin:
            if b:
                return self.kill_source(src, RC_FORMAT)
            src.dead = True
            log(f"handler: source {src.sid} of {src.sess.pid} finished after {src.frames} frames")
            for r, fsid in list(src.forwards.items()):
                r.conn.send(fsid, b"", fin=True)
            src.forwards.clear()

    # ---- v2 datagrams (DT11) ----
    def on_datagram(self, conn: Conn, data: bytes) -> None:
        s = self.sess(conn)
        if self.o.profile != "v2" or s.state != "authed" or s.closed:
            self.counters["dgram_dropped"] += 1
            return
        f = parse_v2(data)
        if not v2_valid(f, check_version=not self.o.m("v2-bad-version-forwarded")):
            self.counters["dgram_dropped"] += 1
            log(f"handler: datagram dropped ({len(data)} bytes)")
            return
        for r in self.receivers(s):
            if len(data) <= MAX_DGRAM_PAYLOAD:
                r.conn.send_datagram(data)
                self.counters["dgram_forwarded"] += 1
            else:
                self.counters["dgram_dropped"] += 1


# ============================================================================================
# client (DH15, DH16)
# ============================================================================================

class ClientFailure(Exception):
    pass


class _ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self):
        self.conn: Optional[Conn] = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if self.conn is not None:
            self.conn.receive(data, addr)

    def error_received(self, exc):
        pass


class ClientConn(NullApp):
    """A client-side session (controller or handler) with simple buffered streams; also used by the
    self-tests as a scripted client."""

    def __init__(self):
        self.conn: Optional[Conn] = None
        self.proto: Optional[_ClientProtocol] = None
        self.keylog = None
        self.rx: Dict[int, bytearray] = {}
        self.fin: set = set()
        self.resets: Dict[int, int] = {}
        self.stops: Dict[int, int] = {}
        self.new_streams: List[int] = []
        self.datagrams: List[bytes] = []
        self.closed: Optional[dict] = None
        self.on_change: Optional[Callable[[], None]] = None

    @classmethod
    async def connect(cls, url: str, *, idle_ms: int = 30000, keepalive_ms: int = 15000,
                      keylog: Optional[str] = None, cert_hash: Optional[str] = None,
                      timeout_s: float = 10.0, mapped: bool = False) -> "ClientConn":
        transport, host, port, path = parse_url(url)
        self = cls()
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, sockaddr = infos[0]
        self.keylog = open_keylog(keylog)
        wt = transport == "webtransport"
        bare_alpn = ALPN_QUIC_MEDIA if path.rstrip("/").endswith("media") else ALPN_QUIC
        cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN_H3 if wt else bare_alpn],
                                idle_timeout=idle_ms / 1000.0 if idle_ms > 0 else 86400.0,
                                server_name=host if not _is_ip(host) else "localhost",
                                verify_mode=ssl.CERT_NONE, secrets_log_file=self.keylog,
                                connection_id_length=CID_LEN, max_datagram_frame_size=MAX_DATAGRAM_FRAME)
        quic = DTQuic(configuration=cfg)
        self.proto = _ClientProtocol()
        udp, _ = await loop.create_datagram_endpoint(lambda: self.proto, remote_addr=sockaddr, family=family)
        self.conn = Conn(quic, lambda d, a: udp.sendto(d), wt=wt, app=self, keepalive_s=keepalive_ms / 1000.0,
                         mapped=mapped, path=path, authority=f"{host}:{port}", cert_hash=cert_hash)
        self.proto.conn = self.conn
        quic.connect(sockaddr, now=loop.time())
        self.conn.transmit()
        ok = await self.conn.wait_until(lambda: self.conn.session_open or self.conn.session_closed is not None,
                                        timeout_s)
        if not ok or not self.conn.session_open:
            why = "timeout" if not ok else describe_close(self.conn.session_closed)
            self.dispose()
            raise ClientFailure(f"cannot open a session to {url}: {why}")
        return self

    # ---- app callbacks ----
    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    def on_stream(self, conn, sid, data, fin):
        if sid not in self.rx:
            self.rx[sid] = bytearray()
            self.new_streams.append(sid)
        self.rx[sid] += data
        if fin:
            self.fin.add(sid)
        self._changed()

    def on_reset(self, conn, sid, code):
        self.resets[sid] = code
        self._changed()

    def on_stop(self, conn, sid, code):
        self.stops[sid] = code
        self._changed()

    def on_datagram(self, conn, data):
        self.datagrams.append(data)
        self._changed()

    def on_closed(self, conn, info):
        self.closed = info
        self._changed()

    # ---- helpers ----
    def open(self, uni: bool) -> int:
        sid = self.conn.open_stream(uni)
        if sid is None:
            raise ClientFailure("cannot open a stream")
        return sid

    def send(self, sid: int, data: bytes, fin: bool = False) -> bool:
        return self.conn.send(sid, data, fin)

    async def wait(self, pred: Callable[[], bool], timeout_s: Optional[float]) -> bool:
        return await self.conn.wait_until(pred, timeout_s)

    async def read_msg(self, sid: int, msg_name: str, timeout_s: float) -> Optional[dict]:
        """The next length-prefixed message on sid; None on FIN/reset/close/timeout (see .why)."""
        buf = self.rx.setdefault(sid, bytearray())

        def ready():
            if len(buf) >= 4:
                (n,) = struct.unpack_from(">I", buf, 0)
                if len(buf) >= 4 + n:
                    return True
            return sid in self.fin or sid in self.resets or self.closed is not None

        await self.wait(ready, timeout_s)
        if len(buf) >= 4:
            (n,) = struct.unpack_from(">I", buf, 0)
            if len(buf) >= 4 + n:
                body = bytes(buf[4:4 + n])
                del buf[:4 + n]
                return decode(msg_name, body)
        return None

    async def close(self, code: int = 0, reason: str = "", grace_s: float = 1.0) -> None:
        if self.conn is not None:
            await self.conn.close_session(code, reason, grace_s)
            await asyncio.sleep(0.02)
        self.dispose()

    def dispose(self) -> None:
        if self.conn is not None:
            self.conn.shutdown()
            self.conn.terminated = True
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        if self.keylog is not None:
            try:
                self.keylog.close()
            except OSError:
                pass
            self.keylog = None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def describe_close(info: Optional[dict]) -> str:
    if info is None:
        return "open"
    return f"{info['kind']} code={info.get('code')} reason={info.get('reason', '')!r}"


class ClientOptions:
    def __init__(self, ns):
        self.transport = ns.transport
        self.profile = ns.profile
        self.reset_codes = ns.reset_codes
        self.cert_hash = ns.cert_hash or None
        self.keylog = ns.keylog
        self.join_token = ns.join_token
        self.name = ns.name
        self.meeting = ns.client_meeting
        self.frames = ns.frames
        self.fps = ns.fps
        self.payload_bytes = ns.payload_bytes
        self.linger_ms = ns.linger_ms
        self.idle_ms = ns.idle_ms
        self.keepalive_ms = ns.keepalive_ms
        self.op_ms = ns.op_ms
        self.mutant = ns.mutant
        if ns.controller_url:
            self.controller_url = ns.controller_url
        elif ns.target:
            host, port = parse_hostport(ns.target)
            if port == 0:
                raise Usage("--target port must not be 0")
            h = f"[{host}]" if ":" in host else host
            self.controller_url = f"https://{h}:{port}/signaling" if self.transport == "webtransport" \
                else f"quic://{h}:{port}/signaling"
        else:
            raise Usage("--target or --controller-url is required")
        parse_url(self.controller_url)
        if not self.join_token:
            raise Usage("--join-token is required")
        pub = [x.strip() for x in (ns.publish or "none").split(",") if x.strip()]
        if pub == ["none"] or not pub:
            pub = []
        for x in pub:
            if x not in ("video", "audio"):
                raise Usage(f"--publish: unknown source {x!r} (video, audio, video,audio or none)")
        self.publish = list(dict.fromkeys(pub))
        if self.frames < 0 or self.fps <= 0 or self.payload_bytes < 0 or self.linger_ms < 0:
            raise Usage("--frames, --payload-bytes, --linger-ms must be >= 0 and --fps > 0")
        if self.profile == "v2" and self.payload_bytes + V2_HDR_LEN > MAX_DGRAM_PAYLOAD:
            raise Unsupported(f"v2: a {self.payload_bytes}-byte payload does not fit one QUIC datagram here")

    def m(self, name: str) -> bool:
        return self.mutant == name


def source_ids(name: str, kind: str) -> Tuple[bytes, int, int]:
    """DH16: the stream UUID, the v2 user id (u64) and the v2 stream id (u32), derived from the name."""
    u = uuid.uuid5(uuid.NAMESPACE_URL, f"darktower:{name}:{kind}").bytes
    user = int.from_bytes(hashlib.sha256(f"darktower-user:{name}".encode()).digest()[:8], "big")
    sid32 = int.from_bytes(hashlib.sha256(f"darktower-stream:{name}:{kind}".encode()).digest()[:4], "big")
    return u, user, sid32


class MediaReceiver:
    """Counts what the handler forwards to us (v1 streams, v2 datagrams)."""

    def __init__(self):
        self.streams: Dict[int, dict] = {}
        self.frames = 0
        self.bad = 0
        self.dgrams = 0

    def feed_streams(self, cc: ClientConn) -> None:
        for sid, buf in cc.rx.items():
            if sid % 4 != 3:  # server-initiated unidirectional
                continue
            st = self.streams.setdefault(sid, dict(header=None, last_seq=None))
            if st["header"] is None:
                if len(buf) < HEADER_LEN:
                    continue
                st["header"] = bytes(buf[:HEADER_LEN])
                del buf[:HEADER_LEN]
                if st["header"][:4] != MAGIC:
                    self.bad += 1
            while len(buf) >= FRAME_HDR_LEN:
                f = parse_frame_header(buf)
                if len(buf) < FRAME_HDR_LEN + f["length"]:
                    break
                del buf[:FRAME_HDR_LEN + f["length"]]
                self.frames += 1
                if st["last_seq"] is not None and f["sequence"] <= st["last_seq"]:
                    self.bad += 1
                st["last_seq"] = f["sequence"]

    def feed_dgrams(self, cc: ClientConn) -> None:
        while cc.datagrams:
            d = cc.datagrams.pop(0)
            if v2_valid(parse_v2(d)):
                self.dgrams += 1
            else:
                self.bad += 1


async def client_main(o: ClientOptions) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    st: Dict[str, object] = dict(pid="-", sent=0, error=None)
    recv = MediaReceiver()
    ctl: Optional[ClientConn] = None
    med: Optional[ClientConn] = None
    op_s = o.op_ms / 1000.0
    lpfx = o.m("length-prefix-little-endian")

    def result(ok: bool, reason: str = "") -> int:
        if med is not None:
            recv.feed_streams(med)
            recv.feed_dgrams(med)
        kv = (f"participant={st['pid']} sent={st['sent']} received_frames={recv.frames} "
              f"received_datagrams={recv.dgrams} received_streams={len(recv.streams)} bad={recv.bad}")
        if ok:
            print(f"RESULT=ok {kv}", flush=True)
            return EXIT_OK
        print(f"RESULT=fail reason={reason.replace(' ', '_')} {kv}", flush=True)
        if o.m("exit-0-after-error") and st.get("error_message"):
            return EXIT_OK
        return EXIT_FAIL

    async def run() -> None:
        nonlocal ctl, med
        claims = jwt_claims_unverified(o.join_token)
        meeting = o.meeting or (claims.get("meeting_id") if isinstance(claims.get("meeting_id"), str) else "")
        ctl = await ClientConn.connect(o.controller_url, idle_ms=o.idle_ms, keepalive_ms=o.keepalive_ms,
                                       keylog=o.keylog, cert_hash=o.cert_hash, timeout_s=op_s,
                                       mapped=o.reset_codes == "mapped")
        sig = ctl.open(uni=False)
        ctl.send(sig, frame_msg("ClientMessage", {"join_request": dict(
            meeting_id=meeting, join_token=o.join_token, participant_name=o.name,
            capabilities=dict(video_codecs=["VP09"], audio_codecs=["Opus"]))}, lpfx))
        msg = await ctl.read_msg(sig, "ServerMessage", op_s)
        if msg is None:
            raise ClientFailure(f"no JoinResponse ({describe_close(ctl.closed)})")
        if msg["_which"] == "error":
            st["error_message"] = True
            e = msg["error"]
            raise ClientFailure(f"ErrorMessage {ERROR_NAMES[e['code']] if e['code'] < 9 else e['code']}: "
                                f"{e['message']}")
        if msg["_which"] != "join_response":
            raise ClientFailure(f"expected JoinResponse, got {msg['_which']}")
        jr = msg["join_response"]
        st["pid"] = jr["participant_id"]
        log(f"client {o.name}: joined as {jr['participant_id']}, "
            f"{len(jr['existing_participants'])} present")
        subscribed = set()

        def subscribe(stream_id: str) -> None:
            if stream_id not in subscribed:
                subscribed.add(stream_id)
                ctl.send(sig, frame_msg("ClientMessage", {"subscribe_stream": dict(stream_id=stream_id)}, lpfx))

        for p in jr["existing_participants"]:
            for ms in p["streams"]:
                subscribe(ms["stream_id"])

        async def signaling_reader() -> None:
            while True:
                m = await ctl.read_msg(sig, "ServerMessage", None)
                if m is None:
                    if sig in ctl.resets:
                        raise ClientFailure(f"signaling stream reset ({ctl.resets[sig]:#x})")
                    if ctl.closed is not None:
                        raise ClientFailure(f"controller session closed ({describe_close(ctl.closed)})")
                    raise ClientFailure("signaling stream finished by the controller")
                w = m["_which"]
                if w == "error":
                    st["error_message"] = True
                    e = m["error"]
                    raise ClientFailure(f"ErrorMessage {e['code']}: {e['message']}")
                if w == "stream_published":
                    sp = m["stream_published"]
                    log(f"client {o.name}: {sp['participant_id']} published {sp['stream']['stream_id']}")
                    subscribe(sp["stream"]["stream_id"])
                elif w == "participant_joined":
                    log(f"client {o.name}: {m['participant_joined']['participant']['participant_id']} joined")
                elif w == "participant_left":
                    pl = m["participant_left"]
                    log(f"client {o.name}: {pl['participant_id']} left ({LEAVE_NAMES[pl['reason']] if pl['reason'] < 4 else pl['reason']})")

        sig_task = asyncio.ensure_future(signaling_reader())
        try:
            url = jr["media_server"]["media_handler_url"] if jr["media_server"] else ""
            token = jr["media_server"]["connection_token"] if jr["media_server"] else ""
            med = await ClientConn.connect(url, idle_ms=o.idle_ms, keepalive_ms=o.keepalive_ms, keylog=o.keylog,
                                           cert_hash=o.cert_hash, timeout_s=op_s, mapped=o.reset_codes == "mapped")
            auth = med.open(uni=False)
            med.send(auth, frame_msg("MediaClientMessage", {"connect_request": dict(join_token=token)}))
            am = await med.read_msg(auth, "MediaServerMessage", op_s)
            if am is None or am["_which"] != "connect_response":
                if am is not None and am["_which"] == "error":
                    st["error_message"] = True
                raise ClientFailure(f"media authentication failed: {am['error']['message'] if am else 'no answer'}")
            log(f"client {o.name}: media session authenticated as {am['connect_response']['participant_id']}")
            med.on_change = lambda: (recv.feed_streams(med), recv.feed_dgrams(med))

            sources = []
            for kind in o.publish:
                u, user, sid32 = source_ids(o.name, kind)
                stype = VIDEO_CAMERA if kind == "video" else AUDIO
                codec = "VP09" if kind == "video" else "Opus"
                stream_name = str(uuid.UUID(bytes=u)) if o.profile == "v1" else str(sid32)
                if not o.m("no-publish-stream"):
                    meta = dict(codec=codec)
                    if kind == "video":
                        meta["video"] = dict(width=640, height=360, framerate=o.fps)
                    ctl.send(sig, frame_msg("ClientMessage", {"publish_stream": dict(
                        stream_id=stream_name, stream_type=stype, metadata=meta)}, lpfx))
                ms = None
                if o.profile == "v1":
                    ms = med.open(uni=True)
                    magic = MAGIC[::-1] if o.m("magic-reversed") else MAGIC
                    med.send(ms, build_header(u, 1 if kind == "video" else 0, codec.encode(), magic))
                sources.append((kind, u, user, sid32, ms))

            def check_alive() -> None:
                if sig_task.done():
                    sig_task.result()
                for (_, _, _, _, ms) in sources:
                    if ms is not None and ms in med.stops:
                        raise ClientFailure(f"media stream {ms} stopped by the handler ({med.stops[ms]:#x})")
                if med.closed is not None:
                    raise ClientFailure(f"media session closed ({describe_close(med.closed)})")
                if auth in med.resets:
                    raise ClientFailure("authentication stream reset")

            async def send_source(kind, u, user, sid32, ms) -> None:
                first = 1 if o.m("sequence-from-1") else 0
                t0 = loop.time()
                payload = bytes((i * 7 + 3) & 0xFF for i in range(o.payload_bytes))
                for i in range(o.frames):
                    delay = t0 + i / o.fps - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    check_alive()
                    ftype = 0 if kind == "audio" else (1 if i % 30 == 0 else 2)
                    ts = time.time_ns() // 1000
                    if ms is not None:
                        med.send(ms, build_frame(ftype, u, ts, first + i, payload))
                    else:
                        med.conn.send_datagram(build_v2(ftype, user, sid32, ts, first + i, payload))
                    st["sent"] = int(st["sent"]) + 1

            senders = [asyncio.ensure_future(send_source(*x)) for x in sources]
            try:
                await asyncio.gather(*senders)
            finally:
                for t in senders:
                    t.cancel()
                await asyncio.gather(*senders, return_exceptions=True)
            t_end = loop.time() + o.linger_ms / 1000.0
            while loop.time() < t_end:
                check_alive()
                await asyncio.wait([sig_task], timeout=min(0.05, max(0.0, t_end - loop.time())))
            check_alive()
            for (_, _, _, _, ms) in sources:
                if ms is not None:
                    med.send(ms, b"", fin=True)
            await med.wait(lambda: med.conn.all_sent_acked([x[4] for x in sources if x[4] is not None]), 1.0)
            check_alive()
        finally:
            if not sig_task.done():
                sig_task.cancel()
            await asyncio.gather(sig_task, return_exceptions=True)
        med.send(auth, b"", fin=True)
        ctl.send(sig, b"", fin=True)
        await asyncio.gather(med.close(0, "done"), ctl.close(0, "done"))

    task = asyncio.ensure_future(run())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    try:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return result(False, "signal")
        exc = task.exception()
        if exc is None:
            return result(True)
        if isinstance(exc, (ClientFailure, TimeoutError, OSError, ConnectionError)):
            log(f"client {o.name}: failed: {exc}")
            for c in (med, ctl):
                if c is not None and c.conn is not None and not c.conn.terminated:
                    await c.close(0, "failed", grace_s=0.3)
            return result(False, str(exc)[:80])
        raise exc
    finally:
        for c in (med, ctl):
            if c is not None:
                c.dispose()


# ============================================================================================
# command line
# ============================================================================================

def _int_or_empty(text: str):
    """An empty value (a placeholder the harness left empty for this role) means the default."""
    return None if text.strip() == "" else int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="darktower_peer.py", description="Dark Tower controller, media handler and client")
    ap.add_argument("role", choices=["controller", "handler", "client"])
    ap.add_argument("--transport", choices=["webtransport", "quic"], default="webtransport")
    ap.add_argument("--profile", choices=["v1", "v2"], default="v1")
    ap.add_argument("--reset-codes", choices=["mapped", "raw"], default="mapped")
    ap.add_argument("--keylog", default=None)
    ap.add_argument("--idle-ms", type=int, default=30000)
    ap.add_argument("--keepalive-ms", type=int, default=15000)
    ap.add_argument("--mutant", choices=sorted(MUTANTS), default=None)
    ap.add_argument("--plant", choices=PLANTS, default=None)
    # servers
    ap.add_argument("--listen")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--token-secret")
    ap.add_argument("--meeting", action="append", default=None,
                    help="controller: a meeting id served (repeatable); client: the meeting to join")
    ap.add_argument("--ended", action="append", default=None)
    ap.add_argument("--capacity", type=_int_or_empty, default=10)
    ap.add_argument("--handler-url")
    # client
    ap.add_argument("--target")
    ap.add_argument("--controller-url")
    ap.add_argument("--cert-hash")
    ap.add_argument("--join-token")
    ap.add_argument("--name", default="client")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--payload-bytes", type=int, default=200)
    ap.add_argument("--linger-ms", type=int, default=500)
    ap.add_argument("--publish", default="video")
    ap.add_argument("--op-ms", type=int, default=20000)
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    ns = ap.parse_args(argv)
    for name in ("keylog", "cert", "key", "cert_hash", "handler_url", "token_secret", "join_token"):
        if getattr(ns, name, None) == "":
            setattr(ns, name, None)
    if ns.capacity is None:
        ns.capacity = 10
    # --meeting / --ended: repeatable, and a value may list several ids separated by commas
    for name in ("meeting", "ended"):
        vals = getattr(ns, name)
        if vals is not None:
            ids = [x.strip() for v in vals for x in v.split(",") if x.strip()]
            setattr(ns, name, ids or None)
    try:
        if ns.role in ("controller", "handler"):
            if not ns.listen:
                raise Usage("--listen is required for servers")
            host, port = parse_hostport(ns.listen)
            return asyncio.run(server_main(ServerOptions(ns), host, port))
        ns.client_meeting = ns.meeting[-1] if ns.meeting else None
        return asyncio.run(client_main(ClientOptions(ns)))
    except Usage as e:
        ap.print_usage(sys.stderr)
        print(f"darktower_peer.py: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Unsupported as e:
        print(f"unsupported: {e}", file=sys.stderr, flush=True)
        return EXIT_UNSUPPORTED
    except KeyboardInterrupt:
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
