//! Loads the eBPF object from `sshlog-recorder-ebpf` with aya, attaches every
//! program to its tracepoint, seeds the process map with sshd trees that already
//! run, and hands out the ring buffer and counter maps.

use crate::procfs::Existing;
use crate::tracker::ConnCounters;
use anyhow::{anyhow, Context, Result};
use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Pod};
use std::collections::HashMap;

/// `struct proc` in sshlog.bpf.c.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ProcEntry {
    pub conn: u32,
    pub kind: u8,
    pub pad: [u8; 3],
}
// SAFETY: plain old data, no padding beyond the explicit bytes.
unsafe impl Pod for ProcEntry {}

/// `struct conn_stats` in sshlog.h.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnStatsEntry {
    pub net_in: u64,
    pub net_out: u64,
    pub captured_bytes: u64,
    pub dropped_bytes: u64,
    pub dropped_events: u64,
}
// SAFETY: five u64, no padding.
unsafe impl Pod for ConnStatsEntry {}

const KIND_SSHD: u8 = 1;
const KIND_SESSION: u8 = 2;
const KIND_UPLOADER: u8 = 3;

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
    pub ring: RingBuf<MapData>,
}

/// Loads and attaches everything. `ring_bytes` is rounded up to a power of two
/// multiple of the page size as the kernel requires.
pub fn load(ring_bytes: u32, capture_input: bool) -> Result<Loaded> {
    let ring_bytes = ring_bytes.max(1 << 16).next_power_of_two();
    let capture = u8::from(capture_input);
    let mut ebpf = EbpfLoader::new()
        .set_global("capture_input", &capture, true)
        .set_max_entries("events", ring_bytes)
        .load(sshlog_recorder_ebpf::OBJECT)
        .context(
            "the kernel refused the eBPF programs (is this root with CAP_BPF and CAP_PERFMON?)",
        )?;
    let btf = Btf::from_sys_fs().context("cannot read kernel BTF from /sys/kernel/btf/vmlinux")?;
    for (name, tp) in BTF_TRACEPOINTS {
        let prog: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| anyhow!("program {name} missing"))?
            .try_into()?;
        prog.load(tp, &btf)
            .with_context(|| format!("loading {name}"))?;
        prog.attach()
            .with_context(|| format!("attaching {name} to tp_btf/{tp}"))?;
    }
    for (name, cat, tp) in TRACEPOINTS {
        let prog: &mut TracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| anyhow!("program {name} missing"))?
            .try_into()?;
        prog.load().with_context(|| format!("loading {name}"))?;
        prog.attach(cat, tp)
            .with_context(|| format!("attaching {name} to tracepoint {cat}/{tp}"))?;
    }
    let ring = RingBuf::try_from(
        ebpf.take_map("events")
            .ok_or_else(|| anyhow!("map events missing"))?,
    )?;
    Ok(Loaded { ebpf, ring })
}

fn kind_for(comm: &str) -> u8 {
    match comm {
        c if c == "sshd" || c.starts_with("sshd-") => KIND_SSHD,
        "scp" | "sftp-server" => KIND_UPLOADER,
        _ => KIND_SESSION,
    }
}

/// Puts processes found by [`crate::procfs::scan_sshd_trees`] into the kernel's
/// process map, so their sessions are captured from now on.
pub fn seed(ebpf: &mut Ebpf, existing: &[Existing]) -> Result<()> {
    let mut procs: BpfHashMap<_, u32, ProcEntry> = BpfHashMap::try_from(
        ebpf.map_mut("procs")
            .ok_or_else(|| anyhow!("map procs missing"))?,
    )?;
    for e in existing {
        procs.insert(
            e.pid,
            ProcEntry {
                conn: e.conn,
                kind: kind_for(&e.comm),
                pad: [0; 3],
            },
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
    for p in ports {
        map.insert(p, 1, 0)?;
    }
    Ok(())
}

/// Reads the per-connection counters of `conns`.
pub fn conn_counters(ebpf: &Ebpf, conns: &[u32]) -> HashMap<u32, ConnCounters> {
    let mut out = HashMap::new();
    let Some(map) = ebpf.map("conn_stats") else {
        return out;
    };
    let Ok(stats) = BpfHashMap::<_, u32, ConnStatsEntry>::try_from(map) else {
        return out;
    };
    for &c in conns {
        if let Ok(s) = stats.get(&c, 0) {
            out.insert(
                c,
                ConnCounters {
                    net_in: s.net_in,
                    net_out: s.net_out,
                    captured_bytes: s.captured_bytes,
                    dropped_bytes: s.dropped_bytes,
                    dropped_events: s.dropped_events,
                },
            );
        }
    }
    out
}

/// Removes the counters of connections that ended.
pub fn forget_conns(ebpf: &mut Ebpf, gone: &[u32]) {
    if let Some(map) = ebpf.map_mut("conn_stats") {
        if let Ok(mut stats) = BpfHashMap::<_, u32, ConnStatsEntry>::try_from(map) {
            for c in gone {
                let _ = stats.remove(c);
            }
        }
    }
}

/// System-wide totals: (dropped bytes, dropped events, captured bytes).
pub fn totals(ebpf: &Ebpf) -> (u64, u64, u64) {
    let Some(map) = ebpf.map("totals") else {
        return (0, 0, 0);
    };
    let Ok(arr) = PerCpuArray::<_, u64>::try_from(map) else {
        return (0, 0, 0);
    };
    let sum = |i: u32| arr.get(&i, 0).map(|v| v.iter().sum::<u64>()).unwrap_or(0);
    (sum(0), sum(1), sum(2))
}
