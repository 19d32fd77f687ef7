//! This process's own resources, read from `/proc/self` (Linux): threads and resident memory.
//! They count the whole process, so a test binary whose tests run in parallel must measure them
//! only while nothing else runs: in a harness of their own (tests/faults.rs), or in `alone`.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The names of this process's threads. A thread that exits while they are read is left out.
pub fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// Threads of the server runtimes (named `gdws-io`) alive in this process.
pub fn server_threads() -> usize {
    thread_names()
        .iter()
        .filter(|name| name.starts_with("gdws-io"))
        .count()
}

/// This process's resident memory (`VmRSS`), in bytes.
pub fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line in /proc/self/status");
    kib * 1024
}

static TURNS: RwLock<()> = RwLock::new(());

/// The turn of a test that does not measure the process, in a binary where some tests do: it
/// runs beside the others of its kind, never beside one that measures. Take it first thing.
pub fn shared_turn() -> RwLockReadGuard<'static, ()> {
    TURNS.read().unwrap_or_else(PoisonError::into_inner)
}

/// The turn of a test that measures the process: it starts once every other test of the binary
/// has given its turn back and their servers' threads are gone (a test that did not take a turn
/// and runs meanwhile shows as a server thread left), and no other test starts until it ends.
#[track_caller]
pub fn alone() -> RwLockWriteGuard<'static, ()> {
    let turn = TURNS.write().unwrap_or_else(PoisonError::into_inner);
    super::wait_until("no other test's server threads are left", || {
        server_threads() == 0
    });
    turn
}
