# Sourced by the scripts: the environment every build and Godot run uses.
export PATH="$HOME/.cargo/bin:$PATH"
# The Godot the `custom-godot` feature generates bindings from, and the one the tests run.
export GODOT_BIN="${GODOT_BIN:-$(command -v godot3-server || echo /usr/bin/godot3-server)}"
# Godot prints locale errors under C/C.UTF-8.
export LANG=en_US.UTF-8
