//! The heartbeat: one task per server ticks every `heartbeat_interval` and asks every
//! registered connection for its heartbeat (a flag and one wake, `PeerCounters::
//! request_heartbeat`). Each connection task counts the ticks it heard nothing in, pings its
//! client, and ends once two ticks have passed in silence (`Connection::on_heartbeat`). Idle
//! peers hold no timer of their own: the cost is one wake per peer per interval, on the I/O
//! threads, and the main thread does nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::context::ServerContext;
use crate::config::MIN_HEARTBEAT_INTERVAL;

/// Starts the server's heartbeat tick on the current runtime, when its config asks for one.
pub(crate) fn spawn_heartbeat(context: &Arc<ServerContext>) -> Option<JoinHandle<()>> {
    let interval = effective_interval(context.config.heartbeat_interval)?;
    let context = context.clone();
    Some(tokio::spawn(async move {
        loop {
            // A sleep after each walk, not a fixed-rate interval: a late tick is not made up
            // for by a burst of wakes. tokio's sleep takes any length (a far one never ends).
            tokio::time::sleep(interval).await;
            context.registry.request_heartbeats();
        }
    }))
}

/// The interval the server ticks at: `None` for off (zero), else at least
/// `MIN_HEARTBEAT_INTERVAL`.
pub(crate) fn effective_interval(configured: Duration) -> Option<Duration> {
    (!configured.is_zero()).then(|| configured.max(MIN_HEARTBEAT_INTERVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_off_and_short_intervals_are_raised_to_the_floor() {
        assert_eq!(effective_interval(Duration::ZERO), None);
        assert_eq!(
            effective_interval(Duration::from_millis(1)),
            Some(MIN_HEARTBEAT_INTERVAL)
        );
        assert_eq!(
            effective_interval(Duration::from_secs(10)),
            Some(Duration::from_secs(10))
        );
    }
}
