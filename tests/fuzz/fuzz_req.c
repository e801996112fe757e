/* fuzz_req.c - libFuzzer harness of the request parser (req.c): req_parse
 * on the CGI parameters of a request against two fixed configurations
 * (three streams with access lists, one stream), req_parse_id and
 * req_prefers_html, each decision checked against what req.h promises.
 *
 * Input: REQUEST_METHOD, PATH_INFO, QUERY_STRING, HTTP_LAST_EVENT_ID,
 * HTTP_ACCEPT, REMOTE_USER, HTTP_ORIGIN and
 * HTTP_ACCESS_CONTROL_REQUEST_METHOD separated by NUL bytes; a missing one
 * is not set. */
#define _GNU_SOURCE	/* strcasestr */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "req.h"
#include "fuzz.h"

#define NFIELDS 8

static const char three_text[] =
	"allow-origin = https://dash.example.org http://127.0.0.1:8080\n"
	"[stream syslog]\npath = /var/log/syslog\n"
	"[stream app.log]\npath = /var/log/app.log\nbacklog = 5\n"
	"allow-users = alice bob\nallow-origin = *\n"
	"[stream a-b_C9]\npath = /run/a/events\nevent = a\nallow-users = *\n";
static const char one_text[] = "[stream only]\npath = /var/log/only\n";

/* What a Last-Event-ID is, written apart from id.c: a decimal offset
 * (no leading zero, at most ID_OFFSET_MAX, counted on 128 bits) and an
 * optional "." and 8 lowercase hex digits. */
static enum id_kind
model_id(const char *s, uint64_t *offset, uint32_t *tag)
{
	unsigned __int128 v = 0;
	const char *start = s;
	uint32_t t = 0;
	int i;

	if (s == NULL)
		return ID_NONE;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > (unsigned __int128)ID_OFFSET_MAX)
			return ID_NONE;
	}
	if (s == start || (start[0] == '0' && s - start > 1))
		return ID_NONE;
	*offset = (uint64_t)v;
	if (*s == '\0')
		return ID_BARE;
	if (*s++ != '.')
		return ID_NONE;
	for (i = 0; i < 8; i++, s++) {
		const char *hex = "0123456789abcdef", *h;

		if (*s == '\0' || (h = strchr(hex, *s)) == NULL)
			return ID_NONE;
		t = t << 4 | (uint32_t)(h - hex);
	}
	*tag = t;
	return *s == '\0' ? ID_TAGGED : ID_NONE;
}

static void
check_accept(const char *accept)
{
	int html = req_prefers_html(accept);

	FUZZ_CHECK(html == 0 || html == 1, "req_prefers_html %d", html);
	/* Without text/html, text/ * or * / * nothing can prefer HTML. */
	if (accept == NULL || (strcasestr(accept, "text/html") == NULL &&
	    strchr(accept, '*') == NULL))
		FUZZ_CHECK(html == 0, "HTML preferred in \"%s\"", accept);
}

static void
check_req(const struct cfg *cfg, const struct req_params *rp)
{
	struct req req;
	int get, head, preflight;
	enum id_kind kind;
	uint64_t offset = 0;
	uint32_t tag = 0;

	req_parse(cfg, rp, &req);
	get = rp->method != NULL && strcmp(rp->method, "GET") == 0;
	head = rp->method != NULL && strcmp(rp->method, "HEAD") == 0;
	preflight = rp->method != NULL && strcmp(rp->method, "OPTIONS") == 0 &&
	    rp->origin != NULL && rp->cors_method != NULL;
	FUZZ_CHECK(req.kind >= REQ_STREAM && req.kind <= REQ_ERROR, "kind %d",
	    (int)req.kind);
	FUZZ_CHECK(req.authenticated == (rp->remote_user != NULL &&
	    rp->remote_user[0] != '\0'), "authenticated");
	FUZZ_CHECK(req.user == NULL || (req.authenticated &&
	    strcmp(req.user, rp->remote_user) == 0), "user");
	/* CORS: only an origin allowed, as it came (or "*"). */
	if (req.allow_origin != NULL)
		FUZZ_CHECK(rp->origin != NULL && (strcmp(req.allow_origin,
		    "*") == 0 || strcasecmp(req.allow_origin, rp->origin) == 0),
		    "origin %s allowed as %s", rp->origin ? rp->origin : "(null)",
		    req.allow_origin);
	if (!get && !head && !preflight) {
		FUZZ_CHECK(req.kind == REQ_ERROR && req.status == 405,
		    "method not refused");
		return;
	}
	if (preflight)
		FUZZ_CHECK(req.kind == REQ_PREFLIGHT ? req.allow_origin != NULL :
		    req.kind == REQ_ERROR, "preflight kind %d", (int)req.kind);
	else
		FUZZ_CHECK(req.kind != REQ_PREFLIGHT, "a preflight without one");
	FUZZ_CHECK(req.head == head, "head");
	if (req.kind == REQ_ERROR) {
		FUZZ_CHECK(req.status == 400 || req.status == 403 ||
		    req.status == 404 || (preflight && req.status == 405),
		    "status %d", req.status);
		FUZZ_CHECK(req.message != NULL && req.message[0] != '\0',
		    "no message");
		if (req.status == 403)
			FUZZ_CHECK(req.stream >= 0 &&
			    (size_t)req.stream < cfg->nstreams &&
			    !req_may_open(&cfg->streams[req.stream], &req),
			    "403 for a stream open to the user");
		return;
	}
	if (req.kind == REQ_PREFLIGHT)
		return;
	FUZZ_CHECK((req.kind == REQ_VIEWER || req.kind == REQ_INDEX_HTML) ==
	    req_prefers_html(rp->accept), "HTML or not");
	FUZZ_CHECK(rp->query == NULL || strlen(rp->query) <= REQ_QUERY_MAX,
	    "a long query accepted");
	FUZZ_CHECK(req.lines >= -1 && req.lines <= REQ_LINES_MAX, "lines %d",
	    req.lines);
	if (req.kind == REQ_INDEX_JSON || req.kind == REQ_INDEX_HTML) {
		FUZZ_CHECK(cfg->nstreams != 1, "an index of one stream");
		return;
	}
	FUZZ_CHECK(req.stream >= 0 && (size_t)req.stream < cfg->nstreams,
	    "stream %d", req.stream);
	FUZZ_CHECK(req_may_open(&cfg->streams[req.stream], &req),
	    "a stream the user may not open");
	if (cfg->streams[req.stream].allow_users != NULL &&
	    strcmp(cfg->streams[req.stream].allow_users, "*") != 0)
		FUZZ_CHECK(req.user != NULL, "an unlisted user let in");
	if (rp->path_info != NULL && rp->path_info[0] != '\0' &&
	    strcmp(rp->path_info, "/") != 0)
		FUZZ_CHECK(strcmp(cfg->streams[req.stream].name,
		    rp->path_info + (rp->path_info[0] == '/')) == 0,
		    "PATH_INFO %s gave %s", rp->path_info,
		    cfg->streams[req.stream].name);
	FUZZ_CHECK(req.id_kind == ID_NONE ||
	    req.last_id.offset <= ID_OFFSET_MAX, "last_id");
	if ((kind = model_id(rp->last_event_id, &offset, &tag)) != ID_NONE) {
		FUZZ_CHECK(req.id_kind == kind, "Last-Event-ID %s: kind %d, "
		    "want %d", rp->last_event_id, req.id_kind, kind);
		FUZZ_CHECK(req.last_id.offset == offset, "Last-Event-ID %s "
		    "gave %llu", rp->last_event_id,
		    (unsigned long long)req.last_id.offset);
		FUZZ_CHECK(kind == ID_BARE || req.last_id.tag == tag,
		    "Last-Event-ID %s: tag %08x", rp->last_event_id,
		    (unsigned)req.last_id.tag);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg three, one;
	static int loaded;
	const char *field[NFIELDS] = { NULL };
	struct req_params rp;
	char err[256], *copy, *p, *end;
	size_t n = 0, i;

	if (!loaded) {
		FUZZ_CHECK(cfg_parse(&three, three_text, "three", err,
		    sizeof(err)) == 0, "%s", err);
		FUZZ_CHECK(cfg_parse(&one, one_text, "one", err,
		    sizeof(err)) == 0, "%s", err);
		loaded = 1;
	}

	/* Each field a string of its own, NUL-terminated. */
	copy = malloc(size + 1);
	FUZZ_CHECK(copy != NULL, "malloc");
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	for (p = copy; n < NFIELDS && p <= end; p += strlen(p) + 1)
		field[n++] = p;
	if (size == 0)
		n = 0, field[0] = NULL;

	memset(&rp, 0, sizeof(rp));	/* a field added to req.h is unset */
	rp.method = field[0];
	rp.path_info = field[1];
	rp.query = field[2];
	rp.last_event_id = field[3];
	rp.accept = field[4];
	rp.remote_user = field[5];
	rp.origin = field[6];
	rp.cors_method = field[7];
	check_req(&three, &rp);
	check_req(&one, &rp);
	for (i = 0; i < NFIELDS; i++) {
		uint64_t off = 0, model_off = 0;
		uint32_t tag = 0, model_tag = 0;
		enum id_kind kind = id_parse(field[i], &off, &tag);

		FUZZ_CHECK(kind == model_id(field[i], &model_off, &model_tag),
		    "id_parse(\"%s\") %d", field[i] ? field[i] : "(null)",
		    kind);
		FUZZ_CHECK(kind == ID_NONE || off == model_off, "offset");
		FUZZ_CHECK(kind != ID_TAGGED || tag == model_tag, "tag");
		check_accept(field[i]);
	}
	free(copy);
	return 0;
}
