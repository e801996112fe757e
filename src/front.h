/* front.h - the web server side: FastCGI records and the accept thread
 * (libfcgi), CGI parameters, and the CGI response headers. */
#ifndef SSE_TAIL_FRONT_H
#define SSE_TAIL_FRONT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "req.h"

#define FCGI_HEADER_LEN		8
#define FCGI_RECORD_MAX		65535	/* content bytes of one record */
#define FRONT_END_LEN		24	/* empty STDOUT + END_REQUEST */
#define FRONT_HEADERS_MAX	1024
#define FRONT_ACCESS_MAX	640	/* front_access_headers' dst */
#define FRONT_CORS_MAX_AGE	3600	/* seconds a browser keeps a preflight */

/* A request, decided, on its way from the acceptor to the event loop. */
struct front_conn {
	int fd_in;		/* read for hang-up; -1 for none (CGI) */
	int fd_out;		/* the response goes here */
	int fcgi;		/* frame the response as FastCGI records */
	uint16_t request_id;
	struct req req;
};

/* Writes the header of a FastCGI STDOUT record of len bytes. */
void front_record_header(unsigned char h[FCGI_HEADER_LEN], uint16_t id,
    size_t len);

/* Writes the end of a FastCGI response: an empty STDOUT record and
 * END_REQUEST (status 0, REQUEST_COMPLETE). Returns FRONT_END_LEN. */
size_t front_end_request(unsigned char *dst, uint16_t id);

/* Writes CGI response headers and the blank line; content_type NULL
 * for none (204); extra is NULL or more header lines, each ending in
 * "\r\n". Returns the length. */
size_t front_headers(char *dst, int status, const char *content_type,
    const char *extra);

/* Writes to dst (FRONT_ACCESS_MAX bytes) extra (NULL, or header lines
 * of at most 64 bytes), then the CORS and Vary headers that req calls
 * for. Returns dst. */
const char *front_access_headers(char *dst, const struct req *req,
    const char *extra);

/* The reason phrase of an HTTP status sse-tail sends. */
const char *front_reason(int status);

/* Decides a CGI request from the environment. */
void front_cgi_request(const struct cfg *cfg, struct front_conn *conn);

struct srv;
/* Starts the thread that accepts FastCGI connections on listen_fd with
 * libfcgi, decides each request and hands it to srv_submit. Returns 0 and
 * sets *thread, or -1 with errno. */
int front_start_acceptor(int listen_fd, const struct cfg *cfg, struct srv *srv,
    pthread_t *thread);

/* Stops accepting: cancels the thread (it blocks in accept or read, both
 * cancellation points). The listening socket is left alone: spawn-fcgi -F
 * children share it, and they go on accepting. */
void front_stop_acceptor(pthread_t thread);

#endif
