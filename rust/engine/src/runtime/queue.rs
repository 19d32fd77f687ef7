//! A peer's queues between the main thread and its connection task: the commands going out
//! (packets, close, socket options), the counters that bound both directions, and the wakes
//! of the connection task (now, or batched for the length of one `poll()`).
//!
//! Who moves each counter of `PeerCounters`:
//!
//! | counter          | incremented by                                   | decremented by                                      |
//! |------------------|--------------------------------------------------|-----------------------------------------------------|
//! | `unread_bytes`,  | the connection task, when it hands a message to  | the main thread, when the game takes the message or |
//! | `unread_packets` | the main thread (`add_unread`)                   | it is dropped (`remove_unread`, which wakes reader) |
//! | `queued_bytes`,  | whoever enqueues a packet (`Route::enqueue`: the | the connection task, once the packet is flushed to  |
//! | `queued_packets` | main thread, or another peer's task relaying)    | the socket or dropped unsent (`remove_queued`)      |
//!
//! The connection stops reading its socket while the unread counters are at the inbound limit
//! (TCP backpressure), and `enqueue` refuses while the queued ones are at the outbound limit.
//! What a peer must take and cannot refuse (a relay, a multiplayer system message) marks it as
//! overflowed instead (`Route::enqueue_or_overflow`): its connection closes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;

use crate::error::SendError;
use crate::packet::{Packet, PeerId};
use crate::proto::limits::Limits;
use crate::proto::multiplayer::SYSTEM_MESSAGE_SIZE;

/// How many multiplayer system messages (SYS_ADD, SYS_DEL) a peer's queue takes past its
/// outbound limits, on top of one per registered peer: a peer whose queue is full of game data
/// still hears of joins and leaves, and a new peer's join (SYS_ID, SYS_ADD(1), then one SYS_ADD
/// per peer) always fits. A peer with more than that waiting (it reads nothing while peers
/// come and go) cannot be told its peer list, and is closed.
pub const SYSTEM_RESERVE_PACKETS: usize = 256;

/// What the main thread (or the registry) asks of a connection task.
#[derive(Debug)]
pub(crate) enum Command {
    Send(Packet),
    /// Start the close handshake; drop unread and further input.
    Close {
        code: u16,
        reason: String,
    },
    /// Apply the latest `Route::set_no_delay` (one such command is queued at most).
    SetNoDelay,
    /// The server stops: send a close frame and end without waiting for the reply.
    Shutdown,
    /// Panic in the connection task: the test hook of `Peer::inject_panic`.
    Panic,
}

/// Counters shared by the main thread and the connection task (see the table above).
#[derive(Default, Debug)]
pub(crate) struct PeerCounters {
    unread_bytes: AtomicUsize,
    unread_packets: AtomicUsize,
    /// Woken when the game takes a packet, so a paused reader resumes.
    reader_waker: AtomicWaker,
    queued_bytes: AtomicUsize,
    queued_packets: AtomicUsize,
    /// Woken when a command is queued, so the connection task writes it.
    writer_waker: AtomicWaker,
    /// In the held wakes of a `WakeBatch`.
    wake_held: AtomicBool,
    /// Set once, by the first packet the peer had to take and could not: its connection
    /// closes it.
    overflow: OnceLock<Overflow>,
    /// The connection task let go of its commands: it ended, or is about to.
    ended: AtomicBool,
    /// TCP_NODELAY as the game last set it, and whether a `SetNoDelay` command is queued to
    /// apply it: a game that calls `set_no_delay` on a peer that reads nothing queues one.
    no_delay: AtomicBool,
    no_delay_queued: AtomicBool,
    /// A heartbeat tick came and the connection task has not handled it yet (see
    /// `heartbeat`): one flag, not a queued command, so it is seen even while the socket
    /// takes no output and the commands wait.
    heartbeat_due: AtomicBool,
    /// The connection task let go of tungstenite (see `socket`): rest ticks pass it by.
    resting: AtomicBool,
    /// A rest tick came and the connection task has not handled it yet.
    rest_due: AtomicBool,
}

/// Why a peer is closed for not keeping up: the first packet it had to take that did not fit.
#[derive(Debug)]
pub(crate) struct Overflow {
    pub cause: OverflowCause,
    /// Its queue when the packet came, and the packet's size.
    pub queued_bytes: usize,
    pub queued_packets: usize,
    pub packet: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OverflowCause {
    /// A multiplayer SYS_ADD or SYS_DEL: without it the peer's list of peers would be wrong.
    SystemMessage,
    /// A packet another client sent it through the server.
    Relay { from: PeerId },
}

impl PeerCounters {
    /// Whether one more inbound message of `len` bytes fits in the unread limits.
    pub fn has_inbound_room(&self, len: usize, limits: &Limits) -> bool {
        limits.inbound_fits(
            self.unread_bytes.load(Ordering::Acquire),
            self.unread_packets.load(Ordering::Acquire),
            len,
        )
    }

    /// Like `has_inbound_room`, but when there is none, `cx` is woken once the game makes
    /// some. Checked again after registering, so room made in between is not missed.
    pub fn poll_inbound_room(&self, len: usize, limits: &Limits, cx: &mut Context<'_>) -> bool {
        if self.has_inbound_room(len, limits) {
            return true;
        }
        self.reader_waker.register(cx.waker());
        self.has_inbound_room(len, limits)
    }

    pub fn add_unread(&self, len: usize) {
        self.unread_bytes.fetch_add(len, Ordering::AcqRel);
        self.unread_packets.fetch_add(1, Ordering::AcqRel);
    }

    /// The game took (or dropped) an unread message: make room and wake the reader.
    pub fn remove_unread(&self, len: usize) {
        self.unread_bytes.fetch_sub(len, Ordering::AcqRel);
        self.unread_packets.fetch_sub(1, Ordering::AcqRel);
        self.reader_waker.wake();
    }

    /// Bytes queued for sending and not yet flushed to the socket.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }

    pub fn remove_queued(&self, bytes: usize, packets: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.queued_packets.fetch_sub(packets, Ordering::AcqRel);
    }

    /// The TCP_NODELAY setting to apply now, for a `SetNoDelay` command.
    pub fn take_no_delay(&self) -> bool {
        // Cleared first: a setting made after this queues a command of its own.
        self.no_delay_queued.store(false, Ordering::Release);
        self.no_delay.load(Ordering::Acquire)
    }

    /// Why the peer must be closed for not keeping up, once it must.
    pub fn overflow(&self) -> Option<&Overflow> {
        self.overflow.get()
    }

    /// Like `overflow`, but when there is none, `cx` is woken once there is: the connection
    /// task, which waits on its socket while the peer reads nothing, still hears of it.
    pub fn poll_overflow(&self, cx: &mut Context<'_>) -> Option<&Overflow> {
        if let Some(overflow) = self.overflow() {
            return Some(overflow);
        }
        self.writer_waker.register(cx.waker());
        self.overflow()
    }

    /// A heartbeat tick: flags it and wakes the connection task.
    pub fn request_heartbeat(&self) {
        self.heartbeat_due.store(true, Ordering::Release);
        self.writer_waker.wake();
    }

    /// A rest tick (see `socket`): flags it and wakes the connection task, unless it rests.
    pub fn request_rest(&self) {
        if !self.resting.load(Ordering::Acquire) {
            self.rest_due.store(true, Ordering::Release);
            self.writer_waker.wake();
        }
    }

    /// Whether a rest tick came since the last call.
    pub fn take_rest_tick(&self) -> bool {
        self.rest_due.swap(false, Ordering::AcqRel)
    }

    pub fn set_resting(&self, resting: bool) {
        self.resting.store(resting, Ordering::Release);
    }

    /// Whether a heartbeat tick came since the last call. The connection task calls it after
    /// registering its waker (`poll_overflow`), so a tick in between wakes it again.
    pub fn take_heartbeat(&self) -> bool {
        self.heartbeat_due.swap(false, Ordering::AcqRel)
    }

    /// Records the first overflow and wakes the connection task, which closes the peer.
    fn set_overflow(&self, overflow: Overflow) {
        if self.overflow.set(overflow).is_ok() {
            self.writer_waker.wake();
        }
    }
}

/// How far an enqueued packet may fill the peer's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// Within the outbound limits: game data and relays.
    Limited,
    /// Past the outbound limits by at most `extra` messages of `SYSTEM_MESSAGE_SIZE` bytes:
    /// multiplayer system messages (see `SYSTEM_RESERVE_PACKETS`).
    System { extra: usize },
}

impl Bound {
    /// The limits a packet under this bound must fit in.
    fn outbound_limits(self, limits: &Limits) -> Limits {
        match self {
            Bound::Limited => *limits,
            Bound::System { extra } => Limits {
                out_bytes: limits
                    .out_bytes
                    .saturating_add(extra.saturating_mul(SYSTEM_MESSAGE_SIZE)),
                out_packets: limits.out_packets.saturating_add(extra),
                ..*limits
            },
        }
    }
}

/// When the connection task hears of an enqueued packet.
#[derive(Clone, Copy)]
pub(crate) enum Wake<'a> {
    /// At once.
    Now,
    /// At the end of the main thread's batch, if one is on (see `WakeBatch`).
    Batched(&'a WakeBatch),
}

/// Holds back the main thread's wakes of connection tasks while it handles a batch of events
/// (one `poll()`): every packet the game sends in the batch is queued at once, and each task
/// with new output is woken once at the end, to write all of it in one go. Woken one packet at
/// a time, a task on the same core preempts the main thread for every packet.
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

/// A peer's command queue. A deque behind a lock, not an unbounded channel: a channel keeps
/// a block of slots (31 commands, 1.5 KB) for as long as it lives once it was used, and an
/// idle peer's queue should hold nothing (`Commands::shrink`).
#[derive(Debug, Default)]
struct Queue {
    state: Mutex<QueueState>,
}

#[derive(Debug, Default)]
struct QueueState {
    commands: VecDeque<Command>,
    /// The `Sender`s alive: none left means the main thread and the registry dropped the peer.
    senders: usize,
    /// The connection task dropped its `Commands`: nothing queued now would be taken.
    closed: bool,
}

/// The main thread's and the registry's end of a peer's command queue.
#[derive(Debug)]
struct Sender(Arc<Queue>);

impl Sender {
    /// Queues `command`; gives it back once the connection task let go of the queue.
    fn send(&self, command: Command) -> Result<(), Command> {
        let mut state = self.0.state.lock();
        if state.closed {
            return Err(command);
        }
        state.commands.push_back(command);
        Ok(())
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.0.state.lock().senders += 1;
        Self(self.0.clone())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.state.lock().senders -= 1;
    }
}

/// A connection task's end of its command queue.
pub(crate) struct Commands {
    queue: Arc<Queue>,
    counters: Arc<PeerCounters>,
}

impl Drop for Commands {
    /// However the task ends (returns, panics, dropped at shutdown), its peer takes no more.
    fn drop(&mut self) {
        let mut state = self.queue.state.lock();
        state.closed = true;
        // What was queued is never sent; it goes now, not with the last sender.
        state.commands = VecDeque::new();
        drop(state);
        self.counters.ended.store(true, Ordering::Release);
    }
}

impl Commands {
    /// The next command; `Ready(None)` once every sender is gone (the server went away).
    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Command>> {
        for attempt in 0..2 {
            let mut state = self.queue.state.lock();
            if let Some(command) = state.commands.pop_front() {
                return Poll::Ready(Some(command));
            }
            if state.senders == 0 {
                return Poll::Ready(None);
            }
            drop(state);
            // Checked again after registering, so a command queued in between still wakes us.
            if attempt == 0 {
                self.counters.writer_waker.register(cx.waker());
            }
        }
        Poll::Pending
    }

    /// Frees the queue's storage if it is empty (a peer at rest holds none).
    pub fn shrink(&self) {
        let mut state = self.queue.state.lock();
        if state.commands.is_empty() {
            state.commands = VecDeque::new();
        }
    }
}

/// The way to a peer's connection task: its command queue and the counters that bound it.
/// Cloned into the registry, so other connections can relay to the peer without the main
/// thread.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    commands: Sender,
    pub counters: Arc<PeerCounters>,
    pub limits: Limits,
}

impl Route {
    /// A new peer's route and its connection task's end of the command queue.
    pub fn new(limits: Limits) -> (Self, Commands) {
        let queue = Arc::new(Queue::default());
        queue.state.lock().senders = 1;
        let counters = Arc::new(PeerCounters::default());
        let receiver = Commands {
            queue: queue.clone(),
            counters: counters.clone(),
        };
        let route = Self {
            commands: Sender(queue),
            counters,
            limits,
        };
        (route, receiver)
    }

    /// Whether the connection task ended: nothing queued now would be sent.
    pub fn has_ended(&self) -> bool {
        self.counters.ended.load(Ordering::Acquire)
    }

    /// Sets TCP_NODELAY (best effort, once the connection task runs); settings made before it
    /// applies one are coalesced into the latest.
    pub fn set_no_delay(&self, enabled: bool) {
        self.counters.no_delay.store(enabled, Ordering::Release);
        if !self.counters.no_delay_queued.swap(true, Ordering::AcqRel) {
            let _ = self.command(Command::SetNoDelay);
        }
    }

    /// Queues a command other than a packet and wakes the connection task. Fails once the task
    /// has ended.
    pub fn command(&self, command: Command) -> Result<(), SendError> {
        self.commands
            .send(command)
            .map_err(|_| SendError::NotConnected)?;
        self.counters.writer_waker.wake();
        Ok(())
    }

    /// Queues a packet within `bound` and wakes the connection task as `wake` says. Refused,
    /// sending nothing, past the bound or once the task ended.
    pub fn enqueue(&self, packet: Packet, bound: Bound, wake: Wake<'_>) -> Result<(), SendError> {
        let len = packet.data.len();
        let counters = &self.counters;
        let queued_bytes = counters.queued_bytes.load(Ordering::Acquire);
        let queued_packets = counters.queued_packets.load(Ordering::Acquire);
        if !bound
            .outbound_limits(&self.limits)
            .outbound_fits(queued_bytes, queued_packets, len)
        {
            return Err(SendError::QueueFull {
                queued_bytes,
                queued_packets,
                packet: len,
            });
        }
        counters.queued_bytes.fetch_add(len, Ordering::AcqRel);
        counters.queued_packets.fetch_add(1, Ordering::AcqRel);
        if self.commands.send(Command::Send(packet)).is_err() {
            counters.remove_queued(len, 1);
            return Err(SendError::NotConnected);
        }
        match wake {
            Wake::Now => counters.writer_waker.wake(),
            Wake::Batched(batch) => batch.wake(counters),
        }
        Ok(())
    }

    /// Queues a packet the peer must take (`cause` says which kind) from the network side: past
    /// `bound` nothing is queued and the peer is marked as overflowed, so its connection closes
    /// it. A peer whose task ended misses it: it is gone.
    pub fn enqueue_or_overflow(&self, packet: Packet, bound: Bound, cause: OverflowCause) {
        if let Err(SendError::QueueFull {
            queued_bytes,
            queued_packets,
            packet,
        }) = self.enqueue(packet, bound, Wake::Now)
        {
            self.counters.set_overflow(Overflow {
                cause,
                queued_bytes,
                queued_packets,
                packet,
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A waker that counts its wakes.
    #[derive(Default)]
    pub struct CountingWaker(AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::AcqRel);
        }
    }

    impl CountingWaker {
        /// Registers a new counting waker as the connection task's, as its poll would.
        pub fn register(counters: &PeerCounters) -> Arc<Self> {
            let waker = Arc::new(Self::default());
            counters.writer_waker.register(&waker.clone().into());
            waker
        }

        pub fn wakes(&self) -> usize {
            self.0.load(Ordering::Acquire)
        }
    }

    /// Every command queued so far, as the connection task would take them.
    pub fn drain(commands: &Commands) -> Vec<Command> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        std::iter::from_fn(|| match commands.poll_next(&mut cx) {
            Poll::Ready(Some(command)) => Some(command),
            _ => None,
        })
        .collect()
    }

    const LIMITS: Limits = Limits {
        in_bytes: 1024,
        in_packets: 4,
        out_bytes: 100,
        out_packets: 3,
    };

    fn packet(len: usize) -> Packet {
        Packet::binary(vec![0; len].into())
    }

    #[test]
    fn a_limited_packet_is_refused_past_either_outbound_limit_with_what_was_queued() {
        let (route, _commands) = Route::new(LIMITS);
        route
            .enqueue(packet(60), Bound::Limited, Wake::Now)
            .unwrap();
        assert_eq!(
            route.enqueue(packet(41), Bound::Limited, Wake::Now),
            Err(SendError::QueueFull {
                queued_bytes: 60,
                queued_packets: 1,
                packet: 41
            })
        );
        route
            .enqueue(packet(40), Bound::Limited, Wake::Now)
            .unwrap();
        route.enqueue(packet(0), Bound::Limited, Wake::Now).unwrap();
        assert_eq!(
            route.enqueue(packet(0), Bound::Limited, Wake::Now),
            Err(SendError::QueueFull {
                queued_bytes: 100,
                queued_packets: 3,
                packet: 0
            })
        );
        assert_eq!(route.counters.queued_bytes(), 100);
    }

    #[test]
    fn a_system_message_passes_a_full_queue_by_its_reserve_and_counts_in_it() {
        let (route, commands) = Route::new(LIMITS);
        route
            .enqueue(packet(100), Bound::Limited, Wake::Now)
            .unwrap();
        let system = Bound::System { extra: 2 };
        route.enqueue(packet(13), system, Wake::Now).unwrap();
        route.enqueue(packet(13), system, Wake::Now).unwrap();
        assert_eq!(
            route.enqueue(packet(13), system, Wake::Now),
            Err(SendError::QueueFull {
                queued_bytes: 126,
                queued_packets: 3,
                packet: 13
            }),
            "the byte limit and 2 system messages: 126 bytes"
        );
        assert_eq!(route.counters.queued_bytes(), 126);
        let lens: Vec<_> = drain(&commands)
            .into_iter()
            .map(|command| match command {
                Command::Send(packet) => packet.data.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(lens, [100, 13, 13]);
    }

    #[test]
    fn a_packet_that_must_be_taken_and_does_not_fit_overflows_the_peer_once() {
        let (route, commands) = Route::new(LIMITS);
        let waker = CountingWaker::register(&route.counters);
        let relay = OverflowCause::Relay { from: 9 };
        route.enqueue_or_overflow(packet(100), Bound::Limited, relay);
        assert!(route.counters.overflow().is_none());
        assert_eq!(waker.wakes(), 1);
        let waker = CountingWaker::register(&route.counters);
        route.enqueue_or_overflow(packet(1), Bound::Limited, relay);
        let system = Bound::System { extra: 0 };
        route.enqueue_or_overflow(packet(13), system, OverflowCause::SystemMessage);
        let overflow = route.counters.overflow().expect("overflowed");
        assert_eq!(overflow.cause, relay, "the first cause is kept");
        assert_eq!(
            (
                overflow.queued_bytes,
                overflow.queued_packets,
                overflow.packet
            ),
            (100, 1, 1)
        );
        assert_eq!(waker.wakes(), 1, "woken to close the peer");
        assert_eq!(drain(&commands).len(), 1);
    }

    #[test]
    fn a_packet_for_an_ended_task_is_refused_and_its_count_given_back() {
        let (route, commands) = Route::new(LIMITS);
        drop(commands);
        assert_eq!(
            route.enqueue(packet(10), Bound::Limited, Wake::Now),
            Err(SendError::NotConnected)
        );
        assert_eq!(route.counters.queued_bytes(), 0);
        assert!(route.enqueue(packet(0), Bound::Limited, Wake::Now).is_err());
        assert_eq!(
            route.command(Command::Shutdown),
            Err(SendError::NotConnected)
        );
    }

    #[test]
    fn no_delay_settings_queue_one_command_and_the_latest_wins() {
        let (route, commands) = Route::new(LIMITS);
        for i in 0..1000 {
            route.set_no_delay(i % 2 == 0);
        }
        assert!(matches!(&drain(&commands)[..], [Command::SetNoDelay]));
        assert!(!route.counters.take_no_delay(), "the last call said false");
        route.set_no_delay(true);
        assert!(matches!(&drain(&commands)[..], [Command::SetNoDelay]));
        assert!(route.counters.take_no_delay());
    }

    #[test]
    fn a_packet_wakes_the_task_now_or_at_the_end_of_the_batch() {
        let (route, _commands) = Route::new(LIMITS);
        let waker = CountingWaker::register(&route.counters);
        route.enqueue(packet(1), Bound::Limited, Wake::Now).unwrap();
        assert_eq!(waker.wakes(), 1);

        let batch = WakeBatch::default();
        let waker = CountingWaker::register(&route.counters);
        route
            .enqueue(packet(1), Bound::Limited, Wake::Batched(&batch))
            .unwrap();
        assert_eq!(waker.wakes(), 1, "no batch is held: at once");
        let waker = CountingWaker::register(&route.counters);
        batch.hold();
        route
            .enqueue(packet(1), Bound::Limited, Wake::Batched(&batch))
            .unwrap();
        assert_eq!(waker.wakes(), 0);
        batch.release();
        assert_eq!(waker.wakes(), 1);
    }

    #[test]
    fn the_reader_is_woken_when_the_game_makes_room() {
        let counters = PeerCounters::default();
        let limits = Limits {
            in_packets: 1,
            ..LIMITS
        };
        let waker = Arc::new(CountingWaker::default());
        let waker_handle = waker.clone().into();
        let mut cx = Context::from_waker(&waker_handle);
        assert!(counters.poll_inbound_room(10, &limits, &mut cx));
        counters.add_unread(10);
        assert!(!counters.poll_inbound_room(10, &limits, &mut cx));
        assert_eq!(waker.wakes(), 0);
        counters.remove_unread(10);
        assert_eq!(waker.wakes(), 1);
        assert!(counters.has_inbound_room(limits.in_bytes, &limits));
        assert!(!counters.has_inbound_room(limits.in_bytes + 1, &limits));
    }

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
