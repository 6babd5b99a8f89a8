//! Arbitrary bytes as a control-socket request line: an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sshlog_control::Request::parse(data);
});
