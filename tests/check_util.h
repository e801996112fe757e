/* check_util.h - small helpers the unit test suites share. */
#ifndef SSE_TAIL_CHECK_UTIL_H
#define SSE_TAIL_CHECK_UTIL_H

#include <stdint.h>

#include "cfg.h"
#include "loop.h"

/* Appends text to the file at path (created when missing). */
void check_append(const char *path, const char *text);

/* A stream "t" on path with small settings: backlog 2, max-line 1024,
 * buffer 4096; the rest zero. */
void check_stream(struct cfg_stream *st, const char *path);

/* A timer function that sets itself 20 ms ahead: a loop_turn never sleeps
 * long. */
void check_ticks(struct loop_timer *t, int64_t now, void *arg);

#endif
