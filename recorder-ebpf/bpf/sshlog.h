/* Shared between the eBPF programs (sshlog.bpf.c) and user space:
 * recorder-ebpf/src/layout.rs mirrors every struct and enum here with
 * #[repr(C)], and recorder-ebpf/tests/layout.rs compiles this header to check
 * every offset, size and value against it.
 * Every record in the ring buffer starts with struct ev_hdr. */
#ifndef SSHLOG_H
#define SSHLOG_H

#define TASK_COMM_LEN 16
#define DATA_CHUNK 16384      /* bytes of terminal data per ring-buffer record */
#define DATA_MAX_CHUNKS 64    /* a single read larger than 1 MiB is counted as dropped */
#define ARGV_MAX 4096         /* bytes of argv kept per exec (NUL separated) */
#define FILENAME_MAX_LEN 256
#define CWD_DEPTH 32          /* path components of the cwd walked in the kernel */
#define CWD_NAME 64           /* bytes kept per component */
#define LOG_MAX 1024          /* bytes of one sshd log message */
#define PATH_MAX_LEN 256

enum ev_type {
	EV_CONN_NEW = 1,  /* listener forked a per-connection sshd */
	EV_EXEC = 2,
	EV_EXIT = 3,
	EV_DATA = 4,      /* bytes through a pty master / session pipe */
	EV_RESIZE = 5,
	EV_LOG = 6,       /* a message sshd logged (syslog, stderr, or its monitor socket) */
	EV_FILE_OPEN = 7, /* scp/sftp-server opened a file for writing */
	EV_FILE_CLOSE = 8,
	EV_FORK = 9,
	EV_OUT_CONNECT = 10, /* a process connected to an SSH port (outbound) */
	EV_OUT_STATE = 11,   /* that TCP connection was established or closed */
	EV_CONN_ADDR = 12,   /* the addresses of a connection's TCP socket (first I/O) */
};

enum proc_kind {
	KIND_SSHD = 1,     /* sshd / sshd-session / sshd-auth of a connection */
	KIND_SESSION = 2,  /* a program started inside a session */
	KIND_UPLOADER = 3, /* scp -t or sftp-server inside a session */
};

enum fd_class {
	CLS_OTHER = 0,
	CLS_PTY = 1,   /* /dev/ptmx master */
	CLS_PIPE = 2,  /* pipe (sessions without a pty) */
	CLS_INET = 3,  /* the network connection */
	CLS_UNIX = 4,  /* AF_UNIX: syslog, monitor socketpair */
	CLS_STDIO = 5, /* fd 0-2 that is not a pty (sshd -e) */
	CLS_LOGPIPE = 6, /* a pipe the connection's monitor made: children's log messages */
};

struct ev_hdr {
	__u32 type;
	__u32 pid;  /* tgid */
	__u32 conn; /* pid of the per-connection sshd that roots this process */
	__u32 ppid;
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
};

struct ev_data {
	struct ev_hdr h;
	__u32 fd;
	__u8 dir;  /* 0: sshd read it (output towards the client), 1: sshd wrote it (input) */
	__u8 cls;  /* enum fd_class */
	__u16 chunk;
	__s32 pts; /* pts number for a pty master, -1 otherwise */
	__u32 len;
	/* CLOCK_MONOTONIC when sshd's read/write began; h.ts_ns is when it
	 * returned, and the record's place in the ring follows h.ts_ns. */
	__u64 start_ns;
	__u8 data[DATA_CHUNK];
};

struct ev_resize {
	struct ev_hdr h;
	__u32 fd;
	__s32 pts;
	__u16 cols;
	__u16 rows;
	__u32 uid; /* of the sshd process that set the size (the session's user) */
};

/* An exec. Only the bytes in use go into the ring buffer: the payload holds
 * argv (argv_len bytes, NUL separated) followed by the cwd components (leaf
 * first, each NUL terminated, cwd_len bytes in all). A typical record is
 * ~0.4 KiB, so a burst of short commands does not fill the ring. */
#define CWD_BYTES 2048        /* bytes of packed cwd components */
#define EXEC_PAYLOAD_MASK 8191
#define EXEC_PAYLOAD (EXEC_PAYLOAD_MASK + 1 + CWD_NAME)
struct ev_exec {
	struct ev_hdr h;
	__u32 uid;
	__u32 gid;
	__u32 argv_len;
	__u16 cwd_depth;  /* components in the payload after argv */
	__u16 cwd_flags;  /* bit 0: path deeper than CWD_DEPTH or CWD_BYTES */
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_MAX_LEN];
	__u32 cwd_len;
	__u32 leader; /* 1: a session leader (setsid), as sshd makes the user's program */
	char payload[EXEC_PAYLOAD];
};

struct ev_exit {
	struct ev_hdr h;
	__s32 exit_code; /* wait(2) status: code << 8 | signal */
	__u32 _pad;
};

struct ev_log {
	struct ev_hdr h;
	__u32 len;
	__u32 cls;
	char text[LOG_MAX];
};

struct ev_file {
	struct ev_hdr h;
	__s32 fd;
	__u32 flags;
	/* EV_FILE_CLOSE: the file's size as it is closed; FILE_NOT_REGULAR for
	 * anything but a regular file, FILE_SIZE_UNKNOWN when it could not be
	 * read (and in EV_FILE_OPEN). */
	__s64 size;
	char path[PATH_MAX_LEN];
};
#define FILE_NOT_REGULAR (-1)
#define FILE_SIZE_UNKNOWN (-2)

#define ANCESTORS 8
#define OUT_ARGV_MAX 1024

struct ev_out_connect {
	struct ev_hdr h;
	__u32 uid;
	__s32 ret;   /* connect(2) result: 0, -EINPROGRESS, -ECONNREFUSED, ... */
	__s32 fd;
	__u16 family;
	__u16 dport; /* host byte order */
	__u8 daddr[16];
	__u64 sk;    /* struct sock address: matches ev_out_state */
	char comm[TASK_COMM_LEN];
	__u32 anc_pid[ANCESTORS];          /* parent, grandparent, ... (0 = none) */
	char anc_comm[ANCESTORS][TASK_COMM_LEN];
	__u32 argv_len;
	__u32 _pad;
	char argv[OUT_ARGV_MAX];
};

struct ev_out_state {
	struct ev_hdr h;
	__u64 sk;
	__s32 oldstate;
	__s32 newstate; /* TCP_ESTABLISHED = 1, TCP_CLOSE = 7 */
};

/* A tracked process (map procs): the connection it belongs to and its kind. */
struct proc {
	__u32 conn;
	__u8 kind; /* enum proc_kind */
	__u8 _pad[3];
};

/* The connection's TCP endpoints, as the kernel's socket has them: user space
 * no longer depends on reading /proc before a short connection is gone. */
struct ev_conn_addr {
	struct ev_hdr h;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 lport;  /* host byte order */
	__u16 rport;  /* host byte order */
	__u16 _pad;
	__u8 laddr[16]; /* network byte order; 4 bytes used for AF_INET */
	__u8 raddr[16];
};

/* Per connection counters, read by user space (map conn_stats). */
struct conn_stats {
	__u64 net_in;
	__u64 net_out;
	__u64 captured_bytes;
	__u64 dropped_bytes;  /* terminal output only */
	__u64 dropped_events; /* every lost record, output or not */
};

/* The ABI the programs were written against (checked again from Rust). */
_Static_assert(sizeof(struct ev_hdr) == 24, "ev_hdr");
_Static_assert(sizeof(struct conn_stats) == 40, "conn_stats");

#endif
