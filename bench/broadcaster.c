/*
 * broadcaster: the floor for fan-out delivery latency. One thread, one
 * epoll loop, no libfcgi. Listens on --listen unix:/path, answers every
 * FastCGI request (after its empty PARAMS record) with event-stream
 * headers, and when --file PATH grows (inotify IN_MODIFY) sends each new
 * complete line as "id: <offset past newline>\ndata: <line>\n\n" in one
 * FCGI_STDOUT record to every client. Starts at the file's end. A client
 * that closes, errs or whose socket buffer is full is dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

struct client {
	int fd, ready;
	unsigned char in[8 + 65535 + 255];
	size_t len;
	unsigned char hdr[8];	/* STDOUT header, request id filled in */
};

static struct client **cl;	/* by fd */
static int ncl, maxfd;

static void
drop(struct client *c)
{
	close(c->fd);
	cl[c->fd] = NULL;
	free(c);
}

static void
set_len(unsigned char *h, size_t n)
{
	h[4] = n >> 8;
	h[5] = n & 255;
	h[6] = 0;
}

/* one record: header + body; anything short of all of it drops the client */
static int
send_rec(struct client *c, const char *body, size_t n)
{
	struct iovec v[2] = {{c->hdr, 8}, {(void *)body, n}};

	set_len(c->hdr, n);
	if (writev(c->fd, v, 2) != (ssize_t)(8 + n)) {
		drop(c);
		return -1;
	}
	return 0;
}

static void
on_input(struct client *c)
{
	ssize_t r = read(c->fd, c->in + c->len, sizeof c->in - c->len);
	static const char head[] = "Status: 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "X-Accel-Buffering: no\r\n\r\n: broadcaster\n\n";

	if (r <= 0) {
		if (r == 0 || errno != EAGAIN)
			drop(c);
		return;
	}
	c->len += r;
	for (;;) {
		unsigned char *h = c->in;
		size_t clen, tot;

		if (c->len < 8)
			return;
		clen = (size_t)h[4] << 8 | h[5];
		tot = 8 + clen + h[6];
		if (c->len < tot)
			return;
		if (h[1] == 1) {		/* BEGIN_REQUEST */
			c->hdr[0] = 1;
			c->hdr[1] = 6;		/* STDOUT */
			c->hdr[2] = h[2];
			c->hdr[3] = h[3];
		} else if (h[1] == 4 && clen == 0 && !c->ready) { /* PARAMS end */
			c->ready = 1;
			if (send_rec(c, head, sizeof head - 1) < 0)
				return;
		}
		memmove(c->in, c->in + tot, c->len - tot);
		c->len -= tot;
	}
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *file = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev, evs[256];
	static char rbuf[1 << 16], out[65535];
	size_t have = 0;
	off_t off;
	int lfd, ifd, ep, ffd;

	for (int i = 1; i + 1 < argc; i += 2)
		if (strcmp(argv[i], "--listen") == 0 &&
		    strncmp(argv[i + 1], "unix:", 5) == 0)
			sock = argv[i + 1] + 5;
		else if (strcmp(argv[i], "--file") == 0)
			file = argv[i + 1];
	if (sock == NULL || file == NULL || strlen(sock) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: broadcaster --listen unix:/path --file PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ncl = 1 << 16;
	cl = calloc(ncl, sizeof *cl);
	if ((ffd = open(file, O_RDONLY)) < 0 ||
	    (off = lseek(ffd, 0, SEEK_END)) < 0) {
		perror(file);
		return 1;
	}
	strcpy(sa.sun_path, sock);
	unlink(sock);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(lfd, 4096) < 0 ||
	    (ifd = inotify_init1(IN_NONBLOCK)) < 0 ||
	    inotify_add_watch(ifd, file, IN_MODIFY) < 0 ||
	    (ep = epoll_create1(0)) < 0) {
		perror("broadcaster");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = ifd;
	epoll_ctl(ep, EPOLL_CTL_ADD, ifd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) >= 0) {
					if (c >= ncl || (cl[c] = calloc(1,
					    sizeof **cl)) == NULL) {
						close(c);
						continue;
					}
					cl[c]->fd = c;
					if (c > maxfd)
						maxfd = c;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
			} else if (fd == ifd) {
				char ib[4096];
				ssize_t r;

				while (read(ifd, ib, sizeof ib) > 0)
					;
				while ((r = pread(ffd, rbuf + have,
				    sizeof rbuf - have, off)) > 0) {
					char *p = rbuf, *end = rbuf + have + r, *nl;
					size_t o = 0;

					off += r;
					/* format the new complete lines into
					 * records of at most 65535 bytes */
					while ((nl = memchr(p, '\n', end - p))) {
						long long id = (long long)(off -
						    (end - nl - 1));
						char tmp[64];
						int h = snprintf(tmp, sizeof tmp,
						    "id: %lld\ndata: ", id);
						size_t L = nl - p, need = h + L + 2;

						if (need > sizeof out)
							break;	/* line too long */
						if (o + need > sizeof out) {
							for (int k = 0; k <= maxfd; k++)
								if (cl[k] && cl[k]->ready)
									send_rec(cl[k], out, o);
							o = 0;
						}
						memcpy(out + o, tmp, h);
						memcpy(out + o + h, p, L);
						memcpy(out + o + h + L, "\n\n", 2);
						o += need;
						p = nl + 1;
					}
					if (o)
						for (int k = 0; k <= maxfd; k++)
							if (cl[k] && cl[k]->ready)
								send_rec(cl[k], out, o);
					have = end - p;	/* partial line */
					memmove(rbuf, p, have);
					if (have == sizeof rbuf)
						have = 0;	/* overlong: skip */
				}
			} else if (cl[fd] != NULL) {
				on_input(cl[fd]);
			}
		}
	}
}
