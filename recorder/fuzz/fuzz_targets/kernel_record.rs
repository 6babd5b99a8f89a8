//! Arbitrary bytes as a ring-buffer record: decoded or rejected, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sshlog_recorder::kernel_events::decode(data);
});
