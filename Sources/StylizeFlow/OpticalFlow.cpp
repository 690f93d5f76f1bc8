// OpenCV's side of the stabilizer: DIS optical flow between two lumas, and the trust regions
// made from the flow's checks with OpenCV's median and morphology.

#include "FlowInternal.h"

#include <opencv2/imgproc.hpp>

extern "C" stylize_flow *stylize_flow_create(stylize_flow_settings settings) {
    try {
        cv::setNumThreads(1);
        auto *flow = new stylize_flow;
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
