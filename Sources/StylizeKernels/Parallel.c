// The OpenMP team every kernel runs on, and the instruction set the clones are picked by.

#include "StylizeInternal.h"
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

// oneDNN as Debian builds it runs its primitives on a GNU OpenMP thread team. The kernels here
// run on that same team: its threads keep spinning for a while after each of oneDNN's parallel
// regions (milliseconds, on CPUs with a slow PAUSE), so threads of any other pool would fight
// them for the cores. libgomp's entry point is called directly, since clang's OpenMP code
// generation targets LLVM's runtime; without libgomp the kernels run on the calling thread.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags) __attribute__((weak));
extern int omp_get_thread_num(void) __attribute__((weak));
extern int omp_get_num_threads(void) __attribute__((weak));
extern int omp_get_max_threads(void) __attribute__((weak));
extern void omp_set_num_threads(int) __attribute__((weak));
extern int omp_get_num_procs(void) __attribute__((weak));

typedef struct {
    void (*run)(const void *job, long begin, long end, int thread);
    const void *job;
    long count;
} parallel_job;

static void parallel_entry(void *data) {
    const parallel_job *p = data;
    const long n = omp_get_num_threads(), t = omp_get_thread_num();
    const long begin = p->count * t / n, end = p->count * (t + 1) / n;
    if (begin < end) p->run(p->job, begin, end, (int)t);
}

/// Threads a parallel region gets (1 without libgomp). Sanitizer builds run every kernel on the
/// calling thread: libgomp is not instrumented, so ThreadSanitizer cannot see how its team hands
/// work over and back, and would report each kernel's writes as races with the caller's reads.
int stylize_team_size(void) {
#ifdef STYLIZE_SANITIZED
    return 1;
#else
    return GOMP_parallel && omp_get_max_threads && omp_get_thread_num && omp_get_num_threads ? omp_get_max_threads() : 1;
#endif
}

int stylize_clone_level(void) {
    static int cached = -1;
    int level = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (level >= 0) return level;
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    level = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    level = 0;
#endif
    const char *limit = getenv("ONEDNN_MAX_CPU_ISA");
    if (!limit || !*limit) limit = getenv("DNNL_MAX_CPU_ISA");
    if (limit && !strncasecmp(limit, "AVX2", 4)) level = level > 1 ? 1 : level;
    else if (limit && (!strcasecmp(limit, "SSE41") || !strcasecmp(limit, "AVX"))) level = 0;
    __atomic_store_n(&cached, level, __ATOMIC_RELAXED);
    return level;
}

// The timed choices (`stylize_timed_level`): calls counted only while timing, so that the count
// stays small however long the process runs; the chosen level (0 until chosen, then 1 or 2); and
// the fastest trial of AVX2 and AVX-512, in picoseconds per unit (0 until timed).
enum { timed_trials = 8 };
static struct {
    _Atomic int calls, choice;
    _Atomic long best[2];
} timed[STYLIZE_TIMED_KERNELS];

int stylize_timed_level(int kernel, int *trial) {
    *trial = -1;
    const int allowed = stylize_clone_level();
    if (allowed < 2) return allowed;
    int call = timed[kernel].calls;
    if (call < timed_trials) call = atomic_fetch_add(&timed[kernel].calls, 1);
    if (call >= timed_trials) return timed[kernel].choice == 2 ? 2 : 1;
    *trial = call;
    return call % 2 ? 1 : 2;
}

void stylize_timed_report(int kernel, int trial, int level, long nanoseconds, long units) {
    if (trial < 0 || level < 1 || level > 2) return;
    const long per_unit = nanoseconds * 1000 / (units > 0 ? units : 1);
    _Atomic long *best = &timed[kernel].best[level - 1];
    for (long seen = *best; (seen == 0 || per_unit < seen) && !atomic_compare_exchange_weak(best, &seen, per_unit);) {
    }
    if (trial == timed_trials - 1) timed[kernel].choice = timed[kernel].best[1] != 0 && timed[kernel].best[1] < timed[kernel].best[0] ? 2 : 1;
}

long stylize_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)now.tv_sec * 1000000000L + now.tv_nsec;
}

/// run(job, begin, end, thread) over [0, count) split into contiguous ranges, one per thread.
void stylize_parallel_for(long count, void (*run)(const void *, long, long, int), const void *job) {
    if (count > 1 && stylize_team_size() > 1) {
        parallel_job p = {run, job, count};
        GOMP_parallel(parallel_entry, &p, 0, 0);
    } else if (count > 0) {
        run(job, 0, count, 0);
    }
}

void stylize_set_threads(int threads) {
    if (!omp_set_num_threads || !omp_get_num_procs) return;
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
}
