#!/usr/bin/env python3
"""The benchmark runner (started by scripts/bench.sh, which builds first).

For each scenario and each server variant (ours / built-in under headless Godot, or the engine
alone / raw tokio-tungstenite), and for each run: starts the server pinned to one core, the
load generator pinned to the other, samples the server's CPU (whole process, and its main
thread) over the load generator's measured window and its RSS, then stops both. Prints a
Markdown table of medians with the ratio ours / built-in, and writes every run to a JSON file.

    bench/run.py [--runs=3] [--secs=2] [--warmup=0.5] [--only=name,series,...] [--smoke] [--profile=release|debug]
                 [--json=FILE] [--md=FILE]

--smoke: every scenario very briefly (1 run, short windows, fewer connections), ours only;
fails unless every scenario produced its numbers. --profile=debug: the bench binaries and the
library from target/debug (Godot loads res://addons/gdws instead of res://bench's release library).
Uses only the standard library. Every process runs under a deadline.
"""

import argparse
import json
import os
import platform
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.join(ROOT, "godot_project")
GODOT = os.environ.get("GODOT_BIN", "godot3-server")
# Server on one core, load on the other (both on core 0 on a one-core machine).
SERVER_CPU, LOAD_CPU = "0", ("1" if (os.cpu_count() or 1) > 1 else "0")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Metrics: key -> (column label, format, higher is better)
METRICS = {
    "msgs_per_s": ("echoes/s", "{:,.0f}", True),
    "frame_p50_ms": ("frame time p50 ms", "{:.1f}", False),
    "frame_p99_ms": ("frame time p99 ms", "{:.1f}", False),
    "frame_max_ms": ("frame time max ms", "{:.1f}", False),
    "us_per_msg": ("main thread us per echo", "{:.2f}", False),
    "mb_per_s": ("MB/s", "{:,.0f}", True),
    "p50_ms": ("p50 ms", "{:.2f}", False),
    "p99_ms": ("p99 ms", "{:.2f}", False),
    "slowest_share": ("slowest connection / mean", "{:.2f}", True),
    "relays_per_s": ("relayed/s", "{:,.0f}", True),
    "handshakes_per_s": ("handshakes/s", "{:,.0f}", True),
    "deliveries_per_s": ("deliveries/s", "{:,.0f}", True),
    "frames_per_s": ("frames/s", "{:,.0f}", True),
    "delivered_share": ("share delivered", "{:.3f}", True),
    "connect_p50_ms": ("connect p50 ms", "{:.2f}", False),
    "connect_p99_ms": ("connect p99 ms", "{:.2f}", False),
    "conns": ("connections", "{:,.0f}", True),
    "main_cpu_pct": ("main thread CPU %", "{:.1f}", False),
    "load_cpu_pct": ("load generator CPU %", "{:.0f}", False),
    "cpu_pct": ("process CPU %", "{:.1f}", False),
    "rss_per_conn_kb": ("RSS/conn KB", "{:.1f}", False),
    "rss_mb": ("RSS MB", "{:.0f}", False),
}

# The frame-budget series: messages in flight per connection, raised step by step.
FRAME_STEPS = (1, 2, 4, 8, 16, 32, 64)
FRAME_METRICS = ["msgs_per_s", "frame_p50_ms", "frame_p99_ms", "frame_max_ms", "main_cpu_pct",
                 "us_per_msg"]
# Holding 60 fps: a p99 frame time within 2 ms of 1/60 s.
FRAME_BUDGET_MS = 1000 / 60 + 2

GODOT_VARIANTS = ("ours", "builtin")
ENGINE_VARIANTS = ("engine", "raw")


def scenario_list():
    """Every scenario: the server it runs, the load it gets, the metrics shown."""
    echo = ["echo", "--conns=100", "--inflight=8", "--size=32"]
    bulk = ["echo", "--conns=10", "--inflight=1", "--size=60000"]
    rtt = ["echo", "--conns=1", "--inflight=1", "--size=32"]
    hold = ["hold", "--conns=10000", "--concurrency=50"]
    s = []

    def add(name, title, load, metrics, mode="echo", server=(), kind="godot", smoke_load=None,
            tls=False, secs=None, variants=None, runs=None, pinned=True, series=None, step=None,
            builtin_series=None):
        """secs: this scenario's window (not in --smoke) instead of --secs; variants: only
        these (e.g. ours alone, for a property the built-in class lacks); runs: this many runs
        instead of --runs (not fewer than 1); pinned=False: server and load generator free to
        use every core; series/step: one step of a frame-budget series (the server notes its
        frame times); builtin_series: a series of ours alone (an API the built-in class lacks),
        set beside the built-in's numbers of that series at the same step."""
        if series is not None:
            server = list(server) + ["--frame-times"]
        s.append(dict(name=name, title=title, load=load, metrics=metrics, mode=mode,
                      server=list(server), kind=kind, smoke_load=smoke_load or load, tls=tls,
                      secs=secs, variants=variants, runs=runs, pinned=pinned, series=series,
                      step=step, builtin_series=builtin_series))

    add("idle", "no connections: Godot's own idle frame loop (default pacing)",
        ["hold", "--conns=0"], ["main_cpu_pct", "rss_mb"])
    hold_smoke = ["hold", "--conns=200", "--concurrency=50"]
    add("hold_10k", "10,000 idle connections (default pacing)", hold,
        ["main_cpu_pct", "cpu_pct", "rss_per_conn_kb", "connect_p99_ms", "conns"],
        smoke_load=hold_smoke)
    # Ours only: the built-in class takes about 84 s per run for the 10,000 TLS handshakes
    # (119/s, the handshake_wss row), which alone would be a quarter of the full run.
    add("hold_10k_wss", "10,000 idle wss:// connections (default pacing)", hold,
        ["main_cpu_pct", "cpu_pct", "rss_per_conn_kb", "connect_p99_ms", "conns"],
        smoke_load=hold_smoke, tls=True, variants=["ours"])
    # heartbeat_interval (ours only): 10,000 idle clients that read, so answer the pings, as
    # real ones do; off, at 10 s and at 1 s, over a window of several intervals.
    answering = hold + ["--answer-pings"]
    for name, heartbeat, what in [("hold_10k_answering", 0, "heartbeat off"),
                                  ("hold_10k_heartbeat_10s", 10, "heartbeat_interval 10 s"),
                                  ("hold_10k_heartbeat_1s", 1, "heartbeat_interval 1 s")]:
        add(name, f"10,000 idle connections answering pings, {what}, 20 s window", answering,
            ["main_cpu_pct", "cpu_pct", "rss_per_conn_kb", "conns"],
            server=[f"--heartbeat={heartbeat}"], secs=20, variants=["ours"],
            smoke_load=hold_smoke + ["--answer-pings"])
    add("echo", "echo, 100 conns x 8 in flight, 32 B (default pacing)", echo,
        ["msgs_per_s", "p50_ms", "p99_ms", "slowest_share", "main_cpu_pct"])
    add("echo_busy", "echo, 100 x 8, 32 B, busy loop", echo,
        ["msgs_per_s", "p50_ms", "p99_ms", "slowest_share", "main_cpu_pct", "load_cpu_pct"],
        server=["--busy"])
    add("echo_60fps", "echo, 100 x 8, 32 B, 60 fps", echo,
        ["msgs_per_s", "p50_ms", "p99_ms", "main_cpu_pct"], server=["--fps=60"])
    add("echo_unpinned", "echo, 100 x 8, 32 B (default pacing), unpinned: both cores", echo,
        ["msgs_per_s", "p50_ms", "p99_ms", "frame_p99_ms", "main_cpu_pct", "us_per_msg",
         "cpu_pct", "load_cpu_pct"], server=["--frame-times"], pinned=False)
    add("bulk", "bulk echo, 10 conns, 60,000 B (default pacing)", bulk,
        ["mb_per_s", "p50_ms", "main_cpu_pct"])
    add("bulk_busy", "bulk echo, 10 conns, 60,000 B, busy loop", bulk,
        ["mb_per_s", "p50_ms", "main_cpu_pct", "load_cpu_pct"], server=["--busy"])
    add("rtt", "one connection, one message in flight (default pacing)", rtt,
        ["msgs_per_s", "p50_ms", "p99_ms"])
    add("broadcast_1k", "broadcast to 1,000 peers every frame (default pacing)",
        ["broadcast", "--conns=1000"],
        ["deliveries_per_s", "frames_per_s", "delivered_share", "main_cpu_pct"],
        mode="broadcast", smoke_load=["broadcast", "--conns=50"])
    add("relay", "multiplayer relay client to client, 1 pair (default pacing)",
        ["relay", "--pairs=1", "--inflight=1"], ["p50_ms", "p99_ms", "relays_per_s"],
        mode="multiplayer")
    add("relay_60fps", "multiplayer relay, 1 pair, 60 fps",
        ["relay", "--pairs=1", "--inflight=1"], ["p50_ms", "p99_ms", "relays_per_s"],
        mode="multiplayer", server=["--fps=60"])
    add("relay_load", "multiplayer relay, 50 pairs x 8 in flight (default pacing)",
        ["relay", "--pairs=50", "--inflight=8"], ["relays_per_s", "p50_ms", "p99_ms", "main_cpu_pct"],
        mode="multiplayer")
    handshakes = ["handshakes", "--concurrency=8"]
    add("handshake", "new ws:// connections (handshakes), 8 at a time (default pacing)",
        handshakes, ["handshakes_per_s", "connect_p50_ms", "connect_p99_ms", "main_cpu_pct"])
    add("handshake_wss", "new wss:// connections (full TLS handshakes), 8 at a time",
        handshakes, ["handshakes_per_s", "connect_p50_ms", "connect_p99_ms", "main_cpu_pct"],
        tls=True)
    add("echo_wss", "wss:// echo, 100 x 8, 32 B (default pacing)", echo,
        ["msgs_per_s", "p50_ms", "p99_ms", "main_cpu_pct"], tls=True)
    add("bulk_busy_wss", "wss:// bulk echo, 10 conns, 60,000 B, busy loop", bulk,
        ["mb_per_s", "p50_ms", "main_cpu_pct"], server=["--busy"], tls=True)
    add("engine_echo", "engine alone vs raw tokio-tungstenite: echo 100 x 8, 32 B", echo,
        ["msgs_per_s", "p50_ms", "p99_ms", "slowest_share", "cpu_pct", "load_cpu_pct"],
        kind="engine")
    add("engine_bulk", "engine alone vs raw: bulk 10 conns, 60,000 B", bulk,
        ["mb_per_s", "p50_ms", "cpu_pct", "load_cpu_pct"], kind="engine")
    add("engine_hold_10k", "engine alone vs raw: 10,000 idle connections", hold,
        ["rss_per_conn_kb", "cpu_pct", "connect_p99_ms", "conns"], kind="engine",
        smoke_load=hold_smoke)
    add("engine_hold_10k_wss", "engine alone vs raw: 10,000 idle wss:// connections", hold,
        ["rss_per_conn_kb", "cpu_pct", "connect_p99_ms", "conns"], kind="engine",
        smoke_load=hold_smoke, tls=True)
    # The frame budget: 100 connections, 32-byte echoes, messages in flight raised step by step;
    # one run of 3 s per step (the steps are the series; 180 frames at 60 fps for the p99), at
    # 60 fps and at the default pacing, and at 60 fps with both cores free.
    # The _batch series: ours alone with the batch API (--batch: get_packets/put_packets once a
    # frame instead of a handler per message), beside the built-in of the stock series.
    for series, server, pinned, what, builtin_series in [
            ("frame_60fps", ["--fps=60"], True, "60 fps", None),
            ("frame_default", [], True, "default pacing", None),
            ("frame_60fps_unpinned", ["--fps=60"], False, "60 fps, unpinned: both cores", None),
            ("frame_60fps_batch", ["--fps=60", "--batch"], True, "60 fps, batch API",
             "frame_60fps"),
            ("frame_default_batch", ["--batch"], True, "default pacing, batch API",
             "frame_default")]:
        for step in FRAME_STEPS:
            add(f"{series}_{step}", f"frame budget, {what}: 100 conns x {step} in flight, 32 B",
                ["echo", "--conns=100", f"--inflight={step}", "--size=32"], FRAME_METRICS,
                server=server, pinned=pinned, series=series, step=step, runs=1, secs=3,
                variants=["ours"] if builtin_series else None, builtin_series=builtin_series)
    return s


def series_scenarios(scenarios):
    """{series: [its scenarios, in step order]}"""
    out = {}
    for sc in scenarios:
        if sc.get("series"):
            out.setdefault(sc["series"], []).append(sc)
    return {k: sorted(v, key=lambda sc: sc["step"]) for k, v in out.items()}


# ---- processes ----

def free_port():
    for _ in range(50):
        port = random.randint(30000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


class Proc:
    """A child process whose stdout lines arrive on a queue (with their arrival time)."""

    def __init__(self, argv, log_path, env=None):
        self.log = open(log_path, "w")
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                  env=env, start_new_session=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.log.write(line)
            self.lines.put((line.rstrip("\n"), time.monotonic()))
        self.lines.put((None, None))

    def expect(self, prefix, deadline):
        """The next line starting with prefix and when it arrived (time.monotonic()), or
        (None, None) at the deadline."""
        while True:
            try:
                line, arrived = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                return None, None
            if line is None:
                return None, None
            if line.startswith(prefix):
                return line, arrived

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


def cpu_ticks(pid, tid=None):
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def core_busy_ticks(core):
    """Ticks core `core` spent on anything but idle and iowait, from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                return sum(v[:8]) - v[3] - v[4]
    return 0


def thread_cpu_secs(pid, tid):
    """CPU time of one thread to the nanosecond (schedstat), not to the 10 ms tick: the idle
    scenarios measure a main thread that runs 1-2% of the time."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return cpu_ticks(pid, tid) / CLK_TCK


def sample(pid, load_pid=None):
    return dict(t=time.time(), cpu=cpu_ticks(pid), main=thread_cpu_secs(pid, pid), rss=rss_kb(pid),
                core=core_busy_ticks(SERVER_CPU), both=core_busy_ticks(""),
                load=cpu_ticks(load_pid) if load_pid else 0, load_core=core_busy_ticks(LOAD_CPU))


def percentile(sorted_values, q):
    """Nearest rank."""
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def frame_stats(frames_line, ready_line, ready_at, window):
    """The times of the frames that overlap the measured window, from the server's FRAMES line
    (the engine's OS.get_ticks_usec() at the start of each frame, and last the time it was
    printed). The READY line carries the engine's clock when it was printed and ready_at when
    the runner read it: that maps one clock onto the other (to within the pipe's delay, well
    under a frame). A frame that spans the whole window (a poll() that never ends while the
    load runs) counts once, at its full length."""
    offset = ready_at - int(ready_line.split()[-1]) / 1e6
    starts = [offset + int(t) / 1e6 for t in frames_line.split()[1:]]
    first = max([i for i, t in enumerate(starts) if t <= window[0]], default=0)
    last = min([i for i, t in enumerate(starts) if t >= window[1]], default=len(starts) - 1)
    starts = starts[first:last + 1]
    times = sorted(1000 * (b - a) for a, b in zip(starts, starts[1:]))
    if not times:
        return {}
    return dict(frame_p50_ms=percentile(times, 0.5), frame_p99_ms=percentile(times, 0.99),
                frame_max_ms=times[-1], server_frames_per_s=len(times) / (window[1] - window[0]))


def make_tls(directory):
    """A CA and a certificate it signed for localhost and 127.0.0.1 (RSA 2048, PEM), made with
    the openssl CLI: returns (ca, cert, key) paths."""
    os.makedirs(directory, exist_ok=True)
    path = lambda name: os.path.join(directory, name)  # noqa: E731
    with open(path("leaf.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"),
         "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=gdws bench CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("key.pem"),
         "-out", path("leaf.csr"), "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
         "-CAcreateserial", "-out", path("cert.pem"), "-days", "2", "-extfile", path("leaf.ext")],
    ]
    for step in steps:
        subprocess.run(["openssl"] + step, check=True, capture_output=True, timeout=60)
    return path("ca.pem"), path("cert.pem"), path("key.pem")


def godot_server_argv(cpu, port, args):
    """bench_server.gd under headless Godot on `cpu` (a taskset list), listening on `port`."""
    return ["taskset", "-c", cpu, GODOT, "--path", PROJECT, "-s", "res://bench/bench_server.gd",
            f"--port={port}"] + args


def loadgen_argv(cpu, profile, port, args):
    """The load generator of build `profile` on `cpu`, against `port`."""
    return (["taskset", "-c", cpu, os.path.join(ROOT, "target", profile, "loadgen")] + args
            + [f"--port={port}"])


def run_once(sc, variant, opts, logdir, run_index):
    """One run of one scenario on one variant: a dict of metrics, or an error string."""
    port = free_port()
    env = dict(os.environ, LANG="en_US.UTF-8")
    tag = f"{sc['name']}-{variant}-{run_index}"
    pinned = sc.get("pinned", True)
    # Unpinned: both processes may use every core (taskset to all of them, so that a runner
    # started under a narrower affinity does not pass it on).
    all_cpus = "0-%d" % ((os.cpu_count() or 1) - 1)
    server_cpu, load_cpu = (SERVER_CPU, LOAD_CPU) if pinned else (all_cpus, all_cpus)
    if sc["kind"] == "godot":
        argv = godot_server_argv(server_cpu, port, [f"--mode={sc['mode']}",
                                                    f"--max-secs={opts.max_secs}"] + sc["server"])
        if variant == "builtin":
            argv.append("--builtin")
        elif opts.profile == "debug":
            argv.append("--debug-lib")
    else:
        argv = ["taskset", "-c", server_cpu, binary(opts, "engine_echo"), f"--mode={variant}", f"--port={port}",
                f"--max-secs={opts.max_secs}"]
    # Both servers take the same PEM options.
    if sc["tls"]:
        argv += [f"--cert={opts.tls[1]}", f"--key={opts.tls[2]}"]
    server = Proc(argv, os.path.join(logdir, tag + ".server.log"), env)
    load = None
    secs = opts.secs if opts.smoke or not sc["secs"] else sc["secs"]
    try:
        ready_line, ready_at = server.expect("READY", time.time() + 30)
        if ready_line is None:
            return "the server did not start (see %s)" % server.log.name
        time.sleep(0.3)
        # taskset execs the server, so its pid is the server's (and its main thread's) id.
        pid = server.p.pid
        base = sample(pid)
        load_args = list(sc["smoke_load"] if opts.smoke else sc["load"])
        if sc["tls"]:
            load_args.append(f"--tls-ca={opts.tls[0]}")
        load = Proc(loadgen_argv(load_cpu, opts.profile, port, load_args +
                                 [f"--secs={secs}", f"--warmup={opts.warmup}"]),
                    os.path.join(logdir, tag + ".load.log"), env)
        deadline = time.time() + secs + opts.warmup + 240
        window_start = load.expect("WINDOW_START", deadline)[1]
        if window_start is None:
            return "no measuring window (see %s)" % load.log.name
        start = sample(pid, load.p.pid)
        window_end = load.expect("WINDOW_END", deadline)[1]
        if window_end is None:
            return "the window did not end (see %s)" % load.log.name
        end = sample(pid, load.p.pid)
        line, _ = load.expect("RESULT", deadline)
        if line is None:
            return "no result (see %s)" % load.log.name
        result = json.loads(line[len("RESULT"):])
        secs = end["t"] - start["t"]
        result["cpu_pct"] = 100.0 * (end["cpu"] - start["cpu"]) / CLK_TCK / secs
        result["main_cpu_pct"] = 100.0 * (end["main"] - start["main"]) / secs
        result["rss_mb"] = end["rss"] / 1024.0
        load_pct = 100.0 * (end["load"] - start["load"]) / CLK_TCK / secs
        if pinned:
            # Other processes on the server's core during the window (this machine may be shared).
            core_pct = 100.0 * (end["core"] - start["core"]) / CLK_TCK / secs
            result["foreign_cpu_pct"] = max(0.0, core_pct - result["cpu_pct"])
            # And on the load generator's core, which can starve the load instead.
            load_core_pct = 100.0 * (end["load_core"] - start["load_core"]) / CLK_TCK / secs
            result["foreign_load_cpu_pct"] = max(0.0, load_core_pct - load_pct)
        else:
            # Unpinned, the two share every core: what others took of all of them.
            all_pct = 100.0 * (end["both"] - start["both"]) / CLK_TCK / secs
            result["foreign_cpu_pct"] = result["foreign_load_cpu_pct"] = max(
                0.0, all_pct - result["cpu_pct"] - load_pct)
        # Near 100: the load generator's core is the limit, and the server may do more.
        result["load_cpu_pct"] = load_pct
        conns = result.get("conns") or 0
        if conns:
            result["rss_per_conn_kb"] = (end["rss"] - base["rss"]) / conns
        if result.get("msgs_per_s"):
            # Main-thread time per echo (one message in, one out), Godot's own frame loop included.
            result["us_per_msg"] = 1e6 * (end["main"] - start["main"]) / secs / result["msgs_per_s"]
        if "--frame-times" in sc["server"]:
            # The server prints its frame times once the load generator's connections are gone.
            load.stop()
            load = None
            frames_line, _ = server.expect("FRAMES", time.time() + 15)
            if frames_line is None:
                return "no frame times from the server (see %s)" % server.log.name
            result.update(frame_stats(frames_line, ready_line, ready_at, (window_start, window_end)))
        return result
    finally:
        if load is not None:
            load.stop()
        server.stop()


def foreign(result, sc):
    """The larger share of the server's or the load generator's core that other processes took
    during the window (this machine may be shared). Idle clients need no core of their own."""
    if sc["load"][0] == "hold":
        return result["foreign_cpu_pct"]
    return max(result["foreign_cpu_pct"], result["foreign_load_cpu_pct"])


def binary(opts, name):
    return os.path.join(ROOT, "target", opts.profile, name)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(metric, value):
    if value is None:
        return "-"
    return METRICS[metric][1].format(value)


def table(results, scenarios, only=None):
    """Markdown: one row per scenario and metric, medians side by side with the ratio.
    only: {scenario name: [metrics]} to show just those, in that order."""
    lines = []
    head = "| scenario | metric | ours | built-in | ours / built-in |"
    lines += [head, "|---|---|---:|---:|---:|"]
    if only is not None:
        by_name = {sc["name"]: sc for sc in scenarios}
        scenarios = [by_name[name] for name in only if name in by_name]
    for sc in scenarios:
        if sc["name"] not in results:
            continue
        variants = ENGINE_VARIANTS if sc["kind"] == "engine" else GODOT_VARIANTS
        runs = results[sc["name"]]
        metrics = sc["metrics"] if only is None else only.get(sc["name"], [])
        for i, metric in enumerate(metrics):
            meds = [median([r.get(metric) for r in runs.get(v, [])]) for v in variants]
            ratio = "-"
            if meds[0] is not None and meds[1] not in (None, 0):
                ratio = meds[0] / meds[1]
                ratio = ("%.2fx" if ratio >= 0.1 else "%.3fx") % ratio
            title = sc["title"] if i == 0 else ""
            if sc["kind"] == "engine" and i == 0:
                title += " (columns: engine, raw)"
            lines.append("| %s | %s | %s | %s | %s |" % (
                title, METRICS[metric][0], fmt(metric, meds[0]), fmt(metric, meds[1]), ratio))
    return "\n".join(lines)


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    godot = subprocess.run([GODOT, "--version"], capture_output=True, text=True,
                           env=dict(os.environ, LANG="en_US.UTF-8")).stdout.strip()
    return dict(cpu=model, cores=os.cpu_count(), kernel=platform.release(), godot=godot,
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=float, default=2.0, help="measured window per run")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--only", default="", help="comma-separated scenario or series names")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--profile", choices=("release", "debug"), default="release")
    ap.add_argument("--variants", default="", help="comma-separated: ours,builtin,engine,raw")
    ap.add_argument("--json", default="", help="write every run here")
    ap.add_argument("--md", default="", help="write the table here")
    ap.add_argument("--max-foreign", type=float, default=15,
                    help="redo a run when other processes took more of the server's or the load "
                         "generator's core (%%)")
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--max-secs", type=float, default=300, help="servers quit after this")
    opts = ap.parse_args()
    if opts.smoke:
        opts.runs, opts.secs, opts.warmup, opts.retries = 1, 0.5, 0.2, 0

    scenarios = scenario_list()
    if opts.only:
        # A series' name (frame_60fps) stands for all its steps.
        wanted = set(opts.only.split(","))
        unknown = wanted - {sc["name"] for sc in scenarios} - {sc["series"] for sc in scenarios}
        if unknown:
            sys.exit("unknown scenario(s): %s" % ", ".join(sorted(unknown)))
        scenarios = [sc for sc in scenarios if wanted & {sc["name"], sc["series"]}]
    for name in ("loadgen", "engine_echo", "libgdws.so"):
        path = binary(opts, name)
        if not os.path.exists(path):
            flag = " --release" if opts.profile == "release" else ""
            sys.exit(f"{path} is missing: cargo build{flag} -p gdws -p gdws-bench")

    logdir = os.environ.get("GDWS_BENCH_LOGS") or os.path.join(ROOT, "target", "bench-logs")
    os.makedirs(logdir, exist_ok=True)
    opts.tls = make_tls(os.path.join(logdir, "tls")) if any(sc["tls"] for sc in scenarios) else None
    results, failures = {}, []
    started = time.time()
    for sc in scenarios:
        variants = sc["variants"] or (ENGINE_VARIANTS if sc["kind"] == "engine" else GODOT_VARIANTS)
        if opts.smoke:
            variants = variants[:1]
        if opts.variants:
            variants = [v for v in variants if v in opts.variants.split(",")]
        results[sc["name"]] = {}
        for variant in variants:
            runs = []
            for i in range(max(1, min(opts.runs, sc["runs"] or opts.runs))):
                # This machine may be shared: a run during which other processes took a good
                # part of the server's core is done again (at most --retries times).
                for attempt in range(opts.retries + 1):
                    r = run_once(sc, variant, opts, logdir, i)
                    if (isinstance(r, str) or foreign(r, sc) <= opts.max_foreign
                            or attempt == opts.retries):
                        break
                    print(f"  {sc['name']:<16} {variant:<8} other processes took "
                          f"{foreign(r, sc):.0f}% of a benchmark core: again", flush=True)
                    time.sleep(2)
                if isinstance(r, str):
                    failures.append(f"{sc['name']} {variant} run {i + 1}: {r}")
                    print(f"  {sc['name']:<16} {variant:<8} FAILED: {r}", flush=True)
                    continue
                runs.append(r)
                shown = ", ".join(f"{m}={fmt(m, r.get(m))}" for m in sc["metrics"])
                if foreign(r, sc) > 10:
                    shown += " (other processes took %.0f%% of a benchmark core)" % foreign(r, sc)
                print(f"  {sc['name']:<16} {variant:<8} {shown}", flush=True)
            results[sc["name"]][variant] = runs
            if opts.smoke:
                missing = [m for m in sc["metrics"]
                           if not runs or any(r.get(m) is None for r in runs)]
                if missing:
                    failures.append(f"{sc['name']}: no {', '.join(missing)}")
    elapsed = time.time() - started

    md = table(results, scenarios)
    print()
    print(md)
    print(f"\n{opts.runs} run(s) per cell, medians; {elapsed:.0f} s in all; logs in {logdir}")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(dict(machine=machine(), runs=opts.runs, secs=opts.secs,
                           scenarios=[{k: sc[k] for k in ("name", "title", "kind", "metrics", "load",
                                                          "server", "mode", "tls", "secs", "variants",
                                                          "runs", "pinned", "series", "step",
                                                          "builtin_series")}
                                      for sc in scenarios],
                           results=results, elapsed_secs=elapsed), f, indent=1)
    if opts.md:
        with open(opts.md, "w") as f:
            f.write(md + "\n")
    if failures:
        print("\nfailures:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
