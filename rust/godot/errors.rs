//! Engine errors as the Godot `Error` codes the stock class returns.

use gdnative::core_types::GodotError;

use gdws_engine::{ListenError, SendError, TlsError, VerifyError};

pub(crate) fn listen_error_code(error: &ListenError) -> GodotError {
    match error {
        ListenError::Bind(_) => GodotError::AlreadyInUse,
        ListenError::CantCreate(_) | ListenError::Runtime(_) => GodotError::CantCreate,
    }
}

/// A refused send in words for the game's log: the engine's, with what to do about a full
/// queue.
pub(crate) fn describe_send_error(error: &SendError) -> String {
    match error {
        SendError::QueueFull { .. } => format!("{error}; raise the limit with set_buffers()"),
        other => other.to_string(),
    }
}

pub(crate) fn send_error_code(error: &SendError) -> GodotError {
    match error {
        SendError::NotConnected => GodotError::Failed,
        SendError::QueueFull { .. } => GodotError::OutOfMemory,
        SendError::InvalidUtf8 => GodotError::InvalidParameter,
    }
}

/// ERR_DOES_NOT_EXIST when no client waits for the answer, ERR_INVALID_PARAMETER for a
/// rejection's bad status or reason.
pub(crate) fn verify_error_code(error: &VerifyError) -> GodotError {
    match error {
        VerifyError::NotWaiting(_) => GodotError::DoesNotExist,
        VerifyError::InvalidStatus(_) | VerifyError::ReasonTooLong(_) => {
            GodotError::InvalidParameter
        }
    }
}

/// The Godot `Error` for material that does not work: ERR_INVALID_DATA when it cannot be read
/// as a certificate or key at all, ERR_INVALID_PARAMETER when it reads but does not work (the
/// key does not match, the certificate expired).
pub(crate) fn tls_error_code(error: &TlsError) -> GodotError {
    if error.is_unreadable() {
        GodotError::InvalidData
    } else {
        GodotError::InvalidParameter
    }
}

/// The `Error` value a script method returns.
pub(crate) fn to_code(result: Result<(), GodotError>) -> i64 {
    match result {
        Ok(()) => 0,
        Err(e) => e as i64,
    }
}
