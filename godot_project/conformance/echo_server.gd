extends SceneTree
# The echo server the conformance run (scripts/harness/conformance.sh) drives: gdws in headless Godot,
# every message sent back to its sender as it came (text as text, binary as binary).
#
#   godot3-server --path godot_project -s res://conformance/echo_server.gd --port=N [--quit-file=F]
#
# The buffers are raised to 32 MiB each way: the suite's largest messages are 16 MiB (section 9),
# far past the 64 KiB default, which would close them with 1009 by design.
# Prints "READY <port>" once listening; runs until the file --quit-file names exists (then stops the
# server and quits with 0, so that the run can check the exit code and the leaks at exit) or until
# killed (the script bounds it with `timeout`).

const GDWS_SERVER = "res://addons/gdws/websocket_server.gdns"
const BUFFER_KB = 32 * 1024

var server
var quit_file := ""


func _init():
	call_deferred("_start")


func _start():
	var port := 9001
	for a in OS.get_cmdline_args():
		if a.begins_with("--port="):
			port = int(a.substr(7))
		elif a.begins_with("--quit-file="):
			quit_file = a.substr(12)
	server = load(GDWS_SERVER).new()
	server.connect("data_received", self, "_on_data")
	server.set_buffers(BUFFER_KB, 4096, BUFFER_KB, 4096)
	if server.listen(port) != OK:
		printerr("echo_server: cannot listen on port %d" % port)
		quit(1)
		return
	print("READY %d" % port)


func _idle(_delta):
	if server != null:
		server.poll()
	if quit_file != "" and Engine.get_idle_frames() % 30 == 0 and File.new().file_exists(quit_file):
		quit_file = ""
		print("echo_server: quit file found, quitting")
		quit(0)


func _finalize():
	if server != null:
		server.stop()


# Empty messages are echoed too: our WebSocketPeer.put_packet sends them (Godot's own
# PacketPeer.put_packet returns OK for an empty array without sending anything).
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
