#ifndef STYLIZE_CFFMPEG_SHIM_H
#define STYLIZE_CFFMPEG_SHIM_H

// FFmpeg 5.1 (Debian 12: libavdevice-dev, libavformat-dev, libavfilter-dev, libavcodec-dev, libswscale-dev,
// libswresample-dev, libavutil-dev).
#include <errno.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersrc.h>
#include <libavfilter/buffersink.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libavutil/sha.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/parseutils.h>

// Function-like and casting macros do not import into Swift; these wrappers re-export them.

/// AVERROR(EAGAIN): the codec wants more input (or output to be drained) before it can go on.
static inline int cffmpeg_error_eagain(void) { return AVERROR(EAGAIN); }
/// AVERROR_EOF: the end of a stream, a normal outcome of the send/receive loop.
static inline int cffmpeg_error_eof(void) { return AVERROR_EOF; }
/// AV_NOPTS_VALUE: "no timestamp".
static inline int64_t cffmpeg_nopts_value(void) { return AV_NOPTS_VALUE; }
/// AVERROR(ENOMEM).
static inline int cffmpeg_error_enomem(void) { return AVERROR(ENOMEM); }

#endif
