//! [`open_cast_at`]: start reading a `.cast.zst` at the frame holding a
//! given time, using the frame index.

use std::io::{BufReader, Read, Seek, SeekFrom};

use super::index::{read_frame_index, FrameInfo};
use super::salvage::{salvaging_decoder, Salvaging};
use crate::cast::{CastReader, Header, TolerantReader};
use crate::error::{FormatError, Result};

/// Event iterator returned by [`open_cast_at`]: frame by frame, damaged
/// frames skipped (see [`super::SalvageReader`]).
pub type SeekedCastReader<R> = CastReader<BufReader<Salvaging<R>>>;

/// Open a `.cast.zst` and position the event iterator at the start of the
/// frame containing `time_us` (the first frame whose last event is at or
/// after `time_us`; events before `time_us` in that frame are included).
/// Past the end, the iterator is empty. Files without an index (plain
/// `zstd` output) are read from the start.
pub fn open_cast_at<R: Read + Seek>(
    mut r: R,
    time_us: u64,
    name: &str,
) -> Result<(Header, SeekedCastReader<R>)> {
    let frames = match read_frame_index(&mut r) {
        Ok(f) => f,
        Err(FormatError::Framing(_)) => return from_offset(r, 0, name),
        Err(e) => return Err(e),
    };
    open_cast_at_frames(r, &frames, time_us, name)
}

/// [`open_cast_at`] with the frame index already known (read once, or
/// kept beside the cast: see [`super::index::encode_frame_list`]), so
/// nothing before the frame is read.
pub fn open_cast_at_frames<R: Read + Seek>(
    mut r: R,
    frames: &[FrameInfo],
    time_us: u64,
    name: &str,
) -> Result<(Header, SeekedCastReader<R>)> {
    let Some(first) = frames.first() else {
        return Err(FormatError::Empty);
    };
    let target = frames
        .iter()
        .position(|f| f.event_count > 0 && f.last_time_us >= time_us);
    let k = match target {
        Some(0) => return from_offset(r, 0, name),
        Some(k) => k,
        None => frames.len(),
    };
    let header = match read_header_frame(&mut r, first) {
        Ok(h) => h,
        // Rebuilt from the frame index.
        Err(_) => {
            super::report_damage(name, &super::Damage::of_frame(first, 0, true));
            let (cols, rows) = first
                .start_state
                .map(|s| (s.cols, s.rows))
                .unwrap_or((80, 24));
            Header::new(crate::cast::CastVersion::V2, cols, rows)
        }
    };
    // From the frame's index record, which the salvaging reader needs.
    let (start, base) = match frames.get(k) {
        Some(f) => (
            f.offset.saturating_sub(super::INDEX_FRAME_LEN as u64),
            frames[k - 1].last_time_us,
        ),
        None => {
            let last = &frames[frames.len() - 1];
            (last.offset + last.compressed_len, last.last_time_us)
        }
    };
    r.seek(SeekFrom::Start(start))?;
    let dec = salvaging_decoder(r, name)?;
    let reader = CastReader::with_header(BufReader::new(dec), header.clone(), base);
    Ok((header, reader))
}

fn from_offset<R: Read + Seek>(
    mut r: R,
    offset: u64,
    name: &str,
) -> Result<(Header, SeekedCastReader<R>)> {
    r.seek(SeekFrom::Start(offset))?;
    let dec = salvaging_decoder(r, name)?;
    let reader = CastReader::new(BufReader::new(dec))?;
    Ok((reader.header().clone(), reader))
}

fn read_header_frame<R: Read + Seek>(r: &mut R, frame: &FrameInfo) -> Result<Header> {
    r.seek(SeekFrom::Start(frame.offset))?;
    let dec = zstd::stream::read::Decoder::new(r.take(frame.compressed_len))?.single_frame();
    let reader = CastReader::new(BufReader::new(TolerantReader::new(dec)))?;
    Ok(reader.header().clone())
}
