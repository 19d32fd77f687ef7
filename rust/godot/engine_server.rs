//! The engine `Server` a WebSocketServer runs, shared with its WebSocketPeer objects: peers by id.

use std::sync::Arc;

use gdws_engine::{Peer, Server};
use parking_lot::{Mutex, MutexGuard};

use super::log;

/// The running engine server, or none while the WebSocketServer is not listening. The
/// WebSocketPeer objects reach their peer through it (by a `Weak`: they may outlive it).
///
/// Behind a mutex rather than a `RefCell` for one caller on another thread: the
/// `ServerStopper`, run when the WebSocketServer's last reference goes on a thread other than
/// the main one (where gdnative does not run its `Drop`). On the main thread the lock is never
/// contended; no call nests in another (each closure works on the engine alone). parking_lot's:
/// a handler takes it several times a message, and uncontended it is one atomic operation each
/// way. It does not poison, so a call that panicked while holding it (which the FFI layer
/// caught) leaves it usable: each call leaves the engine server consistent.
#[derive(Default)]
pub(crate) struct EngineServer {
    server: Arc<Mutex<Option<Server>>>,
}

/// Stops the running engine server from any thread (the engine's `Server::stop` needs no
/// particular thread): all it shares with the main thread is the mutex.
pub(crate) struct ServerStopper(Arc<Mutex<Option<Server>>>);

impl ServerStopper {
    /// Stops the server if one runs: the port is free and every client has seen its close
    /// when this returns (the same bounded wait as `stop()`).
    pub fn stop(&self) {
        let server = self.0.lock().take();
        if let Some(server) = server {
            server.stop();
        }
    }
}

impl EngineServer {
    fn slot(&self) -> MutexGuard<'_, Option<Server>> {
        self.server.lock()
    }

    /// What stops this server from another thread.
    pub fn stopper(&self) -> ServerStopper {
        ServerStopper(self.server.clone())
    }

    pub fn is_listening(&self) -> bool {
        self.slot().is_some()
    }

    /// Listening with `gd_mp_api = true`.
    pub fn is_multiplayer(&self) -> bool {
        self.with(|server| server.config().multiplayer)
            .unwrap_or(false)
    }

    /// Keeps `server` as the running one. The caller checked that none runs.
    pub fn start(&self, server: Server) {
        *self.slot() = Some(server);
    }

    /// The running server, which is then no longer reachable here.
    pub fn take(&self) -> Option<Server> {
        self.slot().take()
    }

    /// Runs `f` on the running server; `None` when none runs.
    pub fn with<R>(&self, f: impl FnOnce(&Server) -> R) -> Option<R> {
        self.slot().as_ref().map(f)
    }

    /// Like `with`, for calls that change the server.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut Server) -> R) -> Option<R> {
        self.slot().as_mut().map(f)
    }

    /// Runs `f` on peer `id`, or prints why not (naming `call`) and returns None.
    pub fn with_peer<R>(&self, call: &str, id: i64, f: impl FnOnce(&mut Peer) -> R) -> Option<R> {
        let result = self.find_peer(id, f);
        if result.is_none() {
            report_unknown_peer(call, id, self.is_listening());
        }
        result
    }

    /// Runs `f` on peer `id`; `None`, silently, when there is no such peer.
    pub fn find_peer<R>(&self, id: i64, f: impl FnOnce(&mut Peer) -> R) -> Option<R> {
        let id = i32::try_from(id).ok()?;
        self.with_mut(|server| server.peer_mut(id).map(f)).flatten()
    }

    pub fn has_peer(&self, id: i64) -> bool {
        match i32::try_from(id) {
            Ok(id) => self.with(|server| server.peer(id).is_some()) == Some(true),
            Err(_) => false,
        }
    }

    /// The largest packet a peer accepts from us (less the header in multiplayer mode).
    pub fn max_packet_size(&self) -> i64 {
        self.with(|server| server.max_packet_size() as i64)
            .unwrap_or(0)
    }
}

/// Prints that `WebSocketServer.<call>` found no peer `id`.
pub(crate) fn report_unknown_peer(call: &str, id: i64, listening: bool) {
    let call = format!("WebSocketServer.{call}");
    if listening {
        log::error(&call, format!("no peer with id {id}"));
    } else {
        log::error(
            &call,
            format!("no peer with id {id} (the server is not listening)"),
        );
    }
}
