//! Recordings leave the host for an S3-compatible object store (AWS S3,
//! Garage, MinIO), and the fleet is read back from there.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | the `store:` settings, `--store` URLs, credentials, the host id |
//! | [`keys`] | where each object goes (`hosts/<host>/…`) |
//! | [`store`] | the S3 client: checksummed uploads, gets, range gets, lists |
//! | [`spool`] | sessions waiting for the store, on local disk until acknowledged |
//! | [`uploader`] | empties the spool: in order, with backoff, never on the capture path |
//! | [`catalog`] | a host's day of index entries in one object (compaction) |
//! | [`events`] | event records per host and hour (optional) |
//! | [`fleet`] | reading back: hosts, index entries, session files |
//! | [`remote`] | an object read like a file, by range requests (play, seek) |
//!
//! The guarantees (docs/fleet.md): nothing leaves the spool before the store
//! acknowledged every object of the session with a verified checksum; an
//! upload interrupted anywhere (store down, kill -9) is done again whole,
//! and a PUT replaces, so there are no duplicates or partial objects.

pub mod catalog;
pub mod config;
pub mod events;
pub mod fleet;
pub mod keys;
pub mod remote;
pub mod retention;
pub mod spool;
pub mod store;
pub mod uploader;
pub mod witness;

pub use config::{Credentials, StoreSettings};
pub use store::FleetStore;

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Settings, credentials, a `--store` URL.
    #[error("{0}")]
    Config(String),
    /// The store refused or could not be reached.
    #[error("{0}")]
    Store(String),
    /// A local file could not be read or written.
    #[error("{0}")]
    Local(String),
}
