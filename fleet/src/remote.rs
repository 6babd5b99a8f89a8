//! An object in the store read like a local file: [`RemoteObject`] is
//! `Read + Seek` (and reads at offsets) through range requests, a block at a
//! time with a few blocks cached, so a player reads a cast's frame index and
//! then only the frames it shows, never the whole object.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as Key;

use crate::{FleetError, FleetStore};

/// Bytes fetched per range request.
pub const BLOCK: u64 = 256 << 10;
/// Blocks kept in memory.
const CACHED_BLOCKS: usize = 16;

/// What was fetched so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetched {
    pub requests: u64,
    pub bytes: u64,
}

/// One object, opened for reading at any offset.
pub struct RemoteObject {
    store: FleetStore,
    key: Key,
    size: u64,
    rt: Arc<tokio::runtime::Runtime>,
    pos: u64,
    /// (block number, bytes), most recently used last.
    cache: RefCell<Vec<(u64, Bytes)>>,
    fetched: Cell<Fetched>,
}

impl RemoteObject {
    /// Opens `key` (one HEAD for its size). Not for use inside `rt`'s tasks.
    pub fn open(
        store: FleetStore,
        key: Key,
        rt: Arc<tokio::runtime::Runtime>,
    ) -> Result<RemoteObject, FleetError> {
        let size = rt.block_on(store.head(&key))?.size;
        Ok(RemoteObject {
            store,
            key,
            size,
            rt,
            pos: 0,
            cache: RefCell::default(),
            fetched: Cell::default(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    pub fn fetched(&self) -> Fetched {
        self.fetched.get()
    }

    fn block(&self, n: u64) -> io::Result<Bytes> {
        let mut cache = self.cache.borrow_mut();
        if let Some(i) = cache.iter().position(|(b, _)| *b == n) {
            let hit = cache.remove(i);
            let bytes = hit.1.clone();
            cache.push(hit);
            return Ok(bytes);
        }
        let start = n * BLOCK;
        let end = (start + BLOCK).min(self.size);
        let bytes = self
            .rt
            .block_on(self.store.get_range(&self.key, start..end))
            .map_err(io::Error::other)?;
        if bytes.len() as u64 != end - start {
            return Err(io::Error::other(format!(
                "{}: asked for bytes {start}..{end}, got {}",
                self.key,
                bytes.len()
            )));
        }
        let mut f = self.fetched.get();
        f.requests += 1;
        f.bytes += bytes.len() as u64;
        self.fetched.set(f);
        if cache.len() >= CACHED_BLOCKS {
            cache.remove(0);
        }
        cache.push((n, bytes.clone()));
        Ok(bytes)
    }

    /// Fills `buf` from `offset` (an error past the end).
    pub fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        if offset.saturating_add(buf.len() as u64) > self.size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        while !buf.is_empty() {
            let block = self.block(offset / BLOCK)?;
            let at = (offset % BLOCK) as usize;
            let n = buf.len().min(block.len() - at);
            buf[..n].copy_from_slice(&block[at..at + n]);
            buf = &mut buf[n..];
            offset += n as u64;
        }
        Ok(())
    }
}

impl Read for RemoteObject {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left).min(BLOCK - self.pos % BLOCK) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.read_exact_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteObject {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}
