extends "res://tests/lib/test_case.gd"
# heartbeat_interval (ours: Godot 4's property; the built-in class of Godot 3 has none): the
# default 0 is off; negative, NaN, too short and too long values print an error and are ignored,
# and so is a change while listening (the value applies from the next listen()). At 1 s a stock WebSocketClient (it answers the pings) stays
# connected past many intervals, while a raw client that never reads nor answers is dropped:
# client_disconnected(id, false) and one warning naming the peer.

# 1 s rather than the shortest (0.25 s): a loaded CI machine may stall a client for half a second.
const INTERVAL = 1.0
const SETTER = "ERROR: WebSocketServer.set_heartbeat_interval: "


func run():
	var server = make_server()
	# get() and set(): the built-in class has no such property.
	check_eq_ours(server.get("heartbeat_interval"), 0.0, "heartbeat_interval defaults to 0 (off)")
	if not builtin:
		# Each value and how the error prints it.
		for bad_case in [[-1.0, "-1"], [NAN, "NaN"], [0.1, "0.1"], [86401.0, "86401"]]:
			var bad = bad_case[0]
			expect_errors_begin("heartbeat_interval = %s" % bad, "^" + literal(SETTER
					+ "%s is not 0 (off) or a number of seconds from 0.25 to 86400" % bad_case[1]) + "$")
			server.heartbeat_interval = bad
			expect_errors_end("heartbeat_interval = %s" % bad)
			check_eq(server.heartbeat_interval, 0.0, "%s is refused, the value stays" % bad_case[1])
	server.set("heartbeat_interval", INTERVAL)
	check_eq_ours(server.get("heartbeat_interval"), INTERVAL, "heartbeat_interval is set")
	check_eq(server.listen(port), OK, "listen")
	if not builtin:
		expect_errors_begin("set while listening", "^" + literal(SETTER
				+ "cannot change while listening; call stop() first") + "$")
		server.set_heartbeat_interval(1.0)
		expect_errors_end("set while listening")
		check_eq(server.get_heartbeat_interval(), INTERVAL, "unchanged while listening")

	# A stock client answers the pings: it stays, well past two intervals.
	var joined = yield(connect_client({"echo": true}), "completed")
	var client = joined[0]
	var id = joined[1]
	var joined_at = OS.get_ticks_msec()

	# A raw client that upgrades, then never reads nor answers.
	if not builtin:
		expect_begin("the heartbeat's warning", {"warning": ["^" + literal(
				"WARNING: WebSocketServer.poll: peer ") + "[0-9]+" + literal(
				" sent nothing (no data, ping or pong) for 2 heartbeat intervals of %s s; disconnecting" % str(INTERVAL))
				+ "$", 1]})
	var raw = yield(raw_connect(), "completed")
	raw.put_data(upgrade_request())
	var ev = yield(wait_event("client_connected"), "completed")
	var silent_id = ev[1]
	var dropped = yield(wait_for(self, "_find_event", ["client_disconnected"], 12 * INTERVAL), "completed")
	check_ours(dropped, "the silent raw client is dropped")
	if dropped:
		ev = yield(wait_event("client_disconnected"), "completed")
		check_eq(ev, ["client_disconnected", silent_id, false], "uncleanly")
	if not builtin:
		yield(expect_end("the heartbeat's warning"), "completed")

	# Meanwhile the stock client stayed; it still echoes after eight intervals (only an
	# absence to check: the time has to pass).
	yield(settle(8 * INTERVAL - (OS.get_ticks_msec() - joined_at) / 1000.0), "completed")
	check(server.has_peer(id), "the answering client stays")
	server.get_peer(id).put_packet("still here".to_utf8())
	ev = yield(wait_event("data_received"), "completed")
	check_eq(ev[1], id, "its echo comes back")
	check_eq(server.get_peer(id).get_packet().get_string_from_utf8(), "still here", "the echo")
	check(not _find_event("client_disconnected"), "and nobody else left")

	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["data", "server_close_request"]), "completed")

	# Stopped, it may change again: the next listen() takes it.
	server.set("heartbeat_interval", 0.0)
	check_eq_ours(server.get("heartbeat_interval"), 0.0, "set again once stopped")
