#ifndef PYRPC_METRICS_H
#define PYRPC_METRICS_H
// The metrics board: what a process counts for `GET /metrics`. A worker's lives after its stats
// board in the memfd its supervisor passed, so the supervisor reads it while the worker runs
// (no message, no lock on the call path) and once more after it died, to its last call. Every
// other process (the supervisor, a server without one) counts on a board of its own.
//
// Counters are plain int64s changed with relaxed atomic adds: many threads count, one reader
// sums, and each value only needs to be whole, not ordered with the others.
#include <stdint.h>

// Outcomes of a call, in `CallOutcome`'s order: ok, then each exception type.
#define PYRPC_OUTCOMES 9
// Call durations: 15 upper bounds (0.5 ms ... 30 s, `pyrpc_duration_bounds`), then above the last.
#define PYRPC_DURATION_BUCKETS 16
// Why connections were refused, in `RefusalReason`'s order.
#define PYRPC_REFUSALS 8
// Declared rpcs (service and name) one process can count with labels; more count without.
#define PYRPC_METRICS_RPCS 1024
#define PYRPC_METRICS_KEY 240

struct pyrpc_rpc_counters {
    // service NUL rpc NUL (rpc empty: the service's requests for rpcs it lacks)
    char key[PYRPC_METRICS_KEY];
    int64_t outcomes[PYRPC_OUTCOMES];
    // Calls per duration bucket (not cumulative), and their durations summed per bucket.
    int64_t buckets[PYRPC_DURATION_BUCKETS];
    int64_t nanoseconds[PYRPC_DURATION_BUCKETS];
};

struct pyrpc_metrics_board {
    // rpcs[0 ..< claimed] are in use; a place once claimed stays its rpc's for the process's life.
    int64_t claimed;
    // Outcomes of requests that name no declared service (or that could not be read at all).
    int64_t unnamed[PYRPC_OUTCOMES];
    int64_t connections_open;
    int64_t connections_accepted;
    int64_t refused[PYRPC_REFUSALS];
    int64_t calls_submitted;
    int64_t calls_finished;
    int64_t buffered_bytes;
    // Deploys answered: applied, unchanged, rejected; and when the last was applied (Unix seconds).
    int64_t deploys[3];
    int64_t last_deploy;
    struct pyrpc_rpc_counters rpcs[PYRPC_METRICS_RPCS];
};

// Where this process counts: the board its supervisor passed, or its own.
extern struct pyrpc_metrics_board *pyrpc_metrics;

// Upper bounds of the duration buckets, in nanoseconds.
extern const int64_t pyrpc_duration_bounds[PYRPC_DURATION_BUCKETS - 1];

static inline int64_t pyrpc_metrics_add(int64_t *counter, int64_t amount) {
    return __atomic_add_fetch(counter, amount, __ATOMIC_RELAXED);
}

static inline int64_t pyrpc_metrics_load(const int64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

// One call of `rpc` ended with `outcome`; a duration < 0 is not observed (it never ran).
static inline void pyrpc_metrics_call(struct pyrpc_rpc_counters *rpc, int outcome, int64_t nanoseconds) {
    pyrpc_metrics_add(&rpc->outcomes[outcome], 1);
    if (nanoseconds < 0) return;
    int bucket = 0;
    while (bucket < PYRPC_DURATION_BUCKETS - 1 && nanoseconds > pyrpc_duration_bounds[bucket]) bucket++;
    pyrpc_metrics_add(&rpc->buckets[bucket], 1);
    pyrpc_metrics_add(&rpc->nanoseconds[bucket], nanoseconds);
}

// Counts, by what happened, on `board` (`pyrpc_metrics_process()` for this process's).
static inline struct pyrpc_metrics_board *pyrpc_metrics_process(void) { return pyrpc_metrics; }
static inline void pyrpc_metrics_count_unnamed(struct pyrpc_metrics_board *board, int outcome) {
    pyrpc_metrics_add(&board->unnamed[outcome], 1);
}
static inline void pyrpc_metrics_count_refused(struct pyrpc_metrics_board *board, int reason) {
    pyrpc_metrics_add(&board->refused[reason], 1);
}
static inline void pyrpc_metrics_count_connection(struct pyrpc_metrics_board *board, int64_t change, int accepted) {
    pyrpc_metrics_add(&board->connections_open, change);
    if (accepted) pyrpc_metrics_add(&board->connections_accepted, 1);
}
static inline void pyrpc_metrics_count_buffered(int64_t change) { pyrpc_metrics_add(&pyrpc_metrics->buffered_bytes, change); }
static inline void pyrpc_metrics_count_submitted(void) { pyrpc_metrics_add(&pyrpc_metrics->calls_submitted, 1); }
static inline int64_t pyrpc_metrics_count_finished(void) { return pyrpc_metrics_add(&pyrpc_metrics->calls_finished, 1); }
static inline int64_t pyrpc_metrics_finished(void) { return pyrpc_metrics_load(&pyrpc_metrics->calls_finished); }
static inline void pyrpc_metrics_count_deploy(struct pyrpc_metrics_board *board, int result, int64_t now) {
    pyrpc_metrics_add(&board->deploys[result], 1);
    if (result == 0) __atomic_store_n(&board->last_deploy, now, __ATOMIC_RELAXED);
}

// The place of the rpc whose key (`length` bytes, NULs included) this is, claimed if new;
// NULL when the key is too long or every place is taken.
struct pyrpc_rpc_counters *pyrpc_metrics_claim(const char *key, long length);

// The memfd offset and size of a worker's metrics board, after its stats board.
long pyrpc_metrics_offset(void);
long pyrpc_metrics_size(void);

// In a worker: counts on the board in its stats board's memfd from now on; 0 when mapped.
int pyrpc_metrics_attach_shared(int fd);

// In the supervisor: a worker's board, mapped read-only from its memfd (NULL on failure).
const struct pyrpc_metrics_board *pyrpc_metrics_map(int fd);
void pyrpc_metrics_unmap(const struct pyrpc_metrics_board *board);

// Adds what `board` counted into `sum` (a board of the reader's own): counters, outcomes and
// durations; each rpc goes to the place its key has in `sum`, or to `sum`'s unnamed outcomes
// when `sum` has no room. Gauges (open connections, pending calls, buffered bytes) too when
// `gauges` is nonzero.
void pyrpc_metrics_sum(const struct pyrpc_metrics_board *board, struct pyrpc_metrics_board *sum, int gauges);

static inline const struct pyrpc_rpc_counters *pyrpc_metrics_rpc_at(const struct pyrpc_metrics_board *board, long index) {
    return &board->rpcs[index];
}

// A zeroed board in this process's memory (sparse), for sums; free with pyrpc_metrics_free.
struct pyrpc_metrics_board *pyrpc_metrics_new(void);
void pyrpc_metrics_free(struct pyrpc_metrics_board *board);

#endif
