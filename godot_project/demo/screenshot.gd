extends Reference
# Screenshots of the demo's GUIs for their test (tests/browser/godot_gui.test.mjs).


# Saves what `viewport` shows as a PNG at `path`; returns save_png's error. Call it once the
# frame to keep has been drawn (after VisualServer's frame_post_draw).
static func save_png(viewport: Viewport, path: String) -> int:
	var image = viewport.get_texture().get_data()
	image.flip_y()  # viewport textures are upside down
	var err = image.save_png(path)
	if err != OK:
		printerr("Cannot save the screenshot %s (error %d)" % [path, err])
	return err
