//! Loads the eBPF object from `sshlog-recorder-ebpf` with aya against the
//! pinned maps ([`crate::handover`]), attaches every program to its
//! tracepoint, seeds the process map with sshd trees that already run, and
//! hands out the ring buffer and counter maps.

use crate::procfs::Existing;
use anyhow::{anyhow, Context, Result};
use aya::maps::{HashMap as BpfHashMap, Map, PerCpuArray};
use aya::programs::links::FdLink;
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Pod};
use sshlog_control::KernelTotals;
use sshlog_recorder_ebpf::layout::{ConnStats, Proc, ProcKind, Record};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::capture::ring::Ring;
use crate::handover;

/// A record of `sshlog_recorder_ebpf::layout` as an aya map value.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
struct MapValue<T>(T);
// SAFETY: `Record` types are repr(C) plain old data, valid for any bytes.
unsafe impl<T: Record + 'static> Pod for MapValue<T> {}

/// (program, tracepoint category, tracepoint name) for classic tracepoints.
const TRACEPOINTS: &[(&str, &str, &str)] = &[
    ("on_read_enter", "syscalls", "sys_enter_read"),
    ("on_read_exit", "syscalls", "sys_exit_read"),
    ("on_write_enter", "syscalls", "sys_enter_write"),
    ("on_write_exit", "syscalls", "sys_exit_write"),
    ("on_sendto_enter", "syscalls", "sys_enter_sendto"),
    ("on_ioctl_enter", "syscalls", "sys_enter_ioctl"),
    ("on_openat_enter", "syscalls", "sys_enter_openat"),
    ("on_openat_exit", "syscalls", "sys_exit_openat"),
    ("on_close_enter", "syscalls", "sys_enter_close"),
    ("on_pipe2_enter", "syscalls", "sys_enter_pipe2"),
    ("on_pipe2_exit", "syscalls", "sys_exit_pipe2"),
    ("on_pipe_enter", "syscalls", "sys_enter_pipe"),
    ("on_pipe_exit", "syscalls", "sys_exit_pipe"),
    ("on_connect_enter", "syscalls", "sys_enter_connect"),
    ("on_connect_exit", "syscalls", "sys_exit_connect"),
    ("on_sock_state", "sock", "inet_sock_set_state"),
];

/// BTF tracepoints: (program, tracepoint).
const BTF_TRACEPOINTS: &[(&str, &str)] = &[
    ("on_fork", "sched_process_fork"),
    ("on_exec", "sched_process_exec"),
    ("on_exit", "sched_process_exit"),
];

pub struct Loaded {
    pub ebpf: Ebpf,
    pub ring: Ring,
    /// The maps were pinned by an earlier sshlogd and reused: the ring may hold
    /// records it did not read (see [`crate::handover`]).
    pub took_over: bool,
    /// The generation of the programs loaded now.
    pub generation: u32,
    pub retired: handover::Retired,
}

/// How to load the kernel half.
pub struct LoadOptions<'a> {
    /// Ring buffer size, rounded up to a power of two of at least 64 KiB.
    pub ring_bytes: u32,
    pub capture_input: bool,
    /// bpffs directory of the pinned maps and links.
    pub bpf_dir: &'a Path,
    /// Keep the kernel half recording after this sshlogd exits (and take over
    /// what an earlier one left); off: everything goes with this process.
    pub handover: bool,
}

/// Loads the programs against the pinned maps of their layout (created when
/// missing), attaches them as the next generation and hands recording to it;
/// see [`crate::handover`].
pub fn load(opts: &LoadOptions) -> Result<Loaded> {
    let ring_bytes = opts.ring_bytes.max(1 << 16).next_power_of_two();
    let capture = u8::from(opts.capture_input);
    let state = if opts.handover {
        handover::state_dir(opts.bpf_dir, ring_bytes)
    } else {
        // Maps are pinned by name (state.h); pinned privately, then unpinned.
        opts.bpf_dir.join(format!("private-{}", std::process::id()))
    };
    std::fs::create_dir_all(&state).with_context(|| {
        format!(
            "cannot create {} (bpffs: mount -t bpf bpf /sys/fs/bpf)",
            state.display()
        )
    })?;
    // Root only, whatever the bpffs mount allows (pins are 0600 themselves).
    std::fs::set_permissions(opts.bpf_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", opts.bpf_dir.display()))?;
    handover::lock(opts.bpf_dir)?;
    let previous = opts
        .handover
        .then(|| handover::current_generation(&state))
        .flatten();
    let generation = previous.map_or(1, |g| g.wrapping_add(1).max(1));
    let loaded = EbpfLoader::new()
        .map_pin_path(&state)
        .set_global("capture_input", &capture, true)
        .set_global("generation", &generation, true)
        .set_max_entries("events", ring_bytes)
        .load(sshlog_recorder_ebpf::OBJECT);
    if !opts.handover {
        let _ = std::fs::remove_dir_all(&state);
    }
    let mut ebpf = loaded.context(
        "the kernel refused the eBPF programs (is this root with CAP_BPF and CAP_PERFMON?)",
    )?;
    let links = opts
        .handover
        .then(|| handover::links_dir(&state, generation));
    if let Some(dir) = &links {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if let Err(e) = attach_all(&mut ebpf, links.as_deref()) {
        if let Some(dir) = &links {
            let _ = std::fs::remove_dir_all(dir);
        }
        return Err(e);
    }
    handover::open_gate(&mut ebpf, generation)?;
    let keep = opts.handover.then_some((state.as_path(), generation));
    let retired = handover::retire_others(opts.bpf_dir, keep);
    let ring = match ebpf.take_map("events") {
        Some(Map::RingBuf(data)) => {
            Ring::new(data, ring_bytes).context("cannot map the ring buffer")?
        }
        _ => return Err(anyhow!("map events missing or not a ring buffer")),
    };
    Ok(Loaded {
        ebpf,
        ring,
        took_over: previous.is_some(),
        generation,
        retired,
    })
}

/// Attaches every program; with `links`, pins each link there so the program
/// stays attached after this process exits.
fn attach_all(ebpf: &mut Ebpf, links: Option<&Path>) -> Result<()> {
    let btf = Btf::from_sys_fs().context("cannot read kernel BTF from /sys/kernel/btf/vmlinux")?;
    let pin = |link: FdLink, name: &str| -> Result<()> {
        if let Some(dir) = links {
            link.pin(dir.join(name))
                .with_context(|| format!("cannot pin the link of {name} in {}", dir.display()))?;
        }
        Ok(())
    };
    for (name, tp) in BTF_TRACEPOINTS {
        let prog: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| anyhow!("program {name} missing"))?
            .try_into()?;
        prog.load(tp, &btf)
            .with_context(|| format!("loading {name}"))?;
        let id = prog
            .attach()
            .with_context(|| format!("attaching {name} to tp_btf/{tp}"))?;
        if links.is_some() {
            pin(prog.take_link(id)?.into(), name)?;
        }
    }
    for (name, cat, tp) in TRACEPOINTS {
        let prog: &mut TracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| anyhow!("program {name} missing"))?
            .try_into()?;
        prog.load().with_context(|| format!("loading {name}"))?;
        let id = prog
            .attach(cat, tp)
            .with_context(|| format!("attaching {name} to tracepoint {cat}/{tp}"))?;
        if links.is_some() {
            let link = FdLink::try_from(prog.take_link(id)?)
                .with_context(|| format!("{name}: the kernel has no BPF links for tracepoints"))?;
            pin(link, name)?;
        }
    }
    Ok(())
}

fn kind_for(comm: &str) -> ProcKind {
    match comm {
        c if c == "sshd" || c.starts_with("sshd-") => ProcKind::Sshd,
        "scp" | "sftp-server" => ProcKind::Uploader,
        _ => ProcKind::Session,
    }
}

/// Puts processes found by [`crate::procfs::scan_sshd_trees`] into the kernel's
/// process map, so their sessions are captured from now on.
pub fn seed(ebpf: &mut Ebpf, existing: &[Existing]) -> Result<()> {
    let mut procs: BpfHashMap<_, u32, MapValue<Proc>> = BpfHashMap::try_from(
        ebpf.map_mut("procs")
            .ok_or_else(|| anyhow!("map procs missing"))?,
    )?;
    for e in existing {
        procs.insert(
            e.pid,
            MapValue(Proc {
                conn: e.conn,
                kind: kind_for(&e.comm) as u8,
                _pad: [0; 3],
            }),
            0,
        )?;
    }
    Ok(())
}

/// Sets the destination ports whose connections are logged as outbound SSH.
pub fn set_watch_ports(ebpf: &mut Ebpf, ports: &[u16]) -> Result<()> {
    let mut map: BpfHashMap<_, u16, u8> = BpfHashMap::try_from(
        ebpf.map_mut("watch_ports")
            .ok_or_else(|| anyhow!("map watch_ports missing"))?,
    )?;
    // The map may have been pinned with another configuration.
    let old: Vec<u16> = map
        .keys()
        .flatten()
        .filter(|k| !ports.contains(k))
        .collect();
    for k in old {
        map.remove(&k)?;
    }
    for p in ports {
        map.insert(p, 1, 0)?;
    }
    Ok(())
}

/// Reads the per-connection counters of `conns`.
pub fn conn_counters(ebpf: &Ebpf, conns: &[u32]) -> HashMap<u32, ConnStats> {
    let mut out = HashMap::new();
    let Some(map) = ebpf.map("conn_stats") else {
        return out;
    };
    let Ok(stats) = BpfHashMap::<_, u32, MapValue<ConnStats>>::try_from(map) else {
        return out;
    };
    for &c in conns {
        if let Ok(MapValue(s)) = stats.get(&c, 0) {
            out.insert(c, s);
        }
    }
    out
}

/// Removes the counters of connections that ended.
pub fn forget_conns(ebpf: &mut Ebpf, gone: &[u32]) {
    if let Some(map) = ebpf.map_mut("conn_stats") {
        if let Ok(mut stats) = BpfHashMap::<_, u32, MapValue<ConnStats>>::try_from(map) {
            for c in gone {
                let _ = stats.remove(c);
            }
        }
    }
}

/// Reads [`KernelTotals`].
pub fn totals(ebpf: &Ebpf) -> KernelTotals {
    let Some(map) = ebpf.map("totals") else {
        return KernelTotals::default();
    };
    let Ok(arr) = PerCpuArray::<_, u64>::try_from(map) else {
        return KernelTotals::default();
    };
    let sum = |i: u32| arr.get(&i, 0).map(|v| v.iter().sum::<u64>()).unwrap_or(0);
    KernelTotals {
        kernel_dropped_bytes: sum(0),
        kernel_dropped_events: sum(1),
        kernel_captured_bytes: sum(2),
    }
}
