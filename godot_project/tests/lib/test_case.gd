extends SceneTree
# Base of every headless test. A test extends this file, overrides `run()` (a coroutine or a plain
# function) and is started by scripts/harness/godot_tests.sh as
#
#   godot3-server --path godot_project -s res://tests/test_x.gd [--port=N] [--builtin]
#
# --builtin runs the server-side checks against Godot's own WebSocketServer instead of ours, to
# check the tests themselves: check() and check_eq() are stock behaviour, which must hold on both;
# check_ours() and check_eq_ours() are where ours is known to differ from stock, which must hold
# on ours and must FAIL on the built-in (a check of ours that passes there cannot tell them
# apart). A test with nothing to check on the built-in says skip(why). The exit code is the
# result: 0 pass, 1 fail; a test that ran no check fails.
#
# Lines the runner understands (see scripts/harness/godot_tests.sh and godot_log_check.py):
#   @@EXPECT_BEGIN {json} / @@EXPECT_END {json}: the `ERROR:` (and `WARNING:`, panic) lines
#   printed between the two must match the region's patterns, at least the region's minimum of
#   each (see expect_begin());
#   @@PID <pid> <what>: a process the test started (the runner ends it if the test did not);
#   PASS: N checks / FAILED: ... / SKIP: why: the result.

const ClientProc = preload("res://tests/lib/client_proc.gd")
const GDWS_SERVER_PATH = "res://addons/gdws/websocket_server.gdns"
const DEFAULT_TIMEOUT = 5.0
# What a stock WebSocketClient prints when the server answers its upgrade with an HTTP error.
const REFUSED_CLIENT_ERROR = ("^ERROR: (_verify_headers: Invalid protocol or status code|"
		+ "_do_handshake: Invalid response headers)\\.$")
const TEST_TIMEOUT = 45

var builtin := false
var port := 0
var failures := 0
var checks := 0
# Checks of ours that failed on the built-in server, as they must (--builtin only).
var differences := 0
var _skipped := ""
# The open expected region: its label and what it expects, and where it began in our own log.
var _region := {}
var _region_offset := 0
# Every signal of every recorded server, in order: ["client_connected", id, protocol],
# ["client_disconnected", id, was_clean], ["client_close_request", id, code, reason],
# ["data_received", id], ["peer_connected", id], ["peer_disconnected", id].
var events := []
var _pollables := []
var _clients := []
var _demo_pid := -1
var _finished := false
var _test_deadline := 0


func _init():
	builtin = "--builtin" in OS.get_cmdline_args()
	port = int(arg_value("--port", "19080"))
	_test_deadline = OS.get_ticks_msec() + int(TEST_TIMEOUT * 1000)
	call_deferred("_start")


# Override in the test.
func run():
	pass


func _start():
	print("== %s (%s server, port %d)" % [get_script().resource_path, "built-in" if builtin else "gdws", port])
	var state = run()
	if state is GDScriptFunctionState:
		yield(state, "completed")
	finish()


# Value of a `--name=value` command-line argument.
func arg_value(name: String, default: String) -> String:
	for arg in OS.get_cmdline_args():
		if arg.begins_with(name + "="):
			return arg.substr(name.length() + 1)
	return default


# ---------------------------------------------------------------------------------------------
# Server under test

# A new server: ours, or Godot's built-in one with --builtin. `load()`, not `preload()`, so the
# built-in run never touches our library.
func new_server():
	if builtin:
		return WebSocketServer.new()
	return load(GDWS_SERVER_PATH).new()


# A new server whose signals are recorded in `events` and which is polled while we wait.
func make_server():
	var server = new_server()
	for sig in ["client_connected", "client_disconnected", "client_close_request", "data_received",
			"peer_connected", "peer_disconnected"]:
		server.connect(sig, self, "_record", [sig])
	_pollables.append(server)
	return server


# Stop polling `server` (so that it can be freed).
func forget(obj):
	_pollables.erase(obj)


func _record(a, b = null, c = null, d = null):
	# Signal arguments come first, the bound signal name last.
	var args := [a, b, c, d]
	while args.back() == null:
		args.pop_back()
	var sig = args.pop_back()
	events.append([sig] + args)


# ---------------------------------------------------------------------------------------------
# Stock WebSocketClient processes

# Starts a client process connecting to ws://127.0.0.1:<port>/. Options: "protocols" (Array of
# String), "echo" (bool), "port" (int), "host" (String), "scheme" ("ws" or "wss"), "path"
# (String, "/" by default: the request target, e.g. "/play?token=abc"), "insecure" (bool),
# "trusted_cert" (PEM file path), "timeout" (seconds), "multiplayer" (bool: a MultiplayerAPI
# client, mp_client.gd).
func spawn_client(options := {}):
	var client = ClientProc.new()
	var url = "%s://%s:%d%s" % [options.get("scheme", "ws"), options.get("host", "127.0.0.1"),
			options.get("port", port), options.get("path", "/")]
	client.start(url, options)
	return _track(client, "client " + url)


# Starts another client script of this project (ClientProc.start_script) in its own process.
func spawn_script(script: String, args: Array):
	var client = ClientProc.new()
	client.start_script(script, args)
	return _track(client, script)


# Ends `client` with the test, and tells the runner, which ends it if the test did not.
func _track(client, what: String):
	_clients.append(client)
	print("@@PID %d %s" % [client.pid, what])
	return client


# Starts a client (spawn_client) and waits until the server emitted client_connected for it
# and the client saw the connection; returns [client, peer id].
func connect_client(options := {}):
	var joined = yield(connect_clients(1, options), "completed")
	return [joined[0][0], joined[1][0]]


# Starts `count` clients at once and waits until all of them are connected on both sides.
# Returns [clients, peer ids in the order the server announced them].
func connect_clients(count: int, options := {}):
	var clients := []
	for i in count:
		clients.append(spawn_client(options))
	var ids := []
	for i in count:
		var ev = yield(wait_event("client_connected"), "completed")
		ids.append(ev[1])
	for client in clients:
		yield(client_event(client, "connected"), "completed")
	return [clients, ids]


# Tells the stock client process of peer `id` to do `cmd`: a message starting with "!cmd "
# (see ws_client.gd), which it takes in either write mode.
func send_cmd(server, id, cmd: Array):
	server.get_peer(id).put_packet(("!cmd " + to_json(cmd)).to_utf8())


# ---------------------------------------------------------------------------------------------
# Raw TCP clients in this process, for what a WebSocketClient does not show (the HTTP answer)

var _received := {}  # StreamPeerTCP -> text received so far (see _is_closed)


# A whole WebSocket upgrade request for a raw TCP client (raw_connect), with RFC 6455's sample
# key: to `path` on `host`, with `headers` (whole lines, each ending in \r\n) after the usual ones.
func upgrade_request(path := "/chat", headers := "", host := "localhost") -> PoolByteArray:
	return ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" % [path, host]
			+ "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
			+ headers + "\r\n").to_ascii()


func raw_connect():
	var tcp := StreamPeerTCP.new()
	check_eq(tcp.connect_to_host("127.0.0.1", port), OK, "raw connect_to_host")
	yield(wait_until("raw TCP connection", self, "_tcp_connected", [tcp]), "completed")
	_received[tcp] = ""
	return tcp


func _tcp_connected(tcp: StreamPeerTCP) -> bool:
	return tcp.get_status() == StreamPeerTCP.STATUS_CONNECTED


# Reads what arrived; true once the server closed the connection.
func _is_closed(tcp: StreamPeerTCP) -> bool:
	if tcp.get_status() != StreamPeerTCP.STATUS_CONNECTED:
		return true
	var res = tcp.get_partial_data(4096)
	_received[tcp] += PoolByteArray(res[1]).get_string_from_ascii()
	return res[0] != OK or tcp.get_status() != StreamPeerTCP.STATUS_CONNECTED


# Reads what arrived; true once a whole HTTP response head came.
func has_response_head(tcp: StreamPeerTCP) -> bool:
	_is_closed(tcp)
	return "\r\n\r\n" in _received[tcp]


func _is_open(tcp: StreamPeerTCP) -> bool:
	return not _is_closed(tcp)


# ---------------------------------------------------------------------------------------------
# The demo: this project run in another Godot process (at most one per test, killed at the end)

# Starts it with `args` (a scene and the demo's options); checks that it started.
func start_demo(args: Array):
	var all := ["--path", ProjectSettings.globalize_path("res://")] + args
	_demo_pid = OS.execute(OS.get_executable_path(), all, false)
	print("@@PID %d demo %s" % [_demo_pid, PoolStringArray(args).join(" ")])
	check(_demo_pid > 0, "demo process started")


# Waits until the demo quit on its own, which frees its port `at`.
func wait_demo_quit(at: int, what: String):
	yield(wait_until(what, self, "port_free", [at], 10.0), "completed")
	_demo_pid = -1


func port_free(at: int) -> bool:
	var probe := TCP_Server.new()
	var free = probe.listen(at, "127.0.0.1") == OK
	probe.stop()
	return free


# ---------------------------------------------------------------------------------------------
# Waiting: every wait polls the servers each frame and gives up after a deadline. A timeout is
# fatal: the test stops there with a message and exit code 1.

# Waits `seconds` (at least one frame), polling: only for "nothing must happen" checks.
func settle(seconds := 0.3):
	var end = OS.get_ticks_msec() + int(seconds * 1000)
	yield(_frame(), "completed")
	while OS.get_ticks_msec() < end:
		yield(_frame(), "completed")


# Waits until `object.method(args...)` returns true.
func wait_until(what: String, object: Object, method: String, args := [], timeout := DEFAULT_TIMEOUT):
	if not (yield(wait_for(object, method, args, timeout), "completed")):
		yield(abort("timed out after %.1fs waiting for %s" % [timeout, what]), "completed")
	return true


# Waits until `object.method(args...)` returns true, like wait_until(), but gives up without
# failing: returns false after `timeout`. For waits that the built-in server must fail.
func wait_for(object: Object, method: String, args := [], timeout := DEFAULT_TIMEOUT):
	var end = OS.get_ticks_msec() + int(timeout * 1000)
	while true:
		yield(_frame(), "completed")
		if object.callv(method, args):
			return true
		if OS.get_ticks_msec() > end:
			return false


# Removes and returns the oldest recorded server event.
func next_event(timeout := DEFAULT_TIMEOUT):
	yield(wait_until("a server signal", self, "_has_events", [], timeout), "completed")
	return events.pop_front()


# Removes and returns the first recorded server event named `name` (other events stay queued).
func wait_event(name: String, timeout := DEFAULT_TIMEOUT):
	yield(wait_until("server signal " + name, self, "_find_event", [name], timeout), "completed")
	for i in events.size():
		if events[i][0] == name:
			var ev = events[i]
			events.remove(i)
			return ev


# Removes and returns the client's next logged event, which must be named `name`; events named in
# `skip` that come first are dropped.
func client_event(client, name: String, timeout := DEFAULT_TIMEOUT, skip := []):
	while true:
		yield(wait_until("client event " + name, client, "has_event", [], timeout), "completed")
		var ev = client.pop_event()
		if ev[0] == name:
			return ev
		if not ev[0] in skip:
			yield(abort("client: expected event %s, got %s" % [name, ev]), "completed")


# Removes and returns the client's first logged event named `name`, wherever it is in the order.
func client_find(client, name: String, timeout := DEFAULT_TIMEOUT):
	yield(wait_until("client event " + name, client, "has_named", [name], timeout), "completed")
	return client.take_named(name)


func _has_events():
	return not events.empty()


func _find_event(name):
	for ev in events:
		if ev[0] == name:
			return true
	return false


func _frame():
	yield(self, "idle_frame")
	for p in _pollables:
		p.poll()


# Watchdog: also catches a test whose coroutine died on a script error.
func _idle(_delta):
	if not _finished and OS.get_ticks_msec() > _test_deadline:
		abort("test ran longer than %ds (or stopped on a script error)" % TEST_TIMEOUT)


# ---------------------------------------------------------------------------------------------
# Checks: a failed check prints and the test goes on; the exit code counts them.

func check(cond: bool, what: String) -> bool:
	checks += 1
	if not cond:
		failures += 1
		print("FAIL: ", what)
	return cond


# A behaviour of ours where the built-in server is known to differ: must hold on ours, must fail
# on the built-in.
func check_ours(cond: bool, what: String) -> bool:
	if not builtin:
		return check(cond, what)
	return _differs(not cond, what)


func check_eq_ours(got, want, what: String) -> bool:
	if not builtin:
		return check_eq(got, want, what)
	return _differs(not _same(got, want), "%s: got %s, ours gives %s" % [what, _repr(got), _repr(want)])


func _differs(differs: bool, what: String) -> bool:
	checks += 1
	if differs:
		differences += 1
		print("DIFFERS (as it must on the built-in): ", what)
	else:
		failures += 1
		print("FAIL: the built-in passes a check of ours, which so cannot tell ours from stock: ", what)
	return differs


# The test has nothing to check on this server (e.g. a feature stock does not have): it ends
# here, reported as skipped rather than passed. Never returns to the caller.
func skip(why: String):
	_skipped = why
	finish()
	yield(self, "_never")


# Numbers compare by value (the client's events come through JSON, where 1 becomes 1.0), arrays
# and dictionaries by their JSON text for the same reason; anything else must match type and value.
func check_eq(got, want, what: String) -> bool:
	checks += 1
	if not _same(got, want):
		failures += 1
		print("FAIL: %s: got %s (%s), want %s (%s)" % [what, _repr(got), typeof(got), _repr(want), typeof(want)])
		return false
	return true


func _same(a, b) -> bool:
	if typeof(a) in [TYPE_NIL, TYPE_OBJECT] and typeof(b) in [TYPE_NIL, TYPE_OBJECT]:
		return a == b  # a null Object equals null
	var numbers = [TYPE_INT, TYPE_REAL]
	if typeof(a) in numbers and typeof(b) in numbers:
		return a == b
	if typeof(a) != typeof(b):
		return false
	if typeof(a) in [TYPE_ARRAY, TYPE_DICTIONARY]:
		return to_json(a) == to_json(b)
	return a == b


func _repr(v):
	return to_json(v) if typeof(v) in [TYPE_STRING, TYPE_ARRAY, TYPE_DICTIONARY] else str(v)


# The text of a file of the repository (the folder above godot_project), e.g. "README.md".
func read_repo_file(relative: String) -> String:
	var path = ProjectSettings.globalize_path("res://").plus_file("..").plus_file(relative)
	var file := File.new()
	if not check_eq(file.open(path, File.READ), OK, "open " + path):
		return ""
	var text = file.get_as_text()
	file.close()
	return text


# Opens an expected region: between this and expect_end(), every `ERROR:` line must match
# expected["error"][0] (a regular expression) and at least expected["error"][1] (>= 1) must come;
# likewise "warning" (WARNING: lines; others are not checked) and "panic" (a Rust panic: its
# `panicked at` line and message). Only open one where the lines must appear. The runner checks
# (godot_log_check.py); expect_end() waits until the lines are in the log.
func expect_begin(label: String, expected: Dictionary):
	if not _region.empty():
		check(false, "expected region %s opened inside %s" % [to_json(label), to_json(_region["label"])])
	for kind in expected:
		check(kind in ["error", "warning", "panic"] and expected[kind][1] >= 1,
				"region %s expects at least one line of %s" % [to_json(label), kind])
	_region = expected.duplicate()
	_region["label"] = label
	_region_offset = _own_log_length()
	print("@@EXPECT_BEGIN ", to_json(_region))


# `ours` on our server, `stock` on the built-in one (--builtin): e.g. the pattern of an error
# each prints in its own words.
func ours_or_stock(ours, stock):
	return stock if builtin else ours


# Shorthand: `min_errors` ERROR lines matching `pattern`.
func expect_errors_begin(label: String, pattern: String, min_errors := 1):
	expect_begin(label, {"error": [pattern, min_errors]})


# Closes the region once its lines are in the log (at most `timeout` seconds: lines from other
# processes or from the network threads come a little later); the runner fails the test if some
# are missing.
func expect_end(label: String, timeout := DEFAULT_TIMEOUT):
	var end = OS.get_ticks_msec() + int(timeout * 1000)
	yield(_frame(), "completed")
	while not _region_seen() and OS.get_ticks_msec() < end:
		yield(_frame(), "completed")
	print("@@EXPECT_END ", to_json({"label": label}))
	_region = {}


# The same for a region whose lines are printed by the calls themselves (no waiting).
func expect_errors_end(label: String):
	print("@@EXPECT_END ", to_json({"label": label}))
	_region = {}


# A literal text as a regular expression.
func literal(text: String) -> String:
	var out := ""
	for c in text:
		if c in "\\.^$|?*+()[]{}":
			out += "\\"
		out += c
	return out


# Our own output (the runner sends it to a file), read back through /proc.
func _own_log() -> String:
	var f := File.new()
	if f.open("/proc/self/fd/1", File.READ) != OK:
		return ""
	var text = f.get_as_text()
	f.close()
	return text


func _own_log_length() -> int:
	return _own_log().length()


# True when the log holds, since the region began, as many lines of each kind the region expects
# as it asks for (the runner checks that they match; GDScript's RegEx in 3.2.3 prints an ERROR of
# its own for every search that finds nothing, so this only counts).
func _region_seen() -> bool:
	var lines = _own_log().substr(_region_offset).split("\n")
	for kind in ["error", "warning", "panic"]:
		if not _region.has(kind):
			continue
		var count := 0
		for line in lines:
			if (kind == "error" and line.begins_with("ERROR:")) or (kind == "warning" and line.begins_with("WARNING:")) \
					or (kind == "panic" and "panicked at" in line):
				count += 1
		if count < _region[kind][1]:
			return false
	return true


# Stops the test now with a failure; never returns to the caller.
func abort(message: String):
	print("FAIL: ", message)
	failures += 1
	finish()
	yield(self, "_never")


signal _never


func finish():
	if _finished:
		return
	_finished = true
	for client in _clients:
		client.stop()
	_clients.clear()
	if _demo_pid > 0:
		OS.kill(_demo_pid)
		_demo_pid = -1
	_pollables.clear()
	events.clear()
	if not _region.empty():
		check(false, "expected region %s still open at the end" % to_json(_region["label"]))
	if _skipped != "" and failures == 0:
		print("SKIP: ", _skipped)
	elif checks == 0:
		failures += 1
		print("FAILED: no check ran")
	elif failures == 0:
		print("PASS: %d checks%s" % [checks, " (%d of them differ from stock, as they must)" % differences if builtin else ""])
	else:
		print("FAILED: %d of %d checks" % [failures, checks])
	quit(0 if failures == 0 else 1)
