"""The command line every byte-vector generator shares: write the files, or with --check say which
committed file differs from what the generator would write (exit 1)."""

import argparse
import os
import sys


def main(doc, family, build_all):
    """Runs the generator of `family` (its output folder under vectors/); `build_all()` returns the
    files (each with `filename`, `render()` and `sections`)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if any file on disk differs from what would be written")
    ap.add_argument("--out", default=None,
                    help="output directory (default: vectors/%s next to this tool)" % family)
    ap.add_argument("--summary", action="store_true", help="print vector counts per file")
    args = ap.parse_args()
    out = args.out or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                   family)
    files = build_all()
    stale = []
    for vf in files:
        path = os.path.join(out, vf.filename)
        text = vf.render()
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
            os.makedirs(out, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            print("wrote %s" % path)
    if args.summary:
        for vf in files:
            print("%-22s %s" % (vf.filename, ", ".join(
                "%s=%d" % (k, len(v)) for k, v in vf.sections.items())))
    if stale:
        for p in stale:
            print("stale: %s" % p, file=sys.stderr)
        print("run: python3 vectors/tools/generate_%s.py" % family, file=sys.stderr)
        return 1
    return 0
