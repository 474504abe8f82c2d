#!/usr/bin/env python3
"""The fuzz kit against plain libFuzzer on the C example (`make bench-fuzz-kit`; not in make test).

For each seed, the time until the C example's planted bug (ASan: heap-buffer-overflow in
plan_stream) is found:

* kit: the kit's corpus (`harness fuzz-kit --family mediastream`), its dictionary and
  libhandshake_mutator.so's LLVMFuzzerCustomMutator/CustomCrossOver;
* plain: libFuzzer's own mutations from an empty corpus, no dictionary; the same target and the
  same differential check (the library loaded with dlopen for hh_decode alone, so libFuzzer does
  not see its mutator).

Each run is capped at --cap seconds (-max_total_time); a miss counts as the cap in the median. At
most --jobs runs at once. Then the mutator's own throughput (bench_mutator.c on the kit's corpus).
Prints a Markdown table.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_examples as ex  # noqa: E402

BUG = re.compile(r"AddressSanitizer: heap-buffer-overflow[\s\S]*plan_stream")


def one_run(target, mode, seed, cap, corpus, dictionary, work):
    run_dir = work / f"{mode}-{seed}"
    new = run_dir / "corpus"
    new.mkdir(parents=True, exist_ok=True)
    for f in new.iterdir():
        f.unlink()
    cmd = [str(target), f"-seed={seed}", f"-max_total_time={cap}", f"-artifact_prefix={run_dir}/",
           "-print_final_stats=1", str(new)]
    env = dict(os.environ)
    if mode == "kit":
        cmd += [f"-dict={dictionary}", str(corpus)]
        env["HANDSHAKE_FORMAT"] = ex.FORMAT
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", timeout=cap + 120)
    elapsed = time.monotonic() - start
    (run_dir / "fuzz.log").write_text(proc.stdout)
    found = proc.returncode != 0 and BUG.search(proc.stdout) is not None
    if proc.returncode != 0 and not found:
        tail = "\n".join(proc.stdout.splitlines()[-20:])
        sys.exit(f"{mode} seed {seed}: crashed on something other than the planted bug:\n{tail}")
    execs = re.findall(r"^#(\d+)", proc.stdout, re.M)
    rate = re.search(r"stat::average_exec_per_sec:\s+(\d+)", proc.stdout)
    return {
        "mode": mode, "seed": seed, "found": found, "seconds": elapsed if found else float(cap),
        "execs": int(execs[-1]) if execs else 0, "exec_per_s": int(rate.group(1)) if rate else None,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--harness", required=True, type=Path)
    p.add_argument("--lib-dir", required=True, type=Path, help="the directory of a release libhandshake_mutator.so")
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--cap", type=int, default=60, help="seconds per run")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--calls", type=int, default=200_000, help="mutator calls for the throughput")
    a = p.parse_args()
    work, lib_dir = a.work.resolve(), a.lib_dir.resolve()
    corpus, dictionary = ex.make_kit(a.harness, work)
    kit_target = ex.build_c(lib_dir, work / "bench" / "kit")
    plain_target = ex.build_c(lib_dir, work / "bench" / "plain", dlopen_reference=True)
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores",
          flush=True)
    jobs = [(kit_target if mode == "kit" else plain_target, mode, seed)
            for seed in range(1, a.seeds + 1) for mode in ("kit", "plain")]
    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(
            lambda j: one_run(*j, a.cap, corpus, dictionary, work / "bench"), jobs))
    for r in results:
        print(f"{r['mode']:5} seed {r['seed']:2}: {'found' if r['found'] else 'missed'} "
              f"{r['seconds']:6.1f} s, {r['execs']} execs, {r['exec_per_s']} exec/s", flush=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    bench = ex.build_c(lib_dir, work / "bench" / "bench_mutator", sanitize=None,
                       sources=[ex.C_DIR / "bench_mutator.c"], optimise="-O2")
    through = subprocess.run([str(bench), str(corpus), str(a.calls)], check=True, text=True,
                             stdout=subprocess.PIPE, env=dict(os.environ, HANDSHAKE_FORMAT=ex.FORMAT))
    print(through.stdout.strip())

    print()
    print("| | found (of %d) | median time to the bug | min / max (found) | median exec/s |" % a.seeds)
    print("|---|---|---|---|---|")
    medians = {}
    for mode, label in (("kit", "kit (corpus + dictionary + mutator)"),
                        ("plain", "plain libFuzzer (no corpus, no dictionary)")):
        rs = [r for r in results if r["mode"] == mode]
        times = [r["seconds"] for r in rs]
        found = [r["seconds"] for r in rs if r["found"]]
        rates = [r["exec_per_s"] for r in rs if r["exec_per_s"]]
        medians[mode] = statistics.median(times)
        span = f"{min(found):.1f} / {max(found):.1f} s" if found else "–"
        print(f"| {label} | {len(found)} | {medians[mode]:.1f} s | {span} | "
              f"{statistics.median(rates) if rates else 0:,.0f} |")
    print(f"\nratio of the medians: {medians['plain'] / medians['kit']:.1f}x "
          f"(a miss counts as {a.cap} s)")


if __name__ == "__main__":
    main()
