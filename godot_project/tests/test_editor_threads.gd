extends "res://tests/lib/test_case.gd"
# What the editor does with a script class (make an instance, list and read its properties,
# write them back) starts no thread: gdws's threads exist only between listen() and stop().
# Counts this process's threads in /proc/self/status.


func run():
	if builtin:
		yield(skip("about our class only"), "completed")
	var before = thread_count()
	check(before > 0, "the thread count is readable")

	var server = new_server()
	var peer = load("res://addons/gdws/websocket_peer.gdns").new()
	for object in [server, peer]:
		for property in object.get_property_list():
			var value = object.get(property.name)
			if property.usage & PROPERTY_USAGE_EDITOR and property.name != "script":
				object.set(property.name, value)
	server.handshake_timeout = 5.0
	server.bind_ip = "127.0.0.1"
	check_eq(server.set_buffers(16, 16, 16, 16), OK, "set_buffers before listen")
	check_eq(thread_count(), before, "no thread after new(), property reads and writes")

	check_eq(server.listen(port), OK, "listen")
	check(thread_count() > before, "listen() starts the network threads")
	server.stop()
	# stop() joins the threads; the kernel may list an exiting one for a moment longer.
	yield(wait_until("the thread count to come back after stop()", self, "_threads_are", [before]), "completed")
	check_eq(thread_count(), before, "no thread left after stop()")
	peer = null
	server = null


func _threads_are(count: int) -> bool:
	return thread_count() == count


func thread_count() -> int:
	var file := File.new()
	if file.open("/proc/self/status", File.READ) != OK:
		return -1
	var count = -1
	while not file.eof_reached():
		var line = file.get_line()
		if line.begins_with("Threads:"):
			count = int(line.substr(8).strip_edges())
	file.close()
	return count
