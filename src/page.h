/* page.h - the documents sse-tail serves besides streams: the index of
 * streams (JSON or HTML) and the viewer page. */
#ifndef SSE_TAIL_PAGE_H
#define SSE_TAIL_PAGE_H

#include <stddef.h>

#include "cfg.h"
#include "req.h"

/* Each returns a malloc'd NUL-terminated body (the caller frees it), or
 * NULL on ENOMEM. The index lists the streams that req's user may open
 * (req_may_open). */
char *page_index_json(const struct cfg *cfg, const struct req *req);
char *page_index_html(const struct cfg *cfg, const struct req *req);
char *page_viewer(const struct cfg_stream *st);

#endif
