//! The consumer side of the kernel's BPF ring buffer, started where the
//! kernel's consumer position stands, so a ring taken over from an earlier
//! sshlogd (see `handover.rs`) is read on from where that one stopped.
//!
//! aya 0.13's `RingBuf` assumes a fresh ring: its cached producer position
//! starts at 0, so with a consumer position that is not 0 it reads the slot
//! at that position without asking the producer whether anything is there,
//! and hands out stale bytes. This reader follows the kernel's layout
//! (`kernel/bpf/ringbuf.c`): a consumer page (read-write), then a producer
//! page and the data pages mapped twice (read-only), each record an 8-byte
//! header (length, busy bit, discard bit) and its data, padded to 8 bytes.
//!
//! The data pages are mapped only while records come: the kernel maps every
//! page at mmap time, so a mapped 64 MiB ring (twice) is 128 MiB of resident
//! memory in `ps`, idle or not. The consumer and producer pages stay mapped
//! (positions only); the data mapping is made when a record waits and
//! dropped after [`IDLE_UNMAP`] without one.

use aya::maps::MapData;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HEADER_LEN: usize = 8;

/// How long the data pages stay mapped after the last record.
pub const IDLE_UNMAP: std::time::Duration = std::time::Duration::from_secs(10);

/// One mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<libc::c_void>,
    len: usize,
}

// SAFETY: the mappings are plain shared memory; access goes through atomics
// (positions, headers) or through shared borrows of `Ring`.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(fd: RawFd, len: usize, prot: libc::c_int, offset: usize) -> std::io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of a ring buffer map fd; the kernel
        // checks the length, protection and offset.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd,
                offset as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr).ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped, once.
        unsafe { libc::munmap(self.ptr.as_ptr(), self.len) };
    }
}

/// A BPF ring buffer map, read from the kernel's consumer position.
pub struct Ring {
    map: MapData,
    consumer: Mapping,
    /// The producer page.
    producer: Mapping,
    /// The data pages twice, while records come.
    data: Option<Mapping>,
    /// When a record was last read.
    last_read: std::time::Instant,
    fd: RawFd,
    page: usize,
    mask: usize,
    /// Our consumer position (the kernel's copy is in the consumer page).
    pos: usize,
}

impl Ring {
    /// Maps `map`, a ring buffer of `size` bytes (a power of two multiple of
    /// the page size, as the loader made it).
    pub fn new(map: MapData, size: u32) -> std::io::Result<Ring> {
        let size = size as usize;
        if !size.is_power_of_two() {
            return Err(std::io::Error::other(format!(
                "ring buffer size {size} is not a power of two"
            )));
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let fd = map.fd().as_fd().as_raw_fd();
        let consumer = Mapping::new(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = Mapping::new(fd, page, libc::PROT_READ, page)?;
        let mut ring = Ring {
            map,
            consumer,
            producer,
            data: None,
            last_read: std::time::Instant::now(),
            fd,
            page,
            mask: size - 1,
            pos: 0,
        };
        ring.pos = ring.consumer_pos().load(Ordering::SeqCst);
        Ok(ring)
    }

    fn consumer_pos(&self) -> &AtomicUsize {
        // SAFETY: the consumer page starts with the consumer position, an
        // aligned unsigned long the kernel reads atomically.
        unsafe { self.consumer.ptr.cast::<AtomicUsize>().as_ref() }
    }

    fn producer_pos(&self) -> &AtomicUsize {
        // SAFETY: as above, the producer page starts with the producer position.
        unsafe { self.producer.ptr.cast::<AtomicUsize>().as_ref() }
    }

    /// The data pages (mapped twice, so a record never wraps), mapped now
    /// if they are not.
    fn data(&mut self) -> std::io::Result<*const u8> {
        self.last_read = std::time::Instant::now();
        if self.data.is_none() {
            let size = self.mask + 1;
            self.data = Some(Mapping::new(
                self.fd,
                2 * size,
                libc::PROT_READ,
                2 * self.page,
            )?);
        }
        Ok(self
            .data
            .as_ref()
            .map_or(std::ptr::null(), |m| m.ptr.cast::<u8>().as_ptr()))
    }

    /// Unmaps the data pages when no record was read for `idle` and none
    /// waits; they are mapped again at the next record.
    pub fn unmap_if_idle(&mut self, idle: std::time::Duration) {
        if self.data.is_some() && self.last_read.elapsed() >= idle && self.backlog() == 0 {
            self.data = None;
        }
    }

    /// Bytes the kernel has written that are not read yet: how full the ring
    /// is (records still being written included).
    pub fn backlog(&self) -> usize {
        self.producer_pos()
            .load(Ordering::Acquire)
            .saturating_sub(self.pos)
    }

    /// The oldest committed record, if any; it is consumed when the returned
    /// item is dropped. A record still being written ends the read (it is
    /// returned next time), discarded ones are skipped.
    pub fn oldest(&mut self) -> Option<RingItem<'_>> {
        loop {
            // Acquire pairs with the kernel's release of the producer position.
            if self.pos == self.producer_pos().load(Ordering::Acquire) {
                return None;
            }
            let offset = self.pos & self.mask;
            let data = match self.data() {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!("cannot map the ring buffer's data pages: {e}");
                    return None;
                }
            };
            // SAFETY: offset < size, and the header lies in the first copy of
            // the data pages; the kernel writes it with an atomic exchange.
            let header = unsafe { &*(data.add(offset) as *const AtomicU32) };
            let header = header.load(Ordering::Acquire);
            if header & BUSY_BIT != 0 {
                return None;
            }
            let len = (header & !(BUSY_BIT | DISCARD_BIT)) as usize;
            if len > self.mask + 1 - HEADER_LEN {
                // Never written by the kernel: stop rather than read past the map.
                tracing::error!("ring buffer record of impossible length {len} at {offset}");
                return None;
            }
            if header & DISCARD_BIT != 0 {
                self.consume(len);
                continue;
            }
            // SAFETY: offset + 8 + len <= 2 * size: inside the double mapping.
            let data = unsafe { std::slice::from_raw_parts(data.add(offset + HEADER_LEN), len) };
            return Some(RingItem {
                data,
                len,
                pos: &mut self.pos,
                consumer: self.consumer.ptr,
            });
        }
    }

    fn consume(&mut self, len: usize) {
        self.pos += (HEADER_LEN + len).next_multiple_of(8);
        self.consumer_pos().store(self.pos, Ordering::SeqCst);
    }
}

impl AsRawFd for Ring {
    fn as_raw_fd(&self) -> RawFd {
        self.map.fd().as_fd().as_raw_fd()
    }
}

/// One record of a [`Ring`]; consumed on drop.
pub struct RingItem<'a> {
    data: &'a [u8],
    len: usize,
    pos: &'a mut usize,
    consumer: NonNull<libc::c_void>,
}

impl std::ops::Deref for RingItem<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl Drop for RingItem<'_> {
    fn drop(&mut self) {
        *self.pos += (HEADER_LEN + self.len).next_multiple_of(8);
        // SAFETY: the consumer page outlives the item (it borrows the ring);
        // SeqCst so the kernel sees the space freed before it checks for room.
        unsafe { self.consumer.cast::<AtomicUsize>().as_ref() }.store(*self.pos, Ordering::SeqCst);
    }
}
