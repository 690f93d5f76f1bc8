// OpenCV's side of the stabilizer: DIS optical flow between two lumas, and the trust regions
// made from the flow's checks with OpenCV's median and morphology.

#include "FlowInternal.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

extern "C" stylize_flow *stylize_flow_create(stylize_flow_settings settings) {
    try {
        cv::setNumThreads(1);
        auto *flow = new stylize_flow;
        flow->dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
        flow->finest_scale = settings.finest_scale;
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

namespace {

// The coarsest pyramid level OpenCV's DIS searches from on a `width` x `height` image with
// `patch`-pixel patches (DISOpticalFlowImpl::calc in OpenCV 4.6's dis_flow.cpp).
int coarsest_level(int width, int height, int patch) {
    return std::min((int)(std::log(std::max(width, height) / (4.0 * patch)) / std::log(2.0) + 0.5),
                    (int)(std::log(std::min(width, height) / patch) / std::log(2.0)));
}

// Calls `visit(x, y)` for every pixel within `band` of an edge of a `width` x `height` picture.
template <typename Visit> void for_edges(int width, int height, int band, Visit visit) {
    for (int y = 0; y < height; y++) {
        const bool edge_row = y < band || y >= height - band;
        for (int x = 0; x < width; x++) {
            if (!edge_row && x == band) x = width - band;
            visit(x, y);
        }
    }
}

// Bilinear sample of an 8-bit picture at (x, y), held at its edges (and at its corner where a
// coordinate is not a number).
float sample(const cv::Mat &picture, float x, float y) {
    x = x >= 0 ? std::min(x, (float)(picture.cols - 1)) : 0.0f;
    y = y >= 0 ? std::min(y, (float)(picture.rows - 1)) : 0.0f;
    const int x0 = (int)x, y0 = (int)y, x1 = std::min(x0 + 1, picture.cols - 1), y1 = std::min(y0 + 1, picture.rows - 1);
    const float fx = x - (float)x0, fy = y - (float)y0;
    const uint8_t *top = picture.ptr<uint8_t>(y0), *bottom = picture.ptr<uint8_t>(y1);
    const float upper = top[x0] + (top[x1] - top[x0]) * fx, lower = bottom[x0] + (bottom[x1] - bottom[x0]) * fx;
    return upper + (lower - upper) * fy;
}

// Where DIS's patches reach over the frame's edge, its flow goes wrong where content comes into
// view: a patch there holds a strip that the other frame does not show, and the flow of every
// patch that overlaps it is pulled off (on an exact 4-pixel pan at 640x360, by 0.2-0.8 pixels of
// the 320x180 flow over its last 17 columns, none elsewhere). Within `reach` of an edge, each pixel
// is offered the flow of the nearest pixel that far in, and takes it where it carries `to` onto
// `from` better (the absolute difference summed over 3 x 3 pixels): a camera's motion is followed
// to the edge, and an object that moves there on its own keeps the flow that follows it.
void fill_edges(stylize_flow *scratch, const cv::Mat &from, const cv::Mat &to, int reach, cv::Mat &flow) {
    const int width = flow.cols, height = flow.rows;
    if (width <= 2 * reach + 2 || height <= 2 * reach + 2) return;
    const auto inner = [&](int x, int y) {
        return flow.at<cv::Vec2f>(std::min(std::max(y, reach), height - 1 - reach), std::min(std::max(x, reach), width - 1 - reach));
    };
    const auto miss = [&](int x, int y, cv::Vec2f step) {
        return std::fabs((float)from.at<uint8_t>(y, x) - sample(to, (float)x + step[0], (float)y + step[1]));
    };
    // Each flow's miss one pixel further in than the band, which the sums over 3 x 3 reach.
    scratch->miss_own.create(height, width, CV_32F);
    scratch->miss_inner.create(height, width, CV_32F);
    for_edges(width, height, reach + 1, [&](int x, int y) {
        scratch->miss_own.at<float>(y, x) = miss(x, y, flow.at<cv::Vec2f>(y, x));
        scratch->miss_inner.at<float>(y, x) = miss(x, y, inner(x, y));
    });
    const auto sum = [&](const cv::Mat &values, int x, int y) {
        float total = 0;
        for (int j = std::max(y - 1, 0); j <= std::min(y + 1, height - 1); j++)
            for (int i = std::max(x - 1, 0); i <= std::min(x + 1, width - 1); i++) total += values.at<float>(j, i);
        return total;
    };
    // Chosen first and written after, so that every choice sees DIS's own flow.
    scratch->chosen.clear();
    for_edges(width, height, reach, [&](int x, int y) {
        if (sum(scratch->miss_inner, x, y) < sum(scratch->miss_own, x, y)) scratch->chosen.push_back({x, y});
    });
    for (const cv::Point &at : scratch->chosen) flow.at<cv::Vec2f>(at) = inner(at.x, at.y);
}

} // namespace

extern "C" int stylize_flow_compute(stylize_flow *flow, const uint8_t *from, const uint8_t *to, int width, int height, float *out) {
    try {
        cv::Mat a(height, width, CV_8UC1, const_cast<uint8_t *>(from));
        cv::Mat b(height, width, CV_8UC1, const_cast<uint8_t *>(to));
        cv::Mat result(height, width, CV_32FC2, out);
        // DIS is given a flow to start from: zero, which it tries at every patch against what the
        // coarser levels found (a candidate that keeps still content still). The levels finer
        // than `finest_scale` are never searched, so the lumas are reduced to that level here,
        // as DIS would reduce them, and DIS runs on them from level 0: the same pyramid and the
        // same flow, without scaling a full-size zero flow to every level (a ninth of DIS's
        // time with 320x180 lumas). Where the reduced size would make DIS pick its coarsest
        // level differently (a few odd sizes, and tiny frames), it reduces them itself.
        const int levels = flow->finest_scale, patch = flow->dis->getPatchSize();
        const cv::Size low(width >> levels, height >> levels);
        const int coarsest = std::min(low.width, low.height) >= 2 * patch ? coarsest_level(low.width, low.height, patch) : -1;
        if (levels > 0 && coarsest >= 0 && coarsest + levels == coarsest_level(width, height, patch)) {
            cv::resize(a, flow->from_low, low, 0, 0, cv::INTER_AREA);
            cv::resize(b, flow->to_low, low, 0, 0, cv::INTER_AREA);
            flow->low.create(low, CV_32FC2);
            flow->low.setTo(0);
            flow->dis->setFinestScale(0);
            flow->dis->calc(flow->from_low, flow->to_low, flow->low);
            fill_edges(flow, flow->from_low, flow->to_low, patch + 1, flow->low);
            // As DIS scales its finest level's flow to the size it was given.
            cv::resize(flow->low, result, result.size());
            result *= 1 << levels;
        } else {
            // DIS needs a pyramid that reaches its finest level: on smaller lumas it would read
            // past its own levels.
            if (std::min(width, height) < patch || coarsest_level(width, height, patch) < levels) return -1;
            result.setTo(0);
            flow->dis->setFinestScale(levels);
            flow->dis->calc(a, b, result);
            if (result.data == reinterpret_cast<uchar *>(out)) fill_edges(flow, a, b, (patch + 1) << levels, result);
        }
        // calc and resize write into `result` in place as long as the size and type already match.
        return result.data == reinterpret_cast<uchar *>(out) ? 0 : -1;
    } catch (...) {
        return -1;
    }
}

extern "C" float stylize_flow_excuse_flat(stylize_flow *scratch, float *consistency, const float *match, const uint8_t *luma, int width,
                                         int height, int window, float flat_gradient) {
    try {
        const cv::Mat plane(height, width, CV_8UC1, const_cast<uint8_t *>(luma));
        // Kept from call to call: made anew, they took half of this function's time.
        cv::Mat &dx = scratch->dx, &dy = scratch->dy, &texture = scratch->texture;
        // Both Sobel derivatives in one pass, in integers: 8 times a ramp's levels a pixel.
        cv::spatialGradient(plane, dx, dy, 3, cv::BORDER_REPLICATE);
        // Their absolute values added, into dx (at most 2 x 4 x 255: no saturation).
        for (int y = 0; y < height; y++) {
            int16_t *gradient = dx.ptr<int16_t>(y);
            const int16_t *down = dy.ptr<int16_t>(y);
            for (int x = 0; x < width; x++) gradient[x] = (int16_t)(std::abs(gradient[x]) + std::abs(down[x]));
        }
        cv::boxFilter(dx, texture, CV_32F, cv::Size(window, window), cv::Point(-1, -1), true, cv::BORDER_REPLICATE);
        const float flat_texture = 8 * flat_gradient;
        long doubtful = 0;
        for (int y = 0; y < height; y++) {
            const float *mean = texture.ptr<float>(y), *matching = match + (long)y * width;
            float *consistent = consistency + (long)y * width;
            for (int x = 0; x < width; x++) {
                const float flat = std::clamp(2 - mean[x] / flat_texture, 0.0f, 1.0f);
                consistent[x] = std::max(consistent[x], flat);
                doubtful += consistent[x] * matching[x] < 0.1f;
            }
        }
        return (float)doubtful / (float)((long)width * height);
    } catch (...) {
        return -1;
    }
}

extern "C" int stylize_flow_trust_regions(stylize_flow *scratch, const float *consistency, const float *match, int width, int height,
                                         int reach, float *trust, float *sure) {
    try {
        const cv::Mat consistent(height, width, CV_32FC1, const_cast<float *>(consistency)),
            matching(height, width, CV_32FC1, const_cast<float *>(match));
        cv::Mat coarse(height, width, CV_32FC1, trust), fine(height, width, CV_32FC1, sure);
        cv::Mat &held = scratch->held;
        const auto square = [](int side) { return cv::getStructuringElement(cv::MORPH_RECT, cv::Size(side, side)); };
        // Where the luma does not match: a single pixel that misses (noise) is outvoted by its
        // neighbours, a patch that misses (what was just uncovered) spreads by one pixel.
        cv::medianBlur(matching, held, 3);
        cv::erode(held, held, square(3), cv::Point(-1, -1), 1, cv::BORDER_REPLICATE);
        cv::multiply(consistent, held, coarse);
        // Where the flow breaks (the edges of moving objects), the least consistency within `reach`.
        cv::erode(consistent, fine, square(2 * reach + 1), cv::Point(-1, -1), 1, cv::BORDER_REPLICATE);
        cv::multiply(fine, held, fine);
        return 0;
    } catch (...) {
        return -1;
    }
}
