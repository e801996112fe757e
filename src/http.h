/* http.h - what a response says in HTTP terms: status lines, Cache-Control,
 * Allow, Retry-After, and the CORS headers a request calls for. */
#ifndef SSE_TAIL_HTTP_H
#define SSE_TAIL_HTTP_H

#include <stddef.h>

#include "req.h"

#define HTTP_HEADERS_MAX	1024
#define HTTP_ACCESS_MAX		640	/* http_access_headers' dst */
#define HTTP_EXTRA_MAX		64	/* http_error_headers' dst */
#define HTTP_CORS_MAX_AGE	3600	/* seconds a browser keeps a preflight */

/* Writes CGI response headers and the blank line; content_type NULL
 * for none (204); extra is NULL or more header lines, each ending in
 * "\r\n". Returns the length. */
size_t http_headers(char *dst, int status, const char *content_type,
    const char *extra);

/* Writes to dst (HTTP_ACCESS_MAX bytes) extra (NULL, or header lines
 * of at most 64 bytes), then the CORS and Vary headers that req calls
 * for. Returns dst. */
const char *http_access_headers(char *dst, const struct req *req,
    const char *extra);

/* The reason phrase of an HTTP status sse-tail sends. */
const char *http_reason(int status);

/* Writes to dst (HTTP_EXTRA_MAX bytes) the headers an error status calls
 * for: Allow for a 405, Retry-After for a 503 (retry_ms rounded up to
 * seconds, at least 1). Returns dst. */
const char *http_error_headers(char *dst, int status, int retry_ms);

#endif
