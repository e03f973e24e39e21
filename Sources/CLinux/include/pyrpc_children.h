#ifndef PYRPC_CHILDREN_H
#define PYRPC_CHILDREN_H
// Child processes that must not outlive this one, even when it dies of a signal: a Ctrl-C,
// a `kill`, or a crash. Foundation's `Process` puts every child in a process group of its
// own, so a terminal's Ctrl-C reaches this process alone; without this, the servers a
// benchmark started would keep running (and keep a core busy) after it.
#include <sys/types.h>

// At most this many at once; `pyrpc_children_add` returns 0 when they are all taken.
#define PYRPC_CHILDREN 64

int pyrpc_children_add(pid_t pid);
void pyrpc_children_remove(pid_t pid);

// Once, at start. On SIGINT, SIGTERM and SIGHUP (unless this process ignores it, as a
// background job ignores SIGINT) and on a crash (SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE,
// SIGSEGV): SIGKILL every child added and not removed, then go on as before. A fault or an
// abort goes to the handler that was there (Swift's backtracer, which reports it); a signal
// another process sent ends this one as it does by default.
void pyrpc_children_die_with_this_process(void);

#endif
