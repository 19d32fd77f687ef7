extends "res://tests/lib/client_process.gd"
# A stock Godot `WebSocketClient` run in its own headless Godot process, driven by the server
# under test. The test spawns it (see test_case.gd `spawn_client`) with:
#
#   -s res://tests/lib/ws_client.gd --url=ws://127.0.0.1:PORT --log=/tmp/file.log
#       [--protocols=a,b] [--echo] [--say=TEXT] [--timeout=SECONDS]
#       [--trusted-cert=PEM_FILE | --insecure]
#
# For wss:// URLs, --trusted-cert verifies the server against that certificate (and the host
# name), --insecure turns verification off.
#
# It writes one JSON array per line to the log file for everything it sees:
#   ["connected", protocol]   ["connection_error"]   ["closed", was_clean_close]
#   ["server_close_request", code, reason]
#   ["data", "text", string] or ["data", "binary", [bytes...]]   ["exit", code]
# With --echo it sends every message back with the same type (text or binary); with --say it
# sends TEXT as a text message once connected.
# A message (text or binary) that starts with "!cmd " is a command, a JSON array:
#   ["send", "text", string]  ["send", "binary", [bytes...]]  ["send_var", value]
#   ["send_many", count, prefix]: count text messages "<prefix><i>" at once
#   ["send_big", size]: one binary message of size bytes (i % 251)
#   ["close", code, reason]   ["quit"]
# It exits after the connection closes or fails, on ["quit"], or when --timeout runs out.

const CMD_PREFIX = "!cmd "

var echo := false
var say := ""


func _init():
	var protocols := PoolStringArray()
	for arg in read_common_args():
		if arg.begins_with("--protocols="):
			protocols = arg.substr(12).split(",", false)
		elif arg == "--echo":
			echo = true
		elif arg.begins_with("--say="):
			say = arg.substr(6)
		elif arg == "--insecure":
			client.verify_ssl = false
		elif arg.begins_with("--trusted-cert="):
			var cert := X509Certificate.new()
			if cert.load(arg.substr(15)) != OK:
				printerr("[client] cannot load ", arg.substr(15))
			client.trusted_ssl_certificate = cert
			client.verify_ssl = true
	client.connect("connection_established", self, "_on_connected")
	client.connect("connection_error", self, "_on_error")
	client.connect("connection_closed", self, "_on_closed")
	client.connect("server_close_request", self, "_on_close_request")
	client.connect("data_received", self, "_on_data")
	var err = client.connect_to_url(url, protocols)
	if err != OK:
		_log(["connection_error"])
		_exit(3)


func _idle(_delta):
	if exiting:
		return
	client.poll()
	watchdog_expired()


func _on_connected(protocol):
	_log(["connected", protocol])
	if say != "":
		_send(say.to_utf8(), true)


func _on_close_request(code, reason):
	_log(["server_close_request", code, reason])


func _on_data():
	var peer = client.get_peer(1)
	while peer.get_available_packet_count() > 0:
		var pkt: PoolByteArray = peer.get_packet()
		var is_text: bool = peer.was_string_packet()
		var text := pkt.get_string_from_utf8()
		if text.begins_with(CMD_PREFIX):
			_command(parse_json(text.substr(CMD_PREFIX.length())))
			continue
		if is_text:
			_log(["data", "text", text])
		else:
			_log(["data", "binary", Array(pkt)])
		if echo:
			_send(pkt, is_text)


func _command(cmd):
	var peer = client.get_peer(1)
	match cmd[0]:
		"send":
			if cmd[1] == "text":
				_send(str(cmd[2]).to_utf8(), true)
			else:
				_send(PoolByteArray(cmd[2]), false)
		"send_many":
			for i in int(cmd[1]):
				_send(("%s%d" % [cmd[2], i]).to_utf8(), true)
		"send_big":
			var big := PoolByteArray()
			big.resize(int(cmd[1]))
			for i in big.size():
				big[i] = i % 251
			_send(big, false)
		"send_var":
			peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
			peer.put_var(cmd[1])
		"close":
			client.disconnect_from_host(int(cmd[1]), str(cmd[2]))
		"quit":
			client.disconnect_from_host()
			_exit(0)
		_:
			print("[client] unknown command ", cmd)


func _send(bytes: PoolByteArray, as_text: bool):
	var peer = client.get_peer(1)
	if as_text:
		peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	else:
		peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
	peer.put_packet(bytes)

