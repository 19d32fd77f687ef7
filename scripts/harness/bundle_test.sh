#!/usr/bin/env bash
# Checks the exported-game deployment (scripts/bundle.sh --debug) as a user runs it: unpacks the
# bundle into a new directory, starts its run.sh from another working directory, and chats with
# the server through a Python `websockets` client (bundle_check/chat.py). Fails when the server
# does not listen on gdws (the library did not load from the bundle), when the chat fails, when
# the server does not quit cleanly after the client left, or on an ERROR / SCRIPT ERROR / panic
# in the export's or the server's log.
# Port: GDWS_BUNDLE_PORT, by default GDWS_PORT_BASE + 940.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
# bundle.sh runs scripts/setup.sh first, which installs Python's websockets for the client.

archive=$(bash scripts/bundle.sh --debug | tail -n1)
place=$(mktemp -d "${TMPDIR:-/tmp}/gdws_bundle_test.XXXXXX")
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    rm -rf "$place"
}
trap cleanup EXIT
tar -C "$place" -xzf "$archive"
port=${GDWS_BUNDLE_PORT:-$((${GDWS_PORT_BASE:-21000} + 940))}
log="$place/server.log"
# user:// of the exported game stays in the scratch directory.
export XDG_DATA_HOME="$place/xdg"
mkdir -p "$XDG_DATA_HOME/godot/app_userdata/gdws demo"
(cd / && exec timeout -k 5 60 "$place/gdws-demo-server/run.sh" --port="$port" --quit-after=1) \
    >"$log" 2>&1 </dev/null &
server=$!

fail() {
    echo "bundle_test: $1; the server's log:" >&2
    cat "$log" >&2
    exit 1
}
for _ in $(seq 100); do
    grep -q "^Chat server listening" "$log" && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
grep -q "^Chat server listening on ws://localhost:$port (gdws)$" "$log" \
    || fail "the exported server did not listen on gdws"
python3 scripts/harness/bundle_check/chat.py "ws://127.0.0.1:$port/" || fail "the chat failed"
rc=0
wait "$server" || rc=$?
server=""
[ "$rc" -eq 0 ] || fail "the server exited with $rc after the client left"
problems=$(python3 scripts/harness/godot_log_check.py "$log")
[ -z "$problems" ] || fail "problems in the log: $problems"
echo "bundle_test: the exported demo ran from its bundle and chatted"
