#!/usr/bin/env bash
# Reliability fragment (see scripts/reliability.sh): how many warnings reach the game, the
# upgrade requests refused as ambiguous or malformed (ours against the built-in class), the
# connections that send nothing, and the bound on TLS handshakes at once. Runs the tests that
# prove it (tests/hostile.rs's flood, tests/handshake.rs, godot_project/tests/test_handshake*.gd
# on ours and on the built-in class) and prints their numbers. Exits 1 if one of them failed.
set -uo pipefail
cd "$(dirname "$0")/../../.."
source scripts/env.sh

LOG=$(mktemp)
GODOT_LOG=$(mktemp)
STOCK_LOG=$(mktemp)
trap 'rm -f "$LOG" "$GODOT_LOG" "$STOCK_LOG"; [ -n "${kept:-}" ] && rm -rf "$kept" "$stock_kept"' EXIT

status=0
cargo test --test hostile -- --nocapture --exact \
    a_flood_of_refused_handshakes_while_the_game_does_not_poll_holds_a_bounded_number_of_warnings \
    >>"$LOG" 2>&1 || status=1
cargo test --test handshake -- --nocapture --test-threads=1 >>"$LOG" 2>&1 || status=1
GDWS_KEEP_LOGS=1 bash scripts/harness/godot_tests.sh test_handshake test_handshake_flood \
    >"$GODOT_LOG" 2>&1 || status=1
GDWS_BUILTIN=1 GDWS_KEEP_LOGS=1 bash scripts/harness/godot_tests.sh test_handshake \
    >"$STOCK_LOG" 2>&1 || status=1
kept=$(sed -n 's/^logs kept in //p' "$GODOT_LOG")
stock_kept=$(sed -n 's/^logs kept in //p' "$STOCK_LOG")
[ "$status" -ne 0 ] && cat "$LOG" "$GODOT_LOG" "$STOCK_LOG" >&2

declare -A v
while IFS='=' read -r key value; do
    v[$key]=$value
done < <(cat "$LOG" "${kept:-/dev/null}"/*.log 2>/dev/null \
    | sed -n 's/^.*RELIABILITY \([a-z0-9_]*=[^ ]*\)$/\1/p')
get() { echo "${v[$1]:-?}"; }
# What the built-in class did with each request: "stock: CASE: ANSWER, signals [...]".
stock() {
    grep -ah "^stock: $1: " "${stock_kept:-/dev/null}"/test_handshake.log 2>/dev/null \
        | head -n1 | sed -e "s/^stock: $1: //" -e 's/"//g'
}
stock_row() {
    local case=$1 ours=$2
    local did
    did=$(stock "$case")
    echo "| $case | $ours | ${did:-?} |"
}

cat <<MD
## Warnings and handshakes

**A server-wide bound on warnings.** Every warning about a peer and every refused handshake
passes one token bucket per server before it goes to the game: 10 a second on average, 20 at
once after a quiet spell, and at most 32 waiting for \`poll()\` (\`WarningBudget::DEFAULT\`,
\`rust/engine/src/runtime/warnings.rs\`). What is held back is counted, never lost silently:
once \`poll()\` has taken the events before it, it prints
\`WARNING: WebSocketServer.poll: N more warnings and refused connections were not printed\`,
at most once a second (\`WARNING_INTERVAL\`). A flood so costs the main thread at most 11
lines a second, and a game that does not poll (a loading screen) at most 32 warnings in
memory, whatever the clients do. Each peer still says at most one warning a second (the
others are counted in its next one). Connections, messages, close requests and
disconnections are never held back: what of them waits is bounded by each peer's unread
limit (\`set_buffers\`) instead.

Measured: $(get warning_flood_refusals) refused handshakes in $(get warning_flood_flood_ms) ms while the
engine was not polled (\`tests/hostile.rs\`) left $(get warning_flood_waiting_events) events waiting:
$(get warning_flood_warnings) warnings, one client's connect, message, close request and disconnection,
and the count of the other $(get warning_flood_suppressed) refusals (the longest reason: $(get warning_flood_longest_reason)
bytes). In Godot (\`test_handshake_flood.gd\`), $(get godot_warning_flood_refusals) refusals in $(get godot_warning_flood_flood_ms) ms while the game did
not poll: the first \`poll()\` printed $(get godot_warning_flood_lines) lines ($(get godot_warning_flood_warnings) refusals and the count of
$(get godot_warning_flood_suppressed) more), and the process's RSS went from $(get godot_warning_flood_rss_kib_before) to $(get godot_warning_flood_rss_kib_after) KiB (a stock client
process connected meanwhile). The built-in class accepts only inside \`poll()\`: while the game
does not poll, such a flood waits in its 8-connection backlog.

**Client text is cut and escaped.** A reason that quotes what the client sent (the offered
subprotocols, the WebSocket version asked, the key, a body header) shows at most 64 bytes of it
in double quotes, printable ASCII as it is (\`"\` and \`\\\` escaped), every other byte as
\`\\xNN\`, and when it was longer, \`... (cut, N bytes in all)\` (\`proto/client_text.rs\`).

**Port scans and load balancers print nothing.** A connection that closes or resets before
sending a byte is not a refused handshake: the engine only counts it
(\`Server::silent_connections\`) and closes its socket, on ws:// and wss:// alike
(\`tests/handshake.rs\`, \`test_handshake.gd\`). One that sends anything and then stops is still
reported (a half request, a half ClientHello: at \`handshake_timeout\`).

**Ambiguous or malformed upgrades get 400.** Ours refuses them with the reason as the body;
what Godot's built-in class does with each is from \`test_handshake.gd\` run against it:

| Request | Ours | Built-in (3.2.3) |
| --- | --- | --- |
MD
stock_row "a body (Content-Length)" "400: a GET request with a body"
stock_row "a chunked body" "400: a GET request with a body"
stock_row "two Upgrade headers" "400: the Upgrade header appears 2 times"
stock_row "two Sec-WebSocket-Version headers" "400: the Sec-WebSocket-Version header appears 2 times"
stock_row "two Sec-WebSocket-Key headers" "400: the Sec-WebSocket-Key header appears 2 times"
stock_row "a key of 5 bytes" "400: not the base64 of 16 bytes"
stock_row "a subprotocol that is not a token" "400: not a token"
stock_row "a 4 KB subprotocol, not a token" "400, the quote cut to 64 bytes"
cat <<MD

\`Content-Length: 0\` is no body and is taken. The key must be 22 base64 characters and \`==\`
(the 4 bits past the 16 bytes are not checked: the key is only hashed). A subprotocol is an
RFC 7230 token; a list may have empty elements and spaces or tabs around its items.

**TLS handshakes at once.** A wss:// server runs at most 16 TLS handshakes per core at once
(\`TLS_HANDSHAKES_PER_CORE\`; $(get tls_full_slots) on this machine), counted from a whole ClientHello
(reading one costs next to nothing, so a client that sends half of one holds no slot) to the
end of the TLS handshake. The others wait, first come first served, within their
\`handshake_timeout\` (counted from the accept, as before), and one whose deadline passed while
it waited does no TLS work: a flood of handshakes queues instead of sharing the cores until
every one of them times out. With $(get tls_half_hello_stalled) clients stalled inside their ClientHello, a good
client connected in $(get tls_half_hello_good_client_ms) ms. When every slot is held by a client that sent a whole
ClientHello and then nothing, each is dropped at its own \`handshake_timeout\` from its accept;
a client accepted after them has a later deadline, so it gets the first slot freed: with
$(get tls_full_slots) such clients and a $(get tls_full_timeout_ms) ms timeout, a good client that came after them waited
$(get tls_full_good_client_waited_ms) ms and connected, after $(get tls_full_failed_before_good) of theirs had failed (\`tests/handshake.rs\`). An attacker who
keeps every slot full so delays new clients by up to a \`handshake_timeout\`, and makes them
fail if it also keeps the queue ahead of them full; the slots bound the work and the memory
such a flood costs, not who gets served: on a server that expects floods, put a TLS terminator
(or a rate limit per address) in front.
MD
exit "$status"
