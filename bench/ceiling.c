/*
 * ceiling: the upper bound for sse-tail's throughput. A minimal libfcgi app
 * that answers every request with event-stream headers and N pre-formatted
 * events from memory: "id: <offset>.<tag>\ndata: <line>\n\n", the ids and
 * lines sse-tail would send for a file of N lines of 99 bytes plus a
 * newline (line k: "k " padded with 'x' to 99 bytes; its id is 100*k, its
 * tag the FNV-1a 32 of the file's first min(100*k, 4096) bytes).
 * libfcgi accepts the request and writes the headers; the events go out as
 * STDOUT records of 65528 bytes, four to a writev(2) on the request's
 * socket, much as sse-tail writes its own (libfcgi's stream would cut them
 * into 8 KiB records, one write each).
 * N: query "lines=N", else env CEILING_LINES, else 1000000.
 * Listens on fd 0 (spawner) or --listen unix:/path | 127.0.0.1:PORT.
 */
#include <errno.h>
#include <stdint.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define LINE 99
#define RECORD 65528		/* content bytes a STDOUT record */
#define RECORDS_A_WRITE 4

static char *buf;		/* events 1..built, back to back */
static size_t *ends;		/* ends[k]: bytes of events 1..k */
static size_t built;
static uint32_t tag = 0x811c9dc5u;	/* of the first hashed bytes */
static size_t hashed;
#define TAG_SPAN 4096

static int
build(size_t n)
{
	size_t need;
	char *nb;
	size_t *ne;

	if (n <= built)
		return 0;
	need = ends[built] + (n - built) * (LINE + 40);
	if ((nb = realloc(buf, need)) == NULL ||
	    (buf = nb, ne = realloc(ends, (n + 1) * sizeof *ends)) == NULL)
		return -1;
	ends = ne;
	for (size_t k = built + 1; k <= n; k++) {
		char *p = buf + ends[k - 1], line[LINE + 1];
		int d = sprintf(line, "%zu ", k);
		int h;

		memset(line + d, 'x', LINE - d);
		line[LINE] = '\n';
		/* The tag grows with the file's first 4096 bytes, then stays. */
		for (size_t i = 0; i <= LINE && hashed < TAG_SPAN; i++, hashed++)
			tag = (tag ^ (unsigned char)line[i]) * 0x01000193u;
		h = sprintf(p, "id: %zu.%08x\ndata: ", k * (LINE + 1),
		    (unsigned)tag);
		memcpy(p + h, line, LINE);
		memcpy(p + h + LINE, "\n\n", 2);
		ends[k] = ends[k - 1] + h + LINE + 2;
	}
	built = n;
	return 0;
}

/* Writes bytes [off, end) of buf to the request's socket as FCGI_STDOUT
 * records. Returns 0, or -1 when the socket fails. */
static int
put_records(FCGX_Request *req, size_t off, size_t end)
{
	unsigned char hdr[RECORDS_A_WRITE][8];
	struct iovec iov[2 * RECORDS_A_WRITE];

	while (off < end) {
		int n = 0, i = 0;
		ssize_t w;

		for (; n < RECORDS_A_WRITE && off < end; n++) {
			size_t c = end - off > RECORD ? RECORD : end - off;

			hdr[n][0] = 1;			/* FCGI_VERSION_1 */
			hdr[n][1] = 6;			/* FCGI_STDOUT */
			hdr[n][2] = (unsigned char)(req->requestId >> 8);
			hdr[n][3] = (unsigned char)req->requestId;
			hdr[n][4] = (unsigned char)(c >> 8);
			hdr[n][5] = (unsigned char)c;
			hdr[n][6] = hdr[n][7] = 0;
			iov[2 * n].iov_base = hdr[n];
			iov[2 * n].iov_len = 8;
			iov[2 * n + 1].iov_base = buf + off;
			iov[2 * n + 1].iov_len = c;
			off += c;
		}
		n *= 2;
		while (i < n) {		/* a blocking socket: short only on EINTR */
			if ((w = writev(req->ipcFd, iov + i, n - i)) < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			for (; i < n && (size_t)w >= iov[i].iov_len; i++)
				w -= (ssize_t)iov[i].iov_len;
			if (i < n) {
				iov[i].iov_base = (char *)iov[i].iov_base + w;
				iov[i].iov_len -= (size_t)w;
			}
		}
	}
	return 0;
}

static size_t
lines_wanted(FCGX_ParamArray envp, size_t dflt)
{
	const char *q = FCGX_GetParam("QUERY_STRING", envp), *p;

	for (p = q; p != NULL && *p; p = strchr(p, '&'), p = p ? p + 1 : p)
		if (strncmp(p, "lines=", 6) == 0)
			return strtoull(p + 6, NULL, 10);
	return dflt;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("CEILING_LINES");
	size_t dflt = env ? strtoull(env, NULL, 10) : 1000000;
	int fd = 0;
	FCGX_Request req;

	if (argc == 3 && strcmp(argv[1], "--listen") == 0) {
		const char *a = argv[2];
		if (strncmp(a, "unix:", 5) == 0)
			a += 5;
		if ((fd = FCGX_OpenSocket(a, 4096)) < 0) {
			fprintf(stderr, "ceiling: cannot listen on %s\n", argv[2]);
			return 1;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: ceiling [--listen unix:/path|127.0.0.1:PORT]\n");
		return 2;
	}
	if ((ends = calloc(1, sizeof *ends)) == NULL || build(dflt) < 0)
		return 1;
	FCGX_Init();
	FCGX_InitRequest(&req, fd, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		size_t n = lines_wanted(req.envp, dflt);

		if (build(n) < 0) {
			FCGX_PutS("Status: 500 Internal Server Error\r\n\r\n", req.out);
			continue;
		}
		FCGX_PutS("Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
		    "X-Accel-Buffering: no\r\n\r\n: ceiling\n\n", req.out);
		if (FCGX_FFlush(req.out) == 0 && FCGX_GetError(req.out) == 0)
			(void)put_records(&req, 0, ends[n]);
	}
	return 0;
}
