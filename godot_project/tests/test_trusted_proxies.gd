extends "res://tests/lib/test_case.gd"
# trusted_proxies (ours: the built-in class has no such property, and every peer's address is
# its TCP source): the property defaults to empty, keeps the good entries of a list and prints an
# error naming each bad one. From the trusted 127.0.0.1, X-Forwarded-For names the client
# (get_peer_address, port 0: the header has none) and so does a PROXY v1 header (address and
# port). From a source not in the list, a PROXY header gets HTTP 400 and a warning.

const UNTRUSTED_BODY = "a PROXY protocol header from 127.0.0.1, which is not in trusted_proxies\n"


func run():
	var server = make_server()
	# get() and set(): the built-in class has no such property.
	check_eq_ours(server.get("trusted_proxies"), PoolStringArray(), "trusted_proxies defaults to empty")
	if not builtin:
		expect_errors_begin("a bad entry", "^" + literal(
				"ERROR: WebSocketServer.set_trusted_proxies: \"localhost\" is not an IPv4/IPv6 "
				+ "address or CIDR range; the entry is left out") + "$")
		server.trusted_proxies = PoolStringArray(["127.0.0.1", "localhost", "::ffff:10.0.0.0/104"])
		expect_errors_end("a bad entry")
		check_eq(server.trusted_proxies, PoolStringArray(["127.0.0.1", "10.0.0.0/8"]),
				"the good entries are kept, in the form the server reads them")
	check_eq(server.listen(port), OK, "listen")

	var forwarded = yield(raw_connect(), "completed")
	forwarded.put_data(upgrade_request("/chat", "X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n"))
	var ev = yield(wait_event("client_connected"), "completed")
	check_eq_ours(server.get_peer_address(ev[1]), "203.0.113.7",
			"get_peer_address is the address X-Forwarded-For names")
	check_eq_ours(server.get_peer_port(ev[1]), 0, "get_peer_port is 0: the header has no port")
	check_eq_ours(server.get_peer(ev[1]).get_connected_host(), "203.0.113.7",
			"the WebSocketPeer's get_connected_host too")
	if builtin:
		return

	var proxied = yield(raw_connect(), "completed")
	proxied.put_data(proxy_v1("203.0.113.8") + upgrade_request())
	ev = yield(wait_event("client_connected"), "completed")
	check_eq(server.get_peer_address(ev[1]), "203.0.113.8", "a PROXY v1 header names the client")
	check_eq(server.get_peer_port(ev[1]), 40000, "and its port")

	server.stop()
	server.trusted_proxies = PoolStringArray(["127.0.0.2"])
	check_eq(server.listen(port), OK, "listen again, trusting 127.0.0.2 only")
	expect_begin("the refused PROXY header", {"warning": ["^" + literal(
			"WARNING: WebSocketServer.poll: connection from 127.0.0.1:") + "[0-9]+" + literal(
			" refused: " + UNTRUSTED_BODY.strip_edges()) + "$", 1]})
	var hostile = yield(raw_connect(), "completed")
	hostile.put_data(proxy_v1("203.0.113.9") + upgrade_request())
	yield(wait_for(self, "_is_closed", [hostile], 3.0), "completed")
	var answer: String = _received[hostile]
	check(answer.begins_with("HTTP/1.1 400 Bad Request\r\n"), "an untrusted PROXY header gets 400, got %s" % to_json(answer.left(40)))
	check(answer.ends_with("\r\n\r\n" + UNTRUSTED_BODY), "with a body that says why")
	yield(expect_end("the refused PROXY header"), "completed")
	check(not _find_event("client_connected"), "and is no peer")
	server.stop()


# A PROXY protocol v1 header naming `source`:40000 as the client of this test's server.
func proxy_v1(source: String) -> PoolByteArray:
	return ("PROXY TCP4 %s 127.0.0.1 40000 %d\r\n" % [source, port]).to_ascii()
