#!/usr/bin/env bash
# Builds gdws and runs the demo chat server headless (default port 9080; pass --port=N).
# Chat with it from a browser: open godot_project/demo/web/index.html (?url=ws://host:port/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

cargo build
echo "demo: browser client: file://$PWD/godot_project/demo/web/index.html"
exec "$GODOT_BIN" --path godot_project "$@"
