extends "res://tests/lib/test_case.gd"
# Connection limits (ours: the built-in class has no such properties, and admits everyone):
# with max_connections = 2, a third stock WebSocketClient is refused and a raw client reads the
# HTTP 503 with Retry-After, while the game goes on hearing the first two. The properties
# default to 0 (automatic; no limit per address), refuse negative values and changes while
# listening.

const MAX = 2
const FULL_BODY = "the server is full (max_connections); try again later\n"
const RETRY_AFTER_SECONDS = 5  # the engine's RETRY_AFTER_SECONDS


func run():
	var server = make_server()
	# get() and set(): the built-in class has no such property (a plain `.` would be a script
	# error there).
	check_eq_ours(server.get("max_connections"), 0, "max_connections defaults to 0 (automatic)")
	check_eq_ours(server.get("max_connections_per_ip"), 0,
			"max_connections_per_ip defaults to 0 (no limit)")
	if not builtin:
		expect_errors_begin("a negative limit", "^" + literal(
				"ERROR: WebSocketServer.set_max_connections_per_ip: -1 is negative; use 0 or a positive count") + "$")
		server.max_connections_per_ip = -1
		expect_errors_end("a negative limit")
		check_eq(server.max_connections_per_ip, 0, "a negative limit is ignored")
	server.set("max_connections", MAX)
	check_eq_ours(server.get("max_connections"), MAX, "max_connections is set before listen()")
	check_eq(server.listen(port), OK, "listen")
	if not builtin:
		expect_errors_begin("set while listening", "^" + literal(
				"ERROR: WebSocketServer.set_max_connections: cannot change while listening; call stop() first") + "$")
		server.max_connections = 10
		expect_errors_end("set while listening")
		check_eq(server.max_connections, MAX, "unchanged while listening")

	var joined = yield(connect_clients(MAX, {"echo": true}), "completed")
	var clients: Array = joined[0]
	var ids: Array = joined[1]

	# One warning for the refusals (at most one per second; a later one counts those held back).
	if not builtin:
		expect_begin("the refusals' warning", {"warning": ["^" + literal(
				"WARNING: WebSocketServer.poll: connection from 127.0.0.1:") + "[0-9]+" + literal(
				" refused: the server is full: max_connections (2) connections are open")
				+ "( \\([0-9]+ more refused since the last warning\\))?$", 1],
				# The refused stock client (its own process, the same log) on the 503.
				"error": [REFUSED_CLIENT_ERROR, 1]})
	var third = spawn_client()
	yield(wait_until("the third client connects or fails", self, "_decided", [third], 10.0), "completed")
	check_ours(third.has_named("connection_error"), "a third WebSocketClient is refused")
	check_ours(not _find_event("client_connected"), "the server never hears of it")

	var raw = yield(raw_connect(), "completed")
	raw.put_data(upgrade_request())
	yield(wait_for(self, "_is_closed", [raw], 3.0), "completed")
	var answer: String = _received[raw]
	check_ours(answer.begins_with("HTTP/1.1 503 Service Unavailable\r\n"),
			"a raw client reads HTTP 503, got %s" % to_json(answer.left(40)))
	check_ours(("\r\nRetry-After: %d\r\n" % RETRY_AFTER_SECONDS) in answer, "with Retry-After")
	check_ours(answer.ends_with("\r\n\r\n" + FULL_BODY), "and a body that says why")
	if not builtin:
		yield(expect_end("the refusals' warning"), "completed")

	# The first two are still heard, both ways.
	for i in MAX:
		server.get_peer(ids[i]).put_packet(("still here %d" % i).to_utf8())
		var ev = yield(wait_event("data_received"), "completed")
		check_eq(ev[1], ids[i], "the echo comes from peer %d" % i)
		var text = server.get_peer(ids[i]).get_packet().get_string_from_utf8()
		check_eq(text, "still here %d" % i, "peer %d's echo" % i)

	server.stop()
	for c in clients:
		yield(client_event(c, "closed", DEFAULT_TIMEOUT, ["data", "server_close_request"]), "completed")
	if builtin:
		# The built-in admitted the third: it ends with the server too.
		yield(client_find(third, "closed"), "completed")


func _decided(client) -> bool:
	return client.has_named("connected") or client.has_named("connection_error")
