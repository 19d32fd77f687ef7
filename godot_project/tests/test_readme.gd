extends "res://tests/lib/test_case.gd"
# The README's GDScript examples work as printed: the echo server (on this test's port instead
# of 9080) echoes a stock WebSocketClient's text as text and binary as binary, the multiplayer
# server example compiles, and the authentication example lets in a stock WebSocketClient with
# the right token in its query string and refuses one with a wrong token. The class reference's
# examples (docs/classes/*.md) compile and listen as printed.

const StockClient = preload("res://tests/lib/stock_client.gd")


func run():
	if builtin:
		yield(skip("the examples preload our library"), "completed")
	var readme = read_repo_file("README.md")
	var echo_source = code_block(readme, "## An echo server")
	var multiplayer_source = code_block(readme, "## A multiplayer (RPC) server")
	check(echo_source.find("listen(9080)") >= 0, "the echo example listens on 9080")

	check_eq(compile(multiplayer_source).reload(), OK, "the multiplayer example compiles")

	var echo_script = compile(echo_source.replace("listen(9080)", "listen(%d)" % port))
	if not check_eq(echo_script.reload(), OK, "the echo example compiles"):
		return
	var echo_node = echo_script.new()
	root.add_child(echo_node)  # _ready() listens; the tree calls _process(), which polls

	var client = StockClient.new("ws://127.0.0.1:%d/" % port)
	_pollables.append(client)
	yield(wait_until("the client to connect", client, "done"), "completed")
	check(client.connected, "the client connects to the echo example")
	client.send("héllo", WebSocketPeer.WRITE_MODE_TEXT)
	client.send(PoolByteArray([0, 1, 254, 255]), WebSocketPeer.WRITE_MODE_BINARY)
	yield(wait_until("two echoes", client, "has_received", [2]), "completed")
	check_eq(client.received[0], "héllo", "text comes back as text")
	check_eq(client.received[1], PoolByteArray([0, 1, 254, 255]), "binary comes back as binary")
	client.ws.disconnect_from_host()
	forget(client)

	echo_node.server.stop()
	root.remove_child(echo_node)
	echo_node.free()

	yield(run_authentication(code_block(readme, "## Authenticating clients")), "completed")
	for doc in ["WebSocketServer", "WebSocketPeer"]:
		yield(run_class_reference_examples(doc), "completed")


# Each ```gdscript block of docs/classes/<doc>.md is a whole script of a node owning `server`:
# it compiles, and in the tree it listens (on this test's port instead of 9080).
func run_class_reference_examples(doc: String):
	var text = read_repo_file("docs/classes/%s.md" % doc)
	var start = text.find("```gdscript\n")
	var count = 0
	while start >= 0:
		start += "```gdscript\n".length()
		var source = text.substr(start, text.find("```", start) - start).replace("    ", "\t")
		count += 1
		var what = "%s example %d" % [doc, count]
		var script = compile(source.replace("listen(9080)", "listen(%d)" % port))
		if check_eq(script.reload(), OK, what + " compiles"):
			var node = script.new()
			root.add_child(node)
			check(node.server.is_listening(), what + " listens")
			node.server.stop()
			root.remove_child(node)
			node.free()
		yield(settle(0.0), "completed")
		start = text.find("```gdscript\n", start)
	check(count > 0, doc + " has examples")


func run_authentication(source: String):
	check(source.find("listen(9080)") >= 0, "the authentication example listens on 9080")
	var script = compile(source.replace("listen(9080)", "listen(%d)" % port))
	if not check_eq(script.reload(), OK, "the authentication example compiles"):
		return
	var node = script.new()
	root.add_child(node)
	var url = "ws://127.0.0.1:%d/play?token=" % port
	var ada = StockClient.new(url + "secret-for-ada")
	_pollables.append(ada)
	yield(wait_until("the client with the token to connect", ada, "done"), "completed")
	check(ada.connected, "the right token is let in")
	check_eq(node.players.values(), ["ada"], "the game knows who it is")
	expect_errors_begin("the wrong token", REFUSED_CLIENT_ERROR)
	var intruder = StockClient.new(url + "guess")
	_pollables.append(intruder)
	yield(wait_until("the client with a wrong token to fail", intruder, "done"), "completed")
	yield(expect_end("the wrong token"), "completed")
	check(intruder.failed, "a wrong token is refused")
	check_eq(node.players.size(), 1, "and never a player")
	ada.ws.disconnect_from_host()
	forget(ada)
	forget(intruder)
	node.server.stop()
	root.remove_child(node)
	node.free()


# The first ```gdscript block after `heading`, indented with tabs instead of 4 spaces.
func code_block(text: String, heading: String) -> String:
	var start = text.find("```gdscript\n", text.find(heading))
	if not check(text.find(heading) >= 0 and start >= 0, "README has a GDScript block under " + heading):
		return ""
	start += "```gdscript\n".length()
	var source = text.substr(start, text.find("```", start) - start)
	return source.replace("    ", "\t")


func compile(source: String) -> GDScript:
	var script = GDScript.new()
	script.source_code = source
	return script
