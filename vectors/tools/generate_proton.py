#!/usr/bin/env python3
"""Independent generator of the Proton byte test vectors.

This is a second oracle for the Proton stream layer: it re-implements the wire
facts of ../shared/protocols/proton.md ("Wire facts", profile decisions P1 and
P4) and the harness decisions of notes/proton-spec.md (H2, H3, H4, H7, H8, H9),
using the Python standard library only.  It does not read any other
implementation.

What is modelled (all integers u32 little-endian):

* the first byte of a client-opened stream is its discriminator: 0x01 Event,
  0x02 StateCommit, 0x03 Action, 0xFF Reset (P4); any other byte is an unknown
  discriminator, and the reader stops there (the rest is not read, not even a
  FIN);
* after the discriminator the stream carries u32 values back to back, in
  arbitrary chunks; the reader assembles values across chunk boundaries;
* the end of what was received: "open" (no FIN, nothing pending),
  {"pending": n} (no FIN, n bytes of a value pending), "fin", "early_fin" (FIN
  before any discriminator), {"fin_inside_u32": n} (FIN with n = 1..3 bytes of
  a value pending), or {"error": {"unknown_discriminator": b}};
* StateCommit answers: as_coded = (r + 2) mod 2^32; project (P1) = r + 2 when
  it fits in a u32, else null (the server closes with code 5);
* Event id sequences (H3, both profiles): each id must be >= 1 and greater
  than every id before it on the connection (gaps allowed); the server echoes
  each valid id and closes with code 5 at the first violation, echoing nothing
  from that id on (so after 0xFFFFFFFF every further id is a violation); the
  stream reader itself does not judge ids (streams.json), events.json does;
* application close codes 0..5.

Every stream expectation is computed twice, by an incremental chunk-by-chunk
reader and by a whole-buffer reader, and cross-checked against what each
builder meant to encode; every event-sequence expectation is likewise computed
by two formulations and checked against the hand-stated one.  Every file
carries "$schema": "../schema/proton-vectors.schema.json" (hand-written, not
generated).  Hand-stated anchors are asserted at start-up.
Generation is deterministic: the only pseudo-random numbers come from a fixed
64-bit LCG with a fixed seed.

Usage (from the repository root):

    python3 vectors/tools/generate_proton.py          # (re)write vectors/proton/*.json
    python3 vectors/tools/generate_proton.py --check  # exit 1 if any file on disk differs
"""

import json
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vectorfiles  # noqa: E402  (the shared command line)

# --------------------------------------------------------------------------
# Wire facts
# --------------------------------------------------------------------------

DISC_EVENT = 0x01
DISC_STATE_COMMIT = 0x02
DISC_ACTION = 0x03
DISC_RESET = 0xFF  # P4: only meaningful when the server allows a 4th stream

KIND_BY_DISC = {
    DISC_EVENT: "event",
    DISC_STATE_COMMIT: "state_commit",
    DISC_ACTION: "action",
    DISC_RESET: "reset",
}
DISC_BY_KIND = {kind: disc for disc, kind in KIND_BY_DISC.items()}
KINDS = ("event", "state_commit", "action", "reset")
DATA_KINDS = ("event", "state_commit", "action")  # the three streams of H2

U32_LEN = 4
U32_MAX = 0xFFFF_FFFF
U32_MOD = 1 << 32

# Application close codes (facts: "Application close codes")
CLOSE_CODES = (
    (0, "normal",
     "normal end: the client closes after its work (H11); the reset discriminator 0xFF on a "
     "4th stream when the server allows it (P4, H8, reason 'reset'); the original's "
     "'already connected' close (dead code as coded: a second connection gets the transport "
     "error CONNECTION_REFUSED 0x2 instead)"),
    (1, "stream_setup_error",
     "stream setup error: an unknown discriminator, a discriminator already used on this "
     "connection, 0xFF on one of the first three streams or without the reset option (H2, "
     "H8); a FIN or a reset before the stream's discriminator (P5); project (P3): no "
     "discriminator within disc_ms of the stream being accepted"),
    (2, "stream_accept_error",
     "stream accept error: accepting the next client-opened bidirectional stream failed"),
    (3, "stream_setup_timeout",
     "stream setup timeout: the next stream was not opened within accept_ms of the "
     "connection being accepted (first stream) or of the previous stream's setup (H2)"),
    (4, "stream_operation_timeout",
     "stream operation timeout: a read waited more than op_ms for a whole u32, or a write "
     "could not complete within op_ms (H6)"),
    (5, "stream_error",
     "stream error or protocol violation: after the stream's setup, a FIN at a u32 boundary "
     "or inside a u32 (P5); a RESET_STREAM or STOP_SENDING from the client after setup "
     "(H7); an Event id of 0 or not strictly increasing (H3); project (P1): a "
     "StateCommit request >= 0xFFFFFFFE whose answer would overflow (H4)"),
)


def u32(v):
    assert 0 <= v <= U32_MAX, v
    return struct.pack("<I", v)


def rd_u32(b, o=0):
    return struct.unpack_from("<I", b, o)[0]


def disc_byte(kind):
    return bytes([DISC_BY_KIND[kind]])


def classify(b):
    """Expectation for one discriminator byte."""
    assert 0 <= b <= 0xFF
    kind = KIND_BY_DISC.get(b)
    if kind is None:
        return {"error": {"unknown_discriminator": b}}
    return {"kind": kind}


# --------------------------------------------------------------------------
# Readers.  Two independent formulations of the same rules; they must agree.
# --------------------------------------------------------------------------


class IncrementalReader:
    """Reads a stream chunk by chunk, as a server would."""

    def __init__(self):
        self.kind = None
        self.pending = bytearray()
        self.messages = []
        self.error = None

    def feed(self, chunk):
        for b in chunk:
            if self.error is not None:
                return  # stopped at an unknown discriminator: the rest is not read
            if self.kind is None:
                kind = KIND_BY_DISC.get(b)
                if kind is None:
                    self.error = b
                    return
                self.kind = kind
                self.messages.append({"discriminator": kind})
                continue
            self.pending.append(b)
            if len(self.pending) == U32_LEN:
                self.messages.append({"u32": rd_u32(bytes(self.pending))})
                self.pending.clear()

    def finish(self, fin):
        if self.error is not None:
            end = {"error": {"unknown_discriminator": self.error}}
        elif fin:
            if self.kind is None:
                end = "early_fin"
            elif self.pending:
                end = {"fin_inside_u32": len(self.pending)}
            else:
                end = "fin"
        else:
            end = {"pending": len(self.pending)} if self.pending else "open"
        return {"messages": self.messages, "end": end}


def read_incremental(chunks, fin):
    r = IncrementalReader()
    for c in chunks:
        r.feed(c)
    return r.finish(fin)


def read_whole(chunks, fin):
    """The same rules on the concatenated bytes (chunking must not matter)."""
    data = b"".join(chunks)
    if not data:
        return {"messages": [], "end": "early_fin" if fin else "open"}
    first = data[0]
    if first not in KIND_BY_DISC:
        return {"messages": [], "end": {"error": {"unknown_discriminator": first}}}
    body = data[1:]
    whole = len(body) // U32_LEN
    rest = len(body) % U32_LEN
    messages = [{"discriminator": KIND_BY_DISC[first]}]
    messages += [{"u32": v} for (v,) in struct.iter_unpack("<I", body[:whole * U32_LEN])]
    if fin:
        end = {"fin_inside_u32": rest} if rest else "fin"
    else:
        end = {"pending": rest} if rest else "open"
    return {"messages": messages, "end": end}


def read_stream(chunks, fin):
    a = read_incremental(chunks, fin)
    b = read_whole(chunks, fin)
    assert a == b, (chunks, fin, a, b)
    return a


# --------------------------------------------------------------------------
# StateCommit answers (H4)
# --------------------------------------------------------------------------


def commit_as_coded(r):
    assert 0 <= r <= U32_MAX
    return (r + 2) % U32_MOD


def commit_project(r):
    """P1: checked r + 2; None when it does not fit (the server closes with code 5)."""
    assert 0 <= r <= U32_MAX
    s = r + 2
    return s if s <= U32_MAX else None


# --------------------------------------------------------------------------
# Event id sequences (H3).  Two formulations; they must agree.
# --------------------------------------------------------------------------

EVENT_VIOLATION_CLOSE = 5  # H3: close code 5, both profiles


def events_server(ids):
    """A server loop: keep the last accepted id, echo or close."""
    last = 0  # ids must be >= 1, i.e. greater than 0 before the first one
    echoed = []
    for i, v in enumerate(ids):
        assert 0 <= v <= U32_MAX, v
        if v <= last:
            return {"echoed": echoed, "close": EVENT_VIOLATION_CLOSE, "violation_index": i}
        echoed.append(v)
        last = v
    return {"echoed": echoed, "close": None, "violation_index": None}


def events_rule(ids):
    """The rule stated on the whole list: the first k with ids[k] < 1 or ids[k] <= max(ids[:k])."""
    bad = [k for k in range(len(ids))
           if ids[k] < 1 or any(ids[k] <= ids[j] for j in range(k))]
    if not bad:
        return {"echoed": list(ids), "close": None, "violation_index": None}
    k = bad[0]
    return {"echoed": list(ids[:k]), "close": EVENT_VIOLATION_CLOSE, "violation_index": k}


def events_expect(ids):
    a = events_server(ids)
    b = events_rule(ids) if len(ids) <= 1200 else None
    assert b is None or a == b, (ids, a, b)
    # the ids travel as an Event stream; the reader hands them over unchanged
    got = read_stream([stream_bytes("event", ids)], False)
    assert got == intent("event", ids, "open"), ids
    return a


# --------------------------------------------------------------------------
# Deterministic pseudo-random numbers (fixed 64-bit LCG, Knuth's MMIX constants)
# --------------------------------------------------------------------------


class Lcg:
    def __init__(self, seed):
        self.state = seed & 0xFFFF_FFFF_FFFF_FFFF

    def next32(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & 0xFFFF_FFFF_FFFF_FFFF
        return self.state >> 32

    def below(self, n):
        return self.next32() % n


# --------------------------------------------------------------------------
# Chunking helpers
# --------------------------------------------------------------------------


def split_sizes(data, sizes):
    """Split data into chunks of the given sizes (they must add up to len(data))."""
    assert sum(sizes) == len(data), (sizes, len(data))
    out, o = [], 0
    for n in sizes:
        out.append(data[o:o + n])
        o += n
    return out


def split_irregular(data, rng, max_size, empty_every=0):
    """Irregular chunks of 1..max_size bytes; every `empty_every`-th chunk (if set) is empty."""
    out, o, k = [], 0, 0
    while o < len(data):
        k += 1
        if empty_every and k % empty_every == 0:
            out.append(b"")
            continue
        n = 1 + rng.below(max_size)
        out.append(data[o:o + n])
        o += n
    return out


def stream_bytes(kind, values, tail=b""):
    return disc_byte(kind) + b"".join(u32(v) for v in values) + tail


def intent(kind, values, end):
    return {"messages": [{"discriminator": kind}] + [{"u32": v} for v in values], "end": end}


# --------------------------------------------------------------------------
# Anchors (hand-stated, from the brief, the facts and the decisions)
# --------------------------------------------------------------------------


def check_anchors():
    # byte order
    assert u32(7).hex() == "07000000"
    assert u32(0x04030201).hex() == "01020304"
    assert u32(U32_MAX).hex() == "ffffffff"
    # the brief's example stream
    assert read_stream([bytes.fromhex("01"), bytes.fromhex("0700"), bytes.fromhex("0000")], True) == {
        "messages": [{"discriminator": "event"}, {"u32": 7}], "end": "fin"}
    # discriminators
    assert classify(1) == {"kind": "event"}
    assert classify(2) == {"kind": "state_commit"}
    assert classify(3) == {"kind": "action"}
    assert classify(0xFF) == {"kind": "reset"}
    assert classify(4) == {"error": {"unknown_discriminator": 4}}
    assert classify(0) == {"error": {"unknown_discriminator": 0}}
    # ends
    assert read_stream([], True)["end"] == "early_fin"
    assert read_stream([b"\x01"], True)["end"] == "fin"
    assert read_stream([b"\x01\x07"], True)["end"] == {"fin_inside_u32": 1}
    assert read_stream([b"\x01\x07\x00\x00"], False)["end"] == {"pending": 3}
    assert read_stream([b"\x04\x01"], True) == {
        "messages": [], "end": {"error": {"unknown_discriminator": 4}}}
    # StateCommit (H4 examples)
    assert commit_as_coded(0xFFFF_FFFE) == 0
    assert commit_as_coded(0xFFFF_FFFF) == 1
    assert commit_project(0xFFFF_FFFD) == 0xFFFF_FFFF
    assert commit_project(0xFFFF_FFFE) is None
    assert commit_project(0xFFFF_FFFF) is None
    assert commit_as_coded(5) == commit_project(5) == 7
    assert commit_as_coded(3) != 3 * 2  # +2, not the README's x2
    # Event ids (H3)
    ok = lambda ids: {"echoed": ids, "close": None, "violation_index": None}
    assert events_expect([1]) == ok([1])
    assert events_expect([1, 3, 10]) == ok([1, 3, 10])
    assert events_expect([0]) == {"echoed": [], "close": 5, "violation_index": 0}
    assert events_expect([1, 2, 2]) == {"echoed": [1, 2], "close": 5, "violation_index": 2}
    assert events_expect([5, 4, 6]) == {"echoed": [5], "close": 5, "violation_index": 1}
    assert events_expect([U32_MAX, 1]) == {"echoed": [U32_MAX], "close": 5, "violation_index": 1}
    # close codes
    assert [c for c, _, _ in CLOSE_CODES] == [0, 1, 2, 3, 4, 5]


# --------------------------------------------------------------------------
# Vector files
# --------------------------------------------------------------------------

SECTIONS = ("discriminators", "values", "streams", "commits", "events", "close_codes")
SCHEMA_REF = "../schema/proton-vectors.schema.json"
NAME_RE = re.compile(r"^[a-z0-9_]+$")


class VectorFile:
    def __init__(self, filename, title, source):
        self.filename = filename
        self.title = title
        self.source = source
        self.sections = {}
        self.names = set()

    def _add(self, section, obj, name_key="name"):
        name = obj[name_key]
        assert name not in self.names, (self.filename, name)
        assert NAME_RE.match(name), name
        self.names.add(name)
        self.sections.setdefault(section, []).append(obj)

    def discriminator(self, name, b):
        expect = classify(b)
        # the reader agrees: one byte, no FIN
        got = read_stream([bytes([b])], False)
        if "kind" in expect:
            assert got == {"messages": [{"discriminator": expect["kind"]}], "end": "open"}
        else:
            assert got == {"messages": [], "end": expect}
        self._add("discriminators", {"name": name, "hex": "%02x" % b, "expect": expect})

    def value(self, name, v):
        raw = u32(v)
        assert rd_u32(raw) == v
        self._add("values", {"name": name, "value": v, "hex": raw.hex()})

    def stream(self, name, chunks, fin, meant=None):
        chunks = [bytes(c) for c in chunks]
        expect = read_stream(chunks, fin)
        if meant is not None:
            assert expect == meant, (self.filename, name, expect, meant)
        self._add("streams", {"name": name, "chunks": [c.hex() for c in chunks], "fin": fin,
                              "expect": expect})

    def commit(self, name, r):
        self._add("commits", {"name": name, "request": r, "as_coded": commit_as_coded(r),
                              "project": commit_project(r)})

    def events(self, name, ids, meant):
        ids = list(ids)
        expect = events_expect(ids)
        assert expect == meant, (self.filename, name, expect, meant)
        self._add("events", {"name": name, "ids": ids, "expect": expect})

    def close_code(self, code, name, meaning):
        assert NAME_RE.match(name)
        assert all(c["code"] != code for c in self.sections.get("close_codes", []))
        self._add("close_codes", {"code": code, "name": name, "meaning": meaning})

    def render(self):
        doc = {"$schema": SCHEMA_REF, "protocol": "proton", "title": self.title,
               "source": self.source}
        for section in SECTIONS:
            if section in self.sections:
                doc[section] = self.sections[section]
        assert len(doc) == 5  # exactly one section per file
        return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"

    def count(self):
        return sum(len(v) for v in self.sections.values())


# ---------------------------------------------------------------- discriminators


def file_discriminators():
    f = VectorFile("discriminators.json",
                   "Stream discriminator byte (first byte of a client-opened stream), every value",
                   "proton.md: Wire facts (discriminators 1, 2, 3; any other byte a violation); "
                   "P4 and proton-spec.md H8 (0xFF reset, only when the server allows a 4th "
                   "stream); H2 (unknown discriminator: close code 1)")
    for b in range(256):
        expect = classify(b)
        suffix = expect["kind"] if "kind" in expect else "unknown"
        f.discriminator("byte_%02x_%s" % (b, suffix), b)
    assert len(f.sections["discriminators"]) == 256
    return f


# ---------------------------------------------------------------- values


def file_values():
    f = VectorFile("values.json", "u32 little-endian encoding of stream values",
                   "proton.md: Wire facts (all u32 little-endian)")
    for name, v in (
            ("zero", 0),
            ("one", 1),
            ("two", 2),
            ("seven", 7),
            ("forty_two_repl_action", 42),
            ("u8_max_255", 255),
            ("256_second_byte", 256),
            ("257", 257),
            ("u16_max_65535", 65535),
            ("65536_third_byte", 65536),
            ("16777215_u24_max", 0x00FF_FFFF),
            ("16777216_fourth_byte", 0x0100_0000),
            ("i32_max_2147483647", 0x7FFF_FFFF),
            ("2_pow_31", 0x8000_0000),
            ("u32_max_minus_2", 0xFFFF_FFFD),
            ("u32_max_minus_1", 0xFFFF_FFFE),
            ("u32_max", 0xFFFF_FFFF),
            ("distinct_01020304_le", 0x0403_0201),
            ("distinct_04030201_le", 0x0102_0304),
            ("distinct_12345678", 0x1234_5678),
            ("distinct_89abcdef", 0x89AB_CDEF),
            ("distinct_deadbeef", 0xDEAD_BEEF),
            ("distinct_a1b2c3d4", 0xA1B2_C3D4),
            ("byte_order_trap_0x00ff00ff", 0x00FF_00FF),
            ("byte_order_trap_0xff000000", 0xFF00_0000),
            ("one_million", 1_000_000),
            ("one_billion", 1_000_000_000),
            ("alternating_0x55555555", 0x5555_5555),
            ("alternating_0xaaaaaaaa", 0xAAAA_AAAA),
            ("byte_equal_to_discriminators_0x03020102", 0x0302_0102),
    ):
        f.value(name, v)
    for obj in f.sections["values"]:
        if obj["name"].startswith("distinct_"):
            raw = bytes.fromhex(obj["hex"])
            assert len(set(raw)) == 4 and raw != raw[::-1], obj
    return f


# ---------------------------------------------------------------- streams


def file_streams():
    f = VectorFile("streams.json",
                   "Client stream bytes in arbitrary chunks: discriminator, u32 values, FIN",
                   "proton.md: Wire facts (discriminator then u32 LE values); proton-spec.md H2 "
                   "(discriminator), H7 (early FIN, FIN at a boundary, FIN inside a u32), H8 (0xFF)")
    ev, sc, ac, rs = (disc_byte(k) for k in KINDS)

    # the brief's example
    f.stream("event_7_chunks_1_2_2", [ev, bytes.fromhex("0700"), bytes.fromhex("0000")], True,
             intent("event", [7], "fin"))

    # every kind: the discriminator alone, without and with FIN
    for kind in KINDS:
        f.stream("%s_discriminator_only_open" % kind, [disc_byte(kind)], False,
                 intent(kind, [], "open"))
        f.stream("%s_fin_right_after_discriminator" % kind, [disc_byte(kind)], True,
                 intent(kind, [], "fin"))
    # the discriminator and the FIN in separate deliveries (FIN with an empty last chunk)
    f.stream("event_fin_with_empty_chunk_after_discriminator", [ev, b""], True,
             intent("event", [], "fin"))

    # one value per data kind, in one chunk with the discriminator
    f.stream("event_id_1_one_chunk", [ev + u32(1)], True, intent("event", [1], "fin"))
    f.stream("state_commit_request_5_one_chunk", [sc + u32(5)], True,
             intent("state_commit", [5], "fin"))
    f.stream("action_42_one_chunk", [ac + u32(42)], True, intent("action", [42], "fin"))
    f.stream("action_42_one_chunk_open", [ac + u32(42)], False, intent("action", [42], "open"))

    # every chunking of the 5 bytes: discriminator + one value with distinct bytes
    v = 0x4433_2211
    data = ev + u32(v)
    for mask in range(1 << 4):
        cuts = [i for i in range(1, 5) if mask & (1 << (i - 1))]
        edges = [0] + cuts + [5]
        sizes = [edges[i + 1] - edges[i] for i in range(len(edges) - 1)]
        f.stream("event_value_chunks_%s" % "_".join(str(s) for s in sizes),
                 split_sizes(data, sizes), True, intent("event", [v], "fin"))

    # a value split 1+3, 2+2, 3+1, 1+1+1+1 after a first whole value (boundary not at the start)
    vals = [0x0403_0201, 0x0807_0605]
    data = sc + u32(vals[0]) + u32(vals[1])
    for sizes in ((5, 1, 3), (5, 2, 2), (5, 3, 1), (5, 1, 1, 1, 1)):
        f.stream("state_commit_second_value_split_%s" % "_".join(str(s) for s in sizes[1:]),
                 split_sizes(data, list(sizes)), True, intent("state_commit", vals, "fin"))
    # chunks that straddle value boundaries
    for sizes in ((3, 3, 3), (2, 4, 3), (1, 8), (4, 4, 1), (6, 3), (2, 7), (1, 2, 2, 2, 2)):
        f.stream("state_commit_two_values_chunks_%s" % "_".join(str(s) for s in sizes),
                 split_sizes(data, list(sizes)), True, intent("state_commit", vals, "fin"))

    # many values in one chunk
    vals = list(range(1, 17))
    f.stream("event_16_ids_one_chunk", [stream_bytes("event", vals)], True,
             intent("event", vals, "fin"))
    vals = [42] * 10
    f.stream("action_10_values_after_discriminator_chunk", [ac, stream_bytes("action", vals)[1:]],
             False, intent("action", vals, "open"))
    vals = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFD, 0xFFFF_FFFE, 0xFFFF_FFFF]
    f.stream("state_commit_edge_requests_one_chunk", [stream_bytes("state_commit", vals)], True,
             intent("state_commit", vals, "fin"))
    vals = [0, 0xFFFF_FFFF, 5, 3]
    f.stream("event_ids_not_judged_by_reader", [stream_bytes("event", vals)], True,
             intent("event", vals, "fin"))

    # empty chunks
    f.stream("event_empty_chunks_interleaved",
             [b"", ev, b"", b"", bytes.fromhex("2a00"), b"", bytes.fromhex("0000"), b""], True,
             intent("event", [42], "fin"))
    f.stream("empty_chunks_then_discriminator", [b"", b"", b"", ac], False,
             intent("action", [], "open"))
    f.stream("empty_chunks_only_open", [b"", b""], False, {"messages": [], "end": "open"})
    f.stream("no_chunks_open", [], False, {"messages": [], "end": "open"})

    # early FIN (no discriminator)
    f.stream("early_fin_no_chunks", [], True, {"messages": [], "end": "early_fin"})
    f.stream("early_fin_one_empty_chunk", [b""], True, {"messages": [], "end": "early_fin"})
    f.stream("early_fin_three_empty_chunks", [b"", b"", b""], True,
             {"messages": [], "end": "early_fin"})

    # FIN inside a u32 (1, 2, 3 bytes pending)
    f.stream("event_fin_inside_u32_1", [ev, bytes.fromhex("07")], True,
             intent("event", [], {"fin_inside_u32": 1}))
    f.stream("state_commit_fin_inside_u32_2", [sc + bytes.fromhex("0500")], True,
             intent("state_commit", [], {"fin_inside_u32": 2}))
    f.stream("action_fin_inside_u32_3", [ac, bytes.fromhex("2a"), bytes.fromhex("0000")], True,
             intent("action", [], {"fin_inside_u32": 3}))
    f.stream("event_fin_inside_second_u32_1", [ev + u32(1) + bytes.fromhex("02")], True,
             intent("event", [1], {"fin_inside_u32": 1}))
    f.stream("state_commit_fin_inside_second_u32_2",
             [sc, u32(9)[:3], u32(9)[3:] + bytes.fromhex("0a00")], True,
             intent("state_commit", [9], {"fin_inside_u32": 2}))
    f.stream("action_fin_inside_third_u32_3",
             [ac + u32(42) + u32(42) + bytes.fromhex("2a0000"), b""], True,
             intent("action", [42, 42], {"fin_inside_u32": 3}))

    # no FIN, bytes of a value pending
    f.stream("event_pending_1", [ev + bytes.fromhex("01")], False,
             intent("event", [], {"pending": 1}))
    f.stream("state_commit_pending_2", [sc, bytes.fromhex("ff"), bytes.fromhex("ff")], False,
             intent("state_commit", [], {"pending": 2}))
    f.stream("action_pending_3_after_value", [ac + u32(42) + bytes.fromhex("2a0000")], False,
             intent("action", [42], {"pending": 3}))
    f.stream("event_second_byte_01_is_not_a_discriminator", [bytes.fromhex("0101")], False,
             intent("event", [], {"pending": 1}))
    f.stream("state_commit_discriminator_bytes_as_value",
             [sc, bytes.fromhex("02"), bytes.fromhex("01"), bytes.fromhex("02"),
              bytes.fromhex("03")], False,
             intent("state_commit", [0x0302_0102], "open"))

    # unknown discriminators: the reader stops; nothing after it is read (not even the FIN)
    f.stream("unknown_00_alone_open", [bytes.fromhex("00")], False,
             {"messages": [], "end": {"error": {"unknown_discriminator": 0}}})
    f.stream("unknown_00_then_value_and_fin", [bytes.fromhex("00"), u32(1)], True,
             {"messages": [], "end": {"error": {"unknown_discriminator": 0}}})
    f.stream("unknown_04_then_value_same_chunk", [bytes.fromhex("04") + u32(7)], True,
             {"messages": [], "end": {"error": {"unknown_discriminator": 4}}})
    f.stream("unknown_10_then_event_discriminator", [bytes.fromhex("1001") + u32(1)], False,
             {"messages": [], "end": {"error": {"unknown_discriminator": 0x10}}})
    f.stream("unknown_fe_after_empty_chunks", [b"", b"", bytes.fromhex("fe"), bytes.fromhex("01")],
             True, {"messages": [], "end": {"error": {"unknown_discriminator": 0xFE}}})
    f.stream("unknown_80_then_partial_value", [bytes.fromhex("80aabb")], True,
             {"messages": [], "end": {"error": {"unknown_discriminator": 0x80}}})
    f.stream("unknown_ascii_g_get", [b"GET / HTTP/1.1\r\n"], False,
             {"messages": [], "end": {"error": {"unknown_discriminator": 0x47}}})
    f.stream("unknown_04_then_many_chunks",
             [bytes.fromhex("04"), b"", u32(1), u32(2), bytes.fromhex("0300")], True,
             {"messages": [], "end": {"error": {"unknown_discriminator": 4}}})

    # long streams (deterministic irregular chunks)
    rng = Lcg(0x5052_4F54_4F4E_0001)  # "PROTON" + 1
    ids, cur = [], 0
    for _ in range(1000):
        cur += 1 + rng.below(5)  # strictly increasing, gaps allowed (H3)
        ids.append(cur)
    assert ids[0] >= 1 and all(a < b for a, b in zip(ids, ids[1:]))
    data = stream_bytes("event", ids)
    f.stream("long_event_1000_ids_irregular_chunks",
             split_irregular(data, rng, 13, empty_every=17), True, intent("event", ids, "fin"))

    reqs = [rng.next32() for _ in range(300)]
    data = stream_bytes("state_commit", reqs, tail=u32(0xDEAD_BEEF)[:3])
    f.stream("long_state_commit_300_requests_fin_inside_u32_3",
             split_irregular(data, rng, 9), True,
             intent("state_commit", reqs, {"fin_inside_u32": 3}))

    vals = [42] * 200
    data = stream_bytes("action", vals, tail=bytes.fromhex("2a"))
    f.stream("long_action_200_values_one_byte_chunks", split_sizes(data, [1] * len(data)), False,
             intent("action", vals, {"pending": 1}))

    vals = list(range(500))
    data = stream_bytes("event", vals)
    f.stream("long_event_500_values_chunks_of_4_offset_by_discriminator",
             split_sizes(data, [4] * (len(data) // 4) + [len(data) % 4]), True,
             intent("event", vals, "fin"))
    return f


# ---------------------------------------------------------------- commits


def file_commits():
    f = VectorFile("commits.json",
                   "StateCommit answers: as_coded (r + 2) mod 2^32, project (P1) checked r + 2",
                   "proton.md: Wire facts (StateCommit r + 2 as coded, overflow for r >= "
                   "0xFFFFFFFE), P1; proton-spec.md H4 (project: null = the server closes with "
                   "code 5)")
    for name, r in (
            ("zero", 0),
            ("one_first_client_request", 1),
            ("two", 2),
            ("three", 3),
            ("five", 5),
            ("forty_two", 42),
            ("u8_max_minus_1", 254),
            ("u8_max", 255),
            ("u16_max_minus_2", 65533),
            ("u16_max_minus_1", 65534),
            ("u16_max", 65535),
            ("distinct_0x12345678", 0x1234_5678),
            ("i32_max_minus_2", 0x7FFF_FFFD),
            ("i32_max_minus_1", 0x7FFF_FFFE),
            ("i32_max", 0x7FFF_FFFF),
            ("2_pow_31", 0x8000_0000),
            ("u32_max_minus_4", 0xFFFF_FFFB),
            ("u32_max_minus_3", 0xFFFF_FFFC),
            ("u32_max_minus_2_last_that_fits", 0xFFFF_FFFD),
            ("u32_max_minus_1_overflows", 0xFFFF_FFFE),
            ("u32_max_overflows", 0xFFFF_FFFF),
    ):
        f.commit(name, r)
    return f


# ---------------------------------------------------------------- events


def ok_events(ids):
    return {"echoed": list(ids), "close": None, "violation_index": None}


def bad_events(ids, k):
    """Violation at index k: ids[:k] echoed, then close code 5."""
    return {"echoed": list(ids[:k]), "close": EVENT_VIOLATION_CLOSE, "violation_index": k}


def file_events():
    f = VectorFile("events.json",
                   "Event id sequences on the Event stream: echoes, and close code 5 at the "
                   "first id that is 0 or not strictly increasing",
                   "proton.md: Wire facts (Event: ids strictly increase per connection, the "
                   "first >= 1, gaps allowed as coded); proton-spec.md H3 (violation: close "
                   "code 5, both profiles), H11 (client ids 1, 2, ...)")
    M = U32_MAX

    def case(name, ids, k=None):
        f.events(name, ids, ok_events(ids) if k is None else bad_events(ids, k))

    # nothing sent, a single id
    case("no_ids", [])
    case("single_id_1", [1])
    case("single_id_0_violation", [0], 0)
    case("single_id_large_first_1000000", [1_000_000])
    case("single_id_2_pow_31_signed_trap", [0x8000_0000])
    # the first id
    case("first_1_then_2_3_client_order", [1, 2, 3])
    case("first_0_then_valid_ids_not_echoed", [0, 1, 2, 3], 0)
    case("first_2_gap_from_zero_allowed", [2, 3])
    # equal ids
    case("equal_1_1", [1, 1], 1)
    case("equal_after_run_1_2_3_3", [1, 2, 3, 3], 3)
    case("equal_u32_max_twice", [M, M], 1)
    # decreasing ids
    case("decreasing_5_4", [5, 4], 1)
    case("decreasing_after_run_then_valid_not_echoed", [1, 2, 3, 10, 9, 11], 4)
    case("decrease_back_to_0", [1, 0], 1)
    case("decrease_below_earlier_not_just_previous", [1, 5, 6, 4], 3)
    case("violation_then_valid_ids_not_echoed", [1, 2, 2, 3, 4], 2)
    # gaps (allowed as coded)
    case("gaps_1_3_7_100_1000", [1, 3, 7, 100, 1000])
    case("gaps_huge_1_2_pow_31_u32_max_minus_1", [1, 0x8000_0000, M - 1])
    case("signed_trap_i32_max_then_2_pow_31", [0x7FFF_FFFF, 0x8000_0000])
    # byte-order traps: compared as u32 LE, not as big-endian
    case("byte_order_trap_256_then_2_decreasing", [256, 2], 1)
    case("byte_order_trap_2_then_256_increasing", [2, 256])
    # u32 max
    case("u32_max_first", [M])
    case("u32_max_after_run", [1, 2, M])
    case("u32_max_minus_1_then_u32_max", [M - 1, M])
    case("u32_max_then_0", [M, 0], 1)
    case("u32_max_then_1", [M, 1], 1)
    case("u32_max_then_u32_max_minus_1", [M - 1, M, M - 1], 2)
    case("u32_max_in_middle_then_anything", [1, M, 2, 3], 2)
    # long runs
    case("long_run_1_to_1000_client_order", list(range(1, 1001)))
    rng = Lcg(0x5052_4F54_4F4E_0003)  # "PROTON" + 3
    ids, cur = [], 0
    for _ in range(500):
        cur += 1 + rng.below(1000)
        ids.append(cur)
    case("long_run_500_random_gaps", ids)
    case("long_run_200_then_repeat_last", list(range(1, 201)) + [200, 201], 200)
    assert len(f.sections["events"]) == 31
    return f


# ---------------------------------------------------------------- close codes


def file_close_codes():
    f = VectorFile("close_codes.json", "Application close codes",
                   "proton.md: Wire facts (application close codes); proton-spec.md H2-H9, P1, "
                   "P3, P4, P5")
    for code, name, meaning in CLOSE_CODES:
        f.close_code(code, name, meaning)
    return f


FILES = (file_discriminators, file_values, file_streams, file_commits, file_events,
         file_close_codes)


def build_all():
    check_anchors()
    files = [make() for make in FILES]
    names = [vf.filename for vf in files]
    assert len(set(names)) == len(names)
    return files


def main():
    return vectorfiles.main(__doc__, "proton", build_all)


if __name__ == "__main__":
    sys.exit(main())
