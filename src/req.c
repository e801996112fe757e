/* req.c - what a request asks for: CGI parameters in, a decision out. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "req.h"

static void
refuse(struct req *req, int status, const char *message)
{
	req->kind = REQ_ERROR;
	req->status = status;
	req->message = message;
}

int64_t
req_parse_id(const char *s)
{
	int64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > REQ_ID_MAX / 10)
			return -1;
		v = v * 10 + (*s - '0');
		if (v > REQ_ID_MAX)
			return -1;
	}
	return v;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes [s, s + len) into dst (room for len + 1 bytes), '+' as a
 * space. Returns the decoded length, or -1 for a malformed escape. */
static long
url_decode(char *dst, const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			if ((hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			dst[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '+')
			dst[n++] = ' ';
		else
			dst[n++] = s[i];
	}
	dst[n] = '\0';
	return (long)n;
}

/* A q value is from 0 to 1 (RFC 9110, 12.4.2): what strtod reads outside
 * that (negative, over 1, NaN) is taken as the nearest bound, so that
 * "text/event-stream;q=-1" does not rank below a type never named. */
static double
qvalue(const char *s)
{
	double q = strtod(s, NULL);

	if (!(q >= 0))
		return 0;
	return q > 1 ? 1 : q;
}

/* The q value that an Accept header gives to type/subtype: the most
 * specific matching range wins (RFC 9110, 12.5.1). 0 when none matches. */
static double
accept_q(const char *accept, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t typelen = (size_t)(slash - type);
	const char *p = accept;
	double best_q = 0;
	int best_rank = 0;

	while (*p) {
		const char *end = p + strcspn(p, ",");
		const char *semi, *r, *rend;
		double q = 1;
		int rank = 0;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		r = p;
		semi = memchr(p, ';', (size_t)(end - p));
		rend = semi ? semi : end;
		while (rend > r && (rend[-1] == ' ' || rend[-1] == '\t'))
			rend--;
		if ((size_t)(rend - r) == strlen(type) &&
		    strncasecmp(r, type, strlen(type)) == 0)
			rank = 3;
		else if (rend - r == (long)typelen + 2 &&
		    strncasecmp(r, type, typelen + 1) == 0 && r[typelen + 1] == '*')
			rank = 2;
		else if (rend - r == 3 && strncmp(r, "*/*", 3) == 0)
			rank = 1;
		while (semi != NULL && semi < end) {
			const char *a = semi + 1;
			while (a < end && (*a == ' ' || *a == '\t'))
				a++;
			if (end - a >= 2 && (a[0] == 'q' || a[0] == 'Q') && a[1] == '=')
				q = qvalue(a + 2);
			semi = memchr(a, ';', (size_t)(end - a));
		}
		if (rank > best_rank) {
			best_rank = rank;
			best_q = q;
		}
		p = *end ? end + 1 : end;
	}
	return best_q;
}

int
req_prefers_html(const char *accept)
{
	if (accept == NULL)
		return 0;
	return accept_q(accept, "text/html") > accept_q(accept, "text/event-stream");
}

/* The query parameters sse-tail reads; the others are ignored. */
struct query {
	char stream[REQ_QUERY_MAX + 1];
	char lines[REQ_QUERY_MAX + 1];
	char last_id[REQ_QUERY_MAX + 1];
	int has_stream, has_lines, has_last_id;
};

/* Returns NULL, or the message of a 400 answer. */
static const char *
parse_query(const char *qs, struct query *q)
{
	char key[REQ_QUERY_MAX + 1];
	const char *p = qs;

	if (strlen(qs) > REQ_QUERY_MAX)
		return "query string too long";
	while (*p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		char *dst = NULL;
		int *has = NULL;

		if (url_decode(key, p, klen) < 0)
			return "malformed percent-encoding in the query";
		if (strcmp(key, "stream") == 0) {
			dst = q->stream;
			has = &q->has_stream;
		} else if (strcmp(key, "lines") == 0) {
			dst = q->lines;
			has = &q->has_lines;
		} else if (strcmp(key, "lastEventId") == 0) {
			dst = q->last_id;
			has = &q->has_last_id;
		}
		if (dst != NULL) {
			long n;

			if (*has)
				return "a query parameter is given twice";
			*has = 1;
			n = eq ? url_decode(dst, eq + 1, len - klen - 1)
			       : url_decode(dst, "", 0);
			if (n < 0)
				return "malformed percent-encoding in the query";
			if ((size_t)n != strlen(dst))
				dst[0] = '\x01';	/* a NUL byte: never valid */
		} else {
			char scratch[REQ_QUERY_MAX + 1];
			if (eq && url_decode(scratch, eq + 1, len - klen - 1) < 0)
				return "malformed percent-encoding in the query";
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return NULL;
}

static int
parse_lines(const char *s)
{
	long v = 0;

	if (*s == '\0' || strlen(s) > 6)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v > REQ_LINES_MAX ? -1 : (int)v;
}

void
req_parse(const struct cfg *cfg, const struct req_params *params,
    struct req *req)
{
	struct query q;
	const struct cfg_stream *st = NULL;
	const char *name = NULL, *bad;
	int html;

	memset(req, 0, sizeof(*req));
	req->stream = -1;
	req->last_id = -1;
	req->lines = -1;

	if (params->method == NULL ||
	    (strcmp(params->method, "GET") != 0 &&
	     strcmp(params->method, "HEAD") != 0)) {
		refuse(req, 405, "method not allowed: use GET or HEAD");
		return;
	}
	req->head = strcmp(params->method, "HEAD") == 0;

	memset(&q, 0, sizeof(q));
	if (params->query != NULL &&
	    (bad = parse_query(params->query, &q)) != NULL) {
		refuse(req, 400, bad);
		return;
	}
	if (q.has_lines && (req->lines = parse_lines(q.lines)) < 0) {
		refuse(req, 400, "lines must be a whole number from 0 to 100000");
		return;
	}

	if (params->path_info != NULL && params->path_info[0] != '\0' &&
	    strcmp(params->path_info, "/") != 0) {
		name = params->path_info;
		if (name[0] == '/')
			name++;
	} else if (q.has_stream)
		name = q.stream;

	html = req_prefers_html(params->accept);
	if (name != NULL) {
		if (!cfg_valid_name(name, strlen(name)) ||
		    (st = cfg_find(cfg, name)) == NULL) {
			refuse(req, 404, "unknown stream");
			return;
		}
	} else if (cfg->nstreams == 1)
		st = &cfg->streams[0];
	else {
		req->kind = html ? REQ_INDEX_HTML : REQ_INDEX_JSON;
		return;
	}

	req->stream = (int)(st - cfg->streams);
	req->kind = html ? REQ_VIEWER : REQ_STREAM;
	/* A Last-Event-ID that is not an offset counts as absent: a browser
	 * would send it again on every reconnect. */
	req->last_id = req_parse_id(params->last_event_id);
	if (req->last_id < 0 && q.has_last_id)
		req->last_id = req_parse_id(q.last_id);
}
