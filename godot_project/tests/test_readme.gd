extends "res://tests/lib/test_case.gd"
# The README's GDScript examples work as printed: the echo server (on this test's port instead
# of 9080) echoes a stock WebSocketClient's text as text and binary as binary, and the
# multiplayer server example compiles.

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
