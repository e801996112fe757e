/* cfg.c - the configuration file: global keys, then one section a stream. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_value.h"

#define CFG_FILE_MAX	(1024 * 1024)	/* a larger file is surely a mistake */

/* The integer keys, their bounds and where they live in cfg_stream. */
struct int_key {
	const char *name;
	long min, max;
	size_t offset;
	int is_size;		/* size_t field, else int */
};

static const struct int_key int_keys[] = {
	{ "heartbeat", 1, 3600, offsetof(struct cfg_stream, heartbeat), 0 },
	{ "retry", 0, 3600000, offsetof(struct cfg_stream, retry), 0 },
	{ "backlog", 0, CFG_BACKLOG_MAX, offsetof(struct cfg_stream, backlog), 0 },
	{ "max-clients", 1, 1000000, offsetof(struct cfg_stream, max_clients), 0 },
	{ "max-line", 16, 1048576, offsetof(struct cfg_stream, max_line), 1 },
	{ "buffer", 4096, 1073741824, offsetof(struct cfg_stream, buffer), 1 },
};
#define NINT_KEYS (sizeof(int_keys) / sizeof(int_keys[0]))

/* Bits of the keys seen in the current section, to refuse duplicates. */
#define SEEN_PATH	(1u << NINT_KEYS)
#define SEEN_EVENT	(1u << (NINT_KEYS + 1))
#define SEEN_USERS	(1u << (NINT_KEYS + 2))
#define SEEN_ORIGIN	(1u << (NINT_KEYS + 3))
#define SEEN_ROTATED	(1u << (NINT_KEYS + 4))

struct parser {
	struct cfg *cfg;
	const char *file;
	int line;
	char *err;
	size_t errlen;
	struct cfg_stream *cur;	/* the section being read, or &defaults */
	int cur_line;		/* the line of its header */
	unsigned seen;
};

/* Writes "FILE:LINE: what" to err; returns -1. */
static int
vfail(struct parser *p, const char *fmt, va_list ap)
{
	int n;

	n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	return -1;
}

static int __attribute__((format(printf, 2, 3)))
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(p, fmt, ap);
	va_end(ap);
	return -1;
}

/* The cfg_value_err callback: arg is the parser. */
static int __attribute__((format(printf, 2, 3)))
value_fail(void *arg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(arg, fmt, ap);
	va_end(ap);
	return -1;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* Cuts a comment: '#' at the start of the line or after white space. */
static void
strip_comment(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

/* Reads integer key k into the section being read. */
static int
set_int(struct parser *p, const struct int_key *k, const char *value)
{
	struct cfg_value_err e = { value_fail, p };
	long v;

	if (cfg_value_int(k->name, value, k->min, k->max, &v, &e) < 0)
		return -1;
	if (k->is_size)
		*(size_t *)(void *)((char *)p->cur + k->offset) = (size_t)v;
	else
		*(int *)(void *)((char *)p->cur + k->offset) = (int)v;
	return 0;
}

/* Reads "key = value" into the section being read; a key once a section. */
static int
set_key(struct parser *p, const char *key, const char *value)
{
	struct cfg_value_err e = { value_fail, p };
	size_t i;

	for (i = 0; i < NINT_KEYS; i++)
		if (strcmp(key, int_keys[i].name) == 0) {
			if (p->seen & (1u << i))
				return fail(p, "%s given twice", key);
			p->seen |= 1u << i;
			return set_int(p, &int_keys[i], value);
		}
	if (strcmp(key, "path") == 0) {
		if (p->cur == &p->cfg->defaults)
			return fail(p, "path belongs in a [stream NAME] section");
		if (p->seen & SEEN_PATH)
			return fail(p, "path given twice");
		p->seen |= SEEN_PATH;
		return cfg_value_path(key, value, &p->cur->path, &e);
	}
	if (strcmp(key, "event") == 0) {
		if (p->seen & SEEN_EVENT)
			return fail(p, "event given twice");
		p->seen |= SEEN_EVENT;
		return cfg_value_event(key, value, &p->cur->event, &e);
	}
	if (strcmp(key, "allow-users") == 0) {
		if (p->seen & SEEN_USERS)
			return fail(p, "%s given twice", key);
		p->seen |= SEEN_USERS;
		return cfg_value_users(key, value, &p->cur->allow_users, &e);
	}
	if (strcmp(key, "allow-origin") == 0) {
		if (p->seen & SEEN_ORIGIN)
			return fail(p, "%s given twice", key);
		p->seen |= SEEN_ORIGIN;
		return cfg_value_origins(key, value, &p->cur->allow_origin,
		    &e);
	}
	if (strcmp(key, "rotated") == 0) {
		if (p->cur == &p->cfg->defaults)
			return fail(p, "rotated belongs in a [stream NAME] section");
		if (p->seen & SEEN_ROTATED)
			return fail(p, "rotated given twice");
		p->seen |= SEEN_ROTATED;
		return cfg_value_rotated(key, value, &p->cur->rotated, &e);
	}
	return fail(p, "unknown key \"%s\"", key);
}

/* A stream without a rotated key: its path is rotated to PATH.1. */
static int
default_rotated(struct cfg_stream *st)
{
	size_t len = strlen(st->path);

	/* None when PATH.1 would be too long, or would read as a glob. */
	if (len + 2 >= PATH_MAX || strpbrk(st->path, "*?") != NULL)
		return (st->rotated = calloc(1, 1)) == NULL ? -1 : 0;
	if ((st->rotated = malloc(len + 4)) == NULL)
		return -1;
	memcpy(st->rotated, st->path, len);
	memcpy(st->rotated + len, ".1\0", 4);	/* the list's end: "\0\0" */
	return 0;
}

/* Closes the section being read: a stream needs its path. */
static int
end_section(struct parser *p)
{
	if (p->cur != &p->cfg->defaults && p->cur->path == NULL) {
		p->line = p->cur_line;
		return fail(p, "stream \"%s\" has no path", p->cur->name);
	}
	if (p->cur != &p->cfg->defaults && !(p->seen & SEEN_ROTATED) &&
	    default_rotated(p->cur) < 0)
		return fail(p, "malloc: %s", strerror(errno));
	return 0;
}

static int
begin_section(struct parser *p, char *s)
{
	struct cfg *cfg = p->cfg;
	struct cfg_stream *st, *grown;
	char *name, *end;

	end = strchr(s, ']');
	if (end == NULL || end[1] != '\0')
		return fail(p, "a section header is \"[stream NAME]\"");
	*end = '\0';
	name = trim(s + 1);
	if (strncmp(name, "stream", 6) != 0 || (name[6] != ' ' && name[6] != '\t'))
		return fail(p, "a section header is \"[stream NAME]\"");
	name = trim(name + 6);
	if (!cfg_value_is_name(name, strlen(name)))
		return fail(p, "stream name \"%s\" is not [A-Za-z0-9._-]{1,64}",
		    name);
	if (cfg_find(cfg, name) != NULL)
		return fail(p, "stream \"%s\" is defined twice", name);

	grown = realloc(cfg->streams, (cfg->nstreams + 1) * sizeof(*grown));
	if (grown == NULL)
		return fail(p, "realloc: %s", strerror(errno));
	cfg->streams = grown;
	st = &cfg->streams[cfg->nstreams++];
	*st = cfg->defaults;
	st->path = NULL;
	st->event = NULL;
	st->allow_users = st->allow_origin = NULL;
	st->rotated = NULL;
	if (cfg->defaults.event != NULL &&
	    (st->event = strdup(cfg->defaults.event)) == NULL)
		return fail(p, "strdup: %s", strerror(errno));
	if (cfg_value_list_dup(&st->allow_users,
	    cfg->defaults.allow_users) < 0 ||
	    cfg_value_list_dup(&st->allow_origin,
	    cfg->defaults.allow_origin) < 0)
		return fail(p, "malloc: %s", strerror(errno));
	memcpy(st->name, name, strlen(name) + 1);
	p->cur = st;
	p->cur_line = p->line;
	p->seen = 0;
	return 0;
}

static int
parse_line(struct parser *p, char *s)
{
	char *eq, *key, *value;

	strip_comment(s);
	s = trim(s);
	if (*s == '\0')
		return 0;
	if (*s == '[') {
		if (end_section(p) < 0)
			return -1;
		return begin_section(p, s);
	}
	if ((eq = strchr(s, '=')) == NULL)
		return fail(p, "expected \"key = value\"");
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (*key == '\0')
		return fail(p, "expected \"key = value\"");
	if (*value == '\0' && strcmp(key, "rotated") != 0)
		return fail(p, "%s has no value", key);	/* rotated: none */
	return set_key(p, key, value);
}

int
cfg_parse(struct cfg *cfg, const char *text, const char *file, char *err,
    size_t errlen)
{
	struct parser p;
	char *copy, *line, *next;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->defaults.heartbeat = 15;
	cfg->defaults.retry = 3000;
	cfg->defaults.backlog = 10;
	cfg->defaults.max_clients = 1000;
	cfg->defaults.max_line = 65536;
	cfg->defaults.buffer = 1048576;

	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.file = file;
	p.err = err;
	p.errlen = errlen;
	p.cur = &cfg->defaults;

	if ((copy = strdup(text)) == NULL) {
		snprintf(err, errlen, "%s: strdup: %s", file, strerror(errno));
		return -1;
	}
	for (line = copy; line != NULL && rc == 0; line = next) {
		p.line++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		rc = parse_line(&p, line);
	}
	if (rc == 0)
		rc = end_section(&p);
	if (rc == 0 && cfg->nstreams == 0) {
		p.line = 0;
		snprintf(err, errlen, "%s: no [stream NAME] section", file);
		rc = -1;
	}
	free(copy);
	if (rc < 0)
		cfg_free(cfg);
	return rc;
}

int
cfg_load(struct cfg *cfg, const char *file, char *err, size_t errlen)
{
	struct stat sb;
	char *text;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((fd = open(file, O_RDONLY | O_NOCTTY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: open: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > CFG_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes",
		    file, CFG_FILE_MAX);
		close(fd);
		return -1;
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: malloc: %s", file, strerror(errno));
		close(fd);
		return -1;
	}
	while (len < (size_t)sb.st_size &&
	    (n = read(fd, text + len, (size_t)sb.st_size - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: read: %s", file, strerror(errno));
			free(text);
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", file);
		free(text);
		return -1;
	}
	rc = cfg_parse(cfg, text, file, err, errlen);
	free(text);
	return rc;
}

static int
same_string(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
cfg_stream_equal(const struct cfg_stream *a, const struct cfg_stream *b)
{
	return strcmp(a->name, b->name) == 0 && same_string(a->path, b->path) &&
	    same_string(a->event, b->event) && a->heartbeat == b->heartbeat &&
	    a->retry == b->retry && a->backlog == b->backlog &&
	    a->max_clients == b->max_clients && a->max_line == b->max_line &&
	    a->buffer == b->buffer &&
	    /* A stream whose access changed ends its clients: who may read
	     * it is decided when a client connects. */
	    cfg_value_list_equal(a->allow_users, b->allow_users) &&
	    cfg_value_list_equal(a->allow_origin, b->allow_origin) &&
	    cfg_value_list_equal(a->rotated, b->rotated);
}

const struct cfg_stream *
cfg_find(const struct cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nstreams; i++)
		if (strcmp(cfg->streams[i].name, name) == 0)
			return &cfg->streams[i];
	return NULL;
}

void
cfg_free(struct cfg *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nstreams; i++) {
		free(cfg->streams[i].path);
		free(cfg->streams[i].event);
		free(cfg->streams[i].allow_users);
		free(cfg->streams[i].allow_origin);
		free(cfg->streams[i].rotated);
	}
	free(cfg->streams);
	free(cfg->defaults.event);
	free(cfg->defaults.allow_users);
	free(cfg->defaults.allow_origin);
	memset(cfg, 0, sizeof(*cfg));
}
