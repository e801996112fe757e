/* front.c - the web server side: a request's CGI parameters decided (from
 * the environment or a FastCGI request), and the peers a TCP listener
 * serves. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "front.h"

typedef const char *(*param_fn)(const char *name, const void *from);

static void
decide(const struct cfg *cfg, param_fn get, const void *from, struct req *req)
{
	struct req_params p;

	p.method = get("REQUEST_METHOD", from);
	p.path_info = get("PATH_INFO", from);
	p.query = get("QUERY_STRING", from);
	p.last_event_id = get("HTTP_LAST_EVENT_ID", from);
	p.accept = get("HTTP_ACCEPT", from);
	p.remote_user = get("REMOTE_USER", from);
	p.origin = get("HTTP_ORIGIN", from);
	p.cors_method = get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", from);
	req_parse(cfg, &p, req);
}

static const char *
env_param(const char *name, const void *unused)
{
	(void)unused;
	return getenv(name);
}

void
front_cgi_request(const struct cfg *cfg, struct req *req)
{
	decide(cfg, env_param, NULL, req);
}

static const char *
fcgi_reader_param(const char *name, const void *reader)
{
	return fcgi_param(reader, name);
}

void
front_fcgi_request(const struct cfg *cfg, const struct fcgi_reader *r,
    struct req *req)
{
	if (r->params_overflow) {
		memset(req, 0, sizeof(*req));
		req->kind = REQ_ERROR;
		req->status = 400;
		req->message = "request parameters over 64 KiB";
		req->stream = -1;
		req->id_kind = ID_NONE;
		req->lines = -1;
		return;
	}
	decide(cfg, fcgi_reader_param, r, req);
}

int
front_addrs_parse(struct front_addrs *a, const char *list, char *err,
    size_t errlen)
{
	const char *p = list;

	a->n = 0;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct front_addr *ad = &a->addr[a->n];
		char one[INET6_ADDRSTRLEN];

		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0) {
			if (a->n == FRONT_ADDRS_MAX) {
				snprintf(err, errlen, "FCGI_WEB_SERVER_ADDRS: more "
				    "than %d addresses", FRONT_ADDRS_MAX);
				return -1;
			}
			if (len >= sizeof(one)) {
				snprintf(err, errlen, "FCGI_WEB_SERVER_ADDRS: "
				    "not an address: %.40s", p);
				return -1;
			}
			memcpy(one, p, len);
			one[len] = '\0';
			memset(ad->bytes, 0, sizeof(ad->bytes));
			if (inet_pton(AF_INET, one, ad->bytes) == 1)
				ad->family = AF_INET;
			else if (inet_pton(AF_INET6, one, ad->bytes) == 1)
				ad->family = AF_INET6;
			else {
				snprintf(err, errlen, "FCGI_WEB_SERVER_ADDRS: "
				    "not an address: %s", one);
				return -1;
			}
			a->n++;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int
front_addr_allowed(const struct front_addrs *a, const void *sockaddr)
{
	const struct sockaddr *sa = sockaddr;
	const unsigned char *bytes;
	size_t i, len;

	if (sa->sa_family == AF_INET) {
		bytes = (const unsigned char *)
		    &((const struct sockaddr_in *)sockaddr)->sin_addr;
		len = 4;
	} else if (sa->sa_family == AF_INET6) {
		bytes = (const unsigned char *)
		    &((const struct sockaddr_in6 *)sockaddr)->sin6_addr;
		len = 16;
	} else
		return 1;	/* a unix socket: its mode decides */
	if (a->n == 0)
		return 1;
	for (i = 0; i < a->n; i++)
		if (a->addr[i].family == sa->sa_family &&
		    memcmp(a->addr[i].bytes, bytes, len) == 0)
			return 1;
	return 0;
}
