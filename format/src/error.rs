//! The error type shared by every reader and writer in this crate.

use std::io;

/// Everything that can go wrong while reading or writing sshlog formats.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// A line (1-based) is not valid JSON.
    #[error("line {line}: invalid JSON: {source}")]
    Json {
        /// 1-based line number in the (decompressed) text.
        line: u64,
        /// What serde_json complained about.
        #[source]
        source: serde_json::Error,
    },
    /// A line (1-based) is JSON but not what the format expects.
    #[error("line {line}: {message}")]
    Invalid {
        /// 1-based line number in the (decompressed) text.
        line: u64,
        /// Human readable description.
        message: String,
    },
    /// The input holds no asciicast header at all.
    #[error("empty input: no asciicast header")]
    Empty,
    /// The header announces a version this crate does not know.
    #[error("unsupported asciicast version {0}")]
    UnsupportedVersion(String),
    /// The header is malformed.
    #[error("invalid asciicast header: {0}")]
    Header(String),
    /// A `.cast.zst` file lacks (or has a corrupt) frame index.
    #[error("frame index: {0}")]
    Framing(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;
