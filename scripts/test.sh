#!/usr/bin/env bash
# Runs every test: Rust unit and engine integration tests, then the headless Godot tests
# against the freshly built library. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

cargo build
cargo test --all-targets
bash scripts/godot_tests.sh
