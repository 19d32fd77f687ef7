use gdnative::prelude::*;
fn init(_handle: InitHandle) {}
godot_init!(init);
