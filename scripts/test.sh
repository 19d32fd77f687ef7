#!/usr/bin/env bash
# Runs every test: Rust unit and engine integration tests, the addon zip in a fresh project
# (headless and in the editor), the browser chat test in headless Chromium, then the headless
# Godot tests against the freshly built library. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

cargo build
cargo test --all-targets
bash scripts/addon_test.sh
bash scripts/browser_test.sh
bash scripts/godot_tests.sh
