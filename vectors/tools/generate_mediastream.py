#!/usr/bin/env python3
"""Independent generator of the media-stream byte test vectors.

This is a second oracle for the wire layer: it re-implements the wire facts of
../shared/protocols/mediastream.md ("Wire facts", decision D14 for TLV options)
and the decoded-object / error / check-order rules of vectors/README.md, using
the Python standard library only.  It does not read the Rust codec.

Every vector's expectation is computed by the model below (encoder + decoder +
planner + frame-size + fill-pattern), and valid datagrams are additionally
cross-checked against the fields they were built from.  A few anchors taken
verbatim from the facts file and the README are asserted at start-up.

Usage (from the repository root):

    python3 vectors/tools/generate_mediastream.py          # (re)write vectors/mediastream/*.json
    python3 vectors/tools/generate_mediastream.py --check  # exit 1 if any file on disk differs
"""

import json
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vectorfiles  # noqa: E402  (the shared command line)

# --------------------------------------------------------------------------
# Wire facts (all integers little-endian)
# --------------------------------------------------------------------------

START_BYTES = b"START"  # exactly 5 bytes, no NUL, case-sensitive

FLAG_DATA = 0x0000
FLAG_DATA_FRAG = 0x0001  # spec extension, never coded upstream
FLAG_SYN = 0x0100
FLAG_SYN_ACK = 0x0101
FLAG_ACK = 0x0102
FLAG_CONNECTION_ID = 0x1000

KIND_BY_FLAG = {
    FLAG_CONNECTION_ID: "connection_id",
    FLAG_DATA: "data",
    FLAG_DATA_FRAG: "data_frag",
    FLAG_SYN: "syn",
    FLAG_SYN_ACK: "syn_ack",
    FLAG_ACK: "ack",
}
FLAG_BY_KIND = {kind: flag for flag, kind in KIND_BY_FLAG.items()}

ID_LEN = 37  # 36 ASCII chars + NUL for a ctsTraffic UUID id
HEADER_LEN = 26  # flag u16 + seq u64 + qpc u64 + qpf u64
FRAG_HEADER_LEN = HEADER_LEN + 16  # + fragment offset u64 + total length u64
CONTROL_BODY_LEN = 1 + 1 + 2 + ID_LEN  # version, flags, reserved, id = 41
CONTROL_LEN = HEADER_LEN + CONTROL_BODY_LEN  # 67
CONNECTION_ID_LEN = 2 + ID_LEN  # 39

MIN_LEN = {
    "connection_id": CONNECTION_ID_LEN,
    "data": HEADER_LEN,
    "data_frag": FRAG_HEADER_LEN,
    "syn": CONTROL_LEN,
    "syn_ack": CONTROL_LEN,
    "ack": CONTROL_LEN,
}
CONTROL_KINDS = ("syn", "syn_ack", "ack")
CONTROL_VERSION = 1

# D14: TLV option types; fixed value lengths for the numeric ones.
TLV_NAMES = {
    1: "frame_rate",
    2: "bits_per_second",
    3: "buffer_depth_ms",
    4: "codec_hint",
    5: "max_datagram_bytes",
}
TLV_FIXED_LEN = {1: 4, 2: 8, 3: 4, 5: 4}

# Planner / frame-size constants
TAIL_MIN = HEADER_LEN + 1  # last datagram of a frame is at least 27 bytes
PLAN_MIN_DATAGRAM = TAIL_MIN + HEADER_LEN  # 53: a shortened datagram keeps >= 1 payload byte
FRAME_MIN = 40  # F >= 40

PATTERN_PERIOD = 65536

MODES = ("legacy_accepting", "three_way_only")

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1


def u8(v):
    return struct.pack("<B", v)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def rd_u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def rd_u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def rd_u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


# --------------------------------------------------------------------------
# Fill pattern: little-endian u16 counter 0..32767, repeating every 65536 bytes
# --------------------------------------------------------------------------


def pattern_byte(i):
    counter = (i % PATTERN_PERIOD) // 2
    return counter & 0xFF if i % 2 == 0 else counter >> 8


def pattern(offset, length):
    return bytes(pattern_byte(offset + k) for k in range(length))


def pattern_mismatch(payload):
    for i, b in enumerate(payload):
        if b != pattern_byte(i):
            return i
    return None


# --------------------------------------------------------------------------
# Escaping of ids and codec hints (README)
# --------------------------------------------------------------------------


def escape_bytes(b):
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def escape_id(b):
    return escape_bytes(b.rstrip(b"\x00"))


# --------------------------------------------------------------------------
# Encoder: a datagram is a list of segments (one per field) so that the hex
# can be written field by field; truncation cuts through the segments.
# --------------------------------------------------------------------------


class Wire:
    def __init__(self, segments):
        self.segments = [bytes(s) for s in segments]

    @property
    def data(self):
        return b"".join(self.segments)

    def __len__(self):
        return sum(len(s) for s in self.segments)

    def hex(self):
        return " ".join(s.hex() for s in self.segments if s)

    def cut(self, n):
        assert 0 <= n <= len(self)
        out, left = [], n
        for s in self.segments:
            if left <= 0:
                break
            out.append(s[:left])
            left -= len(s[:left])
        return Wire(out)

    def plus(self, *segments):
        return Wire(self.segments + [bytes(s) for s in segments])


def pad_id(raw):
    assert len(raw) <= ID_LEN, raw
    return raw + b"\x00" * (ID_LEN - len(raw))


def enc_start():
    return Wire([START_BYTES])


def enc_connection_id(raw_id, trailing=b""):
    return Wire([u16(FLAG_CONNECTION_ID), pad_id(raw_id), trailing])


def enc_header(flag, seq, qpc, qpf):
    return [u16(flag), u64(seq), u64(qpc), u64(qpf)]


def enc_data(seq, qpc, qpf, payload):
    return Wire(enc_header(FLAG_DATA, seq, qpc, qpf) + [payload])


def enc_data_frag(seq, qpc, qpf, frag_offset, total_length, payload):
    return Wire(
        enc_header(FLAG_DATA_FRAG, seq, qpc, qpf)
        + [u64(frag_offset), u64(total_length), payload]
    )


def enc_tlv(t, value, length=None):
    """One TLV: type u8, length u16 LE, value.  `length` overrides the declared length."""
    if length is None:
        length = len(value)
    return u8(t) + u16(length) + value


def opt_frame_rate(v):
    return enc_tlv(1, u32(v))


def opt_bps(v):
    return enc_tlv(2, u64(v))


def opt_buffer_depth(v):
    return enc_tlv(3, u32(v))


def opt_codec(s):
    return enc_tlv(4, s)


def opt_max_datagram(v):
    return enc_tlv(5, u32(v))


def enc_control(kind, raw_id=b"", flags=None, version=CONTROL_VERSION, reserved=0,
                options=(), seq=0, qpc=0, qpf=0):
    if flags is None:
        flags = 1 if kind == "syn_ack" else 0
    return Wire(
        enc_header(FLAG_BY_KIND[kind], seq, qpc, qpf)
        + [u8(version), u8(flags), u16(reserved), pad_id(raw_id)]
        + list(options)
    )


# --------------------------------------------------------------------------
# Decoder: README check order
#   length < 2; exact 5-byte START (legacy_accepting only); flag;
#   the kind's minimum length; version; TLVs front to back.
# --------------------------------------------------------------------------


def err_too_short(kind, needed, actual):
    return {"error": {"error": "too_short", "kind": kind, "needed": needed, "actual": actual}}


def decode_options(b, kind):
    options = []
    o = CONTROL_LEN
    n = len(b)
    while o < n:
        available = n - o
        if available < 3:
            return None, {"error": {"error": "tlv_overrun", "kind": kind, "offset": o,
                                    "needed": 3, "available": available}}
        t = b[o]
        length = rd_u16(b, o + 1)
        if available < 3 + length:
            return None, {"error": {"error": "tlv_overrun", "kind": kind, "offset": o,
                                    "needed": 3 + length, "available": available}}
        value = b[o + 3:o + 3 + length]
        if t in TLV_FIXED_LEN and length != TLV_FIXED_LEN[t]:
            return None, {"error": {"error": "tlv_bad_length", "kind": kind, "type": t,
                                    "expected": TLV_FIXED_LEN[t], "actual": length}}
        if t in (1, 3, 5):
            options.append({"type": t, "name": TLV_NAMES[t], "value": rd_u32(value, 0)})
        elif t == 2:
            options.append({"type": t, "name": TLV_NAMES[t], "value": rd_u64(value, 0)})
        elif t == 4:
            options.append({"type": t, "name": TLV_NAMES[t], "value": escape_bytes(value)})
        else:
            options.append({"type": t, "name": "unknown", "value": value.hex()})
        o += 3 + length
    return options, None


def decode(b, mode):
    assert mode in MODES
    n = len(b)
    if n < 2:
        return err_too_short(None, 2, n)
    if mode == "legacy_accepting" and n == len(START_BYTES) and b == START_BYTES:
        return {"datagram": {"kind": "start"}}
    flag = rd_u16(b, 0)
    kind = KIND_BY_FLAG.get(flag)
    if kind is None:
        return {"error": {"error": "unknown_flag", "flag": flag}}
    if n < MIN_LEN[kind]:
        return err_too_short(kind, MIN_LEN[kind], n)
    if kind == "connection_id":
        # trailing bytes after 39 are ignored
        return {"datagram": {"kind": kind, "connection_id": escape_id(b[2:2 + ID_LEN])}}
    seq, qpc, qpf = rd_u64(b, 2), rd_u64(b, 10), rd_u64(b, 18)
    if kind == "data":
        return {"datagram": {"kind": kind, "seq": seq, "qpc": qpc, "qpf": qpf,
                             "payload_len": n - HEADER_LEN}}
    if kind == "data_frag":
        return {"datagram": {"kind": kind, "seq": seq, "qpc": qpc, "qpf": qpf,
                             "fragment_offset": rd_u64(b, 26), "total_length": rd_u64(b, 34),
                             "payload_len": n - FRAG_HEADER_LEN}}
    # control frame: header seq/qpc/qpf and reserved are not part of the decoded value
    version = b[26]
    if version != CONTROL_VERSION:
        return {"error": {"error": "bad_version", "kind": kind, "version": version}}
    flags = b[27]
    cid = escape_id(b[30:30 + ID_LEN])
    options, error = decode_options(b, kind)
    if error is not None:
        return error
    if kind == "syn_ack":
        return {"datagram": {"kind": kind, "flags": flags, "accept": bool(flags & 1),
                             "connection_id": cid, "options": options}}
    return {"datagram": {"kind": kind, "flags": flags, "connection_id": cid, "options": options}}


# --------------------------------------------------------------------------
# Intents: the decoded object a builder *meant*, derived from its inputs only
# (a cross-check of the decoder on every valid vector).
# --------------------------------------------------------------------------


def intent_data(seq, qpc, qpf, payload):
    return {"datagram": {"kind": "data", "seq": seq, "qpc": qpc, "qpf": qpf,
                         "payload_len": len(payload)}}


def intent_frag(seq, qpc, qpf, off, total, payload):
    return {"datagram": {"kind": "data_frag", "seq": seq, "qpc": qpc, "qpf": qpf,
                         "fragment_offset": off, "total_length": total,
                         "payload_len": len(payload)}}


def intent_cid(id_text):
    return {"datagram": {"kind": "connection_id", "connection_id": id_text}}


def intent_control(kind, flags, id_text, options):
    d = {"kind": kind, "flags": flags}
    if kind == "syn_ack":
        d["accept"] = bool(flags & 1)
    d["connection_id"] = id_text
    d["options"] = options
    return {"datagram": d}


def o_frame_rate(v):
    return {"type": 1, "name": "frame_rate", "value": v}


def o_bps(v):
    return {"type": 2, "name": "bits_per_second", "value": v}


def o_buffer_depth(v):
    return {"type": 3, "name": "buffer_depth_ms", "value": v}


def o_codec(text):
    return {"type": 4, "name": "codec_hint", "value": text}


def o_max_datagram(v):
    return {"type": 5, "name": "max_datagram_bytes", "value": v}


def o_unknown(t, hex_value):
    return {"type": t, "name": "unknown", "value": hex_value}


# --------------------------------------------------------------------------
# Planner and frame size
# --------------------------------------------------------------------------


def plan_shape(frame_size, max_datagram):
    """Returns (error, full_count, last_sizes): sizes = [M]*full_count + last_sizes."""
    if max_datagram < PLAN_MIN_DATAGRAM:
        return {"error": "datagram_too_small", "max_datagram": max_datagram,
                "min": PLAN_MIN_DATAGRAM}, 0, []
    if frame_size < TAIL_MIN:
        return {"error": "frame_too_small", "frame_size": frame_size, "min": TAIL_MIN}, 0, []
    q, r = divmod(frame_size, max_datagram)
    if r == 0:
        return None, q, []
    if r >= TAIL_MIN:
        return None, q, [r]
    # remainder 1..26: shorten the previous datagram so the last one is exactly 27
    assert q >= 1
    return None, q - 1, [max_datagram - (TAIL_MIN - r), TAIL_MIN]


def plan_sizes(frame_size, max_datagram):
    error, full, last = plan_shape(frame_size, max_datagram)
    if error:
        return error
    return [max_datagram] * full + last


def plan_check(frame_size, max_datagram):
    """Invariants of any plan, checked without materialising huge lists."""
    error, full, last = plan_shape(frame_size, max_datagram)
    if error:
        return
    assert full * max_datagram + sum(last) == frame_size
    assert all(TAIL_MIN <= s <= max_datagram for s in last)
    assert all(s - HEADER_LEN >= 1 for s in last)


def frame_size_of(bps, frame_rate):
    if frame_rate == 0:
        return {"error": "zero_frame_rate"}
    f = (bps // 8) // frame_rate
    if f < FRAME_MIN:
        return {"error": "frame_too_small", "frame_size": f, "min": FRAME_MIN}
    return f


# --------------------------------------------------------------------------
# Anchors (hand-stated, from the facts file and the README)
# --------------------------------------------------------------------------


def check_anchors():
    # planner examples, M = 1400
    assert plan_sizes(27, 1400) == [27]
    assert plan_sizes(1399, 1400) == [1399]
    assert plan_sizes(1400, 1400) == [1400]
    assert plan_sizes(1401, 1400) == [1374, 27]
    assert plan_sizes(2800, 1400) == [1400, 1400]
    assert plan_sizes(2801, 1400) == [1400, 1374, 27]
    big = plan_sizes(123456789, 1400)
    assert len(big) == 88184 and big[-2:] == [1400, 589] and sum(big) == 123456789
    assert plan_sizes(100, 52) == {"error": "datagram_too_small", "max_datagram": 52, "min": 53}
    assert plan_sizes(26, 1400) == {"error": "frame_too_small", "frame_size": 26, "min": 27}
    # frame sizes
    assert frame_size_of(1000000, 1000) == 125
    assert frame_size_of(100, 1) == {"error": "frame_too_small", "frame_size": 12, "min": 40}
    assert frame_size_of(100, 0) == {"error": "zero_frame_rate"}
    # fill pattern
    assert pattern(0, 6) == bytes.fromhex("000001000200")
    assert pattern(65534, 2) == bytes.fromhex("ff7f")
    assert pattern(510, 4) == bytes.fromhex("ff000001")
    assert pattern_mismatch(bytes.fromhex("00000100ff")) == 4
    # byte order of the flags
    assert u16(FLAG_CONNECTION_ID) == bytes.fromhex("0010")
    assert u16(FLAG_DATA_FRAG) == bytes.fromhex("0100")
    assert u16(FLAG_SYN) == bytes.fromhex("0001")
    assert u16(FLAG_SYN_ACK) == bytes.fromhex("0101")
    assert u16(FLAG_ACK) == bytes.fromhex("0201")
    # START in both modes
    s = bytes.fromhex("5354415254")
    assert decode(s, "legacy_accepting") == {"datagram": {"kind": "start"}}
    assert decode(s, "three_way_only") == {"error": {"error": "unknown_flag", "flag": 0x5453}}
    # escaping
    assert escape_id(b"\x00" * 37) == ""
    assert escape_id(b"a\\b\xff\x00c\x00\x00") == "a\\\\b\\xff\\x00c"
    assert len(enc_control("syn")) == 67
    assert len(enc_connection_id(b"x" * 36)) == 39


# --------------------------------------------------------------------------
# Vector files
# --------------------------------------------------------------------------

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID_A = "6f1c2a4e-8b3d-4c7a-9e5f-0a1b2c3d4e5f"
UUID_B = "c0ffee00-1234-4abc-8def-0123456789ab"
UUID_C = "9b2e7d41-55a0-4f3c-b8e6-d4c2a1f09e73"
for _u in (UUID_A, UUID_B, UUID_C):
    assert UUID_RE.match(_u)

QPF = 10_000_000  # a typical QueryPerformanceFrequency
QPC0 = 58_213_004_117  # an arbitrary realistic QueryPerformanceCounter sample


class VectorFile:
    def __init__(self, filename, title, source):
        self.filename = filename
        self.title = title
        self.source = source
        self.sections = {}
        self.names = set()

    def _add(self, section, obj):
        assert obj["name"] not in self.names, (self.filename, obj["name"])
        assert re.match(r"^[a-z0-9_]+$", obj["name"]), obj["name"]
        self.names.add(obj["name"])
        self.sections.setdefault(section, []).append(obj)

    def datagram(self, name, wire, description=None, intent=None):
        raw = wire.data if isinstance(wire, Wire) else wire
        hex_text = wire.hex() if isinstance(wire, Wire) else raw.hex()
        outcomes = {mode: decode(raw, mode) for mode in MODES}
        if intent is not None:
            for mode in MODES:
                assert outcomes[mode] == intent, (self.filename, name, mode, outcomes[mode], intent)
        obj = {"name": name}
        if description:
            obj["description"] = description
        obj["hex"] = hex_text
        if outcomes["legacy_accepting"] == outcomes["three_way_only"]:
            obj["expect"] = outcomes["legacy_accepting"]
        else:
            # only an exact 5-byte START may differ between the modes
            assert raw == START_BYTES, name
            obj["expect_by_mode"] = {m: outcomes[m] for m in MODES}
        self._add("datagrams", obj)
        return obj

    def plan(self, name, frame_size, max_datagram, use_count=None):
        plan_check(frame_size, max_datagram)
        error, full, last = plan_shape(frame_size, max_datagram)
        obj = {"name": name, "frame_size": frame_size, "max_datagram": max_datagram}
        if error:
            obj["error"] = error
        else:
            count = full + len(last)
            if use_count is None:
                use_count = count > 16
            if use_count:
                obj["count"] = count
                tail = ([max_datagram] * min(full, 3) + last)[-3:]
                obj["tail"] = tail
            else:
                obj["sizes"] = [max_datagram] * full + last
        self._add("fragment_plans", obj)

    def frame_size(self, name, bps, frame_rate):
        r = frame_size_of(bps, frame_rate)
        obj = {"name": name, "bits_per_second": bps, "frame_rate": frame_rate}
        if isinstance(r, dict):
            obj["error"] = r
        else:
            obj["frame_size"] = r
        self._add("frame_sizes", obj)

    def pattern_bytes(self, name, offset, length):
        self._add("fill_pattern", {"name": name, "offset": offset,
                                   "hex": pattern(offset, length).hex()})

    def pattern_check(self, name, payload):
        self._add("pattern_checks", {"name": name, "payload_hex": payload.hex(),
                                     "mismatch_at": pattern_mismatch(payload)})

    def render(self):
        doc = {"$schema": "../schema/vector-file.schema.json", "protocol": "mediastream",
               "title": self.title, "source": self.source}
        for section in ("datagrams", "fragment_plans", "frame_sizes", "fill_pattern",
                        "pattern_checks"):
            if section in self.sections:
                doc[section] = self.sections[section]
        assert len(doc) > 4
        return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"

    def count(self):
        return sum(len(v) for v in self.sections.values())


# ---------------------------------------------------------------- START


def file_start():
    f = VectorFile("start.json", "START (legacy discovery) datagram",
                   "mediastream.md: Wire facts (START); README check order; D9")
    f.datagram("start_exact", enc_start(),
               "the 5 ASCII bytes START; a legacy-accepting endpoint sees START, a 3way-only "
               "endpoint reads the flag 0x5453 and reports an unknown flag")
    return f


# ---------------------------------------------------------------- CONNECTION_ID


def file_connection_id():
    f = VectorFile("connection_id.json", "CONNECTION_ID datagrams (opaque 37-byte id)",
                   "mediastream.md: Wire facts (CONNECTION_ID); README connection-id escaping")

    def cid(name, raw, description=None, trailing=b"", expect_text=None):
        w = enc_connection_id(raw, trailing)
        intent = None
        if expect_text is not None:
            intent = intent_cid(expect_text)
        f.datagram(name, w, description, intent)

    for label, u in (("a", UUID_A), ("b", UUID_B), ("c", UUID_C)):
        cid("uuid_lowercase_" + label, u.encode() + b"\x00",
            "a ctsTraffic id: lowercase hyphenated UUID + NUL, 39 bytes", expect_text=u)
    cid("uuid_uppercase", UUID_B.upper().encode(),
        "uppercase UUID: not what ctsTraffic sends, but any 37 bytes are accepted",
        expect_text=UUID_B.upper())
    cid("all_zero_id", b"", "all 37 id bytes zero: trailing NULs removed, empty string",
        expect_text="")
    cid("all_ff_id", b"\xff" * 37, "37 bytes 0xff, each escaped as \\xff",
        expect_text="\\xff" * 37)
    raw = b"abcd1234\x00efgh5678-rest-of-the-id-00"
    cid("embedded_nul", raw, "a NUL in the middle is kept (\\x00); only trailing NULs are removed",
        expect_text=escape_bytes(raw))
    raw = b"C:\\streams\\camera-01"
    cid("backslash_in_id", raw, "a backslash is written \\\\ in the escaped form",
        expect_text="C:\\\\streams\\\\camera-01")
    raw = (UUID_A + "x").encode()
    cid("no_nul_terminator", raw, "37 non-NUL bytes: the whole 37 bytes are the id",
        expect_text=UUID_A + "x")
    raw = ("{" + UUID_C).encode()
    cid("braced_uuid_cut_to_37", raw, "a braced UUID cut to 37 bytes, no NUL", expect_text=raw.decode())
    cid("trailing_bytes_45", UUID_A.encode() + b"\x00",
        "45 bytes: 6 trailing bytes after the 39 are ignored and not reported",
        trailing=bytes.fromhex("deadbeef0102"), expect_text=UUID_A)
    cid("trailing_nul_40", UUID_B.encode() + b"\x00", "40 bytes: one trailing NUL byte ignored",
        trailing=b"\x00", expect_text=UUID_B)
    cid("trailing_100_bytes", UUID_C.encode() + b"\x00", "139 bytes: 100 trailing pattern bytes ignored",
        trailing=pattern(0, 100), expect_text=UUID_C)
    cid("short_text_padded", b"abc", "'abc' followed by 34 NULs", expect_text="abc")
    raw = b"\x00" * 36 + b"z"
    cid("leading_nuls", raw, "36 NULs then 'z': leading NULs are not trimmed",
        expect_text="\\x00" * 36 + "z")
    raw = b"a\x00b"
    cid("nul_between_text", raw, "'a' NUL 'b' then NUL padding", expect_text="a\\x00b")
    raw = b"tab\there\nnl\x7fdel\x1fus"
    cid("control_chars", raw, "tab, LF, DEL and 0x1f are escaped as \\xNN (lowercase hex)",
        expect_text="tab\\x09here\\x0anl\\x7fdel\\x1fus")
    raw = b' "quoted" ~tilde~ '
    cid("printable_edges", raw, "space (0x20) and tilde (0x7e) stand for themselves, as does '\"'",
        expect_text=' "quoted" ~tilde~ ')
    raw = "caf\u00e9-\u00fcber".encode("utf-8")
    cid("utf8_bytes", raw, "UTF-8 bytes above 0x7e are escaped byte by byte",
        expect_text="caf\\xc3\\xa9-\\xc3\\xbcber")
    raw = bytes(range(1, 38))
    cid("bytes_01_to_25", raw, "id bytes 0x01..0x25", expect_text=escape_bytes(raw))
    return f


# ---------------------------------------------------------------- DATA


def file_data():
    f = VectorFile("data.json", "DATA datagrams (flag 0x0000, 26-byte header)",
                   "mediastream.md: Wire facts (DATA), payload fill pattern, frames and fragmentation")

    def data(name, seq, qpc, qpf, payload, description=None):
        f.datagram(name, enc_data(seq, qpc, qpf, payload), description,
                   intent_data(seq, qpc, qpf, payload))

    data("seq1_no_payload", 1, QPC0, QPF, b"", "26 bytes: header only, payload_len 0")
    data("seq1_payload_1", 1, QPC0, QPF, pattern(0, 1), "27 bytes: the smallest tail datagram")
    data("seq1_payload_2", 1, QPC0, QPF, pattern(0, 2))
    data("seq1_payload_14_frame_40", 1, QPC0, QPF, pattern(0, 14),
         "a 40-byte frame (the minimum frame size) in one datagram")
    data("seq2_payload_99_frame_125", 2, QPC0 + 10000, QPF, pattern(0, 99),
         "1,000,000 bps at 1000 fps: F = 125, one datagram of 125 bytes")
    data("seq1_full_1400", 1, QPC0, QPF, pattern(0, 1374),
         "a full datagram at M = 1400: 1374 payload bytes")
    # frame 2801 at M = 1400 -> [1400, 1374, 27], all with the same seq; QPC per datagram
    sizes = plan_sizes(2801, 1400)
    assert sizes == [1400, 1374, 27]
    for k, size in enumerate(sizes):
        data("frame_2801_datagram_%d_of_3" % (k + 1), 3, QPC0 + 333_333 + 37 * k, QPF,
             pattern(0, size - HEADER_LEN),
             "frame seq 3 of 2801 bytes split %s; datagram of %d bytes, payload = pattern[0..%d]"
             % (sizes, size, size - HEADER_LEN))
    # frame 1401 -> [1374, 27]
    sizes = plan_sizes(1401, 1400)
    for k, size in enumerate(sizes):
        data("frame_1401_datagram_%d_of_2" % (k + 1), 4, QPC0 + 500_000 + 41 * k, QPF,
             pattern(0, size - HEADER_LEN),
             "frame seq 4 of 1401 bytes split %s" % (sizes,))
    data("seq_1000000", 1_000_000, QPC0 + 16_666_666_667, QPF, pattern(0, 64),
         "a late frame of a long stream")
    data("seq_u64_max", U64_MAX, U64_MAX, U64_MAX, pattern(0, 4),
         "all header integers at u64::MAX")
    data("seq_zero_still_decodes", 0, QPC0, QPF, pattern(0, 8),
         "seq 0 is never sent as data, but the parser does not judge it")
    data("qpc_qpf_zero_still_decode", 5, 0, 0, pattern(0, 8),
         "QPC and QPF zero: not realistic, still a well-formed DATA datagram")
    data("offset_trap_distinct_bytes", 0x0807060504030201, 0x1817161514131211,
         0x2827262524232221, pattern(0, 6),
         "every header byte distinct: reading QPC/QPF at 8/16 (the legacy bug) or "
         "big-endian gives different numbers")
    data("payload_not_pattern_decodes", 6, QPC0, QPF, b"\xaa" * 16,
         "the payload is not the fill pattern: decoding does not verify it (pattern checks do)")
    data("qpf_3579545", 7, 12_345_678_901, 3_579_545, pattern(0, 32),
         "a legacy ACPI-timer QPF value")
    return f


# ---------------------------------------------------------------- DATA+FRAG


def file_data_frag():
    f = VectorFile("data_frag.json", "DATA+FRAG datagrams (flag 0x0001, 42-byte header)",
                   "mediastream.md: Wire facts (DATA+FRAG, spec extension, never coded)")

    def frag(name, seq, qpc, qpf, off, total, payload, description=None):
        f.datagram(name, enc_data_frag(seq, qpc, qpf, off, total, payload), description,
                   intent_frag(seq, qpc, qpf, off, total, payload))

    total = 3000
    per = 1400 - FRAG_HEADER_LEN  # 1358 payload bytes per full datagram
    offsets = list(range(0, total, per))
    for k, off in enumerate(offsets):
        n = min(per, total - off)
        frag("frame_3000_fragment_%d_of_%d" % (k + 1, len(offsets)), 1, QPC0 + 29 * k, QPF,
             off, total, pattern(0, n),
             "fragment at offset %d of a 3000-byte frame, %d payload bytes" % (off, n))
    frag("empty_payload", 2, QPC0, QPF, 0, 0, b"", "42 bytes: header only, payload_len 0")
    frag("single_fragment", 3, QPC0, QPF, 0, 100, pattern(0, 100),
         "the whole 100-byte frame in one fragment")
    frag("u64_max_fields", U64_MAX, U64_MAX, U64_MAX, U64_MAX, U64_MAX, pattern(0, 2),
         "all integers at u64::MAX")
    frag("offset_beyond_total_decodes", 4, QPC0, QPF, 5000, 1000, pattern(0, 10),
         "offset > total length: not judged by the parser")
    frag("offset_trap_distinct_bytes", 0x0807060504030201, 0x1817161514131211,
         0x2827262524232221, 0x3837363534333231, 0x4847464544434241, pattern(0, 3),
         "every header byte distinct, catches wrong offsets and byte order")
    return f


# ---------------------------------------------------------------- SYN / SYN-ACK / ACK


def all_five_options():
    wire = [opt_frame_rate(60), opt_bps(8_000_000), opt_buffer_depth(1000), opt_codec(b"H264"),
            opt_max_datagram(1400)]
    dec = [o_frame_rate(60), o_bps(8_000_000), o_buffer_depth(1000), o_codec("H264"),
           o_max_datagram(1400)]
    return wire, dec


def file_syn():
    f = VectorFile("syn.json", "SYN control frames (flag 0x0100, 67 bytes + options)",
                   "mediastream.md: Wire facts (SYN); D1, D14; README control frames")
    wire_opts, dec_opts = all_five_options()

    def syn(name, raw_id, id_text, description=None, flags=0, options=(), dec=(), **kw):
        f.datagram(name, enc_control("syn", raw_id, flags=flags, options=options, **kw),
                   description, intent_control("syn", flags, id_text, list(dec)))

    syn("zero_desired_id", b"", "",
        "67 bytes, DesiredConnectionId all zero = 'assign one' (D1; also the udp_push SYN)")
    syn("desired_uuid", UUID_A.encode(), UUID_A, "a configured desired id (UUID + NUL)")
    syn("desired_id_non_uuid", b"my-stream", "my-stream", "any bytes are an opaque id")
    syn("desired_id_37_bytes_no_nul", (UUID_B + "!").encode(), UUID_B + "!")
    syn("requested_parameters", b"", "", "all five D14 options: the requested parameters",
        options=wire_opts, dec=dec_opts)
    syn("header_seq_qpc_qpf_nonzero", b"", "",
        "header seq/QPC/QPF should be zero; the parser ignores them", seq=1, qpc=QPC0, qpf=QPF)
    syn("reserved_nonzero", b"", "", "Reserved u16 = 0xbeef; the parser ignores it",
        reserved=0xBEEF)
    syn("flags_nonzero", b"", "", "SYN flags should be 0; the parser reports them as they are",
        flags=0x80)
    syn("everything_nonzero_but_valid", UUID_C.encode(), UUID_C,
        "header integers, reserved and flags all nonzero, plus one option",
        flags=0xFF, reserved=0xFFFF, seq=U64_MAX, qpc=1, qpf=2,
        options=[opt_frame_rate(30)], dec=[o_frame_rate(30)])
    return f


def file_syn_ack():
    f = VectorFile("syn_ack.json", "SYN-ACK control frames (flag 0x0101, 67 bytes + options)",
                   "mediastream.md: Wire facts (SYN-ACK); D3, D4, D5, D14")
    wire_opts, dec_opts = all_five_options()

    def sa(name, raw_id, id_text, flags, description=None, options=(), dec=(), **kw):
        f.datagram(name, enc_control("syn_ack", raw_id, flags=flags, options=options, **kw),
                   description, intent_control("syn_ack", flags, id_text, list(dec)))

    sa("accept_uuid", UUID_A.encode(), UUID_A, 1, "Accept = 1, AssignedConnectionId = fresh UUID (D3)")
    sa("accept_uuid_b", UUID_B.encode(), UUID_B, 1)
    sa("accept_with_accepted_parameters", UUID_C.encode(), UUID_C, 1,
        "the accepted parameters as D14 options", options=wire_opts, dec=dec_opts)
    sa("reject_unsupported_version", b"unsupported version", "unsupported version", 0,
        "Accept = 0 with an ASCII reason in the id field (D4)")
    sa("reject_session_limit", b"session limit reached", "session limit reached", 0,
        "Accept = 0: responder at its session limit (D4)")
    sa("reject_zero_id", b"", "", 0, "Accept = 0 with an all-zero id")
    reason = b"rejected: server is busy, retry later"
    assert len(reason) == 37
    sa("reject_reason_37_chars_no_nul", reason, reason.decode(), 0,
        "a 37-character reason fills the id field with no NUL")
    sa("accept_zero_id_decodes", b"", "", 1,
        "Accept = 1 with an all-zero id: well-formed, the checker judges it")
    sa("flags_2_not_accept", UUID_A.encode(), UUID_A, 2, "flags 0x02: bit 0 clear, accept false")
    sa("flags_3_accept", UUID_A.encode(), UUID_A, 3, "flags 0x03: bit 0 set, accept true")
    sa("flags_ff_accept", UUID_A.encode(), UUID_A, 0xFF, "flags 0xff: accept true")
    sa("flags_fe_not_accept", b"", "", 0xFE, "flags 0xfe: accept false")
    sa("header_and_reserved_nonzero", UUID_B.encode(), UUID_B, 1,
        "header seq/QPC/QPF and reserved nonzero: ignored by the parser",
        seq=7, qpc=QPC0, qpf=QPF, reserved=1)
    return f


def file_ack():
    f = VectorFile("ack.json", "ACK control frames (flag 0x0102, 67 bytes + options)",
                   "mediastream.md: Wire facts (ACK); D5, D6, D14")

    def ack(name, raw_id, id_text, description=None, flags=0, options=(), dec=(), **kw):
        f.datagram(name, enc_control("ack", raw_id, flags=flags, options=options, **kw),
                   description, intent_control("ack", flags, id_text, list(dec)))

    ack("echo_uuid", UUID_A.encode(), UUID_A, "ConfirmedConnectionId echoes the assigned id (D5)")
    ack("echo_uuid_c", UUID_C.encode(), UUID_C)
    ack("zero_id", b"", "", "all-zero confirmed id: well-formed, a responder would not match it")
    ack("mismatched_id_decodes", UUID_B.encode(), UUID_B,
        "an id the responder did not assign: decodes; D6 judges it later")
    ack("with_option", UUID_A.encode(), UUID_A, "one option after the body",
        options=[opt_buffer_depth(500)], dec=[o_buffer_depth(500)])
    ack("flags_nonzero", UUID_A.encode(), UUID_A, "ACK flags should be 0; reported as they are",
        flags=1)
    ack("header_nonzero", UUID_A.encode(), UUID_A, "header seq/QPC/QPF nonzero: ignored",
        seq=1, qpc=QPC0, qpf=QPF)
    ack("reserved_nonzero", UUID_A.encode(), UUID_A, "Reserved 0x0001: ignored", reserved=1)
    return f


# ---------------------------------------------------------------- version


def file_control_version():
    f = VectorFile("control_version.json", "Control-frame version field (must be 1)",
                   "mediastream.md: Wire facts (Version u8 = 1); D4, D11; README check order")
    for kind in CONTROL_KINDS:
        rid = UUID_A.encode() if kind != "syn" else b""
        for v in (0, 2, 255):
            f.datagram("%s_version_%d" % (kind, v), enc_control(kind, rid, version=v),
                       "version %d: bad_version" % v)
        f.datagram("%s_version_1_reference" % kind, enc_control(kind, rid),
                   "the same frame with version 1 decodes")
    f.datagram("syn_version_2_with_bad_tlv",
               enc_control("syn", version=2, options=[enc_tlv(1, b"\x01\x02", 9)]),
               "version is checked before the TLVs: bad_version, not tlv_overrun")
    f.datagram("syn_version_2_with_bad_tlv_length",
               enc_control("syn", version=2, options=[enc_tlv(2, u32(5))]),
               "version before TLVs: bad_version, not tlv_bad_length")
    f.datagram("syn_ack_version_0_cut_to_66", enc_control("syn_ack", version=0).cut(66),
               "length is checked before the version: too_short")
    f.datagram("ack_version_2_cut_to_27", enc_control("ack", version=2).cut(27),
               "the version byte is present but the frame is short: too_short")
    f.datagram("syn_version_2_with_valid_options",
               enc_control("syn", version=2, options=all_five_options()[0]),
               "options are not looked at when the version is wrong")
    return f


# ---------------------------------------------------------------- TLV options


def file_tlv():
    f = VectorFile("tlv_options.json", "TLV options after the 41-byte control body (D14)",
                   "mediastream.md: D14; README Option objects and TLV errors")

    def ok(name, kind, options, dec, description=None, raw_id=b""):
        flags = 1 if kind == "syn_ack" else 0
        f.datagram(name, enc_control(kind, raw_id, options=options), description,
                   intent_control(kind, flags, escape_id(pad_id(raw_id)), dec))

    def bad(name, kind, options, description=None, raw_id=b""):
        out = f.datagram(name, enc_control(kind, raw_id, options=options), description)
        assert "error" in out["expect"], name

    # each type, valid
    ok("frame_rate_60", "syn", [opt_frame_rate(60)], [o_frame_rate(60)], "type 1, u32")
    ok("bits_per_second_8000000", "syn", [opt_bps(8_000_000)], [o_bps(8_000_000)], "type 2, u64")
    ok("buffer_depth_ms_1000", "syn", [opt_buffer_depth(1000)], [o_buffer_depth(1000)], "type 3, u32")
    ok("codec_hint_h264", "syn", [opt_codec(b"H264")], [o_codec("H264")], "type 4, ASCII")
    ok("max_datagram_bytes_1400", "syn", [opt_max_datagram(1400)], [o_max_datagram(1400)],
       "type 5, u32")
    w, d = all_five_options()
    ok("all_five_in_syn", "syn", w, d)
    ok("all_five_in_syn_ack", "syn_ack", w, d, raw_id=UUID_A.encode())
    ok("all_five_in_ack", "ack", w, d, raw_id=UUID_A.encode())
    ok("all_five_reverse_order", "syn", list(reversed(w)), list(reversed(d)),
       "options are reported in wire order")
    ok("frame_rate_u32_max", "syn", [opt_frame_rate(U32_MAX)], [o_frame_rate(U32_MAX)])
    ok("bits_per_second_u64_max", "syn", [opt_bps(U64_MAX)], [o_bps(U64_MAX)])
    ok("bits_per_second_above_u32", "syn", [opt_bps(10_000_000_000)], [o_bps(10_000_000_000)],
       "10 Gbit/s needs more than 32 bits")
    ok("frame_rate_zero", "syn", [opt_frame_rate(0)], [o_frame_rate(0)],
       "a zero value is well-formed at this layer")
    ok("codec_hint_empty", "syn", [opt_codec(b"")], [o_codec("")], "type 4 with length 0")
    ok("codec_hint_with_nul", "syn", [opt_codec(b"av1\x00")], [o_codec("av1\\x00")],
       "no NUL trimming for codec hints: NUL is \\x00")
    ok("codec_hint_escaping", "syn", [opt_codec(b"h\\265\xff ")], [o_codec("h\\\\265\\xff ")],
       "backslash and a non-ASCII byte escaped, trailing space kept")
    ok("codec_hint_long", "syn_ack", [opt_codec(b"video/H264; profile-level-id=42e01f")],
       [o_codec("video/H264; profile-level-id=42e01f")], raw_id=UUID_B.encode())
    # unknown types
    ok("unknown_type_6_empty", "syn", [enc_tlv(6, b"")], [o_unknown(6, "")],
       "unknown type, length 0: reported with empty hex")
    ok("unknown_type_0", "syn", [enc_tlv(0, b"\x01\x02")], [o_unknown(0, "0102")])
    ok("unknown_type_255", "syn", [enc_tlv(255, b"\xde\xad\xbe\xef")], [o_unknown(255, "deadbeef")])
    ok("unknown_between_known", "syn",
       [opt_frame_rate(25), enc_tlv(200, b"\xab\xcd\xef"), opt_codec(b"VP9")],
       [o_frame_rate(25), o_unknown(200, "abcdef"), o_codec("VP9")],
       "an unknown TLV is skipped over; the next one still decodes")
    val = pattern(0, 256)
    ok("unknown_length_256_little_endian", "syn", [enc_tlv(99, val)], [o_unknown(99, val.hex())],
       "length bytes 00 01 = 256 (little-endian)")
    ok("duplicate_frame_rate", "syn", [opt_frame_rate(30), opt_frame_rate(60)],
       [o_frame_rate(30), o_frame_rate(60)], "both reported, in wire order")
    ok("many_unknown", "ack", [enc_tlv(10 + k, bytes([k]) * k) for k in range(8)],
       [o_unknown(10 + k, (bytes([k]) * k).hex()) for k in range(8)], raw_id=UUID_C.encode())
    # overrun
    bad("overrun_value", "syn", [u8(1) + u16(4) + b"\x3c\x00"],
        "type 1 declares 4 bytes, 2 remain: needed 7, available 5")
    bad("overrun_big_endian_length_trap", "syn", [u8(4) + bytes.fromhex("0004") + b"H264"],
        "length bytes 00 04 = 1024 little-endian: overrun")
    bad("overrun_unknown_type", "syn", [u8(77) + u16(10) + b"abc"],
        "unknown types overrun too")
    bad("overrun_codec_hint_by_one", "syn_ack", [u8(4) + u16(5) + b"H264"],
        "codec hint one byte short", raw_id=UUID_A.encode())
    bad("overrun_in_second_tlv", "syn", [opt_frame_rate(60), u8(2) + u16(8) + b"\x00" * 7],
        "the first TLV decodes; the second overruns at offset 74")
    bad("overrun_length_ffff", "ack", [u8(9) + u16(0xFFFF)], "length 65535, no value",
        raw_id=UUID_A.encode())
    bad("header_cut_1_byte_left", "syn", [b"\x01"], "one byte after the body: TLV header cut")
    bad("header_cut_2_bytes_left", "syn", [b"\x01\x04"], "two bytes after the body")
    bad("header_cut_after_valid_tlv", "syn_ack", [opt_frame_rate(60), b"\x05\x04"],
        "a valid TLV, then 2 bytes: overrun at offset 74, needed 3", raw_id=UUID_A.encode())
    bad("single_zero_byte_trailer", "ack", [b"\x00"], "a lone 0x00 after the body is a cut header",
        raw_id=UUID_A.encode())
    # wrong lengths of known types
    bad("frame_rate_length_2", "syn", [enc_tlv(1, b"\x3c\x00")], "type 1 needs 4 bytes")
    bad("frame_rate_length_8", "syn", [enc_tlv(1, u64(60))])
    bad("bits_per_second_length_4", "syn", [enc_tlv(2, u32(8_000_000))], "type 2 needs 8 bytes")
    bad("bits_per_second_length_0", "syn", [enc_tlv(2, b"")])
    bad("buffer_depth_length_2", "syn", [enc_tlv(3, b"\xe8\x03")], "type 3 needs 4 bytes")
    bad("max_datagram_length_0", "syn", [enc_tlv(5, b"")], "type 5 needs 4 bytes")
    bad("max_datagram_length_8", "syn_ack", [enc_tlv(5, u64(1400))], raw_id=UUID_A.encode())
    bad("bad_length_after_valid", "syn", [opt_codec(b"H264"), enc_tlv(3, b"\x01")],
        "the first TLV decodes, the second has a wrong length")
    bad("bad_length_before_overrun", "syn", [enc_tlv(1, b"\x01\x02"), u8(4) + u16(50)],
        "TLVs are checked front to back: the first error wins")
    bad("overrun_after_unknown", "syn", [enc_tlv(42, b""), u8(2) + u16(8) + b"\x01"],
        "an empty unknown TLV, then an overrun at offset 70")
    return f


# ---------------------------------------------------------------- unknown flags


def file_unknown_flags():
    f = VectorFile("unknown_flags.json", "Unknown flags and the first checks",
                   "mediastream.md: check order (3-way spec section 8); D11; README check order")
    hdr_tail = u64(1) + u64(QPC0) + u64(QPF)

    def uf(name, flag_bytes, rest, description=None):
        f.datagram(name, Wire([flag_bytes, rest]), description)

    uf("flag_0002", bytes.fromhex("0200"), hdr_tail + pattern(0, 10), "flag 0x0002 (bytes 02 00)")
    uf("flag_2000", bytes.fromhex("0020"), hdr_tail + pattern(0, 10), "flag 0x2000 (bytes 00 20)")
    uf("flag_ffff", bytes.fromhex("ffff"), hdr_tail + pattern(0, 10), "flag 0xffff")
    uf("flag_0010_byte_swapped_connection_id", bytes.fromhex("1000"),
       (UUID_A.encode() + b"\x00"), "bytes 10 00 = 0x0010, not 0x1000")
    uf("flag_0003", bytes.fromhex("0300"), hdr_tail)
    uf("flag_0103_after_ack", bytes.fromhex("0301"), enc_control("ack").data[2:],
       "a 67-byte control-looking frame with flag 0x0103")
    uf("flag_0200", bytes.fromhex("0002"), enc_control("syn").data[2:],
       "bytes 00 02 = 0x0200")
    uf("flag_1001", bytes.fromhex("0110"), UUID_A.encode() + b"\x00",
       "a 39-byte connection-id-looking datagram with flag 0x1001")
    uf("flag_8000", bytes.fromhex("0080"), hdr_tail)
    uf("two_bytes_flag_0002", bytes.fromhex("0200"), b"",
       "a 2-byte datagram with an unknown flag: unknown_flag (the flag is checked before lengths)")
    uf("two_bytes_flag_ffff", bytes.fromhex("ffff"), b"")
    uf("three_bytes_flag_2000", bytes.fromhex("0020"), b"\x00")
    f.datagram("empty_datagram", Wire([b""]), "0 bytes: too_short, kind null")
    f.datagram("one_byte_02", Wire([b"\x02"]), "1 byte: too_short before any flag is read")
    f.datagram("one_byte_00", Wire([b"\x00"]), "1 byte that would start a DATA flag: still kind null")
    f.datagram("two_bytes_data_flag", Wire([u16(FLAG_DATA)]),
               "a known flag with 2 bytes: too_short for data")
    f.datagram("two_bytes_syn_flag", Wire([u16(FLAG_SYN)]), "too_short for syn")
    return f


# ---------------------------------------------------------------- near START


def file_near_start():
    f = VectorFile("near_start.json", "5-byte datagrams near START, and START-like bytes",
                   "mediastream.md: Wire facts (START: exactly 5 bytes, case-sensitive); D9; "
                   "README check order")

    def ns(name, raw, description=None):
        f.datagram(name, Wire([raw]), description)

    ns("exact_start", b"START", "exact START: the only datagram whose outcome depends on the mode")
    ns("lowercase_start", b"start", "case-sensitive: 'start' is flag 0x7473, unknown")
    ns("capitalised_start", b"Start", "flag 0x7453")
    ns("star_plus_x", b"STARX", "STAR + another byte: flag 0x5453 in both modes")
    ns("star_plus_nul", b"STAR\x00")
    ns("star_plus_lowercase_t", b"STARt")
    ns("xtart", b"XTART", "flag 0x5458")
    ns("start_plus_nul_6_bytes", b"START\x00", "6 bytes: not a START (exactly 5, no NUL)")
    ns("start_plus_newline_6_bytes", b"START\n")
    ns("space_start_6_bytes", b" START", "flag 0x5320")
    ns("star_4_bytes", b"STAR", "4 bytes")
    ns("start_twice_10_bytes", b"STARTSTART")
    f.datagram("five_bytes_connection_id_flag", Wire([u16(FLAG_CONNECTION_ID), b"ART"]),
               "5 bytes with flag 0x1000: too_short connection_id")
    f.datagram("five_bytes_data_flag", Wire([u16(FLAG_DATA), b"\x01\x00\x00"]),
               "5 bytes with flag 0x0000: too_short data")
    f.datagram("five_bytes_syn_flag", Wire([u16(FLAG_SYN), b"\x00\x00\x00"]),
               "5 bytes with flag 0x0100: too_short syn")
    f.datagram("five_bytes_data_frag_flag", Wire([u16(FLAG_DATA_FRAG), b"\x00\x00\x00"]),
               "5 bytes with flag 0x0001: too_short data_frag")
    return f


# ---------------------------------------------------------------- truncation


def file_truncation():
    f = VectorFile("truncation.json", "Every kind cut at every field boundary",
                   "mediastream.md: Wire facts (lengths), check order; README too_short errors")

    def cuts(prefix, wire, lengths, what):
        for n in lengths:
            assert n <= len(wire)
            f.datagram("%s_cut_to_%d" % (prefix, n), wire.cut(n),
                       "%s cut to %d of %d bytes" % (what, n, len(wire)))

    cuts("start", enc_start(), [0, 1, 2, 3, 4], "START")
    cuts("connection_id", enc_connection_id(UUID_A.encode()), [0, 1, 2, 20, 37, 38, 39],
         "CONNECTION_ID (id at 2, NUL at 38)")
    cuts("data", enc_data(1, QPC0, QPF, pattern(0, 10)),
         [0, 1, 2, 9, 10, 17, 18, 25, 26, 27],
         "DATA (seq at 2, QPC at 10, QPF at 18, payload at 26)")
    cuts("data_frag", enc_data_frag(1, QPC0, QPF, 0, 2000, pattern(0, 10)),
         [1, 2, 10, 18, 25, 26, 33, 34, 41, 42, 43],
         "DATA+FRAG (offset at 26, total at 34, payload at 42)")
    for kind in CONTROL_KINDS:
        rid = b"" if kind == "syn" else UUID_A.encode()
        cuts(kind, enc_control(kind, rid), [1, 2, 10, 18, 25, 26, 27, 28, 29, 30, 66, 67],
             "%s (version at 26, flags 27, reserved 28, id 30..67)" % kind.upper().replace("_", "-"))
    # a control frame with options cut inside the options: TLV errors
    w = enc_control("syn", options=[opt_frame_rate(60), opt_codec(b"H264")])
    cuts("syn_with_options", w, [67, 68, 69, 70, 71, 73, 74, 75, 77, 80, 81],
         "SYN with options (frame rate TLV at 67, codec hint TLV at 74)")
    return f


# ---------------------------------------------------------------- planner


def file_fragment_plans():
    f = VectorFile("fragment_plans.json", "Fragmentation planner with the 27-byte tail rule",
                   "mediastream.md: Frames and fragmentation as coded; README PlanVector "
                   "(max_datagram >= 53 is a project decision)")
    # the facts file's examples, M = 1400
    for fs in (27, 1399, 1400, 1401, 2800, 2801):
        f.plan("f%d_m1400" % fs, fs, 1400)
    f.plan("f123456789_m1400", 123456789, 1400, use_count=True)
    # remainder boundaries with M = 1400
    for fs in (28, 53, 1402, 1425, 1426, 1427, 1428, 2799, 2802, 2826, 2827, 4200, 4201, 4226, 4227):
        f.plan("f%d_m1400" % fs, fs, 1400)
    # other M values
    for fs, m in ((576, 576), (577, 576), (602, 576), (603, 576), (1152, 576), (1153, 576),
                  (1500, 576),
                  (9000, 9000), (9001, 9000), (9026, 9000), (9027, 9000), (20000, 9000),
                  (53, 53), (54, 53), (79, 53), (80, 53), (106, 53), (107, 53), (27, 53),
                  (1401, 65507), (65508, 65507)):
        f.plan("f%d_m%d" % (fs, m), fs, m)
    f.plan("f123456789_m9000", 123456789, 9000, use_count=True)
    f.plan("f1000000_m576", 1000000, 576, use_count=True)
    f.plan("f16777216_m1400", 16 * 1024 * 1024, 1400, use_count=True)
    f.plan("f2801_m1400_as_count", 2801, 1400, use_count=True)
    # errors (README examples and more)
    f.plan("tiny_m", 100, 52)
    f.plan("tiny_f", 26, 1400)
    f.plan("m0", 1000, 0)
    f.plan("m26", 1000, 26)
    f.plan("m27", 1000, 27)
    f.plan("f0", 0, 1400)
    f.plan("f1", 1, 1400)
    f.plan("f26_m53", 26, 53)
    return f


def file_frame_sizes():
    f = VectorFile("frame_sizes.json", "Frame size F = floor((bps / 8) / frame_rate), F >= 40",
                   "mediastream.md: Frames and fragmentation as coded; README FrameSizeVector")
    f.frame_size("1mbps_1000fps", 1_000_000, 1000)
    f.frame_size("1mbps_1000fps_plus_1bps", 1_000_001, 1000)
    f.frame_size("8mbps_60fps", 8_000_000, 60)
    f.frame_size("8mbps_30fps", 8_000_000, 30)
    f.frame_size("100mbps_60fps", 100_000_000, 60)
    f.frame_size("1gbps_1fps", 1_000_000_000, 1)
    f.frame_size("10gbps_120fps", 10_000_000_000, 120)
    f.frame_size("exactly_40", 320, 1)
    f.frame_size("exactly_40_floor", 327, 1)
    f.frame_size("39_too_small", 319, 1)
    f.frame_size("too_small", 100, 1)
    f.frame_size("zero_bps", 0, 30)
    f.frame_size("zero_rate", 100, 0)
    f.frame_size("zero_rate_zero_bps", 0, 0)
    f.frame_size("u64_max_bps_1fps", U64_MAX, 1)
    f.frame_size("u64_max_bps_u32_max_fps", U64_MAX, U32_MAX)
    f.frame_size("rate_above_bytes", 8000, 1000)
    f.frame_size("1mbps_3125fps_40", 1_000_000, 3125)
    f.frame_size("1mbps_3126fps_39", 1_000_000, 3126)
    return f


def file_fill_pattern():
    f = VectorFile("fill_pattern.json", "Payload fill pattern (u16 LE counter, period 65536)",
                   "mediastream.md: Payload fill pattern (-verify:data)")
    f.pattern_bytes("at_0", 0, 16)
    f.pattern_bytes("at_1_odd", 1, 7)
    f.pattern_bytes("at_256", 256, 8)
    f.pattern_bytes("at_510", 510, 4)
    f.pattern_bytes("at_65532_wrap", 65532, 10)
    f.pattern_bytes("at_65534", 65534, 2)
    f.pattern_bytes("at_65534_wrap", 65534, 6)
    f.pattern_bytes("at_65535_wrap", 65535, 3)
    f.pattern_bytes("at_65536_equals_0", 65536, 8)
    f.pattern_bytes("at_131070_second_wrap", 131070, 6)
    f.pattern_bytes("at_1000000", 1_000_000, 8)
    f.pattern_bytes("at_4294967294", 4_294_967_294, 6)
    f.pattern_bytes("empty_at_7", 7, 0)
    # pattern checks
    f.pattern_check("empty_payload", b"")
    f.pattern_check("good_1", pattern(0, 1))
    f.pattern_check("good_64", pattern(0, 64))
    f.pattern_check("good_1374", pattern(0, 1374))
    f.pattern_check("bad_first", b"\x01")
    f.pattern_check("mismatch_at_0", b"\xff" + pattern(1, 31))
    f.pattern_check("bad_5th", bytes.fromhex("00000100ff"))
    p = bytearray(pattern(0, 1374))
    p[1000] ^= 0x01
    f.pattern_check("mismatch_at_1000_of_1374", bytes(p))
    p = bytearray(pattern(0, 1374))
    p[-1] ^= 0x80
    f.pattern_check("mismatch_last_byte_of_1374", bytes(p))
    p = bytearray(pattern(0, 600))
    p[511] = 0x01
    f.pattern_check("mismatch_high_byte_511", bytes(p))
    f.pattern_check("shifted_by_2", pattern(2, 64))
    f.pattern_check("big_endian_counter", b"".join(struct.pack(">H", k) for k in range(16)))
    f.pattern_check("zero_fill", b"\x00" * 16)
    return f


FILES = (file_start, file_connection_id, file_data, file_data_frag, file_syn, file_syn_ack,
         file_ack, file_control_version, file_tlv, file_unknown_flags, file_near_start,
         file_truncation, file_fragment_plans, file_frame_sizes, file_fill_pattern)


def build_all():
    check_anchors()
    files = [make() for make in FILES]
    names = [vf.filename for vf in files]
    assert len(set(names)) == len(names)
    return files


def main():
    return vectorfiles.main(__doc__, "mediastream", build_all)


if __name__ == "__main__":
    sys.exit(main())
