#!/usr/bin/env python3
"""Publishes a full benchmark run (bench/run.py --json) between the lines
<!-- results:begin --> and <!-- results:end --> of two Markdown files (everything else in them
is left as it is):

- README.md: the headline rows (the README shows docs/benchmarks.png after them);
- docs/benchmarks.md: the machine, the run's settings, every row, and the frame-budget series
  (a table per series and the headlines: the largest load that holds 60 fps, and the main
  thread's cost per message).

    bench/publish.py RESULTS.json README.md docs/benchmarks.md
    bench/publish.py --merge SUBSET.json RESULTS.json

--merge puts the scenarios of a partial run (scripts/bench.sh --only=... --publish) into a full
run's JSON, in the runner's order, replacing earlier numbers of the same scenarios; the page
says when those rows were measured.
"""
import json
import sys

from run import FRAME_BUDGET_MS, fmt, median, scenario_list, series_scenarios, table

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
COMMAND = "bash scripts/bench.sh"

# The README's rows, in this order: what the network costs the game's frame first, then what a
# frame-capped server delivers, then raw throughput and TLS.
HEADLINE = {
    "hold_10k": ["main_cpu_pct", "rss_per_conn_kb"],
    "hold_10k_wss": ["rss_per_conn_kb"],
    "echo_60fps": ["p99_ms", "msgs_per_s"],
    "relay_60fps": ["p50_ms"],
    "rtt": ["p50_ms"],
    "echo_busy": ["msgs_per_s"],
    "handshake_wss": ["handshakes_per_s"],
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


def merge(subset_path, results_path):
    with open(subset_path) as f:
        subset = json.load(f)
    with open(results_path) as f:
        data = json.load(f)
    names = [sc["name"] for sc in subset["scenarios"]]
    scenarios = {sc["name"]: sc for sc in data["scenarios"]}
    scenarios.update({sc["name"]: sc for sc in subset["scenarios"]})
    order = [sc["name"] for sc in scenario_list()]
    data["scenarios"] = sorted(scenarios.values(), key=lambda sc: order.index(sc["name"]))
    data["results"].update(subset["results"])
    # An earlier partial run keeps the note for its scenarios that this one did not run again.
    updates = []
    for u in data.get("updates", []):
        u["scenarios"] = [n for n in u["scenarios"] if n not in names]
        if u["scenarios"]:
            updates.append(u)
    updates.append(dict(scenarios=names, date=subset["machine"]["date"], runs=subset["runs"],
                        elapsed_secs=subset["elapsed_secs"]))
    data["updates"] = updates
    with open(results_path, "w") as f:
        json.dump(data, f, indent=1)


def run_names(names):
    """Scenario names with each whole frame-budget series given by its name (as --only takes it)."""
    series = {}
    for sc in scenario_list():
        if sc["series"]:
            series.setdefault(sc["series"], set()).add(sc["name"])
    out = []
    for name in names:
        whole = [k for k, steps in series.items() if name in steps and steps <= set(names)]
        name = whole[0] if whole else name
        if name not in out:
            out.append(name)
    return out


def updates_note(data):
    """When the rows merged in from partial runs were measured."""
    notes = []
    for u in data.get("updates", []):
        shown = run_names(u["scenarios"])
        names = ",".join(shown)
        notes.append(f"The rows of {', '.join(f'`{n}`' for n in shown)} were measured "
                     f"{u['date']} on the same machine, {u['runs']} runs each"
                     f"{STEP_RUNS if set(shown) & set(SERIES_TITLES) else ''} "
                     f"(`{COMMAND} --only={names} --publish`, {u['elapsed_secs'] / 60:.1f} "
                     f"minutes).")
    return " ".join(notes)


STEP_RUNS = " (the frame-budget steps one run each)"
SERIES_TITLES = {
    "frame_60fps": "60 fps, server on one core, load generator on the other",
    "frame_default": "default pacing (about 145 frames/s), server on one core, load on the other",
    "frame_60fps_unpinned": "60 fps, unpinned: server and load generator free to use both cores",
    "frame_60fps_batch": "60 fps, ours with the batch API (batch_receive, get_packets() and "
                         "put_packets() once a frame), beside the built-in of `frame_60fps`",
    "frame_default_batch": "default pacing, ours with the batch API, beside the built-in of "
                           "`frame_default`",
}
VARIANT_NAMES = {"ours": "ours", "builtin": "built-in"}


def step_medians(results, sc, variant):
    """{metric: median} of one step of a series on one variant. A series of ours alone (an API
    the built-in class lacks) takes the built-in's from its `builtin_series` at the same step."""
    name = sc["name"]
    if variant == "builtin" and sc.get("builtin_series"):
        name = f"{sc['builtin_series']}_{sc['step']}"
    runs = results.get(name, {}).get(variant, [])
    return {m: median([r.get(m) for r in runs]) for m in sc["metrics"]}


def ratio(a, b):
    if a is None or b in (None, 0):
        return "-"
    r = a / b
    return ("%.2fx" if r >= 0.1 else "%.3fx") % r


def frame_limit(results, steps, variant):
    """The largest step at which the server holds 60 fps (frame time p99 within 2 ms of
    1/60 s), and its medians; (None, None) when no step does."""
    held = [(sc, step_medians(results, sc, variant)) for sc in steps]
    held = [(sc, m) for sc, m in held
            if m.get("frame_p99_ms") is not None and m["frame_p99_ms"] <= FRAME_BUDGET_MS]
    return held[-1] if held else (None, None)


def series_table(results, steps):
    """One row per step: both servers side by side."""
    cell = "| %s " * 11 + "|"
    lines = [cell % ("in flight / conn", "echoes/s ours", "built-in", "frame p50 / p99 / max ms ours",
                     "built-in", "main thread CPU % ours", "built-in", "main thread us/echo ours",
                     "built-in", "us/echo ours / built-in", "echoes/s ours / built-in"),
             "|" + "---:|" * 11]
    for sc in steps:
        o, b = (step_medians(results, sc, v) for v in ("ours", "builtin"))

        def frames(m):
            if m.get("frame_p99_ms") is None:
                return "-"
            return " / ".join(fmt(k, m[k]) for k in ("frame_p50_ms", "frame_p99_ms", "frame_max_ms"))

        lines.append(cell % (sc["step"], fmt("msgs_per_s", o.get("msgs_per_s")),
                             fmt("msgs_per_s", b.get("msgs_per_s")), frames(o), frames(b),
                             fmt("main_cpu_pct", o.get("main_cpu_pct")),
                             fmt("main_cpu_pct", b.get("main_cpu_pct")),
                             fmt("us_per_msg", o.get("us_per_msg")),
                             fmt("us_per_msg", b.get("us_per_msg")),
                             ratio(o.get("us_per_msg"), b.get("us_per_msg")),
                             ratio(o.get("msgs_per_s"), b.get("msgs_per_s"))))
    return "\n".join(lines)


def series_headlines(results, series, steps):
    """The largest load that holds 60 fps on each server and the rate there; the main-thread
    cost per echo at the largest step both servers hold (the same load on both)."""
    lines = []
    limits = {v: frame_limit(results, steps, v) for v in ("ours", "builtin")}
    for v, (sc, m) in limits.items():
        if sc is None:
            lines.append(f"- {VARIANT_NAMES[v]}: no step holds 60 fps (frame time p99 <= "
                         f"{FRAME_BUDGET_MS:.1f} ms)")
        else:
            more = " (the largest step run)" if sc is steps[-1] else ""
            lines.append(f"- {VARIANT_NAMES[v]}: holds 60 fps up to {sc['step']} in flight per "
                         f"connection{more}, delivering {fmt('msgs_per_s', m['msgs_per_s'])} "
                         f"echoes/s (frame time p99 {fmt('frame_p99_ms', m['frame_p99_ms'])} ms)")
    (o_sc, o), (b_sc, b) = limits["ours"], limits["builtin"]
    if o_sc is not None and b_sc is not None:
        lines.append(f"- echoes/s at the 60 fps limit, ours / built-in: "
                     f"{ratio(o['msgs_per_s'], b['msgs_per_s'])}")
        common = min(o_sc, b_sc, key=lambda sc: sc["step"])
        co, cb = (step_medians(results, common, v) for v in ("ours", "builtin"))
        lines.append(f"- main thread per echo at {common['step']} in flight (the largest step both "
                     f"hold): ours {fmt('us_per_msg', co['us_per_msg'])} us, built-in "
                     f"{fmt('us_per_msg', cb['us_per_msg'])} us: "
                     f"{ratio(co['us_per_msg'], cb['us_per_msg'])}")
    costs = {v: [step_medians(results, sc, v).get("us_per_msg") for sc in steps]
             for v in ("ours", "builtin")}
    costs = {v: [c for c in cs if c is not None] for v, cs in costs.items()}
    if costs["ours"] and costs["builtin"]:
        lines.append(f"- main thread per echo over all steps: ours "
                     f"{min(costs['ours']):.2f}-{max(costs['ours']):.2f} us, built-in "
                     f"{min(costs['builtin']):.2f}-{max(costs['builtin']):.2f} us")
    return "\n".join(lines)


def frame_budget_section(results, scenarios):
    """The frame-budget series: headlines and a table for each series that was run."""
    parts = []
    for series, steps in series_scenarios(scenarios).items():
        if not any(sc["name"] in results for sc in steps):
            continue
        parts.append(f"**Frame budget, {SERIES_TITLES.get(series, series)}** (`{series}_N`: "
                     f"100 connections x N messages of 32 B in flight)")
        parts.append(series_headlines(results, series, steps))
        parts.append(series_table(results, steps))
    if parts:
        parts.append("![frame time p99 against the echo rate, both servers](frame_budget.png)")
    return "\n\n".join(parts)


def main():
    if sys.argv[1] == "--merge":
        merge(*sys.argv[2:4])
        return
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
        f"Measured {setting} The whole run took {data['elapsed_secs'] / 60:.1f} minutes. "
        + updates_note(data),
        table(results, [sc for sc in scenarios if not sc.get("series")]),
        "![gdws vs the built-in WebSocketServer](benchmarks.png)",
        frame_budget_section(results, scenarios),
    ]))


if __name__ == "__main__":
    main()
