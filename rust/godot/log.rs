//! Errors and warnings printed the way Godot prints its own: `ERROR: <call>: <message>` with
//! the Rust file and line under it. (gdnative's `godot_error!` names no function: `<unset>`.)

use std::ffi::CString;
use std::fmt::Display;
use std::panic::Location;

use gdnative::log::Site;

/// Prints a Godot error for `call` (e.g. `"WebSocketServer.listen"`).
#[track_caller]
pub(crate) fn error(call: &str, message: impl Display) {
    print(call, message, Location::caller(), gdnative::log::error);
}

/// Prints a Godot warning for `call`.
#[track_caller]
pub(crate) fn warn(call: &str, message: impl Display) {
    print(call, message, Location::caller(), gdnative::log::warn);
}

fn print<M: Display>(call: &str, message: M, caller: &Location<'_>, printer: fn(Site<'_>, M)) {
    // Neither a call name nor a Rust path has NUL bytes; an empty name would do if one did.
    let file = CString::new(caller.file()).unwrap_or_default();
    let function = CString::new(call).unwrap_or_default();
    printer(Site::new(&file, &function, caller.line()), message);
}
