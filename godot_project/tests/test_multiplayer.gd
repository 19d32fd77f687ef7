extends "res://tests/lib/mp_case.gd"
# High-level multiplayer (listen(port, [], true)), joins and leaves: the server is this
# SceneTree's network_peer and stock WebSocketClients in multiplayer mode (mp_client.gd) join,
# three at once and then a fourth. Checks ids, connection_succeeded, who learns of whom, the
# server's signals (peer_* instead of client_*/data_received; client_close_request still fires)
# and three ways to leave (a close with a code, a killed process, disconnect_peer), each seen by
# the server and, as SYS_DEL, by every other client. RPCs in detail: test_multiplayer_rpc.gd;
# cheating clients: test_multiplayer_spoof.gd.


func run():
	if not start_mp_server():
		return
	check(is_network_server(), "the tree is a network server")
	check_eq(get_network_unique_id(), 1, "server unique id")
	check_eq(server.get_unique_id(), 1, "server.get_unique_id()")

	# Three clients at once, then a fourth: every client ends up knowing every other one.
	var joined = yield(join_clients(3), "completed")
	joined += yield(join_clients(1), "completed")
	var ids := []
	for pair in joined:
		check(pair[1] > 1, "client id %d > 1" % pair[1])
		if not pair[1] in ids:
			ids.append(pair[1])
	check_eq(ids.size(), 4, "four different client ids")
	var a = joined[0][0]
	var id_a: int = joined[0][1]
	var b = joined[1][0]
	var id_b: int = joined[1][1]
	var c = joined[2][0]
	var id_c: int = joined[2][1]
	var d = joined[3][0]
	var id_d: int = joined[3][1]
	var ids_sorted = ids.duplicate()
	ids_sorted.sort()
	check_eq(Array(get_network_connected_peers()).size(), 4, "the server's MultiplayerAPI lists 4 peers")

	# A packet for the server raises peer_packet with its source; nothing else is emitted for it.
	take_peer_packets()  # those of the first RPCs in join_clients
	client_call(id_a, ".", "rpc_id", [1, "hello", "A to server"])
	yield(expect_server(["hello", id_a, "A to server"], "A's RPC at the server"), "completed")
	check_eq(take_peer_packets(), [id_a], "one peer_packet(A)")
	client_call(id_b, ".", "rpc", ["hello", "B to all"])
	yield(expect_server(["hello", id_b, "B to all"], "B's broadcast at the server"), "completed")
	for pair in [[a, id_a], [c, id_c], [d, id_d]]:
		yield(expect_client(pair[0], ["got", "hello", id_b, "B to all"], "B's broadcast at %d" % pair[1]), "completed")
	check_eq(take_peer_packets(), [id_b], "one peer_packet(B) for B's broadcast")

	# 1. D closes with a code: client_close_request, then peer_disconnected; the others get SYS_DEL.
	command(id_d, ["close", 4001, "D says bye"])
	var ev = yield(wait_event("client_close_request"), "completed")
	check_eq(ev, ["client_close_request", id_d, 4001, "D says bye"], "client_close_request(D) in multiplayer mode")
	ev = yield(wait_event("peer_disconnected"), "completed")
	check_eq(ev, ["peer_disconnected", id_d], "server: peer_disconnected(D)")
	check(not server.has_peer(id_d), "D is gone from the server")
	for pair in [[a, id_a], [b, id_b], [c, id_c]]:
		yield(expect_client(pair[0], ["peer_disconnected", id_d], "SYS_DEL(D) at %d" % pair[1]), "completed")
	yield(expect_client(d, ["exit", 0], "D's process to exit"), "completed")

	# The others go on without D: A's broadcast reaches the server, B and C.
	client_call(id_a, ".", "rpc", ["hello", "A after D left"])
	yield(expect_server(["hello", id_a, "A after D left"], "A's broadcast at the server"), "completed")
	for pair in [[b, id_b], [c, id_c]]:
		yield(expect_client(pair[0], ["got", "hello", id_a, "A after D left"], "A's broadcast at %d" % pair[1]), "completed")

	# 2. C's process dies without a close frame: peer_disconnected and SYS_DEL all the same.
	var close_requests = signal_counts["client_close_request"]
	OS.kill(c.pid)
	c.pid = -1
	ev = yield(wait_event("peer_disconnected"), "completed")
	check_eq(ev, ["peer_disconnected", id_c], "server: peer_disconnected(C) after C was killed")
	for pair in [[a, id_a], [b, id_b]]:
		yield(expect_client(pair[0], ["peer_disconnected", id_c], "SYS_DEL(C) at %d" % pair[1]), "completed")
	check_eq(signal_counts["client_close_request"], close_requests, "no client_close_request from a killed client")

	# 3. The server disconnects B: peer_disconnected(B) on the server, SYS_DEL(B) at A, and B's
	# MultiplayerAPI gives up on the server.
	server.disconnect_peer(id_b, 4002, "kicked")
	ev = yield(wait_event("peer_disconnected"), "completed")
	check_eq(ev, ["peer_disconnected", id_b], "server: peer_disconnected(B) after disconnect_peer")
	yield(expect_client(a, ["peer_disconnected", id_b], "SYS_DEL(B) at A"), "completed")
	yield(expect_client(b, ["exit", 0], "B's process to exit"), "completed")
	check_eq(Array(get_network_connected_peers()), [id_a], "only A is left")

	# The signals of multiplayer mode: peer_*, never client_connected/client_disconnected/data_received.
	check_eq(signal_counts["peer_connected"], 4, "peer_connected emitted once per client")
	check_eq(signal_counts["peer_disconnected"], 3, "peer_disconnected emitted once per leave")
	check(signal_counts["peer_packet"] >= 2, "peer_packet emitted")
	for sig in ["client_connected", "client_disconnected", "data_received"]:
		check_eq(signal_counts[sig], 0, "%s is not emitted in multiplayer mode" % sig)
	for source in take_peer_packets():
		check(source in ids, "peer_packet source %s is a client" % source)

	# The server stops: A is told one way or the other and exits.
	yield(stop_server_and_clients(), "completed")
