//! Requests held for the game's verdict (`ServerConfig::verify_clients`). A valid upgrade
//! request gets the id its client will have as a peer, reserved without announcing a join; the
//! main thread hears `VerifyRequest`, and the connection's own task waits (no thread of its
//! own, nothing polled) for the first of: the game's answer (`Server::accept_client`,
//! `reject_client`), the handshake deadline (503), the client leaving, or the server stopping
//! (503). Only an accepted client gets its 101 and becomes a peer.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::http::StatusCode;

use super::admission::RETRY_AFTER_SECONDS;
use super::connection::run_peer;
use super::context::{Event, OpenSocket, ServerContext};
use super::handshake::{handshake_failed, refuse, Accepted};
use super::queue::Route;
use super::transport::Transport;
use crate::error::VerifyError;
use crate::packet::PeerId;
use crate::proto::upgrade::{refusal, service_unavailable};

/// The statuses a game may refuse a client with: the HTTP error statuses.
pub const REJECT_STATUSES: RangeInclusive<i64> = 400..=599;
/// The longest reason (the body of the refusal) a game may give `reject_client`: a sentence,
/// not a page.
pub const MAX_REJECT_REASON_BYTES: usize = 1024;

/// The game's answer to a held request.
#[derive(Debug)]
pub(crate) enum Answer {
    Accept,
    Reject { status: StatusCode, reason: String },
}

impl Answer {
    /// A rejection with `status` (400-599) and `reason` as the body, if both are allowed.
    pub fn reject(status: i64, reason: &str) -> Result<Self, VerifyError> {
        let status = u16::try_from(status)
            .ok()
            .filter(|_| REJECT_STATUSES.contains(&status))
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or(VerifyError::InvalidStatus(status))?;
        if reason.len() > MAX_REJECT_REASON_BYTES {
            return Err(VerifyError::ReasonTooLong(reason.len()));
        }
        Ok(Self::Reject {
            status,
            reason: reason.to_owned(),
        })
    }
}

/// How a hold ended.
enum Outcome {
    Accepted,
    /// The client gets `response`; `failure` is reported as a failed handshake when set.
    Refused {
        response: Vec<u8>,
        failure: Option<String>,
    },
    /// The client closed the connection (or it failed): nothing to answer, nothing to report.
    Left,
}

/// A request held as `id`: the id is reserved in the registry until the client is registered
/// as a peer (`register`). Dropped on any other path (a refusal, the client leaving, a panic),
/// it ends the hold and tells the main thread, after which a new peer may have the id.
pub(crate) struct Hold {
    id: PeerId,
    context: Arc<ServerContext>,
    registered: bool,
}

impl Hold {
    /// Registers the accepted client as peer `id`, as `Registry::register` does (in
    /// multiplayer mode its join is announced now); `None` once the server stops.
    pub fn register(mut self, route: Route) -> Option<PeerId> {
        self.registered = true;
        self.context.registry.register_held(self.id, route)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.registered {
            self.context.registry.end_hold(self.id);
            self.context.send_event(Event::HoldEnded(self.id));
        }
    }
}

/// Holds `accepted` for the game's verdict, then runs it as a peer or refuses it. The
/// handshake's `deadline` still holds: no answer by then is a 503 and a failed handshake.
pub(crate) async fn verify<S: Transport>(
    mut accepted: Accepted<S>,
    address: SocketAddr,
    deadline: Instant,
    open: OpenSocket,
    context: Arc<ServerContext>,
) {
    let Some((id, answer)) = context.registry.hold() else {
        refuse(&mut accepted.stream, &stopping()).await;
        return;
    };
    let hold = Hold {
        id,
        context: context.clone(),
        registered: false,
    };
    let request = accepted.request.clone();
    context.send_event(Event::VerifyRequest { id, request });
    match wait(&mut accepted.stream, answer, deadline, &context).await {
        // The socket's send buffer is empty (nothing was written on it since the TLS
        // handshake), so the 101 goes out without waiting on the client.
        Outcome::Accepted => match accepted.switch_protocols(&context.config).await {
            Ok((ws, protocol, request)) => {
                run_peer(ws, address, protocol, request, Some(hold), open, context).await;
            }
            Err(reason) => handshake_failed(&context, address, reason),
        },
        Outcome::Refused { response, failure } => {
            refuse(&mut accepted.stream, &response).await;
            if let Some(reason) = failure {
                handshake_failed(&context, address, reason);
            }
        }
        Outcome::Left => {}
    }
}

/// Waits for the first of the game's answer, the deadline, the client leaving (or sending
/// before its 101, which a client must not do: RFC 6455 4.1) and the server stopping (which
/// drops the answer's channel).
async fn wait<S: Transport>(
    stream: &mut S,
    answer: oneshot::Receiver<Answer>,
    deadline: Instant,
    context: &ServerContext,
) -> Outcome {
    let mut byte = [0u8; 1];
    tokio::select! {
        biased;
        answer = answer => match answer {
            Ok(Answer::Accept) => Outcome::Accepted,
            Ok(Answer::Reject { status, reason }) => Outcome::Refused {
                response: refusal(status, &reason),
                failure: None,
            },
            Err(_) => Outcome::Refused {
                response: stopping(),
                failure: None,
            },
        },
        read = stream.read(&mut byte) => match read {
            Ok(0) | Err(_) => Outcome::Left,
            Ok(_) => {
                let reason = "the client sent data before the server answered its upgrade \
                    request";
                Outcome::Refused {
                    response: refusal(StatusCode::BAD_REQUEST, reason),
                    failure: Some(reason.to_owned()),
                }
            }
        },
        () = sleep_until(deadline) => {
            let timeout = context.config.handshake_timeout.as_secs_f64();
            Outcome::Refused {
                response: service_unavailable(
                    "the server did not verify the client in time",
                    RETRY_AFTER_SECONDS,
                ),
                failure: Some(format!(
                    "the game did not answer client_verify_request within handshake_timeout \
                     ({timeout:.1} s); the client got 503"
                )),
            }
        }
    }
}

/// The answer to a held client when the server stops.
fn stopping() -> Vec<u8> {
    service_unavailable("the server is stopping", RETRY_AFTER_SECONDS)
}
