//! sshlog on-disk formats: asciicast v1/v2/v3 casts ([`cast`]), zstd-framed
//! `.cast.zst` files with a seek index ([`framed`]), the `.events.jsonl`
//! sidecar ([`sidecar`]), the directory layout ([`layout`]) and the
//! recordings index ([`index`]); [`generate`] writes synthetic sessions for
//! benchmarks and tests.
//! See `docs/formats.md` for the specification.

pub mod cast;
pub mod error;
pub mod framed;
pub mod generate;
pub mod index;
pub mod layout;
pub mod seal;
pub mod sidecar;
pub mod text;

pub use cast::{
    open_cast_file, read_cast_file, CastReader, CastVersion, CastWriter, Event, Header, SshlogMeta,
};
pub use error::{FormatError, Result};
pub use framed::{open_cast_at, read_frame_index, FrameInfo, FrameOptions, FramedCastWriter};
pub use layout::{session_paths, SessionPaths};
pub use sidecar::{human_line, read_sidecar, write_record, Record, SessionEvent, SCHEMA_VERSION};
