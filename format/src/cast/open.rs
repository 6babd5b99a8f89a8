//! Opening cast files from disk: plain `.cast` or zstd-compressed
//! `.cast.zst`, detected by magic bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::event::Event;
use super::header::Header;
use super::reader::CastReader;
use crate::error::Result;

/// zstd data frame magic number (little endian on disk).
pub const ZSTD_MAGIC: u32 = 0xFD2F_B528;

/// True when `prefix` starts with a zstd data frame or skippable frame.
pub fn is_zstd(prefix: &[u8]) -> bool {
    let Some(m) = prefix.get(..4) else {
        return false;
    };
    let m = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
    m == ZSTD_MAGIC || m & 0xFFFF_FFF0 == 0x184D_2A50
}

/// A reader that turns an error of the inner reader into end of input,
/// remembering it. Used around zstd decoders so that a truncated last frame
/// ends the cast at the last complete line instead of failing.
#[derive(Debug)]
pub struct TolerantReader<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R> TolerantReader<R> {
    /// Wrap `inner`.
    pub fn new(inner: R) -> Self {
        TolerantReader { inner, error: None }
    }

    /// The error that ended the input early, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }
}

impl<R: Read> Read for TolerantReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.error.is_some() {
            return Ok(0);
        }
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
            }
        }
    }
}

/// Frame by frame, so a damaged frame is skipped (see
/// [`crate::framed::SalvageReader`]); `name` is what a warning names.
fn decoder(r: BufReader<impl Read + Send + 'static>, name: &str) -> Result<DynBufRead> {
    let dec = crate::framed::salvaging_decoder(r, name)?;
    Ok(Box::new(BufReader::new(dec)))
}

/// A boxed line reader, as returned by [`open_cast_reader`].
pub type DynBufRead = Box<dyn BufRead + Send>;

/// Wrap `r` so that plain and zstd-compressed casts read the same way
/// (compressed input is detected by its magic bytes).
pub fn decompressing_reader<R: Read + Send + 'static>(r: R) -> Result<DynBufRead> {
    let mut r = BufReader::new(r);
    let zst = is_zstd(r.fill_buf()?);
    if zst {
        decoder(r, "input")
    } else {
        Ok(Box::new(r))
    }
}

/// Stream a cast from any reader, plain or zstd.
pub fn open_cast_reader<R: Read + Send + 'static>(r: R) -> Result<CastReader<DynBufRead>> {
    CastReader::new(decompressing_reader(r)?)
}

/// Stream a `.cast` or `.cast.zst` file (zstd when the name ends in `.zst`
/// or the content starts with a zstd magic number).
pub fn open_cast_file(path: impl AsRef<Path>) -> Result<CastReader<DynBufRead>> {
    let path = path.as_ref();
    let file = File::open(path)?;
    if path.extension().is_some_and(|e| e == "zst") {
        CastReader::new(decoder(BufReader::new(file), &path.display().to_string())?)
    } else {
        open_cast_reader(file)
    }
}

/// Read a whole `.cast` or `.cast.zst` file.
pub fn read_cast_file(path: impl AsRef<Path>) -> Result<(Header, Vec<Event>)> {
    let reader = open_cast_file(path)?;
    let header = reader.header().clone();
    let events = reader.collect::<Result<Vec<_>>>()?;
    Ok((header, events))
}
