// How far the stabilizer can trust the optical flow at each pixel: forward-backward consistency
// and whether the previous luma, moved along it, matches.

#include "StylizeInternal.h"

#include <stdatomic.h>
#include <time.h>

/// Bilinear sample of channel `c` of a `channels`-channel picture at (x, y), clamped to its edges.
/// Offsets are 32-bit (a flow's grid is far smaller than 2^31 values), which vector gathers take
/// twice as many of at once as addresses.
static inline float sample(const float *p, int width, int height, int channels, int c, float x, float y) {
    x = fminf(fmaxf(x, 0), (float)(width - 1));
    y = fminf(fmaxf(y, 0), (float)(height - 1));
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < width ? x0 + 1 : x0, y1 = y0 + 1 < height ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    float a = p[(y0 * width + x0) * channels + c], b = p[(y0 * width + x1) * channels + c];
    float d = p[(y1 * width + x0) * channels + c], e = p[(y1 * width + x1) * channels + c];
    return (a + (b - a) * fx) + ((d + (e - d) * fx) - (a + (b - a) * fx)) * fy;
}

static inline __attribute__((always_inline)) float trust_body(const float *restrict backward, const float *restrict previous, const uint8_t *restrict current,
                                int width, int height, float slack, float luma_tolerance, float *restrict consistency, float *restrict match) {
    // Not contracted into fused multiply-adds, so that every clone gives the same trusts (see
    // `trust_timed`).
#pragma clang fp contract(off)
    long doubtful = 0;
    const float last_x = (float)(width - 1), last_y = (float)(height - 1);
    for (int y = 0; y < height; y++) {
        // Without branches (the samples are clamped to the picture; a position outside it gets
        // no trust), on vectors (the samples are gathers).
#pragma clang loop vectorize(enable)
        for (int x = 0; x < width; x++) {
            long i = (long)y * width + x;
            float bx = backward[2 * i], by = backward[2 * i + 1];
            float px = (float)x + bx, py = (float)y + by;
            int inside = (px >= 0) & (py >= 0) & (px <= last_x) & (py <= last_y);
            // Consistency: the flow where the pixel came from is the flow here. At the edge of
            // a moving object it is not: there the pixel comes out of hiding or goes into it.
            float qx = sample(backward, width, height, 2, 0, px, py), qy = sample(backward, width, height, 2, 1, px, py);
            float ex = bx - qx, ey = by - qy;
            float miss = ex * ex + ey * ey;
            float allowed = 0.01f * (bx * bx + by * by + qx * qx + qy * qy) + slack;
            float ratio = miss / allowed;
            float consistent = ratio <= 0.5f ? 1 : fmaxf(0, 2 - 2 * ratio);
            // The content itself: the previous luma moved here matches the current one.
            float error = fabsf(sample(previous, width, height, 1, 0, px, py) * (1.0f / 255) - current[i] * (1.0f / 255));
            float c = inside ? consistent : 0, m = inside ? fmaxf(0, 1 - error / luma_tolerance) : 0;
            consistency[i] = c;
            match[i] = m;
            doubtful += c * m < 0.1f;
        }
    }
    return (float)doubtful / (float)((long)width * height);
}
STYLIZE_CLONES(STYLIZE_STATIC, float, trust, (const float *restrict backward, const float *restrict previous, const uint8_t *restrict current,
                                int width, int height, float slack, float luma_tolerance, float *restrict consistency, float *restrict match),
               (backward, previous, current, width, height, slack, luma_tolerance, consistency, match))

// `trust` by the clone at `level` (2 AVX-512, 1 AVX2, 0 the baseline), at most the one this
// process runs (`stylize_clone_level`).
static float trust_at(int level, const float *restrict backward, const float *restrict previous, const uint8_t *restrict current, int width,
                      int height, float slack, float luma_tolerance, float *restrict consistency, float *restrict match) {
    const int allowed = stylize_clone_level();
    switch (level < allowed ? level : allowed) {
#if defined(__x86_64__) && defined(__clang__)
    case 2: return trust_avx512(backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
    case 1: return trust_avx2(backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
#endif
    default: return trust_body(backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
    }
}

// Which clone of `trust` runs where AVX-512 is allowed: its AVX-512 clone gathers the samples,
// which some CPUs do slower than the AVX2 clone loads them one at a time (on a Zen 4, 0.60 ms
// against 0.44 for a 320x180 flow). The first `trust_trials` calls alternate the two and time
// them (the fastest call of each, per pixel); the rest take the faster. All clones give the same
// values, so the choice changes only the time.
enum { trust_trials = 8 };
static _Atomic int trust_calls, trust_choice = 1;
static _Atomic long trust_best[2];  // picoseconds per pixel, AVX2 and AVX-512; 0 until timed

static long trust_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)now.tv_sec * 1000000000L + now.tv_nsec;
}

static float trust_timed(const float *restrict backward, const float *restrict previous, const uint8_t *restrict current, int width,
                         int height, float slack, float luma_tolerance, float *restrict consistency, float *restrict match) {
    const int allowed = stylize_clone_level();
    if (allowed < 2) return trust_at(allowed, backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
    // Counted only while timing, so that the count stays small however long the process runs.
    int call = trust_calls;
    if (call < trust_trials) call = atomic_fetch_add(&trust_calls, 1);
    if (call >= trust_trials) return trust_at(trust_choice, backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
    const int level = call % 2 ? 1 : 2;
    const long start = trust_now();
    const float doubtful = trust_at(level, backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
    const long pixels = (long)width * height, per_pixel = (trust_now() - start) * 1000 / (pixels > 0 ? pixels : 1);
    _Atomic long *best = &trust_best[level - 1];
    for (long seen = *best; (seen == 0 || per_pixel < seen) && !atomic_compare_exchange_weak(best, &seen, per_pixel);) {
    }
    if (call == trust_trials - 1) trust_choice = trust_best[1] != 0 && trust_best[1] < trust_best[0] ? 2 : 1;
    return doubtful;
}

// The previous luma as floats (of 0...255), which vector gathers take (they take no bytes), and
// the checks by the clone at `level`, or timed (-1).
static float flow_trust(int level, const float *backward, const uint8_t *previous, const uint8_t *current, int width, int height, float slack,
                        float luma_tolerance, float *consistency, float *match) {
    const long count = (long)width * height;
    float *values = malloc((size_t)count * sizeof(float));
    if (!values) {
        memset(consistency, 0, (size_t)count * sizeof(float));
        memset(match, 0, (size_t)count * sizeof(float));
        return 1;
    }
    for (long i = 0; i < count; i++) values[i] = previous[i];
    const float doubtful = level < 0 ? trust_timed(backward, values, current, width, height, slack, luma_tolerance, consistency, match)
                                     : trust_at(level, backward, values, current, width, height, slack, luma_tolerance, consistency, match);
    free(values);
    return doubtful;
}

float stylize_flow_trust(const float *backward, const uint8_t *previous, const uint8_t *current, int width, int height, float slack,
                         float luma_tolerance, float *consistency, float *match) {
    return flow_trust(-1, backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
}

float stylize_flow_trust_clone(int level, const float *backward, const uint8_t *previous, const uint8_t *current, int width, int height,
                               float slack, float luma_tolerance, float *consistency, float *match) {
    return flow_trust(level < 0 ? 0 : level, backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
}
