#include "StylizeFlow.h"

#include <opencv2/core.hpp>
#include <opencv2/video/tracking.hpp>

struct stylize_flow {
    cv::Ptr<cv::DISOpticalFlow> dis;
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
