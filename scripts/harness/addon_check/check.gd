extends SceneTree
# Run by scripts/harness/addon_test.sh inside a fresh Godot project that holds nothing but the unzipped
# addon: the classes load from res://addons/gdws exactly as in a user's project, and a stock
# WebSocketClient gets its message echoed. Exit code 0 when all of that worked.

const WebSocketServerGd = preload("res://addons/gdws/websocket_server.gdns")
const WebSocketPeerGd = preload("res://addons/gdws/websocket_peer.gdns")
const DEADLINE_MS = 20000

var server = WebSocketServerGd.new()
var client := WebSocketClient.new()
var echoed := ""
var started := OS.get_ticks_msec()


func _init():
	var port := 0
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--port="):
			port = int(arg.substr(7))
	if not WebSocketPeerGd is NativeScript or not server is NetworkedMultiplayerPeer:
		fail("the addon's classes did not load as NativeScripts")
		return
	server.connect("data_received", self, "_on_server_data")
	client.connect("data_received", self, "_on_client_data")
	client.connect("connection_established", self, "_on_established")
	if server.listen(port) != OK:
		fail("listen(%d) failed" % port)
		return
	if client.connect_to_url("ws://127.0.0.1:%d/" % port) != OK:
		fail("the client cannot connect")


func _idle(_delta):
	server.poll()
	client.poll()
	if echoed != "":
		print("addon check: done (echo received: %s)" % echoed)
		end_check(0 if echoed == "echo: hello" else 1)
	elif OS.get_ticks_msec() - started > DEADLINE_MS:
		fail("no echo within %d ms" % DEADLINE_MS)
	return false


func _on_established(_protocol):
	client.get_peer(1).set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	client.get_peer(1).put_packet("hello".to_utf8())


func _on_server_data(id):
	var peer = server.get_peer(id)
	var text = peer.get_packet().get_string_from_utf8()
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	peer.put_packet(("echo: " + text).to_utf8())


func _on_client_data():
	echoed = client.get_peer(1).get_packet().get_string_from_utf8()


func fail(why: String):
	printerr("addon check failed: ", why)
	end_check(1)


func end_check(code: int):
	client.disconnect_from_host()
	server.stop()
	server = null
	quit(code)
