#!/usr/bin/env python3
"""Writes scenario JSON in the library's layout: top-level keys one per line, `peer.steps` and
`faults` one item per line, `expect` one key per line, everything else compact.

    python3 vectors/tools/scenario_format.py FILE...     # reformat in place
"""
import json
import sys

ORDER = ["$schema", "id", "title", "protocol", "profile", "decisions", "rules", "tags", "iut",
         "stream", "peer", "faults", "expect", "seed", "settle_ms"]


def compact(v):
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{json.dumps(k)}: {compact(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v):
            return "[ " + ", ".join(compact(x) for x in v) + " ]"
        return "[" + ", ".join(compact(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def dumps(s):
    keys = [k for k in ORDER if k in s] + [k for k in s if k not in ORDER]
    lines = []
    for k in keys:
        v = s[k]
        if k == "peer" and v.get("steps"):
            inner = []
            for pk, pv in v.items():
                if pk == "steps":
                    steps = ",\n".join(f"      {compact(st)}" for st in pv)
                    inner.append(f'    "steps": [\n{steps}\n    ]')
                else:
                    inner.append(f"    {json.dumps(pk)}: {compact(pv)}")
            lines.append('  "peer": {\n' + ",\n".join(inner) + "\n  }")
        elif k == "expect" and isinstance(v, dict) and v:
            inner = ",\n".join(f"    {json.dumps(ek)}: {compact(ev)}" for ek, ev in v.items())
            lines.append('  "expect": {\n' + inner + "\n  }")
        else:
            lines.append(f"  {json.dumps(k)}: {compact(v)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            s = json.load(f)
        with open(path, "w", encoding="utf-8") as f:
            f.write(dumps(s))
