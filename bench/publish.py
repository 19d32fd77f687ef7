#!/usr/bin/env python3
"""Publishes a full benchmark run (bench/run.py --json) between the lines
<!-- results:begin --> and <!-- results:end --> of two Markdown files (everything else in them
is left as it is):

- README.md: the headline rows (the README shows docs/benchmarks.png after them);
- docs/benchmarks.md: the machine, the run's settings and every row.

    bench/publish.py RESULTS.json README.md docs/benchmarks.md
"""
import json
import sys

from run import table

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
COMMAND = "bash scripts/bench.sh"

# The README's rows: the numbers a user switching from the built-in class asks about first.
HEADLINE = {
    "hold_10k": ["main_cpu_pct", "rss_per_conn_kb", "connect_p99_ms"],
    "echo": ["msgs_per_s"],
    "echo_busy": ["msgs_per_s"],
    "echo_60fps": ["msgs_per_s", "p99_ms"],
    "bulk_busy": ["mb_per_s"],
    "rtt": ["p50_ms"],
    "broadcast_1k": ["deliveries_per_s"],
    "relay": ["p50_ms"],
    "relay_60fps": ["p50_ms"],
    "relay_load": ["relays_per_s"],
    "handshake_wss": ["handshakes_per_s"],
    "echo_wss": ["msgs_per_s"],
    "bulk_busy_wss": ["mb_per_s"],
}


def replace_section(path, body):
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{path} has no {BEGIN} ... {END} section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(f"{head}{BEGIN}\n{body.strip()}\n{END}{tail}")


def main():
    results_path, readme_path, docs_path = sys.argv[1:4]
    with open(results_path) as f:
        data = json.load(f)
    scenarios, results, m = data["scenarios"], data["results"], data["machine"]
    setting = (f"{m['date']}: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, Godot "
               f"{m['godot']}; server pinned to one core, load generator to the other; medians "
               f"of {data['runs']} runs of {data['secs']:g} s each.")
    replace_section(readme_path, "\n\n".join([
        table(results, scenarios, HEADLINE),
        f"Measured {setting} Every scenario, the method and the engine-alone numbers: "
        f"[docs/benchmarks.md](docs/benchmarks.md). Regenerate with `{COMMAND}`.",
    ]))
    replace_section(docs_path, "\n\n".join([
        f"Measured {setting} The whole run took {data['elapsed_secs'] / 60:.1f} minutes.",
        table(results, scenarios),
        "![gdws vs the built-in WebSocketServer](benchmarks.png)",
    ]))


if __name__ == "__main__":
    main()
