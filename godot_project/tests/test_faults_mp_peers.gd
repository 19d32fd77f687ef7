extends "res://tests/lib/test_case.gd"
# A peer's end as the game sees it, in multiplayer mode and plain:
#  - disconnect_peer(A) from inside the MultiplayerAPI's packet loop, with more of A's packets
#    already waiting: none of them reaches the MultiplayerAPI afterwards (stock #33279's family:
#    a packet from a peer the API forgot prints "invalid peer cache"); another peer is unharmed.
#  - between a peer's end (its client quit) and the next poll(): has_peer() is still true, and
#    put_packet, send_bytes, rpc_id and rpc to it fail quietly (no ERROR: the game hears of the
#    end at that poll). The log checker fails the test on any ERROR outside a region.
# The server runs on a MultiplayerAPI of its own (custom_multiplayer on /root/Game, root of the
# RPC paths: its child MP matches the clients' /root/MP), so the test decides when it is polled.

const MpNode = preload("res://tests/lib/mp_node.gd")
const BURST = 20
# What the built-in server prints for each send to a peer whose connection ended.
const STOCK_SEND_ERROR = "^ERROR: put_packet: Condition \"!is_connected_to_host\\(\\)\" is true\\. Returned: FAILED$"

var api: MultiplayerAPI
var mp_node: Node
var server
# [sender, text, whether disconnect_peer(sender) was called before, and peer_disconnected]
var raw_received := []
var disconnect_on_first_from := 0
var disconnected_by_us := []
var gone := []  # peer_disconnected so far


func run():
	var game := Node.new()
	game.name = "Game"
	root.add_child(game)
	mp_node = MpNode.new()
	mp_node.name = "MP"
	game.add_child(mp_node)
	api = MultiplayerAPI.new()
	api.set_root_node(game)
	game.custom_multiplayer = api
	mp_node.custom_multiplayer = api
	api.connect("network_peer_packet", self, "_on_raw")
	server = make_server()
	forget(server)  # polled through the API, when the test says
	server.connect("peer_disconnected", self, "_on_gone")
	check_eq(server.listen(port, PoolStringArray(), true), OK, "listen in multiplayer mode")
	api.network_peer = server
	_pollables.append(api)

	var a = spawn_client({"multiplayer": true})
	var b = spawn_client({"multiplayer": true})
	var ids := []
	for i in 2:
		var ev = yield(wait_event("peer_connected"), "completed")
		ids.append(int(ev[1]))
	# Which process is which: each logs its id.
	var by_id := {}
	for c in [a, b]:
		yield(client_find(c, "connected_to_server"), "completed")
		var ev = yield(client_find(c, "connection_succeeded"), "completed")
		by_id[int(ev[1])] = c
	check_eq(by_id.keys().size(), 2, "two clients")
	var ida: int = ids[0]
	var idb: int = ids[1]
	a = by_id[ida]
	b = by_id[idb]
	# The RPC path to /root/MP is settled with each client (its CONFIRM_PATH is a packet too).
	for id in ids:
		mp_node.rpc_id(id, "command", ["send_bytes", 1, "ready"])
		yield(wait_until("ready from %d" % id, self, "_raw_from", [id, "ready"]), "completed")

	# --- disconnect_peer with packets waiting ---
	# The API is not polled while A's burst arrives; the server alone files it.
	_pollables.erase(api)
	for i in BURST:
		mp_node.rpc_id(ida, "command", ["send_bytes", 1, "burst %d" % i])
	api.poll()  # sends the commands
	yield(wait_until("A's burst is filed", self, "_filed", [BURST]), "completed")
	check_eq(server.get_available_packet_count(), BURST, "the burst waits for the API")
	# The API's loop takes the first packet; our handler disconnects A there.
	disconnect_on_first_from = ida
	api.poll()
	check_eq(disconnected_by_us, [ida], "disconnect_peer(A) at A's first packet")
	var late := []
	for r in raw_received:
		if r[2]:
			late.append(r.slice(0, 1))
	check_eq_ours(late, [], "none of A's packets reaches the API after disconnect_peer(A)")
	_pollables.append(api)
	yield(wait_event("peer_disconnected"), "completed")
	check(not server.has_peer(ida), "A is gone after peer_disconnected")
	mp_node.rpc_id(idb, "command", ["send_bytes", 1, "b after"])
	yield(wait_until("B's packet", self, "_raw_from", [idb, "b after"]), "completed")
	var after_end := 0
	for r in raw_received:
		if r[3]:
			after_end += 1
	check_eq(after_end, 0, "no packet from a peer after its peer_disconnected")

	# --- sends to a peer whose connection ended, before the next poll ---
	_pollables.erase(api)
	mp_node.rpc_id(idb, "command", ["quit"])
	api.poll()
	yield(client_find(b, "exit"), "completed")
	# No poll: the first refusal is the only sign that the network side saw the end (the
	# built-in server sees it when its write fails, and prints an ERROR for every send after).
	if builtin:
		expect_errors_begin("stock: sends to the ended peer", STOCK_SEND_ERROR, 4)
	var ended = yield(wait_for(self, "_refused", [idb], 3.0), "completed")
	check(ended, "send_bytes to a peer whose connection ended fails before the next poll")
	check(server.has_peer(idb), "has_peer is still true until the next poll")
	check_eq(server.get_peer(idb).put_packet("x".to_utf8()), FAILED, "its WebSocketPeer's put_packet fails")
	check_eq(api.send_bytes("x".to_utf8(), idb), FAILED, "send_bytes to it fails")
	mp_node.rpc_id(idb, "hello", "lost")  # quiet: the log checker finds no ERROR
	mp_node.rpc("hello", "to all")
	check_eq(api.send_bytes("all".to_utf8(), 0), OK, "a broadcast leaves it out")
	if builtin:
		expect_errors_end("stock: sends to the ended peer")
	_pollables.append(api)
	yield(wait_event("peer_disconnected"), "completed")
	check(not server.has_peer(idb), "gone after the poll")
	expect_errors_begin("put_packet once the game heard the end", ours_or_stock("^" + literal(
			"ERROR: WebSocketServer.put_packet: target %d: peer %d: the peer is not connected" % [idb, idb]) + "$",
			"^ERROR: (get_peer: Condition \"!has_peer\\(p_id\\)\"|_server_relay: Condition \"peer_to.is_null\\(\\)\")"))
	check(api.send_bytes("x".to_utf8(), idb) != OK, "send_bytes after peer_disconnected fails")
	expect_errors_end("put_packet once the game heard the end")

	# Plain mode: the same for a WebSocketPeer.
	api.network_peer = null
	server.stop()
	var plain = make_server()
	check_eq(plain.listen(port + 1), OK, "listen")
	var joined = yield(connect_client({"port": port + 1}), "completed")
	var id: int = joined[1]
	forget(plain)
	send_cmd(plain, id, ["quit"])
	yield(client_find(joined[0], "exit"), "completed")
	var peer = plain.get_peer(id)
	if builtin:
		expect_errors_begin("stock: put_packet to the ended peer", STOCK_SEND_ERROR)
	var refused = yield(wait_for(self, "_put_refused", [peer], 3.0), "completed")
	check(refused, "put_packet to a peer whose connection ended fails before the next poll")
	check(plain.has_peer(id), "has_peer is still true until the next poll")
	check_eq(peer.put_packet("x".to_utf8()), FAILED, "and fails quietly")
	if builtin:
		expect_errors_end("stock: put_packet to the ended peer")
	_pollables.append(plain)
	yield(wait_event("client_disconnected"), "completed")
	plain.stop()
	for c in [a, b, joined[0]]:
		yield(wait_until("a client to exit", c, "has_exited"), "completed")


func _on_raw(sender: int, packet: PoolByteArray):
	var after := sender in disconnected_by_us
	raw_received.append([sender, packet.get_string_from_utf8(), after, sender in gone])
	if sender == disconnect_on_first_from and not after:
		disconnected_by_us.append(sender)
		server.disconnect_peer(sender)


func _on_gone(id: int):
	gone.append(id)


func _filed(count: int) -> bool:
	server.poll()
	return server.get_available_packet_count() >= count


func _raw_from(sender: int, text: String) -> bool:
	for r in raw_received:
		if r[0] == sender and r[1] == text:
			return true
	return false


func _refused(id: int) -> bool:
	return api.send_bytes("probe".to_utf8(), id) != OK


func _put_refused(peer) -> bool:
	return peer.put_packet("probe".to_utf8()) != OK
