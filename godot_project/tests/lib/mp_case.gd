extends "res://tests/lib/test_case.gd"
# Base of the multiplayer tests: the server under test as this SceneTree's network_peer
# (listen(port, [], true)) with /root/MP (mp_node.gd), stock multiplayer clients in their own
# processes (mp_client.gd), and ways to wait for what each peer received.
#
# Besides test_case.gd's `events`, the server's peer_packet signals are recorded there as
# ["peer_packet", source], every signal ever emitted is counted in `signal_counts` (wait_event
# pops `events`, the counts stay), and what the server's MultiplayerAPI hands to
# network_peer_packet is kept in `raw_received` as [sender, text].

const MpNode = preload("res://tests/lib/mp_node.gd")
const SPOOF_CLIENT_SCRIPT = "res://tests/lib/mp_spoof_client.gd"
const ALL_SIGNALS = ["client_connected", "client_disconnected", "client_close_request",
		"data_received", "peer_connected", "peer_disconnected", "peer_packet"]

var server
var mp_node: Node
var signal_counts := {}
var raw_received := []  # [sender, text]
var known_pairs := []  # [[client, id], ...]: the clients join_clients started so far


# Starts the server in multiplayer mode as the tree's network peer, with `properties` set on it
# first; false if listen failed.
func start_mp_server(properties := {}) -> bool:
	mp_node = MpNode.new()
	mp_node.name = "MP"
	root.add_child(mp_node)
	server = make_server()
	for name in properties:
		server.set(name, properties[name])
	forget(server)  # the SceneTree polls its network peer
	server.connect("peer_packet", self, "_record", ["peer_packet"])
	for sig in ALL_SIGNALS:
		signal_counts[sig] = 0
		server.connect(sig, self, "_count", [sig])
	multiplayer.connect("network_peer_packet", self, "_on_raw")
	if not check_eq(server.listen(port, PoolStringArray(), true), OK, "listen in multiplayer mode"):
		return false
	network_peer = server
	return true


# Starts `count` stock multiplayer clients at once and waits until each has its id and knows
# the server and every other client, and the clients that joined before learn of them (and the
# server saw them all join). Returns [[client, id], ...] in the order they were started.
func join_clients(count: int):
	var started := []
	for i in count:
		started.append(spawn_client({"multiplayer": true}))
	var server_ids := []
	for i in count:
		var ev = yield(wait_event("peer_connected"), "completed")
		server_ids.append(int(ev[1]))
	var joined := []
	for c in started:
		var ev = yield(client_find(c, "connection_succeeded"), "completed")
		var id := int(ev[1])
		check(id in server_ids, "client id %d is one the server announced with peer_connected" % id)
		check(server.has_peer(id), "has_peer(%d)" % id)
		ev = yield(client_find(c, "connected_to_server"), "completed")
		check_eq(ev[1], id, "get_network_unique_id() of client %d after connected_to_server" % id)
		joined.append([c, id])
	# Every client learns of the server and of every other client exactly once.
	var everyone := [1] + server_ids
	for pair in known_pairs:
		everyone.append(pair[1])
	for pair in joined:
		var want := []
		for id in everyone:
			if id != pair[1]:
				want.append(id)
		yield(expect_peers(pair[0], "peer_connected", want, "client %d" % pair[1]), "completed")
	for pair in known_pairs:
		yield(expect_peers(pair[0], "peer_connected", server_ids, "client %d" % pair[1]), "completed")
	known_pairs += joined
	yield(settle_paths(), "completed")
	return joined


# MultiplayerAPI sends a node path once to each peer (SIMPLIFY_PATH) and the peer answers
# (CONFIRM_PATH). A peer that leaves while its answer is on the way makes the other side print an
# ERROR, with the stock server as with ours: the SYS_DEL and the answer arrive in the same frame,
# peer_disconnected is handled first, then the answer from a peer it forgot. So before anyone
# leaves, every path in use must be settled: every client broadcasts on /root/MP twice, and once
# a peer has everyone's second broadcast it has had all the answers to its first (the second
# sends no new SIMPLIFY_PATH, and each way is in order). The server's commands to a client are
# answered before the client acts on them.
func settle_paths():
	for round_name in ["ready", "settled"]:
		for pair in known_pairs:
			client_call(pair[1], ".", "rpc", ["hello", round_name])
		for pair in known_pairs:
			var sender = pair[1]
			yield(expect_server(["hello", sender, round_name], "%s from %d at the server" % [round_name, sender]), "completed")
			for other in known_pairs:
				if other[1] != sender:
					yield(expect_client(other[0], ["got", "hello", sender, round_name],
							"%s from %d at %d" % [round_name, sender, other[1]]), "completed")


# Waits until `client` logged [what, id] for every id in `ids` (in any order).
func expect_peers(client, what: String, ids: Array, who: String):
	var got := []
	for i in ids.size():
		var ev = yield(client_find(client, what), "completed")
		got.append(int(ev[1]))
	got.sort()
	var want = ids.duplicate()
	want.sort()
	check_eq(got, want, "%s: %s for %s" % [who, what, want])


# Removes the recorded peer_packet events and returns their sources, in order.
func take_peer_packets() -> Array:
	var sources := []
	var rest := []
	for e in events:
		if e[0] == "peer_packet":
			sources.append(int(e[1]))
		else:
			rest.append(e)
	events = rest
	return sources


# Makes client `id` run `cmd` (mp_client.gd's commands).
func command(id: int, cmd: Array):
	mp_node.rpc_id(id, "command", cmd)


# Makes client `id` call `method` with `args` on /root/MP/<node> (node "." is MP).
func client_call(id: int, node: String, method: String, args: Array):
	command(id, ["call", node, method, args])


# Waits for the client to log exactly `ev` (e.g. ["got", "hello", 1, "hi"]) and removes it; other
# events stay pending.
func expect_client(client, ev: Array, what: String, timeout := DEFAULT_TIMEOUT):
	var found = yield(wait_until(what, self, "_client_has", [client, ev], timeout), "completed")
	_client_take(client, ev)
	checks += 1


# Waits until the server's /root/MP (or a player node) recorded exactly `ev`
# ([kind, sender, value]) and removes it.
func expect_server(ev: Array, what: String, timeout := DEFAULT_TIMEOUT):
	yield(wait_until(what, self, "_index_of", [mp_node.received, ev, true], timeout), "completed")
	mp_node.received.remove(_index_of(mp_node.received, ev))
	checks += 1


# Waits until the server's MultiplayerAPI got raw bytes [sender, text] and removes them.
func expect_server_raw(ev: Array, what: String, timeout := DEFAULT_TIMEOUT):
	yield(wait_until(what, self, "_index_of", [raw_received, ev, true], timeout), "completed")
	raw_received.remove(_index_of(raw_received, ev))
	checks += 1


# The pending events of `client` whose name is in `names`.
func client_pending(client, names: Array) -> Array:
	client.has_event()  # reads the log
	var out := []
	for ev in client._pending:
		if ev[0] in names:
			out.append(ev)
	return out


func _client_has(client, ev: Array) -> bool:
	client.has_event()
	return _index_of(client._pending, ev) >= 0


func _client_take(client, ev: Array):
	client._pending.remove(_index_of(client._pending, ev))


# Index of the first element of `list` equal to `ev` (as check_eq compares), or -1; with
# `as_bool`, whether there is one.
func _index_of(list: Array, ev, as_bool := false):
	for i in list.size():
		if _same(list[i], ev):
			return true if as_bool else i
	return false if as_bool else -1


func _count(_a = null, _b = null, _c = null, sig = null):
	# The bound signal name comes last, after the signal's own 1 to 3 arguments.
	var args := [_a, _b, _c, sig]
	while args.back() == null:
		args.pop_back()
	signal_counts[args.back()] += 1


func _on_raw(id, packet: PoolByteArray):
	raw_received.append([id, packet.get_string_from_utf8()])


# Starts a hand-written spoofing client (mp_spoof_client.gd) in its own process.
func spawn_spoof_client():
	return spawn_script(SPOOF_CLIENT_SCRIPT, ["--url=ws://127.0.0.1:%d/" % port])


# Stops the server and waits for every client process still running to log its exit.
func stop_server_and_clients():
	server.stop()
	for c in _clients:
		if c.pid > 0:
			yield(wait_until("a client to exit", c, "has_exited"), "completed")
	network_peer = null
