extends "res://tests/lib/mp_case.gd"
# A cheating client among two stock multiplayer clients A and B: mp_spoof_client.gd, a stock
# WebSocketClient in plain mode writing the 9-byte multiplayer header itself. It sends packets
# with a forged `from` (A's, B's, the server's), SYS_ADD/SYS_DEL/SYS_ID/unknown system messages
# and packets shorter than a header, then two honest packets. None of the bad ones may reach the
# server's MultiplayerAPI (network_peer_packet, peer_packet, peer_* signals) or A or B, and
# everyone keeps working: the cheater stays connected, A and B keep their ids and their RPCs.
#
# Our server drops them with a rate-limited `WARNING:` line (at most one a second per client,
# then "N similar warnings suppressed"); stock 3.2.3 prints an `ERROR:` line for each
# (ERR_FAIL_COND in WebSocketMultiplayerPeer::_process_multiplayer), which --builtin announces.

const SPOOF_PACKETS = 15  # what mp_spoof_client.gd's "spoof" command sends, the 2 honest ones included


func run():
	if not start_mp_server():
		return
	var joined = yield(join_clients(2), "completed")
	var a = joined[0][0]
	var A: int = joined[0][1]
	var b = joined[1][0]
	var B: int = joined[1][1]

	# The cheater joins like anyone: it reads SYS_ID, then SYS_ADD(1), then SYS_ADD of the others
	# in ascending id order, and A and B are told about it.
	var s = spawn_spoof_client()
	var ev = yield(wait_event("peer_connected"), "completed")
	var R: int = ev[1]
	check_eq(yield(client_event(s, "connected"), "completed"), ["connected"], "the cheater connects")
	var others = [A, B]
	others.sort()
	check_eq(yield(client_event(s, "sys"), "completed"), ["sys", 3, R], "the cheater's first packet: SYS_ID")
	check_eq(yield(client_event(s, "sys"), "completed"), ["sys", 1, 1], "then SYS_ADD(1)")
	for id in others:
		check_eq(yield(client_event(s, "sys"), "completed"), ["sys", 1, id], "then SYS_ADD(%d)" % id)
	for c in [a, b]:
		yield(expect_client(c, ["peer_connected", R], "the cheater announced to A and B"), "completed")

	take_peer_packets()
	var counts = signal_counts.duplicate()
	# Stock rejects each cheating packet with an ERROR line; ours drops them and warns, naming the
	# cheater and whom it claimed to be.
	expect_begin("cheating packets", ours_or_stock(
			{"warning": ["^" + literal("WARNING: WebSocketServer.poll: peer %d sent a packet claiming to come from peer " % R) + "[0-9]+; dropped$", 1]},
			# One for each of the 13 bad packets.
			{"error": ["^ERROR: _process_multiplayer: Condition \"(from != p_peer_id|type != SYS_NONE|size < PROTO_SIZE)\" is true\\.$", SPOOF_PACKETS - 2]}))
	mp_node.multiplayer.send_bytes(to_json({"cmd": "spoof", "victim": A, "other": B}).to_utf8(), R)
	yield(client_find(s, "cmd"), "completed")
	check_eq(yield(client_find(s, "sent"), "completed"), ["sent", SPOOF_PACKETS], "the cheater sent its packets")
	# Its honest packets come last on its connection: once they are through, so is the rest.
	yield(expect_server_raw([R, "spoofer->server"], "the cheater's honest packet to the server"), "completed")
	yield(expect_server_raw([R, "spoofer->all"], "the cheater's honest broadcast at the server"), "completed")
	for c in [a, b]:
		yield(expect_client(c, ["raw", R, "spoofer->all"], "the cheater's honest broadcast at A and B"), "completed")
	yield(expect_end("cheating packets"), "completed")

	check_eq(raw_received, [], "the server's MultiplayerAPI got none of the forged packets")
	check_eq(mp_node.received, [], "no RPC at the server")
	check_eq(take_peer_packets(), [R, R], "peer_packet only for the two honest packets")
	for sig in ["peer_connected", "peer_disconnected", "client_close_request"]:
		check_eq(signal_counts[sig], counts[sig], "no %s from the cheater's system messages" % sig)
	var noticed := ["got", "raw", "peer_connected", "peer_disconnected", "connection_succeeded",
			"connected_to_server", "connection_failed", "server_disconnected", "exit"]
	check_eq(client_pending(a, noticed), [], "A noticed none of the bad packets")
	check_eq(client_pending(b, noticed), [], "B noticed none of the bad packets")
	check(server.has_peer(R), "the cheater is still connected")
	check_eq(Array(get_network_connected_peers()).size(), 3, "the server's MultiplayerAPI still has 3 peers")

	# Everyone keeps working. B still has its id (a SYS_ID(A) reached it, the server would drop
	# B's packets as spoofed), A and B still know each other (no SYS_DEL).
	client_call(A, ".", "rpc_id", [B, "hello", "A to B after"])
	yield(expect_client(b, ["got", "hello", A, "A to B after"], "A's RPC at B"), "completed")
	client_call(B, ".", "rpc", ["hello", "B to all after"])
	yield(expect_server(["hello", B, "B to all after"], "B's broadcast at the server"), "completed")
	yield(expect_client(a, ["got", "hello", B, "B to all after"], "B's broadcast at A"), "completed")
	mp_node.rpc("hello", "server to all after")
	for c in [a, b]:
		yield(expect_client(c, ["got", "hello", 1, "server to all after"], "the server's broadcast at A and B"), "completed")
	client_call(A, ".", "rset_id", [1, "master_value", 7])
	yield(expect_server(["master_value", A, 7], "A's rset at the server"), "completed")
	# The cheater can still talk honestly.
	mp_node.multiplayer.send_bytes(to_json({"cmd": "say", "to": A, "text": "spoofer to A"}).to_utf8(), R)
	yield(expect_client(a, ["raw", R, "spoofer to A"], "the cheater's honest packet at A"), "completed")

	# The cheater leaves with a close code: client_close_request, peer_disconnected, SYS_DEL.
	mp_node.multiplayer.send_bytes(to_json({"cmd": "close", "code": 4002, "reason": "cheater out"}).to_utf8(), R)
	ev = yield(wait_event("client_close_request"), "completed")
	check_eq(ev, ["client_close_request", R, 4002, "cheater out"], "client_close_request(cheater)")
	ev = yield(wait_event("peer_disconnected"), "completed")
	check_eq(ev, ["peer_disconnected", R], "peer_disconnected(cheater)")
	for c in [a, b]:
		yield(expect_client(c, ["peer_disconnected", R], "SYS_DEL(cheater) at A and B"), "completed")
	yield(client_find(s, "exit"), "completed")
	for sig in ["client_connected", "client_disconnected", "data_received"]:
		check_eq(signal_counts[sig], 0, "%s is not emitted in multiplayer mode" % sig)

	yield(stop_server_and_clients(), "completed")
