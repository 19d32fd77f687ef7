#!/usr/bin/env bash
# Reliability fragment (see scripts/reliability.sh): memory per peer. Prints what one peer can
# make the server hold in each direction at the default limits, then the numbers of the tests
# that hold it to that: tests/faults.rs (frame headers claiming huge payloads, idle peers) and the headless
# Godot flood test (test_faults_flood.gd) on ours and on the built-in server. Exits 1 if one of
# them failed.
set -uo pipefail
cd "$(dirname "$0")/../../.."
source scripts/env.sh

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

status=0
cargo test --test faults -- a_frame_header an_idle --nocapture >>"$LOG" 2>&1 || status=1
# The Godot test's own output (its RELIABILITY lines) is in its log, kept for this.
godot_flood() {
    local out dir
    out=$(GDWS_KEEP_LOGS=1 bash scripts/harness/godot_tests.sh test_faults_flood 2>&1)
    local rc=$?
    dir=$(echo "$out" | sed -n 's/^logs kept in //p')
    if [ -n "$dir" ] && [ -d "$dir" ]; then
        sed -n "s/^RELIABILITY \([a-z0-9_]*\)=\(.*\)$/${1}\1=\2/p" "$dir/test_faults_flood.log"
        rm -rf "$dir"
    fi
    return $rc
}
godot_flood "" >>"$LOG" || status=1
# The built-in server fails the bounds (checks of ours): its run passes when they fail.
GDWS_BUILTIN=1 godot_flood builtin_ >>"$LOG" || status=1

declare -A v
while IFS='=' read -r key value; do
    v[$key]=$value
done < <(sed -n 's/^\(RELIABILITY \)\{0,1\}\([a-z0-9_]*=[0-9]*\)$/\2/p' "$LOG")
get() { echo "${v[$1]:-?}"; }
n() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }

cat <<'EOF'
## Memory per peer

What one peer can make the server hold, in each direction, whatever it sends or fails to read.
The limits are `set_buffers`' (per peer: `input_buffer_size_kb`, `input_max_packets`,
`output_buffer_size_kb`, `output_max_packets`; default 64 KiB and 1,024 messages each way,
each size at most 64 MiB, `ERR_INVALID_PARAMETER` past it); the rest are constants of the
engine (`rust/engine/src/proto/upgrade.rs`, `runtime/read_ahead.rs`) and rustls's defaults.

| What the peer makes us hold | Bound | At the defaults |
| --- | --- | --- |
| Messages the game has not read | the input limit in payload bytes and in messages; then the socket is not read (TCP backpressure) | 64 KiB, 1,024 messages |
| A message read while the unread queue is full | one message, at most the input limit | 64 KiB |
| A message arriving in fragments | the input limit (tungstenite's `max_message_size`; past it, close 1009) | 64 KiB |
| A frame being read | at most the input limit and never over 64 MiB (`max_frame_size`; past it, close 1009 at the header). tungstenite reserves a frame's claimed length when it reads the header, so a frame over 64 KiB is held back from it (`FrameGate`) in a buffer that grows with what arrives (at most twice that plus 64 KiB), and handed on whole: a header alone costs at most 64 KiB, and a large frame about three times its length while it is handed on | 64 KiB |
| The read buffer | 4 KiB while the peer is active, and 64 KiB more while input comes in bulk (`ReadAhead`); none once it rests (no message in or out for `rest_after`, 1 s: `runtime/socket.rs`) | 68 KiB |
| Messages the game queued (`put_packet`) | the output limit in bytes and in messages (`ERR_OUT_OF_MEMORY` past it) | 64 KiB, 1,024 messages |
| tungstenite's write buffer: game data handed to it, pongs, close replies | 16 KiB + the output limit + 1 KiB (`max_write_buffer_size`). A client that sends pings and never reads fills it; then only the latest pong is kept (RFC 6455 5.5.3 allows it). Freed when the peer rests | 81 KiB |
| TLS (wss:// only) | rustls: 64 KiB of records waiting to be sent, 16 KiB of decrypted input waiting for tungstenite, one record being read (at most 18 KiB); at rest its 4 KiB read buffer and the session stay (rustls has no way to let go of them) | 98 KiB |

At the defaults a peer's worst case is about 470 KiB over ws:// and 570 KiB over wss://, plus
the bookkeeping of up to 1,024 unread and 1,024 queued messages (about 100 bytes each). An
idle peer holds no WebSocket buffer (measured below). Not in this table: in multiplayer mode, the system messages
(`SYS_ADD`/`SYS_DEL`) sent to a peer that does not read, and the events waiting for the game's
`poll()`.

Measured (debug build):

EOF
echo "- Frame headers claiming huge payloads (\`tests/faults.rs\`, heap counted by the test's"
echo "  allocator): 4 clients claiming 1 GiB from an engine configured for 1 GiB messages are closed"
echo "  with 1009 at the header, heap peak +$(n "$(get huge_header_refused_heap_peak_bytes)") B; 4 claiming the 64 MiB cap and sending"
echo "  $(n "$(get huge_header_at_cap_sent_bytes)") B of it each: heap peak +$(n "$(get huge_header_at_cap_heap_peak_bytes)") B (without the hold, tungstenite reserved the 4 x 64 MiB at the headers)."
echo "- 1,000 idle peers that each had one echo (\`tests/faults.rs\`, clients in a child process, the"
echo "  server's heap counted by the test's allocator): $(n "$(get idle_peer_heap_bytes)") B each over ws:// (bound 5 KiB), $(n "$(get idle_wss_peer_heap_bytes)") B over"
echo "  wss:// (bound 13 KiB: rustls keeps its 4 KiB read buffer and the session, about 7 KiB)."
echo "- A client process that floods 200,000 masked pings of 125 B and never reads"
echo "  (\`test_faults_flood.gd\`, the Godot process's RSS sampled every frame): ours +$(n "$(get flood_ping_rss_growth_kb)") KiB, every"
echo "  ping read, the flooder still connected, a stock client's echo unaffected (bound: two peers'"
echo "  worst case and 4 MiB for the allocator, $(n "$(get flood_bound_kb)") KiB); the built-in server grew by"
echo "  $(n "$(get builtin_flood_ping_rss_growth_kb)") KiB, its flood stopped once it passed the bound (it queues every pong)."
echo "- 20,000 messages of 1,000 B to a game that does not read that peer: ours holds 65 of them (64 KiB),"
echo "  the flooder is paused by TCP backpressure, RSS +$(n "$(get flood_message_rss_growth_kb)") KiB, and all 20,000 arrive in order"
echo "  once the game reads; the built-in server (RSS +$(n "$(get builtin_flood_message_rss_growth_kb)") KiB) drops what does not fit."
exit $status
