//! Virtual time: the only clock a plugin sees. It starts at zero for every task attempt and
//! moves only when the plugin waits: a sleep of ten seconds returns at once and leaves the
//! clock ten seconds later. So a plugin can neither stall the host by sleeping (a blocked host
//! call would outlive every deadline) nor learn real time through how long a wait took, and
//! two runs of a task see the same times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

/// The `wasi:clocks/monotonic-clock` instance whose subscriptions are replaced. Its version is
/// the one this wasmtime-wasi defines; a guest importing an older 0.2 version is linked to it.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Nanoseconds of virtual time, shared by the clocks and the pollables of one task attempt.
#[derive(Debug, Clone, Default)]
pub(super) struct VirtualClock(Arc<AtomicU64>);

impl VirtualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Moves the clock to `at` if that is later.
    fn advance_to(&self, at: u64) {
        self.0.fetch_max(at, Ordering::Relaxed);
    }
}

impl wasmtime_wasi::HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    /// The Unix epoch plus the virtual time elapsed.
    fn now(&self) -> Duration {
        Duration::from_nanos(VirtualClock::now(self))
    }
}

impl wasmtime_wasi::HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        VirtualClock::now(self)
    }
}

/// What a plugin gets when it subscribes to the clock: ready at once, and once waited on, the
/// clock reads at least its deadline.
struct Deadline {
    clock: VirtualClock,
    at: u64,
}

#[wasmtime_wasi::async_trait]
impl Pollable for Deadline {
    async fn ready(&mut self) {
        self.clock.advance_to(self.at);
    }
}

/// Where a store's state keeps the task's clock and its WASI resources.
pub(super) trait HasClock: 'static {
    /// The task attempt's clock.
    fn clock(&self) -> &VirtualClock;
    /// The table WASI resources live in.
    fn table(&mut self) -> &mut ResourceTable;
}

/// Replaces `subscribe-duration` and `subscribe-instant` of the monotonic clock in `linker`
/// (which must already hold WASI) with virtual-time versions.
///
/// # Errors
/// If the linker holds no such functions to replace.
pub(super) fn add_to_linker<T: HasClock>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    fn deadline<T: HasClock>(state: &mut T, at: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let clock = state.clock().clone();
        let table = state.table();
        let deadline = table.push(Deadline { clock, at })?;
        subscribe(table, deadline)
    }
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap("subscribe-duration", |mut store, (nanos,): (u64,)| {
        let state: &mut T = store.data_mut();
        let at = state.clock().now().saturating_add(nanos);
        Ok((deadline(state, at)?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut store, (when,): (u64,)| {
        Ok((deadline(store.data_mut(), when)?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_only_moves_forward_to_deadlines_waited_on() {
        let clock = VirtualClock::default();
        assert_eq!(clock.now(), 0);
        clock.advance_to(10);
        clock.advance_to(5);
        assert_eq!(clock.now(), 10);
        let mut deadline = Deadline {
            clock: clock.clone(),
            at: 3_000_000_000,
        };
        futures_ready(&mut deadline);
        assert_eq!(
            wasmtime_wasi::HostMonotonicClock::now(&clock),
            3_000_000_000
        );
        assert_eq!(
            wasmtime_wasi::HostWallClock::now(&clock),
            Duration::from_secs(3)
        );
    }

    /// Polls `pollable` once, as `wasi:io/poll` would; it must be ready at once.
    fn futures_ready(pollable: &mut Deadline) {
        use std::task::{Context, Poll, Waker};
        let mut future = pollable.ready();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(future.as_mut().poll(&mut cx), Poll::Ready(())));
    }
}
