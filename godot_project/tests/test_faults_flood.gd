extends "res://tests/lib/test_case.gd"
# One hostile client must not grow the game: floods from a client process (flood_client.py, a raw
# socket with a 4 KiB receive buffer that never reads) while a stock client keeps its echo.
#
# - Ping flood: 200,000 masked pings of 125 bytes. Each wants a pong the client never reads; ours
#   keeps only the latest one (RFC 6455 5.5.3) in a bounded write buffer, so the process's
#   resident memory stays within a peer's documented bound. The built-in server queues every
#   pong: the test stops its flood once the bound is passed (it is known to grow by gigabytes).
# - Message flood while the game does not read that peer: 20,000 messages of 1,000 bytes. Ours
#   stops reading the socket at the unread limit (64 KiB), so the flooder is paused by TCP
#   backpressure, memory stays within the bound, and once the game reads every message arrives,
#   in order. The built-in server drops what does not fit.
#
# The bound: what docs/reliability.md ("Memory per peer") gives one peer at the default limits,
# twice (the bystander too), plus SLACK_KB for the allocator and Godot around it.

const PINGS = 200000
const MESSAGES = 20000
const MESSAGE_SIZE = 1000
# At the default limits: unread input 64 KiB, a message held for room 64 KiB, a message being
# assembled from fragments 64 KiB and a frame being read 64 KiB, the read buffer 4 KiB and the
# read-ahead 64 KiB, queued output 64 KiB, tungstenite's write buffer 81 KiB (16 KiB + the
# largest packet + 1 KiB for a pong or a close), and the bookkeeping of 1,024 unread and 1,024
# queued messages (about 100 bytes each).
const PEER_BOUND_KB = 64 + 64 + 64 + 64 + 4 + 64 + 64 + 81 + 200
const SLACK_KB = 4096
const BOUND_KB = 2 * PEER_BOUND_KB + SLACK_KB
const FLOOD_CLIENT = "res://tests/lib/flood_client.py"

var _base_rss_kb := 0
var _peak_rss_kb := 0


func run():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	var joined = yield(connect_client({"echo": true}), "completed")
	var bystander = joined[0]
	var bystander_id: int = joined[1]
	yield(ping_flood(server, bystander, bystander_id), "completed")
	yield(message_flood(server, bystander, bystander_id), "completed")
	server.stop()


func ping_flood(server, bystander, bystander_id: int):
	yield(echo(server, bystander, bystander_id, "before the ping flood"), "completed")
	var joined = yield(start_flood(server, ["--mode=ping", "--count=%d" % PINGS]), "completed")
	var flooder = joined[0]
	var id: int = joined[1]
	# Once its text message is in, the server has read every ping before it.
	var done = yield(wait_for(self, "_flood_read_or_over_bound", [server, id, flooder], 60.0), "completed")
	print("RELIABILITY flood_bound_kb=%d" % BOUND_KB)
	print("RELIABILITY flood_ping_rss_growth_kb=%d" % (_peak_rss_kb - _base_rss_kb))
	check_ours(_peak_rss_kb - _base_rss_kb <= BOUND_KB,
			"%d pings never read grew the process by %d KiB (bound %d KiB)" % [PINGS, _peak_rss_kb - _base_rss_kb, BOUND_KB])
	var over = _peak_rss_kb - _base_rss_kb > BOUND_KB
	if not over:  # the built-in's flood was cut short
		check(done and _peer_got(server, id, "after the pings"), "every ping was read, then the message after them")
	check(server.has_peer(id) or builtin, "the flooder is still connected")
	yield(echo(server, bystander, bystander_id, "after the ping flood"), "completed")
	_end_flood(server, flooder, id)


func message_flood(server, bystander, bystander_id: int):
	# The built-in drops from the flooder's first frames (they may come before the test sees the
	# flooder connected) to its end (it may send on after the game stopped reading), so the region
	# spans the flooder's whole life.
	if builtin:
		expect_errors_begin("stock drops what does not fit", "^ERROR: write_packet: (Too many packets in queue! Dropping data\\.|Buffer payload full! Dropping data\\.|Method failed\\. Returning: ERR_OUT_OF_MEMORY)$")
	var joined = yield(start_flood(server, ["--mode=message", "--count=%d" % MESSAGES, "--size=%d" % MESSAGE_SIZE]), "completed")
	var flooder = joined[0]
	var id: int = joined[1]
	var peer = server.get_peer(id)
	# 65 messages of 1,000 bytes fill the 64 KiB unread limit: ours then stops reading.
	var full := 65536 / MESSAGE_SIZE
	yield(wait_until("the flooder's unread queue to fill", self, "_unread_at_least", [peer, full], 30.0), "completed")
	# The other peer keeps working meanwhile, and what waits stays at the limit.
	yield(echo(server, bystander, bystander_id, "during the message flood"), "completed")
	_sample_rss()
	check(peer.get_available_packet_count() <= full,
			"at most %d unread messages while the game does not read (got %d)" % [full, peer.get_available_packet_count()])
	print("RELIABILITY flood_message_rss_growth_kb=%d" % (_peak_rss_kb - _base_rss_kb))
	check(_peak_rss_kb - _base_rss_kb <= BOUND_KB,
			"a flood the game does not read grew the process by %d KiB (bound %d KiB)" % [_peak_rss_kb - _base_rss_kb, BOUND_KB])
	# The game reads again: every message comes, in order (the flooder was only paused).
	var next := 0
	var received := 0
	var out_of_order := 0
	while next < MESSAGES:
		if not (yield(wait_for(self, "_unread_at_least", [peer, 1], ours_or_stock(DEFAULT_TIMEOUT, 2.0)), "completed")):
			break
		while peer.get_available_packet_count() > 0:
			var data: PoolByteArray = peer.get_packet()
			var seq = (data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]
			if seq < next:
				out_of_order += 1
			next = seq + 1
			received += 1
	check_eq_ours(received, MESSAGES, "every message of the flood arrived once the game read")
	check_eq(out_of_order, 0, "the flood's messages in order (the built-in's: what it kept)")
	_end_flood(server, flooder, id)
	if builtin:
		yield(expect_end("stock drops what does not fit"), "completed")


# Starts a flood client with `args` and waits until it is a peer; returns [client, peer id].
# The memory baseline is taken first.
func start_flood(server, args: Array):
	events.clear()
	_base_rss_kb = _rss_kb()
	_peak_rss_kb = _base_rss_kb
	var flooder = ClientProc.new()
	flooder.start_program("python3", [ProjectSettings.globalize_path(FLOOD_CLIENT)], FLOOD_CLIENT,
			["--port=%d" % port] + args, 60)
	_track(flooder, FLOOD_CLIENT)
	var ev = yield(wait_event("client_connected"), "completed")
	yield(client_event(flooder, "connected"), "completed")
	return [flooder, ev[1]]


func _end_flood(server, flooder, id: int):
	if server.has_peer(id):
		server.disconnect_peer(id)
	flooder.stop()
	events.clear()


# The server sends the bystander a message and gets its echo back.
func echo(server, bystander, id: int, what: String):
	var peer = server.get_peer(id)
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	check_eq(peer.put_packet(what.to_utf8()), OK, what + ": put_packet to the bystander")
	yield(client_event(bystander, "data"), "completed")
	yield(wait_until("the bystander's echo " + what, self, "_peer_has_packet", [peer]), "completed")
	check_eq(peer.get_packet().get_string_from_utf8(), what, what + ": the bystander's echo")


func _peer_has_packet(peer) -> bool:
	return peer.get_available_packet_count() > 0


func _unread_at_least(peer, count: int) -> bool:
	_sample_rss()
	return peer.get_available_packet_count() >= count


func _peer_got(server, id: int, text: String) -> bool:
	if not server.has_peer(id):
		return false
	var peer = server.get_peer(id)
	return peer.get_available_packet_count() > 0 and peer.get_packet().get_string_from_utf8() == text


# True once the flooder's last message is in, or once memory passed the bound (then the flood
# is stopped: the built-in server would grow on).
func _flood_read_or_over_bound(server, id: int, flooder) -> bool:
	_sample_rss()
	if _peak_rss_kb - _base_rss_kb > BOUND_KB:
		OS.kill(flooder.pid)
		return true
	return server.has_peer(id) and server.get_peer(id).get_available_packet_count() > 0


func _sample_rss():
	_peak_rss_kb = max(_peak_rss_kb, _rss_kb())


# This process's resident memory (VmRSS), in KiB.
func _rss_kb() -> int:
	var f := File.new()
	if f.open("/proc/self/status", File.READ) != OK:
		return 0
	var kb := 0
	for line in f.get_as_text().split("\n"):
		if line.begins_with("VmRSS:"):
			kb = int(line.split(":")[1].strip_edges().split(" ")[0])
	f.close()
	return kb
