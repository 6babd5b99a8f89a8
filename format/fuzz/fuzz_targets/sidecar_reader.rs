//! Feeds arbitrary bytes to the sidecar reader and re-encodes what parses,
//! checking that a written record reads back identically.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sshlog_format::sidecar::{human_line, read_sidecar, write_record};

fuzz_target!(|data: &[u8]| {
    for rec in read_sidecar(Cursor::new(data)).take(10_000).flatten() {
        let _ = human_line(&rec);
        let mut line = Vec::new();
        write_record(&mut line, &rec).expect("writing to a Vec cannot fail");
        let back: Vec<_> = read_sidecar(Cursor::new(line)).collect();
        assert_eq!(back.len(), 1);
        let back = back.into_iter().next().unwrap().expect("own output parses");
        // Timestamps are written with microsecond precision.
        assert_eq!(back.event, rec.event);
        assert_eq!(back.extra, rec.extra);
    }
});
