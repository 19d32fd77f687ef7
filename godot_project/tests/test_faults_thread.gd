extends "res://tests/lib/test_case.gd"
# The last reference to a listening server dropped inside a GDScript Thread. gdnative skips a
# class's Rust destructor off the thread that made the object, which used to leave the whole
# server running (port taken, clients connected, network threads alive) until exit. Now the
# server stops there all the same: the clients see the end and the port is free again.

var _main_let_go := Semaphore.new()


func run():
	# The thread gets the server in an array it empties once the main thread has let go, so the
	# last reference goes there (a Thread's argument itself is released by wait_to_finish(), on
	# the main thread).
	var holder = _listening_server_in_array()
	var clients := []
	for i in 2:
		clients.append(spawn_client())
	yield(wait_until("both clients connected", self, "_connected", [clients, holder]), "completed")
	var thread := Thread.new()
	check_eq(thread.start(self, "_drop_after_main", holder), OK, "thread started")
	holder = null
	_main_let_go.post()
	thread.wait_to_finish()
	for c in clients:
		yield(client_event(c, "closed", DEFAULT_TIMEOUT, ["connected", "server_close_request"]), "completed")
	check(true, "every client saw the server dropped in the thread go")
	var again = new_server()
	check_eq(again.listen(port), OK, "listen on the port of the server dropped in the thread")
	again.stop()


# A listening server, the only reference to it in the array returned. Not a coroutine: GDScript
# keeps a function's temporaries (the server among them) until it returns, and a coroutine's
# while its state object lives, so the test's polling (_frame) does not know this server.
func _listening_server_in_array() -> Array:
	var server = new_server()
	check_eq(server.listen(port), OK, "listen")
	return [server]


# Whether every client connected, polling the server in `holder` (the built-in one needs it for
# the handshakes). Not a coroutine either, for the same reason.
func _connected(clients: Array, holder: Array) -> bool:
	for server in holder:
		server.poll()
	for c in clients:
		if not c.has_named("connected"):
			return false
	return true


func _drop_after_main(holder: Array):
	_main_let_go.wait()
	holder.clear()
