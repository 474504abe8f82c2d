"""Hand-written proto3 encoder/decoder for the Dark Tower signaling schema.

Messages are plain dicts.  Decoding fills every declared field with its
proto3 default; a message-typed field that is absent decodes to None.
For oneof wrappers the decoded dict carries '_which' = name of the member
that was set (the last one on the wire wins, as in proto3).
"""

import struct

# ---------------------------------------------------------------- schema ---
# field: (number, name, type, label)   label: '' | 'rep' | 'oneof'
# types: string bytes bool uint32 uint64 enum float map_ss | <MessageName>

SCHEMA = {
    "ParticipantCapabilities": [
        (1, "video_codecs", "string", "rep"),
        (2, "audio_codecs", "string", "rep"),
        (3, "supports_simulcast", "bool", ""),
        (4, "max_video_streams", "uint32", ""),
    ],
    "JoinRequest": [
        (1, "meeting_id", "string", ""),
        (2, "join_token", "string", ""),
        (3, "participant_name", "string", ""),
        (4, "capabilities", "ParticipantCapabilities", ""),
    ],
    "EncryptionKeys": [
        (1, "public_key", "bytes", ""),
        (2, "key_id", "string", ""),
    ],
    "MediaServerInfo": [
        (1, "media_handler_url", "string", ""),
        (2, "connection_token", "string", ""),
    ],
    "SimulcastLayer": [
        (1, "layer_id", "string", ""),
        (2, "width", "uint32", ""),
        (3, "height", "uint32", ""),
        (4, "max_bitrate", "uint32", ""),
    ],
    "VideoMetadata": [
        (1, "width", "uint32", ""),
        (2, "height", "uint32", ""),
        (3, "framerate", "uint32", ""),
        (4, "simulcast_layers", "SimulcastLayer", "rep"),
    ],
    "StreamMetadata": [
        (1, "codec", "string", ""),
        (2, "max_bitrate", "uint32", ""),
        (3, "video", "VideoMetadata", ""),
    ],
    "MediaStream": [
        (1, "stream_id", "string", ""),
        (2, "stream_type", "enum", ""),
        (3, "metadata", "StreamMetadata", ""),
    ],
    "Participant": [
        (1, "participant_id", "string", ""),
        (2, "name", "string", ""),
        (3, "streams", "MediaStream", "rep"),
        (4, "joined_at", "uint64", ""),
    ],
    "JoinResponse": [
        (1, "participant_id", "string", ""),
        (2, "existing_participants", "Participant", "rep"),
        (3, "media_server", "MediaServerInfo", ""),
        (4, "encryption_keys", "EncryptionKeys", ""),
    ],
    "ParticipantJoined": [
        (1, "participant", "Participant", ""),
    ],
    "ParticipantLeft": [
        (1, "participant_id", "string", ""),
        (2, "reason", "enum", ""),
    ],
    "PublishStream": [
        (1, "stream_id", "string", ""),
        (2, "stream_type", "enum", ""),
        (3, "metadata", "StreamMetadata", ""),
    ],
    "StreamPublished": [
        (1, "participant_id", "string", ""),
        (2, "stream", "MediaStream", ""),
    ],
    "SubscriptionOptions": [
        (1, "preferred_layer", "string", ""),
        (2, "max_bitrate", "uint32", ""),
    ],
    "SubscribeStream": [
        (1, "stream_id", "string", ""),
        (2, "options", "SubscriptionOptions", ""),
    ],
    "UnsubscribeStream": [
        (1, "stream_id", "string", ""),
    ],
    "StreamQualityUpdate": [
        (1, "stream_id", "string", ""),
        (2, "available_bitrate", "uint32", ""),
        (3, "packet_loss", "float", ""),
        (4, "rtt_ms", "uint32", ""),
    ],
    "ErrorMessage": [
        (1, "code", "enum", ""),
        (2, "message", "string", ""),
        (3, "details", "map_ss", ""),
    ],
    "ClientMessage": [
        (1, "join_request", "JoinRequest", "oneof"),
        (2, "publish_stream", "PublishStream", "oneof"),
        (3, "subscribe_stream", "SubscribeStream", "oneof"),
        (4, "unsubscribe_stream", "UnsubscribeStream", "oneof"),
        (5, "stream_quality_update", "StreamQualityUpdate", "oneof"),
    ],
    "ServerMessage": [
        (1, "join_response", "JoinResponse", "oneof"),
        (2, "participant_joined", "ParticipantJoined", "oneof"),
        (3, "participant_left", "ParticipantLeft", "oneof"),
        (4, "stream_published", "StreamPublished", "oneof"),
        (5, "stream_quality_update", "StreamQualityUpdate", "oneof"),
        (6, "error", "ErrorMessage", "oneof"),
    ],
    # DT7 media authentication
    "ConnectRequest": [
        (1, "join_token", "string", ""),
    ],
    "ConnectResponse": [
        (1, "participant_id", "string", ""),
    ],
    "MediaClientMessage": [
        (1, "connect_request", "ConnectRequest", "oneof"),
    ],
    "MediaServerMessage": [
        (1, "connect_response", "ConnectResponse", "oneof"),
        (2, "error", "ErrorMessage", "oneof"),
    ],
}

# enums
STREAM_TYPE = {"AUDIO": 0, "VIDEO_CAMERA": 1, "VIDEO_SCREEN": 2}
LEAVE_REASON = {"VOLUNTARY": 0, "KICKED": 1, "CONNECTION_LOST": 2, "MEETING_ENDED": 3}
ERROR_CODE = {
    "UNKNOWN": 0,
    "INVALID_REQUEST": 1,
    "UNAUTHORIZED": 2,
    "FORBIDDEN": 3,
    "NOT_FOUND": 4,
    "CONFLICT": 5,
    "INTERNAL_ERROR": 6,
    "CAPACITY_EXCEEDED": 7,
    "STREAM_ERROR": 8,
}
STREAM_TYPE_NAME = {v: k for k, v in STREAM_TYPE.items()}
LEAVE_REASON_NAME = {v: k for k, v in LEAVE_REASON.items()}
ERROR_CODE_NAME = {v: k for k, v in ERROR_CODE.items()}

# Field-number overrides used by mutants: {(message, field_name): number}
FIELD_OVERRIDES = {}


class ProtoError(ValueError):
    pass


# --------------------------------------------------------------- varints ---
def enc_varint(n):
    if n < 0:
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


def dec_varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtoError("varint too long")


def _key(num, wt):
    return enc_varint((num << 3) | wt)


_SCALAR_WT = {
    "string": 2, "bytes": 2, "bool": 0, "uint32": 0, "uint64": 0,
    "enum": 0, "float": 5, "map_ss": 2,
}


def _wire_type(ftype):
    return _SCALAR_WT.get(ftype, 2)


# -------------------------------------------------------------- encoding ---
def _enc_scalar(ftype, v):
    if ftype == "string":
        b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
        return enc_varint(len(b)) + b
    if ftype == "bytes":
        b = bytes(v)
        return enc_varint(len(b)) + b
    if ftype == "bool":
        return enc_varint(1 if v else 0)
    if ftype in ("uint32", "enum"):
        return enc_varint(int(v) & 0xFFFFFFFF if ftype == "uint32" else int(v))
    if ftype == "uint64":
        return enc_varint(int(v))
    if ftype == "float":
        return struct.pack("<f", float(v))
    raise ProtoError("bad scalar type " + ftype)


def _is_default(ftype, v):
    if v is None:
        return True
    if ftype in ("string", "bytes"):
        return len(v) == 0
    if ftype in ("bool", "uint32", "uint64", "enum"):
        return not v
    if ftype == "float":
        return v == 0.0
    return False


def encode(msg_name, value):
    """Encode dict `value` as message `msg_name`."""
    out = bytearray()
    for num, name, ftype, label in SCHEMA[msg_name]:
        num = FIELD_OVERRIDES.get((msg_name, name), num)
        if name not in value:
            continue
        v = value[name]
        wt = _wire_type(ftype)
        if ftype == "map_ss":
            for k, val in (v or {}).items():
                entry = _key(1, 2) + _enc_scalar("string", k) + _key(2, 2) + _enc_scalar("string", val)
                out += _key(num, 2) + enc_varint(len(entry)) + entry
            continue
        if label == "rep":
            for item in v or []:
                if ftype in SCHEMA:
                    b = encode(ftype, item)
                    out += _key(num, 2) + enc_varint(len(b)) + b
                else:
                    out += _key(num, wt) + _enc_scalar(ftype, item)
            continue
        if ftype in SCHEMA:
            if v is None:
                continue
            b = encode(ftype, v)
            out += _key(num, 2) + enc_varint(len(b)) + b
            continue
        if label != "oneof" and _is_default(ftype, v):
            continue
        out += _key(num, wt) + _enc_scalar(ftype, v)
    return bytes(out)


# -------------------------------------------------------------- decoding ---
def _default(ftype, label):
    if label == "rep":
        return []
    if ftype == "map_ss":
        return {}
    if ftype in SCHEMA:
        return None
    return {"string": "", "bytes": b"", "bool": False, "float": 0.0}.get(ftype, 0)


def _skip(buf, pos, wt):
    if wt == 0:
        _, pos = dec_varint(buf, pos)
    elif wt == 1:
        pos += 8
    elif wt == 2:
        n, pos = dec_varint(buf, pos)
        pos += n
    elif wt == 5:
        pos += 4
    else:
        raise ProtoError("unsupported wire type %d" % wt)
    if pos > len(buf):
        raise ProtoError("truncated field")
    return pos


def _dec_map_entry(b):
    k, v = "", ""
    pos = 0
    while pos < len(b):
        key, pos = dec_varint(b, pos)
        num, wt = key >> 3, key & 7
        if num in (1, 2) and wt == 2:
            n, pos = dec_varint(b, pos)
            if pos + n > len(b):
                raise ProtoError("truncated map entry")
            try:
                s = bytes(b[pos:pos + n]).decode("utf-8")
            except UnicodeDecodeError:
                raise ProtoError("invalid UTF-8 in map entry")
            pos += n
            if num == 1:
                k = s
            else:
                v = s
        else:
            pos = _skip(b, pos, wt)
    return k, v


def decode(msg_name, buf):
    buf = bytes(buf)
    fields = {}
    by_num = {}
    for num, name, ftype, label in SCHEMA[msg_name]:
        fields[name] = _default(ftype, label)
        by_num[num] = (name, ftype, label)
    which = None
    pos = 0
    while pos < len(buf):
        key, pos = dec_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ProtoError("field number 0")
        if num not in by_num:
            pos = _skip(buf, pos, wt)
            continue
        name, ftype, label = by_num[num]
        if wt != _wire_type(ftype):
            raise ProtoError("wrong wire type for %s.%s" % (msg_name, name))
        if wt == 0:
            v, pos = dec_varint(buf, pos)
            if ftype == "bool":
                v = bool(v)
            elif ftype in ("uint32", "enum"):
                v &= 0xFFFFFFFF
        elif wt == 5:
            if pos + 4 > len(buf):
                raise ProtoError("truncated fixed32")
            v = struct.unpack("<f", buf[pos:pos + 4])[0]
            pos += 4
        else:
            n, pos = dec_varint(buf, pos)
            if pos + n > len(buf):
                raise ProtoError("truncated length-delimited field")
            raw = buf[pos:pos + n]
            pos += n
            if ftype == "string":
                try:
                    v = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise ProtoError("invalid UTF-8 in %s.%s" % (msg_name, name))
            elif ftype == "bytes":
                v = raw
            elif ftype == "map_ss":
                k, val = _dec_map_entry(raw)
                fields[name][k] = val
                continue
            else:
                sub = decode(ftype, raw)
                if label != "rep" and fields[name] is not None:
                    # proto3: repeated occurrences of a singular message merge;
                    # we keep it simple and let the last one win field-wise.
                    merged = dict(fields[name])
                    for kk, vv in sub.items():
                        if vv not in (None, "", b"", 0, False, [], {}):
                            merged[kk] = vv
                    sub = merged
                v = sub
        if label == "rep":
            fields[name].append(v)
        else:
            fields[name] = v
        if label == "oneof":
            which = name
    if any(lbl == "oneof" for _, _, _, lbl in SCHEMA[msg_name]):
        # only the last-set member of a oneof is kept
        for _, name, _, lbl in SCHEMA[msg_name]:
            if lbl == "oneof" and name != which:
                fields[name] = None
        fields["_which"] = which
    return fields


# -------------------------------------------------------- length framing ---
MAX_FRAME = 65536


class FramingError(ValueError):
    pass


def frame(payload, little_endian=False):
    n = len(payload)
    return n.to_bytes(4, "little" if little_endian else "big") + payload


class Deframer:
    """Accumulates u32 big-endian length-prefixed messages (DT6 limits)."""

    def __init__(self, max_len=MAX_FRAME, allow_zero=False, little_endian=False):
        self.buf = bytearray()
        self.max_len = max_len
        self.allow_zero = allow_zero
        self.little_endian = little_endian

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 4:
            n = int.from_bytes(self.buf[:4], "little" if self.little_endian else "big")
            if n == 0 and not self.allow_zero:
                raise FramingError("zero-length message")
            if n > self.max_len:
                raise FramingError("message length %d exceeds %d" % (n, self.max_len))
            if len(self.buf) < 4 + n:
                break
            out.append(bytes(self.buf[4:4 + n]))
            del self.buf[:4 + n]
        return out

    def pending(self):
        return len(self.buf)
