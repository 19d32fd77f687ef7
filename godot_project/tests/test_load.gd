extends "res://tests/lib/test_case.gd"
# The library loads and both NativeScript classes instantiate with the right Godot base classes,
# and a server with no clients is freed cleanly (the runner checks for leaks at exit).
# The runner always runs this test first.


func run():
	print("Godot ", Engine.get_version_info().string, " on ", OS.get_name())
	var server = new_server()
	check(server != null, "server instance")
	if server == null:
		return
	# Ours is a NativeScript on MultiplayerPeerGDNative; stock is the engine's WebSocketServer.
	check_eq_ours(server.get_class(), "MultiplayerPeerGDNative", "base class of our server")
	if builtin:
		check_eq(server.get_class(), "WebSocketServer", "built-in class")
	else:
		check(server.get_script() is NativeScript, "our server is a NativeScript instance")
		var peer_script = load("res://addons/gdws/websocket_peer.gdns")
		check(peer_script is NativeScript, "websocket_peer.gdns loads")
		check(server is NetworkedMultiplayerPeer, "usable as a NetworkedMultiplayerPeer")
	for method in ["listen", "stop", "is_listening", "has_peer", "get_peer_address", "get_peer_port",
			"disconnect_peer", "get_peer", "set_buffers", "poll", "get_connection_status",
			"get_unique_id"]:
		check(server.has_method(method), "has method " + method)
	for sig in ["client_connected", "client_disconnected", "client_close_request", "data_received"]:
		check(server.has_signal(sig), "has signal " + sig)
	check_eq(only_zero_argument_calls(server), 1, "zero-argument calls from a function without other calls")
	# Empty pool arrays reach native code with a NULL data pointer.
	check_eq(server.listen(port, PoolStringArray()), OK, "listen with an empty PoolStringArray")
	server.stop()
	# Listen and free while listening: the destructor stops everything.
	check_eq(server.listen(port), OK, "listen")
	server = null
	var again = new_server()
	check_eq(again.listen(port), OK, "the port is free once the listening server is freed")
	again.stop()
	yield(settle(0.1), "completed")


# GDScript passes a NULL argument array to our methods when the calling function makes no call
# with arguments: the canonical `func _process(_delta): server.poll()`. Keep this function free
# of calls with arguments.
func only_zero_argument_calls(server):
	server.poll()
	server.is_listening()
	server.get_connection_status()
	server.stop()
	return server.get_unique_id()
