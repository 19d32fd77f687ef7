#!/usr/bin/env bash
# Benchmarks: our WebSocketServer against Godot's built-in one under the same headless Godot and
# the same GDScript (godot_project/bench/bench_server.gd), and gdws's engine alone against a raw
# tokio-tungstenite echo server. Server pinned to core 0, load generator (bench/, Rust) to core 1.
#
#   scripts/bench.sh              every scenario, 3 runs each (about 10 minutes); regenerates
#                                 docs/benchmarks.json, docs/benchmarks.png and the results tables
#                                 in docs/benchmarks.md and README.md
#   scripts/bench.sh --smoke      every scenario for a moment, ours only, on the debug build
#                                 (seconds); fails unless each produced its numbers
#   scripts/bench.sh --runs=5 --only=echo,bulk ...   a subset (options of bench/run.py); results
#                                 go to target/bench/ only
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
if [ $# -gt 0 ]; then
    python3 bench/run.py --json=target/bench/results.json --md=target/bench/table.md "$@"
    exit
fi
python3 bench/run.py --json=target/bench/results.json --md=target/bench/table.md
# The chart needs matplotlib: installed for this user if missing.
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install --quiet --user matplotlib \
    || python3 -m pip install --quiet matplotlib
python3 bench/chart.py target/bench/results.json target/bench/chart.png
cp target/bench/results.json docs/benchmarks.json
cp target/bench/chart.png docs/benchmarks.png
python3 bench/publish.py docs/benchmarks.json README.md docs/benchmarks.md
echo "bench: README.md (Performance), docs/benchmarks.md, .json and .png updated"
