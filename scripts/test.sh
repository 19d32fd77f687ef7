#!/usr/bin/env bash
# Runs every test: Rust unit and engine integration tests, the addon zip in a fresh project
# (headless and in the editor), the browser chat test in headless Chromium, a smoke run of the
# benchmark harness (every scenario for a moment, so it cannot rot; no numbers are judged), the
# headless Godot tests against the freshly built library, the Autobahn conformance suite
# (scripts/conformance.sh) and a short fuzzing run (scripts/fuzz.sh, 20 s per target). Installs
# what is missing first. GDWS_LONG=1 makes the repeated cases and the fuzzing run longer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

cargo test --all-targets
# After the tests: their build of libgdws.so has the dev-dependencies' features; everything
# below loads the library as `cargo build` makes it for users.
cargo build
bash scripts/addon_test.sh
bash scripts/browser_test.sh
bash scripts/bench.sh --smoke
bash scripts/godot_tests.sh
bash scripts/conformance.sh
bash scripts/fuzz.sh
