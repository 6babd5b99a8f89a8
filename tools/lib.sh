# Shared shell helpers for tools/run, tools/test and tools/bench-*: install what
# is missing with apt-get, mount tracefs. Sourced, not run.

# Debian packages the build and the tests need.
SSHLOG_PACKAGES=(clang llvm libbpf-dev linux-libc-dev libc6-dev bpftool debootstrap openssh-server openssh-client asciinema zstd tmux python3 coreutils procps rsyslog chromium nodejs python3-aiosmtpd openssl)

sshlog_install_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> apt-get install ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            echo "error: packages missing (${missing[*]}) and not root to install them" >&2
            return 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

sshlog_require_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || {
        echo "error: cargo not found; install a Rust toolchain (rustup) first" >&2
        return 1
    }
}

sshlog_mount_tracefs() {
    if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
        mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
    fi
}
