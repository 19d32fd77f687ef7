#!/usr/bin/env bash
# docs/reliability.md section: what gdws does with bad input on the wire, from running the
# tests that prove it (tests/hostile.rs prints one "wire:" line per case; the cases covered by
# other test files are listed with the test that checks them, once it passed).
# GDWS_LONG=1 repeats the many-clients case 25 times as often. Exits non-zero if a test fails.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source scripts/env.sh

LOG=$(mktemp "${TMPDIR:-/tmp}/gdws_wire.XXXXXX")
trap 'rm -f "$LOG"' EXIT
# Covered elsewhere: "test file|test name|case|on the wire|server event".
OTHERS=(
    "handshake|a_silent_client_is_dropped_at_the_handshake_timeout|a client that sends nothing|closed at handshake_timeout|HandshakeFailed (handshake_timeout)"
    "tls|a_tls_client_on_a_plain_port_fails_at_once|a TLS (wss://) client on a ws:// server|TLS handshake_failure alert|HandshakeFailed naming a wss:// client"
    "limits|invalid_utf8_from_a_client_gets_close_1007|text that is not UTF-8 (whole or split over fragments)|close 1007|Warning (not UTF-8), Disconnected (unclean)"
    "limits|a_message_over_in_bytes_gets_close_1009|a message one byte over the input limit|close 1009|Warning (over the input limit), Disconnected (unclean)"
    "limits|a_fragmented_message_over_in_bytes_gets_close_1009|fragments that fit, adding up to more than the input limit|close 1009|Warning, Disconnected (unclean)"
    "limits|a_huge_message_gets_close_1009_before_the_connection_ends|a 4 MiB message (limit 1 KiB), still being written|close 1009 before the end of the stream|Warning, Disconnected (unclean)"
    "close|a_client_that_never_answers_a_close_is_dropped_at_the_close_timeout|a client that never answers our close|dropped at the close timeout|Disconnected (unclean)"
)
rows=()
for entry in "${OTHERS[@]}"; do
    IFS='|' read -r file name case wire event <<<"$entry"
    if ! cargo test --quiet --test "$file" -- --exact "$name" >"$LOG" 2>&1 \
        || ! grep -q "1 passed" "$LOG"; then
        echo "wire: $file::$name did not pass" >&2
        cat "$LOG" >&2
        exit 1
    fi
    rows+=("| $case | $wire | $event | \`tests/$file.rs\` |")
done
if ! cargo test --quiet --test hostile -- --nocapture --test-threads=1 >"$LOG" 2>&1; then
    cat "$LOG" >&2
    exit 1
fi

cat <<'MD'
## Bad input on the wire

Each case is a raw TCP client writing hand-made bytes to a gdws server (`tests/hostile.rs`,
`cargo test --test hostile`). For every case the test checks the exact answer on the wire, the
event the game gets (the warnings are printed by `poll()` as `WebSocketServer.poll: ...`), that a
well-behaved client connected at the same time goes on exchanging messages, and that the
engine's own accounting (open sockets, registered peers, queued bytes) is back to that client
alone. Handshake refusals always carry the reason as the HTTP body. The input limit here is
4 KiB (`set_buffers`) so that the cases stay small; the default is 64 KiB.

| Case | On the wire | Server event | Test |
| --- | --- | --- | --- |
MD
# "test NAME ... wire: CASE | WIRE | EVENT" or "wire: CASE | WIRE | EVENT": peer ids vary per run.
sed -n 's/^.*wire: //p' "$LOG" | sed -E 's/peer [0-9]+ /the peer /g' | while IFS= read -r line; do
    echo "| $line | \`tests/hostile.rs\` |"
done
printf '%s\n' "${rows[@]}"
echo
echo "Numbers are from this run of the tests (\`GDWS_LONG=1\` repeats the many-clients case"
echo "10,000 times instead of 200)."
