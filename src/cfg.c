/* cfg.c - the configuration file: global keys, then one section a stream. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"

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

static int
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

int
cfg_valid_name(const char *name, size_t len)
{
	size_t i;

	if (len < 1 || len > CFG_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
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

static int
set_int(struct parser *p, const struct int_key *k, const char *value)
{
	char *end;
	long v;

	if (*value < '0' || *value > '9')
		return fail(p, "%s: \"%s\" is not a whole number", k->name, value);
	errno = 0;
	v = strtol(value, &end, 10);
	if (*end != '\0')
		return fail(p, "%s: \"%s\" is not a whole number", k->name, value);
	if (errno == ERANGE || v < k->min || v > k->max)
		return fail(p, "%s: %s is out of range %ld to %ld", k->name, value,
		    k->min, k->max);
	if (k->is_size)
		*(size_t *)(void *)((char *)p->cur + k->offset) = (size_t)v;
	else
		*(int *)(void *)((char *)p->cur + k->offset) = (int)v;
	return 0;
}

const char *
cfg_list_next(const char *list, const char *w)
{
	if (list == NULL)
		return NULL;
	w = w == NULL ? list : w + strlen(w) + 1;
	return *w != '\0' ? w : NULL;
}

/* Copies a list with its final empty word; NULL stays NULL. Returns 0, or
 * -1 on ENOMEM. */
static int
list_dup(char **dst, const char *src)
{
	const char *w, *last = NULL;
	size_t len;

	*dst = NULL;
	if (src == NULL)
		return 0;
	for (w = cfg_list_next(src, NULL); w != NULL; w = cfg_list_next(src, w))
		last = w;
	len = last == NULL ? 1 : (size_t)(last - src) + strlen(last) + 2;
	if ((*dst = malloc(len)) == NULL)
		return -1;
	memcpy(*dst, src, len);
	return 0;
}

/* A name in allow-users: what a web server may put in REMOTE_USER, less
 * control characters (and the white space that separates names). Returns
 * NULL, or what is wrong. */
static const char *
check_user(const char *w, size_t len, char *out)
{
	size_t i;

	if (len > CFG_USER_MAX)
		return "a name is longer than 256 bytes";
	for (i = 0; i < len; i++)
		if ((unsigned char)w[i] < 0x20 || w[i] == 0x7f)
			return "a name contains a control character";
	memcpy(out, w, len);
	out[len] = '\0';
	return NULL;
}

/* An origin in allow-origin, http or https://host[:port] and nothing
 * after it, written to out as a browser sends it in Origin: scheme and
 * host in lowercase, no default port. Returns NULL, or what is wrong. */
static const char *
check_origin(const char *w, size_t len, char *out)
{
	static const char host_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
	const char *bad = "an origin is http://HOST or https://HOST, with an "
	    "optional :PORT and no path";
	const char *host, *end = w + len, *h;
	char *o = out;
	long port = -1;
	int https;

	if (len > 8 && strncasecmp(w, "https://", 8) == 0) {
		https = 1;
		host = w + 8;
	} else if (len > 7 && strncasecmp(w, "http://", 7) == 0) {
		https = 0;
		host = w + 7;
	} else
		return bad;
	h = host;
	if (*h == '[') {
		h++;
		while (h < end && strchr("0123456789abcdefABCDEF:.", *h) != NULL)
			h++;
		if (h == host + 1 || h == end || *h != ']')
			return bad;
		h++;
	} else {
		while (h < end && strchr(host_chars, *h) != NULL)
			h++;
		if (h == host)
			return bad;
	}
	if (h < end && *h == ':') {
		const char *d = h + 1;

		port = 0;
		if (d == end)
			return bad;
		for (; d < end; d++) {
			if (*d < '0' || *d > '9' || port > 65535)
				return bad;
			port = port * 10 + (*d - '0');
		}
		if (port < 1 || port > 65535)
			return "an origin's port is 1 to 65535";
		if (port == (https ? 443 : 80))
			port = -1;
	} else if (h != end)
		return bad;
	if ((size_t)(h - host) + 8 + 6 > CFG_ORIGIN_MAX)
		return "an origin is longer than 255 bytes";
	o += sprintf(o, "%s://", https ? "https" : "http");
	for (; host < h; host++)
		*o++ = (*host >= 'A' && *host <= 'Z') ? *host - 'A' + 'a' : *host;
	if (port > 0)
		o += sprintf(o, ":%ld", port);
	*o = '\0';
	return NULL;
}

/* Reads a space-separated access list into *field (replacing what the
 * section inherited): each word checked and written by check, or "*"
 * alone. */
static int
set_list(struct parser *p, const char *key, unsigned bit, char **field,
    const char *(*check)(const char *, size_t, char *), const char *value)
{
	const char *w = value, *why;
	char *list, *o;
	size_t len, n = 0;
	int star = 0;

	if (p->seen & bit)
		return fail(p, "%s given twice", key);
	p->seen |= bit;
	/* A word is never longer once checked: room for each and the end. */
	if ((list = malloc(strlen(value) + 2)) == NULL)
		return fail(p, "malloc: %s", strerror(errno));
	for (o = list; *w != '\0'; w += len, n++) {
		w += strspn(w, " \t");
		if ((len = strcspn(w, " \t")) == 0)
			break;
		if (len == 1 && *w == '*') {
			star = 1;
			*o++ = '*';
			*o++ = '\0';
			continue;
		}
		if ((why = check(w, len, o)) != NULL) {
			free(list);
			return fail(p, "%s: %s", key, why);
		}
		o += strlen(o) + 1;
	}
	*o = '\0';
	if (star && n > 1) {
		free(list);
		return fail(p, "%s: \"*\" stands alone", key);
	}
	free(*field);
	*field = list;
	return 0;
}

static int
set_key(struct parser *p, const char *key, const char *value)
{
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
		if (value[0] != '/')
			return fail(p, "path must be absolute");
		if (strlen(value) >= PATH_MAX)
			return fail(p, "path is too long");
		if ((p->cur->path = strdup(value)) == NULL)
			return fail(p, "strdup: %s", strerror(errno));
		return 0;
	}
	if (strcmp(key, "event") == 0) {
		if (p->seen & SEEN_EVENT)
			return fail(p, "event given twice");
		p->seen |= SEEN_EVENT;
		if (!cfg_valid_name(value, strlen(value)))
			return fail(p, "event: \"%s\" is not [A-Za-z0-9._-]{1,64}",
			    value);
		if (strcmp(value, "reset") == 0)
			return fail(p, "event: \"reset\" is reserved for resets");
		free(p->cur->event);
		if ((p->cur->event = strdup(value)) == NULL)
			return fail(p, "strdup: %s", strerror(errno));
		return 0;
	}
	if (strcmp(key, "allow-users") == 0)
		return set_list(p, key, SEEN_USERS, &p->cur->allow_users,
		    check_user, value);
	if (strcmp(key, "allow-origin") == 0)
		return set_list(p, key, SEEN_ORIGIN, &p->cur->allow_origin,
		    check_origin, value);
	return fail(p, "unknown key \"%s\"", key);
}

/* Closes the section being read: a stream needs its path. */
static int
end_section(struct parser *p)
{
	if (p->cur != &p->cfg->defaults && p->cur->path == NULL) {
		p->line = p->cur_line;
		return fail(p, "stream \"%s\" has no path", p->cur->name);
	}
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
	if (!cfg_valid_name(name, strlen(name)))
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
	if (cfg->defaults.event != NULL &&
	    (st->event = strdup(cfg->defaults.event)) == NULL)
		return fail(p, "strdup: %s", strerror(errno));
	if (list_dup(&st->allow_users, cfg->defaults.allow_users) < 0 ||
	    list_dup(&st->allow_origin, cfg->defaults.allow_origin) < 0)
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
	if (*value == '\0')
		return fail(p, "%s has no value", key);
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
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
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

/* Two access lists with the same words in the same order, or both unset. */
static int
same_list(const char *a, const char *b)
{
	const char *wa = NULL, *wb = NULL;

	if (a == NULL || b == NULL)
		return a == b;
	do {
		wa = cfg_list_next(a, wa);
		wb = cfg_list_next(b, wb);
	} while (wa != NULL && wb != NULL && strcmp(wa, wb) == 0);
	return wa == NULL && wb == NULL;
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
	    same_list(a->allow_users, b->allow_users) &&
	    same_list(a->allow_origin, b->allow_origin);
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
	}
	free(cfg->streams);
	free(cfg->defaults.event);
	free(cfg->defaults.allow_users);
	free(cfg->defaults.allow_origin);
	memset(cfg, 0, sizeof(*cfg));
}
