#define _GNU_SOURCE 1
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "CLinux.h"
#include "pyrpc_metrics.h"

// This process's own board until a supervisor's is attached (`pyrpc_metrics_attach`). In BSS:
// pages no counter touched take no memory.
static struct pyrpc_metrics_board own_board;
struct pyrpc_metrics_board *pyrpc_metrics = &own_board;
static pthread_mutex_t claim_lock = PTHREAD_MUTEX_INITIALIZER;

const int64_t pyrpc_duration_bounds[PYRPC_DURATION_BUCKETS - 1] = {
    500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
    1000000000, 2500000000, 5000000000, 10000000000, 30000000000,
};

static long page_rounded(long bytes) {
    long page = sysconf(_SC_PAGESIZE);
    return (bytes + page - 1) / page * page;
}

long pyrpc_metrics_offset(void) {
    return page_rounded((long)(sizeof(struct pyrpc_stats_slot) * PYRPC_STATS_SLOTS));
}

long pyrpc_metrics_size(void) {
    return page_rounded((long)sizeof(struct pyrpc_metrics_board));
}

// The place of `key` among board's claimed rpcs, claimed if new; the caller serializes claims.
static struct pyrpc_rpc_counters *claim_in(struct pyrpc_metrics_board *board, const char *key, long length, long hint) {
    if (length <= 0 || length > PYRPC_METRICS_KEY) return NULL;
    int64_t claimed = pyrpc_metrics_load(&board->claimed);
    // Processes build their rpcs in the same order: the same place is the likely one.
    if (hint >= 0 && hint < claimed && memcmp(board->rpcs[hint].key, key, (size_t)length) == 0
        && (length == PYRPC_METRICS_KEY || board->rpcs[hint].key[length] == 0)) {
        return &board->rpcs[hint];
    }
    for (int64_t index = 0; index < claimed; index++) {
        struct pyrpc_rpc_counters *rpc = &board->rpcs[index];
        if (memcmp(rpc->key, key, (size_t)length) == 0 && (length == PYRPC_METRICS_KEY || rpc->key[length] == 0)) return rpc;
    }
    if (claimed >= PYRPC_METRICS_RPCS) return NULL;
    struct pyrpc_rpc_counters *rpc = &board->rpcs[claimed];
    memcpy(rpc->key, key, (size_t)length);
    // The key is written before a reader can see the place.
    __atomic_store_n(&board->claimed, claimed + 1, __ATOMIC_RELEASE);
    return rpc;
}

struct pyrpc_rpc_counters *pyrpc_metrics_claim(const char *key, long length) {
    pthread_mutex_lock(&claim_lock);
    struct pyrpc_rpc_counters *rpc = claim_in(pyrpc_metrics, key, length, -1);
    pthread_mutex_unlock(&claim_lock);
    return rpc;
}

int pyrpc_metrics_attach_shared(int fd) {
    void *mapped = mmap(NULL, (size_t)pyrpc_metrics_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, pyrpc_metrics_offset());
    if (mapped == MAP_FAILED) return -1;
    pyrpc_metrics = mapped;
    return 0;
}

const struct pyrpc_metrics_board *pyrpc_metrics_map(int fd) {
    void *mapped = mmap(NULL, (size_t)pyrpc_metrics_size(), PROT_READ, MAP_SHARED, fd, pyrpc_metrics_offset());
    return mapped == MAP_FAILED ? NULL : mapped;
}

void pyrpc_metrics_unmap(const struct pyrpc_metrics_board *board) {
    if (board) munmap((void *)board, (size_t)pyrpc_metrics_size());
}

struct pyrpc_metrics_board *pyrpc_metrics_new(void) {
    void *mapped = mmap(NULL, (size_t)pyrpc_metrics_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return mapped == MAP_FAILED ? NULL : mapped;
}

void pyrpc_metrics_free(struct pyrpc_metrics_board *board) {
    if (board) munmap(board, (size_t)pyrpc_metrics_size());
}

static void add_all(const int64_t *from, int64_t *to, int count) {
    for (int index = 0; index < count; index++) to[index] += pyrpc_metrics_load(&from[index]);
}

void pyrpc_metrics_sum(const struct pyrpc_metrics_board *board, struct pyrpc_metrics_board *sum, int gauges) {
    add_all(board->unnamed, sum->unnamed, PYRPC_OUTCOMES);
    add_all(&board->connections_accepted, &sum->connections_accepted, 1);
    add_all(board->refused, sum->refused, PYRPC_REFUSALS);
    add_all(board->deploys, sum->deploys, 3);
    int64_t last_deploy = pyrpc_metrics_load(&board->last_deploy);
    if (last_deploy > sum->last_deploy) sum->last_deploy = last_deploy;
    if (gauges) {
        add_all(&board->connections_open, &sum->connections_open, 1);
        add_all(&board->calls_submitted, &sum->calls_submitted, 1);
        add_all(&board->calls_finished, &sum->calls_finished, 1);
        add_all(&board->buffered_bytes, &sum->buffered_bytes, 1);
    }
    int64_t claimed = __atomic_load_n(&board->claimed, __ATOMIC_ACQUIRE);
    for (int64_t index = 0; index < claimed && index < PYRPC_METRICS_RPCS; index++) {
        const struct pyrpc_rpc_counters *rpc = &board->rpcs[index];
        long length = (long)strnlen(rpc->key, PYRPC_METRICS_KEY);
        length = length < PYRPC_METRICS_KEY ? length + 1 + (long)strnlen(rpc->key + length + 1, PYRPC_METRICS_KEY - length - 1) + 1 : length;
        if (length > PYRPC_METRICS_KEY) length = PYRPC_METRICS_KEY;
        struct pyrpc_rpc_counters *into = claim_in(sum, rpc->key, length, index);
        if (!into) {
            add_all(rpc->outcomes, sum->unnamed, PYRPC_OUTCOMES);
            continue;
        }
        add_all(rpc->outcomes, into->outcomes, PYRPC_OUTCOMES);
        add_all(rpc->buckets, into->buckets, PYRPC_DURATION_BUCKETS);
        add_all(rpc->nanoseconds, into->nanoseconds, PYRPC_DURATION_BUCKETS);
    }
}
