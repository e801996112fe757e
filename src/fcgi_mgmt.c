/* fcgi_mgmt.c - FastCGI management records: a GET_VALUES record read pair
 * by pair without buffering it, and the GET_VALUES_RESULT answer. */
#include <stdio.h>
#include <string.h>

#include "fcgi.h"
#include "fcgi_mgmt.h"

enum { GV_NAME_LEN, GV_VALUE_LEN, GV_NAME, GV_VALUE };

/* The variables GET_VALUES may ask for, in the order they are answered. */
static const char *const known_values[] = {
	FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS
};
#define NKNOWN	(sizeof(known_values) / sizeof(known_values[0]))

/* Moves past the parts of a pair that are complete; a known name that
 * was read in full is marked as asked for. */
static void
gv_advance(struct fcgi_gv *g, uint8_t *asked)
{
	size_t i;

	if (g->phase == GV_NAME && g->name_got == g->name_len) {
		/* The whole name, a NUL in it included, is the known one
		 * (each is shorter than g->name, so it was kept whole). */
		for (i = 0; i < NKNOWN; i++)
			if (g->name_len == strlen(known_values[i]) &&
			    memcmp(g->name, known_values[i],
			    g->name_len) == 0)
				*asked |= 1u << i;
		g->phase = GV_VALUE;
	}
	if (g->phase == GV_VALUE && g->value_got == g->value_len)
		g->phase = GV_NAME_LEN;
}

/* Reads one length byte; returns 1 when the length is complete in *len. */
static int
gv_length_byte(struct fcgi_gv *g, unsigned char b, size_t *len)
{
	g->lenbuf[g->len_got++] = b;
	if (g->len_got == 1 && !(b & 0x80)) {
		*len = b;
	} else if (g->len_got == 4) {
		*len = (size_t)(g->lenbuf[0] & 0x7f) << 24 |
		    (size_t)g->lenbuf[1] << 16 |
		    (size_t)g->lenbuf[2] << 8 | g->lenbuf[3];
	} else
		return 0;
	g->len_got = 0;
	return 1;
}

void
fcgi_gv_feed(struct fcgi_gv *g, uint8_t *asked, const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t take;

		switch (g->phase) {
		case GV_NAME_LEN:
			if (gv_length_byte(g, *p, &g->name_len)) {
				g->name_got = 0;
				g->phase = GV_VALUE_LEN;
			}
			p++, n--;
			continue;
		case GV_VALUE_LEN:
			if (gv_length_byte(g, *p, &g->value_len)) {
				g->value_got = 0;
				g->phase = GV_NAME;
				gv_advance(g, asked);
			}
			p++, n--;
			continue;
		case GV_NAME:
			take = g->name_len - g->name_got;
			if (take > n)
				take = n;
			if (g->name_got < sizeof(g->name) - 1) {
				size_t keep = sizeof(g->name) - 1 - g->name_got;

				memcpy(g->name + g->name_got, p,
				    take < keep ? take : keep);
			}
			g->name_got += take;
			break;
		default:
			take = g->value_len - g->value_got;
			if (take > n)
				take = n;
			g->value_got += take;
			break;
		}
		p += take;
		n -= take;
		gv_advance(g, asked);
	}
}

/* Appends one name-value pair with 1-byte lengths; the caller has room. */
static size_t
put_pair(unsigned char *dst, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	dst[0] = (unsigned char)nl;
	dst[1] = (unsigned char)vl;
	memcpy(dst + 2, name, nl);
	memcpy(dst + 2 + nl, value, vl);
	return 2 + nl + vl;
}

size_t
fcgi_gv_answer(unsigned asked, unsigned max_conns, unsigned max_reqs,
    unsigned char *dst)
{
	unsigned char *c = dst + FCGI_HEADER_LEN;
	size_t len = 0, padded, i;
	char value[16];

	for (i = 0; i < NKNOWN; i++) {
		if (!(asked & (1u << i)))
			continue;
		if (i == 0)
			snprintf(value, sizeof(value), "%u", max_conns);
		else if (i == 1)
			snprintf(value, sizeof(value), "%u", max_reqs);
		else
			strcpy(value, "0");	/* one request a connection */
		len += put_pair(c + len, known_values[i], value);
	}
	padded = (len + 7) & ~(size_t)7;
	memset(c + len, 0, padded - len);
	fcgi_header(dst, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, len);
	dst[6] = (unsigned char)(padded - len);
	return FCGI_HEADER_LEN + padded;
}

int
fcgi_gv_complete(const struct fcgi_gv *g)
{
	return g->phase == GV_NAME_LEN && g->len_got == 0;
}
