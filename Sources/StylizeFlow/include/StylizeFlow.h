#ifndef STYLIZE_FLOW_H
#define STYLIZE_FLOW_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Dense optical flow between two grey pictures: OpenCV's DIS (Kroeger et al., "Fast Optical
/// Flow using Dense Inverse Search", ECCV 2016), behind a C interface so that Swift needs no C++.
typedef struct stylize_flow stylize_flow;

/// DIS's settings, as OpenCV names them: the finest pyramid level it searches (0: full size, 1:
/// half), the patch size and the distance between patches in pixels, the gradient descent
/// iterations per patch, and the variational refinement iterations per level (0: none).
typedef struct {
    int finest_scale, patch_size, patch_stride, descent_iterations, refinement_iterations;
} stylize_flow_settings;

/// A flow computer with `settings`; NULL when OpenCV cannot make one. Not thread-safe: one per
/// thread. OpenCV's own thread pool is set to one thread, since the stabilizer runs beside the
/// transformer, which has the cores.
stylize_flow *stylize_flow_create(stylize_flow_settings settings);
void stylize_flow_destroy(stylize_flow *flow);

/// Flow from `from` to `to` (8-bit, `width` x `height`, rows `width` bytes apart): for every
/// pixel x of `from`, `from(x)` is seen at `to(x + flow(x))`. DIS's, except within its patch of
/// an edge, where a pixel takes the flow from that far in if it carries `to` onto `from` better.
/// `out` receives width * height pairs (dx, dy), row by row (what it held before does not
/// matter). Returns 0, or -1 when OpenCV failed or the lumas are too small for DIS's pyramid to
/// reach its finest level (with patches of 8 and finest level 1: under 16 pixels on the short
/// side or 46 on the long one).
int stylize_flow_compute(stylize_flow *flow, const uint8_t *from, const uint8_t *to, int width, int height, float *out);

/// Where the luma `luma` (`width` x `height`) is flat over a `window` x `window` neighbourhood
/// (DIS's patch), its mean gradient (absolute x plus y Sobel derivative, in levels of 255 per
/// pixel) under `flat_gradient`, raises `consistency` (from `stylize_flow_trust`) to 1, and
/// between `flat_gradient` and twice it part of the way. DIS finds no motion on a flat patch, so
/// its flow there varies from patch to patch whatever the content does, and the consistency
/// check reads those jumps as breaks; where the flow really breaks, at the edge of a moving
/// object, the edge itself is texture. Returns the share of pixels hardly trusted at all
/// afterwards (consistency times `match` under 0.1, as `stylize_flow_trust` counts them), or -1
/// when OpenCV failed (then `consistency` is as it was). Runs on the calling thread, with
/// `scratch`'s memory (kept from call to call).
float stylize_flow_excuse_flat(stylize_flow *scratch, float *consistency, const float *match, const uint8_t *luma, int width, int height,
                               int window, float flat_gradient);

/// The trusts of each pixel from the two checks of `stylize_flow_trust` (`width` x `height`
/// each). The luma match is taken over 3 x 3 pixels: the median, so that a pixel of noise does
/// not count, then the least around it, so that a patch that does not match (what was just
/// uncovered) is not blended at its rim. `trust` (for the coarse part of the blend) is the
/// consistency times that; `sure` (for the fine part, which is carried over whole) takes the
/// least consistency within `reach` pixels instead, since the flow is least sure near the edges
/// of moving objects, where it breaks. Runs on the calling thread, with `scratch`'s memory.
/// Returns 0, or -1 when OpenCV failed (then `trust` and `sure` are not all written).
int stylize_flow_trust_regions(stylize_flow *scratch, const float *consistency, const float *match, int width, int height, int reach,
                               float *trust, float *sure);

/// How the previous output is blended into the current stylization. The difference between
/// them (the previous output moved along the flow, minus the current values) is split at
/// `band_sigma` (a Gaussian's, in the frame's pixels) into a coarse part (colour, shading) and a
/// fine part (strokes). The coarse part is taken by `strength` times the trust, the fine part by
/// `fine_trust` times the sure trust, at most `fine_maximum`. Then the finest detail (above
/// `detail_sigma`) of the blended pixels is raised, by at most `max_gain`, until it has
/// `detail_share` of the energy of the current stylization's own there (blending and resampling
/// soften it), with one gain per tile of the frame: a tile's is the frame's, or less where that
/// would raise the tile's detail past `detail_ceiling` times its own stylization's energy there
/// (where strokes are carried over whole, as at the still centre of a zoom, raising them frame
/// after frame would sharpen them past the painting's), and the frame's gain is solved with the
/// tiles' held there. Where the mean square of all that change over the frame (of the values' range)
/// would pass `max_mean_square`, the blend's changes are scaled down, and the detail raised
/// again for them, as far as keeps it within.
typedef struct {
    float strength, fine_trust, fine_maximum, band_sigma, detail_sigma, detail_share, detail_ceiling, max_gain, max_mean_square;
} stylize_blend;

/// Blends `out` (the current stylized frame, `width` x `height`, interleaved RGB floats of 0...1)
/// towards `previous` (the previous output, the same layout) moved along `backward` as `blend`
/// says. `backward` ((dx, dy) pairs, for each pixel of the current frame where it was in the
/// previous one), `trust` and `sure` (in [0, 1], `stylize_flow_trust_regions`) are on a grid of
/// `low_width` x `low_height` over the frame and are scaled up bilinearly, pixel centres aligned,
/// edges held; the previous output is sampled bicubically along the flow (OpenCV's cubic, a = -0.75,
/// with continuous weights). The Gaussians are cut off at two sigmas. The work runs in stripes of
/// rows that stay in cache.
/// Where the moved position falls outside the frame, the pixel is not blended. `flow` keeps the
/// scratch memory from call to call. Returns 0, or -1 when OpenCV failed (then `out` is
/// unchanged).
int stylize_flow_warp_blend(stylize_flow *flow, const float *previous, const float *backward, const float *trust, const float *sure,
                            int low_width, int low_height, int width, int height, stylize_blend blend, float *out);

/// One plane of a frame in its own pixel format: `width` x `height` samples of `channels`
/// interleaved components, each `bytes` (1 or 2, native order) wide, from 0 to `maximum`; rows
/// `linesize` bytes apart. `weight`: how much the plane's mean square change (as a share of
/// `maximum`) adds to the mean square change of the frame's RGB values.
typedef struct {
    uint8_t *data;
    int linesize;
    int width, height;
    int channels;
    int bytes;
    float maximum;
    float weight;
} stylize_plane;

/// `stylize_flow_warp_blend` on a frame as it goes to the encoder (YUV, planar RGB, 8 to 16
/// bits): every plane of `out` is blended in place towards the same plane of `previous` (the
/// previous output, the same format and size), the flow scaled from the `low_width` x
/// `low_height` grid to each plane's own size (a subsampled chroma plane gets the flow, and the
/// bands, at its resolution). The sum over the planes of each one's mean square change times its
/// `weight` (the mean square change of the RGB values it stands for, cross terms between planes
/// left out) is held to `blend.max_mean_square`. Results are rounded to the plane's integers.
/// Returns 0, or -1 when OpenCV failed or memory ran out (then `out` is unchanged).
int stylize_flow_warp_blend_planes(stylize_flow *flow, const stylize_plane *previous, const stylize_plane *out, int count,
                                   const float *backward, const float *trust, const float *sure, int low_width, int low_height,
                                   stylize_blend blend);

/// One row of an 8-bit plane moved along a flow by the blend's bicubic warp, by one of its
/// kernels: `level` 2 the AVX-512 one, 1 the AVX2 one, 0 the baseline, held to what this process
/// allows (`stylize_clone_level`); -1 the one the blend runs (timed where AVX-512 is allowed). `previous`: `width` x `height` bytes, rows
/// `width` apart; `across`: the row's flow and trusts, `width` values each (dx, dy in grid cells
/// of `scale_x` x `scale_y` pixels, trust, sure trust). Writes `width` values to each of `moved`,
/// `trust` and `fine`. Returns 0, or -1 when memory ran out. For comparing the kernels.
int stylize_flow_warp_row_clone(int level, const uint8_t *previous, int width, int height, const float *across, int row, float scale_x,
                                float scale_y, float fine_trust, float fine_maximum, float *moved, float *trust, float *fine);

/// The regions' blend, on frames as they go to the encoder: each sample of `out` becomes its
/// mask-weighted mean with the same sample of `other` (the same format and size), in place:
/// `mask` (8-bit, `mask_width` x `mask_height`, rows `mask_linesize` bytes apart, at the size of
/// the frame's full-resolution planes) gives `out` the share mask/255. A subsampled plane's sample
/// takes the mean of the mask over the pixels it covers. Results are rounded to the nearest
/// integer. Returns 0, or -1 when the planes of the two frames differ in shape.
int stylize_mask_blend_planes(const stylize_plane *out, const stylize_plane *other, int count, const uint8_t *mask,
                              int mask_linesize, int mask_width, int mask_height);

#ifdef __cplusplus
}
#endif

#endif
