extends "res://tests/lib/test_case.gd"
# Runs the demo chat server (res://demo/demo.tscn) in its own headless Godot process and chats
# with it through two stock WebSocketClients in this process: text, binary, names.

const StockClient = preload("res://tests/lib/stock_client.gd")


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

	a.send("hello from A")
	check_eq(yield(next_message(a), "completed"), "[%d] hello from A" % id_a, "A gets its own message back")
	check_eq(yield(next_message(b), "completed"), "[%d] hello from A" % id_a, "B gets A's message")

	# Binary messages go to everyone unchanged, as binary.
	b.send(PoolByteArray([1, 2, 0, 255]), WebSocketPeer.WRITE_MODE_BINARY)
	check_eq(yield(next_packet(a), "completed"), PoolByteArray([1, 2, 0, 255]), "A gets B's binary")
	check_eq(yield(next_packet(b), "completed"), PoolByteArray([1, 2, 0, 255]), "B gets its binary back")
	b.send("ünïcode ✓")
	check_eq(yield(next_message(a), "completed"), "[%d] ünïcode ✓" % id_b, "A gets B's text")
	check_eq(yield(next_message(b), "completed"), "[%d] ünïcode ✓" % id_b, "B gets its text back")

	# Names: "/name NAME" is not relayed; it is announced, then names B's messages and leave.
	b.send("/name  Bob ")
	check_eq(yield(next_message(a), "completed"), "* %d is now Bob" % id_b, "A sees B's name")
	check_eq(yield(next_message(b), "completed"), "* %d is now Bob" % id_b, "B sees its name")
	b.send("hi")
	check_eq(yield(next_message(a), "completed"), "[Bob] hi", "A gets B's text under its name")
	check_eq(yield(next_message(b), "completed"), "[Bob] hi", "B gets its text under its name")

	b.ws.disconnect_from_host(1000, "bye")
	check_eq(yield(next_message(a), "completed"), "* Bob left", "A sees B leave, by name")
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
		var client = StockClient.new("ws://127.0.0.1:%d/" % port)
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
