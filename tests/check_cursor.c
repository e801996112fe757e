/* check_cursor.c - unit tests of a subscriber's position (cursor.c): where
 * it starts in a file and in a pipe's ring, and what it produces within a
 * turn's budget, through rotation and truncation, on files in a temporary
 * directory (followed by polling) and on rings built here. */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "sse.h"
#include "check_suites.h"
#include "check_util.h"

static char dir[64], path[128], rotated[128], rotated2[128];
static char rotated_list[512];	/* st.rotated: "log.1\0log.2\0\0" */
static struct follow_watch w;
static struct follow f;
static struct cfg cfg;
static struct cfg_stream st;
static struct cursor c;
static struct cursor_bufs b;
static struct req req;
static char got[1 << 20];	/* what cursor_file produced, joined */

static void
setup(void)
{
	strcpy(dir, "/tmp/check_cursor.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(rotated, sizeof(rotated), "%s/log.1", dir);
	snprintf(rotated2, sizeof(rotated2), "%s/log.2", dir);
	check_stream(&st, path);
	/* The default: PATH.1; the tests that want more set it. */
	memset(rotated_list, 0, sizeof(rotated_list));
	strcpy(rotated_list, rotated);
	st.rotated = rotated_list;
	memset(&cfg, 0, sizeof(cfg));
	cfg.streams = &st;
	cfg.nstreams = 1;
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(cursor_bufs_size(&b, &cfg), 0);
	memset(&c, 0, sizeof(c));
	memset(&req, 0, sizeof(req));
	req.id_kind = ID_NONE;
	req.lines = -1;
	w.fd = -1;		/* polling: follow_check is called by hand */
	memset(&f, 0, sizeof(f));
	got[0] = '\0';
}

static void
teardown(void)
{
	cursor_drop(&c, &f, &w);
	follow_stop(&f, &w);
	cursor_bufs_free(&b);
	unlink(path);
	unlink(rotated);
	unlink(rotated2);
	rmdir(dir);
}

/* Runs cursor_file turns until it is at the end; appends what it made to
 * got. Returns the number of turns that said there was more. */
static int
produce_all(void)
{
	int more = 0, rc;

	do {
		size_t len = 0;

		rc = cursor_file(&c, &f, &w, &st, &b, &len);
		ck_assert_int_ge(rc, 0);
		ck_assert_uint_le(len, b.out_cap);
		ck_assert_uint_lt(strlen(got) + len, sizeof(got));
		strncat(got, b.out, len);
		more += rc;
	} while (rc > 0);
	return more;
}

static struct id_pos start;	/* the preamble's id */

static void
start_file(void)
{
	ck_assert_int_eq(follow_start(&f, &w, st.name, path), 0);
	cursor_start_file(&c, &f, &w, &st, &req, &start);
}

/* The tag of content at off. */
static uint32_t
tag_of(const char *content, size_t off)
{
	return id_fnv1a(ID_TAG_EMPTY, content, off < ID_TAG_SPAN ? off :
	    ID_TAG_SPAN);
}

/* Appends to want the event of the line ending at end in content. */
static void
ev(char *want, const char *content, size_t end, const char *data)
{
	char id[ID_TEXT_MAX];

	id_format(id, end, tag_of(content, end));
	sprintf(want + strlen(want), "id: %s\ndata: %s\n\n", id, data);
}

static void
resume_at(const char *content, size_t off)
{
	req.id_kind = ID_TAGGED;
	req.last_id.offset = off;
	req.last_id.tag = tag_of(content, off);
}

static void
write_whole(const char *p, const char *s)
{
	FILE *fp = fopen(p, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(s, fp);
	fclose(fp);
}

#define RESET_GAP	"event: reset\nid: 0.811c9dc5\ndata: gap\n\n"
#define RESET_TRUNC	"event: reset\nid: 0.811c9dc5\ndata: truncated\n\n"
#define ROTATED		"event: rotated\ndata: rotated\n\n"

/* --- File --- */

START_TEST(file_starts_backlog_lines_before_the_end)
{
	const char *C = "one\ntwo\nthree\nfour\n";
	char want[256] = "";

	check_append(path, C);
	start_file();
	ck_assert_int_eq(c.off, 8);
	ck_assert(start.offset == 8 && start.tag == tag_of(C, 8));
	produce_all();
	ev(want, C, 14, "three");
	ev(want, C, 19, "four");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_request_lines_override_the_backlog)
{
	const char *C = "one\ntwo\nthree\nfour\n";
	char want[256] = "";

	check_append(path, "one\ntwo\nthree\n");
	req.lines = 0;
	start_file();
	ck_assert(start.offset == 14 && start.tag == tag_of(C, 14));
	produce_all();
	ck_assert_str_eq(got, "");
	check_append(path, "four\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ev(want, C, 19, "four");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_empty_starts_at_0_with_the_tag_of_nothing)
{
	check_append(path, "");
	start_file();
	ck_assert(start.offset == 0 && start.tag == ID_TAG_EMPTY);
}
END_TEST

START_TEST(file_resumes_at_last_event_id)
{
	const char *C = "one\ntwo\nthree\n";
	char want[256] = "";

	check_append(path, C);
	resume_at(C, 4);
	start_file();
	ck_assert(start.offset == 4 && start.tag == tag_of(C, 4));
	produce_all();
	ev(want, C, 8, "two");
	ev(want, C, 14, "three");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_resumes_at_a_bare_offset_without_the_hash)
{
	const char *C = "one\ntwo\nthree\n";
	char want[256] = "";

	check_append(path, C);
	req.id_kind = ID_BARE;
	req.last_id.offset = 8;
	start_file();
	ck_assert(start.offset == 8 && start.tag == tag_of(C, 8));
	produce_all();
	ev(want, C, 14, "three");
	ck_assert_str_eq(got, want);
}
END_TEST

/* The offset is just past a newline, but the tag names other content:
 * never a silent resume. */
START_TEST(file_resume_with_another_tag_is_a_gap_from_the_start)
{
	const char *C = "one\ntwo\n";
	char want[256] = RESET_GAP;

	check_append(path, C);
	resume_at("uno\ntwo\n", 4);
	start_file();
	ck_assert(start.offset == 4 && start.tag == tag_of("uno\n", 4));
	produce_all();
	ev(want, C, 4, "one");
	ev(want, C, 8, "two");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_resume_inside_a_line_is_a_gap_from_the_start)
{
	const char *C = "one\ntwo\n";
	char want[256] = RESET_GAP;

	check_append(path, C);
	resume_at(C, 5);
	start_file();
	produce_all();
	ev(want, C, 4, "one");
	ev(want, C, 8, "two");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_line_without_newline_waits)
{
	const char *C = "one\ntwo\n";
	char want[256] = "";

	check_append(path, "one\ntw");
	req.lines = 5;
	start_file();
	produce_all();
	ev(want, C, 4, "one");
	ck_assert_str_eq(got, want);
	check_append(path, "o\n");
	follow_check(&f, &w);
	produce_all();
	ev(want, C, 8, "two");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_turn_stops_near_the_batch)
{
	char line[101], id[ID_TEXT_MAX + 8];
	int i, turns;

	memset(line, 'x', 99);
	line[99] = '\n';
	line[100] = '\0';
	for (i = 0; i < 2000; i++)	/* 200 KB: several turns' worth */
		check_append(path, line);
	req.id_kind = ID_BARE;
	req.last_id.offset = 0;
	start_file();
	turns = produce_all();
	ck_assert_int_ge(turns, 2);
	strcpy(id, "id: ");
	id_format(id + 4, 200000, id_fnv1a(ID_TAG_EMPTY, got, 0) ^ 0);
	/* Past 4096 bytes every tag is that of the first 4096. */
	{
		char head[ID_TAG_SPAN];

		for (i = 0; i < ID_TAG_SPAN; i++)
			head[i] = i % 100 == 99 ? '\n' : 'x';
		id_format(id + 4, 200000, id_fnv1a(ID_TAG_EMPTY, head,
		    ID_TAG_SPAN));
	}
	strcat(id, "\n");
	ck_assert_ptr_nonnull(strstr(got, id));
}
END_TEST

/* Rotation in one burst (append, rename, new file) before the cursor has
 * read the old file to its end: it reads the old one to its end, its last
 * line without a newline too, then a rotated event, then the new one. */
START_TEST(file_rotation_reads_the_old_file_to_its_end_first)
{
	const char *old = "a\nb\nc", *new = "new\n";
	char want[256] = "";

	check_append(path, "a\n");
	req.lines = 5;
	start_file();
	produce_all();
	check_append(path, "b\nc");
	ck_assert_int_eq(rename(path, rotated), 0);
	check_append(path, new);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ev(want, old, 2, "a");
	ev(want, old, 4, "b");
	ev(want, old, 5, "c");
	strcat(want, ROTATED);
	ev(want, new, 4, "new");
	ck_assert_str_eq(got, want);
}
END_TEST

/* The case: a client away while the file was renamed to PATH.1
 * and a new one started; it resumes in PATH.1, then the new file. */
START_TEST(file_resume_continues_in_the_renamed_file)
{
	const char *old = "aaaa\nbbbb\ncccc\n", *new = "new1\nnew2\n";
	char want[256] = "";

	write_whole(rotated, old);
	write_whole(path, new);
	resume_at(old, 10);
	start_file();
	ck_assert(start.offset == 10 && start.tag == tag_of(old, 10));
	produce_all();
	ev(want, old, 15, "cccc");
	strcat(want, ROTATED);
	ev(want, new, 5, "new1");
	ev(want, new, 10, "new2");
	ck_assert_str_eq(got, want);
	/* The new file is followed on. */
	check_append(path, "new3\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ev(want, "new1\nnew2\nnew3\n", 15, "new3");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_resume_goes_through_every_newer_predecessor)
{
	const char *p2 = "one\ntwo\n", *p1 = "three\n", *cur = "four\n";
	char want[256] = "";

	write_whole(rotated2, p2);
	write_whole(rotated, p1);
	write_whole(path, cur);
	sprintf(rotated_list, "%s%c%s%c", rotated, 0, rotated2, 0);
	resume_at(p2, 4);
	start_file();
	produce_all();
	ev(want, p2, 8, "two");
	strcat(want, ROTATED);
	ev(want, p1, 6, "three");
	strcat(want, ROTATED);
	ev(want, cur, 5, "four");
	ck_assert_str_eq(got, want);
}
END_TEST

/* Date-named predecessors: a glob, newest modification first. */
START_TEST(file_resume_through_a_glob_goes_by_modification_time)
{
	char older[160], newer[160];
	const char *po = "o1\no2\n", *pn = "n1\n", *cur = "c1\n";
	struct timespec times[2] = { { 1000, 0 }, { 1000, 0 } };
	char want[256] = "";

	snprintf(older, sizeof(older), "%s/log-20261130", dir);
	snprintf(newer, sizeof(newer), "%s/log-20261201", dir);
	write_whole(older, po);
	write_whole(newer, pn);
	write_whole(path, cur);
	/* Names sort the other way round: the time decides. */
	ck_assert_int_eq(utimensat(AT_FDCWD, newer, times, 0), 0);
	times[0].tv_sec = times[1].tv_sec = 2000;
	ck_assert_int_eq(utimensat(AT_FDCWD, older, times, 0), 0);
	sprintf(rotated_list, "%s/log-*%c", dir, 0);
	resume_at(po, 3);
	start_file();
	produce_all();
	/* log-20261201 is older by time: not among the newer ones. */
	ev(want, po, 6, "o2");
	strcat(want, ROTATED);
	ev(want, cur, 3, "c1");
	ck_assert_str_eq(got, want);
	unlink(older);
	unlink(newer);
}
END_TEST

/* A resume that the current file holds (every reconnect) opens no
 * predecessor: with a glob on a large directory that was a readdir for
 * every request, stalling every client. */
START_TEST(file_resume_in_the_current_file_opens_no_predecessor)
{
	const char *C = "one\ntwo\n";
	char ev_buf[4096];
	int ifd;

	check_append(path, C);
	write_whole(rotated, "old\n");
	ifd = inotify_init1(IN_NONBLOCK);
	ck_assert_int_ge(ifd, 0);
	ck_assert_int_ge(inotify_add_watch(ifd, rotated, IN_OPEN), 0);
	resume_at(C, 4);
	start_file();
	ck_assert(c.off == 4 && c.gen == f.cur);
	ck_assert_int_lt(read(ifd, ev_buf, sizeof(ev_buf)), 0);
	/* The same look with an id only PATH.1 holds does open it. */
	cursor_drop(&c, &f, &w);
	resume_at("old\n", 4);
	cursor_start_file(&c, &f, &w, &st, &req, &start);
	ck_assert(c.gen != NULL && c.gen->detached);
	ck_assert_int_gt(read(ifd, ev_buf, sizeof(ev_buf)), 0);
	close(ifd);
}
END_TEST

/* Clients resuming in the same predecessors hold its descriptor once:
 * many of them, resuming into the oldest of 16, do not hold 16 each. */
START_TEST(file_resumes_in_the_same_predecessor_share_it)
{
	const char *old = "aaaa\nbbbb\n";
	struct cursor c2;
	struct id_pos start2;
	struct follow_gen *g;

	check_append(path, "new\n");
	write_whole(rotated, old);
	resume_at(old, 5);
	start_file();
	ck_assert(c.gen != NULL && c.gen->detached);
	memset(&c2, 0, sizeof(c2));
	cursor_start_file(&c2, &f, &w, &st, &req, &start2);
	ck_assert_ptr_eq(c2.gen, c.gen);
	g = c.gen;
	ck_assert_int_eq(g->refs, 2);
	ck_assert_int_eq(f.cur->refs, 2);	/* current, and g's */
	cursor_drop(&c2, &f, &w);
	ck_assert_int_eq(g->refs, 1);
}
END_TEST

START_TEST(file_resume_at_0_starts_the_current_file_only)
{
	const char *cur = "c\n";
	char want[256] = "";

	write_whole(rotated, "old\n");
	write_whole(path, cur);
	req.id_kind = ID_TAGGED;
	req.last_id.offset = 0;
	req.last_id.tag = ID_TAG_EMPTY;
	start_file();
	produce_all();
	ev(want, cur, 2, "c");
	ck_assert_str_eq(got, want);
}
END_TEST

/* copytruncate while connected: the lines the client had not read yet
 * are in PATH.1, then the truncated file from its start. */
START_TEST(file_copytruncate_continues_in_the_copy)
{
	const char *old = "aaaa\nbbbb\ncccc\n", *new = "dddd\n";
	char want[256] = "";

	check_append(path, "aaaa\nbbbb\n");
	req.lines = 5;
	start_file();
	produce_all();
	check_append(path, "cccc\n");	/* not read yet */
	write_whole(rotated, old);	/* the copy */
	write_whole(path, new);		/* truncated, written again */
	ck_assert_int_eq(follow_check(&f, &w), 1);
	got[0] = '\0';
	produce_all();
	ev(want, old, 15, "cccc");
	strcat(want, ROTATED);
	ev(want, new, 5, "dddd");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_truncation_restarts_at_zero_with_a_reset)
{
	char want[256] = RESET_TRUNC;

	check_append(path, "aaaa\nbbbb\n");
	req.lines = 5;
	start_file();
	produce_all();
	write_whole(path, "c\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	got[0] = '\0';
	produce_all();
	ev(want, "c\n", 2, "c");
	ck_assert_str_eq(got, want);
}
END_TEST

/* Truncated and written past the client's offset before the follower
 * looked: the first bytes tell, never a silent resume. */
START_TEST(file_regrown_past_the_offset_is_a_reset)
{
	const char *new = "xxxx\nyyyy\nzzzz\n";
	char want[256] = RESET_TRUNC;

	check_append(path, "aaaa\nbbbb\n");
	req.lines = 5;
	start_file();
	produce_all();
	write_whole(path, new);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	got[0] = '\0';
	produce_all();
	ev(want, new, 5, "xxxx");
	ev(want, new, 10, "yyyy");
	ev(want, new, 15, "zzzz");
	ck_assert_str_eq(got, want);
}
END_TEST

/* The same for a client that resumed by its id, at the end, and was given
 * no line since: the follower must know the first bytes its tag was made
 * of, or the regrown file is read on from the old offset. */
START_TEST(file_regrown_past_a_resumed_offset_is_a_reset)
{
	const char *old = "aaaa\nbbbb\n", *new = "xxxx\nyyyy\nzzzz\n";
	char want[256] = RESET_TRUNC;

	check_append(path, old);
	resume_at(old, 10);
	start_file();
	produce_all();
	ck_assert_str_eq(got, "");
	write_whole(path, new);
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ev(want, new, 5, "xxxx");
	ev(want, new, 10, "yyyy");
	ev(want, new, 15, "zzzz");
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(file_missing_waits_and_then_starts_at_its_start)
{
	char want[256] = "";

	start_file();
	ck_assert_ptr_null(c.gen);
	ck_assert(start.offset == 0 && start.tag == ID_TAG_EMPTY);
	produce_all();
	ck_assert_str_eq(got, "");
	check_append(path, "x\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ev(want, "x\n", 2, "x");
	ck_assert_str_eq(got, want);
}
END_TEST

/* A bare 0 (a client of an older version) while there is no file yet: the
 * preamble's id is the canonical one, 0.811c9dc5, which resumes there;
 * not 0 with no tag, which would be a gap at the next reconnect. */
START_TEST(file_missing_bare_0_starts_at_the_tag_of_nothing)
{
	req.id_kind = ID_BARE;
	req.last_id.offset = 0;
	start_file();
	ck_assert_ptr_null(c.gen);
	ck_assert(start.offset == 0);
	ck_assert_uint_eq(start.tag, ID_TAG_EMPTY);
}
END_TEST

/* A resume while there was no file at the path: the files that appear
 * later follow the predecessor in turn, also one that came and was
 * rotated away before the client got there. */
START_TEST(file_resume_without_a_current_file_goes_through_every_later_one)
{
	const char *old = "a\nb\n";
	char gone[160], want[256] = "";

	snprintf(gone, sizeof(gone), "%s/log.gone", dir);
	write_whole(rotated, old);
	resume_at(old, 2);
	start_file();
	ck_assert_ptr_nonnull(c.gen);
	write_whole(path, "c\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	ck_assert_int_eq(rename(path, gone), 0);
	write_whole(path, "d\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	produce_all();
	ev(want, old, 4, "b");
	strcat(want, ROTATED);
	ev(want, "c\n", 2, "c");
	strcat(want, ROTATED);
	ev(want, "d\n", 2, "d");
	ck_assert_str_eq(got, want);
	unlink(gone);
}
END_TEST

/* The file after the client's was copytruncated before the client got
 * to it (with a copy at PATH.1 or without): a client behind in the old
 * file, then renamed away, then the new file truncated. Returns what the
 * client was sent after the old file's last line. */
static const char *
copytruncated_before_the_client_got_to_it(int with_copy)
{
	char old[160], want[256] = "";

	snprintf(old, sizeof(old), "%s/log.old", dir);
	check_append(path, "a1\n");
	req.lines = 5;
	start_file();
	produce_all();
	check_append(path, "a2\n");		/* not read yet */
	ck_assert_int_eq(rename(path, old), 0);
	write_whole(path, "b1\n");
	ck_assert_int_eq(follow_check(&f, &w), 1);
	if (with_copy)
		write_whole(rotated, "b1\n");
	write_whole(path, "c\n");		/* truncated, written again */
	ck_assert_int_eq(follow_check(&f, &w), 1);
	got[0] = '\0';
	produce_all();
	unlink(old);
	ev(want, "a1\na2\n", 6, "a2");
	ck_assert_uint_ge(strlen(got), strlen(want));
	ck_assert_mem_eq(got, want, strlen(want));
	return got + strlen(want);
}

/* Its old content comes from the copy, found by its head, then the
 * truncated file; without a copy a reset says lines may be missing. */
START_TEST(file_copytruncated_before_the_client_got_to_it_comes_from_the_copy)
{
	char want[256] = ROTATED;

	ev(want, "b1\n", 3, "b1");
	strcat(want, ROTATED);
	ev(want, "c\n", 2, "c");
	ck_assert_str_eq(copytruncated_before_the_client_got_to_it(1), want);
}
END_TEST

START_TEST(file_copytruncated_before_the_client_got_to_it_without_a_copy)
{
	char want[256] = RESET_TRUNC;

	ev(want, "c\n", 2, "c");
	ck_assert_str_eq(copytruncated_before_the_client_got_to_it(0), want);
}
END_TEST

/* A resume into a 1 GB file (sparse: it costs no disk) is found at its
 * end at once: the check reads the first 4096 bytes and one more. */
START_TEST(file_resume_near_the_end_of_1_gb)
{
	const off_t size = (off_t)1 << 30;
	static char zeros[ID_TAG_SPAN];
	char want[256] = "";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size - 5), 0);
	ck_assert_int_eq(pwrite(fd, "\nend\n", 5, size - 5), 5);
	close(fd);
	req.id_kind = ID_TAGGED;
	req.last_id.offset = (uint64_t)size - 4;
	req.last_id.tag = id_fnv1a(ID_TAG_EMPTY, zeros, ID_TAG_SPAN);
	start_file();
	ck_assert(c.off == size - 4);
	produce_all();
	sprintf(want, "id: ");
	id_format(want + 4, (uint64_t)size, req.last_id.tag);
	strcat(want, "\ndata: end\n\n");
	ck_assert_str_eq(got, want);
}
END_TEST

/* --- Pipe --- */

#define PIPE_TAG	0x1234abcdu	/* the reader's */
#define T		"1234abcd"

static struct ring r;

static void
pipe_setup(void)
{
	uint64_t id = 0;
	int i;

	setup();
	ck_assert_int_eq(ring_init(&r, 4096, 256), 0);
	for (i = 0; i < 5; i++) {	/* lines "e0".."e4", 3 bytes each */
		char text[32];
		int n = snprintf(text, sizeof(text), "e%d", i);

		ring_push(&r, id, id + 3, text, (size_t)n, (uint64_t)n);
		id += 3;
	}
}

static void
pipe_teardown(void)
{
	ring_free(&r);
	teardown();
}

/* One turn of cursor_pipe, its framed output into got. */
static int
pipe_turn(void)
{
	size_t len;
	int more;

	len = cursor_pipe(&c, &r, PIPE_TAG, &st, &b, &more);
	ck_assert_uint_le(len, b.out_cap);
	memcpy(got, b.out, len);
	got[len] = '\0';
	return more;
}

/* Where a new subscriber of a pipe starts: the backlog before the end
 * (no Last-Event-ID), everything held (0 with the reader's tag), after
 * the event with that id, or a gap from the oldest (an id the ring does
 * not hold, another reader's tag, a bare offset). */
#define E0	"id: 3." T "\ndata: e0\n\n"
#define E1	"id: 6." T "\ndata: e1\n\n"
#define E2	"id: 9." T "\ndata: e2\n\n"
#define E3	"id: 12." T "\ndata: e3\n\n"
#define E4	"id: 15." T "\ndata: e4\n\n"
#define GAP0	"event: reset\nid: 0." T "\ndata: gap\n\n"
static const struct {
	enum id_kind kind;
	uint64_t offset;
	uint32_t tag;
	uint64_t start;		/* the preamble's offset */
	const char *want;
} pipe_starts[] = {
	{ ID_NONE, 0, 0, 9, E3 E4 },
	{ ID_TAGGED, 0, PIPE_TAG, 0, E0 E1 E2 E3 E4 },
	{ ID_TAGGED, 9, PIPE_TAG, 9, E3 E4 },	/* e2's end: e3 starts */
	{ ID_TAGGED, 7, PIPE_TAG, 7, GAP0 E0 E1 E2 E3 E4 },
	{ ID_TAGGED, 9, 0x811c9dc5, 9, GAP0 E0 E1 E2 E3 E4 },
	{ ID_BARE, 9, 0, 0, GAP0 E0 E1 E2 E3 E4 },
};

START_TEST(pipe_starts_where_its_last_event_id_says)
{
	req.id_kind = pipe_starts[_i].kind;
	req.last_id.offset = pipe_starts[_i].offset;
	req.last_id.tag = pipe_starts[_i].tag;
	cursor_start_pipe(&c, &r, PIPE_TAG, &st, &req, &start);
	ck_assert_uint_eq(start.offset, pipe_starts[_i].start);
	ck_assert_uint_eq(start.tag, pipe_starts[_i].kind == ID_TAGGED ?
	    pipe_starts[_i].tag : PIPE_TAG);
	ck_assert_int_eq(pipe_turn(), 0);
	ck_assert_str_eq(got, pipe_starts[_i].want);
}
END_TEST

/* The reset's id is the start of the oldest line held. */
START_TEST(pipe_cursor_behind_the_ring_gets_a_gap)
{
	req.id_kind = ID_TAGGED;
	req.last_id.offset = 0;
	req.last_id.tag = PIPE_TAG;
	cursor_start_pipe(&c, &r, PIPE_TAG, &st, &req, &start);
	r.first = 2;		/* as if two events were evicted */
	pipe_turn();
	ck_assert_str_eq(got, "event: reset\nid: 6." T "\ndata: gap\n\n"
	    E2 E3 E4);
}
END_TEST

/* The ring keeps each line once; every subscriber's events are framed
 * from it with its stream's settings. */
START_TEST(pipe_events_are_framed_per_subscriber_from_one_copy)
{
	struct cursor c2;

	req.id_kind = ID_TAGGED;
	req.last_id.offset = 9;
	req.last_id.tag = PIPE_TAG;
	cursor_start_pipe(&c, &r, PIPE_TAG, &st, &req, &start);
	c2 = c;
	st.event = "log";
	pipe_turn();
	ck_assert_str_eq(got, "event: log\n" E3 "event: log\n" E4);
	st.event = NULL;
	c = c2;
	pipe_turn();
	ck_assert_str_eq(got, E3 E4);
}
END_TEST

Suite *
cursor_suite(void)
{
	Suite *s = suite_create("cursor");
	TCase *tc;

	tc = tcase_create("File");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_starts_backlog_lines_before_the_end);
	tcase_add_test(tc, file_request_lines_override_the_backlog);
	tcase_add_test(tc, file_empty_starts_at_0_with_the_tag_of_nothing);
	tcase_add_test(tc, file_resumes_at_last_event_id);
	tcase_add_test(tc, file_resumes_at_a_bare_offset_without_the_hash);
	tcase_add_test(tc, file_resume_with_another_tag_is_a_gap_from_the_start);
	tcase_add_test(tc, file_resume_inside_a_line_is_a_gap_from_the_start);
	tcase_add_test(tc, file_line_without_newline_waits);
	tcase_add_test(tc, file_turn_stops_near_the_batch);
	tcase_add_test(tc, file_rotation_reads_the_old_file_to_its_end_first);
	tcase_add_test(tc, file_resume_continues_in_the_renamed_file);
	tcase_add_test(tc, file_resume_goes_through_every_newer_predecessor);
	tcase_add_test(tc, file_resume_through_a_glob_goes_by_modification_time);
	tcase_add_test(tc, file_resume_in_the_current_file_opens_no_predecessor);
	tcase_add_test(tc, file_resumes_in_the_same_predecessor_share_it);
	tcase_add_test(tc, file_resume_at_0_starts_the_current_file_only);
	tcase_add_test(tc, file_copytruncate_continues_in_the_copy);
	tcase_add_test(tc, file_truncation_restarts_at_zero_with_a_reset);
	tcase_add_test(tc, file_regrown_past_the_offset_is_a_reset);
	tcase_add_test(tc, file_regrown_past_a_resumed_offset_is_a_reset);
	tcase_add_test(tc, file_missing_waits_and_then_starts_at_its_start);
	tcase_add_test(tc, file_missing_bare_0_starts_at_the_tag_of_nothing);
	tcase_add_test(tc, file_resume_near_the_end_of_1_gb);
	tcase_add_test(tc,
	    file_copytruncated_before_the_client_got_to_it_comes_from_the_copy);
	tcase_add_test(tc,
	    file_copytruncated_before_the_client_got_to_it_without_a_copy);
	tcase_add_test(tc,
	    file_resume_without_a_current_file_goes_through_every_later_one);
	suite_add_tcase(s, tc);

	tc = tcase_create("Pipe");
	tcase_add_checked_fixture(tc, pipe_setup, pipe_teardown);
	tcase_add_loop_test(tc, pipe_starts_where_its_last_event_id_says, 0,
	    sizeof(pipe_starts) / sizeof(pipe_starts[0]));
	tcase_add_test(tc, pipe_cursor_behind_the_ring_gets_a_gap);
	tcase_add_test(tc, pipe_events_are_framed_per_subscriber_from_one_copy);
	suite_add_tcase(s, tc);
	return s;
}
