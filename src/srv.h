/* srv.h - the event loop: one thread that owns every connection, follower
 * and pipe of the process, reads every request and writes every response. */
#ifndef SSE_TAIL_SRV_H
#define SSE_TAIL_SRV_H

#include "cfg.h"
#include "req.h"

struct srv;

/* Makes the loop; it takes cfg over (and zeroes the caller's copy), and
 * reads config_path (which must outlive it) again at SIGHUP. NULL on
 * failure, logged; cfg is freed then too. */
struct srv *srv_new(const char *config_path, struct cfg *cfg);
void srv_free(struct srv *s);

/* Serves FastCGI on the listening socket until SIGTERM or SIGINT (every
 * open stream is then ended cleanly). Returns the exit status. */
int srv_run(struct srv *s, int listen_fd);

/* Answers one CGI request, decided, on stdout; returns once it is done,
 * or at SIGTERM. Returns the exit status. */
int srv_run_cgi(struct srv *s, const struct req *req);

#endif
