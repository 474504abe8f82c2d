#!/usr/bin/env python3
"""Seeds the fuzz corpora from the byte vectors (idempotent: file names are content hashes).

mediastream_parse and mediastream_roundtrip get every datagram vector's bytes; tlv_options gets the
option bytes (from offset 67) of every control-frame vector that has any, plus a few hand-made lists.
"""
import glob, hashlib, json, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
CONTROL_FLAGS = {b"\x00\x01", b"\x01\x01", b"\x02\x01"}


def put(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    path = os.path.join(d, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)


def main():
    count = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "vectors", "mediastream", "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        for v in doc.get("datagrams", []):
            data = bytes.fromhex("".join(v["hex"].split()))
            put("mediastream_parse", data)
            put("mediastream_roundtrip", data)
            if len(data) > 67 and data[:2] in CONTROL_FLAGS:
                put("tlv_options", data[67:])
            count += 1
    for extra in [b"", b"\x01\x04\x00\xe8\x03\x00\x00", b"\x04\x04\x00opus\x09\x00\x00",
                  b"\x02\x08\x00" + (1000000).to_bytes(8, "little"), b"\xff\xff\xff"]:
        put("tlv_options", extra)
    print(f"seeded corpora from {count} datagram vectors", file=sys.stderr)


if __name__ == "__main__":
    main()
