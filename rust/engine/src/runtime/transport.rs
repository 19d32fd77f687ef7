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

/// In memory there is no Nagle to switch off.
#[cfg(test)]
impl Transport for tokio::io::DuplexStream {
    fn set_nodelay(&self, _enabled: bool) -> io::Result<()> {
        Ok(())
    }
}
