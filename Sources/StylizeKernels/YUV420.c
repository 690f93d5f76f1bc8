// 4:2:0 pictures in and out of the network, with no RGB picture between: the first gather
// converts and interpolates chroma as it pads, and the last layer's phases become 4:2:0 bytes.

#include "StylizeInternal.h"

/// (R, G, B) of one pixel from its luma and its interpolated chroma.
static inline __attribute__((always_inline)) void rgb_pixel(float *o, float y, float u, float v, const float *m) {
    o[0] = unit(m[0] * y + m[1] * u + m[2] * v + m[3]);
    o[1] = unit(m[4] * y + m[5] * u + m[6] * v + m[7]);
    o[2] = unit(m[8] * y + m[9] * u + m[10] * v + m[11]);
}

// Chroma is interpolated with Catmull-Rom cubics: at a quarter of the way between two samples
// the four weights are QUARTER (and reversed at three quarters), halfway HALF.
static const float QUARTER[4] = {-0.0703125f, 0.8671875f, 0.2265625f, -0.0234375f};
static const float HALF[4] = {-0.0625f, 0.5625f, 0.5625f, -0.0625f};

/// Sample i of a row of bytes, or of 16-bit words (`wide`).
static inline __attribute__((always_inline)) float sample_at(const uint8_t *row, int i, int wide) {
    return wide ? (float)((const uint16_t *)row)[i] : (float)row[i];
}

/// Luma row y of `p` as interleaved RGB floats. `cu` and `cv` are scratch of (width + 1) / 2 + 4.
/// `wide`: 16-bit samples (a constant where it is called, so that each case gets its own loops).
static inline __attribute__((always_inline)) void yuv420_rgb_row(const stylize_yuv420 *p, int y, const float *m,
                                                                 float *restrict cu, float *restrict cv, float *restrict rgb,
                                                                 int wide) {
    const int width = p->width, cw = (width + 1) / 2, ch = (p->height + 1) / 2;
    // Chroma row k sits at luma row 2k + 1/2: luma row y is a quarter of the way from chroma row
    // y / 2 to y / 2 - 1 (even y) or y / 2 + 1 (odd y). Rows outside the plane repeat its edge.
    const int k = y / 2, first = y % 2 ? k - 1 : k - 2;
    const uint8_t *restrict u[4], *restrict v[4];
    float w[4];
    for (int t = 0; t < 4; t++) {
        int r = first + t;
        r = r < 0 ? 0 : r >= ch ? ch - 1 : r;
        u[t] = p->u + r * p->u_stride;
        v[t] = p->v + r * p->v_stride;
        w[t] = y % 2 ? QUARTER[t] : QUARTER[3 - t];
    }
    // cu[i + 2] is chroma sample i of this row; two samples either side hold the edges.
    for (int i = 0; i < cw; i++) {
        cu[i + 2] = w[0] * sample_at(u[0], i, wide) + w[1] * sample_at(u[1], i, wide) + w[2] * sample_at(u[2], i, wide)
                    + w[3] * sample_at(u[3], i, wide);
        cv[i + 2] = w[0] * sample_at(v[0], i, wide) + w[1] * sample_at(v[1], i, wide) + w[2] * sample_at(v[2], i, wide)
                    + w[3] * sample_at(v[3], i, wide);
    }
    cu[0] = cu[1] = cu[2], cv[0] = cv[1] = cv[2];
    cu[cw + 2] = cu[cw + 3] = cu[cw + 1], cv[cw + 2] = cv[cw + 3] = cv[cw + 1];
    // Across, luma pixel 2i from samples i - 2 ... i + 1 (a), pixel 2i + 1 from i - 1 ... i + 2
    // (b). Cosited, pixel 2i is sample i and 2i + 1 halfway to i + 1; centred, pixel 2i is a
    // quarter of the way from sample i to i - 1, and 2i + 1 from i to i + 1.
    const int cosited = p->chroma_cosited;
    float a[4], b[4];
    for (int t = 0; t < 4; t++) {
        a[t] = cosited ? (t == 2) : QUARTER[3 - t];
        b[t] = cosited ? HALF[t] : QUARTER[t];
    }
    const uint8_t *restrict luma = p->y + y * p->y_stride;
    for (int i = 0; i < width / 2; i++) {
        const float *restrict su = cu + i, *restrict sv = cv + i;
        rgb_pixel(rgb + 6 * i, sample_at(luma, 2 * i, wide), a[0] * su[0] + a[1] * su[1] + a[2] * su[2] + a[3] * su[3],
                  a[0] * sv[0] + a[1] * sv[1] + a[2] * sv[2] + a[3] * sv[3], m);
        rgb_pixel(rgb + 6 * i + 3, sample_at(luma, 2 * i + 1, wide), b[0] * su[1] + b[1] * su[2] + b[2] * su[3] + b[3] * su[4],
                  b[0] * sv[1] + b[1] * sv[2] + b[2] * sv[3] + b[3] * sv[4], m);
    }
    if (width % 2) {
        const int i = width / 2;
        const float *restrict su = cu + i, *restrict sv = cv + i;
        rgb_pixel(rgb + 6 * i, sample_at(luma, 2 * i, wide), a[0] * su[0] + a[1] * su[1] + a[2] * su[2] + a[3] * su[3],
                  a[0] * sv[0] + a[1] * sv[1] + a[2] * sv[2] + a[3] * sv[3], m);
    }
}

typedef struct {
    const stylize_yuv420 *picture;
    const float *to_rgb;
    const int32_t *rows;
    const int64_t *column_offsets;  // 3 * column: into one converted row, interleaved RGB
    int width, q;
    void *dst;
    int bf16;
} yuv_gather_job;

static inline __attribute__((always_inline)) void gather_yuv420_rows_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const yuv_gather_job *j = job;
    const stylize_yuv420 *p = j->picture;
    const int width = j->width, q = j->q, cw = (p->width + 1) / 2;
    float *scratch = malloc(sizeof(float) * (3 * (size_t)p->width + 2 * ((size_t)cw + 4)));
    if (!scratch) abort();
    float *rgb = scratch, *cu = rgb + 3 * (long)p->width, *cv = cu + cw + 4;
    // Bytes (the int8 network's input) hold 255 times the values.
    static const float ones[3] = {1, 1, 1}, zeros[3] = {0, 0, 0}, bytes[3] = {255, 255, 255};
    const long element = element_size(j->bf16);
    int converted = -1;
    for (long y = begin * q; y < end * q; y++) {
        // Reflected rows come in runs: a source row is converted once per run.
        if (j->rows[y] != converted) {
            converted = j->rows[y];
            if (p->depth > 8) yuv420_rgb_row(p, converted, j->to_rgb, cu, cv, rgb, 1);
            else yuv420_rgb_row(p, converted, j->to_rgb, cu, cv, rgb, 0);
        }
        void *out = (char *)j->dst + ((y / q) * width * q + (y % q) * q) * 3 * element;
        if (j->bf16 == STYLIZE_U8) gather_row(rgb, 0, j->column_offsets, 3, width, q, bytes, zeros, -INFINITY, out, 0, STYLIZE_U8);
        else if (j->bf16) gather_row(rgb, 0, j->column_offsets, 3, width, q, ones, zeros, -INFINITY, out, 0, 1);
        else gather_row(rgb, 0, j->column_offsets, 3, width, q, ones, zeros, -INFINITY, out, 0, 0);
    }
    free(scratch);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, gather_yuv420_rows, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_gather_yuv420(const stylize_yuv420 *picture, const float *to_rgb, const int32_t *rows, const int64_t *column_offsets,
                           int row_count, int width, int destination_phases, void *dst, int bf16) {
    const int q = destination_phases;
    if (q <= 0 || width % q || row_count % q || picture->width <= 0 || picture->height <= 0) return;
    yuv_gather_job job = {picture, to_rgb, rows, column_offsets, width, q, dst, bf16};
    stylize_parallel_for(row_count / q, gather_yuv420_rows, &job);
}

static inline __attribute__((always_inline)) uint8_t byte_value(float v) {
    return (uint8_t)(int)((v < 0 ? 0 : v > 255 ? 255 : v) + 0.5f);
}

typedef struct {
    const float *src;
    int phases, stored_width;
    const float *to_yuv;
    const stylize_yuv420 *picture;
} yuv_from_phases_job;

/// Chroma rows [begin, end) and the luma rows they sit between.
static inline __attribute__((always_inline)) void yuv420_from_phase_rows_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const yuv_from_phases_job *j = job;
    const stylize_yuv420 *p = j->picture;
    const int width = p->width, height = p->height, cw = (width + 1) / 2, P = j->phases, blocks = (width + P - 1) / P;
    const float *m = j->to_yuv;
    float *scratch = malloc(sizeof(float) * (3 * (size_t)blocks * P + 2 * ((size_t)width + 2)));
    if (!scratch) abort();
    // cb[x + 1] and cr[x + 1]: the sum of the two rows' chroma at column x; [0] and [width + 1] the edges.
    float *restrict rgb = scratch, *restrict cb = rgb + 3L * blocks * P, *restrict cr = cb + width + 2;
    for (long k = begin; k < end; k++) {
        for (int x = 0; x < width + 2; x++) cb[x] = cr[x] = 0;
        for (int r = 0; r < 2; r++) {
            // An odd height's last chroma row: its missing second row repeats the first.
            const long y = 2 * k + r < height ? 2 * k + r : height - 1;
            const float *row = j->src + (y / P) * (long)j->stored_width * P * P * 3 + (y % P) * P * 3;
            for (int b = 0; b < blocks; b++) memcpy(rgb + 3L * b * P, row + (long)b * P * P * 3, sizeof(float) * 3 * (size_t)P);
            uint8_t *restrict luma = p->y + y * p->y_stride;
            for (int x = 0; x < width; x++) {
                const float red = rgb[3 * x], green = rgb[3 * x + 1], blue = rgb[3 * x + 2];
                luma[x] = byte_value(m[0] * red + m[1] * green + m[2] * blue + m[3]);
                cb[x + 1] += m[4] * red + m[5] * green + m[6] * blue;
                cr[x + 1] += m[8] * red + m[9] * green + m[10] * blue;
            }
        }
        cb[0] = cb[1], cr[0] = cr[1], cb[width + 1] = cb[width], cr[width + 1] = cr[width];
        uint8_t *restrict u = p->u + k * p->u_stride, *restrict v = p->v + k * p->v_stride;
        // Chroma sample i sits on luma column 2i (cosited) or between 2i and 2i + 1; the sums
        // hold two rows each.
        const float w0 = p->chroma_cosited ? 0.125f : 0, w1 = 0.25f, w2 = p->chroma_cosited ? 0.125f : 0.25f;
        for (int i = 0; i < cw; i++) {
            u[i] = byte_value(w0 * cb[2 * i] + w1 * cb[2 * i + 1] + w2 * cb[2 * i + 2] + m[7]);
            v[i] = byte_value(w0 * cr[2 * i] + w1 * cr[2 * i + 1] + w2 * cr[2 * i + 2] + m[11]);
        }
    }
    free(scratch);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, yuv420_from_phase_rows, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_yuv420_from_phases(const float *src, int phases, int stored_width, const float *to_yuv, const stylize_yuv420 *picture) {
    if (phases <= 0 || picture->width <= 0 || picture->height <= 0 || picture->width > stored_width * phases || picture->depth != 8) return;
    yuv_from_phases_job job = {src, phases, stored_width, to_yuv, picture};
    stylize_parallel_for((picture->height + 1) / 2, yuv420_from_phase_rows, &job);
}
