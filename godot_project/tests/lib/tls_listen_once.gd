extends SceneTree
# Listens once on wss:// with certificate and key resources loaded from PEM files, then quits
# with listen()'s Error code: for what the environment can refuse, which a test cannot change
# in its own process (Godot 3.2 has no OS.set_environment). test_tls runs it under `env`.
#
#   -s res://tests/lib/tls_listen_once.gd --cert=PEM --key=PEM --port=N

const GDWS_SERVER_PATH = "res://addons/gdws/websocket_server.gdns"


func _init():
	var options := {}
	for arg in OS.get_cmdline_args():
		if arg.begins_with("--") and "=" in arg:
			options[arg.substr(2, arg.find("=") - 2)] = arg.substr(arg.find("=") + 1)
	var cert := X509Certificate.new()
	var key := CryptoKey.new()
	if cert.load(options.get("cert", "")) != OK or key.load(options.get("key", "")) != OK:
		quit(100)
		return
	var server = load(GDWS_SERVER_PATH).new()
	server.ssl_certificate = cert
	server.private_key = key
	var code = server.listen(int(options.get("port", "0")))
	server.stop()
	quit(code)
