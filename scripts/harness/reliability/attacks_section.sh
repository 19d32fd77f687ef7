#!/usr/bin/env bash
# Reliability fragment (see scripts/reliability.sh): one table of the attacks a hostile client
# can make, what gdws does, the bound, the tests that prove it, and what Godot's built-in
# WebSocketServer does under the same attack. The numbers of ours come from the sections below
# (each runs its tests); the built-in column was measured by the Godot tests named, run on the
# built-in class (`bash scripts/test.sh builtin TEST`). Runs nothing itself: it checks that
# every test the table names exists (file, and function for the engine's), and exits 1 if one
# does not, so the table cannot point at a test that is gone.
set -uo pipefail
cd "$(dirname "$0")/../../.."

status=0
# "tests/x.rs::fn_name" or "test_x.gd": each must exist.
check_test() {
    local ref=$1
    case "$ref" in
        *.rs::*)
            local file=${ref%%::*} name=${ref##*::}
            grep -q "^fn $name()" "$file" 2>/dev/null || { echo "attacks: $ref does not exist" >&2; status=1; }
            ;;
        *.gd)
            [ -f "godot_project/tests/$ref" ] || { echo "attacks: godot_project/tests/$ref does not exist" >&2; status=1; }
            ;;
    esac
}
# One row: attack | ours | bound | tests (space-separated refs) | built-in.
row() {
    local tests="" ref
    for ref in $4; do
        check_test "$ref"
        tests+="${tests:+, }\`${ref##*/}\`"
    done
    echo "| $1 | $2 | $3 | $tests | $5 |"
}

cat <<'TEXT'
## Hostile clients: what one client can make the server do

One client, or a few, trying to exhaust the game server, each attack run with real sockets
against the real server (the engine alone, and a headless Godot process where the row names a
`.gd` test). Ours: what gdws does and the bound it keeps, from the constants the sections below
name and measure. Built-in: what Godot 3.2.3's own `WebSocketServer` did in the same Godot test
(`bash scripts/test.sh builtin TEST`; "not run" where the test cannot run on it). Other peers
never notice an attack on the server: every engine test keeps a bystander client exchanging
messages through it.

| Attack | gdws | Bound | Tests | Built-in `WebSocketServer` |
| --- | --- | --- | --- | --- |
TEXT
row "Ping flood from a client that never reads (ws://, wss://)" \
    "pongs coalesce in a write buffer of bounded size; every ping is read, the client stays" \
    "16 KiB + \`out_bytes\` + 1 KiB of write buffer per peer (Memory per peer)" \
    "tests/faults.rs::a_ping_flood_from_a_peer_that_never_reads_holds_bounded_memory tests/faults.rs::a_ping_flood_over_wss_from_a_peer_that_never_reads_holds_bounded_memory test_faults_flood.gd" \
    "+43.8 MB for 200,000 pings: it keeps every pong, past the bound the test sets"
row "Message flood while the game does not read or poll" \
    "reading pauses at the unread limits (TCP backpressure); nothing is dropped" \
    "\`set_buffers\` input size and input packets unread per peer (64 KiB, 1,024)" \
    "tests/limits.rs::inbound_byte_limit_pauses_reading_and_loses_nothing test_faults_flood.gd test_faults_nopoll.gd" \
    "drops what does not fit in its buffers"
row "Frame header claiming a huge payload" \
    "a frame over 64 KiB is held back until it has arrived; past the input limit: close 1009 at the header" \
    "64 KiB per header; \`set_buffers\` sizes at most 64 MiB (\`ERR_INVALID_PARAMETER\` past)" \
    "tests/faults.rs::a_frame_header_claiming_a_huge_payload_costs_only_what_arrives test_buffers.gd" \
    "takes any \`set_buffers\` size"
row "Multiplayer peers that never read while others join and leave" \
    "peer-list updates count against the peer's queue; a peer past it is closed with 1008 and one warning" \
    "\`out_bytes\`/\`out_packets\` + one message per peer + 256 (\`SYSTEM_RESERVE_PACKETS\`)" \
    "tests/hostile_multiplayer.rs::stuck_peers_under_join_leave_churn_are_closed_once_each_and_the_heap_stays_bounded test_faults_mp_churn.gd" \
    "no bound: +9.4 to +11.4 MiB in 25 s and growing, ~38,000 ERROR lines"
row "Relays to a peer whose queue is full" \
    "the target that cannot keep up is closed with 1008 and one warning; no relay is lost while both stay" \
    "the target's outbound limits" \
    "tests/hostile_multiplayer.rs::a_relay_to_a_full_queue_closes_the_target_with_1008_and_loses_nothing_else" \
    "not run (engine test)"
row "More connections than the game can afford" \
    "past \`max_connections\` or \`max_connections_per_ip\`: HTTP 503 with \`Retry-After\` (a TLS alert on wss://), one warning a second" \
    "automatic: soft \`RLIMIT_NOFILE\` less \`max(128, limit / 8)\`; 32 refusals answered at once" \
    "tests/admission.rs::past_max_connections_a_client_gets_503_and_a_freed_slot_admits_the_next tests/admission.rs::max_connections_per_ip_counts_each_address_apart tests/admission.rs::the_automatic_limit_leaves_the_game_descriptors_while_the_server_is_full test_admission.gd" \
    "no limit: the game runs out of descriptors; the third client of \`test_admission\` is accepted"
row "No file descriptor left (EMFILE)" \
    "a spare descriptor takes the waiting client and closes it at once; nothing spins, the server recovers" \
    "one accept failure per client, one back-off (\`ACCEPT_BACKOFF\`, 50 ms) per other failure" \
    "tests/admission.rs::at_emfile_new_clients_are_closed_at_once_and_the_server_recovers" \
    "not run (engine test)"
row "A client that vanishes without a FIN" \
    "TCP keepalive on every socket: found dead after 60 s of silence and 6 probes 10 s apart" \
    "about 2 minutes (Windows: its own 10 probes)" \
    "tests/admission.rs::accepted_sockets_probe_with_tcp_keepalive" \
    "not run (it would take minutes); it sets no keepalive"
row "Thousands of bad handshakes while the game does not poll" \
    "warnings pass one token bucket per server (10 a second, bursts of 20), at most 32 wait; the rest are counted and the count printed" \
    "32 warnings waiting, 11 lines a second; connects, messages and disconnects never dropped" \
    "tests/hostile.rs::a_flood_of_refused_handshakes_while_the_game_does_not_poll_holds_a_bounded_number_of_warnings test_handshake_flood.gd" \
    "not run: it accepts connections only inside \`poll()\`"
row "Port scans and load-balancer TCP checks" \
    "counted, not printed" \
    "nothing per connection" \
    "tests/handshake.rs::connections_that_close_without_a_byte_are_counted_not_reported tests/handshake.rs::connections_that_close_without_a_byte_are_counted_not_reported_on_wss test_handshake.gd" \
    "prints nothing either"
row "TLS handshake flood (wss://)" \
    "at most 16 TLS handshakes per core at once, counted from a whole ClientHello; the rest wait within \`handshake_timeout\`" \
    "16 per core; a half ClientHello holds no slot" \
    "tests/handshake.rs::clients_that_stall_before_their_client_hello_ends_hold_no_tls_slot tests/handshake.rs::stalled_tls_handshakes_fill_the_slots_until_their_timeout_frees_them" \
    "not run (engine test)"
row "Ambiguous upgrade requests (a body, a header twice, a bad key or subprotocol)" \
    "400, and a body is never read as frames; quoted client text cut to 64 bytes and escaped" \
    "16 KiB request head (431 past it)" \
    "tests/hostile.rs::an_upgrade_with_a_body_or_a_header_twice_gets_400_and_its_body_is_not_read_as_frames tests/hostile.rs::client_text_in_a_reason_is_cut_to_a_short_prefix_and_escaped test_handshake.gd" \
    "answers 101 and delivers a request's body as a message; a second key or a 5-byte key is accepted"
row "A forged client address (\`X-Forwarded-For\`, \`Forwarded\`, \`X-Real-IP\`, a PROXY protocol header) sent straight to the server" \
    "headers honoured only from \`trusted_proxies\` (empty by default), and there the rightmost untrusted entry; a PROXY header from anyone else: 400 (a TLS alert on wss://) and a warning" \
    "PROXY v1 header at most 107 bytes, v2 at most 4096; no byte past it read" \
    "tests/proxies.rs::a_client_that_is_no_trusted_proxy_gets_neither_header_honoured tests/proxies.rs::an_untrusted_source_s_proxy_header_is_a_400_on_ws tests/proxies.rs::on_wss_a_refused_proxy_header_gets_a_tls_alert tests/proxies.rs::a_trusted_proxy_s_broken_header_is_refused_with_the_reason test_trusted_proxies.gd" \
    "has no \`trusted_proxies\`: every address is the TCP source; a PROXY header fails the handshake"
row "A web page of another site connecting from a player's browser" \
    "with \`allowed_origins\` set: 403 naming the origin, and a warning; a request without \`Origin\` (not a browser) is let in" \
    "nothing per refused request after its answer" \
    "tests/request_context.rs::a_foreign_origin_gets_403_saying_why_and_a_warning tests/request_context.rs::a_listed_origin_in_any_case_and_a_request_without_origin_connect test_request_context.gd" \
    "has no \`allowed_origins\`: every page connects"
row "A client without the game's token (or with a stolen one that the game revokes)" \
    "with \`verify_clients\`: held before the 101 until the game answers; rejected with the game's status, or 503 at \`handshake_timeout\`; never a peer, never a multiplayer join" \
    "a held request holds its socket and its request head (16 KiB at most), counted in \`max_connections\`" \
    "tests/verify.rs::a_rejected_client_sees_the_status_and_reason_and_the_game_hears_nothing_more tests/verify.rs::no_answer_within_the_handshake_timeout_is_a_503 tests/verify.rs::a_held_request_counts_toward_max_connections tests/verify.rs::in_multiplayer_mode_a_held_client_joins_only_once_accepted test_verify.gd" \
    "has no verification: every valid request is upgraded at once"
row "A client that goes silent (its network vanished) or stops reading" \
    "with \`heartbeat_interval\`: dropped after two intervals without a byte, \`client_disconnected(id, false)\` and one warning; without it, TCP keepalive drops it after about 2 minutes" \
    "one tick per server, no timer per peer" \
    "tests/heartbeat.rs::a_client_that_answers_nothing_is_dropped_uncleanly_with_one_warning tests/heartbeat.rs::over_wss_a_silent_client_is_dropped_while_one_that_answers_stays test_heartbeat.gd" \
    "has no heartbeat (Godot 4 added one) and turns on no TCP keepalive"
row "A panic inside a connection's task" \
    "the peer is unregistered and the game hears \`client_disconnected\`; its id stays reserved until then" \
    "no ghost peer" \
    "tests/hostile_multiplayer.rs::a_panic_in_a_connection_task_unregisters_its_peer_and_reports_it tests/hostile_multiplayer.rs::a_peer_id_is_not_given_again_before_the_game_heard_its_peer_leave" \
    "not applicable"
row "Sends to a peer that just left, before the next \`poll()\`" \
    "\`FAILED\`, printed nothing (the game hears of the leave at the poll)" \
    "no log line" \
    "tests/hostile_multiplayer.rs::a_leaving_peer_refuses_sends_and_broadcasts_leave_it_out test_faults_mp_peers.gd" \
    "an ERROR line for each send"
echo
exit $status
