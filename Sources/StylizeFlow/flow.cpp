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
    std::vector<float> spread;
    cv::Mat part;
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

// Each value's change towards `moved`, by `weight`, capped at `cap`, kept in fixed point;
// returns the sum of their squares.
template <typename T>
static inline __attribute__((always_inline)) float plane_changes(const T *out, const T *moved, const float *weight, short *change, int count,
                                                                  float cap, float to_fixed) {
    float sums[16] = {0};
    int i = 0;
    for (; i + 16 <= count; i += 16) {
        for (int k = 0; k < 16; k++) {
            float c = std::min(std::max(weight[i + k] * ((float)moved[i + k] - (float)out[i + k]), -cap), cap);
            float fixed = c * to_fixed;
            change[i + k] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
            sums[k] += c * c;
        }
    }
    for (; i < count; i++) {
        float c = std::min(std::max(weight[i] * ((float)moved[i] - (float)out[i]), -cap), cap);
        float fixed = c * to_fixed;
        change[i] = (short)(fixed + (fixed >= 0 ? 0.5f : -0.5f));
        sums[0] += c * c;
    }
    float sum = 0;
    for (float s : sums) sum += s;
    return sum;
}

// Adds `factor` times each kept change, rounded to the plane's integers.
template <typename T>
static inline __attribute__((always_inline)) void plane_apply(T *out, const short *change, int count, float factor, float maximum) {
    for (int i = 0; i < count; i++) {
        float v = std::min(std::max((float)out[i] + factor * (float)change[i], 0.0f), maximum);
        out[i] = (T)(v + 0.5f);
    }
}

STYLIZE_CLONED static float plane_changes_8(const uint8_t *out, const uint8_t *moved, const float *weight, short *change, int count, float cap, float to_fixed) {
    return plane_changes(out, moved, weight, change, count, cap, to_fixed);
}
STYLIZE_CLONED static float plane_changes_16(const uint16_t *out, const uint16_t *moved, const float *weight, short *change, int count, float cap,
                                     float to_fixed) {
    return plane_changes(out, moved, weight, change, count, cap, to_fixed);
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

// Where each sample of plane row `y` was in the previous frame, in remap's fixed point (`whole`:
// the pixel, `part`: the bilinear weights' index, in 1/INTER_TAB_SIZE steps, what convertMaps
// makes of float positions), and its weight (`weight`: `strength` times the trust, 0 where the
// position falls outside the plane), from the two widened low rows around it (`a` above, `b`
// below, `down` of the way to `b`), the flow scaled to the plane's units by `sx` and `sy`.
STYLIZE_CLONED static void plane_positions(const float *const *a, const float *const *b, float down, int width, int y, float sx, float sy,
                                   float last_x, float last_y, float strength, short *whole, unsigned short *part, float *weight) {
    const float *dx0 = a[0], *dy0 = a[1], *t0 = a[2], *dx1 = b[0], *dy1 = b[1], *t1 = b[2];
    const float steps = (float)cv::INTER_TAB_SIZE;
    const int mask = cv::INTER_TAB_SIZE - 1;
    for (int x = 0; x < width; x++) {
        float dx = dx0[x] + (dx1[x] - dx0[x]) * down, dy = dy0[x] + (dy1[x] - dy0[x]) * down, t = t0[x] + (t1[x] - t0[x]) * down;
        float px = (float)x + dx * sx, py = (float)y + dy * sy;
        // Far outside the plane (weight 0 below), any position will do; kept in range. Rounded
        // to the nearest step (halves away from zero), as convertMaps rounds.
        float fx = std::min(std::max(px, -16.0f), last_x + 16) * steps, fy = std::min(std::max(py, -16.0f), last_y + 16) * steps;
        int ix = (int)(fx + (fx >= 0 ? 0.5f : -0.5f)), iy = (int)(fy + (fy >= 0 ? 0.5f : -0.5f));
        whole[2 * x] = (short)(ix >> cv::INTER_BITS);
        whole[2 * x + 1] = (short)(iy >> cv::INTER_BITS);
        part[x] = (unsigned short)((iy & mask) * cv::INTER_TAB_SIZE + (ix & mask));
        weight[x] = ((px >= 0) & (py >= 0) & (px <= last_x) & (py <= last_y)) ? strength * t : 0;
    }
}

extern "C" int stylize_flow_warp_blend_planes(stylize_flow *scratch, const stylize_plane *previous, const stylize_plane *out, int count,
                                              const float *backward, const float *trust, int low_width, int low_height, float strength,
                                              float max_change, float max_mean_square) {
    try {
        const int stripe = 32;
        // Every buffer is made before any plane is touched, so that a failure leaves `out` as it was.
        scratch->changes.resize(count);
        int widest = 0;
        for (int p = 0; p < count; p++) {
            scratch->changes[p].create(out[p].height, out[p].width * out[p].channels, CV_16SC1);
            widest = std::max(widest, out[p].width * out[p].channels);
        }
        for (auto &slot : scratch->wide)
            for (auto &values : slot) values.resize(widest);
        scratch->spread.resize(widest);
        scratch->left.resize(widest);
        scratch->right.resize(widest);
        scratch->across.resize(widest);
        scratch->map.create(stripe, widest, CV_16SC2);
        scratch->part.create(stripe, widest, CV_16UC1);
        scratch->weight.create(stripe, widest, CV_32FC1);
        scratch->moved.create(stripe, widest * 2, CV_8UC1);
        double mean_square = 0;
        for (int p = 0; p < count; p++) {
            const stylize_plane &now = out[p], &before = previous[p];
            const int type = CV_MAKETYPE(now.bytes == 1 ? CV_8U : CV_16U, now.channels);
            const cv::Mat source(before.height, before.width, type, before.data, before.linesize);
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
            const float cap = max_change * now.maximum, to_fixed = 32767.0f / cap;
            double plane_squares = 0;
            for (int y0 = 0; y0 < now.height; y0 += stripe) {
                const int rows = std::min(stripe, now.height - y0);
                cv::Mat map = scratch->map(cv::Rect(0, 0, now.width, rows)), part = scratch->part(cv::Rect(0, 0, now.width, rows));
                cv::Mat weight = scratch->weight(cv::Rect(0, 0, now.width * now.channels, rows));
                for (int y = y0; y < y0 + rows; y++) {
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
                    const float *widened[2][3];
                    for (int k = 0; k < 2; k++)
                        for (int c = 0; c < 3; c++) widened[k][c] = scratch->wide[k][c].data();
                    float *w = weight.ptr<float>(y - y0);
                    float *per_sample = now.channels == 1 ? w : scratch->spread.data();
                    plane_positions(widened[0], widened[1], at - (float)top, now.width, y, sx, sy, (float)(now.width - 1),
                                    (float)(now.height - 1), strength, map.ptr<short>(y - y0), part.ptr<unsigned short>(y - y0), per_sample);
                    // Samples of several components get their weight once per component.
                    if (now.channels > 1)
                        for (int x = 0; x < now.width; x++)
                            for (int c = 0; c < now.channels; c++) w[now.channels * x + c] = per_sample[x];
                }
                cv::Mat moved(rows, now.width, type, scratch->moved.data, scratch->moved.step);
                cv::remap(source, moved, map, part, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
                for (int y = y0; y < y0 + rows; y++) {
                    const uint8_t *row = now.data + (long)y * now.linesize;
                    short *change = scratch->changes[p].ptr<short>(y);
                    const int n = now.width * now.channels;
                    plane_squares += now.bytes == 1
                        ? plane_changes_8(row, moved.ptr<uint8_t>(y - y0), weight.ptr<float>(y - y0), change, n, cap, to_fixed)
                        : plane_changes_16((const uint16_t *)row, moved.ptr<uint16_t>(y - y0), weight.ptr<float>(y - y0), change, n, cap,
                                           to_fixed);
                }
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
