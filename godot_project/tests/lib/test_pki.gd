extends Reference
# A test PKI made with the openssl CLI at run time, in a directory of its own under $TMPDIR: a root
# CA and an intermediate CA (ECDSA P-256), and server certificates for localhost and 127.0.0.1
# signed by the intermediate. Nothing is kept: remove() deletes every file.
#
#   var pki = TestPki.new()
#   var leaf = pki.leaf("rsa")    # {"crt": path, "key": path (PKCS#8), "fullchain": path}
#   pki.root_crt, pki.inter_crt   # paths
#   pki.remove()

var dir := ""
var root_crt := ""
var inter_crt := ""
var ok := true
var _count := 0


func _init():
	var tmp = OS.get_environment("TMPDIR")
	if tmp == "":
		tmp = "/tmp"
	dir = "%s/gdws_pki_%d_%d" % [tmp, OS.get_process_id(), OS.get_ticks_usec()]
	Directory.new().make_dir_recursive(dir)
	root_crt = path("root.crt")
	inter_crt = path("inter.crt")
	write(path("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
	write(path("leaf.ext"), "basicConstraints=critical,CA:FALSE\n" +
			"keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
			"subjectAltName=DNS:localhost,IP:127.0.0.1\n")
	openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-keyout", path("root.key"), "-out", root_crt, "-subj", "/CN=gdws test root",
			"-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
			"-addext", "keyUsage=critical,keyCertSign,cRLSign"])
	_sign("inter", "/CN=gdws test intermediate", "ec", path("root.crt"), path("root.key"), "ca.ext")


# A new server key ("rsa" or "ec", PKCS#8) and certificate for localhost signed by the
# intermediate. Returns the paths: "crt", "key", "fullchain" (certificate then intermediate).
func leaf(kind: String) -> Dictionary:
	_count += 1
	var name = "leaf%d" % _count
	_sign(name, "/CN=localhost", kind, inter_crt, path("inter.key"), "leaf.ext")
	var fullchain = path(name + "_fullchain.crt")
	write(fullchain, read(path(name + ".crt")) + read(inter_crt))
	return {"crt": path(name + ".crt"), "key": path(name + ".key"), "fullchain": fullchain}


# The key at `key_path` in OpenSSL's traditional format: SEC1 (EC PRIVATE KEY) for "ec", PKCS#1
# (RSA PRIVATE KEY) for "rsa". Returns the new file's path.
func traditional_key(key_path: String) -> String:
	var out = key_path.get_basename() + "_traditional.key"
	openssl(["pkey", "-in", key_path, "-traditional", "-out", out])
	return out


func path(name: String) -> String:
	return dir.plus_file(name)


func write(file_path: String, text: String):
	var f := File.new()
	f.open(file_path, File.WRITE)
	f.store_string(text)
	f.close()


func read(file_path: String) -> String:
	var f := File.new()
	if f.open(file_path, File.READ) != OK:
		return ""
	var text = f.get_as_text()
	f.close()
	return text


func openssl(args: Array) -> bool:
	var output := []
	var code = OS.execute("openssl", args, true, output, true)
	if code != 0:
		ok = false
		print("FAIL: openssl %s exited with %d: %s" % [PoolStringArray(args).join(" "), code,
				PoolStringArray(output).join("")])
	return code == 0


func remove():
	var d := Directory.new()
	if d.open(dir) == OK:
		d.list_dir_begin(true, true)
		var name = d.get_next()
		while name != "":
			d.remove(name)
			name = d.get_next()
		d.list_dir_end()
	d.remove(dir)


func _sign(name: String, subject: String, kind: String, ca_crt: String, ca_key: String, ext: String):
	var key_args = ["-newkey", "rsa:2048"] if kind == "rsa" else \
			["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
	openssl(["req"] + key_args + ["-nodes", "-keyout", path(name + ".key"),
			"-out", path(name + ".csr"), "-subj", subject])
	openssl(["x509", "-req", "-in", path(name + ".csr"), "-CA", ca_crt, "-CAkey", ca_key,
			"-set_serial", str(1000 + _count + randi() % 100000), "-days", "2",
			"-extfile", path(ext), "-out", path(name + ".crt")])
