#!/usr/bin/env bash
# Benchmarks: our WebSocketServer against Godot's built-in one under the same headless Godot and
# the same GDScript (godot_project/bench/bench_server.gd), and gdws's engine alone against a raw
# tokio-tungstenite echo server. Server pinned to core 0, load generator (bench/, Rust) to core 1
# (the "unpinned" scenarios leave both free to use every core).
#
#   scripts/bench.sh              every scenario, 3 runs each (the frame-budget steps 1 each;
#                                 about 15 minutes); regenerates docs/benchmarks.json,
#                                 docs/benchmarks.png, docs/frame_budget.png and the results
#                                 tables in docs/benchmarks.md and README.md
#   scripts/bench.sh --smoke      every scenario for a moment, ours only, on the debug build
#                                 (seconds); fails unless each produced its numbers
#   scripts/bench.sh --runs=5 --only=echo,bulk ...   a subset (options of bench/run.py); results
#                                 go to target/bench/ only
#   scripts/bench.sh --only=a,b --publish   a subset whose numbers replace those scenarios' in
#                                 docs/benchmarks.json and the tables (the page says when they
#                                 were measured); docs/frame_budget.png is redrawn from the
#                                 merged numbers, docs/benchmarks.png stays
#
# Release builds (cargo build --release); the Godot bench loads target/release/libgdws.so through
# godot_project/bench/gdws_release.gdnlib. Logs of every process: target/bench-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

# 10,000 connections: the server and the load generator each need that many descriptors, and
# the server's automatic max_connections keeps an eighth of its limit for the game: 11,430.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 11430 ]; then
    echo "bench: only $(ulimit -n) file descriptors; the 10,000-connection scenarios will fall short" >&2
fi
command -v python3 >/dev/null || { echo "bench: python3 is needed" >&2; exit 2; }

if [ "${1:-}" = "--smoke" ]; then
    shift
    cargo build -p gdws -p gdws-bench
    exec python3 bench/run.py --smoke --profile=debug "$@"
fi

cargo build --release -p gdws -p gdws-bench
mkdir -p target/bench
run_args=()
publish=0
for arg in "$@"; do
    if [ "$arg" = "--publish" ]; then publish=1; else run_args+=("$arg"); fi
done
# The charts need matplotlib: installed for this user if missing.
need_matplotlib() {
    python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install --quiet --user matplotlib \
        || python3 -m pip install --quiet matplotlib
}
if [ "$publish" = 1 ]; then
    python3 bench/run.py --json=target/bench/results.json --md=target/bench/table.md "${run_args[@]}"
    python3 bench/publish.py --merge target/bench/results.json docs/benchmarks.json
    need_matplotlib
    python3 bench/chart.py --frame-budget docs/benchmarks.json docs/frame_budget.png
    python3 bench/publish.py docs/benchmarks.json README.md docs/benchmarks.md
    echo "bench: docs/benchmarks.json and the tables updated with the scenarios run"
    exit
fi
if [ $# -gt 0 ]; then
    python3 bench/run.py --json=target/bench/results.json --md=target/bench/table.md "$@"
    exit
fi
python3 bench/run.py --json=target/bench/results.json --md=target/bench/table.md
need_matplotlib
python3 bench/chart.py target/bench/results.json target/bench/chart.png
python3 bench/chart.py --frame-budget target/bench/results.json target/bench/frame_budget.png
cp target/bench/results.json docs/benchmarks.json
cp target/bench/chart.png docs/benchmarks.png
cp target/bench/frame_budget.png docs/frame_budget.png
python3 bench/publish.py docs/benchmarks.json README.md docs/benchmarks.md
echo "bench: README.md (Performance), docs/benchmarks.md, .json, benchmarks.png and frame_budget.png updated"
