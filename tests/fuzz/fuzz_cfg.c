/* fuzz_cfg.c - libFuzzer harness of the configuration parser (cfg.c):
 * what cfg_parse accepts is valid and parses again to the same, what it
 * refuses leaves cfg empty with a message that fits err.
 *
 * Input: the text of the file; a first byte below 8 is not part of it
 * but picks a smaller err buffer. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"

#define FILE_NAME	"fuzz.conf"

static const size_t errlens[] = { 0, 1, 8, 10, 11, 12, 40, 256 };

/* An access list: words as cfg.h describes them, "*" alone; each user
 * without control characters or blanks, each origin as a browser writes
 * it (lowercase http or https://host[:port], no default port). */
static void
check_list(const char *list, int origins)
{
	const char *w;
	size_t n = 0, i, len;
	int star = 0;

	for (w = NULL; (w = cfg_value_list_next(list, w)) != NULL; n++) {
		len = strlen(w);
		FUZZ_CHECK(len > 0, "an empty word");
		if (strcmp(w, "*") == 0) {
			star = 1;
			continue;
		}
		for (i = 0; i < len; i++)
			FUZZ_CHECK((unsigned char)w[i] > 0x20 && w[i] != 0x7f,
			    "a control character or blank in \"%s\"", w);
		if (!origins) {
			FUZZ_CHECK(len <= CFG_USER_MAX, "user of %zu bytes", len);
			continue;
		}
		FUZZ_CHECK(len <= CFG_ORIGIN_MAX, "origin of %zu bytes", len);
		FUZZ_CHECK(strncmp(w, "http://", 7) == 0 ||
		    strncmp(w, "https://", 8) == 0, "origin \"%s\"", w);
		for (i = 0; i < len; i++)
			FUZZ_CHECK(w[i] < 'A' || w[i] > 'Z', "uppercase in %s", w);
		FUZZ_CHECK(strchr(strchr(w, ':') + 3, '/') == NULL,
		    "a path in %s", w);
		FUZZ_CHECK((len < 3 || strcmp(w + len - 3, ":80") != 0 ||
		    strncmp(w, "https", 5) == 0) && (len < 4 ||
		    strcmp(w + len - 4, ":443") != 0 || strncmp(w, "http:", 5) == 0),
		    "a default port in %s", w);
	}
	FUZZ_CHECK(list == NULL || n > 0, "an empty list");
	FUZZ_CHECK(!star || n == 1, "\"*\" with other words");
}

/* Writes an access list back as a key. The first word follows the '='
 * at once: only there can a word start with '#' (after a blank it would
 * start a comment). */
static void
write_list(FILE *f, const char *key, const char *list)
{
	const char *w;

	if (list == NULL)
		return;
	fprintf(f, "%s =", key);
	for (w = NULL; (w = cfg_value_list_next(list, w)) != NULL; )
		fprintf(f, "%s%s", w == list ? "" : " ", w);
	fprintf(f, "\n");
}

/* A stream's rotated list: at most CFG_ROTATED_MAX absolute paths, '*'
 * and '?' in the last component only. */
static void
check_rotated(const struct cfg_stream *st)
{
	const char *w = NULL;
	size_t n = 0;

	FUZZ_CHECK(st->rotated != NULL, "a stream without its rotated list");
	while ((w = cfg_value_list_next(st->rotated, w)) != NULL) {
		const char *base = strrchr(w, '/');

		FUZZ_CHECK(w[0] == '/' && base != NULL && base[1] != '\0',
		    "rotated path %s", w);
		FUZZ_CHECK(strcspn(w, "*?") >= (size_t)(base - w),
		    "a glob before the last component: %s", w);
		n++;
	}
	FUZZ_CHECK(n <= CFG_ROTATED_MAX, "%zu rotated paths", n);
}

/* Checks what every stream of an accepted configuration must be. */
static void
check_stream(const struct cfg_stream *st, int is_defaults)
{
	FUZZ_CHECK(st->heartbeat >= 1 && st->heartbeat <= 3600, "heartbeat");
	FUZZ_CHECK(st->retry >= 0 && st->retry <= 3600000, "retry");
	FUZZ_CHECK(st->backlog >= 0 && st->backlog <= 100000, "backlog");
	FUZZ_CHECK(st->max_clients >= 1 && st->max_clients <= 1000000,
	    "max-clients");
	FUZZ_CHECK(st->max_line >= 16 && st->max_line <= 1048576, "max-line");
	FUZZ_CHECK(st->buffer >= 4096 && st->buffer <= 1073741824, "buffer");
	if (st->event != NULL) {
		FUZZ_CHECK(cfg_value_is_name(st->event, strlen(st->event)),
		    "event \"%s\"", st->event);
		FUZZ_CHECK(strcmp(st->event, "reset") != 0 &&
		    strcmp(st->event, "rotated") != 0, "event %s", st->event);
	}
	check_list(st->allow_users, 0);
	check_list(st->allow_origin, 1);
	if (is_defaults) {
		FUZZ_CHECK(st->path == NULL, "a path in the defaults");
		return;
	}
	FUZZ_CHECK(cfg_value_is_name(st->name, strlen(st->name)), "name");
	FUZZ_CHECK(st->path != NULL && st->path[0] == '/' &&
	    strlen(st->path) < PATH_MAX, "path");
	FUZZ_CHECK(strchr(st->path, '\n') == NULL, "newline in path");
	check_rotated(st);
}

/* Appends the keys of st to f, all of them. */
static void
write_keys(FILE *f, const struct cfg_stream *st)
{
	fprintf(f, "heartbeat = %d\nretry = %d\nbacklog = %d\n"
	    "max-clients = %d\nmax-line = %zu\nbuffer = %zu\n",
	    st->heartbeat, st->retry, st->backlog, st->max_clients,
	    st->max_line, st->buffer);
	if (st->event != NULL)
		fprintf(f, "event = %s\n", st->event);
	write_list(f, "allow-users", st->allow_users);
	write_list(f, "allow-origin", st->allow_origin);
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int
same_list(const char *a, const char *b)
{
	const char *wa = NULL, *wb = NULL;

	if ((a == NULL) != (b == NULL))
		return 0;
	do {
		wa = cfg_value_list_next(a, wa);
		wb = cfg_value_list_next(b, wb);
	} while (wa != NULL && wb != NULL && strcmp(wa, wb) == 0);
	return wa == NULL && wb == NULL;
}

static int
same_stream(const struct cfg_stream *a, const struct cfg_stream *b)
{
	return strcmp(a->name, b->name) == 0 && same_str(a->path, b->path) &&
	    same_str(a->event, b->event) && a->heartbeat == b->heartbeat &&
	    a->retry == b->retry && a->backlog == b->backlog &&
	    a->max_clients == b->max_clients && a->max_line == b->max_line &&
	    a->buffer == b->buffer && same_list(a->allow_users, b->allow_users) &&
	    same_list(a->allow_origin, b->allow_origin) &&
	    same_list(a->rotated, b->rotated);
}

/* True when st's rotated list is the default: PATH.1 alone. */
static int
is_default_rotated(const struct cfg_stream *st)
{
	const char *w = cfg_value_list_next(st->rotated, NULL);
	size_t len = strlen(st->path);

	return w != NULL && cfg_value_list_next(st->rotated, w) == NULL &&
	    strncmp(w, st->path, len) == 0 && strcmp(w + len, ".1") == 0;
}

/* Writes cfg back as a file and parses it again: the same must come out
 * (the stream keys are written out in full, so the defaults only matter
 * for the event, which a stream inherits). */
static void
round_trip(const struct cfg *cfg)
{
	struct cfg again;
	char err[256], *text = NULL;
	size_t i, len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	FUZZ_CHECK(f != NULL, "open_memstream");
	write_keys(f, &cfg->defaults);
	for (i = 0; i < cfg->nstreams; i++) {
		const struct cfg_stream *st = &cfg->streams[i];

		fprintf(f, "[stream %s]\npath = %s\n", st->name, st->path);
		write_keys(f, st);
		/* The default (PATH.1, which may hold spaces a list could
		 * not) is left to the parser; empty: "rotated =". */
		if (!is_default_rotated(st))
			write_list(f, "rotated", st->rotated);
		/* A stream without an event of its own still inherits the
		 * global one. */
		FUZZ_CHECK(st->event != NULL || cfg->defaults.event == NULL,
		    "a stream lost the global event");
	}
	FUZZ_CHECK(fclose(f) == 0, "fclose");
	FUZZ_CHECK(cfg_parse(&again, text, FILE_NAME, err, sizeof(err)) == 0,
	    "written back, refused: %s\n%s", err, text);
	FUZZ_CHECK(again.nstreams == cfg->nstreams, "stream count");
	for (i = 0; i < cfg->nstreams; i++)
		FUZZ_CHECK(same_stream(&again.streams[i], &cfg->streams[i]) &&
		    cfg_stream_equal(&again.streams[i], &cfg->streams[i]),
		    "stream %zu differs", i);
	cfg_free(&again);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct cfg cfg, zero;
	size_t errlen, i, j;
	char *text, *err;
	int rc;

	errlen = 256;
	if (in.len > 0 && in.p[0] < 8)
		errlen = errlens[fuzz_byte(&in)];
	text = malloc(in.len + 1);
	err = malloc(errlen ? errlen : 1);
	FUZZ_CHECK(text && err, "malloc");
	memcpy(text, in.p, in.len);
	text[in.len] = '\0';	/* a NUL inside ends the text early */

	rc = cfg_parse(&cfg, text, FILE_NAME, err, errlen);
	memset(&zero, 0, sizeof(zero));
	if (rc == 0) {
		FUZZ_CHECK(cfg.nstreams >= 1 && cfg.streams != NULL, "streams");
		check_stream(&cfg.defaults, 1);
		for (i = 0; i < cfg.nstreams; i++) {
			check_stream(&cfg.streams[i], 0);
			FUZZ_CHECK(cfg_find(&cfg, cfg.streams[i].name) ==
			    &cfg.streams[i], "cfg_find");
			for (j = 0; j < i; j++)
				FUZZ_CHECK(strcmp(cfg.streams[i].name,
				    cfg.streams[j].name) != 0, "a name twice");
		}
		round_trip(&cfg);
	} else {
		FUZZ_CHECK(rc == -1, "rc %d", rc);
		FUZZ_CHECK(memcmp(&cfg, &zero, sizeof(cfg)) == 0,
		    "a refused cfg is not empty");
		if (errlen > 0)
			FUZZ_CHECK(memchr(err, '\0', errlen) != NULL,
			    "err not terminated");
		if (errlen > strlen(FILE_NAME ":"))
			FUZZ_CHECK(strncmp(err, FILE_NAME ":",
			    strlen(FILE_NAME ":")) == 0, "err \"%s\"", err);
	}
	cfg_free(&cfg);
	FUZZ_CHECK(memcmp(&cfg, &zero, sizeof(cfg)) == 0, "cfg_free");
	free(text);
	free(err);
	return 0;
}
