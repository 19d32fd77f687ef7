#!/usr/bin/env bash
# Runs the headless Godot tests (godot_project/tests/test_*.gd), each in its own Godot process
# under `timeout`, against the built library (run `cargo build` first).
#
#   scripts/harness/godot_tests.sh [test_name ...]      e.g. scripts/harness/godot_tests.sh test_echo
#
# Environment:
#   GDWS_BUILTIN=1        run the server tests against Godot's built-in WebSocketServer instead
#                         (validates the harness; needs no library)
#   GODOT_BIN=...         Godot 3 headless binary (default: godot3-server; see scripts/env.sh)
#   GDWS_TEST_TIMEOUT=90  seconds per test before it is killed
#   GDWS_PORT_BASE=N      first TCP port; test i uses N + 20*i and the ports just above it
#   GDWS_KEEP_LOGS=1      keep the per-test logs (their directory is printed)
#
# A test fails when Godot exits non-zero or times out, when it ran no check, when a process it
# started is still running after it ended normally, or when its output (its own and that of the
# Godot processes it started, which are ended and waited for first) has an `ERROR:` line it did
# not announce or a line it announced missing (see expect_begin() in tests/lib/test_case.gd), a
# `SCRIPT ERROR:`, a Rust panic, leaks at exit (Godot runs with --verbose, which names them), or
# an error or warning of ours that names no call (`<unset>`: printed with gdnative's
# godot_error!/godot_warn! instead of rust/godot/log.rs); see godot_log_check.py. A test that says
# SKIP (nothing to check on the built-in server) passes as skipped. Prints one line per test, then
# "N passed, N skipped, N failed"; exits 1 on any failure.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROJECT="$ROOT/godot_project"
GODOT=${GODOT_BIN:-godot3-server}
TEST_TIMEOUT=${GDWS_TEST_TIMEOUT:-90}
PORT_BASE=${GDWS_PORT_BASE:-$((21000 + ($$ % 500) * 20))}
export LANG=en_US.UTF-8

if ! command -v "$GODOT" >/dev/null 2>&1; then
    echo "godot_tests: $GODOT not found (set GODOT_BIN=...)" >&2
    exit 2
fi

EXTRA_ARGS=()
MODE="gdws"
if [ "${GDWS_BUILTIN:-0}" = "1" ]; then
    EXTRA_ARGS+=(--builtin)
    MODE="built-in WebSocketServer"
elif [ ! -e "$PROJECT/addons/gdws/bin/libgdws.so" ]; then
    echo "godot_tests: $PROJECT/addons/gdws/bin/libgdws.so is missing: run cargo build first" >&2
    exit 2
fi

# Scratch space: client logs (TMPDIR) and Godot's user:// (XDG_DATA_HOME) stay out of $HOME.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gdws_godot_tests.XXXXXX")
export TMPDIR="$WORK" XDG_DATA_HOME="$WORK/xdg"
# Godot 3.2.3 prints a spurious make_dir_recursive ERROR when it creates user:// itself.
app_name=$(sed -n 's/^config\/name="\(.*\)"$/\1/p' "$PROJECT/project.godot")
mkdir -p "$XDG_DATA_HOME/godot/app_userdata/$app_name"
cleanup() {
    if [ "${GDWS_KEEP_LOGS:-0}" = "1" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# test_load goes first: if the library does not load, the rest says little.
TESTS=(test_load)
if [ $# -gt 0 ]; then
    for t in "$@"; do t=$(basename "$t" .gd); [ "$t" != test_load ] && TESTS+=("$t"); done
else
    for f in "$PROJECT"/tests/test_*.gd; do
        t=$(basename "$f" .gd); [ "$t" != test_load ] && TESTS+=("$t")
    done
fi

# Godot's non-blocking OS.execute starts each client and demo process in a session of its own,
# out of the test's process group: the test prints "@@PID <pid> <what>" for each, and this ends
# those still running once the test is over (a second to finish, then SIGKILL), so that none keeps
# a port and their output is all in the log before it is checked. Prints one line for each that
# was still running after a test that ended normally (it should have ended them), nothing else.
end_started() {
    local log=$1 pid what
    while read -r pid what; do
        # Only ours: the pid's command line names this project (pids are reused).
        grep -qF "$PROJECT" "/proc/$pid/cmdline" 2>/dev/null || continue
        for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null && grep -qF "$PROJECT" "/proc/$pid/cmdline" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null
            [ "$rc" -eq 0 ] && echo "left running at the end of the test, killed: pid $pid, $what"
        fi
    done < <(sed -n 's/^@@PID \([0-9][0-9]*\) \(.*\)$/\1 \2/p' "$log")
    # Their last writes to the log land before it is read.
    sleep 0.1
}

echo "Godot tests against $MODE ($("$GODOT" --version 2>/dev/null | head -n1)), ports from $PORT_BASE"
passed=0
skipped=0
failed=0
failed_names=()
i=0
for t in "${TESTS[@]}"; do
    script="$PROJECT/tests/$t.gd"
    log="$WORK/$t.log"
    if [ ! -f "$script" ]; then
        echo "FAIL $t: no such test ($script)"
        failed=$((failed + 1)); failed_names+=("$t"); continue
    fi
    port=$((PORT_BASE + 20 * i)); i=$((i + 1))
    start=$(date +%s%N)
    # --verbose: Godot names leaked instances and orphan StringNames at exit only then.
    timeout -k 5 "$TEST_TIMEOUT" "$GODOT" --verbose --path "$PROJECT" -s "res://tests/$t.gd" \
        --port="$port" "${EXTRA_ARGS[@]}" >"$log" 2>&1 </dev/null &
    group=$!
    { wait "$group"; } 2>/dev/null  # no "Aborted" notice from bash: the log has the details
    rc=$?
    for _ in $(seq 50); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$group" 2>/dev/null
    left=$(end_started "$log")
    tenths=$((($(date +%s%N) - start) / 100000000))
    secs="$((tenths / 10)).$((tenths % 10))"

    # After end_started: what those processes printed late is in the log now.
    problems=$(python3 "$ROOT/scripts/harness/godot_log_check.py" --test "$log")
    problems="$left${left:+${problems:+$'\n'}}$problems"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        problems="timed out after ${TEST_TIMEOUT}s${problems:+$'\n'$problems}"
    elif [ "$rc" -ne 0 ]; then
        problems="exit code $rc${problems:+$'\n'$problems}"
    fi
    if [ -z "$problems" ] && grep -q '^SKIP: ' "$log"; then
        echo "SKIP $t (${secs}s): $(sed -n 's/^SKIP: //p' "$log" | head -n1)"
        skipped=$((skipped + 1))
    elif [ -z "$problems" ]; then
        echo "PASS $t (${secs}s): $(sed -n 's/^PASS: //p' "$log" | tail -n1)"
        passed=$((passed + 1))
    else
        echo "FAIL $t (${secs}s)"
        echo "$problems" | sed 's/^/    /'
        echo "    --- output of $t ---"
        sed 's/^/    | /' "$log"
        # Again after the log: a CI report that keeps only the output's tail still says why.
        echo "    --- why $t failed (as above) ---"
        echo "$problems" | sed 's/^/    /'
        failed=$((failed + 1)); failed_names+=("$t")
    fi
done

[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $skipped skipped, $failed failed"
[ "$failed" -eq 0 ] && [ "$((passed + skipped))" -gt 0 ]
