//! The live connections of one server: unique peer ids, and a way to reach every connection
//! when the server stops, including those the main thread has not heard of yet.

use std::collections::HashMap;

use parking_lot::Mutex;
use rand::Rng;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;

use super::peer::{Command, PeerId};

#[derive(Default)]
pub(crate) struct Registry {
    state: Mutex<RegistryState>,
    /// Signalled when the last connection leaves.
    emptied: Notify,
}

#[derive(Default)]
struct RegistryState {
    connections: HashMap<PeerId, UnboundedSender<Command>>,
    stopping: bool,
}

impl Registry {
    /// Gives a new connection a random id no live connection has. `None` once the server stops.
    pub fn register(&self, commands: UnboundedSender<Command>) -> Option<PeerId> {
        let mut state = self.state.lock();
        if state.stopping {
            return None;
        }
        let mut rng = rand::thread_rng();
        let id = loop {
            let id = rng.gen_range(2..=i32::MAX);
            if !state.connections.contains_key(&id) {
                break id;
            }
        };
        state.connections.insert(id, commands);
        Some(id)
    }

    pub fn unregister(&self, id: PeerId) {
        let mut state = self.state.lock();
        state.connections.remove(&id);
        if state.connections.is_empty() {
            self.emptied.notify_one();
        }
    }

    /// Refuses new connections and tells every live one to close.
    pub fn shutdown_all(&self) {
        let mut state = self.state.lock();
        state.stopping = true;
        for commands in state.connections.values() {
            let _ = commands.send(Command::Shutdown);
        }
    }

    /// Resolves once no connection is left.
    pub async fn wait_empty(&self) {
        loop {
            if self.state.lock().connections.is_empty() {
                return;
            }
            // `notify_one` keeps a permit, so a wake between the check and here is not lost.
            self.emptied.notified().await;
        }
    }
}
