//! Holds back the main thread's wakes of connection tasks while it handles a batch of events
//! (one `poll()`): every packet the game sends in the batch is queued at once, and each task
//! with new output is woken once at the end, to write all of it in one go. Woken one packet at
//! a time, a task on the same core preempts the main thread for every packet.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::queue::PeerCounters;

#[derive(Default, Debug)]
pub(crate) struct WakeBatch {
    /// Holds open (they nest: a signal handler may poll again).
    holding: AtomicUsize,
    held: Mutex<Vec<Arc<PeerCounters>>>,
}

impl WakeBatch {
    /// From now on, wakes asked for by `wake` wait for the matching `release`.
    pub fn hold(&self) {
        self.holding.fetch_add(1, Ordering::AcqRel);
    }

    /// Ends a `hold`; the last one wakes every connection task held back.
    pub fn release(&self) {
        if self.holding.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let held = std::mem::take(&mut *self.held.lock());
        for counters in held {
            counters.wake_held.store(false, Ordering::Release);
            counters.writer_waker.wake();
        }
    }

    /// Wakes the connection task of `counters` now, or at `release` while holding.
    pub fn wake(&self, counters: &Arc<PeerCounters>) {
        if self.holding.load(Ordering::Acquire) == 0 {
            counters.writer_waker.wake();
        } else if !counters.wake_held.swap(true, Ordering::AcqRel) {
            self.held.lock().push(counters.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::queue::tests::CountingWaker;

    #[test]
    fn nested_holds_wake_each_held_task_once_at_the_last_release() {
        let batch = WakeBatch::default();
        let (a, b) = (
            Arc::new(PeerCounters::default()),
            Arc::new(PeerCounters::default()),
        );
        let (wakes_a, wakes_b) = (CountingWaker::register(&a), CountingWaker::register(&b));
        batch.hold();
        batch.wake(&a);
        batch.hold();
        batch.wake(&a);
        batch.wake(&b);
        batch.release();
        assert_eq!(
            (wakes_a.wakes(), wakes_b.wakes()),
            (0, 0),
            "woken inside the batch"
        );
        batch.release();
        assert_eq!((wakes_a.wakes(), wakes_b.wakes()), (1, 1));

        // The next batch holds them afresh.
        let wakes_a = CountingWaker::register(&a);
        batch.hold();
        batch.wake(&a);
        assert_eq!(wakes_a.wakes(), 0);
        batch.release();
        assert_eq!(wakes_a.wakes(), 1);
    }

    #[test]
    fn without_a_hold_a_wake_is_immediate() {
        let batch = WakeBatch::default();
        let counters = Arc::new(PeerCounters::default());
        let wakes = CountingWaker::register(&counters);
        batch.wake(&counters);
        assert_eq!(wakes.wakes(), 1);
    }
}
