//! Holds back a large frame from tungstenite until its payload has arrived, so that what a
//! frame header claims costs memory only as the bytes come. tungstenite reserves a frame's whole
//! claimed length as soon as it has read the header: 14 bytes claiming the input limit (up to
//! 64 MiB) would otherwise reserve that much for a peer that may never send more.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::transport::Transport;

/// Frames up to this size pass straight through (tungstenite may reserve this much at once).
pub(crate) const HOLD_ABOVE: u64 = 64 * 1024;
/// How much a held frame's buffer grows by at most per read.
const HOLD_STEP: usize = 64 * 1024;
/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask.
const MAX_HEADER: usize = 14;

/// A client's byte stream as tungstenite reads it. A frame claiming more than `HOLD_ABOVE`
/// (and no more than `max_frame`: a larger one tungstenite refuses at its header) is held from
/// its header's last byte on, in a buffer that grows as its bytes arrive, and handed on once
/// whole. Everything else is read straight into tungstenite's buffer.
pub(crate) struct FrameGate<S> {
    inner: S,
    max_frame: u64,
    parser: HeaderParser,
    /// Bytes scanned and ready to hand on, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    held: Option<Held>,
}

/// A frame being held: its bytes so far (from its header's last byte) and its whole length.
struct Held {
    bytes: Vec<u8>,
    len: usize,
}

/// Where the stream is in its frames.
#[derive(Default)]
struct HeaderParser {
    /// The bytes of the header being read.
    header: [u8; MAX_HEADER],
    have: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: u64,
    /// The last data frame's FIN bit was clear: a fragmented message is under way (control
    /// frames come between its fragments without ending it).
    fragmented: bool,
}

/// What scanning the next bytes of the stream found.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// Every byte passes.
    Pass,
    /// The byte at offset `at` is the last of a header claiming `len` payload bytes, to hold.
    /// The parser is then past that frame's payload.
    Hold { at: usize, len: u64 },
}

impl HeaderParser {
    /// Scans `bytes`, the next bytes of the stream, up to the first header to hold.
    fn scan(&mut self, bytes: &[u8], max_frame: u64) -> Scan {
        let mut at = 0;
        while at < bytes.len() {
            if self.payload_left > 0 {
                let rest = (bytes.len() - at) as u64;
                let skip = rest.min(self.payload_left);
                self.payload_left -= skip;
                at += skip as usize;
                continue;
            }
            self.header[self.have] = bytes[at];
            self.have += 1;
            if let Some(len) = self.complete_header() {
                self.have = 0;
                let (fin, opcode) = (self.header[0] & 0x80 != 0, self.header[0] & 0x0f);
                if opcode < 8 {
                    self.fragmented = !fin;
                }
                if len > HOLD_ABOVE && len <= max_frame {
                    return Scan::Hold { at, len };
                }
                self.payload_left = len;
            }
            at += 1;
        }
        Scan::Pass
    }

    /// Whether the bytes scanned so far end a whole message: no frame and no fragmented
    /// message is under way.
    fn at_message_end(&self) -> bool {
        self.have == 0 && self.payload_left == 0 && !self.fragmented
    }

    /// The payload length, once the header's bytes are all in.
    fn complete_header(&self) -> Option<u64> {
        if self.have < 2 {
            return None;
        }
        let (extra, short) = match self.header[1] & 0x7f {
            126 => (2, None),
            127 => (8, None),
            len => (0, Some(u64::from(len))),
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        if self.have < 2 + extra + mask {
            return None;
        }
        Some(short.unwrap_or_else(|| {
            let mut len = [0u8; 8];
            len[8 - extra..].copy_from_slice(&self.header[2..2 + extra]);
            u64::from_be_bytes(len)
        }))
    }
}

impl<S> FrameGate<S> {
    /// `already`: what was read past the request head, the stream's first bytes.
    pub fn new(inner: S, already: &[u8], max_frame: usize) -> Self {
        let mut gate = Self {
            inner,
            max_frame: max_frame as u64,
            parser: HeaderParser::default(),
            out: Vec::new(),
            out_pos: 0,
            held: None,
        };
        gate.take_in(already);
        gate
    }

    /// Files `bytes`, the next of the stream: into the held frame while one is held, else
    /// scanned and ready to hand on, up to the next frame to hold.
    fn take_in(&mut self, mut bytes: &[u8]) {
        loop {
            if let Some(held) = &mut self.held {
                let take = (held.len - held.bytes.len()).min(bytes.len());
                held.bytes.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if held.bytes.len() < held.len {
                    return;
                }
                self.release();
            }
            if bytes.is_empty() {
                return;
            }
            match self.parser.scan(bytes, self.max_frame) {
                Scan::Pass => {
                    self.out.extend_from_slice(bytes);
                    return;
                }
                Scan::Hold { at, len } => {
                    self.out.extend_from_slice(&bytes[..at]);
                    self.start_holding(len);
                    bytes = &bytes[at..];
                }
            }
        }
    }

    fn start_holding(&mut self, len: u64) {
        let len = usize::try_from(len).unwrap_or(usize::MAX).saturating_add(1);
        self.held = Some(Held {
            bytes: Vec::new(),
            len,
        });
    }

    /// The held frame (whole, or cut short by the end of the stream) is ready to hand on.
    fn release(&mut self) {
        if let Some(held) = self.held.take() {
            if self.out_pos == self.out.len() {
                (self.out, self.out_pos) = (held.bytes, 0);
            } else {
                self.out.extend_from_slice(&held.bytes);
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.out_pos < this.out.len() {
                let taken = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + taken]);
                this.out_pos += taken;
                if this.out_pos == this.out.len() {
                    (this.out, this.out_pos) = (Vec::new(), 0);
                }
                return Poll::Ready(Ok(()));
            }
            if let Some(held) = &mut this.held {
                // Read no further than the frame: what follows it is scanned as usual.
                let have = held.bytes.len();
                let step = (held.len - have).min(HOLD_STEP);
                held.bytes.resize(have + step, 0);
                let mut into = ReadBuf::new(&mut held.bytes[have..]);
                let read = Pin::new(&mut this.inner).poll_read(cx, &mut into);
                let got = into.filled().len();
                held.bytes.truncate(have + got);
                ready!(read)?;
                if got == 0 || held.bytes.len() == held.len {
                    // Whole, or the stream ended: tungstenite finds out which.
                    this.release();
                }
                continue;
            }
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let Scan::Hold { at, len } = this.parser.scan(&buf.filled()[before..], this.max_frame)
            else {
                return Poll::Ready(Ok(()));
            };
            let tail = buf.filled()[before + at..].to_vec();
            buf.set_filled(before + at);
            this.start_holding(len);
            this.take_in(&tail);
            if at > 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: Transport> Transport for FrameGate<S> {
    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.inner.set_nodelay(enabled)
    }

    /// Settled when what the gate handed on so far ends a whole message, it holds nothing
    /// back, and the stream under it is settled. A tungstenite whose last read got `Pending`
    /// then holds no byte of the stream and no part of a message: every whole frame was
    /// parsed, and no part of one came after them.
    fn settle(&mut self) -> bool {
        self.out_pos == self.out.len()
            && self.held.is_none()
            && self.parser.at_message_end()
            && self.inner.settle()
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_read_ready(cx)
    }
}

super::transport::writes_pass_through!(FrameGate);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::read_ahead::tests::read_exactly;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

    const MAX: usize = 1 << 20;

    fn frame(len: usize) -> Vec<u8> {
        let mut out = vec![0x82];
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            out.push(0x80 | 126);
            out.extend((len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend((len as u64).to_be_bytes());
        }
        out.extend([1, 2, 3, 4]);
        out.extend((0..len).map(|i| (i % 251) as u8));
        out
    }

    /// Reads what the gate hands on in 4 KiB reads (as tungstenite does) until `len` bytes.
    async fn read_out(gate: &mut FrameGate<DuplexStream>, len: usize) -> Vec<u8> {
        read_exactly(gate, len, 4096).await
    }

    #[test]
    fn headers_of_every_size_are_parsed_across_any_split() {
        for (bytes, max, want) in [
            (frame(125), MAX, Scan::Pass),
            (
                frame(70_000),
                MAX,
                Scan::Hold {
                    at: 13,
                    len: 70_000,
                },
            ),
            (frame(70_000)[..14].to_vec(), 60_000, Scan::Pass),
        ] {
            for split in 1..bytes.len().min(20) {
                let mut parser = HeaderParser::default();
                let first = parser.scan(&bytes[..split], max as u64);
                let second = parser.scan(&bytes[split..], max as u64);
                let found = match (first, second) {
                    (Scan::Hold { at, len }, _) => Scan::Hold { at, len },
                    (Scan::Pass, Scan::Hold { at, len }) => Scan::Hold {
                        at: at + split,
                        len,
                    },
                    (Scan::Pass, Scan::Pass) => Scan::Pass,
                };
                assert_eq!(found, want, "split at {split}");
            }
        }
    }

    #[test]
    fn a_message_ends_only_after_its_last_fragment_and_byte() {
        let fragment = |fin: bool, opcode: u8, len: usize| {
            let mut bytes = frame(len);
            bytes[0] = (u8::from(fin) << 7) | opcode;
            bytes
        };
        let mut parser = HeaderParser::default();
        assert!(parser.at_message_end());
        let whole = fragment(true, 0x2, 300);
        for split in [1, 2, 4, 8, 100] {
            parser.scan(&whole[..split], MAX as u64);
            assert!(!parser.at_message_end(), "cut after {split} bytes");
            parser.scan(&whole[split..], MAX as u64);
            assert!(parser.at_message_end());
        }
        // A fragmented message stays open across a ping between its fragments.
        for (piece, ends) in [
            (fragment(false, 0x1, 10), false),
            (fragment(true, 0x9, 4), false),
            (fragment(false, 0x0, 10), false),
            (fragment(true, 0x0, 0), true),
        ] {
            parser.scan(&piece, MAX as u64);
            assert_eq!(parser.at_message_end(), ends);
        }
    }

    #[tokio::test]
    async fn small_frames_pass_and_a_large_one_is_handed_on_only_once_whole() {
        let (mut client, server) = duplex(1 << 20);
        let small = frame(100);
        let large = frame(200_000);
        let mut gate = FrameGate::new(server, &small[..10], MAX);
        client.write_all(&small[10..]).await.unwrap();
        assert_eq!(read_out(&mut gate, small.len()).await, small);

        // The header and half the payload: only the header less its last byte comes out.
        client.write_all(&large[..100_000]).await.unwrap();
        assert_eq!(read_out(&mut gate, 13).await, large[..13]);
        // One poll takes in all that was written and hands on nothing.
        let mut buffer = [0u8; 4096];
        let pending = std::future::poll_fn(|cx| {
            let mut into = ReadBuf::new(&mut buffer);
            Poll::Ready(Pin::new(&mut gate).poll_read(cx, &mut into).is_pending())
        });
        assert!(pending.await, "part of a held frame was handed on");
        assert_eq!(gate.held.as_ref().unwrap().bytes.len(), 100_000 - 13);
        // It grows by what arrives (doubling, with one read's room): not to the claimed length.
        assert!(gate.held.as_ref().unwrap().bytes.capacity() <= 2 * (100_000 + HOLD_STEP));

        client.write_all(&large[100_000..]).await.unwrap();
        client.write_all(&small).await.unwrap();
        let rest = read_out(&mut gate, large.len() - 13 + small.len()).await;
        assert_eq!(rest[..large.len() - 13], large[13..]);
        assert_eq!(rest[large.len() - 13..], small[..]);
    }

    #[tokio::test]
    async fn a_frame_over_the_limit_passes_for_tungstenite_to_refuse() {
        let (mut client, server) = duplex(1 << 20);
        let mut gate = FrameGate::new(server, &[], 100_000);
        client.write_all(&frame(200_000)[..14]).await.unwrap();
        assert_eq!(read_out(&mut gate, 14).await, frame(200_000)[..14]);
    }

    #[tokio::test]
    async fn the_end_of_the_stream_releases_a_held_frame_cut_short() {
        let (mut client, server) = duplex(1 << 20);
        let large = frame(200_000);
        let mut gate = FrameGate::new(server, &[], MAX);
        client.write_all(&large[..5000]).await.unwrap();
        drop(client);
        assert_eq!(read_out(&mut gate, 5000).await, large[..5000]);
        let mut buffer = [0u8; 16];
        assert_eq!(gate.read(&mut buffer).await.unwrap(), 0);
    }
}
