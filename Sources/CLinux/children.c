#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "pyrpc_children.h"

// Slots a signal handler reads: lock-free atomics only (async-signal-safe).
static _Atomic pid_t children[PYRPC_CHILDREN];

static const int caught[] = {SIGINT, SIGTERM, SIGHUP, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV};
#define CAUGHT (sizeof caught / sizeof caught[0])
static struct sigaction before[CAUGHT];

int pyrpc_children_add(pid_t pid) {
    for (int slot = 0; slot < PYRPC_CHILDREN; slot++) {
        pid_t empty = 0;
        if (atomic_compare_exchange_strong(&children[slot], &empty, pid)) return 1;
    }
    return 0;
}

void pyrpc_children_remove(pid_t pid) {
    for (int slot = 0; slot < PYRPC_CHILDREN; slot++) {
        pid_t expected = pid;
        if (atomic_compare_exchange_strong(&children[slot], &expected, 0)) return;
    }
}

static void kill_children_then_go_on(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    for (int slot = 0; slot < PYRPC_CHILDREN; slot++) {
        pid_t pid = atomic_exchange(&children[slot], 0);
        if (pid > 0) kill(pid, SIGKILL);
    }
    for (unsigned index = 0; index < CAUGHT; index++) {
        if (caught[index] != signal_number) continue;
        // A fault (si_code > 0: the kernel's, for the instruction that failed) comes back as
        // soon as this returns, to the handler put back: Swift's backtracer reports it, puts
        // the default action back and returns, and the fault ends the process.
        if (info->si_code > 0) {
            sigaction(signal_number, &before[index], NULL);
            return;
        }
        // Sent by this process (abort, raise): to the handler put back, as a fault. Sent by
        // another (kill): end as the signal does by default; the backtracer would report a
        // crash that did not happen and let this process run on. Blocked while this runs,
        // the signal arrives again as soon as this returns.
        if (info->si_pid == getpid()) {
            sigaction(signal_number, &before[index], NULL);
        } else {
            signal(signal_number, SIG_DFL);
        }
        raise(signal_number);
        return;
    }
}

void pyrpc_children_die_with_this_process(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = kill_children_then_go_on;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    for (unsigned index = 0; index < CAUGHT; index++) {
        sigaction(caught[index], NULL, &before[index]);
        int asynchronous = caught[index] == SIGINT || caught[index] == SIGTERM || caught[index] == SIGHUP;
        if (asynchronous && before[index].sa_handler == SIG_IGN) continue;
        sigaction(caught[index], &action, NULL);
    }
}
