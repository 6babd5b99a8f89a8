//! Loads the eBPF object from `sshlog-recorder-ebpf` with aya, attaches every
//! program to its tracepoint, seeds the process map with sshd trees that already
//! run, and hands out the ring buffer and counter maps.

use crate::procfs::Existing;
use anyhow::{anyhow, Context, Result};
use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Pod};
use sshlog_control::KernelTotals;
use sshlog_recorder_ebpf::layout::{ConnStats, Proc, ProcKind, Record};
use std::collections::HashMap;

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
