// The stabilizer's blend: the previous output moved along the flow and blended into the current
// frame by trust, with its kernels compiled for AVX-512, AVX2 and the baseline.

#include "FlowInternal.h"
#include "StylizeCloned.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <type_traits>

#include <opencv2/imgproc.hpp>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The blend runs over each plane in stripes of rows that stay in cache: for a stripe, the rows
// it needs around it (the two blurs' reach) are moved along the flow and differenced, blurred,
// blended and measured, and only three float values per sample are kept for the whole plane
// until the frame's limit and detail gain are known (see `plane_state`).

namespace {

// Rows per stripe.
constexpr int stripe_rows = 32;
// How far apart the rows are that `blend_plane` measures the raised bands on: odd and prime to 8,
// so that they fall on every row of a codec's blocks and on both fields of interlaced footage
// (every 4th row, always the same rows of each block, kept up to 0.01 less fine detail on three
// H.264 clips than every row; every 5th kept what every row did to 0.004).
constexpr int raised_every = 5;
// A Gaussian is cut off at this many sigmas (where it falls to an eighth of its peak; it keeps 95%
// of its weight) and at most this radius.
constexpr double gaussian_reach = 2;
constexpr int gaussian_most = 12;
// The side of the tiles the detail gain is set on, in the frame's pixels (about: a frame has a
// whole number of them across and down, the same in every plane).
constexpr int detail_tile = 32;

// Where tile `t` of `count` over `size` samples starts, and the tile sample `at` is in.
int tile_start(int t, int count, int size) {
    return (int)((long)t * size / count);
}

int tile_of(int at, int count, int size) {
    return (int)(((long)(at + 1) * count - 1) / size);
}

// A Gaussian's taps, from -radius to radius, summing to 1.
struct gaussian {
    int radius = 0;
    float taps[2 * gaussian_most + 1] = {1};
    explicit gaussian(double sigma) {
        if (!(sigma > 0)) return;
        radius = std::min(gaussian_most, std::max(1, (int)std::ceil(gaussian_reach * sigma)));
        double sum = 0;
        for (int j = -radius; j <= radius; j++) sum += std::exp(-0.5 * j * j / (sigma * sigma));
        for (int j = -radius; j <= radius; j++) taps[j + radius] = (float)(std::exp(-0.5 * j * j / (sigma * sigma)) / sum);
    }
};

// Where a row or column of a plane falls on the flow's grid (centres aligned, edges held, as
// OpenCV's bilinear resize places it): the two grid lines around it and the second one's weight.
struct grid_place {
    int first, second;
    float weight;
};

grid_place place_on_grid(int index, int size, int grid) {
    const float at = ((float)index + 0.5f) * (float)grid / (float)size - 0.5f;
    int first = (int)std::floor(at);
    float weight = at - (float)first;
    if (first < 0) first = 0, weight = 0;
    if (first >= grid - 1) first = grid - 1, weight = 0;
    return {first, std::min(first + 1, grid - 1), weight};
}

}  // namespace

// The kernels of the blend, each compiled for AVX-512, AVX2 and the baseline (StylizeCloned.h).

// Rows blurred down (or a row across, see `blur_row`): out[i] = sum over j of taps[j] *
// rows[j][i], j = 0...width - 1, added up in that order. The common widths are unrolled, so that
// each sum stays in a register rather than passing over `out` once per row.
template <int width> static inline __attribute__((always_inline)) void blur_down_fixed(const float *const *rows, long count, const float *taps,
                                                                                      float *__restrict out) {
    for (long i = 0; i < count; i++) {
        float sum = taps[0] * rows[0][i];
#pragma clang loop unroll(full)
        for (int j = 1; j < width; j++) sum += taps[j] * rows[j][i];
        out[i] = sum;
    }
}

static inline __attribute__((always_inline)) void blur_down_body(const float *const *rows, long count, const float *taps, int width,
                                                                 float *__restrict out) {
    switch (width) {
    case 3: return blur_down_fixed<3>(rows, count, taps, out);
    case 5: return blur_down_fixed<5>(rows, count, taps, out);
    case 7: return blur_down_fixed<7>(rows, count, taps, out);
    case 9: return blur_down_fixed<9>(rows, count, taps, out);
    }
    for (long i = 0; i < count; i++) out[i] = taps[0] * rows[0][i];
    for (int j = 1; j < width; j++) {
        const float tap = taps[j];
        const float *from = rows[j];
        for (long i = 0; i < count; i++) out[i] += tap * from[i];
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, blur_down, (const float *const *rows, long count, const float *taps, int width, float *__restrict out),
               (rows, count, taps, width, out))

// A row of the flow and its trusts across the plane (`across`: dx, dy, trust and sure trust,
// `width` values each) from a row of the flow's grid (`low`, the same four, `grid` values each):
// each sample between the two grid columns `first[x]` and `second[x]`, `weight[x]` of the way.
static inline __attribute__((always_inline)) void across_row_body(const float *low, int grid, const int *first, const int *second,
                                                                  const float *weight, int width, float *__restrict across) {
    for (int k = 0; k < 4; k++) {
        const float *from = low + (long)k * grid;
        float *to = across + (long)k * width;
        for (int x = 0; x < width; x++) to[x] = from[first[x]] + weight[x] * (from[second[x]] - from[first[x]]);
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, across_row,
               (const float *low, int grid, const int *first, const int *second, const float *weight, int width, float *__restrict across),
               (low, grid, first, second, weight, width, across))

// `across_row` for a plane twice the grid's width (the luma of a frame whose flow is measured
// at half size), where the places repeat every two samples: sample 2k is 3/4 of the way from
// grid column k - 1 to k, sample 2k + 1 a quarter of the way from k to k + 1 (`place_on_grid`),
// the edges held. The same values, read in order rather than gathered.
static inline __attribute__((always_inline)) void across_twice_body(const float *low, int grid, float *__restrict across) {
    for (int k = 0; k < 4; k++) {
        const float *from = low + (long)k * grid;
        float *to = across + (long)k * 2 * grid;
        to[0] = from[0];
        for (int x = 1; x < grid; x++) {
            to[2 * x] = from[x - 1] + 0.75f * (from[x] - from[x - 1]);
            to[2 * x - 1] = from[x - 1] + 0.25f * (from[x] - from[x - 1]);
        }
        to[2 * grid - 1] = from[grid - 1];
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, across_twice, (const float *low, int grid, float *__restrict across), (low, grid, across))

// A row of the flow's grid between two of its rows (`top`, `bottom`), `weight` of the way down:
// the flow's (dx, dy) pairs (`flow_top`, `flow_bottom`) into two rows of `grid` values, then the
// two trusts, one row each (`low`, as `across_row` takes it). Not contracted into fused
// multiply-adds, so that every instruction set gives the same places.
static inline __attribute__((always_inline)) void grid_row_body(const float *flow_top, const float *flow_bottom, const float *trust_top,
                                                                const float *trust_bottom, const float *sure_top, const float *sure_bottom,
                                                                float weight, int grid, float *__restrict low) {
#pragma clang fp contract(off)
    for (int x = 0; x < grid; x++)
        for (int k = 0; k < 2; k++) low[k * grid + x] = flow_top[2 * x + k] + weight * (flow_bottom[2 * x + k] - flow_top[2 * x + k]);
    for (int x = 0; x < grid; x++) low[2 * grid + x] = trust_top[x] + weight * (trust_bottom[x] - trust_top[x]);
    for (int x = 0; x < grid; x++) low[3 * grid + x] = sure_top[x] + weight * (sure_bottom[x] - sure_top[x]);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, grid_row,
               (const float *flow_top, const float *flow_bottom, const float *trust_top, const float *trust_bottom, const float *sure_top,
                const float *sure_bottom, float weight, int grid, float *__restrict low),
               (flow_top, flow_bottom, trust_top, trust_bottom, sure_top, sure_bottom, weight, grid, low))

// An 8-bit row to floats, and floats (at least 0) back to bytes, rounded.
static inline __attribute__((always_inline)) void bytes_to_floats_body(const uint8_t *in, long count, float *__restrict out) {
    for (long i = 0; i < count; i++) out[i] = (float)in[i];
}
STYLIZE_CLONES(STYLIZE_STATIC, void, bytes_to_floats, (const uint8_t *in, long count, float *__restrict out), (in, count, out))

static inline __attribute__((always_inline)) void floats_to_bytes_body(const float *in, long count, uint8_t *__restrict out) {
    for (long i = 0; i < count; i++) out[i] = (uint8_t)(in[i] + 0.5f);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, floats_to_bytes, (const float *in, long count, uint8_t *__restrict out), (in, count, out))

// Where one sample of a row was in the previous frame, from the row's flow (`across`, see
// `across_row`) scaled to the plane (`scale_x`, `scale_y`: its pixels per grid cell), with its
// trusts (none where it comes from outside the plane) and its bicubic weights (OpenCV's: a =
// -0.75) at that place held inside the plane.
struct source_place {
    int x, y;
    float across[4], down[4], trust, fine;
};

static inline __attribute__((always_inline)) void cubic_weights(float t, float *w) {
    const float a = -0.75f, u = 1 - t;
    w[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
    w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    w[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
    w[3] = 1 - w[0] - w[1] - w[2];
}

static inline __attribute__((always_inline)) source_place locate(const float *across, int width, int x, int row, int last_x, int last_y,
                                                                 float scale_x, float scale_y, float fine_trust, float fine_maximum) {
    const float *dx = across, *dy = across + width, *t = across + 2 * width, *sure = across + 3 * width;
    const float px = (float)x + dx[x] * scale_x, py = (float)row + dy[x] * scale_y;
    const bool inside = px >= 0 && py >= 0 && px <= (float)last_x && py <= (float)last_y;
    source_place place;
    place.trust = inside ? t[x] : 0;
    place.fine = inside ? std::min(fine_maximum, fine_trust * sure[x]) : 0;
    // Written so that a place that is no number lands at 0.
    const float cx = px > 0 ? (px < (float)last_x ? px : (float)last_x) : 0, cy = py > 0 ? (py < (float)last_y ? py : (float)last_y) : 0;
    place.x = (int)cx, place.y = (int)cy;
    cubic_weights(cx - (float)place.x, place.across);
    cubic_weights(cy - (float)place.y, place.down);
    return place;
}

// One row of an 8-bit plane of one channel moved along the flow (`moved`, floats held to
// 0...maximum), with each sample's trusts. `padded`: the previous output with 2 samples held
// beyond each edge, rows `stride` bytes apart, so that the 4 x 4 samples around any place inside
// the plane are there (each row's 4 read at once, at 32-bit offsets, which gather twice as many
// lanes at once as addresses do). The baseline's kernel (`warp_row_bytes_baseline`).
static inline __attribute__((always_inline)) void warp_row_bytes_body(const uint8_t *padded, int stride, const float *across, int width, int row,
                                                                      int last_x, int last_y, float scale_x, float scale_y, float fine_trust,
                                                                      float fine_maximum, float maximum, float *__restrict moved,
                                                                      float *__restrict trust, float *__restrict fine) {
    // Not contracted into fused multiply-adds, so that every kernel gives the same values (see
    // `warp_row_bytes`).
#pragma clang fp contract(off)
    // Vectorized even where the cost model advises against it: twice as fast.
#pragma clang loop vectorize(enable)
    for (int x = 0; x < width; x++) {
        const source_place place = locate(across, width, x, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum);
        const int at = (place.y + 1) * stride + place.x + 1;
        float sum = 0;
        for (int j = 0; j < 4; j++) {
            uint32_t four;
            std::memcpy(&four, padded + (at + j * stride), 4);
            sum += place.down[j] * (place.across[0] * (float)(four & 255) + place.across[1] * (float)((four >> 8) & 255) +
                                    place.across[2] * (float)((four >> 16) & 255) + place.across[3] * (float)(four >> 24));
        }
        moved[x] = std::min(std::max(sum, 0.0f), maximum);
        trust[x] = place.trust;
        fine[x] = place.fine;
    }
}

static __attribute__((noinline)) void warp_row_bytes_baseline(const uint8_t *padded, int stride, const float *across, int width, int row,
                                                               int last_x, int last_y, float scale_x, float scale_y, float fine_trust,
                                                               float fine_maximum, float maximum, float *__restrict moved, float *__restrict trust,
                                                               float *__restrict fine) {
    warp_row_bytes_body(padded, stride, across, width, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum, maximum, moved, trust, fine);
}

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx512f"))) static void warp_row_bytes_avx512(const uint8_t *padded, int stride, const float *across, int width, int row,
                                                                     int last_x, int last_y, float scale_x, float scale_y, float fine_trust,
                                                                     float fine_maximum, float maximum, float *__restrict moved,
                                                                     float *__restrict trust, float *__restrict fine) {
    warp_row_bytes_body(padded, stride, across, width, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum, maximum, moved, trust, fine);
}
#endif

#if defined(__x86_64__) && defined(__clang__)
// `cubic_weights` of 8 places at once.
__attribute__((target("avx2"), always_inline)) static inline void cubic_weights_8(__m256 t, __m256 *w) {
    const __m256 one = _mm256_set1_ps(1), a = _mm256_set1_ps(-0.75f), a2 = _mm256_set1_ps(-0.75f + 2), a3 = _mm256_set1_ps(-0.75f + 3);
    const __m256 t1 = _mm256_add_ps(t, one), u = _mm256_sub_ps(one, t);
    const __m256 w0 = _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(a, t1), _mm256_set1_ps(5 * -0.75f)), t1);
    w[0] = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(w0, _mm256_set1_ps(8 * -0.75f)), t1), _mm256_set1_ps(4 * -0.75f));
    w[1] = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(a2, t), a3), t), t), one);
    w[2] = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(a2, u), a3), u), u), one);
    w[3] = _mm256_sub_ps(_mm256_sub_ps(_mm256_sub_ps(one, w[0]), w[1]), w[2]);
}

// One row of the taps of 8 places (`four`: each place's 4 bytes) weighted across by `w`.
__attribute__((target("avx2"), always_inline)) static inline __m256 taps_8(__m256i four, const __m256 *w) {
    const __m256i low_byte = _mm256_set1_epi32(255);
    const __m256 b0 = _mm256_cvtepi32_ps(_mm256_and_si256(four, low_byte));
    const __m256 b1 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(four, 8), low_byte));
    const __m256 b2 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(four, 16), low_byte));
    const __m256 b3 = _mm256_cvtepi32_ps(_mm256_srli_epi32(four, 24));
    return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(w[0], b0), _mm256_mul_ps(w[1], b1)), _mm256_mul_ps(w[2], b2)), _mm256_mul_ps(w[3], b3));
}

// `warp_row_bytes_body` for AVX2 and AVX-512 machines, 8 samples at a time, with the same
// operations in the same order, so the same values (neither contracts into fused multiply-adds).
// A flow is smooth: where 8 neighbouring samples come from one row of the previous output, within
// 16 bytes of it, each row of their 4 x 4 taps is one 16-byte load spread to the samples by a
// byte shuffle. Elsewhere (the plane's edges, the flow's breaks) the taps are gathered. With every
// tap gathered or loaded one lane at a time, as the vectorizer compiles the body, the warp took
// 1.4 ms of the blend's 3.4 at 640x360 on a Zen 3, waiting on its loads; this way 1.0 ms.
__attribute__((target("avx2"))) static void warp_row_bytes_avx2(const uint8_t *padded, int stride, const float *across, int width, int row,
                                                                int last_x, int last_y, float scale_x, float scale_y, float fine_trust,
                                                                float fine_maximum, float maximum, float *__restrict moved,
                                                                float *__restrict trust, float *__restrict fine) {
    const float *dx = across, *dy = across + width, *t = across + 2 * width, *sure = across + 3 * width;
    const __m256 zero = _mm256_setzero_ps(), lx = _mm256_set1_ps((float)last_x), ly = _mm256_set1_ps((float)last_y);
    const __m256i strides = _mm256_set1_epi32(stride), ones = _mm256_set1_epi32(1);
    // A sample's 4 bytes from its offset in the 16 loaded: the offset's low byte in each, plus 0...3.
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
    const __m256i steps = _mm256_set1_epi32(0x03020100);
    if (width < 8)
        return warp_row_bytes_baseline(padded, stride, across, width, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum, maximum, moved,
                                       trust, fine);
    // The last 8 samples of a row whose width is no multiple of 8 overlap the 8 before them.
    for (int block = 0; block < width; block += 8) {
        const int x = std::min(block, width - 8);
        const __m256 xs = _mm256_add_ps(_mm256_set1_ps((float)x), _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 px = _mm256_add_ps(xs, _mm256_mul_ps(_mm256_loadu_ps(dx + x), _mm256_set1_ps(scale_x)));
        const __m256 py = _mm256_add_ps(_mm256_set1_ps((float)row), _mm256_mul_ps(_mm256_loadu_ps(dy + x), _mm256_set1_ps(scale_y)));
        const __m256 inside = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(px, zero, _CMP_GE_OQ), _mm256_cmp_ps(py, zero, _CMP_GE_OQ)),
                                            _mm256_and_ps(_mm256_cmp_ps(px, lx, _CMP_LE_OQ), _mm256_cmp_ps(py, ly, _CMP_LE_OQ)));
        _mm256_storeu_ps(trust + x, _mm256_and_ps(inside, _mm256_loadu_ps(t + x)));
        const __m256 sure_fine = _mm256_mul_ps(_mm256_set1_ps(fine_trust), _mm256_loadu_ps(sure + x));
        _mm256_storeu_ps(fine + x, _mm256_and_ps(inside, _mm256_min_ps(sure_fine, _mm256_set1_ps(fine_maximum))));
        // Held inside the plane, a place that is no number at 0 (as `locate`).
        const __m256 cx = _mm256_and_ps(_mm256_min_ps(px, lx), _mm256_cmp_ps(px, zero, _CMP_GT_OQ));
        const __m256 cy = _mm256_and_ps(_mm256_min_ps(py, ly), _mm256_cmp_ps(py, zero, _CMP_GT_OQ));
        const __m256i ix = _mm256_cvttps_epi32(cx), iy = _mm256_cvttps_epi32(cy);
        __m256 wx[4], wy[4];
        cubic_weights_8(_mm256_sub_ps(cx, _mm256_cvtepi32_ps(ix)), wx);
        cubic_weights_8(_mm256_sub_ps(cy, _mm256_cvtepi32_ps(iy)), wy);
        // The 16 bytes from 2 before the first sample's leftmost tap, on the first sample's row.
        const int first_x = _mm256_cvtsi256_si32(ix), first_y = _mm256_cvtsi256_si32(iy);
        const long start = (long)(first_y + 1) * stride + first_x - 1;
        const __m256i offsets = _mm256_sub_epi32(ix, _mm256_set1_epi32(first_x - 2));
        const bool one_row = _mm256_movemask_epi8(_mm256_cmpeq_epi32(iy, _mm256_set1_epi32(first_y))) == -1;
        const bool near = _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_min_epu32(offsets, _mm256_set1_epi32(12)), offsets)) == -1;
        const bool shuffled = one_row && near && first_x >= 1 && first_x - 1 + 16 <= stride;
        __m256 sum = zero;
        if (shuffled) {
            const __m256i picks = _mm256_add_epi32(_mm256_shuffle_epi8(offsets, spread), steps);
            for (int j = 0; j < 4; j++) {
                const __m128i line = _mm_loadu_si128(reinterpret_cast<const __m128i *>(padded + start + (long)j * stride));
                sum = _mm256_add_ps(sum, _mm256_mul_ps(wy[j], taps_8(_mm256_shuffle_epi8(_mm256_broadcastsi128_si256(line), picks), wx)));
            }
        } else {
            __m256i at = _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(_mm256_add_epi32(iy, ones), strides), ix), ones);
            for (int j = 0; j < 4; j++, at = _mm256_add_epi32(at, strides))
                sum = _mm256_add_ps(sum, _mm256_mul_ps(wy[j], taps_8(_mm256_i32gather_epi32(reinterpret_cast<const int *>(padded), at, 1), wx)));
        }
        _mm256_storeu_ps(moved + x, _mm256_min_ps(_mm256_max_ps(sum, zero), _mm256_set1_ps(maximum)));
    }
}
#endif

// The warp of 8-bit planes of one channel by the kernel for clone level `level` (2 the body
// vectorized for AVX-512, with gathers; 1 `warp_row_bytes_avx2`, which AVX-512 machines can run
// too; 0 the baseline). All give the same values.
static void warp_row_bytes_at(int level, const uint8_t *padded, int stride, const float *across, int width, int row, int last_x, int last_y,
                              float scale_x, float scale_y, float fine_trust, float fine_maximum, float maximum, float *__restrict moved,
                              float *__restrict trust, float *__restrict fine) {
#if defined(__x86_64__) && defined(__clang__)
    switch (level) {
    case 2:
        return warp_row_bytes_avx512(padded, stride, across, width, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum, maximum, moved,
                                     trust, fine);
    case 1:
        return warp_row_bytes_avx2(padded, stride, across, width, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum, maximum, moved,
                                   trust, fine);
    }
#endif
    warp_row_bytes_baseline(padded, stride, across, width, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum, maximum, moved, trust, fine);
}

// The warp by the fastest kernel this process allows: where that is AVX-512, its gathers and the
// AVX2 kernel's loads are timed against each other on the first rows (`stylize_timed_level`).
static void warp_row_bytes(const uint8_t *padded, int stride, const float *across, int width, int row, int last_x, int last_y, float scale_x,
                           float scale_y, float fine_trust, float fine_maximum, float maximum, float *__restrict moved, float *__restrict trust,
                           float *__restrict fine) {
    int trial;
    const int level = stylize_timed_level(STYLIZE_TIMED_WARP, &trial);
    const long start = trial >= 0 ? stylize_now() : 0;
    warp_row_bytes_at(level, padded, stride, across, width, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum, maximum, moved, trust,
                      fine);
    if (trial >= 0) stylize_timed_report(STYLIZE_TIMED_WARP, trial, level, stylize_now() - start, width);
}

// The difference of the moved previous output from the current values, and that difference
// times the trust.
static inline __attribute__((always_inline)) void difference_row_body(const float *moved, const float *own, const float *trust, long count,
                                                                      float *__restrict difference, float *__restrict weighted) {
    for (long i = 0; i < count; i++) {
        const float d = moved[i] - own[i];
        difference[i] = d;
        weighted[i] = d * trust[i];
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, difference_row,
               (const float *moved, const float *own, const float *trust, long count, float *__restrict difference, float *__restrict weighted),
               (moved, own, trust, count, difference, weighted))

// The blend's change: the coarse part of the difference (its trust-weighted blur, numerator over
// denominator) by `strength` times the trust, the rest (the fine part) by the fine weight.
static inline __attribute__((always_inline)) void change_row_body(const float *difference, const float *trust, const float *fine,
                                                                  const float *numerator, const float *denominator, float strength, long count,
                                                                  float *__restrict change) {
    for (long i = 0; i < count; i++) {
        const float low = denominator[i] > 1e-3f ? numerator[i] / denominator[i] : 0;
        change[i] = strength * trust[i] * low + fine[i] * (difference[i] - low);
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, change_row,
               (const float *difference, const float *trust, const float *fine, const float *numerator, const float *denominator, float strength,
                long count, float *__restrict change),
               (difference, trust, fine, numerator, denominator, strength, count, change))

// The finest bands of the own values and of the change (each minus its blur) times the fine
// weight over the most it can be (`fine_scale`: 1 where the strokes are carried over as far as
// they can be), and the row's part of the plane's sums (`plane_state::sums`).
static inline __attribute__((always_inline)) void bands_row_body(const float *own, const float *own_blur, const float *change,
                                                                 const float *change_blur, const float *fine, float fine_scale, long count,
                                                                 float *__restrict own_band, float *__restrict change_band, double *sums) {
#pragma clang fp reassociate(on)
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0;
    for (long i = 0; i < count; i++) {
        const float w = fine[i] * fine_scale, c = change[i];
        const float p = w * (own[i] - own_blur[i]), q = w * (change[i] - change_blur[i]);
        own_band[i] = p;
        change_band[i] = q;
        s0 += c * c, s1 += c * p, s2 += c * q, s3 += p * p, s4 += p * q, s5 += q * q;
    }
    const float row[6] = {s0, s1, s2, s3, s4, s5};
    for (int k = 0; k < 6; k++) sums[k] += row[k];
}
STYLIZE_CLONES(STYLIZE_STATIC, void, bands_row,
               (const float *own, const float *own_blur, const float *change, const float *change_blur, const float *fine, float fine_scale,
                long count, float *__restrict own_band, float *__restrict change_band, double *sums),
               (own, own_blur, change, change_blur, fine, fine_scale, count, own_band, change_band, sums))

// The finest bands of the two bands (each minus its blur: the part of a band that stays in the
// band when it is raised) and the row's part of `plane_state::raised`.
static inline __attribute__((always_inline)) void raised_row_body(const float *own_band, const float *own_band_blur, const float *change_band,
                                                                  const float *change_band_blur, long count, double *sums) {
#pragma clang fp reassociate(on)
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0;
    for (long i = 0; i < count; i++) {
        const float p = own_band[i], q = change_band[i], rp = p - own_band_blur[i], rq = q - change_band_blur[i];
        s0 += p * rp, s1 += p * rq + q * rp, s2 += q * rq, s3 += rp * rp, s4 += rp * rq, s5 += rq * rq;
    }
    const float row[6] = {s0, s1, s2, s3, s4, s5};
    for (int k = 0; k < 6; k++) sums[k] += row[k];
}
STYLIZE_CLONES(STYLIZE_STATIC, void, raised_row,
               (const float *own_band, const float *own_band_blur, const float *change_band, const float *change_band_blur, long count,
                double *sums),
               (own_band, own_band_blur, change_band, change_band_blur, count, sums))

// The sum over a row of its final change's square: (keep * change + gain * (own_band + keep *
// change_band))^2, `gain` each sample's detail gain less 1.
static inline __attribute__((always_inline)) double square_row_body(const float *change, const float *own_band, const float *change_band,
                                                                    const float *gain, float keep, long count) {
#pragma clang fp reassociate(on)
    float sum = 0;
    for (long i = 0; i < count; i++) {
        const float d = keep * change[i] + gain[i] * (own_band[i] + keep * change_band[i]);
        sum += d * d;
    }
    return sum;
}
STYLIZE_CLONES(STYLIZE_STATIC, double, square_row,
               (const float *change, const float *own_band, const float *change_band, const float *gain, float keep, long count),
               (change, own_band, change_band, gain, keep, count))

// The final values of a row: own + a * change + gain * (own_band + keep * change_band), held to
// 0...maximum.
static inline __attribute__((always_inline)) void final_row_body(const float *own, const float *change, const float *own_band,
                                                                 const float *change_band, float a, float keep, const float *gain, float maximum,
                                                                 long count, float *__restrict out) {
    for (long i = 0; i < count; i++)
        out[i] = std::min(std::max(own[i] + a * change[i] + gain[i] * (own_band[i] + keep * change_band[i]), 0.0f), maximum);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, final_row,
               (const float *own, const float *change, const float *own_band, const float *change_band, float a, float keep, const float *gain,
                float maximum, long count, float *__restrict out),
               (own, change, own_band, change_band, a, keep, gain, maximum, count, out))

namespace {

// One plane of the blend, as OpenCV matrices: the previous output and the current stylization in
// the plane's own sample type, its maximum and its weight in the frame's mean square change.
struct plane_view {
    cv::Mat before, now;
    float maximum, weight;
};

// The flow and the trusts on their grid (`width` x `height`): (dx, dy) pairs, and one value each.
struct flow_grid {
    const float *backward, *trust, *sure;
    int width, height;
};

template <typename T> void to_floats(const T *in, long count, float *out) {
    for (long i = 0; i < count; i++) out[i] = (float)in[i];
}

// Rounded (the values are at least 0 here).
template <typename T> void from_floats(const float *in, long count, T *out) {
    for (long i = 0; i < count; i++) out[i] = (T)(in[i] + 0.5f);
}

template <> void from_floats<float>(const float *in, long count, float *out) {
    std::copy(in, in + count, out);
}

template <> void to_floats<uint8_t>(const uint8_t *in, long count, float *out) {
    bytes_to_floats(in, count, out);
}

template <> void from_floats<uint8_t>(const float *in, long count, uint8_t *out) {
    floats_to_bytes(in, count, out);
}

// Holds the first and last pixel (`channels` samples) of the row at `padded + radius * channels`
// for `radius` pixels beyond each end.
void pad_row(float *padded, int width, int channels, int radius) {
    float *row = padded + (long)radius * channels, *end = row + (long)width * channels;
    for (int r = 0; r < radius; r++)
        for (int k = 0; k < channels; k++) {
            padded[(long)r * channels + k] = row[k];
            end[(long)r * channels + k] = end[k - channels];
        }
}

// Blurs a row across with `g` (held at its ends) into `out`. Across is down over the same row
// shifted by one pixel at a time: the samples whose reach stays inside the row straight from it,
// the `radius` pixels at each end through the stripe's padding buffer, which holds the end pixel
// beyond the row (the whole row, on rows narrower than the blur).
void blur_row(std::vector<float> &padded, const float *row, int width, int channels, const gaussian &g, float *out) {
    const long count = (long)width * channels, edge = (long)g.radius * channels;
    const int taps = 2 * g.radius + 1;
    const float *from[2 * gaussian_most + 1];
    const auto shifted = [&](const float *start) {
        for (int j = 0; j < taps; j++) from[j] = start + (long)j * channels;
        return from;
    };
    if (width < 2 * g.radius) {
        std::copy(row, row + count, padded.data() + edge);
        pad_row(padded.data(), width, channels, g.radius);
        blur_down(shifted(padded.data()), count, g.taps, taps, out);
        return;
    }
    blur_down(shifted(row), count - 2 * edge, g.taps, taps, out + edge);
    // The first pixel held before the row's first 2 * radius, and its last 2 * radius before the last pixel held.
    float *ends = padded.data();
    std::copy(row, row + 2 * edge, ends + edge);
    for (long i = 0; i < edge; i++) ends[i] = row[i % channels];
    blur_down(shifted(ends), edge, g.taps, taps, out);
    std::copy(row + count - 2 * edge, row + count, ends);
    for (long i = 0; i < edge; i++) ends[2 * edge + i] = row[count - channels + i % channels];
    blur_down(shifted(ends), edge, g.taps, taps, out + count - edge);
}

// Blurs rows down with `g` into `out`: rows (row - radius)...(row + radius) of a plane of
// `height` rows (held at its top and bottom), each kept in a ring of `ring` rows `count` floats
// apart at its index modulo `ring`.
void blur_column(const float *rows, long count, int ring, int row, int height, const gaussian &g, float *out) {
    const float *from[2 * gaussian_most + 1];
    for (int j = -g.radius; j <= g.radius; j++) from[j + g.radius] = rows + (long)(std::min(std::max(row + j, 0), height - 1) % ring) * count;
    blur_down(from, count, g.taps, 2 * g.radius + 1, out);
}

// One row of a plane of any sample type and channel count moved along the flow, as
// `warp_row_bytes` moves 8-bit planes of one channel (`padded` here in the plane's type, `stride`
// in samples); the trusts are per pixel.
template <typename T>
void warp_row(const T *padded, long stride, int channels, const float *across, int width, int row, int last_x, int last_y, float scale_x,
              float scale_y, float fine_trust, float fine_maximum, float maximum, float *moved, float *trust, float *fine) {
    for (int x = 0; x < width; x++) {
        const source_place place = locate(across, width, x, row, last_x, last_y, scale_x, scale_y, fine_trust, fine_maximum);
        const T *at = padded + (long)(place.y + 1) * stride + (long)(place.x + 1) * channels;
        for (int k = 0; k < channels; k++) {
            float sum = 0;
            for (int j = 0; j < 4; j++) {
                const T *line = at + j * stride + k;
                sum += place.down[j] * (place.across[0] * (float)line[0] + place.across[1] * (float)line[channels] +
                                        place.across[2] * (float)line[2 * channels] + place.across[3] * (float)line[3 * channels]);
            }
            moved[(long)x * channels + k] = std::min(std::max(sum, 0.0f), maximum);
        }
        trust[x] = place.trust;
        fine[x] = place.fine;
    }
}

// The blend of one plane, stripe by stripe: the previous output moved along the flow, its
// difference from the current values split into a coarse part (a blur weighted by the trust,
// so that the difference where the flow is wrong, at the edges of a moving object, does not
// spill into its neighbours) and a fine part, the change towards it, and the finest bands the
// detail gain works on (`plane_state`). The rows a stripe needs beyond its own (the blurs'
// reach) are kept in rings for the next stripe rather than computed again.
template <typename T>
void blend_plane(stylize_flow *scratch, const plane_view &plane, const flow_grid &grid, double band_sigma, double detail_sigma,
                 const stylize_blend &blend, plane_state &state) {
    const int width = plane.now.cols, height = plane.now.rows, channels = plane.now.channels();
    const long count = (long)width * channels;
    const gaussian band(band_sigma), detail(detail_sigma);
    const int reach = band.radius + detail.radius, ring = stripe_rows + 2 * reach, detail_ring = stripe_rows + 2 * detail.radius;
    auto &s = scratch->stripe;
    auto &first = s.first, &second = s.second;
    auto &weight = s.weight;
    first.resize(width), second.resize(width), weight.resize(width);
    for (int x = 0; x < width; x++) {
        const grid_place place = place_on_grid(x, width, grid.width);
        first[x] = place.first, second[x] = place.second, weight[x] = place.weight;
    }
    for (auto *buffer : {&s.own, &s.difference, &s.trust, &s.fine, &s.weighted_across, &s.trust_across}) buffer->resize((size_t)ring * count);
    for (auto *buffer : {&s.change_across, &s.own_across}) buffer->resize((size_t)detail_ring * count);
    for (auto *buffer : {&s.row_a, &s.row_b, &s.row_c}) buffer->resize(count);
    s.padded.resize((size_t)(width + 2 * std::max(band.radius, detail.radius)) * channels);
    s.low.resize(4 * (size_t)grid.width);
    s.across.resize(4 * (size_t)width);
    const bool on_grid = width == grid.width, twice_grid = width == 2 * grid.width && grid.width > 1;
    for (auto *buffer : {&state.change, &state.own_band, &state.change_band}) buffer->resize((size_t)count * height);
    state.tiles.assign((size_t)state.across * state.down, {});
    // Where each tile across starts, in samples.
    auto &tile_from = s.tile_from;
    tile_from.resize(state.across + 1);
    for (int t = 0; t <= state.across; t++) tile_from[t] = (long)tile_start(t, state.across, width) * channels;
    // Runs `sums_row(from, samples, tile)` over the segments of row y in each tile.
    const auto by_tile = [&](int y, auto sums_row) {
        plane_state::tile_sums *tiles = state.tiles.data() + (long)tile_of(y, state.down, height) * state.across;
        for (int t = 0; t < state.across; t++) sums_row(tile_from[t], tile_from[t + 1] - tile_from[t], tiles[t]);
    };
    // The previous output with 2 samples held beyond each edge, for the bicubic warp.
    cv::copyMakeBorder(plane.before, s.before, 2, 2, 2, 2, cv::BORDER_REPLICATE);
    const T *before = s.before.ptr<T>(0);
    const long stride = (long)(s.before.step / sizeof(T));
    const float scale_x = (float)width / (float)grid.width, scale_y = (float)height / (float)grid.height;
    const auto at = [count](std::vector<float> &buffer, int row, int rows) { return buffer.data() + (long)(row % rows) * count; };

    // The most of the strokes a sample can carry over, which the detail's weight is relative to.
    const float fine_scale = 1 / std::max(std::min(blend.fine_maximum, blend.fine_trust), 1e-6f);
    int next = 0, next_detail = 0;  // the first rows not yet in the rings
    for (int y0 = 0; y0 < height; y0 += stripe_rows) {
        const int y1 = std::min(height, y0 + stripe_rows);
        // The previous output moved along the flow, bicubically (which keeps more of its
        // strokes than bilinear sampling; each frame's output is resampled again in the next),
        // the difference and its trust-weighted part, and both blurred across.
        for (const int end = std::min(height, y1 + reach); next < end; next++) {
            const int y = next;
            const grid_place place = place_on_grid(y, height, grid.height);
            float *low = s.low.data();
            const long top = (long)place.first * grid.width, bottom = (long)place.second * grid.width;
            grid_row(grid.backward + 2 * top, grid.backward + 2 * bottom, grid.trust + top, grid.trust + bottom, grid.sure + top, grid.sure + bottom,
                     place.weight, grid.width, low);
            // A plane as wide as the grid (4:2:0 chroma, most often) takes its values as they are.
            float *across = on_grid ? low : s.across.data();
            if (twice_grid)
                across_twice(low, grid.width, across);
            else if (!on_grid)
                across_row(low, grid.width, first.data(), second.data(), weight.data(), width, across);
            float *own = at(s.own, y, ring), *trust = at(s.trust, y, ring), *fine = at(s.fine, y, ring);
            if (std::is_same<T, uint8_t>::value && channels == 1)
                warp_row_bytes(reinterpret_cast<const uint8_t *>(before), (int)stride, across, width, y, width - 1, height - 1, scale_x, scale_y,
                               blend.fine_trust, blend.fine_maximum, plane.maximum, s.row_a.data(), trust, fine);
            else
                warp_row(before, stride, channels, across, width, y, width - 1, height - 1, scale_x, scale_y, blend.fine_trust, blend.fine_maximum,
                         plane.maximum, s.row_a.data(), trust, fine);
            // Every sample of a pixel takes its trusts.
            for (int x = width - 1; channels > 1 && x >= 0; x--)
                for (int k = channels - 1; k >= 0; k--) trust[(long)x * channels + k] = trust[x], fine[(long)x * channels + k] = fine[x];
            to_floats(plane.now.ptr<T>(y), count, own);
            difference_row(s.row_a.data(), own, trust, count, at(s.difference, y, ring), s.row_b.data());
            blur_row(s.padded, s.row_b.data(), width, channels, band, at(s.weighted_across, y, ring));
            blur_row(s.padded, trust, width, channels, band, at(s.trust_across, y, ring));
        }
        // The change, and it and the own values blurred across at the detail's scale.
        for (const int end = std::min(height, y1 + detail.radius); next_detail < end; next_detail++) {
            const int y = next_detail;
            blur_column(s.weighted_across.data(), count, ring, y, height, band, s.row_a.data());
            blur_column(s.trust_across.data(), count, ring, y, height, band, s.row_b.data());
            float *change = state.change.data() + (long)y * count;
            change_row(at(s.difference, y, ring), at(s.trust, y, ring), at(s.fine, y, ring), s.row_a.data(), s.row_b.data(), blend.strength, count,
                       change);
            blur_row(s.padded, change, width, channels, detail, at(s.change_across, y, detail_ring));
            blur_row(s.padded, at(s.own, y, ring), width, channels, detail, at(s.own_across, y, detail_ring));
        }
        // The finest bands, and the sums.
        for (int y = y0; y < y1; y++) {
            blur_column(s.change_across.data(), count, detail_ring, y, height, detail, s.row_a.data());
            blur_column(s.own_across.data(), count, detail_ring, y, height, detail, s.row_b.data());
            const long row = (long)y * count;
            const float *own = at(s.own, y, ring), *fine = at(s.fine, y, ring);
            by_tile(y, [&](long from, long samples, plane_state::tile_sums &tile) {
                bands_row(own + from, s.row_b.data() + from, state.change.data() + row + from, s.row_a.data() + from, fine + from, fine_scale,
                          samples, state.own_band.data() + row + from, state.change_band.data() + row + from, tile.sums);
            });
        }
    }
    // What of each band stays in the band when it is raised (a Gaussian's band is not a
    // projection: the band of a band holds only part of it; at sigma 1, raising the band as if it
    // were reached 0.81 of the energy aimed at on a zoom), measured on every `raised_every`-th
    // row, at a fifth of the time, where every tile has at least two such rows.
    const int every = height / state.down >= 2 * raised_every ? raised_every : 1;
    auto &measured = s.measured;
    measured.assign(state.down, 0);
    for (int y = every / 2; y < height; y += every) {
        blur_column(state.own_band.data(), count, height, y, height, detail, s.row_a.data());
        blur_row(s.padded, s.row_a.data(), width, channels, detail, s.row_b.data());
        blur_column(state.change_band.data(), count, height, y, height, detail, s.row_a.data());
        blur_row(s.padded, s.row_a.data(), width, channels, detail, s.row_c.data());
        const long row = (long)y * count;
        by_tile(y, [&](long from, long samples, plane_state::tile_sums &tile) {
            raised_row(state.own_band.data() + row + from, s.row_b.data() + from, state.change_band.data() + row + from, s.row_c.data() + from,
                       samples, tile.raised);
        });
        measured[tile_of(y, state.down, height)]++;
    }
    for (int t = 0; t < state.down; t++) {
        const double rows = tile_start(t + 1, state.down, height) - tile_start(t, state.down, height);
        for (int i = 0; i < state.across; i++)
            for (double &sum : state.tiles[(size_t)t * state.across + i].raised) sum *= rows / measured[t];
    }
}

// Where each column of a plane falls between the tiles' centres (`grid_place`, into the scratch)
// and where each run of columns between the same two centres starts, where its tiles' gains
// differ (`gain_row` needs no places where they are the same).
void place_tiles(stylize_flow *scratch, const plane_state &state, int width) {
    if (state.even) return;
    auto &s = scratch->stripe;
    s.tile_first.resize(width), s.tile_second.resize(width), s.tile_weight.resize(width), s.tile_gains.resize(state.across);
    s.tile_runs.clear();
    for (int x = 0; x < width; x++) {
        const grid_place place = place_on_grid(x, width, state.across);
        s.tile_first[x] = place.first, s.tile_second[x] = place.second, s.tile_weight[x] = place.weight;
        if (x == 0 || place.first != s.tile_first[x - 1]) s.tile_runs.push_back(x);
    }
    s.tile_runs.push_back(width);
}

// Each sample's detail gain less 1 on row `y` of a plane (`width` pixels of `channels` samples,
// `height` rows; its columns placed with `place_tiles`), times `scale`, into `gain`: the tiles'
// gains, passing linearly between their centres (held beyond the outer ones).
void gain_row(stylize_flow *scratch, const plane_state &state, int y, int width, int height, int channels, double scale, float *gain) {
    auto &s = scratch->stripe;
    const long count = (long)width * channels;
    if (state.even) {
        std::fill(gain, gain + count, (float)(scale * state.gains[0]));
        return;
    }
    const grid_place down = place_on_grid(y, height, state.down);
    const double *top = state.gains.data() + (long)down.first * state.across, *bottom = state.gains.data() + (long)down.second * state.across;
    float *tiles = s.tile_gains.data();
    for (int t = 0; t < state.across; t++) tiles[t] = (float)(scale * (top[t] + down.weight * (bottom[t] - top[t])));
    const int *first = s.tile_first.data(), *second = s.tile_second.data();
    const float *weight = s.tile_weight.data();
    if (channels == 1) {
        // Run by run of columns placed between the same two tiles' centres (`place_tiles`), so
        // that each run is a loop the compiler vectorizes.
        const int *runs = s.tile_runs.data();
        for (size_t r = 0; r + 1 < s.tile_runs.size(); r++) {
            const int x = runs[r], end = runs[r + 1];
            const float from = tiles[first[x]], step = tiles[second[x]] - tiles[first[x]];
            for (int i = x; i < end; i++) gain[i] = from + weight[i] * step;
        }
        return;
    }
    for (int x = 0; x < width; x++) {
        const float value = tiles[first[x]] + weight[x] * (tiles[second[x]] - tiles[first[x]]);
        for (int k = 0; k < channels; k++) gain[(long)x * channels + k] = value;
    }
}

// The sum of a plane's final change squared, with `keep` and the tiles' gains.
double plane_square(stylize_flow *scratch, const plane_view &plane, const plane_state &state, double keep) {
    const int channels = plane.now.channels();
    const long count = (long)plane.now.cols * channels;
    auto &s = scratch->stripe;
    place_tiles(scratch, state, plane.now.cols);
    double sum = 0;
    for (int y = 0; y < plane.now.rows; y++) {
        gain_row(scratch, state, y, plane.now.cols, plane.now.rows, channels, 1, s.row_c.data());
        const long at = (long)y * count;
        sum += square_row(state.change.data() + at, state.own_band.data() + at, state.change_band.data() + at, s.row_c.data(), (float)keep, count);
    }
    return sum;
}

// Writes a plane's final values: own + scale * (keep * change + (gain - 1) * (own_band + keep *
// change_band)), the gain the tiles', rounded and held to 0...maximum.
template <typename T>
void finish_plane(stylize_flow *scratch, const plane_view &plane, const plane_state &state, double keep, double scale) {
    const int channels = plane.now.channels();
    const long count = (long)plane.now.cols * channels;
    auto &s = scratch->stripe;
    place_tiles(scratch, state, plane.now.cols);
    for (int y = 0; y < plane.now.rows; y++) {
        T *row = const_cast<cv::Mat &>(plane.now).ptr<T>(y);
        const long at = (long)y * count;
        gain_row(scratch, state, y, plane.now.cols, plane.now.rows, channels, scale, s.row_c.data());
        to_floats(row, count, s.row_a.data());
        final_row(s.row_a.data(), state.change.data() + at, state.own_band.data() + at, state.change_band.data() + at, (float)(scale * keep),
                  (float)keep, s.row_c.data(), plane.maximum, count, s.row_b.data());
        from_floats(s.row_b.data(), count, row);
    }
}

// The least g at which blended + 2 g cross + g^2 square reaches `target` (0 where it is reached
// already, or where raising adds nothing).
double least_gain(double blended, double cross, double square, double target) {
    if (blended >= target || !(square > 0)) return 0;
    return std::max(0.0, (std::sqrt(std::max(cross * cross + square * (target - blended), 0.0)) - cross) / square);
}

// A plane's detail gains (less 1) with the changes scaled by `k`, into `state.gains`, and the
// sum of its final change squared that comes to. With the changes scaled by k, raised by g the
// band of own + k * change in a tile, b = own_band + k * change_band, becomes b + g r, r the band
// of b (`plane_state::tile_sums::raised`): its energy blended + 2 g cross + g^2 square. Each
// tile is held at the gain that takes it to `detail_ceiling` of its own detail's energy; the
// plane's gain is the least that takes the tiles together to `detail_share` of theirs (at most
// `max_gain`), and a tile takes the lesser of the two.
double plane_gains(stylize_flow *scratch, plane_state &state, double k, const stylize_blend &blend) {
    const size_t tiles = state.tiles.size();
    const double most = (double)blend.max_gain - 1;
    auto &terms = scratch->terms;
    auto &order = scratch->order;
    terms.resize(tiles), order.resize(tiles), state.gains.resize(tiles);
    // The energy of the tiles not held, as blended + 2 g cross + g^2 square, and of those held.
    double blended = 0, cross = 0, square = 0, held = 0, target = 0;
    for (size_t t = 0; t < tiles; t++) {
        const double *sum = state.tiles[t].sums, *raised = state.tiles[t].raised;
        auto &term = terms[t];
        term = {sum[3] + 2 * k * sum[4] + k * k * sum[5], raised[0] + k * raised[1] + k * k * raised[2], raised[3] + 2 * k * raised[4] + k * k * raised[5]};
        state.gains[t] = std::min(least_gain(term[0], term[1], term[2], blend.detail_ceiling * sum[3]), most);
        order[t] = {state.gains[t], t};
        blended += term[0], cross += term[1], square += term[2];
        target += blend.detail_share * sum[3];
    }
    // Through the tiles' gains upwards, each interval's quadratic, to the one the target is reached in.
    std::sort(order.begin(), order.end());
    double low = 0, gain = most;
    for (size_t i = 0;; i++) {
        const double high = i < tiles ? order[i].first : most;
        if (held + blended + 2 * high * cross + high * high * square >= target) {
            gain = std::max(low, least_gain(held + blended, cross, square, target));
            break;
        }
        if (i == tiles) break;
        const auto &term = terms[order[i].second];
        held += term[0] + 2 * high * term[1] + high * high * term[2];
        blended -= term[0], cross -= term[1], square -= term[2];
        low = high;
    }
    double total = 0;
    state.even = true;
    for (size_t t = 0; t < tiles; t++) {
        const double *sum = state.tiles[t].sums, g = state.gains[t] = std::min(state.gains[t], gain);
        total += k * k * sum[0] + 2 * k * g * (sum[1] + k * sum[2]) + g * g * (sum[3] + 2 * k * sum[4] + k * k * sum[5]);
        state.even = state.even && g == gain;
    }
    return total;
}

template <typename Run> void by_depth(int depth, Run run) {
    switch (depth) {
    case CV_8U: run((uint8_t)0); break;
    case CV_16U: run((uint16_t)0); break;
    default: run(0.0f); break;
    }
}

// Blends every plane, gives back the detail, holding the frame's mean square change (the blend's
// and the detail's together) to the limit, and writes the results back in each plane's sample
// type (rounded, clamped to 0...maximum). Every change is known before any plane is written, so
// that a failure leaves them as they were.
int blend_planes(stylize_flow *scratch, const std::vector<plane_view> &planes, const flow_grid &grid, const stylize_blend &blend) {
    try {
        int widest = 0, tallest = 0, narrowest = INT_MAX, shortest = INT_MAX;
        for (const auto &plane : planes) {
            widest = std::max(widest, plane.now.cols), tallest = std::max(tallest, plane.now.rows);
            narrowest = std::min(narrowest, plane.now.cols), shortest = std::min(shortest, plane.now.rows);
        }
        const int across = std::min(narrowest, std::max(1, (int)std::lround((double)widest / detail_tile)));
        const int down = std::min(shortest, std::max(1, (int)std::lround((double)tallest / detail_tile)));
        scratch->planes.resize(planes.size());
        // A plane's sum of squares as its part of the frame's mean square: of its range, over its samples, times its weight.
        const auto share = [&](size_t p, double sum) {
            const plane_view &plane = planes[p];
            return plane.weight * sum / ((double)plane.maximum * plane.maximum * (double)plane.now.total() * plane.now.channels());
        };
        double mean_square = 0;
        for (size_t p = 0; p < planes.size(); p++) {
            plane_state &state = scratch->planes[p];
            state.across = across, state.down = down;
            // The bands are set in the frame's pixels: a subsampled plane's are narrower.
            const double scale = (double)planes[p].now.cols / (double)widest;
            by_depth(planes[p].now.depth(), [&](auto sample) {
                blend_plane<decltype(sample)>(scratch, planes[p], grid, blend.band_sigma * scale, blend.detail_sigma * scale, blend, state);
            });
            double sum = 0;
            for (const auto &tile : state.tiles) sum += tile.sums[0];
            mean_square += share(p, sum);
        }
        const double most = mean_square > blend.max_mean_square ? std::sqrt(blend.max_mean_square / mean_square) : 1.0;
        // What blending took from the finest detail (the strokes of two frames that do not line
        // up soften each other, and so do resampling and the frame limit, which mixes in the
        // frame's own), given back: each plane's finest band is raised, where strokes are carried
        // over, until it has `detail_share` of the energy of the stylization's own there
        // (`plane_gains`). `gains_at` sets the gains for the changes scaled by k and gives the
        // frame's mean square change that comes to.
        const auto gains_at = [&](double k) {
            double total = 0;
            for (size_t p = 0; p < planes.size(); p++) total += share(p, plane_gains(scratch, scratch->planes[p], k, blend));
            return total;
        };
        // The detail given back counts against the frame limit too. Where both together pass it,
        // the changes are scaled down further, and the detail solved again at that scale, to the
        // largest scale that keeps within the limit (found by halving; at 0 nothing changes), so
        // that the detail is given back whole rather than scaled down with the changes.
        double keep = most;
        if (gains_at(most) > blend.max_mean_square) {
            double low = 0, high = most;
            for (int step = 0; step < 24; step++) {
                const double middle = 0.5 * (low + high);
                (gains_at(middle) > blend.max_mean_square ? high : low) = middle;
            }
            keep = low;
            gains_at(keep);
        }
        // Where a plane's tiles' gains differ, they pass between the tiles' centres, which the
        // sums do not model: then the frame's mean square is measured as it comes out, and the
        // whole change scaled down where it passes the limit after all.
        long longest = 0;
        bool even = true;
        for (size_t p = 0; p < planes.size(); p++) {
            longest = std::max(longest, (long)planes[p].now.cols * planes[p].now.channels());
            even = even && scratch->planes[p].even;
        }
        for (auto *buffer : {&scratch->stripe.row_a, &scratch->stripe.row_b, &scratch->stripe.row_c}) buffer->resize(longest);
        double measured = 0;
        for (size_t p = 0; p < planes.size() && !even; p++) measured += share(p, plane_square(scratch, planes[p], scratch->planes[p], keep));
        const double scale = measured > blend.max_mean_square ? std::sqrt(blend.max_mean_square / measured) : 1.0;
        for (size_t p = 0; p < planes.size(); p++)
            by_depth(planes[p].now.depth(), [&](auto sample) {
                finish_plane<decltype(sample)>(scratch, planes[p], scratch->planes[p], keep, scale);
            });
        return 0;
    } catch (...) {
        return -1;
    }
}

}  // namespace

extern "C" int stylize_flow_warp_row_clone(int level, const uint8_t *previous, int width, int height, const float *across, int row,
                                           float scale_x, float scale_y, float fine_trust, float fine_maximum, float *moved, float *trust,
                                           float *fine) {
    try {
        cv::Mat padded;
        cv::copyMakeBorder(cv::Mat(height, width, CV_8U, const_cast<uint8_t *>(previous)), padded, 2, 2, 2, 2, cv::BORDER_REPLICATE);
        const int stride = (int)padded.step;
        if (level < 0)
            warp_row_bytes(padded.data, stride, across, width, row, width - 1, height - 1, scale_x, scale_y, fine_trust, fine_maximum, 255, moved, trust,
                           fine);
        else
            warp_row_bytes_at(std::min(level, stylize_clone_level()), padded.data, stride, across, width, row, width - 1, height - 1, scale_x, scale_y,
                              fine_trust, fine_maximum, 255, moved, trust, fine);
        return 0;
    } catch (...) {
        return -1;
    }
}

extern "C" int stylize_flow_warp_blend(stylize_flow *scratch, const float *previous, const float *backward, const float *trust,
                                       const float *sure, int low_width, int low_height, int width, int height, stylize_blend blend,
                                       float *out) {
    try {
        const plane_view plane = {cv::Mat(height, width, CV_32FC3, const_cast<float *>(previous)), cv::Mat(height, width, CV_32FC3, out), 1, 1};
        return blend_planes(scratch, {plane}, {backward, trust, sure, low_width, low_height}, blend);
    } catch (...) {
        return -1;
    }
}

extern "C" int stylize_flow_warp_blend_planes(stylize_flow *scratch, const stylize_plane *previous, const stylize_plane *out, int count,
                                              const float *backward, const float *trust, const float *sure, int low_width, int low_height,
                                              stylize_blend blend) {
    std::vector<plane_view> planes;
    try {
        for (int p = 0; p < count; p++) {
            const int type = CV_MAKETYPE(out[p].bytes == 1 ? CV_8U : CV_16U, out[p].channels);
            planes.push_back({cv::Mat(previous[p].height, previous[p].width, type, previous[p].data, previous[p].linesize),
                              cv::Mat(out[p].height, out[p].width, type, out[p].data, out[p].linesize), out[p].maximum, out[p].weight});
        }
    } catch (...) {
        return -1;
    }
    return blend_planes(scratch, planes, {backward, trust, sure, low_width, low_height}, blend);
}
