#!/usr/bin/env bash
# Builds gdws and runs the demo chat server headless (default port 9080; pass --port=N).
# Chat with it from a browser: open godot_project/demo/web/index.html (?url=ws://host:port/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

# The page connects where its ?url= says: the port and scheme this run serves.
port=9080
scheme=ws
for arg in "$@"; do
    case "$arg" in
        --port=*) port=${arg#--port=} ;;
        --cert=* | --key=*) scheme=wss ;;
    esac
done

cargo build
echo "demo: browser client: file://$PWD/godot_project/demo/web/index.html?url=$scheme://localhost:$port/"
exec "$GODOT_BIN" --path godot_project "$@"
