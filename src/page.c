/* page.c - the documents sse-tail serves besides streams: the index of
 * streams (JSON or HTML) and the viewer page. Stream names are
 * [A-Za-z0-9._-], so they need no escaping in JSON, HTML or URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"

/* The viewer: the page's own URL is its stream (EventSource asks for
 * text/event-stream), lines are added as text, never as HTML. */
static const char viewer_html[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n"
    "<title>%s - sse-tail</title>\n"
    "<style>body{margin:0;font:13px monospace}#log{white-space:pre-wrap;"
    "padding:4px}#st{position:fixed;top:0;right:0;padding:2px 6px;"
    "background:#ddd}.reset{border-top:1px dashed #888;color:#888}</style>\n"
    "</head><body><div id=\"st\">connecting</div><div id=\"log\"></div>\n"
    "<script>\n"
    "const log=document.getElementById('log'),st=document.getElementById('st');\n"
    "const es=new EventSource(location.href);\n"
    "function add(t,c){const d=document.createElement('div');d.textContent=t;"
    "if(c)d.className=c;log.appendChild(d);"
    "while(log.childNodes.length>10000)log.removeChild(log.firstChild);"
    "window.scrollTo(0,document.body.scrollHeight);}\n"
    "es.onopen=()=>{st.textContent='live'};\n"
    "es.onerror=()=>{st.textContent='reconnecting'};\n"
    "es.onmessage=e=>add(e.data);\n"
    "es.addEventListener('%s',e=>add(e.data));\n"
    "es.addEventListener('reset',e=>add('--- '+e.data+' ---','reset'));\n"
    "</script></body></html>\n";

char *
page_viewer(const struct cfg_stream *st)
{
	size_t len = sizeof(viewer_html) + 2 * CFG_NAME_MAX;
	char *page = malloc(len);

	if (page != NULL)
		snprintf(page, len, viewer_html, st->name,
		    st->event ? st->event : "message");
	return page;
}

char *
page_index_json(const struct cfg *cfg)
{
	size_t i, len = 4 + cfg->nstreams * (CFG_NAME_MAX + 3);
	char *page = malloc(len), *p;

	if (page == NULL)
		return NULL;
	p = page;
	*p++ = '[';
	for (i = 0; i < cfg->nstreams; i++)
		p += sprintf(p, "%s\"%s\"", i ? "," : "", cfg->streams[i].name);
	strcpy(p, "]\n");
	return page;
}

char *
page_index_html(const struct cfg *cfg)
{
	static const char head[] =
	    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>sse-tail</title></head><body><h1>Streams</h1><ul>\n";
	static const char tail[] = "</ul></body></html>\n";
	size_t i, len = sizeof(head) + sizeof(tail) +
	    cfg->nstreams * (2 * CFG_NAME_MAX + 40);
	char *page = malloc(len), *p;

	if (page == NULL)
		return NULL;
	p = page + sprintf(page, "%s", head);
	/* A query link works wherever the responder is mounted. */
	for (i = 0; i < cfg->nstreams; i++)
		p += sprintf(p, "<li><a href=\"?stream=%s\">%s</a></li>\n",
		    cfg->streams[i].name, cfg->streams[i].name);
	strcpy(p, tail);
	return page;
}
