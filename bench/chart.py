#!/usr/bin/env python3
"""Draws the benchmark chart (PNG) from the runner's JSON (bench/run.py --json).

    bench/chart.py RESULTS.json OUT.png
    bench/chart.py --frame-budget RESULTS.json OUT.png

--frame-budget: the frame-budget series instead: frame time p99 against the echo rate, one
point per step (messages in flight per connection), both servers.
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from run import FRAME_BUDGET_MS  # noqa: E402

OURS, BUILTIN, RAW = "#2a7ab9", "#b0b0b0", "#e0a040"


def med(results, scenario, variant, metric):
    runs = results.get(scenario, {}).get(variant, [])
    values = [r[metric] for r in runs if r.get(metric) is not None]
    return statistics.median(values) if values else None


def bars(ax, title, groups, unit, log=False, lower_better=False):
    """groups: [(label, [(series name, value, colour)])]"""
    width = 0.8 / max(len(g[1]) for g in groups)
    seen = {}
    for i, (label, series) in enumerate(groups):
        for j, (name, value, colour) in enumerate(series):
            if value is None:
                continue
            x = i + (j - (len(series) - 1) / 2) * width
            bar = ax.bar(x, value, width * 0.95, color=colour,
                         label=name if name not in seen else None)
            seen[name] = True
            text = f"{value:,.0f}" if value >= 100 else f"{value:.2g}" if value < 1 else f"{value:.1f}"
            ax.annotate(text, (x, value), ha="center", va="bottom", fontsize=7,
                        xytext=(0, 1), textcoords="offset points")
            del bar
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g[0] for g in groups], fontsize=8)
    ax.set_title(title + (" (lower is better)" if lower_better else ""), fontsize=9)
    ax.set_ylabel(unit, fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.margins(y=0.15)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)


def frame_budget(data, out):
    """One panel per pacing: frame time p99 (log) against echoes/s delivered (log), a line per
    server through its steps, pinned solid, unpinned dashed, ours with the batch API dotted, and
    the 60 fps budget."""
    r = data["results"]
    steps = {}
    for sc in data["scenarios"]:
        if sc.get("series"):
            steps.setdefault(sc["series"], []).append(sc)
    panels = [("60 fps (Engine.target_fps = 60)", [("frame_60fps", "", "-"),
                                                    ("frame_60fps_unpinned", ", unpinned", "--"),
                                                    ("frame_60fps_batch", ", batch API", ":")]),
              ("default pacing (about 145 frames/s)", [("frame_default", "", "-"),
                                                       ("frame_default_batch", ", batch API",
                                                        ":")])]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, (title, lines) in zip(axes, panels):
        for series, suffix, style in lines:
            for variant, name, colour in [("ours", "gdws", OURS), ("builtin", "built-in", "#808080")]:
                points = []
                for sc in sorted(steps.get(series, []), key=lambda sc: sc["step"]):
                    x, y = (med(r, sc["name"], variant, m) for m in ("msgs_per_s", "frame_p99_ms"))
                    if x is not None and y is not None:
                        points.append((x, y, sc["step"]))
                if not points:
                    continue
                ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o",
                        color=colour, label=name + suffix, markersize=4)
                for x, y, step in points:
                    ax.annotate(str(step), (x, y), fontsize=6, xytext=(3, 3),
                                textcoords="offset points", color=colour)
        ax.axhline(FRAME_BUDGET_MS, color="#c04040", linewidth=0.8, linestyle=":")
        ax.annotate(f"60 fps held: p99 <= {FRAME_BUDGET_MS:.1f} ms", (0.01, FRAME_BUDGET_MS),
                    xycoords=("axes fraction", "data"), fontsize=7, color="#c04040",
                    xytext=(0, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"Frame time p99, {title} (lower is better)", fontsize=9)
        ax.set_xlabel("echoes/s delivered (100 connections; the numbers: messages in flight "
                      "per connection)", fontsize=8)
        ax.set_ylabel("frame time p99, ms (measured in Godot)", fontsize=8)
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 100 else f"{v:.3g}")
        ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(
            [5, 7, 10, 16.7, 25, 50, 100, 250, 500, 1000, 2500, 5000]))
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.tick_params(labelsize=7, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    m = data.get("machine", {})
    fig.suptitle(f"Frame budget: gdws vs Godot {m.get('godot', '3')} built-in WebSocketServer, "
                 f"headless, 32-byte echoes ({m.get('cpu', '')}, {m.get('cores', 2)} cores)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(out, dpi=90)


def main():
    if sys.argv[1] == "--frame-budget":
        frame_budget(json.load(open(sys.argv[2])), sys.argv[3])
        return
    data = json.load(open(sys.argv[1]))
    r = data["results"]

    def pair(scenario, metric):
        return [("gdws", med(r, scenario, "ours", metric), OURS),
                ("built-in", med(r, scenario, "builtin", metric), BUILTIN)]

    def quad(godot, engine, metric):
        return pair(godot, metric) + [
            ("gdws engine alone", med(r, engine, "engine", metric), "#7fb8e0"),
            ("raw tokio-tungstenite", med(r, engine, "raw", metric), RAW)]

    fig, axes = plt.subplots(3, 3, figsize=(15, 12.5))
    bars(axes[0][0], "Echo throughput, 100 conns x 8 in flight, 32 B",
         [("default pacing", pair("echo", "msgs_per_s")),
          ("busy loop", pair("echo_busy", "msgs_per_s")),
          ("60 fps", pair("echo_60fps", "msgs_per_s"))], "echoes/s")
    bars(axes[0][1], "Bulk echo, 10 conns, 60,000 B messages",
         [("default pacing", pair("bulk", "mb_per_s")),
          ("busy loop", pair("bulk_busy", "mb_per_s"))], "MB/s")
    bars(axes[0][2], "Latency p50",
         [("echo RTT, 1 conn", pair("rtt", "p50_ms")),
          ("relay, default", pair("relay", "p50_ms")),
          ("relay, 60 fps", pair("relay_60fps", "p50_ms"))], "ms", log=True, lower_better=True)
    bars(axes[1][0], "10,000 idle connections: main-thread CPU",
         [("main thread", pair("hold_10k", "main_cpu_pct")),
          ("whole process", pair("hold_10k", "cpu_pct"))], "% of a core", lower_better=True)
    bars(axes[1][1], "10,000 idle connections: RSS per connection",
         [("RSS / connection", quad("hold_10k", "engine_hold_10k", "rss_per_conn_kb"))], "KB",
         lower_better=True)
    bars(axes[1][2], "Multiplayer relay and broadcast",
         [("relayed/s, 50 pairs x 8", pair("relay_load", "relays_per_s")),
          ("broadcast deliveries/s, 1,000 peers", pair("broadcast_1k", "deliveries_per_s"))],
         "messages/s")
    bars(axes[2][0], "New connections per second, 8 at a time",
         [("ws://", pair("handshake", "handshakes_per_s")),
          ("wss:// (full TLS handshake)", pair("handshake_wss", "handshakes_per_s"))],
         "handshakes/s", log=True)
    bars(axes[2][1], "Echo, 100 x 8, 32 B, default pacing: ws:// and wss://",
         [("ws://", pair("echo", "msgs_per_s")), ("wss://", pair("echo_wss", "msgs_per_s"))],
         "echoes/s")
    bars(axes[2][2], "Bulk echo, 10 conns, 60,000 B, busy loop: ws:// and wss://",
         [("ws://", pair("bulk_busy", "mb_per_s")), ("wss://", pair("bulk_busy_wss", "mb_per_s"))],
         "MB/s")
    m = data.get("machine", {})
    fig.suptitle(f"gdws vs Godot {m.get('godot', '3')} built-in WebSocketServer - headless, server "
                 f"on 1 core, load on the other ({m.get('cpu', '')}); medians of {data['runs']} runs",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
