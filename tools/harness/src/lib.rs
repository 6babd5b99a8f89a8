//! End-to-end harness (filled in by the foundation work).
