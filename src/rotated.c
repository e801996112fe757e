/* rotated.c - the files a stream's path was rotated to (its rotated key):
 * named paths and globs, opened newest first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfg_value.h"
#include "log.h"
#include "rotated.h"

/* A glob's match, kept while the directory is read. */
struct match {
	char name[NAME_MAX + 1];
	struct timespec mtime;
};

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

/* Adds the file at path (opened relative to dirfd when it is not -1,
 * refusing a symbolic link then) unless it is passed over. */
static void
add(struct rotated_set *set, int dirfd, const char *path,
    const struct stat *skip, const char *name)
{
	struct stat sb;
	size_t i;
	int fd;

	if (set->n >= CFG_ROTATED_MAX)
		return;
	fd = dirfd >= 0 ? openat(dirfd, path, O_RDONLY | O_NONBLOCK |
	    O_CLOEXEC | O_NOFOLLOW) : open(path, O_RDONLY | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ELOOP)
			log_msg("stream %s: open %s: %s", name, path,
			    strerror(errno));
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

/* Adds the matches of a glob, newest first: the newest few are kept
 * while the directory is read, so memory does not grow with it. */
static void
add_glob(struct rotated_set *set, const char *glob, const struct stat *skip,
    const char *name)
{
	struct match best[CFG_ROTATED_MAX];
	char dir[PATH_MAX];
	const char *base = strrchr(glob, '/') + 1;
	size_t dirlen = base - glob > 1 ? (size_t)(base - glob - 1) : 1;
	size_t nbest = 0, want = CFG_ROTATED_MAX - set->n, i;
	struct dirent *de;
	DIR *d;
	int dfd;

	memcpy(dir, glob, dirlen);
	dir[dirlen] = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(dfd)) == NULL) {
		if (errno != ENOENT)
			log_msg("stream %s: open %s: %s", name, dir,
			    strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    !rotated_match(base, de->d_name) ||
		    fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		/* Insert in order of age, dropping the oldest past want. */
		for (i = nbest; i > 0 && newer(&sb.st_mtim, &best[i - 1].mtime);
		    i--)
			if (i < want)
				best[i] = best[i - 1];
		if (i >= want)
			continue;
		best[i].mtime = sb.st_mtim;
		snprintf(best[i].name, sizeof(best[i].name), "%s", de->d_name);
		if (nbest < want)
			nbest++;
	}
	for (i = 0; i < nbest; i++)
		add(set, dfd, best[i].name, skip, name);
	closedir(d);
}

void
rotated_open(struct rotated_set *set, const char *list,
    const struct stat *skip, const char *name)
{
	const char *w = NULL;

	set->n = 0;
	while ((w = cfg_value_list_next(list, w)) != NULL &&
	    set->n < CFG_ROTATED_MAX) {
		if (strpbrk(strrchr(w, '/') + 1, "*?") != NULL)
			add_glob(set, w, skip, name);
		else
			add(set, -1, w, skip, name);
	}
}

void
rotated_close_from(struct rotated_set *set, size_t i)
{
	while (set->n > i)
		close(set->fd[--set->n]);
}
