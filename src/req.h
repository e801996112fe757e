/* req.h - what a request asks for: CGI parameters in, a decision out. */
#ifndef SSE_TAIL_REQ_H
#define SSE_TAIL_REQ_H

#include <stdint.h>

#include "cfg.h"
#include "id.h"

#define REQ_QUERY_MAX	4096	/* a longer QUERY_STRING is refused */
#define REQ_LINES_MAX	CFG_BACKLOG_MAX

enum req_kind {
	REQ_STREAM,		/* the event stream of one stream */
	REQ_VIEWER,		/* the HTML viewer of one stream */
	REQ_INDEX_JSON,		/* the names of all streams, as JSON */
	REQ_INDEX_HTML,		/* the names of all streams, as a page */
	REQ_PREFLIGHT,		/* a CORS preflight (OPTIONS) to allow: 204 */
	REQ_ERROR		/* status and message say what is wrong */
};

/* The CGI parameters a request is decided on; any may be NULL. */
struct req_params {
	const char *method;		/* REQUEST_METHOD */
	const char *path_info;		/* PATH_INFO */
	const char *query;		/* QUERY_STRING */
	const char *last_event_id;	/* HTTP_LAST_EVENT_ID */
	const char *accept;		/* HTTP_ACCEPT */
	const char *remote_user;	/* REMOTE_USER: who the web server
					 * authenticated */
	const char *origin;		/* HTTP_ORIGIN */
	const char *cors_method;	/* HTTP_ACCESS_CONTROL_REQUEST_METHOD */
};

struct req {
	enum req_kind kind;
	int head;		/* HEAD: answer the headers only */
	int status;		/* REQ_ERROR: 400, 403, 404 or 405 */
	const char *message;	/* REQ_ERROR: a static one-line text */
	int stream;		/* REQ_STREAM, REQ_VIEWER: index in cfg */
	enum id_kind id_kind;	/* its Last-Event-ID: ID_NONE for none */
	struct id_pos last_id;	/* ... and where it points */
	int lines;		/* backlog for this request, -1: the stream's */
	/* Access. Strings point into the cfg (or are static): they live as
	 * long as it does. */
	const char *user;	/* REMOTE_USER as some allow-users spells it;
				 * NULL when none names it */
	int authenticated;	/* REMOTE_USER was set and not empty */
	const char *allow_origin;	/* Access-Control-Allow-Origin to send:
					 * the request's origin or "*"; NULL:
					 * no CORS headers */
	int vary_origin;	/* the answer depends on Origin (the stream
				 * has allow-origin): send Vary: Origin */
};

/* Decides what the request asks for. Never fails: a bad request is
 * REQ_ERROR with the status to answer. Nothing in params is kept. */
void req_parse(const struct cfg *cfg, const struct req_params *params,
    struct req *req);

/* Returns 1 when the request's user may open st (its allow-users), else
 * 0. */
int req_may_open(const struct cfg_stream *st, const struct req *req);

/* Returns 1 when the Accept header prefers text/html over
 * text/event-stream (a browser navigating), else 0. */
int req_prefers_html(const char *accept);

#endif
