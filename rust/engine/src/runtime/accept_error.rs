//! When `accept` fails: a connection that failed on its own is skipped at once; out of file
//! descriptors, the waiting client is taken with a spare descriptor and closed at once (so it
//! does not hang in the backlog); short of kernel memory, the loop backs off instead of spinning.

use std::fs::File;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use rustix::io::Errno;
use tokio::net::TcpListener;

/// How long the accept loop sleeps after an error that more tries cannot fix at once (out of
/// memory, or out of descriptors with no spare to shed a client with). At most one accept
/// failure per `ACCEPT_BACKOFF` is spent without taking a connection off the queue.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What an accept error means for the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptFailure {
    /// One connection failed before it was taken (ECONNABORTED, EPROTO, a network error
    /// Linux passes on from the new socket, ...): take the next one now.
    Connection,
    /// The process or the system has no descriptor left (EMFILE, ENFILE).
    Descriptors,
    /// The kernel is short of memory (ENOBUFS, ENOMEM): back off.
    Memory,
    /// Not known to pass by itself (EBADF, EINVAL: a broken listener): back off rather than spin.
    Unknown,
}

pub(crate) fn classify(error: &io::Error) -> AcceptFailure {
    let Some(errno) = Errno::from_io_error(error) else {
        return AcceptFailure::Unknown;
    };
    match errno {
        Errno::MFILE => AcceptFailure::Descriptors,
        #[cfg(unix)]
        Errno::NFILE => AcceptFailure::Descriptors,
        Errno::NOBUFS => AcceptFailure::Memory,
        #[cfg(unix)]
        Errno::NOMEM => AcceptFailure::Memory,
        // accept(2): "Linux accept() passes already-pending network errors on the new socket
        // as an error code from accept()", to be retried like EAGAIN; and the connection's own
        // failures (aborted, reset, refused by a firewall rule), or a signal.
        Errno::CONNABORTED
        | Errno::CONNRESET
        | Errno::NOPROTOOPT
        | Errno::NETDOWN
        | Errno::NETUNREACH
        | Errno::HOSTDOWN
        | Errno::HOSTUNREACH
        | Errno::OPNOTSUPP
        | Errno::TIMEDOUT
        | Errno::INTR => AcceptFailure::Connection,
        // Errors Windows does not have.
        #[cfg(unix)]
        Errno::PROTO | Errno::NONET | Errno::PERM => AcceptFailure::Connection,
        _ => AcceptFailure::Unknown,
    }
}

/// What `SpareDescriptor::shed` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shed {
    /// Took the waiting client off the queue and closed it.
    Closed(SocketAddr),
    /// No client was waiting.
    Empty,
    /// No descriptor could be freed for it, or the accept failed again: back off.
    Failed,
}

/// One descriptor held back (`/dev/null`, open for reading) for the moment the process has
/// none left: then it is freed, the waiting client is accepted into it and closed at once, and
/// the spare is taken back. Without it a client would wait in the backlog until its own
/// timeout, and the listener would stay readable with nothing the loop can do.
pub(crate) struct SpareDescriptor(Option<File>);

impl SpareDescriptor {
    pub fn new() -> Self {
        Self(File::open("/dev/null").ok())
    }

    /// Out of descriptors: sheds the client at the head of `listener`'s queue.
    pub async fn shed(&mut self, listener: &TcpListener) -> Shed {
        let Some(spare) = self.0.take() else {
            // Lost the last time round (something else took the descriptor): try again.
            self.0 = File::open("/dev/null").ok();
            return Shed::Failed;
        };
        drop(spare);
        // One try, without waiting: Pending means no client waits.
        let accepted = poll_fn(|cx| Poll::Ready(listener.poll_accept(cx))).await;
        let shed = match accepted {
            Poll::Ready(Ok((tcp, address))) => {
                drop(tcp);
                Shed::Closed(address)
            }
            Poll::Ready(Err(_)) => Shed::Failed,
            Poll::Pending => Shed::Empty,
        };
        self.0 = File::open("/dev/null").ok();
        shed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(errno: Errno) -> AcceptFailure {
        classify(&io::Error::from_raw_os_error(errno.raw_os_error()))
    }

    #[test]
    fn only_resource_errors_back_off() {
        assert_eq!(failure(Errno::MFILE), AcceptFailure::Descriptors);
        assert_eq!(failure(Errno::NOBUFS), AcceptFailure::Memory);
        for errno in [
            Errno::CONNABORTED,
            Errno::CONNRESET,
            Errno::NOPROTOOPT,
            Errno::NETDOWN,
            Errno::NETUNREACH,
            Errno::HOSTDOWN,
            Errno::HOSTUNREACH,
            Errno::OPNOTSUPP,
            Errno::TIMEDOUT,
            Errno::INTR,
        ] {
            assert_eq!(failure(errno), AcceptFailure::Connection, "{errno:?}");
        }
        #[cfg(unix)]
        {
            assert_eq!(failure(Errno::NFILE), AcceptFailure::Descriptors);
            assert_eq!(failure(Errno::NOMEM), AcceptFailure::Memory);
            for errno in [Errno::PROTO, Errno::NONET, Errno::PERM] {
                assert_eq!(failure(errno), AcceptFailure::Connection, "{errno:?}");
            }
        }
        assert_eq!(failure(Errno::BADF), AcceptFailure::Unknown);
        assert_eq!(failure(Errno::INVAL), AcceptFailure::Unknown);
        let custom = io::Error::other("not from the system");
        assert_eq!(classify(&custom), AcceptFailure::Unknown);
    }

    #[tokio::test]
    async fn the_spare_sheds_a_waiting_client_and_reports_an_empty_queue() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut spare = SpareDescriptor::new();
        assert_eq!(spare.shed(&listener).await, Shed::Empty);
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        // The listener reads as ready once the runtime's reactor has seen the connection.
        let shed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match spare.shed(&listener).await {
                    Shed::Empty => tokio::task::yield_now().await,
                    other => break other,
                }
            }
        })
        .await
        .expect("the waiting client is shed");
        assert_eq!(shed, Shed::Closed(client.local_addr().unwrap()));
        assert!(spare.0.is_some(), "the spare is taken back");
    }
}
