extends Node
# A headless chat server on gdws. Every text message a client sends goes to all clients as
# "[id] text"; every binary message goes to all clients unchanged, as binary; joins and leaves
# are announced to everyone as "* id joined" / "* id left". A browser client: demo/web/index.html.
#
#   godot3-server --path godot_project [--port=9080] [--builtin] [--quit-after=N]
#                 [--cert=FULLCHAIN.pem --key=KEY.pem]
#
# --builtin runs the same chat on Godot's own WebSocketServer (to compare); --quit-after=N quits
# once N clients have left (for automated runs); --cert and --key serve wss:// with the
# certificate chain (server certificate first, then intermediates) and the private key in those
# PEM files.
#
# A game would simply write
#   const GdwsServer = preload("res://addons/gdws/websocket_server.gdns")
#   var server = GdwsServer.new()
# the demo uses load() so that --builtin runs even when the library is not built.
#
# The same over Godot's high-level multiplayer (RPCs, gdws in multiplayer mode): demo/lobby.tscn,
# with demo/lobby_client.gd as the client (see demo/lobby.gd).

const GDWS_SERVER = "res://addons/gdws/websocket_server.gdns"

var server
var clients := {}  # id -> true, the connected clients
var quit_after := -1
var clients_left := 0


func _ready():
	var port := 9080
	var builtin := false
	var cert_path := ""
	var key_path := ""
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--port="):
			port = int(arg.substr(7))
		elif arg.begins_with("--quit-after="):
			quit_after = int(arg.substr(13))
		elif arg == "--builtin":
			builtin = true
		elif arg.begins_with("--cert="):
			cert_path = arg.substr(7)
		elif arg.begins_with("--key="):
			key_path = arg.substr(6)
	server = WebSocketServer.new() if builtin else load(GDWS_SERVER).new()
	server.connect("client_connected", self, "_on_client_connected")
	server.connect("client_disconnected", self, "_on_client_disconnected")
	server.connect("client_close_request", self, "_on_client_close_request")
	server.connect("data_received", self, "_on_data_received")
	var tls = cert_path != "" or key_path != ""
	if tls:
		use_tls(builtin, cert_path, key_path)
	var err = server.listen(port)
	if err != OK:
		printerr("Cannot listen on port %d (error %d)" % [port, err])
		get_tree().quit(1)
		return
	print("Chat server listening on %s://localhost:%d (%s)" % ["wss" if tls else "ws", port,
			"built-in" if builtin else "gdws"])


# gdws reads the PEM files itself (missing or broken files make listen() fail and say why); the
# built-in server needs resources, with the whole chain in ssl_certificate.
func use_tls(builtin: bool, cert_path: String, key_path: String):
	if not builtin:
		server.ssl_certificate_path = cert_path
		server.private_key_path = key_path
		return
	var cert := X509Certificate.new()
	var key := CryptoKey.new()
	if cert_path != "" and cert.load(cert_path) == OK:
		server.ssl_certificate = cert
	if key_path != "" and key.load(key_path) == OK:
		server.private_key = key


func _process(_delta):
	server.poll()


func _exit_tree():
	server.stop()


func _on_client_connected(id, protocol):
	print("Client %d connected from %s:%d, protocol '%s'" % [id, server.get_peer_address(id),
			server.get_peer_port(id), protocol])
	clients[id] = true
	broadcast("* %d joined" % id)


func _on_client_close_request(id, code, reason):
	print("Client %d is closing: code %d, reason '%s'" % [id, code, reason])


func _on_client_disconnected(id, was_clean):
	print("Client %d left, clean: %s" % [id, was_clean])
	clients.erase(id)
	broadcast("* %d left" % id)
	clients_left += 1
	if quit_after > 0 and clients_left >= quit_after:
		print("%d clients left, quitting" % clients_left)
		get_tree().quit(0)


func _on_data_received(id):
	var peer = server.get_peer(id)
	while peer.get_available_packet_count() > 0:
		var packet: PoolByteArray = peer.get_packet()
		if not peer.was_string_packet():
			print("[%d] sent %d bytes of binary" % [id, packet.size()])
			broadcast_packet(packet, WebSocketPeer.WRITE_MODE_BINARY)
			continue
		var text = "[%d] %s" % [id, packet.get_string_from_utf8()]
		print(text)
		broadcast(text)


# Sends `text` as a text message to every connected client.
func broadcast(text: String):
	broadcast_packet(text.to_utf8(), WebSocketPeer.WRITE_MODE_TEXT)


func broadcast_packet(packet: PoolByteArray, write_mode: int):
	for id in clients:
		var peer = server.get_peer(id)
		peer.set_write_mode(write_mode)
		peer.put_packet(packet)
