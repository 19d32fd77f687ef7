extends "res://tests/lib/mp_case.gd"
# High-level multiplayer RPCs with three stock clients A, B, C (mp_client.gd): rpc, rpc_id,
# rpc_unreliable(_id), rset, rset_id, rset_unreliable(_id) on remote, master, puppet and sync
# functions and variables (mp_node.gd), server -> clients, clients -> server, and client ->
# client through the server; send_bytes to all, to one and to all but one. /root/MP's network
# master is the server; /root/MP/P<A>'s is client A, so A drives its puppets and others call its
# master functions. Each call is checked where it must land (with its sender, from
# get_rpc_sender_id); at the end every peer broadcasts a last RPC, and once every peer has the last
# one of every other peer, nothing else may have arrived anywhere.

var clients := {}  # id -> ClientProc
var ids := []  # the clients' ids


func run():
	if not start_mp_server():
		return
	var joined = yield(join_clients(3), "completed")
	for pair in joined:
		clients[pair[1]] = pair[0]
		ids.append(pair[1])
	var A: int = ids[0]
	var B: int = ids[1]
	var C: int = ids[2]
	var everyone := [1, A, B, C]

	# /root/MP/P<A>, mastered by A, on every peer before anyone uses it.
	var pa = mp_node.add_player(A)
	var PA := "P%d" % A
	for id in ids:
		command(id, ["add_player", A])
	for id in ids:
		yield(expect_client(clients[id], ["added", A], "P<A> at %d" % id), "completed")
	check(not pa.is_network_master(), "the server is not P<A>'s master")

	# --- Server -> clients
	mp_node.rpc_id(A, "hello", "s:rpc_id A")
	yield(arrives([A], "hello", 1, "s:rpc_id A"), "completed")
	mp_node.rpc("hello", "s:rpc all")
	yield(arrives(ids, "hello", 1, "s:rpc all"), "completed")
	mp_node.rpc("to_puppet", "s:puppet")  # the server is MP's master: its puppets obey
	yield(arrives(ids, "puppet", 1, "s:puppet"), "completed")
	mp_node.rpc("to_master", "s:master")  # master mode, called on the master: runs here only
	yield(arrives([1], "master", 1, "s:master"), "completed")
	mp_node.rpc("to_sync", "s:sync")  # sync: everywhere, the server too
	yield(arrives(everyone, "sync", 1, "s:sync"), "completed")
	pa.rpc_id(A, "to_master", "s:P<A> master")  # A is P<A>'s master
	yield(arrives([A], PA + ":master", 1, "s:P<A> master"), "completed")
	mp_node.rset("puppet_value", 11)
	yield(arrives(ids, "puppet_value", 1, 11), "completed")
	mp_node.rset_id(B, "remote_value", 12)
	yield(arrives([B], "remote_value", 1, 12), "completed")
	mp_node.rset("sync_value", 13)
	yield(arrives(everyone, "sync_value", 1, 13), "completed")
	pa.rset_id(A, "master_value", 14)
	yield(arrives([A], PA + ":master_value", 1, 14), "completed")
	mp_node.rpc_unreliable("hello", "s:unreliable all")
	yield(arrives(ids, "hello", 1, "s:unreliable all"), "completed")
	mp_node.rpc_unreliable_id(C, "hello", "s:unreliable C")
	yield(arrives([C], "hello", 1, "s:unreliable C"), "completed")
	mp_node.rset_unreliable("remote_value", 15)
	yield(arrives(ids, "remote_value", 1, 15), "completed")
	mp_node.rset_unreliable_id(B, "puppet_value", 16)
	yield(arrives([B], "puppet_value", 1, 16), "completed")

	# --- Clients -> server
	client_call(A, ".", "rpc_id", [1, "hello", "A:rpc_id server"])
	yield(arrives([1], "hello", A, "A:rpc_id server"), "completed")
	client_call(B, ".", "rpc_id", [1, "to_master", "B:master server"])
	yield(arrives([1], "master", B, "B:master server"), "completed")
	client_call(C, ".", "rset_id", [1, "master_value", 21])
	yield(arrives([1], "master_value", C, 21), "completed")
	client_call(A, ".", "rset_id", [1, "remote_value", 22])
	yield(arrives([1], "remote_value", A, 22), "completed")
	client_call(B, ".", "rpc_unreliable_id", [1, "hello", "B:unreliable server"])
	yield(arrives([1], "hello", B, "B:unreliable server"), "completed")
	client_call(C, ".", "rset_unreliable_id", [1, "master_value", 23])
	yield(arrives([1], "master_value", C, 23), "completed")
	client_call(A, PA, "rpc_id", [1, "to_puppet", "A:P<A> puppet server"])  # A is P<A>'s master
	yield(arrives([1], PA + ":puppet", A, "A:P<A> puppet server"), "completed")

	# --- Client -> client, through the server
	client_call(B, ".", "rpc_id", [A, "hello", "B:rpc_id A"])
	yield(arrives([A], "hello", B, "B:rpc_id A"), "completed")
	client_call(A, ".", "rpc", ["hello", "A:rpc all"])  # remote: everyone but A
	yield(arrives([1, B, C], "hello", A, "A:rpc all"), "completed")
	client_call(C, ".", "rpc", ["to_sync", "C:sync"])  # sync: C too
	yield(arrives(everyone, "sync", C, "C:sync"), "completed")
	client_call(A, PA, "rpc", ["to_puppet", "A:P<A> puppets"])  # A's puppets: the server, B, C
	yield(arrives([1, B, C], PA + ":puppet", A, "A:P<A> puppets"), "completed")
	client_call(B, PA, "rpc_id", [A, "to_master", "B:P<A> master"])  # the master is A
	yield(arrives([A], PA + ":master", B, "B:P<A> master"), "completed")
	client_call(C, ".", "rset_id", [A, "remote_value", 31])
	yield(arrives([A], "remote_value", C, 31), "completed")
	client_call(A, ".", "rset", ["sync_value", 32])
	yield(arrives(everyone, "sync_value", A, 32), "completed")
	client_call(A, PA, "rset", ["puppet_value", 33])
	yield(arrives([1, B, C], PA + ":puppet_value", A, 33), "completed")
	client_call(C, PA, "rset_id", [A, "master_value", 34])
	yield(arrives([A], PA + ":master_value", C, 34), "completed")
	client_call(B, ".", "rpc_unreliable_id", [C, "hello", "B:unreliable C"])
	yield(arrives([C], "hello", B, "B:unreliable C"), "completed")
	client_call(C, ".", "rpc_unreliable", ["hello", "C:unreliable all"])
	yield(arrives([1, A, B], "hello", C, "C:unreliable all"), "completed")
	client_call(B, ".", "rset_unreliable", ["remote_value", 35])
	yield(arrives([1, A, C], "remote_value", B, 35), "completed")
	client_call(A, ".", "rset_unreliable_id", [C, "remote_value", 36])
	yield(arrives([C], "remote_value", A, 36), "completed")

	# --- Raw bytes (MultiplayerAPI.send_bytes): the wire targets 0, one peer, and -id.
	command(A, ["send_bytes", 0, "A:bytes all"])
	yield(raw_arrives([1, B, C], A, "A:bytes all"), "completed")
	command(B, ["send_bytes", C, "B:bytes C"])
	yield(raw_arrives([C], B, "B:bytes C"), "completed")
	# All but C: the server too (stock does the same), and B, not A (the sender) or C.
	command(A, ["send_bytes", -C, "A:bytes all but C"])
	yield(raw_arrives([1, B], A, "A:bytes all but C"), "completed")
	mp_node.multiplayer.send_bytes("s:bytes all but B".to_utf8(), -B)
	yield(raw_arrives([A, C], 1, "s:bytes all but B"), "completed")

	# --- Last RPCs: every peer sends one to all; once they are everywhere, so is everything
	# sent before them on the same way, and nothing else may have arrived.
	mp_node.rpc("hello", "last")
	for id in ids:
		client_call(id, ".", "rpc", ["hello", "last"])
	for sender in everyone:
		var dest := []
		for id in everyone:
			if id != sender:
				dest.append(id)
		yield(arrives(dest, "hello", sender, "last"), "completed")
	check_eq(mp_node.received, [], "the server got nothing else")
	check_eq(raw_received, [], "the server got no other bytes")
	for id in ids:
		check_eq(client_pending(clients[id], ["got", "raw"]), [], "client %d got nothing else" % id)
	for sig in ["client_connected", "client_disconnected", "data_received"]:
		check_eq(signal_counts[sig], 0, "%s is not emitted in multiplayer mode" % sig)

	yield(stop_server_and_clients(), "completed")


# Waits until every peer in `where` (1: the server) recorded [kind, sender, value].
func arrives(where: Array, kind: String, sender: int, value):
	for id in where:
		var what = "%s from %d with %s at %d" % [kind, sender, to_json(value), id]
		if id == 1:
			yield(expect_server([kind, sender, value], what), "completed")
		else:
			yield(expect_client(clients[id], ["got", kind, sender, value], what), "completed")


# Waits until every peer in `where` got the bytes `text` from `sender` (network_peer_packet).
func raw_arrives(where: Array, sender: int, text: String):
	for id in where:
		var what = "bytes %s from %d at %d" % [to_json(text), sender, id]
		if id == 1:
			yield(expect_server_raw([sender, text], what), "completed")
		else:
			yield(expect_client(clients[id], ["raw", sender, text], what), "completed")
