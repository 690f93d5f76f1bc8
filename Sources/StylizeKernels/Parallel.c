// The OpenMP team every kernel runs on, and the instruction set the clones are picked by.

#include "StylizeInternal.h"
#include <strings.h>

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
