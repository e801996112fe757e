/* log.h - one-line diagnostics on stderr, the web server's error log. */
#ifndef SSE_TAIL_LOG_H
#define SSE_TAIL_LOG_H

/* Writes "sse-tail: <message>\n" to stderr in one write(2), so lines from
 * several processes sharing one error log do not interleave. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
