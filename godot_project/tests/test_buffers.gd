extends "res://tests/lib/test_case.gd"
# Buffers and limits (set_buffers): a message bigger than the input buffer closes the connection
# with 1009; ours never drops complete messages when the game reads slowly (TCP backpressure);
# a put_packet past the output limit is refused with ERR_OUT_OF_MEMORY; ours refuses buffer
# sizes over 64 MiB (each peer may make the server hold several times the input size).

const MAX_BUFFER_KB = 65536


func run():
	var server = make_server()
	# Stock takes any size (and allocates it for every peer).
	if not builtin:
		expect_errors_begin("set_buffers over the maximum", "^" + literal(
				"ERROR: WebSocketServer.set_buffers: a buffer size is over the maximum of 65536 KiB (got ")
				+ "(65537 KiB, 4 packets in; 1 KiB|1 KiB, 4 packets in; 1099511627776 KiB)"
				+ literal(", 4 packets out): each peer may make the server hold several times the input size") + "$", 2)
	check_eq_ours(server.set_buffers(MAX_BUFFER_KB + 1, 4, 1, 4), ERR_INVALID_PARAMETER, "set_buffers over 64 MiB in")
	check_eq_ours(server.set_buffers(1, 4, 1 << 40, 4), ERR_INVALID_PARAMETER, "set_buffers over 64 MiB out")
	if not builtin:
		expect_errors_end("set_buffers over the maximum")
	check_eq(server.set_buffers(MAX_BUFFER_KB, 4, MAX_BUFFER_KB, 4), OK, "set_buffers at 64 MiB")
	# 1 KiB and 4 messages each way.
	check_eq(server.set_buffers(1, 4, 1, 4), OK, "set_buffers")
	check_eq(server.listen(port), OK, "listen")
	var joined = yield(connect_client(), "completed")
	var client = joined[0]
	var id: int = joined[1]
	var ev
	var peer = server.get_peer(id)

	# A message that fits.
	send_cmd(server, id, ["send_big", 1000])
	yield(wait_event("data_received"), "completed")
	check_eq(peer.get_packet().size(), 1000, "a 1000-byte message fits in 1 KiB")

	# Slow reader: 12 messages with room for 4. Ours stops reading the socket while the queue is
	# full, until the game reads, and loses nothing; stock drops what does not fit (and still
	# emits data_received). Each round waits until the queue holds what it can (4, or what is
	# left), then reads it all.
	if builtin:
		expect_errors_begin("stock drops what does not fit", "^ERROR: write_packet: (Too many packets in queue! Dropping data\\.|Method failed\\. Returning: ERR_OUT_OF_MEMORY)$")
	send_cmd(server, id, ["send_many", 12, "m"])
	var got := []
	var most := 0
	while got.size() < 12:
		var room = min(4, 12 - got.size())
		if not (yield(wait_for(self, "_queued", [peer, room], ours_or_stock(DEFAULT_TIMEOUT, 2.0)), "completed")):
			break  # stock: what was dropped never comes
		most = max(most, peer.get_available_packet_count())
		while peer.get_available_packet_count() > 0:
			got.append(peer.get_packet().get_string_from_utf8())
	var want := []
	for i in 12:
		want.append("m%d" % i)
	check_eq_ours(got, want, "all 12 messages, in order, through a 4-message queue")
	check(most <= 4, "never more than 4 messages queued (most: %d)" % most)
	if builtin:
		yield(expect_end("stock drops what does not fit"), "completed")
	events.clear()

	# Outbound: a message bigger than the 1 KiB output limit is refused with ERR_OUT_OF_MEMORY
	# and an error naming the call, the peer and the sizes; the connection stays.
	var big := PoolByteArray()
	big.resize(2048)
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
	# Stock 3.2.3 returns OK and sends it (2048 bytes of its own memory past the buffer, seen).
	if not builtin:
		expect_errors_begin("put_packet past the output limit",
				"^" + literal("ERROR: WebSocketPeer.put_packet: peer %d: the outbound queue is full (0 bytes in 0 packets queued, 2048 more bytes do not fit); raise the limit with set_buffers()" % id) + "$")
	check_eq_ours(peer.put_packet(big), ERR_OUT_OF_MEMORY, "put_packet past the output limit")
	if not builtin:
		expect_errors_end("put_packet past the output limit")
	else:
		yield(client_event(client, "data"), "completed")  # what stock sent
	check(peer.is_connected_to_host(), "still connected after the refused put_packet")
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	check_eq(peer.put_packet("small".to_utf8()), OK, "a small put_packet still works")
	check_eq(yield(client_event(client, "data"), "completed"), ["data", "text", "small"], "client gets the small one")

	# A message bigger than the input buffer: close 1009 (Message Too Big); ours warns, naming
	# the peer, the size and the limit.
	if not builtin:
		expect_begin("a message over the input limit", {"warning": ["^" + literal(
				"WARNING: WebSocketServer.poll: peer %d sent a message of 5000 bytes, over the 1024-byte input limit; closing with 1009" % id) + "$", 1]})
	send_cmd(server, id, ["send_big", 5000])
	ev = yield(client_event(client, "server_close_request"), "completed")
	check_eq(ev[1], 1009, "close code 1009 for a message over the input buffer")
	yield(client_event(client, "closed"), "completed")
	# Stock 3.2.3 never reports this peer gone (observed: no client_disconnected at all).
	var gone = yield(wait_for(self, "_find_event", ["client_disconnected"], ours_or_stock(DEFAULT_TIMEOUT, 2.0)), "completed")
	check_ours(gone, "client_disconnected after 1009")
	if gone:
		ev = yield(wait_event("client_disconnected"), "completed")
		check_eq(ev[1], id, "client_disconnected after 1009 names the peer")
	check_ours(not server.has_peer(id), "peer gone after 1009")
	if not builtin:
		yield(expect_end("a message over the input limit"), "completed")
	check(not _find_event("data_received"), "no data_received for the oversized message")
	server.stop()


func _queued(peer, count: int) -> bool:
	return peer.get_available_packet_count() >= count
