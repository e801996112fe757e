/* fcgi_mgmt.h - FastCGI management records, for the request reader
 * (fcgi.c): GET_VALUES read pair by pair, and its answer. */
#ifndef SSE_TAIL_FCGI_MGMT_H
#define SSE_TAIL_FCGI_MGMT_H

#include <stddef.h>
#include <stdint.h>

#include "fcgi.h"

/* Reads n more bytes of a GET_VALUES record's pairs into g (zeroed at the
 * record's start); each of the known names read whole sets its bit in
 * *asked (FCGI_MAX_CONNS 1, FCGI_MAX_REQS 2, FCGI_MPXS_CONNS 4). */
void fcgi_gv_feed(struct fcgi_gv *g, uint8_t *asked, const unsigned char *p,
    size_t n);

/* True when g ended between two pairs: a record cut inside one is
 * malformed. */
int fcgi_gv_complete(const struct fcgi_gv *g);

/* Writes GET_VALUES_RESULT for the names asked for, each once, in that
 * order, padded with zeros to a multiple of 8; returns its length, at most
 * FCGI_REPLY_MAX. */
size_t fcgi_gv_answer(unsigned asked, unsigned max_conns, unsigned max_reqs,
    unsigned char *dst);

#endif
