extends "res://tests/lib/mp_case.gd"
# Verification before the upgrade (ours: the built-in class has no verify_clients and lets every
# client in). GDScript checks a token in the query string (/play?token=...) in
# client_verify_request: a stock WebSocketClient with the right token is accepted and connected
# as the id the request named; a wrong token is refused with 403 and the body the game gave (a
# raw client reads them, a stock client fails to connect) and the game hears nothing more of
# it; a request answered in a later frame waits meanwhile; bad answers are Errors with a
# message; no answer within handshake_timeout is a 503 and a warning. Then in multiplayer mode:
# the accepted client joins as the id the request named, a held one is no peer (the others hear
# of it only after the accept), a refused one never joins.

const TOKEN = "let-me-in"

var requests := []  # [id, path, headers] of each client_verify_request
var answers := []  # what the handler's accept_client/reject_client returned
var _taken := 0


func run():
	server = make_server()
	# get() and set(): the built-in class has no such property.
	check_eq_ours(server.get("verify_clients"), false, "verify_clients defaults to false")
	server.set("verify_clients", true)
	check_eq_ours(server.get("verify_clients"), true, "verify_clients is set before listen()")
	if not builtin:
		server.connect("client_verify_request", self, "_on_verify_request")
	check_eq(server.listen(port), OK, "listen")

	var good = spawn_client({"path": "/play?token=" + TOKEN, "echo": true})
	var request = yield(next_request(), "completed")
	check_ours(request != null, "the right token's request is held for the game")
	var ev = yield(wait_event("client_connected"), "completed")
	yield(client_event(good, "connected"), "completed")
	var raw = yield(raw_connect(), "completed")
	raw.put_data(upgrade_request("/play?token=wrong", "X-Player: ada\r\n"))
	yield(wait_for(self, "_is_closed", [raw], 3.0), "completed")
	var answer: String = _received[raw]
	check_ours(answer.begins_with("HTTP/1.1 403 Forbidden\r\n"),
			"a wrong token reads HTTP 403, got %s" % to_json(answer.left(40)))
	if builtin:
		return
	var id = request[0]
	check_eq(ev[1], id, "client_connected names the id the request named")
	check_eq(request[1], "/play?token=" + TOKEN, "the request's path, with its query")
	check_eq(request[2].get("host"), "127.0.0.1:%d" % port, "the headers, by lower-case name")
	check(answer.ends_with("\r\n\r\nwrong token\n"), "the body is the reason: %s" % to_json(answer))
	request = yield(next_request(), "completed")
	check_eq(request[2].get("x-player"), "ada", "a raw client's own header")
	check_eq(answers, [OK, OK], "accept_client and reject_client returned OK")
	expect_errors_begin("answering twice", "^" + literal(
			"ERROR: WebSocketServer.accept_client: no client waits for verification as id %d (unknown id, answered already, or the client left or ran out of handshake_timeout)" % id) + "$")
	check_eq(server.accept_client(id), ERR_DOES_NOT_EXIST, "a second answer is refused")
	expect_errors_end("answering twice")

	# A stock client with a wrong token fails to connect; the game hears nothing of it.
	expect_begin("the refused stock client", {"error": [REFUSED_CLIENT_ERROR, 1]})
	var bad = spawn_client({"path": "/play?token=nope"})
	yield(client_find(bad, "connection_error"), "completed")
	yield(expect_end("the refused stock client"), "completed")
	yield(next_request(), "completed")
	check(not _find_event("client_connected"), "no client_connected for a refused client")

	# Answered frames later, with a bad status and reason first.
	raw = yield(raw_connect(), "completed")
	raw.put_data(upgrade_request("/play?token=hold", "X-Player: ada\r\n"))
	request = yield(next_request(), "completed")
	yield(settle(0.2), "completed")
	check(_is_open(raw), "a held client waits, its connection open")
	id = request[0]
	expect_errors_begin("bad answers", "^" + literal("ERROR: WebSocketServer.reject_client: client %d: " % id)
			+ "(status 200 is not an HTTP error status \\(400-599\\)|the reason has 2000 bytes, at most 1024 are allowed)$", 2)
	check_eq(server.reject_client(id, 200), ERR_INVALID_PARAMETER, "status 200 is refused")
	check_eq(server.reject_client(id, 401, _repeat("x", 2000)), ERR_INVALID_PARAMETER, "a long reason is refused")
	expect_errors_end("bad answers")
	check_eq(server.reject_client(id, 401, "expired"), OK, "the request still waits for its answer")
	yield(wait_for(self, "_is_closed", [raw], 3.0), "completed")
	answer = _received[raw]
	check(answer.begins_with("HTTP/1.1 401 Unauthorized\r\n") and answer.ends_with("\r\n\r\nexpired\n"),
			"the client reads the later answer: %s" % to_json(answer))

	# No answer within handshake_timeout: 503 and a warning.
	server.stop()
	server.handshake_timeout = 1.0
	check_eq(server.listen(port), OK, "listen again")
	expect_begin("the timeout", {"warning": ["^" + literal("WARNING: WebSocketServer.poll: connection from 127.0.0.1:")
			+ "[0-9]+" + literal(" refused: the game did not answer client_verify_request within handshake_timeout (1.0 s); the client got 503") + "$", 1]})
	raw = yield(raw_connect(), "completed")
	raw.put_data(upgrade_request("/play?token=hold", "X-Player: ada\r\n"))
	request = yield(next_request(), "completed")
	yield(wait_for(self, "_is_closed", [raw], 3.0), "completed")
	yield(expect_end("the timeout"), "completed")
	check(_received[raw].begins_with("HTTP/1.1 503 Service Unavailable\r\n"), "a 503 at the timeout")
	server.stop()
	expect_errors_begin("answering when not listening", "^" + literal(
			"ERROR: WebSocketServer.accept_client: no client waits for verification as id %d (the server is not listening)" % request[0]) + "$")
	check_eq(server.accept_client(request[0]), ERR_DOES_NOT_EXIST, "no answer when not listening")
	expect_errors_end("answering when not listening")
	forget(server)

	yield(run_multiplayer(), "completed")


# The same in multiplayer mode, the server as the tree's network peer.
func run_multiplayer():
	if not start_mp_server({"verify_clients": true}):
		return
	server.connect("client_verify_request", self, "_on_verify_request")
	var first = spawn_client({"multiplayer": true, "path": "/play?token=" + TOKEN})
	var request = yield(next_request(), "completed")
	var ev = yield(wait_event("peer_connected"), "completed")
	check_eq(ev[1], request[0], "peer_connected names the id the request named")
	ev = yield(client_find(first, "connection_succeeded"), "completed")
	check_eq(ev[1], request[0], "the client's unique id is the request's")
	ev = yield(client_find(first, "peer_connected"), "completed")
	check_eq(ev[1], 1, "the first client knows the server")

	var second = spawn_client({"multiplayer": true, "path": "/play?token=hold"})
	request = yield(next_request(), "completed")
	var held = request[0]
	yield(settle(0.3), "completed")
	check(not server.has_peer(held), "a held client is no peer")
	check(not held in multiplayer.get_network_connected_peers(), "nor in MultiplayerAPI's list")
	check(not first.has_named("peer_connected"), "the first client hears of no join while it is held")
	check_eq(server.accept_client(held), OK, "accepted in a later frame")
	ev = yield(wait_event("peer_connected"), "completed")
	check_eq(ev[1], held, "then it joins")
	ev = yield(client_find(first, "peer_connected"), "completed")
	check_eq(ev[1], held, "and the first client hears of it")
	ev = yield(client_find(second, "connection_succeeded"), "completed")
	check_eq(ev[1], held, "as the id the request named")
	check(held in multiplayer.get_network_connected_peers(), "and MultiplayerAPI lists it")

	expect_begin("the refused multiplayer client", {"error": [REFUSED_CLIENT_ERROR, 1]})
	var refused = spawn_client({"multiplayer": true, "path": "/play?token=nope"})
	yield(client_find(refused, "connection_failed"), "completed")
	yield(expect_end("the refused multiplayer client"), "completed")
	yield(settle(0.2), "completed")
	check(not _find_event("peer_connected"), "a refused client never joins")
	check(not first.has_named("peer_connected"), "nor do the others hear of it")
	yield(stop_server_and_clients(), "completed")


# The game's check: the right token is let in, "hold" is answered later by the test, anything
# else is refused.
func _on_verify_request(id, path, headers):
	requests.append([id, path, headers])
	var token = query_value(path, "token")
	if token == TOKEN:
		answers.append(server.accept_client(id))
	elif token != "hold":
		answers.append(server.reject_client(id, 403, "wrong token"))


func query_value(path: String, key: String) -> String:
	var parts = path.split("?", true, 1)
	if parts.size() < 2:
		return ""
	for pair in parts[1].split("&"):
		var kv = pair.split("=", true, 1)
		if kv.size() == 2 and kv[0] == key:
			return kv[1].percent_decode()
	return ""


# The next client_verify_request not yet taken; null when none comes (on the built-in server).
func next_request():
	if not (yield(wait_for(self, "_has_request", [], 3.0), "completed")):
		return null
	_taken += 1
	return requests[_taken - 1]


func _has_request() -> bool:
	return requests.size() > _taken


func _repeat(text: String, count: int) -> String:
	var out := ""
	for i in count:
		out += text
	return out
