//! Tamper evidence. Every finished recording's sidecar ends with a `seal`
//! record: SHA-256 of its cast and sidecar, chained to the recording sealed
//! before it, numbered, and signed with the host's Ed25519 key. The newest
//! seal is the chain head ([`Head`]), kept signed on the host and sent off it
//! (the witness); recordings deleted on purpose leave a signed
//! [`Tombstone`]. [`verify_dir`] recomputes all of it and names what was
//! edited, deleted, reordered, truncated, re-signed or rewritten.
//!
//! | file | job |
//! |------|-----|
//! | `values.rs` | the hashes and the signed messages (one formula each) |
//! | `sign.rs` | Ed25519 keys: signing, checking, fingerprints |
//! | `head.rs` | the chain head and the witness records that carry it |
//! | `tombstone.rs` | the signed record a deletion leaves |
//! | `verify.rs` | checks a log directory: files, signatures, links, heads |
//!
//! Threat model and limits: docs/security.md.

mod head;
mod sign;
mod tombstone;
mod values;
mod verify;

pub use head::{parse_witness, Head, WitnessHead};
pub use sign::{PublicKey, SealKey, SignError};
pub use tombstone::{read_tombstones, Tombstone, TOMBSTONES};
pub use values::{seal_message, seal_value, seal_value_v1, sha256_file, sha256_hex, GENESIS};
pub use verify::{verify_dir, Finding, Kind, Options, Report};
