extends SceneTree
# A stock WebSocketClient in multiplayer mode (gd_mp_api = true) as the network peer of its own
# headless Godot process, driven by the server through RPCs on /root/MP (mp_node.gd):
#
#   -s res://tests/lib/mp_client.gd --url=ws://127.0.0.1:PORT --log=/tmp/file.log [--timeout=S]
#
# Log (one JSON array a line, like ws_client.gd): ["connected_to_server", own id],
# ["connection_failed"], ["server_disconnected"], ["peer_connected", id],
# ["peer_disconnected", id], ["rpc", sender, message], ["exit", code].
# Commands (the server calls rpc_id(this client, "command", cmd)):
#   ["rpc_id", target, message]: rpc_id(target, "hello", message)
#   ["rpc", message]: rpc("hello", message) to every peer
#   ["quit"]

var client := WebSocketClient.new()
var node: Node
var log_path := ""
var deadline := 0
var exiting := false


func _init():
	var url := ""
	var timeout := 30.0
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--url="):
			url = arg.substr(6)
		elif arg.begins_with("--log="):
			log_path = arg.substr(6)
		elif arg.begins_with("--timeout="):
			timeout = float(arg.substr(10))
	deadline = OS.get_ticks_msec() + int(timeout * 1000)
	node = preload("res://tests/lib/mp_node.gd").new()
	node.name = "MP"
	root.add_child(node)
	node.connect("command_received", self, "_on_command")
	connect("connected_to_server", self, "_on_connected")
	connect("connection_failed", self, "_log", [["connection_failed"]])
	connect("server_disconnected", self, "_log", [["server_disconnected"]])
	connect("network_peer_connected", self, "_on_peer", ["peer_connected"])
	connect("network_peer_disconnected", self, "_on_peer", ["peer_disconnected"])
	if client.connect_to_url(url, PoolStringArray(), true) != OK:
		_log(["connection_failed"])
		_exit(3)
		return
	network_peer = client


func _idle(_delta):
	if exiting:
		return
	while node.has_received():
		var r = node.received.pop_front()
		_log(["rpc", r[0], r[1]])
	if OS.get_ticks_msec() > deadline:
		print("[mp client] watchdog timeout")
		_exit(2)
	elif network_peer == null or client.get_connection_status() == NetworkedMultiplayerPeer.CONNECTION_DISCONNECTED:
		_exit(0)


func _on_connected():
	_log(["connected_to_server", get_network_unique_id()])


func _on_peer(id, what):
	_log([what, id])


func _on_command(cmd):
	match cmd[0]:
		"rpc_id":
			node.rpc_id(int(cmd[1]), "hello", cmd[2])
		"rpc":
			node.rpc("hello", cmd[1])
		"quit":
			client.disconnect_from_host()
			_exit(0)


func _exit(code: int):
	if exiting:
		return
	exiting = true
	_log(["exit", code])
	network_peer = null
	quit(code)


func _log(event: Array):
	var f := File.new()
	if f.open(log_path, File.READ_WRITE) != OK:
		printerr("[mp client] cannot open log ", log_path)
		return
	f.seek_end()
	f.store_line(to_json(event))
	f.close()
