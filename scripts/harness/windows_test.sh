#!/usr/bin/env bash
# The engine's tests as Windows programs: its unit tests and integration tests (real sockets,
# tokio-tungstenite and rustls clients) cross-built for x86_64-pc-windows-gnu (windows_env.sh)
# and run under wine, one binary after another. What fails here is a Windows bug.
#
#   scripts/harness/windows_test.sh [TEST...]    only these integration tests (names of tests/*.rs)
#
# Not run on Windows, each for the reason given: they measure Linux itself. (tests/faults.rs
# does run: under wine its /proc reads see the wine process, a Linux one.)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh --windows
source scripts/env.sh
source scripts/harness/windows_env.sh

declare -A LINUX_ONLY=(
    [admission]="lowers RLIMIT_NOFILE and reads the server's socket options through pidfd_getfd"
)

# Single tests not run here, each with why: wine cannot run them as Windows would, or they
# need Linux itself.
declare -A SKIPS=(
    [a_flood_of_refused_handshakes_while_the_game_does_not_poll_holds_a_bounded_number_of_warnings]="3,000 connections in a row take wine's socket emulation past the test's 5 s bound (0.2-0.9 s on Linux)"
    [stuck_peers_under_join_leave_churn_are_closed_once_each_and_the_heap_stays_bounded]="runs itself again in a Linux network namespace (unshare -n) with 4 KiB TCP buffers"
    [the_kernel_holds_a_backlog_of_1024_connections_for_the_accept_loop]="reads the listen backlog with Linux's ss"
    [stop_with_a_thousand_busy_peers_returns_promptly_and_leaks_nothing]="under wine, 1,000 busy peers saturate the I/O threads: STOP_GRACE's 500 ms wait itself returns after about 1.07 s with none of the closes done, and stop() takes 1.7-1.9 s (bound 1.25 s; 0.55 s on Linux); closesocket is not the cost (0.02 ms each under wine)"
)

if [ $# -gt 0 ]; then
    tests=("$@")
else
    # Every [[test]] target of the engine.
    mapfile -t tests < <(awk '/^\[\[test\]\]/ { in_test = 1; next }
        in_test && /^name = / { gsub(/"/, "", $3); print $3; in_test = 0 }' rust/engine/Cargo.toml)
fi
targets=(--lib)
for test in "${tests[@]}"; do
    if [ -n "${LINUX_ONLY[$test]:-}" ]; then
        echo "windows_test: $test skipped: ${LINUX_ONLY[$test]}"
    else
        targets+=(--test "$test")
    fi
done
skips=()
for test in "${!SKIPS[@]}"; do
    echo "windows_test: $test skipped: ${SKIPS[$test]}"
    skips+=(--skip "$test")
done
windows_cargo test -p gdws-engine "${targets[@]}" -- "${skips[@]}"
echo "windows_test: the engine's tests passed as Windows programs under wine (${targets[*]})"
