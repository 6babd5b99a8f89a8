/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel half's state that outlives one sshlogd: every map here is pinned
 * by name in bpffs (`<bpf_dir>/state-<layout>-<ring MiB>/`), so a restarted or
 * upgraded sshlogd loads its programs against the same maps and takes over the
 * ring buffer where the previous one stopped reading (docs/architecture.md,
 * "Restarts and upgrades"). Programs of two generations may run against these
 * maps one after the other: the gate says which one records.
 *
 * build.rs hashes this file and sshlog.h into the layout key: change a map or
 * a struct here and a new sshlogd gets new maps (the old ring cannot be read)
 * instead of misreading the old ones. Program-only changes keep the maps. */
#ifndef SSHLOG_STATE_H
#define SSHLOG_STATE_H

/* The generation whose programs record (the others return at once). A new
 * sshlogd attaches its programs as generation N+1, then stores N+1 here: from
 * that event on only the new programs act, and none is seen twice or missed. */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gate SEC(".maps");

struct pending_io {
	__u64 buf;
	__u32 fd;
	__u8 cls;
	__u8 _pad[3];
	__s32 pts;
	__u32 _pad2;
	__u64 start_ns; /* when the syscall began */
};

struct pending_open {
	__u64 filename;
	__u32 flags;
	__u32 _pad;
};

struct file_key {
	__u32 pid;
	__s32 fd;
};

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20); /* resized by the loader from config */
} events SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct proc);
} procs SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending_io);
} pending SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct pending_open);
} pending_opens SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct file_key);
	__type(value, __u8);
} upload_files SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct conn_stats);
} conn_stats SEC(".maps");

/* Pipes created by a connection's monitor process (the per-connection sshd):
 * OpenSSH forwards the log messages of its privilege-separated children through
 * them. Keyed by pipe inode number (never reused in practice, unlike inode
 * addresses); LRU so entries of old connections age out. */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u8);
} monitor_pipes SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} pending_pipes SEC(".maps");

/* Outbound SSH: destination ports to watch (filled by user space, default 22). */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} watch_ports SEC(".maps");

struct pending_connect {
	__s32 fd;
	__u16 family;
	__u16 dport;
	__u8 daddr[16];
};

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct pending_connect);
} pending_connects SEC(".maps");

/* Sockets of outbound connections (sock address -> pid) and their processes. */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} out_socks SEC(".maps");

struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} out_procs SEC(".maps");

/* index 0: dropped bytes, 1: dropped events, 2: captured bytes, 3: events */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

/* Connections whose TCP endpoints were reported (EV_CONN_ADDR), by conn pid. */
struct {
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} conn_addr_sent SEC(".maps");

#endif
