#!/usr/bin/env bash
# Builds gdws and runs the demo chat server headless (default port 9080; pass --port=N).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

cargo build
exec "$GODOT_BIN" --path godot_project "$@"
