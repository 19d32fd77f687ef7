extends Node
# The node at /root/MP on the server and in every multiplayer client (mp_client.gd): RPCs land
# here. `hello` records who sent what; `command` lets the server drive a client.

signal command_received(cmd)

var received := []  # [sender id, message]


remote func hello(message):
	received.append([get_tree().get_rpc_sender_id(), message])


remote func command(cmd):
	emit_signal("command_received", cmd)


func has_received() -> bool:
	return not received.empty()
