/* http.c - what a response says in HTTP terms: status lines, Cache-Control,
 * Allow, Retry-After, and the CORS headers a request calls for. */
#include <stdio.h>
#include <string.h>

#include "http.h"

#define STR_(x)		#x
#define STR(x)		STR_(x)

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	}
	return "Internal Server Error";
}

size_t
http_headers(char *dst, int status, const char *content_type,
    const char *extra)
{
	int n;

	n = snprintf(dst, HTTP_HEADERS_MAX,
	    "Status: %d %s\r\n%s%s%s%s%s\r\n",
	    status, http_reason(status),
	    content_type ? "Content-Type: " : "", content_type ? content_type : "",
	    content_type ? "\r\n" : "",
	    status == 200 && content_type != NULL &&
	    strcmp(content_type, "text/event-stream") == 0
		? "Cache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\n"
		: "Cache-Control: no-cache\r\n",
	    extra ? extra : "");
	return n < HTTP_HEADERS_MAX ? (size_t)n : HTTP_HEADERS_MAX - 1;
}

const char *
http_access_headers(char *dst, const struct req *req, const char *extra)
{
	int cors = req->allow_origin != NULL;

	/* A listed origin may read with credentials (cookies, HTTP auth:
	 * EventSource's withCredentials); "*" never may, as CORS says. */
	snprintf(dst, HTTP_ACCESS_MAX, "%s%s%s%s%s%s%s",
	    extra ? extra : "",
	    req->vary_origin ? "Vary: Origin\r\n" : "",
	    cors ? "Access-Control-Allow-Origin: " : "",
	    cors ? req->allow_origin : "", cors ? "\r\n" : "",
	    cors && strcmp(req->allow_origin, "*") != 0
		? "Access-Control-Allow-Credentials: true\r\n" : "",
	    cors && req->kind == REQ_PREFLIGHT
		? "Access-Control-Allow-Methods: GET, HEAD\r\n"
		  /* EventSource sends it when it reconnects. */
		  "Access-Control-Allow-Headers: Last-Event-ID\r\n"
		  "Access-Control-Max-Age: " STR(HTTP_CORS_MAX_AGE) "\r\n"
		: "");
	return dst;
}

const char *
http_error_headers(char *dst, int status, int retry_ms)
{
	*dst = '\0';
	if (status == 405)
		snprintf(dst, HTTP_EXTRA_MAX, "Allow: GET, HEAD\r\n");
	if (status == 503) {
		int retry = (retry_ms + 999) / 1000;

		snprintf(dst, HTTP_EXTRA_MAX, "Retry-After: %d\r\n",
		    retry > 0 ? retry : 1);
	}
	return dst;
}
