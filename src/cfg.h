/* cfg.h - the configuration file: global keys, then one section a stream. */
#ifndef SSE_TAIL_CFG_H
#define SSE_TAIL_CFG_H

#include <stddef.h>

#include "cfg_value.h"	/* CFG_NAME_MAX, access lists, names */

#define CFG_BACKLOG_MAX 100000	/* lines: backlog, and a request's lines */

/* The settings of one stream; the global section uses the same struct for
 * the defaults that every stream inherits. */
struct cfg_stream {
	char name[CFG_NAME_MAX + 1];
	char *path;		/* absolute; NULL only in the defaults */
	char *event;		/* the event: field, NULL for none */
	int heartbeat;		/* seconds between keep-alive comments */
	int retry;		/* milliseconds, sent as retry: */
	int backlog;		/* lines for a client with no Last-Event-ID */
	int max_clients;	/* open streams of this stream per process */
	size_t max_line;	/* bytes kept of one line */
	size_t buffer;		/* bytes of recent lines a named pipe keeps */
	/* Access lists: NULL when the key is not set, else words, each
	 * NUL-terminated, after the last an empty one ("a\0b\0\0"); walk
	 * them with cfg_value_list_next. "*" stands alone. */
	char *allow_users;	/* REMOTE_USER names; "*": any; NULL: anyone */
	char *allow_origin;	/* origins, as a browser writes them; "*": any;
				 * NULL: no cross-origin reads */
	/* The files path is rotated to, newest first, in the same form
	 * (absolute paths; '*' and '?' may stand in the last component).
	 * An empty list: none. NULL only in the defaults. */
	char *rotated;
};

struct cfg {
	struct cfg_stream defaults;	/* the global keys */
	struct cfg_stream *streams;
	size_t nstreams;
};

/* Parses the text of a configuration file. On error returns -1, writes
 * "FILE:LINE: what" to err and leaves cfg empty; on success returns 0 and
 * the caller owns cfg (cfg_free). */
int cfg_parse(struct cfg *cfg, const char *text, const char *file,
    char *err, size_t errlen);

/* Reads and parses FILE, as cfg_parse; a failing read is reported in err as
 * "FILE: strerror". */
int cfg_load(struct cfg *cfg, const char *file, char *err, size_t errlen);

/* True when two streams have the same name and settings (every key, the
 * inherited ones included): a reload leaves such a stream alone. */
int cfg_stream_equal(const struct cfg_stream *a, const struct cfg_stream *b);

/* Returns the stream called name, or NULL. */
const struct cfg_stream *cfg_find(const struct cfg *cfg, const char *name);

/* Releases what cfg_parse allocated; safe on a zeroed or freed cfg. */
void cfg_free(struct cfg *cfg);

#endif
