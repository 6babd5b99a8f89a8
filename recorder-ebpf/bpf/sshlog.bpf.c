// SPDX-License-Identifier: GPL-2.0
/* sshlog kernel half: follows every process rooted in an sshd connection and
 * streams what user space needs to record it into one ring buffer.
 *
 * Hooks (tracepoints only; kprobes/fentry are not available on our kernels):
 *   tp_btf/sched_process_fork   track children; a fork of the sshd listener
 *                               starts a connection
 *   tp_btf/sched_process_exec   command_start: argv, cwd, uid
 *   tp_btf/sched_process_exit   command_finish / connection end
 *   syscalls read/write         pty master and session pipes of sshd (terminal
 *                               bytes), network byte counters, sshd log text
 *   syscalls sendto             sshd log text sent to syslog
 *   syscalls ioctl              TIOCSWINSZ on the pty master (resizes)
 *   syscalls openat/close       files written by scp / sftp-server
 *
 * Nothing here ever blocks or loses data silently: a failed ring-buffer
 * reservation is counted per connection in conn_stats and globally.
 *
 * The maps (state.h) are pinned and outlive one sshlogd; every program first
 * asks the gate whether its generation is the one that records. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sshlog.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before the programs are loaded. */
volatile const __u8 capture_input = 0;
/* This object's generation; it records only while the gate holds it. */
volatile const __u32 generation = 0;

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFIFO 0010000
#define S_IFCHR 0020000
#define S_IFREG 0100000
#define PTMX_RDEV ((5u << 20) | 2u)
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define TIOCSWINSZ 0x5414
#define O_WRONLY 01
#define O_RDWR 02

#include "state.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_data);
} scratch SEC(".maps");

/* True while this object's generation records (the gate in state.h). */
static __always_inline int active(void)
{
	__u32 k = 0;
	__u32 *g = bpf_map_lookup_elem(&gate, &k);
	return g && *g == generation;
}

static __always_inline void add_total(__u32 idx, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&totals, &idx);
	if (p)
		*p += v;
}

static __always_inline struct conn_stats *stats_for(__u32 conn)
{
	struct conn_stats *s = bpf_map_lookup_elem(&conn_stats, &conn);
	if (s)
		return s;
	struct conn_stats zero = {};
	bpf_map_update_elem(&conn_stats, &conn, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conn_stats, &conn);
}

static __always_inline void count_drop(__u32 conn, __u64 bytes)
{
	struct conn_stats *s = stats_for(conn);
	if (s) {
		__sync_fetch_and_add(&s->dropped_bytes, bytes);
		__sync_fetch_and_add(&s->dropped_events, 1);
	}
	add_total(0, bytes);
	add_total(1, 1);
}

static __always_inline void fill_hdr(struct ev_hdr *h, __u32 type, __u32 pid, __u32 conn, __u32 ppid)
{
	h->type = type;
	h->pid = pid;
	h->conn = conn;
	h->ppid = ppid;
	h->ts_ns = bpf_ktime_get_ns();
}

static __always_inline int comm_is_sshd(const char *c)
{
	/* "sshd", "sshd-session", "sshd-auth" */
	return c[0] == 's' && c[1] == 's' && c[2] == 'h' && c[3] == 'd' && (c[4] == 0 || c[4] == '-');
}

static __always_inline __u8 kind_for_comm(const char *c)
{
	if (comm_is_sshd(c))
		return KIND_SSHD;
	if (c[0] == 's' && c[1] == 'c' && c[2] == 'p' && c[3] == 0)
		return KIND_UPLOADER;
	if (c[0] == 's' && c[1] == 'f' && c[2] == 't' && c[3] == 'p' && c[4] == '-' && c[5] == 's')
		return KIND_UPLOADER;
	return KIND_SESSION;
}

static __always_inline struct file *fd_file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return 0;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Classify an fd of the current process; for a pty master also report its pts number. */
static __always_inline __u8 classify_fd(__u32 fd, __s32 *pts)
{
	*pts = -1;
	struct file *f = fd_file(fd);
	if (!f)
		return CLS_OTHER;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	umode_t mode = BPF_CORE_READ(ino, i_mode);
	__u32 fmt = mode & S_IFMT;
	if (fmt == S_IFCHR) {
		dev_t rdev = BPF_CORE_READ(ino, i_rdev);
		if (rdev == PTMX_RDEV) {
			struct tty_file_private *priv = BPF_CORE_READ(f, private_data);
			if (priv)
				*pts = BPF_CORE_READ(priv, tty, index);
			return CLS_PTY;
		}
		return fd <= 2 ? CLS_STDIO : CLS_OTHER;
	}
	if (fmt == S_IFIFO) {
		__u64 key = BPF_CORE_READ(ino, i_ino);
		if (bpf_map_lookup_elem(&monitor_pipes, &key))
			return CLS_LOGPIPE;
		return fd <= 2 ? CLS_STDIO : CLS_PIPE;
	}
	if (fmt == S_IFSOCK) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		__u16 family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
		if (family == AF_INET || family == AF_INET6)
			return CLS_INET;
		if (family == AF_UNIX)
			return CLS_UNIX;
		return CLS_OTHER;
	}
	return fd <= 2 ? CLS_STDIO : CLS_OTHER;
}

static __always_inline struct proc *current_proc(__u32 *tgid)
{
	__u64 id = bpf_get_current_pid_tgid();
	*tgid = id >> 32;
	return bpf_map_lookup_elem(&procs, tgid);
}

static __always_inline __u32 current_ppid(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, real_parent, tgid);
}

/* ---------------------------------------------------------------- processes */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!active())
		return 0;
	__u32 ppid = BPF_CORE_READ(parent, tgid);
	__u32 cpid = BPF_CORE_READ(child, pid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (cpid != ctgid)
		return 0; /* a thread, not a process */

	struct proc *pp = bpf_map_lookup_elem(&procs, &ppid);
	struct proc np = {};
	__u32 type = EV_FORK;
	if (pp) {
		np.conn = pp->conn;
		np.kind = pp->kind;
	} else {
		char comm[TASK_COMM_LEN] = {};
		BPF_CORE_READ_STR_INTO(&comm, parent, comm);
		if (!comm_is_sshd(comm))
			return 0;
		/* An untracked sshd is the listener: each fork is a connection. */
		np.conn = cpid;
		np.kind = KIND_SSHD;
		type = EV_CONN_NEW;
	}
	bpf_map_update_elem(&procs, &cpid, &np, BPF_ANY);

	struct ev_hdr *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(np.conn, 0);
		return 0;
	}
	fill_hdr(e, type, cpid, np.conn, ppid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

struct cwd_walk {
	struct ev_exec *e;
	struct dentry *root_d; /* the process's root (chroot / container): the walk ends there */
	struct vfsmount *root_mnt;
	struct dentry *d;
	struct vfsmount *vmnt;
	struct mount *mnt;
	__u32 depth;
	__u32 pos; /* next free byte of e->payload */
};

/* One step of the cwd walk (bpf_loop callback: verified once, not per iteration). */
static long cwd_step(__u64 i, void *arg)
{
	struct cwd_walk *w = arg;
	struct dentry *d = w->d;
	struct vfsmount *vmnt = w->vmnt;
	struct mount *mnt = w->mnt;
	if (d == w->root_d && vmnt == w->root_mnt)
		return 1; /* the root as the process sees it */
	struct dentry *mnt_root = BPF_CORE_READ(vmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == mnt_root || d == parent) {
		struct mount *mparent = BPF_CORE_READ(mnt, mnt_parent);
		if (mparent == mnt)
			return 1; /* the real root */
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mparent;
		w->vmnt = &mparent->mnt;
		return 0;
	}
	__u32 depth = w->depth;
	__u32 pos = w->pos;
	if (depth >= CWD_DEPTH || pos >= ARGV_MAX + CWD_BYTES) {
		w->e->cwd_flags |= 1;
		return 1;
	}
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	struct ev_exec *e = w->e;
	long n = bpf_probe_read_kernel_str(&e->payload[pos & EXEC_PAYLOAD_MASK], CWD_NAME, name);
	if (n <= 0) {
		w->e->cwd_flags |= 1;
		return 1;
	}
	w->pos = pos + n;
	w->depth = depth + 1;
	w->d = parent;
	return 0;
}

/* Packs the cwd components (leaf first) into the payload after argv. */
static __always_inline void read_cwd(struct ev_exec *e, struct task_struct *task, __u32 start)
{
	struct path pwd = BPF_CORE_READ(task, fs, pwd);
	struct path root = BPF_CORE_READ(task, fs, root);
	struct cwd_walk w = {
		.e = e,
		.root_d = root.dentry,
		.root_mnt = root.mnt,
		.d = pwd.dentry,
		.vmnt = pwd.mnt,
		.mnt = container_of(pwd.mnt, struct mount, mnt),
		.depth = 0,
		.pos = start,
	};
	bpf_loop(CWD_DEPTH * 2, cwd_step, &w, 0);
	e->cwd_depth = w.depth;
	e->cwd_len = w.pos - start;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_exec);
} exec_scratch SEC(".maps");

/* Whether the task leads its session (its pid is the session id). The array
 * element is read by offset: CO-RE array accessors are not relocated by aya. */
static __always_inline __u32 is_session_leader(struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	struct pid *me = BPF_CORE_READ(task, thread_pid);
	struct pid *sid = 0;
	__u64 off = bpf_core_field_offset(struct signal_struct, pids) +
		    bpf_core_enum_value(enum pid_type, PIDTYPE_SID) * sizeof(void *);
	if (!sig || bpf_probe_read_kernel(&sid, sizeof(sid), (char *)sig + off) != 0)
		return 0;
	return sid && sid == me;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!active())
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct proc *p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	__u32 zero = 0;
	struct ev_exec *e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;
	fill_hdr(&e->h, EV_EXEC, tgid, p->conn, BPF_CORE_READ(task, real_parent, tgid));
	__u64 ugid = bpf_get_current_uid_gid();
	e->uid = (__u32)ugid;
	e->gid = ugid >> 32;
	e->cwd_flags = 0;
	e->cwd_depth = 0;
	e->leader = is_session_leader(task);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));

	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > ARGV_MAX)
		len = ARGV_MAX;
	e->argv_len = 0;
	__u32 bounded = len & (ARGV_MAX - 1) ? len & (ARGV_MAX - 1) : ARGV_MAX;
	if (len > 0 && bpf_probe_read_user(e->payload, bounded, (void *)start) == 0)
		e->argv_len = len;
	read_cwd(e, task, e->argv_len);
	p->kind = kind_for_comm(e->comm);
	__u32 used = (e->argv_len + e->cwd_len) & EXEC_PAYLOAD_MASK;
	if (bpf_ringbuf_output(&events, e, offsetof(struct ev_exec, payload) + used, 0) != 0)
		count_drop(p->conn, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task, bool group_dead)
{
	if (!active())
		return 0;
	if (!group_dead)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct proc *p = bpf_map_lookup_elem(&procs, &tgid);
	__u32 conn = 0, found = 0;
	if (p) {
		conn = p->conn;
		found |= 1;
	}
	if (bpf_map_lookup_elem(&out_procs, &tgid)) {
		found |= 2;
		bpf_map_delete_elem(&out_procs, &tgid);
	}
	if (!found)
		return 0;
	struct ev_exit *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		fill_hdr(&e->h, EV_EXIT, tgid, conn, BPF_CORE_READ(task, real_parent, tgid));
		int code = BPF_CORE_READ(task, exit_code);
		int gcode = BPF_CORE_READ(task, signal, group_exit_code);
		e->exit_code = code ? code : gcode;
		bpf_ringbuf_submit(e, 0);
	} else {
		count_drop(conn, 0);
	}
	if (found & 1)
		bpf_map_delete_elem(&procs, &tgid);
	return 0;
}

/* --------------------------------------------------------- read and write */

static __always_inline int io_enter(struct trace_event_raw_sys_enter *ctx, int is_write)
{
	__u32 tgid;
	struct proc *p = current_proc(&tgid);
	if (!p || p->kind != KIND_SSHD)
		return 0;
	__u32 fd = ctx->args[0];
	struct pending_io io = {};
	io.cls = classify_fd(fd, &io.pts);
	if (io.cls == CLS_OTHER)
		return 0;
	if (is_write && (io.cls == CLS_PTY || io.cls == CLS_PIPE) && !capture_input)
		return 0; /* keystrokes are not kept unless configured */
	/* Log text is what sshd writes to stderr (sshd -e) and what the monitor
	 * reads from its children's log pipe; socketpair traffic between monitor and
	 * child (which may carry passwords) is never captured. */
	if (io.cls == CLS_UNIX)
		return 0;
	if (io.cls == CLS_STDIO && !is_write)
		return 0;
	if (io.cls == CLS_LOGPIPE && is_write)
		return 0;
	io.buf = ctx->args[1];
	io.fd = fd;
	io.start_ns = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &id, &io, BPF_ANY);
	return 0;
}

static __always_inline void emit_log(__u32 tgid, struct proc *p, __u64 buf, __s64 len, __u8 cls)
{
	struct ev_log *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* A lost record, not terminal output: bytes count output only. */
		count_drop(p->conn, 0);
		return;
	}
	fill_hdr(&e->h, EV_LOG, tgid, p->conn, current_ppid());
	__u32 n = len > LOG_MAX ? LOG_MAX : len;
	e->len = 0;
	e->cls = cls;
	if (n > 0 && bpf_probe_read_user(&e->text, n & (LOG_MAX - 1) ? n & (LOG_MAX - 1) : LOG_MAX, (void *)buf) == 0)
		e->len = n;
	bpf_ringbuf_submit(e, 0);
}

struct data_walk {
	struct ev_data *e;
	struct conn_stats *s;
	__u64 buf;
	__s64 total;
};

static __always_inline void count_chunk_drop(struct conn_stats *s, __u32 n)
{
	if (s) {
		__sync_fetch_and_add(&s->dropped_bytes, n);
		__sync_fetch_and_add(&s->dropped_events, 1);
	}
	add_total(0, n);
	add_total(1, 1);
}

/* Copies chunk i of a read/write into the ring buffer (bpf_loop callback). */
static long data_step(__u64 i, void *arg)
{
	struct data_walk *w = arg;
	struct ev_data *e = w->e;
	struct conn_stats *s = w->s;
	__s64 off = (__s64)i * DATA_CHUNK;
	if (off >= w->total)
		return 1;
	__s64 left = w->total - off;
	__u32 n = left > DATA_CHUNK ? DATA_CHUNK : left;
	__u32 bounded = n & (DATA_CHUNK - 1) ? n & (DATA_CHUNK - 1) : DATA_CHUNK;
	e->chunk = i;
	e->len = bounded;
	if (bpf_probe_read_user(e->data, bounded, (void *)(w->buf + off)) != 0) {
		count_chunk_drop(s, bounded);
		return 0;
	}
	if (bpf_ringbuf_output(&events, e, offsetof(struct ev_data, data) + bounded, 0) != 0) {
		count_chunk_drop(s, bounded);
		return 0;
	}
	if (s)
		__sync_fetch_and_add(&s->captured_bytes, bounded);
	add_total(2, bounded);
	return 0;
}

static __always_inline void emit_data(__u32 tgid, struct proc *p, struct pending_io *io, __s64 total, __u8 dir)
{
	__u32 zero = 0;
	struct ev_data *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	fill_hdr(&e->h, EV_DATA, tgid, p->conn, 0);
	e->fd = io->fd;
	e->dir = dir;
	e->cls = io->cls;
	e->pts = io->pts;
	e->start_ns = io->start_ns;
	struct data_walk w = { .e = e, .s = stats_for(p->conn), .buf = io->buf, .total = total };
	bpf_loop(DATA_MAX_CHUNKS, data_step, &w, 0);
	/* Larger than DATA_MAX_CHUNKS * DATA_CHUNK: the rest is counted as lost. */
	__s64 rest = total - (__s64)DATA_MAX_CHUNKS * DATA_CHUNK;
	if (rest > 0)
		count_drop(p->conn, rest);
}

/* Reports the endpoints of the connection's socket on its first I/O. */
static __always_inline void report_conn_addr(__u32 tgid, struct proc *p, __u32 fd)
{
	__u32 conn = p->conn;
	if (bpf_map_lookup_elem(&conn_addr_sent, &conn))
		return;
	struct file *f = fd_file(fd);
	if (!f)
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	struct ev_conn_addr *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(conn, 0);
		return; /* tried again at the next I/O */
	}
	fill_hdr(&e->h, EV_CONN_ADDR, tgid, conn, current_ppid());
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->family = family;
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->_pad = 0;
	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->raddr, 0, sizeof(e->raddr));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	}
	bpf_ringbuf_submit(e, 0);
	__u8 one = 1;
	bpf_map_update_elem(&conn_addr_sent, &conn, &one, BPF_ANY);
}

static __always_inline int io_exit(struct trace_event_raw_sys_exit *ctx, int is_write)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_io *io = bpf_map_lookup_elem(&pending, &id);
	if (!io)
		return 0;
	struct pending_io cur = *io;
	bpf_map_delete_elem(&pending, &id);
	__s64 ret = ctx->ret;
	if (ret <= 0)
		return 0;
	__u32 tgid = id >> 32;
	struct proc *p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;

	switch (cur.cls) {
	case CLS_INET: {
		report_conn_addr(tgid, p, cur.fd);
		struct conn_stats *s = stats_for(p->conn);
		if (s) {
			if (is_write)
				__sync_fetch_and_add(&s->net_out, ret);
			else
				__sync_fetch_and_add(&s->net_in, ret);
		}
		break;
	}
	case CLS_LOGPIPE:
	case CLS_STDIO:
		emit_log(tgid, p, cur.buf, ret, cur.cls);
		break;
	case CLS_PTY:
	case CLS_PIPE:
		emit_data(tgid, p, &cur, ret, is_write);
		break;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int on_read_enter(struct trace_event_raw_sys_enter *ctx) { return active() ? io_enter(ctx, 0) : 0; }

SEC("tracepoint/syscalls/sys_exit_read")
int on_read_exit(struct trace_event_raw_sys_exit *ctx) { return active() ? io_exit(ctx, 0) : 0; }

SEC("tracepoint/syscalls/sys_enter_write")
int on_write_enter(struct trace_event_raw_sys_enter *ctx) { return active() ? io_enter(ctx, 1) : 0; }

SEC("tracepoint/syscalls/sys_exit_write")
int on_write_exit(struct trace_event_raw_sys_exit *ctx) { return active() ? io_exit(ctx, 1) : 0; }

/* glibc's syslog() sends on an AF_UNIX datagram socket with send() == sendto(). */
SEC("tracepoint/syscalls/sys_enter_sendto")
int on_sendto_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!active())
		return 0;
	__u32 tgid;
	struct proc *p = current_proc(&tgid);
	if (!p || p->kind != KIND_SSHD)
		return 0;
	__s32 pts;
	__u32 fd = ctx->args[0];
	if (classify_fd(fd, &pts) != CLS_UNIX)
		return 0;
	__s64 len = ctx->args[2];
	if (len > 0)
		emit_log(tgid, p, ctx->args[1], len, CLS_UNIX);
	return 0;
}

/* ------------------------------------------------- monitor pipes (logging) */

static __always_inline int pipe_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid;
	struct proc *p = current_proc(&tgid);
	if (!p || p->kind != KIND_SSHD || p->conn != tgid)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 fds = ctx->args[0];
	bpf_map_update_elem(&pending_pipes, &id, &fds, BPF_ANY);
	return 0;
}

static __always_inline int pipe_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *fdsp = bpf_map_lookup_elem(&pending_pipes, &id);
	if (!fdsp)
		return 0;
	__u64 ufds = *fdsp;
	bpf_map_delete_elem(&pending_pipes, &id);
	if (ctx->ret != 0)
		return 0;
	int fds[2] = {};
	if (bpf_probe_read_user(&fds, sizeof(fds), (void *)ufds) != 0)
		return 0;
	struct file *f = fd_file(fds[0]);
	if (!f)
		return 0;
	/* pipefs inode numbers come from a counter: never reused in practice,
	 * unlike inode addresses. */
	__u64 key = BPF_CORE_READ(f, f_inode, i_ino);
	__u8 one = 1;
	bpf_map_update_elem(&monitor_pipes, &key, &one, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_pipe2")
int on_pipe2_enter(struct trace_event_raw_sys_enter *ctx) { return active() ? pipe_enter(ctx) : 0; }

SEC("tracepoint/syscalls/sys_exit_pipe2")
int on_pipe2_exit(struct trace_event_raw_sys_exit *ctx) { return active() ? pipe_exit(ctx) : 0; }

SEC("tracepoint/syscalls/sys_enter_pipe")
int on_pipe_enter(struct trace_event_raw_sys_enter *ctx) { return active() ? pipe_enter(ctx) : 0; }

SEC("tracepoint/syscalls/sys_exit_pipe")
int on_pipe_exit(struct trace_event_raw_sys_exit *ctx) { return active() ? pipe_exit(ctx) : 0; }

/* ------------------------------------------------------------------ resize */

SEC("tracepoint/syscalls/sys_enter_ioctl")
int on_ioctl_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!active())
		return 0;
	if (ctx->args[1] != TIOCSWINSZ)
		return 0;
	__u32 tgid;
	struct proc *p = current_proc(&tgid);
	if (!p || p->kind != KIND_SSHD)
		return 0;
	__u32 fd = ctx->args[0];
	__s32 pts;
	if (classify_fd(fd, &pts) != CLS_PTY)
		return 0;
	struct { __u16 rows, cols, x, y; } ws = {};
	if (bpf_probe_read_user(&ws, sizeof(ws), (void *)ctx->args[2]) != 0)
		return 0;
	struct ev_resize *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(p->conn, 0);
		return 0;
	}
	fill_hdr(&e->h, EV_RESIZE, tgid, p->conn, current_ppid());
	e->fd = fd;
	e->pts = pts;
	e->cols = ws.cols;
	e->rows = ws.rows;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ----------------------------------------------------------- file uploads */

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!active())
		return 0;
	__u32 tgid;
	struct proc *p = current_proc(&tgid);
	if (!p || p->kind != KIND_UPLOADER)
		return 0;
	__u32 flags = ctx->args[2];
	if (!(flags & (O_WRONLY | O_RDWR)))
		return 0;
	struct pending_open po = { .filename = ctx->args[1], .flags = flags };
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending_opens, &id, &po, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (!active())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_open *po = bpf_map_lookup_elem(&pending_opens, &id);
	if (!po)
		return 0;
	struct pending_open cur = *po;
	bpf_map_delete_elem(&pending_opens, &id);
	if (ctx->ret < 0)
		return 0;
	__u32 tgid = id >> 32;
	struct proc *p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	struct ev_file *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(p->conn, 0);
		return 0;
	}
	fill_hdr(&e->h, EV_FILE_OPEN, tgid, p->conn, current_ppid());
	e->fd = ctx->ret;
	e->flags = cur.flags;
	e->size = FILE_SIZE_UNKNOWN;
	bpf_probe_read_user_str(&e->path, sizeof(e->path), (void *)cur.filename);
	struct file_key k = { .pid = tgid, .fd = e->fd };
	__u8 one = 1;
	bpf_map_update_elem(&upload_files, &k, &one, BPF_ANY);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int on_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!active())
		return 0;
	__u32 tgid;
	struct proc *p = current_proc(&tgid);
	if (!p || p->kind != KIND_UPLOADER)
		return 0;
	struct file_key k = { .pid = tgid, .fd = ctx->args[0] };
	if (!bpf_map_lookup_elem(&upload_files, &k))
		return 0;
	bpf_map_delete_elem(&upload_files, &k);
	struct ev_file *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(p->conn, 0);
		return 0;
	}
	fill_hdr(&e->h, EV_FILE_CLOSE, tgid, p->conn, current_ppid());
	e->fd = k.fd;
	e->flags = 0;
	e->path[0] = 0;
	/* The size now: by the time sshlogd reads the record, the file may have
	 * been written again or removed. */
	e->size = FILE_SIZE_UNKNOWN;
	struct file *f = fd_file(k.fd);
	struct inode *ino = f ? BPF_CORE_READ(f, f_inode) : 0;
	if (ino) {
		umode_t mode = BPF_CORE_READ(ino, i_mode);
		e->size = (mode & S_IFMT) == S_IFREG ? BPF_CORE_READ(ino, i_size) : FILE_NOT_REGULAR;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ------------------------------------------------------- outbound SSH */

#define EINPROGRESS 115

static __always_inline int comm_is(const char *c, const char *want, int n)
{
	for (int i = 0; i < n; i++)
		if (c[i] != want[i])
			return 0;
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int on_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!active())
		return 0;
	char comm[TASK_COMM_LEN] = {};
	bpf_get_current_comm(&comm, sizeof(comm));
	if (comm_is_sshd(comm))
		return 0;
	void *uaddr = (void *)ctx->args[1];
	__u16 family = 0;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr) != 0)
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 port_be = 0;
	bpf_probe_read_user(&port_be, sizeof(port_be), uaddr + 2);
	__u16 port = __builtin_bswap16(port_be);
	int is_ssh = comm_is(comm, "ssh", 4);
	if (!is_ssh && !bpf_map_lookup_elem(&watch_ports, &port))
		return 0;
	struct pending_connect pc = { .fd = ctx->args[0], .family = family, .dport = port };
	if (family == AF_INET)
		bpf_probe_read_user(&pc.daddr, 4, uaddr + 4);
	else
		bpf_probe_read_user(&pc.daddr, 16, uaddr + 8);
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending_connects, &id, &pc, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int on_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (!active())
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_connect *pcp = bpf_map_lookup_elem(&pending_connects, &id);
	if (!pcp)
		return 0;
	struct pending_connect pc = *pcp;
	bpf_map_delete_elem(&pending_connects, &id);
	__u32 tgid = id >> 32;
	struct proc *p = bpf_map_lookup_elem(&procs, &tgid);
	__u32 conn = p ? p->conn : 0;

	struct ev_out_connect *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(conn, 0);
		return 0;
	}
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	fill_hdr(&e->h, EV_OUT_CONNECT, tgid, conn, BPF_CORE_READ(task, real_parent, tgid));
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ctx->ret;
	e->fd = pc.fd;
	e->family = pc.family;
	e->dport = pc.dport;
	__builtin_memcpy(e->daddr, pc.daddr, 16);
	e->sk = 0;
	struct file *f = fd_file(pc.fd);
	if (f) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		e->sk = (__u64)BPF_CORE_READ(sock, sk);
	}
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	struct task_struct *t = task;
	for (int i = 0; i < ANCESTORS; i++) {
		t = BPF_CORE_READ(t, real_parent);
		__u32 pid = t ? BPF_CORE_READ(t, tgid) : 0;
		e->anc_pid[i] = pid;
		__builtin_memset(e->anc_comm[i], 0, TASK_COMM_LEN);
		if (pid == 0)
			continue;
		BPF_CORE_READ_STR_INTO(&e->anc_comm[i], t, comm);
	}
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > OUT_ARGV_MAX)
		len = OUT_ARGV_MAX;
	e->argv_len = 0;
	e->_pad = 0;
	if (len > 0 &&
	    bpf_probe_read_user(&e->argv, len & (OUT_ARGV_MAX - 1) ? len & (OUT_ARGV_MAX - 1) : OUT_ARGV_MAX,
				(void *)start) == 0)
		e->argv_len = len;
	if (e->sk && (ctx->ret == 0 || ctx->ret == -EINPROGRESS)) {
		__u64 sk = e->sk;
		bpf_map_update_elem(&out_socks, &sk, &tgid, BPF_ANY);
	}
	__u8 one = 1;
	bpf_map_update_elem(&out_procs, &tgid, &one, BPF_ANY);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int on_sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (!active())
		return 0;
	if (ctx->newstate != 1 && ctx->newstate != 7)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	__u32 *pidp = bpf_map_lookup_elem(&out_socks, &sk);
	if (!pidp)
		return 0;
	__u32 pid = *pidp;
	if (ctx->newstate == 7)
		bpf_map_delete_elem(&out_socks, &sk);
	struct ev_out_state *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	fill_hdr(&e->h, EV_OUT_STATE, pid, 0, 0);
	e->sk = sk;
	e->oldstate = ctx->oldstate;
	e->newstate = ctx->newstate;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
