//! Throw-away local users (`sshlogt_<random>`) with an ed25519 key pair that
//! is authorized for ssh login, and optionally a password. Removed again
//! (with their home and processes) on drop. A user can also be made inside
//! another system's root (for an sshd running there in a chroot): the
//! shadow tools' `--root` edit that root's user database.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::spawned::run_with_timeout;
use crate::util::{generate_key, owned_temp_dir, random_suffix, ADMIN_TIMEOUT, USER_PREFIX};
use crate::{procfs, stale};

/// Serializes this process's edits of the user database (the tools lock
/// `/etc/passwd` themselves, but fail instead of waiting long for it).
static USER_DB: Mutex<()> = Mutex::new(());

/// Marker put in the GECOS field; followed by the creator's owner token.
pub(crate) const GECOS_MARK: &str = "sshlog-harness owner=";

/// One line of `/etc/passwd`.
#[derive(Debug, Clone)]
pub(crate) struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: PathBuf,
}

/// All entries of `/etc/passwd`.
pub(crate) fn passwd_entries() -> Result<Vec<PasswdEntry>> {
    passwd_entries_in(None)
}

/// All entries of `/etc/passwd` inside `root` (the host's for `None`).
pub(crate) fn passwd_entries_in(root: Option<&Path>) -> Result<Vec<PasswdEntry>> {
    let path = in_root(root, Path::new("/etc/passwd"));
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                gecos: f[4].to_string(),
                home: PathBuf::from(f[5]),
            })
        })
        .collect())
}

/// Whether a user of that name exists in `/etc/passwd`.
pub fn user_exists(name: &str) -> Result<bool> {
    Ok(passwd_entries()?.iter().any(|e| e.name == name))
}

/// `path` (absolute inside `root`) as the host sees it.
fn in_root(root: Option<&Path>, path: &Path) -> PathBuf {
    match root {
        Some(r) => r.join(path.strip_prefix("/").unwrap_or(path)),
        None => path.to_path_buf(),
    }
}

/// A shadow-utils command (`useradd`, `usermod`, ...) editing the user
/// database of `root` (the host's for `None`).
fn db_tool(tool: &str, root: Option<&Path>) -> Command {
    let mut cmd = Command::new(tool);
    if let Some(r) = root {
        cmd.arg("--root").arg(r);
    }
    cmd
}

/// Runs a user-database tool, holding the in-process lock, retrying a few
/// times when another process holds the `/etc/passwd` lock (exit code 10
/// for useradd/userdel/usermod, 1 for chpasswd).
fn user_db_command(cmd: &mut Command, what: &str, input: &[u8]) -> Result<()> {
    let _guard = USER_DB.lock().unwrap_or_else(|p| p.into_inner());
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * attempt));
        }
        let out = run_with_timeout(cmd, what, input, ADMIN_TIMEOUT)?;
        if out.success() {
            return Ok(());
        }
        last = format!("{} ({}): {}", what, out.status, out.stderr_text().trim());
        if !last.contains("lock") {
            break;
        }
    }
    bail!("{last}")
}

/// Deletes a user of `root`'s user database (the host's for `None`) and its
/// home after killing its processes. Bounded.
pub(crate) fn remove_user_in(root: Option<&Path>, name: &str, uid: u32) -> Result<()> {
    procfs::kill_uid(uid, Duration::from_secs(5));
    let first = user_db_command(db_tool("userdel", root).args(["-r", name]), "userdel", b"");
    let exists = passwd_entries_in(root)?.iter().any(|e| e.name == name);
    if first.is_ok() || !exists {
        return Ok(());
    }
    // Something still counts as "logged in": usually a zombie that a slow
    // init has not reaped yet, or a racing login. Kill again and force.
    procfs::kill_uid(uid, Duration::from_secs(5));
    user_db_command(
        db_tool("userdel", root).args(["-r", "-f", name]),
        "userdel -f",
        b"",
    )
    .with_context(|| format!("removing user {name} (first try: {first:?})"))
}

/// Options for [`TestUser`]; see [`TestUser::builder`].
#[derive(Debug, Clone)]
pub struct TestUserBuilder {
    password: Option<String>,
    shell: String,
    authorize_key: bool,
    root: Option<PathBuf>,
    uid: Option<u32>,
}

impl Default for TestUserBuilder {
    fn default() -> Self {
        TestUserBuilder {
            password: None,
            shell: "/bin/bash".to_string(),
            authorize_key: true,
            root: None,
            uid: None,
        }
    }
}

impl TestUserBuilder {
    /// Sets a login password (via `chpasswd`). The sshd then needs
    /// [`crate::SshdBuilder::password_auth`].
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Login shell (default `/bin/bash`).
    pub fn shell(mut self, shell: impl Into<String>) -> Self {
        self.shell = shell.into();
        self
    }

    /// Whether the generated key goes into `~/.ssh/authorized_keys`
    /// (default true).
    pub fn authorize_key(mut self, yes: bool) -> Self {
        self.authorize_key = yes;
        self
    }

    /// Makes the user in the system at `root` (its `/etc/passwd` and
    /// `/home`), for an sshd started with [`crate::SshdBuilder::root`].
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// A chosen uid (e.g. one that belongs to another user on the host).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Creates the user.
    pub fn create(self) -> Result<TestUser> {
        stale::cleanup_stale_once();
        if let Some(r) = &self.root {
            stale::cleanup_stale_users_once(r);
        }
        let root = self.root.as_deref();
        let key_dir = owned_temp_dir("user")?;
        let gecos = format!("{GECOS_MARK}{}", procfs::owner_token());
        let mut name = String::new();
        let mut created = false;
        let mut last_err = None;
        for _ in 0..5 {
            name = format!("{USER_PREFIX}{}", random_suffix(10));
            if user_exists(&name)? || passwd_entries_in(root)?.iter().any(|e| e.name == name) {
                continue;
            }
            let mut cmd = db_tool("useradd", root);
            cmd.args(["-m", "-s", &self.shell, "-c", &gecos]);
            if let Some(uid) = self.uid {
                cmd.args(["-o", "-u", &uid.to_string()]);
            }
            match user_db_command(cmd.arg(&name), "useradd", b"") {
                Ok(()) => {
                    created = true;
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        if !created {
            return Err(last_err.unwrap_or_else(|| anyhow::anyhow!("no free user name")))
                .context("creating test user");
        }
        let entry = passwd_entries_in(root)?
            .into_iter()
            .find(|e| e.name == name)
            .with_context(|| format!("user {name} missing from /etc/passwd after useradd"))?;
        // From here on, Drop removes the user again if anything fails.
        let key = key_dir.path().join("id_ed25519");
        let mut user = TestUser {
            name,
            uid: entry.uid,
            gid: entry.gid,
            home: in_root(root, &entry.home),
            home_inside: entry.home,
            root: self.root.clone(),
            key_dir,
            key,
            public_key: String::new(),
            password: self.password,
        };
        user.finish_setup(self.authorize_key)?;
        Ok(user)
    }
}

/// A throw-away local user. See the crate docs.
#[derive(Debug)]
pub struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
    /// The home directory as the host sees it.
    home: PathBuf,
    /// The home directory as the user's system sees it.
    home_inside: PathBuf,
    root: Option<PathBuf>,
    key_dir: TempDir,
    key: PathBuf,
    public_key: String,
    password: Option<String>,
}

impl TestUser {
    /// Creates a user with default options (key login only).
    pub fn create() -> Result<TestUser> {
        Self::builder().create()
    }

    /// Options: password, shell, ...
    pub fn builder() -> TestUserBuilder {
        TestUserBuilder::default()
    }

    fn finish_setup(&mut self, authorize_key: bool) -> Result<()> {
        // With `UsePAM no`, sshd refuses accounts whose password field is
        // locked ("!"); "*" means "no password, but not locked".
        let pw_field = "*";
        user_db_command(
            db_tool("usermod", self.root.as_deref()).args(["-p", pw_field, &self.name]),
            "usermod -p",
            b"",
        )?;
        if let Some(pw) = &self.password {
            if pw.contains(['\n', ':']) {
                bail!("password must not contain ':' or newlines");
            }
            user_db_command(
                &mut db_tool("chpasswd", self.root.as_deref()),
                "chpasswd",
                format!("{}:{}\n", self.name, pw).as_bytes(),
            )?;
        }
        self.public_key = generate_key(&self.key, &self.name)?;
        if authorize_key {
            self.authorize(&self.public_key.clone())?;
        }
        Ok(())
    }

    /// Appends a public key line to `~/.ssh/authorized_keys`, creating it
    /// with the right owner and modes (0700 dir, 0600 file).
    pub fn authorize(&self, public_key: &str) -> Result<()> {
        let ssh_dir = self.home.join(".ssh");
        fs::create_dir_all(&ssh_dir).with_context(|| format!("creating {}", ssh_dir.display()))?;
        set_owner_mode(&ssh_dir, self.uid, self.gid, 0o700)?;
        let ak = ssh_dir.join("authorized_keys");
        let mut text = fs::read_to_string(&ak).unwrap_or_default();
        text.push_str(public_key.trim());
        text.push('\n');
        fs::write(&ak, text).with_context(|| format!("writing {}", ak.display()))?;
        set_owner_mode(&ak, self.uid, self.gid, 0o600)
    }

    /// The login name (`sshlogt_<random>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Numeric uid.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// Numeric primary gid.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// Home directory, as the host sees it.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Home directory as the user's own system sees it (differs from
    /// [`Self::home`] for a user made with [`TestUserBuilder::root`]).
    pub fn home_inside(&self) -> &Path {
        &self.home_inside
    }

    /// The root this user was made in, if not the host's.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The client-side private key (authorized unless the builder said no).
    pub fn key_path(&self) -> &Path {
        &self.key
    }

    /// The public key line.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The password, if one was set.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// A private temp dir belonging to this user object (root-owned), e.g.
    /// for extra keys.
    pub fn scratch_dir(&self) -> &Path {
        self.key_dir.path()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if let Err(e) = remove_user_in(self.root.as_deref(), &self.name, self.uid) {
            eprintln!("sshlog-harness: could not remove user {}: {e:#}", self.name);
        }
    }
}

fn set_owner_mode(path: &Path, uid: u32, gid: u32, mode: u32) -> Result<()> {
    chown(path, Some(uid), Some(gid)).with_context(|| format!("chown {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}
