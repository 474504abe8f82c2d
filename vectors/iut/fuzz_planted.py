#!/usr/bin/env python3
"""The network fuzzer's proof against planted bugs (issue 17): for one implementation and one of
its planted bugs (`MANIFEST!BUG`, sealed in PLANTED.md), `harness fuzz` must find the bug within the
time given, minimise it to at most 5 scripted steps, and the scenario it writes must fail the planted
implementation and pass the unplanted one. Prints one line of figures; exit 0 when all holds.

    fuzz_planted.py --harness target/release/harness --family darktower \
        --manifest vectors/iut/python-darktower.json --bug crash --seconds 600 --out reports/fuzz/planted
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

MAX_STEPS = 5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--harness", required=True)
    ap.add_argument("--family", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--bug", required=True)
    ap.add_argument("--role", default=None, help="only skeletons whose IUT plays this role")
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None,
                    help="runs at once (default: harness fuzz's, twice the cores and at least 4)")
    ap.add_argument("--keep-iut", action="store_true",
                    help="kept processes (harness fuzz's default): a responder serves input after input (results as they come); without it --fresh-iut")
    ap.add_argument("--corpus", default=None,
                    help="resume from this corpus folder (copied, so the campaign's additions go to --out): "
                         "its inputs are replayed first, a regression input among them finds the bug at once")
    ap.add_argument("--without", default=None,
                    help="levers of the search turned off, to measure them (harness fuzz --without rarity,blame)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    out = Path(a.out) / f"{a.family}-{a.bug}"
    planted = f"{a.manifest}!{a.bug}"
    cmd = [a.harness, "fuzz", "--iut", planted, "--family", a.family, "--time", str(a.seconds),
           "--seed", str(a.seed), "--stop-at-first", "--out", str(out)]
    if a.jobs:
        cmd += ["--jobs", str(a.jobs)]
    if a.role:
        cmd += ["--role", a.role]
    if a.without:
        cmd += ["--without", a.without]
    # Kept processes are harness fuzz's default; without --keep-iut here, every input gets a fresh
    # one, in the seed's draw order.
    cmd += ["--keep-iut"] if a.keep_iut else ["--fresh-iut"]
    if a.corpus:
        corpus = Path(a.out) / f"{a.family}-{a.bug}-corpus"
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.copytree(a.corpus, corpus)
        cmd += ["--corpus", str(corpus)]
    started = time.monotonic()
    fuzz = subprocess.run(cmd, capture_output=True, text=True)
    took = time.monotonic() - started
    name = f"{a.family}!{a.bug}"
    try:
        summary = json.loads((out / "fuzz.json").read_text())
    except (OSError, ValueError) as e:
        print(f"FAIL {name}: no report ({e}); harness said:\n{fuzz.stdout}{fuzz.stderr}")
        return 1
    findings = summary.get("findings", [])
    if fuzz.returncode != 1 or not findings:
        print(f"FAIL {name}: not found in {summary.get('execs')} execs, {took:.0f} s "
              f"(exit {fuzz.returncode}){fuzz.stderr[-2000:]}")
        return 1
    f = findings[0]
    how = "replaying the corpus" if f.get("replayed") else "by the search"
    if f.get("blamed_among"):
        how += f" (traced to its input among {f['blamed_among']} its kept process served lately)"
    problems = []
    if f["steps_after"] > MAX_STEPS:
        problems.append(f"minimised to {f['steps_after']} steps (at most {MAX_STEPS})")
    replay = [a.harness, "run", f["scenario"], "--iut"]
    on_planted = subprocess.run(replay + [planted], capture_output=True, text=True)
    on_clean = subprocess.run(replay + [a.manifest], capture_output=True, text=True)
    if on_planted.returncode != 1:
        problems.append(f"the scenario does not fail the planted implementation (exit {on_planted.returncode}):\n{on_planted.stdout}")
    if on_clean.returncode != 0:
        problems.append(f"the scenario fails the unplanted implementation (exit {on_clean.returncode}):\n{on_clean.stdout}")
    line = (f"{name}: {f['kind']} found {how} at exec {f['first_at_exec']} after {f['first_at_seconds']:.1f} s "
            f"({summary['execs_per_second']:.1f} exec/s, {summary['jobs']} jobs), minimised "
            f"{f['steps_before']} -> {f['steps_after']} steps, payload bytes {f['bytes_before']} -> "
            f"{f['bytes_after']}; replay fails planted, passes unplanted: {not problems}; {f['scenario']}")
    if problems:
        print("FAIL " + line + "\n  " + "\n  ".join(problems))
        return 1
    print("ok   " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
