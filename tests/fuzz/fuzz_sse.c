/* fuzz_sse.c - libFuzzer harness of event framing (sse.c): the splitter,
 * sse_event and sse_reset, each result checked against the framing rules
 * and against a plain byte-at-a-time model of sse_event.
 *
 * Input: max_line (2 bytes), event choice (1), chunk seed (1), id (8),
 * extra length (1), then the byte stream of a named pipe. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "fuzz.h"

#define HEAD_LEN	13

static const char *const events[] = {
	NULL, "log", "a", "x.y_z-1",
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
};

/* Length of the well-formed UTF-8 sequence at p (n bytes there), 0 for
 * none: Unicode's table 3-7, written out independently of sse.c. */
static size_t
wellformed(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* The event sse.h describes, built byte by byte into dst (big enough).
 * Returns its length. */
static size_t
model_event(char *dst, const char *event, uint64_t id, const unsigned char *s,
    uint64_t total, size_t max_line)
{
	size_t limit = total > max_line ? max_line : (size_t)total;
	size_t avail = sse_need(total, max_line);
	size_t i = 0, n;
	char *d = dst;

	if (event != NULL)
		d += sprintf(d, "event: %s\n", event);
	d += sprintf(d, "id: %llu.%08x\ndata: ", (unsigned long long)id,
	    (unsigned)(id * 2654435761u));
	while (i < limit) {
		if (s[i] == '\r') {
			d += sprintf(d, "\ndata: ");
			i++;
		} else if (s[i] == 0 || (n = wellformed(s + i, avail - i)) == 0) {
			d += sprintf(d, "\xef\xbf\xbd");
			i++;
		} else if (i + n > limit)
			break;
		else {
			memcpy(d, s + i, n);
			d += n;
			i += n;
		}
	}
	if (total > i)
		d += sprintf(d, " [\xe2\x80\xa6 %llu bytes cut]",
		    (unsigned long long)(total - i));
	d += sprintf(d, "\n\n");
	return (size_t)(d - dst);
}

/* Checks the text/event-stream rules on an event of n bytes: well-formed
 * UTF-8 with no CR or NUL, "[event: E\n]id: ID\n", then data: fields, and
 * one blank line at the end only. */
static void
check_framing(const char *out, size_t n, const char *event, uint64_t id)
{
	const unsigned char *u = (const unsigned char *)out;
	char head[160];
	size_t i, k, hl;

	for (i = 0; i < n; i += k) {
		FUZZ_CHECK(u[i] != '\r' && u[i] != 0, "CR or NUL at %zu", i);
		k = wellformed(u + i, n - i);
		FUZZ_CHECK(k > 0, "invalid UTF-8 at byte %zu of %zu", i, n);
	}
	hl = (size_t)snprintf(head, sizeof(head), "%s%s%sid: %llu.%08x\ndata: ",
	    event ? "event: " : "", event ? event : "", event ? "\n" : "",
	    (unsigned long long)id, (unsigned)(id * 2654435761u));
	FUZZ_CHECK(n >= hl + 2 && memcmp(out, head, hl) == 0, "bad head");
	FUZZ_CHECK(out[n - 2] == '\n' && out[n - 1] == '\n', "no blank line");
	for (i = hl; i < n - 2; i++)
		if (out[i] == '\n') {
			FUZZ_CHECK(out[i + 1] != '\n', "blank line inside at %zu", i);
			FUZZ_CHECK(n - 2 - (i + 1) >= 6 &&
			    memcmp(out + i + 1, "data: ", 6) == 0,
			    "a field other than data: at %zu", i + 1);
		}
}

/* Frames a line of total bytes whose first sse_need bytes are at line,
 * into a buffer of exactly the bound, and checks the result. */
static void
frame(const char *event, uint64_t id, const char *line, uint64_t total,
    size_t max_line)
{
	size_t need = sse_need(total, max_line);
	size_t bound = sse_event_bound(event, total, max_line);
	size_t limit = total > max_line ? max_line : (size_t)total;
	char *in, *out, *want;
	size_t n, wn;

	/* Exact sizes, so that a read or write past them is caught. */
	in = malloc(need ? need : 1);
	out = malloc(bound);
	want = malloc(160 + 7 * limit + 64);
	FUZZ_CHECK(in && out && want, "malloc");
	memcpy(in, line, need);
	/* The tag: any 32 bits, made from the id. */
	n = sse_event(out, event, id, (uint32_t)(id * 2654435761u), in, total,
	    max_line);
	FUZZ_CHECK(n <= bound, "wrote %zu bytes, bound %zu", n, bound);
	check_framing(out, n, event, id);
	wn = model_event(want, event, id, (const unsigned char *)in, total,
	    max_line);
	FUZZ_CHECK(wn == n && memcmp(want, out, n) == 0,
	    "differs from the model (%zu bytes, model %zu)", n, wn);
	free(in);
	free(out);
	free(want);
}

/* A reset with a reason made of the printable bytes of s. */
static void
reset(const uint8_t *s, size_t len)
{
	char why[48], want[128], *out;
	size_t i, k = 0, n;

	for (i = 0; i < len && k < sizeof(why) - 1; i++)
		if (s[i] >= 0x20 && s[i] < 0x7f)
			why[k++] = (char)s[i];
	why[k] = '\0';
	out = malloc(SSE_NOTE_MAX);
	FUZZ_CHECK(out != NULL, "malloc");
	n = sse_reset(out, why, UINT64_MAX - len, (uint32_t)len);
	FUZZ_CHECK(n <= SSE_NOTE_MAX, "reset of %zu bytes", n);
	snprintf(want, sizeof(want), "event: reset\nid: %llu.%08x\ndata: "
	    "%.32s\n\n", (unsigned long long)(UINT64_MAX - len),
	    (unsigned)len, why);
	FUZZ_CHECK(n == strlen(want) && memcmp(out, want, n) == 0, "reset");
	free(out);
}

/* One line that the splitter handed out, against the line it should be:
 * raw[0..rawlen) less a final CR. */
static void
check_line(const struct sse_line *line, const uint8_t *raw, size_t rawlen,
    size_t max_line)
{
	size_t len = rawlen;

	if (len > 0 && raw[len - 1] == '\r')
		len--;
	FUZZ_CHECK(line->total == len, "total %llu, want %zu",
	    (unsigned long long)line->total, len);
	FUZZ_CHECK(line->avail == sse_need(len, max_line), "avail %zu",
	    line->avail);
	FUZZ_CHECK(memcmp(line->ptr, raw, line->avail) == 0, "kept bytes");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct sse_splitter sp;
	struct sse_line line;
	const char *event;
	const uint8_t *s, *start;
	size_t max_line, len, off, extra;
	uint32_t seed;
	uint64_t id = 0, total;
	char *whole;
	int i;

	max_line = 16 + fuzz_u16(&in) % 1009;
	event = events[fuzz_byte(&in) % (sizeof(events) / sizeof(events[0]))];
	seed = fuzz_byte(&in) * 0x01000193u + 1;
	for (i = 0; i < 8; i++)
		id = id << 8 | fuzz_byte(&in);
	extra = fuzz_byte(&in);
	s = in.p;
	len = in.len;

	/* The stream through the splitter in chunks, each in a buffer of its
	 * own that is freed at once: a line must not outlive its call. */
	FUZZ_CHECK(sse_splitter_init(&sp, max_line) == 0, "splitter init");
	start = s;
	for (off = 0; off < len;) {
		size_t n = fuzz_rand(&seed) % 64, used;
		char *chunk;

		if (n > len - off)
			n = len - off;
		chunk = malloc(n ? n : 1);
		FUZZ_CHECK(chunk != NULL, "malloc");
		memcpy(chunk, s + off, n);
		used = sse_split(&sp, chunk, n, &line);
		FUZZ_CHECK(used <= n, "used %zu of %zu", used, n);
		FUZZ_CHECK(used == n || line.ptr != NULL, "stopped short");
		if (line.ptr != NULL) {
			FUZZ_CHECK(used > 0 && chunk[used - 1] == '\n',
			    "a line ends at a newline");
			check_line(&line, start, (size_t)(s + off + used - 1 -
			    start), max_line);
			frame(event, id, line.ptr, line.total, max_line);
			start = s + off + used;
		}
		off += used;
		free(chunk);
	}
	if (sse_split_flush(&sp, &line)) {
		FUZZ_CHECK(start < s + len, "flushed an empty line");
		check_line(&line, start, (size_t)(s + len - start), max_line);
		frame(event, id, line.ptr, line.total, max_line);
	} else
		FUZZ_CHECK(start == s + len, "lost the last line");
	FUZZ_CHECK(!sse_split_flush(&sp, &line), "flushed twice");
	sse_splitter_free(&sp);

	/* The whole stream as one line (its newlines made CRs, as a line has
	 * none), then as the start of a longer line: a cut. */
	if ((whole = malloc(len ? len : 1)) == NULL)
		abort();
	for (off = 0; off < len; off++)
		whole[off] = s[off] == '\n' ? '\r' : (char)s[off];
	frame(event, id, whole, len, max_line);
	total = extra == 255 ? UINT64_MAX : len + extra * 1000003ull;
	if (sse_need(total, max_line) <= len)
		frame(event, id, whole, total, max_line);
	free(whole);

	reset(s, len);
	return 0;
}
