/* id.h - event ids that name their file: OFFSET.TAG, TAG the FNV-1a 32-bit
 * hash of the file's first min(OFFSET, 4096) bytes. Writing, parsing, and
 * checking an id against a file, at a cost that does not grow with it,
 * and the choice of the file a resume continues in. The only code that
 * writes an id, parses one, or computes a tag. (A later form may name
 * several files in one id: OFFSET.TAG stays what a one-file stream
 * sends, and id_parse is where another form would be told apart.) */
#ifndef SSE_TAIL_ID_H
#define SSE_TAIL_ID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ID_TAG_SPAN	4096		/* bytes a tag covers at most */
#define ID_TAG_EMPTY	0x811c9dc5u	/* the tag of zero bytes */
#define ID_OFFSET_MAX	(((uint64_t)1 << 62) - 1)
#define ID_TEXT_MAX	30		/* "OFFSET.TAG" and its NUL */

/* FNV-1a 32: h is ID_TAG_EMPTY to start, or a previous result to go on. */
uint32_t id_fnv1a(uint32_t h, const void *p, size_t n);

/* Writes "OFFSET.TAG" (TAG 8 lowercase hex digits) and a NUL; returns
 * the length without it. dst holds ID_TEXT_MAX bytes. */
size_t id_format(char *dst, uint64_t offset, uint32_t tag);

/* A position: an offset and the tag of what lies before it. */
struct id_pos {
	uint64_t offset;
	uint32_t tag;
};

enum id_kind {
	ID_NONE,	/* absent or not an id: treated as absent */
	ID_BARE,	/* a decimal offset, from a client of an older version */
	ID_TAGGED	/* OFFSET.TAG */
};

/* Parses a Last-Event-ID. OFFSET is decimal, at most ID_OFFSET_MAX, with
 * no sign, space or leading zero (but "0"); TAG exactly 8 lowercase hex
 * digits. Sets *offset, and *tag for ID_TAGGED. */
enum id_kind id_parse(const char *s, uint64_t *offset, uint32_t *tag);

/* Reads n bytes at off into buf, as pread does; the tests count them. */
typedef ssize_t (*id_read_fn)(void *ctx, void *buf, size_t n, off_t off);

/* Whether a file (read through read_at) can be resumed at offset: offset
 * is 0, or at most size and just past a '\n', and (with check_tag) its
 * first min(offset, ID_TAG_SPAN) bytes hash to tag. Reads at most
 * ID_TAG_SPAN bytes and the one before offset. 1 yes, 0 no, -1 on a read
 * error (errno). */
int id_resumes(id_read_fn read_at, void *ctx, off_t size, uint64_t offset,
    uint32_t tag, int check_tag);

/* The tag of a file at offset (its first min(offset, ID_TAG_SPAN) bytes),
 * in *tag. 0, or -1 on a read error or a short file (errno). */
int id_tag(id_read_fn read_at, void *ctx, uint64_t offset, uint32_t *tag);

/* A named pipe reader's tag: random, so that no other reader (another
 * process, or this one before a restart) has it. */
uint32_t id_random_tag(void);

/* pread on the file descriptor ctx points at: the id_read_fn of a file. */
ssize_t id_pread(void *ctx, void *buf, size_t n, off_t off);

/* The tag at offset to, from tag, the tag at offset from (from <= to),
 * with head the file's first head_len bytes: no work once from is past
 * ID_TAG_SPAN. */
uint32_t id_tag_advance(uint32_t tag, uint64_t from, uint64_t to,
    const unsigned char *head, size_t head_len);

/* A file a resume may continue in, read through read_at(ctx), size bytes
 * long; read_at NULL: no file there. */
struct id_file {
	id_read_fn read_at;
	void *ctx;
	off_t size;
};

/* Decides where a Last-Event-ID of kind (offset, tag) resumes: files[0]
 * is the current file (read_at NULL when there is none), files[1..n-1]
 * its predecessors, newest first. A tagged id resumes in the first file
 * that id_resumes with the tag; a bare one in files[0] only, without the
 * hash. OFFSET 0 names no content: it resumes at the start of files[0]
 * (there or not: the stream waits for it) only, and only with the tag of
 * zero bytes. Returns the index, or -1 for none (a reset); a file that
 * cannot be read does not match. Reads at most ID_TAG_SPAN + 1 bytes a
 * file tried. */
int id_choose(const struct id_file *files, size_t n, enum id_kind kind,
    uint64_t offset, uint32_t tag);

/* The first of files whose first len bytes (1 to ID_TAG_SPAN) hash to
 * tag: a copy of what a file held before it was truncated, known by its
 * head. The index, or -1. Reads at most len bytes a file. */
int id_find_head(const struct id_file *files, size_t n, size_t len,
    uint32_t tag);

#endif
