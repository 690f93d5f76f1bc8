#include "StylizeFlow.h"
#include "StylizeCloned.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

struct stylize_flow {
    cv::Ptr<cv::DISOpticalFlow> dis;
    // Scratch for warp_blend, kept from frame to frame (create() reuses memory of the same size).
    cv::Mat up, flow, weight, map, moved, change;
    // And for warp_blend_planes: each plane's changes, the flow of one row at the low scale, and
    // for each column of a plane the low columns it lies between.
    std::vector<cv::Mat> changes;
    std::vector<int> left, right;
    std::vector<float> across;
    // The two low rows around a plane row, widened to the plane (dx, dy, trust each), and which
    // low rows they are.
    std::vector<float> wide[2][3];
    int wide_row[2];
    // Whether the plane blend runs its AVX-512 loop (when the CPU has it).
    bool vectors;
};

extern "C" stylize_flow *stylize_flow_create(stylize_flow_settings settings) {
    try {
        cv::setNumThreads(1);
        auto *flow = new stylize_flow;
        flow->vectors = stylize_flow_use_vectors(flow, 1);
        flow->dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
        flow->dis->setFinestScale(settings.finest_scale);
        flow->dis->setPatchSize(settings.patch_size);
        flow->dis->setPatchStride(settings.patch_stride);
        flow->dis->setGradientDescentIterations(settings.descent_iterations);
        flow->dis->setVariationalRefinementIterations(settings.refinement_iterations);
        return flow;
    } catch (...) {
        return nullptr;
    }
}

extern "C" void stylize_flow_destroy(stylize_flow *flow) {
    delete flow;
}

extern "C" int stylize_flow_compute(stylize_flow *flow, const uint8_t *from, const uint8_t *to, int width, int height, float *out) {
    try {
        cv::Mat a(height, width, CV_8UC1, const_cast<uint8_t *>(from));
        cv::Mat b(height, width, CV_8UC1, const_cast<uint8_t *>(to));
        cv::Mat result(height, width, CV_32FC2, out);
        flow->dis->calc(a, b, result);
        // calc writes into `result` in place as long as the size and type already match.
        return result.data == reinterpret_cast<uchar *>(out) ? 0 : -1;
    } catch (...) {
        return -1;
    }
}

// Moves `count` values of `out` towards `moved` by `weight` times the difference, each by at most
// `max_change`; keeps each change in fixed point (`to_fixed` steps of 1) and returns the sum of
// their squares.
STYLIZE_CLONED static float blend_row(float *out, const float *moved, const float *weight, short *change, int count, float max_change,
                              float to_fixed) {
    // Sixteen partial sums, so that the loop runs on vectors.
    float sums[16] = {0};
    int i = 0;
    for (; i + 16 <= count; i += 16) {
        for (int k = 0; k < 16; k++) {
            float c = std::min(std::max(weight[i + k] * (moved[i + k] - out[i + k]), -max_change), max_change);
            float fixed = c * to_fixed;
            change[i + k] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
            out[i + k] += c;
            sums[k] += c * c;
        }
    }
    for (; i < count; i++) {
        float c = std::min(std::max(weight[i] * (moved[i] - out[i]), -max_change), max_change);
        float fixed = c * to_fixed;
        change[i] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
        out[i] += c;
        sums[0] += c * c;
    }
    float sum = 0;
    for (float s : sums) sum += s;
    return sum;
}

// Takes `factor` of each kept change back out of `out`.
STYLIZE_CLONED static void take_back(float *out, const short *change, long count, float factor) {
    for (long i = 0; i < count; i++) out[i] -= factor * (float)change[i];
}

// Where each pixel of rows `y0` to `y1` was in the previous frame (`map`), and its weight, once
// per value, so that the blend is one flat loop (`weight`): `strength` times the trust, 0 where
// the position falls outside the frame. `flow` and `trust` hold the scaled-up rows from `r0`.
STYLIZE_CLONED static void positions(const cv::Mat &flow, const cv::Mat &trust, int r0, int y0, int y1, int width, int height, float scale,
                             float strength, cv::Mat &map, cv::Mat &weight) {
    const float last_x = (float)(width - 1), last_y = (float)(height - 1);
    const int up_width = flow.cols;
    for (int y = y0; y < y1; y++) {
        // Rows and columns past the scaled-up grid hold its last ones.
        const int row = std::min(y - r0, flow.rows - 1);
        const float *f = flow.ptr<float>(row), *t = trust.ptr<float>(row);
        float *m = map.ptr<float>(y - y0), *w = weight.ptr<float>(y - y0);
        for (int x = 0; x < width; x++) {
            const int column = std::min(x, up_width - 1);
            float sx = (float)x + f[2 * column] * scale, sy = (float)y + f[2 * column + 1] * scale;
            m[2 * x] = sx;
            m[2 * x + 1] = sy;
            float v = (sx >= 0 && sy >= 0 && sx <= last_x && sy <= last_y) ? strength * t[column] : 0;
            w[3 * x] = w[3 * x + 1] = w[3 * x + 2] = v;
        }
    }
}

extern "C" int stylize_flow_warp_blend(stylize_flow *scratch, const float *previous, const float *backward, const float *trust,
                                       int low_width, int low_height, int scale, int width, int height, float strength, float max_change,
                                       float max_mean_square, float *out) {
    try {
        const cv::Mat flow_low(low_height, low_width, CV_32FC2, const_cast<float *>(backward));
        const cv::Mat trust_low(low_height, low_width, CV_32FC1, const_cast<float *>(trust));
        const cv::Mat before(height, width, CV_32FC3, const_cast<float *>(previous));
        const int up_width = low_width * scale;
        // In stripes of about 32 rows, so that the scratch stays in cache: the flow and the trust
        // of a stripe's rows, scaled up (with a row of margin each side, so that the bilinear
        // weights are those of the whole picture), where each pixel was, and the previous output
        // moved from there. Every buffer is made before `out` is touched (a failure leaves it as
        // it was), at the largest stripe's size, so that no stripe allocates.
        const int band = std::max(1, 32 / scale);
        const int most_rows = (band + 1) * scale + scale;
        scratch->flow.create((band + 2) * scale, up_width, CV_32FC2);
        scratch->weight.create((band + 2) * scale, up_width, CV_32FC1);
        scratch->map.create(most_rows, width, CV_32FC2);
        scratch->up.create(most_rows, width, CV_32FC3);
        scratch->moved.create(most_rows, width, CV_32FC3);
        // Each value's change, capped, in fixed point (steps of max_change / 32767): the frame's
        // total is known only at the end, and a frame past the limit gives part of it back.
        scratch->change.create(height, width * 3, CV_16SC1);
        const float to_fixed = 32767.0f / max_change;
        double squares = 0;
        for (int first = 0; first * scale < height; first += band) {
            const int y0 = first * scale, y1 = std::min(height, first + band >= low_height ? height : (first + band) * scale);
            const int r0 = std::max(0, first - 1), r1 = std::min(low_height, first + band + 1);
            cv::Mat flow = scratch->flow.rowRange(0, (r1 - r0) * scale), weight = scratch->weight.rowRange(0, (r1 - r0) * scale);
            cv::resize(flow_low.rowRange(r0, r1), flow, flow.size(), 0, 0, cv::INTER_LINEAR);
            cv::resize(trust_low.rowRange(r0, r1), weight, weight.size(), 0, 0, cv::INTER_LINEAR);
            cv::Mat map = scratch->map.rowRange(0, y1 - y0), up = scratch->up.rowRange(0, y1 - y0);
            cv::Mat moved = scratch->moved.rowRange(0, y1 - y0);
            positions(flow, weight, r0 * scale, y0, y1, width, height, (float)scale, strength, map, up);
            cv::remap(before, moved, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
            for (int y = y0; y < y1; y++) {
                squares += blend_row(out + (long)y * width * 3, moved.ptr<float>(y - y0), up.ptr<float>(y - y0),
                                     scratch->change.ptr<short>(y), width * 3, max_change, to_fixed);
            }
        }
        // A frame whose changes add up to more than the limit has them all scaled down to it.
        const double mean_square = squares / ((double)width * height * 3);
        if (mean_square > max_mean_square) {
            const float keep = (float)std::sqrt(max_mean_square / mean_square);
            take_back(out, scratch->change.ptr<short>(0), (long)width * height * 3, (1 - keep) / to_fixed);
        }
        return 0;
    } catch (...) {
        return -1;
    }
}

// The plane version's loops, for 8- and 16-bit samples: `always_inline`, so that each is
// compiled into the cloned function that calls it, for that function's instruction set.

// Adds `factor` times each kept change, rounded to the plane's integers.
template <typename T>
static inline __attribute__((always_inline)) void plane_apply(T *out, const short *change, int count, float factor, float maximum) {
    for (int i = 0; i < count; i++) {
        float v = std::min(std::max((float)out[i] + factor * (float)change[i], 0.0f), maximum);
        out[i] = (T)(v + 0.5f);
    }
}

STYLIZE_CLONED static void plane_apply_8(uint8_t *out, const short *change, int count, float factor, float maximum) {
    plane_apply(out, change, count, factor, maximum);
}
STYLIZE_CLONED static void plane_apply_16(uint16_t *out, const short *change, int count, float factor, float maximum) {
    plane_apply(out, change, count, factor, maximum);
}

// Row `row` of the flow and the trust at the low scale, scaled up to a plane's width (bilinear,
// by the column tables), into three rows: dx, dy and trust.
STYLIZE_CLONED static void widen_row(const float *flow, const float *trust, const int *left, const int *right, const float *across, int width,
                             float *dx, float *dy, float *t) {
    for (int x = 0; x < width; x++) {
        const int l = left[x], r = right[x];
        const float w = across[x];
        dx[x] = flow[2 * l] + (flow[2 * r] - flow[2 * l]) * w;
        dy[x] = flow[2 * l + 1] + (flow[2 * r + 1] - flow[2 * l + 1]) * w;
        t[x] = trust[l] + (trust[r] - trust[l]) * w;
    }
}

// One plane row's blend, before the frame limit: for each sample, where it was in the previous
// frame (the flow of the two widened low rows around the row, `a` above and `b` below, `down` of
// the way to `b`, scaled to the plane's units by `sx` and `sy`), the previous plane sampled
// there bilinearly (edges held), and the change towards it by `strength` times the trust (none
// where the position falls outside the plane), capped at `cap` and kept in fixed point
// (`to_fixed` steps of 1).
struct row_blend {
    const float *a[3], *b[3];
    float down, sx, sy;
    int y;
    float strength, cap, to_fixed;
};

static inline float lerp(float a, float b, float t) { return a + (b - a) * t; }

// Samples `from` to `to` of the row, one at a time, any layout; returns the sum of the squared changes.
template <typename T>
static float row_changes(const stylize_plane &before, const T *out, const row_blend &job, int from, int to, short *change) {
    const int width = before.width, height = before.height, channels = before.channels;
    const float last_x = (float)(width - 1), last_y = (float)(height - 1);
    float sum = 0;
    for (int x = from; x < to; x++) {
        const float dx = lerp(job.a[0][x], job.b[0][x], job.down), dy = lerp(job.a[1][x], job.b[1][x], job.down);
        const float t = lerp(job.a[2][x], job.b[2][x], job.down);
        const float px = (float)x + dx * job.sx, py = (float)job.y + dy * job.sy;
        const float w = (px >= 0 && py >= 0 && px <= last_x && py <= last_y) ? job.strength * t : 0;
        const float cx = std::min(std::max(px, 0.0f), last_x), cy = std::min(std::max(py, 0.0f), last_y);
        const int x0 = std::min((int)cx, std::max(width - 2, 0)), y0 = std::min((int)cy, std::max(height - 2, 0));
        const int x1 = std::min(x0 + 1, width - 1), y1 = std::min(y0 + 1, height - 1);
        const float fx = cx - (float)x0, fy = cy - (float)y0;
        const T *r0 = (const T *)(before.data + (long)y0 * before.linesize), *r1 = (const T *)(before.data + (long)y1 * before.linesize);
        for (int c = 0; c < channels; c++) {
            const float top = lerp((float)r0[x0 * channels + c], (float)r0[x1 * channels + c], fx);
            const float bottom = lerp((float)r1[x0 * channels + c], (float)r1[x1 * channels + c], fx);
            const long i = (long)x * channels + c;
            const float d = std::min(std::max(w * (lerp(top, bottom, fy) - (float)out[i]), -job.cap), job.cap);
            const float fixed = d * job.to_fixed;
            change[i] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
            sum += d * d;
        }
    }
    return sum;
}

#if defined(__x86_64__)
#include <immintrin.h>

// a + (b - a) * t for 16 values.
__attribute__((target("avx512f"), always_inline)) static inline __m512 lerp16(const float *a, const float *b, __m512 t) {
    const __m512 u = _mm512_loadu_ps(a);
    return _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(b), u), t, u);
}

// `row_changes` for single-component planes, 16 samples at a time with AVX-512: each sample's
// two horizontal neighbours come in one 32-bit gather per row (for 8-bit samples, from two
// bytes to the left where there is room, so that no read passes the row's last sample). Returns
// how many samples it did (a multiple of 16; `row_changes` does the rest).
template <typename T>
__attribute__((target("avx512f,avx512bw"))) static int row_changes_avx512(const stylize_plane &before, const T *out, const row_blend &job, int count,
                                                                          short *change, float *sum) {
    const int width = before.width, height = before.height;
    const __m512 zero = _mm512_setzero_ps(), last_x = _mm512_set1_ps((float)(width - 1)), last_y = _mm512_set1_ps((float)(height - 1));
    const __m512i x0_most = _mm512_set1_epi32(width - 2), y0_most = _mm512_set1_epi32(height - 2);
    const __m512i linesize = _mm512_set1_epi32(before.linesize), low16 = _mm512_set1_epi32(sizeof(T) == 1 ? 0xff : 0xffff);
    const __m512 down = _mm512_set1_ps(job.down), sx = _mm512_set1_ps(job.sx), sy = _mm512_set1_ps(job.sy);
    const __m512 row = _mm512_set1_ps((float)job.y), strength = _mm512_set1_ps(job.strength);
    const __m512 cap = _mm512_set1_ps(job.cap), to_fixed = _mm512_set1_ps(job.to_fixed), half = _mm512_set1_ps(0.5f);
    const __m512 steps = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 squares = zero;
    int x = 0;
    for (; x + 16 <= count; x += 16) {
        const __m512 px = _mm512_fmadd_ps(lerp16(job.a[0] + x, job.b[0] + x, down), sx, _mm512_add_ps(steps, _mm512_set1_ps((float)x)));
        const __m512 py = _mm512_fmadd_ps(lerp16(job.a[1] + x, job.b[1] + x, down), sy, row);
        const __mmask16 inside = _mm512_cmp_ps_mask(px, zero, _CMP_GE_OQ) & _mm512_cmp_ps_mask(py, zero, _CMP_GE_OQ) &
                                 _mm512_cmp_ps_mask(px, last_x, _CMP_LE_OQ) & _mm512_cmp_ps_mask(py, last_y, _CMP_LE_OQ);
        const __m512 w = _mm512_maskz_mov_ps(inside, _mm512_mul_ps(strength, lerp16(job.a[2] + x, job.b[2] + x, down)));
        const __m512 cx = _mm512_min_ps(_mm512_max_ps(px, zero), last_x), cy = _mm512_min_ps(_mm512_max_ps(py, zero), last_y);
        const __m512i x0 = _mm512_min_epi32(_mm512_cvttps_epi32(cx), x0_most), y0 = _mm512_min_epi32(_mm512_cvttps_epi32(cy), y0_most);
        const __m512 fx = _mm512_sub_ps(cx, _mm512_cvtepi32_ps(x0)), fy = _mm512_sub_ps(cy, _mm512_cvtepi32_ps(y0));
        __m512i at = _mm512_add_epi32(_mm512_mullo_epi32(y0, linesize), sizeof(T) == 1 ? x0 : _mm512_add_epi32(x0, x0));
        __m512i shift = _mm512_setzero_si512();
        if (sizeof(T) == 1) {
            const __mmask16 room = _mm512_cmpge_epi32_mask(x0, _mm512_set1_epi32(2));
            at = _mm512_mask_sub_epi32(at, room, at, _mm512_set1_epi32(2));
            shift = _mm512_maskz_mov_epi32(room, _mm512_set1_epi32(16));
        }
        const __m512i upper = _mm512_srlv_epi32(_mm512_i32gather_epi32(at, before.data, 1), shift);
        const __m512i lower = _mm512_srlv_epi32(_mm512_i32gather_epi32(_mm512_add_epi32(at, linesize), before.data, 1), shift);
        // Each 32-bit word holds the sample and its right neighbour.
        constexpr int bits = 8 * sizeof(T);
        const __m512 p = _mm512_cvtepi32_ps(_mm512_and_si512(upper, low16));
        const __m512 q = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(upper, bits), low16));
        const __m512 u = _mm512_cvtepi32_ps(_mm512_and_si512(lower, low16));
        const __m512 v = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(lower, bits), low16));
        const __m512 top = _mm512_fmadd_ps(_mm512_sub_ps(q, p), fx, p), bottom = _mm512_fmadd_ps(_mm512_sub_ps(v, u), fx, u);
        const __m512 sample = _mm512_fmadd_ps(_mm512_sub_ps(bottom, top), fy, top);
        const __m512 now = _mm512_cvtepi32_ps(sizeof(T) == 1 ? _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(out + x)))
                                                             : _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(out + x))));
        const __m512 d = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(w, _mm512_sub_ps(sample, now)), _mm512_sub_ps(zero, cap)), cap);
        squares = _mm512_fmadd_ps(d, d, squares);
        // Rounded half away from zero, as `row_changes` rounds.
        const __m512 fixed = _mm512_mul_ps(d, to_fixed);
        const __m512 away = _mm512_mask_sub_ps(half, _mm512_cmp_ps_mask(fixed, zero, _CMP_LT_OQ), zero, half);
        _mm256_storeu_si256((__m256i *)(change + x), _mm512_cvtsepi32_epi16(_mm512_cvttps_epi32(_mm512_add_ps(fixed, away))));
    }
    *sum += _mm512_reduce_add_ps(squares);
    return x;
}

// Whether this CPU has what `row_changes_avx512` needs.
static bool has_avx512() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
#endif

// `row_changes` over a whole row, through the AVX-512 loop where the plane and the CPU allow it.
template <typename T>
static float plane_row_changes(const stylize_plane &before, const T *out, const row_blend &job, bool vectors, short *change) {
    float sum = 0;
    int done = 0;
#if defined(__x86_64__)
    // One component, at least 8 samples a row (the 8-bit gathers read 4 bytes), 2 rows, and
    // every byte offset within 32 bits.
    if (vectors && before.channels == 1 && before.width >= 8 && before.height >= 2 && before.linesize > 0 &&
        (long)before.linesize * before.height < INT32_MAX)
        done = row_changes_avx512(before, out, job, before.width, change, &sum);
#else
    (void)vectors;
#endif
    return sum + row_changes(before, out, job, done, before.width, change);
}

extern "C" int stylize_flow_use_vectors(stylize_flow *flow, int enabled) {
#if defined(__x86_64__)
    static const bool available = has_avx512();
    flow->vectors = enabled && available;
#else
    flow->vectors = false;
#endif
    return flow->vectors;
}

extern "C" int stylize_flow_warp_blend_planes(stylize_flow *scratch, const stylize_plane *previous, const stylize_plane *out, int count,
                                              const float *backward, const float *trust, int low_width, int low_height, float strength,
                                              float max_change, float max_mean_square) {
    try {
        // Every buffer is made before any plane is touched, so that a failure leaves `out` as it was.
        scratch->changes.resize(count);
        int widest = 0;
        for (int p = 0; p < count; p++) {
            scratch->changes[p].create(out[p].height, out[p].width * out[p].channels, CV_16SC1);
            widest = std::max(widest, out[p].width);
        }
        for (auto &slot : scratch->wide)
            for (auto &values : slot) values.resize(widest);
        scratch->left.resize(widest);
        scratch->right.resize(widest);
        scratch->across.resize(widest);
        double mean_square = 0;
        for (int p = 0; p < count; p++) {
            const stylize_plane &now = out[p], &before = previous[p];
            // Plane samples per low-scale pixel, and the bilinear weights of the scaled-up grid
            // along a row (centres aligned, edges held).
            const float sx = (float)now.width / (float)low_width, sy = (float)now.height / (float)low_height;
            for (int x = 0; x < now.width; x++) {
                float at = std::min(std::max(((float)x + 0.5f) / sx - 0.5f, 0.0f), (float)(low_width - 1));
                scratch->left[x] = (int)at;
                scratch->right[x] = std::min(scratch->left[x] + 1, low_width - 1);
                scratch->across[x] = at - (float)scratch->left[x];
            }
            scratch->wide_row[0] = scratch->wide_row[1] = -1;
            const float cap = max_change * now.maximum;
            row_blend job = {{}, {}, 0, sx, sy, 0, strength, cap, 32767.0f / cap};
            double plane_squares = 0;
            for (int y = 0; y < now.height; y++) {
                float at = std::min(std::max(((float)y + 0.5f) / sy - 0.5f, 0.0f), (float)(low_height - 1));
                const int top = (int)at, bottom = std::min(top + 1, low_height - 1);
                // The low rows above (slot 0) and below (slot 1), each widened once as the rows go down.
                auto widen = [&](int slot, int low) {
                    auto &values = scratch->wide[slot];
                    widen_row(backward + 2L * low * low_width, trust + (long)low * low_width, scratch->left.data(), scratch->right.data(),
                              scratch->across.data(), now.width, values[0].data(), values[1].data(), values[2].data());
                    scratch->wide_row[slot] = low;
                };
                if (scratch->wide_row[0] != top) {
                    if (scratch->wide_row[1] == top) {
                        std::swap(scratch->wide[0], scratch->wide[1]);
                        std::swap(scratch->wide_row[0], scratch->wide_row[1]);
                    } else {
                        widen(0, top);
                    }
                }
                if (scratch->wide_row[1] != bottom) widen(1, bottom);
                for (int c = 0; c < 3; c++) {
                    job.a[c] = scratch->wide[0][c].data();
                    job.b[c] = scratch->wide[1][c].data();
                }
                job.down = at - (float)top;
                job.y = y;
                const uint8_t *row = now.data + (long)y * now.linesize;
                short *change = scratch->changes[p].ptr<short>(y);
                plane_squares += now.bytes == 1 ? plane_row_changes(before, row, job, scratch->vectors, change)
                                                : plane_row_changes(before, (const uint16_t *)row, job, scratch->vectors, change);
            }
            mean_square += now.weight * plane_squares / ((double)now.maximum * now.maximum * now.width * now.height * now.channels);
        }
        // A frame whose changes add up to more than the limit has them all scaled down to it.
        const float keep = mean_square > max_mean_square ? (float)std::sqrt(max_mean_square / mean_square) : 1.0f;
        for (int p = 0; p < count; p++) {
            const stylize_plane &now = out[p];
            const float factor = keep * max_change * now.maximum / 32767.0f;
            for (int y = 0; y < now.height; y++) {
                uint8_t *row = now.data + (long)y * now.linesize;
                const short *change = scratch->changes[p].ptr<short>(y);
                if (now.bytes == 1) plane_apply_8(row, change, now.width * now.channels, factor, now.maximum);
                else plane_apply_16((uint16_t *)row, change, now.width * now.channels, factor, now.maximum);
            }
        }
        return 0;
    } catch (...) {
        return -1;
    }
}
