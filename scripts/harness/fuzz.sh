#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time, seeded from the committed corpus in
# fuzz/seeds/<target>/ (new inputs go to a scratch directory; the seeds are never changed).
#
#   scripts/harness/fuzz.sh [seconds per target [target...]]   default 20 s, every target;
#                                                              GDWS_LONG=1: 600 s
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags
# (AddressSanitizer, coverage). CI builds the debug profile (quick to build, debug assertions
# on); GDWS_LONG=1 builds optimised for more executions per second.
# Prints one line per target, "fuzz: TARGET | EXECUTIONS | SECONDS | RESULT", then
# "N passed, N failed". A crash leaves its input in fuzz/artifacts/TARGET/ and fails the run; so
# do a target named that does not exist, no target selected at all, and a target that ran no input.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

if [ "${GDWS_LONG:-0}" = "1" ]; then
    SECONDS_PER_TARGET=${1:-600}
    PROFILE=(-O)
else
    SECONDS_PER_TARGET=${1:-20}
    PROFILE=(--dev)
fi
[ $# -gt 0 ] && shift
WANTED=("$@")

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
cd fuzz
ALL_TARGETS=$(cargo fuzz list)
TARGETS=()
if [ ${#WANTED[@]} -eq 0 ]; then
    read -r -a TARGETS <<<"$(echo $ALL_TARGETS)"
else
    for target in "${WANTED[@]}"; do
        if [[ " $(echo $ALL_TARGETS) " != *" $target "* ]]; then
            echo "fuzz: no target named $target (targets: $(echo $ALL_TARGETS))" >&2
            exit 1
        fi
        TARGETS+=("$target")
    done
fi
if [ ${#TARGETS[@]} -eq 0 ]; then
    echo "fuzz: no target selected (cargo fuzz list: '$(echo $ALL_TARGETS)')" >&2
    exit 1
fi
cargo fuzz build "${PROFILE[@]}" 2>&1 | tail -n 1

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/gdws_fuzz.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
passed=0
failed=0
for target in "${TARGETS[@]}"; do
    corpus="$SCRATCH/$target"
    log="$SCRATCH/$target.log"
    mkdir -p "$corpus" "artifacts/$target"
    started=$(date +%s)
    # -rss_limit_mb: a leak or a huge allocation is a finding too.
    if cargo fuzz run "${PROFILE[@]}" "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"$log" 2>&1; then
        result="no crash"
        passed=$((passed + 1))
    else
        result="CRASH (see fuzz/artifacts/$target/)"
        failed=$((failed + 1))
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -n 20 >&2 || tail -n 30 "$log" >&2
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$result" = "no crash" ] && [ "${executions:-0}" -eq 0 ]; then
        result="RAN NO INPUT"
        passed=$((passed - 1))
        failed=$((failed + 1))
        tail -n 30 "$log" >&2
    fi
    echo "fuzz: $target | ${executions:-0} | $(($(date +%s) - started)) | $result"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
