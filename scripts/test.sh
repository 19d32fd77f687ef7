#!/usr/bin/env bash
# Runs every test: Rust unit and engine integration tests, the addon zip in a fresh project
# (headless and in the editor), the browser chat test in headless Chromium, a smoke run of the
# benchmark harness (every scenario for a moment, so it cannot rot; no numbers are judged), then
# the headless Godot tests against the freshly built library. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

cargo build
cargo test --all-targets
bash scripts/addon_test.sh
bash scripts/browser_test.sh
bash scripts/bench.sh --smoke
bash scripts/godot_tests.sh
