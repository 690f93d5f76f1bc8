#include "StylizeFlow.h"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

struct stylize_flow {
    cv::Ptr<cv::DISOpticalFlow> dis;
    // Scratch for warp_blend, kept from frame to frame (create() reuses memory of the same size).
    cv::Mat up, flow, weight, map, moved, change;
};

extern "C" stylize_flow *stylize_flow_create(int preset) {
    try {
        cv::setNumThreads(1);
        int kind = preset == STYLIZE_FLOW_ULTRAFAST ? cv::DISOpticalFlow::PRESET_ULTRAFAST
                 : preset == STYLIZE_FLOW_FAST ? cv::DISOpticalFlow::PRESET_FAST : cv::DISOpticalFlow::PRESET_MEDIUM;
        auto *flow = new stylize_flow;
        flow->dis = cv::DISOpticalFlow::create(kind);
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

// The loops below are written so that the compiler vectorizes them; each is compiled for
// AVX-512, AVX2 and the baseline, and the loader picks the best the CPU has. Sanitizer builds
// use one version (a sanitizer's runtime is not up when the loader picks).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define STYLIZE_SANITIZED 1
#endif
#endif
#if defined(__x86_64__) && defined(__clang__) && defined(__linux__) && !defined(STYLIZE_SANITIZED)
#define CLONED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONED
#endif

// Moves `count` values of `out` towards `moved` by `weight` times the difference, each by at most
// `max_change`; keeps each change in fixed point (`to_fixed` steps of 1) and returns the sum of
// their squares.
CLONED static float blend_row(float *out, const float *moved, const float *weight, short *change, int count, float max_change,
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
CLONED static void take_back(float *out, const short *change, long count, float factor) {
    for (long i = 0; i < count; i++) out[i] -= factor * (float)change[i];
}

// Where each pixel of rows `y0` to `y1` was in the previous frame (`map`), and its weight, once
// per value, so that the blend is one flat loop (`weight`): `strength` times the trust, 0 where
// the position falls outside the frame. `flow` and `trust` hold the scaled-up rows from `r0`.
CLONED static void positions(const cv::Mat &flow, const cv::Mat &trust, int r0, int y0, int y1, int width, int height, float scale,
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
