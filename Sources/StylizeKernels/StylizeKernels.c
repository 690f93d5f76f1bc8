#include "StylizeKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "StylizeCloned.h"
#include "StylizeParallel.h"


// oneDNN as Debian builds it runs its primitives on a GNU OpenMP thread team. The kernels here
// run on that same team: its threads keep spinning for a while after each of oneDNN's parallel
// regions (milliseconds, on CPUs with a slow PAUSE), so threads of any other pool would fight
// them for the cores. libgomp's entry point is called directly, since clang's OpenMP code
// generation targets LLVM's runtime; without libgomp the kernels run on the calling thread.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags) __attribute__((weak));
extern int omp_get_thread_num(void) __attribute__((weak));
extern int omp_get_num_threads(void) __attribute__((weak));
extern int omp_get_max_threads(void) __attribute__((weak));
extern void omp_set_num_threads(int) __attribute__((weak));
extern int omp_get_num_procs(void) __attribute__((weak));

typedef struct {
    void (*run)(const void *job, long begin, long end, int thread);
    const void *job;
    long count;
} parallel_job;

static void parallel_entry(void *data) {
    const parallel_job *p = data;
    const long n = omp_get_num_threads(), t = omp_get_thread_num();
    const long begin = p->count * t / n, end = p->count * (t + 1) / n;
    if (begin < end) p->run(p->job, begin, end, (int)t);
}

/// Threads a parallel region gets (1 without libgomp). Sanitizer builds run every kernel on the
/// calling thread: libgomp is not instrumented, so ThreadSanitizer cannot see how its team hands
/// work over and back, and would report each kernel's writes as races with the caller's reads.
int stylize_team_size(void) {
#ifdef STYLIZE_SANITIZED
    return 1;
#else
    return GOMP_parallel && omp_get_max_threads && omp_get_thread_num && omp_get_num_threads ? omp_get_max_threads() : 1;
#endif
}

int stylize_clone_level(void) {
    static int cached = -1;
    int level = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (level >= 0) return level;
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    level = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    level = 0;
#endif
    const char *limit = getenv("ONEDNN_MAX_CPU_ISA");
    if (!limit || !*limit) limit = getenv("DNNL_MAX_CPU_ISA");
    if (limit && !strncasecmp(limit, "AVX2", 4)) level = level > 1 ? 1 : level;
    else if (limit && (!strcasecmp(limit, "SSE41") || !strcasecmp(limit, "AVX"))) level = 0;
    __atomic_store_n(&cached, level, __ATOMIC_RELAXED);
    return level;
}

/// run(job, begin, end, thread) over [0, count) split into contiguous ranges, one per thread.
void stylize_parallel_for(long count, void (*run)(const void *, long, long, int), const void *job) {
    if (count > 1 && stylize_team_size() > 1) {
        parallel_job p = {run, job, count};
        GOMP_parallel(parallel_entry, &p, 0, 0);
    } else if (count > 0) {
        run(job, 0, count, 0);
    }
}

enum { MAX_CHANNELS = 64, MAX_PERIOD = MAX_CHANNELS * 16 };

/// The shortest run of values that holds whole pixels and whole 16-float vectors.
static long period_of(int channels) {
    int a = channels, b = 16;
    while (b) { int t = a % b; a = b; b = t; }
    return (long)channels * 16 / a;
}

static inline float from_bfloat16(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/// Element i of an f32 or bf16 buffer; `bf16` is a constant where this is inlined.
static inline __attribute__((always_inline)) float load(const void *p, long i, int bf16) {
    return bf16 ? from_bfloat16(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static inline __attribute__((always_inline)) void moments(const void *src, const int bf16, long count, int channels,
                                                          double *sum, double *sum_squares) {
    const long period = period_of(channels);
    float acc[MAX_PERIOD], acc2[MAX_PERIOD];
    long i = 0;
    while (i + period <= count) {
        // At most 64 periods per float partial sum, then into double: no precision lost on
        // frames of millions of pixels.
        long blocks = (count - i) / period;
        if (blocks > 64) blocks = 64;
        for (long k = 0; k < period; k++) acc[k] = acc2[k] = 0;
        for (long b = 0; b < blocks; b++) {
            const long base = i + b * period;
            for (long k = 0; k < period; k++) {
                const float v = load(src, base + k, bf16);
                acc[k] += v;
                acc2[k] += v * v;
            }
        }
        for (long k = 0; k < period; k++) {
            sum[k % channels] += acc[k];
            sum_squares[k % channels] += acc2[k];
        }
        i += blocks * period;
    }
    for (; i < count; i++) {  // i is a multiple of the period here, so of the channel count
        const double v = load(src, i, bf16);
        sum[i % channels] += v;
        sum_squares[i % channels] += v * v;
    }
}

static inline __attribute__((always_inline)) void moments_range_body(const void *src, int source_bf16, long count, int channels, double *sum, double *sum_squares) {
    if (source_bf16) moments(src, 1, count, channels, sum, sum_squares);
    else moments(src, 0, count, channels, sum, sum_squares);
}
STYLIZE_CLONES(STYLIZE_STATIC, void, moments_range, (const void *src, int source_bf16, long count, int channels, double *sum, double *sum_squares), (src, source_bf16, count, channels, sum, sum_squares))

typedef struct {
    const void *src;
    int source_bf16, channels;
    double *partial;  // per thread: channels sums, then channels sums of squares
} moments_job;

static void moments_pixels(const void *job, long begin, long end, int thread) {
    const moments_job *j = job;
    const long element = j->source_bf16 ? 2 : 4;
    double *sums = j->partial + 2L * j->channels * thread;
    moments_range((const char *)j->src + begin * j->channels * element, j->source_bf16, (end - begin) * j->channels, j->channels,
                  sums, sums + j->channels);
}

void stylize_channel_moments(const void *src, int source_bf16, long count, int channels, double *sum, double *sum_squares) {
    if (channels <= 0 || channels > MAX_CHANNELS || count <= 0) return;
    const int threads = stylize_team_size();
    double *partial = calloc((size_t)threads * 2 * channels, sizeof(double));
    if (!partial) {
        moments_range(src, source_bf16, count, channels, sum, sum_squares);
        return;
    }
    moments_job job = {src, source_bf16, channels, partial};
    stylize_parallel_for(count / channels, moments_pixels, &job);
    for (int t = 0; t < threads; t++) {
        for (int c = 0; c < channels; c++) {
            sum[c] += partial[2L * channels * t + c];
            sum_squares[c] += partial[2L * channels * t + channels + c];
        }
    }
    free(partial);
}

static inline uint16_t bfloat16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// Eight channels at a time, as clang vectors: the loop vectorizer leaves the bf16 conversions
// of short channel loops scalar.
typedef float f32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));

// Vectors travel by pointer: passing them by value would depend on the clone's instruction set.
static inline __attribute__((always_inline)) void load8(f32x8 *v, const void *p, long i, const int bf16) {
    if (bf16) {
        u16x8 h;
        memcpy(&h, (const uint16_t *)p + i, sizeof h);
        const u32x8 bits = __builtin_convertvector(h, u32x8) << 16;
        memcpy(v, &bits, sizeof *v);
    } else {
        memcpy(v, (const float *)p + i, sizeof *v);
    }
}

typedef uint8_t u8x8 __attribute__((vector_size(8)));

/// Bytes per element of a destination type (STYLIZE_F32, STYLIZE_BF16, STYLIZE_U8).
static inline __attribute__((always_inline)) long element_size(const int type) { return type == STYLIZE_U8 ? 1 : type == STYLIZE_BF16 ? 2 : 4; }

/// `v` rounded to the nearest integer (ties to even, as ONNX's QuantizeLinear) and clamped to 0...255.
static inline __attribute__((always_inline)) uint8_t byte_of(float v) {
    return (uint8_t)__builtin_roundevenf(v < 0 ? 0 : v > 255 ? 255 : v);
}

static inline __attribute__((always_inline)) void store8(void *p, long i, const f32x8 *v, const int bf16) {
    if (bf16 == STYLIZE_U8) {
        const f32x8 zero = {0, 0, 0, 0, 0, 0, 0, 0}, top = {255, 255, 255, 255, 255, 255, 255, 255};
        const f32x8 r = __builtin_elementwise_roundeven(__builtin_elementwise_min(__builtin_elementwise_max(*v, zero), top));
        const u8x8 b = __builtin_convertvector(r, u8x8);
        memcpy((uint8_t *)p + i, &b, sizeof b);
    } else if (bf16) {
        u32x8 bits;
        memcpy(&bits, v, sizeof bits);
        bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;  // round to nearest even, as bfloat16()
        const u16x8 h = __builtin_convertvector(bits, u16x8);
        memcpy((uint16_t *)p + i, &h, sizeof h);
    } else {
        memcpy((float *)p + i, v, sizeof *v);
    }
}

// One pixel of a gather, value by value: source values at p, destination values at o.
static inline __attribute__((always_inline)) void gather_pixel(const void *src, long p, const int channels, const float *scale,
                                                               const float *shift, float floor, void *out, long o,
                                                               const int source_bf16, const int bf16) {
    if (bf16 == STYLIZE_U8) {
        uint8_t *d = (uint8_t *)out + o;
        for (int c = 0; c < channels; c++) d[c] = byte_of(fmaxf(load(src, p + c, source_bf16) * scale[c] + shift[c], floor));
    } else if (bf16) {
        uint16_t *d = (uint16_t *)out + o;
        for (int c = 0; c < channels; c++) d[c] = bfloat16(fmaxf(load(src, p + c, source_bf16) * scale[c] + shift[c], floor));
    } else {
        float *d = (float *)out + o;
        for (int c = 0; c < channels; c++) d[c] = fmaxf(load(src, p + c, source_bf16) * scale[c] + shift[c], floor);
    }
}

// One destination row. `channels` and the element types are constants where this is inlined.
// Destination pixel x is at out + (x / q) * q * q * channels + (x % q) * channels.
static inline __attribute__((always_inline)) void gather_row(
    const void *src, long row_offset, const int64_t *column_offsets, const int channels, int width, int q,
    const float *scale, const float *shift, float floor, void *out, const int source_bf16, const int bf16) {
    if (channels % 8 == 0) {
        f32x8 a[MAX_CHANNELS / 8], b[MAX_CHANNELS / 8];
        const f32x8 low = {floor, floor, floor, floor, floor, floor, floor, floor};
        for (int k = 0; k < channels / 8; k++) {
            memcpy(&a[k], scale + 8 * k, sizeof a[k]);
            memcpy(&b[k], shift + 8 * k, sizeof b[k]);
        }
        for (int block = 0; block < width / q; block++) {
            for (int phase = 0; phase < q; phase++) {
                const long p = row_offset + column_offsets[block * q + phase];
                const long o = ((long)block * q * q + phase) * channels;
                for (int k = 0; k < channels / 8; k++) {
                    f32x8 v;
                    load8(&v, src, p + 8 * k, source_bf16);
                    v = __builtin_elementwise_max(v * a[k] + b[k], low);
                    store8(out, o + 8 * k, &v, bf16);
                }
            }
        }
        return;
    }
    if (channels == 3 && (q == 1 || q == 4)) {
        // RGB pictures in and out of the network: four pixels at a time, whose 12 values are
        // contiguous in the destination (one stored pixel's row of phases, or four pixels) and,
        // away from the padding, in the source: as two overlapping vectors, values 0-7 and 4-11.
        f32x8 a0, b0, a1, b1;
        const f32x8 low = {floor, floor, floor, floor, floor, floor, floor, floor};
        for (int k = 0; k < 8; k++) {
            a0[k] = scale[k % 3], b0[k] = shift[k % 3];
            a1[k] = scale[(k + 4) % 3], b1[k] = shift[(k + 4) % 3];
        }
        int x = 0;
        for (; x + 4 <= width; x += 4) {
            const int64_t *c = column_offsets + x;
            const long p = row_offset + c[0], o = (long)x * q * 3;
            if (c[1] == c[0] + 3 && c[2] == c[0] + 6 && c[3] == c[0] + 9) {
                f32x8 v, w;
                load8(&v, src, p, source_bf16);
                load8(&w, src, p + 4, source_bf16);
                v = __builtin_elementwise_max(v * a0 + b0, low);
                w = __builtin_elementwise_max(w * a1 + b1, low);
                store8(out, o, &v, bf16);
                store8(out, o + 4, &w, bf16);
            } else {
                for (int k = 0; k < 4; k++) gather_pixel(src, row_offset + c[k], 3, scale, shift, floor, out, o + 3 * k, source_bf16, bf16);
            }
        }
        for (; x < width; x++) gather_pixel(src, row_offset + column_offsets[x], 3, scale, shift, floor, out, 3L * x, source_bf16, bf16);
        return;
    }
    for (int block = 0; block < width / q; block++) {
        for (int phase = 0; phase < q; phase++) {
            gather_pixel(src, row_offset + column_offsets[block * q + phase], channels, scale, shift, floor, out,
                         ((long)block * q * q + phase) * channels, source_bf16, bf16);
        }
    }
}

#define GATHER_ROW(C, SB, DB) gather_row(src, row_offsets[y], column_offsets, C, width, q, scale, shift, floor, out, SB, DB)
#define GATHER_ROW_TYPES(C)                       \
    do {                                          \
        if (bf16 == STYLIZE_U8) GATHER_ROW(C, source_bf16, STYLIZE_U8); \
        else if (source_bf16 && bf16) GATHER_ROW(C, 1, 1); \
        else if (source_bf16) GATHER_ROW(C, 1, 0);    \
        else if (bf16) GATHER_ROW(C, 0, 1);           \
        else GATHER_ROW(C, 0, 0);                     \
    } while (0)

typedef struct {
    const void *src;
    int source_bf16;
    const int64_t *row_offsets, *column_offsets;
    int channels, width, q;
    const float *scale, *shift;
    float floor;
    void *dst;
    int bf16;
} gather_job;

/// Destination rows [q * begin, q * end): whole stored rows, so no two threads share one.
static inline __attribute__((always_inline)) void gather_rows_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const gather_job *j = job;
    const void *src = j->src;
    const int64_t *row_offsets = j->row_offsets, *column_offsets = j->column_offsets;
    const int channels = j->channels, width = j->width, q = j->q, source_bf16 = j->source_bf16, bf16 = j->bf16;
    const float *scale = j->scale, *shift = j->shift, floor = j->floor;
    const long element = element_size(bf16);
    for (long y = begin * q; y < end * q; y++) {
        // Stored row y / q holds width * q pixels; this row's pixels start at phase row y % q.
        void *out = (char *)j->dst + ((y / q) * width * q + (y % q) * q) * channels * element;
        switch (channels) {
        case 3: GATHER_ROW_TYPES(3); break;
        case 8: GATHER_ROW_TYPES(8); break;
        case 16: GATHER_ROW_TYPES(16); break;
        case 32: GATHER_ROW_TYPES(32); break;
        default: GATHER_ROW_TYPES(channels); break;
        }
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, gather_rows, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_gather(const void *src, int source_bf16, const int64_t *row_offsets, const int64_t *column_offsets, int channels,
                    int rows, int width, int destination_phases, const float *scale, const float *shift, int relu, void *dst, int bf16) {
    const int q = destination_phases;
    if (channels <= 0 || channels > MAX_CHANNELS || q <= 0 || width % q || rows % q) return;
    float ones[MAX_CHANNELS], zeros[MAX_CHANNELS];
    if (!scale || !shift) {
        for (int c = 0; c < channels; c++) { ones[c] = 1; zeros[c] = 0; }
        scale = ones;
        shift = zeros;
    }
    gather_job job = {src, source_bf16, row_offsets, column_offsets, channels, width, q, scale, shift,
                      relu ? 0.0f : -INFINITY, dst, bf16};
    stylize_parallel_for(rows / q, gather_rows, &job);
}

// 4:2:0 pictures in and out of the network.

static inline __attribute__((always_inline)) float unit(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

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

typedef struct {
    float *data;
    int channels;
    long period;
    const float *a, *b;  // scale and shift repeated over one period
} affine_job;

static inline __attribute__((always_inline)) void affine_periods_body(const void *job, long begin, long end, int thread) {
    (void)thread;
    const affine_job *j = job;
    const long period = j->period;
    for (long i = begin; i < end; i++) {
        float *p = j->data + i * period;
        for (long k = 0; k < period; k++) p[k] = p[k] * j->a[k] + j->b[k];
    }
}
STYLIZE_CLONES(STYLIZE_STATIC, void, affine_periods, (const void *job, long begin, long end, int thread), (job, begin, end, thread))

void stylize_affine(float *data, long count, int channels, const float *scale, const float *shift) {
    if (channels <= 0 || channels > MAX_CHANNELS || count <= 0) return;
    const long period = period_of(channels);
    float a[MAX_PERIOD], b[MAX_PERIOD];
    for (long k = 0; k < period; k++) { a[k] = scale[k % channels]; b[k] = shift[k % channels]; }
    affine_job job = {data, channels, period, a, b};
    stylize_parallel_for(count / period, affine_periods, &job);
    for (long i = count / period * period; i < count; i++) data[i] = data[i] * scale[i % channels] + shift[i % channels];
}

static inline __attribute__((always_inline)) void stylize_interleave_rgb_body(const float *red, const float *green, const float *blue, long plane_stride,
                                   int width, int height, float *dst) {
    for (int y = 0; y < height; y++) {
        const float *r = red + y * plane_stride, *g = green + y * plane_stride, *b = blue + y * plane_stride;
        float *o = dst + (long)y * width * 3;
        for (int x = 0; x < width; x++) {
            o[3 * x] = unit(r[x]);
            o[3 * x + 1] = unit(g[x]);
            o[3 * x + 2] = unit(b[x]);
        }
    }
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_interleave_rgb, (const float *red, const float *green, const float *blue, long plane_stride,
                                   int width, int height, float *dst), (red, green, blue, plane_stride, width, height, dst))

static inline __attribute__((always_inline)) void stylize_planar_rgb_body(const float *src, int width, int height, float *red, float *green, float *blue, long plane_stride) {
    for (int y = 0; y < height; y++) {
        const float *p = src + (long)y * width * 3;
        float *r = red + y * plane_stride, *g = green + y * plane_stride, *b = blue + y * plane_stride;
        for (int x = 0; x < width; x++) {
            r[x] = unit(p[3 * x]);
            g[x] = unit(p[3 * x + 1]);
            b[x] = unit(p[3 * x + 2]);
        }
    }
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_planar_rgb, (const float *src, int width, int height, float *red, float *green, float *blue, long plane_stride), (src, width, height, red, green, blue, plane_stride))

// Conversions between pictures' 16-bit samples and the network's values (`Picture`).

/// `v` clamped to [0, 1], with NaN to 0.
static inline __attribute__((always_inline)) float clamped_unit(float v) {
    const float c = v > 0 ? v : 0;
    return c < 1 ? c : 1;
}

static inline __attribute__((always_inline)) void stylize_samples_from_unit_body(const float *values, long count, uint16_t *samples) {
    for (long i = 0; i < count; i++) samples[i] = (uint16_t)roundf(clamped_unit(values[i]) * 65535.0f);
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_samples_from_unit, (const float *values, long count, uint16_t *samples), (values, count, samples))

static inline __attribute__((always_inline)) void stylize_unit_from_samples_body(const uint16_t *samples, long count, float *values) {
    for (long i = 0; i < count; i++) values[i] = (float)samples[i] / 65535.0f;
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_unit_from_samples, (const uint16_t *samples, long count, float *values), (samples, count, values))

static inline __attribute__((always_inline)) void stylize_bytes_from_samples_body(const uint16_t *samples, long count, uint8_t *bytes) {
    for (long i = 0; i < count; i++) bytes[i] = (uint8_t)(((uint32_t)samples[i] * 255 + 32767) / 65535);
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_bytes_from_samples, (const uint16_t *samples, long count, uint8_t *bytes), (samples, count, bytes))

/// v * a + 65535 * (1 - a) in 16-bit units, rounded: a sample over white.
static inline __attribute__((always_inline)) uint16_t over_white(uint32_t v, uint32_t a) {
    return (uint16_t)((v * a + 65535 * (65535 - a) + 32767) / 65535);
}

static inline __attribute__((always_inline)) void stylize_samples_over_white_body(const void *rgba, int deep, long pixels, uint16_t *samples) {
    if (deep) {
        const uint16_t *p = rgba;
        for (long i = 0; i < pixels; i++)
            for (int c = 0; c < 3; c++) samples[3 * i + c] = over_white(p[4 * i + c], p[4 * i + 3]);
    } else {
        const uint8_t *p = rgba;
        for (long i = 0; i < pixels; i++)
            for (int c = 0; c < 3; c++) samples[3 * i + c] = over_white(p[4 * i + c] * 257u, p[4 * i + 3] * 257u);
    }
}
STYLIZE_CLONES(STYLIZE_EXTERN, void, stylize_samples_over_white, (const void *rgba, int deep, long pixels, uint16_t *samples), (rgba, deep, pixels, samples))

/// Bilinear sample of channel `c` of a `channels`-channel picture at (x, y), clamped to its edges.
static inline float sample(const float *p, int width, int height, int channels, int c, float x, float y) {
    x = fminf(fmaxf(x, 0), (float)(width - 1));
    y = fminf(fmaxf(y, 0), (float)(height - 1));
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < width ? x0 + 1 : x0, y1 = y0 + 1 < height ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    float a = p[((long)y0 * width + x0) * channels + c], b = p[((long)y0 * width + x1) * channels + c];
    float d = p[((long)y1 * width + x0) * channels + c], e = p[((long)y1 * width + x1) * channels + c];
    return (a + (b - a) * fx) + ((d + (e - d) * fx) - (a + (b - a) * fx)) * fy;
}

static inline float sample_u8(const uint8_t *p, int width, int height, float x, float y) {
    x = fminf(fmaxf(x, 0), (float)(width - 1));
    y = fminf(fmaxf(y, 0), (float)(height - 1));
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < width ? x0 + 1 : x0, y1 = y0 + 1 < height ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    float a = p[(long)y0 * width + x0], b = p[(long)y0 * width + x1];
    float d = p[(long)y1 * width + x0], e = p[(long)y1 * width + x1];
    return ((a + (b - a) * fx) + ((d + (e - d) * fx) - (a + (b - a) * fx)) * fy) * (1.0f / 255);
}

static inline __attribute__((always_inline)) float stylize_flow_trust_body(const float *restrict backward, const uint8_t *restrict previous, const uint8_t *restrict current,
                                int width, int height, float luma_tolerance, float *restrict consistency, float *restrict match) {
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
            float allowed = 0.01f * (bx * bx + by * by + qx * qx + qy * qy) + 0.5f;
            float ratio = miss / allowed;
            float consistent = ratio <= 0.5f ? 1 : fmaxf(0, 2 - 2 * ratio);
            // The content itself: the previous luma moved here matches the current one.
            float error = fabsf(sample_u8(previous, width, height, px, py) - current[i] * (1.0f / 255));
            float c = inside ? consistent : 0, m = inside ? fmaxf(0, 1 - error / luma_tolerance) : 0;
            consistency[i] = c;
            match[i] = m;
            doubtful += c * m < 0.1f;
        }
    }
    return (float)doubtful / (float)((long)width * height);
}
STYLIZE_CLONES(STYLIZE_EXTERN, float, stylize_flow_trust, (const float *restrict backward, const uint8_t *restrict previous, const uint8_t *restrict current,
                                int width, int height, float luma_tolerance, float *restrict consistency, float *restrict match),
               (backward, previous, current, width, height, luma_tolerance, consistency, match))

void stylize_set_threads(int threads) {
    if (!omp_set_num_threads || !omp_get_num_procs) return;
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
}
