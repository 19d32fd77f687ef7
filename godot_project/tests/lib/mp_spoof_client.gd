extends "res://tests/lib/client_process.gd"
# A hand-written multiplayer client that cheats: a stock WebSocketClient in plain (NOT
# multiplayer) mode that reads and writes the multiplayer wire format itself, one binary message
# per packet with a 9-byte header (type u8, from i32 LE, to i32 LE), through get_peer(1).
#
#   -s res://tests/lib/mp_spoof_client.gd --url=ws://127.0.0.1:PORT --log=/tmp/file.log [--timeout=S]
#
# Log (one JSON array a line): ["connected"], ["sys", type, id] for SYS_ADD/SYS_DEL/SYS_ID,
# ["data", from, to, size] for other game packets, ["cmd", command], ["sent", count],
# ["closed", was_clean], ["connection_error"], ["exit", code].
#
# The server drives it with MultiplayerAPI.send_bytes(to_json(command).to_utf8(), its id), which
# arrives as a NETWORK_COMMAND_RAW (4) payload. Commands:
#   {"cmd": "spoof", "victim": A, "other": B}: sends, in order,
#     (a) game packets with a forged `from`: from A to 0, to B, to 1, to -B; from 1 (the server)
#         to B; from B to A
#     (b) SYS_ADD(999) and SYS_DEL(A) as if from the server, SYS_ID(A) addressed to B, a
#         SYS_DEL(B) from itself, an unknown type 7
#     (c) short packets: 8 bytes (one short of a header) and 1 byte
#     then the honest barriers: RAW "spoofer->server" to 1 and RAW "spoofer->all" to 0, and logs
#     ["sent", number of packets]. Every forged payload is a RAW packet "forged:<what>", so a
#     MultiplayerAPI that got one would emit network_peer_packet with it.
#   {"cmd": "say", "to": T, "text": S}: one honest RAW packet to T
#   {"cmd": "close", "code": C, "reason": R}: disconnect_from_host(C, R)

const SYS_NONE = 0
const SYS_ADD = 1
const SYS_DEL = 2
const SYS_ID = 3
const NETWORK_COMMAND_RAW = 4  # MultiplayerAPI's first payload byte for send_bytes()

var my_id := 0


func _init():
	read_common_args()
	client.connect("connection_established", self, "_on_connected")
	client.connect("connection_error", self, "_on_error")
	client.connect("connection_closed", self, "_on_closed")
	client.connect("data_received", self, "_on_data")
	# false: no multiplayer mode, the bytes are ours.
	if client.connect_to_url(url, PoolStringArray(), false) != OK:
		_log(["connection_error"])
		_exit(3)


func _idle(_delta):
	if exiting:
		return
	client.poll()
	watchdog_expired()


func _on_connected(_protocol):
	client.get_peer(1).set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
	_log(["connected"])


func _on_data():
	var peer = client.get_peer(1)
	while peer.get_available_packet_count() > 0:
		var pkt: PoolByteArray = peer.get_packet()
		if pkt.size() < 9:
			_log(["short", pkt.size()])
			continue
		var type = pkt[0]
		var from = _i32(pkt, 1)
		var to = _i32(pkt, 5)
		if type != SYS_NONE:
			var id = _i32(pkt, 9) if pkt.size() >= 13 else null
			if type == SYS_ID:
				my_id = id
			_log(["sys", type, id])
		elif from == 1 and pkt.size() > 10 and pkt[9] == NETWORK_COMMAND_RAW:
			var cmd = parse_json(pkt.subarray(10, pkt.size() - 1).get_string_from_utf8())
			_log(["cmd", cmd])
			_command(cmd)
		else:
			_log(["data", from, to, pkt.size()])


func _command(cmd: Dictionary):
	match cmd["cmd"]:
		"spoof":
			var a := int(cmd["victim"])
			var b := int(cmd["other"])
			var sent := 0
			# (a) a forged `from`
			for p in [[a, 0, "A->all"], [a, b, "A->B"], [a, 1, "A->server"], [a, -b, "A->all but B"],
					[1, b, "server->B"], [b, a, "B->A"]]:
				_send(_packet(SYS_NONE, p[0], p[1], _raw("forged:" + p[2])))
				sent += 1
			# (b) system messages only the server may send
			_send(_packet(SYS_ADD, 1, 0, _id_bytes(999)))
			_send(_packet(SYS_DEL, 1, 0, _id_bytes(a)))
			_send(_packet(SYS_ID, 1, b, _id_bytes(a)))
			_send(_packet(SYS_DEL, my_id, 0, _id_bytes(b)))
			_send(_packet(7, my_id, 0, _id_bytes(b)))
			sent += 5
			# (c) shorter than the header
			var short := _packet(SYS_NONE, my_id, 0, PoolByteArray())
			short.resize(8)
			_send(short)
			_send(PoolByteArray([SYS_NONE]))
			sent += 2
			# Honest packets last: once they are through, so is everything above.
			_send(_packet(SYS_NONE, my_id, 1, _raw("spoofer->server")))
			_send(_packet(SYS_NONE, my_id, 0, _raw("spoofer->all")))
			sent += 2
			_log(["sent", sent])
		"say":
			_send(_packet(SYS_NONE, my_id, int(cmd["to"]), _raw(str(cmd["text"]))))
			_log(["sent", 1])
		"close":
			client.disconnect_from_host(int(cmd["code"]), str(cmd["reason"]))


func _packet(type: int, from: int, to: int, payload: PoolByteArray) -> PoolByteArray:
	var pkt := PoolByteArray([type])
	pkt.append_array(_id_bytes(from))
	pkt.append_array(_id_bytes(to))
	pkt.append_array(payload)
	return pkt


# A payload MultiplayerAPI hands to network_peer_packet as `text`.
func _raw(text: String) -> PoolByteArray:
	var payload := PoolByteArray([NETWORK_COMMAND_RAW])
	payload.append_array(text.to_utf8())
	return payload


func _id_bytes(v: int) -> PoolByteArray:
	var u = v & 0xffffffff
	return PoolByteArray([u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff, (u >> 24) & 0xff])


func _i32(pkt: PoolByteArray, at: int) -> int:
	var u = pkt[at] | (pkt[at + 1] << 8) | (pkt[at + 2] << 16) | (pkt[at + 3] << 24)
	return u - 0x100000000 if u >= 0x80000000 else u


func _send(pkt: PoolByteArray):
	var err = client.get_peer(1).put_packet(pkt)
	if err != OK:
		print("[spoof client] put_packet failed: ", err)

