// StyleNorm arithmetic: the per-channel sums and sums of squares of a layer's output, and a
// per-channel scale and shift applied in place.

#include "StylizeInternal.h"

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
