/* front.h - the web server side: a request's CGI parameters (from the
 * environment, or from a FastCGI request's PARAMS) decided, and the CGI
 * response headers. */
#ifndef SSE_TAIL_FRONT_H
#define SSE_TAIL_FRONT_H

#include "cfg.h"
#include "fcgi.h"
#include "req.h"

#define FRONT_HEADERS_MAX	512

/* Writes CGI response headers and the blank line; extra is NULL or more
 * header lines, each ending in "\r\n". Returns the length. */
size_t front_headers(char *dst, int status, const char *content_type,
    const char *extra);

/* The reason phrase of an HTTP status sse-tail sends. */
const char *front_reason(int status);

/* Decides a CGI request from the environment. */
void front_cgi_request(const struct cfg *cfg, struct req *req);

/* Decides a FastCGI request from the parameters the reader holds (after
 * FCGI_EV_REQUEST); parameters over FCGI_PARAMS_MAX are a 400. */
void front_fcgi_request(const struct cfg *cfg, const struct fcgi_reader *r,
    struct req *req);

#endif
