// Times the stabilizer's parts on one thread, outside the pipeline: DIS flow, the trust
// checks, the flat parts' excuse, the trust regions and the blend of a 4:2:0 frame (`stylize_flow_warp_blend_planes`),
// on consecutive frames of a clip (scripts/stabilizer-bench decodes them). For each frame after
// the first, the flow back to the one before is measured and the previous frame blended into it
// along that flow, at the default strength; each part's time is the fastest of 5 rounds of RUNS
// calls, added up over the frames and given per frame. With PAINTED.yuv and STEADIED.yuv (the
// frames' per-frame stylizations and the stabilized clip, as `stylize video` writes them), the
// previous stabilized frame is blended into each per-frame stylization instead, as the pipeline
// blends them: the frame limit and the detail gain then do the work they do on a clip, which the
// frames themselves hardly ask of them. The checksum of the blended frames shows whether a change
// to the kernels kept their results.
//   main WIDTH HEIGHT FRAMES.yuv RUNS [PAINTED.yuv STEADIED.yuv]

#include "StylizeFlow.h"
extern "C" {
#include "StylizeKernels.h"
}

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// The fastest of `rounds` rounds of `runs` calls of `work`, in ms per call, each after a call of
// `prepare` (untimed: it restores what `work` changes).
template <typename Prepare, typename Work> double fastest(int rounds, int runs, Prepare prepare, Work work) {
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double total = 0;
        for (int i = 0; i < runs; i++) {
            prepare();
            const auto start = Clock::now();
            work();
            total += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        }
        best = std::min(best, total / runs);
    }
    return best;
}

template <typename Work> double fastest(int rounds, int runs, Work work) {
    return fastest(rounds, runs, [] {}, work);
}

// The frame's planes, as the blend takes them (the luma weighs as much as both chromas).
void planes(uint8_t *frame, int width, int height, stylize_plane *out) {
    const int cw = width / 2, ch = height / 2;
    out[0] = {frame, width, width, height, 1, 1, 255, 0.5f};
    out[1] = {frame + width * height, cw, cw, ch, 1, 1, 255, 0.25f};
    out[2] = {frame + width * height + cw * ch, cw, cw, ch, 1, 1, 255, 0.25f};
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 5 && argc != 7) {
        std::fprintf(stderr, "usage: main WIDTH HEIGHT FRAMES.yuv RUNS [PAINTED.yuv STEADIED.yuv]\n");
        return 2;
    }
    const int width = std::atoi(argv[1]), height = std::atoi(argv[2]), runs = std::atoi(argv[4]);
    const long size = (long)width * height * 3 / 2;
    // A file of whole frames, at least two; `frames` 0 takes as many as the file holds.
    const auto read = [&](const char *path, long frames, std::vector<uint8_t> &out) {
        FILE *file = std::fopen(path, "rb");
        long bytes = -1;
        if (file && std::fseek(file, 0, SEEK_END) == 0) bytes = std::ftell(file);
        const long count = frames ? frames : bytes / size;
        out.resize(count > 0 ? (size_t)(count * size) : 0);
        const bool whole = file && count >= 2 && bytes >= count * size && std::fseek(file, 0, SEEK_SET) == 0 &&
                           std::fread(out.data(), 1, out.size(), file) == out.size();
        if (file) std::fclose(file);
        if (!whole) std::fprintf(stderr, "stabilizer-bench: cannot read %s %dx%d frames from %s\n", frames ? "the" : "two", width, height, path);
        return whole;
    };
    std::vector<uint8_t> frames, painted, steadied;
    if (!read(argv[3], 0, frames)) return 1;
    const int count_frames = (int)(frames.size() / size);
    if (argc == 7 && (!read(argv[5], count_frames, painted) || !read(argv[6], count_frames, steadied))) return 1;
    // The lumas at the flow's scale (TemporalStabilizer.Motion: half the frame from 360 across),
    // each pixel the rounded mean of the ones it covers.
    const int scale = width >= 360 ? 2 : 1, lw = width / scale, lh = height / scale;
    std::vector<std::vector<uint8_t>> lumas(count_frames);
    for (int k = 0; k < count_frames; k++) {
        lumas[k].resize((size_t)lw * lh);
        const uint8_t *y = frames.data() + k * size;
        for (int r = 0; r < lh; r++)
            for (int c = 0; c < lw; c++) {
                int sum = 0;
                for (int a = 0; a < scale; a++)
                    for (int b = 0; b < scale; b++) sum += y[(long)(scale * r + a) * width + scale * c + b];
                lumas[k][(size_t)r * lw + c] = (uint8_t)((sum + scale * scale / 2) / (scale * scale));
            }
    }
    // TemporalStabilizer's settings.
    stylize_flow *flow = stylize_flow_create({1, 8, 4, 16, 0});
    if (!flow) return 1;
    const stylize_blend blend = {0.7f, 1.3f, 0.85f, 1.5f, 0.7f, 0.9f, 1.5f, 1.6f, (float)std::pow(10, -2.4)};
    const long count = (long)lw * lh;
    std::vector<float> backward(2 * count), checked(count), consistency(count), match(count), trust(count), sure(count);
    // The consistency check's slack for this luma (TemporalStabilizer.consistencySlack(forWidth:)).
    const float slack = 0.5f * std::max(1.0f, (lw / 240.0f) * (lw / 240.0f));
    const int rounds = 5;
    double dis = 0, checks = 0, flat = 0, regions = 0, blended = 0;
    std::vector<uint8_t> now(size);
    uint64_t checksum = 14695981039346656037ull;  // FNV-1a over the blended frames
    for (int k = 1; k < count_frames; k++) {
        const uint8_t *previous = lumas[k - 1].data(), *current = lumas[k].data();
        dis += fastest(rounds, runs, [&] { stylize_flow_compute(flow, current, previous, lw, lh, backward.data()); });
        checks += fastest(rounds, runs, [&] {
            stylize_flow_trust(backward.data(), previous, current, lw, lh, slack, 0.08f, checked.data(), match.data());
        });
        // TemporalStabilizer.flatGradient, over DIS's patch at the luma's scale; from the checks' consistency each time.
        flat += fastest(
            rounds, runs, [&] { consistency = checked; },
            [&] { stylize_flow_excuse_flat(flow, consistency.data(), match.data(), current, lw, lh, 16, 2); });
        regions +=
            fastest(rounds, runs, [&] { stylize_flow_trust_regions(flow, consistency.data(), match.data(), lw, lh, 2, trust.data(), sure.data()); });
        const uint8_t *into = (painted.empty() ? frames : painted).data() + k * size;
        stylize_plane before[3], after[3];
        planes(const_cast<uint8_t *>((steadied.empty() ? frames : steadied).data() + (k - 1) * size), width, height, before);
        planes(now.data(), width, height, after);
        blended += fastest(
            rounds, runs, [&] { std::memcpy(now.data(), into, size); },
            [&] { stylize_flow_warp_blend_planes(flow, before, after, 3, backward.data(), trust.data(), sure.data(), lw, lh, blend); });
        for (long i = 0; i < size; i++) checksum = (checksum ^ now[i]) * 1099511628211ull;
    }
    const double pairs = count_frames - 1;
    dis /= pairs, checks /= pairs, flat /= pairs, regions /= pairs, blended /= pairs;
    std::printf("%dx%d (flow at %dx%d), %d %s blended, ms per frame, each part the fastest of %d rounds of %d calls: DIS %.3f  trust %.3f  "
                "flat %.3f  regions %.3f  blend %.3f  total %.3f\n",
                width, height, lw, lh, count_frames - 1, painted.empty() ? (count_frames > 2 ? "frames" : "frame") : "stylizations", rounds, runs,
                dis, checks, flat, regions, blended, dis + checks + flat + regions + blended);
    std::printf("blended frame%s checksum %016llx\n", count_frames > 2 ? "s'" : "", (unsigned long long)checksum);
    stylize_flow_destroy(flow);
    return 0;
}
