//! Feeds arbitrary bytes to the cast readers: as plain text, through the
//! zstd decoder, and through the frame index / seek path.

#![no_main]

use std::io::{BufReader, Cursor, Read};

use libfuzzer_sys::fuzz_target;
use sshlog_format::cast::{decompressing_reader, CastReader};
use sshlog_format::framed::{open_cast_at, read_frame_index};

/// Cap on events and decompressed bytes so decompression bombs stay cheap.
const MAX_EVENTS: usize = 10_000;
const MAX_BYTES: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = CastReader::new(Cursor::new(data)) {
        r.take(MAX_EVENTS).for_each(drop);
    }

    if let Ok(r) = decompressing_reader(Cursor::new(data.to_vec())) {
        if let Ok(r) = CastReader::new(BufReader::new(r.take(MAX_BYTES))) {
            r.take(MAX_EVENTS).for_each(drop);
        }
    }

    if let Ok(frames) = read_frame_index(Cursor::new(data)) {
        for f in &frames {
            assert!(f.offset + f.compressed_len <= data.len() as u64);
        }
    }
    let time = data.first().copied().unwrap_or(0) as u64 * 100_000;
    if let Ok((_, r)) = open_cast_at(Cursor::new(data), time, "test") {
        r.take(MAX_EVENTS).for_each(drop);
    }
});
