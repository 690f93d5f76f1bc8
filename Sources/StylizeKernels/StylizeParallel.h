#ifndef STYLIZE_PARALLEL_H
#define STYLIZE_PARALLEL_H

// The kernels' one way to split work over oneDNN's OpenMP team (StylizeKernels.c).

/// Threads a parallel region gets (1 without libgomp, and in sanitizer builds).
int stylize_team_size(void);

/// run(job, begin, end, thread) over [0, count) split into contiguous ranges, one per thread.
void stylize_parallel_for(long count, void (*run)(const void *, long, long, int), const void *job);

#endif
