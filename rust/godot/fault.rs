//! Fault injection for the panic-safety test (godot_project/tests/test_faults_panic.gd).

// It proves that a panic inside a net callback is caught, printed, and leaves the game running.
// When the project setting `gdws/testing/inject_panic` exists as the first WebSocketServer or
// WebSocketPeer of the process is made, the objects bind variants of the `get_packet` and
// `put_packet` net callbacks that panic, inside their panic guard, while the setting names
// them (`get_packet`, `put_packet`, or both with a comma): a test switches the fault on and
// off with `ProjectSettings.set_setting`. In any other process (a normal game) the plain
// callbacks are bound: the hook costs nothing per call, and nothing a client sends reaches it.

use std::sync::OnceLock;

use gdnative::api::ProjectSettings;

const SETTING: &str = "gdws/testing/inject_panic";

/// Whether this process binds the callbacks with fault injection points. Read once.
pub(crate) fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| ProjectSettings::godot_singleton().has_setting(SETTING))
}

/// Panics when the setting names `callback` now.
pub(crate) fn panic_if_requested(callback: &str) {
    let requested = ProjectSettings::godot_singleton()
        .get_setting(SETTING)
        .to::<String>()
        .unwrap_or_default();
    if requested.split(',').any(|name| name.trim() == callback) {
        panic!("fault injected into {callback} by the project setting {SETTING}={requested:?}");
    }
}
