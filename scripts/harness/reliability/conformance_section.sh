#!/usr/bin/env bash
# docs/reliability.md section: the Autobahn TestSuite's counts by section, from a run of
# scripts/harness/conformance.sh (headless Godot with gdws, and the engine alone). Exits non-zero if
# a failure is ours.
set -euo pipefail
cd "$(dirname "$0")/../../.."

LOG=$(mktemp "${TMPDIR:-/tmp}/gdws_conformance_md.XXXXXX")
trap 'rm -f "$LOG"' EXIT
if ! bash scripts/harness/conformance.sh >"$LOG" 2>&1; then
    cat "$LOG" >&2
    exit 1
fi

cat <<'MD'
## Protocol conformance (Autobahn TestSuite)

The Autobahn TestSuite's cases, run offline by [kosoku](https://pypi.org/project/kosoku/)
(`kosoku -p 2 -x '12.*' -x '13.*'`: sections 12 and 13 are permessage-deflate, which gdws does not
offer) against an echo server on gdws (`bash scripts/test.sh conformance`):

- **godot**: headless Godot 3.2.3 running `godot_project/conformance/echo_server.gd`, every
  message echoed from GDScript through `poll()`, buffers raised to 32 MiB (section 9 sends up to
  16 MiB; the 64 KiB default would close those with 1009, by design);
- **engine**: the engine alone (`engine_echo --buffer-kb=32768`), the same echo without Godot.

MD
for run in godot engine; do
    sed -n "s/^$run: /**$run**: /p" "$LOG"
    echo
done
echo "| Server | Section | Passed | Non-strict | Informational | Failed |"
echo "| --- | --- | --- | --- | --- | --- |"
sed -n 's/^conformance: \([a-z]*\) | \([0-9]*\) | /| \1 | \2 | /p' "$LOG" | sed 's/$/ |/'
echo
failures=$(sed -n 's/^  \(godot\|engine\) /\1 /p' "$LOG")
if [ -n "$failures" ]; then
    echo "Failed cases:"
    echo
    echo "$failures" | sed 's/^/- /'
    echo
fi
cat <<'MD'
The cases made only of empty messages (1.1.1, 1.2.1, 6.1.1, 6.1.2, 9.7.1, 9.8.1) pass under Godot
too: Godot 3's `PacketPeer.put_packet()` returns `OK` for an empty array without sending
anything (the built-in `WebSocketServer`'s peers too), so our `WebSocketPeer` defines
`put_packet` again, and a GDScript echo sends the empty message back.

Non-strict (a pass in Autobahn's terms): 3.2-3.4, 4.1.3-4.2.5 and 5.15 send a message then a
broken frame; gdws fails the connection on the network thread as soon as it reads the broken
frame, and the echo of the message before it, which goes through the game's `poll()`, comes too
late to be sent. 6.4.3 and 6.4.4 send invalid UTF-8 in pieces; the connection is failed when the
message is complete rather than at the first invalid byte.
MD
