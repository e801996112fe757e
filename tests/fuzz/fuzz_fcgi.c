/* fuzz_fcgi.c - libFuzzer harness of the FastCGI request reader (fcgi.c),
 * driven as the server drives it: the stream is fed in chunks of sizes
 * drawn from the input, requests are looked up and ended, and every event
 * is checked. The same stream fed in one piece must give the same events.
 *
 * Input: a chunking seed (1 byte), driver flags (1 byte), then what a web
 * server sends on one connection. Flags: bit 0 ends each request as soon
 * as it is in (a short answer) instead of at its ABORT_REQUEST (a stream);
 * bit 1 frees the parameters once they are read, as srv.c does; bits 2-3
 * pick the GET_VALUES answers. */
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

/* A GET_VALUES_RESULT body: pairs of known names with decimal values,
 * each name once. */
static void
check_values(const unsigned char *c, size_t len)
{
	static const char *const known[] = {
		FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS
	};
	unsigned seen = 0;
	size_t at = 0, k, nl, vl, i, j;

	while (at < len) {
		FUZZ_CHECK((k = pair_len(c + at, len - at, &nl)) > 0, "pair");
		at += k;
		FUZZ_CHECK((k = pair_len(c + at, len - at, &vl)) > 0, "pair");
		at += k;
		FUZZ_CHECK(nl <= len - at && vl <= len - at - nl, "pair length");
		for (i = 0; i < 3; i++)
			if (strlen(known[i]) == nl &&
			    memcmp(c + at, known[i], nl) == 0)
				break;
		FUZZ_CHECK(i < 3, "an unknown name answered");
		FUZZ_CHECK(!(seen & 1u << i), "%s answered twice", known[i]);
		seen |= 1u << i;
		FUZZ_CHECK(vl >= 1 && vl <= 10, "value of %zu bytes", vl);
		for (j = 0; j < vl; j++)
			FUZZ_CHECK(c[at + nl + j] >= '0' && c[at + nl + j] <= '9',
			    "a value not decimal");
		at += nl + vl;
	}
}

/* The records of a reply: version 1, lengths that add up, only the types
 * and statuses a reader may send. */
static void
check_reply(const struct fcgi_reader *r)
{
	const unsigned char *p = r->reply;
	size_t at = 0;

	FUZZ_CHECK(r->reply_len > 0 && r->reply_len <= FCGI_REPLY_MAX,
	    "reply_len %zu", r->reply_len);
	while (at < r->reply_len) {
		size_t clen, plen;
		unsigned id;

		FUZZ_CHECK(r->reply_len - at >= FCGI_HEADER_LEN, "cut header");
		FUZZ_CHECK(p[at] == FCGI_VERSION_1, "version");
		id = (unsigned)p[at + 2] << 8 | p[at + 3];
		clen = (size_t)p[at + 4] << 8 | p[at + 5];
		plen = p[at + 6];
		FUZZ_CHECK(r->reply_len - at - FCGI_HEADER_LEN >= clen + plen,
		    "record past reply_len");
		switch (p[at + 1]) {
		case FCGI_END_REQUEST:
			FUZZ_CHECK(id != 0 && clen == 8, "END_REQUEST");
			FUZZ_CHECK(p[at + 12] == FCGI_CANT_MPX_CONN ||
			    p[at + 12] == FCGI_UNKNOWN_ROLE ||
			    p[at + 12] == FCGI_OVERLOADED, "status %d", p[at + 12]);
			break;
		case FCGI_UNKNOWN_TYPE:
			FUZZ_CHECK(id == 0 && clen == 8, "UNKNOWN_TYPE");
			FUZZ_CHECK(p[at + 8] != FCGI_GET_VALUES, "GET_VALUES unknown");
			break;
		case FCGI_GET_VALUES_RESULT:
			FUZZ_CHECK(id == 0, "GET_VALUES_RESULT id");
			check_values(p + at + FCGI_HEADER_LEN, clen);
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
	    "params_len %zu", r->params_len);
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
		    r.params_cap);
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
			check_reply(&r);
			fprintf(t->f, "REPLY %zu\n", r.reply_len);
			fwrite(r.reply, 1, r.reply_len, t->f);
			break;
		case FCGI_EV_ERROR:
			FUZZ_CHECK(r.state == FCGI_BROKEN && r.error != NULL,
			    "error without state or message");
			fprintf(t->f, "ERROR %s\n", r.error);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct trace chunked, whole;
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
	free(chunked.buf);
	free(whole.buf);

	/* The end of a response, for an id from the input. */
	FUZZ_CHECK(fcgi_end_request(end, (uint16_t)size) == FCGI_END_LEN, "end");
	FUZZ_CHECK(end[0] == FCGI_VERSION_1 && end[1] == FCGI_STDOUT &&
	    end[4] == 0 && end[5] == 0 && end[9] == FCGI_END_REQUEST &&
	    end[13] == 8 && end[20] == FCGI_REQUEST_COMPLETE &&
	    (end[2] << 8 | end[3]) == (int)(uint16_t)size &&
	    (end[10] << 8 | end[11]) == (int)(uint16_t)size, "END_REQUEST bytes");
	return 0;
}
