//! The byte streams a connection runs on: TCP, TLS over TCP, either behind `ReadAhead` and
//! `FrameGate`, and in the unit tests an in-memory pipe.

use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::frame_gate::FrameGate;
use super::read_ahead::ReadAhead;

/// A stream a connection runs on, and the socket options the game may change under it.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// TCP_NODELAY on the socket underneath, where there is one.
    fn set_nodelay(&self, enabled: bool) -> io::Result<()>;
}

impl Transport for TcpStream {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, enabled)
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.get_ref().0.set_nodelay(enabled)
    }
}

impl<S: Transport> Transport for ReadAhead<S> {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.get_ref().set_nodelay(enabled)
    }
}

impl<S: Transport> Transport for FrameGate<S> {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.get_ref().set_nodelay(enabled)
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

/// In memory there is no Nagle to switch off.
#[cfg(test)]
impl Transport for tokio::io::DuplexStream {
    fn set_nodelay(&self, _enabled: bool) -> io::Result<()> {
        Ok(())
    }
}
