//! A real Garage (crates.io `garage`: a distributed, S3-compatible object
//! store) on 127.0.0.1 for the fleet tests: one node, or a cluster of three
//! with replication factor 3; its layout, a bucket and a key made with its
//! own CLI. Nodes can be stopped, killed and started again; everything is
//! removed on drop. The binary is built once per machine by `tools/garage`
//! (cached outside the clone).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::spawned::run_with_timeout;
use crate::sshd::{free_port, is_listening};
use crate::util::owned_temp_dir;

/// The region Garage is configured with.
pub const GARAGE_REGION: &str = "garage";
const CLI_TIMEOUT: Duration = Duration::from_secs(30);

struct Node {
    config: PathBuf,
    log: PathBuf,
    s3_port: u16,
    rpc_port: u16,
    child: Option<Child>,
}

/// A running Garage cluster with bucket [`Garage::bucket`] and one key
/// allowed to read and write it.
pub struct Garage {
    dir: tempfile::TempDir,
    bin: PathBuf,
    nodes: Vec<Node>,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
}

impl Garage {
    /// The garage binary: `$SSHLOG_GARAGE`, else `tools/garage`'s cache.
    pub fn binary() -> Result<PathBuf> {
        if let Some(p) = std::env::var_os("SSHLOG_GARAGE") {
            return Ok(p.into());
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../garage");
        let out = run_with_timeout(
            Command::new(&script).arg("--path"),
            "tools/garage",
            b"",
            Duration::from_secs(60 * 60),
        )?;
        if !out.success() {
            bail!("tools/garage failed: {}", out.stderr_text().trim());
        }
        Ok(PathBuf::from(out.stdout_text().trim()))
    }

    /// One node, replication factor 1.
    pub fn start() -> Result<Garage> {
        Self::cluster(1)
    }

    /// `n` nodes (1 or 3) in one zone each, replication factor `n`.
    pub fn cluster(n: usize) -> Result<Garage> {
        let bin = Self::binary()?;
        let dir = owned_temp_dir("garage")?;
        let secret: String = (0..64)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect();
        let mut g = Garage {
            dir,
            bin,
            nodes: Vec::new(),
            bucket: "sshlog".into(),
            key_id: String::new(),
            secret: String::new(),
        };
        for i in 0..n {
            let d = g.dir.path().join(format!("node{i}"));
            fs::create_dir_all(&d)?;
            let (s3_port, rpc_port, admin_port) = (free_port()?, free_port()?, free_port()?);
            let config = d.join("garage.toml");
            fs::write(
                &config,
                format!(
                    "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"lmdb\"\n\
                     replication_factor = {n}\nrpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
                     rpc_public_addr = \"127.0.0.1:{rpc_port}\"\nrpc_secret = \"{secret}\"\n\
                     [s3_api]\ns3_region = \"{GARAGE_REGION}\"\napi_bind_addr = \"127.0.0.1:{s3_port}\"\n\
                     [admin]\napi_bind_addr = \"127.0.0.1:{admin_port}\"\n",
                    d = d.display()
                ),
            )?;
            fs::set_permissions(&config, fs::Permissions::from_mode(0o600))?;
            g.nodes.push(Node {
                config,
                log: d.join("garage.log"),
                s3_port,
                rpc_port,
                child: None,
            });
            g.start_node(i)?;
        }
        let ids: Vec<String> = (0..n)
            .map(|i| g.cli(i, &["node", "id", "-q"]))
            .collect::<Result<_>>()?;
        for (i, id) in ids.iter().enumerate().skip(1) {
            let _ = i;
            g.cli(0, &["node", "connect", id.trim()])?;
        }
        for (i, id) in ids.iter().enumerate() {
            let short = id.trim().split('@').next().unwrap_or_default().to_string();
            g.cli(
                0,
                &[
                    "layout",
                    "assign",
                    "-z",
                    &format!("dc{i}"),
                    "-c",
                    "1G",
                    &short,
                ],
            )?;
        }
        g.cli(0, &["layout", "apply", "--version", "1"])?;
        g.cli(0, &["bucket", "create", "sshlog"])?;
        let key = g.cli(0, &["key", "create", "sshlog-test"])?;
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                .with_context(|| format!("no {name} in: {key}"))
        };
        g.key_id = field("Key ID:")?;
        g.secret = field("Secret key:")?;
        g.cli(
            0,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                "--owner",
                "sshlog",
                "--key",
                "sshlog-test",
            ],
        )?;
        Ok(g)
    }

    /// `garage -c <node's config> ARGS`, its stdout.
    pub fn cli(&self, node: usize, args: &[&str]) -> Result<String> {
        let deadline = Instant::now() + CLI_TIMEOUT;
        loop {
            let out = run_with_timeout(
                Command::new(&self.bin)
                    .arg("-c")
                    .arg(&self.nodes[node].config)
                    .args(args),
                "garage",
                b"",
                CLI_TIMEOUT,
            )?;
            if out.success() {
                return Ok(out.stdout_text());
            }
            // Right after a start the cluster may not answer yet.
            if Instant::now() > deadline {
                bail!(
                    "garage {args:?} failed: {}{}",
                    out.stdout_text(),
                    out.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Starts node `i` (again) and waits until its S3 port listens.
    pub fn start_node(&mut self, i: usize) -> Result<()> {
        let n = &mut self.nodes[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&n.config)
            .arg("server")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting garage")?;
        n.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(is_listening(n.s3_port) && is_listening(n.rpc_port)) {
            if Instant::now() > deadline {
                bail!(
                    "garage node {i} did not listen: {}",
                    fs::read_to_string(&n.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// SIGTERM to node `i` and wait.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL to node `i`, as a crash.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The S3 endpoint of node `i`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3_port)
    }

    /// A root-only credentials file for the key, as sshlogd reads it.
    pub fn credentials_file(&self) -> Result<PathBuf> {
        let p = self.dir.path().join("credentials");
        fs::write(
            &p,
            format!(
                "access_key_id = {}\nsecret_access_key = {}\n",
                self.key_id, self.secret
            ),
        )?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600))?;
        Ok(p)
    }

    /// `s3://sshlog/PREFIX?endpoint=…&region=garage&credentials_file=…`.
    pub fn store_url(&self, prefix: &str) -> Result<String> {
        Ok(format!(
            "s3://{}/{prefix}?endpoint={}&region={GARAGE_REGION}&credentials_file={}",
            self.bucket,
            self.endpoint(0),
            self.credentials_file()?.display()
        ))
    }

    /// The `store:` section of sshlogd.yaml for this cluster.
    pub fn settings_yaml(&self, prefix: &str, host_id: &str) -> Result<String> {
        Ok(format!(
            "store:\n  endpoint: {}\n  region: {GARAGE_REGION}\n  bucket: {}\n  prefix: {prefix}\n  \
             credentials_file: {}\n  host_id: {host_id}\n",
            self.endpoint(0),
            self.bucket,
            self.credentials_file()?.display()
        ))
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
    }
}
