/*
 * ceiling: the upper bound for sse-tail's throughput. A minimal libfcgi app
 * that answers every request with event-stream headers and N pre-formatted
 * events from memory: "id: <offset>\ndata: <line>\n\n", the ids and lines
 * sse-tail would send for a file of N lines of 99 bytes plus a newline
 * (line k: "k" padded with 'x' to 99 bytes; its id is 100*k).
 * N: query "lines=N", else env CEILING_LINES, else 1000000.
 * Listens on fd 0 (spawner) or --listen unix:/path | 127.0.0.1:PORT.
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE 99

static char *buf;		/* events 1..built, back to back */
static size_t *ends;		/* ends[k]: bytes of events 1..k */
static size_t built, cap;

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
	cap = need;
	for (size_t k = built + 1; k <= n; k++) {
		char *p = buf + ends[k - 1];
		int h = sprintf(p, "id: %zu\ndata: ", k * (LINE + 1));
		int d = sprintf(p + h, "%zu ", k);
		memset(p + h + d, 'x', LINE - d);
		memcpy(p + h + LINE, "\n\n", 2);
		ends[k] = ends[k - 1] + h + LINE + 2;
	}
	built = n;
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
	(void)cap;
	FCGX_Init();
	FCGX_InitRequest(&req, fd, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		size_t n = lines_wanted(req.envp, dflt), off = 0, end;

		if (build(n) < 0) {
			FCGX_PutS("Status: 500 Internal Server Error\r\n\r\n", req.out);
			continue;
		}
		FCGX_PutS("Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
		    "X-Accel-Buffering: no\r\n\r\n: ceiling\n\n", req.out);
		end = ends[n];
		while (off < end && FCGX_GetError(req.out) == 0) {
			size_t c = end - off > 65536 ? 65536 : end - off;
			if (FCGX_PutStr(buf + off, (int)c, req.out) != (int)c)
				break;
			off += c;
		}
		FCGX_FFlush(req.out);
	}
	return 0;
}
