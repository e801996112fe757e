/* cfg_value.h - one configuration value, parsed and checked. */
#ifndef SSE_TAIL_CFG_VALUE_H
#define SSE_TAIL_CFG_VALUE_H

#include <stddef.h>

#define CFG_NAME_MAX 64
#define CFG_USER_MAX 256	/* bytes of one name in allow-users */
#define CFG_ORIGIN_MAX 255	/* bytes of one origin in allow-origin */
#define CFG_ROTATED_MAX 16	/* paths in rotated, and files a resume tries */

/* How a value that is wrong is reported: fail(arg, fmt, ...) writes what
 * is wrong (the caller adds where) and returns -1. */
struct cfg_value_err {
	int (*fail)(void *arg, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	void *arg;
};

/* Each cfg_value_ parser below reads the value of key: it returns 0 and
 * stores the value, or reports through e and returns -1. */

/* A whole number from min to max, into *out. */
int cfg_value_int(const char *key, const char *value, long min, long max,
    long *out, const struct cfg_value_err *e);

/* An absolute path shorter than PATH_MAX, into *out (the caller frees;
 * *out is untouched on error). */
int cfg_value_path(const char *key, const char *value, char **out,
    const struct cfg_value_err *e);

/* An event name, [A-Za-z0-9._-]{1,64} but not "reset" or "rotated": frees *out and puts
 * a copy there (NULL when that copy fails). */
int cfg_value_event(const char *key, const char *value, char **out,
    const struct cfg_value_err *e);

/* A space-separated allow-users list (names without control characters,
 * or "*" alone), or an allow-origin list (http or https://host[:port],
 * kept as a browser writes it, or "*" alone): frees *out and puts the
 * list there, as cfg.h describes access lists; *out is untouched on
 * error. */
int cfg_value_users(const char *key, const char *value, char **out,
    const struct cfg_value_err *e);
int cfg_value_origins(const char *key, const char *value, char **out,
    const struct cfg_value_err *e);

/* A space-separated rotated list: at most CFG_ROTATED_MAX absolute paths
 * shorter than PATH_MAX, '*' and '?' in the last component only; empty:
 * none. Frees *out and puts the list there, as cfg.h describes access
 * lists; *out is untouched on error. */
int cfg_value_rotated(const char *key, const char *value, char **out,
    const struct cfg_value_err *e);

/* True when name is a valid stream name: [A-Za-z0-9._-]{1,64}. */
int cfg_value_is_name(const char *name, size_t len);

/* Walks an access list: returns the word after w (the first when w is
 * NULL), or NULL after the last one or when list is NULL. */
const char *cfg_value_list_next(const char *list, const char *w);

/* Copies a list with its final empty word; NULL stays NULL. Returns 0, or
 * -1 on ENOMEM. */
int cfg_value_list_dup(char **dst, const char *src);

/* True for two access lists with the same words in the same order, or
 * both unset. */
int cfg_value_list_equal(const char *a, const char *b);

#endif
