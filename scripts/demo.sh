#!/usr/bin/env bash
# Builds gdws and runs the demo chat server headless (default port 9080; pass --port=N).
# Chat with it from a browser: open godot_project/demo/web/index.html (?url=ws://host:port/).
#
#   scripts/demo.sh --lobby    runs the multiplayer lobby (demo/lobby.tscn, Godot RPCs) instead;
#                              join it with the GUI client (demo/lobby_gui.tscn) or the headless
#                              one (demo/lobby_client.gd); see demo/lobby.gd
# Other options go to the server: --port=N, --builtin, --quit-after=N, and for the chat
# --cert=FULLCHAIN.pem --key=KEY.pem (wss://).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

# The page connects where its ?url= says: the port and scheme this run serves.
port=9080
scheme=ws
scene=()
args=()
for arg in "$@"; do
    case "$arg" in
        --lobby) scene=(res://demo/lobby.tscn); continue ;;
        --port=*) port=${arg#--port=} ;;
        --cert=* | --key=*) scheme=wss ;;
    esac
    args+=("$arg")
done

cargo build
if [ ${#scene[@]} -gt 0 ]; then
    echo "demo: lobby GUI client: godot3 --path $PWD/godot_project res://demo/lobby_gui.tscn --port=$port"
    echo "demo: headless client:  $GODOT_BIN --path $PWD/godot_project -s demo/lobby_client.gd --port=$port --name=You"
else
    echo "demo: browser client: file://$PWD/godot_project/demo/web/index.html?url=$scheme://localhost:$port/"
fi
exec "$GODOT_BIN" --path godot_project "${scene[@]}" "${args[@]}"
