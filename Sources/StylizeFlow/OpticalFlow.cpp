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
            // As DIS scales its finest level's flow to the size it was given.
            cv::resize(flow->low, result, result.size());
            result *= 1 << levels;
        } else {
            result.setTo(0);
            flow->dis->setFinestScale(levels);
            flow->dis->calc(a, b, result);
        }
        // calc and resize write into `result` in place as long as the size and type already match.
        return result.data == reinterpret_cast<uchar *>(out) ? 0 : -1;
    } catch (...) {
        return -1;
    }
}

extern "C" int stylize_flow_trust_regions(const float *consistency, const float *match, int width, int height, int reach,
                                         float *trust, float *sure) {
    try {
        const cv::Mat consistent(height, width, CV_32FC1, const_cast<float *>(consistency)),
            matching(height, width, CV_32FC1, const_cast<float *>(match));
        cv::Mat coarse(height, width, CV_32FC1, trust), fine(height, width, CV_32FC1, sure), held;
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
