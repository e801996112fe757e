/* front.c - the web server side: a request's CGI parameters decided, and
 * the CGI response headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

const char *
front_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	}
	return "Internal Server Error";
}

size_t
front_headers(char *dst, int status, const char *content_type,
    const char *extra)
{
	int n;

	n = snprintf(dst, FRONT_HEADERS_MAX,
	    "Status: %d %s\r\nContent-Type: %s\r\n%s%s\r\n",
	    status, front_reason(status), content_type,
	    status == 200 && strcmp(content_type, "text/event-stream") == 0
		? "Cache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\n"
		: "Cache-Control: no-cache\r\n",
	    extra ? extra : "");
	return n < FRONT_HEADERS_MAX ? (size_t)n : FRONT_HEADERS_MAX - 1;
}

typedef const char *(*param_fn)(const char *name, const void *from);

static void
decide(const struct cfg *cfg, param_fn get, const void *from, struct req *req)
{
	struct req_params p;

	p.method = get("REQUEST_METHOD", from);
	p.path_info = get("PATH_INFO", from);
	p.query = get("QUERY_STRING", from);
	p.last_event_id = get("HTTP_LAST_EVENT_ID", from);
	p.accept = get("HTTP_ACCEPT", from);
	req_parse(cfg, &p, req);
}

static const char *
env_param(const char *name, const void *unused)
{
	(void)unused;
	return getenv(name);
}

void
front_cgi_request(const struct cfg *cfg, struct req *req)
{
	decide(cfg, env_param, NULL, req);
}

static const char *
fcgi_reader_param(const char *name, const void *reader)
{
	return fcgi_param(reader, name);
}

void
front_fcgi_request(const struct cfg *cfg, const struct fcgi_reader *r,
    struct req *req)
{
	if (r->params_overflow) {
		memset(req, 0, sizeof(*req));
		req->kind = REQ_ERROR;
		req->status = 400;
		req->message = "request parameters over 64 KiB";
		req->stream = -1;
		req->last_id = -1;
		req->lines = -1;
		return;
	}
	decide(cfg, fcgi_reader_param, r, req);
}
