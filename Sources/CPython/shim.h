#ifndef PYRPC_CPYTHON_SHIM_H
#define PYRPC_CPYTHON_SHIM_H
// stdlib.h must come before Python.h: pyconfig.h defines _GNU_SOURCE/_XOPEN_SOURCE and
// otherwise the glibc module copies diverge (fd_set errors in debug builds).
#include <stdlib.h>
#include <malloc.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>

// Macros Swift cannot import, as inline functions.
static inline int pyrpc_is_long(PyObject *o) { return PyLong_Check(o); }
static inline int pyrpc_is_bool(PyObject *o) { return PyBool_Check(o); }
static inline int pyrpc_is_float(PyObject *o) { return PyFloat_Check(o); }
static inline int pyrpc_is_unicode(PyObject *o) { return PyUnicode_Check(o); }
static inline int pyrpc_is_list(PyObject *o) { return PyList_Check(o); }
static inline int pyrpc_is_tuple(PyObject *o) { return PyTuple_Check(o); }
static inline int pyrpc_is_complex(PyObject *o) { return PyComplex_Check(o); }
// Not sequences of values for List[T], though iterable: text, bytes and mappings.
static inline int pyrpc_is_text_bytes_or_dict(PyObject *o) {
    return PyUnicode_Check(o) || PyBytes_Check(o) || PyByteArray_Check(o) || PyDict_Check(o);
}
// PySequence_Fast's item access (macros Swift does not import).
static inline Py_ssize_t pyrpc_fast_size(PyObject *o) { return PySequence_Fast_GET_SIZE(o); }
static inline PyObject *pyrpc_fast_item(PyObject *o, Py_ssize_t i) { return PySequence_Fast_GET_ITEM(o, i); }
static inline int pyrpc_is_none(PyObject *o) { return o == Py_None; }
static inline int pyrpc_is_true(PyObject *o) { return o == Py_True; }
static inline PyObject *pyrpc_none(void) { return Py_NewRef(Py_None); }
static inline PyObject *pyrpc_bool(int value) { return Py_NewRef(value ? Py_True : Py_False); }
static inline PyObject *pyrpc_list_get(PyObject *list, Py_ssize_t i) { return PyList_GET_ITEM(list, i); }
static inline PyObject *pyrpc_tuple_get(PyObject *tuple, Py_ssize_t i) { return PyTuple_GET_ITEM(tuple, i); }
static inline double pyrpc_float_value(PyObject *o) { return PyFloat_AS_DOUBLE(o); }

// A float as PyFloat_FromDouble makes one, for the list readers that make 100,000 at a time.
// PyFloat_FromDouble finds the interpreter's free list through the thread state (it holds at
// most 100 floats, so a bulk list misses it) and calls _Py_NewReference out of line: together
// a sixth of the server's CPU on a list of float64s. This allocates from pymalloc directly,
// which is also where tracemalloc sees the block. float_dealloc frees it as any float (onto
// the free list or with PyObject_Free). Builds that list every object keep the API call.
static inline PyObject *pyrpc_new_float(double value) {
#ifdef Py_TRACE_REFS
    return PyFloat_FromDouble(value);
#else
    PyFloatObject *op = (PyFloatObject *)PyObject_Malloc(sizeof(PyFloatObject));
    if (op == NULL) { return PyErr_NoMemory(); }
    Py_SET_TYPE(op, &PyFloat_Type);  // a static type: its instances hold no reference to it
    Py_SET_REFCNT(op, 1);
    op->ob_fval = value;
    return (PyObject *)op;
#endif
}
// A list that takes `items` (`count` new references in a block from PyMem_Malloc or
// PyMem_Realloc, with room for `capacity`) as its storage, as list_resize would have grown
// it: the JSON list reader collects items it cannot count in advance and hands them over
// without a copy. PyList_New(0) allocates no storage of its own, so NULL items with a count
// and capacity of 0 make the empty list it makes. NULL when out of memory; the caller then
// still owns the items and the block.
static inline PyObject *pyrpc_list_adopting(PyObject **items, Py_ssize_t count, Py_ssize_t capacity) {
    PyListObject *list = (PyListObject *)PyList_New(0);
    if (list == NULL) { return NULL; }
    list->ob_item = items;
    list->allocated = capacity;
    Py_SET_SIZE(list, count);
    return (PyObject *)list;
}
static inline PyObject *pyrpc_exc_base_exception(void) { return PyExc_BaseException; }
static inline PyObject *pyrpc_exc_runtime_error(void) { return PyExc_RuntimeError; }
static inline PyObject *pyrpc_exc_syntax_error(void) { return PyExc_SyntaxError; }
static inline int pyrpc_file_input(void) { return Py_file_input; }
static inline int pyrpc_meth_o(void) { return METH_O; }

// Runs a C-callable Swift function for `name` taking one argument (METH_O).
static inline PyObject *pyrpc_make_function(const char *name, PyCFunction function) {
    PyMethodDef *def = (PyMethodDef *)calloc(1, sizeof(PyMethodDef));  // lives for the process
    def->ml_name = name;
    def->ml_meth = function;
    def->ml_flags = METH_O;
    def->ml_doc = NULL;
    return PyCFunction_New(def, NULL);
}

// Starts an isolated interpreter without signal handlers. Returns NULL or an error text.
static inline const char *pyrpc_initialize(const char *program_name) {
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.buffered_stdio = 0;
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, program_name);
    if (PyStatus_Exception(status)) { PyConfig_Clear(&config); return status.err_msg ? status.err_msg : "config error"; }
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) { return status.err_msg ? status.err_msg : "initialization failed"; }
    return NULL;
}

// Process-wide malloc settings for a server that handles messages of megabytes. By default
// glibc serves allocations over 128 KiB with fresh mmaps and trims freed heap eagerly, so
// every large request paid for the kernel zeroing new pages (a third of the server's CPU on
// 1 MB messages). Keeping large blocks in the heap and capping arenas reuses the memory and
// keeps RSS flat.
static inline void pyrpc_tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_ARENA_MAX, 4);
}

// pymalloc takes 1 MiB arenas from mmap and gives each back with munmap as soon as it is
// empty, so a call that builds 100,000 floats mapped and zeroed ~3 MB of fresh pages every
// time (a fifth of the server's CPU on that call). This cache keeps up to 16 empty arenas for
// reuse (16 MiB at most). Arena calls happen with the GIL held, which serializes them.
#include <sys/mman.h>
enum { PYRPC_ARENA_CACHE_SLOTS = 16 };
struct pyrpc_arena_cache {
    void *arenas[PYRPC_ARENA_CACHE_SLOTS];
    size_t sizes[PYRPC_ARENA_CACHE_SLOTS];
    int count;
};

// A function-local static: Swift's importer emits these, not file-scope statics of a header.
static struct pyrpc_arena_cache *pyrpc_arena_cache(void) {
    static struct pyrpc_arena_cache cache;
    return &cache;
}

static void *pyrpc_arena_alloc(void *ctx, size_t size) {
    (void)ctx;
    struct pyrpc_arena_cache *cache = pyrpc_arena_cache();
    for (int i = cache->count - 1; i >= 0; i--) {
        if (cache->sizes[i] == size) {
            void *arena = cache->arenas[i];
            cache->count--;
            cache->arenas[i] = cache->arenas[cache->count];
            cache->sizes[i] = cache->sizes[cache->count];
            return arena;
        }
    }
    void *arena = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return arena == MAP_FAILED ? NULL : arena;
}

static void pyrpc_arena_free(void *ctx, void *arena, size_t size) {
    (void)ctx;
    struct pyrpc_arena_cache *cache = pyrpc_arena_cache();
    if (cache->count < PYRPC_ARENA_CACHE_SLOTS) {
        cache->arenas[cache->count] = arena;
        cache->sizes[cache->count] = size;
        cache->count++;
    } else {
        munmap(arena, size);
    }
}

// Python worker threads run as SCHED_BATCH: still fair-share, but a woken worker does not
// preempt the running thread. Without it, an event loop that queued calls and woke a worker
// was preempted mid-cycle on a busy core, and every small batch cost two extra switches.
#include <pthread.h>
#include <sched.h>
#ifndef SCHED_BATCH
#define SCHED_BATCH 3  // <sched.h> only names it with _GNU_SOURCE, which stdlib.h came before
#endif
static inline int pyrpc_prefer_batch_scheduling(void) {
    struct sched_param param = { .sched_priority = 0 };
    return pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

// Must run before the interpreter starts, so every arena comes from (and returns to) it.
static inline void pyrpc_install_arena_cache(void) {
    PyObjectArenaAllocator allocator = { NULL, pyrpc_arena_alloc, pyrpc_arena_free };
    PyObject_SetArenaAllocator(&allocator);
}
#endif
