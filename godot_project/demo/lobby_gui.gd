extends Control
# A desktop GUI client for the chat lobby (demo/lobby.tscn; the RPCs are in demo/lobby.gd): a
# stock Godot 3 WebSocketClient in multiplayer mode (connect_to_url(url, [], true) as the
# SceneTree's network_peer). Type a name and press Join; the list shows the players, the log the
# chat, joins, leaves and whispers. "Say" calls the server's say() RPC; "Whisper" calls whisper()
# on the player selected in the list (client to client, relayed by the server).
#
#   godot3 --path godot_project res://demo/lobby_gui.tscn [--url=ws://H:N/ | --host=H --port=N]
#          [--name=NAME] [--join] [--do=ACTION ...] [--log=FILE] [--timeout=S]
#
# Run it from the editor (open demo/lobby_gui.tscn and press F6, or F5 and "Open the lobby client"
# on the start screen) or with Debian's desktop build `godot3` as above; a server:
# `bash scripts/demo.sh --lobby`. Scripted runs (the GUI test, tests/browser/godot_gui.test.mjs)
# act through the widgets as a user would:
#   --join                 press Join at start
#   --do=ACTION            repeatable, run in order once joined:
#       players:N            wait until the list shows at least N players
#       say:TEXT             type TEXT and press Say
#       whisper:NAME:TEXT    select NAME in the list, type TEXT and press Whisper
#       wait:TEXT            wait until a log line contains TEXT
#       screenshot:PATH      save the window as a PNG at PATH and log what the widgets show
#       quit                 leave the lobby and exit
#   --timeout=S            exit with code 2 after S seconds
#   --log=FILE             events, one JSON array a line (demo/scripted_run.gd): ["joined", id],
#       ["players", [names, sorted]], ["line", text], ["shown", {"status", "players", "log",
#       "screenshot", "saved"}] (saved: the save_png error code), ["closed"], ["exit", code]

const ScriptedRun = preload("res://demo/scripted_run.gd")
const Screenshot = preload("res://demo/screenshot.gd")
const LOBBY_SCRIPT = preload("res://demo/lobby.gd")

var lobby: Node  # /root/Lobby, the node the lobby's RPCs go to (as on the server)
var client: WebSocketClient
var joined := false
var run := ScriptedRun.new()  # --host, --port, --url, --name, --do, --log, --timeout
var busy := false  # an action (a screenshot) is still running
var exiting := false

onready var url_field: LineEdit = $Rows/Top/Url
onready var name_field: LineEdit = $Rows/Top/Name
onready var connect_button: Button = $Rows/Top/Connect
onready var status: Label = $Rows/Status
onready var player_list: ItemList = $Rows/Middle/Players/PlayerList
onready var log_view: RichTextLabel = $Rows/Middle/Log
onready var message: LineEdit = $Rows/Bottom/Message
onready var say_button: Button = $Rows/Bottom/Say
onready var whisper_button: Button = $Rows/Bottom/Whisper


func _ready():
	var auto_join = _read_options()
	lobby = LOBBY_SCRIPT.new()
	lobby.name = "Lobby"
	lobby.client_mode = true
	lobby.connect("players_changed", self, "_on_players")
	lobby.connect("line", self, "_show")
	get_tree().root.call_deferred("add_child", lobby)
	get_tree().connect("connected_to_server", self, "_on_connected")
	get_tree().connect("connection_failed", self, "_on_connection_failed")
	get_tree().connect("server_disconnected", self, "_on_gone", ["The server closed the connection"])
	connect_button.connect("pressed", self, "_on_connect_pressed")
	say_button.connect("pressed", self, "_on_say_pressed")
	whisper_button.connect("pressed", self, "_on_whisper_pressed")
	message.connect("text_entered", self, "_on_message_entered")
	player_list.connect("item_selected", self, "_on_player_selected")
	if auto_join:
		connect_button.call_deferred("emit_signal", "pressed")


# Reads the command line into the fields and the action list; true with --join.
func _read_options() -> bool:
	var others = run.read_options(OS.get_cmdline_args())
	url_field.text = run.url
	name_field.text = run.player_name
	return "--join" in others


func _exit_tree():
	get_tree().network_peer = null
	if is_instance_valid(lobby):
		lobby.queue_free()


# ---------------------------------------------------------------------------------------------
# The widgets

func _on_connect_pressed():
	if client != null:
		_show_local("You left the lobby")
		joined = false
		client.disconnect_from_host()
		_on_gone("Not connected")
		return
	var url = url_field.text.strip_edges()
	client = WebSocketClient.new()
	var err = client.connect_to_url(url, PoolStringArray(), true)
	if err != OK:
		client = null
		status.text = "Cannot connect to %s (error %d)" % [url, err]
		return
	get_tree().network_peer = client
	status.text = "Connecting to %s…" % url
	connect_button.text = "Leave"
	url_field.editable = false
	name_field.editable = false


func _on_say_pressed():
	if message.text.strip_edges() == "":
		return
	lobby.rpc_id(1, "say", message.text)
	message.text = ""


func _on_message_entered(_text):
	_on_say_pressed()


func _on_whisper_pressed():
	var selected = player_list.get_selected_items()
	if selected.empty() or message.text.strip_edges() == "":
		return
	var id = player_list.get_item_metadata(selected[0])
	lobby.rpc_id(id, "whisper", message.text)
	_show_local("(to %s) %s" % [lobby.players.get(id, "peer %d" % id), message.text])
	message.text = ""


func _on_player_selected(_index):
	_update_buttons()


func _update_buttons():
	var selected = player_list.get_selected_items()
	var other = false  # a player other than this one is selected: whisper can go there
	if joined and not selected.empty():
		other = player_list.get_item_metadata(selected[0]) != get_tree().get_network_unique_id()
	message.editable = joined
	say_button.disabled = not joined
	whisper_button.disabled = not (joined and other)


# ---------------------------------------------------------------------------------------------
# The lobby

func _on_connected():
	var wanted = name_field.text.strip_edges()
	var me = get_tree().get_network_unique_id()
	status.text = "Connected to %s as peer %d, joining…" % [url_field.text, me]
	lobby.rpc_id(1, "join", wanted if wanted != "" else "Player")


func _on_connection_failed():
	_on_gone("Cannot connect to " + url_field.text)


func _on_gone(why: String):
	if client == null:
		return
	get_tree().network_peer = null
	client = null
	if joined:
		_log(["closed"])
		_show_local(why)
	joined = false
	status.text = why
	connect_button.text = "Join"
	url_field.editable = true
	name_field.editable = true
	player_list.clear()
	_update_buttons()


func _on_players(players: Dictionary):
	var me = get_tree().get_network_unique_id()
	var ids = players.keys()
	ids.sort_custom(self, "_by_name")
	player_list.clear()
	for id in ids:
		player_list.add_item(players[id] + (" (you)" if id == me else ""))
		player_list.set_item_metadata(player_list.get_item_count() - 1, id)
	var names = players.values()
	names.sort()
	_log(["players", names])
	if not joined and players.has(me):
		joined = true
		status.text = "In the lobby at %s as %s (peer %d)" % [url_field.text, players[me], me]
		_log(["joined", me])
	_update_buttons()


func _by_name(a, b) -> bool:
	return lobby.players[a] < lobby.players[b]


func _show(text: String):
	log_view.add_text(text + "\n")
	run.add_line(text)


# A line of this client's own (not from the lobby), in grey.
func _show_local(text: String):
	log_view.push_color(Color(0.6, 0.6, 0.6))
	log_view.add_text(text + "\n")
	log_view.pop()


# ---------------------------------------------------------------------------------------------
# Scripted runs (--do)

func _process(_delta):
	if exiting or busy:
		return
	if not run.step(self, "_run", joined):
		_exit(2)


# Runs the action `verb`:`arg` (see the header) through the widgets; false while it waits.
func _run(verb: String, arg: String) -> bool:
	if busy:
		return false  # the last action (a screenshot) has not finished
	match verb:
		"players":
			return player_list.get_item_count() >= int(arg)
		"say":
			message.text = arg
			say_button.emit_signal("pressed")
		"whisper":
			var to = arg.split(":", true, 1)
			var index = _player_index(to[0])
			if index < 0:
				return false  # not in the list (yet)
			player_list.select(index)
			_update_buttons()
			message.text = to[1] if to.size() > 1 else ""
			whisper_button.emit_signal("pressed")
		"wait":
			return run.saw(arg)
		"screenshot":
			busy = true
			_screenshot(arg)
		"quit":
			connect_button.emit_signal("pressed")
			_exit(0)
		_:
			printerr("Unknown action ", verb)
	return true


func _player_index(player_name: String) -> int:
	for i in player_list.get_item_count():
		if lobby.players.get(player_list.get_item_metadata(i)) == player_name:
			return i
	return -1


# Saves the window as a PNG once what it shows now has been drawn, and logs what it shows.
func _screenshot(path: String):
	yield(VisualServer, "frame_post_draw")
	yield(VisualServer, "frame_post_draw")
	var err = Screenshot.save_png(get_viewport(), path)
	var players := []
	for i in player_list.get_item_count():
		players.append(player_list.get_item_text(i))
	_log(["shown", {"status": status.text, "players": players, "log": log_view.get_text(),
			"screenshot": path, "saved": err}])
	busy = false


func _exit(code: int):
	if exiting:
		return
	exiting = true
	_log(["exit", code])
	get_tree().network_peer = null
	get_tree().quit(code)


func _log(event: Array):
	run.record(event)
