//! The shortest path through the engine: one client connects, is echoed, and closes.

mod common;

use common::*;

#[test]
fn echo_round_trip() {
    let clients = Clients::new();
    let mut server = start();
    let ws = clients.connect(server.local_addr());
    echo_once(&mut server, &clients, ws, "hello");
    server.stop();
}
