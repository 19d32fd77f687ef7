extends "res://tests/lib/test_case.gd"
# What the handshake's HTTP carries besides the upgrade (ours: the built-in 3.2 class has none of
# it). A stock WebSocketClient, which sends no Origin, connects to a server with allowed_origins
# set, and the game reads its request path, headers and URL; raw clients show the 403 for a
# foreign Origin, the extra header in the 101 of a listed one, and the health check's 200 (GET
# and HEAD), which prints nothing and emits nothing, while a WebSocket upgrade of the same path
# still upgrades. Bad settings and unknown peer ids print errors naming the call.

const GAME_ORIGIN = "https://game.example"
const PATH = "/play?room=3&token=abc"
const OK_HEAD = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
		+ "Cache-Control: no-store\r\nConnection: close\r\n\r\n")


func run():
	var server = make_server()
	# get(): the built-in class has no such property (a plain `.` would be a script error there).
	check_eq_ours(server.get("allowed_origins"), PoolStringArray(), "allowed_origins defaults to empty (any origin)")
	check_eq_ours(server.get("health_check_path"), "", "health_check_path defaults to \"\" (off)")
	if not builtin:
		refuse_bad_settings(server)
		server.allowed_origins = PoolStringArray(["HTTPS://Game.example:443"])
		check_eq(server.allowed_origins, PoolStringArray([GAME_ORIGIN]), "an origin reads back in its RFC 6454 form")
		server.health_check_path = "/health"
		check_eq(server.set_extra_headers(PoolStringArray(["X-Game: test"])), OK, "set_extra_headers")
	check_eq(server.listen(port), OK, "listen")
	if not builtin:
		expect_errors_begin("extra headers while listening", "^" + literal(
				"ERROR: WebSocketServer.set_extra_headers: cannot change while listening; call stop() first") + "$")
		check_eq(server.set_extra_headers(PoolStringArray(["X-Late: 1"])), FAILED, "set_extra_headers while listening")
		expect_errors_end("extra headers while listening")
		expect_errors_begin("settings while listening", "^" + literal("ERROR: WebSocketServer.set_")
				+ "(allowed_origins|health_check_path)" + literal(": cannot change while listening; call stop() first") + "$", 2)
		server.allowed_origins = PoolStringArray()
		server.health_check_path = "/other"
		expect_errors_end("settings while listening")
		check_eq([server.allowed_origins, server.health_check_path], [PoolStringArray([GAME_ORIGIN]), "/health"],
				"unchanged while listening")

	# A stock client sends no Origin: taken, with allowed_origins set. Its request, as the game sees it.
	var joined = yield(connect_client({"path": PATH}), "completed")
	var id = joined[1]
	check_eq_ours(call_if_ours(server, "get_peer_request_path", [id]), PATH, "the request path and query")
	var headers = call_if_ours(server, "get_peer_request_headers", [id])
	var host = "127.0.0.1:%d" % port
	check_eq_ours(headers.get("host") if headers is Dictionary else null, host, "the Host header, by its lower-case name")
	check_ours(headers is Dictionary and headers.has("sec-websocket-key") and not headers.has("origin"),
			"every header in lower case, and no Origin from a stock client: %s" % to_json(headers))
	var peer = server.get_peer(id)
	check_eq_ours(call_if_ours(peer, "get_requested_url", []), "ws://%s%s" % [host, PATH],
			"get_requested_url(): scheme, Host and target")
	if not builtin:
		expect_errors_begin("unknown ids", "^" + literal("ERROR: WebSocketServer.get_peer_request_")
				+ "(path|headers)" + literal(": no peer with id 999") + "$", 2)
		check_eq(server.get_peer_request_path(999), "", "an unknown id's path")
		check_eq(server.get_peer_request_headers(999), {}, "an unknown id's headers")
		expect_errors_end("unknown ids")

	# A page of another site: 403, saying why, and the refusal's warning.
	if not builtin:
		expect_begin("foreign origin", {"warning": [refused(
				"the origin \"https://evil.example\" is not in allowed_origins"), 1]})
	var foreign = yield(raw_connect(), "completed")
	foreign.put_data(upgrade_request("/lobby", "Origin: https://evil.example\r\n", "game.example"))
	yield(wait_for(self, "_is_closed", [foreign], 3.0), "completed")
	check_eq_ours(_received[foreign], "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
			+ "Content-Length: 60\r\nConnection: close\r\n\r\n"
			+ "the origin \"https://evil.example\" is not in allowed_origins\n", "a foreign origin gets 403")
	if not builtin:
		yield(expect_end("foreign origin"), "completed")
	else:
		yield(wait_event("client_connected"), "completed")

	# The game's own page: the 101, with the extra header.
	var listed = yield(raw_connect(), "completed")
	listed.put_data(upgrade_request("/lobby", "Origin: " + GAME_ORIGIN + "\r\n", "game.example"))
	yield(wait_until("the listed origin's 101", self, "has_response_head", [listed]), "completed")
	check(_received[listed].begins_with("HTTP/1.1 101 Switching Protocols\r\n"), "a listed origin upgrades")
	check_ours("\r\nX-Game: test\r\n" in _received[listed], "with the extra header: %s" % to_json(_received[listed]))
	yield(wait_event("client_connected"), "completed")

	# Health checks: 200, nothing printed, no signal. The next refusal's warning is the next line.
	var log_before = _own_log_length()
	if builtin:
		expect_begin("health checks", {"error": ["^ERROR: _parse_request: ", 1]})
	for request in [["GET /health?from=lb HTTP/1.1\r\nHost: x\r\n\r\n", OK_HEAD + "OK\n"],
			["HEAD /health HTTP/1.0\r\n\r\n", OK_HEAD]]:
		var check_request = yield(raw_connect(), "completed")
		check_request.put_data(request[0].to_ascii())
		yield(wait_for(self, "_is_closed", [check_request], 3.0), "completed")
		check_eq_ours(_received[check_request], request[1], "the health check's answer to %s" % to_json(request[0]))
	if builtin:
		yield(expect_end("health checks"), "completed")
	else:
		expect_begin("another path", {"warning": [refused("invalid WebSocket handshake: "), 1]})
		var other = yield(raw_connect(), "completed")
		other.put_data("GET /other HTTP/1.1\r\nHost: x\r\n\r\n".to_ascii())
		yield(wait_for(self, "_is_closed", [other], 3.0), "completed")
		yield(expect_end("another path"), "completed")
		var printed = []
		for line in _own_log().substr(log_before).split("\n"):
			if line.begins_with("WARNING:") or line.begins_with("ERROR:"):
				printed.append(line)
		check_eq(printed.size(), 1, "the health checks printed nothing: %s" % to_json(printed))
	check(not _find_event("client_connected"), "a health check is no peer")

	# A WebSocket upgrade of the health path still upgrades.
	var upgrade = yield(raw_connect(), "completed")
	upgrade.put_data(upgrade_request("/health", "", "game.example"))
	yield(wait_until("the health path's 101", self, "has_response_head", [upgrade]), "completed")
	check(_received[upgrade].begins_with("HTTP/1.1 101 Switching Protocols\r\n"), "an upgrade of the health path upgrades")
	var ev = yield(wait_event("client_connected"), "completed")
	check_eq_ours(call_if_ours(server, "get_peer_request_path", [ev[1]]), "/health", "its path")
	server.stop()
	check_eq_ours(call_if_ours(peer, "get_requested_url", []), "", "get_requested_url() once the peer is gone")


# `object.method(args)` on ours; null on the built-in, which has no such method.
func call_if_ours(object, method: String, args: Array):
	return object.callv(method, args) if object.has_method(method) else null


func refused(cause: String) -> String:
	return "^" + literal("WARNING: WebSocketServer.poll: connection from 127.0.0.1:") + "[0-9]+" + literal(" refused: " + cause)


# Values the setters refuse: each prints an error naming the call and the bad value, and changes
# nothing.
func refuse_bad_settings(server):
	expect_errors_begin("bad extra headers", "^" + literal("ERROR: WebSocketServer.set_extra_headers: ")
			+ "(" + literal("\"X-A: 1\\x0d\\x0aX-B: 2\" is not a header: its value holds a control character")
			+ "|" + literal("\"Sec-WebSocket-Protocol: chat\" would override the WebSocket handshake's own") + ")", 2)
	check_eq(server.set_extra_headers(PoolStringArray(["X-Ok: 1", "X-A: 1\r\nX-B: 2"])), ERR_INVALID_PARAMETER,
			"a line with CR LF is refused")
	check_eq(server.set_extra_headers(PoolStringArray(["Sec-WebSocket-Protocol: chat"])), ERR_INVALID_PARAMETER,
			"a line overriding Sec-WebSocket-* is refused")
	expect_errors_end("bad extra headers")
	expect_errors_begin("bad origin", "^" + literal("ERROR: WebSocketServer.set_allowed_origins: "
			+ "\"https://game.example/\" is not an origin: an origin has no path"))
	server.allowed_origins = PoolStringArray(["https://ok.example", "https://game.example/"])
	expect_errors_end("bad origin")
	check_eq(server.allowed_origins, PoolStringArray(), "a list with a bad origin is refused whole")
	expect_errors_begin("bad health path", "^" + literal("ERROR: WebSocketServer.set_health_check_path: "
			+ "\"/health?x=1\" holds a query"))
	server.health_check_path = "/health?x=1"
	expect_errors_end("bad health path")
	check_eq(server.health_check_path, "", "a bad health path is refused")
