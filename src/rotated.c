/* rotated.c - the files a stream's path was rotated to (its rotated key):
 * named paths and globs, opened newest first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg_value.h"
#include "log.h"
#include "rotated.h"

int
rotated_match(const char *pattern, const char *name)
{
	const char *star = NULL, *resume = NULL;

	/* The usual greedy walk: on a mismatch after a '*', that '*' takes
	 * one more byte. */
	while (*name != '\0') {
		if (*pattern == '*') {
			star = ++pattern;
			resume = name;
		} else if (*pattern == '?' || *pattern == *name) {
			pattern++;
			name++;
		} else if (star != NULL) {
			pattern = star;
			name = ++resume;
		} else
			return 0;
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

static int
newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec :
	    a->tv_nsec > b->tv_nsec;
}

/* Logs the failed call on path, unless its cause is the one logged last;
 * *err becomes it. */
static void
note_error(const char *name, const char *call, const char *path, int *err,
    int *logged)
{
	*err = errno;
	if (errno != *logged)
		log_msg("stream %s: %s %s: %s", name, call, path,
		    strerror(errno));
	*logged = errno;
}

/* Adds the file at path (opened relative to dirfd when it is not -1,
 * refusing a symbolic link then) unless it is passed over; a failure
 * other than ENOENT sets *err. */
static void
add(struct rotated_set *set, int dirfd, const char *path,
    const struct stat *skip, const char *name, int *err, int *logged)
{
	struct stat sb;
	size_t i;
	int fd;

	if (set->n >= CFG_ROTATED_MAX)
		return;
	fd = dirfd >= 0 ? openat(dirfd, path, O_RDONLY | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC | O_NOFOLLOW) : open(path, O_RDONLY |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ELOOP)
			note_error(name, "open", path, err, logged);
		return;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (skip != NULL &&
	    sb.st_dev == skip->st_dev && sb.st_ino == skip->st_ino))
		goto pass;
	for (i = 0; i < set->n; i++) {
		struct stat seen;

		if (fstat(set->fd[i], &seen) == 0 && seen.st_dev == sb.st_dev &&
		    seen.st_ino == sb.st_ino)
			goto pass;
	}
	set->fd[set->n] = fd;
	set->size[set->n] = sb.st_size;
	set->n++;
	return;
pass:
	close(fd);
}

/* True when t is less than 2 s ago: a directory changed then may change
 * again within its time stamp's granularity (a clock tick), unseen. */
static int
recent(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec - t->tv_sec < 2;
}

/* Reads the directory at dfd for the newest CFG_ROTATED_MAX names that
 * match pattern, into g: the newest few are kept while the directory is
 * read, so memory does not grow with it. */
static void
read_glob(int dfd, DIR *d, const char *pattern, struct rotated_glob *g)
{
	struct timespec mtime[CFG_ROTATED_MAX];
	struct dirent *de;
	size_t i;

	g->n = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    !rotated_match(pattern, de->d_name) ||
		    fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		/* Insert in order of age, dropping the oldest past the end. */
		for (i = g->n; i > 0 && newer(&sb.st_mtim, &mtime[i - 1]); i--)
			if (i < CFG_ROTATED_MAX) {
				mtime[i] = mtime[i - 1];
				memcpy(g->names[i], g->names[i - 1],
				    sizeof(g->names[i]));
			}
		if (i >= CFG_ROTATED_MAX)
			continue;
		mtime[i] = sb.st_mtim;
		snprintf(g->names[i], sizeof(g->names[i]), "%s", de->d_name);
		if (g->n < CFG_ROTATED_MAX)
			g->n++;
	}
}

/* Adds the matches of the glob, newest first, from *cached when its
 * directory has not changed since (cached NULL: no cache). */
static void
add_glob(struct rotated_set *set, const char *glob, const struct stat *skip,
    const char *name, int *err, int *logged, struct rotated_glob **cached)
{
	struct rotated_glob local, *g = &local;
	char dir[PATH_MAX];
	const char *base = strrchr(glob, '/') + 1;
	size_t dirlen = base - glob > 1 ? (size_t)(base - glob - 1) : 1, i;
	struct stat dsb;
	DIR *d;
	int dfd;

	memcpy(dir, glob, dirlen);
	dir[dirlen] = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(dfd, &dsb) < 0 || (d = fdopendir(dfd)) == NULL) {
		if (errno != ENOENT)
			note_error(name, "open", dir, err, logged);
		if (dfd >= 0)
			close(dfd);
		return;
	}
	if (cached != NULL && *cached == NULL &&
	    (*cached = calloc(1, sizeof(**cached))) != NULL)
		(*cached)->n = SIZE_MAX;	/* not read yet */
	if (cached != NULL && *cached != NULL) {
		g = *cached;
		if (g->n > CFG_ROTATED_MAX || g->dev != dsb.st_dev ||
		    g->ino != dsb.st_ino || g->mtime.tv_sec != dsb.st_mtim.tv_sec ||
		    g->mtime.tv_nsec != dsb.st_mtim.tv_nsec) {
			read_glob(dfd, d, base, g);
			g->dev = dsb.st_dev;
			g->ino = dsb.st_ino;
			g->mtime = dsb.st_mtim;
			if (recent(&dsb.st_mtim))
				g->ino = 0;	/* not to be trusted: again */
		}
	} else
		read_glob(dfd, d, base, g);
	for (i = 0; i < g->n; i++)
		add(set, dfd, g->names[i], skip, name, err, logged);
	closedir(d);
}

void
rotated_open(struct rotated_set *set, const char *list,
    const struct stat *skip, const char *name, int *logged,
    struct rotated_cache *cache)
{
	const char *w = NULL;
	size_t i;
	int err = 0;

	set->n = 0;
	for (i = 0; (w = cfg_value_list_next(list, w)) != NULL &&
	    set->n < CFG_ROTATED_MAX && i < CFG_ROTATED_MAX; i++) {
		if (strpbrk(strrchr(w, '/') + 1, "*?") != NULL)
			add_glob(set, w, skip, name, &err, logged,
			    cache != NULL ? &cache->glob[i] : NULL);
		else
			add(set, -1, w, skip, name, &err, logged);
	}
	if (err == 0)
		*logged = 0;
}

void
rotated_close_from(struct rotated_set *set, size_t i)
{
	while (set->n > i)
		close(set->fd[--set->n]);
}

void
rotated_cache_free(struct rotated_cache *cache)
{
	size_t i;

	for (i = 0; i < CFG_ROTATED_MAX; i++) {
		free(cache->glob[i]);
		cache->glob[i] = NULL;
	}
}
