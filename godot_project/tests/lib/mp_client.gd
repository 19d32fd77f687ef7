extends "res://tests/lib/client_process.gd"
# A stock WebSocketClient in multiplayer mode (gd_mp_api = true) as the network peer of its own
# headless Godot process, driven by the server through RPCs on /root/MP (mp_node.gd):
#
#   -s res://tests/lib/mp_client.gd --url=ws://127.0.0.1:PORT --log=/tmp/file.log [--timeout=S]
#
# Log (one JSON array a line, like ws_client.gd):
#   ["connection_succeeded", id]: the WebSocketClient's own signal, with its get_unique_id()
#   ["connected_to_server", id]: the SceneTree's, with get_network_unique_id()
#   ["connection_failed"], ["server_disconnected"], ["peer_connected", id], ["peer_disconnected", id]
#   ["got", kind, sender, value]: an RPC or rset landed on /root/MP or a player node (mp_node.gd)
#   ["raw", sender, text]: bytes from MultiplayerAPI.send_bytes (network_peer_packet), as UTF-8
#   ["added", id]: /root/MP/P<id> exists now
#   ["exit", code]
# Commands (the server calls rpc_id(this client, "command", cmd)):
#   ["call", node, method, args]: /root/MP/<node> (node "." is MP itself) .callv(method, args),
#       e.g. ["call", ".", "rpc_id", [1, "hello", "hi"]] or ["call", "P5", "rset", ["puppet_value", 3]]
#   ["send_bytes", target, text]: multiplayer.send_bytes(text.to_utf8(), target)
#   ["add_player", id]: mp_node.add_player(id), then logs ["added", id]
#   ["close", code, reason]: disconnect_from_host(code, reason)
#   ["quit"]

var node: Node


func _init():
	read_common_args()
	node = preload("res://tests/lib/mp_node.gd").new()
	node.name = "MP"
	root.add_child(node)
	node.connect("command_received", self, "_on_command")
	client.connect("connection_succeeded", self, "_on_succeeded")
	connect("connected_to_server", self, "_on_connected")
	connect("connection_failed", self, "_log", [["connection_failed"]])
	connect("server_disconnected", self, "_log", [["server_disconnected"]])
	connect("network_peer_connected", self, "_on_peer", ["peer_connected"])
	connect("network_peer_disconnected", self, "_on_peer", ["peer_disconnected"])
	multiplayer.connect("network_peer_packet", self, "_on_raw")
	if client.connect_to_url(url, PoolStringArray(), true) != OK:
		_log(["connection_failed"])
		_exit(3)
		return
	network_peer = client


func _idle(_delta):
	if exiting:
		return
	while node.has_received():
		_log(["got"] + node.received.pop_front())
	if watchdog_expired():
		return
	if network_peer == null or client.get_connection_status() == NetworkedMultiplayerPeer.CONNECTION_DISCONNECTED:
		_exit(0)


func _on_succeeded():
	_log(["connection_succeeded", client.get_unique_id()])


func _on_connected():
	_log(["connected_to_server", get_network_unique_id()])


func _on_peer(id, what):
	_log([what, id])


func _on_raw(id, packet: PoolByteArray):
	_log(["raw", id, packet.get_string_from_utf8()])


func _on_command(cmd):
	match cmd[0]:
		"call":
			var target = node if cmd[1] == "." else node.get_node(cmd[1])
			target.callv(cmd[2], cmd[3])
		"send_bytes":
			multiplayer.send_bytes(str(cmd[2]).to_utf8(), int(cmd[1]))
		"add_player":
			node.add_player(int(cmd[1]))
			_log(["added", int(cmd[1])])
		"close":
			client.disconnect_from_host(int(cmd[1]), str(cmd[2]))
		"quit":
			client.disconnect_from_host()
			_exit(0)
		_:
			print("[mp client] unknown command ", cmd)


func _exit(code: int):
	if exiting:
		return
	# What arrived in the last frame still goes to the log, before "exit".
	while node.has_received():
		_log(["got"] + node.received.pop_front())
	network_peer = null
	._exit(code)
