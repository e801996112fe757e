/* fcgi.h - the FastCGI request reader: a strict, incremental parser of the
 * records a web server sends (BEGIN_REQUEST, PARAMS, STDIN, ABORT_REQUEST,
 * GET_VALUES, anything else), with a cap on what one request may hold, and
 * the encoding of the records sse-tail sends. No I/O: bytes in, events out.
 *
 * FastCGI specification sections 3 and 5. One request at a time on a
 * connection (FCGI_MPXS_CONNS is 0): a BEGIN_REQUEST while one is active is
 * refused with END_REQUEST(FCGI_CANT_MPX_CONN); a role other than RESPONDER
 * with END_REQUEST(FCGI_UNKNOWN_ROLE); an unknown management record with
 * UNKNOWN_TYPE. Records for a request id that is not active are ignored,
 * as the specification says. */
#ifndef SSE_TAIL_FCGI_H
#define SSE_TAIL_FCGI_H

#include <fastcgi.h>	/* libfcgi's record layouts and constants */
#include <stddef.h>
#include <stdint.h>

#define FCGI_PARAMS_MAX		65536	/* bytes of one request's PARAMS */
#define FCGI_END_LEN		24	/* empty STDOUT + END_REQUEST */
#define FCGI_REPLY_MAX		128	/* the largest record the reader makes */

enum fcgi_event {
	FCGI_EV_NONE,		/* everything given was consumed: read more */
	FCGI_EV_REQUEST,	/* BEGIN_REQUEST and all PARAMS are in: look
				 * them up with fcgi_param (or see
				 * params_overflow) */
	FCGI_EV_ABORT,		/* ABORT_REQUEST for the active request */
	FCGI_EV_REPLY,		/* send reply[0..reply_len): GET_VALUES_RESULT,
				 * UNKNOWN_TYPE, or an END_REQUEST refusing a
				 * request */
	FCGI_EV_ERROR		/* the peer broke the protocol; error says
				 * how: close the connection */
};

enum fcgi_state {
	FCGI_IDLE,		/* waiting for BEGIN_REQUEST */
	FCGI_READING_PARAMS,	/* BEGIN_REQUEST seen, PARAMS coming */
	FCGI_ACTIVE,		/* the request is being answered */
	FCGI_BROKEN		/* after FCGI_EV_ERROR: nothing more is read */
};

struct fcgi_reader {
	/* the record being read */
	unsigned char hdr[FCGI_HEADER_LEN];
	size_t hdr_got;		/* bytes of hdr read; 8: in the content */
	size_t content_left;	/* content bytes of the record still due */
	size_t padding_left;
	unsigned char body[8];	/* BEGIN_REQUEST's body */
	size_t body_got;
	/* a GET_VALUES record, read pair by pair without buffering it */
	int gv_phase;		/* which part of a pair comes next */
	unsigned char gv_lenbuf[4];	/* a length being read */
	size_t gv_len_got;
	size_t gv_name_len, gv_value_len, gv_name_got, gv_value_got;
	char gv_name[16];	/* the name, when it is short enough to be
				 * one of the three sse-tail knows */
	unsigned gv_asked;	/* a bit per known name, to answer each once */
	/* the request */
	enum fcgi_state state;
	uint16_t request_id;	/* of the active request */
	int keep_conn;		/* FCGI_KEEP_CONN: the web server closes */
	char *params;		/* PARAMS bytes, then decoded (fcgi_param) */
	size_t params_len, params_cap;
	int params_overflow;	/* more than FCGI_PARAMS_MAX: a 400 */
	/* what to send, with FCGI_EV_REPLY */
	unsigned char reply[FCGI_REPLY_MAX];
	size_t reply_len;
	const char *error;	/* FCGI_EV_ERROR: a static description */
	unsigned max_conns, max_reqs;	/* the GET_VALUES answers */
};

/* Makes a reader that answers GET_VALUES with these limits. */
void fcgi_reader_init(struct fcgi_reader *r, unsigned max_conns,
    unsigned max_reqs);

/* Releases the parameters; the reader stays usable. */
void fcgi_reader_free(struct fcgi_reader *r);

/* Reads up to len bytes of p, stopping after the first record that makes
 * an event. Returns the bytes consumed and sets *ev; call again with the
 * rest until it has all been consumed. After FCGI_EV_ERROR it consumes
 * nothing more. */
size_t fcgi_read(struct fcgi_reader *r, const unsigned char *p, size_t len,
    enum fcgi_event *ev);

/* The value of a parameter of the request (after FCGI_EV_REQUEST and
 * until fcgi_request_done), NUL-terminated, or NULL. The first of
 * duplicates wins. The reader owns the string. */
const char *fcgi_param(const struct fcgi_reader *r, const char *name);

/* The active request has been ended (END_REQUEST sent): frees its
 * parameters and waits for the next BEGIN_REQUEST (only sensible when
 * keep_conn was set; otherwise close the connection). */
void fcgi_request_done(struct fcgi_reader *r);

/* Writes the header of a record of type and len content bytes, with no
 * padding. */
void fcgi_header(unsigned char h[FCGI_HEADER_LEN], int type, uint16_t id,
    size_t len);

/* Writes the end of a response: an empty STDOUT record, then END_REQUEST
 * with appStatus 0 and FCGI_REQUEST_COMPLETE. Returns FCGI_END_LEN. */
size_t fcgi_end_request(unsigned char dst[FCGI_END_LEN], uint16_t id);

#endif
