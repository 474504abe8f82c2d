#!/usr/bin/env python3
"""Every server-side mutant of external implementations, found (or not) by `harness learn --diff`
alone: no scenario library, only the model learned over real UDP and the rules.

For each manifest given, each mutant whose description says it is the responder's or the
server's is learned with `--fail-fast` and diffed with the reference of the manifest's first
profile (or of the profile a part asks for), over each of the family's alphabets in turn until
one finds it (`ATTEMPTS`), untimed first (`--untimed`: no `wait`, seconds to a minute), then
whole: the media stream's handshake, its START served (D9's option, untimed), a legacy push receiver (untimed), then its push direction, its D14 options and its session
limit; Proton's server, then its project options (P1, P4), its timers brought within short
waits, P2's push, its startup delay (before any wait) and its idle timeout within short waits; Dark Tower's part the description names (`controller, ...` or `handler, ...`), then a
handler's v2 datagrams. A mutant is *found* when a run (`--strict-profile`: a deviation from
this project's decisions the unmutated program does not show counts) exits 1 (a violating
difference, or a rule broken on a learned transition) and a scenario it wrote to `differences/` breaks a check on the
mutant that the unmutated program keeps; it is listed with how, the states and the time. Writes
OUT/summary.md and OUT/summary.json; exit 0 when every run ran (found or not), 2 on bad input or
a run that could not learn. `--parallel N` learns N mutants at once (a learner mostly waits on
its windows); `--quick` leaves out the whole timed alphabets (hours: a fleet's job); `--initiators` adds the
initiators' mutants (the media stream's initiator, Proton's client), learned over their alphabets.

    learn_mutants.py --harness target/release/harness --out reports/learn/mutants MANIFEST...
"""

import argparse
import concurrent.futures
import json
import pathlib
import subprocess
import sys
import time

# Each family's reference per manifest profile, and its parts (`--part`) to learn.
REFERENCES = {
    "mediastream": lambda profile: f"ref:{profile}",
    "proton": lambda profile: f"ref:{profile}",
    "darktower": lambda profile: f"ref:{profile}",
}
# Each family's attempts in turn: (part, untimed, the reference's profile, quick). A part of None
# is the one the mutant's description names (Dark Tower's), or the role's only one; a profile of
# None is the manifest's first (a part whose setup asks for another profile's features is diffed
# with that profile's reference). A quick attempt takes minutes: the untimed alphabets, and the
# timed ones whose timers are brought within a few short waits.
ATTEMPTS = {
    "mediastream": [("handshake", True, None, True), ("legacy_start", True, "3way+allow_legacy_start", True),
                    ("legacy_push", True, "legacy", True),
                    ("handshake", False, None, False),
                    ("push", False, None, False), ("options", False, None, False),
                    ("limit", False, None, False)],
    "proton": [(None, True, None, True), ("options", True, "project", True),
               ("timers", False, "project", True), ("push", True, "project", True),
               ("startup", True, None, True), ("idle", False, None, True),
               (None, False, None, False)],
    "darktower": [(None, True, None, True), ("handler-v2", True, "v2", True),
                  (None, False, None, False)],
}
# The initiators' (`--initiators`), learned on a fresh process per query: the media stream's (its
# 3-way handshake untimed; the legacy, udp_push and legacy push initiators' re-sends over a few
# waits; its 3-way push untimed; then the 3-way handshake whole), Proton's client and Dark Tower's
# (v1, then v2: their alphabets have no wait).
INITIATOR_ATTEMPTS = {
    "mediastream": [(None, True, None, True), ("legacy", False, "legacy", True),
                    ("udp_push", False, "udp_push", True), ("legacy_push", False, "legacy", True),
                    ("push", True, None, True), (None, False, None, False)],
    "proton": [(None, False, None, True)],
    "darktower": [(None, False, None, True), ("v2", False, "v2", True)],
}
SERVER_SIDE = ("responder,", "server,", "controller,", "handler,")
INITIATOR_SIDE = ("initiator,", "client,")
PARTS = {"controller,": "controller", "handler,": "handler"}


def learn(harness, iut, reference, out, part=None, untimed=False, jobs=None, role=None):
    # A mutant breaking one of this project's decisions only deviates from the reading: held to
    # the whole reading, as the replays below are (a check the unmutated program breaks too is
    # its own reading, not the mutant's: `harness learn` compares the two).
    args = [harness, "learn", "--iut", iut, "--diff", reference, "--out", str(out), "--fail-fast",
            "--strict-profile"]
    if part:
        args += ["--part", part]
    if untimed:
        args.append("--untimed")
    if role:
        args += ["--role", role]
    if jobs:
        args += ["--jobs", str(jobs)]
    started = time.monotonic()
    run = subprocess.run(args, capture_output=True, text=True)
    seconds = time.monotonic() - started
    summary = {}
    try:
        summary = json.loads((out / "learn.json").read_text())
    except (OSError, ValueError):
        pass
    return run, seconds, summary


def broken_checks(results):
    """The checks a `harness run --strict-profile` broke, from its results.json: `rule ID`, `step
    N`, or the reason itself (as `ScenarioOutcome::broken_checks` keys them)."""
    checks = set()
    for r in results.get("results", []):
        reasons = r.get("reasons", [])
        failing = (reasons[:r["causes"]] if r.get("causes") else reasons) if r.get("status") == "fail" else []
        for reason in failing + r.get("deviations", []):
            if reason.startswith("rule "):
                checks.add(" ".join(reason.split()[:2]))
            elif reason.startswith("step ") and reason.split()[1].rstrip(":").isdigit():
                checks.add("step " + reason.split()[1].rstrip(":"))
            else:
                checks.add(reason)
    return checks


def replays(harness, iut, program, out):
    """Whether a scenario written to `differences/` breaks a check on the mutant that the
    unmutated program keeps (both held to the whole reading, as `harness learn` holds a mutant):
    the mutant's doing, not the program's own reading (a program deviating from a decision
    everywhere would hide every mutant if whole verdicts were compared). Returns that and how
    many were written."""
    found = sorted((out / "differences").glob("*.json")) if (out / "differences").is_dir() else []

    def broke(scenario, who, name):
        report = out / "replay" / name
        # A program that did not start in time (the sweep's other learners load the machine)
        # judged nothing: asked again, up to three times.
        for _ in range(3):
            subprocess.run([harness, "run", str(scenario), "--iut", who, "--strict-profile",
                            "--report", str(report)], capture_output=True)
            try:
                results = json.loads((report / "results.json").read_text())
            except (OSError, ValueError):
                return set()
            checks = broken_checks(results)
            if not any("was not ready" in c for c in checks):
                return checks
        return checks

    def mutants_own(scenario):
        return bool(broke(scenario, iut, "mutant") - broke(scenario, program, "program"))

    return any(mutants_own(s) for s in found), len(found)


def sweep(a, manifest, m, family, first_reference, name, description):
    """Learns one mutant over each alphabet in turn until one finds it: its summary row."""
    iut = f"{manifest}!{name}"
    label = f"{m['name']}!{name}"
    row = {"mutant": label, "description": description, "found": False}
    total = 0.0
    named = next((part for prefix, part in PARTS.items() if description.startswith(prefix)), None)
    role = "initiator" if description.startswith(INITIATOR_SIDE) else None
    attempts = INITIATOR_ATTEMPTS[family] if role else ATTEMPTS[family]
    for k, (part, untimed, profile, quick) in enumerate(attempts):
        if a.quick and not quick:
            continue
        # Dark Tower's v2 handler is a handler's: a controller's mutant is not sought there.
        if part and named and not part.startswith(named):
            continue
        part = part or named
        reference = REFERENCES[family](profile) if profile else first_reference
        out = a.out / m["name"] / f"{name}-{k + 1}"
        run, seconds, summary = learn(a.harness, iut, reference, out, part, untimed, a.jobs, role)
        total += seconds
        row.update(
            seconds=round(total, 1),
            states=(summary.get("model") or {}).get("states"),
            queries=(summary.get("model") or {}).get("membership_queries"),
            alphabet=(part or "whole") + (" untimed" if untimed else ""),
            exit=run.returncode,
        )
        if run.returncode == 2 and ("takes no {" in run.stderr or "(unsupported)" in run.stderr):
            # A part whose setup the program's command line cannot be told (a contract it does
            # not offer, e.g. Proton's push interval), or that it says it does not implement
            # (its unsupported exit code: the stranger's media stream pushes only after a legacy
            # START): not an attempt on it.
            continue
        if run.returncode == 2 or not summary:
            row["error"] = (run.stderr or run.stdout).strip().splitlines()[-1:]
            break
        if run.returncode == 1:
            ok, n = replays(a.harness, iut, str(manifest), out)
            row.update(found=ok, scenarios=n, replays=ok,
                       differences=len(summary.get("differences", [])))
            if ok:
                break
        row["differences"] = len(summary.get("differences", []))
    status = "found" if row["found"] else ("error" if "error" in row else "not found")
    print(f"{label}: {status} ({row['seconds']} s, {row.get('alphabet')})", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--harness", required=True)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--only", help="only mutants whose name contains one of these (comma-separated)")
    parser.add_argument("--parallel", type=int, default=1, help="mutants learned at once")
    parser.add_argument("--jobs", type=int, help="each learner's queries at once (harness learn --jobs)")
    parser.add_argument("--quick", "--untimed-only", action="store_true",
                        help="only the attempts of minutes (the untimed alphabets, and the timers "
                             "brought within short waits): the whole timed alphabets are left out")
    parser.add_argument("--initiators", action="store_true",
                        help="the initiators' mutants too, where the family has an initiator "
                             "alphabet (the media stream's)")
    parser.add_argument("manifests", nargs="+", type=pathlib.Path)
    a = parser.parse_args()
    tasks = []
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
        default_profile = "3way" if family == "mediastream" else "v1"
        reference = REFERENCES[family]((m.get("profiles") or [default_profile])[0])
        for name, description in sorted(m.get("mutants", {}).items()):
            wanted = not a.only or any(part in name for part in a.only.split(","))
            side = description.startswith(SERVER_SIDE) or (
                a.initiators and family in INITIATOR_ATTEMPTS
                and description.startswith(INITIATOR_SIDE))
            if side and wanted:
                tasks.append((a, manifest, m, family, reference, name, description))
    rows = []
    # The summary is rewritten as each mutant ends: an interrupted sweep keeps what it found.
    with concurrent.futures.ThreadPoolExecutor(max(1, a.parallel)) as pool:
        for row in concurrent.futures.as_completed([pool.submit(sweep, *t) for t in tasks]):
            rows.append(row.result())
            write_summary(a.out, sorted(rows, key=lambda r: r["mutant"]), len(tasks))
    print((a.out / "summary.md").read_text() if rows else "no mutant to learn")
    return 2 if any("error" in r for r in rows) else 0


def write_summary(out, rows, planned):
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(rows, indent=1) + "\n")
    found = sum(r["found"] for r in rows)
    lines = [
        f"# Mutants found by `harness learn --diff` alone: {found} of {len(rows)}"
        + ("" if len(rows) == planned else f" (of {planned} planned)"),
        "",
        "| mutant | found | alphabet | states | seconds | scenarios replay |",
        "|---|---|---|---:|---:|---|",
    ]
    for r in rows:
        replay = "" if not r["found"] else ("yes" if r.get("replays") else "no")
        what = "yes" if r["found"] else ("error" if "error" in r else
                                         f"no ({r.get('differences', 0)} differences, no violation)")
        lines.append(f"| {r['mutant']} | {what} | {r.get('alphabet', '')} | {r.get('states') or ''} "
                     f"| {r['seconds']} | {replay} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
