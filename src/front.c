/* front.c - the web server side: FastCGI records and the accept thread
 * (libfcgi), CGI parameters, and the CGI response headers. */
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front.h"
#include "log.h"
#include "srv.h"

#define FCGI_VERSION_1		1
#define FCGI_END_REQUEST	3
#define FCGI_STDOUT		6
#define ACCEPT_STACK		(256 * 1024)
#define FRONT_STR_(x)		#x
#define FRONT_STR(x)		FRONT_STR_(x)

static void
record_header(unsigned char *h, int type, uint16_t id, size_t len)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = 0;		/* no padding */
	h[7] = 0;
}

void
front_record_header(unsigned char h[FCGI_HEADER_LEN], uint16_t id, size_t len)
{
	record_header(h, FCGI_STDOUT, id, len);
}

size_t
front_end_request(unsigned char *dst, uint16_t id)
{
	record_header(dst, FCGI_STDOUT, id, 0);
	record_header(dst + 8, FCGI_END_REQUEST, id, 8);
	memset(dst + 16, 0, 8);	/* appStatus 0, FCGI_REQUEST_COMPLETE */
	return FRONT_END_LEN;
}

const char *
front_reason(int status)
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
front_headers(char *dst, int status, const char *content_type,
    const char *extra)
{
	int n;

	n = snprintf(dst, FRONT_HEADERS_MAX,
	    "Status: %d %s\r\n%s%s%s%s%s\r\n",
	    status, front_reason(status),
	    content_type ? "Content-Type: " : "", content_type ? content_type : "",
	    content_type ? "\r\n" : "",
	    status == 200 && content_type != NULL &&
	    strcmp(content_type, "text/event-stream") == 0
		? "Cache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\n"
		: "Cache-Control: no-cache\r\n",
	    extra ? extra : "");
	return n < FRONT_HEADERS_MAX ? (size_t)n : FRONT_HEADERS_MAX - 1;
}

const char *
front_access_headers(char *dst, const struct req *req, const char *extra)
{
	int cors = req->allow_origin != NULL;

	/* A listed origin may read with credentials (cookies, HTTP auth:
	 * EventSource's withCredentials); "*" never may, as CORS says. */
	snprintf(dst, FRONT_ACCESS_MAX, "%s%s%s%s%s%s%s",
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
		  "Access-Control-Max-Age: " FRONT_STR(FRONT_CORS_MAX_AGE) "\r\n"
		: "");
	return dst;
}

/* Decides a request from its parameters, got by name from get(arg, NAME):
 * getenv for CGI, the FastCGI PARAMS otherwise. The one list of the
 * parameters sse-tail reads. */
static void
decide(const struct cfg *cfg, struct front_conn *conn,
    const char *(*get)(void *, const char *), void *arg)
{
	struct req_params p;

	p.method = get(arg, "REQUEST_METHOD");
	p.path_info = get(arg, "PATH_INFO");
	p.query = get(arg, "QUERY_STRING");
	p.last_event_id = get(arg, "HTTP_LAST_EVENT_ID");
	p.accept = get(arg, "HTTP_ACCEPT");
	p.remote_user = get(arg, "REMOTE_USER");
	p.origin = get(arg, "HTTP_ORIGIN");
	p.cors_method = get(arg, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");
	req_parse(cfg, &p, &conn->req);
}

static const char *
get_env(void *arg, const char *name)
{
	(void)arg;
	return getenv(name);
}

static const char *
get_fcgx(void *arg, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)arg)->envp);
}

void
front_cgi_request(const struct cfg *cfg, struct front_conn *conn)
{
	memset(conn, 0, sizeof(*conn));
	conn->fd_in = -1;
	conn->fd_out = STDOUT_FILENO;
	decide(cfg, conn, get_env, NULL);
}

struct acceptor {
	int listen_fd;
	const struct cfg *cfg;
	struct srv *srv;
};

/* libfcgi does what it is good at, accepting a connection and reading the
 * request's parameters; then it lets go of the connection (ipcFd = -1, so
 * that the next FCGX_Accept_r does not close it) and the event loop writes
 * the FastCGI records itself. */
static void *
accept_main(void *arg)
{
	struct acceptor *a = arg;
	FCGX_Request r;

	pthread_cleanup_push(free, a);
	FCGX_InitRequest(&r, a->listen_fd, 0);
	for (;;) {
		struct front_conn conn;
		int rc = FCGX_Accept_r(&r);

		if (rc < 0) {
			struct timespec backoff = { 0, 100 * 1000 * 1000 };

			if (srv_stopping(a->srv))
				break;
			/* EMFILE and the like: wait, and keep serving. */
			log_msg("accept: %s", strerror(-rc));
			nanosleep(&backoff, NULL);
			continue;
		}
		memset(&conn, 0, sizeof(conn));
		conn.fd_in = conn.fd_out = r.ipcFd;
		conn.fcgi = 1;
		conn.request_id = (uint16_t)r.requestId;
		decide(a->cfg, &conn, get_fcgx, &r);
		r.ipcFd = -1;
		FCGX_Free(&r, 0);
		fcntl(conn.fd_in, F_SETFD, FD_CLOEXEC);
		srv_submit(a->srv, &conn);
	}
	pthread_cleanup_pop(1);
	return NULL;
}

int
front_start_acceptor(int listen_fd, const struct cfg *cfg, struct srv *srv,
    pthread_t *thread)
{
	struct acceptor *a;
	pthread_attr_t attr;
	int rc;

	if ((a = malloc(sizeof(*a))) == NULL)
		return -1;
	a->listen_fd = listen_fd;
	a->cfg = cfg;
	a->srv = srv;
	FCGX_Init();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, ACCEPT_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(thread, &attr, accept_main, a);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(a);
		errno = rc;
		return -1;
	}
	return 0;
}

void
front_stop_acceptor(pthread_t thread)
{
	pthread_cancel(thread);
}
