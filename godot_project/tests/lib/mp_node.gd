extends Node
# The node at /root/MP on the server and in every multiplayer client (mp_client.gd), and its
# children /root/MP/P<id> (add_player), whose network master is client <id> instead of the
# server. Every RPC and rset that lands on one of them is recorded in the MP node's `received` as
# [kind, sender, value]: kind is the function or property name ("hello", "master", "puppet",
# "sync", "remote_value", ...), prefixed with "P<id>:" on a player node; sender is
# get_rpc_sender_id() (the peer's own id for the local half of a sync call).
# `command` lets the server drive a client (see mp_client.gd).

signal command_received(cmd)

var received := []  # [kind, sender, value]
var sink: Node = self  # where a player node records
var tag := ""  # "P<id>:" on a player node

# rset targets, one per mode. The setters record the assignment.
remote var remote_value setget _set_remote_value
master var master_value setget _set_master_value
puppet var puppet_value setget _set_puppet_value
sync var sync_value setget _set_sync_value


remote func hello(message):
	_record("hello", message)


master func to_master(message):
	_record("master", message)


puppet func to_puppet(message):
	_record("puppet", message)


# `sync` is Godot 3's name for remotesync: the caller runs it too.
sync func to_sync(message):
	_record("sync", message)


remote func command(cmd):
	emit_signal("command_received", cmd)


# Adds /root/MP/P<id>, mastered by peer <id>; every peer needs it before RPCs use it.
func add_player(id: int) -> Node:
	var player = get_script().new()
	player.name = "P%d" % id
	player.sink = self
	player.tag = player.name + ":"
	player.set_network_master(id)
	add_child(player)
	return player


func has_received() -> bool:
	return not received.empty()


func _set_remote_value(v):
	remote_value = v
	_record("remote_value", v)


func _set_master_value(v):
	master_value = v
	_record("master_value", v)


func _set_puppet_value(v):
	puppet_value = v
	_record("puppet_value", v)


func _set_sync_value(v):
	sync_value = v
	_record("sync_value", v)


func _record(kind: String, value):
	sink.received.append([tag + kind, get_tree().get_rpc_sender_id(), value])
