extends "res://tests/lib/mp_case.gd"
# The MultiplayerAPI with bad ids (stock #31106): rpc_id, rset_id and send_bytes to peers that do
# not exist fail with an error and harm nobody; then two servers in one process, both in
# multiplayer mode at once: one as the SceneTree's network peer, the other as the network peer
# of a second MultiplayerAPI (custom_multiplayer on a node), each with its own client.

const UNKNOWN_ID = 123456


func run():
	if not start_mp_server():
		return
	var joined = yield(join_clients(1), "completed")
	var client = joined[0][0]
	var id: int = joined[0][1]

	# Bad ids: every call fails with an error; the client receives none of it.
	for target in [UNKNOWN_ID, 2147483647]:
		# Ours names the call, the target and why.
		expect_errors_begin("send_bytes to %d" % target, ours_or_stock(
				"^" + literal("ERROR: WebSocketServer.put_packet: target %d: peer %d: the peer is not connected" % [target, target]) + "$",
				"^ERROR: (get_peer: Condition \"!has_peer\\(p_id\\)\"|_server_relay: Condition \"peer_to.is_null\\(\\)\")"))
		check(multiplayer.send_bytes("lost".to_utf8(), target) != OK, "send_bytes to %d fails" % target)
		expect_errors_end("send_bytes to %d" % target)
	expect_errors_begin("rpc_id and rset_id to an unknown peer",
			"^" + literal("ERROR: _send_rpc: Attempt to remote call unexisting ID: %d." % UNKNOWN_ID) + "$", 2)
	mp_node.rpc_id(UNKNOWN_ID, "hello", "lost")
	mp_node.rset_id(UNKNOWN_ID, "remote_value", "lost")
	expect_errors_end("rpc_id and rset_id to an unknown peer")
	expect_errors_begin("server methods with an unknown id", ours_or_stock(
			"^ERROR: WebSocketServer\\.(disconnect_peer|get_peer|get_peer_address): no peer with id -?%d$" % UNKNOWN_ID,
			"^ERROR: (disconnect_peer|get_peer|get_peer_address): Condition \"!has_peer\\((p_peer_id|p_id)\\)\" is true"), 3)
	server.disconnect_peer(UNKNOWN_ID)
	check_eq(server.get_peer(UNKNOWN_ID), null, "get_peer(unknown)")
	check_eq(server.get_peer_address(-UNKNOWN_ID), "", "get_peer_address(negative)")
	expect_errors_end("server methods with an unknown id")
	check(server.has_peer(id), "the client is still connected")
	check_eq(multiplayer.send_bytes("first".to_utf8(), id), OK, "send_bytes to the client")
	var ev = yield(client_find(client, "raw"), "completed")
	check_eq(ev, ["raw", 1, "first"], "the client gets the good bytes, and only those")

	# A second server in multiplayer mode, on its own MultiplayerAPI.
	var holder := Node.new()
	holder.name = "Second"
	root.add_child(holder)
	var api := MultiplayerAPI.new()
	api.set_root_node(holder)
	holder.custom_multiplayer = api
	var second_events := []
	api.connect("network_peer_connected", self, "_on_second_peer", [second_events])
	var second = new_server()
	check_eq(second.listen(port + 1, PoolStringArray(), true), OK, "the second server listens in multiplayer mode")
	api.network_peer = second
	_pollables.append(api)
	var client2 = spawn_client({"multiplayer": true, "port": port + 1})
	yield(wait_until("the second server's client to join", self, "_not_empty", [second_events]), "completed")
	var id2: int = second_events[0]
	yield(client_find(client2, "connected_to_server"), "completed")
	check(not server.has_peer(id2), "the first server does not know the second one's client")

	# Both at once, in the same frame.
	check_eq(multiplayer.send_bytes("to the first".to_utf8(), id), OK, "send through the first")
	check_eq(api.send_bytes("to the second".to_utf8(), id2), OK, "send through the second")
	ev = yield(client_find(client, "raw"), "completed")
	check_eq(ev, ["raw", 1, "to the first"], "the first server's client")
	ev = yield(client_find(client2, "raw"), "completed")
	check_eq(ev, ["raw", 1, "to the second"], "the second server's client")

	_pollables.erase(api)
	api.network_peer = null
	second.stop()
	network_peer = null
	server.stop()
	for c in [client, client2]:
		yield(client_find(c, "exit"), "completed")


func _on_second_peer(id, list):
	list.append(id)


func _not_empty(list):
	return not list.empty()
