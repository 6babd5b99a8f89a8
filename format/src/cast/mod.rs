//! asciicast v1/v2/v3: header, events, streaming reader and writer.

mod escape;
mod event;
mod header;
mod open;
mod reader;
mod utf8;
mod writer;

pub use escape::push_json_str;
pub use event::{format_clock, format_time, parse_time, Event};
pub use header::{CastVersion, Header, SshlogMeta, SSHLOG_HEADER_KEY};
pub use open::{
    decompressing_reader, is_zstd, open_cast_file, open_cast_reader, read_cast_file, DynBufRead,
    TolerantReader, ZSTD_MAGIC,
};
pub use reader::CastReader;
pub use utf8::{incomplete_suffix_len, INPUT_BYTES_CODE, OUTPUT_BYTES_CODE};
pub use writer::CastWriter;
