/* cursor.c - one subscriber's position in a stream: where it starts (its
 * backlog, or its Last-Event-ID), and its next events produced within a
 * budget, from a followed file (pread at its own offset) or a pipe's ring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "log.h"
#include "sse.h"

static void
put_gen(struct cursor *c, struct follow *f, struct follow_watch *w)
{
	if (c->gen != NULL)
		follow_gen_put(f, w, c->gen);
	c->gen = NULL;
}

static void
set_gen(struct cursor *c, struct follow_gen *g)
{
	follow_gen_get(g);
	c->gen = g;
	c->off = c->scan = 0;
	c->epoch = g->epoch;
}

/* Frames the line [c->off, c->off + total) into b->out at *len, reading
 * its start again when it did not fit in one chunk; id is its end. */
static int
frame_from_file(struct cursor *c, const struct cfg_stream *cfg,
    struct cursor_bufs *b, uint64_t total, off_t id, size_t *len)
{
	size_t need = sse_need(total, cfg->max_line);

	if (pread(c->gen->fd, b->line, need, c->off) != (ssize_t)need) {
		log_msg("stream %s: pread %s: %s", cfg->name, cfg->path,
		    strerror(errno));
		return -1;
	}
	*len += sse_event(b->out + *len, cfg->event, (uint64_t)id, b->line,
	    total, cfg->max_line);
	return 0;
}

/* The file was read to its end and another replaced it: frames its last
 * line (which needs no newline now) and moves to the next file, with a
 * "rotated" reset. Returns 0, 1 when out is too full for that line, -1 on
 * a read error. */
static int
next_file(struct cursor *c, struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, struct cursor_bufs *b, size_t *len)
{
	struct follow_gen *succ = c->gen->succ;

	if (c->scan > 0) {
		uint64_t total = (uint64_t)c->scan;

		if (*len + sse_event_bound(cfg->event, total, cfg->max_line) >
		    b->out_cap)
			return 1;
		if (frame_from_file(c, cfg, b, total, c->off + c->scan, len) < 0)
			return -1;
	}
	follow_gen_get(succ);
	put_gen(c, f, w);
	set_gen(c, succ);
	follow_gen_put(f, w, succ);
	c->reset = "rotated";
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
			if (frame_from_file(c, cfg, b, total, nl_at + 1, len) < 0)
				return -1;
		} else
			*len += sse_event(b->out + *len, cfg->event,
			    (uint64_t)nl_at + 1, p, total, cfg->max_line);
		c->off = nl_at + 1;
		c->scan = 0;
		p = nl + 1;
		if (*len >= CURSOR_BATCH)
			return 1;
	}
	c->scan = pos + (off_t)n - c->off;
	return 0;
}

int
cursor_file(struct cursor *c, struct follow *f, struct follow_watch *w,
    const struct cfg_stream *cfg, struct cursor_bufs *b, size_t *len)
{
	for (;;) {
		off_t pos;
		ssize_t n;
		int rc;

		if (c->gen == NULL) {
			if (f->cur == NULL)
				return 0;
			set_gen(c, f->cur);
		}
		if (c->epoch != c->gen->epoch) {
			c->epoch = c->gen->epoch;
			if (c->off > 0 || c->scan > 0)
				c->reset = "truncated";
			c->off = c->scan = 0;
		}
		if (c->reset != NULL) {
			*len += sse_reset(b->out + *len, c->reset);
			c->reset = NULL;
		}
		if (*len >= CURSOR_BATCH)
			return 1;
		pos = c->off + c->scan;
		if ((n = pread(c->gen->fd, b->in, CURSOR_IN_CHUNK, pos)) < 0) {
			log_msg("stream %s: pread %s: %s", cfg->name, cfg->path,
			    strerror(errno));
			return -1;
		}
		if (n == 0 && c->gen->succ == NULL)
			return 0;
		if (n == 0)
			rc = next_file(c, f, w, cfg, b, len);
		else
			rc = frame_lines(c, cfg, b, pos, (size_t)n, len);
		if (rc != 0)
			return rc;
	}
}

size_t
cursor_pipe(struct cursor *c, const struct ring *r,
    const struct cfg_stream *cfg, struct cursor_bufs *b, int *more)
{
	size_t len = 0;

	if (c->seq < r->first) {
		c->reset = "gap";	/* fell behind the buffer */
		c->seq = r->first;
	}
	if (c->reset != NULL) {
		len = sse_reset(b->out, c->reset);
		c->reset = NULL;
	}
	/* Each line framed for this subscriber from the ring's one copy. */
	while (c->seq < r->next && len < CURSOR_BATCH) {
		const struct ring_entry *e = ring_at(r, c->seq);

		if (len + sse_event_bound(cfg->event, e->total, cfg->max_line) >
		    b->out_cap)
			break;
		len += sse_event(b->out + len, cfg->event, e->id_end,
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

void
cursor_start_file(struct cursor *c, const struct follow *f,
    const struct cfg_stream *cfg, const struct req *req)
{
	struct follow_gen *g = follow_newest(f);
	off_t off;

	if (g == NULL) {
		if (req->last_id > 0)
			c->reset = "gap";
		return;
	}
	set_gen(c, g);
	if (req->last_id >= 0) {
		if (follow_resume_ok(g, req->last_id))
			c->off = req->last_id;
		else
			c->reset = "gap";
		return;
	}
	off = follow_backlog_start(g, req->lines >= 0 ? req->lines :
	    cfg->backlog);
	if (off < 0) {
		log_msg("stream %s: pread %s: %s", cfg->name,
		    cfg->path, strerror(errno));
		off = 0;
	}
	c->off = off;
}

void
cursor_start_pipe(struct cursor *c, const struct ring *r,
    const struct cfg_stream *cfg, const struct req *req)
{
	uint64_t lines;

	if (req->last_id > 0) {
		if ((c->seq = ring_find(r, (uint64_t)req->last_id)) == RING_NONE) {
			c->reset = "gap";
			c->seq = r->first;
		}
	} else if (req->last_id == 0)
		c->seq = r->first;	/* everything the buffer holds */
	else {
		lines = (uint64_t)(req->lines >= 0 ? req->lines :
		    cfg->backlog);
		c->seq = r->next - r->first < lines ? r->first : r->next - lines;
	}
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
