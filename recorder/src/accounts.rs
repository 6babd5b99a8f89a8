//! User accounts as the recorded process itself sees them: an sshd in a chroot or
//! a container has its own `/etc/passwd`, so uid 1000 there is not the host's uid
//! 1000. A connection's [`ProcessRoot`] is taken from its sshd when the
//! connection starts; names and login shells are looked up through it.
//!
//! On the host (same root, same mount namespace) the system's name service is
//! asked, so LDAP or sssd users resolve as they do for `id`; elsewhere the root's
//! own `passwd` file is read. Lookups are cached for a minute: one runs for every
//! command.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a looked-up account is trusted.
const CACHE_TTL: Duration = Duration::from_secs(60);

/// One `passwd` entry's fields the recorder uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    /// The login shell.
    pub shell: String,
}

/// The filesystem root of a connection's processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRoot {
    /// The root directory as the recorder sees it (`/` on the host).
    pub dir: PathBuf,
    /// The mount namespace (`mnt:[…]`) when it differs from the recorder's.
    pub mount_ns: Option<String>,
    /// `/proc/PID/root` of a process inside: reaches the root's files even in
    /// another mount namespace, while that process lives.
    via: Option<PathBuf>,
}

impl ProcessRoot {
    /// The recorder's own root.
    pub fn host() -> Self {
        ProcessRoot {
            dir: PathBuf::from("/"),
            mount_ns: None,
            via: None,
        }
    }

    /// The root of process `pid` (the host's when it cannot be read). A
    /// process in a mount namespace of its own that still sees the host's
    /// `/etc/passwd` (a systemd service with `PrivateTmp=`, say) is on the host.
    pub fn of(pid: u32) -> Self {
        let via = PathBuf::from(format!("/proc/{pid}/root"));
        let Ok(dir) = std::fs::read_link(&via) else {
            return Self::host();
        };
        if dir == Path::new("/") && same_file(&via.join("etc/passwd"), Path::new("/etc/passwd")) {
            return Self::host();
        }
        let ns = |p: &str| std::fs::read_link(p).ok();
        let theirs = ns(&format!("/proc/{pid}/ns/mnt"));
        let mount_ns = match (theirs, ns("/proc/self/ns/mnt")) {
            (Some(t), Some(o)) if t != o => Some(t.to_string_lossy().into_owned()),
            _ => None,
        };
        ProcessRoot {
            dir,
            mount_ns,
            via: Some(via),
        }
    }

    /// Whether this is the recorder's own system.
    pub fn is_host(&self) -> bool {
        self.dir == Path::new("/") && self.mount_ns.is_none()
    }

    /// How a recording names this root: `None` on the host, else the chroot
    /// directory, or the mount namespace when the directory is `/` (a container).
    pub fn label(&self) -> Option<String> {
        if self.is_host() {
            return None;
        }
        match &self.mount_ns {
            Some(ns) if self.dir == Path::new("/") => Some(ns.clone()),
            _ => Some(self.dir.display().to_string()),
        }
    }

    /// A path inside this root (absolute as the process sees it) as the
    /// recorder can open it.
    pub fn resolve(&self, path: &str) -> PathBuf {
        if self.is_host() {
            return PathBuf::from(path);
        }
        let rel = path.trim_start_matches('/');
        match &self.via {
            Some(via) if via.exists() => via.join(rel),
            _ => self.dir.join(rel),
        }
    }

    /// A path the recorder sees (e.g. `/proc/PID/cwd`'s target) as the process
    /// sees it: the chroot prefix removed. Unchanged when it lies outside.
    pub fn strip(&self, path: &Path) -> PathBuf {
        if self.dir == Path::new("/") {
            return path.to_path_buf();
        }
        match path.strip_prefix(&self.dir) {
            Ok(rest) => Path::new("/").join(rest),
            Err(_) => path.to_path_buf(),
        }
    }
}

/// Keyed by the root's directory and mount namespace (not by the process it is
/// reached through, so connections in one chroot share entries).
/// Whether two paths name the same file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

type Cache = HashMap<(PathBuf, Option<String>, Key), (Option<Account>, Instant)>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Uid(u32),
    Name(String),
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The account of `uid` in `root`.
pub fn by_uid(root: &ProcessRoot, uid: u32) -> Option<Account> {
    cached(root, Key::Uid(uid))
}

/// The account named `name` in `root`.
pub fn by_name(root: &ProcessRoot, name: &str) -> Option<Account> {
    cached(root, Key::Name(name.to_string()))
}

fn cached(root: &ProcessRoot, key: Key) -> Option<Account> {
    let mut guard = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let cache = guard.get_or_insert_with(HashMap::new);
    let k = (root.dir.clone(), root.mount_ns.clone(), key);
    if let Some((acct, at)) = cache.get(&k) {
        if at.elapsed() < CACHE_TTL {
            return acct.clone();
        }
    }
    let acct = lookup(root, &k.2);
    if cache.len() > 4096 {
        cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
    }
    cache.insert(k, (acct.clone(), Instant::now()));
    acct
}

fn lookup(root: &ProcessRoot, key: &Key) -> Option<Account> {
    if root.is_host() {
        let user = match key {
            Key::Uid(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(*uid)),
            Key::Name(name) => nix::unistd::User::from_name(name),
        };
        return user.ok().flatten().map(|u| Account {
            name: u.name,
            uid: u.uid.as_raw(),
            shell: u.shell.to_string_lossy().into_owned(),
        });
    }
    let text = std::fs::read_to_string(root.resolve("/etc/passwd")).ok()?;
    find(&text, key)
}

/// The entry matching `key` in the text of a `passwd` file.
fn find(passwd: &str, key: &Key) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        let acct = Account {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            shell: f[6].to_string(),
        };
        let hit = match key {
            Key::Uid(uid) => acct.uid == *uid,
            Key::Name(name) => acct.name == *name,
        };
        hit.then_some(acct)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          broken line\n\
                          alice:x:1000:1000:,,,:/home/alice:/bin/zsh\n";

    #[test]
    fn finds_entries_by_uid_and_name() {
        let a = find(PASSWD, &Key::Uid(1000)).expect("alice");
        assert_eq!((a.name.as_str(), a.shell.as_str()), ("alice", "/bin/zsh"));
        assert_eq!(
            find(PASSWD, &Key::Name("root".into())).map(|a| a.uid),
            Some(0)
        );
        assert_eq!(find(PASSWD, &Key::Uid(4242)), None);
    }

    #[test]
    fn chroot_paths_resolve_and_strip() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        std::fs::write(dir.path().join("etc/passwd"), PASSWD).expect("write");
        let root = ProcessRoot {
            dir: dir.path().to_path_buf(),
            mount_ns: None,
            via: None,
        };
        assert!(!root.is_host());
        assert_eq!(root.label(), Some(dir.path().display().to_string()));
        assert_eq!(by_uid(&root, 1000).map(|a| a.name), Some("alice".into()));
        let inside = dir.path().join("home/alice");
        assert_eq!(root.strip(&inside), PathBuf::from("/home/alice"));
        assert_eq!(
            root.resolve("/home/alice/f"),
            dir.path().join("home/alice/f")
        );
        assert_eq!(
            root.strip(Path::new("/elsewhere")),
            PathBuf::from("/elsewhere")
        );
    }

    #[test]
    fn the_host_is_unlabelled_and_uses_the_name_service() {
        let host = ProcessRoot::of(std::process::id());
        assert!(host.is_host(), "{host:?}");
        assert_eq!(host.label(), None);
        assert_eq!(by_uid(&host, 0).map(|a| a.name), Some("root".into()));
    }
}
