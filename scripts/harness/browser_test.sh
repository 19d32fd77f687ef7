#!/usr/bin/env bash
# The browser tests: tests/browser/chat.test.mjs, the demo's chat page in headless Chromium
# against the headless Godot demo server (names, text and real bytes both ways, reconnecting
# after a server restart; screenshot in target/artifacts/browser_chat.png), and
# tests/browser/godot_gui.test.mjs, the demo's Godot GUIs in the desktop Godot (godot3) under
# Xvfb: the lobby's GUI client against the headless lobby, and the main scene's start screen
# running the chat server (screenshots in target/artifacts/lobby_gui.png and start_screen.png).
# Installs Chromium, godot3 and Xvfb (Debian's packages) and playwright-core (npm, the version in
# tests/browser/package-lock.json) when missing. Run `cargo build` first.
# Ports: GDWS_BROWSER_PORT, by default GDWS_PORT_BASE + 920 (the Godot tests use the ports above
# GDWS_PORT_BASE, 20 each), and the three after it (GUI tests, wss://).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
source scripts/harness/browser_env.sh
export GDWS_BROWSER_PORT="${GDWS_BROWSER_PORT:-$((${GDWS_PORT_BASE:-21000} + 920))}"
cd tests/browser
# --experimental-websocket: Node 20's WebSocket client, for godot_gui.test.mjs.
node --experimental-websocket --test --test-concurrency=1 --test-reporter=spec chat.test.mjs godot_gui.test.mjs
