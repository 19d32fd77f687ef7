extends "res://tests/lib/test_case.gd"
# stop() with clients connected: the clients see the connection end, the server emits no signal and
# forgets every peer; listen() again on the same port works and a new client connects.


func run():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	var clients = [spawn_client(), spawn_client()]
	var ids = []
	for i in 2:
		var ev = yield(wait_event("client_connected"), "completed")
		ids.append(ev[1])
	for c in clients:
		yield(client_event(c, "connected"), "completed")
	check_eq(events, [], "only the two connects so far")

	server.stop()
	check(not server.is_listening(), "is_listening false after stop")
	check_eq(server.get_connection_status(), NetworkedMultiplayerPeer.CONNECTION_DISCONNECTED,
			"connection status after stop")
	for id in ids:
		check(not server.has_peer(id), "has_peer(%d) false after stop" % id)
	for c in clients:
		# A best-effort close frame may come first.
		yield(client_event(c, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
	# Polling a stopped server is harmless and emits nothing.
	yield(settle(0.3), "completed")
	check_eq(events, [], "stop() emits no signal")

	# Listen again on the same port.
	check_eq(server.listen(port), OK, "listen again on the same port")
	check(server.is_listening(), "is_listening after the second listen")
	var client = spawn_client({"echo": true})
	var ev = yield(next_event(), "completed")
	check_eq([ev[0], ev[2]], ["client_connected", ""], "new client connects after restart")
	var id = ev[1]
	yield(client_event(client, "connected"), "completed")
	var peer = server.get_peer(id)
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	peer.put_packet("after restart".to_utf8())
	yield(wait_event("data_received"), "completed")
	check_eq(peer.get_packet().get_string_from_utf8(), "after restart", "echo after restart")

	# stop() twice is harmless; stop() then free.
	server.stop()
	server.stop()
	yield(client_event(client, "data"), "completed")
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
	yield(settle(0.2), "completed")
	check_eq(events, [], "second stop() emits no signal either")

	# Stop and listen again in the same frame.
	check_eq(server.listen(port), OK, "listen a third time")
	server.stop()
	check_eq(server.listen(port), OK, "listen right after stop, same frame")
	client = yield(connect_client(), "completed")[0]
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
