#ifndef STYLIZE_CLONED_H
#define STYLIZE_CLONED_H

// STYLIZE_CLONES compiles a function three times, for AVX-512, AVX2 and the baseline, and picks
// one at each call by `stylize_clone_level()`. The function is written once, as `NAME_body`
// (static inline, always inlined), with loops written so that the compiler vectorizes them for
// each instruction set; STYLIZE_CLONES(linkage, type, NAME, (parameters), (arguments)) follows
// it and defines NAME. Used by StylizeKernels and by the stabilizer's blend in StylizeFlow.
// Picking at run time rather than by the loader (target_clones) lets ONEDNN_MAX_CPU_ISA lower
// these kernels together with oneDNN's, so that a machine without AVX-512 can be tried on one
// that has it.

#ifdef __cplusplus
extern "C" {
#endif

/// The clone STYLIZE_CLONES functions run: 2 AVX-512, 1 AVX2, 0 the baseline. The best this CPU
/// has, lowered as ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) lowers oneDNN: AVX2 and AVX2_VNNI to
/// AVX2, SSE41 and AVX to the baseline. Read once per process.
int stylize_clone_level(void);

/// Kernels whose AVX-512 and AVX2 versions give the same values and are chosen between by how
/// fast each runs on this CPU (`stylize_timed_level`): the flow's trust check and the blend's warp.
enum { STYLIZE_TIMED_TRUST, STYLIZE_TIMED_WARP, STYLIZE_TIMED_KERNELS };

/// The clone level a call of `kernel` (a STYLIZE_TIMED_ value) runs at: `stylize_clone_level()`,
/// except where that is 2 (AVX-512). There the first calls alternate between 2 and 1 (AVX2) and
/// set `*trial` to their number (else it is -1), for `stylize_timed_report`; the rest run the
/// level whose fastest trial took the least time per unit of work.
int stylize_timed_level(int kernel, int *trial);

/// Reports trial `trial` of `kernel`, run at `level`: `nanoseconds` (by `stylize_now`) for
/// `units` of work (pixels, samples). Does nothing for trial -1.
void stylize_timed_report(int kernel, int trial, int level, long nanoseconds, long units);

/// A monotonic clock, in nanoseconds.
long stylize_now(void);

#ifdef __cplusplus
}
#endif

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
// Sanitizer builds run the kernels on the calling thread (see stylize_team_size).
#define STYLIZE_SANITIZED 1
#endif
#endif

#define STYLIZE_STATIC static
#define STYLIZE_EXTERN

#if defined(__x86_64__) && defined(__clang__)
#define STYLIZE_CLONES(linkage, type, name, parameters, arguments)                                   \
    __attribute__((target("avx512f"))) static type name##_avx512 parameters { return name##_body arguments; } \
    __attribute__((target("avx2"))) static type name##_avx2 parameters { return name##_body arguments; }     \
    linkage type name parameters {                                                                   \
        switch (stylize_clone_level()) {                                                            \
        case 2: return name##_avx512 arguments;                                                     \
        case 1: return name##_avx2 arguments;                                                       \
        default: return name##_body arguments;                                                      \
        }                                                                                            \
    }
#else
#define STYLIZE_CLONES(linkage, type, name, parameters, arguments) \
    linkage type name parameters { return name##_body arguments; }
#endif

#endif
