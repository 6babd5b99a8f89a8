//! [`open_cast_at`]: start reading a `.cast.zst` at the frame holding a
//! given time, using the frame index.

use std::io::{BufReader, Read, Seek, SeekFrom};

use super::index::{read_frame_index, FrameInfo};
use crate::cast::{CastReader, Header, TolerantReader};
use crate::error::{FormatError, Result};

/// Event iterator returned by [`open_cast_at`].
pub type SeekedCastReader<R> =
    CastReader<BufReader<TolerantReader<zstd::stream::read::Decoder<'static, BufReader<R>>>>>;

/// Open a `.cast.zst` and position the event iterator at the start of the
/// frame containing `time_us` (the first frame whose last event is at or
/// after `time_us`; events before `time_us` in that frame are included).
/// Past the end, the iterator is empty. Files without an index (plain
/// `zstd` output) are read from the start.
pub fn open_cast_at<R: Read + Seek>(
    mut r: R,
    time_us: u64,
) -> Result<(Header, SeekedCastReader<R>)> {
    let frames = match read_frame_index(&mut r) {
        Ok(f) => f,
        Err(FormatError::Framing(_)) => return from_offset(r, 0),
        Err(e) => return Err(e),
    };
    open_cast_at_frames(r, &frames, time_us)
}

/// [`open_cast_at`] with the frame index already known (read once, or
/// kept beside the cast: see [`super::index::encode_frame_list`]), so
/// nothing before the frame is read.
pub fn open_cast_at_frames<R: Read + Seek>(
    mut r: R,
    frames: &[FrameInfo],
    time_us: u64,
) -> Result<(Header, SeekedCastReader<R>)> {
    let Some(first) = frames.first() else {
        return Err(FormatError::Empty);
    };
    let target = frames
        .iter()
        .position(|f| f.event_count > 0 && f.last_time_us >= time_us);
    let k = match target {
        Some(0) => return from_offset(r, 0),
        Some(k) => k,
        None => frames.len(),
    };
    let header = read_header_frame(&mut r, first)?;
    let (start, base) = match frames.get(k) {
        Some(f) => (f.offset, frames[k - 1].last_time_us),
        None => {
            let last = &frames[frames.len() - 1];
            (last.offset + last.compressed_len, last.last_time_us)
        }
    };
    r.seek(SeekFrom::Start(start))?;
    let dec = zstd::stream::read::Decoder::new(r)?;
    let reader = CastReader::with_header(
        BufReader::new(TolerantReader::new(dec)),
        header.clone(),
        base,
    );
    Ok((header, reader))
}

fn from_offset<R: Read + Seek>(mut r: R, offset: u64) -> Result<(Header, SeekedCastReader<R>)> {
    r.seek(SeekFrom::Start(offset))?;
    let dec = zstd::stream::read::Decoder::new(r)?;
    let reader = CastReader::new(BufReader::new(TolerantReader::new(dec)))?;
    Ok((reader.header().clone(), reader))
}

fn read_header_frame<R: Read + Seek>(r: &mut R, frame: &FrameInfo) -> Result<Header> {
    r.seek(SeekFrom::Start(frame.offset))?;
    let dec = zstd::stream::read::Decoder::new(r.take(frame.compressed_len))?.single_frame();
    let reader = CastReader::new(BufReader::new(TolerantReader::new(dec)))?;
    Ok(reader.header().clone())
}
