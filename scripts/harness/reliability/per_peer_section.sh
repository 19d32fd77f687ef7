#!/usr/bin/env bash
# Reliability fragment (see scripts/reliability.sh): per-peer bounds, with their numbers.
# Runs tests/hostile_multiplayer.rs (its `RELIABILITY key=value` lines) and the headless Godot
# tests test_faults_mp_peers and test_faults_mp_churn, on our server and on the built-in one (the
# churn cases rerun in a network namespace of their own, so they need root), then prints a
# Markdown section on stdout. Exits 1 if any of them failed.
set -uo pipefail
cd "$(dirname "$0")/../../.."
source scripts/env.sh

LOG=$(mktemp)
GODOT_LOG=$(mktemp)
trap 'rm -f "$LOG" "$GODOT_LOG"' EXIT

status=0
cargo test --test hostile_multiplayer -- --nocapture >"$LOG" 2>&1 || status=1
engine_result=$(grep -E '^test result:' "$LOG" | tail -n1)
GODOT_TESTS=(test_faults_mp_peers test_faults_mp_churn)
GDWS_KEEP_LOGS=1 bash scripts/harness/godot_tests.sh "${GODOT_TESTS[@]}" >"$GODOT_LOG" 2>&1 || status=1
GDWS_KEEP_LOGS=1 GDWS_BUILTIN=1 bash scripts/harness/godot_tests.sh "${GODOT_TESTS[@]}" >>"$GODOT_LOG" 2>&1 || status=1
# The churn test's numbers, from the logs the runs kept: ours first, then the built-in's.
mapfile -t kept < <(sed -n 's/^logs kept in //p' "$GODOT_LOG")
churn_line() { sed -n 's/^mp churn: //p' "${kept[$1]:-/dev/null}/test_faults_mp_churn.log" 2>/dev/null | tail -n1; }
ours_churn=$(churn_line 0)
stock_churn=$(churn_line 1)
rm -rf "${kept[@]}"

declare -A v
while IFS='=' read -r key value; do
    v[$key]=$value
done < <(grep -o 'RELIABILITY .*' "$LOG" | tr ' ' '\n' | grep '=')
get() { echo "${v[$1]:-?}"; }
# 12345678 -> 12,345,678
n() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
reserve=$(sed -n 's/^pub const SYSTEM_RESERVE_PACKETS: usize = \([0-9]*\);$/\1/p' rust/engine/src/runtime/queue.rs)
reason=$(sed -n 's/^pub const OVERFLOW_REASON: &str = "\(.*\)";$/\1/p' rust/engine/src/runtime/connection.rs)

cat <<EOF
## Per-peer bounds

Everything queued for a peer counts against its outbound limits (\`set_buffers\`' output size
and packet count, 64 KiB and 1024 by default): the game's own packets, in multiplayer mode the
packets other clients send it through the server (relays, on the network threads), and the
peer-list updates (SYS_ID, SYS_ADD, SYS_DEL: 13 bytes each). What happens at the bound depends
on who sent the packet:

- **The game's packets** (\`put_packet\`, \`rpc\`, \`send_bytes\`): refused with
  \`ERR_OUT_OF_MEMORY\`, nothing sent, the connection kept.
- **Relays**: a relay is never dropped while both peers stay connected. One that does not fit
  in its target's queue closes the target, which cannot keep up. The sender is not slowed down
  (no backpressure): a broadcast would then wait for its slowest target, and one stuck client
  would freeze every client that broadcasts.
- **Peer-list updates** may pass the limits by one message per connected peer plus
  ${reserve:-?} (\`SYSTEM_RESERVE_PACKETS\`), so a join always fits and a peer whose queue is full
  of game data still hears of joins and leaves. A peer past that reads nothing while peers come
  and go: it cannot be told its peer list, and is closed. (An unsent SYS_ADD X and SYS_DEL X do
  not cancel each other; the bound closes the peer instead.)
- **Closed for not keeping up**: close 1008, reason \`${reason:-?}\`. What was still queued for the
  peer is dropped; the close frame goes out behind what its socket had already taken, and a
  peer that reads nothing is dropped at the close timeout (3 s). \`poll()\` prints one warning
  naming the peer and the cause, e.g. \`WARNING: WebSocketServer.poll: peer 7 cannot keep up: a
  packet relayed from peer 5 of 21 bytes did not fit in its outbound queue (65572 bytes in 4
  packets queued); closing with 1008\` (or \`a peer list update (SYS_ADD/SYS_DEL) of 13 bytes\`); then the game
  hears \`client_disconnected(id, false)\` and \`peer_disconnected(id)\`, and every other peer
  gets SYS_DEL(id) and nothing else.
- So a peer costs at most its queue (the output size, plus 13 bytes and one queued command per
  update past it) and tungstenite's write buffer (16 KiB + the output size + 1 KiB), beside the
  kernel's socket buffers. Its other commands are bounded too: one close, and one pending
  TCP_NODELAY change (\`set_no_delay\` calls made before it applies are coalesced).

The life of a peer id and of a peer's end:

- **Ids are not reused early**: an id goes to no new peer before the game took the
  disconnection of its last holder (\`client_disconnected\`, emitted by \`poll()\`), so the game
  never hears a peer join under an id whose previous peer it has not seen leave.
- **A panic in a connection task** (a bug) is caught by the runtime; the peer is unregistered
  and reported as gone (\`client_disconnected(id, false)\`; in multiplayer mode the others get
  SYS_DEL), not left as a ghost.
- **After \`disconnect_peer(id)\`** the peer's unread packets (plain and multiplayer) are dropped
  at once: none reaches the game or the MultiplayerAPI afterwards. The built-in server hands
  them to the MultiplayerAPI after \`disconnect_peer\` (before \`peer_disconnected\`).
- **Between a peer's end and the next \`poll()\`** \`has_peer(id)\` stays true; \`put_packet\`,
  \`send_bytes\` and \`rpc_id\` to it return \`FAILED\` without printing, and broadcasts (\`rpc\`,
  target 0) leave it out. The game hears of the end at that poll; a send to the id after it
  prints an error, as for any unknown id. The built-in server prints
  \`put_packet: Condition "!is_connected_to_host()" is true\` for each such send.

| Case | gdws | Test |
| --- | --- | --- |
| $(get mp_churn_stuck) stuck peers (never read; 4 KiB TCP buffers) while one peer joins and leaves in a loop; limits 4 KiB / 16 packets | each closed once with 1008 and one warning after at most $(n "$(get mp_churn_cycles)") cycles; heap peak +$(n "$(get mp_churn_heap_peak)") B (bound $(n "$(get mp_churn_heap_bound)") B); a reading bystander sees every stuck peer come and go. Before the bound: none closed after 20,000 cycles, heap +41 MB and growing | \`tests/hostile_multiplayer.rs\` |
| The same in a Godot process (\`set_buffers(64, 1024, 4, 16)\`), raw TCP clients | ${ours_churn:-?}; each closed once with one warning. Built-in: ${stock_churn:-?}, and an ERROR for every update to a peer already gone | \`godot_project/tests/test_faults_mp_churn.gd\` |
| A relay to a full queue | the target is closed with 1008 and one warning; it gets what its socket had taken, in order, then the close; the sender goes on | \`tests/hostile_multiplayer.rs\` |
| A new peer while the last holder of the id it would get is gone but not yet polled | gets another id | \`tests/hostile_multiplayer.rs\` |
| A panic in a connection task | \`Disconnected\`, SYS_DEL to the others, socket closed | \`tests/hostile_multiplayer.rs\` |
| Sends to peers that are leaving | refused (\`NotConnected\`), left out of broadcasts | \`tests/hostile_multiplayer.rs\` |
| \`disconnect_peer(A)\` inside the MultiplayerAPI's packet loop with 19 of A's packets waiting | none reaches the API afterwards (built-in: all 19) | \`godot_project/tests/test_faults_mp_peers.gd\` |
| \`put_packet\`, \`send_bytes\`, \`rpc_id\`, \`rpc\` to a peer whose client quit, before \`poll()\` | \`FAILED\` (broadcasts \`OK\`), nothing printed (built-in: an ERROR each) | \`godot_project/tests/test_faults_mp_peers.gd\` |

Engine: ${engine_result:-no result}

Godot tests (ours, then the built-in server):

$(grep -E '^(PASS|FAIL) test_faults_mp_' "$GODOT_LOG" | sed 's/^/- /')
EOF
exit $status
