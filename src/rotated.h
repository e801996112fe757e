/* rotated.h - the files a stream's path was rotated to (its rotated key):
 * named paths and globs, opened newest first, for a resume or a
 * truncation to look for a client's position in. */
#ifndef SSE_TAIL_ROTATED_H
#define SSE_TAIL_ROTATED_H

#include <sys/stat.h>
#include <sys/types.h>

#include <limits.h>

#include "cfg_value.h"

struct rotated_set {
	int fd[CFG_ROTATED_MAX];
	off_t size[CFG_ROTATED_MAX];
	size_t n;
};

/* What a glob of the list matched, newest first, kept while its
 * directory does not change (the same inode and modification time): a
 * resume found nowhere does not read the directory again. */
struct rotated_glob {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	size_t n;
	char names[CFG_ROTATED_MAX][NAME_MAX + 1];
};

/* A stream's globs, by their place in the list; NULL: not read yet. */
struct rotated_cache {
	struct rotated_glob *glob[CFG_ROTATED_MAX];
};

void rotated_cache_free(struct rotated_cache *cache);

/* Opens the files of list (a rotated list, cfg.h) newest first: each
 * named path in order, a glob's matches by modification time, newest
 * first; at most CFG_ROTATED_MAX in all. What is not a regular file, a
 * glob's match that is a symbolic link, the file skip is (the current
 * one; NULL: none) and a file already in the set are passed over; so is
 * what does not open. An error other than ENOENT is logged, with name,
 * the stream's, unless it is *logged, the last one logged: each cause
 * once, however many clients resume (*logged is 0 again after a call
 * with no error). cache (NULL: none) keeps what the list's globs
 * matched. */
void rotated_open(struct rotated_set *set, const char *list,
    const struct stat *skip, const char *name, int *logged,
    struct rotated_cache *cache);

/* Closes the set's files from index i on (0: all); n becomes i. */
void rotated_close_from(struct rotated_set *set, size_t i);

/* True when name matches pattern, in which '*' stands for any bytes and
 * '?' for one; nothing else is special. */
int rotated_match(const char *pattern, const char *name);

#endif
