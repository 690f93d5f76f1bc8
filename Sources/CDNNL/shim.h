#ifndef STYLIZE_CDNNL_SHIM_H
#define STYLIZE_CDNNL_SHIM_H

// oneDNN's C API (Debian 12: libdnnl-dev 2.6). Debian ships no pkg-config file for it, so
// the module map links "dnnl" directly.
#include <oneapi/dnnl/dnnl.h>

// Object-like macros whose values Swift cannot import (a pointer cast), re-exported as functions.

/// DNNL_MEMORY_ALLOCATE: asks dnnl_memory_create to allocate the buffer itself.
static inline void *cdnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }

#endif
