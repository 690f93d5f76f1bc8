// The int8 network's own kernels: gathers of bytes through StyleNorm tables, the residual add
// through a table, histograms, and the last table to floats.

#include "StylizeInternal.h"

typedef struct {
    const uint8_t *src;
    const int64_t *row_offsets, *column_offsets;
    int channels, width, q;
    const uint8_t *table;
    uint8_t *dst;
} gather_u8_job;

/// One destination row: pixel x from row + column_offsets[x], through the tables. A column that
/// repeats the one before it (an upsampling gather's) copies that pixel's result. `channels` is
/// a constant where this is inlined.
static inline __attribute__((always_inline)) void gather_u8_row(const uint8_t *row, const int64_t *column_offsets, const int channels,
                                                                int width, int q, const uint8_t *table, uint8_t *out) {
    for (int x = 0; x < width; x++) {
        uint8_t *o = out + ((long)(x / q) * q * q + x % q) * channels;
        if (q == 1 && x > 0 && column_offsets[x] == column_offsets[x - 1]) {
            memcpy(o, o - channels, (size_t)channels);
            continue;
        }
        const uint8_t *p = row + column_offsets[x];
        if (table) {
            for (int c = 0; c < channels; c++) o[c] = table[c * 256 + p[c]];
        } else {
            memcpy(o, p, (size_t)channels);
        }
    }
}

/// Destination rows [q * begin, q * end): whole stored rows, so no two threads share one. A row
/// that repeats the one before it (an upsampling gather's) is copied from it.
static inline __attribute__((always_inline)) void gather_u8_rows_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const gather_u8_job *j = job;
    const int channels = j->channels, width = j->width, q = j->q;
    for (long y = begin * q; y < end * q; y++) {
        // Stored row y / q holds width * q pixels; this row's pixels start at phase row y % q.
        uint8_t *out = j->dst + ((y / q) * width * q + (y % q) * q) * channels;
        if (q == 1 && y > begin && j->row_offsets[y] == j->row_offsets[y - 1]) {
            memcpy(out, out - (long)width * channels, (size_t)width * channels);
            continue;
        }
        const uint8_t *row = j->src + j->row_offsets[y];
        switch (channels) {
        case 3: gather_u8_row(row, j->column_offsets, 3, width, q, j->table, out); break;
        case 8: gather_u8_row(row, j->column_offsets, 8, width, q, j->table, out); break;
        case 16: gather_u8_row(row, j->column_offsets, 16, width, q, j->table, out); break;
        case 32: gather_u8_row(row, j->column_offsets, 32, width, q, j->table, out); break;
        default: gather_u8_row(row, j->column_offsets, channels, width, q, j->table, out); break;
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
static inline __attribute__((always_inline)) void histogram_range(const uint8_t *p, long pixels, const int channels, uint32_t *counts) {
    for (long i = 0; i < pixels; i++, p += channels) {
        for (int c = 0; c < channels; c++) counts[c * 256 + p[c]]++;
    }
}

static void histogram_pixels(const void *job, long begin, long end, int thread) {
    const histogram_job *j = job;
    const int channels = j->channels;
    uint32_t *counts = j->partial + (long)thread * channels * 256;
    const uint8_t *p = j->src + begin * channels;
    switch (channels) {
    case 8: histogram_range(p, end - begin, 8, counts); break;
    case 16: histogram_range(p, end - begin, 16, counts); break;
    case 32: histogram_range(p, end - begin, 32, counts); break;
    case 48: histogram_range(p, end - begin, 48, counts); break;
    default: histogram_range(p, end - begin, channels, counts); break;
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

static inline __attribute__((always_inline)) void add_range(uint8_t *d, const uint8_t *o, long pixels, const int channels,
                                                            const uint8_t *table, const uint8_t *sum) {
    for (long i = 0; i < pixels; i++, d += channels, o += channels) {
        for (int c = 0; c < channels; c++) d[c] = sum[d[c] * 256 + table[c * 256 + o[c]]];
    }
}

static inline __attribute__((always_inline)) void add_pixels_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const add_job *j = job;
    uint8_t *d = j->data + begin * j->channels;
    const uint8_t *o = j->other + begin * j->channels;
    if (j->channels == 32) add_range(d, o, end - begin, 32, j->table, j->sum);
    else add_range(d, o, end - begin, j->channels, j->table, j->sum);
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
