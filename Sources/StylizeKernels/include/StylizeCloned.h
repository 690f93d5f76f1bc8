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
