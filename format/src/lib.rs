//! sshlog on-disk formats (filled in by the foundation work).
