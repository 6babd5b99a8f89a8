//! `sshlog`: inspect the live sessions of sshlogd and replay recordings.

fn main() -> std::process::ExitCode {
    sshlog_player::app::sshlog_main()
}
