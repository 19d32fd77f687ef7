//! Listening: ports, bind addresses and families, restarting, several servers at once.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use common::*;
use futures_util::SinkExt;
use gdws_engine::{BindAddress, ListenError, Server, ServerConfig};
use tokio_tungstenite::tungstenite::Message;

fn config(bind: &str, port: u16) -> ServerConfig {
    let mut config = ServerConfig::new(port);
    config.bind = BindAddress::parse(bind).unwrap();
    config
}

#[test]
fn port_zero_picks_a_free_port_that_local_addr_reports() {
    let clients = Clients::new();
    let mut server = start();
    let addr = server.local_addr();
    assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
    assert_ne!(addr.port(), 0);
    assert_eq!(server.config().port, 0);
    assert_eq!(server.next_event(), None);
    echo_once(
        &mut server,
        &clients,
        clients.connect(addr),
        "on the reported port",
    );
    server.stop();
}

#[test]
fn a_port_in_use_is_a_bind_error() {
    // Taken by another listener (std sets SO_REUSEADDR too, which must not let us share it).
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = other.local_addr().unwrap().port();
    match Server::listen(config("127.0.0.1", port)) {
        Err(ListenError::Bind(e)) => assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse),
        other => panic!("expected ListenError::Bind, got {:?}", other.err()),
    }
    // "*" covers 127.0.0.1 too, so it is refused as well.
    assert!(matches!(
        Server::listen(config("*", port)),
        Err(ListenError::Bind(_))
    ));

    // Taken by one of our own servers.
    let server = start();
    let port = server.local_addr().port();
    assert!(matches!(
        Server::listen(config("127.0.0.1", port)),
        Err(ListenError::Bind(_))
    ));
    server.stop();
}

#[test]
fn star_takes_ipv4_and_ipv6_clients() {
    let clients = Clients::new();
    let mut server = Server::listen(config("*", 0)).unwrap();
    let port = server.local_addr().port();
    assert_ne!(port, 0);

    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let ws = clients.connect(v4);
    let (id, _) = connected(&mut server);
    // An IPv4 client of a dual-stack socket shows as plain IPv4, not ::ffff:127.0.0.1.
    assert_eq!(
        server.peer(id).unwrap().address(),
        ws.get_ref().local_addr().unwrap()
    );
    echo_once(&mut server, &clients, clients.connect(v4), "over IPv4");

    if has_ipv6_loopback() {
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        let ws6 = clients.connect(v6);
        let (id6, _) = connected(&mut server);
        let address = server.peer(id6).unwrap().address();
        assert_eq!(address, ws6.get_ref().local_addr().unwrap());
        assert!(address.is_ipv6());
        echo_once(&mut server, &clients, clients.connect(v6), "over IPv6");
    } else {
        eprintln!("no IPv6 loopback on this machine: the ::1 half is skipped");
    }
    server.stop();
}

#[test]
fn an_ipv4_bind_refuses_ipv6_clients() {
    let clients = Clients::new();
    let mut server = Server::listen(config("127.0.0.1", 0)).unwrap();
    let port = server.local_addr().port();
    if has_ipv6_loopback() {
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        assert!(!clients.run(can_connect(v6)), "::1 must be refused");
    }
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    echo_once(&mut server, &clients, clients.connect(v4), "v4 still works");
    server.stop();
}

#[test]
fn an_ipv6_bind_refuses_ipv4_clients() {
    if !has_ipv6_loopback() {
        eprintln!("no IPv6 loopback on this machine: skipped");
        return;
    }
    let clients = Clients::new();
    let mut server = Server::listen(config("::1", 0)).unwrap();
    let addr = server.local_addr();
    assert_eq!(addr.ip(), Ipv6Addr::LOCALHOST);
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()));
    assert!(!clients.run(can_connect(v4)), "127.0.0.1 must be refused");
    echo_once(
        &mut server,
        &clients,
        clients.connect(addr),
        "v6 still works",
    );
    server.stop();
}

#[test]
fn listen_stop_listen_again_on_the_same_port() {
    let clients = Clients::new();
    let mut server = start();
    let addr = server.local_addr();
    // A connected client at stop time leaves the port with TIME_WAIT sockets behind.
    let mut ws = clients.connect(addr);
    connected(&mut server);
    server.stop();
    clients.run(recv_close(&mut ws));

    let mut again = Server::listen(config("127.0.0.1", addr.port())).expect("listen again");
    assert_eq!(again.local_addr(), addr);
    echo_once(&mut again, &clients, clients.connect(addr), "second life");
    again.stop();
}

#[test]
fn two_servers_at_once_on_different_ports() {
    let clients = Clients::new();
    let mut first = start();
    let mut second = start();
    let (a, b) = (first.local_addr(), second.local_addr());
    assert_ne!(a.port(), b.port());

    let mut ws_a = clients.connect(a);
    let (id_a, _) = connected(&mut first);
    let mut ws_b = clients.connect(b);
    let (id_b, _) = connected(&mut second);
    clients.run(ws_a.send(Message::text("to first"))).unwrap();
    clients.run(ws_b.send(Message::text("to second"))).unwrap();
    assert_eq!(message(&mut first, id_a), text("to first"));
    assert_eq!(message(&mut second, id_b), text("to second"));
    // Each server only hears of its own client.
    assert_eq!(first.next_event(), None);
    assert_eq!(second.next_event(), None);

    first.stop();
    clients.run(recv_close(&mut ws_a));
    // The other server is unaffected.
    second
        .peer(id_b)
        .unwrap()
        .put_packet(text("still here"))
        .unwrap();
    assert_eq!(clients.run(recv(&mut ws_b)), Message::text("still here"));
    assert_eq!(second.next_event(), None);
    second.stop();
}
