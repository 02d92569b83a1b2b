/* Table-driven tests for common/clock: deadlines normalised and where they
 * should be, the monotonic clock in step across its two units. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

static int64_t ns_of(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void test_deadline_in(void **state)
{
	static const long ms[] = { 0, 1, 999, 1000, 1001, 1500, 59999, 123456 };
	(void)state;

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		struct timespec before, after, d;

		clock_gettime(CLOCK_MONOTONIC, &before);
		d = clock_deadline_in(ms[i]);
		clock_gettime(CLOCK_MONOTONIC, &after);
		if (d.tv_nsec < 0 || d.tv_nsec >= 1000000000L)
			fail_msg("%ld ms: tv_nsec %ld not normalised", ms[i], d.tv_nsec);
		if (ns_of(d) < ns_of(before) + (int64_t)ms[i] * 1000000 ||
		    ns_of(d) > ns_of(after) + (int64_t)ms[i] * 1000000)
			fail_msg("%ld ms: deadline outside [before, after] + ms", ms[i]);
	}
}

/* A cv of clock_cond_init times out on the monotonic deadline. */
static void test_cond_deadline(void **state)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	struct timespec d;
	int r;
	(void)state;

	assert_int_equal(clock_cond_init(&cv), 0);
	pthread_mutex_lock(&mu);
	d = clock_deadline_in(1);
	while ((r = pthread_cond_timedwait(&cv, &mu, &d)) == 0)
		; /* a spurious wake-up: wait on */
	assert_int_equal(r, ETIMEDOUT);
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&cv);
}

static void test_mono_units(void **state)
{
	uint64_t us0, ms, us1;
	(void)state;

	us0 = clock_mono_us();
	ms = clock_mono_ms();
	us1 = clock_mono_us();
	assert_true(us0 <= us1);
	assert_true(ms >= us0 / 1000 && ms <= us1 / 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_in),
		cmocka_unit_test(test_cond_deadline),
		cmocka_unit_test(test_mono_units),
	};
	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
