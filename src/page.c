/* page.c - the documents sse-tail serves besides streams: the index of
 * streams (JSON or HTML) and the viewer page. Stream names are
 * [A-Za-z0-9._-], so they need no escaping in JSON, HTML or URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"

/* The viewer (src/viewer.html, made a C array by tools/html2c.sh): the
 * page's own URL is its stream (EventSource asks for text/event-stream),
 * lines are added as text, never as HTML. @STREAM@ and @EVENT@ in it are
 * replaced with the stream's name and event name. */
#include "viewer_html.h"

/* Copies a name, keeping only [A-Za-z0-9._-] (what the configuration
 * allows), so that nothing in it can break out of HTML. */
static size_t
put_name(char *out, const char *name)
{
	size_t n = 0;

	for (; *name != '\0' && n < CFG_NAME_MAX; name++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", *name) != NULL)
			out[n++] = *name;
	return n;
}

char *
page_viewer(const struct cfg_stream *st)
{
	static const char k_stream[] = "@STREAM@", k_event[] = "@EVENT@";
	const char *event = st->event ? st->event : "message";
	const char *src = viewer_html, *at;
	size_t n = 0, len;
	char *page, *p;

	/* Each placeholder becomes at most CFG_NAME_MAX bytes. */
	for (at = src; (at = strchr(at, '@')) != NULL; at++)
		n++;
	len = sizeof(viewer_html) + n * CFG_NAME_MAX;
	if ((page = malloc(len)) == NULL)
		return NULL;
	for (p = page; *src != '\0'; ) {
		if (strncmp(src, k_stream, sizeof(k_stream) - 1) == 0) {
			p += put_name(p, st->name);
			src += sizeof(k_stream) - 1;
		} else if (strncmp(src, k_event, sizeof(k_event) - 1) == 0) {
			p += put_name(p, event);
			src += sizeof(k_event) - 1;
		} else
			*p++ = *src++;
	}
	*p = '\0';
	return page;
}

char *
page_index_json(const struct cfg *cfg, const struct req *req)
{
	size_t i, len = 4 + cfg->nstreams * (CFG_NAME_MAX + 3);
	char *page = malloc(len), *p;

	if (page == NULL)
		return NULL;
	p = page;
	*p++ = '[';
	for (i = 0; i < cfg->nstreams; i++)
		if (req_may_open(&cfg->streams[i], req))
			p += sprintf(p, "%s\"%s\"", p > page + 1 ? "," : "",
			    cfg->streams[i].name);
	strcpy(p, "]\n");
	return page;
}

char *
page_index_html(const struct cfg *cfg, const struct req *req)
{
	static const char head[] =
	    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<meta name=\"color-scheme\" content=\"light dark\">"
	    "<title>sse-tail</title><style>body{font:15px/1.5 system-ui,"
	    "sans-serif;margin:2em}li{font-family:ui-monospace,monospace}"
	    "</style></head><body><h1>Streams</h1><ul>\n";
	static const char tail[] = "</ul></body></html>\n";
	size_t i, len = sizeof(head) + sizeof(tail) +
	    cfg->nstreams * (2 * CFG_NAME_MAX + 40);
	char *page = malloc(len), *p;

	if (page == NULL)
		return NULL;
	p = page + sprintf(page, "%s", head);
	/* A query link works wherever the responder is mounted. */
	for (i = 0; i < cfg->nstreams; i++)
		if (req_may_open(&cfg->streams[i], req))
			p += sprintf(p, "<li><a href=\"?stream=%s\">%s</a></li>\n",
			    cfg->streams[i].name, cfg->streams[i].name);
	strcpy(p, tail);
	return page;
}
