#include "StylizeQuantized.h"

#include <stdlib.h>
#include <string.h>

#include "StylizeCloned.h"
#include "StylizeParallel.h"

enum { MAX_CHANNELS = 64 };

typedef struct {
    const uint8_t *src;
    const int64_t *row_offsets, *column_offsets;
    int channels, width, q;
    const uint8_t *table;
    uint8_t *dst;
} gather_u8_job;

/// Destination rows [q * begin, q * end): whole stored rows, so no two threads share one.
static inline __attribute__((always_inline)) void gather_u8_rows_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const gather_u8_job *j = job;
    const int channels = j->channels, width = j->width, q = j->q;
    const uint8_t *table = j->table;
    for (long y = begin * q; y < end * q; y++) {
        // Stored row y / q holds width * q pixels; this row's pixels start at phase row y % q.
        uint8_t *out = j->dst + ((y / q) * width * q + (y % q) * q) * channels;
        const uint8_t *row = j->src + j->row_offsets[y];
        for (int x = 0; x < width; x++) {
            const uint8_t *p = row + j->column_offsets[x];
            uint8_t *o = out + ((long)(x / q) * q * q + x % q) * channels;
            if (table) {
                for (int c = 0; c < channels; c++) o[c] = table[c * 256 + p[c]];
            } else {
                memcpy(o, p, (size_t)channels);
            }
        }
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, gather_u8_rows, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_gather_u8(const uint8_t *src, const int64_t *row_offsets, const int64_t *column_offsets, int channels,
                       int rows, int width, int destination_phases, const uint8_t *table, uint8_t *dst) {
    const int q = destination_phases;
    if (channels <= 0 || channels > MAX_CHANNELS || q <= 0 || width % q || rows % q) return;
    gather_u8_job job = {src, row_offsets, column_offsets, channels, width, q, table, dst};
    stylize_parallel_for(rows / q, gather_u8_rows, &job);
}

typedef struct {
    const uint8_t *src;
    int channels;
    uint32_t *partial;  // per thread: channels * 256 counts
} histogram_job;

/// Pixels [begin, end), into this thread's counts (32 bits: a thread counts at most 2^32 - 1
/// values of one channel, frames of up to 4 gigapixels).
static void histogram_pixels(const void *job, long begin, long end, int thread) {
    const histogram_job *j = job;
    const int channels = j->channels;
    uint32_t *counts = j->partial + (long)thread * channels * 256;
    const uint8_t *p = j->src + begin * channels;
    for (long i = begin; i < end; i++, p += channels) {
        for (int c = 0; c < channels; c++) counts[c * 256 + p[c]]++;
    }
}

void stylize_channel_histogram(const uint8_t *src, long count, int channels, uint64_t *counts) {
    if (channels <= 0 || channels > MAX_CHANNELS || count <= 0) return;
    const int threads = stylize_team_size();
    uint32_t *partial = calloc((size_t)threads * channels * 256, sizeof(uint32_t));
    if (!partial) abort();
    histogram_job job = {src, channels, partial};
    stylize_parallel_for(count / channels, histogram_pixels, &job);
    for (int t = 0; t < threads; t++) {
        for (long k = 0; k < (long)channels * 256; k++) counts[k] += partial[(long)t * channels * 256 + k];
    }
    free(partial);
}

typedef struct {
    uint8_t *data;
    const uint8_t *other;
    int channels;
    const uint8_t *table, *sum;
} add_job;

static inline __attribute__((always_inline)) void add_pixels_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const add_job *j = job;
    const int channels = j->channels;
    for (long i = begin; i < end; i++) {
        uint8_t *d = j->data + i * channels;
        const uint8_t *o = j->other + i * channels;
        for (int c = 0; c < channels; c++) d[c] = j->sum[d[c] * 256 + j->table[c * 256 + o[c]]];
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, add_pixels, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_add_u8(uint8_t *data, const uint8_t *other, long count, int channels, const uint8_t *table, const uint8_t *sum) {
    if (channels <= 0 || channels > MAX_CHANNELS || count <= 0) return;
    add_job job = {data, other, channels, table, sum};
    stylize_parallel_for(count / channels, add_pixels, &job);
}

typedef struct {
    const uint8_t *src;
    int channels;
    const float *table;
    float *dst;
} lookup_job;

static inline __attribute__((always_inline)) void lookup_pixels_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const lookup_job *j = job;
    const int channels = j->channels;
    for (long i = begin; i < end; i++) {
        for (int c = 0; c < channels; c++) j->dst[i * channels + c] = j->table[c * 256 + j->src[i * channels + c]];
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, lookup_pixels, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_lookup_f32(const uint8_t *src, long count, int channels, const float *table, float *dst) {
    if (channels <= 0 || count <= 0) return;
    lookup_job job = {src, channels, table, dst};
    stylize_parallel_for(count / channels, lookup_pixels, &job);
}
