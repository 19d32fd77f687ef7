extends Control
# The project's main scene. Headless (`godot3-server --path godot_project`, as scripts/demo.sh
# and the tests run it) it is the chat server and nothing else: it changes to demo/demo.tscn
# at once, which reads the command line as before (see demo/demo_server.gd). On the desktop
# (F5 in the editor, or `godot3 --path godot_project`) it is a start screen:
#   "Run the chat server"    runs demo/demo.tscn inside this screen, with a panel listing the
#                            connected clients and every message the chat sends out
#   "Open the lobby client"  changes to the lobby's GUI client, demo/lobby_gui.tscn
#
#   godot3 --path godot_project [--start=chat|lobby] [--screenshot=PATH] [--log=FILE] [...]
#
# --start presses that button at once; the chat server and the lobby client read the rest of
# the command line (--port=N, ...) as usual. With --screenshot, the chat panel is saved as a
# PNG at PATH after each change it shows, and with --log each time what it shows is logged
# (demo/scripted_run.gd): ["shown", {"clients": [...], "messages": text, "saved": error}]. For the
# GUI test, tests/browser/godot_gui.test.mjs.

const ScriptedRun = preload("res://demo/scripted_run.gd")
const Screenshot = preload("res://demo/screenshot.gd")
const CHAT_SCENE = "res://demo/demo.tscn"
const LOBBY_GUI_SCENE = "res://demo/lobby_gui.tscn"

var chat: Node  # the running chat server (demo_server.gd), once started
var screenshot_path := ""
var run := ScriptedRun.new()  # --log
var frames_to_save := 0  # > 0: save what the panel shows once that many frames are drawn

onready var buttons: Control = $Rows/Buttons
onready var server_panel: Control = $Rows/Server
onready var address: Label = $Rows/Server/Address
onready var clients: ItemList = $Rows/Server/Panes/ClientsPane/Clients
onready var messages: RichTextLabel = $Rows/Server/Panes/MessagesPane/Messages


func _ready():
	if OS.get_name() == "Server":
		get_tree().call_deferred("change_scene", CHAT_SCENE)
		return
	$Rows/Buttons/Chat.connect("pressed", self, "_run_chat_server")
	$Rows/Buttons/Lobby.connect("pressed", self, "_open_lobby_client")
	for arg in OS.get_cmdline_args():
		if arg == "--start=chat":
			call_deferred("_run_chat_server")
		elif arg == "--start=lobby":
			call_deferred("_open_lobby_client")
		elif arg.begins_with("--screenshot="):
			screenshot_path = arg.substr(13)
	run.read_options(OS.get_cmdline_args())
	if screenshot_path != "" or run.log_path != "":
		# A connection, not a yield: it goes away with this node if the game quits first.
		VisualServer.connect("frame_post_draw", self, "_on_frame_drawn")


func _run_chat_server():
	if chat != null:
		return
	chat = load(CHAT_SCENE).instance()
	chat.connect("relayed", self, "_on_relayed")
	add_child(chat)  # its _ready() listens (or prints why not and quits)
	var port = 9080
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--port="):
			port = int(arg.substr(7))
	address.text = ("The chat server listens on ws://localhost:%d/. Chat with it from a browser: "
			+ "godot_project/demo/web/index.html?url=ws://localhost:%d/") % [port, port]
	buttons.visible = false
	server_panel.visible = true


func _open_lobby_client():
	get_tree().change_scene(LOBBY_GUI_SCENE)


func _on_relayed(line: String):
	messages.add_text(line + "\n")
	clients.clear()
	for id in chat.clients:
		clients.add_item("%s  (%s:%d)" % [chat.label(id), chat.server.get_peer_address(id),
				chat.server.get_peer_port(id)])
	frames_to_save = 2  # this frame's drawing, then one more for the panel's layout


func _on_frame_drawn():
	if frames_to_save == 0:
		return
	frames_to_save -= 1
	if frames_to_save > 0:
		return
	# What the panel shows now: saved as a PNG (--screenshot) and logged (--log).
	var err = OK
	if screenshot_path != "":
		err = Screenshot.save_png(get_viewport(), screenshot_path)
	var shown := []
	for i in clients.get_item_count():
		shown.append(clients.get_item_text(i))
	run.record(["shown", {"clients": shown, "messages": messages.get_text(), "saved": err}])
