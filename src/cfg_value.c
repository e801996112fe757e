/* cfg_value.c - one configuration value, parsed and checked. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg_value.h"

int
cfg_value_int(const char *key, const char *value, long min, long max,
    long *out, const struct cfg_value_err *e)
{
	char *end;
	long v;

	if (*value < '0' || *value > '9')
		return e->fail(e->arg, "%s: \"%s\" is not a whole number", key,
		    value);
	errno = 0;
	v = strtol(value, &end, 10);
	if (*end != '\0')
		return e->fail(e->arg, "%s: \"%s\" is not a whole number", key,
		    value);
	if (errno == ERANGE || v < min || v > max)
		return e->fail(e->arg, "%s: %s is out of range %ld to %ld", key,
		    value, min, max);
	*out = v;
	return 0;
}

int
cfg_value_path(const char *key, const char *value, char **out,
    const struct cfg_value_err *e)
{
	if (value[0] != '/')
		return e->fail(e->arg, "%s must be absolute", key);
	if (strlen(value) >= PATH_MAX)
		return e->fail(e->arg, "%s is too long", key);
	if ((*out = strdup(value)) == NULL)
		return e->fail(e->arg, "strdup: %s", strerror(errno));
	return 0;
}

int
cfg_value_event(const char *key, const char *value, char **out,
    const struct cfg_value_err *e)
{
	if (!cfg_value_is_name(value, strlen(value)))
		return e->fail(e->arg, "%s: \"%s\" is not [A-Za-z0-9._-]{1,64}",
		    key, value);
	if (strcmp(value, "reset") == 0 || strcmp(value, "rotated") == 0)
		return e->fail(e->arg, "%s: \"%s\" is reserved for sse-tail's "
		    "own events", key, value);
	free(*out);
	if ((*out = strdup(value)) == NULL)
		return e->fail(e->arg, "strdup: %s", strerror(errno));
	return 0;
}

int
cfg_value_is_name(const char *name, size_t len)
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

const char *
cfg_value_list_next(const char *list, const char *w)
{
	if (list == NULL)
		return NULL;
	w = w == NULL ? list : w + strlen(w) + 1;
	return *w != '\0' ? w : NULL;
}

int
cfg_value_list_dup(char **dst, const char *src)
{
	const char *w, *last = NULL;
	size_t len;

	*dst = NULL;
	if (src == NULL)
		return 0;
	for (w = cfg_value_list_next(src, NULL); w != NULL; w = cfg_value_list_next(src, w))
		last = w;
	len = last == NULL ? 1 : (size_t)(last - src) + strlen(last) + 2;
	if ((*dst = malloc(len)) == NULL)
		return -1;
	memcpy(*dst, src, len);
	return 0;
}

int
cfg_value_list_equal(const char *a, const char *b)
{
	const char *wa = NULL, *wb = NULL;

	if (a == NULL || b == NULL)
		return a == b;
	do {
		wa = cfg_value_list_next(a, wa);
		wb = cfg_value_list_next(b, wb);
	} while (wa != NULL && wb != NULL && strcmp(wa, wb) == 0);
	return wa == NULL && wb == NULL;
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
set_list(const char *key, const char *value, char **field,
    const char *(*check)(const char *, size_t, char *), int star_ok,
    const struct cfg_value_err *e)
{
	const char *w = value, *why;
	char *list, *o;
	size_t len, n = 0;
	int star = 0;

	/* A word is never longer once checked: room for each and the end. */
	if ((list = malloc(strlen(value) + 2)) == NULL)
		return e->fail(e->arg, "malloc: %s", strerror(errno));
	for (o = list; *w != '\0'; w += len, n++) {
		w += strspn(w, " \t");
		if ((len = strcspn(w, " \t")) == 0)
			break;
		if (len == 1 && *w == '*' && star_ok) {
			star = 1;
			*o++ = '*';
			*o++ = '\0';
			continue;
		}
		if ((why = check(w, len, o)) != NULL) {
			free(list);
			return e->fail(e->arg, "%s: %s", key, why);
		}
		o += strlen(o) + 1;
	}
	*o = '\0';
	if (star && n > 1) {
		free(list);
		return e->fail(e->arg, "%s: \"*\" stands alone", key);
	}
	free(*field);
	*field = list;
	return 0;
}

int
cfg_value_users(const char *key, const char *value, char **out,
    const struct cfg_value_err *e)
{
	return set_list(key, value, out, check_user, 1, e);
}

int
cfg_value_origins(const char *key, const char *value, char **out,
    const struct cfg_value_err *e)
{
	return set_list(key, value, out, check_origin, 1, e);
}

/* A path in rotated: absolute, shorter than PATH_MAX, with '*' and '?'
 * in its last component only. */
static const char *
check_rotated(const char *w, size_t len, char *out)
{
	const char *slash = w + len;

	if (*w != '/')
		return "a path must be absolute";
	if (len >= PATH_MAX)
		return "a path is too long";
	while (slash[-1] != '/')
		slash--;
	if (slash == w + len)
		return "a path names a directory";
	if (memchr(w, '*', (size_t)(slash - w)) != NULL ||
	    memchr(w, '?', (size_t)(slash - w)) != NULL)
		return "'*' and '?' belong in the last component";
	memcpy(out, w, len);
	out[len] = '\0';
	return NULL;
}

int
cfg_value_rotated(const char *key, const char *value, char **out,
    const struct cfg_value_err *e)
{
	char *list = NULL;
	const char *w = NULL;
	size_t n = 0;

	if (set_list(key, value, &list, check_rotated, 0, e) < 0)
		return -1;
	while ((w = cfg_value_list_next(list, w)) != NULL)
		n++;
	if (n > CFG_ROTATED_MAX) {
		free(list);
		return e->fail(e->arg, "%s: more than %d paths", key,
		    CFG_ROTATED_MAX);
	}
	free(*out);
	*out = list;
	return 0;
}
