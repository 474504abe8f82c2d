#!/usr/bin/env python3
"""Every server-side mutant of external implementations, found (or not) by `harness learn --diff`
alone: no scenario library, only the model learned over real UDP and the rules.

For each manifest given, each mutant whose description says it is the responder's or the
server's is learned and diffed with the reference of the manifest's first profile, over each of
the family's alphabets in turn until one finds it: the media stream's handshake untimed first (no
`wait`: seconds), then whole, then its push direction, its D14 options and its session limit; Dark Tower's
controller, then its handler. A mutant is *found* when a run exits 1 (a violating difference, or a rule broken on a learned
transition) and its scenarios in `differences/` replay; it is listed with how, the states and
the time. Writes OUT/summary.md and OUT/summary.json; exit 0 when every run ran (found or not),
2 on bad input or a run that could not learn.

    learn_mutants.py --harness target/release/harness --out reports/learn/mutants MANIFEST...
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

# Each family's reference per manifest profile, and its parts (`--part`) to learn.
REFERENCES = {
    "mediastream": lambda profile: "ref:3way",
    "proton": lambda profile: f"ref:{profile}",
    "darktower": lambda profile: f"ref:{profile}",
}
# Each family's (part, inputs) to try in turn (inputs None: the part's whole alphabet).
ATTEMPTS = {
    "mediastream": [("handshake", "syn,syn_v2,ack,ack_other,start,stray_syn_ack"),
                    ("handshake", None), ("push", None), ("options", None), ("limit", None)],
    "proton": [(None, None)],
    "darktower": [("controller", None), ("handler", None)],
}
SERVER_SIDE = ("responder,", "server,", "controller,", "handler,")


def learn(harness, iut, reference, out, part=None, inputs=None):
    args = [harness, "learn", "--iut", iut, "--diff", reference, "--out", str(out)]
    if part:
        args += ["--part", part]
    if inputs:
        args += ["--inputs", inputs]
    started = time.monotonic()
    run = subprocess.run(args, capture_output=True, text=True)
    seconds = time.monotonic() - started
    summary = {}
    try:
        summary = json.loads((out / "learn.json").read_text())
    except (OSError, ValueError):
        pass
    return run, seconds, summary


def replays(harness, iut, out):
    """Each written difference fails the mutant when replayed with `harness run`."""
    found = sorted((out / "differences").glob("*.json")) if (out / "differences").is_dir() else []
    for scenario in found:
        run = subprocess.run([harness, "run", str(scenario), "--iut", iut, "--report", str(out / "replay")],
                             capture_output=True)
        if run.returncode != 1:
            return False, len(found)
    return True, len(found)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--harness", required=True)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--only", help="only mutants whose name contains this")
    parser.add_argument("manifests", nargs="+", type=pathlib.Path)
    a = parser.parse_args()
    rows = []
    for manifest in a.manifests:
        try:
            m = json.loads(manifest.read_text())
        except (OSError, ValueError) as e:
            print(f"{manifest}: {e}", file=sys.stderr)
            return 2
        family = m.get("protocol", "mediastream")  # the default family of a manifest
        if family not in REFERENCES:
            print(f"{manifest}: no reference for protocol {family!r}", file=sys.stderr)
            return 2
        reference = REFERENCES[family]((m.get("profiles") or ["v1"])[0])
        for name, description in sorted(m.get("mutants", {}).items()):
            if not description.startswith(SERVER_SIDE) or (a.only and a.only not in name):
                continue
            iut = f"{manifest}!{name}"
            label = f"{m['name']}!{name}"
            row = {"mutant": label, "description": description, "found": False}
            total = 0.0
            for k, (part, inputs) in enumerate(ATTEMPTS[family]):
                out = a.out / m["name"] / f"{name}-{k + 1}"
                run, seconds, summary = learn(a.harness, iut, reference, out, part, inputs)
                total += seconds
                row.update(
                    seconds=round(total, 1),
                    states=summary.get("model", {}).get("states"),
                    queries=summary.get("model", {}).get("membership_queries"),
                    alphabet=(part or "whole") + (" untimed" if inputs else ""),
                    exit=run.returncode,
                )
                if run.returncode == 2 or not summary:
                    row["error"] = (run.stderr or run.stdout).strip().splitlines()[-1:]
                    break
                if run.returncode == 1:
                    ok, n = replays(a.harness, iut, out)
                    row.update(found=True, scenarios=n, replays=ok,
                               differences=len(summary.get("differences", [])))
                    break
                row["differences"] = len(summary.get("differences", []))
            rows.append(row)
            status = "found" if row["found"] else ("error" if "error" in row else "not found")
            print(f"{label}: {status} ({row['seconds']} s, {row.get('alphabet')})", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "summary.json").write_text(json.dumps(rows, indent=1) + "\n")
    found = sum(r["found"] for r in rows)
    lines = [
        f"# Mutants found by `harness learn --diff` alone: {found} of {len(rows)}",
        "",
        "| mutant | found | alphabet | states | seconds | scenarios replay |",
        "|---|---|---|---:|---:|---|",
    ]
    for r in rows:
        replay = "" if not r["found"] else ("yes" if r.get("replays") else "no")
        what = "yes" if r["found"] else ("error" if "error" in r else
                                         f"no ({r.get('differences', 0)} allowed differences)")
        lines.append(f"| {r['mutant']} | {what} | {r.get('alphabet', '')} | {r.get('states') or ''} "
                     f"| {r['seconds']} | {replay} |")
    (a.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 2 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
