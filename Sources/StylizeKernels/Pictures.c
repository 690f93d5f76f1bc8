// Conversions between pictures' layouts and samples (`Picture`, `RGBImage`, the stabilizer's planes).

#include "StylizeInternal.h"

static inline __attribute__((always_inline)) void stylize_interleave_rgb_body(const float *red, const float *green, const float *blue, long plane_stride,
                                   int width, int height, float *dst) {
    for (int y = 0; y < height; y++) {
        const float *r = red + y * plane_stride, *g = green + y * plane_stride, *b = blue + y * plane_stride;
        float *o = dst + (long)y * width * 3;
        for (int x = 0; x < width; x++) {
            o[3 * x] = unit(r[x]);
            o[3 * x + 1] = unit(g[x]);
            o[3 * x + 2] = unit(b[x]);
        }
    }
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_interleave_rgb, (const float *red, const float *green, const float *blue, long plane_stride,
                                   int width, int height, float *dst), (red, green, blue, plane_stride, width, height, dst))

static inline __attribute__((always_inline)) void stylize_planar_rgb_body(const float *src, int width, int height, float *red, float *green, float *blue, long plane_stride) {
    for (int y = 0; y < height; y++) {
        const float *p = src + (long)y * width * 3;
        float *r = red + y * plane_stride, *g = green + y * plane_stride, *b = blue + y * plane_stride;
        for (int x = 0; x < width; x++) {
            r[x] = unit(p[3 * x]);
            g[x] = unit(p[3 * x + 1]);
            b[x] = unit(p[3 * x + 2]);
        }
    }
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_planar_rgb, (const float *src, int width, int height, float *red, float *green, float *blue, long plane_stride), (src, width, height, red, green, blue, plane_stride))

// Conversions between pictures' 16-bit samples and the network's values (`Picture`).

/// `v` clamped to [0, 1], with NaN to 0.
static inline __attribute__((always_inline)) float clamped_unit(float v) {
    const float c = v > 0 ? v : 0;
    return c < 1 ? c : 1;
}

static inline __attribute__((always_inline)) void stylize_samples_from_unit_body(const float *values, long count, uint16_t *samples) {
    for (long i = 0; i < count; i++) samples[i] = (uint16_t)roundf(clamped_unit(values[i]) * 65535.0f);
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_samples_from_unit, (const float *values, long count, uint16_t *samples), (values, count, samples))

static inline __attribute__((always_inline)) void stylize_unit_from_samples_body(const uint16_t *samples, long count, float *values) {
    for (long i = 0; i < count; i++) values[i] = (float)samples[i] / 65535.0f;
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_unit_from_samples, (const uint16_t *samples, long count, float *values), (samples, count, values))

static inline __attribute__((always_inline)) void stylize_bytes_from_samples_body(const uint16_t *samples, long count, uint8_t *bytes) {
    for (long i = 0; i < count; i++) bytes[i] = (uint8_t)(((uint32_t)samples[i] * 255 + 32767) / 65535);
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_bytes_from_samples, (const uint16_t *samples, long count, uint8_t *bytes), (samples, count, bytes))

/// v * a + 65535 * (1 - a) in 16-bit units, rounded: a sample over white.
static inline __attribute__((always_inline)) uint16_t over_white(uint32_t v, uint32_t a) {
    return (uint16_t)((v * a + 65535 * (65535 - a) + 32767) / 65535);
}

static inline __attribute__((always_inline)) void stylize_samples_over_white_body(const void *rgba, int deep, long pixels, uint16_t *samples) {
    if (deep) {
        const uint16_t *p = rgba;
        for (long i = 0; i < pixels; i++)
            for (int c = 0; c < 3; c++) samples[3 * i + c] = over_white(p[4 * i + c], p[4 * i + 3]);
    } else {
        const uint8_t *p = rgba;
        for (long i = 0; i < pixels; i++)
            for (int c = 0; c < 3; c++) samples[3 * i + c] = over_white(p[4 * i + c] * 257u, p[4 * i + 3] * 257u);
    }
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_samples_over_white, (const void *rgba, int deep, long pixels, uint16_t *samples), (rgba, deep, pixels, samples))
