//! Compiles `bpf/sshlog.bpf.c` with clang `-target bpf` (CO-RE) into `$OUT_DIR/sshlog.bpf.o`.
//!
//! The kernel type header `vmlinux.h` is generated from the running kernel's BTF
//! (`/sys/kernel/btf/vmlinux`) with bpftool unless `SSHLOG_VMLINUX_H` names one.
//! Thanks to CO-RE relocations the object still loads on other BTF kernels.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let bpf_dir = manifest.join("bpf");
    println!("cargo:rerun-if-changed=bpf/sshlog.bpf.c");
    println!("cargo:rerun-if-changed=bpf/sshlog.h");
    println!("cargo:rerun-if-changed=bpf/state.h");
    println!("cargo:rerun-if-env-changed=SSHLOG_VMLINUX_H");
    println!("cargo:rerun-if-env-changed=CLANG");

    let vmlinux = match env::var("SSHLOG_VMLINUX_H") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let path = out.join("vmlinux.h");
            let output = Command::new("bpftool")
                .args([
                    "btf",
                    "dump",
                    "file",
                    "/sys/kernel/btf/vmlinux",
                    "format",
                    "c",
                ])
                .output()
                .unwrap_or_else(|e| {
                    fail(&format!(
                        "cannot run bpftool ({e}); install it: apt-get install bpftool"
                    ))
                });
            if !output.status.success() {
                fail(&format!(
                    "bpftool could not dump /sys/kernel/btf/vmlinux (kernel without BTF?): {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            std::fs::write(&path, &output.stdout)
                .unwrap_or_else(|e| fail(&format!("write vmlinux.h: {e}")));
            path
        }
    };
    let include = vmlinux
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| out.clone());
    let object = out.join("sshlog.bpf.o");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let status = Command::new(&clang)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
            "-Wno-unused-function",
        ])
        .arg(format!("-I{}", include.display()))
        .arg(format!("-I{}", bpf_dir.display()))
        .arg("-c")
        .arg(bpf_dir.join("sshlog.bpf.c"))
        .arg("-o")
        .arg(&object)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run {clang} ({e}); install it: apt-get install clang llvm libbpf-dev"
            ))
        });
    if !status.success() {
        fail("clang failed to compile bpf/sshlog.bpf.c (see the errors above)");
    }
    write_state_layout(&bpf_dir, &out);
}

/// `$OUT_DIR/state_layout.txt`: a hash of the files that define the pinned
/// maps and the records in them (`state.h`, `sshlog.h`). Maps pinned by an
/// sshlogd with another key are never reused (their contents would be misread).
fn write_state_layout(bpf_dir: &std::path::Path, out: &std::path::Path) {
    // FNV-1a, 64 bits: a change detector, not a security measure.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for name in ["state.h", "sshlog.h"] {
        let text = std::fs::read(bpf_dir.join(name))
            .unwrap_or_else(|e| fail(&format!("read bpf/{name}: {e}")));
        for b in text {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    std::fs::write(out.join("state_layout.txt"), format!("{h:016x}"))
        .unwrap_or_else(|e| fail(&format!("write state_layout.txt: {e}")));
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}
