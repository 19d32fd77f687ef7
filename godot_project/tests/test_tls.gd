extends "res://tests/lib/test_case.gd"
# TLS (wss://): on when both private_key and ssl_certificate are set. A stock client that checks
# the certificate and the host name connects and exchanges messages; a plain ws:// client is
# refused; a key alone does not turn TLS on.


func run():
	var crypto := Crypto.new()
	var key: CryptoKey = crypto.generate_rsa(2048)
	var cert: X509Certificate = crypto.generate_self_signed_certificate(key, "CN=localhost,O=gdws,C=IT")
	var cert_path = temp_path("cert.crt")
	check_eq(cert.save(cert_path), OK, "save the certificate for the client")

	var server = make_server()
	server.private_key = key
	server.ssl_certificate = cert
	check_eq(server.listen(port), OK, "listen with TLS")

	# Verified connection (certificate and host name "localhost").
	var client = spawn_client({"scheme": "wss", "host": "localhost", "trusted_cert": cert_path, "echo": true})
	var ev = yield(next_event(), "completed")
	check_eq([ev[0], ev[2]], ["client_connected", ""], "TLS client connects")
	var id = ev[1]
	yield(client_event(client, "connected"), "completed")
	check(server.get_peer_address(id) in ["127.0.0.1", "::1"], "TLS peer address is local")
	var peer = server.get_peer(id)
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	peer.put_packet("over TLS".to_utf8())
	check_eq(yield(client_event(client, "data"), "completed"), ["data", "text", "over TLS"], "client gets text over TLS")
	yield(wait_event("data_received"), "completed")
	check_eq(peer.get_packet().get_string_from_utf8(), "over TLS", "echo over TLS")
	var big := PoolByteArray()
	big.resize(40000)
	for i in big.size():
		big[i] = i % 251
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_BINARY)
	peer.put_packet(big)
	yield(client_event(client, "data"), "completed")
	yield(wait_event("data_received"), "completed")
	check(peer.get_packet() == big, "40 KB binary echo over TLS")
	server.disconnect_peer(id, 4001, "tls bye")
	ev = yield(client_event(client, "server_close_request"), "completed")
	check_eq(ev[1], 4001, "close code over TLS")
	yield(client_event(client, "closed"), "completed")
	yield(wait_event("client_disconnected"), "completed")

	# Without verification, by address.
	client = spawn_client({"scheme": "wss", "insecure": true})
	ev = yield(wait_event("client_connected"), "completed")
	yield(client_event(client, "connected"), "completed")
	server.disconnect_peer(ev[1])
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
	yield(wait_event("client_disconnected"), "completed")

	# A plain ws:// client gets nowhere; the server emits nothing.
	expect_errors_begin("plain client on a TLS server")
	client = spawn_client()
	yield(client_event(client, "connection_error", 8.0), "completed")
	expect_errors_end("plain client on a TLS server", 0)
	check_eq(events, [], "plain client on a TLS server: no server signal")
	server.stop()

	# A private key alone does not turn TLS on: a plain client connects.
	server.ssl_certificate = null
	check_eq(server.listen(port), OK, "listen with a key and no certificate")
	client = spawn_client()
	ev = yield(wait_event("client_connected"), "completed")
	yield(client_event(client, "connected"), "completed")
	server.stop()
	yield(client_event(client, "closed", DEFAULT_TIMEOUT, ["server_close_request"]), "completed")
	Directory.new().remove(cert_path)


func temp_path(name: String) -> String:
	var tmp = OS.get_environment("TMPDIR")
	return "%s/gdws_%d_%s" % ["/tmp" if tmp == "" else tmp, OS.get_process_id(), name]
