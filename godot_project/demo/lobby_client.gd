extends SceneTree
# A client for the chat lobby (demo/lobby.tscn, see demo/lobby.gd): a stock Godot 3
# WebSocketClient in multiplayer mode, headless. It joins with a name, prints the player list,
# chat lines, joins, leaves and whispers, and does what its options say, in order:
#
#   godot3-server --path godot_project -s demo/lobby_client.gd --port=9080 --name=Bob \
#       --say="hello everyone" --do=players:2 --do=whisper:Alice:psst
#
#   --host=H --port=N      the lobby server (127.0.0.1, 9080); or --url=ws://H:N/
#   --name=NAME            the name to join with (the server makes it unique)
#   --say=TEXT             say TEXT to everyone (same as --do=say:TEXT)
#   --do=ACTION            repeatable, run in order once joined:
#       say:TEXT             say TEXT to everyone
#       whisper:NAME:TEXT    send TEXT to player NAME only (client to client, through the server)
#       players:N            wait until the lobby has at least N players
#       wait:TEXT            wait until a printed line (chat, notice, whisper) contains TEXT
#       quit                 leave the lobby and exit
#   --timeout=S            give up and exit with code 2 after S seconds (default: never)
#   --log=FILE             also append what happens to FILE, one JSON array a line (for tests):
#       ["joined", id], ["players", [names, sorted]], ["line", text], ["closed"], ["exit", code]
#
# Without quit it stays until the server goes away (Ctrl+C to leave). It retries connecting for
# 10 seconds while the server starts.

const CONNECT_RETRY_MS = 10000
const ScriptedRun = preload("res://demo/scripted_run.gd")

var url := ""  # the lobby server, from --host and --port or --url
var player_name := "Player"
var run := ScriptedRun.new()  # --host, --port, --url, --name, --do, --log, --timeout
var client: WebSocketClient
var lobby: Node
var joined := false
var exiting := false
var connect_deadline := 0


func _init():
	for arg in run.read_options(OS.get_cmdline_args()):
		if arg.begins_with("--say="):
			run.actions.append("say:" + arg.substr(6))
	url = run.url
	if run.player_name != "":
		player_name = run.player_name
	lobby = preload("res://demo/lobby.gd").new()
	lobby.name = "Lobby"  # the same path as on the server: /root/Lobby
	lobby.client_mode = true
	lobby.connect("players_changed", self, "_on_players")
	lobby.connect("line", self, "_on_line")
	root.add_child(lobby)
	connect("connected_to_server", self, "_on_connected")
	connect("connection_failed", self, "_on_connection_failed")
	connect("server_disconnected", self, "_on_server_gone")
	connect_deadline = OS.get_ticks_msec() + CONNECT_RETRY_MS
	_connect()


func _connect():
	client = WebSocketClient.new()
	if client.connect_to_url(url, PoolStringArray(), true) != OK:
		printerr("Cannot connect to ", url)
		_exit(1)
		return
	network_peer = client


func _on_connected():
	print("Connected to %s as peer %d, joining as %s" % [url, get_network_unique_id(), player_name])
	lobby.rpc_id(1, "join", player_name)


func _on_connection_failed():
	network_peer = null
	if joined:
		# A stock multiplayer client reports a lost server this way too.
		_on_server_gone()
	elif OS.get_ticks_msec() < connect_deadline:
		# The server may still be starting: try again a little later (and not from inside the
		# failing client's own signal).
		create_timer(0.2).connect("timeout", self, "_connect")
	else:
		printerr("Cannot connect to ", url)
		_exit(1)


func _on_server_gone():
	print("Disconnected from the lobby")
	_log(["closed"])
	_exit(0)


func _on_players(players: Dictionary):
	var names = players.values()
	names.sort()
	_log(["players", names])
	if not joined and players.has(get_network_unique_id()):
		joined = true
		print("Joined the lobby as ", players[get_network_unique_id()])
		_log(["joined", get_network_unique_id()])


func _on_line(text: String):
	run.add_line(text)


func _idle(_delta):
	if exiting:
		return
	if not run.step(self, "_run", joined):
		_exit(2)


# Runs the action `verb`:`arg` (see the header); false while it waits for something.
func _run(verb: String, arg: String) -> bool:
	match verb:
		"say":
			lobby.rpc_id(1, "say", arg)
		"whisper":
			var to = arg.split(":", true, 1)
			var id = lobby.find_player(to[0])
			if id == 0:
				return false  # not in the lobby (yet)
			lobby.rpc_id(id, "whisper", to[1] if to.size() > 1 else "")
		"players":
			return lobby.players.size() >= int(arg)
		"wait":
			return run.saw(arg)
		"quit":
			print("Leaving the lobby")
			client.disconnect_from_host()
			_exit(0)
		_:
			printerr("Unknown action ", verb)
	return true


func _exit(code: int):
	if exiting:
		return
	exiting = true
	_log(["exit", code])
	network_peer = null
	quit(code)


func _log(event: Array):
	run.record(event)
