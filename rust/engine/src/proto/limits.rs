//! Per-peer buffer limits and the arithmetic that applies them: whether one more message fits.

/// The largest `in_bytes` and `out_bytes` a game may set (64 MiB, tungstenite's own default
/// message limit), and the largest frame read whatever the limits. A peer may make the server
/// hold several times `in_bytes` (unread messages, one waiting for room, one being read); past
/// 64 MiB a handful of peers would hold gigabytes, and tungstenite reserves a frame's claimed
/// length as soon as it hands the frame on.
pub const MAX_BUFFER_BYTES: usize = 64 * 1024 * 1024;

/// Per-peer buffer limits, in bytes and messages, each way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest inbound message, and most unread bytes held for one peer. Default 64 KiB.
    pub in_bytes: usize,
    /// Most unread messages held for one peer. Default 1024.
    pub in_packets: usize,
    /// Most bytes queued for sending to one peer. Default 64 KiB.
    pub out_bytes: usize,
    /// Most messages queued for sending to one peer. Default 1024.
    pub out_packets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            in_bytes: 64 * 1024,
            in_packets: 1024,
            out_bytes: 64 * 1024,
            out_packets: 1024,
        }
    }
}

impl Limits {
    /// Whether one more inbound message of `len` bytes fits beside what is unread.
    pub fn inbound_fits(&self, unread_bytes: usize, unread_packets: usize, len: usize) -> bool {
        unread_packets < self.in_packets && unread_bytes.saturating_add(len) <= self.in_bytes
    }

    /// Whether one more outbound message of `len` bytes fits beside what is queued.
    pub fn outbound_fits(&self, queued_bytes: usize, queued_packets: usize, len: usize) -> bool {
        queued_packets < self.out_packets && queued_bytes.saturating_add(len) <= self.out_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        in_bytes: 100,
        in_packets: 2,
        out_bytes: 50,
        out_packets: 3,
    };

    #[test]
    fn inbound_fits_up_to_both_limits_and_not_past_either() {
        assert!(SMALL.inbound_fits(0, 0, 100));
        assert!(!SMALL.inbound_fits(0, 0, 101));
        assert!(SMALL.inbound_fits(60, 1, 40));
        assert!(!SMALL.inbound_fits(60, 1, 41));
        assert!(!SMALL.inbound_fits(0, 2, 0));
        assert!(!SMALL.inbound_fits(1, 0, usize::MAX));
    }

    #[test]
    fn outbound_fits_up_to_both_limits_and_not_past_either() {
        assert!(SMALL.outbound_fits(0, 0, 50));
        assert!(!SMALL.outbound_fits(0, 0, 51));
        assert!(SMALL.outbound_fits(30, 2, 20));
        assert!(!SMALL.outbound_fits(30, 2, 21));
        assert!(!SMALL.outbound_fits(0, 3, 0));
        assert!(!SMALL.outbound_fits(1, 0, usize::MAX));
    }

    #[test]
    fn defaults_are_the_stock_64_kib_and_1024_packets_each_way() {
        let limits = Limits::default();
        assert_eq!((limits.in_bytes, limits.in_packets), (64 * 1024, 1024));
        assert_eq!((limits.out_bytes, limits.out_packets), (64 * 1024, 1024));
    }
}
