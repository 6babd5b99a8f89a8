//! The Rust record layouts (`src/layout.rs`) are the C header's: a C program
//! compiled against `bpf/sshlog.h` prints every field's offset and size, every
//! struct's size, where each tail starts and every enum value, and they must
//! equal what Rust computes.

use sshlog_recorder_ebpf::layout::{ENUMS, FIELDS, SIZES, TAILS};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// `key -> value` lines printed by a C program made from `body`.
fn c_facts(body: &str) -> BTreeMap<String, u64> {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("layout.c");
    let header = Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf/sshlog.h");
    let program = format!(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include \"{}\"\n\
         #define FIELD(s, f) printf(\"%s.%s %zu %zu\\n\", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f))\n\
         int main(void) {{\n{body}return 0;\n}}\n",
        header.display()
    );
    std::fs::write(&src, program).expect("write C");
    let exe = dir.path().join("layout");
    let cc = std::env::var("CC").unwrap_or_else(|_| "clang".into());
    let out = Command::new(&cc)
        .arg("-std=gnu11")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        out.status.success(),
        "compiling the layout program failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().expect("run layout program");
    let mut facts = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [k, off, size] => {
                facts.insert(format!("{k} offset"), off.parse().expect("number"));
                facts.insert(format!("{k} size"), size.parse().expect("number"));
            }
            [k, v] => {
                facts.insert(k.to_string(), v.parse().expect("number"));
            }
            _ => panic!("odd line {line:?}"),
        }
    }
    facts
}

#[test]
fn every_offset_size_and_enum_value_matches_the_c_header() {
    let mut body = String::new();
    let mut rust = BTreeMap::new();
    for (s, f, off, size) in FIELDS {
        let f = f.trim_start_matches("r#");
        body += &format!("FIELD({s}, {f});\n");
        rust.insert(format!("{s}.{f} offset"), *off as u64);
        rust.insert(format!("{s}.{f} size"), *size as u64);
    }
    let tails: Vec<&str> = TAILS.iter().map(|(s, _, _)| *s).collect();
    for (s, size) in SIZES {
        if !tails.contains(s) {
            body += &format!("printf(\"sizeof.{s} %zu\\n\", sizeof(struct {s}));\n");
            rust.insert(format!("sizeof.{s}"), *size as u64);
        }
    }
    for (s, f, start) in TAILS {
        body += &format!("printf(\"tail.{s}.{f} %zu\\n\", offsetof(struct {s}, {f}));\n");
        rust.insert(format!("tail.{s}.{f}"), *start as u64);
    }
    for values in ENUMS {
        for (name, v) in *values {
            body += &format!("printf(\"enum.{name} %d\\n\", (int){name});\n");
            rust.insert(format!("enum.{name}"), u64::from(*v));
        }
    }
    let c = c_facts(&body);
    let mismatches: Vec<String> = rust
        .iter()
        .filter(|(k, v)| c.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: Rust {v}, C {:?}", c.get(k)))
        .collect();
    assert!(
        mismatches.is_empty(),
        "layout differs from sshlog.h:\n{}",
        mismatches.join("\n")
    );
    assert!(rust.len() > 100, "checked {} facts", rust.len());
}

#[test]
fn every_struct_of_the_header_is_mirrored() {
    let header = sshlog_recorder_ebpf::HEADER;
    let mirrored: Vec<&str> = SIZES.iter().map(|(s, _)| *s).collect();
    for line in header.lines() {
        if let Some(rest) = line.strip_prefix("struct ") {
            if let Some(name) = rest.strip_suffix(" {") {
                assert!(
                    mirrored.contains(&name),
                    "struct {name} of sshlog.h has no Rust mirror"
                );
            }
        }
    }
}
