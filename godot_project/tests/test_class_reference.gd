extends "res://tests/lib/test_case.gd"
# The class reference (docs/classes/*.md) matches the classes as they are: what Godot reports
# for the NativeScripts (methods, properties with types and defaults, signals with argument
# names and types) and what the Rust registration declares (argument names, types, optional
# arguments and their defaults, return types, from the #[method] functions). A method,
# property, signal or argument added, removed or renamed without the doc fails here.

const CLASSES = {
	"WebSocketServer": ["res://addons/gdws/websocket_server.gdns", "rust/godot/server.rs"],
	"WebSocketPeer": ["res://addons/gdws/websocket_peer.gdns", "rust/godot/peer.rs"],
}

# Rust types of #[method] arguments and returns, as the doc names them.
const RUST_TYPES = {
	"i64": "int", "f64": "float", "Int": "int", "Real": "float", "bool": "bool", "String": "String", "GodotString": "String",
	"PoolArray<GodotString>": "PoolStringArray", "PoolArray<u8>": "PoolByteArray", "Ref<CryptoKey>": "CryptoKey",
	"Ref<X509Certificate>": "X509Certificate", "Instance<WebSocketPeer, Shared>": "WebSocketPeer",
	"Dictionary": "Dictionary", "VariantArray": "Array",
}
# What `.unwrap_or_default()` gives, per doc type.
const TYPE_DEFAULTS = {"String": "\"\"", "PoolStringArray": "PoolStringArray()", "int": "0",
	"bool": "false", "float": "0.0"}
const VARIANT_TYPES = {TYPE_BOOL: "bool", TYPE_INT: "int", TYPE_REAL: "float", TYPE_STRING: "String",
	TYPE_STRING_ARRAY: "PoolStringArray", TYPE_DICTIONARY: "Dictionary"}


func run():
	if builtin:
		yield(skip("about our classes only"), "completed")
	for name in CLASSES:
		var doc = parse_doc(read_repo_file("docs/classes/%s.md" % name))
		var script = load(CLASSES[name][0])
		check(script is NativeScript, name + " loads")
		compare_with_godot(name, doc, script)
		compare_with_rust(name, doc, read_repo_file(CLASSES[name][1]))


# The doc's sections, as dictionaries keyed by name:
#   properties: name -> [type, default]       (the Properties table)
#   methods: name -> [return type, signature] (the Methods table)
#   signals: name -> "arg: Type, ..."         (### headings under Signals)
#   property_docs: name -> {"Default": ..., "Setter": ..., "Getter": ...}
#   method_docs: name -> true                 (### headings under Method descriptions)
func parse_doc(text: String) -> Dictionary:
	var doc = {"properties": {}, "methods": {}, "signals": {}, "property_docs": {}, "method_docs": {}}
	var section := ""
	var item := ""
	for line in text.split("\n"):
		if line.begins_with("## "):
			section = line.substr(3).strip_edges()
			item = ""
		elif line.begins_with("### "):
			item = line.substr(4).strip_edges()
			match section:
				"Signals":
					var parts = split_signature(item)
					doc.signals[parts[0]] = parts[1]
				"Property descriptions":
					doc.property_docs[item] = {}
				"Method descriptions":
					doc.method_docs[item] = true
		elif line.begins_with("| ") and not line.begins_with("| ---"):
			var cells = []
			for cell in line.split("|"):
				cells.append(cell.strip_edges().replace("`", ""))
			# cells: "", column 1, column 2, ..., ""
			if section == "Properties" and cells[1] != "Type":
				doc.properties[cells[2]] = [cells[1], cells[3]]
			elif section == "Methods" and cells[1] != "Returns":
				doc.methods[split_signature(cells[2])[0]] = [cells[1], cells[2]]
		elif section == "Property descriptions" and item != "" and line.begins_with("- "):
			var field = line.substr(2).split(": ", true, 1)
			if field.size() == 2:
				doc.property_docs[item][field[0]] = field[1].replace("`", "")
	return doc


# "name(args)" -> [name, args]
func split_signature(signature: String) -> Array:
	var open = signature.find("(")
	if open < 0 or not signature.ends_with(")"):
		return [signature, ""]
	return [signature.substr(0, open), signature.substr(open + 1, signature.length() - open - 2)]


# Splits at the commas outside (), <> and [].
func split_top_level(text: String) -> Array:
	var parts = []
	var depth = 0
	var start = 0
	for i in text.length():
		var c = text[i]
		if c in ["(", "<", "["]:
			depth += 1
		elif c in [")", ">", "]"]:
			depth -= 1
		elif c == "," and depth == 0:
			parts.append(text.substr(start, i - start).strip_edges())
			start = i + 1
	var last = text.substr(start).strip_edges()
	if last != "":
		parts.append(last)
	return parts


# The setters and getters the properties' descriptions name: {method name: property}.
func accessor_methods(doc: Dictionary) -> Dictionary:
	var accessors = {}
	for property in doc.property_docs:
		for accessor in ["Setter", "Getter"]:
			if doc.property_docs[property].has(accessor):
				var method = split_signature(doc.property_docs[property][accessor])[0]
				if accessors.has(method):
					check(false, "%s is named by %s and %s" % [method, accessors[method], property])
				accessors[method] = property
	return accessors


func compare_with_godot(name: String, doc: Dictionary, script: NativeScript):
	# Methods: the Methods table plus the properties' setters and getters.
	var documented = doc.methods.keys() + accessor_methods(doc).keys()
	var registered = []
	for method in script.get_script_method_list():
		registered.append(method.name)
	check_eq(sorted(documented), sorted(registered), name + ": documented methods are the registered ones")
	check_eq(sorted(doc.method_docs.keys()), sorted(doc.methods.keys()),
			name + ": every method in the table has a description, and only those")

	# Properties: names, types and defaults.
	var properties = {}
	for property in script.get_script_property_list():
		var type = property["class_name"] if property.type == TYPE_OBJECT else VARIANT_TYPES.get(property.type, "?")
		properties[property.name] = [type, var2str(script.get_property_default_value(property.name))]
	check_eq(sorted(doc.properties.keys()), sorted(properties.keys()), name + ": documented properties are the registered ones")
	for property in properties:
		if doc.properties.has(property):
			check_eq(doc.properties[property], properties[property], "%s.%s: type and default" % [name, property])
	check_eq(sorted(doc.property_docs.keys()), sorted(doc.properties.keys()),
			name + ": every property in the table has a description, and only those")
	for property in doc.property_docs:
		if doc.properties.has(property):
			check_eq(doc.property_docs[property].get("Default", ""), doc.properties[property][1],
					"%s.%s: the description's default is the table's" % [name, property])

	# Signals: names, argument names and types.
	var signals = {}
	for sig in script.get_script_signal_list():
		var args = []
		for arg in sig.args:
			args.append("%s: %s" % [arg.name, VARIANT_TYPES.get(arg.type, "?")])
		signals[sig.name] = PoolStringArray(args).join(", ")
	check_eq(sorted(doc.signals.keys()), sorted(signals.keys()), name + ": documented signals are the registered ones")
	for sig in signals:
		if doc.signals.has(sig):
			check_eq(doc.signals[sig], signals[sig], "%s.%s: signal arguments" % [name, sig])


# The #[method] functions of the Rust source: argument names, types and optional arguments'
# defaults, and return types, against the Methods table (or, for a property's setter and getter,
# the property's description). Plain string scanning: Godot 3.2.3's RegEx prints spurious
# free_static errors.
func compare_with_rust(name: String, doc: Dictionary, source: String):
	var accessors = accessor_methods(doc)
	var found = 0
	var at = source.find("#[method]")
	while at >= 0:
		found += 1
		var fn_at = source.find("fn ", at)
		var open = source.find("(", fn_at)
		var close = matching_paren(source, open)
		var method = source.substr(fn_at + 3, open - fn_at - 3).strip_edges()
		var tail = source.substr(close + 1, source.find("{", close) - close - 1).strip_edges()
		var returns = "void" if not tail.begins_with("->") else rust_type(tail.substr(2).strip_edges())
		var args = []
		for arg in split_top_level(source.substr(open + 1, close - open - 1)):
			if arg == "&self" or arg.begins_with("#[base]"):
				continue
			var optional = arg.begins_with("#[opt]")
			var pair = arg.trim_prefix("#[opt]").strip_edges().split(":", true, 1)
			var arg_name = pair[0].strip_edges()
			var type = rust_type(pair[1].strip_edges())
			var text = "%s: %s" % [arg_name, type]
			if optional:
				text += " = " + rust_default(source, arg_name, type)
			args.append(text)
		var signature = "%s(%s)" % [method, PoolStringArray(args).join(", ")]
		if accessors.has(method):
			pass  # documented with its property, which the Godot comparison checks
		elif check(doc.methods.has(method), "%s.%s is in the Methods table" % [name, method]):
			check_eq(doc.methods[method][1], signature, "%s.%s: signature" % [name, method])
			# The doc says Error where the int returned is one of Godot's Error codes.
			var documented_returns = doc.methods[method][0]
			if documented_returns == "Error":
				documented_returns = "int"
			check_eq(documented_returns, returns, "%s.%s: return type" % [name, method])
		at = source.find("#[method]", close)
	check(found > 0, name + ": #[method] functions found in the Rust source")


# The index of the ")" that closes the "(" at `open`.
func matching_paren(text: String, open: int) -> int:
	var depth = 0
	for i in range(open, text.length()):
		if text[i] == "(":
			depth += 1
		elif text[i] == ")":
			depth -= 1
			if depth == 0:
				return i
	return text.length()


func rust_type(rust: String) -> String:
	if rust.begins_with("Option<") and rust.ends_with(">"):
		rust = rust.substr(7, rust.length() - 8)
	return RUST_TYPES.get(rust, "<unknown Rust type %s>" % rust)


# The default of an optional argument: what `<arg>.unwrap_or(X)` or
# `<arg>[.map(...)].unwrap_or_default()` gives it in the source.
func rust_default(source: String, arg_name: String, type: String) -> String:
	var at = source.find(arg_name + ".")
	while at >= 0:
		var before = source[at - 1] if at > 0 else " "
		var chain = at + arg_name.length()
		if not (before.is_valid_identifier() or before.is_valid_integer()):
			if source.substr(chain, 5) == ".map(":
				chain = matching_paren(source, chain + 4) + 1
			if source.substr(chain, 20) == ".unwrap_or_default()":
				return TYPE_DEFAULTS.get(type, "<no default for type %s>" % type)
			if source.substr(chain, 11) == ".unwrap_or(":
				var open = chain + 10
				return source.substr(open + 1, matching_paren(source, open) - open - 1)
		at = source.find(arg_name + ".", at + 1)
	return "<no default found for %s>" % arg_name


func sorted(list: Array) -> Array:
	var copy = list.duplicate()
	copy.sort()
	return copy
