extends "res://tests/lib/client_process.gd"
# Raw TCP WebSocket clients for the multiplayer churn test (test_faults_mp_churn.gd), in their
# own headless Godot process:
#
#   -s res://tests/lib/mp_churn_clients.gd --url=ws://127.0.0.1:PORT/ --log=FILE
#       (--stuck=N | --churn) [--timeout=S]
#
# --stuck=N opens N connections, sends each the upgrade request and, once the answer starts
# coming, never reads again: stuck peers, whose queues fill with the server's peer-list updates.
# --churn joins and leaves in a loop for as long as it runs: connect, upgrade, wait for the
# answer, close.
# Log (one JSON array a line): ["stuck", N] once the N have their answer; ["cycles", k] every
# 100 join/leave cycles; ["exit", code].

const REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
		+ "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
# How long one frame may spend on the churn.
const CHURN_SLICE_MS = 20

var host := ""
var port := 0
var stuck_wanted := 0
var churn := false
var stuck := []  # connections given up on reading, kept open
var pending := []  # [connection, request sent]
var cycles := 0
var _current = null  # the churn's connection: [connection, request sent]


func _init():
	for arg in read_common_args():
		if arg.begins_with("--stuck="):
			stuck_wanted = int(arg.substr(8))
		elif arg == "--churn":
			churn = true
	var address = url.trim_prefix("ws://").trim_suffix("/").split(":")
	host = address[0]
	port = int(address[1])
	for i in stuck_wanted:
		pending.append(_open())


func _open() -> Array:
	var connection := StreamPeerTCP.new()
	if connection.connect_to_host(host, port) != OK:
		_exit(3)
	return [connection, false]


# Advances one connection through its upgrade: true once the answer is coming (nothing of it
# is read).
func _step(entry: Array) -> bool:
	var connection: StreamPeerTCP = entry[0]
	var status = connection.get_status()
	if status == StreamPeerTCP.STATUS_ERROR or status == StreamPeerTCP.STATUS_NONE:
		_exit(4)
		return false
	if status != StreamPeerTCP.STATUS_CONNECTED:
		return false
	if not entry[1]:
		connection.put_data(REQUEST.to_ascii())
		entry[1] = true
	return connection.get_available_bytes() > 0


func _idle(_delta):
	if exiting or watchdog_expired():
		return
	if not pending.empty():
		for entry in pending.duplicate():
			if _step(entry):
				pending.erase(entry)
				stuck.append(entry[0])
		if pending.empty():
			_log(["stuck", stuck.size()])
	if not churn:
		return
	var end := OS.get_ticks_msec() + CHURN_SLICE_MS
	while OS.get_ticks_msec() < end and not exiting:
		if _current == null:
			_current = _open()
		if _step(_current):
			_current[0].disconnect_from_host()
			_current = null
			cycles += 1
			if cycles % 100 == 0:
				_log(["cycles", cycles])
