extends "res://tests/lib/test_case.gd"
# The HTTP upgrade seen from a raw TCP socket: a connection that never finishes its handshake is
# dropped after handshake_timeout (stock 3.2.3: a fixed 1 s), and a request that is not a WebSocket
# upgrade is refused (ours answers HTTP 400 first). Neither emits a server signal.


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
		expect_begin("protocol mismatch", {"warning": [refused("no common subprotocol: the client offered [\"nope\"], the server accepts []"), 1]})
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

	# A good handshake after all that still works.
	var client = spawn_client()
	var ev = yield(next_event(), "completed")
	check_eq(ev[0], "client_connected", "the first server signal is the good client's")
	yield(client_event(client, "connected"), "completed")
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")


# Ours: the warning poll() prints for a refused connection from this test (127.0.0.1).
func refused(cause: String) -> String:
	return "^" + literal("WARNING: WebSocketServer.poll: connection from 127.0.0.1:") + "[0-9]+" + literal(" refused: " + cause) + "$"
