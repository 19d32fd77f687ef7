#!/usr/bin/env bash
# docs/reliability.md section: the fuzz targets, how many inputs each ran, for how long, and what
# they found, from a run of scripts/harness/fuzz.sh (seconds per target as its argument; GDWS_LONG=1 for
# the long run). Exits non-zero if a target crashed.
set -euo pipefail
cd "$(dirname "$0")/../../.."

LOG=$(mktemp "${TMPDIR:-/tmp}/gdws_fuzz_md.XXXXXX")
trap 'rm -f "$LOG"' EXIT
status=0
bash scripts/harness/fuzz.sh "$@" >"$LOG" 2>&1 || status=$?

cat <<'MD'
## Fuzzing

`bash scripts/test.sh fuzz [seconds]` runs each [cargo-fuzz](https://crates.io/crates/cargo-fuzz)
target (libFuzzer with AddressSanitizer, on the stable toolchain through `RUSTC_BOOTSTRAP=1`),
seeded from `fuzz/seeds/TARGET/`. CI runs 20 s per target on a debug build; `GDWS_LONG=1` runs
600 s per target on an optimised build.

- **handshake**: any bytes as a client's request, into `upgrade::answer` (the listener's whole
  decision: tungstenite's request parsing and checks, the 16 KiB head limit, the subprotocol
  choice, the exact response), then, when accepted, the bytes after the head read as frames by
  tungstenite under the 64 KiB input limit. Checks: a partial head is never over the limit, an
  accepted one gives a 101 with a protocol the server lists and decides the same on the head
  alone, a refused one gives 400/426/431 with the reason as its body, no message over the limit.
- **multiplayer**: any packet from any sender id into the multiplayer header codec and relay
  rules (`multiplayer.rs`). Checks: only the sender's own game packets pass, never back to the
  sender, each destination rule as the stock server's, the codec round-trips.
- **proxy_header**: any bytes as the start of a connection from a trusted proxy, into
  `proxy_header::scan` on every prefix (as the server sees them arrive), `proxy_header::parse`
  (the `ppp` crate) on a whole header, and the same bytes as an `X-Forwarded-For`, `Forwarded`
  or `X-Real-IP` value into `forwarded::client_address`. Checks: the bytes an undecided scan
  lets the server take are all the header's and fit its peek window, a decision never changes
  as more arrives, a header is never over its bound, nothing panics.

| Target | Executions | Seconds | Result |
| --- | --- | --- | --- |
MD
sed -n 's/^fuzz: \(.*\)$/| \1 |/p' "$LOG"
echo
if [ "$status" -ne 0 ]; then
    echo "The run failed:"
    echo
    echo '```'
    tail -n 30 "$LOG"
    echo '```'
fi
exit "$status"
