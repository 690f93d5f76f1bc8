#ifndef STYLIZE_KERNELS_H
#define STYLIZE_KERNELS_H

// The transformer's memory-bound steps that oneDNN has no fused primitive for: per-channel
// moments (StyleNorm's statistics), the gathers that apply a StyleNorm while they reflect- or
// edge-pad (and undo the phase layout of an upsampling conv), and an in-place affine map.
// Buffers are NHWC f32 unless said otherwise. Each function splits its work over the OpenMP
// thread team oneDNN runs on. Kernels are cloned per instruction set and picked at run time.

#include <stdint.h>

#include "StylizeCloned.h"
#include "StylizeQuantized.h"

/// Destination element types of the gathers: f32, bf16 (round to nearest even), or bytes (the
/// value rounded to the nearest integer, ties to even, and clamped to 0...255).
enum { STYLIZE_F32 = 0, STYLIZE_BF16 = 1, STYLIZE_U8 = 2 };

/// Adds the sum and the sum of squares of every channel of `count` interleaved values
/// (`count` a multiple of `channels`, at most 64 channels; f32, or bf16 with `source_bf16`)
/// to `sum` and `sum_squares`.
void stylize_channel_moments(const void *src, int source_bf16, long count, int channels, double *sum, double *sum_squares);

/// A gather of `rows` x `width` destination pixels: destination pixel (y, x) takes the `channels` values
/// at src + row_offsets[y] + column_offsets[x] (offsets in elements; f32, or bf16 with
/// `source_bf16`), mapped through
/// `scale`/`shift` per channel (both NULL: copied) and clamped at 0 when `relu` is set, written
/// as the type `bf16` names (STYLIZE_F32, STYLIZE_BF16 or STYLIZE_U8).
/// The destination is `width` pixels wide. With `destination_phases` Q > 1 it is stored
/// space-to-depth: each stored pixel holds Q x Q destination pixels, pixel (y, x) at stored
/// (y / Q, x / Q) with its channels at offset ((y % Q) * Q + x % Q) * channels; `width` and
/// the row count are multiples of Q.
void stylize_gather(const void *src, int source_bf16, const int64_t *row_offsets, const int64_t *column_offsets, int channels,
                    int rows, int width, int destination_phases,
                    const float *scale, const float *shift, int relu, void *dst, int bf16);

/// A 4:2:0 picture: luma `width` x `height`, chroma planes (width + 1) / 2 x (height + 1) / 2,
/// strides in bytes. Chroma samples sit halfway between two luma rows (MPEG-2, H.264 and HEVC's
/// default) and, across, on the even luma columns (`chroma_cosited`, "left") or halfway between
/// two ("center"). Samples of `depth` bits: bytes up to 8, native-endian 16-bit words above.
typedef struct {
    uint8_t *y, *u, *v;
    long y_stride, u_stride, v_stride;
    int width, height, chroma_cosited, depth;
} stylize_yuv420;

/// stylize_gather's copy of a 3-channel RGB picture (no norm, no ReLU), read from a 4:2:0 picture
/// (of any depth)
/// instead: destination pixel (y, x) is the picture's pixel at row rows[y] and at the column
/// whose RGB values stylize_gather would find at column_offsets[x] (3 * column), as
/// (R, G, B) = to_rgb (3 rows of 4) * (Y, U, V, 1), clamped to [0, 1], its chroma interpolated
/// at the pixel's position by Catmull-Rom cubics (edges held), and written as the type `bf16`
/// names (as bytes, 255 times the value). `width`, `row_count` and `destination_phases` as in
/// stylize_gather.
void stylize_gather_yuv420(const stylize_yuv420 *picture, const float *to_rgb, const int32_t *rows, const int64_t *column_offsets,
                           int row_count, int width, int destination_phases, void *dst, int bf16);

/// The inverse at the network's end: the top-left picture->width x picture->height pixels of f32
/// RGB values stored space-to-depth (`phases` per side, `stored_width` stored pixels a row, as
/// stylize_gather's destination) written into the 4:2:0 picture, which is 8-bit (others are
/// left as they are): (Y, U, V) = to_yuv (3 rows of 4)
/// * (R, G, B, 1), rounded and clamped to 0...255. A chroma sample is the average of the two rows
/// it sits between, across weighted 1/4, 1/2, 1/4 (cosited) or 1/2, 1/2 (centred); edges held.
void stylize_yuv420_from_phases(const float *src, int phases, int stored_width, const float *to_yuv, const stylize_yuv420 *picture);

/// data = data * scale[c] + shift[c] in place over `count` interleaved values of `channels`
/// (at most 64) channels.
void stylize_affine(float *data, long count, int channels, const float *scale, const float *shift);

/// Interleaves three float planes (rows `plane_stride` floats apart) into `width` x `height`
/// RGB pixels, each value clamped to [0, 1]. Runs on the calling thread.
void stylize_interleave_rgb(const float *red, const float *green, const float *blue, long plane_stride,
                            int width, int height, float *dst);

/// The inverse: RGB pixels into three planes, each value clamped to [0, 1].
void stylize_planar_rgb(const float *src, int width, int height, float *red, float *green, float *blue, long plane_stride);

/// How far the previous frame's content can be trusted at each pixel of the current one, at
/// the motion's (reduced) scale, from `backward` (for pixel x of the current frame, where it was
/// in the previous one, (dx, dy) pairs), by two checks, each in [0, 1] (0 where the pixel comes
/// from outside the picture): `consistency`, whether the flow is the same where the pixel came
/// from (it changes at the edges of moving objects, where pixels come out of hiding or go into
/// it): fully while the square of the difference is at most half of 0.01 times the squares of
/// the two flows plus `slack` (in the plane's pixels, squared), not at all from the whole of it
/// on; and `match`, whether the previous luma moved along it matches the current luma (fully
/// when equal, not at all from `luma_tolerance` on). Lumas are 8-bit; each output receives
/// width * height values. Returns the share of pixels where the product of the two is under 0.1.
/// Where AVX-512 is allowed, the first calls time its clone and the AVX2 one, and the rest run
/// the faster; every clone gives the same values.
float stylize_flow_trust(const float *backward, const uint8_t *previous, const uint8_t *current,
                         int width, int height, float slack, float luma_tolerance, float *consistency, float *match);

/// `stylize_flow_trust` by one clone: `level` 2 AVX-512, 1 AVX2, 0 the baseline, held to what
/// this process allows (`stylize_clone_level`). For comparing the clones.
float stylize_flow_trust_clone(int level, const float *backward, const uint8_t *previous, const uint8_t *current,
                               int width, int height, float slack, float luma_tolerance, float *consistency, float *match);

/// Network values to a picture's 16-bit samples: each clamped to [0, 1] (NaN to 0), times 65535,
/// rounded half away from zero. Runs on the calling thread, as do the three below.
void stylize_samples_from_unit(const float *values, long count, uint16_t *samples);

/// 16-bit samples to network values: each divided by 65535.
void stylize_unit_from_samples(const uint16_t *samples, long count, float *values);

/// 16-bit samples to 8 bits: (v * 255 + 32767) / 65535, in integers.
void stylize_bytes_from_samples(const uint16_t *samples, long count, uint8_t *bytes);

/// RGBA pixels (8-bit, or native-endian 16-bit with `deep`) composited over white into 16-bit
/// RGB samples: v * a + 65535 * (1 - a) in 16-bit units (8-bit values times 257), rounded.
void stylize_samples_over_white(const void *rgba, int deep, long pixels, uint16_t *samples);

/// Threads the calling thread's parallel regions use from now on (oneDNN's primitives and
/// these kernels): OpenMP's per-thread setting. 0 restores the default (every core).
void stylize_set_threads(int threads);

#endif
