extends Node
# A headless chat server on gdws. Every text message a client sends goes to all clients as
# "[id] text"; every binary message goes to all clients unchanged, as binary; joins and leaves
# are announced to everyone as "* id joined" / "* id left". A browser client: demo/web/index.html.
#
# Names: a text message "/name Alice" (not relayed) sets the sender's name, announced as
# "* 5 is now Alice"; from then on its messages go out as "[Alice] text" and its leave as
# "* Alice left". Names are trimmed and cut to 20 characters; "/name" alone goes back to the id.
# Names need not be unique: the id in the announcement tells same-named clients apart.
#
#   godot3-server --path godot_project [--port=9080] [--builtin] [--quit-after=N]
#                 [--cert=FULLCHAIN.pem --key=KEY.pem] [--token=TOKEN]
#                 [--trusted-proxies=ADDRESS,...] [--allowed-origins=ORIGIN,...]
#                 [--health-check-path=/PATH] [--heartbeat-interval=SECONDS]
#
# --builtin runs the same chat on Godot's own WebSocketServer (to compare); --quit-after=N quits
# once N clients have left (for automated runs); --cert and --key serve wss:// with the
# certificate chain (server certificate first, then intermediates) and the private key in those
# PEM files. The options after them are gdws's own (for running behind a proxy, see
# docs/deployment.md): --token admits only clients whose request has token=TOKEN in its query
# (verify_clients; the others get 403), the others set the server's property of that name
# (lists comma-separated).
#
# A game would simply write
#   const GdwsServer = preload("res://addons/gdws/websocket_server.gdns")
#   var server = GdwsServer.new()
# the demo uses load() so that --builtin runs even when the library is not built.
#
# The same over Godot's high-level multiplayer (RPCs, gdws in multiplayer mode): demo/lobby.tscn,
# with demo/lobby_client.gd as the client (see demo/lobby.gd).

# Every line the chat sends out (and a note for each binary message), for a status panel
# (demo/start.gd).
signal relayed(line)

const GDWS_SERVER = "res://addons/gdws/websocket_server.gdns"
const MAX_NAME = 20

var server
var clients := {}  # id -> true, the connected clients
var names := {}  # id -> the name a client set with "/name"
var quit_after := -1
var builtin := false
var token := ""
var clients_left := 0


func _ready():
	var port := 9080
	var cert_path := ""
	var key_path := ""
	var settings := {}  # gdws property -> value, from the options of the same names
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
		elif arg.begins_with("--token="):
			token = arg.substr(8)
		elif arg.begins_with("--trusted-proxies="):
			settings["trusted_proxies"] = arg.substr(18).split(",", false)
		elif arg.begins_with("--allowed-origins="):
			settings["allowed_origins"] = arg.substr(18).split(",", false)
		elif arg.begins_with("--health-check-path="):
			settings["health_check_path"] = arg.substr(20)
		elif arg.begins_with("--heartbeat-interval="):
			settings["heartbeat_interval"] = float(arg.substr(21))
	server = WebSocketServer.new() if builtin else load(GDWS_SERVER).new()
	server.connect("client_connected", self, "_on_client_connected")
	server.connect("client_disconnected", self, "_on_client_disconnected")
	server.connect("client_close_request", self, "_on_client_close_request")
	server.connect("data_received", self, "_on_data_received")
	for property in settings:
		server.set(property, settings[property])
	if token != "":
		server.verify_clients = true
		server.connect("client_verify_request", self, "_on_client_verify_request")
	var tls = cert_path != "" or key_path != ""
	if tls:
		use_tls(cert_path, key_path)
	var err = server.listen(port)
	if err != OK:
		printerr("Cannot listen on port %d (error %d)" % [port, err])
		get_tree().quit(1)
		return
	print("Chat server listening on %s://localhost:%d (%s)" % ["wss" if tls else "ws", port,
			"built-in" if builtin else "gdws"])


# gdws reads the PEM files itself (missing or broken files make listen() fail and say why); the
# built-in server needs resources, with the whole chain in ssl_certificate.
func use_tls(cert_path: String, key_path: String):
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
	if not builtin:  # what the client asked for (ours: Godot 3's class does not keep it)
		print("Client %d asked for %s with headers %s" % [id, server.get_peer_request_path(id),
				to_json(server.get_peer_request_headers(id))])
	clients[id] = true
	broadcast("* %d joined" % id)


# With --token: a client is let in when its request's query has token=TOKEN (a game would look
# the token up in its own sessions); the others get 403 before any WebSocket exists.
func _on_client_verify_request(id, path, _headers):
	var query = path.split("?", true, 1)
	if query.size() == 2 and ("token=" + token) in query[1].split("&"):
		server.accept_client(id)
	else:
		print("Client %d refused: no valid token in %s" % [id, path])
		server.reject_client(id, 403, "a valid token is needed")


func _on_client_close_request(id, code, reason):
	print("Client %d is closing: code %d, reason '%s'" % [id, code, reason])


func _on_client_disconnected(id, was_clean):
	print("Client %d left, clean: %s" % [id, was_clean])
	clients.erase(id)
	broadcast("* %s left" % label(id))
	names.erase(id)
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
			emit_signal("relayed", "[%s] %d bytes of binary" % [label(id), packet.size()])
			continue
		var message = packet.get_string_from_utf8()
		if set_name_command(id, message):
			continue
		var text = "[%s] %s" % [label(id), message]
		print(text)
		broadcast(text)


# How messages name client `id`: the name it set, or its id.
func label(id: int) -> String:
	return names.get(id, str(id))


# Handles "/name NAME" from client `id` (see the header); false for any other message.
func set_name_command(id: int, message: String) -> bool:
	if message != "/name" and not message.begins_with("/name "):
		return false
	var wanted = message.substr(5).strip_edges().left(MAX_NAME)
	if wanted == "":
		names.erase(id)
	else:
		names[id] = wanted
	print("Client %d is now %s" % [id, label(id)])
	broadcast("* %d is now %s" % [id, label(id)])
	return true


# Sends `text` as a text message to every connected client.
func broadcast(text: String):
	emit_signal("relayed", text)
	broadcast_packet(text.to_utf8(), WebSocketPeer.WRITE_MODE_TEXT)


func broadcast_packet(packet: PoolByteArray, write_mode: int):
	for id in clients:
		var peer = server.get_peer(id)
		peer.set_write_mode(write_mode)
		peer.put_packet(packet)
