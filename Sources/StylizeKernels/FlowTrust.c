// How far the stabilizer can trust the optical flow at each pixel: forward-backward consistency
// and whether the previous luma, moved along it, matches.

#include "StylizeInternal.h"

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#endif


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

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx512f"))) static float trust_avx512(const float *restrict backward, const float *restrict previous,
                                                             const uint8_t *restrict current, int width, int height, float slack,
                                                             float luma_tolerance, float *restrict consistency, float *restrict match) {
    return trust_body(backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
}

// Values 0...15 of a window of 16 (`low`, `high`) at `index`; `upper`: where the index is 8 or more.
__attribute__((target("avx2"), always_inline)) static inline __m256 pick_16(__m256 low, __m256 high, __m256i index, __m256 upper) {
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(low, index), _mm256_permutevar8x32_ps(high, index), upper);
}

// The two channels of 8 pixels of a 2-channel picture, from the 16 values at `at`.
__attribute__((target("avx2"), always_inline)) static inline void split_pairs(const float *at, __m256 *first, __m256 *second) {
    const __m256 a = _mm256_loadu_ps(at), b = _mm256_loadu_ps(at + 8);
    // Within each half: pixels 0, 1, 4, 5 of the first half, then 2, 3, 6, 7; put in order by 64-bit pairs.
    *first = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
    *second = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
}

// `sample`'s blend of the four samples around 8 places: a, b on the upper row, d, e on the lower.
__attribute__((target("avx2"), always_inline)) static inline __m256 bilinear_8(__m256 a, __m256 b, __m256 d, __m256 e, __m256 fx, __m256 fy) {
    const __m256 upper = _mm256_add_ps(a, _mm256_mul_ps(_mm256_sub_ps(b, a), fx));
    const __m256 lower = _mm256_add_ps(d, _mm256_mul_ps(_mm256_sub_ps(e, d), fx));
    return _mm256_add_ps(upper, _mm256_mul_ps(_mm256_sub_ps(lower, upper), fy));
}

// `trust_body` for AVX2, 8 pixels at a time, with the same operations in the same order, so the
// same values. A flow is smooth: where 8 neighbouring pixels sample one pair of rows within 16
// pixels, each row's samples come from two or four loads, picked by permutes, rather than one
// lane at a time (as the vectorizer compiles the body for AVX2) or by gathers (AVX-512), which
// wait on every sample's load. Elsewhere (the picture's edges, the flow's breaks) it gathers.
__attribute__((target("avx2"))) static float trust_avx2(const float *restrict backward, const float *restrict previous,
                                                        const uint8_t *restrict current, int width, int height, float slack,
                                                        float luma_tolerance, float *restrict consistency, float *restrict match) {
    if (width < 16) return trust_body(backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1), last_x = _mm256_set1_ps((float)(width - 1)),
                 last_y = _mm256_set1_ps((float)(height - 1)), lanes = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i ones = _mm256_set1_epi32(1), sevens = _mm256_set1_epi32(7), widths = _mm256_set1_epi32(width),
                  last_column = _mm256_set1_epi32(width - 1), last_row = _mm256_set1_epi32(height - 1), lane_numbers = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    long doubtful = 0;
    for (int y = 0; y < height; y++) {
        // The last 8 pixels of a row whose width is no multiple of 8 overlap the 8 before them,
        // whose pixels are not counted again.
        for (int block = 0; block < width; block += 8) {
            const int x = block + 8 <= width ? block : width - 8;
            const long i = (long)y * width + x;
            __m256 bx, by;
            split_pairs(backward + 2 * i, &bx, &by);
            const __m256 px = _mm256_add_ps(_mm256_add_ps(_mm256_set1_ps((float)x), lanes), bx), py = _mm256_add_ps(_mm256_set1_ps((float)y), by);
            const __m256 inside = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(px, zero, _CMP_GE_OQ), _mm256_cmp_ps(py, zero, _CMP_GE_OQ)),
                                                _mm256_and_ps(_mm256_cmp_ps(px, last_x, _CMP_LE_OQ), _mm256_cmp_ps(py, last_y, _CMP_LE_OQ)));
            // Held to the picture, a place that is no number at 0 (as `sample`).
            const __m256 sx = _mm256_min_ps(_mm256_max_ps(px, zero), last_x), sy = _mm256_min_ps(_mm256_max_ps(py, zero), last_y);
            const __m256i x0 = _mm256_cvttps_epi32(sx), y0 = _mm256_cvttps_epi32(sy);
            const __m256 fx = _mm256_sub_ps(sx, _mm256_cvtepi32_ps(x0)), fy = _mm256_sub_ps(sy, _mm256_cvtepi32_ps(y0));
            const int first_x = _mm256_cvtsi256_si32(x0), first_y = _mm256_cvtsi256_si32(y0), start = first_x - 1;
            const __m256i offsets = _mm256_sub_epi32(x0, _mm256_set1_epi32(start)), next = _mm256_add_epi32(offsets, ones);
            const int one_row = _mm256_movemask_epi8(_mm256_cmpeq_epi32(y0, _mm256_set1_epi32(first_y))) == -1 && first_y + 1 < height;
            const int near = _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_min_epu32(offsets, _mm256_set1_epi32(14)), offsets)) == -1;
            __m256 q[2][4], p[4];  // the samples around each place: flow channels, luma; a, b, d, e
            if (one_row && near && start >= 0 && start + 16 <= width) {
                const __m256 upper_a = _mm256_castsi256_ps(_mm256_cmpgt_epi32(offsets, sevens)), upper_b = _mm256_castsi256_ps(_mm256_cmpgt_epi32(next, sevens));
                for (int r = 0; r < 2; r++) {
                    const long at = (long)(first_y + r) * width + start;
                    const __m256 low = _mm256_loadu_ps(previous + at), high = _mm256_loadu_ps(previous + at + 8);
                    p[2 * r] = pick_16(low, high, offsets, upper_a), p[2 * r + 1] = pick_16(low, high, next, upper_b);
                    __m256 low_x, low_y, high_x, high_y;
                    split_pairs(backward + 2 * at, &low_x, &low_y);
                    split_pairs(backward + 2 * (at + 8), &high_x, &high_y);
                    q[0][2 * r] = pick_16(low_x, high_x, offsets, upper_a), q[0][2 * r + 1] = pick_16(low_x, high_x, next, upper_b);
                    q[1][2 * r] = pick_16(low_y, high_y, offsets, upper_a), q[1][2 * r + 1] = pick_16(low_y, high_y, next, upper_b);
                }
            } else {
                const __m256i x1 = _mm256_min_epi32(_mm256_add_epi32(x0, ones), last_column), y1 = _mm256_min_epi32(_mm256_add_epi32(y0, ones), last_row);
                const __m256i upper = _mm256_mullo_epi32(y0, widths), lower = _mm256_mullo_epi32(y1, widths);
                const __m256i at[4] = {_mm256_add_epi32(upper, x0), _mm256_add_epi32(upper, x1), _mm256_add_epi32(lower, x0), _mm256_add_epi32(lower, x1)};
                for (int k = 0; k < 4; k++) {
                    p[k] = _mm256_i32gather_ps(previous, at[k], 4);
                    q[0][k] = _mm256_i32gather_ps(backward, _mm256_add_epi32(at[k], at[k]), 4);
                    q[1][k] = _mm256_i32gather_ps(backward + 1, _mm256_add_epi32(at[k], at[k]), 4);
                }
            }
            const __m256 qx = bilinear_8(q[0][0], q[0][1], q[0][2], q[0][3], fx, fy), qy = bilinear_8(q[1][0], q[1][1], q[1][2], q[1][3], fx, fy);
            const __m256 ex = _mm256_sub_ps(bx, qx), ey = _mm256_sub_ps(by, qy);
            const __m256 miss = _mm256_add_ps(_mm256_mul_ps(ex, ex), _mm256_mul_ps(ey, ey));
            const __m256 squares = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(bx, bx), _mm256_mul_ps(by, by)), _mm256_mul_ps(qx, qx)),
                                                 _mm256_mul_ps(qy, qy));
            const __m256 allowed = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(0.01f), squares), _mm256_set1_ps(slack));
            const __m256 ratio = _mm256_div_ps(miss, allowed);
            const __m256 consistent = _mm256_blendv_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_set1_ps(2), _mm256_mul_ps(_mm256_set1_ps(2), ratio)), zero), one,
                                                       _mm256_cmp_ps(ratio, _mm256_set1_ps(0.5f), _CMP_LE_OQ));
            const __m256 now = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(current + i))));
            const __m256 moved = bilinear_8(p[0], p[1], p[2], p[3], fx, fy);
            const __m256 error = _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_mul_ps(moved, _mm256_set1_ps(1.0f / 255)), _mm256_mul_ps(now, _mm256_set1_ps(1.0f / 255))));
            const __m256 c = _mm256_and_ps(inside, consistent);
            const __m256 m = _mm256_and_ps(inside, _mm256_max_ps(_mm256_sub_ps(one, _mm256_div_ps(error, _mm256_set1_ps(luma_tolerance))), zero));
            _mm256_storeu_ps(consistency + i, c);
            _mm256_storeu_ps(match + i, m);
            const __m256i counted = _mm256_cmpgt_epi32(lane_numbers, _mm256_set1_epi32(block - x - 1));
            const __m256 low = _mm256_and_ps(_mm256_cmp_ps(_mm256_mul_ps(c, m), _mm256_set1_ps(0.1f), _CMP_LT_OQ), _mm256_castsi256_ps(counted));
            doubtful += __builtin_popcount((unsigned)_mm256_movemask_ps(low));
        }
    }
    return (float)doubtful / (float)((long)width * height);
}
#endif

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

// Which clone of `trust` runs where AVX-512 is allowed is timed (`stylize_timed_level`): its
// AVX-512 clone gathers the samples, which some CPUs do slower than the AVX2 clone takes them (on
// a Zen 4, 0.60 ms against 0.44 for a 320x180 flow while the AVX2 clone still loaded them one at a
// time). All clones give the same values, so the choice changes only the time.
static float trust_timed(const float *restrict backward, const float *restrict previous, const uint8_t *restrict current, int width,
                         int height, float slack, float luma_tolerance, float *restrict consistency, float *restrict match) {
    int trial;
    const int level = stylize_timed_level(STYLIZE_TIMED_TRUST, &trial);
    const long start = trial >= 0 ? stylize_now() : 0;
    const float doubtful = trust_at(level, backward, previous, current, width, height, slack, luma_tolerance, consistency, match);
    if (trial >= 0) stylize_timed_report(STYLIZE_TIMED_TRUST, trial, level, stylize_now() - start, (long)width * height);
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
