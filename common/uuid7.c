#include "config.h"

#include "uuid7.h"

#include <errno.h>
#include <stddef.h>
#include <sys/random.h>
#include <time.h>

#define UUID7_MS_MASK UINT64_C(0xffffffffffff) /* 48-bit unix_ts_ms */
#define UUID7_COUNTER_MAX 0xfff

/* splitmix64: fast and well mixed. rand_b needs uniqueness across
 * processes, which a 64-bit getrandom seed gives; it is not a secret. */
static uint64_t uuid7_rand(struct uuid7_state *st)
{
	uint64_t z = (st->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

int uuid7_init(struct uuid7_state *st)
{
	uint64_t seed;
	ssize_t n;

	st->last_ms = 0;
	st->counter = 0;
	do
		n = getrandom(&seed, sizeof(seed), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(seed))
		return -EIO;
	st->rng = seed;
	return 0;
}

/* A fresh millisecond starts the counter at a random value below 2048
 * (RFC 9562 s.6.2: leftmost bit zero), so ids made in one millisecond by
 * different processes rarely share a prefix, and at least 2048 more fit
 * before the counter overflows. */
static uint16_t uuid7_counter_seed(struct uuid7_state *st)
{
	return (uint16_t)(uuid7_rand(st) & 0x7ff);
}

void uuid7_next(struct uuid7_state *st, uint64_t unix_ms, char out[UUID7_STRLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t ms = unix_ms & UUID7_MS_MASK;
	uint64_t r;
	size_t o = 0;

	if (ms > st->last_ms) {
		st->last_ms = ms;
		st->counter = uuid7_counter_seed(st);
	} else if (st->counter < UUID7_COUNTER_MAX) {
		/* Same millisecond, or the clock went back: keep the last
		 * timestamp and step the counter, so order holds. */
		st->counter++;
	} else {
		/* Counter exhausted: borrow the next millisecond. */
		st->last_ms = (st->last_ms + 1) & UUID7_MS_MASK;
		st->counter = uuid7_counter_seed(st);
	}
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(st->last_ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (st->counter >> 8));
	b[7] = (unsigned char)(st->counter & 0xff);
	r = uuid7_rand(st);
	b[8] = (unsigned char)(0x80 | ((r >> 56) & 0x3f));
	for (int i = 9; i < 16; i++)
		b[i] = (unsigned char)(r >> (8 * (15 - i)));
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
}

uint64_t uuid7_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool uuid7_is_canonical(const char *s)
{
	if (!s)
		return false;
	/* Stops at the first wrong character, so a short string's NUL ends
	 * the walk before it could read past it. */
	for (size_t i = 0; i < UUID7_STRLEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return s[UUID7_STRLEN] == '\0';
}

bool uuid7_is_valid(const char *s)
{
	return uuid7_is_canonical(s) && s[14] == '7' &&
	       (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}
