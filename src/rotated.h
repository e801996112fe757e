/* rotated.h - the files a stream's path was rotated to (its rotated key):
 * named paths and globs, opened newest first, for a resume or a
 * truncation to look for a client's position in. */
#ifndef SSE_TAIL_ROTATED_H
#define SSE_TAIL_ROTATED_H

#include <sys/stat.h>
#include <sys/types.h>

#include "cfg_value.h"

struct rotated_set {
	int fd[CFG_ROTATED_MAX];
	off_t size[CFG_ROTATED_MAX];
	size_t n;
};

/* Opens the files of list (a rotated list, cfg.h) newest first: each
 * named path in order, a glob's matches by modification time, newest
 * first; at most CFG_ROTATED_MAX in all. What is not a regular file, a
 * glob's match that is a symbolic link, the file skip is (the current
 * one; NULL: none) and a file already in the set are passed over; so is
 * what does not open (an error other than ENOENT is logged, with name,
 * the stream's). */
void rotated_open(struct rotated_set *set, const char *list,
    const struct stat *skip, const char *name);

/* Closes the set's files from index i on (0: all); n becomes i. */
void rotated_close_from(struct rotated_set *set, size_t i);

/* True when name matches pattern, in which '*' stands for any bytes and
 * '?' for one; nothing else is special. */
int rotated_match(const char *pattern, const char *name);

#endif
