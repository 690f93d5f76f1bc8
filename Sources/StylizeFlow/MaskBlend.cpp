// The regions' blend: a frame in the encoder's format takes, sample by sample, the share of
// another frame (the original, or another style's) that a mask leaves to it.

#include "StylizeFlow.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace {

/// The mask's weight (0 ... `scale_x * scale_y * 255`) for the plane sample at (x, y): the sum
/// over the mask pixels it covers. A subsampled plane's sample covers `scale_x` x `scale_y` of them.
inline uint32_t covered(const uint8_t *mask, int linesize, int mask_width, int mask_height, int x, int y, int scale_x, int scale_y) {
    uint32_t sum = 0;
    for (int dy = 0; dy < scale_y; dy++) {
        const uint8_t *row = mask + (std::ptrdiff_t)std::min(y * scale_y + dy, mask_height - 1) * linesize;
        for (int dx = 0; dx < scale_x; dx++) sum += row[std::min(x * scale_x + dx, mask_width - 1)];
    }
    return sum;
}

template <typename Sample>
void blend_plane(const stylize_plane &out, const stylize_plane &other, const uint8_t *mask, int linesize, int mask_width,
                 int mask_height) {
    // A subsampled plane's sample covers 2^n mask pixels a side, the last ones cut by the edge.
    int scale_x = 1, scale_y = 1;
    while ((mask_width + scale_x - 1) / scale_x > out.width) scale_x <<= 1;
    while ((mask_height + scale_y - 1) / scale_y > out.height) scale_y <<= 1;
    uint32_t whole = 255u * (uint32_t)(scale_x * scale_y);
    for (int y = 0; y < out.height; y++) {
        Sample *into = reinterpret_cast<Sample *>(out.data + (std::ptrdiff_t)y * out.linesize);
        const Sample *from = reinterpret_cast<const Sample *>(other.data + (std::ptrdiff_t)y * other.linesize);
        for (int x = 0; x < out.width; x++) {
            uint32_t weight = covered(mask, linesize, mask_width, mask_height, x, y, scale_x, scale_y);
            if (weight == whole) continue;
            for (int c = 0; c < out.channels; c++) {
                int i = x * out.channels + c;
                uint64_t mixed = (uint64_t)into[i] * weight + (uint64_t)from[i] * (whole - weight) + whole / 2;
                into[i] = (Sample)(mixed / whole);
            }
        }
    }
}

} // namespace

extern "C" int stylize_mask_blend_planes(const stylize_plane *out, const stylize_plane *other, int count, const uint8_t *mask,
                                         int mask_linesize, int mask_width, int mask_height) {
    for (int p = 0; p < count; p++) {
        const stylize_plane &a = out[p], &b = other[p];
        if (a.width != b.width || a.height != b.height || a.channels != b.channels || a.bytes != b.bytes || a.width <= 0 || a.height <= 0)
            return -1;
    }
    for (int p = 0; p < count; p++) {
        if (out[p].bytes == 1) blend_plane<uint8_t>(out[p], other[p], mask, mask_linesize, mask_width, mask_height);
        else blend_plane<uint16_t>(out[p], other[p], mask, mask_linesize, mask_width, mask_height);
    }
    return 0;
}
