extends "res://tests/lib/test_case.gd"
# Subprotocol negotiation: the first protocol in the client's list that the server also lists wins;
# a mismatch is rejected (the client gets connection_error, the server emits nothing).


func run():
	var server = make_server()
	check_eq(server.listen(port, PoolStringArray(["chat", "json"])), OK, "listen with protocols")

	# The client's first protocol the server knows wins.
	var client = spawn_client({"protocols": ["xml", "json", "chat"]})
	var ev = yield(next_event(), "completed")
	check_eq([ev[0], ev[2]], ["client_connected", "json"], "negotiated protocol")
	var id = ev[1]
	ev = yield(client_event(client, "connected"), "completed")
	check_eq(ev, ["connected", "json"], "client sees the negotiated protocol")
	server.disconnect_peer(id)
	yield(client_event(client, "server_close_request"), "completed")
	yield(client_event(client, "closed"), "completed")
	yield(wait_event("client_disconnected"), "completed")

	# No protocol in common: rejected.
	yield(expect_rejected({"protocols": ["xml"]}, "client offers only an unknown protocol", '"xml"', '["chat", "json"]'), "completed")
	# Client offers none but the server lists some: rejected.
	yield(expect_rejected({}, "client offers no protocol to a server that requires one", 'none', '["chat", "json"]'), "completed")
	server.stop()

	# Server lists none, client offers some: rejected.
	check_eq(server.listen(port), OK, "listen without protocols")
	yield(expect_rejected({"protocols": ["chat"]}, "client offers a protocol to a server with none", '"chat"', '[]'), "completed")

	# Both empty: accepted with protocol "".
	client = spawn_client()
	ev = yield(next_event(), "completed")
	check_eq([ev[0], ev[2]], ["client_connected", ""], "no protocol on either side")
	ev = yield(client_event(client, "connected"), "completed")
	check_eq(ev, ["connected", ""], "client sees no protocol")
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")


func expect_rejected(options: Dictionary, what: String, offered: String, accepted: String):
	# Ours answers a refused handshake with HTTP 400, which the stock client reports with two
	# ERROR lines, and warns naming the client and both lists; stock drops the connection
	# silently. The region closes once the client process has logged its error (its ERROR lines
	# come first) and ours has warned.
	if not builtin:
		expect_begin("client rejected: " + what, {
			"error": ["^ERROR: (_verify_headers: Invalid protocol or status code\\.|_do_handshake: Invalid response headers\\.)$", 2],
			"warning": ["^" + literal("WARNING: WebSocketServer.poll: connection from 127.0.0.1:") + "[0-9]+"
					+ literal(" refused: no common subprotocol: the client offered %s, the server accepts %s" % [offered, accepted]) + "$", 1],
		})
	var client = spawn_client(options)
	var ev = yield(client_event(client, "connection_error", 8.0), "completed")
	if not builtin:
		yield(expect_end("client rejected: " + what), "completed")
	check_eq(ev, ["connection_error"], what + ": client gets connection_error")
	check_eq(events, [], what + ": server emits nothing")
