// Times the stabilizer's parts on one thread, outside the pipeline: DIS flow, the trust
// checks, the flat parts' excuse, the trust regions and the blend of a 4:2:0 frame (`stylize_flow_warp_blend_planes`),
// on two consecutive frames of a clip (scripts/stabilizer-bench decodes them). The blend is the
// previous frame blended into the next one along their flow, at the default strength; the
// checksum of its output shows whether a change to the kernels kept their results.
//   main WIDTH HEIGHT FRAMES.yuv RUNS

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

// The fastest of `rounds` rounds of `runs` calls, in ms per call.
template <typename Work> double fastest(int rounds, int runs, Work work) {
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        const auto start = Clock::now();
        for (int i = 0; i < runs; i++) work();
        best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - start).count() / runs);
    }
    return best;
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
    if (argc != 5) {
        std::fprintf(stderr, "usage: main WIDTH HEIGHT FRAMES.yuv RUNS\n");
        return 2;
    }
    const int width = std::atoi(argv[1]), height = std::atoi(argv[2]), runs = std::atoi(argv[4]);
    const long size = (long)width * height * 3 / 2;
    std::vector<uint8_t> frames(2 * size);
    FILE *file = std::fopen(argv[3], "rb");
    if (!file || std::fread(frames.data(), 1, frames.size(), file) != frames.size()) {
        std::fprintf(stderr, "stabilizer-bench: cannot read two %dx%d frames from %s\n", width, height, argv[3]);
        return 1;
    }
    std::fclose(file);
    // The lumas at the flow's scale (TemporalStabilizer.Motion: half the frame from 360 across),
    // each pixel the rounded mean of the ones it covers.
    const int scale = width >= 360 ? 2 : 1, lw = width / scale, lh = height / scale;
    std::vector<uint8_t> lumas[2];
    for (int k = 0; k < 2; k++) {
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
    std::vector<float> backward(2 * count), consistency(count), match(count), trust(count), sure(count);
    // The consistency check's slack for this luma (TemporalStabilizer.consistencySlack(forWidth:)).
    const float slack = 0.5f * std::max(1.0f, (lw / 240.0f) * (lw / 240.0f));
    const int rounds = 5;
    const double dis = fastest(rounds, runs, [&] { stylize_flow_compute(flow, lumas[1].data(), lumas[0].data(), lw, lh, backward.data()); });
    const double checks = fastest(rounds, runs, [&] {
        stylize_flow_trust(backward.data(), lumas[0].data(), lumas[1].data(), lw, lh, slack, 0.08f, consistency.data(), match.data());
    });
    // TemporalStabilizer.flatGradient, over DIS's patch at the luma's scale.
    const double flat = fastest(rounds, runs, [&] { stylize_flow_excuse_flat(consistency.data(), match.data(), lumas[1].data(), lw, lh, 16, 2); });
    const double regions =
        fastest(rounds, runs, [&] { stylize_flow_trust_regions(consistency.data(), match.data(), lw, lh, 2, trust.data(), sure.data()); });
    std::vector<uint8_t> now(size);
    stylize_plane before[3], after[3];
    planes(frames.data(), width, height, before);
    planes(now.data(), width, height, after);
    double blended = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double total = 0;
        for (int i = 0; i < runs; i++) {
            std::memcpy(now.data(), frames.data() + size, size);
            const auto start = Clock::now();
            stylize_flow_warp_blend_planes(flow, before, after, 3, backward.data(), trust.data(), sure.data(), lw, lh, blend);
            total += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        }
        blended = std::min(blended, total / runs);
    }
    uint64_t checksum = 14695981039346656037ull;  // FNV-1a over the blended frame
    for (long i = 0; i < size; i++) checksum = (checksum ^ now[i]) * 1099511628211ull;
    std::printf("%dx%d (flow at %dx%d), ms per frame, fastest of %d rounds of %d: DIS %.3f  trust %.3f  flat %.3f  regions %.3f  blend %.3f  total %.3f\n",
                width, height, lw, lh, rounds, runs, dis, checks, flat, regions, blended, dis + checks + flat + regions + blended);
    std::printf("blended frame checksum %016llx\n", (unsigned long long)checksum);
    stylize_flow_destroy(flow);
    return 0;
}
