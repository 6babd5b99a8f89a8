//! The kernel half of sshlogd: the eBPF object compiled from `bpf/sshlog.bpf.c`.
//!
//! `build.rs` compiles the C programs with clang (`-target bpf`, CO-RE against the
//! running kernel's BTF). User space (`sshlogd`) loads [`OBJECT`] with aya and reads
//! the records through [`layout`], the Rust mirror of `bpf/sshlog.h`.

pub mod layout;

#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);

static ALIGNED: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/sshlog.bpf.o")));

/// The compiled eBPF object file (ELF), 8-byte aligned as aya requires.
pub static OBJECT: &[u8] = &ALIGNED.0;

/// Names the layout of the pinned maps and their records (a hash of
/// `bpf/state.h` and `bpf/sshlog.h`, made by `build.rs`): maps pinned under
/// another key are never reused.
pub const STATE_LAYOUT: &str = include_str!(concat!(env!("OUT_DIR"), "/state_layout.txt"));

/// The shared C header, for documentation and layout checks.
pub const HEADER: &str = include_str!("../bpf/sshlog.h");
