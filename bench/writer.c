/* writer.c - appends numbered lines to a file at a steady pace, for
 * sse-tail benchmarks.
 *
 * Line k (k = 0 .. COUNT-1) is written at start + (k+1)*INTERVAL on
 * CLOCK_MONOTONIC (absolute deadlines: no drift), with one write(2) on an
 * O_APPEND descriptor. The line is
 *     SEQ filler...\n            or, with -T,
 *     TS SEQ filler...\n
 * where SEQ = FIRST + k and TS is CLOCK_REALTIME in ns, read just before the
 * write. Lines are plain ASCII, padded with filler to LEN bytes (newline
 * included) when they are shorter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
usage(void)
{
	fprintf(stderr,
	    "usage: writer -o FILE [-i INTERVAL_MS] [-d DURATION_S] [-n COUNT]\n"
	    "              [-s FIRST] [-l LEN] [-T]\n"
	    "  -o FILE  file to append to (created if missing)\n"
	    "  -i MS    milliseconds between lines (default 100)\n"
	    "  -d S     seconds to run (default 30): COUNT = S*1000/MS\n"
	    "  -n N     number of lines (overrides -d)\n"
	    "  -s SEQ   first SEQ (default 1)\n"
	    "  -l LEN   pad each line to LEN bytes with its newline (default 64)\n"
	    "  -T       start each line with CLOCK_REALTIME in ns\n");
	exit(2);
}

static int64_t
ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	double interval_ms = 100, duration_s = 30;
	long long count = -1, first = 1, k;
	int len = 64, stamp = 0, ch, fd;
	int64_t t0, late_max = 0, late_sum = 0;
	char line[4096];
	static const char filler[] = " sse-tail bench line abcdefghijklmnopqrstuvwxyz";

	while ((ch = getopt(argc, argv, "o:i:d:n:s:l:T")) != -1) {
		switch (ch) {
		case 'o': path = optarg; break;
		case 'i': interval_ms = atof(optarg); break;
		case 'd': duration_s = atof(optarg); break;
		case 'n': count = atoll(optarg); break;
		case 's': first = atoll(optarg); break;
		case 'l': len = atoi(optarg); break;
		case 'T': stamp = 1; break;
		default: usage();
		}
	}
	if (path == NULL || interval_ms < 0 || optind != argc || len < 0 ||
	    len >= (int)sizeof(line))
		usage();
	if (count < 0)
		count = interval_ms > 0 ?
		    (long long)(duration_s * 1000 / interval_ms + 0.5) : 0;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "writer: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = ns(CLOCK_MONOTONIC);
	for (k = 0; k < count; k++) {
		int64_t due = t0 + (int64_t)((double)(k + 1) * interval_ms * 1e6);
		struct timespec ts = { (time_t)(due / 1000000000),
		    (long)(due % 1000000000) };
		int n, f = 0;
		ssize_t w;

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
		if (stamp)
			n = snprintf(line, sizeof(line), "%lld %lld",
			    (long long)ns(CLOCK_REALTIME), first + k);
		else
			n = snprintf(line, sizeof(line), "%lld", first + k);
		while (n < len - 1)
			line[n++] = filler[f++ % (sizeof(filler) - 1)];
		line[n++] = '\n';
		{
			int64_t late = ns(CLOCK_MONOTONIC) - due;

			if (late > late_max)
				late_max = late;
			late_sum += late;
		}
		if ((w = write(fd, line, (size_t)n)) != n) {
			fprintf(stderr, "writer: write %s: %s\n", path,
			    w < 0 ? strerror(errno) : "short write");
			return 1;
		}
	}
	close(fd);
	fprintf(stderr, "writer: lines=%lld first=%lld last=%lld "
	    "late_avg_us=%lld late_max_us=%lld\n", count, first,
	    first + count - 1, count ? (long long)(late_sum / count / 1000) : 0,
	    (long long)(late_max / 1000));
	return 0;
}
