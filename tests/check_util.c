/* check_util.c - small helpers the unit test suites share. */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "check_util.h"

void
check_append(const char *path, const char *text)
{
	FILE *fp = fopen(path, "a");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

void
check_stream(struct cfg_stream *st, const char *path)
{
	memset(st, 0, sizeof(*st));
	strcpy(st->name, "t");
	st->path = (char *)path;
	st->backlog = 2;
	st->max_line = 1024;
	st->buffer = 4096;
}

void
check_ticks(struct loop_timer *t, int64_t now, void *arg)
{
	(void)arg;
	t->at = now + 20;
}
