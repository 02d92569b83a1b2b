/* Table tests for daemon/worker/lanes: which batch a free applier takes,
 * what it works on ahead, and what forgetting a partition leaves. Each case
 * is a script of steps on one set of lanes, from one thread (every take in
 * it finds a node, so none blocks); the blocking ones are tested apart. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lanes.h"

enum op {
	END,
	PUT,	  /* a: partition, b: id of the node (its bytes too) */
	TAKE,	  /* want: the id taken */
	FINISH,	  /* a: partition */
	AHEAD,	  /* a: mine; want: the id marked ahead, 0 none */
	AHEAD_END, /* a: id */
	FORGET,	  /* a: partition; want: how many nodes were freed */
	ROOM,	  /* want: 1 room, 0 none */
};

struct step {
	enum op op;
	int a, b;
	int want;
};

#define NODES 16

/* The steps, spelled out in full for -Wmissing-field-initializers. */
#define P(part, id) { PUT, part, id, 0 }
#define T(id) { TAKE, 0, 0, id }
#define F(part) { FINISH, part, 0, 0 }
#define A(mine, id) { AHEAD, mine, 0, id }
#define AE(id) { AHEAD_END, id, 0, 0 }
#define FG(part, freed) { FORGET, part, 0, freed }
#define R(room) { ROOM, 0, 0, room }

struct script {
	struct lanes l;
	struct lanes_node node[NODES + 1]; /* by id, 1..NODES */
	int freed;
};

static void script_free(struct lanes_node *n, void *arg)
{
	struct script *s = arg;

	(void)n;
	s->freed++;
}

static int node_id(struct script *s, const struct lanes_node *n)
{
	return n ? (int)(n - s->node) : 0;
}

static void run_step(struct script *s, const struct step *st, size_t ci, size_t si)
{
	int got = 0;

	switch (st->op) {
	case PUT:
		s->node[st->b].partition = st->a;
		s->node[st->b].bytes = (size_t)st->b;
		lanes_put(&s->l, &s->node[st->b]);
		return;
	case TAKE:
		got = node_id(s, lanes_take(&s->l));
		break;
	case FINISH:
		lanes_finish(&s->l, st->a);
		return;
	case AHEAD:
		got = node_id(s, lanes_ahead_begin(&s->l, st->a));
		break;
	case AHEAD_END:
		lanes_ahead_end(&s->l, &s->node[st->a]);
		return;
	case FORGET:
		s->freed = 0;
		lanes_forget(&s->l, st->a, script_free, s);
		got = s->freed;
		break;
	case ROOM:
		got = lanes_has_room(&s->l);
		break;
	case END:
		return;
	}
	if (got != st->want)
		fail_msg("case %zu step %zu: got %d, want %d", ci, si, got, st->want);
}

static void test_scripts(void **state)
{
	static const struct step cases[][16] = {
		/* One lane: in order, and not twice at once. */
		{ P(0, 1), P(0, 2), T(1), F(0),
		  T(2), F(0) },
		/* A busy lane's next waits; the other applier takes the other
		 * partition (a partition is not tied to the applier that had it). */
		{ P(0, 1), P(0, 2), P(1, 3), T(1),
		  T(3), F(1), F(0), T(2) },
		/* Oldest head first across lanes: the order of arrival. */
		{ P(2, 1), P(5, 2), P(2, 3), P(7, 4),
		  T(1), T(2), T(4),
		  F(2), T(3) },
		/* Once finished, a partition's next goes to whoever is free:
		 * here it is still the oldest. */
		{ P(0, 1), P(0, 2), P(1, 3), T(1),
		  F(0), T(2), T(3) },
		/* Ahead: mine's next first, even when another lane's is older. */
		{ P(1, 1), P(0, 2), P(0, 3), T(1),
		  T(2), F(1), P(1, 4),
		  A(0, 3), AE(3), A(0, 4) },
		/* Ahead: with none of mine, what a free applier would take; a node
		 * worked on ahead is passed by, not taken, until its work ends. */
		{ P(0, 1), P(1, 2), P(2, 3), T(1),
		  A(0, 2), T(3), A(0, 0),
		  AE(2), T(2) },
		/* Ahead: nothing waiting, nothing ahead; nor twice the same node. */
		{ P(0, 1), T(1), A(0, 0), P(0, 2),
		  A(0, 2), AE(2), A(0, 0) },
		/* Forget drops every queued node of the partition, no other. */
		{ P(0, 1), P(1, 2), P(0, 3), FG(0, 2),
		  T(2), F(1), FG(1, 0) },
		/* Forgotten lanes take new nodes again, in order. */
		{ P(3, 1), FG(3, 1), P(3, 2), P(3, 4),
		  T(2), F(3), T(4) },
		/* Room: 3 jobs or 10 bytes (the limit of these scripts). */
		{ R(1), P(0, 9), R(1), P(1, 1),
		  R(0), T(9), R(1) },
		{ P(0, 1), P(0, 2), P(1, 3), R(0),
		  T(1), R(1) },
		/* One node over the byte limit still gets in when nothing waits. */
		{ P(0, 12), R(0), T(12), R(1) },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script *s = calloc(1, sizeof(*s));

		assert_non_null(s);
		assert_int_equal(lanes_init(&s->l, 8, (struct schedule_limit){ 3, 10 }), 0);
		for (size_t k = 0; k < 16 && cases[i][k].op != END; k++)
			run_step(s, &cases[i][k], i, k);
		lanes_stop(&s->l);
		lanes_destroy(&s->l, script_free, s);
		free(s);
	}
}

static void *take_one(void *arg)
{
	return lanes_take(arg);
}

/* A take with nothing to take waits; a put wakes it; stop wakes it with
 * nothing. A node busy on its lane is not taken meanwhile. */
static void test_blocking(void **state)
{
	struct lanes l;
	struct lanes_node a = { .partition = 1, .bytes = 1 }, b = { .partition = 1, .bytes = 1 };
	pthread_t t;
	void *got;

	(void)state;
	assert_int_equal(lanes_init(&l, 4, (struct schedule_limit){ 8, 100 }), 0);
	assert_int_equal(pthread_create(&t, NULL, take_one, &l), 0);
	lanes_put(&l, &a);
	assert_int_equal(pthread_join(t, &got), 0);
	assert_ptr_equal(got, &a);
	lanes_put(&l, &b); /* lane 1 is busy with a: b waits for the finish */
	assert_int_equal(pthread_create(&t, NULL, take_one, &l), 0);
	lanes_finish(&l, 1);
	assert_int_equal(pthread_join(t, &got), 0);
	assert_ptr_equal(got, &b);
	assert_int_equal(pthread_create(&t, NULL, take_one, &l), 0);
	lanes_stop(&l);
	assert_int_equal(pthread_join(t, &got), 0);
	assert_null(got);
	assert_true(lanes_stopping(&l));
	assert_null(lanes_ahead_begin(&l, 1));
	lanes_destroy(&l, NULL, NULL);
}

static bool always(void *arg)
{
	(void)arg;
	return true;
}

static bool flag_clear(void *arg)
{
	return !atomic_load((atomic_bool *)arg);
}

struct forgetter {
	struct lanes *l;
	atomic_bool *flag;
};

static void *forget_later(void *arg)
{
	struct forgetter *f = arg;

	atomic_store(f->flag, true); /* what the caller changes before forgetting */
	lanes_forget(f->l, 2, NULL, NULL);
	return NULL;
}

/* A sleeper ends at its time, or at once when a forget or a stop changes
 * what it waits on. */
static void test_sleep(void **state)
{
	struct lanes l;
	atomic_bool flag = false;
	struct forgetter f = { &l, &flag };
	pthread_t t;

	(void)state;
	assert_int_equal(lanes_init(&l, 4, (struct schedule_limit){ 8, 100 }), 0);
	assert_true(lanes_sleep(&l, 1, always, NULL));
	assert_int_equal(pthread_create(&t, NULL, forget_later, &f), 0);
	/* Long enough that only the forget can end it within the test's time. */
	assert_false(lanes_sleep(&l, 600000, flag_clear, &flag));
	assert_int_equal(pthread_join(t, NULL), 0);
	lanes_stop(&l);
	assert_true(lanes_sleep(&l, 600000, always, NULL)); /* at once: stopped */
	lanes_destroy(&l, NULL, NULL);
}

struct forget_busy {
	struct lanes *l;
	atomic_bool finished; /* set just before lanes_finish */
	bool saw_finished;    /* what lanes_forget's caller saw once it returned */
	atomic_int freed;
};

static void count_free(struct lanes_node *n, void *arg)
{
	(void)n;
	atomic_fetch_add(&((struct forget_busy *)arg)->freed, 1);
}

static void *forget_busy_run(void *arg)
{
	struct forget_busy *f = arg;

	lanes_forget(f->l, 1, count_free, f);
	f->saw_finished = atomic_load(&f->finished);
	return NULL;
}

/* Forgetting a partition whose batch is being applied drops what waits at
 * once, and returns only after that batch is finished: whoever reads the
 * partition next finds its commit (or nothing) in PostgreSQL. */
static void test_forget_waits(void **state)
{
	struct lanes l;
	struct lanes_node a = { .partition = 1, .bytes = 1 }, b = { .partition = 1, .bytes = 1 };
	struct forget_busy f = { .l = &l };
	pthread_t t;

	(void)state;
	assert_int_equal(lanes_init(&l, 4, (struct schedule_limit){ 8, 100 }), 0);
	lanes_put(&l, &a);
	assert_ptr_equal(lanes_take(&l), &a);
	lanes_put(&l, &b);
	assert_int_equal(pthread_create(&t, NULL, forget_busy_run, &f), 0);
	/* b goes at once; the forget waits for a's finish. */
	while (atomic_load(&f.freed) == 0)
		lanes_sleep(&l, 1, always, NULL);
	atomic_store(&f.finished, true);
	lanes_finish(&l, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(f.saw_finished);
	assert_int_equal(atomic_load(&f.freed), 1);
	lanes_destroy(&l, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_blocking),
		cmocka_unit_test(test_sleep),
		cmocka_unit_test(test_forget_waits),
	};
	return cmocka_run_group_tests_name("lanes", tests, NULL, NULL);
}
