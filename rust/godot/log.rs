//! Errors and warnings printed the way Godot prints its own: `ERROR: <call>: <message>`.

use std::ffi::CString;
use std::fmt::Display;
use std::panic::Location;

use gdnative::log::Site;

/// The call named by `listen()`'s messages, printed by the server class and its TLS setup.
pub(crate) const LISTEN: &str = "WebSocketServer.listen";
pub(crate) const RELOAD_TLS: &str = "WebSocketServer.reload_tls";

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

/// Prints with the Rust file and line under the message, as Godot does for its own. (gdnative's
/// `godot_error!` names no function: `<unset>`.)
fn print(call: &str, message: impl Display, caller: &Location<'_>, printer: fn(Site<'_>, String)) {
    // Neither a call name nor a Rust path has NUL bytes; an empty name would do if one did.
    let file = CString::new(caller.file()).unwrap_or_default();
    let function = CString::new(call).unwrap_or_default();
    // gdnative panics on a NUL in the message, which may quote what a client sent.
    let message = message.to_string().replace('\0', "\\0");
    printer(Site::new(&file, &function, caller.line()), message);
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    thread_local! {
        static PRINTED: RefCell<String> = RefCell::default();
    }

    fn record(_: Site<'_>, message: String) {
        PRINTED.with(|printed| *printed.borrow_mut() = message);
    }

    #[test]
    fn a_nul_in_the_message_is_escaped_not_a_panic() {
        print("X.call", "reason \0 here", Location::caller(), record);
        assert_eq!(PRINTED.with(|p| p.borrow().clone()), "reason \\0 here");
    }
}
