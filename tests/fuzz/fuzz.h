/* fuzz.h - what the libFuzzer harnesses share: a check that aborts, and a
 * reader of control values from the front of the input. */
#ifndef SSE_TAIL_FUZZ_H
#define SSE_TAIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken invariant is a crash: libFuzzer saves the input that made it. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s: ",		\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* The input, read from the front for control values. */
struct fuzz_in {
	const uint8_t *p;
	size_t len;
};

/* The next byte, 0 once the input is used up. */
static inline unsigned
fuzz_byte(struct fuzz_in *in)
{
	if (in->len == 0)
		return 0;
	in->len--;
	return *in->p++;
}

/* The next two bytes, little-endian. */
static inline unsigned
fuzz_u16(struct fuzz_in *in)
{
	unsigned lo = fuzz_byte(in);

	return lo | fuzz_byte(in) << 8;
}

/* A small deterministic generator (xorshift32), for chunk sizes. */
static inline uint32_t
fuzz_rand(uint32_t *state)
{
	uint32_t x = *state ? *state : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

#endif
