//! The ways a server call can fail. Each variant says what the caller can do about it.

use std::fmt;
use std::io;

use crate::packet::PeerId;
use crate::proto::close::MAX_REASON_BYTES;
use crate::runtime::verification::{MAX_REJECT_REASON_BYTES, REJECT_STATUSES};

/// Why `Server::listen` failed.
#[derive(Debug)]
pub enum ListenError {
    /// The socket could not be created or set up (out of descriptors, no such family).
    CantCreate(io::Error),
    /// The address could not be bound or listened on: usually a port in use, or one the
    /// process may not use.
    Bind(io::Error),
    /// The background runtime (its threads) could not start.
    Runtime(io::Error),
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CantCreate(e) => write!(f, "cannot create the listening socket: {e}"),
            Self::Bind(e) => write!(f, "cannot bind the address: {e}"),
            Self::Runtime(e) => write!(f, "cannot start the network threads: {e}"),
        }
    }
}

impl std::error::Error for ListenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CantCreate(e) | Self::Bind(e) | Self::Runtime(e) => Some(e),
        }
    }
}

/// Why a packet was not queued for a peer. Nothing was sent; the connection is kept.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// The peer is closing or gone.
    NotConnected,
    /// The peer's outbound queue would pass its byte or message limit.
    QueueFull {
        queued_bytes: usize,
        queued_packets: usize,
        packet: usize,
    },
    /// A text message that is not valid UTF-8.
    InvalidUtf8,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConnected => write!(f, "the peer is not connected"),
            Self::QueueFull {
                queued_bytes,
                queued_packets,
                packet,
            } => write!(
                f,
                "the outbound queue is full ({queued_bytes} bytes in {queued_packets} packets \
                 queued, {packet} more bytes do not fit)"
            ),
            Self::InvalidUtf8 => write!(f, "a text packet must be valid UTF-8"),
        }
    }
}

impl std::error::Error for SendError {}

/// Why a close was not started.
#[derive(Debug, PartialEq, Eq)]
pub enum CloseError {
    /// The peer is already closing or gone.
    NotConnected,
    /// Codes 1004-1006, 1015 and anything outside 1000-4999 may not be sent.
    InvalidCode(i64),
    /// A close reason has at most `MAX_REASON_BYTES` (123) bytes.
    ReasonTooLong(usize),
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConnected => write!(f, "the peer is already closing or gone"),
            Self::InvalidCode(code) => write!(
                f,
                "close code {code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)"
            ),
            Self::ReasonTooLong(len) => {
                write!(
                    f,
                    "the close reason has {len} bytes, at most {MAX_REASON_BYTES} are allowed"
                )
            }
        }
    }
}

impl std::error::Error for CloseError {}

/// Why an answer to a held request (`Server::accept_client`, `reject_client`) was not given.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// No request held as this id waits for an answer: the id is unknown, the request was
    /// answered already, or its client left or ran out of time (or the server is stopping).
    NotWaiting(PeerId),
    /// A rejection's status must be an HTTP error status, 400-599.
    InvalidStatus(i64),
    /// A rejection's reason has at most `MAX_REJECT_REASON_BYTES` (1024) bytes.
    ReasonTooLong(usize),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotWaiting(id) => write!(
                f,
                "no client waits for verification as id {id} (unknown id, answered already, \
                 or the client left or ran out of handshake_timeout)"
            ),
            Self::InvalidStatus(status) => write!(
                f,
                "status {status} is not an HTTP error status ({}-{})",
                REJECT_STATUSES.start(),
                REJECT_STATUSES.end()
            ),
            Self::ReasonTooLong(len) => write!(
                f,
                "the reason has {len} bytes, at most {MAX_REJECT_REASON_BYTES} are allowed"
            ),
        }
    }
}

impl std::error::Error for VerifyError {}
