#!/usr/bin/env bash
# The one test entry point: runs every test, or one suite of them, after installing what is missing.
#
#   scripts/test.sh                    every suite below, in this order
#   scripts/test.sh SUITE [ARGS...]    one suite; ARGS go to it
#
# Suites (each is a script in scripts/harness/, which says more):
#   rust                 cargo test --all-targets: engine unit and integration tests
#   addon [--debug]      the release addon zip (--debug: of the debug build) in a fresh project,
#                        headless and in the editor; then the exported demo (scripts/bundle.sh)
#                        started from its bundle, and a chat
#   browser              the demo's chat page in headless Chromium against the headless demo,
#                        and the demo's Godot GUIs (lobby client, start screen) under Xvfb
#   bench                a smoke run of the benchmark harness (scripts/bench.sh --smoke: every
#                        scenario for a moment, so it cannot rot; no numbers are judged)
#   godot [TEST...]      the engine methods the library calls are in Godot 3.2.3 and 3.5.1
#                        (harness/godot_api_check.py), then the headless Godot tests
#                        (godot_project/tests/test_*.gd) on our library
#   builtin [TEST...]    the same tests on Godot's built-in WebSocketServer: the stock checks must
#                        pass there, and the checks of what is ours must fail where stock differs
#   proxies [TEST...]    gdws behind real nginx (TLS, WebSocket upgrade) and HAProxy (two demo
#                        servers, one killed mid-test, PROXY v2, health checks), with Godot,
#                        Python and Chromium clients; the proxy configurations in
#                        docs/deployment.md are the ones tested
#   conformance          the Autobahn TestSuite against headless Godot and the engine alone
#   windows [TEST...]    the engine's tests as Windows programs under wine (cross-built)
#   fuzz [SECONDS]       the cargo-fuzz targets, 20 s each (GDWS_LONG=1: 600)
#
# GDWS_LONG=1 makes the repeated cases and the fuzzing run longer. Exits non-zero on the first
# failed suite.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITES=(rust addon browser bench godot builtin proxies conformance windows fuzz)
# What a run with no arguments runs: all of them.
ALL=("${SUITES[@]}")
if [ $# -gt 0 ] && [[ ! " ${SUITES[*]} " =~ " $1 " ]]; then
    echo "test: unknown suite '$1' (one of: ${SUITES[*]})" >&2
    exit 2
fi
bash scripts/setup.sh
source scripts/env.sh

run_suite() {
    local suite=$1; shift
    echo "test: $suite"
    case "$suite" in
        rust) cargo test --all-targets "$@" ;;
        addon) bash scripts/harness/addon_test.sh "$@"; bash scripts/harness/bundle_test.sh ;;
        browser) cargo build; bash scripts/harness/browser_test.sh "$@" ;;
        bench) bash scripts/bench.sh --smoke "$@" ;;
        godot) cargo build; python3 scripts/harness/godot_api_check.py; bash scripts/harness/godot_tests.sh "$@" ;;
        builtin) GDWS_BUILTIN=1 bash scripts/harness/godot_tests.sh "$@" ;;
        proxies) cargo build; bash scripts/harness/proxies_test.sh "$@" ;;
        conformance) bash scripts/harness/conformance.sh "$@" ;;
        windows) bash scripts/harness/windows_test.sh "$@" ;;
        fuzz) bash scripts/harness/fuzz.sh "$@" ;;
    esac
}

if [ $# -gt 0 ]; then
    run_suite "$@"
    exit
fi
# cargo test first; its build of libgdws.so has the dev-dependencies' features, so the suites
# after it rebuild the library as `cargo build` makes it for users.
for suite in "${ALL[@]}"; do
    run_suite "$suite"
done
echo "test: every suite passed (${ALL[*]})"
