/* srv.h - the event loop: one thread that owns every client, follower and
 * pipe of the process and writes every response. */
#ifndef SSE_TAIL_SRV_H
#define SSE_TAIL_SRV_H

#include "cfg.h"
#include "front.h"

struct srv;

/* Makes the loop for cfg (which must outlive it). NULL on failure, logged. */
struct srv *srv_new(const struct cfg *cfg);
void srv_free(struct srv *s);

/* Hands a decided request to the loop; the loop owns conn's descriptors
 * from here on. Safe from any thread. */
void srv_submit(struct srv *s, const struct front_conn *conn);

/* True once SIGTERM or SIGINT was received. Safe from any thread. */
int srv_stopping(struct srv *s);

/* Runs until SIGTERM/SIGINT (every open stream is then ended cleanly) or,
 * with once set (CGI), until the first request is done. With listen_fd
 * not -1, a thread accepts FastCGI connections on it until SIGTERM.
 * Returns the process's exit status. */
int srv_run(struct srv *s, int listen_fd, int once);

#endif
