#!/usr/bin/env bash
# Reliability fragment (see scripts/reliability.sh): connection limits, descriptor exhaustion
# and keepalive. Runs tests/admission.rs (its `RELIABILITY key=value` lines) and the headless
# Godot test test_admission.gd, then prints a Markdown section on stdout. Exits 1 if either
# failed.
set -uo pipefail
cd "$(dirname "$0")/../../.."
source scripts/env.sh

LOG=$(mktemp)
GODOT_LOG=$(mktemp)
trap 'rm -f "$LOG" "$GODOT_LOG"' EXIT

status=0
cargo test --test admission -- --nocapture >"$LOG" 2>&1 || status=1
engine_result=$(grep -E '^test result:' "$LOG" | tail -n1)
bash scripts/harness/godot_tests.sh test_admission >"$GODOT_LOG" 2>&1 || status=1
godot_result=$(grep -E '^(PASS|FAIL) test_admission' "$GODOT_LOG" | head -n1)
get() { sed -n "s/^.*RELIABILITY admission_$1=\([^ ]*\)$/\1/p" "$LOG" | tail -n1; }

cat <<TEXT
## Connection limits

Every accepted TCP connection counts against \`max_connections\` from the accept until its
socket is closed: handshakes under way count too, since they hold a file descriptor.
\`max_connections_per_ip\` counts the same per client address (IPv4 clients of a dual-stack
server as IPv4); 0, the default, is no limit.

- **The automatic limit.** \`max_connections = 0\` (the default) is read at \`listen()\`: the
  process's soft \`RLIMIT_NOFILE\` less a reserve of \`max(128, limit / 8)\` descriptors (at
  most half the limit), e.g. 896 connections under the common limit of 1,024, 57,344 under
  65,536. The reserve covers what the game holds and opens (a headless Godot holds about 20
  descriptors at start; resources, saves, logs and its own sockets come on top), the server's
  own (listener, spare descriptor, runtime: under 10) and the refusals being answered (at most
  32, below). An eighth keeps the share growing for games that raise the limit and open more.
  An unlimited descriptor limit means no connection limit. (The benchmarks' 10,000
  connections need a limit of 11,430.)
- **Past a limit** a ws:// client gets, before anything of it is read, \`HTTP/1.1 503 Service
  Unavailable\` with \`Retry-After: 5\` and a one-line body naming the limit; then the usual
  refusal drain: FIN, the client's input read and dropped for at most 500 ms or 64 KiB, close.
  On wss:// no TLS work is done for a refused client: the server waits at most 500 ms for its
  first byte; a TLS client gets a fatal TLS \`internal_error\` alert in the clear (TLS has no
  "busy" alert; every TLS client reports it at once, where a bare close would look like a
  network fault), a plain HTTP client the 503; then the same drain.
- **Refusals stay cheap.** At most 32 refused clients are answered at once; past that a
  refused client is closed at once, unanswered. The server prints one warning per second at
  most (\`connection from ADDRESS refused: the server is full: max_connections (N) connections
  are open (K more refused since the last warning)\`, or the per-address limit and address).
- **Out of file descriptors** (an explicit \`max_connections\` above what the process may
  open, or the game holding many files): the listener keeps one spare descriptor. At
  EMFILE/ENFILE it frees it, accepts the waiting client into it, closes it at once and takes
  the spare back, so clients fail at once instead of hanging in the backlog until their own
  timeout, and the accept loop is not left with a readable listener it cannot serve. The
  server warns once a second at most (\`the process is out of file descriptors (...): closed
  at once (K more since the last warning); raise the descriptor limit (ulimit -n) or lower
  max_connections\`). Only ENOBUFS and ENOMEM (and errors not known to pass, a broken listener)
  make the loop sleep, 50 ms (\`ACCEPT_BACKOFF\`); errors of one connection (ECONNABORTED,
  EPROTO and the network errors Linux passes on from the new socket) go straight to the next
  accept. \`Server::accept_failures()\` counts the failures.
- **Keepalive.** Every accepted socket has TCP keepalive: the first probe after 60 s without
  traffic, then one every 10 s, and the connection fails after 6 unanswered ones: a client that
  vanished without a FIN (NAT timeout, pulled cable) is found within two minutes of silence, and
  the game hears \`client_disconnected\`. While data the server sent is unacknowledged, the
  kernel's retransmission timeout applies instead (\`net.ipv4.tcp_retries2\`, about 15 minutes
  by default).

Godot's built-in class has no connection limit and no keepalive.

| Case | Result |
| --- | --- |
| \`max_connections = 3\`, a 4th client (raw and tokio-tungstenite) | HTTP 503 with \`Retry-After: 5\`; the first 3 keep echoing; one closes, the next is admitted |
| \`max_connections = 2\`, one peer and one silent TCP connection | a 3rd refused: the handshake holds its slot until it fails |
| \`max_connections_per_ip = 2\`, two peers from 127.0.0.1 | a 3rd from 127.0.0.1 refused, one from 127.0.0.2 admitted |
| 6 refusals, the last a second after the others | one warning a second at most (2 here); the counts they print add up to the 6 refusals |
| wss://, server full | a TLS client gets the \`internal_error\` alert, a plain one the 503 |
| 32 refusals being answered, one more | closed at once without an answer; answered again once they end |
| soft limit $(get automatic_soft_limit), automatic limit | $(get automatic_max_connections) connections, then $(get automatic_refused) more refused with 503; meanwhile the game opens $(get automatic_game_files) files (the reserve less the $(get automatic_fds_before) descriptors held before, the 32 refusals and 16 for the server's own) |
| every descriptor taken (EMFILE), $(get emfile_clients) clients one after the other | each closed at once, no answer: $(get emfile_ms) ms for all; $(get emfile_accept_failures) accept failures (bound $(get emfile_accept_failure_bound): two per client plus one per 50 ms); served again once descriptors free up |
| an accepted socket | its options read back from the socket itself (a duplicate through \`pidfd_getfd\`): keepalive on, 60 s idle, 10 s interval, 6 probes; the client's side has none |
| Godot: \`max_connections = 2\`, a 3rd stock \`WebSocketClient\` and a raw client | the client fails, the raw one reads the 503; the game still hears the first two (\`test_admission.gd\`) |

Engine (\`cargo test --test admission\`, each descriptor-limit case in a process of its own):
${engine_result:-no result (build failed?)}

Godot: ${godot_result:-no result}
TEXT
exit $status
