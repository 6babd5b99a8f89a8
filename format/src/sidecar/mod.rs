//! The `.events.jsonl` sidecar: one JSON record per line, plus the human
//! readable form used by the global `event.log`.

mod event;
mod human;
mod record;

pub use event::{Ancestor, SessionEvent, KNOWN_TYPES};
pub use human::{human_line, human_line_in};
pub use record::{read_sidecar, write_record, Record, SidecarReader, SCHEMA_VERSION};
