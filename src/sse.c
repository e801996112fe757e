/* sse.c - event framing: a line of a log in, a text/event-stream event out. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "sse.h"

/* An event's bytes besides its event name and data: "event: \n",
 * "id: " and an id, "data: ", the cut note with its count, the blank
 * line, with room to spare. */
#define SSE_EVENT_FIXED	(96 + ID_TEXT_MAX)

static const char replacement[3] = { '\xef', '\xbf', '\xbd' };	/* U+FFFD */

size_t
sse_need(uint64_t total, size_t max_line)
{
	return total > max_line + 3 ? max_line + 3 : (size_t)total;
}

size_t
sse_event_bound(const char *event, uint64_t total, size_t max_line)
{
	size_t kept = total > max_line ? max_line : (size_t)total;

	/* A CR becomes "\ndata: ": 7 bytes for one, the worst case. */
	return SSE_EVENT_FIXED + (event ? strlen(event) : 0) + 7 * kept;
}

/* Returns the length of the valid UTF-8 sequence at p (at most n bytes
 * there), or 0 when the byte at p does not start one. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* The end of the run of bytes from s[i] that are copied as they are (ASCII
 * but CR and NUL), at most limit: eight bytes at a time, then one. */
static size_t
plain_run(const unsigned char *s, size_t i, size_t limit)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;

	while (i + 8 <= limit) {
		uint64_t w, cr;

		memcpy(&w, s + i, 8);
		cr = w ^ (ones * '\r');
		/* a byte >= 0x80, a zero byte, a CR byte */
		if (((w | ((w - ones) & ~w) | ((cr - ones) & ~cr)) & highs) != 0)
			break;
		i += 8;
	}
	while (i < limit && s[i] < 0x80 && s[i] != '\r' && s[i] != 0)
		i++;
	return i;
}

static char *
put(char *d, const char *str, size_t n)
{
	memcpy(d, str, n);
	return d + n;
}

size_t
sse_event(char *dst, const char *event, uint64_t offset, uint32_t tag,
    const char *line, uint64_t total, size_t max_line)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t limit = total > max_line ? max_line : (size_t)total;
	size_t avail = sse_need(total, max_line);
	size_t i = 0, n;
	char *d = dst;

	if (event != NULL) {
		d = put(d, "event: ", 7);
		d = put(d, event, strlen(event));
		*d++ = '\n';
	}
	d = put(d, "id: ", 4);
	d += id_format(d, offset, tag);
	d = put(d, "\ndata: ", 7);
	while (i < limit) {
		/* The common case: a run of ASCII. */
		size_t run = plain_run(s, i, limit);

		if (run > i) {
			memcpy(d, s + i, run - i);
			d += run - i;
			i = run;
			continue;
		}
		if (s[i] == '\r') {
			memcpy(d, "\ndata: ", 7);
			d += 7;
			i++;
		} else if (s[i] == 0 || (n = utf8_len(s + i, avail - i)) == 0) {
			memcpy(d, replacement, 3);
			d += 3;
			i++;
		} else if (i + n > limit)
			break;		/* the cut falls inside this character */
		else {
			memcpy(d, s + i, n);
			d += n;
			i += n;
		}
	}
	if (total > i)
		d += sprintf(d, " [\xe2\x80\xa6 %llu bytes cut]",
		    (unsigned long long)(total - i));
	memcpy(d, "\n\n", 2);
	return (size_t)(d + 2 - dst);
}

size_t
sse_reset(char *dst, const char *why, uint64_t offset, uint32_t tag)
{
	char id[ID_TEXT_MAX];

	id_format(id, offset, tag);
	return (size_t)sprintf(dst, "event: reset\nid: %s\ndata: %.32s\n\n",
	    id, why);
}

size_t
sse_rotated(char *dst)
{
	static const char rotated[] = "event: rotated\ndata: rotated\n\n";

	memcpy(dst, rotated, sizeof(rotated) - 1);
	return sizeof(rotated) - 1;
}

size_t
sse_id_block(char *dst, uint64_t offset, uint32_t tag)
{
	char *d = put(dst, "id: ", 4);

	d += id_format(d, offset, tag);
	return (size_t)(put(d, "\n\n", 2) - dst);
}

int
sse_splitter_init(struct sse_splitter *s, size_t max_line)
{
	memset(s, 0, sizeof(*s));
	s->max_line = max_line;
	s->cap = max_line + 3;
	if ((s->buf = malloc(s->cap)) == NULL)
		return -1;
	return 0;
}

void
sse_splitter_free(struct sse_splitter *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* Appends to the line in progress what fits of it. */
static void
keep(struct sse_splitter *s, const char *data, size_t n)
{
	size_t room = s->cap - s->len;

	memcpy(s->buf + s->len, data, n < room ? n : room);
	s->len += n < room ? n : room;
	s->total += n;
	if (n > 0)
		s->last = data[n - 1];
}

/* Hands out the line in progress, less a final CR, and starts a new one. */
static void
finish(struct sse_splitter *s, struct sse_line *line)
{
	uint64_t total = s->total;

	if (total > 0 && s->last == '\r')
		total--;
	line->ptr = s->buf;
	line->total = total;
	line->avail = sse_need(total, s->max_line);
	if (line->avail > s->len)
		line->avail = s->len;
	s->len = 0;
	s->total = 0;
}

size_t
sse_split(struct sse_splitter *s, const char *data, size_t n,
    struct sse_line *line)
{
	const char *nl = memchr(data, '\n', n);
	size_t used;

	line->ptr = NULL;
	if (nl == NULL) {
		keep(s, data, n);
		return n;
	}
	used = (size_t)(nl - data);
	if (s->total == 0) {
		/* The whole line is in the input: no copy. */
		size_t len = used;
		if (len > 0 && data[len - 1] == '\r')
			len--;
		line->ptr = data;
		line->total = len;
		line->avail = sse_need(len, s->max_line);
		return used + 1;
	}
	keep(s, data, used);
	finish(s, line);
	return used + 1;
}

int
sse_split_flush(struct sse_splitter *s, struct sse_line *line)
{
	line->ptr = NULL;
	if (s->total == 0)
		return 0;
	finish(s, line);
	return 1;
}
