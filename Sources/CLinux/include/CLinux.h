#ifndef PYRPC_CLINUX_H
#define PYRPC_CLINUX_H
// Linux calls Swift's Glibc module does not export: epoll, eventfd, accept4, thread names.
// No _GNU_SOURCE here: it changes glibc's struct definitions and this module would then
// disagree with Glibc's (fd_set errors); the two GNU functions are declared by hand.
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

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
#endif
