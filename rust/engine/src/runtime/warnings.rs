//! How many warnings reach the game. Each peer says one per `WARNING_INTERVAL` (the rest are
//! counted in its next one), and the whole server passes its warnings and refused handshakes
//! through a token bucket with a bound on those waiting for `poll()`: a flood of bad clients
//! costs the main thread a few lines a second, and the game that does not poll (a loading
//! screen) a bounded amount of memory. What is held back is counted, never lost silently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// At most one warning per peer in this interval; the rest are counted.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// The server-wide bound on warnings and failed handshakes (`ServerConfig::warnings`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarningBudget {
    /// They pass at this rate on average...
    pub per_second: u32,
    /// ...and this many at once after a quiet spell.
    pub burst: u32,
    /// The most warnings (and notices of suppressed ones) waiting for the game to poll: a game
    /// that does not poll (a loading screen) holds at most these, whatever the clients do.
    pub waiting: usize,
}

impl WarningBudget {
    /// 10 a second, 20 at once, 32 waiting for `poll()`: a screenful after a quiet spell, a
    /// line every 100 ms under a flood.
    pub const DEFAULT: Self = Self {
        per_second: 10,
        burst: 20,
        waiting: 32,
    };
    /// No bound: every warning reaches the game (tests that count them, tools).
    pub const UNLIMITED: Self = Self {
        per_second: u32::MAX,
        burst: u32::MAX,
        waiting: usize::MAX,
    };
}

impl Default for WarningBudget {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Lets one warning through per `WARNING_INTERVAL` and counts the ones it holds back.
#[derive(Default)]
pub(crate) struct WarningLimiter {
    last: Option<tokio::time::Instant>,
    suppressed: u32,
}

impl WarningLimiter {
    /// `Some(number held back since the last one)` when a warning may go out now.
    pub fn allow(&mut self, now: tokio::time::Instant) -> Option<u32> {
        match self.last {
            Some(last) if now.duration_since(last) < WARNING_INTERVAL => {
                self.suppressed = self.suppressed.saturating_add(1);
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// The server-wide bound: a token bucket (`per_second`, `burst`) and at most `waiting` on the
/// event channel. The network threads ask it before they send a warning; the main thread tells
/// it when it takes one, and once the channel is empty asks it for the notice of those held
/// back: at most one notice per `WARNING_INTERVAL`, so a flood costs the game at most
/// `per_second` warnings and one notice a second.
pub(crate) struct WarningGate {
    state: Mutex<GateState>,
    /// Warnings held back since the last notice. Read without the lock by the main thread's
    /// polls, which mostly find it zero.
    suppressed: AtomicU64,
}

struct GateState {
    bucket: TokenBucket,
    most_waiting: usize,
    /// Warnings on the event channel, not yet taken by the main thread.
    waiting: usize,
    last_notice: Option<Instant>,
}

impl WarningGate {
    pub fn new(budget: WarningBudget, now: Instant) -> Self {
        Self {
            state: Mutex::new(GateState {
                bucket: TokenBucket::full(budget, now),
                most_waiting: budget.waiting,
                waiting: 0,
                last_notice: None,
            }),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether a warning may go onto the channel at `now`; one that may not is counted.
    pub fn admit(&self, now: Instant) -> bool {
        let mut state = self.state.lock();
        if state.waiting >= state.most_waiting || !state.bucket.take(now) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        state.waiting += 1;
        true
    }

    /// The main thread took a warning off the channel.
    pub fn taken(&self) {
        let mut state = self.state.lock();
        state.waiting = state.waiting.saturating_sub(1);
    }

    /// Whether `take_notice` would give a notice at `now`.
    pub fn notice_due(&self, now: Instant) -> bool {
        self.suppressed.load(Ordering::Relaxed) > 0 && self.state.lock().notice_may_go(now)
    }

    /// For a main thread that found the channel empty: the count of warnings held back since
    /// the last notice, when there are some and the last notice is `WARNING_INTERVAL` old.
    pub fn take_notice(&self, now: Instant) -> Option<u64> {
        if self.suppressed.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut state = self.state.lock();
        if !state.notice_may_go(now) {
            return None;
        }
        state.last_notice = Some(now);
        Some(self.suppressed.swap(0, Ordering::Relaxed)).filter(|count| *count > 0)
    }
}

impl GateState {
    fn notice_may_go(&self, now: Instant) -> bool {
        self.last_notice
            .is_none_or(|last| now.saturating_duration_since(last) >= WARNING_INTERVAL)
    }
}

/// `burst` tokens at most, refilled at `per_second`.
struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_second: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    fn full(budget: WarningBudget, now: Instant) -> Self {
        Self {
            tokens: f64::from(budget.burst),
            burst: f64::from(budget.burst),
            per_second: f64::from(budget.per_second),
            refilled_at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let earned = elapsed.as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled_at = self.refilled_at.max(now);
    }

    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        let has = self.tokens >= 1.0;
        if has {
            self.tokens -= 1.0;
        }
        has
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_of_a_peer_pass_once_per_interval_and_count_the_rest() {
        let mut limiter = WarningLimiter::default();
        let start = tokio::time::Instant::now();
        assert_eq!(limiter.allow(start), Some(0));
        assert_eq!(limiter.allow(start + WARNING_INTERVAL / 2), None);
        assert_eq!(limiter.allow(start + WARNING_INTERVAL / 2), None);
        assert_eq!(limiter.allow(start + WARNING_INTERVAL), Some(2));
        assert_eq!(limiter.allow(start + WARNING_INTERVAL * 3), Some(0));
    }

    const BUDGET: WarningBudget = WarningBudget::DEFAULT;
    const TOKEN_TIME: Duration = Duration::from_millis(1000 / BUDGET.per_second as u64);

    #[test]
    fn the_server_passes_a_burst_then_its_rate_and_counts_the_rest() {
        let start = Instant::now();
        let gate = WarningGate::new(BUDGET, start);
        for _ in 0..BUDGET.burst {
            assert!(gate.admit(start));
            gate.taken();
        }
        for _ in 0..5 {
            assert!(!gate.admit(start));
        }
        assert!(!gate.admit(start + TOKEN_TIME / 2));
        assert!(gate.admit(start + TOKEN_TIME));
        gate.taken();
        assert!(!gate.admit(start + TOKEN_TIME));
        assert_eq!(gate.take_notice(start + TOKEN_TIME), Some(7));
    }

    #[test]
    fn a_game_that_does_not_poll_holds_a_bounded_number_and_the_count_of_the_rest() {
        let start = Instant::now();
        let gate = WarningGate::new(BUDGET, start);
        // Slower than the rate: only the bound on waiting warnings holds them.
        let admitted = (0..1000u32)
            .filter(|i| gate.admit(start + TOKEN_TIME * *i))
            .count();
        assert_eq!(admitted, BUDGET.waiting);
        // The game polls: it takes what waits, then the notice of the rest, at once.
        let later = start + TOKEN_TIME * 1000;
        for _ in 0..admitted {
            gate.taken();
        }
        assert!(gate.notice_due(later));
        assert_eq!(gate.take_notice(later), Some(1000 - BUDGET.waiting as u64));
        assert!(!gate.notice_due(later));
        assert_eq!(gate.take_notice(later), None);
    }

    #[test]
    fn notices_go_at_most_once_per_interval() {
        let start = Instant::now();
        let gate = WarningGate::new(BUDGET, start);
        for _ in 0..=BUDGET.burst {
            gate.admit(start);
        }
        assert_eq!(gate.take_notice(start), Some(1));
        gate.admit(start);
        assert!(!gate.notice_due(start + WARNING_INTERVAL / 2));
        assert_eq!(gate.take_notice(start + WARNING_INTERVAL / 2), None);
        assert_eq!(gate.take_notice(start + WARNING_INTERVAL), Some(1));
    }
}
