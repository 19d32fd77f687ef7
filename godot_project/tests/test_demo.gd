extends "res://tests/lib/test_case.gd"
# Runs the demo chat server (res://demo/demo.tscn) in its own headless Godot process and chats
# with it through two stock WebSocketClients in this process.


class ChatClient:
	extends Reference
	var ws := WebSocketClient.new()
	var received := []  # text messages, in order
	var connected := false
	var failed := false
	var closed := false

	func _init(url: String):
		ws.connect("connection_established", self, "_on_established")
		ws.connect("connection_error", self, "_on_error")
		ws.connect("connection_closed", self, "_on_closed")
		ws.connect("data_received", self, "_on_data")
		ws.connect_to_url(url)

	func poll():
		ws.poll()

	func say(text: String):
		ws.get_peer(1).set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
		ws.get_peer(1).put_packet(text.to_utf8())

	func has_message() -> bool:
		return not received.empty()

	func done() -> bool:
		return connected or failed

	func is_closed() -> bool:
		return closed

	func _on_established(_protocol):
		connected = true

	func _on_error():
		failed = true

	func _on_closed(_clean):
		closed = true

	func _on_data():
		var peer = ws.get_peer(1)
		while peer.get_available_packet_count() > 0:
			var packet = peer.get_packet()
			received.append(packet.get_string_from_utf8() if peer.was_string_packet() else packet)


func run():
	var args = ["--port=%d" % port, "--quit-after=2"]
	if builtin:
		args.append("--builtin")
	start_demo(args)

	var a = yield(join(), "completed")
	var id_a = int(yield(next_message(a, "* "), "completed").split(" ")[1])
	check(id_a >= 2, "A learns its id from its join message")
	check(not port_free(port), "the demo holds its port while running")
	var b = yield(join(), "completed")
	var joined_b = yield(next_message(b, "* "), "completed")
	var id_b = int(joined_b.split(" ")[1])
	check_eq(yield(next_message(a), "completed"), joined_b, "A sees B join")
	check(id_b != id_a, "different ids")

	a.say("hello from A")
	check_eq(yield(next_message(a), "completed"), "[%d] hello from A" % id_a, "A gets its own message back")
	check_eq(yield(next_message(b), "completed"), "[%d] hello from A" % id_a, "B gets A's message")

	# Binary messages go to everyone unchanged, as binary.
	b.ws.get_peer(1).set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
	b.ws.get_peer(1).put_packet(PoolByteArray([1, 2, 0, 255]))
	check_eq(yield(next_packet(a), "completed"), PoolByteArray([1, 2, 0, 255]), "A gets B's binary")
	check_eq(yield(next_packet(b), "completed"), PoolByteArray([1, 2, 0, 255]), "B gets its binary back")
	b.say("ünïcode ✓")
	check_eq(yield(next_message(a), "completed"), "[%d] ünïcode ✓" % id_b, "A gets B's text")
	check_eq(yield(next_message(b), "completed"), "[%d] ünïcode ✓" % id_b, "B gets its text back")

	b.ws.disconnect_from_host(1000, "bye")
	check_eq(yield(next_message(a), "completed"), "* %d left" % id_b, "A sees B leave")
	yield(wait_until("B closed", b, "is_closed"), "completed")
	forget(b)

	# The second leave makes the demo quit (--quit-after=2): its port becomes free.
	a.ws.disconnect_from_host()
	yield(wait_until("A closed", a, "is_closed"), "completed")
	forget(a)
	yield(wait_demo_quit(port, "the demo to quit and free its port"), "completed")


# Connects a new chat client, retrying while the demo starts up.
func join():
	var end = OS.get_ticks_msec() + 10000
	while true:
		var client = ChatClient.new("ws://127.0.0.1:%d/" % port)
		_pollables.append(client)
		yield(wait_until("a connection result", client, "done"), "completed")
		if client.connected:
			return client
		forget(client)
		if OS.get_ticks_msec() > end:
			yield(abort("cannot connect to the demo on port %d" % port), "completed")
		yield(settle(0.2), "completed")


# Next text message of `client` (which must start with `prefix`).
func next_message(client, prefix := ""):
	var text = yield(next_packet(client), "completed")
	if not check(text is String, "a text message, not binary"):
		return ""
	check(text.begins_with(prefix), "message %s starts with %s" % [to_json(text), to_json(prefix)])
	return text


# Next message of `client`: a String (text) or a PoolByteArray (binary).
func next_packet(client):
	yield(wait_until("a chat message", client, "has_message"), "completed")
	return client.received.pop_front()
