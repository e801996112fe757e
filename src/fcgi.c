/* fcgi.c - the FastCGI request reader: a strict, incremental parser of the
 * records a web server sends, and the records sse-tail sends.
 *
 * Why not libfcgi's FCGX_Accept_r: it reads with blocking calls and no
 * deadline, buffers a parameter of any declared size, and a GET_VALUES
 * naming one variable four times overflows its stack. This reader never
 * blocks (the event loop feeds it what a read returned), holds at most
 * FCGI_PARAMS_MAX bytes of one request, and reads GET_VALUES without
 * buffering it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "fcgi_mgmt.h"

#define PARAMS_FIRST_CAP	2048	/* what a typical request needs */

enum { REPLY_GET_VALUES = 1, REPLY_UNKNOWN_TYPE, REPLY_END };


void
fcgi_header(unsigned char h[FCGI_HEADER_LEN], int type, uint16_t id,
    size_t len)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = 0;		/* no padding */
	h[7] = 0;
}

/* An END_REQUEST record with appStatus 0 and the protocol status; 16
 * bytes. */
static size_t
end_record(unsigned char *dst, uint16_t id, int protocol_status)
{
	fcgi_header(dst, FCGI_END_REQUEST, id, 8);
	memset(dst + FCGI_HEADER_LEN, 0, 8);
	dst[FCGI_HEADER_LEN + 4] = (unsigned char)protocol_status;
	return FCGI_HEADER_LEN + 8;
}

size_t
fcgi_end_request(unsigned char dst[FCGI_END_LEN], uint16_t id)
{
	fcgi_header(dst, FCGI_STDOUT, id, 0);
	end_record(dst + FCGI_HEADER_LEN, id, FCGI_REQUEST_COMPLETE);
	return FCGI_END_LEN;
}

void
fcgi_reader_init(struct fcgi_reader *r, unsigned max_conns, unsigned max_reqs)
{
	memset(r, 0, sizeof(*r));
	r->state = FCGI_IDLE;
	r->max_conns = max_conns;
	r->max_reqs = max_reqs;
}

void
fcgi_reader_free(struct fcgi_reader *r)
{
	free(r->params);
	r->params = NULL;
	r->params_len = r->params_cap = 0;
	free(r->gv);
	r->gv = NULL;
}

void
fcgi_request_done(struct fcgi_reader *r)
{
	if (r->state == FCGI_BROKEN)
		return;
	fcgi_reader_free(r);
	r->state = FCGI_IDLE;
	r->request_id = 0;
	r->keep_conn = 0;
	r->params_overflow = 0;
}

static enum fcgi_event
broken(struct fcgi_reader *r, const char *why)
{
	free(r->gv);
	r->gv = NULL;
	r->state = FCGI_BROKEN;
	r->error = why;
	return FCGI_EV_ERROR;
}

static int
rec_type(const struct fcgi_reader *r)
{
	return r->hdr[1];
}

static uint16_t
rec_id(const struct fcgi_reader *r)
{
	return (uint16_t)(r->hdr[2] << 8 | r->hdr[3]);
}

static size_t
rec_content_len(const struct fcgi_reader *r)
{
	return (size_t)r->hdr[4] << 8 | r->hdr[5];
}

size_t
fcgi_reply(const struct fcgi_reader *r, unsigned char dst[FCGI_REPLY_MAX])
{
	switch (r->reply_kind) {
	case REPLY_GET_VALUES:
		return fcgi_gv_answer(r->reply_arg, r->max_conns, r->max_reqs,
		    dst);
	case REPLY_UNKNOWN_TYPE:
		fcgi_header(dst, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, 8);
		memset(dst + FCGI_HEADER_LEN, 0, 8);
		dst[FCGI_HEADER_LEN] = r->reply_arg;
		return FCGI_HEADER_LEN + 8;
	case REPLY_END:
		return end_record(dst, r->reply_id, r->reply_arg);
	}
	return 0;
}

/* Sets what fcgi_reply writes. */
static enum fcgi_event
reply(struct fcgi_reader *r, int kind, unsigned arg, uint16_t id)
{
	r->reply_kind = (uint8_t)kind;
	r->reply_arg = (uint8_t)arg;
	r->reply_id = id;
	return FCGI_EV_REPLY;
}

/* ---- PARAMS ---- */

/* Appends PARAMS content. Past FCGI_PARAMS_MAX the rest is only counted
 * as overflow. -1 when memory runs out. */
static int
params_append(struct fcgi_reader *r, const unsigned char *p, size_t n)
{
	if (r->params_overflow)
		return 0;
	if (n > FCGI_PARAMS_MAX - r->params_len) {
		r->params_overflow = 1;
		fcgi_reader_free(r);
		return 0;
	}
	if (r->params_len + n > r->params_cap) {
		size_t cap = r->params_cap ? r->params_cap : PARAMS_FIRST_CAP;
		char *grown;

		while (cap < r->params_len + n)
			cap *= 2;
		if (cap > FCGI_PARAMS_MAX)
			cap = FCGI_PARAMS_MAX;
		if ((grown = realloc(r->params, cap)) == NULL)
			return -1;
		r->params = grown;
		r->params_cap = (uint32_t)cap;
	}
	memcpy(r->params + r->params_len, p, n);
	r->params_len = (uint32_t)(r->params_len + n);
	return 0;
}

/* Reads a pair's length at *at: one byte, or four with the top bit set. */
static int
pair_length(const unsigned char *b, size_t len, size_t *at, size_t *out)
{
	if (*at >= len)
		return -1;
	if (!(b[*at] & 0x80)) {
		*out = b[(*at)++];
		return 0;
	}
	if (len - *at < 4)
		return -1;
	*out = (size_t)(b[*at] & 0x7f) << 24 | (size_t)b[*at + 1] << 16 |
	    (size_t)b[*at + 2] << 8 | b[*at + 3];
	*at += 4;
	return 0;
}

/* Turns the pairs into "NAME\0VALUE\0" strings, in place: each pair's
 * length bytes (two at least) make room for its two NULs. -1 when a pair
 * is cut, has an empty name, or holds a NUL (which no CGI variable can). */
static int
params_decode(struct fcgi_reader *r)
{
	unsigned char *b = (unsigned char *)r->params;
	size_t at = 0, out = 0, len = r->params_len;

	while (at < len) {
		size_t nlen, vlen;

		if (pair_length(b, len, &at, &nlen) < 0 ||
		    pair_length(b, len, &at, &vlen) < 0 ||
		    nlen == 0 || nlen > len - at || vlen > len - at - nlen ||
		    memchr(b + at, '\0', nlen + vlen) != NULL)
			return -1;
		memmove(b + out, b + at, nlen);
		out += nlen;
		b[out++] = '\0';
		memmove(b + out, b + at + nlen, vlen);
		out += vlen;
		b[out++] = '\0';
		at += nlen + vlen;
	}
	r->params_len = (uint32_t)out;
	return 0;
}

const char *
fcgi_param(const struct fcgi_reader *r, const char *name)
{
	const char *p, *end;

	if (r->state != FCGI_ACTIVE || r->params_overflow || r->params == NULL)
		return NULL;
	for (p = r->params, end = r->params + r->params_len; p < end;) {
		const char *value = p + strlen(p) + 1;

		if (strcmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

/* ---- records ---- */

/* A header is complete: checks it and sets up for its content. */
static enum fcgi_event
record_start(struct fcgi_reader *r)
{
	if (r->hdr[0] != FCGI_VERSION_1)
		return broken(r, "not FastCGI version 1");
	r->content_left = (uint16_t)rec_content_len(r);
	r->padding_left = r->hdr[6];
	r->body_got = 0;
	if (rec_id(r) == FCGI_NULL_REQUEST_ID) {
		r->reply_arg = 0;
		if (rec_type(r) == FCGI_GET_VALUES && r->content_left > 0 &&
		    (r->gv = calloc(1, sizeof(*r->gv))) == NULL)
			return broken(r, "out of memory for GET_VALUES");
	} else if (rec_type(r) == FCGI_BEGIN_REQUEST &&
	    r->content_left != sizeof(r->body))
		return broken(r, "BEGIN_REQUEST body is not 8 bytes");
	return FCGI_EV_NONE;
}

/* Takes n bytes of the current record's content. */
static enum fcgi_event
record_content(struct fcgi_reader *r, const unsigned char *p, size_t n)
{
	int type = rec_type(r);
	uint16_t id = rec_id(r);

	if (id == FCGI_NULL_REQUEST_ID) {
		if (type == FCGI_GET_VALUES)
			fcgi_gv_feed(r->gv, &r->reply_arg, p, n);
	} else if (type == FCGI_BEGIN_REQUEST) {
		memcpy(r->body + r->body_got, p, n);	/* 8 in all: checked */
		r->body_got = (uint8_t)(r->body_got + n);
	} else if (type == FCGI_PARAMS && r->state == FCGI_READING_PARAMS &&
	    id == r->request_id) {
		if (params_append(r, p, n) < 0)
			return broken(r, "out of memory for PARAMS");
	}
	return FCGI_EV_NONE;
}

static enum fcgi_event
begin_request(struct fcgi_reader *r, uint16_t id)
{
	int role = r->body[0] << 8 | r->body[1];

	if (r->state != FCGI_IDLE) {
		if (id == r->request_id)
			return broken(r, "BEGIN_REQUEST for the active request");
		return reply(r, REPLY_END, FCGI_CANT_MPX_CONN, id);
	}
	if (role != FCGI_RESPONDER) {
		return reply(r, REPLY_END, FCGI_UNKNOWN_ROLE, id);
	}
	r->state = FCGI_READING_PARAMS;
	r->request_id = id;
	r->keep_conn = r->body[2] & FCGI_KEEP_CONN;
	r->params_len = 0;
	r->params_overflow = 0;
	return FCGI_EV_NONE;
}

/* A record is complete: what it means. */
static enum fcgi_event
record_end(struct fcgi_reader *r)
{
	int type = rec_type(r);
	uint16_t id = rec_id(r);

	if (id == FCGI_NULL_REQUEST_ID) {
		if (type == FCGI_GET_VALUES) {
			struct fcgi_gv *g = r->gv;

			r->gv = NULL;
			if (g != NULL && !fcgi_gv_complete(g)) {
				free(g);
				return broken(r, "GET_VALUES pair cut by the "
				    "record's end");
			}
			free(g);
			return reply(r, REPLY_GET_VALUES, r->reply_arg, 0);
		}
		return reply(r, REPLY_UNKNOWN_TYPE, (unsigned)type, 0);
	}
	switch (type) {
	case FCGI_BEGIN_REQUEST:
		return begin_request(r, id);
	case FCGI_PARAMS:
		if (r->state != FCGI_READING_PARAMS || id != r->request_id ||
		    rec_content_len(r) != 0)
			return FCGI_EV_NONE;
		if (!r->params_overflow && params_decode(r) < 0)
			return broken(r, "malformed PARAMS");
		r->state = FCGI_ACTIVE;
		return FCGI_EV_REQUEST;
	case FCGI_ABORT_REQUEST:
		if (r->state != FCGI_IDLE && id == r->request_id)
			return FCGI_EV_ABORT;
		return FCGI_EV_NONE;
	}
	return FCGI_EV_NONE;	/* STDIN, DATA, or not ours: ignored */
}

size_t
fcgi_read(struct fcgi_reader *r, const unsigned char *p, size_t len,
    enum fcgi_event *ev)
{
	size_t used = 0, n;

	*ev = FCGI_EV_NONE;
	if (r->state == FCGI_BROKEN)
		return 0;
	for (;;) {
		if (r->hdr_got < FCGI_HEADER_LEN) {
			if (used == len)
				break;
			n = FCGI_HEADER_LEN - r->hdr_got;
			if (n > len - used)
				n = len - used;
			memcpy(r->hdr + r->hdr_got, p + used, n);
			r->hdr_got = (uint8_t)(r->hdr_got + n);
			used += n;
			if (r->hdr_got < FCGI_HEADER_LEN)
				break;
			*ev = record_start(r);
		} else if (r->content_left > 0) {
			if (used == len)
				break;
			n = r->content_left < len - used ? r->content_left :
			    len - used;
			*ev = record_content(r, p + used, n);
			r->content_left = (uint16_t)(r->content_left - n);
			used += n;
		} else if (r->padding_left > 0) {
			if (used == len)
				break;
			n = r->padding_left < len - used ? r->padding_left :
			    len - used;
			r->padding_left = (uint8_t)(r->padding_left - n);
			used += n;
		} else {
			r->hdr_got = 0;
			*ev = record_end(r);
		}
		if (*ev != FCGI_EV_NONE)
			break;
	}
	return used;
}
