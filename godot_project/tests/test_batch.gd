extends "res://tests/lib/test_case.gd"
# The batch API, ours: with batch_receive, poll() emits no data_received and get_packets()
# returns the messages as [id, packet, was_string] in arrival order; put_packets() sends many
# such entries at once, skipping (and naming) the ones it cannot send. The built-in class has
# none of it: with --builtin this test is skipped.

const PUT_PACKETS_ERROR = "ERROR: WebSocketServer.put_packets: "
const GET_PACKETS_ERROR = "ERROR: WebSocketServer.get_packets: "


func run():
	if builtin:
		yield(skip("the built-in class has no batch API"), "completed")
	yield(receive_and_send(), "completed")
	yield(without_batch_receive(), "completed")
	yield(empty_messages_received(), "completed")
	multiplayer_mode()


# Collects get_packets() entries, polling, until `count` have come (or the wait times out).
var _collected := []


func collect(server, count: int) -> Array:
	_collected = []
	yield(wait_until("%d batched messages" % count, self, "_collect_more", [server, count]), "completed")
	return _collected


func _collect_more(server, count: int) -> bool:
	_collected += server.get_packets()
	return _collected.size() >= count


func receive_and_send():
	var server = make_server()
	check_eq(server.batch_receive, false, "batch_receive is off by default")
	server.batch_receive = true
	check_eq(server.batch_receive, true, "batch_receive set")
	check_eq(server.listen(port), OK, "listen")
	expect_errors_begin("batch_receive while listening",
			literal("ERROR: WebSocketServer.set_batch_receive: cannot change while listening; call stop() first"))
	server.batch_receive = false
	expect_errors_end("batch_receive while listening")
	check_eq(server.batch_receive, true, "batch_receive unchanged while listening")
	var joined = yield(connect_clients(2, {"echo": true}), "completed")
	var clients = joined[0]
	var a = joined[1][0]
	var b = joined[1][1]
	check_eq(server.get_packets(), [], "nothing held yet")

	# Out: several entries to two peers in one call, each in its kind; back: the echoes.
	var sent = [[a, "x".to_utf8(), true], [b, PoolByteArray([1, 2, 3]), false], [a, "y".to_utf8(), true],
			[a, PoolByteArray(), true]]
	check_eq(server.put_packets(sent), OK, "put_packets to two peers")
	# The clients were started in one order and may have been announced in the other: the first
	# one's first message tells which is a.
	var first_event = yield(client_event(clients[0], "data"), "completed")
	var a_client = clients[0] if first_event[1] == "text" else clients[1]
	var b_client = clients[1] if a_client == clients[0] else clients[0]
	var a_got = [first_event] if a_client == clients[0] else []
	while a_got.size() < 3:
		a_got.append(yield(client_event(a_client, "data"), "completed"))
	var b_got = [first_event] if b_client == clients[0] else [yield(client_event(b_client, "data"), "completed")]
	check_eq(a_got, [["data", "text", "x"], ["data", "text", "y"], ["data", "text", ""]], "a got x, y and an empty text")
	check_eq(b_got, [["data", "binary", [1, 2, 3]]], "b got binary")
	# The stock client cannot send an empty message back (its put_packet drops one): three echoes.
	var got = yield(collect(server, 3), "completed")
	check_eq(got.size(), 3, "three echoes held")
	var from_a = []
	var from_b = []
	for entry in got:
		check(entry is Array and entry.size() == 3, "an entry is [id, packet, was_string]: %s" % str(entry))
		check(typeof(entry[0]) == TYPE_INT and typeof(entry[1]) == TYPE_RAW_ARRAY and typeof(entry[2]) == TYPE_BOOL,
				"entry types: int, PoolByteArray, bool")
		if entry[0] == a:
			from_a.append([entry[1].get_string_from_utf8(), entry[2]])
		else:
			check_eq(entry[0], b, "an entry from b")
			from_b.append([Array(entry[1]), entry[2]])
	check_eq(from_a, [["x", true], ["y", true]], "a's echoes in order, text")
	check_eq(from_b, [[[1, 2, 3], false]], "b's echo, binary")
	check(not _find_event("data_received"), "no data_received with batch_receive")
	check_eq(server.get_peer(a).get_available_packet_count(), 0, "the peer holds none: get_packets() has them")
	check_eq(server.get_packets(), [], "taken once")

	# Arrival order across peers: what b sends after a's messages were delivered comes after them.
	send_cmd(server, a, ["send_many", 3, "a"])
	var first = yield(collect(server, 3), "completed")
	send_cmd(server, b, ["send_many", 2, "b"])
	var second = yield(collect(server, 2), "completed")
	var texts = []
	for entry in first + second:
		texts.append([entry[0], entry[1].get_string_from_utf8()])
	check_eq(texts, [[a, "a0"], [a, "a1"], [a, "a2"], [b, "b0"], [b, "b1"]], "in arrival order")

	# What get_packets() returns goes back as it came with put_packets().
	send_cmd(server, b, ["send", "binary", [9, 8]])
	got = yield(collect(server, 1), "completed")
	check_eq(server.put_packets(got), OK, "put_packets of get_packets' entries")
	check_eq(yield(client_event(b_client, "data"), "completed"), ["data", "binary", [9, 8]], "echoed back as binary")
	yield(collect(server, 1), "completed")  # its echo
	check_eq(server.put_packets([]), OK, "put_packets([]) sends nothing")

	# A peer's end still comes as a signal; what it sent before it left is still taken after.
	send_cmd(server, a, ["send", "text", "last"])
	send_cmd(server, a, ["quit"])
	var ev = yield(wait_event("client_disconnected"), "completed")
	check_eq(ev[1], a, "a left")
	check(not server.has_peer(a), "a gone")
	got = server.get_packets()
	check_eq(got.size(), 1, "a's last message, held")
	if got.size() == 1:
		check_eq([got[0][0], got[0][1].get_string_from_utf8()], [a, "last"], "a's last message after its end")

	yield(refused_entries(server, b, b_client), "completed")

	# A peer the game closes: none of its held messages reaches the game (held when they came
	# before the close, dropped as they come after it).
	send_cmd(server, b, ["send_many", 3, "unread"])
	yield(settle(0.5), "completed")
	server.disconnect_peer(b)
	check_eq(server.get_packets(), [], "none of a closed peer's messages")
	yield(wait_event("client_disconnected"), "completed")
	server.stop()
	check_eq(server.get_packets(), [], "get_packets() when not listening: empty, silently")
	expect_errors_begin("put_packets not listening", literal(PUT_PACKETS_ERROR + "the server is not listening; nothing was sent"))
	check_eq(server.put_packets([[b, PoolByteArray([1]), false]]), ERR_UNCONFIGURED, "put_packets when not listening")
	expect_errors_end("put_packets not listening")


# Malformed and refused entries are skipped, each named; the rest of the batch is sent; the
# result is the first entry's error.
func refused_entries(server, id, client):
	var entry_error = "^" + literal(PUT_PACKETS_ERROR + "entry ")
	expect_errors_begin("malformed entries", entry_error, 7)
	var code = server.put_packets(["nope", [id], ["id", PoolByteArray([1]), false], [id, "str", true], [id, PoolByteArray([1]), 1],
			[999999, PoolByteArray([1]), false], [id, PoolByteArray([255]), true], [id, "ok".to_utf8(), true]])
	expect_errors_end("malformed entries")
	check_eq(code, ERR_INVALID_PARAMETER, "the first skipped entry's error: ERR_INVALID_PARAMETER")
	check_eq(yield(client_event(client, "data"), "completed"), ["data", "text", "ok"], "the good entry went, alone")
	yield(collect(server, 1), "completed")  # its echo
	expect_errors_begin("unknown peer", literal(PUT_PACKETS_ERROR + "entry 0: no peer with id 999999"))
	check_eq(server.put_packets([[999999, PoolByteArray([1]), false]]), FAILED, "unknown peer: FAILED")
	expect_errors_end("unknown peer")
	expect_errors_begin("not UTF-8", literal(PUT_PACKETS_ERROR + "entry 0: peer %d: " % id))
	check_eq(server.put_packets([[id, PoolByteArray([255]), true]]), ERR_INVALID_PARAMETER, "text that is not UTF-8")
	expect_errors_end("not UTF-8")


func without_batch_receive():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen without batch_receive")
	var joined = yield(connect_client({"echo": true}), "completed")
	var id = joined[1]
	check_eq(server.put_packets([[id, "plain".to_utf8(), true]]), OK, "put_packets works without batch_receive")
	yield(wait_event("data_received"), "completed")
	check_eq(server.get_peer(id).get_packet().get_string_from_utf8(), "plain", "the echo came with data_received")
	expect_errors_begin("get_packets without batch_receive", literal(GET_PACKETS_ERROR + "batch_receive is off"))
	check_eq(server.get_packets(), [], "get_packets() without batch_receive")
	expect_errors_end("get_packets without batch_receive")
	server.stop()


# Empty text and binary messages from a client (a stock WebSocketClient cannot send one: a raw
# one writes the frames) come out of get_packets() as empty PoolByteArrays, each in its kind,
# in order with the others; without batch_receive, get_packet() returns them the same way.
func empty_messages_received():
	for batch in [true, false]:
		var server = make_server()
		server.batch_receive = batch
		check_eq(server.listen(port), OK, "listen (batch_receive %s)" % batch)
		var tcp = yield(raw_connect(), "completed")
		tcp.put_data(upgrade_request())
		var id = yield(wait_event("client_connected"), "completed")[1]
		# Masked (key 0) frames: empty text, empty binary, then "z" as text.
		tcp.put_data(PoolByteArray([0x81, 0x80, 0, 0, 0, 0, 0x82, 0x80, 0, 0, 0, 0,
				0x81, 0x81, 0, 0, 0, 0, ord("z")]))
		var got := []
		if batch:
			got = yield(collect(server, 3), "completed")
		else:
			var peer = server.get_peer(id)
			for i in 3:
				yield(wait_event("data_received"), "completed")
				var packet = peer.get_packet()
				got.append([id, packet, peer.was_string_packet()])
		check_eq(got, [[id, PoolByteArray(), true], [id, PoolByteArray(), false], [id, "z".to_utf8(), true]],
				"empty messages received (batch_receive %s)" % batch)
		server.stop()
		forget(server)


func multiplayer_mode():
	var server = make_server()
	server.batch_receive = true
	expect_begin("batch_receive in multiplayer mode",
			{"warning": ["^" + literal("WARNING: WebSocketServer.listen: batch_receive has no effect in multiplayer mode"), 1]})
	check_eq(server.listen(port, PoolStringArray(), true), OK, "listen in multiplayer mode")
	expect_errors_end("batch_receive in multiplayer mode")
	expect_errors_begin("get_packets in multiplayer mode", literal(GET_PACKETS_ERROR + "batch_receive has no effect in multiplayer mode"))
	check_eq(server.get_packets(), [], "get_packets() in multiplayer mode")
	expect_errors_end("get_packets in multiplayer mode")
	server.stop()
