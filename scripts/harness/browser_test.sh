#!/usr/bin/env bash
# The browser test (tests/browser/chat.test.mjs): the demo's chat page in headless Chromium
# against the headless Godot demo server, text and binary both ways; screenshot in
# target/artifacts/browser_chat.png. Installs Chromium (Debian's package) and playwright-core
# (npm, the version in tests/browser/package-lock.json) when missing. Run `cargo build` first.
# Port: GDWS_BROWSER_PORT, by default GDWS_PORT_BASE + 920 (the Godot tests use the ports above
# GDWS_PORT_BASE, 20 each).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh --browser
source scripts/env.sh

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi
export GDWS_BROWSER_PORT="${GDWS_BROWSER_PORT:-$((${GDWS_PORT_BASE:-21000} + 920))}"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
cd tests/browser
node --test --test-reporter=spec chat.test.mjs
