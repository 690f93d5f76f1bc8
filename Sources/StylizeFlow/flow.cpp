#include "StylizeFlow.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

// One plane of the blend, as OpenCV matrices: the previous output and the current stylization in
// the plane's own sample type, its maximum and its weight in the frame's mean square change.
struct plane_view {
    cv::Mat before, now;
    float maximum, weight;
};

// A plane's blend, kept until the frame's total is known: its values, the change the blend
// makes to them (plane units, floats), and the weight of the fine part at each sample.
struct plane_state {
    cv::Mat own, change, fine;
};

struct stylize_flow {
    cv::Ptr<cv::DISOpticalFlow> dis;
    // Scratch for the blend, kept from frame to frame (create() reuses memory of the same size):
    // the flow and the trust scaled up to a plane, where each sample was, the previous output
    // moved from there, the difference from it and its coarse part, the blended values, the
    // trust blurred, and each plane's state.
    cv::Mat flow, weight, map, warped, moved, difference, coarse, blended, spread;
    std::vector<plane_state> planes;
    // Whether `map` and `weight` hold this frame's for a plane of their size, and that plane's
    // fine weights.
    bool mapped = false;
    cv::Mat mapped_fine;
};

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

extern "C" void stylize_flow_trust_regions(const float *consistency, const float *match, int width, int height, int reach,
                                          float *trust, float *sure) {
    const cv::Mat consistent(height, width, CV_32FC1, const_cast<float *>(consistency)), matching(height, width, CV_32FC1, const_cast<float *>(match));
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
}

// The sum of squares of `m`'s values, as a share of the plane's range, times its weight: the
// plane's part of the frame's mean square change.
static double weighted_mean_square(const plane_view &plane, const cv::Mat &m) {
    return plane.weight * cv::norm(m, cv::NORM_L2SQR) / ((double)plane.maximum * plane.maximum * (double)m.total() * m.channels());
}

// `values` times the weight of each of their pixels (`channels` values each).
static void weigh(const cv::Mat &values, const cv::Mat &weight, cv::Mat &out) {
    const int channels = values.channels();
    out.create(values.size(), values.type());
    for (int y = 0; y < values.rows; y++) {
        const float *v = values.ptr<float>(y), *w = weight.ptr<float>(y);
        float *o = out.ptr<float>(y);
        for (int x = 0; x < values.cols; x++)
            for (int k = 0; k < channels; k++) o[x * channels + k] = w[x] * v[x * channels + k];
    }
}

// Where each sample of a `width` x `height` plane was in the previous frame (`map`), its trust
// (`weight`) and its fine part's weight (`state.fine`): the flow and the trusts scaled up to the
// plane (centres aligned, edges held), in its units.
static void map_plane(stylize_flow *scratch, int width, int height, const cv::Mat &flow_low, const cv::Mat &trust_low, const cv::Mat &sure_low,
                      const stylize_blend &blend, plane_state &state) {
    const float sx = (float)width / (float)flow_low.cols, sy = (float)height / (float)flow_low.rows;
    cv::resize(flow_low, scratch->flow, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    cv::resize(trust_low, scratch->weight, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    cv::resize(sure_low, state.fine, cv::Size(width, height), 0, 0, cv::INTER_LINEAR);
    scratch->map.create(height, width, CV_32FC2);
    const float last_x = (float)(width - 1), last_y = (float)(height - 1);
    for (int y = 0; y < height; y++) {
        const float *f = scratch->flow.ptr<float>(y);
        float *m = scratch->map.ptr<float>(y), *t = scratch->weight.ptr<float>(y), *fine = state.fine.ptr<float>(y);
        for (int x = 0; x < width; x++) {
            const float px = (float)x + f[2 * x] * sx, py = (float)y + f[2 * x + 1] * sy;
            m[2 * x] = px;
            m[2 * x + 1] = py;
            // No trust where the pixel comes from outside the plane; the fine part's weight.
            const bool inside = px >= 0 && py >= 0 && px <= last_x && py <= last_y;
            t[x] = inside ? t[x] : 0;
            fine[x] = inside ? std::min(blend.fine_maximum, blend.fine_trust * fine[x]) : 0;
        }
    }
    scratch->mapped = true;
    scratch->mapped_fine = state.fine;
}

// The blend of one plane: the previous output moved along the flow, and the change towards it.
// Returns the plane's part of the frame's mean square change.
static double plane_blend(stylize_flow *scratch, const plane_view &plane, const cv::Mat &flow_low, const cv::Mat &trust_low,
                          const cv::Mat &sure_low, double band_sigma, const stylize_blend &blend, plane_state &state) {
    const int width = plane.now.cols, height = plane.now.rows, channels = plane.now.channels();
    // A plane of the size before it (4:2:0's second chroma plane) has its positions and weights already.
    if (scratch->mapped && scratch->map.size() == plane.now.size()) {
        state.fine = scratch->mapped_fine;
    } else {
        map_plane(scratch, width, height, flow_low, trust_low, sure_low, blend, state);
    }
    // The previous output moved along the flow: bicubic, which keeps more of its strokes than
    // bilinear sampling (each frame's output is resampled again in the next).
    cv::remap(plane.before, scratch->warped, scratch->map, cv::noArray(), cv::INTER_CUBIC, cv::BORDER_REPLICATE);
    scratch->warped.convertTo(scratch->moved, CV_32F);
    plane.now.convertTo(state.own, CV_32F);
    // The difference, split into its coarse part (colour and shading) and its fine part
    // (strokes). The coarse part is a blur weighted by the trust, so that the difference where
    // the flow is wrong (at the edges of a moving object) does not spill into its neighbours.
    cv::subtract(scratch->moved, state.own, scratch->difference);
    weigh(scratch->difference, scratch->weight, scratch->blended);
    cv::GaussianBlur(scratch->blended, scratch->coarse, cv::Size(), band_sigma, band_sigma, cv::BORDER_REPLICATE);
    cv::GaussianBlur(scratch->weight, scratch->spread, cv::Size(), band_sigma, band_sigma, cv::BORDER_REPLICATE);
    // The blend: the coarse part by `strength` times the trust, the fine part by its weight, so
    // that strokes are carried over whole instead of averaged with differently placed ones.
    state.change.create(height, width, CV_32FC(channels));
    for (int y = 0; y < height; y++) {
        const float *d = scratch->difference.ptr<float>(y), *c = scratch->coarse.ptr<float>(y), *t = scratch->weight.ptr<float>(y),
                    *spread = scratch->spread.ptr<float>(y), *fine = state.fine.ptr<float>(y);
        float *out = state.change.ptr<float>(y);
        for (int x = 0; x < width; x++) {
            const float share = spread[x] > 1e-3f ? 1 / spread[x] : 0, coarse = blend.strength * t[x];
            for (int k = 0; k < channels; k++) {
                const int i = x * channels + k;
                const float low = c[i] * share;
                out[i] = coarse * low + fine[x] * (d[i] - low);
            }
        }
    }
    return weighted_mean_square(plane, state.change);
}

// What blending took from the finest detail (the strokes of two frames that do not line up
// soften each other, and so do resampling and the frame limit, which mixes in the frame's own),
// given back: the blended plane's finest band is raised until, over the blended samples, it has
// the energy of the stylization's own. `keep`: the share of the blend's change the frame limit
// left. Returns the plane's part of the frame's mean square change.
static double plane_detail(stylize_flow *scratch, const plane_view &plane, double detail_sigma, double keep, const stylize_blend &blend,
                           plane_state &state) {
    const int channels = state.own.channels();
    cv::scaleAdd(state.change, keep, state.own, scratch->blended);
    cv::GaussianBlur(state.own, scratch->coarse, cv::Size(), detail_sigma, detail_sigma, cv::BORDER_REPLICATE);
    cv::GaussianBlur(scratch->blended, scratch->difference, cv::Size(), detail_sigma, detail_sigma, cv::BORDER_REPLICATE);
    double own_energy = 0, blended_energy = 0;
    for (int y = 0; y < state.own.rows; y++) {
        const float *o = state.own.ptr<float>(y), *os = scratch->coarse.ptr<float>(y), *b = scratch->blended.ptr<float>(y),
                    *fine = state.fine.ptr<float>(y);
        float *band = scratch->difference.ptr<float>(y);
        float own_row = 0, blended_row = 0;
        for (int x = 0; x < state.own.cols; x++) {
            for (int k = 0; k < channels; k++) {
                const int i = x * channels + k;
                const float of = o[i] - os[i], bf = b[i] - band[i];
                own_row += fine[x] * of * of;
                blended_row += fine[x] * bf * bf;
                band[i] = fine[x] * bf;
            }
        }
        own_energy += own_row;
        blended_energy += blended_row;
    }
    const double gain = blended_energy > 0 ? std::min(std::max(std::sqrt(own_energy / blended_energy), 1.0), (double)blend.max_gain) : 1.0;
    // The change from the plane's own values: the blend as the limit left it, and the detail.
    cv::scaleAdd(scratch->difference, gain - 1, scratch->blended, scratch->blended);
    cv::subtract(scratch->blended, state.own, state.change);
    return weighted_mean_square(plane, state.change);
}

// Blends every plane, holding the frame's mean square change to the limit, gives back the detail
// (held to the limit again), and writes the results back in each plane's sample type (rounded,
// clamped to 0...maximum).
static int blend_planes(stylize_flow *scratch, const std::vector<plane_view> &planes, const float *backward, const float *trust,
                        const float *sure, int low_width, int low_height, const stylize_blend &blend) {
    try {
        const cv::Mat flow_low(low_height, low_width, CV_32FC2, const_cast<float *>(backward));
        const cv::Mat trust_low(low_height, low_width, CV_32FC1, const_cast<float *>(trust));
        const cv::Mat sure_low(low_height, low_width, CV_32FC1, const_cast<float *>(sure));
        int widest = 0;
        for (const auto &plane : planes) widest = std::max(widest, plane.now.cols);
        scratch->planes.resize(planes.size());
        scratch->mapped = false;
        // The bands are set in the frame's pixels: a subsampled plane's are narrower.
        const auto scale = [&](size_t p) { return (double)planes[p].now.cols / (double)widest; };
        const auto limit = [&](double mean_square) {
            return mean_square > blend.max_mean_square ? std::sqrt(blend.max_mean_square / mean_square) : 1.0;
        };
        double mean_square = 0;
        for (size_t p = 0; p < planes.size(); p++)
            mean_square += plane_blend(scratch, planes[p], flow_low, trust_low, sure_low, blend.band_sigma * scale(p), blend, scratch->planes[p]);
        const double keep = limit(mean_square);
        mean_square = 0;
        for (size_t p = 0; p < planes.size(); p++)
            mean_square += plane_detail(scratch, planes[p], blend.detail_sigma * scale(p), keep, blend, scratch->planes[p]);
        const double settle = limit(mean_square);
        // Every change is known before any plane is written, so that a failure leaves them as they were.
        for (size_t p = 0; p < planes.size(); p++) {
            const plane_view &plane = planes[p];
            plane_state &state = scratch->planes[p];
            cv::scaleAdd(state.change, settle, state.own, state.own);
            cv::min(cv::max(state.own, 0.0), plane.maximum, state.own);
            cv::Mat target = plane.now;
            state.own.convertTo(target, plane.now.depth());
        }
        return 0;
    } catch (...) {
        return -1;
    }
}

extern "C" int stylize_flow_warp_blend(stylize_flow *scratch, const float *previous, const float *backward, const float *trust,
                                       const float *sure, int low_width, int low_height, int width, int height, stylize_blend blend,
                                       float *out) {
    const plane_view plane = {cv::Mat(height, width, CV_32FC3, const_cast<float *>(previous)), cv::Mat(height, width, CV_32FC3, out), 1, 1};
    return blend_planes(scratch, {plane}, backward, trust, sure, low_width, low_height, blend);
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
    return blend_planes(scratch, planes, backward, trust, sure, low_width, low_height, blend);
}
