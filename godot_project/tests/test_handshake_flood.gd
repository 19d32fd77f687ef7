extends "res://tests/lib/test_case.gd"
# A flood of refused handshakes while the game does not poll (a loading screen): thousands of
# raw TCP clients send a request that is not HTTP. Ours keeps at most WAITING warnings for the
# game and counts the rest; the first poll() prints those and one line with the count of the
# others (every refusal printed or counted), the process's memory stays put, and a stock client
# that connected meanwhile is there. A flood while the game polls prints at most a burst and a
# rate (the engine's tests/hostile.rs and warnings.rs check that arithmetic).

const FLOOD = 2000
const AT_ONCE = 50
const FLOOD_SECONDS = 25.0
# WarningBudget::DEFAULT in rust/engine/src/runtime/warnings.rs.
const WAITING = 32
const NOTICE = " more warnings and refused connections were not printed"
const REFUSED = "WARNING: WebSocketServer.poll: connection from 127.0.0.1:"
# Heap the flood may leave behind in this process: the waiting warnings are a few KiB; the rest
# is the allocator's own and the runtime's buffers.
const RSS_SLACK_KIB = 8 * 1024


func run():
	if builtin:
		# Stock accepts only inside poll(): while the game does not poll, the flood waits in the
		# kernel's backlog (8 connections) and nothing reaches the server.
		return skip("the built-in server accepts no connection while the game does not poll")
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	forget(server)  # The game stops polling.
	var rss_before = _rss_kib()
	var client = spawn_client()
	var flood_started = OS.get_ticks_msec()
	var refused = yield(_flood(), "completed")
	check_eq(refused, FLOOD, "every flooding client was answered while the game did not poll")
	var flood_ms = OS.get_ticks_msec() - flood_started
	yield(client_event(client, "connected"), "completed")
	var rss_after = _rss_kib()

	# The first poll() after the flood.
	expect_begin("the first poll after the flood", {"warning": ["^WARNING: WebSocketServer\\.poll: ", 2]})
	var log_before = _own_log_length()
	server.poll()
	yield(expect_end("the first poll after the flood"), "completed")
	var printed := []
	for line in _own_log().substr(log_before).split("\n"):
		if line.begins_with("WARNING:"):
			printed.append(line)
	var warnings := 0
	var suppressed := -1
	for line in printed:
		if line.begins_with(REFUSED):
			warnings += 1
		elif NOTICE in line:
			suppressed = int(line.split(": ", true, 2)[2].split(" ")[0])
	check(printed.size() <= WAITING + 1, "the first poll printed %d lines, at most %d warnings and the count of the rest" % [printed.size(), WAITING])
	check(suppressed > 0, "the first poll printed the count of the warnings held back: " + to_json(printed.back() if not printed.empty() else ""))
	check_eq(warnings + suppressed, FLOOD, "every refusal was printed or counted")
	var connected := 0
	for ev in events:
		if ev[0] == "client_connected":
			connected += 1
	check_eq(connected, 1, "the client that connected during the flood is there")
	check(rss_after - rss_before < RSS_SLACK_KIB, "the process grew by %d KiB during the flood" % (rss_after - rss_before))
	var numbers = {"refusals": FLOOD, "flood_ms": flood_ms, "lines": printed.size(), "warnings": warnings,
			"suppressed": suppressed, "rss_kib_before": rss_before, "rss_kib_after": rss_after}
	for key in numbers:
		print("RELIABILITY godot_warning_flood_%s=%d" % [key, numbers[key]])
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")


# Runs FLOOD raw TCP clients, AT_ONCE at a time, each sending a request that is not HTTP and
# waiting for the server's answer and close. Returns how many were answered, within FLOOD_SECONDS.
func _flood():
	var end = OS.get_ticks_msec() + int(FLOOD_SECONDS * 1000)
	var started := 0
	var answered := 0
	var open := []  # [StreamPeerTCP, sent]
	while answered < FLOOD and OS.get_ticks_msec() < end:
		while open.size() < AT_ONCE and started < FLOOD:
			var tcp := StreamPeerTCP.new()
			if tcp.connect_to_host("127.0.0.1", port) != OK:
				check(false, "raw connect_to_host")
				break
			open.append([tcp, false])
			started += 1
		yield(_frame(), "completed")
		var still := []
		for visit in open:
			var tcp: StreamPeerTCP = visit[0]
			var status = tcp.get_status()
			if status == StreamPeerTCP.STATUS_CONNECTED and not visit[1]:
				tcp.put_data("HELLO\r\n\r\n".to_ascii())
				visit[1] = true
			elif visit[1] and _closed_by_server(tcp):
				tcp.disconnect_from_host()
				answered += 1
				continue
			elif status == StreamPeerTCP.STATUS_ERROR:
				check(false, "a flooding client failed to connect")
				continue
			still.append(visit)
		open = still
	for visit in open:
		visit[0].disconnect_from_host()
	return answered


# Reads what arrived; true once the server closed the connection.
func _closed_by_server(tcp: StreamPeerTCP) -> bool:
	if tcp.get_status() != StreamPeerTCP.STATUS_CONNECTED:
		return true
	var res = tcp.get_partial_data(4096)
	return res[0] != OK or tcp.get_status() != StreamPeerTCP.STATUS_CONNECTED


func _rss_kib() -> int:
	var f := File.new()
	if f.open("/proc/self/status", File.READ) != OK:
		return 0
	var text = f.get_as_text()
	f.close()
	for line in text.split("\n"):
		if line.begins_with("VmRSS:"):
			return int(line.split(":")[1].strip_edges().split(" ")[0])
	return 0
