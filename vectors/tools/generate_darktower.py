#!/usr/bin/env python3
"""Independent generator of the Dark Tower byte test vectors.

This is a second oracle for the Dark Tower wire formats.  It re-implements,
from ../shared/protocols/darktower.md alone and with the Python standard
library only, the facts and profile decisions listed there (DT1-DT11):

* the v1 media stream header (32 bytes: magic "DART", version, stream type,
  16-byte UUID, codec FourCC, 6 reserved bytes);
* the v1 media frame (46-byte header + payload) and the v2 frame (42-byte
  header + payload, QUIC datagrams);
* the signaling framing (u32 big-endian length + protobuf bytes, lengths
  1..65,536 accepted) and a minimal proto3 encoder/decoder for the
  ClientMessage / ServerMessage oneofs and everything inside them;
* the DT7 media authentication messages;
* the media stream reset codes 0x00-0x04 and their mapping into the HTTP/3
  WebTransport application error space (DT9).

It does not read any other implementation.  Hand-stated anchors (the example
bytes of darktower.md among them) are asserted at start-up; every encoded
case is decoded again and must give back what was encoded.  Output is
deterministic (sorted keys, fixed case order, no randomness).

Usage (from the repository root):

    python3 vectors/tools/generate_darktower.py           # (re)write vectors/darktower/*.json
    python3 vectors/tools/generate_darktower.py --check   # exit 1 if any file on disk differs
    python3 vectors/tools/generate_darktower.py --summary # also print case counts per file
"""

import argparse
import json
import os
import re
import struct
import sys
import uuid as uuidlib

SCHEMA_REF = "../schema/darktower-vectors.schema.json"
PROTOCOL = "darktower"
ID_RE = re.compile(r"^[a-z0-9_]+$")

# --------------------------------------------------------------------------
# Media v1: stream header
# --------------------------------------------------------------------------

MAGIC = b"DART"
HEADER_LEN = 32
STREAM_TYPES = {0x00: "audio", 0x01: "video"}  # DT2
FOURCCS = ("Opus", "VP08", "VP09", "AV01", "H264")  # the table of darktower.md

RESET_CODES = (
    (0x00, "graceful", "graceful end of the media stream"),
    (0x01, "invalid_stream_format",
     "invalid stream format: bad magic, version != 1, unknown stream type (incl. 2), a header "
     "cut short by FIN, a frame whose stream id differs from the header's (DT2, DT3, DT5); "
     "this project: a v1 frame with version != 1, frame type > 2, a short frame header or a "
     "payload cut short by FIN"),
    (0x02, "authentication_failed",
     "authentication failed: a media stream opened before a successful ConnectResponse (DT7), "
     "an invalid, expired or reused media token (DT8)"),
    (0x03, "quota_exceeded", "quota exceeded"),
    (0x04, "internal_error", "internal error"),
)
RESET_NAME = {c: n for c, n, _ in RESET_CODES}
RESET_INVALID_FORMAT = 0x01


def uuid_str(b):
    assert len(b) == 16
    return str(uuidlib.UUID(bytes=bytes(b)))


def uuid_bytes(s):
    return uuidlib.UUID(s).bytes


def fourcc_text(b):
    """The FourCC as text when all four bytes are printable ASCII, else None."""
    if all(0x20 <= c <= 0x7E for c in b):
        return b.decode("ascii")
    return None


def encode_stream_header(stream_type, stream_id, codec, version=1, magic=MAGIC,
                         reserved=b"\x00" * 6):
    codec = codec.encode("ascii") if isinstance(codec, str) else bytes(codec)
    out = (bytes(magic) + bytes([version, stream_type]) + uuid_bytes(stream_id) + codec
           + bytes(reserved))
    assert len(magic) == 4 and len(codec) == 4 and len(reserved) == 6
    assert len(out) == HEADER_LEN
    return out


def reset_error(kind, **extra):
    e = {"kind": kind, "action": "reset", "reset_code": RESET_INVALID_FORMAT,
         "reset_name": RESET_NAME[RESET_INVALID_FORMAT]}
    e.update(extra)
    return {"error": e}


def decode_stream_header(b):
    """Decode the first 32 bytes of a media stream; b is everything received, then FIN."""
    b = bytes(b)
    if len(b) < HEADER_LEN:
        return reset_error("truncated", received=len(b), needed=HEADER_LEN)
    if b[0:4] != MAGIC:
        return reset_error("bad_magic", magic_hex=b[0:4].hex())
    if b[4] != 1:
        return reset_error("unsupported_version", version=b[4])
    if b[5] not in STREAM_TYPES:
        return reset_error("unknown_stream_type", stream_type=b[5])
    codec = b[22:26]
    return {"ok": {
        "magic": "DART",
        "version": b[4],
        "stream_type": b[5],
        "stream_type_name": STREAM_TYPES[b[5]],
        "stream_id": uuid_str(b[6:22]),
        "codec_hex": codec.hex(),
        "codec": fourcc_text(codec),
        "codec_known": fourcc_text(codec) in FOURCCS,
        "reserved_hex": b[26:32].hex(),
        "header_length": HEADER_LEN,
    }}


# --------------------------------------------------------------------------
# Media frames, v1 (46-byte header) and v2 (42-byte header)
# --------------------------------------------------------------------------

FRAME_TYPES = {0x00: "audio", 0x01: "video_key", 0x02: "video_delta"}
FLAG_END_OF_FRAME = 0x0001
FLAG_DISCARDABLE = 0x0002
FLAGS_KNOWN = FLAG_END_OF_FRAME | FLAG_DISCARDABLE
V1_HEADER_LEN = 46
V2_HEADER_LEN = 42
V1_FMT = ">BB16sQQIH6s"
V2_FMT = ">BBQIQQIH6s"
assert struct.calcsize(V1_FMT) == V1_HEADER_LEN
assert struct.calcsize(V2_FMT) == V2_HEADER_LEN


def encode_frame_v1(frame_type, stream_id, timestamp, sequence, flags, payload, version=1,
                    reserved=b"\x00" * 6, payload_length=None):
    payload = bytes(payload)
    n = len(payload) if payload_length is None else payload_length
    return struct.pack(V1_FMT, version, frame_type, uuid_bytes(stream_id), timestamp, sequence,
                       n, flags, bytes(reserved)) + payload


def encode_frame_v2(frame_type, user_id, stream_id, timestamp, sequence, flags, payload,
                    version=1, reserved=b"\x00" * 6, payload_length=None):
    payload = bytes(payload)
    n = len(payload) if payload_length is None else payload_length
    return struct.pack(V2_FMT, version, frame_type, user_id, stream_id, timestamp, sequence,
                       n, flags, bytes(reserved)) + payload


def _flag_fields(flags):
    return {"flags": flags,
            "end_of_frame": bool(flags & FLAG_END_OF_FRAME),
            "discardable": bool(flags & FLAG_DISCARDABLE),
            "reserved_flag_bits": flags & ~FLAGS_KNOWN & 0xFFFF}


def decode_frame_v1(b, header_stream_id=None):
    """One v1 frame from the start of b (everything received on the stream, then FIN)."""
    b = bytes(b)
    if len(b) < V1_HEADER_LEN:
        return reset_error("truncated_header", received=len(b), needed=V1_HEADER_LEN)
    ver, ftype, sid, ts, seq, n, flags, res = struct.unpack_from(V1_FMT, b, 0)
    if ver != 1:
        return reset_error("unsupported_version", version=ver)
    if ftype not in FRAME_TYPES:
        return reset_error("unknown_frame_type", frame_type=ftype)
    if header_stream_id is not None and uuid_str(sid) != header_stream_id:
        return reset_error("stream_id_mismatch", stream_id=uuid_str(sid),
                           header_stream_id=header_stream_id)
    # checked against the bytes present before anything is allocated
    if len(b) - V1_HEADER_LEN < n:
        return reset_error("truncated_payload", payload_length=n,
                           available=len(b) - V1_HEADER_LEN)
    ok = {"version": ver, "frame_type": ftype, "frame_type_name": FRAME_TYPES[ftype],
          "stream_id": uuid_str(sid), "timestamp_us": ts, "sequence": seq,
          "payload_length": n, "reserved_hex": res.hex(),
          "payload_hex": b[V1_HEADER_LEN:V1_HEADER_LEN + n].hex(),
          "frame_length": V1_HEADER_LEN + n}
    ok.update(_flag_fields(flags))
    return {"ok": ok}


def drop_error(kind, **extra):
    e = {"kind": kind, "action": "drop"}
    e.update(extra)
    return {"error": e}


def decode_frame_v2(b):
    """One v2 frame = one whole datagram (DT11)."""
    b = bytes(b)
    if len(b) < V2_HEADER_LEN:
        return drop_error("truncated_header", received=len(b), needed=V2_HEADER_LEN)
    ver, ftype, user, sid, ts, seq, n, flags, res = struct.unpack_from(V2_FMT, b, 0)
    if ver != 1:
        return drop_error("unsupported_version", version=ver)
    if ftype not in FRAME_TYPES:
        return drop_error("unknown_frame_type", frame_type=ftype)
    if len(b) - V2_HEADER_LEN < n:
        return drop_error("truncated_payload", payload_length=n,
                          available=len(b) - V2_HEADER_LEN)
    ok = {"version": ver, "frame_type": ftype, "frame_type_name": FRAME_TYPES[ftype],
          "user_id": user, "stream_id": sid, "timestamp_us": ts, "sequence": seq,
          "payload_length": n, "reserved_hex": res.hex(),
          "payload_hex": b[V2_HEADER_LEN:V2_HEADER_LEN + n].hex(),
          "frame_length": V2_HEADER_LEN + n,
          "trailing_bytes": len(b) - V2_HEADER_LEN - n}
    ok.update(_flag_fields(flags))
    return {"ok": ok}


# --------------------------------------------------------------------------
# Minimal proto3
# --------------------------------------------------------------------------

# (number, name, type, repeated, oneof); type is a scalar name, ("enum", E),
# ("msg", M) or "map" (map<string,string>).
S, R = False, True
MESSAGES = {
    "ParticipantCapabilities": [
        (1, "video_codecs", "string", R, False), (2, "audio_codecs", "string", R, False),
        (3, "supports_simulcast", "bool", S, False), (4, "max_video_streams", "uint32", S, False)],
    "JoinRequest": [
        (1, "meeting_id", "string", S, False), (2, "join_token", "string", S, False),
        (3, "participant_name", "string", S, False),
        (4, "capabilities", ("msg", "ParticipantCapabilities"), S, False)],
    "EncryptionKeys": [(1, "public_key", "bytes", S, False), (2, "key_id", "string", S, False)],
    "MediaServerInfo": [(1, "media_handler_url", "string", S, False),
                        (2, "connection_token", "string", S, False)],
    "SimulcastLayer": [(1, "layer_id", "string", S, False), (2, "width", "uint32", S, False),
                       (3, "height", "uint32", S, False), (4, "max_bitrate", "uint32", S, False)],
    "VideoMetadata": [(1, "width", "uint32", S, False), (2, "height", "uint32", S, False),
                      (3, "framerate", "uint32", S, False),
                      (4, "simulcast_layers", ("msg", "SimulcastLayer"), R, False)],
    "StreamMetadata": [(1, "codec", "string", S, False), (2, "max_bitrate", "uint32", S, False),
                       (3, "video", ("msg", "VideoMetadata"), S, False)],
    "MediaStream": [(1, "stream_id", "string", S, False),
                    (2, "stream_type", ("enum", "StreamType"), S, False),
                    (3, "metadata", ("msg", "StreamMetadata"), S, False)],
    "Participant": [(1, "participant_id", "string", S, False), (2, "name", "string", S, False),
                    (3, "streams", ("msg", "MediaStream"), R, False),
                    (4, "joined_at", "uint64", S, False)],
    "JoinResponse": [(1, "participant_id", "string", S, False),
                     (2, "existing_participants", ("msg", "Participant"), R, False),
                     (3, "media_server", ("msg", "MediaServerInfo"), S, False),
                     (4, "encryption_keys", ("msg", "EncryptionKeys"), S, False)],
    "ParticipantJoined": [(1, "participant", ("msg", "Participant"), S, False)],
    "ParticipantLeft": [(1, "participant_id", "string", S, False),
                        (2, "reason", ("enum", "LeaveReason"), S, False)],
    "PublishStream": [(1, "stream_id", "string", S, False),
                      (2, "stream_type", ("enum", "StreamType"), S, False),
                      (3, "metadata", ("msg", "StreamMetadata"), S, False)],
    "StreamPublished": [(1, "participant_id", "string", S, False),
                        (2, "stream", ("msg", "MediaStream"), S, False)],
    "SubscriptionOptions": [(1, "preferred_layer", "string", S, False),
                            (2, "max_bitrate", "uint32", S, False)],
    "SubscribeStream": [(1, "stream_id", "string", S, False),
                        (2, "options", ("msg", "SubscriptionOptions"), S, False)],
    "UnsubscribeStream": [(1, "stream_id", "string", S, False)],
    "StreamQualityUpdate": [(1, "stream_id", "string", S, False),
                            (2, "available_bitrate", "uint32", S, False),
                            (3, "packet_loss", "float", S, False),
                            (4, "rtt_ms", "uint32", S, False)],
    "ErrorMessage": [(1, "code", ("enum", "ErrorCode"), S, False),
                     (2, "message", "string", S, False), (3, "details", "map", S, False)],
    "ClientMessage": [
        (1, "join_request", ("msg", "JoinRequest"), S, True),
        (2, "publish_stream", ("msg", "PublishStream"), S, True),
        (3, "subscribe_stream", ("msg", "SubscribeStream"), S, True),
        (4, "unsubscribe_stream", ("msg", "UnsubscribeStream"), S, True),
        (5, "stream_quality_update", ("msg", "StreamQualityUpdate"), S, True)],
    "ServerMessage": [
        (1, "join_response", ("msg", "JoinResponse"), S, True),
        (2, "participant_joined", ("msg", "ParticipantJoined"), S, True),
        (3, "participant_left", ("msg", "ParticipantLeft"), S, True),
        (4, "stream_published", ("msg", "StreamPublished"), S, True),
        (5, "stream_quality_update", ("msg", "StreamQualityUpdate"), S, True),
        (6, "error", ("msg", "ErrorMessage"), S, True)],
    # DT7 media authentication
    "ConnectRequest": [(1, "join_token", "string", S, False)],
    "ConnectResponse": [(1, "participant_id", "string", S, False)],
    "MediaClientMessage": [(1, "connect_request", ("msg", "ConnectRequest"), S, True)],
    "MediaServerMessage": [(1, "connect_response", ("msg", "ConnectResponse"), S, True),
                           (2, "error", ("msg", "ErrorMessage"), S, True)],
    # map<string,string> entry
    "_MapEntry": [(1, "key", "string", S, False), (2, "value", "string", S, False)],
}
ENUMS = {
    "StreamType": {0: "AUDIO", 1: "VIDEO_CAMERA", 2: "VIDEO_SCREEN"},
    "LeaveReason": {0: "VOLUNTARY", 1: "KICKED", 2: "CONNECTION_LOST", 3: "MEETING_ENDED"},
    "ErrorCode": {0: "UNKNOWN", 1: "INVALID_REQUEST", 2: "UNAUTHORIZED", 3: "FORBIDDEN",
                  4: "NOT_FOUND", 5: "CONFLICT", 6: "INTERNAL_ERROR", 7: "CAPACITY_EXCEEDED",
                  8: "STREAM_ERROR"},
}
WT_VARINT, WT_I64, WT_LEN, WT_I32 = 0, 1, 2, 5


def wire_type(ftype):
    if ftype in ("string", "bytes", "map") or (isinstance(ftype, tuple) and ftype[0] == "msg"):
        return WT_LEN
    if ftype == "float":
        return WT_I32
    return WT_VARINT


def enc_varint(v):
    assert 0 <= v < 1 << 64, v
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class DecodeError(Exception):
    pass


def dec_varint(b, o):
    v, shift = 0, 0
    for i in range(10):
        if o + i >= len(b):
            raise DecodeError("truncated_varint")
        c = b[o + i]
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            if v >= 1 << 64:
                raise DecodeError("varint_overflow")
            return v, o + i + 1
    raise DecodeError("varint_too_long")


def f32(x):
    """x rounded to a 32-bit float (as a Python float)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _enc_scalar(ftype, v):
    if ftype == "string":
        raw = v.encode("utf-8")
        return enc_varint(len(raw)) + raw
    if ftype == "bytes":
        raw = bytes.fromhex(v)
        return enc_varint(len(raw)) + raw
    if ftype == "bool":
        return enc_varint(1 if v else 0)
    if ftype == "uint32":
        assert 0 <= v <= 0xFFFF_FFFF
        return enc_varint(v)
    if ftype == "uint64":
        return enc_varint(v)
    if ftype == "float":
        assert f32(v) == v, v
        return struct.pack("<f", v)
    if ftype[0] == "enum":
        n = v if isinstance(v, int) else {nm: k for k, nm in ENUMS[ftype[1]].items()}[v]
        return enc_varint(n)
    if ftype[0] == "msg":
        raw = encode_message(ftype[1], v)
        return enc_varint(len(raw)) + raw
    raise AssertionError(ftype)


def _is_default(ftype, v):
    if ftype in ("string", "bytes"):
        return v == ""
    if ftype == "bool":
        return v is False
    if ftype in ("uint32", "uint64"):
        return v == 0
    if ftype == "float":
        assert not (v == 0 and str(v).startswith("-")), "no -0.0 in these vectors"
        return v == 0.0
    if ftype[0] == "enum":
        return v in (0, ENUMS[ftype[1]][0])
    return False  # a set sub-message is always emitted (it has presence)


def encode_message(name, obj):
    """Canonical proto3 bytes: fields in number order, defaults not emitted."""
    fields = MESSAGES[name]
    known = {f[1] for f in fields}
    assert set(obj) <= known, (name, set(obj) - known)
    oneofs = [f[1] for f in fields if f[4] and f[1] in obj]
    assert len(oneofs) <= 1, (name, oneofs)
    out = bytearray()
    for num, fname, ftype, rep, oneof in fields:
        if fname not in obj:
            continue
        v = obj[fname]
        key = enc_varint(num << 3 | wire_type(ftype))
        if ftype == "map":
            for k in sorted(v):  # decision: entries in key order
                entry = encode_message("_MapEntry",
                                       {x: y for x, y in (("key", k), ("value", v[k])) if y != ""})
                out += key + enc_varint(len(entry)) + entry
        elif rep:
            for item in v:
                out += key + _enc_scalar(ftype, item)
        elif oneof or not _is_default(ftype, v):
            out += key + _enc_scalar(ftype, v)
        else:
            raise AssertionError("default value given explicitly: %s.%s" % (name, fname))
    return bytes(out)


def decode_message(name, b):
    """Decode proto3 bytes into the JSON form used by the vectors.

    Unknown fields are skipped; a singular scalar seen twice keeps the last value; a singular
    message seen twice is merged; for a oneof the last member seen wins."""
    b = bytes(b)
    by_num = {f[0]: f for f in MESSAGES[name]}
    by_name = {f[1]: f for f in MESSAGES[name]}
    out = {}
    msg_raw = {}  # fname -> accumulated bytes of a singular message (merge)
    o = 0
    while o < len(b):
        tag, o = dec_varint(b, o)
        num, wt = tag >> 3, tag & 7
        if num == 0:
            raise DecodeError("field_number_zero")
        if wt == WT_VARINT:
            val, o = dec_varint(b, o)
        elif wt == WT_I64:
            if o + 8 > len(b):
                raise DecodeError("truncated_fixed64")
            val, o = b[o:o + 8], o + 8
        elif wt == WT_I32:
            if o + 4 > len(b):
                raise DecodeError("truncated_fixed32")
            val, o = b[o:o + 4], o + 4
        elif wt == WT_LEN:
            n, o = dec_varint(b, o)
            if o + n > len(b):
                raise DecodeError("truncated_length_delimited")
            val, o = b[o:o + n], o + n
        else:
            raise DecodeError("unsupported_wire_type")
        f = by_num.get(num)
        if f is None:
            continue  # unknown field: skipped
        _, fname, ftype, rep, oneof = f
        if wt != wire_type(ftype):
            raise DecodeError("wrong_wire_type")
        if oneof:
            for g in MESSAGES[name]:
                if g[4] and g[1] != fname:
                    out.pop(g[1], None)
                    msg_raw.pop(g[1], None)
        if ftype == "map":
            e = decode_message("_MapEntry", val)
            out.setdefault(fname, {})[e.get("key", "")] = e.get("value", "")
        elif isinstance(ftype, tuple) and ftype[0] == "msg":
            if rep:
                out.setdefault(fname, []).append(decode_message(ftype[1], val))
            else:
                msg_raw[fname] = msg_raw.get(fname, b"") + val
                out[fname] = None
        else:
            v = _dec_scalar(ftype, val)
            if rep:
                out.setdefault(fname, []).append(v)
            else:
                out[fname] = v
    for fname, raw in msg_raw.items():
        out[fname] = decode_message(by_name[fname][2][1], raw)
    # proto3: a singular scalar equal to its default reads as absent
    for num, fname, ftype, rep, oneof in MESSAGES[name]:
        if (fname in out and not rep and not oneof and ftype != "map"
                and _is_default(ftype, out[fname])):
            del out[fname]
    return out


def _dec_scalar(ftype, val):
    if ftype == "string":
        try:
            return val.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("invalid_utf8")
    if ftype == "bytes":
        return val.hex()
    if ftype == "bool":
        return val != 0
    if ftype == "uint32":
        return val & 0xFFFF_FFFF
    if ftype == "uint64":
        return val
    if ftype == "float":
        return struct.unpack("<f", val)[0]
    if ftype[0] == "enum":
        return ENUMS[ftype[1]].get(val & 0xFFFF_FFFF, val)
    raise AssertionError(ftype)


# --------------------------------------------------------------------------
# Signaling framing (u32 big-endian length + protobuf), DT6
# --------------------------------------------------------------------------

MAX_MESSAGE_LEN = 65_536


def frame_message(body):
    assert 1 <= len(body) <= MAX_MESSAGE_LEN
    return struct.pack(">I", len(body)) + body


def read_framed(chunks, fin, message_type):
    """Split what arrived on a signaling stream into messages.

    Returns {"messages": [...], "end": ...}; end is "open" (nothing pending), {"pending": n}
    (n bytes of an unfinished prefix or body), "fin", {"fin_inside_message": n} or
    {"error": {...}}.  A bad length is judged as soon as its 4 bytes are in."""
    buf = b"".join(bytes(c) for c in chunks)
    msgs = []
    o = 0
    while True:
        if len(buf) - o < 4:
            rest = len(buf) - o
            break
        n = struct.unpack_from(">I", buf, o)[0]
        if n == 0 or n > MAX_MESSAGE_LEN:
            return {"messages": msgs, "end": {"error": {
                "kind": "zero_length" if n == 0 else "too_long", "length": n,
                "close": "STREAM_ERROR"}}}
        if len(buf) - o - 4 < n:
            rest = len(buf) - o
            break
        body = buf[o + 4:o + 4 + n]
        try:
            msgs.append({"length": n, "message": decode_message(message_type, body)})
        except DecodeError as e:
            return {"messages": msgs, "end": {"error": {"kind": "invalid_protobuf",
                                                         "detail": str(e), "length": n}}}
        o += 4 + n
    if fin:
        return {"messages": msgs, "end": "fin" if rest == 0 else {"fin_inside_message": rest}}
    return {"messages": msgs, "end": "open" if rest == 0 else {"pending": rest}}


def read_framed_incremental(chunks, fin, message_type):
    """The same rules, fed chunk by chunk (a second formulation; must agree)."""
    pending = bytearray()
    need = None  # body length once the prefix is in
    msgs = []
    for chunk in chunks:
        for c in bytes(chunk):
            pending.append(c)
            if need is None and len(pending) == 4:
                n = int.from_bytes(pending, "big")
                if n == 0 or n > MAX_MESSAGE_LEN:
                    return {"messages": msgs, "end": {"error": {
                        "kind": "zero_length" if n == 0 else "too_long", "length": n,
                        "close": "STREAM_ERROR"}}}
                need = n
            if need is not None and len(pending) == 4 + need:
                try:
                    msgs.append({"length": need,
                                 "message": decode_message(message_type, pending[4:])})
                except DecodeError as e:
                    return {"messages": msgs, "end": {"error": {
                        "kind": "invalid_protobuf", "detail": str(e), "length": need}}}
                pending.clear()
                need = None
    rest = len(pending)
    if fin:
        return {"messages": msgs, "end": "fin" if rest == 0 else {"fin_inside_message": rest}}
    return {"messages": msgs, "end": "open" if rest == 0 else {"pending": rest}}


# --------------------------------------------------------------------------
# DT9: WebTransport over HTTP/3 application error space
# --------------------------------------------------------------------------

WT_FIRST = 0x52E4A40FA8DB
WT_MAX_CODE = 0xFFFF_FFFF


def wt_to_http3(code):
    assert 0 <= code <= WT_MAX_CODE
    return WT_FIRST + code + code // 0x1E


WT_LAST = wt_to_http3(WT_MAX_CODE)


def http3_to_wt(h):
    """The inverse; None when h is not a WebTransport application error code."""
    if h < WT_FIRST or h > WT_LAST:
        return None
    if (h - 0x21) % 0x1F == 0:  # reserved (GREASE) HTTP/3 codepoint 0x1f * N + 0x21
        return None
    shifted = h - WT_FIRST
    return shifted - shifted // 0x1F


def is_grease(h):
    return h >= 0x21 and (h - 0x21) % 0x1F == 0


# --------------------------------------------------------------------------
# Anchors
# --------------------------------------------------------------------------

EX_UUID = "550e8400-e29b-41d4-a716-446655440000"
EX_HEADER_HEX = "44415254 01 01 550e8400e29b41d4a716446655440000 56503039 000000000000"
EX_FRAME_HEX = ("01 01 550e8400e29b41d4a716446655440000 00060a24181e4000 0000000000000007 "
                "00000002 0001 000000000000 6869")
EX_TS = 1_700_000_000_000_000


def hx(s):
    return bytes.fromhex(s.replace(" ", ""))


def check_anchors():
    # the example stream header and v1 frame of darktower.md
    assert encode_stream_header(1, EX_UUID, "VP09") == hx(EX_HEADER_HEX)
    h = decode_stream_header(hx(EX_HEADER_HEX))["ok"]
    assert (h["stream_type_name"], h["stream_id"], h["codec"], h["codec_known"]) == (
        "video", EX_UUID, "VP09", True)
    assert encode_frame_v1(1, EX_UUID, EX_TS, 7, 0x0001, b"hi") == hx(EX_FRAME_HEX)
    f = decode_frame_v1(hx(EX_FRAME_HEX), EX_UUID)["ok"]
    assert (f["frame_type_name"], f["timestamp_us"], f["sequence"], f["payload_length"],
            f["flags"], f["end_of_frame"], f["discardable"], f["payload_hex"]) == (
        "video_key", EX_TS, 7, 2, 1, True, False, "6869")
    assert struct.pack(">I", 300).hex() == "0000012c"
    # big-endian
    assert encode_frame_v2(0, 0x0102030405060708, 0x0A0B0C0D, 0, 0, 0, b"")[2:14].hex() == \
        "01020304050607080a0b0c0d"
    # varints
    assert enc_varint(0) == b"\x00" and enc_varint(300).hex() == "ac02"
    assert enc_varint(1 << 63).hex() == "80808080808080808001"
    assert dec_varint(hx("ac02"), 0) == (300, 2)
    assert encode_message("UnsubscribeStream", {"stream_id": "s"}).hex() == "0a0173"
    assert encode_message("ClientMessage", {"unsubscribe_stream": {}}).hex() == "2200"
    assert encode_message("StreamQualityUpdate", {"packet_loss": 0.5}).hex() == "1d0000003f"
    assert encode_message("ErrorMessage", {"code": "STREAM_ERROR"}).hex() == "0808"
    # DT9 mapping
    assert wt_to_http3(0) == WT_FIRST and WT_LAST == 0x52E5AC983162
    assert wt_to_http3(0x1D) == WT_FIRST + 0x1D and wt_to_http3(0x1E) == WT_FIRST + 0x1F
    assert is_grease(WT_FIRST + 0x1E) and http3_to_wt(WT_FIRST + 0x1E) is None
    for c in list(range(0, 200)) + [WT_MAX_CODE - k for k in range(200)]:
        hcode = wt_to_http3(c)
        assert http3_to_wt(hcode) == c and not is_grease(hcode)
    # every code point in a window is either an image of a WT code or a GREASE value
    for hcode in range(WT_FIRST, WT_FIRST + 2000):
        assert (http3_to_wt(hcode) is None) == is_grease(hcode)


# --------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------


class VectorFile:
    def __init__(self, filename, title, source):
        self.filename = filename
        self.title = title
        self.source = source
        self.cases = []
        self.ids = set()

    def add(self, case):
        cid = case["id"]
        assert ID_RE.match(cid), cid
        assert cid not in self.ids, (self.filename, cid)
        assert case.get("description"), cid
        self.ids.add(cid)
        self.cases.append(case)

    def render(self):
        doc = {"$schema": SCHEMA_REF, "protocol": PROTOCOL,
               "file": self.filename[:-len(".json")], "title": self.title,
               "source": self.source, "cases": self.cases}
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def case(cid, description, basis=None, **fields):
    c = {"id": cid, "description": description}
    if basis:
        c["basis"] = basis
    c.update(fields)
    return c


UUID_B = "0123abcd-4567-89ef-fedc-ba9876543210"
UUID_NIL = "00000000-0000-0000-0000-000000000000"
UUID_MAX = "ffffffff-ffff-ffff-ffff-ffffffffffff"


def pattern(n, seed=0):
    """Deterministic payload bytes."""
    return bytes((seed + i * 31 + (i >> 8)) & 0xFF for i in range(n))


# ---------------------------------------------------------------- stream headers


def file_stream_headers():
    f = VectorFile("stream_headers.json",
                   "Media v1 stream header (32 bytes, first on each media stream)",
                   "darktower.md: Media v1 (stream header, FourCC table), Example bytes; DT2, DT4, "
                   "DT5 (reset 0x01)")

    def add(cid, desc, basis, raw, meant=None):
        expect = decode_stream_header(raw)
        if meant is not None:
            assert list(expect) == [meant] or expect.get("error", {}).get("kind") == meant, (
                cid, expect)
        f.add(case(cid, desc, basis, hex=raw.hex(), expect=expect))

    add("example_video_vp09", "the example header of darktower.md: video, UUID "
        "550e8400-e29b-41d4-a716-446655440000, VP09", "darktower.md Example bytes",
        hx(EX_HEADER_HEX), "ok")
    for st in (0, 1):
        for cc in FOURCCS:
            add("valid_%s_%s" % (STREAM_TYPES[st], cc.lower()),
                "%s stream, codec %s from the FourCC table" % (STREAM_TYPES[st], cc),
                "wire.header; DT2", encode_stream_header(st, UUID_B, cc), "ok")
    add("valid_nil_uuid", "all-zero (nil) UUID as stream id: accepted, the UUID is opaque",
        "decision: UUID opaque", encode_stream_header(0, UUID_NIL, "Opus"), "ok")
    add("valid_all_ff_uuid", "all-ones UUID (no valid RFC 4122 version/variant): accepted",
        "decision: UUID opaque", encode_stream_header(1, UUID_MAX, "AV01"), "ok")
    add("valid_unknown_fourcc_h265", "FourCC 'H265' not in the table: accepted, codec_known "
        "false (flagged)", "darktower.md Decisions (others accepted but flagged)",
        encode_stream_header(1, UUID_B, "H265"), "ok")
    add("valid_unknown_fourcc_case_opus", "'OPUS' differs from the table's 'Opus' (FourCCs "
        "compared byte for byte, case-sensitive): accepted, flagged", "decision: exact bytes",
        encode_stream_header(0, UUID_B, "OPUS"), "ok")
    add("valid_unknown_fourcc_lowercase_vp09", "'vp09' lowercase: accepted, flagged",
        "decision: exact bytes", encode_stream_header(1, UUID_B, "vp09"), "ok")
    add("valid_fourcc_zero_bytes", "FourCC 00000000 (not printable: codec null): accepted, "
        "flagged", "decision: exact bytes", encode_stream_header(1, UUID_B, b"\0\0\0\0"), "ok")
    add("valid_fourcc_non_ascii", "FourCC ff fe 80 7f: accepted, flagged, codec null",
        "decision: exact bytes", encode_stream_header(1, UUID_B, b"\xff\xfe\x80\x7f"), "ok")
    add("valid_audio_with_video_codec", "audio stream with codec VP08: accepted (the header "
        "does not tie codec to stream type)", "decision: no codec/type check",
        encode_stream_header(0, UUID_B, "VP08"), "ok")
    add("reserved_nonzero_all_ff", "reserved bytes ff..ff: accepted and ignored", "DT4",
        encode_stream_header(1, UUID_B, "VP09", reserved=b"\xff" * 6), "ok")
    add("reserved_nonzero_last_byte", "reserved bytes 00 00 00 00 00 01: accepted and ignored",
        "DT4", encode_stream_header(0, UUID_B, "Opus", reserved=b"\0\0\0\0\0\x01"), "ok")
    add("reserved_nonzero_pattern", "reserved bytes 01 02 03 04 05 06: accepted and ignored",
        "DT4", encode_stream_header(1, EX_UUID, "H264", reserved=bytes(range(1, 7))), "ok")
    add("followed_by_frame", "header followed by the example v1 frame: the header is the first "
        "32 bytes (header_length 32), the frame follows", "wire.header",
        hx(EX_HEADER_HEX) + hx(EX_FRAME_HEX), "ok")
    # bad magic
    for cid, magic, desc in (
            ("bad_magic_lowercase", b"dart", "'dart' lowercase"),
            ("bad_magic_darx", b"DARX", "'DARX' (last byte differs)"),
            ("bad_magic_first_byte", b"EART", "'EART' (first byte differs)"),
            ("bad_magic_reversed", b"TRAD", "'TRAD' (byte-reversed, little-endian trap)"),
            ("bad_magic_zero", b"\0\0\0\0", "all-zero magic"),
            ("bad_magic_v1_frame_instead", b"\x01\x01\x55\x0e", "a frame sent without a header")):
        add(cid, "bad magic %s: reset 0x01" % desc, "DT5",
            encode_stream_header(1, EX_UUID, "VP09", magic=magic), "bad_magic")
    for v in (0, 2, 0x10, 0xFF):
        add("bad_version_%d" % v, "version %d != 1: reset 0x01" % v, "DT5",
            encode_stream_header(1, EX_UUID, "VP09", version=v), "unsupported_version")
    for st, desc in ((2, "2 (the proto's VIDEO_SCREEN is not a header stream type)"),
                     (3, "3"), (0x80, "0x80"), (0xFF, "0xff")):
        add("unknown_stream_type_%d" % st, "stream type %s: reset 0x01" % desc, "DT2",
            encode_stream_header(st, EX_UUID, "VP09"), "unknown_stream_type")
    full = hx(EX_HEADER_HEX)
    for n in range(HEADER_LEN):
        add("truncated_%d" % n, "the example header cut short by FIN after %d bytes: reset 0x01"
            % n, "DT5", full[:n], "truncated")
    return f


# ---------------------------------------------------------------- frames v1

FRAME_TYPE_IDS = ((0, "audio"), (1, "video_key"), (2, "video_delta"))


def file_frames_v1():
    f = VectorFile("frames_v1.json",
                   "Media v1 frames (46-byte header + payload) on a media stream, then FIN",
                   "darktower.md: Media v1 (frame, flags), Example bytes; DT3, DT4, DT5; "
                   "this project's decisions on bad frames (README)")

    def add(cid, desc, basis, raw, meant, header_stream_id=None):
        expect = decode_frame_v1(raw, header_stream_id)
        assert list(expect) == [meant] or expect.get("error", {}).get("kind") == meant, (
            cid, expect)
        c = case(cid, desc, basis, hex=raw.hex(), expect=expect)
        if header_stream_id is not None:
            c["header_stream_id"] = header_stream_id
        f.add(c)

    add("example_video_key_hi", "the example v1 frame of darktower.md: video key, ts "
        "1700000000000000 us, seq 7, len 2, flags 0x0001, payload 'hi'",
        "darktower.md Example bytes", hx(EX_FRAME_HEX), "ok", EX_UUID)
    for ft, name in FRAME_TYPE_IDS:
        add("type_%s" % name, "frame type %d (%s), 4-byte payload" % (ft, name), "wire.frame_v1",
            encode_frame_v1(ft, UUID_B, EX_TS + ft, ft, 0x0001, b"\x01\x02\x03\x04"), "ok")
    for flags, name in ((0x0000, "none"), (0x0001, "end_of_frame"), (0x0002, "discardable"),
                        (0x0003, "end_of_frame_discardable"), (0x0004, "reserved_bit2"),
                        (0x8000, "reserved_bit15"), (0xFFFC, "all_reserved"),
                        (0xFFFF, "all_bits"), (0x0102, "discardable_reserved_bit8")):
        add("flags_%04x_%s" % (flags, name),
            "flags 0x%04x: end_of_frame=%s discardable=%s; reserved bits ignored"
            % (flags, bool(flags & 1), bool(flags & 2)), "DT4 (flag bit 0 = LSB)",
            encode_frame_v1(2, UUID_B, EX_TS, 1, flags, b"\xaa"), "ok")
    add("flags_byte_order_trap_0100", "flags 0x0100 (bytes 01 00): no known flag set "
        "(a little-endian reader would see end_of_frame)", "DT4",
        encode_frame_v1(1, UUID_B, EX_TS, 1, 0x0100, b"\xaa"), "ok")
    add("reserved_bytes_nonzero", "reserved bytes ff..ff: ignored", "DT4",
        encode_frame_v1(0, UUID_B, EX_TS, 3, 0x0001, b"\x00", reserved=b"\xff" * 6), "ok")
    for n in (0, 1, 1200, 4096):
        add("payload_len_%d" % n, "audio frame with a %d-byte payload" % n, "wire.frame_v1",
            encode_frame_v1(0, UUID_B, EX_TS, 9, 0x0001, pattern(n, n)), "ok")
    add("sequence_zero_ts_zero", "sequence 0 (the first frame, DT10), timestamp 0",
        "DT10", encode_frame_v1(0, UUID_B, 0, 0, 0x0001, b"x"), "ok")
    add("u64_max_fields", "timestamp and sequence 2^64-1 (u64, not signed)", "wire.frame_v1",
        encode_frame_v1(1, UUID_B, (1 << 64) - 1, (1 << 64) - 1, 0x0001, b"x"), "ok")
    add("byte_order_trap_fields", "timestamp 0x0102030405060708, sequence "
        "0x1112131415161718 (big-endian)", "DT4",
        encode_frame_v1(1, UUID_B, 0x0102030405060708, 0x1112131415161718, 1, b"x"), "ok")
    two = hx(EX_FRAME_HEX) + encode_frame_v1(2, EX_UUID, EX_TS + 33333, 8, 0x0003, b"!")
    add("two_frames_first_decoded", "two frames back to back: the first is decoded, "
        "frame_length 48 says where the next begins", "wire.frame_v1", two, "ok", EX_UUID)
    add("payload_longer_than_length", "payload length 2 followed by 5 bytes: frame_length 48, "
        "the 3 extra bytes begin the next frame", "wire.frame_v1",
        hx(EX_FRAME_HEX) + b"abc", "ok")
    # invalid
    for n in (0, 1, 2, 18, 45):
        add("truncated_header_%d" % n, "only %d bytes of the 46-byte header, then FIN: reset "
            "0x01" % n, "darktower.md Decisions (short header); decision (frames)",
            hx(EX_FRAME_HEX)[:n], "truncated_header")
    add("truncated_payload_1_of_2", "payload length 2, 1 byte present, then FIN: reset 0x01",
        "darktower.md Decisions (payload length checked against the bytes present)",
        hx(EX_FRAME_HEX)[:-1], "truncated_payload")
    add("truncated_payload_0_of_2", "payload length 2, header only, then FIN: reset 0x01",
        "darktower.md Decisions (payload length)", hx(EX_FRAME_HEX)[:46], "truncated_payload")
    add("payload_length_u32_max", "payload length 0xffffffff with 4 bytes present: rejected "
        "before allocating, reset 0x01", "darktower.md Decisions (checked before allocating)",
        encode_frame_v1(1, UUID_B, EX_TS, 1, 1, b"abcd", payload_length=0xFFFFFFFF),
        "truncated_payload")
    add("payload_length_byte_order_trap", "payload length bytes 02 00 00 00 (= 33554432 "
        "big-endian) with 2 bytes present: reset 0x01", "DT4",
        encode_frame_v1(1, UUID_B, EX_TS, 1, 1, b"hi", payload_length=0x02000000),
        "truncated_payload")
    for v in (0, 2, 0xFF):
        add("bad_version_%d" % v, "frame version %d != 1: reset 0x01" % v,
            "decision: as DT5 for the header",
            encode_frame_v1(1, UUID_B, EX_TS, 1, 1, b"hi", version=v), "unsupported_version")
    for t in (3, 0x7F, 0xFF):
        add("bad_frame_type_%d" % t, "frame type %d > 2: reset 0x01" % t,
            "decision: as DT5 for the header",
            encode_frame_v1(t, UUID_B, EX_TS, 1, 1, b"hi"), "unknown_frame_type")
    add("stream_id_mismatch", "frame stream id differs from the stream header's: reset 0x01",
        "DT3", encode_frame_v1(1, UUID_B, EX_TS, 1, 1, b"hi"), "stream_id_mismatch", EX_UUID)
    add("stream_id_mismatch_last_byte", "stream id differs from the header's in the last byte "
        "only: reset 0x01", "DT3",
        encode_frame_v1(1, EX_UUID[:-1] + "1", EX_TS, 1, 1, b"hi"), "stream_id_mismatch",
        EX_UUID)
    return f


# ---------------------------------------------------------------- frames v2


def file_frames_v2():
    f = VectorFile("frames_v2.json",
                   "Media v2 frames (42-byte header + payload), one per QUIC datagram",
                   "darktower.md: v2 frame; DT4, DT11 (bad frames dropped and counted)")

    def add(cid, desc, basis, raw, meant):
        expect = decode_frame_v2(raw)
        assert list(expect) == [meant] or expect.get("error", {}).get("kind") == meant, (
            cid, expect)
        f.add(case(cid, desc, basis, hex=raw.hex(), expect=expect))

    base = dict(user_id=42, stream_id=7, timestamp=EX_TS, sequence=7)

    def fr(frame_type=1, flags=1, payload=b"hi", **kw):
        a = dict(base)
        a.update(kw)
        return encode_frame_v2(frame_type, a.pop("user_id"), a.pop("stream_id"),
                               a.pop("timestamp"), a.pop("sequence"), flags, payload, **a)

    add("video_key_hi", "the v1 example's content as v2: video key, user 42, stream 7, ts "
        "1700000000000000, seq 7, flags 0x0001, payload 'hi'", "wire.frame_v2", fr(), "ok")
    for ft, name in FRAME_TYPE_IDS:
        add("type_%s" % name, "frame type %d (%s)" % (ft, name), "wire.frame_v2",
            fr(frame_type=ft, sequence=ft), "ok")
    for flags, name in ((0x0000, "none"), (0x0001, "end_of_frame"), (0x0002, "discardable"),
                        (0x0003, "end_of_frame_discardable"), (0x0004, "reserved_bit2"),
                        (0x8000, "reserved_bit15"), (0xFFFF, "all_bits"),
                        (0x0100, "byte_order_trap")):
        add("flags_%04x_%s" % (flags, name), "flags 0x%04x; reserved bits ignored (flag bits "
            "as in v1: decision)" % flags, "DT4; decision: v2 flags as v1",
            fr(flags=flags), "ok")
    add("reserved_bytes_nonzero", "reserved bytes ff..ff: ignored", "DT4",
        fr(reserved=b"\xff" * 6), "ok")
    for n in (0, 1, 1158):
        add("payload_len_%d" % n, "%d-byte payload (1158: a 1200-byte datagram)" % n,
            "wire.frame_v2", fr(frame_type=0, payload=pattern(n, n)), "ok")
    add("u64_u32_max_fields", "user id, timestamp, sequence 2^64-1, stream id 2^32-1",
        "wire.frame_v2", fr(user_id=(1 << 64) - 1, stream_id=0xFFFFFFFF,
                            timestamp=(1 << 64) - 1, sequence=(1 << 64) - 1), "ok")
    add("byte_order_trap_fields", "user id 0x0102030405060708, stream id 0x0a0b0c0d "
        "(big-endian)", "DT4", fr(user_id=0x0102030405060708, stream_id=0x0A0B0C0D), "ok")
    add("zero_ids", "user id 0, stream id 0, sequence 0, timestamp 0: accepted",
        "decision: ids opaque", fr(user_id=0, stream_id=0, sequence=0, timestamp=0), "ok")
    add("trailing_bytes", "datagram 3 bytes longer than 42 + payload length: the frame is "
        "decoded, trailing_bytes 3 (ignored)", "decision: DT11 drops only shorter datagrams",
        fr() + b"xyz", "ok")
    good = fr()
    for n in (0, 1, 41):
        add("truncated_header_%d" % n, "a %d-byte datagram: dropped" % n, "DT11",
            good[:n], "truncated_header")
    add("truncated_payload_1_of_2", "payload length 2, 1 byte present: dropped", "DT11",
        good[:-1], "truncated_payload")
    add("payload_length_u32_max", "payload length 0xffffffff: dropped, nothing allocated",
        "DT11", fr(payload=b"abcd", payload_length=0xFFFFFFFF), "truncated_payload")
    for v in (0, 2, 0xFF):
        add("bad_version_%d" % v, "version %d != 1: dropped and counted" % v, "DT11",
            fr(version=v), "unsupported_version")
    for t in (3, 0xFF):
        add("bad_frame_type_%d" % t, "frame type %d > 2: dropped and counted" % t, "DT11",
            fr(frame_type=t), "unknown_frame_type")
    return f


# ---------------------------------------------------------------- signaling

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJtZWV0aW5nX2lkIjoibXRnLTEyMyIsImV4cCI6MTcw"
       "MDAwMDMwMH0.c2lnbmF0dXJl")

STREAM_META = {"codec": "VP9", "max_bitrate": 2_500_000,
               "video": {"width": 1280, "height": 720, "framerate": 30, "simulcast_layers": [
                   {"layer_id": "h", "width": 1280, "height": 720, "max_bitrate": 2_500_000},
                   {"layer_id": "l", "width": 320, "height": 180, "max_bitrate": 150_000}]}}
PARTICIPANT = {"participant_id": "p-1", "name": "Alice", "joined_at": 1_700_000_000_000,
               "streams": [{"stream_id": EX_UUID, "stream_type": "VIDEO_CAMERA",
                            "metadata": STREAM_META},
                           {"stream_id": "a-1", "metadata": {"codec": "opus",
                                                              "max_bitrate": 64_000}}]}

CLIENT_CASES = (
    ("join_request_full", "JoinRequest with every field and capabilities", "DT6",
     {"join_request": {"meeting_id": "mtg-123", "join_token": JWT, "participant_name": "Alice",
                       "capabilities": {"video_codecs": ["VP8", "VP9", "AV1", "H264"],
                                        "audio_codecs": ["opus"], "supports_simulcast": True,
                                        "max_video_streams": 4}}}),
    ("join_request_minimal", "JoinRequest with meeting id and token only", "DT6",
     {"join_request": {"meeting_id": "m", "join_token": "t"}}),
    ("join_request_empty", "JoinRequest with no fields set: the oneof member is still "
     "emitted (0a 00)", "proto3 oneof presence", {"join_request": {}}),
    ("join_request_empty_capabilities", "capabilities present but empty: emitted as 22 00 "
     "(sub-message presence)", "proto3 message presence",
     {"join_request": {"meeting_id": "m", "capabilities": {}}}),
    ("join_request_name_256_bytes", "participant name of 256 bytes (the DT6 maximum; a 2-byte "
     "length varint)", "DT6", {"join_request": {"meeting_id": "m", "join_token": "t",
                                                 "participant_name": "n" * 256}}),
    ("join_request_utf8_name", "participant name with non-ASCII UTF-8 ('Zoë 日本')",
     "proto3 string",
     {"join_request": {"meeting_id": "m", "participant_name": "Zo\u00eb \u65e5\u672c"}}),
    ("publish_stream_video", "PublishStream of a camera stream with simulcast metadata", "wire",
     {"publish_stream": {"stream_id": EX_UUID, "stream_type": "VIDEO_CAMERA",
                         "metadata": STREAM_META}}),
    ("publish_stream_audio_default_type", "PublishStream of audio: stream_type AUDIO = 0 is "
     "the default and not emitted", "proto3 defaults",
     {"publish_stream": {"stream_id": "a-1", "metadata": {"codec": "opus",
                                                         "max_bitrate": 64_000}}}),
    ("publish_stream_screen", "PublishStream with stream_type VIDEO_SCREEN (2)", "wire",
     {"publish_stream": {"stream_id": "s-1", "stream_type": "VIDEO_SCREEN"}}),
    ("subscribe_stream_options", "SubscribeStream with options", "wire",
     {"subscribe_stream": {"stream_id": EX_UUID, "options": {"preferred_layer": "l",
                                                            "max_bitrate": 150_000}}}),
    ("subscribe_stream_plain", "SubscribeStream without options", "wire",
     {"subscribe_stream": {"stream_id": "s-1"}}),
    ("unsubscribe_stream", "UnsubscribeStream", "wire",
     {"unsubscribe_stream": {"stream_id": EX_UUID}}),
    ("unsubscribe_stream_empty", "UnsubscribeStream with no fields: 22 00", "proto3 oneof "
     "presence", {"unsubscribe_stream": {}}),
    ("stream_quality_update", "StreamQualityUpdate, packet_loss 0.25 (float, fixed32 LE)",
     "wire", {"stream_quality_update": {"stream_id": "s-1", "available_bitrate": 800_000,
                                        "packet_loss": 0.25, "rtt_ms": 42}}),
    ("stream_quality_update_loss_001", "packet_loss 0.01 rounded to float32 "
     "(0.009999999776482582, bytes 0ad7233c)", "proto3 float",
     {"stream_quality_update": {"stream_id": "s-1", "packet_loss": f32(0.01)}}),
    ("stream_quality_update_loss_1", "packet_loss 1.0 (bytes 0000803f)", "proto3 float",
     {"stream_quality_update": {"stream_id": "s-1", "packet_loss": 1.0}}),
    ("stream_quality_update_zero_loss", "packet_loss 0.0 and rtt 0 are defaults: not emitted",
     "proto3 defaults", {"stream_quality_update": {"stream_id": "s-1",
                                                   "available_bitrate": 1}}),
    ("stream_quality_update_u32_max", "available_bitrate 2^32-1 (5-byte varint)", "wire",
     {"stream_quality_update": {"stream_id": "s", "available_bitrate": 0xFFFFFFFF,
                                "rtt_ms": 0xFFFFFFFF}}),
)

SERVER_CASES = (
    ("join_response_full", "JoinResponse with an existing participant, media server and keys",
     "wire", {"join_response": {
         "participant_id": "p-2", "existing_participants": [PARTICIPANT],
         "media_server": {"media_handler_url": "https://media.example:4433/wt",
                          "connection_token": JWT},
         "encryption_keys": {"public_key": bytes(range(32)).hex(), "key_id": "k1"}}}),
    ("join_response_alone", "JoinResponse for the first participant (no others)", "wire",
     {"join_response": {"participant_id": "p-1",
                        "media_server": {"media_handler_url": "https://m/wt",
                                         "connection_token": "c"}}}),
    ("join_response_two_participants", "JoinResponse with two existing participants "
     "(repeated message field)", "wire",
     {"join_response": {"participant_id": "p-3", "existing_participants": [
         {"participant_id": "p-1", "name": "Alice"},
         {"participant_id": "p-2", "name": "Bob", "joined_at": (1 << 64) - 1}]}}),
    ("participant_joined", "ParticipantJoined", "wire",
     {"participant_joined": {"participant": PARTICIPANT}}),
    ("participant_left_kicked", "ParticipantLeft, reason KICKED", "wire",
     {"participant_left": {"participant_id": "p-1", "reason": "KICKED"}}),
    ("participant_left_connection_lost", "ParticipantLeft, reason CONNECTION_LOST (sent after "
     "30 s without traffic)", "DT10",
     {"participant_left": {"participant_id": "p-1", "reason": "CONNECTION_LOST"}}),
    ("participant_left_meeting_ended", "ParticipantLeft, reason MEETING_ENDED", "wire",
     {"participant_left": {"participant_id": "p-1", "reason": "MEETING_ENDED"}}),
    ("participant_left_voluntary", "ParticipantLeft, reason VOLUNTARY = 0: not emitted",
     "proto3 defaults", {"participant_left": {"participant_id": "p-1"}}),
    ("stream_published", "StreamPublished", "wire",
     {"stream_published": {"participant_id": "p-1", "stream": {
         "stream_id": EX_UUID, "stream_type": "VIDEO_CAMERA", "metadata": STREAM_META}}}),
    ("stream_quality_update", "StreamQualityUpdate from the server (oneof field 5)", "wire",
     {"stream_quality_update": {"stream_id": "s-1", "available_bitrate": 500_000,
                                "packet_loss": 0.125, "rtt_ms": 80}}),
    ("error_unauthorized", "ErrorMessage UNAUTHORIZED (invalid or expired token)",
     "darktower.md Documented errors; DT8",
     {"error": {"code": "UNAUTHORIZED", "message": "invalid token"}}),
    ("error_capacity_exceeded", "ErrorMessage CAPACITY_EXCEEDED (meeting full) with details",
     "darktower.md Documented errors",
     {"error": {"code": "CAPACITY_EXCEEDED", "message": "meeting full",
                "details": {"max_participants": "100", "meeting_id": "mtg-123"}}}),
    ("error_not_found", "ErrorMessage NOT_FOUND (meeting ended)",
     "darktower.md Documented errors", {"error": {"code": "NOT_FOUND"}}),
    ("error_stream_error", "ErrorMessage STREAM_ERROR", "DT6",
     {"error": {"code": "STREAM_ERROR", "message": "bad frame length"}}),
    ("error_unknown_default", "ErrorMessage UNKNOWN = 0 with a message: code not emitted",
     "proto3 defaults", {"error": {"message": "?"}}),
    ("error_details_empty_value", "details entry with an empty value: the entry carries the "
     "key only (decision: defaults not emitted in map entries either)",
     "decision: map entries", {"error": {"code": "INVALID_REQUEST", "details": {"k": ""}}}),
    ("error_details_empty_key", "details entry with an empty key: entry is 12 00 00 + value",
     "decision: map entries", {"error": {"code": "INTERNAL_ERROR", "details": {"": "v"}}}),
)

def _ld(num, body):
    """A length-delimited field as hex: tag, length, body (body given as hex)."""
    raw = hx(body)
    return (enc_varint(num << 3 | WT_LEN) + enc_varint(len(raw)) + raw).hex()


def _vi(num, v):
    return (enc_varint(num << 3 | WT_VARINT) + enc_varint(v)).hex()


def _s(num, text):
    return _ld(num, text.encode("utf-8").hex())


# non-canonical bytes a decoder must still accept (decode-only cases)
DECODE_ONLY = (
    ("client", "unknown_field_skipped", "ClientMessage: unsubscribe_stream with an unknown "
     "varint field 15 and an unknown length-delimited field 16 inside: skipped",
     "proto3 unknown fields", _ld(4, _s(1, "s") + _vi(15, 1) + _ld(16, "")),
     {"unsubscribe_stream": {"stream_id": "s"}}),
    ("client", "unknown_top_level_field_skipped", "ClientMessage: an unknown field 9 before "
     "unsubscribe_stream: skipped", "proto3 unknown fields",
     _vi(9, 300) + _ld(4, _s(1, "s")), {"unsubscribe_stream": {"stream_id": "s"}}),
    ("client", "fields_out_of_order", "JoinRequest fields in order 3, 1, 2", "proto3",
     _ld(1, _s(3, "A") + _s(1, "m") + _s(2, "t")),
     {"join_request": {"meeting_id": "m", "join_token": "t", "participant_name": "A"}}),
    ("client", "last_scalar_wins", "stream_id given twice: the last wins", "proto3",
     _ld(4, _s(1, "a") + _s(1, "b")), {"unsubscribe_stream": {"stream_id": "b"}}),
    ("client", "oneof_last_member_wins", "unsubscribe_stream then subscribe_stream: the last "
     "oneof member wins", "proto3 oneof", _ld(4, _s(1, "a")) + _ld(3, _s(1, "b")),
     {"subscribe_stream": {"stream_id": "b"}}),
    ("client", "explicit_default_values", "empty string, uint32 0, float 0.0 and uint32 0 "
     "sent explicitly: read as absent", "proto3 defaults",
     _ld(5, _s(1, "") + _vi(2, 0) + "1d00000000" + _vi(4, 0)), {"stream_quality_update": {}}),
    ("client", "non_minimal_varint", "max_video_streams 4 as a 2-byte varint 84 00", "proto3",
     _ld(1, _ld(4, "208400")), {"join_request": {"capabilities": {"max_video_streams": 4}}}),
    ("server", "map_entry_explicit_empty", "details entry with key and an empty value both "
     "emitted (12 00): same as the canonical key-only entry", "decision: map entries",
     _ld(6, _vi(1, 1) + _ld(3, _s(1, "k") + _s(2, ""))),
     {"error": {"code": "INVALID_REQUEST", "details": {"k": ""}}}),
    ("server", "map_entry_value_first", "details entry with value before key", "proto3",
     _ld(6, _ld(3, _s(2, "v") + _s(1, "k"))), {"error": {"details": {"k": "v"}}}),
    ("server", "map_duplicate_key_last_wins", "two details entries with the same key: the "
     "last wins", "proto3 maps",
     _ld(6, _ld(3, _s(1, "k") + _s(2, "1")) + _ld(3, _s(1, "k") + _s(2, "2"))),
     {"error": {"details": {"k": "2"}}}),
    ("server", "unknown_enum_value_kept", "ErrorMessage code 99 (not in the enum): kept as a "
     "number", "proto3 open enums", _ld(6, _vi(1, 99)), {"error": {"code": 99}}),
    ("client", "split_submessage_merged", "capabilities given twice: merged (repeated fields "
     "appended, scalars last-wins)", "proto3 message merge",
     _ld(1, _ld(4, _s(1, "VP8") + _vi(3, 1)) + _ld(4, _s(1, "VP9") + _vi(4, 2))),
     {"join_request": {"capabilities": {"video_codecs": ["VP8", "VP9"],
                                        "supports_simulcast": True, "max_video_streams": 2}}}),
)

DECODE_ERRORS = (
    ("client", "truncated_varint", "stream_quality_update (field 5) whose available_bitrate "
     "varint (field 2, a varint field) has its continuation bit set at the end: one error only",
     "2a021080", "truncated_varint"),
    ("client", "length_beyond_end", "length-delimited field 1 of length 5 with 1 byte",
     "0a0500", "truncated_length_delimited"),
    ("client", "wrong_wire_type", "field 1 (join_request, a message) with wire type 0",
     "0801", "wrong_wire_type"),
    ("client", "invalid_utf8_string", "stream_id with the byte ff (not UTF-8)",
     "2203" + "0a01ff", "invalid_utf8"),
    ("client", "group_wire_type", "field 1 with wire type 3 (group start)", "0b",
     "unsupported_wire_type"),
    ("client", "field_number_zero", "tag 00", "0000", "field_number_zero"),
    ("server", "varint_too_long", "stream_quality_update (field 5) whose available_bitrate "
     "(field 2, a varint field) is an 11-byte varint: one error only",
     "2a0c10" + "80" * 10 + "01", "varint_too_long"),
)


def _msg_case(direction, cid, desc, basis, msg):
    mtype = "ClientMessage" if direction == "client" else "ServerMessage"
    raw = encode_message(mtype, msg)
    back = decode_message(mtype, raw)
    assert back == msg, (cid, back, msg)
    framed = frame_message(raw)
    assert read_framed([framed], True, mtype) == {
        "messages": [{"length": len(raw), "message": msg}], "end": "fin"}
    return case("%s_%s" % (direction, cid), desc, basis, direction=direction,
                message_type=mtype, message=msg, protobuf_hex=raw.hex(),
                framed_hex=framed.hex(), length=len(raw))


def message_of_size(n):
    """ClientMessage{join_request{meeting_id = 'm' * k}} of exactly n encoded bytes."""
    for k in range(max(0, n - 12), n + 1):
        raw = encode_message("ClientMessage", {"join_request": {"meeting_id": "m" * k}})
        if len(raw) == n:
            return {"join_request": {"meeting_id": "m" * k}}, raw
    raise AssertionError(n)


def file_signaling():
    f = VectorFile("signaling.json",
                   "Signaling messages: u32 big-endian length + protobuf ClientMessage / "
                   "ServerMessage, and the framing rules",
                   "darktower.md: Signaling (messages, field numbers, framing), Example bytes "
                   "(length prefix 0000012c); DT6; proto3 encoding rules")
    for cid, desc, basis, msg in CLIENT_CASES:
        f.add(_msg_case("client", cid, desc, basis, msg))
    for cid, desc, basis, msg in SERVER_CASES:
        f.add(_msg_case("server", cid, desc, basis, msg))
    for direction, cid, desc, basis, hexs, msg in DECODE_ONLY:
        mtype = "ClientMessage" if direction == "client" else "ServerMessage"
        raw = hx(hexs)
        assert decode_message(mtype, raw) == msg, (cid, decode_message(mtype, raw))
        # really non-canonical (the unknown enum value is canonical, but not encodable by name)
        assert encode_message(mtype, msg) != raw or cid == "unknown_enum_value_kept", cid
        f.add(case("decode_%s" % cid, desc, basis, direction=direction, message_type=mtype,
                   protobuf_hex=raw.hex(), decode_only=True, message=msg,
                   canonical_hex=encode_message(mtype, msg).hex()))
    for direction, cid, desc, hexs, kind in DECODE_ERRORS:
        mtype = "ClientMessage" if direction == "client" else "ServerMessage"
        try:
            decode_message(mtype, hx(hexs))
            raise AssertionError(cid)
        except DecodeError as e:
            assert str(e) == kind, (cid, e)
        f.add(case("decode_error_%s" % cid, desc, "proto3 wire format", direction=direction,
                   message_type=mtype, protobuf_hex=hexs, decode_error=kind))

    # framing
    def framing(cid, desc, basis, chunks, fin, mtype="ClientMessage", meant_end=None):
        chunks = [bytes(c) for c in chunks]
        exp = read_framed(chunks, fin, mtype)
        assert read_framed_incremental(chunks, fin, mtype) == exp, cid
        if meant_end is not None:
            assert exp["end"] == meant_end or (isinstance(exp["end"], dict) and exp["end"].get(
                "error", {}).get("kind") == meant_end), (cid, exp["end"])
        f.add(case("framing_%s" % cid, desc, basis, message_type=mtype,
                   chunks=[c.hex() for c in chunks], fin=fin, expect=exp))

    msg300, raw300 = message_of_size(300)
    fr300 = frame_message(raw300)
    assert fr300[:4].hex() == "0000012c"
    framing("example_300_bytes", "a 300-byte message: prefix 0000012c (darktower.md example)",
            "darktower.md Example bytes", [fr300], True, meant_end="fin")
    framing("prefix_split_1_1_1_1", "the 300-byte message, its length prefix split "
            "00|00|01|2c, then the body", "wire.signaling",
            [fr300[0:1], fr300[1:2], fr300[2:3], fr300[3:4], fr300[4:]], True, meant_end="fin")
    framing("prefix_split_3_rest", "prefix split after 3 bytes, the rest with the body",
            "wire.signaling", [fr300[:3], fr300[3:150], fr300[150:]], True, meant_end="fin")
    framing("prefix_split_2_open", "only 2 bytes of the prefix so far, no FIN: pending 2",
            "wire.signaling", [fr300[:2]], False, meant_end={"pending": 2})
    framing("body_pending", "prefix and 100 of 300 body bytes, no FIN: pending 104",
            "wire.signaling", [fr300[:104]], False, meant_end={"pending": 104})
    framing("fin_inside_prefix", "FIN after 3 prefix bytes: fin_inside_message 3 "
            "(decision: the stream is broken)", "decision: framing", [fr300[:3]], True,
            meant_end={"fin_inside_message": 3})
    framing("fin_inside_body", "FIN after the prefix and 10 body bytes",
            "decision: framing", [fr300[:14]], True, meant_end={"fin_inside_message": 14})
    j = encode_message("ClientMessage", CLIENT_CASES[1][3])
    u = encode_message("ClientMessage", {"unsubscribe_stream": {"stream_id": "s"}})
    two = frame_message(j) + frame_message(u)
    framing("two_messages_one_chunk", "JoinRequest then UnsubscribeStream in one chunk",
            "wire.signaling", [two], False, meant_end="open")
    framing("two_messages_byte_by_byte", "the same two messages one byte per chunk",
            "wire.signaling", [two[i:i + 1] for i in range(len(two))], True, meant_end="fin")
    framing("length_zero_rejected", "length 0: rejected, the stream is closed with "
            "STREAM_ERROR", "DT6", [b"\x00\x00\x00\x00"], False, meant_end="zero_length")
    framing("length_zero_after_message", "a valid message then length 0: the first is "
            "delivered, then STREAM_ERROR", "DT6", [frame_message(j) + b"\x00" * 4], False,
            meant_end="zero_length")
    m64, raw64 = message_of_size(MAX_MESSAGE_LEN)
    framing("length_65536_accepted", "length 65,536 (the limit): accepted", "DT6",
            [frame_message(raw64)], True, meant_end="fin")
    framing("length_65537_rejected", "length 65,537: rejected on the prefix alone, before "
            "the body arrives (decision), STREAM_ERROR", "DT6; decision: judged on the prefix",
            [struct.pack(">I", MAX_MESSAGE_LEN + 1)], False, meant_end="too_long")
    framing("length_u32_max_rejected", "length 0xffffffff: rejected", "DT6",
            [b"\xff\xff\xff\xff"], False, meant_end="too_long")
    framing("length_little_endian_trap", "prefix 2c 01 00 00 (300 little-endian = "
            "738263040 big-endian): rejected as too long", "DT4; DT6",
            [b"\x2c\x01\x00\x00" + raw300], False, meant_end="too_long")
    framing("server_join_response", "a ServerMessage stream: JoinResponse then "
            "ParticipantJoined", "wire.signaling",
            [frame_message(encode_message("ServerMessage", SERVER_CASES[1][3])) +
             frame_message(encode_message("ServerMessage", SERVER_CASES[3][3]))], False,
            mtype="ServerMessage", meant_end="open")
    framing("invalid_protobuf_body", "a frame whose body is not valid protobuf (0a 05 00): "
            "invalid_protobuf (decision: the framing is intact; what the peer does is not "
            "stated)", "decision: framing", [b"\x00\x00\x00\x03\x0a\x05\x00"], False,
            meant_end="invalid_protobuf")
    return f


# ---------------------------------------------------------------- media auth

MEDIA_CLIENT = (
    ("connect_request", "ConnectRequest with a JWT media connection token", "DT7; DT8",
     {"connect_request": {"join_token": JWT}}),
    ("connect_request_short", "ConnectRequest with token 't'", "DT7",
     {"connect_request": {"join_token": "t"}}),
    ("connect_request_empty", "ConnectRequest with no token: the oneof member is still "
     "emitted (0a 00); the handler rejects it (UNAUTHORIZED, DT8)", "DT7; DT8",
     {"connect_request": {}}),
)
MEDIA_SERVER = (
    ("connect_response", "ConnectResponse with the participant id", "DT7",
     {"connect_response": {"participant_id": "p-1"}}),
    ("connect_response_empty", "ConnectResponse without participant id: 0a 00", "DT7",
     {"connect_response": {}}),
    ("error_unauthorized", "ErrorMessage UNAUTHORIZED (invalid, expired or reused token)",
     "DT7; DT8", {"error": {"code": "UNAUTHORIZED", "message": "token already used"}}),
    ("error_with_details", "ErrorMessage with details", "DT7",
     {"error": {"code": "FORBIDDEN", "details": {"reason": "wrong meeting"}}}),
)


def file_media_auth():
    f = VectorFile("media_auth.json",
                   "Media session authentication (DT7): length-prefixed MediaClientMessage / "
                   "MediaServerMessage on the client's first bidirectional stream",
                   "darktower.md: DT7, DT8; Signaling framing (u32 big-endian length); proto3 "
                   "encoding rules")
    for direction, mtype, table in (("client", "MediaClientMessage", MEDIA_CLIENT),
                                    ("server", "MediaServerMessage", MEDIA_SERVER)):
        for cid, desc, basis, msg in table:
            raw = encode_message(mtype, msg)
            assert decode_message(mtype, raw) == msg
            framed = frame_message(raw)
            assert read_framed([framed], True, mtype)["messages"][0]["message"] == msg
            f.add(case("%s_%s" % (direction, cid), desc, basis, direction=direction,
                       message_type=mtype, message=msg, protobuf_hex=raw.hex(),
                       framed_hex=framed.hex(), length=len(raw)))
    # unknown oneof member: decoded as no variant
    raw = hx("1a0174")
    assert decode_message("MediaClientMessage", raw) == {}
    f.add(case("client_unknown_member", "MediaClientMessage with only an unknown field 3: "
               "decodes to no variant (decision: the handler treats it as not a "
               "ConnectRequest)", "decision: media auth", direction="client",
               message_type="MediaClientMessage", message={}, protobuf_hex=raw.hex(),
               decode_only=True, canonical_hex=""))
    return f


# ---------------------------------------------------------------- reset codes


def file_reset_codes():
    f = VectorFile("reset_codes.json",
                   "Media stream reset codes and their HTTP/3 WebTransport mapping",
                   "darktower.md: Media v1 (stream reset codes); DT9 (WebTransport over HTTP/3 "
                   "draft mapping: first = 0x52e4a40fa8db, h = first + n + floor(n / 0x1e); "
                   "raw profile: unmapped)")
    for code, name, meaning in RESET_CODES:
        h = wt_to_http3(code)
        f.add(case("code_%02x_%s" % (code, name), meaning, "darktower.md Media v1; DT9",
                   code=code, name=name, raw=code, http3=h, http3_hex="0x%x" % h))
    for n, desc in ((0x1D, "29 (last before the first skip)"), (0x1E, "30 (first skip)"),
                    (0x3B, "59"), (0x3C, "60 (second skip)"), (0xFF, "255"),
                    (0xFFFF_FFFF, "2^32-1, the largest WebTransport code")):
        h = wt_to_http3(n)
        f.add(case("map_%d" % n, "WebTransport code %s -> HTTP/3 0x%x" % (desc, h), "DT9",
                   code=n, http3=h, http3_hex="0x%x" % h))
    inverse = [
        (WT_FIRST, "first"),
        (WT_FIRST + 4, "code 4"),
        (WT_FIRST + 0x1D, "code 0x1d"),
        (WT_FIRST + 0x1E, "a GREASE codepoint 0x1f*N+0x21 inside the range: not WT"),
        (WT_FIRST + 0x1F, "code 0x1e"),
        (WT_FIRST + 0x3D, "a GREASE codepoint: not WT"),
        (WT_FIRST + 0x3E, "code 0x3c"),
        (WT_LAST, "last = code 2^32-1"),
        (WT_LAST + 1, "one above the range: not WT"),
        (WT_FIRST - 1, "one below the range: not WT"),
        (0, "0, below the range: not WT"),
        (0x100, "H3_NO_ERROR (0x100), an HTTP/3 code: not WT"),
        (0x01, "a raw-profile reset code 0x01: not WT"),
        (0x21, "the first GREASE codepoint: not WT"),
        ((1 << 62) - 1, "the largest varint: not WT"),
    ]
    for h, desc in inverse:
        n = http3_to_wt(h)
        if n is not None:
            assert wt_to_http3(n) == h
        f.add(case("inverse_0x%x" % h, "HTTP/3 code 0x%x: %s" % (h, desc), "DT9",
                   http3=h, http3_hex="0x%x" % h, webtransport_code=n,
                   is_webtransport=n is not None))
    return f


# ---------------------------------------------------------------- JSON Schema

SCHEMA_FILE = "darktower-vectors.schema.json"


def _obj(props, required, **extra):
    o = {"type": "object", "properties": props, "required": sorted(required),
         "additionalProperties": False}
    o.update(extra)
    return o


def _ref(name):
    return {"$ref": "#/$defs/%s" % name}


def _field_schema(ftype):
    if ftype == "string":
        return {"type": "string"}
    if ftype == "bytes":
        return _ref("Hex")
    if ftype == "bool":
        return {"type": "boolean"}
    if ftype == "uint32":
        return _ref("U32")
    if ftype == "uint64":
        return _ref("U64")
    if ftype == "float":
        return {"type": "number"}
    if ftype == "map":
        return {"type": "object", "additionalProperties": {"type": "string"}}
    if ftype[0] == "enum":
        names = [ENUMS[ftype[1]][k] for k in sorted(ENUMS[ftype[1]])]
        return {"description": "enum %s by name; a number only for a value outside the enum"
                % ftype[1], "anyOf": [{"enum": names}, _ref("U32")]}
    return _ref("pb_" + ftype[1])


def build_schema():
    defs = {
        "Id": {"type": "string", "pattern": "^[a-z0-9_]+$",
               "description": "Case id, unique within its file."},
        "Hex": {"type": "string", "pattern": "^([0-9a-f]{2})*$",
                "description": "Bytes as lowercase hex."},
        "U8": {"type": "integer", "minimum": 0, "maximum": 255},
        "U16": {"type": "integer", "minimum": 0, "maximum": 65535},
        "U32": {"type": "integer", "minimum": 0, "maximum": 4294967295},
        "U64": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615},
        "Uuid": {"type": "string",
                 "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
        "ResetError": _obj({
            "kind": {"enum": ["truncated", "bad_magic", "unsupported_version",
                              "unknown_stream_type", "truncated_header", "unknown_frame_type",
                              "stream_id_mismatch", "truncated_payload"]},
            "action": {"const": "reset"}, "reset_code": {"const": 1},
            "reset_name": {"const": "invalid_stream_format"},
            "received": _ref("U32"), "needed": _ref("U32"), "magic_hex": _ref("Hex"),
            "version": _ref("U8"), "stream_type": _ref("U8"), "frame_type": _ref("U8"),
            "stream_id": _ref("Uuid"), "header_stream_id": _ref("Uuid"),
            "payload_length": _ref("U32"), "available": _ref("U32")},
            ["kind", "action", "reset_code", "reset_name"],
            description="The media stream is reset with code 0x01."),
        "DropError": _obj({
            "kind": {"enum": ["truncated_header", "unsupported_version", "unknown_frame_type",
                              "truncated_payload"]},
            "action": {"const": "drop"},
            "received": _ref("U32"), "needed": _ref("U32"), "version": _ref("U8"),
            "frame_type": _ref("U8"), "payload_length": _ref("U32"),
            "available": _ref("U32")},
            ["kind", "action"], description="The datagram is dropped and counted (DT11)."),
        "HeaderOk": _obj({
            "magic": {"const": "DART"}, "version": {"const": 1},
            "stream_type": {"enum": [0, 1]}, "stream_type_name": {"enum": ["audio", "video"]},
            "stream_id": _ref("Uuid"),
            "codec_hex": {"type": "string", "pattern": "^[0-9a-f]{8}$"},
            "codec": {"type": ["string", "null"], "minLength": 4, "maxLength": 4},
            "codec_known": {"type": "boolean"},
            "reserved_hex": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
            "header_length": {"const": 32}},
            ["magic", "version", "stream_type", "stream_type_name", "stream_id", "codec_hex",
             "codec", "codec_known", "reserved_hex", "header_length"]),
    }
    flag_props = {"flags": _ref("U16"), "end_of_frame": {"type": "boolean"},
                  "discardable": {"type": "boolean"}, "reserved_flag_bits": _ref("U16")}
    common_frame = {"version": {"const": 1}, "frame_type": {"enum": [0, 1, 2]},
                    "frame_type_name": {"enum": ["audio", "video_key", "video_delta"]},
                    "timestamp_us": _ref("U64"), "sequence": _ref("U64"),
                    "payload_length": _ref("U32"),
                    "reserved_hex": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
                    "payload_hex": _ref("Hex"), "frame_length": _ref("U64")}
    common_frame.update(flag_props)
    v1 = dict(common_frame, stream_id=_ref("Uuid"))
    v2 = dict(common_frame, stream_id=_ref("U32"), user_id=_ref("U64"),
              trailing_bytes=_ref("U32"))
    defs["FrameV1Ok"] = _obj(v1, list(v1))
    defs["FrameV2Ok"] = _obj(v2, list(v2))
    for name, okdef, err in (("HeaderExpect", "HeaderOk", "ResetError"),
                             ("FrameV1Expect", "FrameV1Ok", "ResetError"),
                             ("FrameV2Expect", "FrameV2Ok", "DropError")):
        defs[name] = {"oneOf": [_obj({"ok": _ref(okdef)}, ["ok"]),
                                _obj({"error": _ref(err)}, ["error"])]}
    base = {"id": _ref("Id"), "description": {"type": "string", "minLength": 1},
            "basis": {"type": "string", "minLength": 1,
                      "description": "The fact or decision the case rests on (DTn, a section "
                                     "of darktower.md, or 'decision: ...' explained in the "
                                     "README)."}}
    defs["HeaderCase"] = _obj(dict(base, hex=_ref("Hex"), expect=_ref("HeaderExpect")),
                              ["id", "description", "hex", "expect"])
    defs["FrameV1Case"] = _obj(dict(base, hex=_ref("Hex"), expect=_ref("FrameV1Expect"),
                                    header_stream_id=_ref("Uuid")),
                               ["id", "description", "hex", "expect"])
    defs["FrameV2Case"] = _obj(dict(base, hex=_ref("Hex"), expect=_ref("FrameV2Expect")),
                               ["id", "description", "hex", "expect"])
    # protobuf messages
    for mname, fields in MESSAGES.items():
        if mname.startswith("_"):
            continue
        props = {}
        for num, fname, ftype, rep, oneof in fields:
            fs = _field_schema(ftype)
            props[fname] = {"type": "array", "items": fs} if rep else fs
        extra = {"description": "proto3 message %s (absent key = field not set or default)"
                 % mname}
        if all(f[4] for f in fields):
            extra["maxProperties"] = 1
            extra["description"] = "oneof wrapper %s: at most one member" % mname
        defs["pb_" + mname] = _obj(props, [], **extra)
    mtypes = ["ClientMessage", "ServerMessage", "MediaClientMessage", "MediaServerMessage"]
    msg_by_type = {"allOf": [
        {"if": {"properties": {"message_type": {"const": t}}},
         "then": {"properties": {"message": _ref("pb_" + t)}}} for t in mtypes]}
    mbase = dict(base, direction={"enum": ["client", "server"]},
                 message_type={"enum": mtypes}, protobuf_hex=_ref("Hex"),
                 message={"type": "object"})
    defs["MessageCase"] = _obj(dict(mbase, framed_hex=_ref("Hex"), length=_ref("U32")),
                               ["id", "description", "direction", "message_type", "message",
                                "protobuf_hex", "framed_hex", "length"],
                               description="A canonical encoding: message -> protobuf_hex, "
                                           "framed_hex = u32 BE length + protobuf_hex.",
                               **msg_by_type)
    defs["DecodeOnlyCase"] = _obj(dict(mbase, decode_only={"const": True},
                                       canonical_hex=_ref("Hex")),
                                  ["id", "description", "direction", "message_type", "message",
                                   "protobuf_hex", "decode_only", "canonical_hex"],
                                  description="Non-canonical bytes: protobuf_hex decodes to "
                                              "message; encoding message gives canonical_hex.",
                                  **msg_by_type)
    defs["DecodeErrorCase"] = _obj(dict(base, direction={"enum": ["client", "server"]},
                                        message_type={"enum": mtypes},
                                        protobuf_hex=_ref("Hex"),
                                        decode_error={"enum": [
                                            "truncated_varint", "varint_too_long",
                                            "varint_overflow", "truncated_length_delimited",
                                            "truncated_fixed32", "truncated_fixed64",
                                            "wrong_wire_type", "invalid_utf8",
                                            "unsupported_wire_type", "field_number_zero"]}),
                                   ["id", "description", "direction", "message_type",
                                    "protobuf_hex", "decode_error"])
    end = {"oneOf": [
        {"enum": ["open", "fin"]},
        _obj({"pending": {"type": "integer", "minimum": 1}}, ["pending"]),
        _obj({"fin_inside_message": {"type": "integer", "minimum": 1}},
             ["fin_inside_message"]),
        _obj({"error": {"oneOf": [
            _obj({"kind": {"enum": ["zero_length", "too_long"]}, "length": _ref("U32"),
                  "close": {"const": "STREAM_ERROR"}}, ["kind", "length", "close"]),
            _obj({"kind": {"const": "invalid_protobuf"}, "length": _ref("U32"),
                  "detail": {"type": "string"}}, ["kind", "length", "detail"])]}},
             ["error"])]}
    defs["FramingCase"] = _obj(dict(
        base, message_type={"enum": mtypes},
        chunks={"type": "array", "items": _ref("Hex")}, fin={"type": "boolean"},
        expect=_obj({"messages": {"type": "array", "items": _obj(
            {"length": _ref("U32"), "message": {"type": "object"}}, ["length", "message"])},
            "end": end}, ["messages", "end"])),
        ["id", "description", "message_type", "chunks", "fin", "expect"])
    defs["SignalingCase"] = {"oneOf": [_ref("MessageCase"), _ref("DecodeOnlyCase"),
                                       _ref("DecodeErrorCase"), _ref("FramingCase")]}
    h3 = {"http3": {"type": "integer", "minimum": 0, "maximum": 4611686018427387903},
          "http3_hex": {"type": "string", "pattern": "^0x[0-9a-f]+$"}}
    defs["ResetCase"] = {"oneOf": [
        _obj(dict(base, code={"enum": [0, 1, 2, 3, 4]},
                  name={"enum": [n for _, n, _ in RESET_CODES]}, raw=_ref("U32"), **h3),
             ["id", "description", "code", "name", "raw", "http3", "http3_hex"]),
        _obj(dict(base, code=_ref("U32"), **h3),
             ["id", "description", "code", "http3", "http3_hex"]),
        _obj(dict(base, webtransport_code={"anyOf": [_ref("U32"), {"type": "null"}]},
                  is_webtransport={"type": "boolean"}, **h3),
             ["id", "description", "http3", "http3_hex", "webtransport_code",
              "is_webtransport"])]}
    per_file = (("stream_headers", "HeaderCase"), ("frames_v1", "FrameV1Case"),
                ("frames_v2", "FrameV2Case"), ("signaling", "SignalingCase"),
                ("media_auth", "SignalingCase"), ("reset_codes", "ResetCase"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_FILE,
        "title": "DarkTowerVectorFile",
        "description": "A file of Dark Tower byte test vectors (vectors/darktower/*.json), "
                       "written with this schema by vectors/tools/generate_darktower.py. "
                       "Unknown keys are errors.",
        "type": "object",
        "properties": {
            "$schema": {"const": SCHEMA_REF}, "protocol": {"const": PROTOCOL},
            "file": {"enum": [n for n, _ in per_file]},
            "title": {"type": "string", "minLength": 1},
            "source": {"type": "string", "minLength": 1},
            "cases": {"type": "array", "minItems": 1}},
        "required": ["$schema", "protocol", "file", "title", "source", "cases"],
        "additionalProperties": False,
        "allOf": [{"if": {"properties": {"file": {"const": n}}},
                   "then": {"properties": {"cases": {"items": _ref(d)}}}}
                  for n, d in per_file],
        "$defs": defs,
    }


def render_schema():
    return json.dumps(build_schema(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


FILES = (file_stream_headers, file_frames_v1, file_frames_v2, file_signaling,
         file_media_auth, file_reset_codes)


def build_all():
    check_anchors()
    return [make() for make in FILES]


def default_out():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "darktower")


def default_schema_dir():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schema")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if any file on disk differs from what would be written")
    ap.add_argument("--out", default=None,
                    help="output directory (default: vectors/darktower next to this tool)")
    ap.add_argument("--schema-dir", default=None,
                    help="schema directory (default: vectors/schema next to this tool)")
    ap.add_argument("--summary", action="store_true", help="print case counts per file")
    args = ap.parse_args(argv)
    out = args.out or default_out()
    files = build_all()
    outputs = [(os.path.join(out, vf.filename), vf.render()) for vf in files]
    outputs.append((os.path.join(args.schema_dir or default_schema_dir(), SCHEMA_FILE),
                    render_schema()))
    stale = []
    for path, text in outputs:
        try:
            with open(path, "r", encoding="utf-8", newline="") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if args.check:
            stale.append(path if current is not None else path + " (missing)")
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            print("wrote %s" % path)
    if args.summary:
        for vf in files:
            print("%-22s %d" % (vf.filename, len(vf.cases)))
    if stale:
        for p in stale:
            print("stale: %s" % p, file=sys.stderr)
        print("run: python3 vectors/tools/generate_darktower.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
