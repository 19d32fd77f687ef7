//! The listening socket: bound synchronously (so `listen()` returns bind errors at once), then
//! an accept loop that hands each connection to its handshake.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::accept_error::{classify, AcceptFailure, Shed, SpareDescriptor, ACCEPT_BACKOFF};
use super::admission::{since_last_warning, Refusals};
use super::context::{OpenSocket, ServerContext};
use super::handshake;
use super::warnings::WarningLimiter;
use crate::config::BindAddress;
use crate::error::ListenError;
use crate::event::ServerEvent;

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
    // On Unix, SO_REUSEADDR lets a restarted server bind while connections of the last one
    // are in TIME_WAIT; it never shares a port with a live listener. On Windows it would share
    // one (a second server would steal connections), and a plain bind already ignores
    // TIME_WAIT there.
    #[cfg(unix)]
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

/// TCP keepalive on every accepted socket: after `TCP_KEEPALIVE_IDLE` without traffic the
/// kernel probes the client every `TCP_KEEPALIVE_INTERVAL`, and after `TCP_KEEPALIVE_RETRIES`
/// unanswered probes the connection fails. A client that vanished without a FIN (NAT timeout,
/// pulled cable) is found within two minutes of silence (60 + 6 x 10 s). Windows does not let a
/// program set the retries: it gives up after its own 10 probes (60 + 10 x 10 s).
pub const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
pub const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const TCP_KEEPALIVE_RETRIES: u32 = 6;

fn enable_keepalive(tcp: &TcpStream) -> io::Result<()> {
    let keepalive = TcpKeepalive::new()
        .with_time(TCP_KEEPALIVE_IDLE)
        .with_interval(TCP_KEEPALIVE_INTERVAL);
    #[cfg(unix)]
    let keepalive = keepalive.with_retries(TCP_KEEPALIVE_RETRIES);
    SockRef::from(tcp).set_tcp_keepalive(&keepalive)
}

/// Accepts connections until the task is dropped. Each one is admitted (counted from here until
/// its socket closes) or refused by `Admission`, before any byte of it is read. The spare
/// descriptor is taken now, while `listen` runs, not when the task first runs.
pub(crate) fn accept_loop(
    listener: TcpListener,
    context: Arc<ServerContext>,
) -> impl Future<Output = ()> {
    let spare = SpareDescriptor::new();
    accept_forever(listener, spare, context)
}

async fn accept_forever(
    listener: TcpListener,
    mut spare: SpareDescriptor,
    context: Arc<ServerContext>,
) {
    let mut refusals = Refusals::default();
    let mut shed_warnings = WarningLimiter::default();
    loop {
        let (tcp, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                context.accept_failures.fetch_add(1, Ordering::Relaxed);
                let shed = Shedding {
                    listener: &listener,
                    spare: &mut spare,
                    warnings: &mut shed_warnings,
                };
                if shed.must_back_off(&error, &context).await {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let accepted_at = Instant::now();
        if context.refuse_new_connections.load(Ordering::Acquire) {
            continue;
        }
        let address = SocketAddr::new(address.ip().to_canonical(), address.port());
        let open_now = context.open_sockets.load(Ordering::Acquire);
        if let Err(limit) = context.admission.check(address.ip(), open_now) {
            refusals.refuse(tcp, address, limit, &context);
            continue;
        }
        let open = OpenSocket::new(&context, address.ip());
        // Best effort: a socket that takes no options still works, only without the probes.
        let _ = enable_keepalive(&tcp);
        tokio::spawn(handshake::serve(
            tcp,
            address,
            accepted_at,
            open,
            context.clone(),
        ));
    }
}

/// What the accept loop has for a failed accept: the listener to shed a client from, the
/// spare descriptor to shed it with, and the warnings about it.
struct Shedding<'a> {
    listener: &'a TcpListener,
    spare: &'a mut SpareDescriptor,
    warnings: &'a mut WarningLimiter,
}

impl Shedding<'_> {
    /// Does what `error` calls for (see `AcceptFailure`); true when the loop must back off.
    async fn must_back_off(self, error: &io::Error, context: &ServerContext) -> bool {
        match classify(error) {
            AcceptFailure::Connection => false,
            AcceptFailure::Descriptors => match self.spare.shed(self.listener).await {
                Shed::Closed(address) => {
                    self.warn(context, address, error);
                    false
                }
                Shed::Empty => false,
                Shed::Failed => true,
            },
            AcceptFailure::Memory | AcceptFailure::Unknown => true,
        }
    }

    /// A client was closed unanswered: warns at most once per `WARNING_INTERVAL`, with how many
    /// were closed since.
    fn warn(self, context: &ServerContext, address: SocketAddr, error: &io::Error) {
        let Some(held_back) = self.warnings.allow(Instant::now()) else {
            return;
        };
        let reason = format!(
            "the process is out of file descriptors ({error}): closed at once{}; raise the \
             descriptor limit (ulimit -n) or lower max_connections",
            since_last_warning(held_back, "")
        );
        context.report(ServerEvent::HandshakeFailed { address, reason });
    }
}
