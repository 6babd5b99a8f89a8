//! `sshlog verify [DIR]`: checks the seals of every recording (see
//! `sshlog_format::seal` and docs/security.md): against the host's public
//! key with `--key`, against the chain heads a witness saw with
//! `--witness FILE|URL`. `--store URL` checks each host's chain in the
//! fleet store, downloading its recordings into a scratch directory one
//! host at a time; the heads the store witnessed are always compared.

use anyhow::{Context, Result};
use sshlog_fleet::fleet::runtime;
use sshlog_fleet::{Credentials, FleetStore, StoreSettings};
use sshlog_format::seal::{parse_witness, verify_dir, Options, PublicKey, Report, WitnessHead};
use std::io::Write;
use std::path::Path;

/// What the auditor brings: `--key` (a file holding the key, or the key
/// itself) and `--witness` (a file, or a store URL).
pub struct Evidence {
    pub key: Option<PublicKey>,
    pub witness: Vec<WitnessHead>,
}

impl Evidence {
    pub fn load(key: Option<&str>, witness: &[String], host: Option<&str>) -> Result<Evidence> {
        let key = key.map(read_key).transpose()?;
        let mut heads = Vec::new();
        for w in witness {
            let text = if w.contains("://") {
                let (store, rt) = connect(w)?;
                let hosts = match host {
                    Some(h) => vec![h.to_string()],
                    None => rt.block_on(store.hosts())?,
                };
                anyhow::ensure!(
                    hosts.len() == 1,
                    "{} holds {} hosts; say which with --host",
                    store.name,
                    hosts.len()
                );
                rt.block_on(store.witness_text(&hosts[0]))?
            } else {
                std::fs::read_to_string(w)
                    .with_context(|| format!("cannot read the witness {w}"))?
            };
            let found = parse_witness(&text);
            anyhow::ensure!(!found.is_empty(), "no chain heads in the witness {w}");
            heads.extend(found);
        }
        if let Some(h) = host {
            heads.retain(|w| w.host.as_deref().is_none_or(|x| x == h));
        }
        Ok(Evidence {
            key,
            witness: heads,
        })
    }

    fn options(&self, host: Option<&str>) -> Options {
        Options {
            key: self.key,
            witness: self
                .witness
                .iter()
                .filter(|w| host.is_none() || w.host.as_deref().is_none_or(|x| Some(x) == host))
                .cloned()
                .collect(),
        }
    }
}

fn read_key(arg: &str) -> Result<PublicKey> {
    let text = if arg.starts_with("ed25519:") {
        arg.to_string()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read the key file {arg}"))?
    };
    text.parse().with_context(|| {
        format!("{arg}: expected a public key as `sshlogd --print-seal-key` prints it")
    })
}

fn connect(url: &str) -> Result<(FleetStore, tokio::runtime::Runtime)> {
    let settings = StoreSettings::from_url(url)?;
    let store = FleetStore::connect(&settings, &Credentials::load(&settings)?)?;
    Ok((store, runtime()?))
}

/// Prints the report; `Ok(false)` when anything was found.
pub fn run(dir: &Path, evidence: &Evidence, out: &mut dyn Write) -> Result<bool> {
    let report = verify_dir(dir, &evidence.options(None))
        .with_context(|| format!("cannot read recordings under {}", dir.display()))?;
    print(&report, evidence, "", out)?;
    Ok(report.ok())
}

/// Checks the chain of `host` (every host without it) in the store at
/// `url`; `Ok(false)` when anything was found.
pub fn run_store(
    url: &str,
    host: Option<&str>,
    evidence: &Evidence,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<bool> {
    let (store, rt) = connect(url)?;
    let hosts = match host {
        Some(h) => vec![h.to_string()],
        None => rt.block_on(store.hosts())?,
    };
    let mut ok = true;
    for host in &hosts {
        let files = rt
            .block_on(store.session_files(host))
            .with_context(|| format!("cannot list the recordings of {host} in {}", store.name))?;
        anyhow::ensure!(
            !files.is_empty() || hosts.len() > 1,
            "no recordings of host {host} in {}",
            store.name
        );
        let scratch = tempfile::Builder::new()
            .prefix("sshlog-verify-")
            .tempdir()?;
        let total = files.iter().map(|f| f.size).sum();
        let bar = crate::progress::bytes(&format!("fetching {host}"), total, quiet);
        rt.block_on(store.download(host, &files, scratch.path(), &|n| bar.inc(n)))
            .with_context(|| format!("cannot fetch the recordings of {host}"))?;
        rt.block_on(store.fetch_tombstones(host, scratch.path()))?;
        bar.finish_and_clear();
        let mut opts = evidence.options(Some(host));
        let witnessed = rt.block_on(store.witness_text(host))?;
        opts.witness.extend(parse_witness(&witnessed));
        let report = verify_dir(scratch.path(), &opts)
            .with_context(|| format!("cannot check the recordings of {host}"))?;
        print(&report, evidence, &format!("{host}  "), out)?;
        ok &= report.ok();
    }
    Ok(ok)
}

/// One line per finding, then what was proved; each line starts with `prefix`.
fn print(report: &Report, evidence: &Evidence, prefix: &str, out: &mut dyn Write) -> Result<()> {
    for f in &report.findings {
        let who = f.session.map(|s| s.to_string()).unwrap_or("-".into());
        writeln!(out, "{prefix}{}  {who}  {}", f.kind.label(), f.what)?;
    }
    for id in &report.unsealed {
        writeln!(
            out,
            "{prefix}UNSEALED  {id}  (still recording, or the recorder stopped before sealing it)"
        )?;
    }
    writeln!(
        out,
        "{prefix}{} intact, {} deleted with a tombstone, {} unsealed, {} problem(s)",
        report.intact.len(),
        report.deleted.len(),
        report.unsealed.len(),
        report.findings.len()
    )?;
    let signers = if report.signers.is_empty() {
        "no signed seals".to_string()
    } else {
        format!("signed by key {}", report.signers.join(", "))
    };
    let checked = match &evidence.key {
        Some(k) => format!("checked against --key {}", k.fingerprint()),
        None => "not checked against a key of yours (use --key)".to_string(),
    };
    writeln!(
        out,
        "{prefix}chain: #1..#{}, {signers}, {checked}",
        report.length
    )?;
    if let Some(h) = &report.head {
        writeln!(out, "{prefix}head: #{} signed at {}", h.sequence, h.time)?;
    }
    match &report.witnessed {
        Some(h) => writeln!(
            out,
            "{prefix}witness: newest head #{} seen at {}",
            h.sequence, h.time
        )?,
        None if !evidence.witness.is_empty() => {
            writeln!(out, "{prefix}witness: no head signed by this chain's key")?
        }
        None => {}
    }
    Ok(())
}
