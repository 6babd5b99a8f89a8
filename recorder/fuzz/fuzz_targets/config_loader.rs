//! Arbitrary text as a YAML action configuration file: errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sshlog_actions::config::parse_file;
use sshlog_actions::kinds::ParseCx;
use sshlog_actions::error::Diag;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut d = Diag::new(Path::new("fuzz.yaml"));
        let cx = ParseCx {
            plugins_dir: Path::new("/nonexistent-plugins"),
            event_log: None,
            python: None,
        };
        let _ = parse_file(&mut d, text, &cx);
    }
});
