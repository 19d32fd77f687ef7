#!/usr/bin/env bash
# Runs a command in a network namespace of its own (unshare -n: root) whose loopback is up and
# whose TCP buffers are 4 KiB each way, so that what a client does not read piles up in the
# server process, not in the kernel's socket buffers. Used by the tests of stuck peers
# (tests/hostile_multiplayer.rs, godot_project/tests/test_faults_mp_churn.gd).
#
#   scripts/harness/small_tcp_buffers.sh [--output=FILE] COMMAND [ARGS...]
#
# --output=FILE sends the command's stdout and stderr to FILE. Exits with the command's code.
set -euo pipefail
output=""
if [[ ${1:-} == --output=* ]]; then
    output=${1#--output=}
    shift
fi
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare -n bash -c '
    ip link set lo up
    sysctl -qw net.ipv4.tcp_wmem="4096 4096 4096" net.ipv4.tcp_rmem="4096 4096 4096"
    output=$1
    shift
    if [ -n "$output" ]; then exec "$@" >"$output" 2>&1; fi
    exec "$@"' bash "$output" "$@"
