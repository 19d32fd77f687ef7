extends "res://tests/lib/test_case.gd"
# Every property and method of WebSocketServer (and the WebSocketPeer it hands out) called from
# GDScript: defaults, listen() errors, setters and set_buffers refused while listening, unknown
# peer ids, peer information with a connected stock client, refuse_new_connections.

const UNKNOWN_ID = 123456


func run():
	yield(defaults(), "completed")
	yield(listen_errors(), "completed")
	yield(refused_while_listening(), "completed")
	unknown_peers()
	yield(connected_peer(), "completed")
	yield(refuse_new_connections(), "completed")


func defaults():
	var server = new_server()
	check_eq(server.bind_ip, "*", "bind_ip default")
	check_eq(server.private_key, null, "private_key default")
	check_eq(server.ssl_certificate, null, "ssl_certificate default")
	check_eq(server.ca_chain, null, "ca_chain default")
	if not builtin:
		# handshake_timeout does not exist in stock 3.2.3 (fixed 1 s there).
		check_eq(server.handshake_timeout, 3.0, "handshake_timeout default")
	check(not server.is_listening(), "not listening when new")
	check_eq(server.get_connection_status(), NetworkedMultiplayerPeer.CONNECTION_DISCONNECTED,
			"connection status when new")
	check_eq(server.get_unique_id(), 1, "get_unique_id")
	check_eq(server.refuse_new_connections, false, "refuse_new_connections default")
	# poll() and stop() when not listening: nothing happens, nothing printed, nothing changes.
	var recorded = make_server()
	recorded.poll()
	recorded.stop()
	recorded.poll()
	check_eq(events, [], "no signal from poll() and stop() when not listening")
	check(not recorded.is_listening(), "still not listening after poll() and stop()")
	check_eq(recorded.get_connection_status(), NetworkedMultiplayerPeer.CONNECTION_DISCONNECTED,
			"connection status after poll() and stop() when not listening")
	check_eq(recorded.listen(port), OK, "listen works after poll() and stop() when not listening")
	recorded.stop()
	forget(recorded)

	# Setters before listen() are taken.
	server.bind_ip = "127.0.0.1"
	check_eq(server.bind_ip, "127.0.0.1", "bind_ip set before listen")
	server.bind_ip = "*"
	var crypto := Crypto.new()
	var key: CryptoKey = crypto.generate_rsa(1024)
	var cert: X509Certificate = crypto.generate_self_signed_certificate(key, "CN=localhost")
	server.private_key = key
	server.ssl_certificate = cert
	server.ca_chain = cert
	check(server.private_key == key, "private_key set before listen")
	check(server.ssl_certificate == cert, "ssl_certificate set before listen")
	check(server.ca_chain == cert, "ca_chain set before listen")
	server.private_key = null
	server.ssl_certificate = null
	server.ca_chain = null
	check_eq(server.private_key, null, "private_key cleared")
	if not builtin:
		server.handshake_timeout = 1.5
		check_eq(server.handshake_timeout, 1.5, "handshake_timeout set before listen")
		server.set_handshake_timeout(2)
		check_eq(server.handshake_timeout, 2.0, "set_handshake_timeout(int)")
		server.handshake_timeout = 1.5
		expect_errors_begin("handshake_timeout <= 0", literal("ERROR: WebSocketServer.set_handshake_timeout: ")
				+ "(0|-1) is not a positive number of seconds \\(at most one day\\)$", 2)
		server.handshake_timeout = 0.0
		server.handshake_timeout = -1.0
		expect_errors_end("handshake_timeout <= 0")
		check_eq(server.handshake_timeout, 1.5, "handshake_timeout must stay > 0")
	check_eq(server.set_buffers(16, 16, 16, 16), OK, "set_buffers before listen")
	check_eq(server.set_buffers(64.0, 1024.0, 64.0, 1024.0), OK, "set_buffers with float sizes")
	yield(settle(0.0), "completed")


func listen_errors():
	var server = new_server()
	check_eq(server.listen(port), OK, "listen")
	check(server.is_listening(), "is_listening after listen")
	check_eq(server.get_connection_status(), NetworkedMultiplayerPeer.CONNECTION_CONNECTED,
			"connection status while listening")
	check_eq(server.get_unique_id(), 1, "get_unique_id while listening")

	expect_errors_begin("listen twice", ours_or_stock(
			literal("ERROR: WebSocketServer.listen: already listening; call stop() first"),
			literal("ERROR: listen: Condition \"is_listening()\" is true. Returned: ERR_ALREADY_IN_USE")))
	check_eq(server.listen(port + 1), ERR_ALREADY_IN_USE, "listen while listening")
	expect_errors_end("listen twice")
	check(server.is_listening(), "still listening after the refused listen")

	var other = new_server()
	# Ours says which address and why; stock prints nothing.
	if not builtin:
		expect_errors_begin("port in use", literal("ERROR: WebSocketServer.listen: cannot listen on *:%d: cannot bind the address: Address already in use" % port))
	check_eq(other.listen(port), ERR_ALREADY_IN_USE, "listen on a port in use")
	if not builtin:
		expect_errors_end("port in use")
	check(not other.is_listening(), "not listening after a failed listen")

	server.stop()
	check(not server.is_listening(), "not listening after stop")
	check_eq(server.get_connection_status(), NetworkedMultiplayerPeer.CONNECTION_DISCONNECTED,
			"connection status after stop")
	check_eq(other.listen(port), OK, "the port is free again after stop")
	other.stop()
	check_eq(other.listen(float(port)), OK, "listen(float port)")
	other.stop()

	# Explicit addresses.
	server.bind_ip = "127.0.0.1"
	check_eq(server.listen(port), OK, "listen on 127.0.0.1")
	server.stop()
	server.bind_ip = "*"

	if builtin:
		# Stock refuses an invalid address in the setter (bind_ip stays "*").
		expect_errors_begin("invalid bind_ip (stock)", "^ERROR: (IP_Address: Invalid IP address\\.|set_bind_ip: Condition )", 2)
		server.bind_ip = "not an ip"
		expect_errors_end("invalid bind_ip (stock)")
		check_eq(server.bind_ip, "*", "stock: invalid bind_ip refused by the setter")
	else:
		# Ours: listen() reports it.
		expect_errors_begin("invalid bind_ip", literal("ERROR: WebSocketServer.listen: bind_ip \"not an ip\" is not \"*\" or an IPv4/IPv6 address"))
		server.bind_ip = "not an ip"
		var err = server.listen(port)
		expect_errors_end("invalid bind_ip")
		check_eq(err, ERR_INVALID_PARAMETER, "listen with an invalid bind_ip")
		check(not server.is_listening(), "not listening after an invalid bind_ip")
		server.bind_ip = "*"
	yield(settle(0.0), "completed")


func refused_while_listening():
	var server = new_server()
	check_eq(server.listen(port), OK, "listen")
	var crypto := Crypto.new()
	var key: CryptoKey = crypto.generate_rsa(1024)
	var cert: X509Certificate = crypto.generate_self_signed_certificate(key, "CN=localhost")

	expect_errors_begin("bind_ip while listening", refused_while_listening_error("set_bind_ip"))
	server.bind_ip = "127.0.0.1"
	expect_errors_end("bind_ip while listening")
	check_eq(server.bind_ip, "*", "bind_ip setter refused while listening")

	expect_errors_begin("private_key while listening", refused_while_listening_error("set_private_key"))
	server.private_key = key
	expect_errors_end("private_key while listening")
	check_eq(server.private_key, null, "private_key setter refused while listening")

	expect_errors_begin("ssl_certificate while listening", refused_while_listening_error("set_ssl_certificate"))
	server.ssl_certificate = cert
	expect_errors_end("ssl_certificate while listening")
	check_eq(server.ssl_certificate, null, "ssl_certificate setter refused while listening")

	expect_errors_begin("ca_chain while listening", refused_while_listening_error("set_ca_chain"))
	server.ca_chain = cert
	expect_errors_end("ca_chain while listening")
	check_eq(server.ca_chain, null, "ca_chain setter refused while listening")

	if not builtin:
		expect_errors_begin("handshake_timeout while listening", refused_while_listening_error("set_handshake_timeout"))
		server.handshake_timeout = 7.0
		expect_errors_end("handshake_timeout while listening")
		check_eq(server.handshake_timeout, 3.0, "handshake_timeout setter refused while listening")

	expect_errors_begin("set_buffers while listening", ours_or_stock(
			literal("ERROR: WebSocketServer.set_buffers: cannot change while listening; call stop() first"),
			literal("ERROR: set_buffers: Buffers sizes can only be set before listening or connecting.")))
	check_eq(server.set_buffers(16, 16, 16, 16), FAILED, "set_buffers while listening")
	expect_errors_end("set_buffers while listening")

	server.stop()
	server.bind_ip = "127.0.0.1"
	check_eq(server.bind_ip, "127.0.0.1", "bind_ip setter works again after stop")
	check_eq(server.set_buffers(16, 16, 16, 16), OK, "set_buffers works again after stop")
	yield(settle(0.0), "completed")


func unknown_peers():
	var server = make_server()
	for listening in [false, true]:
		if listening:
			check_eq(server.listen(port), OK, "listen")
		var when = "listening" if listening else "not listening"
		check_eq(server.has_peer(UNKNOWN_ID), false, "has_peer(unknown), " + when)
		check_eq(server.has_peer(1), false, "has_peer(1), " + when)
		check_eq(server.has_peer(0), false, "has_peer(0), " + when)
		var suffix = "" if listening else " (the server is not listening)"
		expect_errors_begin("get_peer_address(unknown)", unknown_peer_error("get_peer_address", UNKNOWN_ID, suffix, "p_peer_id"))
		check_eq(server.get_peer_address(UNKNOWN_ID), "", "get_peer_address(unknown), " + when)
		expect_errors_end("get_peer_address(unknown)")
		expect_errors_begin("get_peer_port(unknown)", unknown_peer_error("get_peer_port", UNKNOWN_ID, suffix, "p_peer_id"))
		check_eq(server.get_peer_port(UNKNOWN_ID), 0, "get_peer_port(unknown), " + when)
		expect_errors_end("get_peer_port(unknown)")
		expect_errors_begin("get_peer(unknown)", unknown_peer_error("get_peer", UNKNOWN_ID, suffix, "p_id"))
		check_eq(server.get_peer(UNKNOWN_ID), null, "get_peer(unknown), " + when)
		expect_errors_end("get_peer(unknown)")
		expect_errors_begin("disconnect_peer(unknown)", unknown_peer_error("disconnect_peer", UNKNOWN_ID, suffix, "p_peer_id"))
		server.disconnect_peer(UNKNOWN_ID, 4000, "nobody")
		expect_errors_end("disconnect_peer(unknown)")
		check_eq(events, [], "no signal for the unknown ids, " + when)
		check(not server.has_peer(UNKNOWN_ID), "has_peer(unknown) still false after disconnect_peer, " + when)
	server.stop()
	forget(server)


func connected_peer():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	var joined = yield(connect_client(), "completed")
	var client = joined[0]
	var id: int = joined[1]

	check(server.has_peer(id), "has_peer(id)")
	check_eq(server.get_peer_address(id), "127.0.0.1", "get_peer_address")
	var remote_port = server.get_peer_port(id)
	check(remote_port > 0 and remote_port < 65536, "get_peer_port %d in 1..65535" % remote_port)
	check(remote_port != port, "get_peer_port is the client's port, not ours")

	var peer = server.get_peer(id)
	check(peer != null, "get_peer(id)")
	if peer == null:
		return
	check(peer is WebSocketPeer or peer.get_class() == "PacketPeerGDNative", "get_peer returns a WebSocketPeer")
	check_eq(peer.get_connected_host(), "127.0.0.1", "peer.get_connected_host")
	check_eq(peer.get_connected_port(), remote_port, "peer.get_connected_port")
	check(peer.is_connected_to_host(), "peer.is_connected_to_host")
	check_eq(peer.get_write_mode(), WebSocketPeer.WRITE_MODE_BINARY, "peer write mode default")
	check_eq(peer.get_available_packet_count(), 0, "peer has no packet yet")
	check(not peer.was_string_packet(), "was_string_packet before any packet")
	# set_no_delay: Godot cannot read TCP_NODELAY back; the peer must go on working either way.
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	peer.set_no_delay(false)
	peer.put_packet("after no_delay false".to_utf8())
	check_eq(yield(client_event(client, "data"), "completed"), ["data", "text", "after no_delay false"],
			"a message after set_no_delay(false)")
	peer.set_no_delay(true)
	peer.put_packet("after no_delay true".to_utf8())
	check_eq(yield(client_event(client, "data"), "completed"), ["data", "text", "after no_delay true"],
			"a message after set_no_delay(true)")
	check(peer.is_connected_to_host(), "still connected after set_no_delay")
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
	if not builtin:
		# get_current_outbound_buffered_amount arrived in 3.3.3; 3.2.3 lacks it.
		check_eq(peer.get_current_outbound_buffered_amount(), 0, "nothing buffered outbound")
	check(server.get_peer(id) != null, "get_peer(id) again")
	# Number arguments convert as for any Godot method: ids parsed from JSON are floats.
	var json_id = parse_json(to_json({"id": id}))["id"]
	check_eq(typeof(json_id), TYPE_REAL, "a JSON id is a float")
	check(server.has_peer(json_id), "has_peer(float id)")
	check(server.get_peer(json_id) != null, "get_peer(float id)")
	check_eq(server.get_peer_port(json_id), remote_port, "get_peer_port(float id)")
	if not builtin:
		# A wrong argument is an error naming the call, and the stock default back (the stock
		# class stops the calling GDScript function instead).
		expect_errors_begin("bad arguments", "^ERROR: WebSocketServer\\.(get_peer|put_packets|poll): ", 4)
		check_eq(server.get_peer("one"), null, "get_peer(String)")
		check_eq(server.callv("get_peer", []), null, "get_peer()")
		check_eq(server.put_packets("x"), null, "put_packets(String)")
		server.callv("poll", [1])
		expect_errors_end("bad arguments")
	peer.set_write_mode(float(WebSocketPeer.WRITE_MODE_TEXT))
	check_eq(peer.get_write_mode(), WebSocketPeer.WRITE_MODE_TEXT, "set_write_mode(float)")
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
	check_eq(peer_zero_argument_calls(peer), "127.0.0.1", "peer methods from a function without calls with arguments")

	server.disconnect_peer(id, 1000, "done")
	yield(client_event(client, "server_close_request"), "completed")
	yield(client_event(client, "closed"), "completed")
	yield(wait_event("client_disconnected"), "completed")
	check(not server.has_peer(id), "has_peer false after disconnect")
	check(not peer.is_connected_to_host(), "a kept WebSocketPeer reports not connected afterwards")
	expect_errors_begin("get_peer(gone)", unknown_peer_error("get_peer", id, "", "p_id"))
	check_eq(server.get_peer(id), null, "get_peer(gone id)")
	expect_errors_end("get_peer(gone)")
	server.stop()
	forget(server)


func refuse_new_connections():
	var server = make_server()
	check_eq(server.listen(port), OK, "listen")
	server.refuse_new_connections = true
	check_eq(server.refuse_new_connections, true, "refuse_new_connections set")
	var client = spawn_client()
	yield(client_event(client, "connection_error", 8.0), "completed")
	check_eq(events, [], "refused client: no server signal")
	server.refuse_new_connections = false
	var joined = yield(connect_client(), "completed")
	client = joined[0]
	check(server.has_peer(joined[1]), "accepts again after refuse_new_connections = false")
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")


# See test_load.gd: GDScript passes a NULL argument array when the calling function makes no call
# with arguments. Keep this function free of calls with arguments.
func peer_zero_argument_calls(peer):
	peer.get_available_packet_count()
	peer.get_write_mode()
	peer.was_string_packet()
	peer.is_connected_to_host()
	peer.get_connected_port()
	return peer.get_connected_host()


# The error a setter prints while listening: ours names the call and what to do.
func refused_while_listening_error(setter: String) -> String:
	return ours_or_stock(
			literal("ERROR: WebSocketServer.%s: cannot change while listening; call stop() first" % setter),
			literal("ERROR: %s: Condition \"is_listening()\" is true." % setter))


# The error for an unknown peer id: ours names the call and the id.
func unknown_peer_error(method: String, id: int, suffix: String, stock_arg: String) -> String:
	return ours_or_stock(
			"^" + literal("ERROR: WebSocketServer.%s: no peer with id %d%s" % [method, id, suffix]) + "$",
			literal("ERROR: %s: Condition \"!has_peer(%s)\" is true." % [method, stock_arg]))
