#ifndef STYLIZE_QUANTIZED_H
#define STYLIZE_QUANTIZED_H

// The int8 transformer's byte kernels (`--precision int8`). Activations are stored as bytes:
// the int8 graph's signed values plus 128. Every StyleNorm of that graph, with its rounding at
// each step, is a function of a channel's byte value once the channel's statistics are known,
// so these kernels need only histograms, per-channel tables of 256 entries, and a table for
// the residual additions. Buffers are NHWC; like StylizeKernels, each splits its work over the
// OpenMP team oneDNN runs on.

#include <stdint.h>

/// A gather of bytes, as stylize_gather (offsets in elements, `destination_phases`), each value
/// mapped through `table[c * 256 + v]` for channel c, or copied when `table` is NULL.
void stylize_gather_u8(const uint8_t *src, const int64_t *row_offsets, const int64_t *column_offsets, int channels,
                       int rows, int width, int destination_phases, const uint8_t *table, uint8_t *dst);

/// Adds the histogram of each channel of `count` interleaved bytes (`count` a multiple of
/// `channels`, at most 64 channels) to `counts[c * 256 + v]`.
void stylize_channel_histogram(const uint8_t *src, long count, int channels, uint64_t *counts);

/// A residual connection: data[i] = sum[data[i] * 256 + table[c * 256 + other[i]]] over `count`
/// interleaved bytes of `channels` channels (c = i % channels).
void stylize_add_u8(uint8_t *data, const uint8_t *other, long count, int channels, const uint8_t *table, const uint8_t *sum);

/// dst[i] = table[c * 256 + src[i]] as floats, over `count` interleaved bytes of `channels` channels.
void stylize_lookup_f32(const uint8_t *src, long count, int channels, const float *table, float *dst);

#endif
