#!/usr/bin/env python3
"""Runs the fuzz kit's examples and fails unless each finds its planted bug (`make fuzz-kit-examples`).

* c-decoder: the C decoder under clang's libFuzzer (-fsanitize=fuzzer,address), linked with
  libhandshake_mutator.so (its LLVMFuzzerCustomMutator/CustomCrossOver) and checked against
  hh_decode. Its bug: a heap-buffer-overflow in plan_stream.
* rust-decoder: the Rust decoder under cargo-fuzz (nightly), fuzz_mutator! calling the
  handshake-mutator crate, checked against handshake_mutator::decode. Its bug: a subtraction
  overflow in plan().
* afl (with --afl): the C target built by afl-clang-fast runs for a few seconds under afl-fuzz with
  the library as its only mutator (AFL_CUSTOM_MUTATOR_ONLY); it must load it and run inputs.

Each libFuzzer run starts from the kit (`harness fuzz-kit --family mediastream`: the corpus of
mediastream.datagram and its dictionary) with a fixed -seed and a bounded -runs. A run that ends
without its planted bug — no crash, another crash, or a differential finding (the example decoder
and the reference disagree: the examples are written so that only the planted bug can be found) —
fails the script with the tail of its log. A missing tool fails it too, saying what to install.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FORMAT = "mediastream.datagram"
INCLUDE = ROOT / "harness" / "mutator" / "include"
C_DIR = HERE / "c-decoder"
RUST_DIR = HERE / "rust-decoder"

# What each example's planted bug looks like in its log.
C_BUG = re.compile(r"AddressSanitizer: heap-buffer-overflow[\s\S]*plan_stream")
RUST_BUG = re.compile(r"attempt to subtract with overflow")
DIFFERENTIAL = re.compile(r"DIFFERENTIAL|differential:")


class Miss(Exception):
    """An example missed its bug, or could not run."""


def need(tool, install):
    if shutil.which(tool) is None:
        raise Miss(f"{tool} is not installed ({install}); the fuzz kit's examples need it")


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, **kwargs)


def make_kit(harness, work):
    """The media stream's kit: WORK/kit/mediastream.datagram/{corpus,*.dict}."""
    kit = work / "kit"
    shutil.rmtree(kit, ignore_errors=True)
    run([str(harness), "fuzz-kit", "--family", "mediastream", "--out", str(kit)],
        stdout=subprocess.DEVNULL)
    corpus = kit / FORMAT / "corpus"
    dictionary = kit / FORMAT / f"{FORMAT}.dict"
    if not corpus.is_dir() or not dictionary.is_file():
        raise Miss(f"harness fuzz-kit wrote no {corpus} or {dictionary}")
    return corpus, dictionary


def build_c(lib_dir, out, cc="clang", sanitize="fuzzer,address", dlopen_reference=False,
            sources=None, optimise="-O1"):
    """The C example's libFuzzer target (or `sources` built against the library). With
    dlopen_reference the library is loaded at run time for hh_decode alone, so libFuzzer does not
    see its mutator (the plain baseline of the benchmark)."""
    need(cc, "apt-get install -y clang libclang-rt-14-dev")
    out.parent.mkdir(parents=True, exist_ok=True)
    if sources is None:
        sources = [C_DIR / "ms_decoder.c", C_DIR / "fuzz_ms_decoder.c"]
    cmd = [cc, "-g", optimise, "-Wall", "-Wextra", "-I", str(INCLUDE), "-I", str(C_DIR),
           *map(str, sources), "-o", str(out)]
    if sanitize:
        cmd.append(f"-fsanitize={sanitize}")
    if dlopen_reference:
        cmd += [f'-DHH_DLOPEN="{lib_dir / "libhandshake_mutator.so"}"', "-ldl"]
    else:
        cmd += ["-L", str(lib_dir), "-lhandshake_mutator", f"-Wl,-rpath,{lib_dir}"]
    try:
        run(cmd)
    except subprocess.CalledProcessError as e:
        raise Miss(f"{cc} could not build {out.name} (is libFuzzer installed? "
                   f"apt-get install -y libclang-rt-14-dev): {e}") from e
    return out


def libfuzzer_args(seed, runs, dictionary, artifacts):
    args = [f"-seed={seed}", f"-runs={runs}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
    if dictionary is not None:
        args.append(f"-dict={dictionary}")
    return args


def check(name, proc, log, bug, elapsed):
    tail = "\n".join(log.splitlines()[-40:])
    if DIFFERENTIAL.search(log):
        raise Miss(f"{name}: a differential finding, not the planted bug:\n{tail}")
    if proc.returncode == 0:
        raise Miss(f"{name}: missed the planted bug (the run ended without a crash):\n{tail}")
    if not bug.search(log):
        raise Miss(f"{name}: crashed, but not on the planted bug (exit {proc.returncode}):\n{tail}")
    execs = re.findall(r"^#(\d+)", log, re.M)
    print(f"{name}: found the planted bug in {elapsed:.1f} s"
          + (f" (after ~{execs[-1]} execs)" if execs else ""))


def run_c(lib_dir, work, corpus, dictionary, seed, runs):
    target = build_c(lib_dir, work / "c" / "fuzz_ms_decoder")
    new = work / "c" / "corpus"
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    env = dict(os.environ, HANDSHAKE_FORMAT=FORMAT)
    cmd = [str(target), *libfuzzer_args(seed, runs, dictionary, work / "c"), str(new), str(corpus)]
    print("+ HANDSHAKE_FORMAT=" + FORMAT + " " + " ".join(cmd), flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace")
    log = proc.stdout
    (work / "c" / "fuzz.log").write_text(log)
    if "LLVMFuzzerCustomMutator" not in log:
        raise Miss("c-decoder: libFuzzer did not pick up the library's LLVMFuzzerCustomMutator")
    check("c-decoder", proc, log, C_BUG, time.monotonic() - start)


def run_rust(work, corpus, dictionary, seed, runs):
    need("cargo", "rustup")
    toolchains = subprocess.run(["rustup", "toolchain", "list"], stdout=subprocess.PIPE, text=True)
    if "nightly" not in toolchains.stdout:
        raise Miss("the nightly toolchain is not installed (rustup toolchain install nightly); "
                   "cargo-fuzz needs it")
    need("cargo-fuzz", "cargo install cargo-fuzz --locked")
    new = work / "rust" / "corpus"
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    cmd = ["cargo", "+nightly", "fuzz", "run", "--fuzz-dir", str(RUST_DIR), "decoder", str(new),
           str(corpus), "--", *libfuzzer_args(seed, runs, dictionary, work / "rust")]
    print("+ " + " ".join(cmd), flush=True)
    # The build first, so that the time is the campaign's.
    run(cmd[:3] + ["build", "--fuzz-dir", str(RUST_DIR), "decoder"], cwd=RUST_DIR)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=RUST_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace")
    (work / "rust" / "fuzz.log").write_text(proc.stdout)
    check("rust-decoder", proc, proc.stdout, RUST_BUG, time.monotonic() - start)


def run_afl(lib_dir, work, corpus, seconds):
    need("afl-fuzz", "apt-get install -y afl++")
    need("afl-clang-fast", "apt-get install -y afl++")
    afl = work / "afl"
    shutil.rmtree(afl, ignore_errors=True)
    target = build_c(lib_dir, afl / "fuzz_ms_decoder", cc="afl-clang-fast", sanitize="fuzzer")
    # AFL++ wants small seeds that do not crash: the kit's valid inputs, as they are.
    seeds = afl / "in"
    seeds.mkdir()
    for f in sorted(corpus.iterdir()):
        if not f.name.startswith("invalid-") and f.stat().st_size <= 1024:
            shutil.copy(f, seeds / f.name)
    env = dict(os.environ, HANDSHAKE_FORMAT=FORMAT, AFL_NO_UI="1", AFL_SKIP_CPUFREQ="1",
               AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1", AFL_NO_AFFINITY="1", AFL_QUIET="1",
               AFL_CUSTOM_MUTATOR_ONLY="1",
               AFL_CUSTOM_MUTATOR_LIBRARY=str(lib_dir / "libhandshake_mutator.so"))
    cmd = ["afl-fuzz", "-i", str(seeds), "-o", str(afl / "out"), "-V", str(seconds), "--", str(target)]
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", timeout=seconds + 60)
    (afl / "afl.log").write_text(proc.stdout)
    stats = afl / "out" / "default" / "fuzzer_stats"
    fields = dict(
        (k.strip(), v.strip()) for k, v in
        (line.split(":", 1) for line in stats.read_text().splitlines() if ":" in line)
    ) if stats.is_file() else {}
    loaded = "Loading custom mutator library" in proc.stdout
    execs = int(fields.get("execs_done", "0"))
    if proc.returncode != 0 or not loaded or execs <= len(list(seeds.iterdir())):
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise Miss(f"afl++: the custom mutator did not run (exit {proc.returncode}, loaded {loaded}, "
                   f"{execs} execs):\n{tail}")
    crashes = fields.get("saved_crashes", fields.get("unique_crashes", "?"))
    print(f"afl++: loaded libhandshake_mutator.so as its only mutator, {execs} execs in {seconds} s, "
          f"{crashes} crashes saved")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--harness", required=True, type=Path, help="the harness binary (for fuzz-kit)")
    p.add_argument("--lib-dir", required=True, type=Path, help="the directory of libhandshake_mutator.so")
    p.add_argument("--work", required=True, type=Path, help="where builds, corpora and logs go")
    p.add_argument("--seed", type=int, default=1, help="libFuzzer's -seed")
    p.add_argument("--runs", type=int, default=200_000, help="libFuzzer's -runs: the budget per example")
    p.add_argument("--only", choices=["c", "rust"], help="one example")
    p.add_argument("--afl", type=int, metavar="SECONDS", default=0,
                   help="also run the AFL++ check for this many seconds")
    a = p.parse_args()
    work = a.work.resolve()
    lib_dir = a.lib_dir.resolve()
    if not (lib_dir / "libhandshake_mutator.so").is_file():
        sys.exit(f"no libhandshake_mutator.so in {lib_dir} (cargo build -p handshake-mutator)")
    failures = []
    try:
        corpus, dictionary = make_kit(a.harness, work)
    except (Miss, subprocess.CalledProcessError) as e:
        sys.exit(f"fuzz-kit-examples: {e}")
    steps = []
    if a.only in (None, "c"):
        steps.append(lambda: run_c(lib_dir, work, corpus, dictionary, a.seed, a.runs))
    if a.only in (None, "rust"):
        steps.append(lambda: run_rust(work, corpus, dictionary, a.seed, a.runs))
    if a.afl:
        steps.append(lambda: run_afl(lib_dir, work, corpus, a.afl))
    for step in steps:
        try:
            step()
        except (Miss, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            print(f"FAILED: {e}", file=sys.stderr)
            failures.append(e)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
