"""Self-tests of vectors/tools/generate_darktower.py.

Run from the repository root:

    python3 -m unittest discover -s vectors/tools -p 'test_generate_darktower.py'
"""

import contextlib
import io
import json
import os
import shutil
import struct
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate_darktower as g  # noqa: E402

VEC_DIR = os.path.join(os.path.dirname(HERE), "darktower")
SCHEMA_DIR = os.path.join(os.path.dirname(HERE), "schema")


def load(name):
    with open(os.path.join(VEC_DIR, name), encoding="utf-8") as fh:
        return json.load(fh)


def by_id(doc):
    return {c["id"]: c for c in doc["cases"]}


class ExampleBytes(unittest.TestCase):
    """The example bytes of darktower.md, verbatim, decode as stated."""

    HEADER = "444152540101550e8400e29b41d4a71644665544000056503039000000000000"
    FRAME = ("0101550e8400e29b41d4a716446655440000" "00060a24181e4000" "0000000000000007"
             "00000002" "0001" "000000000000" "6869")

    def test_anchors(self):
        g.check_anchors()

    def test_stream_header(self):
        ok = g.decode_stream_header(bytes.fromhex(self.HEADER))["ok"]
        self.assertEqual(ok["stream_type_name"], "video")
        self.assertEqual(ok["stream_id"], "550e8400-e29b-41d4-a716-446655440000")
        self.assertEqual(ok["codec"], "VP09")
        self.assertTrue(ok["codec_known"])
        c = by_id(load("stream_headers.json"))["example_video_vp09"]
        self.assertEqual(c["hex"], self.HEADER)
        self.assertEqual(c["expect"]["ok"], ok)

    def test_v1_frame(self):
        ok = g.decode_frame_v1(bytes.fromhex(self.FRAME))["ok"]
        self.assertEqual((ok["frame_type_name"], ok["timestamp_us"], ok["sequence"],
                          ok["payload_length"], ok["flags"], ok["payload_hex"]),
                         ("video_key", 1_700_000_000_000_000, 7, 2, 1, "6869"))
        self.assertTrue(ok["end_of_frame"])
        self.assertFalse(ok["discardable"])
        c = by_id(load("frames_v1.json"))["example_video_key_hi"]
        self.assertEqual(c["hex"], self.FRAME)
        self.assertEqual(c["expect"]["ok"], ok)

    def test_length_prefix_300(self):
        c = by_id(load("signaling.json"))["framing_example_300_bytes"]
        self.assertTrue(c["chunks"][0].startswith("0000012c"))
        self.assertEqual(len(bytes.fromhex(c["chunks"][0])), 304)
        self.assertEqual(c["expect"]["messages"][0]["length"], 300)


class Protobuf(unittest.TestCase):
    def test_varint_round_trip(self):
        for v in [0, 1, 127, 128, 300, 16383, 16384, 2**32 - 1, 2**32, 2**63, 2**64 - 1]:
            raw = g.enc_varint(v)
            self.assertEqual(g.dec_varint(raw, 0), (v, len(raw)))

    def test_known_encodings(self):
        self.assertEqual(g.encode_message("ClientMessage", {"unsubscribe_stream": {}}).hex(),
                         "2200")
        self.assertEqual(g.encode_message("ClientMessage",
                                          {"join_request": {"meeting_id": "m"}}).hex(),
                         "0a030a016d")
        self.assertEqual(g.encode_message("StreamQualityUpdate",
                                          {"packet_loss": 1.0}).hex(), "1d0000803f")
        self.assertEqual(g.encode_message("ErrorMessage", {"details": {"k": "v"}}).hex(),
                         "1a060a016b120176")
        self.assertEqual(g.encode_message("MediaClientMessage",
                                          {"connect_request": {"join_token": "t"}}).hex(),
                         "0a030a0174")

    def test_message_cases_round_trip(self):
        n = 0
        for name in ("signaling.json", "media_auth.json"):
            for c in load(name)["cases"]:
                if "message" not in c:
                    continue
                raw = bytes.fromhex(c["protobuf_hex"])
                self.assertEqual(g.decode_message(c["message_type"], raw), c["message"], c["id"])
                if c.get("decode_only"):
                    self.assertEqual(g.encode_message(c["message_type"], c["message"]).hex(),
                                     c["canonical_hex"], c["id"])
                    continue
                self.assertEqual(g.encode_message(c["message_type"], c["message"]), raw, c["id"])
                self.assertEqual(c["framed_hex"],
                                 struct.pack(">I", len(raw)).hex() + c["protobuf_hex"])
                self.assertEqual(c["length"], len(raw))
                n += 1
        self.assertGreater(n, 30)

    def test_every_variant_covered(self):
        seen = {}
        for name in ("signaling.json", "media_auth.json"):
            for c in load(name)["cases"]:
                if "framed_hex" in c:
                    seen.setdefault(c["message_type"], set()).update(c["message"])
        for mtype in ("ClientMessage", "ServerMessage", "MediaClientMessage",
                      "MediaServerMessage"):
            self.assertEqual(seen[mtype], {f[1] for f in g.MESSAGES[mtype]}, mtype)

    def test_decode_errors(self):
        for c in load("signaling.json")["cases"]:
            if "decode_error" in c:
                with self.assertRaises(g.DecodeError) as cm:
                    g.decode_message(c["message_type"], bytes.fromhex(c["protobuf_hex"]))
                self.assertEqual(str(cm.exception), c["decode_error"], c["id"])


class Framing(unittest.TestCase):
    def test_cases_agree_with_both_readers(self):
        for c in load("signaling.json")["cases"]:
            if "chunks" not in c:
                continue
            chunks = [bytes.fromhex(h) for h in c["chunks"]]
            self.assertEqual(g.read_framed(chunks, c["fin"], c["message_type"]), c["expect"])
            self.assertEqual(g.read_framed_incremental(chunks, c["fin"], c["message_type"]),
                             c["expect"], c["id"])

    def test_limits(self):
        cases = by_id(load("signaling.json"))
        self.assertEqual(cases["framing_length_zero_rejected"]["expect"]["end"]["error"]["kind"],
                         "zero_length")
        ok = cases["framing_length_65536_accepted"]
        self.assertEqual(ok["expect"]["end"], "fin")
        self.assertEqual(ok["expect"]["messages"][0]["length"], 65536)
        self.assertEqual(cases["framing_length_65537_rejected"]["expect"]["end"]["error"],
                         {"kind": "too_long", "length": 65537, "close": "STREAM_ERROR"})
        self.assertEqual(cases["framing_prefix_split_1_1_1_1"]["expect"]["end"], "fin")


class Media(unittest.TestCase):
    def test_header_round_trip(self):
        for st in (0, 1):
            for cc in g.FOURCCS:
                raw = g.encode_stream_header(st, g.UUID_B, cc)
                ok = g.decode_stream_header(raw)["ok"]
                self.assertEqual((ok["stream_type"], ok["codec"], ok["stream_id"]),
                                 (st, cc, g.UUID_B))

    def test_truncations_all_present(self):
        cases = by_id(load("stream_headers.json"))
        for n in range(32):
            e = cases["truncated_%d" % n]["expect"]["error"]
            self.assertEqual((e["kind"], e["received"], e["reset_code"]), ("truncated", n, 1))

    def test_stream_type_2_rejected(self):
        e = by_id(load("stream_headers.json"))["unknown_stream_type_2"]["expect"]["error"]
        self.assertEqual(e["kind"], "unknown_stream_type")

    def test_frame_round_trip(self):
        for ft in (0, 1, 2):
            for flags in (0, 1, 2, 3, 0xFFFF):
                for n in (0, 1, 300):
                    p = g.pattern(n, ft)
                    v1 = g.decode_frame_v1(g.encode_frame_v1(ft, g.EX_UUID, 5, 6, flags, p))["ok"]
                    self.assertEqual((v1["frame_type"], v1["flags"], v1["payload_hex"],
                                      v1["frame_length"]), (ft, flags, p.hex(), 46 + n))
                    v2 = g.decode_frame_v2(g.encode_frame_v2(ft, 9, 8, 5, 6, flags, p))["ok"]
                    self.assertEqual((v2["user_id"], v2["stream_id"], v2["payload_hex"],
                                      v2["frame_length"]), (9, 8, p.hex(), 42 + n))

    def test_all_file_cases_decode(self):
        for c in load("stream_headers.json")["cases"]:
            self.assertEqual(g.decode_stream_header(bytes.fromhex(c["hex"])), c["expect"])
        for c in load("frames_v1.json")["cases"]:
            self.assertEqual(g.decode_frame_v1(bytes.fromhex(c["hex"]),
                                               c.get("header_stream_id")), c["expect"])
        for c in load("frames_v2.json")["cases"]:
            self.assertEqual(g.decode_frame_v2(bytes.fromhex(c["hex"])), c["expect"])


class ResetCodes(unittest.TestCase):
    def test_mapping(self):
        self.assertEqual(g.wt_to_http3(0), 0x52E4A40FA8DB)
        self.assertEqual(g.wt_to_http3(0x1E), 0x52E4A40FA8DB + 0x1F)
        self.assertEqual(g.WT_LAST, 0x52E5AC983162)
        for n in list(range(1000)) + [2**32 - 1 - k for k in range(100)]:
            self.assertEqual(g.http3_to_wt(g.wt_to_http3(n)), n)
        self.assertIsNone(g.http3_to_wt(g.WT_FIRST - 1))
        self.assertIsNone(g.http3_to_wt(g.WT_LAST + 1))
        self.assertIsNone(g.http3_to_wt(g.WT_FIRST + 0x1E))

    def test_file(self):
        cases = load("reset_codes.json")["cases"]
        codes = [c for c in cases if "name" in c]
        self.assertEqual([c["code"] for c in codes], [0, 1, 2, 3, 4])
        for c in cases:
            if "webtransport_code" in c:
                self.assertEqual(c["webtransport_code"], g.http3_to_wt(c["http3"]))
            else:
                self.assertEqual(c["http3"], g.wt_to_http3(c["code"]))


class Files(unittest.TestCase):
    def run_main(self, *argv):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return g.main(list(argv))

    def test_check_passes(self):
        self.assertEqual(self.run_main("--check"), 0)

    def test_check_detects_change(self):
        tmp = tempfile.mkdtemp()
        try:
            out, sch = os.path.join(tmp, "dt"), os.path.join(tmp, "schema")
            self.assertEqual(self.run_main("--out", out, "--schema-dir", sch), 0)
            self.assertEqual(self.run_main("--check", "--out", out, "--schema-dir", sch), 0)
            with open(os.path.join(out, "reset_codes.json"), "a", encoding="utf-8") as fh:
                fh.write(" ")
            self.assertEqual(self.run_main("--check", "--out", out, "--schema-dir", sch), 1)
            os.remove(os.path.join(out, "media_auth.json"))
            self.assertEqual(self.run_main("--check", "--out", out, "--schema-dir", sch), 1)
        finally:
            shutil.rmtree(tmp)

    def test_deterministic(self):
        a = [vf.render() for vf in g.build_all()]
        b = [vf.render() for vf in g.build_all()]
        self.assertEqual(a, b)

    def test_common_keys_and_ids(self):
        for name in sorted(os.listdir(VEC_DIR)):
            if not name.endswith(".json"):
                continue
            doc = load(name)
            self.assertEqual(doc["$schema"], "../schema/darktower-vectors.schema.json")
            self.assertEqual(doc["file"] + ".json", name)
            ids = [c["id"] for c in doc["cases"]]
            self.assertEqual(len(ids), len(set(ids)), name)
            for c in doc["cases"]:
                self.assertTrue(c["description"])

    def test_schema_if_available(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("jsonschema not installed")
        with open(os.path.join(SCHEMA_DIR, "darktower-vectors.schema.json")) as fh:
            schema = json.load(fh)
        v = jsonschema.Draft202012Validator(schema)
        for name in sorted(os.listdir(VEC_DIR)):
            if name.endswith(".json"):
                v.validate(load(name))


if __name__ == "__main__":
    unittest.main()
