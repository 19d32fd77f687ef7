extends "res://tests/lib/test_case.gd"
# The HTTP upgrade seen from a raw TCP socket: a connection that never finishes its handshake is
# dropped after handshake_timeout (stock 3.2.3: a fixed 1 s), and a request that is not a WebSocket
# upgrade is refused (ours answers HTTP 400 first). Neither emits a server signal. A connection
# that closes without sending a byte (a port scan, a load balancer's check) prints nothing.
#
# Then the requests ours refuses with 400 as ambiguous or malformed, which stock reads its own
# way (the built-in run prints what it did with each, "stock: ..."): a body after the head
# (Content-Length, chunked), a second Upgrade, Sec-WebSocket-Version or Sec-WebSocket-Key header,
# a key that is not the base64 of 16 bytes, a subprotocol that is not a token; and client text
# in ours' warning is cut to 64 bytes and escaped.


func run():
	var server = make_server()
	var timeout = 1.0
	if not builtin:
		timeout = 0.5
		server.handshake_timeout = timeout
	check_eq(server.listen(port), OK, "listen")

	# Silent connection: still open a little before the timeout, closed soon after it. Ours warns,
	# naming the client's address and the cause (for the half handshake below too).
	if not builtin:
		expect_begin("handshake timeouts", {"warning": [refused("the handshake did not finish within handshake_timeout (0.5 s)"), 2]})
	var silent = yield(raw_connect(), "completed")
	var opened_at = OS.get_ticks_msec()
	yield(settle(timeout * 0.4), "completed")
	check(_is_open(silent), "a silent connection is kept before handshake_timeout")
	yield(wait_until("the silent connection to be dropped", self, "_is_closed", [silent], timeout + 3.0), "completed")
	var elapsed = (OS.get_ticks_msec() - opened_at) / 1000.0
	check(elapsed < timeout + 1.5, "dropped %.2fs after connecting (handshake_timeout %.1fs)" % [elapsed, timeout])

	# Half a handshake: same.
	var half = yield(raw_connect(), "completed")
	half.put_data("GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n".to_ascii())
	yield(wait_until("the half handshake to be dropped", self, "_is_closed", [half], timeout + 3.0), "completed")
	if not builtin:
		yield(expect_end("handshake timeouts"), "completed")

	# Not a WebSocket upgrade: closed. Stock prints an ERROR about it; ours warns with the cause.
	expect_begin("plain HTTP request", ours_or_stock(
			{"warning": [refused("invalid WebSocket handshake: WebSocket protocol error: No \"Connection: upgrade\" header"), 1]},
			{"error": ["^" + literal("ERROR: _parse_request: Not enough response headers, got: 2, expected >= 4.") + "$", 1]}))
	var plain = yield(raw_connect(), "completed")
	plain.put_data("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_ascii())
	yield(wait_until("the plain HTTP request to be refused", self, "_is_closed", [plain], timeout + 3.0), "completed")
	yield(expect_end("plain HTTP request"), "completed")

	# A valid upgrade offering a subprotocol the server does not have: refused; ours says so
	# with HTTP 400, and warns.
	if not builtin:
		expect_begin("protocol mismatch", {"warning": [refused("no common subprotocol: the client offered \"nope\", the server accepts []"), 1]})
	var mismatch = yield(raw_connect(), "completed")
	mismatch.put_data(("GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n" +
			"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: nope\r\n\r\n").to_ascii())
	yield(wait_until("the protocol mismatch to be refused", self, "_is_closed", [mismatch], timeout + 3.0), "completed")
	if not builtin:
		yield(expect_end("protocol mismatch"), "completed")
	check_ours(_received[mismatch].begins_with("HTTP/1.1 400"),
			"ours answers HTTP 400, got %s" % to_json(_received[mismatch].left(40)))
	check(not _received[mismatch].begins_with("HTTP/1.1 101"), "no 101 for a protocol mismatch")

	# Port scans and load balancers' TCP checks: connect, close (or reset) without a byte. Nothing
	# is printed (ours counts them; stock says nothing either).
	var log_before = _own_log_length()
	for i in SILENT_VISITS:
		var visit = yield(raw_connect(), "completed")
		visit.disconnect_from_host()

	# A good handshake after all that still works.
	var client = spawn_client()
	var ev = yield(next_event(), "completed")
	check_eq(ev[0], "client_connected", "the first server signal is the good client's")
	yield(client_event(client, "connected"), "completed")
	var printed = Array(_own_log().substr(log_before).split("\n"))
	check_eq(_lines_starting(printed, "WARNING:"), [],
			"%d connections that sent nothing printed no warning" % SILENT_VISITS)
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")

	yield(_strict_requests(server), "completed")


const SILENT_VISITS = 10
const UPGRADE = ("GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n" +
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\n")
# A masked text frame "hi" (mask 0): what a lax server takes from a request's body.
const FRAME = [0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]


func _strict_requests(server):
	events.clear()
	check_eq(server.listen(port), OK, "listen again")
	var long_protocol = "\u00e9" + _repeat("x", 4000)
	var long_quoted = "\"\\xc3\\xa9" + _repeat("x", 62) + "\"... (cut, 4002 bytes in all)"
	var cases = [
		# [what, the request's end, bytes after it, the cause ours warns of, the ERROR stock
		# prints or ""]
		["a body (Content-Length)", "Content-Length: 8\r\n\r\n", FRAME,
				"a GET request with a body (Content-Length: \"8\"); an upgrade has none", ""],
		["a chunked body", "Transfer-Encoding: chunked\r\n\r\n8\r\n", FRAME,
				"a GET request with a body (Transfer-Encoding: \"chunked\"); an upgrade has none", ""],
		["two Upgrade headers", "Upgrade: websocket\r\n\r\n", [],
				"the Upgrade header appears 2 times; it must be once",
				"_parse_request: Missing or invalid header 'upgrade'. Expected value 'websocket'."],
		["two Sec-WebSocket-Version headers", "Sec-WebSocket-Version: 13\r\n\r\n", [],
				"the Sec-WebSocket-Version header appears 2 times; it must be once",
				"_parse_request: Missing or invalid header 'sec-websocket-version'. Expected value '13'."],
		["two Sec-WebSocket-Key headers", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n", [],
				"the Sec-WebSocket-Key header appears 2 times; it must be once", ""],
		["a key of 5 bytes", "\r\n", [],
				"the Sec-WebSocket-Key \"c2hvcnQ=\" is not the base64 of 16 bytes", ""],
		["a subprotocol that is not a token", "Sec-WebSocket-Protocol: {\"json\"}\r\n\r\n", [],
				"the client offered a subprotocol that is not a token: \"{\\\"json\\\"}\"", ""],
		["a 4 KB subprotocol, not a token", "Sec-WebSocket-Protocol: " + long_protocol + "\r\n\r\n", [],
				"the client offered a subprotocol that is not a token: " + long_quoted,
				"do_handshake: Response headers too big."],
	]
	for c in cases:
		var head: String = UPGRADE
		if c[0] == "a key of 5 bytes":
			head = head.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")
		var request: PoolByteArray = (head + c[1]).to_utf8()
		request.append_array(PoolByteArray(c[2]))
		var stock_error: String = c[4]
		if not builtin:
			expect_begin(c[0], {"warning": [refused("invalid WebSocket handshake: " + c[3]), 1]})
		elif stock_error != "":
			expect_begin(c[0], {"error": ["^" + literal("ERROR: " + stock_error) + "$", 1]})
		var tcp = yield(raw_connect(), "completed")
		tcp.put_data(request)
		yield(wait_until(c[0] + " to be answered", self, "_is_answered", [tcp], 3.0), "completed")
		var answer: String = _received[tcp]
		check_ours(answer.begins_with("HTTP/1.1 400"), "%s: HTTP 400, got %s" % [c[0], to_json(answer.left(40))])
		tcp.disconnect_from_host()
		if builtin:
			yield(settle(0.2), "completed")
			var first_line = to_json(answer.split("\r\n")[0]) if answer != "" else "closed without an answer"
			var signals := []
			for ev in events:
				signals.append(ev[0])
			print("stock: %s: %s; signals: %s" % [c[0], first_line, PoolStringArray(signals).join(", ") if not signals.empty() else "none"])
			events.clear()
		if not builtin or stock_error != "":
			yield(expect_end(c[0]), "completed")
	server.stop()


# Reads what arrived; true once a whole response head came, or the server closed the connection.
func _is_answered(tcp: StreamPeerTCP) -> bool:
	return _is_closed(tcp) or "\r\n\r\n" in _received[tcp]


func _repeat(text: String, times: int) -> String:
	var repeated := ""
	for i in times:
		repeated += text
	return repeated


func _lines_starting(lines: Array, prefix: String) -> Array:
	var found := []
	for line in lines:
		if line.begins_with(prefix):
			found.append(line)
	return found


# Ours: the warning poll() prints for a refused connection from this test (127.0.0.1).
func refused(cause: String) -> String:
	return "^" + literal("WARNING: WebSocketServer.poll: connection from 127.0.0.1:") + "[0-9]+" + literal(" refused: " + cause) + "$"
