extends "res://tests/lib/test_case.gd"
# Server lifetimes a game goes through, with stock clients in other processes:
# - listen()/stop() 100 times in a row on one object, and on 100 new objects, from GDScript;
# - two servers in one process on different ports, both serving at once;
# - clients that come and go fast, some killed (disconnect churn, stock #33279), while the
#   game calls into the server for each of them;
# - every method of a WebSocketPeer whose peer is gone, and get_packet() on an empty queue
#   (stock #31106, #46096): errors, not crashes;
# - the last reference to a listening server dropped with clients connected: the clients see
#   the connection end, the network threads are gone, and nothing leaks at exit (the runner
#   checks Godot's leak report);
# - the last reference dropped by a data_received handler in the middle of a poll() that may
#   have more messages ready (ours only: Godot aborts when an object is freed while it emits a
#   signal, which the stock class lets happen): the poll delivers what it began with, the server
#   is freed when it returns and stops as when dropped anywhere else.

const ROUNDS = 100


func run():
	yield(listen_stop_loops(), "completed")
	yield(two_servers(), "completed")
	yield(churn(), "completed")
	yield(gone_peer_and_empty_queue(), "completed")
	yield(drop_last_reference(), "completed")
	yield(drop_last_reference_in_poll(), "completed")


# Threads of our network runtimes (named gdws-io) alive in this process; -1 when /proc cannot
# tell (the built-in server has none).
func network_threads() -> int:
	var dir := Directory.new()
	if dir.open("/proc/self/task") != OK:
		return -1
	var count := 0
	dir.list_dir_begin(true)
	var task = dir.get_next()
	while task != "":
		var f := File.new()
		if f.open("/proc/self/task/%s/comm" % task, File.READ) == OK:
			if f.get_line().begins_with("gdws-io"):
				count += 1
			f.close()
		task = dir.get_next()
	dir.list_dir_end()
	return count


func no_network_threads() -> bool:
	return builtin or network_threads() == 0


func listen_stop_loops():
	var server = new_server()
	var failed := 0
	for i in ROUNDS:
		if server.listen(port) != OK:
			failed += 1
		server.stop()
	check_eq(failed, 0, "listen() failures in %d listen/stop rounds on one object" % ROUNDS)
	failed = 0
	for i in ROUNDS:
		var other = new_server()
		if other.listen(port) != OK:
			failed += 1
		other.stop()
	check_eq(failed, 0, "listen() failures in %d rounds with a new object each" % ROUNDS)
	yield(wait_until("the network threads of stopped servers to exit", self, "no_network_threads"), "completed")

	# Still a working server afterwards.
	server = make_server()
	check_eq(server.listen(port), OK, "listen after the loops")
	var joined = yield(connect_client({"echo": true}), "completed")
	var client = joined[0]
	var peer = server.get_peer(joined[1])
	peer.put_packet("after the loops".to_utf8())
	yield(wait_event("data_received"), "completed")
	check_eq(peer.get_packet().get_string_from_utf8(), "after the loops", "echo after the loops")
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request", "data"]), "completed")
	forget(server)


func two_servers():
	var first = make_server()
	var second = make_server()
	check_eq(first.listen(port), OK, "first server listens")
	check_eq(second.listen(port + 1), OK, "second server listens on another port")
	var clients = [spawn_client({"echo": true}), spawn_client({"echo": true, "port": port + 1})]
	var ids = {}
	for i in 2:
		var ev = yield(wait_event("client_connected"), "completed")
		ids[ev[1]] = true
	for c in clients:
		yield(client_event(c, "connected"), "completed")
	var pairs = []
	for id in ids:
		var owner = first if first.has_peer(id) else second
		check(first.has_peer(id) != second.has_peer(id), "peer %d belongs to exactly one server" % id)
		pairs.append([owner, id])
	check(pairs[0][0] != pairs[1][0], "one client on each server")
	# Both at once: each server sends in the same frame, each echo comes back to its own server.
	for pair in pairs:
		var peer = pair[0].get_peer(pair[1])
		peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
		peer.put_packet(("to %d" % pair[1]).to_utf8())
	for i in 2:
		yield(wait_event("data_received"), "completed")
	for pair in pairs:
		var got = pair[0].get_peer(pair[1]).get_packet().get_string_from_utf8()
		check_eq(got, "to %d" % pair[1], "echo through the right server")
	# Stopping one leaves the other serving.
	first.stop()
	var peer_on_second = pairs[0][1] if pairs[0][0] == second else pairs[1][1]
	check(second.has_peer(peer_on_second), "the second server keeps its peer after the first stopped")
	second.get_peer(peer_on_second).put_packet("still here".to_utf8())
	yield(wait_event("data_received"), "completed")
	check_eq(second.get_peer(peer_on_second).get_packet().get_string_from_utf8(), "still here",
			"the second server still serves")
	second.stop()
	for c in clients:
		yield(client_event(c, "closed", DEFAULT_TIMEOUT, ["server_close_request", "data"]), "completed")
	forget(first)
	forget(second)


# Clients connect and leave fast, half of them killed; the game asks about each peer in the
# signal handlers (a stale id there must be harmless).
func churn():
	var server = make_server()
	server.connect("client_connected", self, "_touch_peer", [server])
	server.connect("client_disconnected", self, "_check_gone", [server])
	check_eq(server.listen(port), OK, "listen")
	var count := 8
	var joined = yield(connect_clients(count), "completed")
	var clients: Array = joined[0]
	var ids: Array = joined[1]
	for i in range(0, count, 2):
		OS.kill(clients[i].pid)
		clients[i].pid = -1
	for i in count / 2:
		yield(wait_event("client_disconnected", 8.0), "completed")
	var left := 0
	for id in ids:
		if server.has_peer(id):
			server.disconnect_peer(id, 1000, "bye")
			left += 1
	check_eq(left, count / 2, "the clients not killed are still connected")
	for i in left:
		yield(wait_event("client_disconnected"), "completed")
	for id in ids:
		check(not server.has_peer(id), "peer %d gone" % id)
	check_eq(touched, count, "the game reached every new peer in client_connected")
	check_eq(gone_seen, count, "client_disconnected for every peer")
	server.stop()
	forget(server)


var touched := 0
var gone_seen := 0


func _touch_peer(id, _protocol, server):
	var peer = server.get_peer(id)
	if peer != null and peer.get_connected_port() == server.get_peer_port(id) and server.get_peer_address(id) == "127.0.0.1":
		touched += 1


# In its client_disconnected, the peer is no longer listed (ours; stock still lists it).
func _check_gone(id, _clean, server):
	check_ours(not server.has_peer(id), "peer %d no longer listed in its client_disconnected" % id)
	gone_seen += 1


# A WebSocketPeer kept after its peer left: every method is an error or a harmless default.
# get_packet() on an empty queue: nothing, ERR_UNAVAILABLE.
func gone_peer_and_empty_queue():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	var joined = yield(connect_client(), "completed")
	var client = joined[0]
	var id: int = joined[1]
	var peer = server.get_peer(id)
	check_eq(peer.get_available_packet_count(), 0, "empty queue")
	check_eq(peer.get_packet().size(), 0, "get_packet() on an empty queue")
	check_eq(peer.get_packet_error(), ERR_UNAVAILABLE, "get_packet_error() on an empty queue")
	expect_errors_begin("get_var on an empty queue", literal("ERROR: _bnd_get_var: Condition \"err != OK\" is true. Returned: Variant()"))
	check_eq(peer.get_var(), null, "get_var() on an empty queue")
	expect_errors_end("get_var on an empty queue")

	server.disconnect_peer(id)
	yield(wait_event("client_disconnected"), "completed")
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
	# Ours names the call and the peer for each, close() too; stock prints Godot's conditions
	# and nothing for close().
	expect_errors_begin("methods of a gone peer", ours_or_stock(
			"^ERROR: WebSocketPeer\\.(put_packet|get_packet|close|set_no_delay): peer %d is not connected$" % id,
			"^ERROR: (put_packet|get_packet|set_no_delay): Condition \"!is_connected_to_host\\(\\)"), ours_or_stock(5, 4))
	check(peer.put_packet("x".to_utf8()) != OK, "put_packet on a gone peer fails")
	check(peer.put_var(1) != OK, "put_var on a gone peer fails")
	check_eq(peer.get_packet().size(), 0, "get_packet on a gone peer")
	check(peer.get_packet_error() != OK, "get_packet_error after get_packet on a gone peer")
	peer.close(1000, "late")
	peer.set_no_delay(true)
	expect_errors_end("methods of a gone peer")
	check_eq(peer.get_available_packet_count(), 0, "get_available_packet_count of a gone peer")
	check(not peer.is_connected_to_host(), "is_connected_to_host of a gone peer")
	# The address of a gone peer: stock prints errors, ours answers the defaults quietly.
	if builtin:
		expect_errors_begin("address of a gone peer (stock)", "^ERROR: get_connected_(host|port): Condition ", 2)
	check_eq(peer.get_connected_host(), "", "get_connected_host of a gone peer")
	check_eq(peer.get_connected_port(), 0, "get_connected_port of a gone peer")
	if builtin:
		expect_errors_end("address of a gone peer (stock)")
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	check_eq(peer.get_write_mode(), WebSocketPeer.WRITE_MODE_TEXT, "write mode still settable")
	# The same after the server stopped, and after it was freed.
	server.stop()
	forget(server)
	server = null
	expect_errors_begin("methods of a peer whose server is gone", ours_or_stock(
			"^ERROR: WebSocketPeer\\.(put_packet|get_packet): peer %d is not connected$" % id,
			"^ERROR: (put_packet|get_packet): Condition \"!is_connected_to_host\\(\\)"), 2)
	check(peer.put_packet("x".to_utf8()) != OK, "put_packet after the server is gone fails")
	check_eq(peer.get_packet().size(), 0, "get_packet after the server is gone")
	expect_errors_end("methods of a peer whose server is gone")
	peer = null


# The game drops its only reference to a listening server with clients connected.
func drop_last_reference():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	var clients = [spawn_client(), spawn_client(), spawn_client()]
	for c in clients:
		yield(client_event(c, "connected"), "completed")
	forget(server)
	server = null  # the last reference: the object is freed here
	for c in clients:
		yield(client_event(c, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
	yield(wait_until("the network threads of the freed server to exit", self, "no_network_threads"), "completed")
	check(no_network_threads(), "no network thread left")
	# The port is free again.
	var again = new_server()
	check_eq(again.listen(port), OK, "listen on the port of the freed server")
	again.stop()


var _lone_server = null  # the only reference to the server of drop_last_reference_in_poll
var _lone_deliveries := 0


func drop_last_reference_in_poll():
	if builtin:  # Godot aborts: the stock server is freed while it emits data_received
		yield(self, "idle_frame")
		return
	_lone_server = new_server()  # not make_server: nothing else holds a reference
	_lone_server.connect("data_received", self, "_drop_lone_server")
	check_eq(_lone_server.listen(port), OK, "listen")
	var tcp = yield(raw_connect(), "completed")
	tcp.put_data(upgrade_request())
	yield(wait_until("the upgrade's answer", self, "has_response_head", [tcp]), "completed")
	check(_received[tcp].begins_with("HTTP/1.1 101"), "upgraded")
	# Three masked text frames (mask key 0) in one write: one read on the server side.
	var frames := PoolByteArray()
	for text in ["one", "two", "three"]:
		frames.append_array(PoolByteArray([0x81, 0x80 | text.length(), 0, 0, 0, 0]))
		frames.append_array(text.to_ascii())
	tcp.put_data(frames)
	# Polled through the member itself, as a game's _process does: the call holds no other
	# reference, so the handler's `_lone_server = null` frees the object inside poll().
	var freed := weakref(_lone_server)
	var deadline := OS.get_ticks_msec() + DEFAULT_TIMEOUT * 1000
	while _lone_server != null and OS.get_ticks_msec() < deadline:
		_lone_server.poll()
		yield(self, "idle_frame")
	check(_lone_server == null, "a message came and its handler dropped the server")
	check(freed.get_ref() == null, "the server was freed once its poll() returned")
	check(_lone_deliveries >= 1 and _lone_deliveries <= 3,
			"messages delivered by that poll: %d of 3, then none" % _lone_deliveries)
	yield(wait_until("the freed server's connection to end", self, "_is_closed", [tcp]), "completed")
	check(_is_closed(tcp), "the client's connection ends")
	yield(wait_until("the network threads of the freed server to exit", self, "no_network_threads"), "completed")
	check(no_network_threads(), "no network thread left")


func _drop_lone_server(_id):
	_lone_deliveries += 1
	_lone_server = null  # the last reference but the one the running poll() holds
