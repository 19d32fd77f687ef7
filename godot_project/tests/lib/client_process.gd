extends SceneTree
# What the client processes the tests start have in common (ws_client.gd, mp_client.gd,
# mp_spoof_client.gd): the --url, --log and --timeout arguments, the log the test reads (one
# JSON array a line, appended to a file the test created), the watchdog and a single exit.

var client := WebSocketClient.new()
var url := ""
var log_path := ""
var deadline := 0
var exiting := false


# Takes --url=, --log= and --timeout= (seconds, default 30) and starts the watchdog; returns the
# other command line arguments, for the client's own options.
func read_common_args() -> Array:
	var timeout := 30.0
	var others := []
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--url="):
			url = arg.substr(6)
		elif arg.begins_with("--log="):
			log_path = arg.substr(6)
		elif arg.begins_with("--timeout="):
			timeout = float(arg.substr(10))
		else:
			others.append(arg)
	deadline = OS.get_ticks_msec() + int(timeout * 1000)
	return others


# True (and the process on its way out with code 2) once the watchdog ran out.
func watchdog_expired() -> bool:
	if OS.get_ticks_msec() <= deadline:
		return false
	print("[%s] watchdog timeout" % _name())
	_exit(2)
	return true


func _on_error():
	_log(["connection_error"])
	_exit(0)


func _on_closed(was_clean):
	_log(["closed", was_clean])
	_exit(0)


func _exit(code: int):
	if exiting:
		return
	exiting = true
	_log(["exit", code])
	quit(code)


func _log(event: Array):
	var f := File.new()
	# READ_WRITE keeps what is there; the file is created empty by the test before we start.
	if f.open(log_path, File.READ_WRITE) != OK:
		printerr("[%s] cannot open log %s" % [_name(), log_path])
		return
	f.seek_end()
	f.store_line(to_json(event))
	f.close()


func _name() -> String:
	return get_script().resource_path.get_file().get_basename()
