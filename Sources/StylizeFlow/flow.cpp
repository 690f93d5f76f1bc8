#include "StylizeFlow.h"
#include "StylizeCloned.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

// Scratch rows of the portable loop, a plane row wide (`moved` and `spread`: a value per sample).
struct row_scratch {
    std::vector<int> x0, y0;
    std::vector<float> fx, fy, weight, spread, moved;
    void resize(int positions, int samples) {
        for (auto *v : {&x0, &y0}) v->resize(positions);
        for (auto *v : {&fx, &fy, &weight}) v->resize(positions);
        for (auto *v : {&spread, &moved}) v->resize(samples);
    }
};

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
    // Whether the plane blend runs its AVX-512 loop (when the CPU has it), and its portable loop's rows.
    bool vectors;
    row_scratch rows;
};

extern "C" stylize_flow *stylize_flow_create(stylize_flow_settings settings) {
    try {
        cv::setNumThreads(1);
        auto *flow = new stylize_flow;
        stylize_flow_use_vectors(flow, 1);
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
static inline __attribute__((always_inline)) float blend_row_body(float *out, const float *moved, const float *weight, short *change, int count, float max_change,
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
STYLIZE_CLONES(STYLIZE_STATIC, float, blend_row, (float *out, const float *moved, const float *weight, short *change, int count, float max_change,
                              float to_fixed), (out, moved, weight, change, count, max_change, to_fixed))

// Takes `factor` of each kept change back out of `out`.
static inline __attribute__((always_inline)) void take_back_body(float *out, const short *change, long count, float factor) {
    for (long i = 0; i < count; i++) out[i] -= factor * (float)change[i];
}
STYLIZE_CLONES(STYLIZE_STATIC, void, take_back, (float *out, const short *change, long count, float factor), (out, change, count, factor))

// Where each pixel of rows `y0` to `y1` was in the previous frame (`map`), and its weight, once
// per value, so that the blend is one flat loop (`weight`): `strength` times the trust, 0 where
// the position falls outside the frame. `flow` and `trust` hold the scaled-up rows from `r0`.
static inline __attribute__((always_inline)) void positions_body(const cv::Mat &flow, const cv::Mat &trust, int r0, int y0, int y1, int width, int height, float scale,
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
STYLIZE_CLONES(STYLIZE_STATIC, void, positions, (const cv::Mat &flow, const cv::Mat &trust, int r0, int y0, int y1, int width, int height, float scale,
                             float strength, cv::Mat &map, cv::Mat &weight), (flow, trust, r0, y0, y1, width, height, scale, strength, map, weight))

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

static inline __attribute__((always_inline)) void plane_apply_8_body(uint8_t *out, const short *change, int count, float factor, float maximum) {
    plane_apply(out, change, count, factor, maximum);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, plane_apply_8, (uint8_t *out, const short *change, int count, float factor, float maximum), (out, change, count, factor, maximum))
static inline __attribute__((always_inline)) void plane_apply_16_body(uint16_t *out, const short *change, int count, float factor, float maximum) {
    plane_apply(out, change, count, factor, maximum);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, plane_apply_16, (uint16_t *out, const short *change, int count, float factor, float maximum), (out, change, count, factor, maximum))

// Row `row` of the flow and the trust at the low scale, scaled up to a plane's width (bilinear,
// by the column tables), into three rows: dx, dy and trust.
static inline __attribute__((always_inline)) void widen_row_body(const float *flow, const float *trust, const int *left, const int *right, const float *across, int width,
                             float *dx, float *dy, float *t) {
    for (int x = 0; x < width; x++) {
        const int l = left[x], r = right[x];
        const float w = across[x];
        dx[x] = flow[2 * l] + (flow[2 * r] - flow[2 * l]) * w;
        dy[x] = flow[2 * l + 1] + (flow[2 * r + 1] - flow[2 * l + 1]) * w;
        t[x] = trust[l] + (trust[r] - trust[l]) * w;
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, widen_row, (const float *flow, const float *trust, const int *left, const int *right, const float *across, int width,
                             float *dx, float *dy, float *t), (flow, trust, left, right, across, width, dx, dy, t))

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

// The portable loop, in three passes over samples `from` to `to` of a row, so that the first
// and the last run on vectors (cloned per instruction set): where each sample was (the upper
// left of its four neighbours, `x0` and `y0`, and how far past it, `fx` and `fy`) and its
// weight; the previous plane sampled there (`moved`); the changes. `row_blend` says what each
// computes.
static inline __attribute__((always_inline)) void row_positions_body(const row_blend &job, int width, int height, int from, int to, int *x0, int *y0, float *fx,
                                 float *fy, float *weight) {
    const float last_x = (float)(width - 1), last_y = (float)(height - 1);
    const int most_x = std::max(width - 2, 0), most_y = std::max(height - 2, 0);
    const float *dx0 = job.a[0], *dy0 = job.a[1], *t0 = job.a[2], *dx1 = job.b[0], *dy1 = job.b[1], *t1 = job.b[2];
    for (int x = from; x < to; x++) {
        const float px = (float)x + lerp(dx0[x], dx1[x], job.down) * job.sx, py = (float)job.y + lerp(dy0[x], dy1[x], job.down) * job.sy;
        weight[x] = ((px >= 0) & (py >= 0) & (px <= last_x) & (py <= last_y)) ? job.strength * lerp(t0[x], t1[x], job.down) : 0;
        // Held to the plane (a position that is not a number at all to its corner, as the AVX-512 loop does).
        const float cx = px > 0 ? std::min(px, last_x) : 0.0f, cy = py > 0 ? std::min(py, last_y) : 0.0f;
        const int ix = std::min((int)cx, most_x), iy = std::min((int)cy, most_y);
        x0[x] = ix;
        y0[x] = iy;
        fx[x] = cx - (float)ix;
        fy[x] = cy - (float)iy;
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, row_positions, (const row_blend &job, int width, int height, int from, int to, int *x0, int *y0, float *fx,
                                 float *fy, float *weight), (job, width, height, from, to, x0, y0, fx, fy, weight))

// One component: the four neighbours' offsets from the plane's start, on vectors.
template <typename T>
static inline __attribute__((always_inline)) void samples_of(const uint8_t *__restrict data, int linesize, int width, int height,
                                                              const int *__restrict x0, const int *__restrict y0, const float *__restrict fx,
                                                              const float *__restrict fy, int from, int to, float *__restrict moved) {
    const int last_x = width - 1, last_y = height - 1;
#pragma clang loop vectorize(enable)
    for (int x = from; x < to; x++) {
        const T *r0 = (const T *)(data + y0[x] * linesize);
        const T *r1 = (const T *)(data + (y0[x] < last_y ? y0[x] + 1 : y0[x]) * linesize);
        const int a = x0[x], b = x0[x] < last_x ? x0[x] + 1 : x0[x];
        const float top = lerp((float)r0[a], (float)r0[b], fx[x]), bottom = lerp((float)r1[a], (float)r1[b], fx[x]);
        moved[x] = lerp(top, bottom, fy[x]);
    }
}
static inline __attribute__((always_inline)) void samples_8_body(const uint8_t *data, int linesize, int width, int height, const int *x0, const int *y0, const float *fx,
                             const float *fy, int from, int to, float *moved) {
    samples_of<uint8_t>(data, linesize, width, height, x0, y0, fx, fy, from, to, moved);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, samples_8, (const uint8_t *data, int linesize, int width, int height, const int *x0, const int *y0, const float *fx,
                             const float *fy, int from, int to, float *moved), (data, linesize, width, height, x0, y0, fx, fy, from, to, moved))
static inline __attribute__((always_inline)) void samples_16_body(const uint8_t *data, int linesize, int width, int height, const int *x0, const int *y0, const float *fx,
                              const float *fy, int from, int to, float *moved) {
    samples_of<uint16_t>(data, linesize, width, height, x0, y0, fx, fy, from, to, moved);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, samples_16, (const uint8_t *data, int linesize, int width, int height, const int *x0, const int *y0, const float *fx,
                              const float *fy, int from, int to, float *moved), (data, linesize, width, height, x0, y0, fx, fy, from, to, moved))

template <typename T>
static void row_samples(const stylize_plane &before, const int *x0, const int *y0, const float *fx, const float *fy, int from, int to,
                        float *moved) {
    const int channels = before.channels, last_x = before.width - 1, last_y = before.height - 1;
    if (channels == 1 && (long)before.linesize * before.height < INT32_MAX) {
        (sizeof(T) == 1 ? samples_8 : samples_16)(before.data, before.linesize, before.width, before.height, x0, y0, fx, fy, from, to, moved);
        return;
    }
    for (int x = from; x < to; x++) {
        const T *r0 = (const T *)(before.data + (long)y0[x] * before.linesize);
        const T *r1 = y0[x] < last_y ? (const T *)((const uint8_t *)r0 + before.linesize) : r0;
        const int a = x0[x] * channels, b = (x0[x] < last_x ? x0[x] + 1 : x0[x]) * channels;
        for (int c = 0; c < channels; c++) {
            const float top = lerp((float)r0[a + c], (float)r0[b + c], fx[x]), bottom = lerp((float)r1[a + c], (float)r1[b + c], fx[x]);
            moved[x * channels + c] = lerp(top, bottom, fy[x]);
        }
    }
}

template <typename T>
static inline __attribute__((always_inline)) float changes_of(const T *out, const float *moved, const float *weight, int from, int to,
                                                               float cap, float to_fixed, short *change) {
    float sums[16] = {0};
    int i = from;
    for (; i + 16 <= to; i += 16) {
        for (int k = 0; k < 16; k++) {
            const float d = std::min(std::max(weight[i + k] * (moved[i + k] - (float)out[i + k]), -cap), cap);
            const float fixed = d * to_fixed;
            change[i + k] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
            sums[k] += d * d;
        }
    }
    for (; i < to; i++) {
        const float d = std::min(std::max(weight[i] * (moved[i] - (float)out[i]), -cap), cap);
        const float fixed = d * to_fixed;
        change[i] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
        sums[0] += d * d;
    }
    float sum = 0;
    for (float v : sums) sum += v;
    return sum;
}

static inline __attribute__((always_inline)) float row_changes_8_body(const uint8_t *out, const float *moved, const float *weight, int from, int to, float cap, float to_fixed,
                                  short *change) {
    return changes_of(out, moved, weight, from, to, cap, to_fixed, change);
}
STYLIZE_CLONES(STYLIZE_STATIC, float, row_changes_8, (const uint8_t *out, const float *moved, const float *weight, int from, int to, float cap, float to_fixed,
                                  short *change), (out, moved, weight, from, to, cap, to_fixed, change))
static inline __attribute__((always_inline)) float row_changes_16_body(const uint16_t *out, const float *moved, const float *weight, int from, int to, float cap,
                                   float to_fixed, short *change) {
    return changes_of(out, moved, weight, from, to, cap, to_fixed, change);
}
STYLIZE_CLONES(STYLIZE_STATIC, float, row_changes_16, (const uint16_t *out, const float *moved, const float *weight, int from, int to, float cap,
                                   float to_fixed, short *change), (out, moved, weight, from, to, cap, to_fixed, change))

// Samples `from` to `to` (positions) of the row, any layout; returns the sum of the squared changes.
template <typename T>
static float row_changes(const stylize_plane &before, const T *out, const row_blend &job, int from, int to, row_scratch &rows, short *change) {
    if (from >= to) return 0;
    const int channels = before.channels;
    row_positions(job, before.width, before.height, from, to, rows.x0.data(), rows.y0.data(), rows.fx.data(), rows.fy.data(), rows.weight.data());
    row_samples<T>(before, rows.x0.data(), rows.y0.data(), rows.fx.data(), rows.fy.data(), from, to, rows.moved.data());
    // Samples of several components get their position's weight once per component.
    const float *weight = rows.weight.data();
    if (channels > 1) {
        for (int x = from; x < to; x++)
            for (int c = 0; c < channels; c++) rows.spread[x * channels + c] = rows.weight[x];
        weight = rows.spread.data();
    }
    return sizeof(T) == 1 ? row_changes_8((const uint8_t *)out, rows.moved.data(), weight, from * channels, to * channels, job.cap, job.to_fixed, change)
                          : row_changes_16((const uint16_t *)out, rows.moved.data(), weight, from * channels, to * channels, job.cap, job.to_fixed,
                                           change);
}

#if defined(__x86_64__)
#include <immintrin.h>

// a + (b - a) * t for 16 values.
__attribute__((target("avx512f"), always_inline)) static inline __m512 lerp16(const float *a, const float *b, __m512 t) {
    const __m512 u = _mm512_loadu_ps(a);
    return _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(b), u), t, u);
}

// 32 samples from `row` (those not `valid` read as 0, and not read), widened to 32 bits in two halves.
template <typename T>
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline void load32(const T *row, __mmask32 valid, __m512i &low,
                                                                                               __m512i &high) {
    if (sizeof(T) == 1) {
        const __m256i bytes = _mm256_maskz_loadu_epi8(valid, row);
        low = _mm512_cvtepu8_epi32(_mm256_castsi256_si128(bytes));
        high = _mm512_cvtepu8_epi32(_mm256_extracti128_si256(bytes, 1));
    } else {
        const __m512i words = _mm512_maskz_loadu_epi16(valid, row);
        low = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(words));
        high = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(words, 1));
    }
}

// `row_changes` for single-component planes, 16 samples at a time with AVX-512. Returns how
// many samples it did (a multiple of 16; `row_changes` does the rest).
template <typename T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) static int row_changes_avx512(const stylize_plane &before, const T *out, const row_blend &job, int count,
                                                                          short *change, float *sum) {
    const int width = before.width, height = before.height;
    const __m512 zero = _mm512_setzero_ps(), last_x = _mm512_set1_ps((float)(width - 1)), last_y = _mm512_set1_ps((float)(height - 1));
    const __m512i x0_most = _mm512_set1_epi32(width - 2), y0_most = _mm512_set1_epi32(height - 2);
    const __m512i linesize = _mm512_set1_epi32(before.linesize), low16 = _mm512_set1_epi32(sizeof(T) == 1 ? 0xff : 0xffff);
    const __m512 down = _mm512_set1_ps(job.down), sx = _mm512_set1_ps(job.sx), sy = _mm512_set1_ps(job.sy);
    const __m512 row = _mm512_set1_ps((float)job.y), strength = _mm512_set1_ps(job.strength);
    const __m512 cap = _mm512_set1_ps(job.cap), to_fixed = _mm512_set1_ps(job.to_fixed), half = _mm512_set1_ps(0.5f);
    const __m512 steps = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i one = _mm512_set1_epi32(1), thirty = _mm512_set1_epi32(30);
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
        // The four neighbours of each position (p q above, u v below). Where the 16 lie within
        // 31 samples across and two rows down (as a smooth flow puts them), loads of 32 samples
        // from those rows and permutes fetch them; elsewhere 32-bit gathers, each bringing a
        // sample and its right neighbour (for 8-bit samples from two bytes to the left where
        // there is room, so that no read passes the row's last sample).
        __m512i p, q, u, v;
        const int first_y = _mm512_reduce_min_epi32(y0);
        const int base = std::max(0, _mm_cvtsi128_si32(_mm512_castsi512_si128(x0)) - 4);
        const __m512i offset = _mm512_sub_epi32(x0, _mm512_set1_epi32(base));
        const __m512i down_rows = _mm512_sub_epi32(y0, _mm512_set1_epi32(first_y));
        if (!_mm512_cmpgt_epu32_mask(down_rows, one) && !_mm512_cmpgt_epu32_mask(offset, thirty)) {
            const int n = std::min(32, width - base);
            const __mmask32 valid = n >= 32 ? 0xffffffffu : (1u << n) - 1;
            const __m512i next = _mm512_add_epi32(offset, one);
            const T *above = (const T *)(before.data + (long)first_y * before.linesize) + base;
            auto below = [&](const T *row) { return (const T *)((const uint8_t *)row + before.linesize); };
            __m512i low, high;
            load32(above, valid, low, high);
            p = _mm512_permutex2var_epi32(low, offset, high);
            q = _mm512_permutex2var_epi32(low, next, high);
            load32(below(above), valid, low, high);
            u = _mm512_permutex2var_epi32(low, offset, high);
            v = _mm512_permutex2var_epi32(low, next, high);
            // Positions a row further down (their row is at most the plane's last but one) take
            // the second row as theirs above and the third below.
            const __mmask16 lower = _mm512_cmpeq_epi32_mask(down_rows, one);
            if (lower) {
                p = _mm512_mask_mov_epi32(p, lower, u);
                q = _mm512_mask_mov_epi32(q, lower, v);
                load32(below(below(above)), valid, low, high);
                u = _mm512_mask_mov_epi32(u, lower, _mm512_permutex2var_epi32(low, offset, high));
                v = _mm512_mask_mov_epi32(v, lower, _mm512_permutex2var_epi32(low, next, high));
            }
        } else {
            __m512i at = _mm512_add_epi32(_mm512_mullo_epi32(y0, linesize), sizeof(T) == 1 ? x0 : _mm512_add_epi32(x0, x0));
            __m512i shift = _mm512_setzero_si512();
            if (sizeof(T) == 1) {
                const __mmask16 room = _mm512_cmpge_epi32_mask(x0, _mm512_set1_epi32(2));
                at = _mm512_mask_sub_epi32(at, room, at, _mm512_set1_epi32(2));
                shift = _mm512_maskz_mov_epi32(room, _mm512_set1_epi32(16));
            }
            const __m512i upper = _mm512_srlv_epi32(_mm512_i32gather_epi32(at, before.data, 1), shift);
            const __m512i lower = _mm512_srlv_epi32(_mm512_i32gather_epi32(_mm512_add_epi32(at, linesize), before.data, 1), shift);
            constexpr int bits = 8 * sizeof(T);
            p = _mm512_and_si512(upper, low16);
            q = _mm512_and_si512(_mm512_srli_epi32(upper, bits), low16);
            u = _mm512_and_si512(lower, low16);
            v = _mm512_and_si512(_mm512_srli_epi32(lower, bits), low16);
        }
        const __m512 pf = _mm512_cvtepi32_ps(p), qf = _mm512_cvtepi32_ps(q), uf = _mm512_cvtepi32_ps(u), vf = _mm512_cvtepi32_ps(v);
        const __m512 top = _mm512_fmadd_ps(_mm512_sub_ps(qf, pf), fx, pf), bottom = _mm512_fmadd_ps(_mm512_sub_ps(vf, uf), fx, uf);
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
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
#endif

// `row_changes` over a whole row, through the AVX-512 loop where the plane and the CPU allow it.
template <typename T>
static float plane_row_changes(const stylize_plane &before, const T *out, const row_blend &job, bool vectors, row_scratch &rows,
                               short *change) {
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
    return sum + row_changes(before, out, job, done, before.width, rows, change);
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
        int widest = 0, most_samples = 0;
        for (int p = 0; p < count; p++) {
            scratch->changes[p].create(out[p].height, out[p].width * out[p].channels, CV_16SC1);
            widest = std::max(widest, out[p].width);
            most_samples = std::max(most_samples, out[p].width * out[p].channels);
        }
        scratch->rows.resize(widest, most_samples);
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
                plane_squares += now.bytes == 1 ? plane_row_changes(before, row, job, scratch->vectors, scratch->rows, change)
                                                : plane_row_changes(before, (const uint16_t *)row, job, scratch->vectors, scratch->rows, change);
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
