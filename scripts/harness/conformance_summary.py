#!/usr/bin/env python3
"""Summary of a conformance run (scripts/harness/conformance.sh): reads kosoku's reports.

    conformance_summary.py OUT "EMPTY MESSAGE CASES"

OUT holds godot/index.json and engine/index.json. Prints the counts per server and section, each
failed case and whose it is, and the totals; exits 1 if a failure is ours (any but the cases made
only of empty messages under Godot, when the engine passes them).
"""
import collections, json, os, sys

out, empty_cases = sys.argv[1], set(sys.argv[2].split())
KINDS = ["OK", "NON-STRICT", "INFORMATIONAL", "FAILED"]

def load(name):
    with open(os.path.join(out, name, "index.json")) as f:
        index = json.load(f)
    (cases,) = index.values()
    return {case: result["behavior"] for case, result in cases.items()}

runs = {name: load(name) for name in ("godot", "engine")}
ours = []
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
        godot_limit = (name == "godot" and case in empty_cases
                       and runs["engine"].get(case) == "OK")
        why = "not ours: Godot's PacketPeer.put_packet() drops empty packets" if godot_limit else "OURS"
        print(f"  {name} {case}: {behavior} ({why})")
        if not godot_limit:
            ours.append(f"{name} {case}")
failed = overall["FAILED"]
passed = sum(overall.values()) - failed
print(f"conformance: {passed} cases passed, {failed} failed, "
      + (f"{len(ours)} of them ours" if ours else "none of them ours"))
sys.exit(1 if ours else 0)
