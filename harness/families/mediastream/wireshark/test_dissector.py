#!/usr/bin/env python3
"""Checks that mediastream.lua decodes exactly like `harness decode --json`.

Run from the repository root:

    python3 harness/families/mediastream/wireshark/test_dissector.py [--harness target/release/harness]

For every capture in pcaps/mediastream/, plus a capture of hand-made datagrams (every kind, every
malformation, escapes, TLV options), it runs

    tshark -r FILE -X lua_script:harness/families/mediastream/wireshark/mediastream.lua -T json
    harness decode FILE --json          (and the text form, for the malformed messages)

and compares, packet by packet, every field the harness prints: packet number, time, src, dst, len, the
datagram's kind and all its fields (options entry by entry), payload_is_pattern, and for malformed
datagrams the whole "error" object, Wireshark's PI_MALFORMED/PI_ERROR expert info and its message
(= the harness's text). The same is done with `-o mediastream.mode:3way` / `--mode 3way`, and for the
heuristic: every capture rewritten so that no packet uses port 4444 must still be dissected the same, a
table of single datagrams checks what the heuristic claims on its own, and unrelated UDP must stay unclaimed.

Exit 0 and "N captures, M datagrams, K fields compared: all equal", or exit 1 with the first differences.
Standard library only. Without tshark: "SKIPPED: tshark not installed", exit 0.
"""

import argparse
import glob
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

DEFAULT_LUA = "harness/families/mediastream/wireshark/mediastream.lua"
LUA = DEFAULT_LUA
CAPTURES = "pcaps/mediastream"
PORT = 4444
HEURISTIC_PORT = 34444  # no Wireshark dissector is registered on it (checked at run time)
MAX_SHOWN = 20

# Datagram members as `harness decode --json` names them; the dissector uses mediastream.<name>.
DATAGRAM_FIELDS = ["kind", "flags", "accept", "connection_id", "options", "seq", "qpc", "qpf",
                   "fragment_offset", "total_length", "payload_len"]
INT_FIELDS = {"flags", "seq", "qpc", "qpf", "fragment_offset", "total_length", "payload_len"}
BOOL_FIELDS = {"accept", "payload_is_pattern"}
# Error kinds whose JSON object always carries "kind" (null when no flag could be read).
ERRORS_WITH_KIND = {"too_short", "bad_version", "tlv_overrun", "tlv_bad_length"}
PI_MALFORMED, PI_ERROR = 0x07000000, 0x00800000


class Failure(Exception):
    pass


# --- running the tools -------------------------------------------------------------------------------------

def run(cmd, ok=(0,), env=None):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if proc.returncode not in ok:
        raise Failure("command failed (exit %d): %s\n%s" % (proc.returncode, " ".join(cmd),
                                                           proc.stderr.decode(errors="replace")[-2000:]))
    return proc.stdout.decode(), proc.stderr.decode(errors="replace")


def tshark_env(home):
    """A clean environment: no personal preferences, Decode-As entries or installed plugins (a copy of
    mediastream.lua in ~/.local/lib/wireshark/plugins would clash with the one under test)."""
    env = dict(os.environ)
    env["HOME"] = home
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env.pop("WIRESHARK_CONFIG_DIR", None)
    return env


def harness_decode(harness, path, mode=None):
    """{packet: record} from --json, and {packet: message} of malformed datagrams from the text form."""
    extra = ["--mode", mode] if mode else []
    out, _ = run([harness, "decode", path, "--json"] + extra, ok=(0, 1))
    records = {}
    for line in out.splitlines():
        if line.strip():
            rec = json.loads(line)
            rec.pop("source", None)
            records[rec["packet"]] = rec
    text, _ = run([harness, "decode", path] + extra, ok=(0, 1))
    messages = {}
    for line in text.splitlines():
        if line.startswith("#") and " MALFORMED: " in line:
            messages[int(line[1:].split(" ", 1)[0])] = line.split(" MALFORMED: ", 1)[1]
    return records, messages


def tshark_decode(path, env, options=(), extra=()):
    cmd = ["tshark", "-n"] + list(extra) + ["-r", path, "-X", "lua_script:" + LUA, "-T", "json"]
    for o in options:
        cmd += ["-o", o]
    out, err = run(cmd, env=env)
    lua_errors = [l for l in err.splitlines() if "lua" in l.lower() or "error" in l.lower()]
    if lua_errors:
        raise Failure("tshark reported errors loading or running %s:\n%s" % (LUA, "\n".join(lua_errors)))
    # Keep duplicate keys and order: every object becomes a list of (key, value) pairs.
    packets = json.loads(out or "[]", object_pairs_hook=lambda pairs: pairs)
    for packet in packets:  # a Lua run-time error shows up in the tree, not on stderr
        for k, v in walk(packet):
            if k.startswith("Lua Error") or (isinstance(v, str) and v.startswith("Lua Error")):
                raise Failure("%s: %s" % (path, k if k.startswith("Lua Error") else v))
    return packets


# --- reading tshark's JSON -----------------------------------------------------------------------------------

def get(pairs, key):
    return [v for k, v in pairs if k == key]


def walk(pairs):
    """Every (key, value) in a tree, depth first."""
    for k, v in pairs:
        yield k, v
        if isinstance(v, list):
            yield from walk(v)


def to_int(v):
    return int(v, 0)


def to_bool(v):
    if v not in ("0", "1"):
        raise ValueError("not a boolean: %r" % v)
    return v == "1"


def epoch_ns(text):
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def option_record(pairs):
    """One TLV option subtree -> {"type", "name", "value"} as the harness prints it."""
    rec = {}
    for key in ("type", "name"):
        vals = get(pairs, "mediastream.options." + key)
        if len(vals) == 1:
            rec[key] = to_int(vals[0]) if key == "type" else vals[0]
    values = [(k, v) for k, v in pairs if k.startswith("mediastream.options.")
              and k.rsplit(".", 1)[1] not in ("type", "name", "length")]
    if len(values) == 1:
        k, v = values[0]
        name = k.rsplit(".", 1)[1]
        if name in ("frame_rate", "bits_per_second", "buffer_depth_ms", "max_datagram_bytes"):
            rec["value"] = to_int(v)
        elif name == "unknown":
            rec["value"] = v.replace(":", "")
        else:
            rec["value"] = v
    elif values:
        rec["value"] = "<%d value fields: %s>" % (len(values), values)
    elif get(pairs, "mediastream.options.length") == ["0"] and rec.get("name") in ("unknown", "codec_hint"):
        rec["value"] = ""  # tshark's JSON leaves out an empty byte string; the length field says it is empty
    return rec


def subtree(pairs, key):
    """Children of the first `key` item: FT_NONE items hold them as their value, others in `key_tree`."""
    for k, v in walk(pairs):
        if (k == key and isinstance(v, list)) or k == key + "_tree":
            return v
    return []


def options_list(ms_tree):
    out = []
    for k, v in subtree(ms_tree, "mediastream.options"):
        if k in ("mediastream.options.option", "mediastream.options.option_tree") and isinstance(v, list):
            out.append(option_record(v))
    return out


def error_record(ms_tree, name):
    rec = {"error": name}
    for k, v in subtree(ms_tree, "mediastream.error"):
        if k.startswith("mediastream.error."):
            member = k[len("mediastream.error."):]
            rec[member] = v if member == "kind" else to_int(v)
    if name in ERRORS_WITH_KIND:
        rec.setdefault("kind", None)
    return rec


def expert_infos(ms_tree):
    out = []
    for k, v in walk(ms_tree):
        if k == "_ws.expert":
            keys = dict(v)
            out.append((keys.get("_ws.expert.message"), int(keys.get("_ws.expert.group", "0")),
                        int(keys.get("_ws.expert.severity", "0")), "mediastream.malformed" in keys))
    return out


def tshark_record(packet):
    """A tshark packet -> (record shaped like the harness's, expert infos, problems) or None if no
    mediastream tree."""
    layers = get(get(packet, "_source")[0], "layers")[0]
    trees = get(layers, "mediastream")
    if not trees:
        return None
    problems = []
    if len(trees) > 1:
        problems.append("%d mediastream trees in one packet" % len(trees))
    ms = trees[0]
    frame = get(layers, "frame")[0]
    udp = get(layers, "udp")[0]
    ip = (get(layers, "ip") or get(layers, "ipv6"))[0]
    src_ip = (get(ip, "ip.src") or get(ip, "ipv6.src"))[0]
    dst_ip = (get(ip, "ip.dst") or get(ip, "ipv6.dst"))[0]
    fmt = "[%s]:%s" if ":" in src_ip else "%s:%s"
    rec = {
        "packet": int(get(frame, "frame.number")[0]),
        "time_ns": epoch_ns(get(frame, "frame.time_epoch")[0]),
        "src": fmt % (src_ip, get(udp, "udp.srcport")[0]),
        "dst": fmt % (dst_ip, get(udp, "udp.dstport")[0]),
        "len": int(get(udp, "udp.length")[0]) - 8,
    }
    found = {}
    for k, v in walk(ms):
        if k.startswith("mediastream."):
            found.setdefault(k[len("mediastream."):], []).append(v)
    datagram = {}
    for name in DATAGRAM_FIELDS:
        vals = found.get(name, [])
        if len(vals) > 1:
            problems.append("field mediastream.%s appears %d times" % (name, len(vals)))
        if not vals:
            continue
        v = vals[0]
        if name == "options":
            datagram[name] = options_list(ms)
        elif name in INT_FIELDS:
            datagram[name] = to_int(v)
        elif name in BOOL_FIELDS:
            datagram[name] = to_bool(v)
        else:
            datagram[name] = v
    if datagram.get("kind") == "malformed":
        del datagram["kind"]
        errors = found.get("error", [])
        rec["error"] = error_record(ms, errors[0]) if errors else "<no mediastream.error field>"
    elif "error" in found:
        rec["error"] = error_record(ms, found["error"][0])
    if datagram:
        rec["datagram"] = datagram
    if "payload_is_pattern" in found:
        rec["payload_is_pattern"] = to_bool(found["payload_is_pattern"][0])
    return rec, expert_infos(ms), problems


# --- comparing ------------------------------------------------------------------------------------------------

def diff(want, got, path, out):
    """Appends differences to out; returns how many leaf values were compared."""
    if isinstance(want, dict) and isinstance(got, dict):
        n = 0
        for k in sorted(set(want) | set(got)):
            if k not in got:
                out.append("%s.%s: harness %s, dissector has no such field" % (path, k, json.dumps(want[k])))
            elif k not in want:
                out.append("%s.%s: dissector %s, harness prints no such field" % (path, k, json.dumps(got[k])))
            else:
                n += diff(want[k], got[k], path + "." + k, out)
        return n
    if isinstance(want, list) and isinstance(got, list):
        n = 0
        if len(want) != len(got):
            out.append("%s: harness has %d entries, dissector %d" % (path, len(want), len(got)))
        for i, (w, g) in enumerate(zip(want, got)):
            n += diff(w, g, "%s[%d]" % (path, i), out)
        return n
    if type(want) is not type(got) or want != got:
        out.append("%s: harness %s, dissector %s" % (path, json.dumps(want), json.dumps(got)))
    return 1


class Tally:
    def __init__(self):
        self.captures = 0
        self.datagrams = 0
        self.fields = 0
        self.failures = []

    def fail(self, msg):
        self.failures.append(msg)


def compare_capture(tally, label, path, harness, env, mode=None, require_all=True):
    """Harness vs dissector over one capture. Returns the number of datagrams compared."""
    want, messages = harness_decode(harness, path, mode)
    options = ["mediastream.mode:3way"] if mode == "3way" else []
    packets = tshark_decode(path, env, options)
    got = {}
    for packet in packets:
        r = tshark_record(packet)
        if r is not None:
            got[r[0]["packet"]] = r
    tally.captures += 1
    for n in sorted(set(want) | set(got)):
        where = "%s packet %d" % (label, n)
        if n not in got:
            if require_all:
                tally.fail("%s: harness decodes it (%s), the dissector does not" % (where, json.dumps(want[n])))
            continue
        if n not in want:
            tally.fail("%s: dissected as mediastream, but the harness prints no datagram" % where)
            continue
        rec, experts, problems = got[n]
        out = ["%s: %s" % (where, p) for p in problems]
        tally.fields += diff(want[n], rec, where, out)
        malformed = [e for e in experts if e[3]]
        if "error" in want[n]:
            msg = messages.get(n)
            if len(malformed) != 1:
                out.append("%s: malformed, expected one mediastream.malformed expert info, got %d" % (where, len(malformed)))
            else:
                text, group, severity, _ = malformed[0]
                tally.fields += 1
                if (group, severity) != (PI_MALFORMED, PI_ERROR):
                    out.append("%s: expert info group/severity 0x%08x/0x%08x, want PI_MALFORMED/PI_ERROR" % (where, group, severity))
                if text != msg:
                    out.append("%s: expert message %r, harness says %r" % (where, text, msg))
        elif malformed:
            out.append("%s: well-formed for the harness, but the dissector flags it malformed: %s" % (where, malformed[0][0]))
        if not out:
            tally.datagrams += 1
        for o in out:
            tally.fail(o)
    return len(want)


# --- writing captures -----------------------------------------------------------------------------------------

def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(payload, sport, dport, src=b"\xc0\x00\x02\x01", dst=b"\xc0\x00\x02\x02"):
    """Ethernet / IPv4 / UDP with correct checksums."""
    ulen = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    udp = udp[:6] + struct.pack("!H", inet_checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def write_pcap(path, frames, linktype=1):
    """Classic pcap with nanosecond timestamps; frames are (time_ns, bytes)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, linktype))
        for t, data in frames:
            f.write(struct.pack("<IIII", t // 1_000_000_000, t % 1_000_000_000, len(data), len(data)))
            f.write(data)


def read_pcapng(path):
    """(linktype, [(time_ns, bytes)]) from a pcapng file (SHB/IDB/EPB/SPB; one link type)."""
    data = open(path, "rb").read()
    at, frames, ifaces, endian = 0, [], [], "<"
    while at + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, at)[0]
        if btype == 0x0A0D0D0A:
            endian = "<" if struct.unpack_from("<I", data, at + 8)[0] == 0x1A2B3C4D else ">"
            ifaces = []
        blen = struct.unpack_from(endian + "I", data, at + 4)[0]
        body = data[at + 8: at + blen - 4]
        if btype == 1:  # IDB
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            tsresol, opt = 6, 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, opt)
                if code == 0:
                    break
                if code == 9:
                    tsresol = body[opt + 4]
                opt += 4 + olen + (-olen % 4)
            ifaces.append((linktype, tsresol))
        elif btype == 6:  # EPB
            iface, hi, lo, caplen, _ = struct.unpack_from(endian + "IIIII", body, 0)
            linktype, res = ifaces[iface]
            ticks = (hi << 32) | lo
            if res & 0x80:
                ns = ticks * 1_000_000_000 // (2 ** (res & 0x7F))
            else:
                ns = ticks * 10 ** (9 - res) if res <= 9 else ticks // 10 ** (res - 9)
            frames.append((ns, body[20:20 + caplen]))
        elif btype == 3:  # SPB
            frames.append((0, body[4:4 + len(body) - 4]))
        at += blen
    linktypes = {lt for lt, _ in ifaces}
    if len(linktypes) != 1:
        raise Failure("%s: expected one link type, found %s" % (path, sorted(linktypes)))
    return linktypes.pop(), frames


def rewrite_ports(frame, old, new):
    """Ethernet/IPv4/UDP: replaces port old by new, fixing the UDP checksum. Other frames unchanged."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return frame
    ihl = (frame[14] & 0x0F) * 4
    u = 14 + ihl
    sport, dport, ulen, csum = struct.unpack_from("!HHHH", frame, u)
    sport, dport = (new if sport == old else sport), (new if dport == old else dport)
    out = bytearray(frame)
    struct.pack_into("!HHH", out, u, sport, dport, ulen)
    if csum != 0:
        struct.pack_into("!H", out, u + 6, 0)
        pseudo = bytes(out[26:34]) + struct.pack("!BBH", 0, 17, ulen)
        struct.pack_into("!H", out, u + 6, inet_checksum(pseudo + bytes(out[u:u + ulen])) or 0xFFFF)
    return bytes(out)


# --- hand-made datagrams --------------------------------------------------------------------------------------

def pattern(n):
    return b"".join(struct.pack("<H", i % 32768) for i in range((n + 1) // 2))[:n]


def header(flag, seq=0, qpc=0, qpf=0):
    return struct.pack("<HQQQ", flag, seq, qpc, qpf)


def control(flag, conn_id=b"", version=1, flags=0, reserved=0, options=b"", seq=0):
    return header(flag, seq) + struct.pack("<BBH", version, flags, reserved) + conn_id.ljust(37, b"\0")[:37] + options


def tlv(t, value):
    return struct.pack("<BH", t, len(value)) + value


UUID = b"6f9619ff-8b86-d011-b42d-00c04fc964ff"


def handmade():
    d = [b"START", b"STAR", b"STARTX", b"start", b"START\0", b"", b"\x01", b"\x00\x00", b"\x02\x00\xff",
         b"\xff\xff" + bytes(70), b"\x03\x01" + bytes(65), b"\x01\x10" + bytes(40), b"\x10\x00" + bytes(40)]
    # DATA
    d += [header(0)[:25], header(0), header(0, 1, 2, 3) + b"\x00", header(0, 1, 1001, 10_000_000) + pattern(1374),
          header(0, 2**64 - 1, 2**63, 1) + pattern(100), header(0, 5, 6, 7) + pattern(99)[:-1] + b"\xee",
          header(0, 9, 9, 9) + b"\x01\x00", header(0, 1, 2, 3) + pattern(65507 - 26)]
    # DATA+FRAG
    d += [header(1, 1, 2, 3) + bytes(15), header(1, 1, 2, 3) + struct.pack("<QQ", 0, 0),
          header(1, 3, 4, 5) + struct.pack("<QQ", 1374, 2801) + pattern(1374),
          header(1, 3, 4, 5) + struct.pack("<QQ", 2**64 - 1, 7) + b"xyz"]
    # CONNECTION_ID
    d += [b"\x00\x10" + UUID, b"\x00\x10" + UUID + b"\0", b"\x00\x10" + bytes(37),
          b"\x00\x10" + UUID + b"\0" + b"trailing bytes",
          b"\x00\x10" + b"a\\b\x00c\x7f\xff\n" + bytes(29), b"\x00\x10" + bytes(range(0x5a, 0x5a + 37))]
    # control frames
    d += [control(0x100)[:66], control(0x100), control(0x101, UUID, flags=1), control(0x102, UUID),
          control(0x101, b"session limit reached", flags=0), control(0x101, UUID, flags=3),
          control(0x101, UUID, flags=2), control(0x100, version=0), control(0x101, version=2),
          control(0x102, version=255, options=b"\x01"), control(0x102, UUID, reserved=0xBEEF, seq=7),
          control(0x100, b"\\\\\\\n" + b"\x80" * 33 + b"z"), control(0x100, b"x" * 37)]
    # TLV options (D14)
    every = (tlv(1, struct.pack("<I", 30)) + tlv(2, struct.pack("<Q", 2**64 - 1)) + tlv(3, struct.pack("<I", 1000))
             + tlv(4, b"h264") + tlv(5, struct.pack("<I", 1400)) + tlv(0xFF, b"\xab\xcd") + tlv(0, b"")
             + tlv(4, b"") + tlv(4, b"a\\\t\xff"))
    d += [control(0x100, options=every), control(0x101, UUID, flags=1, options=tlv(1, b"\x0a\0\0\0")),
          control(0x102, UUID, options=tlv(200, bytes(300)))]
    for bad in [b"\x01", b"\x01\x04", b"\x09\x05\x00\x01", tlv(9, b"") + b"\x09\x01\x00",
                tlv(1, b"\x01\x02\x03"), tlv(2, b"\x01\x02\x03\x04"), tlv(3, b""), tlv(5, bytes(5)),
                tlv(1, bytes(4)) + tlv(2, bytes(7)), tlv(4, b"ok") + b"\x04\xff\xff" + bytes(10)]:
        d += [control(0x100, options=bad), control(0x101, UUID, flags=1, options=bad)]
    return d


# Golden captures whose first datagram is one the heuristic leaves unclaimed by design.
HEURISTIC_UNCLAIMED_OPENING = {"rule_3way_version_validated.pcapng"}


# Single datagrams for the heuristic on its own (each in its own UDP conversation): claimed or not.
def heuristic_table():
    claim = [b"START", control(0x100), control(0x101, UUID, flags=1), control(0x102, UUID),
             control(0x101, b"version not supported"), control(0x100, options=tlv(1, struct.pack("<I", 30))),
             b"\x00\x10" + UUID + b"\0", header(0, 1, 1001, 10_000_000) + pattern(1374),
             header(0, 7, 5, 10_000_000) + pattern(8),
             header(1, 3, 4, 5) + struct.pack("<QQ", 1374, 2801) + pattern(1374)]
    rnd = random.Random(4444)
    leave = [b"", b"\x00", b"HELLO", b"STARTX", b"start", b"\x00\x00" + bytes(30), header(0) + pattern(64),
             header(0, 1, 2, 0) + pattern(64), header(0, 1, 2, 3) + bytes(64),
             header(0, 1, 2, 3) + pattern(7), control(0x100, version=2), control(0x100, flags=2),
             control(0x100, reserved=1), control(0x100, b"\x01\x02binary"), control(0x100, options=b"\x01"),
             control(0x101, UUID, options=tlv(1, b"\x01")), b"\x00\x10" + bytes(37),
             b"\x00\x10" + b"\x80" * 37, b"\x00\x10" + UUID, header(1, 1, 2, 3) + struct.pack("<QQ", 10, 5) + pattern(64),
             bytes.fromhex("12340100000100000000000003777777076578616d706c6503636f6d0000010001"),  # DNS query
             bytes(rnd.randrange(256) for _ in range(67)), bytes(rnd.randrange(256) for _ in range(1400))]
    return [(p, True) for p in claim] + [(p, False) for p in leave]


# --- main -------------------------------------------------------------------------------------------------------

def main():
    global LUA
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", default="target/release/harness", help="harness binary (default: %(default)s)")
    ap.add_argument("--lua", default=DEFAULT_LUA, help="dissector under test (default: %(default)s)")
    args = ap.parse_args()
    LUA = args.lua
    if shutil.which("tshark") is None:
        print("SKIPPED: tshark not installed")
        return 0
    for need in (LUA, CAPTURES, args.harness):
        if not os.path.exists(need):
            print("error: %s not found (run from the repository root)" % need, file=sys.stderr)
            return 1

    tally = Tally()
    work = tempfile.mkdtemp(prefix="mediastream-wireshark-")
    try:
        home = os.path.join(work, "home")
        os.makedirs(os.path.join(home, ".config"))
        env = tshark_env(home)
        decodes, _ = run(["tshark", "-G", "decodes"], env=env)
        if "udp.port\t%d\t" % HEURISTIC_PORT in decodes:
            raise Failure("port %d has a Wireshark dissector; pick another HEURISTIC_PORT" % HEURISTIC_PORT)

        captures = sorted(glob.glob(os.path.join(CAPTURES, "*.pcapng")))
        if not captures:
            raise Failure("no captures in %s" % CAPTURES)
        datagrams = 0
        sections = []

        def section(name, captures_before, datagrams_before, fields_before):
            sections.append("  %-52s %3d capture(s) %5d datagrams %6d fields" % (
                name, tally.captures - captures_before, datagrams - datagrams_before, tally.fields - fields_before))

        # 1. every capture, port 4444 registration, default mode (legacy-accepting, as `harness decode`)
        mark = (tally.captures, datagrams, tally.fields)
        for path in captures:
            datagrams += compare_capture(tally, path, path, args.harness, env)
        section("%s/*.pcapng, udp.port %d" % (CAPTURES, PORT), *mark)

        # 2. hand-made datagrams, default mode and 3way mode
        hand = os.path.join(work, "handmade.pcap")
        base = 1_767_225_600_000_000_000
        write_pcap(hand, [(base + i * 1000, udp_frame(p, 50000, PORT)) for i, p in enumerate(handmade())])
        mark = (tally.captures, datagrams, tally.fields)
        datagrams += compare_capture(tally, "handmade", hand, args.harness, env)
        section("hand-made datagrams, udp.port %d" % PORT, *mark)
        mark = (tally.captures, datagrams, tally.fields)
        for path in [hand, os.path.join(CAPTURES, "clean_legacy_scripted.pcapng"),
                     os.path.join(CAPTURES, "clean_3way_scripted.pcapng")]:
            datagrams += compare_capture(tally, "3way-mode " + os.path.basename(path), path, args.harness, env, mode="3way")
        section("-o mediastream.mode:3way vs --mode 3way", *mark)

        # 3. heuristic: every capture with port 4444 rewritten to HEURISTIC_PORT must decode the same
        mark = (tally.captures, datagrams, tally.fields)
        # A conversation that opens with a datagram the heuristic leaves alone on purpose (a SYN of
        # another version: see the table below) is claimed from its first datagram the heuristic knows,
        # so its opening is not dissected on a port other than 4444: such a capture is left out here.
        heuristic_captures = [p for p in captures if os.path.basename(p) not in HEURISTIC_UNCLAIMED_OPENING]
        for path in heuristic_captures + [hand]:
            if path == hand:
                frames = [(base + i * 1000, udp_frame(p, 50000, HEURISTIC_PORT))
                          for i, p in enumerate(handmade())]
                frames = [(t, f) for (t, f), p in zip(frames, handmade()) if p]  # 0-byte: port-only, see README
                linktype = 1
            else:
                linktype, frames = read_pcapng(path)
                frames = [(t, rewrite_ports(f, PORT, HEURISTIC_PORT)) for t, f in frames]
            out = os.path.join(work, "heur_" + os.path.basename(path).replace(".pcapng", ".pcap"))
            write_pcap(out, frames, linktype)
            datagrams += compare_capture(tally, "heuristic " + os.path.basename(path), out, args.harness, env)
            ports, _ = run(["tshark", "-n", "-r", out, "-T", "fields", "-e", "udp.port"], env=env)
            if str(PORT) in ports.replace(",", "\n").split():
                tally.fail("heuristic %s: port %d still present after rewriting" % (path, PORT))
            if path == heuristic_captures[0]:
                # control: with the heuristic switched off nothing may be dissected, so it is the heuristic
                # (not a port registration) that did the work above
                off = tshark_decode(out, env, extra=["--disable-heuristic", "mediastream_udp"])
                tally.fields += 1
                if any(tshark_record(p) is not None for p in off):
                    tally.fail("heuristic %s: dissected even with --disable-heuristic mediastream_udp" % path)

        section("heuristic: all of the above on udp.port %d" % HEURISTIC_PORT, *mark)

        # 4. heuristic on single datagrams, without the conversation it would otherwise claim
        mark = (tally.captures, datagrams, tally.fields)
        table = heuristic_table()
        single = os.path.join(work, "heuristic_table.pcap")
        write_pcap(single, [(base + i * 1000, udp_frame(p, 40000 + i, 41000 + i)) for i, (p, _) in enumerate(table)])
        packets = tshark_decode(single, env, ["mediastream.heuristic:FALSE"])
        claimed = {tshark_record(p)[0]["packet"] for p in packets if tshark_record(p) is not None}
        for i, (p, expected) in enumerate(table, 1):
            tally.fields += 1
            if (i in claimed) != expected:
                tally.fail("heuristic table #%d (%d bytes, %s…): %s" % (
                    i, len(p), p[:12].hex(), "should be claimed but is not" if expected else "claimed but is not media stream"))
        datagrams += len(table)
        compare_capture(tally, "heuristic table", single, args.harness, env, require_all=False)
        section("heuristic alone: %d claimed + %d unclaimed datagrams" % (
            sum(1 for _, c in table if c), sum(1 for _, c in table if not c)), *mark)
    except Failure as e:
        tally.fail(str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if tally.failures:
        print("FAILED: %d difference(s); the first %d:" % (len(tally.failures), min(MAX_SHOWN, len(tally.failures))))
        for f in tally.failures[:MAX_SHOWN]:
            print("  " + f)
        return 1
    print("\n".join(sections))
    print("%d captures, %d datagrams, %d fields compared: all equal" % (tally.captures, datagrams, tally.fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
