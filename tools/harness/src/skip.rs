//! Deciding whether an end-to-end test can run here: it needs root and the
//! OpenSSH/shadow tools. Locally a missing requirement skips the test; in
//! CI (`CI=true`) it fails it, because a skipped e2e test in CI hides bugs.

use std::path::Path;

/// Tools the harness runs.
const REQUIRED_TOOLS: &[&str] = &[
    "/usr/sbin/sshd",
    "ssh",
    "scp",
    "ssh-keygen",
    "useradd",
    "userdel",
    "usermod",
    "chpasswd",
];

/// What is missing for the e2e tests (empty when everything is there).
pub fn missing_requirements() -> Vec<String> {
    let mut missing = Vec::new();
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root (euid 0)".to_string());
    }
    for tool in REQUIRED_TOOLS {
        if !tool_exists(tool) {
            missing.push(format!("`{tool}`"));
        }
    }
    missing
}

fn tool_exists(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file())
}

/// Returns true when `test_name` can run. Otherwise: prints a skip notice
/// and returns false, or — when the environment variable `CI` is `true` —
/// panics, since a skip in CI counts as a failure.
pub fn require_root_or_skip(test_name: &str) -> bool {
    let missing = missing_requirements();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test_name}: needs {}", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: refusing to skip)");
    }
    eprintln!("SKIPPED {msg}");
    false
}
