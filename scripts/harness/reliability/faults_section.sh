#!/usr/bin/env bash
# Reliability fragment (see scripts/reliability.sh): the fault tests, with their numbers.
# Runs tests/faults.rs (its `RELIABILITY key=value` lines) and the headless Godot fault tests
# (godot_project/tests/test_faults_*.gd), then prints a Markdown section on stdout. Exits 1 if
# any of them failed. GDWS_LONG=1 runs the long versions of the engine tests.
set -uo pipefail
cd "$(dirname "$0")/../../.."
source scripts/env.sh

LOG=$(mktemp)
GODOT_LOG=$(mktemp)
trap 'rm -f "$LOG" "$GODOT_LOG"' EXIT

status=0
cargo test --test faults -- --nocapture --test-threads=1 >"$LOG" 2>&1 || status=1
engine_result=$(grep -E '^test result:' "$LOG" | tail -n1)
godot_tests=$(cd godot_project/tests && ls test_faults_*.gd | sed 's/\.gd$//')
# shellcheck disable=SC2086
bash scripts/harness/godot_tests.sh $godot_tests >"$GODOT_LOG" 2>&1 || status=1

declare -A v
while IFS='=' read -r key value; do
    v[$key]=$value
done < <(sed -n 's/^.*RELIABILITY \([a-z0-9_]*=[^ ]*\)$/\1/p' "$LOG")
get() { echo "${v[$1]:-?}"; }
# 12345678 -> 12,345,678
n() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
mib() {
    if [[ "$1" =~ ^[0-9]+$ ]]; then
        local tenths=$((($1 * 10 + 512) / 1024))
        echo "$((tenths / 10)).$((tenths % 10)) MiB"
    else
        echo "?"
    fi
}
resources() {
    local p=$1
    echo "fds $(get "${p}_fds_before") → $(get "${p}_fds_after"), threads $(get "${p}_threads_before") → $(get "${p}_threads_after"), heap $(n "$(get "${p}_heap_bytes_before")") → $(n "$(get "${p}_heap_bytes_after")") B, RSS $(mib "$(get "${p}_rss_kib_before")") → $(mib "$(get "${p}_rss_kib_after")")"
}

echo "## Faults"
echo
if [ "${GDWS_LONG:-0}" = "1" ]; then
    echo "Long runs (\`GDWS_LONG=1\`)."
else
    echo "CI-sized runs (\`GDWS_LONG=1\` for the long ones)."
fi
echo "Engine tests: \`cargo test --test faults\` (tokio-tungstenite and raw TCP clients in the"
echo "same process, debug build; file descriptors from \`/proc/self/fd\`, threads from"
echo "\`/proc/self/task\`, heap = bytes allocated and not freed, counted exactly by the test's"
echo "allocator; RSS from \`/proc/self/status\`, which the C allocator keeps high after a peak)."
echo "Before/after numbers are taken after a warm-up and once every connection is gone."
echo
echo "| Case | Result |"
echo "| --- | --- |"
echo "| Connect/disconnect churn (a third each: close handshake, FIN, RST in the middle of a frame) | $(n "$(get churn_cycles)") cycles, $(get churn_concurrency) at once, $(get churn_seconds) s; $(resources churn) |"
echo "| \`stop()\` with $(n "$(get stop_peers)") peers sending and receiving | returned in $(get stop_ms) ms (bound: about 1 s); every client saw its connection end, every \`gdws-io\` thread gone; $(resources stop) |"
echo "| \`listen()\`/\`stop()\` in a row, one client echoed each round | $(n "$(get listen_stop_rounds)") rounds, $(get listen_stop_ms_per_round) ms each; $(resources listen_stop) |"
echo "| No \`poll()\` for $(get nopoll_seconds_not_polled) s while $(get nopoll_senders) clients send $(n "$(get nopoll_messages)") messages of $(get nopoll_message_bytes) B | events waiting peaked at $(n "$(get nopoll_peak_pending_events)") (bound $(n "$(get nopoll_event_bound)"): 1,024 unread per peer), RSS $(mib "$(get nopoll_rss_kib_before)") → peak $(mib "$(get nopoll_rss_kib_peak)"); lost: $(get nopoll_lost), order kept per client |"
echo "| A client floods $(n "$(get ping_flood_pings)") pings of 125 B and never reads (ws://, then wss://) | the pongs are coalesced, not piled up: heap peak +$(n "$(get ping_flood_heap_peak_bytes)") B over ws://, +$(n "$(get ping_flood_wss_heap_peak_bytes)") B over wss:// (before the write buffer was bounded: +16.9 MB for 100,000 pings); a bystander keeps its echo |"
echo "| A burst of connections faster than the accept loop takes them | the kernel holds $(n "$(get listen_backlog)") for it (the listening socket's backlog, as \`ss\` reports it; the stock server's is 8); out of file descriptors, new clients are closed at once instead (\`tests/admission.rs\`) |"
echo "| Clients vanishing mid-handshake, mid-frame, mid-close; unknown ids, empty queues, oversized \`put_packet\` | errors or prompt disconnects, no hang (see \`tests/faults.rs\`, \`tests/close.rs\`) |"
echo
echo "Engine: ${engine_result:-no result (build failed?)}"
echo
echo "Godot tests (headless Godot $("$GODOT_BIN" --version 2>/dev/null | head -n1), stock clients in other processes):"
echo
grep -E '^(PASS|FAIL) test_faults' "$GODOT_LOG" | sed 's/^/- /'
echo
echo "- \`test_faults_panic\`: a panic injected into \`put_packet\`/\`get_packet\` (WebSocketPeer,"
echo "  and the server's \`put_packet\` under the MultiplayerAPI) returns \`FAILED\` with an"
echo "  \`ERROR:\` line naming the callback; nothing lost, the next calls work."
echo "- \`test_faults_lifecycle\`: 100 \`listen()\`/\`stop()\` rounds on one object and 100 on new"
echo "  objects, two servers at once, churn with killed clients, every method of a gone peer,"
echo "  dropping the last reference to a listening server (clients see the end, threads gone,"
echo "  no leak reported at exit)."
echo "- \`test_faults_multiplayer\`: \`send_bytes\`, \`rpc_id\`, \`rset_id\` and server methods with"
echo "  unknown ids fail with an error and reach nobody; two servers in multiplayer mode at once"
echo "  (the SceneTree's MultiplayerAPI and a \`custom_multiplayer\`), each serving its client."
echo "- \`test_faults_nopoll\`: no \`poll()\` for 2 s while 3 clients send 3,000 messages each:"
echo "  all arrive, in order (the built-in server drops them)."
if [ "$status" -ne 0 ]; then
    echo
    echo "Failures:"
    echo
    echo '```'
    grep -E '^(test .*FAILED|FAIL |    )|panicked at' "$LOG" "$GODOT_LOG" | head -n 40
    echo '```'
fi
exit "$status"
