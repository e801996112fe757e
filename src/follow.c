/* follow.c - following a file by name, like tail -F: one follower per
 * stream and process, inotify with polling as the fallback. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "follow.h"
#include "log.h"

#define FILE_EVENTS	(IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
/* IN_ATTRIB on the directory reports a chmod of the file at the path
 * before it is opened (logrotate's create makes it 0600 first). */
#define DIR_EVENTS	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_DELETE | IN_ATTRIB)
#define BACKLOG_CHUNK	65536

void
follow_watch_init(struct follow_watch *w)
{
	const char *force = getenv("SSE_TAIL_POLL");

	w->fd = -1;
	if (force != NULL && *force != '\0' && strcmp(force, "0") != 0)
		return;
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		log_msg("inotify_init1: %s; polling files every %d ms instead",
		    strerror(errno), FOLLOW_POLL_MS);
}

void
follow_watch_close(struct follow_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* inotify does not see changes made on another host: network and FUSE
 * file systems are polled (as GNU tail does). */
static int
is_remote_fs(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case 0x6969:		/* NFS */
	case 0x517b:		/* SMB */
	case 0xff534d42:	/* CIFS */
	case 0xfe534d42:	/* SMB2 */
	case 0x65735546:	/* FUSE */
	case 0x00c36400:	/* Ceph */
	case 0x01021997:	/* 9P */
	case 0x5346414f:	/* AFS */
	case 0x01161970:	/* GFS2 */
		return 1;
	}
	return 0;
}

static int
add_watch(struct follow *f, struct follow_watch *w, const char *what,
    uint32_t mask)
{
	int wd;

	if (w->fd < 0 || f->polled)
		return -1;
	if ((wd = inotify_add_watch(w->fd, what, mask)) < 0) {
		log_msg("stream %s: inotify_add_watch %s: %s; polling it instead",
		    f->name, what, strerror(errno));
		f->polled = 1;
	}
	return wd;
}

/* A resume when there was no file at the path left its chain of
 * predecessors without a successor: the new file g is it (unless it is
 * the same file, come back). */
static void
link_tails(struct follow *f, struct follow_gen *g)
{
	struct follow_gen *d;

	for (d = f->detached; d != NULL; d = d->next)
		if (d->succ == NULL && (d->dev != g->dev || d->ino != g->ino)) {
			d->succ = g;
			d->succ_epoch = 0;
			g->refs++;
		}
}

/* Opens the file at the path as a new current generation. Returns 0 (also
 * when there is no file), or -1 with errno when it cannot be followed. */
static int
open_current(struct follow *f, struct follow_watch *w)
{
	struct follow_gen *g;
	struct stat sb;
	char proc[64];
	int fd, saved;

	if ((fd = open(f->path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) < 0)
		goto err;
	if (!S_ISREG(sb.st_mode)) {
		errno = EINVAL;
		goto err;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		goto err;
	g->fd = fd;
	g->dev = sb.st_dev;
	g->ino = sb.st_ino;
	g->size = sb.st_size;
	g->refs = 1;
	/* Watch the file that was opened, not whatever the path names now. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	g->wd = add_watch(f, w, proc, FILE_EVENTS);
	g->next = f->gens;
	f->gens = g;
	if (f->last != NULL) {
		g->refs++;
		f->last->succ = g;
		f->last->succ_epoch = 0;
	}
	f->last = g;
	link_tails(f, g);
	follow_gen_head(g, (uint64_t)g->size);
	if (f->cur != NULL)
		follow_gen_put(f, w, f->cur);
	f->cur = g;
	return 0;
err:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
follow_start(struct follow *f, struct follow_watch *w, const char *name,
    const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash == path ? 1 : (size_t)(slash - path);

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->path = path;
	f->wd_dir = -1;
	f->polled = w->fd < 0;
	memcpy(dir, path, dirlen);
	dir[dirlen] = '\0';
	if (!f->polled && is_remote_fs(dir))
		f->polled = 1;
	f->wd_dir = add_watch(f, w, dir, DIR_EVENTS);
	if (open_current(f, w) < 0) {
		int saved = errno;
		follow_stop(f, w);
		errno = saved;
		return -1;
	}
	return 0;
}

void
follow_stop(struct follow *f, struct follow_watch *w)
{
	/* The directory watch stays: other streams may share it, and adding
	 * it again returns the same one. */
	if (f->cur != NULL)
		follow_gen_put(f, w, f->cur);
	f->cur = NULL;
	f->error = 0;
	rotated_cache_free(&f->rotated);
}

/* Records how looking at the file at the path went: err 0 when it is
 * followed, else the errno of call (stat or open) on it, to be retried.
 * Each cause is logged once until an open succeeds again, which is logged
 * too; an ENOENT (the file went between stat and open) is not. */
static void
note_result(struct follow *f, const char *call, int err)
{
	f->error = err;
	if (err == 0) {
		if (f->logged != 0)
			log_msg("stream %s: open %s: succeeded, no longer "
			    "retrying", f->name, f->path);
		f->logged = 0;
	} else if (err != ENOENT && err != f->logged) {
		log_msg("stream %s: %s %s: %s (retrying)", f->name, call,
		    f->path, err == EINVAL ? "not a regular file" :
		    strerror(err));
		f->logged = err;
	}
}

/* The file was truncated: its offsets and tags start over; what its head
 * was is kept, for a client still to come from its predecessor to find
 * a copy of. */
static void
new_epoch(struct follow_gen *g)
{
	g->epoch++;
	g->pre_len = g->head_len;
	g->pre_tag = id_fnv1a(ID_TAG_EMPTY, g->head, g->head_len);
	g->head_len = 0;
}

/* True when the first bytes of g's file differ from its head as read: it
 * was truncated and has grown past its old size since the last look. */
static int
head_changed(const struct follow_gen *g)
{
	unsigned char now[ID_TAG_SPAN];

	if (g->head_len == 0)
		return 0;
	return pread(g->fd, now, g->head_len, 0) != (ssize_t)g->head_len ||
	    memcmp(now, g->head, g->head_len) != 0;
}

int
follow_check(struct follow *f, struct follow_watch *w)
{
	struct follow_gen *g, *old;
	struct stat sb;
	int changed = 0;

	for (g = f->gens; g != NULL; g = g->next) {
		if (fstat(g->fd, &sb) < 0)
			continue;
		if (sb.st_size < g->size ||
		    (sb.st_size > g->size && head_changed(g)))
			new_epoch(g);
		if (sb.st_size != g->size)
			changed = 1;
		g->size = sb.st_size;
		/* The head is known as the file grows, so that a truncation
		 * can be told, and its copy found, whoever has read it. */
		follow_gen_head(g, (uint64_t)g->size);
	}
	if (stat(f->path, &sb) < 0) {
		if (errno != ENOENT) {
			/* A directory made unsearchable, and the like: the
			 * current file, if any, stays current. */
			note_result(f, "stat", errno);
			return changed;
		}
		f->error = 0;		/* nothing to open: wait for it */
		if (f->cur != NULL) {
			/* Renamed or deleted: its clients read it to its end
			 * and wait for a new file. */
			follow_gen_put(f, w, f->cur);
			f->cur = NULL;
			changed = 1;
		}
		return changed;
	}
	if (f->cur != NULL && sb.st_dev == f->cur->dev &&
	    sb.st_ino == f->cur->ino) {
		note_result(f, NULL, 0);
		return changed;
	}
	/* A new file: until it opens, the clients go on with the old one
	 * (or wait), and the next check tries again. */
	old = f->cur;
	if (open_current(f, w) < 0)
		note_result(f, "open", errno);
	else if (f->cur == old)
		note_result(f, "open", ENOENT);	/* gone since the stat */
	else {
		note_result(f, NULL, 0);
		changed = 1;
	}
	return changed;
}

struct follow_gen *
follow_newest(const struct follow *f)
{
	if (f->cur == NULL && f->error != 0 && f->error != ENOENT)
		return f->last;
	return f->cur;
}

int
follow_needs_poll(const struct follow *f)
{
	return f->polled || f->error != 0;
}

int
follow_wants(const struct follow *f, int wd, const char *name)
{
	const struct follow_gen *g;
	const char *base;

	if (wd == f->wd_dir && f->wd_dir >= 0) {
		base = strrchr(f->path, '/') + 1;
		return name == NULL || *name == '\0' || strcmp(name, base) == 0;
	}
	for (g = f->gens; g != NULL; g = g->next)
		if (g->wd == wd)
			return 1;
	return 0;
}

void
follow_gen_get(struct follow_gen *g)
{
	g->refs++;
}

void
follow_gen_put(struct follow *f, struct follow_watch *w, struct follow_gen *g)
{
	while (g != NULL && --g->refs == 0) {
		struct follow_gen **pp, *succ = g->succ;

		for (pp = g->detached ? &f->detached : &f->gens; *pp != NULL;
		    pp = &(*pp)->next)
			if (*pp == g) {
				*pp = g->next;
				break;
			}
		if (f->last == g)
			f->last = NULL;
		if (g->wd >= 0 && w->fd >= 0)
			inotify_rm_watch(w->fd, g->wd);
		close(g->fd);
		free(g->head);
		free(g);
		g = succ;
	}
}

off_t
follow_backlog_start(const struct follow_gen *g, int lines)
{
	char buf[BACKLOG_CHUNK];
	struct stat sb;
	off_t pos;
	int seen = -1;		/* newlines past the last complete line's end */

	if (fstat(g->fd, &sb) < 0)
		return -1;
	pos = sb.st_size;
	while (pos > 0) {
		size_t n = pos < BACKLOG_CHUNK ? (size_t)pos : BACKLOG_CHUNK;
		ssize_t got;
		char *p;

		pos -= (off_t)n;
		if ((got = pread(g->fd, buf, n, pos)) != (ssize_t)n)
			return -1;
		p = buf + n;
		while ((p = memrchr(buf, '\n', (size_t)(p - buf))) != NULL) {
			if (++seen == lines)
				return pos + (p - buf) + 1;
		}
	}
	return 0;
}

struct follow_gen *
follow_gen_detached(struct follow *f, struct follow_watch *w, int fd,
    off_t size, struct follow_gen *succ)
{
	struct follow_gen *g;
	struct stat sb;
	int known = fstat(fd, &sb) == 0;

	for (g = f->detached; known && g != NULL; g = g->next)
		if (g->dev == sb.st_dev && g->ino == sb.st_ino &&
		    g->succ == succ &&
		    g->succ_epoch == (succ != NULL ? succ->epoch : 0)) {
			close(fd);
			follow_gen_put(f, w, succ);	/* g holds one */
			follow_gen_get(g);
			return g;
		}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		close(fd);
		return NULL;
	}
	g->fd = fd;
	if (known) {
		g->dev = sb.st_dev;
		g->ino = sb.st_ino;
	}
	g->size = size;
	g->wd = -1;
	g->refs = 1;
	g->detached = 1;
	g->succ = succ;
	g->succ_epoch = succ != NULL ? succ->epoch : 0;
	g->next = f->detached;
	f->detached = g;
	return g;
}

void
follow_gen_head(struct follow_gen *g, uint64_t upto)
{
	size_t want = upto < ID_TAG_SPAN ? (size_t)upto : ID_TAG_SPAN;

	if (want > 0 && g->head == NULL &&
	    (g->head = malloc(ID_TAG_SPAN)) == NULL) {
		log_msg("malloc: %s", strerror(errno));
		return;
	}
	while (g->head_len < want) {
		ssize_t n = pread(g->fd, g->head + g->head_len,
		    ID_TAG_SPAN - g->head_len, (off_t)g->head_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* shorter now: a truncation, seen next */
		g->head_len += (size_t)n;
	}
}

uint32_t
follow_gen_tag(struct follow_gen *g, uint64_t off)
{
	follow_gen_head(g, off);
	return id_tag_advance(ID_TAG_EMPTY, 0, off, g->head, g->head_len);
}
