extends SceneTree
# The echo server the conformance run (scripts/conformance.sh) drives: gdws in headless Godot,
# every message sent back to its sender as it came (text as text, binary as binary).
#
#   godot3-server --path godot_project -s res://conformance/echo_server.gd --port=N
#       [--max-secs=600]
#
# The buffers are raised to 32 MiB each way: the suite's largest messages are 16 MiB (section 9),
# far past the 64 KiB default, which would close them with 1009 by design.
# Prints "READY <port>" once listening; quits by itself after --max-secs.

const GDWS_SERVER = "res://gdnlib/websocket_server.gdns"
const BUFFER_KB = 32 * 1024

var server
var deadline := 0


func _init():
	OS.low_processor_usage_mode_sleep_usec = 1000
	deadline = OS.get_ticks_msec() + int(float(arg("--max-secs", "600")) * 1000)
	call_deferred("_start")


func arg(name: String, default: String) -> String:
	for a in OS.get_cmdline_args():
		if a.begins_with(name + "="):
			return a.substr(name.length() + 1)
	return default


func _start():
	var port := int(arg("--port", "9001"))
	server = load(GDWS_SERVER).new()
	server.connect("data_received", self, "_on_data")
	server.set_buffers(BUFFER_KB, 4096, BUFFER_KB, 4096)
	var err = server.listen(port)
	if err != OK:
		printerr("echo_server: cannot listen on port %d (error %d)" % [port, err])
		quit(1)
		return
	print("READY %d" % port)


func _idle(_delta):
	if OS.get_ticks_msec() > deadline:
		print("echo_server: --max-secs passed, quitting")
		quit(0)
		return
	if server != null:
		server.poll()


func _finalize():
	if server != null:
		server.stop()


# Godot 3's PacketPeer.put_packet() returns OK for an empty array without sending anything (the
# built-in WebSocketServer too), so empty messages are not echoed: the suite's cases made of
# empty messages fail here for that reason alone (scripts/conformance.sh lists them).
func _on_data(id):
	var peer = server.get_peer(id)
	while peer.get_available_packet_count() > 0:
		var data = peer.get_packet()
		if peer.was_string_packet():
			peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
		else:
			peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
		# A message that arrived before the client's close frame has no one to go back to.
		if peer.is_connected_to_host():
			peer.put_packet(data)
