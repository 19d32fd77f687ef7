#!/usr/bin/env python3
"""Checks the log of a Godot run: a headless Godot test (scripts/harness/godot_tests.sh), the
conformance echo server, the addon checks.

    godot_log_check.py [--test] LOG

Prints the problems found, one a line; prints nothing when the log is clean. Problems:
- a `SCRIPT ERROR:`; an error or warning of ours that names no call (`<unset>`);
- an `ERROR:` line, unless it is inside an expected region and matches the region's pattern;
- a Rust panic (`panicked at`, with the message on the line after it), unless inside a region
  that names it (only the fault-injection test does);
- a leak: objects or resources left at exit, orphan StringNames (`--verbose` runs name them);
- key material written to disk: our warning that Godot saved a key's PEM to a file instead of
  memory (rust/godot/tls.rs), unless a region expects it;
- a region that is not closed, is nested, names no pattern, asks for fewer than one line of a
  kind it names, or got fewer lines of a kind than it asked for;
- with --test: no final `PASS: N checks` line with N > 0 (a test that checked nothing, or did not
  get to the end), unless the test said `SKIP: <why>`.

Regions (printed by godot_project/tests/lib/test_case.gd):
    @@EXPECT_BEGIN {"label": L, "error": [REGEX, MIN], "warning": [REGEX, MIN], "panic": [REGEX, MIN]}
    @@EXPECT_END {"label": L}
Each kind is optional, but a region names at least one; every kind it names must appear at least
MIN (>= 1) times between the two lines. Warnings that match no region are not problems (Godot
prints some of its own); errors that match no region are.
"""
import json
import re
import sys

BEGIN = "@@EXPECT_BEGIN "
END = "@@EXPECT_END "
KINDS = ("error", "warning", "panic")
LEAK = re.compile(r"leaked at exit|Leaked instance|Orphan StringName|unclaimed string names"
                  r"|Resources still in use at exit|resources still in use at exit")
PASS = re.compile(r"^PASS: (\d+) checks")
KEY_ON_DISK = re.compile(r"^WARNING: WebSocketServer\.listen: .* wrote the key's PEM to a file")


def problems(lines, test=False):
    region = None  # {"label": ..., kind: [regex, min]}
    counts = {}
    passed_checks = None
    skipped = False
    lines = [line.rstrip("\n") for line in lines]
    for i, line in enumerate(lines):
        if line.startswith(BEGIN):
            if region is not None:
                yield f'expected region "{line}" opened inside "{region["label"]}"'
            try:
                region = json.loads(line[len(BEGIN):])
            except ValueError:
                yield "unreadable region: " + line
                region = None
                continue
            counts = {kind: 0 for kind in KINDS}
            named = [kind for kind in KINDS if kind in region]
            if not named:
                yield f'region "{region["label"]}" names no error, warning or panic it expects'
            for kind in named:
                if int(region[kind][1]) < 1:
                    yield (f'region "{region["label"]}" expects at least {region[kind][1]} {kind}'
                           " line(s): a region expects one at least (open it only where the"
                           " line must appear)")
            continue
        if line.startswith(END):
            if region is None:
                yield "region closed that was not open: " + line
                continue
            for kind in KINDS:
                if kind in region and counts[kind] < int(region[kind][1]):
                    yield (f'expected at least {region[kind][1]} {kind} line(s) matching '
                           f'{region[kind][0]!r} for "{region["label"]}", got {counts[kind]}')
            region = None
            continue

        def expected(kind, text):
            if region is not None and kind in region and re.search(region[kind][0], text):
                counts[kind] += 1
                return True
            return False

        if "SCRIPT ERROR:" in line:
            yield "script error: " + line
        elif re.match(r"(ERROR|WARNING): <unset>:", line):
            yield "message naming no call (use rust/godot/log.rs): " + line
        elif line.startswith("ERROR:"):
            if not expected("error", line):
                yield ("unexpected (does not match the region's pattern): " if region is not None
                       else "unexpected: ") + line
        elif LEAK.search(line):  # before WARNING: Godot's leak report is a WARNING line
            yield "leak: " + line
        elif line.startswith("WARNING:"):
            if not expected("warning", line) and KEY_ON_DISK.search(line):
                yield "key material went to disk: " + line
        elif "panicked at" in line:
            message = lines[i + 1] if i + 1 < len(lines) else ""
            if not expected("panic", line + "\n" + message):
                yield f"rust panic: {line} {message}"
        elif PASS.match(line):
            passed_checks = int(PASS.match(line).group(1))
        elif line.startswith("SKIP: "):
            skipped = True
    if region is not None:
        yield f'unterminated expected region "{region["label"]}"'
    if test and not skipped and not passed_checks:
        yield ("no check ran (PASS: 0 checks)" if passed_checks == 0
               else "the test did not print PASS: N checks")


def main():
    args = sys.argv[1:]
    test = False
    while args and args[0].startswith("--"):
        if args[0] == "--test":
            test = True
            args = args[1:]
        else:
            sys.exit(f"godot_log_check: unknown option {args[0]}")
    with open(args[0], errors="replace") as f:
        for problem in problems(f, test):
            print(problem)


if __name__ == "__main__":
    main()
