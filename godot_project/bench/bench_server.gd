extends SceneTree
# The GDScript server of the benchmarks (scripts/bench.sh): the same script runs on our
# WebSocketServer or, with --builtin, on Godot's own, so the two are measured doing the same work.
#
#   godot3-server --path godot_project -s res://bench/bench_server.gd --port=N
#       [--mode=echo|broadcast|multiplayer] [--builtin] [--busy] [--fps=N] [--size=32]
#       [--debug-lib] [--max-secs=300] [--cert=FILE.pem --key=FILE.pem] [--heartbeat=SECONDS]
#       [--frame-times] [--batch]
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
# --heartbeat: ours only, heartbeat_interval (the built-in class of Godot 3 has none).
# --batch: ours only, echo mode: batch_receive, and each frame after poll() the messages of
#     get_packets() go back with one put_packets() (the built-in class has neither).
# Ours loads the release library (res://bench/gdws_release.gdnlib, bench/bin/libgdws.so ->
#     target/release); --debug-lib the debug one of res://addons/gdws.
# --frame-times: notes OS.get_ticks_usec() at the start of every frame (the engine's own clock)
#     from the first connection on, and prints them all, "FRAMES t1 t2 ... now", once the last
#     peer has gone; the runner keeps the frames that overlap its measured window (frame time =
#     the difference of two starts). Nothing is printed while the load runs.
# Prints "READY <port> <mode> <class> <OS.get_ticks_usec()>" once listening (the runner maps
#     the engine's clock onto its own with it); quits by itself after --max-secs.

const RELEASE_SERVER = "res://bench/websocket_server.gdns"
const DEBUG_SERVER = "res://addons/gdws/websocket_server.gdns"

var server
var mode := "echo"
var peers := {}  # id -> WebSocketPeer, the connected peers (echo and broadcast modes)
var frame := 0
var payload_size := 32
var deadline := 0
var frame_times := false
var frame_starts := []  # OS.get_ticks_usec() at the start of each frame, with --frame-times
var batch := false


func _init():
	mode = arg("--mode", "echo")
	payload_size = max(8, int(arg("--size", "32")))
	deadline = OS.get_ticks_msec() + int(float(arg("--max-secs", "300")) * 1000)
	if "--busy" in OS.get_cmdline_args():
		OS.low_processor_usage_mode_sleep_usec = 0
	frame_times = "--frame-times" in OS.get_cmdline_args()
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
	var heartbeat := float(arg("--heartbeat", "0"))
	if heartbeat > 0:
		if builtin:
			printerr("bench_server: the built-in server has no heartbeat_interval")
			quit(1)
			return
		server.heartbeat_interval = heartbeat
	batch = "--batch" in OS.get_cmdline_args()
	if batch:
		if builtin or mode != "echo":
			printerr("bench_server: --batch is for ours, in echo mode")
			quit(1)
			return
		server.batch_receive = true
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
	print("READY %d %s %s %d" % [port, mode, "built-in" if builtin else "gdws", OS.get_ticks_usec()])


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
	if frame_times and not peers.empty():
		frame_starts.append(OS.get_ticks_usec())
	if OS.get_ticks_msec() > deadline:
		print("bench_server: --max-secs passed, quitting")
		quit(0)
		return
	if server == null or mode == "multiplayer":
		return  # the SceneTree polls its network_peer
	server.poll()
	if batch:
		var messages = server.get_packets()
		if not messages.empty():
			server.put_packets(messages)  # [id, packet, was_string] each: back as it came
	elif mode == "broadcast":
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
	if frame_times and peers.empty() and not frame_starts.empty():
		# Last, now: the frame under way lasted at least this long (one poll() may have run
		# through the whole window).
		frame_starts.append(OS.get_ticks_usec())
		print("FRAMES " + PoolStringArray(frame_starts).join(" "))
		frame_starts.clear()


func _on_data(id):
	var peer = server.get_peer(id)
	while peer.get_available_packet_count() > 0:
		peer.put_packet(peer.get_packet())
