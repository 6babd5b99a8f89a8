//! End-to-end checks of the harness itself: a real sshd, a real user, the
//! real `ssh -tt` and `scp` clients. Needs root (skipped otherwise, except
//! in CI where that is a failure). Each test has its own sshd and user, so
//! the tests run in parallel.

use std::fs;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use sshlog_harness::{
    process_running, random_suffix, require_root_or_skip, user_exists, Sshd, TestUser,
};

#[test]
fn echo_reaches_client() -> Result<()> {
    if !require_root_or_skip("echo_reaches_client") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let marker = format!("hello-{}", random_suffix(12));
    let out = sshd.ssh(&user).run(&format!("echo {marker}"))?;
    let text = out.stdout_text();
    ensure!(
        text.contains(&marker) && out.code() == Some(0),
        "status {:?}, stdout {text:?}, stderr {:?}, sshd log:\n{}",
        out.code(),
        out.stderr_text(),
        sshd.log_text()?
    );
    Ok(())
}

#[test]
fn exit_status_propagates() -> Result<()> {
    if !require_root_or_skip("exit_status_propagates") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let out = sshd.ssh(&user).run("exit 3")?;
    ensure!(out.code() == Some(3), "status {:?}", out.status);
    Ok(())
}

#[test]
fn interactive_script() -> Result<()> {
    if !require_root_or_skip("interactive_script") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let out = sshd.ssh(&user).run_script(&["echo a$((1+2))", "exit 7"])?;
    let text = out.stdout_text();
    ensure!(text.contains("a3"), "no a3 in {text:?}");
    ensure!(
        out.code() == Some(7),
        "status {:?}, output {text:?}",
        out.status
    );
    // Paced typing works too.
    let out = sshd
        .ssh(&user)
        .line_delay(Duration::from_millis(200))
        .run_script(&["echo b$((2*3))", "tty", "exit"])?;
    let text = out.stdout_text();
    ensure!(
        text.contains("b6") && text.contains("/dev/pts/"),
        "{text:?}"
    );
    ensure!(out.code() == Some(0), "status {:?}", out.status);
    Ok(())
}

#[test]
fn wrong_key_is_refused() -> Result<()> {
    if !require_root_or_skip("wrong_key_is_refused") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let out = sshd.ssh_with_wrong_key(&user)?.run("echo should-not-run")?;
    ensure!(!out.success(), "login with a wrong key succeeded");
    ensure!(!out.stdout_text().contains("should-not-run"));
    ensure!(
        out.stderr_text().contains("Permission denied"),
        "stderr {:?}",
        out.stderr_text()
    );
    sshd.wait_for_log(user.name(), Duration::from_secs(5))?;
    Ok(())
}

#[test]
fn password_login_and_failure() -> Result<()> {
    if !require_root_or_skip("password_login_and_failure") {
        return Ok(());
    }
    let sshd = Sshd::builder().password_auth(true).start()?;
    let pw = format!("pw-{}", random_suffix(12));
    let user = TestUser::builder().password(pw.clone()).create()?;
    let ok = sshd.ssh(&user).password(&pw)?.run("echo pw-ok")?;
    ensure!(
        ok.success() && ok.stdout_text().contains("pw-ok"),
        "status {:?} stdout {:?} stderr {:?}",
        ok.status,
        ok.stdout_text(),
        ok.stderr_text()
    );
    let bad = sshd.ssh(&user).password("wrong")?.run("echo pw-bad")?;
    ensure!(!bad.success() && !bad.stdout_text().contains("pw-bad"));
    let log = sshd.wait_for_log("Failed password", Duration::from_secs(5))?;
    ensure!(log.contains(user.name()), "log:\n{log}");
    Ok(())
}

#[test]
fn scp_copies_one_megabyte() -> Result<()> {
    if !require_root_or_skip("scp_copies_one_megabyte") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let data: Vec<u8> = (0..1024 * 1024).map(|_| fastrand_byte()).collect();
    let src = user.scratch_dir().join("payload.bin");
    fs::write(&src, &data).context("writing payload")?;
    for legacy in [false, true] {
        let name = format!("copy-{legacy}.bin");
        let out = sshd.scp(&user).legacy(legacy).upload(&src, &name)?;
        ensure!(
            out.success(),
            "scp (legacy={legacy}) failed: {:?}",
            out.stderr_text()
        );
        let landed = fs::read(user.home().join(&name)).context("reading copied file")?;
        ensure!(landed == data, "content differs (legacy={legacy})");
        let back = user.scratch_dir().join(format!("back-{legacy}.bin"));
        let out = sshd.scp(&user).legacy(legacy).download(&name, &back)?;
        ensure!(out.success(), "download failed: {:?}", out.stderr_text());
        ensure!(fs::read(&back)? == data, "downloaded content differs");
    }
    Ok(())
}

fn fastrand_byte() -> u8 {
    u8::from_str_radix(&random_suffix(2), 16).unwrap_or(0)
}

#[test]
fn long_session_can_be_observed_and_killed() -> Result<()> {
    if !require_root_or_skip("long_session_can_be_observed_and_killed") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let mut session = sshd
        .ssh(&user)
        .spawn(Some("echo started; exec sleep 300"))?;
    session.wait_for_stdout(b"started", Duration::from_secs(10))?;
    ensure!(session
        .try_wait_timeout(Duration::from_millis(100))?
        .is_none());
    // The remote sleep runs as the user, below the sshd.
    let sleepers: Vec<u32> = sshd
        .descendant_pids()
        .into_iter()
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .collect();
    ensure!(sleepers.len() == 1, "sleepers: {sleepers:?}");
    // Kill the remote process mid-session: the client sees the session end.
    // SAFETY: plain kill(2) of a process this test started via sshd.
    unsafe {
        libc::kill(sleepers[0] as i32, libc::SIGKILL);
    }
    let out = session.wait_timeout(Duration::from_secs(10))?;
    ensure!(!out.success(), "status {:?}", out.status);
    Ok(())
}

#[test]
fn everything_is_cleaned_up_on_drop() -> Result<()> {
    if !require_root_or_skip("everything_is_cleaned_up_on_drop") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let session = sshd.ssh(&user).spawn(Some("echo up; exec sleep 300"))?;
    let mut session = session;
    session.wait_for_stdout(b"up", Duration::from_secs(10))?;
    let name = user.name().to_string();
    let home = user.home().to_path_buf();
    let sshd_pid = sshd.pid();
    let tree = sshd.descendant_pids();
    let dir = sshd.dir().to_path_buf();
    ensure!(!tree.is_empty(), "no session processes under sshd");
    ensure!(user_exists(&name)?);
    drop(session);
    drop(user);
    drop(sshd);
    ensure!(!user_exists(&name)?, "user {name} still exists");
    ensure!(!home.exists(), "home {} still exists", home.display());
    ensure!(!process_running(sshd_pid), "sshd {sshd_pid} still runs");
    for p in tree {
        ensure!(!process_running(p), "sshd child {p} still runs");
    }
    ensure!(!dir.exists(), "temp dir {} still exists", dir.display());
    Ok(())
}

#[test]
fn cleanup_happens_on_panic() -> Result<()> {
    if !require_root_or_skip("cleanup_happens_on_panic") {
        return Ok(());
    }
    let result = std::panic::catch_unwind(|| {
        let sshd = Sshd::start().expect("sshd");
        let user = TestUser::create().expect("user");
        panic!("{} {} {}", user.name(), sshd.pid(), sshd.dir().display());
    });
    let payload = result.expect_err("closure panics");
    let msg = payload
        .downcast_ref::<String>()
        .context("panic payload is a String")?;
    let mut parts = msg.split(' ');
    let (Some(name), Some(pid), Some(dir)) = (parts.next(), parts.next(), parts.next()) else {
        anyhow::bail!("unexpected panic message {msg:?}");
    };
    ensure!(!user_exists(name)?, "user {name} survived the panic");
    ensure!(!process_running(pid.parse()?), "sshd survived the panic");
    ensure!(!std::path::Path::new(dir).exists(), "temp dir survived");
    Ok(())
}

#[test]
fn hanging_command_times_out() -> Result<()> {
    if !require_root_or_skip("hanging_command_times_out") {
        return Ok(());
    }
    let sshd = Sshd::start()?;
    let user = TestUser::create()?;
    let started = std::time::Instant::now();
    let err = sshd
        .ssh(&user)
        .timeout(Duration::from_secs(1))
        .run("echo waiting; sleep 60")
        .err()
        .context("a 60 s command must hit the 1 s timeout")?;
    let msg = format!("{err:#}");
    ensure!(msg.contains("did not finish"), "{msg}");
    ensure!(msg.contains("waiting"), "partial output missing: {msg}");
    ensure!(started.elapsed() < Duration::from_secs(10));
    Ok(())
}
