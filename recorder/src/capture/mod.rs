//! Capture: the ring buffer drained into the tracker, in one place.
//!
//! - Wake-ups: the kernel wakes the consumer for each record while it keeps up;
//!   at light load they are coalesced to at most one drain per [`DRAIN_GAP`].
//!   After a large drain the next one is not delayed (a fast session must not
//!   fill the ring during the gap).
//! - Readiness is cleared before a drain, so a record that arrives after the
//!   drain found the ring empty wakes the loop again: no wake-up is lost.
//! - Drains run in batches; the shared lock is released between batches so the
//!   control socket stays responsive.
//! - The capture thread's priority: [`scheduling`] raises it to real time when
//!   the ring fills up (loss is near) and lowers it when calm.

pub mod ring;
pub mod scheduling;

use crate::daemon::{lock, Shared};
use crate::kernel_events::{self, KernelEvent};
use ring::Ring;
use scheduling::CaptureScheduler;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;
use tracing::warn;

/// The shortest time between two drains of the ring buffer (adds at most this
/// much latency to live output; at 64 MiB the ring holds minutes of it).
pub const DRAIN_GAP: Duration = Duration::from_millis(5);

/// A drain this large means a fast producer: the next one is not delayed.
pub const BUSY_DRAIN_BYTES: usize = 256 << 10;

/// Records handled per batch (between two takes of the shared lock).
const BATCH: usize = 256;

/// The ring buffer, polled by the capture loop, and its thread's scheduling.
pub struct Capture {
    ring: AsyncFd<Ring>,
    scheduler: CaptureScheduler,
    last_drain: Instant,
    last_bytes: usize,
}

impl Capture {
    /// Polls `ring` from the current tokio runtime (the capture thread's).
    pub fn new(ring: Ring, scheduler: CaptureScheduler) -> anyhow::Result<Capture> {
        // SAFETY: the ring buffer owns its fd and is moved into the AsyncFd,
        // which deregisters before dropping it.
        let ring = unsafe { AsyncFd::register(ring) }
            .map_err(|e| anyhow::anyhow!("cannot poll the ring buffer: {}", e.into_parts().1))?;
        Ok(Capture {
            ring,
            scheduler,
            last_drain: Instant::now(),
            last_bytes: 0,
        })
    }

    /// Waits until the kernel signals records (coalesced, see the module
    /// docs), then drains them.
    pub async fn wait_and_drain(&mut self, shared: &Mutex<Shared>) -> std::io::Result<()> {
        let mut guard = self.ring.readable_mut().await?;
        guard.clear_ready();
        let next = self.last_drain + DRAIN_GAP;
        if self.last_bytes < BUSY_DRAIN_BYTES && next > Instant::now() {
            tokio::time::sleep_until(next).await;
        }
        self.last_bytes = drain(guard.get_inner_mut(), shared, &mut self.scheduler);
        self.last_drain = Instant::now();
        Ok(())
    }

    /// Takes the oldest record waiting in the ring: after a handover, where
    /// this sshlogd's recording starts.
    pub fn next_record(&mut self) -> Option<Result<KernelEvent, kernel_events::DecodeError>> {
        let item = self.ring.get_mut().oldest()?;
        Some(kernel_events::decode(&item))
    }

    /// Drains whatever the ring holds now (the tick's safety net, shutdown).
    pub fn drain_now(&mut self, shared: &Mutex<Shared>) -> usize {
        drain(self.ring.get_mut(), shared, &mut self.scheduler)
    }

    /// Lets go of the ring's data pages after [`ring::IDLE_UNMAP`] without a
    /// record (idle memory; they are mapped again at the next one).
    pub fn unmap_if_idle(&mut self) {
        self.ring.get_mut().unmap_if_idle(ring::IDLE_UNMAP);
    }

    /// Lowers the capture thread to `capture_nice`, see
    /// [`CaptureScheduler::lower`].
    pub fn lower(&mut self) {
        self.scheduler.lower();
    }

    /// Runs `f`, which starts threads or processes, at normal scheduling
    /// ([`CaptureScheduler::normal_while`]).
    pub fn normal_while<T>(&mut self, f: impl FnOnce() -> T) -> T {
        self.scheduler.normal_while(f)
    }

    /// The capture thread's scheduling, see [`CaptureScheduler::status`].
    pub fn status(&self) -> String {
        self.scheduler.status()
    }

    /// Times the capture thread was raised to real-time priority.
    pub fn boosts(&self) -> u64 {
        self.scheduler.boosts
    }
}

/// Handles every record waiting in the ring buffer, in batches. Returns the
/// number of bytes handled; tells `scheduler` how full the ring is before
/// every batch (a thread that is far behind is boosted before it catches up).
fn drain(rb: &mut Ring, shared: &Mutex<Shared>, scheduler: &mut CaptureScheduler) -> usize {
    let mut batch = Vec::with_capacity(BATCH);
    let mut bytes = 0usize;
    loop {
        batch.clear();
        scheduler.observe(rb.backlog());
        while let Some(item) = rb.oldest() {
            bytes += item.len();
            batch.push(kernel_events::decode(&item));
            if batch.len() >= BATCH {
                break;
            }
        }
        if batch.is_empty() {
            return bytes;
        }
        let mut s = lock(shared);
        let Shared { tracker, sink, .. } = &mut *s;
        for ev in batch.drain(..) {
            match ev {
                Ok(ev) => tracker.handle(ev, sink),
                Err(e) => {
                    tracker.stats.decode_errors += 1;
                    warn!("bad kernel record: {e}");
                }
            }
        }
    }
}
