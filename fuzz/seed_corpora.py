#!/usr/bin/env python3
"""Seeds the project's cargo-fuzz corpora from the fuzz kit (idempotent: file names are content hashes).

`harness fuzz-kit` is the one source of seeds: every kind of every wire format, the edge cases of the
scenario library, the byte vectors and the golden captures, and the invalid edge cases. This script
writes it to a scratch folder and copies each format's corpus into the targets that read that format
(a target that reads arbitrary bytes as a structure, like mediastream_roundtrip, gets them too: the
bytes still steer it). HARNESS names the binary (default: `cargo run -p handshake-harness`).
"""
import hashlib, os, shlex, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
# Format id -> the cargo-fuzz targets (fuzz/fuzz_targets) whose input is that format.
TARGETS = {
    "mediastream.datagram": ["mediastream_parse", "mediastream_roundtrip"],
    "mediastream.tlv": ["tlv_options"],
    "proton.stream": ["proton_stream_reader"],
    "darktower.header": ["darktower_header"],
    "darktower.frame_v1": ["darktower_frame_v1"],
    "darktower.frame_v2": ["darktower_frame_v2"],
    "darktower.signaling": ["darktower_signaling"],
    "darktower.media_auth": ["darktower_signaling"],
}


def harness():
    given = os.environ.get("HARNESS")
    if given:
        return shlex.split(given)
    return ["cargo", "run", "--quiet", "-p", "handshake-harness", "--"]


def main():
    added = 0
    with tempfile.TemporaryDirectory() as kit:
        subprocess.run(harness() + ["fuzz-kit", "--out", kit], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        for fmt, targets in TARGETS.items():
            folder = os.path.join(kit, fmt, "corpus")
            if not os.path.isdir(folder):
                sys.exit(f"error: the fuzz kit has no {fmt}: is the harness current?")
            for name in sorted(os.listdir(folder)):
                with open(os.path.join(folder, name), "rb") as f:
                    data = f.read()
                for target in targets:
                    d = os.path.join(CORPUS, target)
                    os.makedirs(d, exist_ok=True)
                    path = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16])
                    if not os.path.exists(path):
                        with open(path, "wb") as f:
                            f.write(data)
                        added += 1
    print(f"seeded the fuzz corpora from the fuzz kit: {added} new files", file=sys.stderr)


if __name__ == "__main__":
    main()
