/* id.c - event ids that name their file: OFFSET.TAG, TAG the FNV-1a 32-bit
 * hash of the file's first min(OFFSET, 4096) bytes. */
#include <sys/random.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "id.h"

#define FNV_PRIME	0x01000193u

uint32_t
id_fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= FNV_PRIME;
	}
	return h;
}

/* Two decimal digits, and two hex digits, a table entry each: a stream
 * writes an id for every line. */
static const char decimal_pairs[] =
	    "0001020304050607080910111213141516171819202122232425262728293031"
	    "3233343536373839404142434445464748495051525354555657585960616263"
	    "6465666768697071727374757677787980818283848586878889909192939495"
	    "96979899";
static const char hex_pairs[] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

size_t
id_format(char *dst, uint64_t offset, uint32_t tag)
{
	char digits[20], *p = digits + sizeof(digits);
	size_t len;
	int shift;

	while (offset >= 100) {
		p -= 2;
		memcpy(p, decimal_pairs + 2 * (offset % 100), 2);
		offset /= 100;
	}
	if (offset >= 10) {
		p -= 2;
		memcpy(p, decimal_pairs + 2 * offset, 2);
	} else
		*--p = (char)('0' + offset);
	len = (size_t)(digits + sizeof(digits) - p);
	memcpy(dst, p, len);
	dst[len++] = '.';
	for (shift = 24; shift >= 0; shift -= 8, len += 2)
		memcpy(dst + len, hex_pairs + 2 * ((tag >> shift) & 0xff), 2);
	dst[len] = '\0';
	return len;
}

/* Parses the decimal offset at *s; moves *s past it. -1 when it is not
 * one. */
static int
parse_offset(const char **s, uint64_t *offset)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (ID_OFFSET_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*offset = v;
	return 0;
}

enum id_kind
id_parse(const char *s, uint64_t *offset, uint32_t *tag)
{
	uint32_t t = 0;
	int i;

	if (s == NULL || parse_offset(&s, offset) < 0)
		return ID_NONE;
	if (*s == '\0')
		return ID_BARE;
	if (*s++ != '.')
		return ID_NONE;
	for (i = 0; i < 8; i++, s++) {
		if (*s >= '0' && *s <= '9')
			t = t << 4 | (uint32_t)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			t = t << 4 | (uint32_t)(*s - 'a' + 10);
		else
			return ID_NONE;
	}
	if (*s != '\0')
		return ID_NONE;
	*tag = t;
	return ID_TAGGED;
}

/* Reads exactly n bytes at off: -1 on an error, or on EOF first (EIO). */
static int
read_all(id_read_fn read_at, void *ctx, void *buf, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read_at(ctx, (char *)buf + got, n - got,
		    off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
id_tag(id_read_fn read_at, void *ctx, uint64_t offset, uint32_t *tag)
{
	unsigned char buf[ID_TAG_SPAN];
	size_t n = offset < ID_TAG_SPAN ? (size_t)offset : ID_TAG_SPAN;

	if (read_all(read_at, ctx, buf, n, 0) < 0)
		return -1;
	*tag = id_fnv1a(ID_TAG_EMPTY, buf, n);
	return 0;
}

int
id_resumes(id_read_fn read_at, void *ctx, off_t size, uint64_t offset,
    uint32_t tag, int check_tag)
{
	uint32_t got;
	char before;

	if (offset == 0)
		return !check_tag || tag == ID_TAG_EMPTY;
	if (size < 0 || offset > (uint64_t)size)
		return 0;
	if (read_all(read_at, ctx, &before, 1, (off_t)offset - 1) < 0)
		return -1;
	if (before != '\n')
		return 0;
	if (!check_tag)
		return 1;
	if (id_tag(read_at, ctx, offset, &got) < 0)
		return -1;
	return got == tag;
}

uint32_t
id_random_tag(void)
{
	struct {
		struct timespec ts;
		pid_t pid;
	} seed;
	uint32_t tag;

	if (getrandom(&tag, sizeof(tag), GRND_NONBLOCK) == sizeof(tag))
		return tag;
	/* No entropy yet (early boot): the clock and the pid differ from
	 * one reader to the next. */
	memset(&seed, 0, sizeof(seed));
	clock_gettime(CLOCK_REALTIME, &seed.ts);
	seed.pid = getpid();
	return id_fnv1a(ID_TAG_EMPTY, &seed, sizeof(seed));
}

ssize_t
id_pread(void *ctx, void *buf, size_t n, off_t off)
{
	return pread(*(const int *)ctx, buf, n, off);
}

uint32_t
id_tag_advance(uint32_t tag, uint64_t from, uint64_t to,
    const unsigned char *head, size_t head_len)
{
	if (from >= ID_TAG_SPAN || to <= from)
		return tag;
	if (to > ID_TAG_SPAN)
		to = ID_TAG_SPAN;
	if (to > head_len)
		to = head_len;	/* the file shrank: the truncation is seen next */
	return from < to ? id_fnv1a(tag, head + from, (size_t)(to - from)) : tag;
}

int
id_choose(const struct id_file *files, size_t n, enum id_kind kind,
    uint64_t offset, uint32_t tag)
{
	size_t i;

	if (n == 0 || kind == ID_NONE)
		return -1;
	if (offset == 0)
		return kind == ID_BARE || tag == ID_TAG_EMPTY ? 0 : -1;
	if (kind == ID_BARE)
		n = 1;
	for (i = 0; i < n; i++)
		if (files[i].read_at != NULL &&
		    id_resumes(files[i].read_at, files[i].ctx, files[i].size,
		    offset, tag, kind == ID_TAGGED) == 1)
			return (int)i;
	return -1;
}

int
id_find_head(const struct id_file *files, size_t n, size_t len, uint32_t tag)
{
	uint32_t got;
	size_t i;

	if (len == 0 || len > ID_TAG_SPAN)
		return -1;
	for (i = 0; i < n; i++)
		if (files[i].read_at != NULL && files[i].size >= (off_t)len &&
		    id_tag(files[i].read_at, files[i].ctx, len, &got) == 0 &&
		    got == tag)
			return (int)i;
	return -1;
}
