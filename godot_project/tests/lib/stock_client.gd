extends Reference
# A stock Godot WebSocketClient in the test's own process (add it to _pollables so it is polled
# every frame). Records what it receives: a String for a text message, a PoolByteArray for a
# binary one, so a check on the type tells which kind came back.

var ws := WebSocketClient.new()
var received := []
var connected := false
var failed := false
var closed := false


func _init(url: String):
	ws.connect("connection_established", self, "_on_established")
	ws.connect("connection_error", self, "_on_error")
	ws.connect("connection_closed", self, "_on_closed")
	ws.connect("data_received", self, "_on_data")
	ws.connect_to_url(url)


func poll():
	ws.poll()


# Sends a String (as UTF-8) or a PoolByteArray, as a text or binary message.
func send(data, mode := WebSocketPeer.WRITE_MODE_TEXT):
	ws.get_peer(1).set_write_mode(mode)
	ws.get_peer(1).put_packet(data.to_utf8() if data is String else data)


func has_message() -> bool:
	return not received.empty()


func has_received(count: int) -> bool:
	return received.size() >= count


# The connection attempt ended: connected, or failed.
func done() -> bool:
	return connected or failed


func is_closed() -> bool:
	return closed


func _on_established(_protocol):
	connected = true


func _on_error():
	failed = true


func _on_closed(_clean):
	closed = true


func _on_data():
	var peer = ws.get_peer(1)
	while peer.get_available_packet_count() > 0:
		var packet = peer.get_packet()
		received.append(packet.get_string_from_utf8() if peer.was_string_packet() else packet)
