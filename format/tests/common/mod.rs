//! Helpers shared by the integration tests: finding external tools.

#![allow(dead_code)]

use std::path::PathBuf;

/// Path of `name` on `$PATH`. Missing tools fail the test when `CI=true`
/// and skip it (returning `None`) otherwise.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("required tool `{name}` is not installed (CI=true)");
        }
        eprintln!("SKIP: `{name}` not found on PATH");
    }
    found
}
