#ifndef PYRPC_CLINUX_H
#define PYRPC_CLINUX_H
// Linux calls Swift's Glibc module does not export: epoll, eventfd, accept4, thread names.
// No _GNU_SOURCE here: it changes glibc's struct definitions and this module would then
// disagree with Glibc's (fd_set errors); the two GNU functions are declared by hand.
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "pyrpc_children.h"
#include "pyrpc_metrics.h"
#include "pyrpc_numbers.h"
#include "pyrpc_scan.h"

extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);

// Names the calling thread as `top` and `perf` show it: its first 15 bytes (the kernel's
// limit; a longer name would be refused whole).
static inline void pyrpc_name_thread(const char *name) {
    char kept[16];
    strncpy(kept, name, 15);
    kept[15] = 0;
    pthread_setname_np(pthread_self(), kept);
}

// MARK: Process hygiene against what scripts do to the process (see ProcessGuard.swift).

// Threads started from Swift concurrency inherit libdispatch's mask, which blocks SIGTERM,
// SIGINT, SIGCHLD and most others; processes a script starts inherit the mask of the thread
// that starts them, even across exec, and then ignore `Popen.terminate()`. Every thread that
// runs Python calls this first.
static inline void pyrpc_unblock_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}

// The server's own descriptors (listeners, connections, epoll sets, eventfds), so that a
// process forked by a script can close them all: it must never touch the server's sockets.
void pyrpc_fd_mark(int fd);
void pyrpc_fd_unmark(int fd);

// Moves a descriptor that landed on 0, 1 or 2 (a script closed stdout, say) above 2 and puts
// /dev/null back in its place, so no socket of the server ever sits where something may
// write "standard output". Returns the descriptor to use.
int pyrpc_fd_above_stdio(int fd);

// Records the server's pid and a pipe to report forked children that must be reaped;
// installs nothing else. Call once at start.
void pyrpc_process_started(int reaper_write_fd);

// In a child forked by a script: close every marked descriptor and die with the parent.
void pyrpc_after_fork_in_child(void);

// Whether this process is a child forked by a script (it must not go on serving).
int pyrpc_is_forked_child(void);

// Ends a forked child that returned into the server's code: reports its pid for reaping
// and exits without running any of the parent's exit handlers.
void pyrpc_end_forked_child(void) __attribute__((noreturn));

// Gives free heap memory back to the system (glibc's malloc_trim).
void pyrpc_malloc_trim(void);

// Raises the soft descriptor limit to the hard one; returns the limit in force.
long pyrpc_raise_descriptor_limit(void);

// MARK: The scoreboard: what each thread of a worker process is running, in memory shared
// with its supervisor, which reads it after the worker died to say what killed it (an
// `os._exit`, the kernel's OOM kill: nothing in the worker could log it). One slot per
// thread that runs Python; entering and leaving a call is a clock read and a copy.

#define PYRPC_SCOREBOARD_SLOTS 64
#define PYRPC_SCOREBOARD_LABEL 112

struct pyrpc_scoreboard_slot {
    uint64_t active;      // 1 while the label's call runs
    int64_t started_ns;   // CLOCK_MONOTONIC, the same clock in every process
    char label[PYRPC_SCOREBOARD_LABEL];  // NUL-terminated
};

// Maps the scoreboard the supervisor passed (a memfd of PYRPC_SCOREBOARD_SLOTS slots) and
// closes the descriptor; 0 when mapped, -1 otherwise (then enter and leave do nothing).
int pyrpc_scoreboard_attach(int fd);

// The calling thread starts running `label` (`length` bytes, cut to fit).
void pyrpc_scoreboard_enter(const char *label, long length);

// The calling thread's call ended.
void pyrpc_scoreboard_leave(void);

// A new scoreboard for a worker (a memfd, close-on-exec); -1 on failure.
int pyrpc_scoreboard_create(void);

// MARK: The stats board: each overload's counters and recent latencies in a worker process,
// kept in memory shared with its supervisor, which reads them after the worker died: a worker
// killed (SIGKILL, the OOM killer, a crash) loses none of what it counted. Recording is the
// caller's to serialize (one lock per overload); the supervisor reads only a dead worker's.

#define PYRPC_STATS_SLOTS 256
#define PYRPC_STATS_KEY 480
#define PYRPC_STATS_WINDOW 4096

struct pyrpc_stats_slot {
    uint64_t in_use;
    // service, rpc, signature and script hash, each NUL-terminated, one after the other
    char key[PYRPC_STATS_KEY];
    int64_t calls;
    int64_t errors;
    int64_t timeouts;
    // Latencies recorded so far (the ring holds the last PYRPC_STATS_WINDOW), and where the next goes.
    int64_t recorded;
    int64_t next;
    double latencies[PYRPC_STATS_WINDOW];  // seconds
};

// A new board for a worker (a memfd, close-on-exec); -1 on failure.
int pyrpc_stats_board_create(void);
// Maps the board the supervisor passed and closes the descriptor; 0 when mapped.
int pyrpc_stats_board_attach(int fd);
// A free slot for an overload, its key copied in (`length` bytes, NULs included) and its
// counters zero; NULL without a board or when all are taken.
struct pyrpc_stats_slot *pyrpc_stats_board_claim(const char *key, long length);
void pyrpc_stats_board_release(struct pyrpc_stats_slot *slot);
// outcome: 0 ok, 1 error, 2 timeout.
void pyrpc_stats_record(struct pyrpc_stats_slot *slot, int outcome, double seconds);

// MARK: Passing a descriptor between processes (a worker hands a client connection over).

// Sends `length` bytes of `bytes` on the Unix socket with `fd` attached (SCM_RIGHTS); the
// bytes sent (at least the first one carries the descriptor), or -1 with errno.
ssize_t pyrpc_send_with_fd(int socket, const void *bytes, size_t length, int fd);

// Receives up to `length` bytes, and the descriptors attached to them (close-on-exec) into
// `fds` (up to `max_fds`, `*fd_count` set); the bytes received, 0 at the end, or -1 with errno.
ssize_t pyrpc_receive_with_fds(int socket, void *bytes, size_t length, int *fds, int max_fds, int *fd_count);

// MARK: Crash rescue, in a worker process: a call that crashes (SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, SIGABRT, or `os._exit`) does not take its clients' connections down with it. Its
// thread stops in the signal handler and wakes the rescue (a thread reading the eventfd),
// which answers the crashed call, hands every connection over and says `pyrpc_crash_rescued`;
// the process then dies of the signal (or exits with the status) as it would have. Only a
// thread running a call (its scoreboard slot active) is rescued, only once a rescuer
// listens, never in a forked child; the crashed thread waits at most 10 s.

struct pyrpc_crash {
    int signal_number;   // 0 for os._exit
    int exit_status;     // os._exit's status, or -1
    unsigned long thread;  // pthread_self() of the crashed thread (Python's thread ident)
};

// Installs the handlers (only with a scoreboard attached); returns the eventfd to read, or -1.
int pyrpc_crash_rescue_install(void);
void pyrpc_crash_rescuer_listening(void);
struct pyrpc_crash pyrpc_crash_info(void);
void pyrpc_crash_rescued(void);
// Whether a call crashed (the rescue runs): nothing may wait for the GIL any more.
int pyrpc_crash_underway(void);
// `os._exit(status)`: rescued like a crash when a call runs it; exits in any case.
void pyrpc_crash_exit(int status) __attribute__((noreturn));

// strtod in the "C" locale whatever the process locale is (scripts may call setlocale).
double pyrpc_strtod_c(const char *text, char **end);
#endif
