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

extern "C" int stylize_flow_warp_blend(stylize_flow *scratch, const float *previous, const float *backward, const float *trust,
                                       int low_width, int low_height, int scale, int width, int height, float strength, float max_change,
                                       float max_mean_square, float *out) {
    try {
        const cv::Mat flow_low(low_height, low_width, CV_32FC2, const_cast<float *>(backward));
        const cv::Mat trust_low(low_height, low_width, CV_32FC1, const_cast<float *>(trust));
        const cv::Mat before(height, width, CV_32FC3, const_cast<float *>(previous));
        // Each value's change, capped, kept in fixed point (steps of max_change / 32767) until
        // the frame's total is known.
        scratch->change.create(height, width * 3, CV_16SC1);
        const float to_fixed = 32767.0f / max_change;
        const float last_x = (float)(width - 1), last_y = (float)(height - 1), s = (float)scale;
        const int up_width = low_width * scale;
        double squares = 0;
        // In stripes of about 64 rows, so that the scratch stays small: the flow and the
        // trust of a stripe's rows, scaled up (with a row of margin each side, so that the
        // bilinear weights are those of the whole picture), where each pixel was, and the
        // previous output moved from there.
        const int band = std::max(1, 64 / scale);
        for (int first = 0; first * scale < height; first += band) {
            const int y0 = first * scale, y1 = std::min(height, first + band >= low_height ? height : (first + band) * scale);
            const int r0 = std::max(0, first - 1), r1 = std::min(low_height, first + band + 1);
            cv::resize(flow_low.rowRange(r0, r1), scratch->flow, cv::Size(up_width, (r1 - r0) * scale), 0, 0, cv::INTER_LINEAR);
            cv::resize(trust_low.rowRange(r0, r1), scratch->weight, cv::Size(up_width, (r1 - r0) * scale), 0, 0, cv::INTER_LINEAR);
            scratch->map.create(y1 - y0, width, CV_32FC2);
            scratch->up.create(y1 - y0, width, CV_32FC3);
            for (int y = y0; y < y1; y++) {
                // Rows and columns past the scaled-up grid hold its last ones.
                const int row = std::min(y - r0 * scale, scratch->flow.rows - 1);
                const float *f = scratch->flow.ptr<float>(row), *t = scratch->weight.ptr<float>(row);
                float *m = scratch->map.ptr<float>(y - y0), *w = scratch->up.ptr<float>(y - y0);
                for (int x = 0; x < width; x++) {
                    const int column = std::min(x, up_width - 1);
                    float sx = (float)x + f[2 * column] * s, sy = (float)y + f[2 * column + 1] * s;
                    m[2 * x] = sx;
                    m[2 * x + 1] = sy;
                    // The weight once per value, so that the blend below is one flat loop.
                    w[3 * x] = w[3 * x + 1] = w[3 * x + 2] = (sx >= 0 && sy >= 0 && sx <= last_x && sy <= last_y) ? strength * t[column] : 0;
                }
            }
            cv::remap(before, scratch->moved, scratch->map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
            for (int y = y0; y < y1; y++) {
                const float *m = scratch->moved.ptr<float>(y - y0), *w = scratch->up.ptr<float>(y - y0), *o = out + (long)y * width * 3;
                short *d = scratch->change.ptr<short>(y);
                // Sixteen partial sums, so that the loop runs on vectors.
                float sums[16] = {0};
                int i = 0;
                for (; i + 16 <= width * 3; i += 16) {
                    for (int k = 0; k < 16; k++) {
                        float change = std::min(std::max(w[i + k] * (m[i + k] - o[i + k]), -max_change), max_change);
                        float fixed = change * to_fixed;
                        d[i + k] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
                        sums[k] += change * change;
                    }
                }
                for (; i < width * 3; i++) {
                    float change = std::min(std::max(w[i] * (m[i] - o[i]), -max_change), max_change);
                    float fixed = change * to_fixed;
                    d[i] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
                    sums[0] += change * change;
                }
                for (float sum : sums) squares += sum;
            }
        }
        // A frame whose changes add up to more than the limit gets them all scaled down to it.
        double mean_square = squares / ((double)width * height * 3);
        float factor = (mean_square > max_mean_square ? (float)std::sqrt(max_mean_square / mean_square) : 1.0f) / to_fixed;
        for (int y = 0; y < height; y++) {
            const short *d = scratch->change.ptr<short>(y);
            float *o = out + (long)y * width * 3;
            for (int i = 0; i < width * 3; i++) o[i] += factor * (float)d[i];
        }
        return 0;
    } catch (...) {
        return -1;
    }
}
