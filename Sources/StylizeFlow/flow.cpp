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

namespace {

/// `low` (low_width x low_height, any channels) scaled up by `scale` with bilinear weights at
/// pixel centres (OpenCV's INTER_LINEAR) into `fitted`, cut or extended (edge values held) to
/// width x height; `up` is scratch.
void upscale(const cv::Mat &low, int scale, int width, int height, cv::Mat &up, cv::Mat &fitted) {
    if (low.cols * scale == width && low.rows * scale == height) {
        cv::resize(low, fitted, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
        return;
    }
    cv::resize(low, up, cv::Size(low.cols * scale, low.rows * scale), 0, 0, cv::INTER_LINEAR);
    cv::Mat inside = up(cv::Rect(0, 0, std::min(up.cols, width), std::min(up.rows, height)));
    cv::copyMakeBorder(inside, fitted, 0, height - inside.rows, 0, width - inside.cols, cv::BORDER_REPLICATE);
}

}  // namespace

extern "C" int stylize_flow_warp_blend(stylize_flow *scratch, const float *previous, const float *backward, const float *trust, int low_width, int low_height,
                                       int scale, int width, int height, float strength, float max_change, float max_mean_square,
                                       float *out) {
    try {
        const cv::Mat flow_low(low_height, low_width, CV_32FC2, const_cast<float *>(backward));
        const cv::Mat trust_low(low_height, low_width, CV_32FC1, const_cast<float *>(trust));
        const cv::Mat before(height, width, CV_32FC3, const_cast<float *>(previous));
        cv::Mat &flow = scratch->flow, &weight = scratch->weight, &map = scratch->map, &moved = scratch->moved;
        upscale(flow_low, scale, width, height, scratch->up, flow);
        upscale(trust_low, scale, width, height, scratch->up, weight);
        // Where each pixel was in the previous frame, in full-resolution pixels.
        map.create(height, width, CV_32FC2);
        const float last_x = (float)(width - 1), last_y = (float)(height - 1), s = (float)scale;
        for (int y = 0; y < height; y++) {
            const float *f = flow.ptr<float>(y);
            float *m = map.ptr<float>(y), *w = weight.ptr<float>(y);
            for (int x = 0; x < width; x++) {
                float sx = (float)x + f[2 * x] * s, sy = (float)y + f[2 * x + 1] * s;
                m[2 * x] = sx;
                m[2 * x + 1] = sy;
                w[x] = (sx >= 0 && sy >= 0 && sx <= last_x && sy <= last_y) ? strength * w[x] : 0;
            }
        }
        cv::remap(before, moved, map, cv::noArray(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
        // Each value's change, capped, and their mean square over the frame.
        scratch->change.create(height, width, CV_32FC3);
        double squares = 0;
        for (int y = 0; y < height; y++) {
            const float *m = moved.ptr<float>(y), *w = weight.ptr<float>(y), *o = out + (long)y * width * 3;
            float *d = scratch->change.ptr<float>(y);
            float row = 0;
            for (int x = 0; x < width; x++) {
                for (int c = 0; c < 3; c++) {
                    float change = std::min(std::max(w[x] * (m[3 * x + c] - o[3 * x + c]), -max_change), max_change);
                    d[3 * x + c] = change;
                    row += change * change;
                }
            }
            squares += row;
        }
        // A frame whose changes add up to more than the limit gets them all scaled down to it.
        double mean_square = squares / ((double)width * height * 3);
        float factor = mean_square > max_mean_square ? (float)std::sqrt(max_mean_square / mean_square) : 1.0f;
        for (int y = 0; y < height; y++) {
            const float *d = scratch->change.ptr<float>(y);
            float *o = out + (long)y * width * 3;
            for (int i = 0; i < width * 3; i++) o[i] += factor * d[i];
        }
        return 0;
    } catch (...) {
        return -1;
    }
}
