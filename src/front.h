/* front.h - the web server side: a request's CGI parameters decided (from
 * the environment or a FastCGI request), and the peers a TCP listener
 * serves. */
#ifndef SSE_TAIL_FRONT_H
#define SSE_TAIL_FRONT_H

#include "cfg.h"
#include "fcgi.h"
#include "req.h"

#define FRONT_ADDRS_MAX		64

/* FCGI_WEB_SERVER_ADDRS: the only peers a TCP listener serves. */
struct front_addrs {
	size_t n;		/* 0: every peer */
	struct front_addr {
		int family;	/* AF_INET or AF_INET6 */
		unsigned char bytes[16];
	} addr[FRONT_ADDRS_MAX];
};

/* Decides a CGI request from the environment. */
void front_cgi_request(const struct cfg *cfg, struct req *req);

/* Decides a FastCGI request from the parameters the reader holds (after
 * FCGI_EV_REQUEST); parameters over FCGI_PARAMS_MAX are a 400. */
void front_fcgi_request(const struct cfg *cfg, const struct fcgi_reader *r,
    struct req *req);

/* Parses FCGI_WEB_SERVER_ADDRS (NULL or empty: every peer), a comma-
 * separated list of IPv4 or IPv6 addresses, as libfcgi did. Returns 0, or
 * -1 with what is wrong in err. */
int front_addrs_parse(struct front_addrs *a, const char *list, char *err,
    size_t errlen);

/* True when a peer (a sockaddr from accept) may be served: every unix
 * socket peer; a TCP one when the list is empty or names it. */
int front_addr_allowed(const struct front_addrs *a, const void *sockaddr);

#endif
