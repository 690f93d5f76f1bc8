#ifndef STYLIZE_INTERNAL_H
#define STYLIZE_INTERNAL_H

// What the kernels' files share: the OpenMP team they run on (Parallel.c), the function clones
// (StylizeCloned.h), and the inline helpers that load and store f32, bf16 and bytes, and gather
// a row into the network's padded layouts.

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "StylizeCloned.h"
#include "StylizeKernels.h"
#include "StylizeQuantized.h"

/// Threads a parallel region gets (1 without libgomp, and in sanitizer builds).
int stylize_team_size(void);

/// run(job, begin, end, thread) over [0, count) split into contiguous ranges, one per thread.
void stylize_parallel_for(long count, void (*run)(const void *, long, long, int), const void *job);

enum { MAX_CHANNELS = 64, MAX_PERIOD = MAX_CHANNELS * 16 };

/// The shortest run of values that holds whole pixels and whole 16-float vectors.
static long period_of(int channels) {
    int a = channels, b = 16;
    while (b) { int t = a % b; a = b; b = t; }
    return (long)channels * 16 / a;
}

static inline float from_bfloat16(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/// Element i of an f32 or bf16 buffer; `bf16` is a constant where this is inlined.
static inline __attribute__((always_inline)) float load(const void *p, long i, int bf16) {
    return bf16 ? from_bfloat16(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static inline uint16_t bfloat16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// Eight channels at a time, as clang vectors: the loop vectorizer leaves the bf16 conversions
// of short channel loops scalar.
typedef float f32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));

// Vectors travel by pointer: passing them by value would depend on the clone's instruction set.
static inline __attribute__((always_inline)) void load8(f32x8 *v, const void *p, long i, const int bf16) {
    if (bf16) {
        u16x8 h;
        memcpy(&h, (const uint16_t *)p + i, sizeof h);
        const u32x8 bits = __builtin_convertvector(h, u32x8) << 16;
        memcpy(v, &bits, sizeof *v);
    } else {
        memcpy(v, (const float *)p + i, sizeof *v);
    }
}

typedef uint8_t u8x8 __attribute__((vector_size(8)));

/// Bytes per element of a destination type (STYLIZE_F32, STYLIZE_BF16, STYLIZE_U8).
static inline __attribute__((always_inline)) long element_size(const int type) { return type == STYLIZE_U8 ? 1 : type == STYLIZE_BF16 ? 2 : 4; }

/// `v` rounded to the nearest integer (ties to even, as ONNX's QuantizeLinear) and clamped to 0...255.
static inline __attribute__((always_inline)) uint8_t byte_of(float v) {
    return (uint8_t)__builtin_roundevenf(v < 0 ? 0 : v > 255 ? 255 : v);
}

static inline __attribute__((always_inline)) void store8(void *p, long i, const f32x8 *v, const int bf16) {
    if (bf16 == STYLIZE_U8) {
        const f32x8 zero = {0, 0, 0, 0, 0, 0, 0, 0}, top = {255, 255, 255, 255, 255, 255, 255, 255};
        const f32x8 r = __builtin_elementwise_roundeven(__builtin_elementwise_min(__builtin_elementwise_max(*v, zero), top));
        const u8x8 b = __builtin_convertvector(r, u8x8);
        memcpy((uint8_t *)p + i, &b, sizeof b);
    } else if (bf16) {
        u32x8 bits;
        memcpy(&bits, v, sizeof bits);
        bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;  // round to nearest even, as bfloat16()
        const u16x8 h = __builtin_convertvector(bits, u16x8);
        memcpy((uint16_t *)p + i, &h, sizeof h);
    } else {
        memcpy((float *)p + i, v, sizeof *v);
    }
}

// One pixel of a gather, value by value: source values at p, destination values at o.
static inline __attribute__((always_inline)) void gather_pixel(const void *src, long p, const int channels, const float *scale,
                                                               const float *shift, float floor, void *out, long o,
                                                               const int source_bf16, const int bf16) {
    if (bf16 == STYLIZE_U8) {
        uint8_t *d = (uint8_t *)out + o;
        for (int c = 0; c < channels; c++) d[c] = byte_of(fmaxf(load(src, p + c, source_bf16) * scale[c] + shift[c], floor));
    } else if (bf16) {
        uint16_t *d = (uint16_t *)out + o;
        for (int c = 0; c < channels; c++) d[c] = bfloat16(fmaxf(load(src, p + c, source_bf16) * scale[c] + shift[c], floor));
    } else {
        float *d = (float *)out + o;
        for (int c = 0; c < channels; c++) d[c] = fmaxf(load(src, p + c, source_bf16) * scale[c] + shift[c], floor);
    }
}

// One destination row. `channels` and the element types are constants where this is inlined.
// Destination pixel x is at out + (x / q) * q * q * channels + (x % q) * channels.
static inline __attribute__((always_inline)) void gather_row(
    const void *src, long row_offset, const int64_t *column_offsets, const int channels, int width, int q,
    const float *scale, const float *shift, float floor, void *out, const int source_bf16, const int bf16) {
    if (channels % 8 == 0) {
        f32x8 a[MAX_CHANNELS / 8], b[MAX_CHANNELS / 8];
        const f32x8 low = {floor, floor, floor, floor, floor, floor, floor, floor};
        for (int k = 0; k < channels / 8; k++) {
            memcpy(&a[k], scale + 8 * k, sizeof a[k]);
            memcpy(&b[k], shift + 8 * k, sizeof b[k]);
        }
        for (int block = 0; block < width / q; block++) {
            for (int phase = 0; phase < q; phase++) {
                const long p = row_offset + column_offsets[block * q + phase];
                const long o = ((long)block * q * q + phase) * channels;
                for (int k = 0; k < channels / 8; k++) {
                    f32x8 v;
                    load8(&v, src, p + 8 * k, source_bf16);
                    v = __builtin_elementwise_max(v * a[k] + b[k], low);
                    store8(out, o + 8 * k, &v, bf16);
                }
            }
        }
        return;
    }
    if (channels == 3 && (q == 1 || q == 4)) {
        // RGB pictures in and out of the network: four pixels at a time, whose 12 values are
        // contiguous in the destination (one stored pixel's row of phases, or four pixels) and,
        // away from the padding, in the source: as two overlapping vectors, values 0-7 and 4-11.
        f32x8 a0, b0, a1, b1;
        const f32x8 low = {floor, floor, floor, floor, floor, floor, floor, floor};
        for (int k = 0; k < 8; k++) {
            a0[k] = scale[k % 3], b0[k] = shift[k % 3];
            a1[k] = scale[(k + 4) % 3], b1[k] = shift[(k + 4) % 3];
        }
        int x = 0;
        for (; x + 4 <= width; x += 4) {
            const int64_t *c = column_offsets + x;
            const long p = row_offset + c[0], o = (long)x * q * 3;
            if (c[1] == c[0] + 3 && c[2] == c[0] + 6 && c[3] == c[0] + 9) {
                f32x8 v, w;
                load8(&v, src, p, source_bf16);
                load8(&w, src, p + 4, source_bf16);
                v = __builtin_elementwise_max(v * a0 + b0, low);
                w = __builtin_elementwise_max(w * a1 + b1, low);
                store8(out, o, &v, bf16);
                store8(out, o + 4, &w, bf16);
            } else {
                for (int k = 0; k < 4; k++) gather_pixel(src, row_offset + c[k], 3, scale, shift, floor, out, o + 3 * k, source_bf16, bf16);
            }
        }
        for (; x < width; x++) gather_pixel(src, row_offset + column_offsets[x], 3, scale, shift, floor, out, 3L * x, source_bf16, bf16);
        return;
    }
    for (int block = 0; block < width / q; block++) {
        for (int phase = 0; phase < q; phase++) {
            gather_pixel(src, row_offset + column_offsets[block * q + phase], channels, scale, shift, floor, out,
                         ((long)block * q * q + phase) * channels, source_bf16, bf16);
        }
    }
}

/// `v` clamped to [0, 1].
static inline __attribute__((always_inline)) float unit(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

#endif
