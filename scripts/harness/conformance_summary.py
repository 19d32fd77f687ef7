#!/usr/bin/env python3
"""Summary of a conformance run (scripts/harness/conformance.sh): reads kosoku's reports.

    conformance_summary.py OUT CASES godot=RC engine=RC

OUT holds godot/index.json and engine/index.json; CASES is how many cases each run ran; RC is
kosoku's exit code for that run. Prints the counts per server and section, each failed case, and
the totals; exits 1 on any failed case, if a run reported fewer or more cases than it ran, or if
kosoku's exit code disagrees with its report (0 with a failed case, or 1 without one).
"""
import collections, json, os, sys

out, want_cases = sys.argv[1], int(sys.argv[2])
kosoku_rc = dict(arg.split("=") for arg in sys.argv[3:])
KINDS = ["OK", "NON-STRICT", "INFORMATIONAL", "FAILED"]
ours = []

def load(name):
    try:
        with open(os.path.join(out, name, "index.json")) as f:
            index = json.load(f)
        (cases,) = index.values()
        return {case: result["behavior"] for case, result in cases.items()}
    except (OSError, ValueError) as error:
        ours.append(f"{name}: no report ({error})")
        return {}

runs = {name: load(name) for name in ("godot", "engine")}
for name, cases in runs.items():
    if len(cases) != want_cases:
        ours.append(f"{name}: {len(cases)} cases reported, {want_cases} run")
overall = collections.Counter()
for name, cases in runs.items():
    totals = collections.Counter()
    sections = collections.defaultdict(collections.Counter)
    for case, behavior in cases.items():
        kind = behavior if behavior in KINDS else "FAILED"
        totals[kind] += 1
        sections[case.split(".")[0]][kind] += 1
    overall += totals
    print(f"{name}: {len(cases)} cases: {totals['OK']} passed, {totals['NON-STRICT']} non-strict, "
          f"{totals['INFORMATIONAL']} informational, {totals['FAILED']} failed")
    for section in sorted(sections, key=int):
        counts = " | ".join(str(sections[section][k]) for k in KINDS)
        print(f"conformance: {name} | {section} | {counts}")
    for case, behavior in sorted(cases.items()):
        if behavior in ("OK", "NON-STRICT", "INFORMATIONAL"):
            continue
        print(f"  {name} {case}: {behavior}")
        ours.append(f"{name} {case}")
    any_failed = totals["FAILED"] > 0
    rc = kosoku_rc.get(name)
    if rc not in (None, "1" if any_failed else "0"):
        ours.append(f"{name}: kosoku exited with {rc} but reported {totals['FAILED']} failed cases")
failed = overall["FAILED"]
passed = sum(overall.values()) - failed
for problem in ours:
    if not problem.startswith(("godot ", "engine ")):
        print(f"conformance: FAIL: {problem}")
print(f"conformance: {passed} cases passed, {failed} failed")
sys.exit(1 if ours else 0)
