//! Reads a connection's input in large pieces while it comes in large pieces, without a large
//! buffer for every connection. tungstenite reads at most its read buffer per call (4 KiB, kept
//! small because it stays resident for every idle peer), so a 60 KB message took 15 reads from
//! the socket; in bulk, this takes one and hands the data out from memory.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::transport::Transport;

/// How much one read takes while the input comes in bulk.
const BULK_READ: usize = 64 * 1024;
const CACHE_LINE: usize = 64;

/// A stream that reads straight into the caller's buffer until a read fills it (more is then
/// likely waiting), then reads ahead `BULK_READ` at a time until a read is small again. Only
/// connections receiving in bulk hold the read-ahead buffer.
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Empty while reading straight through; `ahead[start..end]` is read, not handed out yet.
    ahead: Vec<u8>,
    start: usize,
    end: usize,
}

impl<S> ReadAhead<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            ahead: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Whether the read-ahead buffer is held (for the tests).
    #[cfg(test)]
    fn is_reading_ahead(&self) -> bool {
        !self.ahead.is_empty()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start == this.end {
            if this.ahead.is_empty() {
                let before = buf.filled().len();
                ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                if buf.remaining() == 0 && buf.filled().len() > before {
                    this.ahead = vec![0; BULK_READ + CACHE_LINE];
                }
                return Poll::Ready(Ok(()));
            }
            let skew = alignment_skew(&this.ahead, buf);
            let mut ahead = ReadBuf::new(&mut this.ahead[skew..skew + BULK_READ]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut ahead))?;
            let read = ahead.filled().len();
            if read <= buf.remaining() {
                // Small again (or the end of the stream): back to reading straight through.
                buf.put_slice(&this.ahead[skew..skew + read]);
                this.ahead = Vec::new();
                return Poll::Ready(Ok(()));
            }
            (this.start, this.end) = (skew, skew + read);
        }
        let taken = (this.end - this.start).min(buf.remaining());
        buf.put_slice(&this.ahead[this.start..this.start + taken]);
        this.start += taken;
        Poll::Ready(Ok(()))
    }
}

/// Where in `ahead` to read so the data sits at the same offset in its cache line as its
/// destination in `buf` (the caller's buffer grows by exactly what it is handed, so one skew
/// holds for the whole read). Unaligned, the copies of a 60 KB message took 7 times as long as
/// the kernel's read of it: glibc's `rep movsb` copy takes 16 times longer when the source and the
/// destination are 8 bytes apart modulo 4 KiB, as the header of a masked client frame left
/// them (measured on this machine; 0 modulo 64 is as fast as it gets).
fn alignment_skew(ahead: &[u8], buf: &ReadBuf<'_>) -> usize {
    let destination = buf.filled().as_ptr_range().end as usize;
    destination.wrapping_sub(ahead.as_ptr() as usize) % CACHE_LINE
}

impl<S: Transport> Transport for ReadAhead<S> {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.inner.set_nodelay(enabled)
    }

    /// Settled once everything read ahead was handed out; the read-ahead buffer is freed then
    /// (a peer that goes idle after bulk input would keep it otherwise).
    fn settle(&mut self) -> bool {
        if self.start != self.end {
            return false;
        }
        self.ahead = Vec::new();
        self.inner.settle()
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_read_ready(cx)
    }
}

super::transport::writes_pass_through!(ReadAhead);

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair of real sockets: (ours, wrapped; the client's).
    async fn pair() -> (ReadAhead<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (ReadAhead::new(server), client)
    }

    /// Reads `len` bytes in `chunk`-byte reads, the way tungstenite does (the tests of both read
    /// wrappers use it).
    pub(in crate::runtime) async fn read_exactly<R: AsyncRead + Unpin>(
        stream: &mut R,
        len: usize,
        chunk: usize,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buffer = vec![0u8; chunk];
        while out.len() < len {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(
                read > 0,
                "the stream ended after {} of {len} bytes",
                out.len()
            );
            out.extend_from_slice(&buffer[..read]);
        }
        out
    }

    #[tokio::test]
    async fn small_input_is_read_straight_through() {
        let (mut ours, mut client) = pair().await;
        for round in 0..20u8 {
            client.write_all(&[round; 100]).await.unwrap();
            assert_eq!(read_exactly(&mut ours, 100, 4096).await, vec![round; 100]);
            assert!(!ours.is_reading_ahead());
        }
    }

    #[tokio::test]
    async fn bulk_input_arrives_whole_and_in_order_then_the_buffer_goes() {
        let (mut ours, mut client) = pair().await;
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client
        });
        let mut received = Vec::new();
        let mut read_ahead = false;
        while received.len() < data.len() {
            received
                .extend(read_exactly(&mut ours, 4096.min(data.len() - received.len()), 4096).await);
            read_ahead |= ours.is_reading_ahead();
        }
        assert_eq!(received, data);
        assert!(read_ahead, "a megabyte in 4 KiB reads never read ahead");
        let mut client = writer.await.unwrap();

        client.write_all(b"small").await.unwrap();
        assert_eq!(read_exactly(&mut ours, 5, 4096).await, b"small");
        assert!(
            !ours.is_reading_ahead(),
            "a small read kept the read-ahead buffer"
        );
    }

    #[tokio::test]
    async fn the_end_of_the_stream_comes_through_after_bulk_input() {
        let (mut ours, mut client) = pair().await;
        tokio::spawn(async move {
            client.write_all(&[7u8; 300_000]).await.unwrap();
            client.shutdown().await.unwrap();
        });
        assert_eq!(
            read_exactly(&mut ours, 300_000, 4096).await,
            vec![7u8; 300_000]
        );
        let mut buffer = [0u8; 4096];
        assert_eq!(ours.read(&mut buffer).await.unwrap(), 0);
        assert_eq!(ours.read(&mut buffer).await.unwrap(), 0);
    }

    #[test]
    fn reads_ahead_at_the_destination_s_offset_in_its_cache_line() {
        let ahead = vec![0u8; BULK_READ + CACHE_LINE];
        for filled in [0, 1, 8, 63, 64, 4088, 5000] {
            let mut destination = vec![0u8; 8192];
            let mut buf = ReadBuf::new(&mut destination);
            buf.advance(filled);
            let skew = alignment_skew(&ahead, &buf);
            assert!(skew < CACHE_LINE);
            let to = buf.filled().as_ptr_range().end as usize;
            let from = ahead[skew..].as_ptr() as usize;
            assert_eq!(
                to.wrapping_sub(from) % CACHE_LINE,
                0,
                "{filled} bytes filled"
            );
        }
    }
}
