//! The byte streams a connection runs on: TCP, TLS over TCP, either behind `ReadAhead` and
//! `FrameGate` (whose `Transport` is in their modules), and in the unit tests an in-memory pipe.

use std::io;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A stream a connection runs on, the socket options the game may change under it, and how a
/// connection at rest (`socket::Socket`) waits on it without a read buffer.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// TCP_NODELAY on the socket underneath, where there is one.
    fn set_nodelay(&self, enabled: bool) -> io::Result<()>;

    /// Whether this layer holds no input that a read would return without the socket, once a
    /// read got `Pending`; it may free what it buffered. Then `poll_read_ready` tells when to
    /// read again. False where the stream cannot be waited on without a read.
    fn settle(&mut self) -> bool;

    /// Ready once the socket underneath has input (or an end, or an error) to read.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl Transport for TcpStream {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, enabled)
    }

    fn settle(&mut self) -> bool {
        true
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.get_ref().0.set_nodelay(enabled)
    }

    /// tokio-rustls returns `Pending` only once rustls has no plaintext left and the socket
    /// has nothing more: a record cut short waits in rustls for the rest, which the socket
    /// signals.
    fn settle(&mut self) -> bool {
        true
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_ref().0.poll_read_ready(cx)
    }
}

/// `AsyncWrite` for a wrapper (`$wrapper<S>`, with the stream in its `inner`) that changes only
/// what is read: every write call goes to the stream as it is.
macro_rules! writes_pass_through {
    ($wrapper:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
            }
        }
    };
}
pub(crate) use writes_pass_through;

/// In memory there is no Nagle to switch off, and no readiness to wait on: a connection on
/// a pipe never rests.
#[cfg(test)]
impl Transport for tokio::io::DuplexStream {
    fn set_nodelay(&self, _enabled: bool) -> io::Result<()> {
        Ok(())
    }

    fn settle(&mut self) -> bool {
        false
    }

    fn poll_read_ready(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
