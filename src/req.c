/* req.c - what a request asks for: CGI parameters in, a decision out. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "req.h"

#define STR_(x)		#x
#define STR(x)		STR_(x)

static void
refuse(struct req *req, int status, const char *message)
{
	req->kind = REQ_ERROR;
	req->status = status;
	req->message = message;
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

/* The name in some stream's allow-users that equals user, or NULL. */
static const char *
find_user(const struct cfg *cfg, const char *user)
{
	const char *w;
	size_t i;

	for (i = 0; i < cfg->nstreams; i++)
		for (w = NULL; (w = cfg_value_list_next(
		    cfg->streams[i].allow_users, w)) != NULL; )
			if (strcmp(w, user) == 0)
				return w;
	return NULL;
}

int
req_may_open(const struct cfg_stream *st, const struct req *req)
{
	const char *w;

	if (st->allow_users == NULL)
		return 1;
	if (!req->authenticated)
		return 0;
	for (w = NULL; (w = cfg_value_list_next(st->allow_users, w)) != NULL; )
		if (strcmp(w, "*") == 0 ||
		    (req->user != NULL && strcmp(w, req->user) == 0))
			return 1;
	return 0;
}

/* Sets the CORS answer from the allow-origin of scope (the stream asked
 * for, else the global keys). A browser writes Origin in lowercase, as
 * the configuration keeps it; other clients may not. */
static void
set_cors(struct req *req, const struct cfg_stream *scope, const char *origin)
{
	const char *w;

	if (scope->allow_origin == NULL)
		return;
	req->vary_origin = 1;
	if (origin == NULL)
		return;
	for (w = NULL;
	    (w = cfg_value_list_next(scope->allow_origin, w)) != NULL; )
		if (strcmp(w, "*") == 0 || strcasecmp(w, origin) == 0) {
			req->allow_origin = w;
			return;
		}
}

static int
is_get_or_head(const char *method)
{
	return method != NULL &&
	    (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
}

/* Checks the method: returns 1 for a CORS preflight (OPTIONS with Origin
 * and the method to come), 0 for GET or HEAD (setting req->head), or -1
 * having refused the request. */
static int
check_method(const struct req_params *params, struct req *req)
{
	int preflight;

	preflight = params->method != NULL &&
	    strcmp(params->method, "OPTIONS") == 0 &&
	    params->origin != NULL && params->cors_method != NULL;
	if (!preflight && !is_get_or_head(params->method)) {
		refuse(req, 405, "method not allowed: use GET or HEAD");
		return -1;
	}
	req->head = !preflight && strcmp(params->method, "HEAD") == 0;
	return preflight;
}

/* Parses the query string into *q and its lines= into req->lines.
 * Returns 0, or -1 having refused the request. */
static int
check_query(const struct req_params *params, struct query *q, struct req *req)
{
	const char *bad;

	memset(q, 0, sizeof(*q));
	if (params->query != NULL &&
	    (bad = parse_query(params->query, q)) != NULL) {
		refuse(req, 400, bad);
		return -1;
	}
	if (q->has_lines && (req->lines = parse_lines(q->lines)) < 0) {
		refuse(req, 400, "lines must be a whole number from 0 to "
		    STR(CFG_BACKLOG_MAX));
		return -1;
	}
	return 0;
}

/* The stream name asked for: PATH_INFO without its leading slash, else
 * the stream= parameter of q, else NULL. Points into params or q. */
static const char *
stream_name(const struct req_params *params, const struct query *q)
{
	const char *name;

	if (params->path_info != NULL && params->path_info[0] != '\0' &&
	    strcmp(params->path_info, "/") != 0) {
		name = params->path_info;
		if (name[0] == '/')
			name++;
		return name;
	}
	return q->has_stream ? q->stream : NULL;
}

/* Sets *st to the stream named (NULL: the only stream, if there is only
 * one, else none). Returns 0, or -1 having refused an unknown name. */
static int
choose_stream(const struct cfg *cfg, const char *name, struct req *req,
    const struct cfg_stream **st)
{
	*st = NULL;
	if (name != NULL) {
		if (!cfg_value_is_name(name, strlen(name)) ||
		    (*st = cfg_find(cfg, name)) == NULL) {
			refuse(req, 404, "unknown stream");
			return -1;
		}
	} else if (cfg->nstreams == 1)
		*st = &cfg->streams[0];
	return 0;
}

/* Decides a request for stream st: refused unless its allow-users admit
 * the user, else the viewer (html) or the stream, with its Last-Event-ID. */
static void
open_stream(const struct cfg_stream *st, const struct req_params *params,
    const struct query *q, int html, struct req *req)
{
	if (!req_may_open(st, req)) {
		refuse(req, 403, "forbidden: this stream is open to certain "
		    "users only");
		return;
	}
	req->kind = html ? REQ_VIEWER : REQ_STREAM;
	/* A Last-Event-ID that is not an id counts as absent: a browser
	 * would send it again on every reconnect. */
	req->id_kind = id_parse(params->last_event_id, &req->last_id.offset,
	    &req->last_id.tag);
	if (req->id_kind == ID_NONE && q->has_last_id)
		req->id_kind = id_parse(q->last_id, &req->last_id.offset,
		    &req->last_id.tag);
}

/* req_parse without the CORS answer: sets *scope to the stream asked for
 * when there is one. */
static void
decide(const struct cfg *cfg, const struct req_params *params,
    struct req *req, const struct cfg_stream **scope)
{
	struct query q;
	const struct cfg_stream *st;
	int html, preflight;

	if ((preflight = check_method(params, req)) < 0)
		return;
	if (check_query(params, &q, req) < 0)
		return;
	html = req_prefers_html(params->accept);
	if (choose_stream(cfg, stream_name(params, &q), req, &st) < 0)
		return;
	if (st != NULL) {
		*scope = st;
		req->stream = (int)(st - cfg->streams);
	}
	if (preflight) {
		/* It carries no credentials: allow-users is checked on the
		 * request it announces. */
		if (!is_get_or_head(params->cors_method))
			refuse(req, 405, "method not allowed: use GET or HEAD");
		else
			req->kind = REQ_PREFLIGHT;
		return;
	}
	if (st == NULL) {
		req->kind = html ? REQ_INDEX_HTML : REQ_INDEX_JSON;
		return;
	}
	open_stream(st, params, &q, html, req);
}

void
req_parse(const struct cfg *cfg, const struct req_params *params,
    struct req *req)
{
	const struct cfg_stream *scope = &cfg->defaults;

	memset(req, 0, sizeof(*req));
	req->stream = -1;
	req->id_kind = ID_NONE;
	req->lines = -1;
	req->authenticated = params->remote_user != NULL &&
	    params->remote_user[0] != '\0';
	if (req->authenticated)
		req->user = find_user(cfg, params->remote_user);

	decide(cfg, params, req, &scope);
	set_cors(req, scope, params->origin);
	/* A preflight from an origin not allowed is any other OPTIONS. */
	if (req->kind == REQ_PREFLIGHT && req->allow_origin == NULL)
		refuse(req, 405, "method not allowed: use GET or HEAD");
}
