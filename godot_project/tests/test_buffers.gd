extends "res://tests/lib/test_case.gd"
# Buffers and limits (set_buffers): a message bigger than the input buffer closes the connection
# with 1009; ours never drops complete messages when the game reads slowly (TCP backpressure);
# ours refuses a put_packet past the output limit with ERR_OUT_OF_MEMORY.


func run():
	var server = make_server()
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

	if not builtin:
		# Slow reader: 12 messages with room for 4. Stock drops what does not fit (and still emits
		# data_received); ours stops reading the socket until the game reads, and loses nothing.
		send_cmd(server, id, ["send_many", 12, "m"])
		var got := []
		var end = OS.get_ticks_msec() + 5000
		while got.size() < 12 and OS.get_ticks_msec() < end:
			yield(wait_event("data_received"), "completed")
			yield(settle(0.1), "completed")  # let the queue fill up before reading
			check(peer.get_available_packet_count() <= 4, "never more than 4 messages queued")
			while peer.get_available_packet_count() > 0:
				got.append(peer.get_packet().get_string_from_utf8())
		var want := []
		for i in 12:
			want.append("m%d" % i)
		check_eq(got, want, "all 12 messages, in order, through a 4-message queue")
		events.clear()

		# Outbound: a message bigger than the 1 KiB output limit is refused, the connection stays.
		var big := PoolByteArray()
		big.resize(2048)
		peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
		expect_errors_begin("put_packet past the output limit")
		check_eq(peer.put_packet(big), ERR_OUT_OF_MEMORY, "put_packet past the output limit")
		expect_errors_end("put_packet past the output limit", 0)
		check(peer.is_connected_to_host(), "still connected after the refused put_packet")
		peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
		check_eq(peer.put_packet("small".to_utf8()), OK, "a small put_packet still works")
		check_eq(yield(client_event(client, "data"), "completed"), ["data", "text", "small"], "client gets the small one")

	# A message bigger than the input buffer: close 1009 (Message Too Big).
	send_cmd(server, id, ["send_big", 5000])
	ev = yield(client_event(client, "server_close_request"), "completed")
	check_eq(ev[1], 1009, "close code 1009 for a message over the input buffer")
	yield(client_event(client, "closed"), "completed")
	if builtin:
		# Stock 3.2.3 never reports this peer gone (observed: no client_disconnected at all).
		yield(settle(0.5), "completed")
		events.clear()
	else:
		ev = yield(wait_event("client_disconnected"), "completed")
		check_eq(ev[1], id, "client_disconnected after 1009")
		check(not server.has_peer(id), "peer gone after 1009")
	check(not _find_event("data_received"), "no data_received for the oversized message")
	server.stop()


func send_cmd(server, id, cmd: Array):
	var peer = server.get_peer(id)
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	peer.put_packet(("!cmd " + to_json(cmd)).to_utf8())
