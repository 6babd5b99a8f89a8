//! `sshlog-play`: replay a recorded SSH session (the same as `sshlog play`).

fn main() -> std::process::ExitCode {
    sshlog_player::app::sshlog_play_main()
}
