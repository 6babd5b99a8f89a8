//! Manual demo: starts an sshd and a user, shows a command run, a scripted
//! shell and the sshd log. Run as root: `cargo run --example harness_demo`.

use anyhow::Result;
use sshlog_harness::{require_root_or_skip, Sshd, TestUser};

fn main() -> Result<()> {
    if !require_root_or_skip("harness_demo") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let cmd = sshd.ssh(&user);
    println!("ssh {:?}", cmd.args(Some("echo hi")));
    let out = cmd.run("echo hi; echo err >&2; exit 3")?;
    println!(
        "run: {:?} stdout={:?} stderr={:?}",
        out.code(),
        out.stdout_text(),
        out.stderr_text()
    );
    let out = cmd.run_script(&["echo a$((1+2))", "exit 7"])?;
    println!("script: {:?} stdout={:?}", out.code(), out.stdout_text());
    println!(
        "--- config\n{}",
        std::fs::read_to_string(sshd.config_path())?
    );
    println!("--- log\n{}", sshd.log_text()?);
    // HARNESS_DEMO_HOLD=<secs> keeps everything up, e.g. to kill -9 this
    // process and watch the next run clean up the leftovers.
    if let Some(secs) = std::env::var("HARNESS_DEMO_HOLD")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        let _session = cmd.spawn(Some("echo held; exec sleep 600"))?;
        println!("holding for {secs} s (pid {})", std::process::id());
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
    Ok(())
}
