// The padding gathers: a layer's output copied into the next conv's padded input through row
// and column index tables, with a StyleNorm and a ReLU applied on the way.

#include "StylizeInternal.h"

#define GATHER_ROW(C, SB, DB) gather_row(src, row_offsets[y], column_offsets, C, width, q, scale, shift, floor, out, SB, DB)
#define GATHER_ROW_TYPES(C)                       \
    do {                                          \
        if (bf16 == STYLIZE_U8) GATHER_ROW(C, source_bf16, STYLIZE_U8); \
        else if (source_bf16 && bf16) GATHER_ROW(C, 1, 1); \
        else if (source_bf16) GATHER_ROW(C, 1, 0);    \
        else if (bf16) GATHER_ROW(C, 0, 1);           \
        else GATHER_ROW(C, 0, 0);                     \
    } while (0)

typedef struct {
    const void *src;
    int source_bf16;
    const int64_t *row_offsets, *column_offsets;
    int channels, width, q;
    const float *scale, *shift;
    float floor;
    void *dst;
    int bf16;
} gather_job;

/// Destination rows [q * begin, q * end): whole stored rows, so no two threads share one.
static inline __attribute__((always_inline)) void gather_rows_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const gather_job *j = job;
    const void *src = j->src;
    const int64_t *row_offsets = j->row_offsets, *column_offsets = j->column_offsets;
    const int channels = j->channels, width = j->width, q = j->q, source_bf16 = j->source_bf16, bf16 = j->bf16;
    const float *scale = j->scale, *shift = j->shift, floor = j->floor;
    const long element = element_size(bf16);
    for (long y = begin * q; y < end * q; y++) {
        // Stored row y / q holds width * q pixels; this row's pixels start at phase row y % q.
        void *out = (char *)j->dst + ((y / q) * width * q + (y % q) * q) * channels * element;
        switch (channels) {
        case 3: GATHER_ROW_TYPES(3); break;
        case 8: GATHER_ROW_TYPES(8); break;
        case 16: GATHER_ROW_TYPES(16); break;
        case 32: GATHER_ROW_TYPES(32); break;
        default: GATHER_ROW_TYPES(channels); break;
        }
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, gather_rows, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_gather(const void *src, int source_bf16, const int64_t *row_offsets, const int64_t *column_offsets, int channels,
                    int rows, int width, int destination_phases, const float *scale, const float *shift, int relu, void *dst, int bf16) {
    const int q = destination_phases;
    if (channels <= 0 || channels > MAX_CHANNELS || q <= 0 || width % q || rows % q) return;
    float ones[MAX_CHANNELS], zeros[MAX_CHANNELS];
    if (!scale || !shift) {
        for (int c = 0; c < channels; c++) { ones[c] = 1; zeros[c] = 0; }
        scale = ones;
        shift = zeros;
    }
    gather_job job = {src, source_bf16, row_offsets, column_offsets, channels, width, q, scale, shift,
                      relu ? 0.0f : -INFINITY, dst, bf16};
    stylize_parallel_for(rows / q, gather_rows, &job);
}
