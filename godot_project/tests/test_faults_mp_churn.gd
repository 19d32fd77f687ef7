extends "res://tests/lib/test_case.gd"
# Stuck peers under multiplayer join/leave churn, in a Godot process (issue 13): 20 peers that
# never read, while another joins and leaves in a loop. Each join and leave is a peer-list update
# for every stuck peer; ours bounds them (the output limits plus one per peer plus
# SYSTEM_RESERVE_PACKETS) and closes a peer past that with 1008 and one warning, so the Godot
# process's RSS stays bounded. The built-in server (3.2.3) keeps them all and grows.
#
# What a stuck peer does not read must land in the server process, not in the kernel: the test
# runs itself again in a network namespace of its own (unshare -n, root) whose TCP buffers are
# 4 KiB, and prints that run's output as its own (the runner checks it as usual).

const CLIENTS_SCRIPT = "res://tests/lib/mp_churn_clients.gd"
const IN_NETNS = "GDWS_TEST_IN_NETNS"
const STUCK = 20
# set_buffers(): the stock input, a small output (4 KiB, 16 packets) so the bound comes soon.
const OUT_KB = 4
const OUT_PACKETS = 16
# The engine's constants the bound derives from (rust/engine/src/runtime/queue.rs,
# proto/upgrade.rs): the reserve of peer-list updates, tungstenite's write buffer beside the
# output limit, and a generous heap cost per queued packet (its channel slot and its share).
const SYSTEM_RESERVE_PACKETS = 256
const WRITE_BUFFER = 16 * 1024 + 1024
const HEAP_PER_QUEUED_PACKET = 256
# The process's own noise beside the stuck peers: the churn's connections, allocator slack.
const RSS_SLACK_KIB = 8 * 1024
const CHURN_SECONDS = 25.0
const WARNING = "^WARNING: WebSocketServer\\.poll: peer [0-9]+ cannot keep up: a peer list update \\(SYS_ADD/SYS_DEL\\) of 13 bytes did not fit in its outbound queue \\([0-9]+ bytes in [0-9]+ packets queued\\); closing with 1008$"

const STOCK_SEND_SYS_ERROR = "^ERROR: _send_sys: Condition \"!p_peer->is_connected_to_host\\(\\)\" is true\\.$"

var stuck_ids := []
var closed := {}
var rss_peak_kib := 0


func run():
	if OS.get_environment(IN_NETNS) == "":
		return run_in_netns()
	var server = make_server()
	check_eq(server.set_buffers(64, 1024, OUT_KB, OUT_PACKETS), OK, "set_buffers")
	check_eq(server.listen(port, PoolStringArray(), true), OK, "listen in multiplayer mode")
	var url = "--url=ws://127.0.0.1:%d/" % port
	var stuck = spawn_script(CLIENTS_SCRIPT, [url, "--stuck=%d" % STUCK, "--timeout=40"])
	for i in STUCK:
		var ev = yield(wait_event("peer_connected"), "completed")
		stuck_ids.append(int(ev[1]))
	yield(client_find(stuck, "stuck"), "completed")
	events.clear()
	var before_kib := rss_kib()
	rss_peak_kib = before_kib

	# The built-in server prints an ERROR for every peer-list update to a peer already gone.
	expect_begin("every stuck peer is closed, with one warning", ours_or_stock({"warning": [WARNING, STUCK]},
			{"error": [STOCK_SEND_SYS_ERROR, 1]}))
	var churn = spawn_script(CLIENTS_SCRIPT, [url, "--churn", "--timeout=40"])
	var all_closed = yield(wait_for(self, "_all_closed", [], CHURN_SECONDS), "completed")
	yield(expect_end("every stuck peer is closed, with one warning"), "completed")
	var cycles := 0
	while churn.has_named("cycles"):
		cycles = int(churn.take_named("cycles")[1])
	var growth: int = rss_peak_kib - before_kib
	print("mp churn: %d stuck peers, %d closed after at least %d join/leave cycles; RSS %d KiB -> peak +%d KiB"
			% [STUCK, closed.size(), cycles, before_kib, growth])
	check_ours(all_closed, "every stuck peer is closed within %.0f s of churn" % CHURN_SECONDS)
	if not builtin:
		var queue := OUT_PACKETS + STUCK + 2 + SYSTEM_RESERVE_PACKETS
		var bound_kib := (STUCK * (WRITE_BUFFER + OUT_KB * 1024 + queue * HEAP_PER_QUEUED_PACKET)) / 1024 + RSS_SLACK_KIB
		check(growth <= bound_kib, "RSS grew by %d KiB, within %d KiB" % [growth, bound_kib])
		var log_text := _own_log()
		for id in stuck_ids:
			check_eq(log_text.count("peer %d cannot keep up" % id), 1, "one warning for stuck peer %d" % id)
	server.stop()


func _all_closed() -> bool:
	rss_peak_kib = int(max(rss_peak_kib, rss_kib()))
	for ev in events:
		if ev[0] == "peer_disconnected" and int(ev[1]) in stuck_ids:
			closed[int(ev[1])] = true
	events.clear()
	return closed.size() == STUCK


# This process's resident memory (VmRSS), in KiB.
func rss_kib() -> int:
	var f := File.new()
	if f.open("/proc/self/status", File.READ) != OK:
		return 0
	var text := f.get_as_text()
	f.close()
	for line in text.split("\n"):
		if line.begins_with("VmRSS:"):
			return int(line.substr(6).strip_edges().split(" ")[0])
	return 0


# Runs this test again in a network namespace with 4 KiB TCP buffers
# (scripts/harness/small_tcp_buffers.sh), its output to a file (so that its own log reads back,
# as expect_end() needs), then prints that output and exits with its exit code.
func run_in_netns():
	var output_path := OS.get_environment("TMPDIR")
	if output_path == "":
		output_path = "/tmp"
	output_path = output_path.plus_file("gdws_mp_churn_%d.log" % OS.get_process_id())
	var repo := ProjectSettings.globalize_path("res://").plus_file("..")
	# OS.execute() runs a blocking command through a shell, each argument in double quotes:
	# none of these has a quote or a dollar sign.
	var args := [repo.plus_file("scripts/harness/small_tcp_buffers.sh"), "--output=" + output_path,
			"env", IN_NETNS + "=1", OS.get_executable_path(), "--verbose",
			"--path", ProjectSettings.globalize_path("res://"), "-s", get_script().resource_path,
			"--port=%d" % port]
	if builtin:
		args.append("--builtin")
	var code := OS.execute("bash", args, true)
	var f := File.new()
	if f.open(output_path, File.READ) == OK:
		print(f.get_as_text())
		f.close()
		Directory.new().remove(output_path)
	else:
		print("FAIL: the run in a network namespace wrote no output (exit code %d)" % code)
		code = 1
	_finished = true
	quit(code)
	yield(self, "_never")
