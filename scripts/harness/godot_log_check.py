#!/usr/bin/env python3
"""Checks the log of one headless Godot test (run by scripts/harness/godot_tests.sh).

    godot_log_check.py LOG

Prints the problems found, one a line; prints nothing when the log is clean. Problems: a
`SCRIPT ERROR:`, an error or warning of ours that names no call (`<unset>`), an `ERROR:` outside
an expected-errors region, fewer errors in a region than its minimum, a leak, a Rust panic.
Regions are the lines between `@@EXPECT_ERRORS_BEGIN <label>` and `@@EXPECT_ERRORS_END <label>
<min>` (printed by godot_project/tests/lib/test_case.gd).
"""
import re
import sys

BEGIN = "@@EXPECT_ERRORS_BEGIN "
END = "@@EXPECT_ERRORS_END "


def problems(lines):
    region = None
    count = 0
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith(BEGIN):
            region, count = line[len(BEGIN):], 0
            continue
        if line.startswith(END):
            minimum = int(line.split()[-1])
            if count < minimum:
                yield f'expected at least {minimum} ERROR line(s) for "{region}", got {count}'
            region = None
            continue
        if "SCRIPT ERROR:" in line:
            yield "script error: " + line
        elif re.match(r"(ERROR|WARNING): <unset>:", line):
            yield "message naming no call (use rust/godot/log.rs): " + line
        elif line.startswith("ERROR:"):
            if region is not None:
                count += 1
            else:
                yield "unexpected: " + line
        elif re.search(r"leaked at exit|Leaked instance|Orphan StringName", line):
            yield "leak: " + line
        elif "panicked at" in line:
            if region is None:
                yield "rust panic: " + line
    if region is not None:
        yield f'unterminated expected-errors region "{region}"'


def main():
    with open(sys.argv[1], errors="replace") as f:
        for problem in problems(f):
            print(problem)


if __name__ == "__main__":
    main()
