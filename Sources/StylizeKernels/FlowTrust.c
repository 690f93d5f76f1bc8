// How far the stabilizer can trust the optical flow at each pixel: forward-backward consistency
// and whether the previous luma, moved along it, matches.

#include "StylizeInternal.h"

/// Bilinear sample of channel `c` of a `channels`-channel picture at (x, y), clamped to its edges.
/// Offsets are 32-bit (a flow's grid is far smaller than 2^31 values), which vector gathers take
/// twice as many of at once as addresses.
static inline float sample(const float *p, int width, int height, int channels, int c, float x, float y) {
    x = fminf(fmaxf(x, 0), (float)(width - 1));
    y = fminf(fmaxf(y, 0), (float)(height - 1));
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < width ? x0 + 1 : x0, y1 = y0 + 1 < height ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    float a = p[(y0 * width + x0) * channels + c], b = p[(y0 * width + x1) * channels + c];
    float d = p[(y1 * width + x0) * channels + c], e = p[(y1 * width + x1) * channels + c];
    return (a + (b - a) * fx) + ((d + (e - d) * fx) - (a + (b - a) * fx)) * fy;
}

static inline __attribute__((always_inline)) float trust_body(const float *restrict backward, const float *restrict previous, const uint8_t *restrict current,
                                int width, int height, float slack, float luma_tolerance, float *restrict consistency, float *restrict match) {
    long doubtful = 0;
    const float last_x = (float)(width - 1), last_y = (float)(height - 1);
    for (int y = 0; y < height; y++) {
        // Without branches (the samples are clamped to the picture; a position outside it gets
        // no trust), on vectors (the samples are gathers).
#pragma clang loop vectorize(enable)
        for (int x = 0; x < width; x++) {
            long i = (long)y * width + x;
            float bx = backward[2 * i], by = backward[2 * i + 1];
            float px = (float)x + bx, py = (float)y + by;
            int inside = (px >= 0) & (py >= 0) & (px <= last_x) & (py <= last_y);
            // Consistency: the flow where the pixel came from is the flow here. At the edge of
            // a moving object it is not: there the pixel comes out of hiding or goes into it.
            float qx = sample(backward, width, height, 2, 0, px, py), qy = sample(backward, width, height, 2, 1, px, py);
            float ex = bx - qx, ey = by - qy;
            float miss = ex * ex + ey * ey;
            float allowed = 0.01f * (bx * bx + by * by + qx * qx + qy * qy) + slack;
            float ratio = miss / allowed;
            float consistent = ratio <= 0.5f ? 1 : fmaxf(0, 2 - 2 * ratio);
            // The content itself: the previous luma moved here matches the current one.
            float error = fabsf(sample(previous, width, height, 1, 0, px, py) * (1.0f / 255) - current[i] * (1.0f / 255));
            float c = inside ? consistent : 0, m = inside ? fmaxf(0, 1 - error / luma_tolerance) : 0;
            consistency[i] = c;
            match[i] = m;
            doubtful += c * m < 0.1f;
        }
    }
    return (float)doubtful / (float)((long)width * height);
}
STYLIZE_CLONES(STYLIZE_STATIC, float, trust, (const float *restrict backward, const float *restrict previous, const uint8_t *restrict current,
                                int width, int height, float slack, float luma_tolerance, float *restrict consistency, float *restrict match),
               (backward, previous, current, width, height, slack, luma_tolerance, consistency, match))

float stylize_flow_trust(const float *backward, const uint8_t *previous, const uint8_t *current, int width, int height, float slack,
                         float luma_tolerance, float *consistency, float *match) {
    // The previous luma as floats (of 0...255), which vector gathers take (they take no bytes).
    const long count = (long)width * height;
    float *values = malloc((size_t)count * sizeof(float));
    if (!values) {
        memset(consistency, 0, (size_t)count * sizeof(float));
        memset(match, 0, (size_t)count * sizeof(float));
        return 1;
    }
    for (long i = 0; i < count; i++) values[i] = previous[i];
    const float doubtful = trust(backward, values, current, width, height, slack, luma_tolerance, consistency, match);
    free(values);
    return doubtful;
}
