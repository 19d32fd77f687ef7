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
/// event channel. The network threads ask it before they send a
/// warning; the main thread tells it when it takes one, and asks it for the notice of what was
/// held back once the channel is empty.
pub(crate) struct WarningGate {
    state: Mutex<GateState>,
    /// Warnings held back since the last notice. Read without the lock by the main thread's
    /// polls, which mostly find it zero.
    suppressed: AtomicU64,
}

struct GateState {
    bucket: TokenBucket,
    most_waiting: usize,
    /// Warnings and notices on the event channel, not yet taken by the main thread.
    waiting: usize,
}

impl WarningGate {
    pub fn new(budget: WarningBudget, now: Instant) -> Self {
        Self {
            state: Mutex::new(GateState {
                bucket: TokenBucket::full(budget, now),
                most_waiting: budget.waiting,
                waiting: 0,
            }),
            suppressed: AtomicU64::new(0),
        }
    }

    /// A warning wants onto the channel at `now`. `Some(n)`: it may go, after a notice of the
    /// `n` held back before it when `n > 0` (both are counted as waiting). `None`: it is held
    /// back and counted.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock();
        if state.waiting >= state.most_waiting || !state.bucket.take(now) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        state.waiting += if suppressed > 0 { 2 } else { 1 };
        Some(suppressed)
    }

    /// The main thread took a warning or a notice off the channel.
    pub fn taken(&self) {
        let mut state = self.state.lock();
        state.waiting = state.waiting.saturating_sub(1);
    }

    /// Whether `take_notice` would give a notice now (without taking the token).
    pub fn notice_due(&self, now: Instant) -> bool {
        self.suppressed.load(Ordering::Relaxed) > 0 && self.state.lock().bucket.has_token(now)
    }

    /// For a main thread that found the channel empty: the count held back since the last
    /// notice, when one is due and the bucket lets it out. Printing resumes with it.
    pub fn take_notice(&self, now: Instant) -> Option<u64> {
        if self.suppressed.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut state = self.state.lock();
        if !state.bucket.take(now) {
            return None;
        }
        match self.suppressed.swap(0, Ordering::Relaxed) {
            0 => {
                state.bucket.give_back();
                None
            }
            n => Some(n),
        }
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

    fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    fn take(&mut self, now: Instant) -> bool {
        let has = self.has_token(now);
        if has {
            self.tokens -= 1.0;
        }
        has
    }

    fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
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
    fn the_server_passes_a_burst_then_its_rate_and_counts_the_rest_in_the_next() {
        let start = Instant::now();
        let gate = WarningGate::new(BUDGET, start);
        for _ in 0..BUDGET.burst {
            assert_eq!(gate.admit(start), Some(0));
            gate.taken();
        }
        for _ in 0..5 {
            assert_eq!(gate.admit(start), None);
        }
        // One token later: the next warning goes, after the notice of the five.
        assert_eq!(gate.admit(start + TOKEN_TIME / 2), None);
        assert_eq!(gate.admit(start + TOKEN_TIME), Some(6));
        assert_eq!(gate.admit(start + TOKEN_TIME), None);
    }

    #[test]
    fn a_game_that_does_not_poll_holds_a_bounded_number_and_the_count_of_the_rest() {
        let start = Instant::now();
        let gate = WarningGate::new(BUDGET, start);
        // Much later than needed to refill: only the bound on waiting warnings holds them.
        let admitted = (0..1000u32)
            .filter(|i| gate.admit(start + TOKEN_TIME * *i).is_some())
            .count();
        assert_eq!(admitted, BUDGET.waiting);
        let later = start + TOKEN_TIME * 2000;
        // The game polls: it takes what waits, then the notice of the rest.
        for _ in 0..admitted {
            gate.taken();
        }
        assert!(gate.notice_due(later));
        assert_eq!(gate.take_notice(later), Some(1000 - BUDGET.waiting as u64));
        assert!(!gate.notice_due(later));
        assert_eq!(gate.take_notice(later), None);
    }

    #[test]
    fn the_notice_waits_for_a_token() {
        let start = Instant::now();
        let gate = WarningGate::new(BUDGET, start);
        for _ in 0..=BUDGET.burst {
            gate.admit(start);
            gate.taken();
        }
        assert!(!gate.notice_due(start));
        assert_eq!(gate.take_notice(start), None);
        assert_eq!(gate.take_notice(start + TOKEN_TIME), Some(1));
    }
}
