#ifndef STYLIZE_CLONED_H
#define STYLIZE_CLONED_H

// STYLIZE_CLONED compiles a function for AVX-512, AVX2 and the baseline; the loader picks the
// best the CPU has (ifunc). The loops of such functions are written so that the compiler
// vectorizes them. Used by StylizeKernels and by the stabilizer's blend in StylizeFlow.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
// The loader runs target_clones' resolvers before a sanitizer's runtime has started, and the
// sanitizer's instrumentation of them crashes the process: sanitizer builds use one clone.
#define STYLIZE_SANITIZED 1
#endif
#endif

#if defined(__x86_64__) && defined(__clang__) && defined(__linux__) && !defined(STYLIZE_SANITIZED)
#define STYLIZE_CLONED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define STYLIZE_CLONED
#endif

#endif
