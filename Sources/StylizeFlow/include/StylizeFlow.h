#ifndef STYLIZE_FLOW_H
#define STYLIZE_FLOW_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Dense optical flow between two grey pictures: OpenCV's DIS (Kroeger et al., "Fast Optical
/// Flow using Dense Inverse Search", ECCV 2016), behind a C interface so that Swift needs no C++.
typedef struct stylize_flow stylize_flow;

/// DIS presets, as OpenCV names them.
enum { STYLIZE_FLOW_ULTRAFAST = 0, STYLIZE_FLOW_FAST = 1, STYLIZE_FLOW_MEDIUM = 2 };

/// A flow computer for one preset; NULL when OpenCV cannot make one. Not thread-safe: one per
/// thread. OpenCV's own thread pool is set to one thread, since the stabilizer runs beside the
/// transformer, which has the cores.
stylize_flow *stylize_flow_create(int preset);
void stylize_flow_destroy(stylize_flow *flow);

/// Flow from `from` to `to` (8-bit, `width` x `height`, rows `width` bytes apart): for every
/// pixel x of `from`, `from(x)` is seen at `to(x + flow(x))`. `flow` receives width * height
/// pairs (dx, dy), row by row. Returns 0, or -1 when OpenCV failed.
int stylize_flow_compute(stylize_flow *flow, const uint8_t *from, const uint8_t *to, int width, int height, float *out);

#ifdef __cplusplus
}
#endif

#endif
