#ifndef STYLIZE_FLOW_INTERNAL_H
#define STYLIZE_FLOW_INTERNAL_H

// What the optical flow's OpenCV wrapper (OpticalFlow.cpp) and the stabilizer's blend
// (Blend.cpp) share: the flow object, which holds OpenCV's DIS and the blend's scratch memory.

#include "StylizeFlow.h"

#include <array>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/video/tracking.hpp>

// What a plane's blend keeps until the frame's limit and detail gains are known, per sample: the
// blend's change (`change`), and the finest band of the stylization's own values (`own_band`)
// and of the change (`change_band`), each times the fine part's weight there (relative to the
// most it can be). With `keep` (the share of the change the frame limit leaves) and a detail gain
// `g`, the plane's final change is keep * change + (g - 1) * (own_band + keep * change_band).
// The gain is set per tile (`tile_sums`) and passes linearly between the tiles' centres.
struct plane_state {
    std::vector<float> change, own_band, change_band;
    // Sums over one tile: change^2, change * own_band, change * change_band, own_band^2,
    // own_band * change_band, change_band^2 (the final change's square, expanded; own_band^2 is
    // also the energy of the own detail where strokes are carried over), and in `raised`, with
    // r_own and r_change the finest bands of own_band and change_band: own_band * r_own,
    // own_band * r_change + change_band * r_own, change_band * r_change, r_own^2, r_own * r_change,
    // r_change^2 (how much raising the band adds to it, expanded).
    struct tile_sums {
        double sums[6], raised[6];
    };
    // The tiles, row by row (`across` x `down`, the same grid for every plane of a frame), each
    // one's gain less 1, and whether they are all the same.
    std::vector<tile_sums> tiles;
    std::vector<double> gains;
    int across = 1, down = 1;
    bool even = true;
};

struct stylize_flow {
    cv::Ptr<cv::DISOpticalFlow> dis;
    // The pyramid level DIS stops at (`stylize_flow_settings.finest_scale`), and the two lumas
    // and the flow at that level (`stylize_flow_compute`).
    int finest_scale;
    cv::Mat from_low, to_low, low;
    // The edges' second flow and how well each flow carries the luma (`fill_edges`).
    cv::Mat miss_own, miss_inner;
    std::vector<cv::Point> chosen;
    // The luma's two derivatives (the first becomes the gradient) and its mean over DIS's patch
    // (`stylize_flow_excuse_flat`), and the luma match held (`stylize_flow_trust_regions`).
    cv::Mat dx, dy, texture, held;
    // Scratch for the blend, kept from frame to frame.
    std::vector<plane_state> planes;
    struct {
        cv::Mat before;
        // Where each column of the plane falls on the flow's grid (`grid_place`, as three arrays).
        std::vector<int> first, second;
        std::vector<float> weight;
        std::vector<float> low, across, own, difference, trust, fine, weighted_across, trust_across, change_across, own_across, padded, row_a, row_b, row_c;
        // Where each tile across starts (in samples), how many rows of each tile row the raised
        // bands were measured on, where each column falls between the tiles' centres (as
        // `first`, `second` and `weight` above) with where each run of columns between the same
        // two centres starts (and the plane's width after the last), and a row of the tiles' gains.
        std::vector<long> tile_from;
        std::vector<int> measured, tile_first, tile_second, tile_runs;
        std::vector<float> tile_weight, tile_gains;
    } stripe;
    // The detail gains' solve (`plane_gains`): each tile's energy terms, and the tiles in the order of their gains.
    std::vector<std::array<double, 3>> terms;
    std::vector<std::pair<double, size_t>> order;
};

#endif
