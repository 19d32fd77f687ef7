extends "res://tests/lib/test_case.gd"
# High-level multiplayer (listen(port, [], true)): the server is this SceneTree's network_peer,
# stock WebSocketClients in multiplayer mode (mp_client.gd) join, and RPCs travel server -> client,
# client -> server and client -> client through the server. Different kinds of client events can
# come in any order, so this test looks them up by name (client_find).

var mp_node: Node


func run():
	mp_node = preload("res://tests/lib/mp_node.gd").new()
	mp_node.name = "MP"
	root.add_child(mp_node)
	var server = make_server()
	forget(server)  # the SceneTree polls its network peer
	if not check_eq(server.listen(port, PoolStringArray(), true), OK, "listen in multiplayer mode"):
		return
	network_peer = server
	check(is_network_server(), "the tree is a network server")
	check_eq(get_network_unique_id(), 1, "server unique id")

	var a = spawn_client({"multiplayer": true})
	var ev = yield(wait_event("peer_connected"), "completed")
	var id_a = ev[1]
	ev = yield(client_find(a, "connected_to_server"), "completed")
	check_eq(ev[1], id_a, "A's own id is the one the server gave it")
	check_eq(yield(client_find(a, "peer_connected"), "completed"), ["peer_connected", 1], "A learns about the server")
	check(server.has_peer(id_a), "has_peer(A)")

	# Server -> client, client -> server.
	mp_node.rpc_id(id_a, "hello", "hi A")
	check_eq(yield(client_find(a, "rpc"), "completed"), ["rpc", 1, "hi A"], "A gets the server's RPC")
	mp_node.rpc_id(id_a, "command", ["rpc_id", 1, "hi server"])
	yield(wait_until("an RPC from A", mp_node, "has_received"), "completed")
	check_eq(mp_node.received.pop_front(), [id_a, "hi server"], "the server gets A's RPC")

	# B joins: A and B learn about each other.
	var b = spawn_client({"multiplayer": true})
	ev = yield(wait_event("peer_connected"), "completed")
	var id_b = ev[1]
	yield(client_find(b, "connected_to_server"), "completed")
	check_eq(yield(client_find(a, "peer_connected"), "completed"), ["peer_connected", id_b], "A sees B join")
	var b_peers := []
	for i in 2:
		ev = yield(client_find(b, "peer_connected"), "completed")
		b_peers.append(int(ev[1]))
	b_peers.sort()
	check_eq(b_peers, [1, id_a] if id_a > 1 else [id_a, 1], "B learns about the server and A")

	# Client -> client through the server, and a broadcast.
	mp_node.rpc_id(id_b, "command", ["rpc_id", id_a, "B to A"])
	check_eq(yield(client_find(a, "rpc"), "completed"), ["rpc", id_b, "B to A"], "A gets B's RPC")
	mp_node.rpc_id(id_a, "command", ["rpc", "A to all"])
	check_eq(yield(client_find(b, "rpc"), "completed"), ["rpc", id_a, "A to all"], "B gets A's broadcast")
	yield(wait_until("A's broadcast", mp_node, "has_received"), "completed")
	check_eq(mp_node.received.pop_front(), [id_a, "A to all"], "the server gets A's broadcast")
	check(not _find_event("data_received"), "no data_received in multiplayer mode")

	# A leaves: the server and B see it.
	mp_node.rpc_id(id_a, "command", ["quit"])
	ev = yield(wait_event("peer_disconnected"), "completed")
	check_eq(ev[1], id_a, "server: peer_disconnected(A)")
	check_eq(yield(client_find(b, "peer_disconnected"), "completed"), ["peer_disconnected", id_a], "B sees A leave")

	# The server stops: B is told one way or the other.
	server.stop()
	yield(client_find(b, "exit"), "completed")
	network_peer = null
