/* cursor.c - one subscriber's position in a stream: where it starts (its
 * backlog, or its Last-Event-ID), and its next events produced within a
 * budget, from a followed file (pread at its own offset) or a pipe's ring. */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "log.h"
#include "rotated.h"
#include "sse.h"

static void
put_gen(struct cursor *c, struct follow *f, struct follow_watch *w)
{
	if (c->gen != NULL)
		follow_gen_put(f, w, c->gen);
	c->gen = NULL;
}

/* Moves c to the start of g, taking a reference on it. */
static void
set_gen(struct cursor *c, struct follow_gen *g)
{
	follow_gen_get(g);
	c->gen = g;
	c->off = c->scan = 0;
	c->epoch = g->epoch;
	c->tag = ID_TAG_EMPTY;
}

/* Frames a line of c->gen that ends at end, its first bytes at line (the
 * event's id: end), and moves c past it. */
static void
emit(struct cursor *c, const struct cfg_stream *cfg, struct cursor_bufs *b,
    const char *line, uint64_t total, off_t end, size_t *len)
{
	uint32_t tag = c->tag;

	/* Past the first ID_TAG_SPAN bytes every offset has the same tag. */
	if (c->off < ID_TAG_SPAN) {
		follow_gen_head(c->gen, (uint64_t)end);
		tag = id_tag_advance(c->tag, (uint64_t)c->off, (uint64_t)end,
		    c->gen->head, c->gen->head_len);
	}
	*len += sse_event(b->out + *len, cfg->event, (uint64_t)end, tag, line,
	    total, cfg->max_line);
	c->off = end;
	c->scan = 0;
	c->tag = tag;
}

/* Frames the line [c->off, c->off + total) ending at end into b->out at
 * *len, reading its start again when it did not fit in one chunk.
 * Returns 0; 1 when the file is shorter now (truncated under c: the line
 * is looked for again at the next turn, when a follower's truncation is
 * seen too); -1 on a read error. */
static int
frame_from_file(struct cursor *c, const struct cfg_stream *cfg,
    struct cursor_bufs *b, uint64_t total, off_t end, size_t *len)
{
	size_t need = sse_need(total, cfg->max_line);
	ssize_t n = pread(c->gen->fd, b->line, need, c->off);

	if (n < 0) {
		log_msg("stream %s: pread %s: %s", cfg->name, cfg->path,
		    strerror(errno));
		return -1;
	}
	if ((size_t)n != need) {
		c->scan = 0;
		return 1;
	}
	emit(c, cfg, b, b->line, total, end, len);
	return 0;
}

/* Opens the stream's predecessors (cfg->rotated; skip: the current
 * file, or NULL) into set, and describes them in files for id.c. */
static void
open_predecessors(struct follow *f, const struct cfg_stream *cfg,
    const struct stat *skip, struct rotated_set *set, struct id_file *files)
{
	size_t i;

	rotated_open(set, cfg->rotated, skip, cfg->name, &f->rotated_logged,
	    &f->rotated);
	for (i = 0; i < set->n; i++) {
		files[i].read_at = id_pread;
		files[i].ctx = &set->fd[i];
		files[i].size = set->size[i];
	}
}

/* succ was truncated after it came to follow the file before it, whose
 * client is only now getting to it: its old content is looked for by its
 * head in the stream's predecessors (a copytruncate's copy). Returns 0
 * with *copy the copy's generation (a reference the caller owns), its
 * successor succ; -1 when there is none. */
static int
find_copy(struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, struct follow_gen *succ,
    struct follow_gen **copy)
{
	struct id_file files[CFG_ROTATED_MAX];
	struct rotated_set set;
	struct stat sb;
	size_t i;
	int at, fd = -1;

	if (succ->pre_len == 0 || fstat(succ->fd, &sb) < 0)
		return -1;
	open_predecessors(f, cfg, &sb, &set, files);
	at = id_find_head(files, set.n, succ->pre_len, succ->pre_tag);
	for (i = 0; i < set.n; i++)
		if ((int)i == at)
			fd = set.fd[i];
		else
			close(set.fd[i]);
	if (at < 0)
		return -1;
	follow_gen_get(succ);
	if ((*copy = follow_gen_detached(f, w, fd, set.size[at], succ)) ==
	    NULL) {
		follow_gen_put(f, w, succ);
		return -1;
	}
	return 0;
}

/* The file was read to its end and succ comes after it: frames its last
 * line (which needs no newline now) and moves to succ, with a rotated
 * event. When succ was truncated since it came after this file, the
 * client goes through a copy of what it held first, if there is one,
 * else gets a "truncated" reset. Returns 0, 1 when out is too full for
 * that line (or the file shrank under it: frame_from_file), -1 on a read
 * error. */
static int
next_file(struct cursor *c, struct follow *f, struct follow_watch *w,
    struct follow_gen *succ, const struct cfg_stream *cfg,
    struct cursor_bufs *b, size_t *len)
{
	struct follow_gen *copy;
	unsigned since;
	int rc;

	if (c->scan > 0) {
		uint64_t total = (uint64_t)c->scan;

		if (*len + sse_event_bound(cfg->event, total, cfg->max_line) >
		    b->out_cap)
			return 1;
		if ((rc = frame_from_file(c, cfg, b, total, c->off + c->scan,
		    len)) != 0)
			return rc;
	}
	since = succ->epoch - c->gen->succ_epoch;
	follow_gen_get(succ);
	put_gen(c, f, w);
	c->note = CURSOR_NOTE_ROTATED;
	if (since == 1 && find_copy(f, w, cfg, succ, &copy) == 0) {
		c->gen = copy;
		c->off = c->scan = 0;
		c->epoch = copy->epoch;
		c->tag = ID_TAG_EMPTY;
	} else {
		set_gen(c, succ);
		if (since != 0)
			c->note = CURSOR_NOTE_TRUNCATED;
	}
	follow_gen_put(f, w, succ);
	return 0;
}

/* Frames the complete lines of the n bytes read at pos into b->in.
 * Returns 1 when the turn is full, 0 when every line was framed (scan
 * then covers the rest), -1 on a read error. */
static int
frame_lines(struct cursor *c, const struct cfg_stream *cfg,
    struct cursor_bufs *b, off_t pos, size_t n, size_t *len)
{
	char *p = b->in, *end = b->in + n, *nl;
	int rc;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		off_t nl_at = pos + (nl - b->in);
		uint64_t total = (uint64_t)(nl_at - c->off);
		int started_before = p == b->in && c->scan > 0;
		char last;

		if (total > 0) {
			if (nl > b->in)
				last = nl[-1];
			else if (pread(c->gen->fd, &last, 1, nl_at - 1) != 1)
				last = 0;
			if (last == '\r')
				total--;
		}
		if (*len + sse_event_bound(cfg->event, total,
		    cfg->max_line) > b->out_cap) {
			c->scan = nl_at - c->off;
			return 1;
		}
		if (started_before) {
			if ((rc = frame_from_file(c, cfg, b, total, nl_at + 1,
			    len)) != 0)
				return rc;
		} else
			emit(c, cfg, b, p, total, nl_at + 1, len);
		p = nl + 1;
		if (*len >= CURSOR_BATCH)
			return 1;
	}
	c->scan = pos + (off_t)n - c->off;
	return 0;
}

/* Looks for where pos (of kind) resumes: in cur (the current file; NULL:
 * none), tried only when try_cur, or in one of the stream's predecessors
 * (cfg->rotated), cur's own file passed over. Returns 0 for cur; 1 for a
 * predecessor: *chain is then its generation, a reference the caller
 * owns, detached, whose successors are every newer predecessor and then
 * cur; -1 for none. */
static int
find_resume(struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, struct follow_gen *cur,
    int try_cur, enum id_kind kind, const struct id_pos *pos,
    struct follow_gen **chain)
{
	struct id_file files[1 + CFG_ROTATED_MAX];
	struct rotated_set set;
	struct stat sb;
	struct follow_gen *succ, *g;
	int have_cur = cur != NULL && fstat(cur->fd, &sb) == 0;
	int at;
	size_t i;

	memset(&files[0], 0, sizeof(files[0]));
	if (have_cur && try_cur) {
		files[0].read_at = id_pread;
		files[0].ctx = &cur->fd;
		files[0].size = sb.st_size;
	}
	/* The current file first: the common reconnect opens nothing. */
	if ((at = id_choose(files, 1, kind, pos->offset, pos->tag)) == 0 ||
	    kind != ID_TAGGED || pos->offset == 0)
		return at;
	open_predecessors(f, cfg, have_cur ? &sb : NULL, &set, files + 1);
	if ((at = id_choose(files + 1, set.n, kind, pos->offset,
	    pos->tag)) >= 0)
		at++;
	if (at <= 0) {
		rotated_close_from(&set, 0);
		return at;
	}
	/* The one found and the newer ones, oldest last: each one's
	 * successor is the next newer, the newest one's is cur. */
	rotated_close_from(&set, (size_t)at);
	if ((succ = cur) != NULL)
		follow_gen_get(succ);
	for (i = 0; i < set.n; i++) {
		if ((g = follow_gen_detached(f, w, set.fd[i], set.size[i],
		    succ)) == NULL) {
			log_msg("stream %s: calloc: %s", cfg->name,
			    strerror(ENOMEM));
			while (++i < set.n)
				close(set.fd[i]);
			follow_gen_put(f, w, succ);
			return -1;
		}
		succ = g;
	}
	*chain = succ;
	return 1;
}

/* The file was truncated under c (or its first bytes changed): the rest
 * of what c had not read comes from the predecessor that holds it, when
 * one does (the truncated file follows it, from its start); else a
 * "truncated" reset, and the file from its start. */
static void
truncated(struct cursor *c, struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg)
{
	struct id_pos pos = { (uint64_t)c->off, c->tag };
	struct follow_gen *g = c->gen, *chain;

	if (c->off > 0 && !g->detached &&
	    find_resume(f, w, cfg, g, 0, ID_TAGGED, &pos, &chain) == 1) {
		put_gen(c, f, w);
		c->gen = chain;
		c->epoch = chain->epoch;
		c->scan = 0;		/* off and tag hold in chain */
		return;
	}
	c->off = c->scan = 0;
	c->tag = ID_TAG_EMPTY;
	c->note = CURSOR_NOTE_TRUNCATED;
}

/* Frames the note c owes the client. */
static void
frame_note(struct cursor *c, struct cursor_bufs *b, size_t *len)
{
	switch (c->note) {
	case CURSOR_NOTE_ROTATED:
		*len += sse_rotated(b->out + *len);
		break;
	case CURSOR_NOTE_GAP:
		*len += sse_reset(b->out + *len, "gap", 0, ID_TAG_EMPTY);
		break;
	case CURSOR_NOTE_TRUNCATED:
		*len += sse_reset(b->out + *len, "truncated", 0, ID_TAG_EMPTY);
		break;
	}
	c->note = CURSOR_NOTE_NONE;
}

int
cursor_file(struct cursor *c, struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, struct cursor_bufs *b, size_t *len)
{
	for (;;) {
		struct follow_gen *succ;
		off_t pos;
		ssize_t n;
		int rc;

		if (c->gen == NULL) {
			if (f->cur == NULL) {
				frame_note(c, b, len);	/* a reset, waiting */
				return 0;
			}
			set_gen(c, f->cur);
		}
		if (c->epoch != c->gen->epoch) {
			c->epoch = c->gen->epoch;
			if (c->off > 0 || c->scan > 0)
				truncated(c, f, w, cfg);
		}
		frame_note(c, b, len);
		if (*len >= CURSOR_BATCH)
			return 1;
		pos = c->off + c->scan;
		if ((n = pread(c->gen->fd, b->in, CURSOR_IN_CHUNK, pos)) < 0) {
			log_msg("stream %s: pread %s: %s", cfg->name, cfg->path,
			    strerror(errno));
			return -1;
		}
		if (n > 0)
			rc = frame_lines(c, cfg, b, pos, (size_t)n, len);
		else if ((succ = c->gen->succ) != NULL)
			rc = next_file(c, f, w, succ, cfg, b, len);
		else
			return 0;
		if (rc != 0)
			return rc;
	}
}

size_t
cursor_pipe(struct cursor *c, const struct ring *r, uint32_t tag,
    const struct cfg_stream *cfg, struct cursor_bufs *b, int *more)
{
	size_t len = 0;

	if (c->seq < r->first) {
		c->note = CURSOR_NOTE_GAP;	/* fell behind the buffer */
		c->seq = r->first;
	}
	if (c->note != CURSOR_NOTE_NONE) {
		/* The stream goes on from the oldest line held. */
		len = sse_reset(b->out, "gap", c->seq < r->next ?
		    ring_at(r, c->seq)->id_start : r->end_id, tag);
		c->note = CURSOR_NOTE_NONE;
	}
	/* Each line framed for this subscriber from the ring's one copy. */
	while (c->seq < r->next && len < CURSOR_BATCH) {
		const struct ring_entry *e = ring_at(r, c->seq);

		if (len + sse_event_bound(cfg->event, e->total, cfg->max_line) >
		    b->out_cap)
			break;
		len += sse_event(b->out + len, cfg->event, e->id_end, tag,
		    ring_payload(r, e), e->total, cfg->max_line);
		c->seq++;
	}
	*more = c->seq < r->next;
	return len;
}

void
cursor_drop(struct cursor *c, struct follow *f, struct follow_watch *w)
{
	put_gen(c, f, w);
	memset(c, 0, sizeof(*c));
}

/* Sets c at the backlog's start in g (NULL: none yet). */
static void
start_backlog(struct cursor *c, struct follow_gen *g,
    const struct cfg_stream *cfg, const struct req *req,
    struct id_pos *start)
{
	off_t off;

	start->offset = 0;
	start->tag = ID_TAG_EMPTY;
	if (g == NULL)
		return;
	set_gen(c, g);
	off = follow_backlog_start(g, req->lines >= 0 ? req->lines :
	    cfg->backlog);
	if (off < 0) {
		log_msg("stream %s: pread %s: %s", cfg->name,
		    cfg->path, strerror(errno));
		off = 0;
	}
	c->off = off;
	c->tag = follow_gen_tag(g, (uint64_t)off);
	start->offset = (uint64_t)off;
	start->tag = c->tag;
}

void
cursor_start_file(struct cursor *c, struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, const struct req *req,
    struct id_pos *start)
{
	struct follow_gen *g = follow_newest(f), *chain;
	struct id_pos pos = req->last_id;

	if (req->id_kind == ID_NONE) {
		start_backlog(c, g, cfg, req, start);
		return;
	}
	switch (find_resume(f, w, cfg, g, 1, req->id_kind, &pos, &chain)) {
	case 0:
		if (g != NULL) {
			set_gen(c, g);
			c->off = (off_t)pos.offset;
			/* The head the tag was checked against: follow_check
			 * compares it to tell a regrown file. */
			follow_gen_head(g, pos.offset);
			c->tag = req->id_kind == ID_TAGGED ? pos.tag :
			    follow_gen_tag(g, pos.offset);
			pos.tag = c->tag;
		} else
			pos.tag = ID_TAG_EMPTY;	/* a bare 0: no tag given */
		*start = pos;
		break;
	case 1:
		c->gen = chain;
		c->off = (off_t)pos.offset;
		c->epoch = chain->epoch;
		c->tag = pos.tag;
		*start = pos;
		break;
	default:
		c->note = CURSOR_NOTE_GAP;
		if (g != NULL)
			set_gen(c, g);
		if (req->id_kind == ID_TAGGED)
			*start = pos;
		else {
			start->offset = 0;
			start->tag = ID_TAG_EMPTY;
		}
	}
}

void
cursor_start_pipe(struct cursor *c, const struct ring *r, uint32_t tag,
    const struct cfg_stream *cfg, const struct req *req,
    struct id_pos *start)
{
	uint64_t lines;

	start->tag = tag;
	if (req->id_kind == ID_NONE) {
		lines = (uint64_t)(req->lines >= 0 ? req->lines :
		    cfg->backlog);
		c->seq = r->next - r->first < lines ? r->first : r->next - lines;
		start->offset = c->seq < r->next ?
		    ring_at(r, c->seq)->id_start : r->end_id;
		return;
	}
	if (req->id_kind == ID_TAGGED && req->last_id.tag == tag &&
	    (c->seq = ring_find(r, req->last_id.offset)) != RING_NONE) {
		*start = req->last_id;
		return;
	}
	/* Another reader's id (another process, before a restart), a bare
	 * one (this version never sent it), or one the ring no longer
	 * holds. */
	c->note = CURSOR_NOTE_GAP;
	c->seq = r->first;
	if (req->id_kind == ID_TAGGED)
		*start = req->last_id;
	else
		start->offset = r->first < r->next ?
		    ring_at(r, r->first)->id_start : r->end_id;
}

int
cursor_bufs_size(struct cursor_bufs *b, const struct cfg *cfg)
{
	size_t i, max_line = 0, out_cap, line_cap;
	char *grown;

	if (b->in == NULL && (b->in = malloc(CURSOR_IN_CHUNK)) == NULL)
		return -1;

	for (i = 0; i < cfg->nstreams; i++)
		if (cfg->streams[i].max_line > max_line)
			max_line = cfg->streams[i].max_line;
	out_cap = CURSOR_BATCH + sse_event_bound(NULL, max_line, max_line) +
	    CFG_NAME_MAX + CURSOR_SLACK;
	line_cap = max_line + 3;
	if (out_cap > b->out_cap) {
		if ((grown = realloc(b->out, out_cap)) == NULL)
			return -1;
		b->out = grown;
		b->out_cap = out_cap;
	}
	if (line_cap > b->line_cap) {
		if ((grown = realloc(b->line, line_cap)) == NULL)
			return -1;
		b->line = grown;
		b->line_cap = line_cap;
	}
	return 0;
}

void
cursor_bufs_free(struct cursor_bufs *b)
{
	free(b->in);
	free(b->out);
	free(b->line);
	memset(b, 0, sizeof(*b));
}
