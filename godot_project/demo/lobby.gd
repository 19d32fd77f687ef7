extends Node
# A chat lobby over Godot's high-level multiplayer (RPCs) on gdws in multiplayer mode
# (listen(port, [], true), the server as the SceneTree's network_peer). Stock Godot 3
# multiplayer clients join with a name, chat, and whisper to each other; the server keeps the
# player list and prints joins, leaves and messages.
#
#   Server:  godot3-server --path godot_project res://demo/lobby.tscn [--port=9080] [--builtin] [--quit-after=N]
#   Client:  godot3-server --path godot_project -s demo/lobby_client.gd [--port=9080] --name=Bob --say="hi all"
#            (see demo/lobby_client.gd for its options)
#
# --builtin runs the lobby on Godot's own WebSocketServer (to compare); --quit-after=N quits once
# N players have left (for automated runs).
#
# This node sits at /root/Lobby on the server (lobby.tscn) and in every client
# (lobby_client.gd): RPCs find it by that path. The protocol, all RPCs on this node:
#   client -> server  master func join(name)          enter the lobby (names are made unique)
#                     master func say(text)           chat to everyone
#   server -> clients puppet func player_list(list)   the player list, {id: name}, after each change
#                     puppet func chat(name, text)    a chat line
#                     puppet func notice(text)        "* Bob joined", "* Bob left"
#   client -> client  remote func whisper(text)       a private message, relayed by the server
# `master` functions run only on the node's network master, the server (id 1); `puppet` ones
# only when the master calls them, so a client cannot fake a chat line or the player list; a
# whisper's sender is get_rpc_sender_id(), which the server does not let a client forge.

signal players_changed(players)
signal line(text)  # every line a client prints: chat, notices, whispers

const GDWS_SERVER = "res://addons/gdws/websocket_server.gdns"
const MAX_NAME = 20
const MAX_TEXT = 500

var client_mode := false  # set by lobby_client.gd before adding the node
var players := {}  # id -> name: on the server the players who joined, on a client the last list
var server
var quit_after := -1
var players_left := 0


func _ready():
	if client_mode:
		return
	var port := 9080
	var builtin := false
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--port="):
			port = int(arg.substr(7))
		elif arg.begins_with("--quit-after="):
			quit_after = int(arg.substr(13))
		elif arg == "--builtin":
			builtin = true
	# A game would simply write: var server = preload("res://addons/gdws/websocket_server.gdns").new()
	server = WebSocketServer.new() if builtin else load(GDWS_SERVER).new()
	var err = server.listen(port, PoolStringArray(), true)
	if err != OK:
		printerr("Cannot listen on port %d (error %d)" % [port, err])
		get_tree().quit(1)
		return
	get_tree().network_peer = server
	get_tree().connect("network_peer_connected", self, "_on_peer_connected")
	get_tree().connect("network_peer_disconnected", self, "_on_peer_disconnected")
	print("Lobby listening on port %d (%s)" % [port, "built-in" if builtin else "gdws"])


func _exit_tree():
	if server != null:
		get_tree().network_peer = null
		server.stop()


# ---------------------------------------------------------------------------------------------
# Server side

func _on_peer_connected(id):
	print("Peer %d connected from %s" % [id, server.get_peer_address(id)])


master func join(wanted_name):
	var id = get_tree().get_rpc_sender_id()
	if players.has(id):
		return
	players[id] = _unique_name(str(wanted_name).strip_edges().left(MAX_NAME), id)
	print("%s (peer %d) joined; players: %s" % [players[id], id, PoolStringArray(players.values()).join(", ")])
	_send_players()
	_send_notice("* %s joined" % players[id])


master func say(text):
	var id = get_tree().get_rpc_sender_id()
	if not players.has(id):
		return  # say before join: ignored
	text = str(text).left(MAX_TEXT)
	print("[%s] %s" % [players[id], text])
	for pid in players:
		rpc_id(pid, "chat", players[id], text)


func _on_peer_disconnected(id):
	if not players.has(id):
		print("Peer %d left without joining" % id)
		return
	var left_name = players[id]
	players.erase(id)
	print("%s (peer %d) left; players: %s" % [left_name, id, PoolStringArray(players.values()).join(", ")])
	_send_players()
	_send_notice("* %s left" % left_name)
	players_left += 1
	if quit_after > 0 and players_left >= quit_after:
		print("%d players left, quitting" % players_left)
		get_tree().quit(0)


func _send_players():
	for pid in players:
		rpc_id(pid, "player_list", players)


func _send_notice(text: String):
	for pid in players:
		rpc_id(pid, "notice", text)


func _unique_name(wanted: String, id: int) -> String:
	if wanted == "":
		wanted = "Player%d" % id
	var taken = players.values()
	var unique = wanted
	var n = 2
	while unique in taken:
		unique = "%s%d" % [wanted, n]
		n += 1
	return unique


# ---------------------------------------------------------------------------------------------
# Client side

puppet func player_list(list):
	players = list
	var names = PoolStringArray(players.values())
	print("Players: ", names.join(", "))
	emit_signal("players_changed", players)


puppet func chat(from_name, text):
	_print_line("[%s] %s" % [from_name, text])


puppet func notice(text):
	_print_line(str(text))


remote func whisper(text):
	var from = get_tree().get_rpc_sender_id()
	if from == 1 or not client_mode:
		return  # whispers go between clients
	_print_line("(whisper) %s: %s" % [players.get(from, "peer %d" % from), str(text).left(MAX_TEXT)])


# The id of the player called `name` in the last list, or 0.
func find_player(player_name: String) -> int:
	for id in players:
		if players[id] == player_name:
			return id
	return 0


func _print_line(text: String):
	print(text)
	emit_signal("line", text)
