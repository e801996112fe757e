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
	FCGI_EV_REPLY,		/* send what fcgi_reply writes: a
				 * GET_VALUES_RESULT, UNKNOWN_TYPE, or an
				 * END_REQUEST refusing a request */
	FCGI_EV_ERROR		/* the peer broke the protocol; error says
				 * how: close the connection */
};

enum fcgi_state {
	FCGI_IDLE,		/* waiting for BEGIN_REQUEST */
	FCGI_READING_PARAMS,	/* BEGIN_REQUEST seen, PARAMS coming */
	FCGI_ACTIVE,		/* the request is being answered */
	FCGI_BROKEN		/* after FCGI_EV_ERROR: nothing more is read */
};

/* A GET_VALUES record being read, pair by pair, without buffering it;
 * allocated for the record's length only. */
struct fcgi_gv {
	int phase;		/* which part of a pair comes next */
	unsigned char lenbuf[4];	/* a length being read */
	size_t len_got;
	size_t name_len, value_len, name_got, value_got;
	char name[16];		/* the name, when it is short enough to be
				 * one of the three sse-tail knows */
};

/* One connection's reader. Small: every open stream holds one. */
struct fcgi_reader {
	/* the record being read */
	unsigned char hdr[FCGI_HEADER_LEN];
	unsigned char body[8];	/* BEGIN_REQUEST's body */
	uint16_t content_left;	/* content bytes of the record still due */
	uint8_t padding_left;
	uint8_t hdr_got;	/* bytes of hdr read; 8: in the content */
	uint8_t body_got;
	uint8_t state;		/* enum fcgi_state */
	uint8_t keep_conn;	/* FCGI_KEEP_CONN: the web server closes */
	uint8_t params_overflow;	/* more than FCGI_PARAMS_MAX: a 400 */
	uint16_t request_id;	/* of the active request */
	/* what fcgi_reply writes, after FCGI_EV_REPLY */
	uint8_t reply_kind;
	uint8_t reply_arg;	/* GET_VALUES: the names asked for, a bit
				 * each; UNKNOWN_TYPE: the type; END_REQUEST:
				 * the protocol status */
	uint16_t reply_id;	/* END_REQUEST's request */
	uint32_t params_len, params_cap;
	uint32_t max_conns, max_reqs;	/* the GET_VALUES answers */
	char *params;		/* PARAMS bytes, then decoded (fcgi_param) */
	struct fcgi_gv *gv;	/* while a GET_VALUES record is read */
	const char *error;	/* FCGI_EV_ERROR: a static description */
};

/* Makes a reader that answers GET_VALUES with these limits. */
void fcgi_reader_init(struct fcgi_reader *r, unsigned max_conns,
    unsigned max_reqs);

/* Releases the parameters (and a GET_VALUES record's state); the reader
 * stays usable. */
void fcgi_reader_free(struct fcgi_reader *r);

/* Reads up to len bytes of p, stopping after the first record that makes
 * an event. Returns the bytes consumed and sets *ev; call again with the
 * rest until it has all been consumed. After FCGI_EV_ERROR it consumes
 * nothing more. */
size_t fcgi_read(struct fcgi_reader *r, const unsigned char *p, size_t len,
    enum fcgi_event *ev);

/* Writes the record to send after FCGI_EV_REPLY (valid until the next
 * fcgi_read); returns its length, at most FCGI_REPLY_MAX. */
size_t fcgi_reply(const struct fcgi_reader *r,
    unsigned char dst[FCGI_REPLY_MAX]);

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
