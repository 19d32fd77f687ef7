extends SceneTree
# The GDScript server of the benchmarks (scripts/bench.sh): the same script runs on our
# WebSocketServer or, with --builtin, on Godot's own, so the two are measured doing the same work.
#
#   godot3-server --path godot_project -s res://bench/bench_server.gd --port=N
#       [--mode=echo|broadcast|multiplayer] [--builtin] [--busy] [--fps=N] [--size=32]
#       [--debug-lib] [--max-secs=300] [--cert=FILE.pem --key=FILE.pem]
#
# --mode=echo (default): every message goes back to its sender, as it came (poll() every frame).
# --mode=broadcast: every frame, one binary message of --size bytes (its first 8 bytes the frame
#     number, little-endian) to every connected peer.
# --mode=multiplayer: listen(port, [], true) as the tree's network_peer; the MultiplayerAPI
#     polls it every frame and clients relay packets to each other through it.
# Pacing: Godot's headless default (each frame sleeps low_processor_usage_mode_sleep_usec,
#     6.9 ms: about 145 frames/s); --busy sets that sleep to 0 (frames back to back); --fps=N
#     caps the frame rate with Engine.target_fps.
# --cert/--key: wss://, from PEM files loaded into X509Certificate and CryptoKey (both classes
#     take the same properties).
# Ours loads the release library (res://bench/gdws_release.gdnlib, bench/bin/libgdws.so ->
#     target/release); --debug-lib the debug one of res://addons/gdws.
# Prints "READY <port>" once listening; quits by itself after --max-secs.

const RELEASE_SERVER = "res://bench/websocket_server.gdns"
const DEBUG_SERVER = "res://addons/gdws/websocket_server.gdns"

var server
var mode := "echo"
var peers := {}  # id -> WebSocketPeer, the connected peers (echo and broadcast modes)
var frame := 0
var payload_size := 32
var deadline := 0


func _init():
	mode = arg("--mode", "echo")
	payload_size = max(8, int(arg("--size", "32")))
	deadline = OS.get_ticks_msec() + int(float(arg("--max-secs", "300")) * 1000)
	if "--busy" in OS.get_cmdline_args():
		OS.low_processor_usage_mode_sleep_usec = 0
	var fps := int(arg("--fps", "0"))
	if fps > 0:
		Engine.target_fps = fps
	call_deferred("_start")


func arg(name: String, default: String) -> String:
	for a in OS.get_cmdline_args():
		if a.begins_with(name + "="):
			return a.substr(name.length() + 1)
	return default


func _start():
	var port := int(arg("--port", "9090"))
	var builtin := "--builtin" in OS.get_cmdline_args()
	if builtin:
		server = WebSocketServer.new()
	else:
		server = load(DEBUG_SERVER if "--debug-lib" in OS.get_cmdline_args() else RELEASE_SERVER).new()
	server.connect("client_connected", self, "_on_connected")
	server.connect("client_disconnected", self, "_on_disconnected")
	server.connect("data_received", self, "_on_data")
	var cert_path := arg("--cert", "")
	if cert_path != "" and not use_tls(cert_path, arg("--key", "")):
		quit(1)
		return
	var err
	if mode == "multiplayer":
		err = server.listen(port, PoolStringArray(), true)
		if err == OK:
			network_peer = server
	else:
		err = server.listen(port)
	if err != OK:
		printerr("bench_server: cannot listen on port %d (error %d)" % [port, err])
		quit(1)
		return
	print("READY %d %s %s" % [port, mode, "built-in" if builtin else "gdws"])


func use_tls(cert_path: String, key_path: String) -> bool:
	var cert := X509Certificate.new()
	var key := CryptoKey.new()
	if cert.load(cert_path) != OK or key.load(key_path) != OK:
		printerr("bench_server: cannot load %s / %s" % [cert_path, key_path])
		return false
	server.ssl_certificate = cert
	server.private_key = key
	return true


func _idle(_delta):
	if OS.get_ticks_msec() > deadline:
		print("bench_server: --max-secs passed, quitting")
		quit(0)
		return
	if server == null or mode == "multiplayer":
		return  # the SceneTree polls its network_peer
	server.poll()
	if mode == "broadcast":
		broadcast()


func _finalize():
	if server != null:
		server.stop()


func broadcast():
	frame += 1
	var buffer := StreamPeerBuffer.new()
	buffer.put_u64(frame)
	var data := buffer.data_array
	data.resize(payload_size)
	for id in peers:
		peers[id].put_packet(data)


func _on_connected(id, _protocol):
	peers[id] = server.get_peer(id)


func _on_disconnected(id, _was_clean):
	peers.erase(id)


func _on_data(id):
	var peer = server.get_peer(id)
	while peer.get_available_packet_count() > 0:
		peer.put_packet(peer.get_packet())
