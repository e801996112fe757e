/* check_main.c - runs every unit test suite; exits non-zero on a failure. */
#include <stdlib.h>

#include "check_suites.h"

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(cfg_suite());
	srunner_add_suite(sr, req_suite());
	srunner_add_suite(sr, sse_suite());
	srunner_add_suite(sr, ring_suite());
	srunner_add_suite(sr, follow_suite());
	srunner_add_suite(sr, fcgi_suite());
	srunner_add_suite(sr, loop_suite());
	srunner_add_suite(sr, conn_suite());
	srunner_add_suite(sr, cursor_suite());
	srunner_add_suite(sr, source_suite());
	srunner_add_suite(sr, reader_suite());
	srunner_add_suite(sr, session_suite());
	srunner_add_suite(sr, signals_suite());
	srunner_add_suite(sr, id_suite());
	srunner_add_suite(sr, rotated_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
