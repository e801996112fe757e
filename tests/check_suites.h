/* check_suites.h - the unit test suites, one a module, for the runner. */
#ifndef SSE_TAIL_CHECK_SUITES_H
#define SSE_TAIL_CHECK_SUITES_H

#include <check.h>

Suite *cfg_suite(void);
Suite *req_suite(void);
Suite *sse_suite(void);
Suite *ring_suite(void);
Suite *follow_suite(void);
Suite *fcgi_suite(void);
Suite *loop_suite(void);
Suite *conn_suite(void);
Suite *cursor_suite(void);
Suite *source_suite(void);
Suite *reader_suite(void);
Suite *session_suite(void);
Suite *signals_suite(void);
Suite *id_suite(void);
Suite *rotated_suite(void);

#endif
