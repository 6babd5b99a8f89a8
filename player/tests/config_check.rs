//! `sshlog config check`: the shipped configurations validate; each broken
//! fixture gives `file:line:col: message` and exit status 1.

use std::path::Path;
use std::process::Command;

const SSHLOG: &str = env!("CARGO_BIN_EXE_sshlog");

fn check(dir: &Path, plugins: &Path) -> (Option<i32>, String) {
    let o = Command::new(SSHLOG)
        .args(["config", "check"])
        .arg(dir)
        .arg("--plugins-dir")
        .arg(plugins)
        .output()
        .expect("run sshlog");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn shipped_configurations_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugins = root.join("config/plugins");
    for dir in ["config/conf.d", "config/samples"] {
        let (code, out) = check(&root.join(dir), &plugins);
        assert_eq!(code, Some(0), "{dir}: {out}");
        assert!(out.contains("configuration OK"), "{out}");
    }
}

#[test]
fn each_broken_configuration_names_file_line_and_column() {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../actions/tests/fixtures/broken_configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join(path.file_name().expect("name"));
        std::fs::copy(&path, &copy).expect("copy");
        let (code, out) = check(dir.path(), dir.path());
        assert_eq!(code, Some(1), "{}: {out}", path.display());
        let first = out.lines().next().unwrap_or_default();
        let rest = first
            .strip_prefix(&format!("{}:", copy.display()))
            .unwrap_or_else(|| panic!("{first}"));
        let mut parts = rest.splitn(3, ':');
        let line: usize = parts
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("line in {first}"));
        let col: usize = parts
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("col in {first}"));
        assert!(line >= 1 && col >= 1, "{first}");
        assert!(
            parts.next().is_some_and(|m| !m.trim().is_empty()),
            "{first}"
        );
        n += 1;
    }
    assert!(n >= 10, "only {n} broken fixtures");
}
