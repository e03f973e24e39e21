// Most of the target's code is inline in include/CLinux.h; what keeps state lives here.
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "CLinux.h"  // after _GNU_SOURCE: here that only makes its two declarations redundant

// One bit per descriptor, up to 2^20 descriptors (128 KiB): set and cleared with atomics,
// read only in a forked child, where no other thread is left to change it.
#define PYRPC_FD_WORDS (1 << 14)
static _Atomic uint64_t marked[PYRPC_FD_WORDS];

void pyrpc_fd_mark(int fd) {
    if (fd >= 0 && fd < PYRPC_FD_WORDS * 64) atomic_fetch_or(&marked[fd / 64], UINT64_C(1) << (fd % 64));
}

void pyrpc_fd_unmark(int fd) {
    if (fd >= 0 && fd < PYRPC_FD_WORDS * 64) atomic_fetch_and(&marked[fd / 64], ~(UINT64_C(1) << (fd % 64)));
}

int pyrpc_fd_above_stdio(int fd) {
    if (fd < 0 || fd > 2) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return fd;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0 && null != fd) {
        dup2(null, fd);  // atomically replaces the socket there with /dev/null
        close(null);
    } else if (null < 0) {
        close(fd);
    }
    return moved;
}

static pid_t server_pid;
static int reaper_fd = -1;
// Set in a child of fork() (the atfork child handler): asked after every call, where a
// getpid() system call each time cost more than the answer's bookkeeping. Children made by
// posix_spawn or vfork run no handler, and never come back into the server's code.
static volatile sig_atomic_t forked_child;

// A forked child starts with the signal state of a fresh process. The server catches SIGINT
// and SIGTERM, and threads Swift starts inherit libdispatch's mask, which blocks them; a child
// that kept either ignores the SIGTERM with which `Process.terminate()` and
// `multiprocessing.Pool` stop it. Every signal stays blocked across fork() until the child has
// put the defaults back, so a SIGTERM sent at once (Pool's terminate) is held, not handled by
// the server's handler in the child and lost.
static _Thread_local sigset_t mask_before_fork;

static void block_signals_for_fork(void) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &mask_before_fork);
}

static void restore_signals_in_parent(void) {
    pthread_sigmask(SIG_SETMASK, &mask_before_fork, NULL);
}

static void reset_signals_in_child(void) {
    forked_child = 1;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    pyrpc_unblock_signals();
}

void pyrpc_process_started(int reaper_write_fd) {
    server_pid = getpid();
    forked_child = 0;
    reaper_fd = reaper_write_fd;
    pthread_atfork(block_signals_for_fork, restore_signals_in_parent, reset_signals_in_child);
}

void pyrpc_after_fork_in_child(void) {
    for (int word = 0; word < PYRPC_FD_WORDS; word++) {
        uint64_t bits = atomic_load(&marked[word]);
        while (bits) {
            int bit = __builtin_ctzll(bits);
            bits &= bits - 1;
            close(word * 64 + bit);
        }
        atomic_store(&marked[word], 0);
    }
    // A child the script forgets dies with the server instead of outliving it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != server_pid) _exit(0);  // the server is already gone
}

int pyrpc_is_forked_child(void) {
    return forked_child;
}

void pyrpc_end_forked_child(void) {
    pid_t self = getpid();
    if (reaper_fd >= 0) {
        ssize_t written = write(reaper_fd, &self, sizeof self);
        (void)written;
    }
    _exit(0);
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

double pyrpc_strtod_c(const char *text, char **end) {
    pthread_once(&c_locale_once, make_c_locale);
    return strtod_l(text, end, c_locale);
}

#include <malloc.h>
void pyrpc_malloc_trim(void) { malloc_trim(0); }

long pyrpc_raise_descriptor_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur == RLIM_INFINITY ? -1 : (long)limit.rlim_cur;
}

// MARK: The scoreboard (see CLinux.h).

static struct pyrpc_scoreboard_slot *scoreboard;
static _Atomic int scoreboard_next_slot;
// The calling thread's slot, taken on its first call; threads beyond the slots share them
// (a pool has far fewer threads than that).
static __thread int scoreboard_slot = -1;

// A memfd of `size` bytes (zeros, sparse), close-on-exec; -1 on failure.
static int shared_memory(const char *name, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int pyrpc_scoreboard_create(void) {
    return shared_memory("pyrpc-scoreboard", sizeof(struct pyrpc_scoreboard_slot) * PYRPC_SCOREBOARD_SLOTS);
}

int pyrpc_scoreboard_attach(int fd) {
    void *mapped = mmap(NULL, sizeof(struct pyrpc_scoreboard_slot) * PYRPC_SCOREBOARD_SLOTS,
                        PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mapped == MAP_FAILED) return -1;
    scoreboard = mapped;
    return 0;
}

static void crash_give_thread_a_signal_stack(void);

void pyrpc_scoreboard_enter(const char *label, long length) {
    if (!scoreboard) return;
    if (scoreboard_slot < 0) {
        scoreboard_slot = atomic_fetch_add_explicit(&scoreboard_next_slot, 1, memory_order_relaxed) % PYRPC_SCOREBOARD_SLOTS;
        crash_give_thread_a_signal_stack();
    }
    struct pyrpc_scoreboard_slot *slot = &scoreboard[scoreboard_slot];
    size_t kept = length < PYRPC_SCOREBOARD_LABEL - 1 ? (size_t)length : PYRPC_SCOREBOARD_LABEL - 1;
    memcpy(slot->label, label, kept);
    slot->label[kept] = 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    slot->started_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    // Read only after this process died: plain stores are enough.
    slot->active = 1;
}

void pyrpc_scoreboard_leave(void) {
    if (scoreboard && scoreboard_slot >= 0) scoreboard[scoreboard_slot].active = 0;
}

// MARK: Passing descriptors (see CLinux.h).

ssize_t pyrpc_send_with_fd(int socket, const void *bytes, size_t length, int fd) {
    struct iovec part = {.iov_base = (void *)bytes, .iov_len = length};
    union {
        char space[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof(int));
    ssize_t sent;
    do {
        sent = sendmsg(socket, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

ssize_t pyrpc_receive_with_fds(int socket, void *bytes, size_t length, int *fds, int max_fds, int *fd_count) {
    struct iovec part = {.iov_base = bytes, .iov_len = length};
    union {
        char space[CMSG_SPACE(sizeof(int) * 16)];
        struct cmsghdr align;
    } control;
    struct msghdr message = {.msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
    *fd_count = 0;
    ssize_t received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (received < 0) return received;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int index = 0; index < count; index++) {
            int fd;
            memcpy(&fd, CMSG_DATA(header) + index * sizeof(int), sizeof(int));
            if (*fd_count < max_fds) {
                fds[(*fd_count)++] = fd;
            } else {
                close(fd);  // more than a message carries: only a different pyrpc version sends that
            }
        }
    }
    return received;
}

// MARK: Crash rescue (see CLinux.h).

// 0: nothing happened; 1: a call crashed, the rescue runs; 2: rescued, the process may die.
static _Atomic int crash_state;
static volatile int crash_signal_number;
static volatile int crash_exit_status = -1;
static volatile unsigned long crash_thread;
static int crash_eventfd = -1;
static _Atomic int crash_rescuer_listening;
// How long a crashed thread waits for the rescue before the process dies anyway.
#define PYRPC_CRASH_PATIENCE_SECONDS 10

static int crash_in_call(void) {
    return scoreboard && scoreboard_slot >= 0 && scoreboard[scoreboard_slot].active
        && atomic_load(&crash_rescuer_listening) && !pyrpc_is_forked_child();
}

// Waits (async-signal-safe calls only) until the rescue is over, or the patience ran out.
static void crash_wait_for_rescue(void) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&crash_state) != 2) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= PYRPC_CRASH_PATIENCE_SECONDS) return;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
        nanosleep(&pause, NULL);
    }
}

// Records the crash and wakes the rescue; false if another thread's crash came first.
static int crash_report(int signal_number, int exit_status) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&crash_state, &expected, 1)) return 0;
    crash_signal_number = signal_number;
    crash_exit_status = exit_status;
    crash_thread = (unsigned long)pthread_self();
    uint64_t one = 1;
    ssize_t ignored = write(crash_eventfd, &one, sizeof one);
    (void)ignored;
    return 1;
}

// The signal's default action, now: the process dies of it (its status says which).
static void crash_die(int signal_number) {
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signal_number, &fallback, NULL);
    sigset_t unblocked;
    sigemptyset(&unblocked);
    sigaddset(&unblocked, signal_number);
    pthread_sigmask(SIG_UNBLOCK, &unblocked, NULL);
    raise(signal_number);
    // A fault that returns here runs its instruction again and dies of the default action.
}

static void crash_handler(int signal_number, siginfo_t *info, void *context) {
    (void)info;
    (void)context;
    if (crash_in_call()) {
        // The crashed thread stays here (holding the GIL, if it did) while the rescue answers
        // and hands over; a second crash during the rescue waits for it too.
        crash_report(signal_number, -1);
        crash_wait_for_rescue();
    }
    crash_die(signal_number);
}

int pyrpc_crash_rescue_install(void) {
    if (!scoreboard || crash_eventfd >= 0) return crash_eventfd;
    crash_eventfd = eventfd(0, EFD_CLOEXEC);
    if (crash_eventfd < 0) return -1;
    pyrpc_fd_mark(crash_eventfd);
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t index = 0; index < sizeof fatal / sizeof fatal[0]; index++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = crash_handler;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(fatal[index], &action, NULL);
    }
    return crash_eventfd;
}

void pyrpc_crash_rescuer_listening(void) {
    atomic_store(&crash_rescuer_listening, 1);
}

struct pyrpc_crash pyrpc_crash_info(void) {
    struct pyrpc_crash crash = {
        .signal_number = crash_signal_number, .exit_status = crash_exit_status, .thread = crash_thread};
    return crash;
}

int pyrpc_crash_underway(void) {
    return atomic_load(&crash_state) != 0;
}

void pyrpc_crash_rescued(void) {
    atomic_store(&crash_state, 2);
}

void pyrpc_crash_exit(int status) {
    if (crash_in_call() && crash_report(0, status)) crash_wait_for_rescue();
    _exit(status);
}

// Each thread that runs calls gets a stack for signal handlers of its own: a call that
// overflows its stack (deep recursion in C) is then rescued like any other crash.
static void crash_give_thread_a_signal_stack(void) {
    static const size_t size = 64 << 10;
    stack_t stack = {.ss_sp = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), .ss_size = size};
    if (stack.ss_sp != MAP_FAILED) sigaltstack(&stack, NULL);
}

// MARK: The stats board (see CLinux.h).

static struct pyrpc_stats_slot *stats_board;
static pthread_mutex_t stats_board_lock = PTHREAD_MUTEX_INITIALIZER;

int pyrpc_stats_board_create(void) {
    // Sparse: only the slots a worker uses take memory.
    // The metrics board follows (see pyrpc_metrics.h).
    return shared_memory("pyrpc-stats", (size_t)(pyrpc_metrics_offset() + pyrpc_metrics_size()));
}

int pyrpc_stats_board_attach(int fd) {
    void *mapped = mmap(NULL, sizeof(struct pyrpc_stats_slot) * PYRPC_STATS_SLOTS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int metrics = pyrpc_metrics_attach_shared(fd);
    close(fd);
    if (mapped == MAP_FAILED || metrics != 0) return -1;
    stats_board = mapped;
    return 0;
}

struct pyrpc_stats_slot *pyrpc_stats_board_claim(const char *key, long length) {
    if (!stats_board || length <= 0 || length > PYRPC_STATS_KEY) return NULL;
    struct pyrpc_stats_slot *found = NULL;
    pthread_mutex_lock(&stats_board_lock);
    for (int index = 0; index < PYRPC_STATS_SLOTS; index++) {
        struct pyrpc_stats_slot *slot = &stats_board[index];
        if (slot->in_use) continue;
        memset(slot->key, 0, sizeof slot->key);
        memcpy(slot->key, key, (size_t)length);
        slot->calls = slot->errors = slot->timeouts = slot->recorded = slot->next = 0;
        atomic_thread_fence(memory_order_release);
        slot->in_use = 1;
        found = slot;
        break;
    }
    pthread_mutex_unlock(&stats_board_lock);
    return found;
}

void pyrpc_stats_board_release(struct pyrpc_stats_slot *slot) {
    pthread_mutex_lock(&stats_board_lock);
    slot->in_use = 0;
    pthread_mutex_unlock(&stats_board_lock);
}

void pyrpc_stats_record(struct pyrpc_stats_slot *slot, int outcome, double seconds) {
    slot->calls += 1;
    if (outcome == 1) slot->errors += 1;
    if (outcome == 2) slot->timeouts += 1;
    slot->latencies[slot->next] = seconds;
    slot->next = (slot->next + 1) % PYRPC_STATS_WINDOW;
    slot->recorded += 1;
}
