extends Reference
# What the demo's scriptable clients (lobby_client.gd, lobby_gui.gd, and start.gd's --log)
# share: their common options, the action queue for automated runs, and the event log.
#   --host=H --port=N, or --url=ws://H:N/   the lobby server: url (ws://127.0.0.1:9080/)
#   --name=NAME   player_name
#   --do=ACTION   queued in order; each client runs its own actions (see its header)
#   --timeout=S   step() returns false S seconds after start
#   --log=FILE    record(event) appends event to FILE as one JSON array a line, for tests

var actions := []
var lines := []  # every line the client showed (chat, notices, whispers): what wait:TEXT checks
var log_path := ""
var deadline := -1
var url := ""
var player_name := ""


# Reads the options above from `args`; returns the others, in order.
func read_options(args: Array) -> Array:
	var host := "127.0.0.1"
	var port := 9080
	var others := []
	for arg in args:
		if arg.begins_with("--host="):
			host = arg.substr(7)
		elif arg.begins_with("--port="):
			port = int(arg.substr(7))
		elif arg.begins_with("--url="):
			url = arg.substr(6)
		elif arg.begins_with("--name="):
			player_name = arg.substr(7)
		elif arg.begins_with("--do="):
			actions.append(arg.substr(5))
		elif arg.begins_with("--log="):
			log_path = arg.substr(6)
		elif arg.begins_with("--timeout="):
			deadline = OS.get_ticks_msec() + int(float(arg.substr(10)) * 1000)
		else:
			others.append(arg)
	if url == "":
		url = "ws://%s:%d/" % [host, port]
	return others


# Called each frame: runs the queued actions (see run_actions) while `ready`; false, after
# saying so, once --timeout has run out (the client then exits with code 2).
func step(runner: Object, method: String, ready: bool) -> bool:
	if deadline > 0 and OS.get_ticks_msec() > deadline:
		print("Timed out")
		return false
	if ready:
		run_actions(runner, method)
	return true


# Runs the queued actions in order: ACTION is VERB or VERB:ARG, run by
# `runner`.call(`method`, VERB, ARG), which returns false while the action waits for something
# (it is then tried again on the next call).
func run_actions(runner: Object, method: String):
	while not actions.empty():
		var parts = actions[0].split(":", true, 1)
		if not runner.call(method, parts[0], parts[1] if parts.size() > 1 else ""):
			return
		actions.pop_front()


# A line the client showed: kept for saw() and logged as ["line", text].
func add_line(text: String):
	lines.append(text)
	record(["line", text])


# Whether a line shown so far contains `text`.
func saw(text: String) -> bool:
	for line in lines:
		if text in line:
			return true
	return false


func record(event: Array):
	if log_path == "":
		return
	var f := File.new()
	if f.open(log_path, File.READ_WRITE if f.file_exists(log_path) else File.WRITE) != OK:
		printerr("Cannot open log ", log_path)
		return
	f.seek_end()
	f.store_line(to_json(event))
	f.close()
