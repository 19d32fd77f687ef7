extends "res://tests/lib/test_case.gd"
# The game stops calling poll() for seconds while stock clients (other processes) send far more
# than a peer's unread limit holds (1024 messages, set_buffers' default): nothing is lost and
# everything arrives in order once polling resumes. The network threads stop reading a peer at
# its limit (TCP backpressure) instead of dropping, so what waits for the game is bounded
# (tests/faults.rs measures that bound and the memory).

const CLIENTS = 3
const MESSAGES = 3000
const PAUSE_SECONDS = 2.0
const UNREAD_LIMIT = 1024  # set_buffers' default


func run():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	var joined = yield(connect_clients(CLIENTS), "completed")
	var clients: Array = joined[0]
	var ids: Array = joined[1]

	# Stop polling, then have every client send its messages. Stock drops what does not fit in
	# its buffer, with an ERROR line each time.
	if builtin:
		expect_errors_begin("stock drops what does not fit", "^ERROR: write_packet: (Too many packets in queue! Dropping data\\.|Method failed\\. Returning: ERR_OUT_OF_MEMORY)$")
	forget(server)
	for i in CLIENTS:
		var peer = server.get_peer(ids[i])
		peer.put_packet(("!cmd " + to_json(["send_many", MESSAGES, "c%d-" % i])).to_utf8())
	yield(settle(PAUSE_SECONDS), "completed")

	# The first poll() after the pause: what came in while the game did not poll is there at once,
	# and no more than a peer's unread limit (1024 messages) of it (ours; the rest waits in TCP).
	server.poll()
	var waiting := []
	for id in ids:
		waiting.append(server.get_peer(id).get_available_packet_count())
	check_eq_ours(waiting, [UNREAD_LIMIT, UNREAD_LIMIT, UNREAD_LIMIT],
			"each peer's unread queue is full (1024) at the first poll() after the pause")

	# Poll again: every message, in order per client.
	_pollables.append(server)
	var next := {}
	var prefix_of := {}
	var received := 0
	var bad := []
	while received < CLIENTS * MESSAGES:
		# Stock drops what does not fit: the rest never comes.
		if not (yield(wait_for(self, "_has_events", [], ours_or_stock(DEFAULT_TIMEOUT, 2.0)), "completed")):
			break
		for ev in events:
			if ev[0] != "data_received":
				bad.append(ev)
		events.clear()  # data_received only: the queues are read below
		for id in ids:
			var peer = server.get_peer(id)
			while peer.get_available_packet_count() > 0:
				var text: String = peer.get_packet().get_string_from_utf8()
				var dash = text.find("-")
				var prefix = text.substr(0, dash)
				var seq = int(text.substr(dash + 1))
				if not prefix_of.has(id):
					prefix_of[id] = prefix
					next[id] = 0
				if prefix != prefix_of[id] or seq != next[id]:
					bad.append([id, text, next[id]])
				next[id] = seq + 1
				received += 1
	if builtin:
		yield(expect_end("stock drops what does not fit"), "completed")
	check_eq(bad, [], "messages out of order or from the wrong client")
	check_eq_ours(received, CLIENTS * MESSAGES, "every message arrived")
	for id in ids:
		check_eq_ours(next.get(id, 0), MESSAGES, "all messages of peer %d" % id)
	server.stop()
	for c in clients:
		yield(client_event(c, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
