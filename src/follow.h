/* follow.h - following a file by name, like tail -F: one follower per
 * stream and process, inotify with polling as the fallback. */
#ifndef SSE_TAIL_FOLLOW_H
#define SSE_TAIL_FOLLOW_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "id.h"
#include "rotated.h"

#define FOLLOW_POLL_MS	1000	/* how far behind polling may be */

/* One opened file: the one at the path now, or a rotated one that clients
 * are still reading to its end. Clients read it with pread at their own
 * offsets, so one open file serves every client. */
struct follow_gen {
	struct follow_gen *next;	/* in the follower's list */
	int fd;
	dev_t dev;
	ino_t ino;
	off_t size;		/* at the last check */
	unsigned epoch;		/* counts truncations seen */
	int wd;			/* inotify watch, -1 for none */
	int refs;		/* clients, the predecessor, and one while current */
	struct follow_gen *succ;	/* the file that replaced it, NULL: none
					 * yet; it holds a reference on it */
	unsigned succ_epoch;	/* succ's epoch when it became succ: one
				 * reading on into it finds succ truncated
				 * since when they differ */
	uint32_t pre_tag;	/* the tag of the first pre_len bytes it held
				 * before its last truncation, 0 bytes: none
				 * known; a copy of them is looked for */
	size_t pre_len;
	int detached;		/* a predecessor opened for one client (a
				 * resume, a truncation): not watched, not
				 * checked, read to its end */
	unsigned char *head;	/* the file's first bytes, for its tags:
				 * ID_TAG_SPAN bytes once one is needed */
	size_t head_len;	/* bytes of head read */
};

/* The process's change notification: one inotify instance for all streams
 * (inotify instances are few per user), or none and polling. */
struct follow_watch {
	int fd;			/* inotify, -1: poll everything */
};

struct follow {
	const char *name;	/* the stream's, for diagnostics */
	const char *path;
	struct follow_gen *cur;	/* the file at path, NULL while there is none */
	struct follow_gen *last;	/* the newest generation, current or
					 * not: the next one is its successor */
	struct follow_gen *gens;	/* every open generation, cur among them */
	struct follow_gen *detached;	/* the detached ones, which clients
					 * with the same file and successor
					 * share */
	int wd_dir;		/* watch on path's directory, -1 for none */
	int polled;		/* no inotify for this path: poll it */
	int error;		/* errno of the last failed open of a new file
				 * at path (EACCES, EMFILE, ENOENT for a race,
				 * EINVAL for what is not a regular file),
				 * retried at every check; 0: none */
	int logged;		/* the error last logged, 0: none since the
				 * last open that succeeded */
	int rotated_logged;	/* the same for the predecessors (rotated.c) */
	struct rotated_cache rotated;	/* what its globs matched */
};

/* Opens the process's inotify instance; when that fails (the per-user
 * instances are exhausted, or SSE_TAIL_POLL is set) every follower polls. */
void follow_watch_init(struct follow_watch *w);
void follow_watch_close(struct follow_watch *w);

/* Starts following path. A missing file is waited for. Returns 0, or -1
 * with errno set when the path exists but cannot be followed (the stream
 * answers 503): EACCES and the like, or EINVAL for what is not a regular
 * file. */
int follow_start(struct follow *f, struct follow_watch *w, const char *name,
    const char *path);

/* Stops following: drops the current generation and the watches; the
 * generations that clients still hold stay open until follow_gen_put. */
void follow_stop(struct follow *f, struct follow_watch *w);

/* Looks at the path and the open files again: a new file at the path
 * becomes current (and the successor of the one before, so that a client
 * still reading an old file goes through every later one in turn), a
 * shrunk file gets a new epoch, and so does one that grew but whose first
 * bytes are no longer what its tags were made of (truncated and written
 * past its old size before this look). Returns 1 when anything changed (the
 * clients should read), else 0.
 * A new file that cannot be opened leaves the current file (or none)
 * current, sets f->error, and is tried again at every later check until
 * it opens; each cause is logged once, and so is the recovery. */
int follow_check(struct follow *f, struct follow_watch *w);

/* The generation a new client starts in: the current one; while a new
 * file at the path cannot be opened, the newest one (the old file, which
 * the new one will succeed). NULL: none, the client waits for a file. */
struct follow_gen *follow_newest(const struct follow *f);

/* True when the follower must be checked every FOLLOW_POLL_MS: it has no
 * inotify, or a file at the path failed to open and no event may come to
 * say that it would open now (a chmod, fds freed). */
int follow_needs_poll(const struct follow *f);

/* True when the inotify event with wd (and name, for a directory watch)
 * concerns this follower. */
int follow_wants(const struct follow *f, int wd, const char *name);

void follow_gen_get(struct follow_gen *g);
/* Drops a reference; the last one closes the file and drops the reference
 * it held on its successor. */
void follow_gen_put(struct follow *f, struct follow_watch *w,
    struct follow_gen *g);

/* The offset where the last `lines` complete lines of g start, found by
 * reading backwards from the end (the cost does not grow with the file).
 * A final line without its newline is not counted. -1 on a read error. */
off_t follow_backlog_start(const struct follow_gen *g, int lines);

/* A predecessor's generation, detached (see follow_gen): fd (its size
 * bytes long) is its from now on, and succ (NULL: none) comes after it,
 * the caller's reference on succ passing to it. It has one reference,
 * the caller's. When f holds one of the same file with the same
 * successor already, that one is returned with a reference more for the
 * caller: fd is closed and the caller's reference on succ dropped (so
 * that clients resuming in the same files hold their descriptors once).
 * NULL on ENOMEM: fd is closed, the reference on succ is still the
 * caller's. */
struct follow_gen *follow_gen_detached(struct follow *f,
    struct follow_watch *w, int fd, off_t size, struct follow_gen *succ);

/* Reads the head of g up to upto bytes (at most ID_TAG_SPAN), once:
 * afterwards g->head holds g->head_len bytes, fewer when the file is
 * shorter (or none when there is no memory for it: logged). */
void follow_gen_head(struct follow_gen *g, uint64_t upto);

/* The tag of g at off: reads its head as far as it needs. */
uint32_t follow_gen_tag(struct follow_gen *g, uint64_t off);

#endif
