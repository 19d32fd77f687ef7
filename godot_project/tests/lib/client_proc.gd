extends Reference
# Handle on a stock WebSocketClient running in another headless Godot process
# (res://tests/lib/ws_client.gd, or mp_client.gd in multiplayer mode). Its events come back
# through a log file, one JSON array a line.

const CLIENT_SCRIPT = "res://tests/lib/ws_client.gd"
const MP_CLIENT_SCRIPT = "res://tests/lib/mp_client.gd"

var pid := -1
var log_path := ""
var _read_lines := 0
var _pending := []
var _seen_exit := false


# Starts `script` (a client script of this project, reading --log= and --timeout=, see
# client_process.gd) in another headless Godot, with a new log file; `args` are its own options.
func start_script(script: String, args: Array, timeout = 30):
	start_program(OS.get_executable_path(), ["--path", ProjectSettings.globalize_path("res://"),
			"-s", script], script, args, timeout)


# Starts `program` with `leading` arguments, then --log= (a new log file named after `what`) and
# --timeout=, then `args`: a client speaking the same log format (e.g. flood_client.py).
func start_program(program: String, leading: Array, what: String, args: Array, timeout = 30):
	var tmp = OS.get_environment("TMPDIR")
	if tmp == "":
		tmp = "/tmp"
	log_path = "%s/gdws_%s_%d_%d_%d.log" % [tmp, what.get_file().get_basename(),
			OS.get_process_id(), OS.get_ticks_usec(), randi()]
	var f := File.new()
	f.open(log_path, File.WRITE)
	f.close()
	var common := ["--log=" + log_path, "--timeout=%s" % timeout]
	pid = OS.execute(program, leading + common + args, false)


# Starts a stock WebSocketClient (ws_client.gd, or mp_client.gd in multiplayer mode) on `url`.
func start(url: String, options: Dictionary):
	var args := ["--url=" + url]
	var protocols = options.get("protocols", [])
	if not protocols.empty():
		args.append("--protocols=" + PoolStringArray(protocols).join(","))
	if options.get("echo", false):
		args.append("--echo")
	if options.get("insecure", false):
		args.append("--insecure")
	if options.has("trusted_cert"):
		args.append("--trusted-cert=" + options["trusted_cert"])
	var script = MP_CLIENT_SCRIPT if options.get("multiplayer", false) else CLIENT_SCRIPT
	start_script(script, args, options.get("timeout", 30))


# True when the client logged an event not yet taken with pop_event().
func has_event() -> bool:
	_read()
	return not _pending.empty()


func pop_event():
	_read()
	return _pending.pop_front()


# True when an event named `name` is pending.
func has_named(name: String) -> bool:
	_read()
	for ev in _pending:
		if ev[0] == name:
			return true
	return false


# Removes and returns the first pending event named `name` (null if none).
func take_named(name: String):
	_read()
	for i in _pending.size():
		if _pending[i][0] == name:
			var ev = _pending[i]
			_pending.remove(i)
			return ev
	return null


# True once the client process logged its exit.
func has_exited() -> bool:
	_read()
	return _seen_exit


# Ends the process: lets it finish on its own for a moment, then kills it.
func stop():
	if pid <= 0:
		return
	var end = OS.get_ticks_msec() + 1000
	while not has_exited() and OS.get_ticks_msec() < end:
		OS.delay_msec(20)
	if not has_exited():
		OS.kill(pid)
	pid = -1
	Directory.new().remove(log_path)


func _read():
	var f := File.new()
	if f.open(log_path, File.READ) != OK:
		return
	var lines = f.get_as_text().split("\n")
	f.close()
	# The last piece is empty or a line still being written.
	for i in range(_read_lines, lines.size() - 1):
		var ev = parse_json(lines[i])
		if ev[0] == "exit":
			_seen_exit = true
		_pending.append(ev)
	_read_lines = max(_read_lines, lines.size() - 1)
