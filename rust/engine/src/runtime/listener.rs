//! The listening socket: bound synchronously (so `listen()` returns bind errors at once), then
//! an accept loop that hands each connection to its handshake.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::context::ServerContext;
use super::handshake;
use crate::config::BindAddress;
use crate::error::ListenError;

/// Pending connections the kernel may hold (the stock server allows 8).
pub const BACKLOG: i32 = 1024;

/// Binds the listening socket synchronously, so the caller gets bind errors at once.
pub(crate) fn bind(bind: BindAddress, port: u16) -> Result<std::net::TcpListener, ListenError> {
    let socket = match bind {
        BindAddress::Any => {
            match bound_socket(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), Some(false)) {
                Ok(socket) => socket,
                Err(ListenError::Bind(e)) if e.kind() == io::ErrorKind::AddrInUse => {
                    return Err(ListenError::Bind(e))
                }
                // No usable IPv6 on this machine: IPv4 only.
                Err(_) => bound_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), None)?,
            }
        }
        BindAddress::Ip(ip) => {
            let address = SocketAddr::new(ip, port);
            bound_socket(address, address.is_ipv6().then_some(true))?
        }
    };
    socket.listen(BACKLOG).map_err(ListenError::Bind)?;
    socket
        .set_nonblocking(true)
        .map_err(ListenError::CantCreate)?;
    Ok(socket.into())
}

fn bound_socket(address: SocketAddr, only_v6: Option<bool>) -> Result<Socket, ListenError> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(ListenError::CantCreate)?;
    socket
        .set_reuse_address(true)
        .map_err(ListenError::CantCreate)?;
    if let Some(only_v6) = only_v6 {
        socket
            .set_only_v6(only_v6)
            .map_err(ListenError::CantCreate)?;
    }
    socket.bind(&address.into()).map_err(ListenError::Bind)?;
    Ok(socket)
}

/// Accepts connections until the task is dropped.
pub(crate) async fn accept_loop(listener: TcpListener, context: Arc<ServerContext>) {
    loop {
        match listener.accept().await {
            Ok((tcp, address)) => {
                let accepted_at = Instant::now();
                if context.refuse_new_connections.load(Ordering::Acquire) {
                    continue;
                }
                let address = SocketAddr::new(address.ip().to_canonical(), address.port());
                tokio::spawn(handshake::serve(tcp, address, accepted_at, context.clone()));
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
