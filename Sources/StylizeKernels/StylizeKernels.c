#include "StylizeKernels.h"

#include <math.h>
#include <string.h>

// Each kernel is compiled for AVX-512, AVX2 and the baseline; the loader picks the best the
// CPU has (ifunc). The loops are written so that the compiler vectorizes them.
#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
#define CLONED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONED
#endif

enum { MAX_CHANNELS = 64, MAX_PERIOD = MAX_CHANNELS * 16 };

/// The shortest run of values that holds whole pixels and whole 16-float vectors.
static long period_of(int channels) {
    int a = channels, b = 16;
    while (b) { int t = a % b; a = b; b = t; }
    return (long)channels * 16 / a;
}

CLONED void stylize_channel_moments(const float *src, long count, int channels, double *sum, double *sum_squares) {
    if (channels <= 0 || channels > MAX_CHANNELS) return;
    const long period = period_of(channels);
    float acc[MAX_PERIOD], acc2[MAX_PERIOD];
    long i = 0;
    while (i + period <= count) {
        // At most 64 periods per float partial sum, then into double: no precision lost on
        // frames of millions of pixels.
        long blocks = (count - i) / period;
        if (blocks > 64) blocks = 64;
        for (long k = 0; k < period; k++) acc[k] = acc2[k] = 0;
        for (long b = 0; b < blocks; b++) {
            const float *p = src + i + b * period;
            for (long k = 0; k < period; k++) {
                acc[k] += p[k];
                acc2[k] += p[k] * p[k];
            }
        }
        for (long k = 0; k < period; k++) {
            sum[k % channels] += acc[k];
            sum_squares[k % channels] += acc2[k];
        }
        i += blocks * period;
    }
    for (; i < count; i++) {  // i is a multiple of the period here, so of the channel count
        sum[i % channels] += src[i];
        sum_squares[i % channels] += (double)src[i] * src[i];
    }
}

static inline uint16_t bfloat16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// One destination row; `channels` is a constant where it is inlined, so the channel loop
// becomes whole vectors. Destination pixel x is at out + (x / q) * q * q * channels + (x % q) * channels.
static inline __attribute__((always_inline)) void gather_row(
    const float *source_row, const int64_t *column_offsets, int channels, int width, int q,
    const float *scale, const float *shift, float floor, void *out, int bf16) {
    for (int block = 0; block < width / q; block++) {
        for (int phase = 0; phase < q; phase++) {
            const int x = block * q + phase;
            const float *p = source_row + column_offsets[x];
            const long o = ((long)block * q * q + phase) * channels;
            if (bf16) {
                uint16_t *d = (uint16_t *)out + o;
                for (int c = 0; c < channels; c++) d[c] = bfloat16(fmaxf(p[c] * scale[c] + shift[c], floor));
            } else {
                float *d = (float *)out + o;
                for (int c = 0; c < channels; c++) d[c] = fmaxf(p[c] * scale[c] + shift[c], floor);
            }
        }
    }
}

CLONED void stylize_gather(const float *src, const int64_t *row_offsets, const int64_t *column_offsets, int channels,
                           int row_begin, int row_end, int width, int destination_phases,
                           const float *scale, const float *shift, int relu, void *dst, int bf16) {
    const int q = destination_phases;
    if (channels <= 0 || channels > MAX_CHANNELS || q <= 0 || width % q) return;
    float ones[MAX_CHANNELS], zeros[MAX_CHANNELS];
    if (!scale || !shift) {
        for (int c = 0; c < channels; c++) { ones[c] = 1; zeros[c] = 0; }
        scale = ones;
        shift = zeros;
    }
    const float floor = relu ? 0.0f : -INFINITY;
    const long element = bf16 ? 2 : 4;
    for (int y = row_begin; y < row_end; y++) {
        const float *source_row = src + row_offsets[y];
        // Stored row y / q holds width * q pixels; this row's pixels start at phase row y % q.
        void *out = (char *)dst + ((long)(y / q) * width * q + (long)(y % q) * q) * channels * element;
        switch (channels) {
        case 3: gather_row(source_row, column_offsets, 3, width, q, scale, shift, floor, out, bf16); break;
        case 8: gather_row(source_row, column_offsets, 8, width, q, scale, shift, floor, out, bf16); break;
        case 16: gather_row(source_row, column_offsets, 16, width, q, scale, shift, floor, out, bf16); break;
        case 32: gather_row(source_row, column_offsets, 32, width, q, scale, shift, floor, out, bf16); break;
        default: gather_row(source_row, column_offsets, channels, width, q, scale, shift, floor, out, bf16); break;
        }
    }
}

CLONED void stylize_affine(float *data, long count, int channels, const float *scale, const float *shift) {
    if (channels <= 0 || channels > MAX_CHANNELS) return;
    const long period = period_of(channels);
    float a[MAX_PERIOD], b[MAX_PERIOD];
    for (long k = 0; k < period; k++) { a[k] = scale[k % channels]; b[k] = shift[k % channels]; }
    long i = 0;
    for (; i + period <= count; i += period) {
        float *p = data + i;
        for (long k = 0; k < period; k++) p[k] = p[k] * a[k] + b[k];
    }
    for (; i < count; i++) data[i] = data[i] * scale[i % channels] + shift[i % channels];
}
