/* fuzz_fcgi.c - libFuzzer harness of the FastCGI request reader (fcgi.c),
 * driven as the server drives it: the stream is fed in chunks of sizes
 * drawn from the input, requests are looked up and ended, and every event
 * is checked. The same stream fed in one piece must give the same events,
 * and so must a model of the reader's contract over whole records.
 *
 * Input: a chunking seed (1 byte), driver flags (1 byte), then what a web
 * server sends on one connection. Flags: bit 0 ends each request as soon
 * as it is in (a short answer) instead of at its ABORT_REQUEST (a stream);
 * bit 1 frees the parameters once they are read, as srv.c does; bits 2-3
 * pick the GET_VALUES answers. FUZZ_TRACE=1 prints the events of each
 * input (with --repro, or the binary run on files). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi.h"
#include "fuzz.h"

#define END_AT_ONCE	0x01
#define FREE_PARAMS	0x02

static const char *const lookups[] = {
	"REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "HTTP_LAST_EVENT_ID",
	"HTTP_ACCEPT", "SCRIPT_NAME", "", "REQUEST_METHOD\x01",
};

static const unsigned limits[][2] = {
	{ 1000, 1000 }, { 0, 0 }, { 4294967295u, 1 }, { 7, 4294967295u },
};

/* What a run saw, to compare the two ways of feeding. */
struct trace {
	char *buf;
	size_t len;
	FILE *f;
};

/* The length of a name-value pair's length at p (n bytes), or 0. */
static size_t
pair_len(const unsigned char *p, size_t n, size_t *v)
{
	if (n >= 1 && !(p[0] & 0x80)) {
		*v = p[0];
		return 1;
	}
	if (n < 4)
		return 0;
	*v = (size_t)(p[0] & 0x7f) << 24 | (size_t)p[1] << 16 |
	    (size_t)p[2] << 8 | p[3];
	return 4;
}

static const char *const known[] = {
	FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS
};
#define NKNOWN	(sizeof(known) / sizeof(known[0]))

/* A GET_VALUES_RESULT body: pairs of known names with decimal values,
 * each name once. Written to the trace in the order of known[]. */
static void
check_values(const unsigned char *c, size_t len, FILE *f)
{
	char values[NKNOWN][11];
	unsigned seen = 0;
	size_t at = 0, k, nl, vl, i, j;

	while (at < len) {
		FUZZ_CHECK((k = pair_len(c + at, len - at, &nl)) > 0, "pair");
		at += k;
		FUZZ_CHECK((k = pair_len(c + at, len - at, &vl)) > 0, "pair");
		at += k;
		FUZZ_CHECK(nl <= len - at && vl <= len - at - nl, "pair length");
		for (i = 0; i < NKNOWN; i++)
			if (strlen(known[i]) == nl &&
			    memcmp(c + at, known[i], nl) == 0)
				break;
		FUZZ_CHECK(i < NKNOWN, "an unknown name answered");
		FUZZ_CHECK(!(seen & 1u << i), "%s answered twice", known[i]);
		seen |= 1u << i;
		FUZZ_CHECK(vl >= 1 && vl <= 10, "value of %zu bytes", vl);
		for (j = 0; j < vl; j++)
			FUZZ_CHECK(c[at + nl + j] >= '0' && c[at + nl + j] <= '9',
			    "a value not decimal");
		memcpy(values[i], c + at + nl, vl);
		values[i][vl] = '\0';
		at += nl + vl;
	}
	fprintf(f, "VALUES");
	for (i = 0; i < NKNOWN; i++)
		if (seen & 1u << i)
			fprintf(f, " %s=%s", known[i], values[i]);
	fprintf(f, "\n");
}

/* The records of a reply: version 1, lengths that add up, only the types
 * and statuses a reader may send. Each is written to the trace as a line
 * (the padding, which is the reader's choice, left out). */
static void
check_reply(const struct fcgi_reader *r, FILE *f)
{
	unsigned char p[FCGI_REPLY_MAX + 16];
	size_t at = 0, reply_len;

	memset(p, 0xa5, sizeof(p));
	reply_len = fcgi_reply(r, p);
	for (at = reply_len; at < sizeof(p); at++)
		FUZZ_CHECK(p[at] == 0xa5, "fcgi_reply wrote past its length");
	at = 0;

	FUZZ_CHECK(reply_len > 0 && reply_len <= FCGI_REPLY_MAX,
	    "reply_len %zu", reply_len);
	while (at < reply_len) {
		size_t clen, plen;
		unsigned id;

		FUZZ_CHECK(reply_len - at >= FCGI_HEADER_LEN, "cut header");
		FUZZ_CHECK(p[at] == FCGI_VERSION_1, "version");
		id = (unsigned)p[at + 2] << 8 | p[at + 3];
		clen = (size_t)p[at + 4] << 8 | p[at + 5];
		plen = p[at + 6];
		FUZZ_CHECK(reply_len - at - FCGI_HEADER_LEN >= clen + plen,
		    "record past reply_len");
		switch (p[at + 1]) {
		case FCGI_END_REQUEST:
			FUZZ_CHECK(id != 0 && clen == 8, "END_REQUEST");
			FUZZ_CHECK(p[at + 12] == FCGI_CANT_MPX_CONN ||
			    p[at + 12] == FCGI_UNKNOWN_ROLE ||
			    p[at + 12] == FCGI_OVERLOADED, "status %d", p[at + 12]);
			FUZZ_CHECK(memcmp(p + at + 8, "\0\0\0\0", 4) == 0,
			    "appStatus");
			fprintf(f, "END_REQUEST %u %d\n", id, p[at + 12]);
			break;
		case FCGI_UNKNOWN_TYPE:
			FUZZ_CHECK(id == 0 && clen == 8, "UNKNOWN_TYPE");
			FUZZ_CHECK(p[at + 8] != FCGI_GET_VALUES, "GET_VALUES unknown");
			fprintf(f, "UNKNOWN_TYPE %d\n", p[at + 8]);
			break;
		case FCGI_GET_VALUES_RESULT:
			FUZZ_CHECK(id == 0, "GET_VALUES_RESULT id");
			check_values(p + at + FCGI_HEADER_LEN, clen, f);
			break;
		default:
			FUZZ_CHECK(0, "reply of type %d", p[at + 1]);
		}
		at += FCGI_HEADER_LEN + clen + plen;
	}
}

/* The parameters of a request that is in: each lookup a string inside the
 * reader's buffer. */
static void
check_request(const struct fcgi_reader *r, struct trace *t)
{
	size_t i;

	FUZZ_CHECK(r->state == FCGI_ACTIVE, "state %d", (int)r->state);
	FUZZ_CHECK(r->request_id != 0, "request id 0");
	FUZZ_CHECK(r->params_overflow || r->params_len <= FCGI_PARAMS_MAX,
	    "params_len %zu", (size_t)r->params_len);
	fprintf(t->f, "REQUEST %u keep %d over %d\n", r->request_id,
	    r->keep_conn != 0, r->params_overflow != 0);
	for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		const char *v = fcgi_param(r, lookups[i]);

		if (r->params_overflow)
			FUZZ_CHECK(v == NULL, "a parameter past the cap");
		if (v == NULL) {
			fprintf(t->f, " %s unset\n", lookups[i]);
			continue;
		}
		FUZZ_CHECK(v >= r->params && v < r->params + r->params_len,
		    "value outside the parameters");
		fprintf(t->f, " %s=%zu:", lookups[i], strlen(v));
		fwrite(v, 1, strlen(v), t->f);
		fputc('\n', t->f);
	}
}

/* Feeds stream[0..len) to a fresh reader, in chunks of sizes drawn with
 * seed or all at once, acting on each event as a server would. */
static void
run(const uint8_t *stream, size_t len, int chunked, uint32_t seed,
    unsigned flags, struct trace *t)
{
	struct fcgi_reader r;
	unsigned char end[FCGI_END_LEN];
	size_t off = 0;
	int closed = 0;

	t->buf = NULL;
	t->len = 0;
	t->f = open_memstream(&t->buf, &t->len);
	FUZZ_CHECK(t->f != NULL, "open_memstream");
	fcgi_reader_init(&r, limits[flags >> 2 & 3][0], limits[flags >> 2 & 3][1]);
	while (off < len && !closed) {
		size_t n = len - off, used;
		enum fcgi_state before = r.state;
		enum fcgi_event ev;
		unsigned char *chunk;

		if (chunked) {
			static const size_t most[] = { 1, 9, 300, 65536 };
			uint32_t x = fuzz_rand(&seed);
			size_t k = 1 + (x & 0x3fffffff) % most[x >> 30];

			if (n > k)
				n = k;
		}
		/* A buffer of exactly the chunk, as a read(2) fills. */
		chunk = malloc(n);
		FUZZ_CHECK(chunk != NULL, "malloc");
		memcpy(chunk, stream + off, n);
		used = fcgi_read(&r, chunk, n, &ev);
		free(chunk);
		FUZZ_CHECK(used <= n, "consumed %zu of %zu", used, n);
		FUZZ_CHECK(r.params_cap <= FCGI_PARAMS_MAX, "params_cap %zu",
		    (size_t)r.params_cap);
		off += used;
		if (before == FCGI_BROKEN) {
			FUZZ_CHECK(used == 0, "read %zu bytes when broken", used);
			break;
		}
		switch (ev) {
		case FCGI_EV_NONE:
			FUZZ_CHECK(used == n, "no event, %zu of %zu read", used, n);
			break;
		case FCGI_EV_REQUEST:
			FUZZ_CHECK(used > 0, "an event from no bytes");
			check_request(&r, t);
			if (flags & FREE_PARAMS) {
				fcgi_reader_free(&r);
				FUZZ_CHECK(fcgi_param(&r, "REQUEST_METHOD") == NULL,
				    "a parameter after fcgi_reader_free");
			}
			if (flags & END_AT_ONCE) {
				FUZZ_CHECK(fcgi_end_request(end, r.request_id) ==
				    FCGI_END_LEN, "fcgi_end_request");
				if (r.keep_conn)
					fcgi_request_done(&r);
				else
					closed = 1;
			}
			break;
		case FCGI_EV_ABORT:
			FUZZ_CHECK(used > 0, "an event from no bytes");
			FUZZ_CHECK(r.state != FCGI_IDLE, "ABORT with no request");
			fprintf(t->f, "ABORT %u\n", r.request_id);
			if (r.keep_conn)
				fcgi_request_done(&r);
			else
				closed = 1;
			break;
		case FCGI_EV_REPLY:
			FUZZ_CHECK(used > 0, "an event from no bytes");
			check_reply(&r, t->f);
			break;
		case FCGI_EV_ERROR:
			FUZZ_CHECK(r.state == FCGI_BROKEN && r.error != NULL,
			    "error without state or message");
			fprintf(t->f, "ERROR\n");
			/* The rest is refused. */
			if (off < len) {
				FUZZ_CHECK(fcgi_read(&r, stream + off, len - off,
				    &ev) == 0, "read past an error");
			}
			closed = 1;
			break;
		default:
			FUZZ_CHECK(0, "event %d", (int)ev);
		}
		if (r.state == FCGI_IDLE)
			FUZZ_CHECK(fcgi_param(&r, "REQUEST_METHOD") == NULL,
			    "a parameter with no request");
	}
	fprintf(t->f, "END %s\n", closed ? "closed" : "eof");
	FUZZ_CHECK(fclose(t->f) == 0, "fclose");
	fcgi_reader_free(&r);
}

/* ---- A model of the reader over whole records, from fcgi.h and the
 * FastCGI specification, written apart from fcgi.c: it writes the trace
 * run() writes for the same stream and flags. ---- */

/* Walks the PARAMS pairs of b: -1 when one is cut, has an empty name or
 * holds a NUL; with name, *value is the first pair of that name or NULL. */
static int
model_pairs(const unsigned char *b, size_t len, const char *name,
    const unsigned char **value, size_t *vlen)
{
	size_t at = 0, k, nl, vl;

	if (value != NULL)
		*value = NULL;
	while (at < len) {
		if ((k = pair_len(b + at, len - at, &nl)) == 0)
			return -1;
		at += k;
		if ((k = pair_len(b + at, len - at, &vl)) == 0)
			return -1;
		at += k;
		if (nl == 0 || nl > len - at || vl > len - at - nl ||
		    memchr(b + at, '\0', nl + vl) != NULL)
			return -1;
		if (name != NULL && *value == NULL && nl == strlen(name) &&
		    memcmp(b + at, name, nl) == 0) {
			*value = b + at + nl;
			*vlen = vl;
		}
		at += nl + vl;
	}
	return 0;
}

/* GET_VALUES: the known names asked for, or -1 when a pair is cut. */
static int
model_values(const unsigned char *c, size_t len, unsigned *asked)
{
	size_t at = 0, k, nl, vl, i;

	*asked = 0;
	while (at < len) {
		if ((k = pair_len(c + at, len - at, &nl)) == 0)
			return -1;
		at += k;
		if ((k = pair_len(c + at, len - at, &vl)) == 0)
			return -1;
		at += k;
		if (nl > len - at || vl > len - at - nl)
			return -1;
		for (i = 0; i < NKNOWN; i++)
			if (nl == strlen(known[i]) &&
			    memcmp(c + at, known[i], nl) == 0)
				*asked |= 1u << i;
		at += nl + vl;
	}
	return 0;
}

static void
model(const uint8_t *s, size_t len, unsigned flags, struct trace *t)
{
	const unsigned *lim = limits[flags >> 2 & 3];
	enum fcgi_state state = FCGI_IDLE;
	unsigned id_active = 0, asked;
	int keep = 0, over = 0, closed = 0;
	unsigned char *params;
	size_t plen = 0, at = 0, i;

	t->buf = NULL;
	t->len = 0;
	t->f = open_memstream(&t->buf, &t->len);
	params = malloc(FCGI_PARAMS_MAX);
	FUZZ_CHECK(t->f != NULL && params != NULL, "model");
	while (!closed && len - at >= FCGI_HEADER_LEN) {
		const uint8_t *h = s + at, *c = s + at + FCGI_HEADER_LEN;
		int type = h[1];
		unsigned id = (unsigned)h[2] << 8 | h[3];
		size_t clen = (size_t)h[4] << 8 | h[5], pad = h[6];

		/* Refused from the header alone. */
		if (h[0] != FCGI_VERSION_1 ||
		    (id != 0 && type == FCGI_BEGIN_REQUEST && clen != 8)) {
			fprintf(t->f, "ERROR\n");
			closed = 1;
			break;
		}
		if (len - at - FCGI_HEADER_LEN < clen + pad)
			break;		/* the stream ends inside the record */
		at += FCGI_HEADER_LEN + clen + pad;
		if (id == 0) {
			if (type != FCGI_GET_VALUES) {
				fprintf(t->f, "UNKNOWN_TYPE %d\n", type);
			} else if (model_values(c, clen, &asked) < 0) {
				fprintf(t->f, "ERROR\n");
				closed = 1;
			} else {
				fprintf(t->f, "VALUES");
				for (i = 0; i < NKNOWN; i++)
					if (asked & 1u << i)
						fprintf(t->f, " %s=%u", known[i],
						    i < 2 ? lim[i] : 0);
				fprintf(t->f, "\n");
			}
			continue;
		}
		switch (type) {
		case FCGI_BEGIN_REQUEST:
			if (state != FCGI_IDLE && id == id_active) {
				fprintf(t->f, "ERROR\n");
				closed = 1;
			} else if (state != FCGI_IDLE)
				fprintf(t->f, "END_REQUEST %u %d\n", id,
				    FCGI_CANT_MPX_CONN);
			else if ((c[0] << 8 | c[1]) != FCGI_RESPONDER)
				fprintf(t->f, "END_REQUEST %u %d\n", id,
				    FCGI_UNKNOWN_ROLE);
			else {
				state = FCGI_READING_PARAMS;
				id_active = id;
				keep = c[2] & FCGI_KEEP_CONN;
				over = 0;
				plen = 0;
			}
			break;
		case FCGI_PARAMS:
			if (state != FCGI_READING_PARAMS || id != id_active)
				break;
			if (clen > 0) {
				if (over || clen > FCGI_PARAMS_MAX - plen)
					over = 1;
				else {
					memcpy(params + plen, c, clen);
					plen += clen;
				}
				break;
			}
			if (!over && model_pairs(params, plen, NULL, NULL,
			    NULL) < 0) {
				fprintf(t->f, "ERROR\n");
				closed = 1;
				break;
			}
			state = FCGI_ACTIVE;
			fprintf(t->f, "REQUEST %u keep %d over %d\n", id, keep != 0,
			    over);
			for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
				const unsigned char *v = NULL;
				size_t vl = 0;

				if (!over)
					model_pairs(params, plen, lookups[i], &v, &vl);
				if (v == NULL)
					fprintf(t->f, " %s unset\n", lookups[i]);
				else {
					fprintf(t->f, " %s=%zu:", lookups[i], vl);
					fwrite(v, 1, vl, t->f);
					fputc('\n', t->f);
				}
			}
			if (flags & END_AT_ONCE) {
				if (keep)
					state = FCGI_IDLE;
				else
					closed = 1;
			}
			break;
		case FCGI_ABORT_REQUEST:
			if (state == FCGI_IDLE || id != id_active)
				break;
			fprintf(t->f, "ABORT %u\n", id);
			if (keep)
				state = FCGI_IDLE;
			else
				closed = 1;
			break;
		}
	}
	fprintf(t->f, "END %s\n", closed ? "closed" : "eof");
	FUZZ_CHECK(fclose(t->f) == 0, "fclose");
	free(params);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct trace chunked, whole, want;
	unsigned char end[FCGI_END_LEN];
	uint32_t seed;
	unsigned flags;

	seed = fuzz_byte(&in) * 0x01000193u + 0x811c9dc5u;
	flags = fuzz_byte(&in);
	run(in.p, in.len, 1, seed, flags, &chunked);
	run(in.p, in.len, 0, 0, flags, &whole);
	FUZZ_CHECK(chunked.len == whole.len &&
	    memcmp(chunked.buf, whole.buf, whole.len) == 0,
	    "fed in chunks:\n%.*s\nfed whole:\n%.*s", (int)chunked.len,
	    chunked.buf, (int)whole.len, whole.buf);
	model(in.p, in.len, flags, &want);
	if (getenv("FUZZ_TRACE") != NULL)	/* to see what a run did */
		fprintf(stderr, "%.*s", (int)whole.len, whole.buf);
	FUZZ_CHECK(want.len == whole.len &&
	    memcmp(want.buf, whole.buf, whole.len) == 0,
	    "the reader:\n%.*s\nthe model:\n%.*s", (int)whole.len, whole.buf,
	    (int)want.len, want.buf);
	free(chunked.buf);
	free(whole.buf);
	free(want.buf);

	/* The end of a response, for an id from the input. */
	FUZZ_CHECK(fcgi_end_request(end, (uint16_t)size) == FCGI_END_LEN, "end");
	FUZZ_CHECK(end[0] == FCGI_VERSION_1 && end[1] == FCGI_STDOUT &&
	    end[4] == 0 && end[5] == 0 && end[9] == FCGI_END_REQUEST &&
	    end[13] == 8 && end[20] == FCGI_REQUEST_COMPLETE &&
	    (end[2] << 8 | end[3]) == (int)(uint16_t)size &&
	    (end[10] << 8 | end[11]) == (int)(uint16_t)size, "END_REQUEST bytes");
	return 0;
}
