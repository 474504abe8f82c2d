#!/usr/bin/env python3
"""The streaming decoder's throughput (`harness decode --format F --stream`), per format.

Writes the fuzz kit, makes LINES hex lines per format from its corpus (entries in turn, each with
a different last byte so no two consecutive lines are the same input), and times one decode of the
whole file per format, best of REPEAT: inputs per second, from the wall-clock time of the process.
Usage: bench_decode.py HARNESS [LINES] [REPEAT]
"""
import os, subprocess, sys, tempfile, time


def main():
    harness = sys.argv[1]
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with tempfile.TemporaryDirectory() as tmp:
        kit = os.path.join(tmp, "kit")
        subprocess.run([harness, "fuzz-kit", "--out", kit], check=True, stdout=subprocess.DEVNULL)
        print(f"| format | inputs | mean input bytes | inputs/s (best of {repeat}) |")
        print("|---|---:|---:|---:|")
        for fmt in sorted(os.listdir(kit)):
            corpus = os.path.join(kit, fmt, "corpus")
            if not os.path.isdir(corpus):
                continue
            entries = [open(os.path.join(corpus, n), "rb").read() for n in sorted(os.listdir(corpus))]
            entries = [e for e in entries if e] or [b"\x00"]
            path = os.path.join(tmp, fmt + ".hex")
            total = 0
            with open(path, "w") as f:
                for i in range(lines):
                    e = bytearray(entries[i % len(entries)])
                    e[-1] = (e[-1] + i // len(entries)) & 0xFF
                    total += len(e)
                    f.write(e.hex() + "\n")
            best = None
            for _ in range(repeat):
                with open(path, "rb") as stdin:
                    start = time.perf_counter()
                    subprocess.run([harness, "decode", "--format", fmt, "--stream"], stdin=stdin,
                                   stdout=subprocess.DEVNULL, check=True)
                    took = time.perf_counter() - start
                best = took if best is None else min(best, took)
            print(f"| `{fmt}` | {lines:,} | {total / lines:.0f} | {lines / best:,.0f} |")


if __name__ == "__main__":
    main()
