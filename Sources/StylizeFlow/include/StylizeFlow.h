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
/// pixel x of `from`, `from(x)` is seen at `to(x + flow(x))`. `flow` receives width * height
/// pairs (dx, dy), row by row. Returns 0, or -1 when OpenCV failed.
int stylize_flow_compute(stylize_flow *flow, const uint8_t *from, const uint8_t *to, int width, int height, float *out);

/// Blends `out` (the current stylized frame, `width` x `height`, interleaved RGB floats) towards
/// `previous` (the previous output, the same layout) moved along `backward`, by `strength` times
/// `trust`, each value moving by at most `max_change`, and all of them scaled down together
/// where their mean square over the frame would pass `max_mean_square`. `backward` ((dx, dy) pairs, for each pixel
/// of the current frame where it was in the previous one) and `trust` (in [0, 1]) are at
/// 1/`scale` of the frame (`low_width` x `low_height`) and are scaled up bilinearly, pixel
/// centres aligned, edges held; the previous output is sampled bilinearly along the flow
/// (OpenCV's remap). Where the moved position falls outside the frame, the pixel is left as it
/// is. `flow` keeps the scratch memory from call to call. Returns 0, or -1 when OpenCV failed
/// (then `out` is unchanged).
int stylize_flow_warp_blend(stylize_flow *flow, const float *previous, const float *backward, const float *trust, int low_width, int low_height,
                            int scale, int width, int height, float strength, float max_change, float max_mean_square,
                            float *out);

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
/// previous output, the same format and size) sampled bilinearly along `backward` (edges held),
/// the flow scaled from the `low_width` x `low_height` grid to each plane's own size (a
/// subsampled chroma plane gets the flow at its resolution). A value moves by at most
/// `max_change` of its plane's maximum; the sum over the planes of each one's mean square change
/// times its `weight` (the mean square change of the RGB values it stands for, cross terms
/// between planes left out) is held to `max_mean_square` as above. Results are rounded to the
/// plane's integers. Sampling, blending and the limit are one pass over each row (with AVX-512
/// where the CPU has it, see `stylize_flow_use_vectors`), then one that applies the changes.
/// Returns 0, or -1 when memory ran out (then `out` is unchanged).
int stylize_flow_warp_blend_planes(stylize_flow *flow, const stylize_plane *previous, const stylize_plane *out, int count,
                                   const float *backward, const float *trust, int low_width, int low_height, float strength,
                                   float max_change, float max_mean_square);

/// Whether `stylize_flow_warp_blend_planes` samples single-component planes 16 at a time with
/// AVX-512 where the CPU has it (`enabled` 1, the default) or one at a time (0; the two agree to
/// a rounding step, which the tests check). Returns whether the AVX-512 loop is used from now on.
int stylize_flow_use_vectors(stylize_flow *flow, int enabled);

#ifdef __cplusplus
}
#endif

#endif
