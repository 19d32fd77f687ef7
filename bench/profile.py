"""Where the main thread's time goes while it echoes: a sampling profile of Godot's main thread
(perf, call graphs from DWARF), each sample given to the code it was in.

    python3 bench/profile.py [--inflight=1] [--fps=60] [--batch] [--builtin] [--secs=4]

Runs bench_server.gd on core 0 (the release library, as scripts/bench.sh builds it) and the load
generator on core 1 (100 connections x --inflight echoes of 32 B), records the main thread for
--secs, and prints the share of its samples and, scaled by its CPU time, microseconds per echo:

- frame loop: Godot's code with no gdws call under way (the frame, the script's _idle);
- signal dispatch + GDScript: Godot's code inside our emission of a signal, that is the
  emission itself and the GDScript handler, but not the calls the handler makes into gdws;
- Godot called by gdws: Godot's code our calls ask for (pool arrays, objects, references);
- gdws: our code (and what libc and the kernel do for it).

With --builtin only the total is printed: the built-in server is Godot's own code throughout.

The first two are what any server that hands each message to a GDScript handler through a
signal pays, whatever it does itself. Needs perf (Debian's linux-perf). Godot 3.2.3 in Debian
has no symbols, so its code is told apart by where the nearest gdws frame is, not by name.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the benchmark runner: processes, ports, paths)


def categorise(stack):
    """The category of one sample, its frames leaf first as (symbol, library)."""
    owner = next((lib for _, lib in stack if "godot3-server" in lib or "libgdws" in lib), None)
    if owner is None or "godot3-server" in owner:
        caller = next((sym for sym, lib in stack if "libgdws" in lib), None)
        if caller is None:
            return "frame loop"
        if "icallvarargs" in caller or "emit_named" in caller:
            return "signal dispatch + GDScript"
        return "Godot called by gdws"
    return "gdws"


def samples(perf_script_output):
    """Each sample's frames, leaf first, as (symbol, library)."""
    stack = []
    for line in perf_script_output.splitlines():
        line = line.strip()
        if not line:
            if stack:
                yield stack
            stack = []
            continue
        _, _, rest = line.partition(" ")
        symbol, _, library = rest.rpartition(" (")
        stack.append((symbol, library.rstrip(")")))
    if stack:
        yield stack


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inflight", type=int, default=1)
    ap.add_argument("--fps", type=int, default=60)
    ap.add_argument("--batch", action="store_true")
    ap.add_argument("--builtin", action="store_true")
    ap.add_argument("--secs", type=float, default=4)
    opts = ap.parse_args()
    logdir = tempfile.mkdtemp(prefix="gdws-profile-")
    port = run.free_port()
    server_args = [f"--fps={opts.fps}", "--max-secs=60"]
    server_args += ["--builtin"] if opts.builtin else []
    server_args += ["--batch"] if opts.batch else []
    env = dict(os.environ, LANG="en_US.UTF-8")
    server = run.Proc(run.godot_server_argv(run.SERVER_CPU, port, server_args),
                      os.path.join(logdir, "server.log"), env)
    load = None
    try:
        if server.expect("READY", time.time() + 30)[0] is None:
            sys.exit(f"profile: the server did not start (see {logdir}/server.log)")
        secs = opts.secs + 2
        load = run.Proc(run.loadgen_argv(run.LOAD_CPU, "release", port,
                                         ["echo", "--conns=100", f"--inflight={opts.inflight}",
                                          "--size=32", f"--secs={secs}", "--warmup=1"]),
                        os.path.join(logdir, "load.log"), env)
        if load.expect("WINDOW_START", time.time() + 60)[0] is None:
            sys.exit(f"profile: the load did not start (see {logdir}/load.log)")
        data = os.path.join(logdir, "perf.data")
        before = run.sample(server.p.pid)
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "10000",
                        "--call-graph", "dwarf,16384", "-t", str(server.p.pid), "-o", data,
                        "--", "sleep", str(opts.secs)], check=True, capture_output=True)
        after = run.sample(server.p.pid)
        line = load.expect("RESULT", time.time() + 60)[0]
        rate = json.loads(line[len("RESULT"):])["msgs_per_s"] if line else 0
    finally:
        for proc in (load, server):
            if proc is not None:
                proc.p.kill()
    script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso"],
                            capture_output=True, text=True, check=True).stdout
    counts = collections.Counter(categorise(stack) for stack in samples(script))
    total = sum(counts.values())
    main_us_per_s = 1e6 * (after["main"] - before["main"]) / (after["t"] - before["t"])
    what = "built-in" if opts.builtin else ("gdws, batch API" if opts.batch else "gdws")
    print(f"{what}: 100 conns x {opts.inflight} in flight at {opts.fps} fps, {rate:,.0f} "
          f"echoes/s, main thread {main_us_per_s / 1e4:.1f} % of a core "
          f"({total} samples; perf's own cost included)")
    if opts.builtin:
        # No gdws frame to tell Godot's parts apart by: only the whole.
        print(f"  main thread {main_us_per_s / rate if rate else 0:5.2f} us per echo")
        return
    for category in ("frame loop", "signal dispatch + GDScript", "Godot called by gdws", "gdws"):
        share = counts[category] / total if total else 0
        per_echo = share * main_us_per_s / rate if rate else 0
        print(f"  {category:28} {100 * share:5.1f} %  {per_echo:5.2f} us per echo")


if __name__ == "__main__":
    main()
