//! The hashes a seal is made of; each formula is written once, here, and
//! documented in docs/formats.md.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use uuid::Uuid;

/// `previous_seal` of the first recording of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The seal of a numbered (v2) recording: its place in the chain is part of
/// what is hashed, so a seal cannot be moved to another position.
pub fn seal_value(
    previous: &str,
    cast_sha256: &str,
    sidecar_sha256: &str,
    session: Uuid,
    sequence: u64,
) -> String {
    sha256_hex(
        format!(
            "sshlog-seal-v2\n{previous}\n{cast_sha256}\n{sidecar_sha256}\n{session}\n{sequence}\n"
        )
        .as_bytes(),
    )
}

/// The seal of recordings written before seals were numbered and signed.
pub fn seal_value_v1(
    previous: &str,
    cast_sha256: &str,
    sidecar_sha256: &str,
    session: Uuid,
) -> String {
    sha256_hex(
        format!("sshlog-seal-v1\n{previous}\n{cast_sha256}\n{sidecar_sha256}\n{session}\n")
            .as_bytes(),
    )
}

/// What the host key signs for a seal.
pub fn seal_message(seal: &str) -> String {
    format!("sshlog-seal-signature-v1\n{seal}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_values_match_the_documented_formulas() {
        let id = Uuid::parse_str("018c1622-4e2a-7b3c-9d4e-5f6a7b8c9d0e").unwrap();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let v1 = sha256_hex(format!("sshlog-seal-v1\n{GENESIS}\n{a}\n{b}\n{id}\n").as_bytes());
        assert_eq!(seal_value_v1(GENESIS, &a, &b, id), v1);
        assert_ne!(seal_value_v1(GENESIS, &b, &a, id), v1);
        let v2 = sha256_hex(format!("sshlog-seal-v2\n{GENESIS}\n{a}\n{b}\n{id}\n7\n").as_bytes());
        assert_eq!(seal_value(GENESIS, &a, &b, id, 7), v2);
        assert_ne!(seal_value(GENESIS, &a, &b, id, 8), v2);
    }
}
