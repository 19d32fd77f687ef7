tool
extends EditorPlugin
# Run by scripts/harness/addon_test.sh in the editor (godot3-server --editor) on the fresh project with
# the unzipped addon: makes each gdws class, shows it in the Inspector (which reads every
# property), sets its properties the way the Inspector does, then quits. Prints "editor check:
# done" when it got through; the script's log is checked for errors.

const CLASSES = ["res://addons/gdws/websocket_server.gdns", "res://addons/gdws/websocket_peer.gdns"]

var objects := []
var frames := 0


func _enter_tree():
	for path in CLASSES:
		var object = load(path).new()
		objects.append(object)
		get_editor_interface().inspect_object(object)
		for property in object.get_property_list():
			if property.usage & PROPERTY_USAGE_EDITOR and property.name != "script":
				object.set(property.name, object.get(property.name))
	set_process(true)


# A few frames for the Inspector to draw the last object, then quit.
func _process(_delta):
	frames += 1
	if frames == 5:
		get_editor_interface().inspect_object(null)
		objects.clear()
		print("editor check: done")
		get_tree().quit()
